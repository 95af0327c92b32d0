// Binding overhead, on the host (no rig): one ioctl from C, through this
// library's addon (src/sys.ts ioctl(), as every library call makes it), koffi
// and ffi-napi, interleaved round by round; each figure is ns per call and
// the ratio to C in the same round. Two ioctls:
// - FIONREAD on a FIFO (pipe_ioctl): a null ioctl, an int copied out;
// - SIOCGIFFLAGS "lo" on an AF_UNIX socket: struct ifreq (40 bytes) copied
//   in and out (sock_do_ioctl -> dev_ioctl), the shape of the library's
//   ioctls (a struct in a Uint8Array, in and out), on a node every Linux host
//   has; this host has no DRM or VFIO node.
// Writes docs/bench/binding.json. Run by `pnpm bench` (test/bench/run.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Sys from '../../packages/vfio-display/src/sys.js';
import { installComparators } from './comparators.js';
import { buildC, docsBench, machine, nsPerCall, ratio, rounds, runC, spread, writeJson } from './measure.js';

const ROUNDS = Number(process.env.VFIO_DISPLAY_BENCH_ROUNDS ?? 21);
const CALLS = Number(process.env.VFIO_DISPLAY_BENCH_CALLS ?? 20_000);
/** ffi-napi is tens of times slower: fewer calls keep its rounds as long as the others'. */
const FFI_NAPI_CALLS = CALLS / 20;

// Linux asm-generic/ioctls.h and linux/sockios.h.
const FIONREAD = 0x541b;
const SIOCGIFFLAGS = 0x8913;

// The library's own wrapper, which index.ts does not export.
const sys = (await import(new URL('./sys.js', import.meta.resolve('vfio-display')).href)) as typeof Sys;

interface Koffi {
  load(path: null): { func(signature: string): (fd: number, request: number, arg: Uint8Array) => number };
}
interface FfiNapi {
  Library(path: null, functions: Record<string, [string, string[]]>): Record<string, (fd: number, request: number, arg: Buffer) => number>;
}

const before = machine();
const installed = installComparators();
const koffi = installed.modules.koffi as Koffi | undefined;
const ffi = installed.modules['ffi-napi'] as FfiNapi | undefined;
const viaKoffi = koffi?.load(null).func('int ioctl(int fd, unsigned long request, void *arg)');
const viaFfi = ffi?.Library(null, { ioctl: ['int', ['int', 'ulong', 'pointer']] }).ioctl;

const cLoop = buildC('ioctl-loop');
const fifo = join(mkdtempSync(join(tmpdir(), 'vfio-bench-')), 'fifo');
execFileSync('mkfifo', [fifo]);
// Read-write: a FIFO opened so neither blocks nor needs a peer (Linux).
const fifoFd = openSync(fifo, 'r+');
const server = createServer();
await new Promise<void>((resolve) => server.listen(`\0vfio-display-bench-${String(process.pid)}`, resolve));
const socketFd = (server as unknown as { _handle: { fd: number } })._handle.fd;

type Call = (fd: number, request: number, arg: Buffer) => number;
const contenders: [string, Call | undefined, number][] = [
  ['addon (src/sys.ts ioctl)', (fd, request, arg) => sys.ioctl(fd, request, arg, 'BENCH', 'bench'), CALLS],
  ['koffi 3.3.4', viaKoffi, CALLS],
  ['ffi-napi 4.0.3 + ref-napi 3.0.3', viaFfi, FFI_NAPI_CALLS],
];

interface Op {
  readonly name: string;
  readonly fd: number;
  readonly request: number;
  readonly bytes: number;
  /** The per-call work every JS contender does around the call, as C does: fill the struct, read the answer. */
  readonly prepare: (arg: Buffer) => void;
  readonly answer: (arg: Buffer) => number;
  readonly cArgs: string[];
}

const ops: Op[] = [
  { name: 'FIONREAD on a FIFO (null ioctl)', fd: fifoFd, request: FIONREAD, bytes: 4, prepare: () => undefined, answer: (a) => a.readInt32LE(0), cArgs: ['fionread', fifo] },
  {
    name: 'SIOCGIFFLAGS "lo" (struct ifreq, 40 bytes in and out)',
    fd: socketFd,
    request: SIOCGIFFLAGS,
    bytes: 40,
    prepare: (a) => {
      a.fill(0);
      a[0] = 0x6c; // "lo"
      a[1] = 0x6f;
    },
    answer: (a) => a.readUInt16LE(16),
    cArgs: ['ifflags'],
  },
];

const results = ops.map((op) => {
  const arg = Buffer.alloc(op.bytes);
  const loops: Record<string, () => number> = { C: () => runC(cLoop, [...op.cArgs, String(CALLS)]) };
  const answers = new Set<number>();
  for (const [name, call, calls] of contenders) {
    if (!call) continue;
    op.prepare(arg);
    call(op.fd, op.request, arg);
    answers.add(op.answer(arg));
    loops[name] = () =>
      nsPerCall(calls, () => {
        op.prepare(arg);
        call(op.fd, op.request, arg);
        return op.answer(arg);
      });
  }
  if (answers.size !== 1) throw new Error(`${op.name}: the contenders disagree on the answer: ${[...answers].join(', ')}`);
  const times = rounds(ROUNDS, loops);
  const c = times.C ?? [];
  return {
    op: op.name,
    results: [
      { name: 'C (gcc -O2, test/bench/c/ioctl-loop.c)', calls: CALLS, nsPerCall: spread(c), vsC: ratio(c, c) },
      ...contenders.map(([name, , calls]) => {
        const t = times[name];
        if (t) return { name, calls, nsPerCall: spread(t), vsC: ratio(t, c) };
        const failed = installed.status.find((s) => name.startsWith(s.name) && !s.load.ok);
        return { name, error: failed ? `${failed.load.command}: ${failed.load.error ?? ''}` : 'not loaded' };
      }),
    ],
  };
});
server.close();

writeJson(docsBench, 'binding.json', {
  machine: before,
  loadAfter: machine().loadavg,
  rounds: ROUNDS,
  comparators: { directory: 'node_modules/.cache/bench-comparators (ignored by git)', install: installed.install, packages: installed.status },
  ops: results,
});
for (const op of results) {
  console.log(op.op);
  console.table(op.results.map((r) => ('error' in r ? { name: r.name, 'ns/call': r.error } : { name: r.name, 'ns/call': r.nsPerCall.median, 'x C': r.vsC.median, 'x C min-max': `${String(r.vsC.min)}-${String(r.vsC.max)}`, 'x C best': r.vsC.best })));
}
