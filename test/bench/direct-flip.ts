// Sustained direct flip in the rig (patched kernel): a guest (flipper.ts, its
// own process on the same mbochs device fd) flips between two buffers as
// fast as it can, or every 16.7 ms, while directFlip() shows the newest
// guest frame on vkms (writeback connector), one commit per vblank at most.
// Event mode and a 16 ms timer take turns, round by round. Per mode: guest flips/s, frames
// presented/s and their ratio to the host's refresh rate, guest flips never
// shown (dropped: newest wins), and the latency from a presented frame's
// guest flip (matched by the extended plane info's flip_seq) to its commit
// completing. Writes direct-flip.json to the rig's share.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { directFlip, refreshRate } from 'vfio-display';
import type { MbochsGuest } from '../lib/bochs-guest.js';
import { requireRig, rigKernel } from '../lib/rig.js';
import type { VkmsOutput } from '../lib/vkms.js';
import { machine, percentile, ratio, spread, turns, writeJson } from './measure.js';
import { openFlipRig } from './rig-guest.js';

const out = requireRig();
const ROUNDS = Number(process.env.VFIO_DISPLAY_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.VFIO_DISPLAY_BENCH_SECONDS ?? 5);
const CHANGES = [
  { name: 'event (display change IRQ)', changes: 'event', periodMs: 16 },
  { name: 'timer 16 ms', changes: 'timer', periodMs: 16 },
] as const;
/** The guest flipping back to back, and at about the host's refresh rate. */
const PACES = [
  { name: 'as fast as it can', guestPeriodMs: 0 },
  { name: 'every 16.7 ms', guestPeriodMs: 1000 / 60 },
] as const;
const MODES = PACES.flatMap((pace) => CHANGES.map((c) => ({ ...c, guest: pace.name, guestPeriodMs: pace.guestPeriodMs, name: `guest ${pace.name}, ${c.name}` })));
type Mode = (typeof MODES)[number];

interface Segment {
  readonly guestFlipsPerSecond: number;
  readonly presentedPerSecond: number;
  readonly vsRefresh: number;
  readonly guestFlips: number;
  readonly presented: number;
  readonly dropped: number;
  readonly latenciesMs: number[];
}

/** Runs the guest for SECONDS while the pipeline shows what it can. */
async function segment(g: MbochsGuest, vkms: VkmsOutput, m: Mode): Promise<Segment> {
  const stop = new AbortController();
  const flip = directFlip(g.display, vkms.card, { connectorId: vkms.writeback.id, changes: m.changes, periodMs: m.periodMs, signal: stop.signal, kernel: false });
  const frames = flip[Symbol.asyncIterator]();
  const first = await frames.next();
  const base = first.done ? undefined : first.value.primary?.flipSeq;
  if (base === undefined) throw new Error('no flip_seq: the benchmark needs the extended plane info (kernel-patches 0008)');
  const mode = vkms.card.crtcState(vkms.crtcId).mode;
  if (!mode) throw new Error('the first frame set no host mode');
  const hz = refreshRate(mode);
  const shown: { flipSeq: bigint; completedAt: bigint }[] = [];
  const collect = (async () => {
    for (;;) {
      const r = await frames.next();
      if (r.done) return;
      if (r.value.primary?.flipSeq !== undefined) shown.push({ flipSeq: r.value.primary.flipSeq, completedAt: r.value.completedAt });
    }
  })();
  const guest = spawn(process.execPath, [join(import.meta.dirname, 'flipper.js'), String(g.guest.width), String(g.guest.height), String(SECONDS * 1000), String(m.guestPeriodMs)], {
    stdio: ['ignore', 'pipe', 'inherit', g.display.device.fd],
  });
  let output = '';
  guest.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
  const status = await new Promise<number | null>((resolve) => guest.on('close', resolve));
  if (status !== 0) throw new Error(`the guest (flipper.js) exited with ${String(status)}`);
  // Let the last guest frame reach the screen, then stop.
  await new Promise((resolve) => setTimeout(resolve, 200));
  stop.abort();
  // Aborting ends the iteration with the abort's error (the signal's reason, or an AbortError whose cause it is).
  await collect.catch((err: unknown) => {
    if (!stop.signal.aborted) throw err;
  });
  const { times } = JSON.parse(output) as { times: number[] };
  const start = times[0] ?? 0;
  const during = shown.filter((f) => f.flipSeq > base);
  const latenciesMs = during.map((f) => (Number(f.completedAt) - (times[Number(f.flipSeq - base) - 1] ?? NaN)) / 1e6).filter(Number.isFinite);
  const seconds = ((times.at(-1) ?? start) - start) / 1e9;
  const presentedPerSecond = during.length / seconds;
  return {
    guestFlipsPerSecond: times.length / seconds,
    presentedPerSecond,
    vsRefresh: presentedPerSecond / hz,
    guestFlips: times.length,
    presented: during.length,
    dropped: times.length - during.length,
    latenciesMs,
  };
}

if (rigKernel !== 'patched') throw new Error('vkms scans out mbochs dma-bufs only on the patched kernel (kernel-patches 0004)');
const before = machine();
using rig = openFlipRig();
const segments = new Map<string, Segment[]>(MODES.map((m) => [m.name, []]));
for (const m of turns(ROUNDS, MODES)) segments.get(m.name)?.push(await segment(rig.g, rig.vkms, m));
const of = (m: Mode, pick: (s: Segment) => number): number[] => (segments.get(m.name) ?? []).map(pick);
const results = MODES.map((m) => {
  const event = MODES.find((e) => e.guest === m.guest && e.changes === 'event') ?? m;
  const all = (segments.get(m.name) ?? []).flatMap((s) => s.latenciesMs);
  return {
    guest: m.guest,
    mode: CHANGES.find((c) => c.changes === m.changes)?.name ?? m.changes,
    seconds: SECONDS * ROUNDS,
    guestFlipsPerSecond: spread(of(m, (s) => s.guestFlipsPerSecond)),
    presentedPerSecond: spread(of(m, (s) => s.presentedPerSecond)),
    /** Frames presented per host refresh (vkms: one commit per vblank at most). */
    presentedVsRefresh: spread(of(m, (s) => s.vsRefresh)),
    presentedVsEvent: ratio(of(m, (s) => s.presentedPerSecond), of(event, (s) => s.presentedPerSecond)),
    guestFlips: of(m, (s) => s.guestFlips).reduce((a, b) => a + b, 0),
    presented: of(m, (s) => s.presented).reduce((a, b) => a + b, 0),
    dropped: of(m, (s) => s.dropped).reduce((a, b) => a + b, 0),
    latencyP50Ms: percentile(all, 50),
    latencyP99Ms: percentile(all, 99),
    latencyMaxMs: Math.max(...all),
  };
});
writeJson(out, 'direct-flip.json', { machine: before, loadAfter: machine().loadavg, kernel: rigKernel, device: 'mbochs-small 800x600 -> vkms writeback connector', rounds: ROUNDS, secondsPerRound: SECONDS, results });
console.table(results.map((r) => ({ guest: r.guest, mode: r.mode, 'guest flips/s': r.guestFlipsPerSecond.median, 'presented/s': r.presentedPerSecond.median, 'x refresh': r.presentedVsRefresh.median, dropped: r.dropped, p50: r.latencyP50Ms.toFixed(1), p99: r.latencyP99Ms.toFixed(1) })));
