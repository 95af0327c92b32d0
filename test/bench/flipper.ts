// The guest side of the flip-paths benchmark, in its own process so that it
// flips on its own schedule while the host side runs in another: on the
// mbochs device fd it inherits as fd 3 it pans between two buffers, as
// bochs-drm flips, for the given milliseconds, every PERIOD_MS (0: back to
// back), writing the register as a guest does, without waiting for the
// display. Before each write it reads the plane's flip_seq and dma-buf id,
// so that the benchmark can tell which write each surface the vGPU showed
// (each latch at its emulated vertical blank: one flip_seq) came from.
// Prints {"bufferOf": [...], "times": [...], "seqs": [...], "buffers":
// [...], "final": "...", "finalBuffer": N}: the dma-buf id of each of the
// two Y offsets it alternates, CLOCK_MONOTONIC ns of each write, the
// flip_seq and dma-buf id read just before it, and both at the end.
//   node flipper.js WIDTH HEIGHT MS PERIOD_MS   (spawned by flip-paths.ts)
import { uapi, VfioDevice } from 'vfio-display';
import { BochsGuest, DISPI_INDEX } from '../lib/bochs-guest.js';

const [width, height, ms, periodMs = 0] = process.argv.slice(2).map(Number);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const device = VfioDevice.fromFd(3, 'mbochs (inherited)');
using guest = new BochsGuest(device);
guest.width = width ?? 0;
guest.height = height ?? 0;
const { vfio, vfioExt } = uapi;
const query = uapi.encode(vfioExt.vfio_device_gfx_plane_info, { argsz: vfioExt.vfio_device_gfx_plane_info.size, flags: vfio.VFIO_GFX_PLANE_TYPE_DMABUF | vfioExt.VFIO_GFX_PLANE_FLAG_EXT_INFO, drm_plane_type: 1 });
const { fields } = vfioExt.vfio_device_gfx_plane_info;
const view = new DataView(query.buffer);
/** The latched flip_seq, and the dma-buf id of the latched buffer (a union with region_index). */
const latched = (): { seq: bigint; buffer: number } => {
  device.ioctl(vfio.VFIO_DEVICE_QUERY_GFX_PLANE, query, 'VFIO_DEVICE_QUERY_GFX_PLANE', 'flip_seq');
  return { seq: view.getBigUint64(fields.flip_seq.offset, true), buffer: view.getUint32(fields.region_index.offset, true) };
};
const lines = [guest.backBufferLine(), 0];
// The dma-buf each line is latched as (mbochs keeps the ids of buffers in use).
const bufferOf = lines.map((line) => {
  guest.flip(line);
  return latched().buffer;
});
const times: number[] = [];
const seqs: string[] = [];
const buffers: number[] = [];
const start = Number(process.hrtime.bigint());
const end = start + (ms ?? 0) * 1e6;
for (let t = start; t < end; t = Number(process.hrtime.bigint())) {
  // Paced: sleep (this process has nothing else to do) until the next flip is due.
  const due = start + times.length * periodMs * 1e6;
  if (due > t) Atomics.wait(sleeper, 0, 0, (due - t) / 1e6);
  const now = latched();
  seqs.push(String(now.seq));
  buffers.push(now.buffer);
  guest.setReg(DISPI_INDEX.Y_OFFSET, lines[times.length % 2] ?? 0);
  times.push(Number(process.hrtime.bigint()));
}
// The last write shows at the next emulated vertical blank.
Atomics.wait(sleeper, 0, 0, 50);
const final = latched();
process.stdout.write(JSON.stringify({ bufferOf, times, seqs, buffers, final: String(final.seq), finalBuffer: final.buffer }));
