// Region planes shown by directFlip (mdpy: vga, xga and hd framebuffers on
// vkms): each poll compares the guest's framebuffer with the last frame,
// row by row in place, and only a change is copied, into the host dumb
// buffer not on screen. The benchmark is the guest (it writes whole frames
// into BAR0) and, in the same process, the host. Per size, in turns round
// by round: CPU per idle poll, and per frame shown while the guest changes
// a frame every 50 ms (its polls included, the guest's own writes taken
// out), each against a memcpy of one frame in the same round, copies
// per shown frame, and the latency from a poll seeing a change to the
// commit's completion. Writes region-copy.json to the rig's share.
import { setTimeout as sleep } from 'node:timers/promises';
import { directFlip, openDisplay, type Display, type RegionMapping } from 'vfio-display';
import { testPattern } from '../lib/bochs-guest.js';
import { createMdev, requireRig, rigKernel, type MdevHandle } from '../lib/rig.js';
import { openVkms } from '../lib/vkms.js';
import { machine, ratio, spread, turns, writeJson } from './measure.js';

const out = requireRig();
const ROUNDS = Number(process.env.VFIO_DISPLAY_BENCH_ROUNDS ?? 5);
const PHASE_MS = 2000;
const POLL_MS = 16;
const CHANGE_MS = 50;

const SIZES = [
  { type: 'mdpy-vga', width: 640, height: 480 },
  { type: 'mdpy-xga', width: 1024, height: 768 },
  { type: 'mdpy-hd', width: 1920, height: 1080 },
] as const;
type Size = (typeof SIZES)[number];

interface Guest {
  readonly size: Size;
  readonly mdev: MdevHandle;
  readonly display: Display;
  readonly vram: RegionMapping;
  readonly frames: readonly Uint8Array[];
}

interface Round {
  idleCpuMsPerPoll: number;
  changeCpuMs: number;
  memcpyMs: number;
  copiesPerFrame: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

/** Milliseconds to copy one frame of the guest's framebuffer into system memory: the memcpy the figures are set against. */
function memcpyMs(g: Guest): number {
  const bytes = g.size.width * g.size.height * 4;
  const into = new Uint8Array(bytes);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = process.hrtime.bigint();
    into.set(g.vram.bytes.subarray(0, bytes));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return spread(times).median;
}

async function round(g: Guest): Promise<Round> {
  using vkms = openVkms();
  g.vram.bytes.set(g.frames[0] ?? new Uint8Array(0));
  const flip = directFlip(g.display, vkms.card, { connectorId: vkms.writeback.id, periodMs: POLL_MS });
  const running = flip.run();
  try {
    while (flip.stats.frames === 0) await sleep(5);
    // Idle: the guest writes nothing, the flip polls on.
    let cpu = process.cpuUsage();
    await sleep(PHASE_MS);
    const idleCpuMsPerPoll = cpuMs(cpu) / (PHASE_MS / POLL_MS);
    // Changes: a whole new frame every CHANGE_MS; the guest's writes are not the flip's work.
    const before = flip.stats;
    let writesMs = 0;
    cpu = process.cpuUsage();
    for (let k = 1; k <= PHASE_MS / CHANGE_MS; k++) {
      const t0 = process.hrtime.bigint();
      g.vram.bytes.set(g.frames[k % 2] ?? new Uint8Array(0));
      writesMs += Number(process.hrtime.bigint() - t0) / 1e6;
      await sleep(CHANGE_MS);
    }
    const after = flip.stats;
    const shown = after.frames - before.frames;
    return {
      idleCpuMsPerPoll,
      changeCpuMs: (cpuMs(cpu) - writesMs) / Math.max(1, shown),
      memcpyMs: memcpyMs(g),
      copiesPerFrame: (after.copies - before.copies) / Math.max(1, shown),
      latencyP50Ms: after.latency.p50Ms,
      latencyP99Ms: after.latency.p99Ms,
    };
  } finally {
    await flip.close();
    await running;
  }
}

const before = machine();
const guests: Guest[] = SIZES.map((size) => {
  const mdev = createMdev('mdpy', size.type);
  const display = openDisplay(mdev.uuid);
  return { size, mdev, display, vram: display.device.mmap(0), frames: [1, 2].map((seed) => testPattern(size.width, size.height, seed)) };
});
const rounds = new Map<Guest, Round[]>(guests.map((g) => [g, []]));
try {
  for (const g of guests) await round(g);
  for (const g of turns(ROUNDS, guests)) rounds.get(g)?.push(await round(g));
} finally {
  for (const g of guests) {
    g.vram.unmap();
    g.display.close();
    g.mdev.remove();
  }
}

const results = guests.map((g) => {
  const rs = rounds.get(g) ?? [];
  const memcpy = rs.map((r) => r.memcpyMs);
  return {
    name: `${g.size.type} ${String(g.size.width)}x${String(g.size.height)} XR24`,
    memcpyMs: spread(memcpy),
    idleCpuMsPerPoll: spread(rs.map((r) => r.idleCpuMsPerPoll)),
    idleVsMemcpy: ratio(
      rs.map((r) => r.idleCpuMsPerPoll),
      memcpy,
    ),
    changeCpuMs: spread(rs.map((r) => r.changeCpuMs)),
    changeVsMemcpy: ratio(
      rs.map((r) => r.changeCpuMs),
      memcpy,
    ),
    copiesPerFrame: spread(rs.map((r) => r.copiesPerFrame)),
    latencyP50Ms: spread(rs.map((r) => r.latencyP50Ms)),
    latencyP99Ms: spread(rs.map((r) => r.latencyP99Ms)),
  };
});
const result = { machine: before, loadAfter: machine().loadavg, kernel: rigKernel, rounds: ROUNDS, phaseMs: PHASE_MS, pollMs: POLL_MS, changeMs: CHANGE_MS, results };
writeJson(out, 'region-copy.json', result);
console.table(
  results.map((r) => ({
    size: r.name,
    'memcpy ms': r.memcpyMs.median,
    'idle ms/poll': r.idleCpuMsPerPoll.median,
    'idle/memcpy': r.idleVsMemcpy.median,
    'ms/change': r.changeCpuMs.median,
    'change/memcpy': r.changeVsMemcpy.median,
    'copies/frame': r.copiesPerFrame.median,
    'p50 ms': r.latencyP50Ms.median,
  })),
);
