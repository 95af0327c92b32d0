// Guest flip -> library wake-up latency, event mode (patched kernel) vs
// timer polling at 30 ms (QEMU's period) and 16 ms, and wake-ups of the
// main thread per idle second. Runs inside the rig:
//   test/vm/run --kernel patched -- node test/dist/bench/change-latency.js
// and writes change-latency.json to the rig's share.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDisplay, type ChangeStream } from 'vfio-display';
import { BochsGuest } from '../lib/bochs-guest.js';
import { createMdev, requireRig, rigKernel } from '../lib/rig.js';

const out = requireRig();
const FLIPS = Number(process.env.VFIO_DISPLAY_BENCH_FLIPS ?? 200);

/** Voluntary context switches of the main thread: how often it slept and woke. */
function wakeups(): number {
  const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function idleWakeups(ms: number): Promise<number> {
  const before = wakeups();
  await sleep(ms);
  return wakeups() - before;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Result {
  mode: string;
  flips: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  idleWakeupsPerSecond: number;
}

async function measure(mode: 'event' | 'timer', periodMs: number): Promise<Result> {
  using mdev = createMdev('mbochs', 'mbochs-small');
  using display = openDisplay(mdev.uuid);
  using guest = new BochsGuest(display.device);
  guest.setMode(800, 600);
  const changes: ChangeStream = display.changes({ mode, periodMs });
  await changes.next();
  const lines = [0, guest.backBufferLine()];
  const latencies: number[] = [];
  for (let i = 0; i < FLIPS; i++) {
    // A random phase against the timer, as a guest's flips have.
    await sleep(Math.random() * 40);
    const t0 = process.hrtime.bigint();
    guest.flip(lines[(i + 1) % 2] ?? 0);
    const r = await changes.next();
    if (r.done) throw new Error('stream ended');
    latencies.push(Number(r.value.seenAt - t0) / 1e6);
  }
  // Idle: a pending next() and no flips, against a baseline without a stream.
  const pending = changes.next();
  const baseline = await idleWakeups(0);
  const withStream = await idleWakeups(2000);
  guest.flip(0);
  guest.flip(lines[1] ?? 0);
  await pending;
  await changes.return(undefined);
  const quiet = await idleWakeups(2000);
  latencies.sort((a, b) => a - b);
  return {
    mode: mode === 'event' ? 'event (display change IRQ)' : `timer ${periodMs} ms`,
    flips: FLIPS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? NaN,
    idleWakeupsPerSecond: Math.max(0, (withStream - quiet - baseline) / 2),
  };
}

if (rigKernel !== 'patched') throw new Error('the event mode needs the patched kernel: test/vm/run --kernel patched');
const results = [await measure('event', 16), await measure('timer', 30), await measure('timer', 16)];
const report = { date: new Date().toISOString(), kernel: rigKernel, machine: 'rig VM (QEMU TCG, 2 vCPUs) on a 2-core host', results };
writeFileSync(join(out, 'change-latency.json'), `${JSON.stringify(report, null, 2)}\n`);
console.table(results);
