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
interface Paths extends Common {
  readonly rounds: number;
  readonly secondsPerRound: number;
  readonly idleSeconds: number;
  readonly pollMs: number;
  readonly device: string;
  readonly results: {
    readonly way: string;
    readonly name: string;
    readonly pace: string;
    readonly writes: number;
    readonly frames: number;
    readonly shown: number;
    readonly shownRatio: Spread;
    readonly latencyVblanksP50: number;
    readonly latencyVblanksP99: number;
    readonly latencyVblanksMax: number;
    readonly wakeupsPerFrame: Spread;
    readonly cpuMsPerFrame: Spread;
    readonly idleWakeupsPerSecond: Spread;
    readonly latenciesVblanks: readonly number[];
  }[];
}
interface RegionCopy extends Common {
  readonly rounds: number;
  readonly phaseMs: number;
  readonly pollMs: number;
  readonly changeMs: number;
  readonly results: {
    readonly name: string;
    readonly memcpyMs: Spread;
    readonly idleCpuMsPerPoll: Spread;
    readonly idleVsMemcpy: Ratio;
    readonly changeCpuMs: Spread;
    readonly changeVsMemcpy: Ratio;
    readonly copiesPerFrame: Spread;
    readonly latencyP50Ms: Spread;
    readonly latencyP99Ms: Spread;
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
  // A value that rounds to the limit is shown closer, so that "missed" reads right.
  const shown = f2(value) === f2(limit) && value !== limit ? value.toFixed(3) : f2(value);
  return `Target ${what} ${lowerIsBetter ? '<=' : '>='} ${String(limit)}: ${shown} here, **${met ? 'met' : 'missed'}**.`;
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

const COLOURS: Record<string, string> = { timer: '#c0392b', event: '#2471a3', kernel: '#1e8449' };

/**
 * The latency distributions as cumulative curves over all guest frames, one per way and pace
 * (solid: 60 Hz, dashed: flat out), in host vblanks: an SVG of its own.
 */
function regionSection(r: RegionCopy | undefined): string {
  if (!r) return missing('region-copy.json');
  return [
    `${conditions(r)} ${String(r.rounds)} rounds; per round and size ${String(r.phaseMs / 1000)} s idle and ${String(r.phaseMs / 1000)} s with a new guest frame every ${String(r.changeMs)} ms, polling every ${String(r.pollMs)} ms.`,
    '',
    table(
      ['framebuffer', 'memcpy of a frame, ms', 'CPU per idle poll, ms', 'idle poll / memcpy', 'CPU per frame shown, ms', 'frame / memcpy', 'copies per frame', 'latency p50 / p99, ms'],
      r.results.map((x) => [x.name, range(x.memcpyMs), range(x.idleCpuMsPerPoll), range(x.idleVsMemcpy), range(x.changeCpuMs), range(x.changeVsMemcpy), range(x.copiesPerFrame), `${f1(x.latencyP50Ms.median)} / ${f1(x.latencyP99Ms.median)}`]),
    ),
  ].join('\n');
}

function pathsSvg(d: Paths): string {
  const W = 720;
  const H = 360;
  const left = 60;
  const bottom = 40;
  const top = 20;
  const right = 200;
  const maxX = Math.max(4, Math.ceil(Math.max(...d.results.map((r) => Math.min(r.latencyVblanksP99 * 1.2, 8)))));
  // vkms stamps a vblank with its nominal time, and under TCG its timer fires late: a frame
  // written just before a late vblank shows a small negative latency, kept as measured.
  const minX = Math.min(0, Math.floor(Math.min(...d.results.flatMap((r) => r.latenciesVblanks))));
  const x = (v: number): number => left + ((Math.max(minX, Math.min(v, maxX)) - minX) / (maxX - minX)) * (W - left - right);
  const y = (f: number): number => H - bottom - f * (H - bottom - top);
  const parts: string[] = [];
  for (let v = minX; v <= maxX; v++) {
    parts.push(`<line x1="${x(v)}" y1="${y(0)}" x2="${x(v)}" y2="${y(1)}" stroke="#ddd"/><text x="${x(v)}" y="${y(0) + 16}" text-anchor="middle" font-size="12">${String(v)}</text>`);
  }
  for (const f of [0, 0.25, 0.5, 0.75, 1]) parts.push(`<line x1="${x(minX)}" y1="${y(f)}" x2="${x(maxX)}" y2="${y(f)}" stroke="#ddd"/><text x="${x(minX) - 6}" y="${y(f) + 4}" text-anchor="end" font-size="12">${String(f)}</text>`);
  parts.push(`<text x="${(left + W - right) / 2}" y="${H - 6}" text-anchor="middle" font-size="13">guest flip -> scanout, host vblanks</text>`);
  parts.push(`<text x="14" y="${(top + H - bottom) / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 14 ${(top + H - bottom) / 2})">guest frames shown within x</text>`);
  d.results.forEach((r, i) => {
    const sorted = [...r.latenciesVblanks].sort((a, b) => a - b);
    if (sorted.length === 0) return;
    // Of all guest frames, so that a way that shows fewer ends lower.
    const points = sorted.map((v, k) => `${x(v).toFixed(1)},${y((k + 1) / r.frames).toFixed(1)}`);
    const dash = r.pace === '60 Hz' ? '' : ' stroke-dasharray="6 4"';
    const colour = COLOURS[r.way] ?? '#000';
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${x(sorted[0] ?? 0).toFixed(1)},${y(0)} ${points.join(' ')}"/>`);
    const ly = top + 14 + i * 20;
    parts.push(`<line x1="${W - right + 10}" y1="${ly - 4}" x2="${W - right + 40}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"${dash}/><text x="${W - right + 46}" y="${ly}" font-size="12">${r.way}, ${r.pace}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif"><rect width="${W}" height="${H}" fill="#fff"/>${parts.join('')}</svg>\n`;
}

function pathsSection(d: Paths | undefined): string {
  if (!d) return missing('flip-paths.json');
  writeFileSync(join(docsBench, 'flip-paths.svg'), pathsSvg(d));
  const at = (way: string, pace: string): Paths['results'][number] | undefined => d.results.find((r) => r.way === way && r.pace === pace);
  const kernel = at('kernel', '60 Hz');
  const event = at('event', '60 Hz');
  const verdicts = [
    kernel ? target('kernel flips, frames shown / guest frames at 60 Hz', kernel.shownRatio.median, 0.99, false) : '',
    kernel ? target('kernel flips, p99 latency in vblanks at 60 Hz', kernel.latencyVblanksP99, 1.5, true) : '',
    kernel ? target('kernel flips, host wake-ups per guest frame', kernel.wakeupsPerFrame.median, 0, true) : '',
    kernel ? target('kernel flips, host CPU ms per guest frame', kernel.cpuMsPerFrame.median, 0, true) : '',
    event ? target('event path, frames shown / guest frames at 60 Hz', event.shownRatio.median, 0.95, false) : '',
    event ? target('event path, p99 latency in vblanks at 60 Hz', event.latencyVblanksP99, 2.5, true) : '',
  ].filter((v) => v !== '');
  return [
    `${conditions(d)} ${d.device}; ${String(d.rounds)} rounds of ${String(d.secondsPerRound)} s per way and pace, each after ${String(d.idleSeconds)} s idle; the kernel's account read every ${String(d.pollMs)} ms by the benchmark's own process.`,
    '',
    table(
      ['guest', 'way', 'guest writes', 'guest frames', 'shown', 'shown / guest frames (rounds)', 'latency p50', 'p99', 'max', 'host wake-ups / frame', 'host CPU ms / frame', 'host idle wake-ups/s'],
      d.results.map((r) => [
        r.pace,
        r.name,
        r.writes,
        r.frames,
        r.shown,
        range(r.shownRatio),
        f2(r.latencyVblanksP50),
        f2(r.latencyVblanksP99),
        f2(r.latencyVblanksMax),
        range(r.wakeupsPerFrame),
        range(r.cpuMsPerFrame),
        range(r.idleWakeupsPerSecond, f1),
      ]),
    ),
    '',
    '![guest flip to scanout latency, cumulative, per way and pace](bench/flip-paths.svg)',
    '',
    ...verdicts.map((v) => `- ${v}`),
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

## Three ways from a guest flip to a host plane (rig, mbochs -> vkms)

The 2018 GVT-g "local display direct flip" thread asked whether the switch to QEMU for each
guest flip was "actually that much of a performance problem". \`test/bench/flip-paths.ts\`,
patched kernel, answers it on one vGPU and one vkms in one boot, the three ways taking turns
round by round: QEMU's way (the host process polls the plane every 30 ms and commits what
changed), the display change IRQ (it sleeps until the kernel signals a change, then queries and
commits), and kernel flips (it leases vkms's CRTC and plane to the vGPU once; the kernel commits
each new guest surface). The host side is a process of its own (\`flip-host.ts\`), and so is the
guest (\`flipper.ts\`: \`BochsGuest\` panning between two buffers every 16.7 ms, or back to back).
A guest frame is a surface the vGPU's display showed: mbochs latches the guest's registers at its
emulated vertical blank, which follows vkms's while a head is assigned, so a guest writing faster
than that shows only its last write per latch ("guest writes" against "guest frames"). Latency:
from the guest's register write of a frame to the vblank at which the host first scanned it out
(userspace: the commit's flip event timestamp; kernel: the vblank the kernel reports for the
frame's flip_seq), in host vblanks; vkms stamps a vblank with its nominal time and under TCG its
timer fires late, so a frame written just before a late vblank can show a small negative
latency, which is kept. Host wake-ups and CPU: the host process's context switches
(all threads) and user + system time over the guest's run, per guest frame; idle wake-ups: per
second while the guest is idle. V8's memory reducer, which wakes an idle Node process every 8 s
or so after a GC, is off in the host process (\`--no-memory-reducer\`) for every way alike.
"Shown" counts a guest frame that was committed to the host plane as itself (its flip_seq). The
guest flips between two buffers, as bochs-drm does: where a host process saw the guest go from one
buffer to the other and back between two looks, the plane already shows that buffer and nothing is
committed: for the two userspace ways "shown" counts the frames they committed, and a frame they
skipped was on screen only where the plane happened to show its buffer (with whatever the guest
was drawing into it). The kernel commits every latched surface.

${pathsSection(load('flip-paths.json') as Paths | undefined)}

## Region planes: a copy per change (rig, mdpy -> vkms)

\`test/bench/region-copy.ts\`: region-plane devices (mdpy; NVIDIA's vGPUs) have no dma-buf to
import, so \`directFlip\` polls their framebuffer, compares it row by row in place with the last
frame, and copies only a change into the host dumb buffer not on screen. The benchmark is the
guest (it writes whole frames into mdpy's BAR0) and, in the same process, the host; the three
mdpy sizes take turns round by round. CPU is the process's user + system time: per poll while the
guest is idle (one compare of the framebuffer), and per frame shown while it changes (the polls in
between included, the guest's own writes taken out), each set against a memcpy of one frame out
of the framebuffer in the same round. Latency: from the poll that saw the change to the commit's
completion on vkms (the poll's wait, up to its period, comes on top). A frame shown once a poll
caught the guest mid-write shows up as more than one copy per frame.

${regionSection(load('region-copy.json') as RegionCopy | undefined)}
`;
  writeFileSync(join(docsBench, '..', 'benchmarks.md'), doc);
}
