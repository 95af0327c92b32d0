// Writes docs/benchmarks.md from docs/bench/*.json (the only source of its
// figures): `node test/dist/bench/run.js report`, and the last step of
// `pnpm bench`. A missing JSON shows as "not measured".
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComparatorStatus, Step } from './comparators.js';
import { docsBench, type Machine, type Ratio, type Spread } from './measure.js';

interface Common {
  readonly machine: Machine;
  readonly loadAfter: readonly number[];
  /** Rig benchmarks: the host around the VM run (added by run.ts). */
  readonly host?: Machine & { readonly loadAfter: readonly number[] };
}
interface Timed {
  readonly name: string;
  readonly nsPerCall: Spread;
  readonly vsC: Ratio;
}
interface Binding extends Common {
  readonly rounds: number;
  readonly comparators: { readonly directory: string; readonly install: Step; readonly packages: ComparatorStatus[] };
  readonly ops: { readonly op: string; readonly results: (Timed & { readonly calls: number } | { readonly name: string; readonly error: string })[] }[];
}
interface Query extends Common {
  readonly device: string;
  readonly extended: boolean;
  readonly rounds: number;
  readonly calls: number;
  readonly results: Timed[];
}
interface Latency extends Common {
  readonly rounds: number;
  readonly flipsPerRound: number;
  readonly idleMs: number;
  readonly results: {
    readonly kind: string;
    readonly mode: string;
    readonly flips: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
    readonly p50VsEvent: Ratio;
    readonly p99VsEvent: Ratio;
    readonly idleWakeupsPerSecond: number;
    readonly roundIdleWakeupsPerSecond: Spread;
  }[];
}
interface Flip extends Common {
  readonly rounds: number;
  readonly secondsPerRound: number;
  readonly results: {
    readonly guest: string;
    readonly mode: string;
    readonly guestFlipsPerSecond: Spread;
    readonly presentedPerSecond: Spread;
    readonly presentedVsRefresh: Spread;
    readonly presentedVsEvent: Ratio;
    readonly guestFlips: number;
    readonly presented: number;
    readonly dropped: number;
    readonly latencyP50Ms: number;
    readonly latencyP99Ms: number;
    readonly latencyMaxMs: number;
  }[];
}
interface Image extends Common {
  readonly frame: string;
  readonly runs: number;
  readonly results: { readonly name: string; readonly medianMs: number; readonly minMs: number; readonly maxMs: number; readonly vsMemcpy?: Ratio; readonly note?: string }[];
}

