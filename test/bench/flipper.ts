// The guest side of the sustained direct-flip benchmark, in its own process
// so that it flips as fast as it can while the pipeline runs on its own
// thread: BochsGuest on the mbochs device fd it inherits as fd 3, flipping
// between two buffers by panning for the given milliseconds, every
// PERIOD_MS (0: back to back). Prints {"times": [...]}: CLOCK_MONOTONIC ns of
// each flip's register write.
//   node flipper.js WIDTH HEIGHT MS PERIOD_MS   (spawned by direct-flip.ts)
import { VfioDevice } from 'vfio-display';
import { BochsGuest } from '../lib/bochs-guest.js';

const [width, height, ms, periodMs = 0] = process.argv.slice(2).map(Number);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
using guest = new BochsGuest(VfioDevice.fromFd(3, 'mbochs (inherited)'));
guest.width = width ?? 0;
guest.height = height ?? 0;
const lines = [guest.backBufferLine(), 0];
const times: number[] = [];
const start = Number(process.hrtime.bigint());
const end = start + (ms ?? 0) * 1e6;
for (let t = start; t < end; t = Number(process.hrtime.bigint())) {
  // Paced: sleep (this process has nothing else to do) until the next flip is due.
  const due = start + times.length * periodMs * 1e6;
  if (due > t) Atomics.wait(sleeper, 0, 0, (due - t) / 1e6);
  guest.flip(lines[times.length % 2] ?? 0);
  times.push(Number(process.hrtime.bigint()));
}
process.stdout.write(JSON.stringify({ times }));
