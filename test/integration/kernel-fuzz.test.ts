// Kernel fuzz of mbochs' display uAPI: several processes sharing one device
// fd run random sequences of the display ioctls (QUERY_GFX_PLANE with any
// flags, sizes, plane types and heads; GET_GFX_DMABUF of any id), IRQ and
// region info, SET_IRQS of any shape, Bochs DISPI register writes, VRAM,
// config space and EDID region accesses, mmaps and resets
// (test/lib/kernel-fuzz.ts), for a bounded time. Two of them export
// dma-bufs; on the patched kernel a fourth is vkms's DRM master and leases,
// assigns (kernel flips with any arguments), revokes and closes while the
// others flip. Afterwards the kernel log holds no warning, bug or oops, and
// the device still works: a mode set, a plane query and a dma-buf with the
// guest's pixels (on stock, where it cannot be mapped, the export). 15 s
// here; VFIO_DISPLAY_SOAK=1 runs 300 s.
//
// Linux 6.12 mbochs frees a buffer's pages twice when the buffer is exported
// twice, with both fds live or one after the other (kernel-patches 0005
// fixes it): on the stock kernel the exporters export each buffer once
// (kernel-fuzz.ts), and the buffer tests below skip. Its pread/pwrite near
// the end of BAR0 read past its page array (kernel-patches 0002): the stock
// run keeps off there.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { Display, openDisplay, type DmabufMapping } from 'vfio-display';
import { BochsGuest } from '../lib/bochs-guest.js';
import type { FuzzConfig, FuzzReport } from '../lib/kernel-fuzz.js';
import { createMdev, kernelLogMark, kernelProblemsSince, requireRig, rigKernel } from '../lib/rig.js';
import { rgbMismatches } from '../lib/vkms.js';

requireRig();
const patched = rigKernel === 'patched';
const SECONDS = process.env.VFIO_DISPLAY_SOAK === '1' ? 300 : 15;
const SEED = Number(process.env.VFIO_DISPLAY_FUZZ_SEED ?? Date.now() % 100_000);
const STOCK_DOUBLE_EXPORT =
  'Linux 6.12 mbochs gives a second fd of an exported dma-buf no reference and drops its pages at every release (kernel-patches 0005): exporting one buffer twice would corrupt the stock kernel\'s memory';

function runChild(fd: number, config: FuzzConfig): Promise<FuzzReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['test/dist/lib/kernel-fuzz.js', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit', fd] });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) reject(new Error(`fuzz child (seed ${String(config.seed)}) exited with ${String(code ?? signal)}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as FuzzReport);
    });
  });
}

