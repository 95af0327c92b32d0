// The 2018 "local display direct flip" thread asked: "Is the additional
// switch to qemu actually that much of a performance problem?" This answers
// it in the rig (patched kernel): the three ways a guest flip can reach a
// host plane, side by side in one boot, on one mbochs vGPU and one vkms:
// - timer: the host process polls the plane every 30 ms, as QEMU does, and
//   commits what changed;
// - event: it sleeps until the display change IRQ, then queries and commits;
// - kernel: it leases the CRTC and plane to the vGPU once, and the kernel
//   commits each new guest surface itself.
// The host side runs in a process of its own (flip-host.ts) and the guest in
// another (flipper.ts), which flips every 16.7 ms or back to back. A guest
// frame is a surface the vGPU's display showed: a latch of its emulated
// vertical blank (a flip_seq step) that the guest's last write made. Per way
// and pace: guest frames shown on the host / guest frames; guest flip ->
// scanout latency in host vblanks (userspace: the commit's flip event
// timestamp; kernel: the vblank the kernel reports for the flip_seq, read
// by this process every few ms); wake-ups (context switches of all its
// threads) and CPU time of the host process per guest frame; its wake-ups
// per second while the guest is idle. Writes flip-paths.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { uapi, type VfioDevice } from 'vfio-display';
import { requireRig, rigKernel } from '../lib/rig.js';
import { machine, percentile, spread, turns, writeJson } from './measure.js';
import type { MbochsGuest } from '../lib/bochs-guest.js';
import { openFlipGuest } from './rig-guest.js';

const out = requireRig();
const ROUNDS = Number(process.env.VFIO_DISPLAY_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.VFIO_DISPLAY_BENCH_SECONDS ?? 5);
const IDLE_SECONDS = 3;
/** How often this process reads the kernel's account of a kernel flip: well inside a frame. */
const POLL_MS = 4;
const WAYS = [
  { way: 'timer', name: "timer 30 ms (QEMU's refresh)" },
  { way: 'event', name: 'display change IRQ + userspace commit' },
  { way: 'kernel', name: 'kernel flips (DRM lease)' },
] as const;
const PACES = [
  { pace: '60 Hz', periodMs: 1000 / 60 },
  { pace: 'flat out', periodMs: 0 },
] as const;
type Way = (typeof WAYS)[number];
type Pace = (typeof PACES)[number];

interface Segment {
  readonly writes: number;
  readonly frames: number;
  readonly shown: number;
  readonly latenciesVblanks: number[];
  readonly wakeupsPerFrame: number;
  readonly cpuMsPerFrame: number;
  readonly idleWakeupsPerSecond: number;
}

/** Context switches of every thread of `pid`: each sleep after a wake-up is one. */
function switches(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    n += Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1]);
  }
  return n;
}

/** User + system CPU time of `pid` in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The kernel flip's account of the head, read from this process: flip_seq on the plane and its vblank. */
function kernelShown(device: VfioDevice): { flipSeq: bigint; vblankNs: bigint } {
  const F = uapi.vfioExt.vfio_device_feature_gfx_direct_flip;
  const data = uapi.encode(F, { drm_fd: -1 });
  device.feature(uapi.vfioExt.VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP, 'get', data, 'read the kernel flip');
  const s = uapi.decode(F, new DataView(data.buffer));
  return { flipSeq: s.flip_seq, vblankNs: s.vblank_ns };
}

/** What flipper.js reports. */
interface GuestRun {
  readonly bufferOf: readonly number[];
  readonly times: readonly number[];
  readonly seqs: readonly string[];
  readonly buffers: readonly number[];
  readonly final: string;
  readonly finalBuffer: number;
}

/**
 * The write each guest frame (flip_seq) came from. Read j saw the old
 * flip_seq and read j + 1 a new one, so the latch came between them: it
 * took write j, or write j - 1 where it came before write j did (the guest
 * preempted between its read and its write); the latched buffer says
 * which, as the two writes pan to different buffers.
 */
function framesOf(run: GuestRun): Map<bigint, number> {
  const writeOf = new Map<bigint, number>();
  run.times.forEach((t, j) => {
    const before = BigInt(run.seqs[j] ?? '0');
    const after = BigInt(run.seqs[j + 1] ?? run.final);
    if (after <= before) return;
    const buffer = run.buffers[j + 1] ?? run.finalBuffer;
    const previous = run.times[j - 1];
    const tookPrevious = previous !== undefined && buffer !== run.bufferOf[j % 2];
    writeOf.set(after, tookPrevious ? previous : t);
  });
  return writeOf;
}

async function lineOf(lines: AsyncIterator<string>, what: string): Promise<Record<string, unknown>> {
  const r = await lines.next();
  if (r.done) throw new Error(`${what}: the host process ended`);
  return JSON.parse(r.value) as Record<string, unknown>;
}