/** A result file as its benchmark wrote it, or undefined if it has not run. */
function load(name: string): unknown {
  const path = join(docsBench, name);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const range = (r: Spread, fmt = f2): string => `${fmt(r.median)} (${fmt(r.min)}–${fmt(r.max)})`;
const row = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
const table = (head: readonly string[], rows: readonly (readonly (string | number)[])[]): string =>
  [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');

/**
 * Where and under what load a figure was taken; says so when other work was
 * running. The benchmark itself keeps about one core busy (two with the rig's
 * VM), so only a load above the core count means other jobs competed.
 */
function conditions(r: Common): string {
  const m = r.host ?? r.machine;
  const load = [...m.loadavg.slice(0, 1), ...(r.host?.loadAfter ?? r.loadAfter).slice(0, 1)];
  const loaded = Math.max(...load) > m.cores;
  const where = r.host ? `in the rig's VM (QEMU TCG, ${String(r.machine.cores)} vCPUs, guest kernel ${r.machine.kernel}) on ` : '';
  return (
    `${m.date.slice(0, 16).replace('T', ' ')} UTC, ${where}${m.cpu}, ${String(m.cores)} cores, Linux ${m.kernel}, Node ${m.node}; ` +
    `load average ${load.map(f2).join(' → ')} (1 min, before → after)${loaded ? ': **the machine was loaded** by other jobs (kernel builds, VMs), so absolute times are inflated and spreads wide; the ratios, taken round by round, are the figures to read' : ''}.`
  );
}

/** "Target: ... — met/missed", from the median ratio. */
function target(what: string, value: number, limit: number, lowerIsBetter: boolean): string {
  const met = lowerIsBetter ? value <= limit : value >= limit;
  return `Target ${what} ${lowerIsBetter ? '<=' : '>='} ${String(limit)}: ${f2(value)} here, **${met ? 'met' : 'missed'}**.`;
}

const missing = (what: string): string => `Not measured: no \`docs/bench/${what}\` (run \`pnpm bench\`).`;

function bindingSection(b: Binding | undefined): string {
  if (!b) return missing('binding.json');
  const steps = (s: ComparatorStatus): string => {
    const one = (label: string, step: Step | undefined): string | null => (step ? `${label} ${step.ok ? 'ok' : `**failed**: \`${step.error ?? ''}\``}` : null);
    return [one('prebuilt binary check (`node-gyp-build-test`, what `npm install` runs):', s.prebuildCheck), one('build from source (`node-gyp rebuild`):', s.sourceBuild), one('`require()` after `--ignore-scripts`:', s.load)]
      .filter((x): x is string => x !== null)
      .join('; ');
  };
  return [
    `${conditions(b)} ${String(b.rounds)} rounds.`,
    '',
    ...b.ops.flatMap((op, i) => [
      `**${op.op}**`,
      '',
      table(
        ['contender', 'ns/call, median (min–max)', 'x C, median (min–max)', 'x C, best runs'],
        op.results.map((r) => ('error' in r ? [r.name, `did not run: ${r.error}`, '', ''] : [r.name, range(r.nsPerCall, f1), range(r.vsC), f2(r.vsC.best)])),
      ),
      '',
      ...op.results.filter((r) => r.name.startsWith('addon') && 'vsC' in r).map((r) => `${target('addon / C', 'vsC' in r ? r.vsC.median : NaN, i === 0 ? 1.3 : 1.25, true)}\n`),
    ]),
    `Comparators, installed for this benchmark only into \`${b.comparators.directory}\` with \`${b.comparators.install.command}\`${b.comparators.install.ok ? '' : ` — **failed**: \`${b.comparators.install.error ?? ''}\``}:`,
    '',
    ...b.comparators.packages.map((s) => `- ${s.name} ${s.version}: ${steps(s)}.`),
  ].join('\n');
}

function querySection(q: Query | undefined): string {
  if (!q) return missing('query.json');
  return [
    `${conditions(q)} ${q.device}; ${String(q.rounds)} rounds of ${String(q.calls)} queries each; ${q.extended ? 'extended plane info (argsz 88, EXT_INFO), as the library asks on the patched kernel' : 'base plane info (argsz 64)'}.`,
    '',
    table(
      ['contender', 'ns/query, median (min–max)', 'x C, median (min–max)', 'x C, best runs'],
      q.results.map((r) => [r.name, range(r.nsPerCall, f1), range(r.vsC), f2(r.vsC.best)]),
    ),
    '',
    target('query / C', q.results[1]?.vsC.median ?? NaN, 1.15, true),
  ].join('\n');
}

function latencySection(l: Latency | undefined): string {
  if (!l) return missing('change-latency.json');
  return [
    `${conditions(l)} ${String(l.rounds)} rounds; each round runs every mode for ${String(l.flipsPerRound)} flips, then ${String(l.idleMs)} ms idle.`,
    '',
    table(
      ['from guest flip to', 'mode', 'flips', 'p50', 'p99', 'max', 'p50 / event p50', 'p99 / event p99', 'idle wake-ups/s (rounds: median, min–max)'],
      l.results.map((r) => [
        r.kind.replace(/^guest flip -> /, ''),
        r.mode,
        r.flips,
        `${f1(r.p50Ms)} ms`,
        `${f1(r.p99Ms)} ms`,
        `${f1(r.maxMs)} ms`,
        range(r.p50VsEvent),
        range(r.p99VsEvent),
        `${f1(r.idleWakeupsPerSecond)} (${f1(r.roundIdleWakeupsPerSecond.median)}, ${f1(r.roundIdleWakeupsPerSecond.min)}–${f1(r.roundIdleWakeupsPerSecond.max)})`,
      ]),
    ),
    '',
    ...l.results.flatMap((r) => {
      const to = r.kind.replace(/^guest flip -> /, '');
      if (r.mode.startsWith('timer 30')) return [`To ${to}: ${target('timer 30 ms p99 / event p99 (round by round)', r.p99VsEvent.median, 20, false)}`, ''];
      if (r.mode.startsWith('event')) return [`To ${to}, event mode: ${f1(r.idleWakeupsPerSecond)} idle wake-ups/s (target 0).`, ''];
      return [];
    }),
  ].join('\n');
}

function imageSection(i: Image | undefined): string {
  if (!i) return missing('image.json');
  const ratios = i.results.filter((r) => r.vsMemcpy);
  return [
    `${conditions(i)} ${i.frame}; ${String(i.runs)} rounds.`,
    '',
    table(
      ['operation', 'ms, median (min–max)', 'x memcpy throughput, median (min–max)', 'best runs'],
      ratios.map((r) => [r.name, `${f2(r.medianMs)} (${f2(r.minMs)}–${f2(r.maxMs)})`, r.vsMemcpy ? range(r.vsMemcpy) : '', r.vsMemcpy ? f2(r.vsMemcpy.best) : '']),
    ),
    '',
    target(
      'slowest conversion / memcpy throughput',
      Math.min(...ratios.filter((r) => /->/.test(r.name)).map((r) => r.vsMemcpy?.median ?? NaN)),
      0.5,
      false,
    ),
    '',
    'PNG encoders, same frame (not interleaved):',
    '',
    table(
      ['encoder', 'ms, median (min–max)', 'size'],
      i.results.filter((r) => !r.vsMemcpy).map((r) => [r.name.replace(/^PNG /, ''), `${f1(r.medianMs)} (${f1(r.minMs)}–${f1(r.maxMs)})`, r.note ?? '']),
    ),
  ].join('\n');
}

function flipSection(d: Flip | undefined): string {
  if (!d) return missing('direct-flip.json');
  return [
    `${conditions(d)} ${String(d.rounds)} rounds of ${String(d.secondsPerRound)} s per mode.`,
    '',
    table(
      ['guest flips', 'mode', 'guest flips/s', 'presented/s', 'presented per host refresh', 'presented / event', 'guest flips', 'presented', 'dropped', 'latency p50', 'p99', 'max'],
      d.results.map((r) => [
        r.guest,
        r.mode,
        range(r.guestFlipsPerSecond, f1),
        range(r.presentedPerSecond, f1),
        range(r.presentedVsRefresh),
        range(r.presentedVsEvent),
        r.guestFlips,
        r.presented,
        r.dropped,
        `${f1(r.latencyP50Ms)} ms`,
        `${f1(r.latencyP99Ms)} ms`,
        `${f1(r.latencyMaxMs)} ms`,
      ]),
    ),
  ].join('\n');
}

export function writeReport(): void {
  const doc = `# Benchmarks

<!-- Generated by test/bench/report.ts from docs/bench/*.json: run \`pnpm bench\`; do not edit. -->

\`pnpm bench\` (\`test/bench/run.ts\`) builds, runs every benchmark below — the host ones directly,
the rig ones in one boot of the rig's VM on the patched kernel — writes the results to
[\`bench/\`](bench/) as JSON and this page from them. Sub-scripts run a part: \`pnpm bench:binding\`,
\`pnpm bench:image\`, \`pnpm bench:rig\` (each then regenerates this page).

How to read the figures: the machine is shared and noisy, so every figure is a ratio measured
side by side in the same run. The contenders take turns round by round (each round starts at the
next contender); a ratio is computed within each round, and the tables give its median over the
rounds with the min–max. "Best runs" is the ratio of each contender's fastest round, the one
least disturbed by other load. Benchmarks are not tests: nothing asserts a time.

## Binding overhead (host)

\`test/bench/binding.ts\`. The same ioctl from C (\`test/bench/c/ioctl-loop.c\`, built by the
benchmark with gcc -O2, a timed loop), through this library's addon the way every library call
makes it (\`src/sys.ts\` \`ioctl()\`: argument checks, the request's name for errors, a
\`Uint8Array\` in and out), through koffi and through ffi-napi. Every JS contender does the same
work around the call as the C loop (fill the struct, read the answer). Two ioctls: FIONREAD on a
FIFO (\`pipe_ioctl\`, an int copied out: the null ioctl), and SIOCGIFFLAGS for "lo" on an AF_UNIX
socket, which copies a 40-byte \`struct ifreq\` in and out (\`sock_do_ioctl\` -> \`dev_ioctl\`):
the shape of the library's ioctls (a struct in a buffer, in and out) on a node every Linux host
has — this host has no DRM or VFIO node, and the VFIO one is measured in the rig below.
Design targets: null ioctl <= 1.3x C, struct-copying <= 1.25x.

${bindingSection(load('binding.json') as Binding | undefined)}

## \`display.query('primary')\` + decode vs C (rig, mbochs)

\`test/bench/query.ts\`, in the rig on the patched kernel: \`Display.query('primary')\`
(VFIO_DEVICE_QUERY_GFX_PLANE and decoding into a \`PlaneInfo\`) against the same ioctl and decode
in C (\`test/bench/c/query-loop.c\`, built in the VM with gcc), which inherits the very device fd
the JS side queries. Design target: <= 1.15x C.

${querySection(load('query.json') as Query | undefined)}

## Change latency and idle wake-ups (rig, mbochs -> vkms)

\`test/bench/change-latency.ts\`, patched kernel. The benchmark is the guest: it flips pages
(Y_OFFSET) at a random phase (0–40 ms apart) and measures from its register write to the library
waking up (\`changes()\` yields the new plane) and to the host plane commit completing on vkms
(\`directFlip()\`: the kernel's CLOCK_MONOTONIC flip timestamp), in event mode (the display-change
IRQ of the kernel patches) and polling at 30 ms (QEMU's period) and 16 ms. Modes take turns round
by round on one vGPU. Idle wake-ups: voluntary context switches of the main thread
(\`/proc/self/task/<pid>/status\`: each time it blocked in the event loop and was woken) per
second while a \`next()\` is pending and the guest does nothing, minus the same process over the
same time with the stream closed. The main thread is the one to count: the library waits only
there (uv_poll on the eventfd, or the poll timer), never on the thread pool; V8's and libuv's
other threads are not counted. The method's own noise is about ±0.5 per second. Design target:
event p99 20x below the 30 ms timer's and 0 idle wake-ups.

${latencySection(load('change-latency.json') as Latency | undefined)}

Under TCG every guest register write, ioctl and wake-up is emulated, and the vCPU threads share
two host cores with QEMU's own threads and, here, with other jobs: the tails are the emulator's
scheduling, not the change notification; the target is for real hardware.

## Frame conversion and detiling (host)

\`test/bench/image.ts\`: a 1920x1080 XRGB8888 desktop-like frame, linear and re-tiled I915 X and
Y, converted by one reused \`FrameConverter\`, against memcpy of the same bytes
(\`Uint8Array.prototype.set\` into a reused buffer) in the same round. Ratios are throughput:
memcpy's time / the operation's time (1 = memcpy). Design target: >= 0.5.

${imageSection(load('image.json') as Image | undefined)}

The pixel loops are WebAssembly SIMD (\`src/image/simd.ts\`); a fresh 8 MB buffer per frame costs
more in page faults than the conversion itself (the "new" rows), which is why \`FrameConverter\`
reuses its output. A PNG writer of our own on \`node:zlib\` (Sub filter, level 6) produced
byte-identical files in the same time as \`encodePng()\`, so the library uses pngjs with those
settings.

## Direct flip, sustained (rig, mbochs -> vkms)

\`test/bench/direct-flip.ts\`, patched kernel: a guest (\`test/bench/flipper.ts\`, \`BochsGuest\` of
\`test/lib\` in its own process, on the same device fd) flips between two buffers as fast as it can,
and, for comparison, every 16.7 ms (about the host's refresh), while \`directFlip()\` shows the
newest guest frame on vkms's writeback connector; vkms completes at
most one commit per vblank, so "presented per host refresh" is the pipeline keeping up (1 = every
vblank shows a new guest frame). Dropped: guest flips never shown (newest wins, counted from the
extended plane info's flip_seq). Latency: from a presented frame's guest flip to its commit
completing. Under TCG on a loaded host that way (the latency columns) is longer than a refresh
period, which bounds what is presented at either pace.

${flipSection(load('direct-flip.json') as Flip | undefined)}
`;
  writeFileSync(join(docsBench, '..', 'benchmarks.md'), doc);
}
