// Soak: the query/dma-buf/flip cycle a viewer runs for hours, through the
// library API as users call it. After a warm-up, the fd count, the host
// card's GEM handles, framebuffers and library-owned resources, the system's
// dma-bufs and the process' memory stay where they were. The library
// exports each guest buffer once and keeps it (the display's cache), as it
// must: Linux 6.12 mbochs double-frees a dma-buf exported a second time
// after its first fd was closed, or with two fds of one buffer open.
//
// 10^4 query/dma-buf cycles (each a guest flip) and 10^3 direct flips onto
// vkms here; VFIO_DISPLAY_SOAK=1 runs 10^5 of each
// (about an hour under TCG: a host flip waits for vkms' completion event).
// The figures go to the test's diagnostics and to
// $VFIO_DISPLAY_RIG_OUT/soak-<kernel>.json.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { directFlip } from 'vfio-display';
import { openMbochsGuest } from '../lib/bochs-guest.js';
import { requireRig, rigKernel } from '../lib/rig.js';
import { debugfsFramebuffers, nextGemHandle, openFds, openVkms, systemDmabufs } from '../lib/vkms.js';

const out = requireRig();
const patched = rigKernel === 'patched';
const soak = process.env.VFIO_DISPLAY_SOAK === '1';
const CYCLES = soak ? 100_000 : 10_000;
const FLIPS = soak ? 100_000 : 1_000;
/** Cycles and flips before the first sample: every buffer exported and imported, the code paths compiled. */
const WARMUP_CYCLES = 1_000;
const WARMUP_FLIPS = 100;
const MiB = 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Memory {
  readonly rss: number;
  readonly heapUsed: number;
}

/** Memory after a full collection, so that garbage not yet collected does not count. */
function memory(): Memory {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

const report: Record<string, unknown> = { kernel: rigKernel, soak };

function record(t: TestContext, name: string, figures: Record<string, unknown>): void {
  report[name] = figures;
  t.diagnostic(`${name}: ${JSON.stringify(figures)}`);
  writeFileSync(join(out, `soak-${rigKernel ?? 'unknown'}.json`), `${JSON.stringify(report, null, 2)}\n`);
}

/**
 * RSS growth allowed over the run's second half. In its first half V8 and
 * the allocator still grow to their working size (patched, 10^4 cycles:
 * 62 -> 77 MiB at 5,000 -> 85 MiB; 10^5 cycles: flat from 50,000 on), so
 * the short run only catches leaks of kilobytes a cycle (a mapping or a
 * frame copy), the soak bytes a cycle.
 */
const RSS_SLACK = (soak ? 8 : 24) * MiB;

/** Memory may not grow with the cycle count: the heap by 2 MiB over the run, RSS by RSS_SLACK over its second half. */
function assertFlat(before: Memory, mid: Memory, after: Memory): void {
  assert.ok(after.heapUsed - before.heapUsed < 2 * MiB, `heap ${before.heapUsed} -> ${after.heapUsed}`);
  assert.ok(after.rss - mid.rss < RSS_SLACK, `RSS ${before.rss} -> ${mid.rss} at half -> ${after.rss}`);
}

const mib = (m: Memory): { rssMiB: number; heapMiB: number } => ({ rssMiB: +(m.rss / MiB).toFixed(1), heapMiB: +(m.heapUsed / MiB).toFixed(1) });

describe('soak', { timeout: soak ? 7_200_000 : 600_000 }, () => {
  test(`${CYCLES} query/dma-buf cycles of a double-buffered guest: fds, dma-bufs and memory flat`, (t) => {
    using g = openMbochsGuest();
    const back = g.guest.backBufferLine();
    const ids = new Set<number>();
    const cycle = (k: number): void => {
      g.guest.flip(k % 2 ? back : 0);
      const plane = g.display.query();
      assert.ok(plane?.mode === 'dmabuf');
      const buf = g.display.dmabuf(plane);
      ids.add(buf.id);
    };
    for (let k = 0; k < WARMUP_CYCLES; k++) cycle(k);
    const before = { fds: openFds(), dmabufs: systemDmabufs(), memory: memory() };
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < CYCLES / 2; k++) cycle(k);
    const mid = memory();
    for (let k = CYCLES / 2; k < CYCLES; k++) cycle(k);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const after = { fds: openFds(), dmabufs: systemDmabufs(), memory: memory() };
    record(t, 'query-dmabuf', {
      cycles: CYCLES,
      seconds: +seconds.toFixed(1),
      fds: [before.fds, after.fds],
      dmabufs: [before.dmabufs, after.dmabufs],
      before: mib(before.memory),
      mid: mib(mid),
      after: mib(after.memory),
    });
    assert.equal(ids.size, 2, 'two guest buffers');
    assert.equal(after.fds, before.fds);
    assert.equal(after.dmabufs, before.dmabufs);
    assertFlat(before.memory, mid, after.memory);
  });

  test(
    `${FLIPS} direct flips in lockstep with the guest: fds, GEM handles, framebuffers, dma-bufs and memory flat`,
    { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap) for vkms to scan out the guest' },
    async (t) => {
      using g = openMbochsGuest();
      using vkms = openVkms();
      const back = g.guest.backBufferLine();
      g.guest.draw(0);
      g.guest.draw(1, back);
      const shownBefore = vkms.card.planeState(vkms.primary.id);
      const flip = directFlip(g.display, vkms.card, { connectorId: vkms.writeback.id, kernel: false });
      const frames = flip[Symbol.asyncIterator]();
      let line = 0;
      const step = async (): Promise<void> => {
        line = line === 0 ? back : 0;
        g.guest.flip(line);
        assert.ok(!(await frames.next()).done, 'the flip runs on');
      };
      assert.ok(!(await frames.next()).done);
      for (let k = 0; k < WARMUP_FLIPS; k++) await step();
      const sample = (): { fds: number; gem: number; fbs: number; owned: number; dmabufs: number } => ({
        fds: openFds(),
        gem: nextGemHandle(vkms),
        fbs: debugfsFramebuffers(vkms.card),
        owned: vkms.card.openResources,
        dmabufs: systemDmabufs(),
      });
      const before = { ...sample(), memory: memory() };
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < FLIPS / 2; k++) await step();
      const mid = memory();
      for (let k = FLIPS / 2; k < FLIPS; k++) await step();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const after = { ...sample(), memory: memory() };
      const { memory: m0, ...counts0 } = before;
      const { memory: m1, ...counts1 } = after;
      const stats = flip.stats;
      await frames.return();
      record(t, 'direct-flip', {
        flips: FLIPS,
        seconds: +seconds.toFixed(1),
        frames: stats.frames,
        dropped: stats.dropped,
        imports: stats.imports,
        latencyP50Ms: stats.latency.p50Ms,
        before: { ...counts0, ...mib(m0) },
        mid: mib(mid),
        after: { ...counts1, ...mib(m1) },
      });
      assert.deepEqual(counts1, counts0);
      assertFlat(m0, mid, m1);
      assert.equal(stats.frames, 1 + WARMUP_FLIPS + FLIPS);
      assert.equal(stats.dropped, 0, 'lockstep flips drop nothing');
      assert.equal(stats.imports, 2, 'two guest buffers, each imported once');
      assert.deepEqual(vkms.card.planeState(vkms.primary.id), shownBefore, 'the plane shows what it showed before the flip');
    },
  );
});
