// Prints a vGPU's display features and planes.
//   node packages/examples/dist/planes.js <mdev-uuid | /dev/vfio/devices/vfioN>
import { modifierName, openDisplay, type PlaneInfo } from 'vfio-display';

function describe(plane: PlaneInfo | null): string {
  if (plane === null) return 'disabled';
  const where = plane.mode === 'dmabuf' ? `dma-buf id ${plane.dmabufId}` : `region ${plane.regionIndex}`;
  const cursor = plane.type === 'cursor' ? ` at ${plane.x},${plane.y}` : '';
  return `${plane.width}x${plane.height} ${plane.fourcc} ${modifierName(plane.modifier)} stride ${plane.stride}, ${plane.size} bytes, ${where}${cursor}`;
}

const target = process.argv[2];
if (target === undefined) {
  console.error('usage: planes.js <mdev-uuid | /dev/vfio/devices/vfioN>');
  process.exit(2);
}
using display = openDisplay(target);
const { planes, edid } = display.features;
console.log(`${display.device.name}: opened through ${display.device.via}; ${planes} planes; EDID ${edid ? `up to ${edid.maxXres ?? '?'}x${edid.maxYres ?? '?'}` : 'none'}`);
console.log(`primary: ${describe(display.query('primary'))}`);
console.log(`cursor:  ${describe(display.query('cursor'))}`);
