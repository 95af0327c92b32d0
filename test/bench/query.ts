// Display.query('primary') (VFIO_DEVICE_QUERY_GFX_PLANE + decode) from JS
// against the same ioctl and decode in C (test/bench/c/query-loop.c, built
// here with gcc), on the same device fd of an mbochs vGPU (the C program
// inherits it as fd 3), interleaved round by round. Runs inside the rig;
// writes query.json to the rig's share. Run by `pnpm bench` (test/bench/run.ts).
import { openMbochsGuest } from '../lib/bochs-guest.js';
import { requireRig, rigKernel } from '../lib/rig.js';
import { buildC, machine, nsPerCall, ratio, rounds, runC, spread, writeJson } from './measure.js';

const out = requireRig();
const ROUNDS = Number(process.env.VFIO_DISPLAY_BENCH_ROUNDS ?? 15);
const CALLS = Number(process.env.VFIO_DISPLAY_BENCH_QUERIES ?? 1000);
const WARMUP = 5000;

const before = machine();
const program = buildC('query-loop');
using g = openMbochsGuest();
const { display } = g;
const plane = display.query('primary');
if (plane?.width !== 800) throw new Error(`expected the guest's 800x600 plane, got ${JSON.stringify(plane, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
// The library asks for the extended fields where the kernel has them (kernel-patches 0008); C asks as it does.
const extended = plane.flipSeq !== undefined;
// Tiering up takes thousands of calls under TCG (the first hundreds run 10-50x slower).
nsPerCall(WARMUP, () => display.query('primary'));
const times = rounds(ROUNDS, {
  C: () => runC(program, [String(CALLS), extended ? '1' : '0'], { stdio: ['ignore', 'pipe', 'inherit', display.device.fd] }),
  JS: () => nsPerCall(CALLS, () => display.query('primary')),
});
const result = {
  machine: before,
  loadAfter: machine().loadavg,
  kernel: rigKernel,
  device: 'mbochs-small, 800x600 XR24',
  extended,
  rounds: ROUNDS,
  calls: CALLS,
  warmupCalls: WARMUP,
  results: [
    { name: 'C (gcc -O2, test/bench/c/query-loop.c)', nsPerCall: spread(times.C), vsC: ratio(times.C, times.C) },
    { name: "display.query('primary')", nsPerCall: spread(times.JS), vsC: ratio(times.JS, times.C) },
  ],
};
writeJson(out, 'query.json', result);
console.table(result.results.map((r) => ({ name: r.name, 'ns/query': r.nsPerCall.median, 'x C': r.vsC.median, 'min-max': `${String(r.vsC.min)}-${String(r.vsC.max)}`, best: r.vsC.best })));