async function segment(g: MbochsGuest, w: Way, p: Pace): Promise<Segment> {
  const device = g.display.device;
  // V8's memory reducer wakes an idle Node process every 8 s or so after a
  // GC, for a while, whatever it waits for: off, so that what is counted is
  // what the way of flipping costs.
  const host: ChildProcess = spawn(process.execPath, ['--no-memory-reducer', join(import.meta.dirname, 'flip-host.js'), w.way], { stdio: ['pipe', 'pipe', 'inherit', device.fd] });
  const { stdin, stdout } = host;
  if (!stdin || !stdout || host.pid === undefined) throw new Error('the host process did not start');
  const pid = host.pid;
  const lines = createInterface({ input: stdout })[Symbol.asyncIterator]();
  try {
    const ready = await lineOf(lines, 'ready');
    const frameNs = 1e9 / Number(ready.hz);
    await sleep(1000);
    const idle0 = switches(pid);
    await sleep(IDLE_SECONDS * 1000);
    const idleWakeupsPerSecond = (switches(pid) - idle0) / IDLE_SECONDS;

    const ctx0 = switches(pid);
    const cpu0 = cpuMs(pid);
    const polled = new Map<bigint, bigint>();
    let polling = w.way === 'kernel';
    const poller = (async () => {
      while (polling) {
        const s = kernelShown(device);
        if (!polled.has(s.flipSeq)) polled.set(s.flipSeq, s.vblankNs);
        await sleep(POLL_MS);
      }
    })();
    const guest = spawn(process.execPath, [join(import.meta.dirname, 'flipper.js'), String(g.guest.width), String(g.guest.height), String(SECONDS * 1000), String(p.periodMs)], {
      stdio: ['ignore', 'pipe', 'inherit', device.fd],
    });
    let output = '';
    guest.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
    const status = await new Promise<number | null>((resolve) => guest.on('close', resolve));
    if (status !== 0) throw new Error(`the guest (flipper.js) exited with ${String(status)}`);
    // The last guest frame reaches the screen within two host frames.
    await sleep(300);
    polling = false;
    await poller;
    const ctx1 = switches(pid);
    const cpu1 = cpuMs(pid);
    stdin.write('end\n');
    const shownLine = (await lineOf(lines, 'frames')) as { shown: { flipSeq: string; completedAt: string }[] };

    const run = JSON.parse(output) as GuestRun;
    const writeOf = framesOf(run);
    const scanout = new Map<bigint, bigint>(w.way === 'kernel' ? polled : []);
    for (const f of shownLine.shown) {
      const seq = BigInt(f.flipSeq);
      if (!scanout.has(seq)) scanout.set(seq, BigInt(f.completedAt));
    }
    const latenciesVblanks: number[] = [];
    for (const [seq, t] of writeOf) {
      const at = scanout.get(seq);
      if (at !== undefined) latenciesVblanks.push((Number(at) - t) / frameNs);
    }
    const frames = writeOf.size;
    return {
      writes: run.times.length,
      frames,
      shown: latenciesVblanks.length,
      latenciesVblanks,
      wakeupsPerFrame: (ctx1 - ctx0) / frames,
      cpuMsPerFrame: (cpu1 - cpu0) / frames,
      idleWakeupsPerSecond,
    };
  } finally {
    host.kill();
    await new Promise((resolve) => host.once('close', resolve));
  }
}

if (rigKernel !== 'patched') throw new Error('the event and kernel ways need the patched kernel: test/vm/run --kernel patched');
const before = machine();
// The host process must be vkms's DRM master: this one does not open it.
using g = openFlipGuest();
const cases = PACES.flatMap((p) => WAYS.map((w) => ({ w, p, key: `${p.pace} ${w.way}` })));
const segments = new Map<string, Segment[]>(cases.map((c) => [c.key, []]));
for (const c of turns(ROUNDS, cases)) {
  const s = await segment(g, c.w, c.p);
  console.log(`${c.key}: ${String(s.shown)}/${String(s.frames)} frames shown (${String(s.writes)} writes), p50 ${percentile(s.latenciesVblanks, 50).toFixed(2)} vblanks, ${s.wakeupsPerFrame.toFixed(2)} wake-ups/frame`);
  segments.get(c.key)?.push(s);
}
const results = cases.map(({ w, p, key }) => {
  const ss = segments.get(key) ?? [];
  const all = ss.flatMap((s) => s.latenciesVblanks);
  const sum = (pick: (s: Segment) => number): number => ss.reduce((a, s) => a + pick(s), 0);
  return {
    way: w.way,
    name: w.name,
    pace: p.pace,
    writes: sum((s) => s.writes),
    frames: sum((s) => s.frames),
    shown: sum((s) => s.shown),
    shownRatio: spread(ss.map((s) => s.shown / s.frames)),
    latencyVblanksP50: percentile(all, 50),
    latencyVblanksP99: percentile(all, 99),
    latencyVblanksMax: Math.max(...all),
    wakeupsPerFrame: spread(ss.map((s) => s.wakeupsPerFrame)),
    cpuMsPerFrame: spread(ss.map((s) => s.cpuMsPerFrame)),
    idleWakeupsPerSecond: spread(ss.map((s) => s.idleWakeupsPerSecond)),
    latenciesVblanks: all.map((x) => Math.round(x * 1000) / 1000),
  };
});
writeJson(out, 'flip-paths.json', {
  machine: before,
  loadAfter: machine().loadavg,
  kernel: rigKernel,
  device: 'mbochs-small 800x600 -> vkms Virtual-1 at 800x600',
  rounds: ROUNDS,
  secondsPerRound: SECONDS,
  idleSeconds: IDLE_SECONDS,
  pollMs: POLL_MS,
  results,
});
console.table(results.map((r) => ({ pace: r.pace, way: r.way, shown: `${String(r.shown)}/${String(r.frames)}`, ratio: r.shownRatio.median, p50: r.latencyVblanksP50.toFixed(2), p99: r.latencyVblanksP99.toFixed(2), 'wake/frame': r.wakeupsPerFrame.median, 'cpu ms/frame': r.cpuMsPerFrame.median, 'idle wake/s': r.idleWakeupsPerSecond.median })));
