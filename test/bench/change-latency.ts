// Change latency in the rig (patched kernel, mbochs): the test is the guest
// and flips pages (Y_OFFSET) at a random phase against any timer, and
// measures from its register write (which mbochs latches at its next
// emulated vblank, up to 1/60 s later) to
// - the library waking up: changes() yielding the new plane (seenAt), and
// - the host plane commit completing on vkms: directFlip()'s frame
//   (completedAt, the kernel's CLOCK_MONOTONIC flip timestamp),
// in event mode (the display-change IRQ) and polling at 30 ms (QEMU's
// period) and 16 ms. The modes take turns, round by round, on one vGPU.
// Idle wake-ups: voluntary context switches of the main thread (each time it
// blocked in the event loop's epoll_wait and was woken) per second while a
// next() is pending and the guest does nothing, minus the same process with
// the stream closed. Writes change-latency.json to the rig's share.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { directFlip } from 'vfio-display';
import { DISPI_INDEX, type MbochsGuest } from '../lib/bochs-guest.js';
import { requireRig, rigKernel } from '../lib/rig.js';
import type { VkmsOutput } from '../lib/vkms.js';
import { machine, percentile, ratio, spread, turns, writeJson } from './measure.js';
import { openFlipRig } from './rig-guest.js';

const out = requireRig();
const ROUNDS = Number(process.env.VFIO_DISPLAY_BENCH_ROUNDS ?? 5);
const FLIPS = Number(process.env.VFIO_DISPLAY_BENCH_FLIPS ?? 40);
const IDLE_MS = 1000;

const MODES = [
  { name: 'event (display change IRQ)', mode: 'event', periodMs: 16 },
  { name: "timer 30 ms (QEMU's period)", mode: 'timer', periodMs: 30 },
  { name: 'timer 16 ms', mode: 'timer', periodMs: 16 },
] as const;
type Mode = (typeof MODES)[number];

/** What is measured: a change noticed and acted on; next() resolves with when (CLOCK_MONOTONIC ns). */
interface Pipeline {
  next(): Promise<bigint>;
  close(): Promise<void>;
}

/** A pipeline over an iterator whose items say when (`at`) they acted on a change. */
function pipeline<T>(items: AsyncIterator<T>, at: (item: T) => bigint): Pipeline {
  return {
    next: async () => {
      const r = await items.next();
      if (r.done) throw new Error('the iteration ended');
      return at(r.value);
    },
    close: async () => {
      await items.return?.();
    },
  };
}

const wakeUps = (g: MbochsGuest, m: Mode): Pipeline => pipeline(g.display.changes({ mode: m.mode, periodMs: m.periodMs }), (c) => c.seenAt);

const hostCommits = (g: MbochsGuest, vkms: VkmsOutput, m: Mode): Pipeline =>
  pipeline(directFlip(g.display, vkms.card, { connectorId: vkms.writeback.id, changes: m.mode, periodMs: m.periodMs, kernel: false })[Symbol.asyncIterator](), (f) => f.completedAt);

/** Voluntary context switches of the main thread: how often it slept and was woken. */
function switches(): number {
  const status = readFileSync(`/proc/self/task/${String(process.pid)}/status`, 'utf8');
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

/** Switches over IDLE_MS, after letting what was just started settle (a one-off is not a rate). */
async function idleSwitches(): Promise<number> {
  await sleep(100);
  const before = switches();
  await sleep(IDLE_MS);
  return switches() - before;
}

interface Segment {
  readonly latenciesMs: number[];
  readonly idleWakeupsPerSecond: number;
}

async function segment(g: MbochsGuest, open: () => Pipeline): Promise<Segment> {
  const lines = [0, g.guest.backBufferLine()];
  let line = g.guest.reg(DISPI_INDEX.Y_OFFSET);
  const flip = (): void => {
    line = line === lines[0] ? (lines[1] ?? 0) : (lines[0] ?? 0);
    // The register write alone, as a guest makes it: the patched mbochs shows it at its next emulated vblank.
    g.guest.setReg(DISPI_INDEX.Y_OFFSET, line);
  };
  const p = open();
  await p.next();
  const latenciesMs: number[] = [];
  for (let i = 0; i < FLIPS; i++) {
    await sleep(Math.random() * 40);
    const t0 = process.hrtime.bigint();
    flip();
    latenciesMs.push(Number((await p.next()) - t0) / 1e6);
  }
  const pending = p.next();
  const busy = await idleSwitches();
  flip();
  await pending;
  await p.close();
  const quiet = await idleSwitches();
  return { latenciesMs, idleWakeupsPerSecond: ((busy - quiet) * 1000) / IDLE_MS };
}

if (rigKernel !== 'patched') throw new Error('the event mode needs the patched kernel: test/vm/run --kernel patched');
const before = machine();
using rig = openFlipRig();
const { g, vkms } = rig;
const kinds = { wakeUp: (m: Mode) => () => wakeUps(g, m), hostCommit: (m: Mode) => () => hostCommits(g, vkms, m) } as const;
type Kind = keyof typeof kinds;
const segments = new Map<string, Segment[]>();
for (const [kind, m] of turns(ROUNDS, (Object.keys(kinds) as Kind[]).flatMap((kind) => MODES.map((m) => [kind, m] as const)))) {
  const key = `${kind} ${m.name}`;
  segments.set(key, [...(segments.get(key) ?? []), await segment(g, kinds[kind](m))]);
}

const mean = (xs: number[]): number => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
const p50s = (kind: Kind, m: Mode): number[] => (segments.get(`${kind} ${m.name}`) ?? []).map((s) => percentile(s.latenciesMs, 50));
const p99s = (kind: Kind, m: Mode): number[] => (segments.get(`${kind} ${m.name}`) ?? []).map((s) => percentile(s.latenciesMs, 99));
const [event] = MODES;
const results = (Object.keys(kinds) as Kind[]).flatMap((kind) =>
  MODES.map((m) => {
    const all = (segments.get(`${kind} ${m.name}`) ?? []).flatMap((s) => s.latenciesMs);
    return {
      kind: kind === 'wakeUp' ? 'guest flip -> changes() wake-up' : 'guest flip -> vkms plane commit completed (directFlip)',
      mode: m.name,
      flips: all.length,
      p50Ms: percentile(all, 50),
      p99Ms: percentile(all, 99),
      maxMs: Math.max(...all),
      /** Round by round: this mode's p50 (p99) over event mode's in the same round. */
      p50VsEvent: ratio(p50s(kind, m), p50s(kind, event)),
      p99VsEvent: ratio(p99s(kind, m), p99s(kind, event)),
      roundP50Ms: spread(p50s(kind, m)),
      /** Over all rounds' idle windows together, and round by round. */
      idleWakeupsPerSecond: mean((segments.get(`${kind} ${m.name}`) ?? []).map((s) => s.idleWakeupsPerSecond)),
      roundIdleWakeupsPerSecond: spread((segments.get(`${kind} ${m.name}`) ?? []).map((s) => s.idleWakeupsPerSecond)),
    };
  }),
);
writeJson(out, 'change-latency.json', { machine: before, loadAfter: machine().loadavg, kernel: rigKernel, device: 'mbochs-small 800x600 -> vkms writeback connector', rounds: ROUNDS, flipsPerRound: FLIPS, idleMs: IDLE_MS, results });
console.table(results.map((r) => ({ kind: r.kind.slice(0, 40), mode: r.mode, p50: r.p50Ms.toFixed(1), p99: r.p99Ms.toFixed(1), 'p99 x event': r.p99VsEvent.median, 'idle wake-ups/s': r.idleWakeupsPerSecond })));
