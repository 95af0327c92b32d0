// The guest side of the sustained direct-flip benchmark, in its own process
// so that it flips as fast as it can while the pipeline runs on its own
// thread: BochsGuest on the mbochs device fd it inherits as fd 3, flipping
// between two buffers by panning for the given milliseconds. Prints
// {"times": [...]}: CLOCK_MONOTONIC ns of each flip's register write.
//   node flipper.js WIDTH HEIGHT MS   (spawned by direct-flip.ts)
import { VfioDevice } from 'vfio-display';
import { BochsGuest } from '../lib/bochs-guest.js';

const [width, height, ms] = process.argv.slice(2).map(Number);
using guest = new BochsGuest(VfioDevice.fromFd(3, 'mbochs (inherited)'));
guest.width = width ?? 0;
guest.height = height ?? 0;
const lines = [guest.backBufferLine(), 0];
const times: number[] = [];
const end = process.hrtime.bigint() + BigInt(ms ?? 0) * 1_000_000n;
for (let t = process.hrtime.bigint(); t < end; t = process.hrtime.bigint()) {
  guest.flip(lines[times.length % 2] ?? 0);
  times.push(Number(process.hrtime.bigint()));
}
process.stdout.write(JSON.stringify({ times }));