/** Resets the device, sets a mode as the guest, and checks the plane and its dma-buf's pixels. */
function checkDevice(display: Display, guest: BochsGuest, seed: number): void {
  display.device.reset();
  guest.setMode(1024, 768);
  const drawn = guest.draw(seed);
  const plane = display.query('primary');
  assert.ok(plane?.mode === 'dmabuf', 'a dma-buf plane');
  assert.deepEqual([plane.width, plane.height, plane.stride, plane.fourcc], [1024, 768, 4096, 'XR24']);
  const dmabuf = display.dmabuf(plane);
  if (!patched) {
    // Stock 6.12 mbochs exports read-only, and a read-only dma-buf cannot be mapped shared (kernel-patches 0003).
    assert.throws(() => dmabuf.map(), { code: 'ERR_VFIO_DMABUF_NOT_MAPPABLE' });
    return;
  }
  using map = dmabuf.map();
  map.begin('read');
  assert.equal(rgbMismatches(map.bytes.subarray(0, drawn.length), drawn), 0, "the dma-buf holds the guest's pixels");
  map.end('read');
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

describe('kernel fuzz: the display ioctls, SET_IRQS and DISPI writes from several processes', { timeout: (SECONDS + 300) * 1000 }, () => {
  test(`${patched ? 4 : 3} processes for ${String(SECONDS)} s (seeds from ${String(SEED)}): no kernel warning, and the device still answers correctly`, async (t) => {
    const mark = kernelLogMark();
    // Declared in this order, so that an early failure closes the device before removing it.
    // mbochs-medium: 16 MiB of VRAM, room for two 1024x768 buffers.
    using mdev = createMdev('mbochs', 'mbochs-medium');
    using display = openDisplay(mdev.uuid);
    const irqBefore = display.features.changeIrq;
    const exports = patched ? 'shared' : 'once';
    const configs: FuzzConfig[] = [
      { seed: SEED, seconds: SECONDS, exports, slot: 0, slots: 2, bar0Tail: patched },
      { seed: SEED + 1, seconds: SECONDS, exports, slot: 1, slots: 2, bar0Tail: patched },
      { seed: SEED + 2, seconds: SECONDS, exports: 'none', bar0Tail: patched },
      // The patched kernel's kernel flips: one child is vkms's master, leasing, assigning, revoking.
      ...(patched ? [{ seed: SEED + 3, seconds: SECONDS, exports: 'none', bar0Tail: true, directFlip: true } as const] : []),
    ];
    const start = performance.now();
    const reports = await Promise.all(configs.map((config) => runChild(display.device.fd, config)));
    const seconds = (performance.now() - start) / 1000;

    const byOutcome = new Map<string, number>();
    const byOp = new Map<string, number>();
    for (const r of reports) {
      for (const [op, outcomes] of Object.entries(r.outcomes)) {
        for (const [outcome, n] of Object.entries(outcomes)) {
          byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + n);
          byOp.set(op, (byOp.get(op) ?? 0) + n);
        }
      }
    }
    const operations = sum(reports.map((r) => r.operations));
    t.diagnostic(`${String(operations)} operations in ${seconds.toFixed(1)} s by ${String(reports.length)} processes (${reports.map((r) => `${r.exports} ${String(r.operations)}`).join(', ')})`);
    t.diagnostic(`outcomes: ${[...byOutcome].map(([c, n]) => `${c} ${String(n)}`).join(', ')}`);
    t.diagnostic(`per operation: ${[...byOp].map(([op, n]) => `${op} ${String(n)}`).join(', ')}`);
    t.diagnostic(`dma-bufs: ${JSON.stringify(reports.map((r) => ({ exports: r.exports, ...r.outcomes.GET_GFX_DMABUF, secondLiveFds: r.secondLiveFds, reexports: r.reexports, display: r.outcomes['Display dma-buf'] })))}`);

    for (const r of reports.slice(0, 2)) assert.ok((r.outcomes.GET_GFX_DMABUF?.ok ?? 0) > 0, `child ${String(r.seed)} exported dma-bufs`);
    const flipper = reports[3];
    if (flipper) {
      t.diagnostic(`kernel flips: ${JSON.stringify(Object.fromEntries(['lease', 'DIRECT_FLIP set/get', 'revoke lease', 'close lease fd', 'CRTC on/off'].map((op) => [op, flipper.outcomes[op]])))}`);
      assert.ok((flipper.outcomes.lease?.ok ?? 0) > 0 && (flipper.outcomes['DIRECT_FLIP set/get']?.ok ?? 0) > 0, 'leases were made and heads assigned');
    }
    if (patched) {
      assert.ok(sum(reports.map((r) => r.secondLiveFds)) > 0, 'some buffer had two live fds');
      assert.ok(sum(reports.map((r) => r.reexports)) > 0, 'some buffer was exported again after its fds were closed');
      assert.ok(sum(reports.map((r) => r.outcomes['Display dma-buf']?.mapped ?? 0)) > 0, 'dma-bufs were mapped');
    }
    assert.deepEqual(kernelProblemsSince(mark), [], 'the kernel logged no warning, bug or oops during the fuzz');

    if (patched) {
      // The same open device, as the fuzz left it: a reset and a guest's mode set make it whole.
      using guest = new BochsGuest(display.device);
      checkDevice(display, guest, 42);
      assert.deepEqual(display.device.irq(irqBefore?.index ?? 5), irqBefore, 'the display change IRQ is as it was');
      // The fuzz may have left the IRQ masked, as a previous user can.
      display.resumeChanges();
      const changes = display.changes({ signal: AbortSignal.timeout(60_000) });
      try {
        const first = await changes.next();
        assert.ok(!first.done && first.value.source === 'event');
        guest.flip(guest.backBufferLine());
        const flipped = await changes.next();
        assert.ok(!flipped.done && flipped.value.changed.primary && flipped.value.events?.primary === 1, `a flip signals once: ${inspect(flipped.value)}`);
      } finally {
        await changes.return(undefined);
      }
    }
    // Opened again (on stock, the only check: the fuzz's buffers are gone
    // with the close, so this export is the first of its buffer).
    display.close();
    using again = openDisplay(mdev.uuid);
    using guest = new BochsGuest(again.device);
    checkDevice(again, guest, 43);
    assert.deepEqual(kernelProblemsSince(mark), [], 'the kernel logged no warning, bug or oops');
  });
});

describe('mbochs dma-buf lifetime (kernel-patches 0005)', { timeout: 300_000 }, () => {
  test('one buffer exported twice with both fds live, both closed, exported again, 20 times; a mapping outlives the device', (t) => {
    if (!patched) {
      t.skip(STOCK_DOUBLE_EXPORT);
      return;
    }
    const ROUNDS = 20;
    const mark = kernelLogMark();
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    guest.setMode(800, 600);
    const plane = display.query('primary');
    assert.ok(plane?.mode === 'dmabuf');
    const pixels = (map: DmabufMapping, drawn: Uint8Array, what: string): void => {
      assert.equal(rgbMismatches(map.bytes.subarray(0, drawn.length), drawn), 0, what);
    };
    const read = (d: Display, drawn: Uint8Array, what: string): void => {
      using map = d.dmabuf(plane).map();
      map.begin('read');
      pixels(map, drawn, what);
      map.end('read');
    };
    let drawn: Uint8Array = new Uint8Array();
    for (let round = 0; round < ROUNDS; round++) {
      drawn = guest.draw(round);
      // Two Displays on one device: each exports the buffer into an fd of its own.
      using a = new Display(display.device);
      using b = new Display(display.device);
      assert.equal(a.dmabuf(plane).id, b.dmabuf(plane).id);
      assert.notEqual(a.dmabuf(plane).fd, b.dmabuf(plane).fd);
      read(a, drawn, `round ${String(round)}: the first fd`);
      read(b, drawn, `round ${String(round)}: the second fd`);
      // Every other round a mapping keeps the buffer past the close of both fds.
      const kept = round % 2 === 0 ? a.dmabuf(plane).map() : undefined;
      a.close();
      b.close();
      using c = new Display(display.device);
      read(c, drawn, `round ${String(round)}: exported again after both fds were closed`);
      if (kept) {
        pixels(kept, drawn, `round ${String(round)}: a mapping of the closed fds`);
        kept.unmap();
      }
    }
    // A mapping of a dma-buf keeps it past the close and removal of the device.
    const kept = display.dmabuf(plane).map();
    guest[Symbol.dispose]();
    display.close();
    mdev.remove();
    pixels(kept, drawn, 'a mapping of a dma-buf of a removed device');
    kept.unmap();
    t.diagnostic(`${String(ROUNDS)} rounds of 4 exports of one buffer, 2 of them live at once`);
    assert.deepEqual(kernelProblemsSince(mark), [], 'the kernel logged no warning, bug or oops');
  });
});
