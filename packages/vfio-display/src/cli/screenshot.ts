// vfio-display screenshot <dev> -o out.png: the guest's plane as a PNG,
// from its dma-buf (mapped for the CPU, where the exporter allows it) or
// its region framebuffer, converted from any format the drivers report and
// detiled; with --with-cursor, the cursor blended in at its position.
import { writeFileSync } from 'node:fs';
import type { Display } from '../display/display.js';
import type { PlaneInfo, PlaneType } from '../display/plane.js';
import { VfioDisplayError } from '../errors.js';
import { compositeCursor } from '../image/compose.js';
import { toRgba, type RgbaImage } from '../image/convert.js';
import { encodePng } from '../image/png.js';
import { modifierName } from '../uapi/drm_fourcc.js';
import { DEV_HELP, type Command } from './args.js';
import { devSchema, openDisplayOf, type DevArg } from './device.js';
import { println } from './output.js';

/** The plane's pixels as RGBA, read while the CPU access is bracketed (dma-buf sync). */
export function planeImage(display: Display, plane: PlaneInfo): RgbaImage {
  if (plane.mode === 'region') return toRgba({ ...plane, bytes: display.regionBytes(plane) });
  using map = display.dmabuf(plane).map();
  map.begin('read');
  try {
    return toRgba({ ...plane, bytes: map.bytes });
  } finally {
    map.end('read');
  }
}

/** The guest shows nothing on that plane now. */
class NoPlaneError extends VfioDisplayError {
  constructor(type: PlaneType) {
    super(`the guest shows no ${type} plane now (its display is off, or it has not set a mode yet)`, {}, 'ERR_VFIO_NO_PLANE');
  }
}

export const screenshot: Command<{ dev: DevArg; output: string; plane?: PlaneType | undefined; withCursor?: boolean | undefined }> = {
  name: 'screenshot',
  summary: "write a plane of the guest's display as a PNG",
  synopsis: '<dev> -o FILE [--plane primary|cursor] [--with-cursor]',
  positionals: [['dev', DEV_HELP]],
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', help: 'the PNG to write ("-": standard output)' },
    plane: { type: 'string', value: 'primary|cursor', help: 'which plane (default primary)' },
    'with-cursor': { type: 'boolean', help: 'blend the cursor plane in at its position (primary only)' },
  },
  notes: [
    'Every format GVT-g and the sample drivers report is converted to 8-bit RGBA, from linear and I915 X- and Y-tiled buffers. A dma-buf plane is read through a CPU mapping of the dma-buf: drivers that refuse one (mbochs on Linux 6.12 without kernel-patches/) make this exit with status 6.',
  ],
  schema: (z) =>
    z
      .strictObject({ dev: devSchema(z), output: z.string().min(1, 'expected a file name'), plane: z.enum(['primary', 'cursor']).optional(), withCursor: z.boolean().optional() })
      .refine((a) => !(a.withCursor === true && a.plane === 'cursor'), { message: 'goes with the primary plane only', path: ['withCursor'] }),
  run({ dev, output, plane: type = 'primary', withCursor }, io) {
    using display = openDisplayOf(dev);
    const plane = display.query(type);
    if (plane === null) throw new NoPlaneError(type);
    let image = planeImage(display, plane);
    const notes = [`${plane.width}x${plane.height} ${type} plane (${plane.fourcc}, ${modifierName(plane.modifier)})`];
    if (withCursor === true) {
      const cursor = display.query('cursor');
      if (cursor) {
        image = compositeCursor(image, planeImage(display, cursor), cursor);
        notes.push(`cursor ${cursor.width}x${cursor.height} at ${cursor.x},${cursor.y}`);
      } else {
        notes.push('no cursor shown');
      }
    }
    const png = encodePng(image);
    if (output === '-') {
      io.stdout.write(png);
    } else {
      writeFileSync(output, png);
    }
    println(output === '-' ? io.stderr : io.stdout, `wrote ${output === '-' ? 'standard output' : output}: ${notes.join(', ')}`);
  },
};
