// What a maintainer's review of the kernel series found in mbochs, as tests
// in the rig: a guest that pans through many offsets must not grow host
// kernel memory; a pan written as X_OFFSET then Y_OFFSET (bochs-drm's order)
// is one flip, signalled once, and no query sees it half written; a pan to
// a byte that is not on a page is exported from its page with the visible
// origin, and shown as the guest shows it. The tests talk to the device
// with raw ioctls where they can, so that they run against any version of
// the series.
import assert from 'node:assert/strict';
import { closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { directFlip, EventFd, openDisplay, toRgba, uapi, type OutFence, type VfioDevice } from 'vfio-display';
import { BochsGuest, DISPI_INDEX, openMbochsGuest, testPattern } from '../lib/bochs-guest.js';
import { createMdev, kernelLogMark, kernelProblemsSince, requireRig, rigKernel, type MdevHandle } from '../lib/rig.js';
import { openVkms, rgbMismatches } from '../lib/vkms.js';

const out = requireRig();
const patched = rigKernel === 'patched';
const { vfio, vfioExt } = uapi;
const DISPLAY_IRQ = 5;
/** Pans of the memory test: 10^4 in all, over four vGPUs that latch in parallel. */
const PANS = Number(process.env.VFIO_DISPLAY_REVIEW_PANS ?? 10_000);
const DEVICES = 4;
/** The bound on unreclaimable slab growth: a few KiB of kept buffers per vGPU, plus the kernel's own noise. */
const SLAB_BOUND_KIB = 4096;

interface RawPlane {
  readonly width: number;
  readonly height: number;
  readonly size: number;
  readonly dmabufId: number;
  readonly srcX: number;
  readonly srcY: number;
  readonly flipSeq: bigint;
}

/** VFIO_DEVICE_QUERY_GFX_PLANE of the primary, with or without EXT_INFO; null while disabled. */
function rawQuery(device: VfioDevice, extended = true): RawPlane | null {
  const bytes = uapi.encode(vfioExt.vfio_device_gfx_plane_info, {
    argsz: extended ? vfioExt.vfio_device_gfx_plane_info.size : vfio.vfio_device_gfx_plane_info.size,
    flags: vfio.VFIO_GFX_PLANE_TYPE_DMABUF | (extended ? vfioExt.VFIO_GFX_PLANE_FLAG_EXT_INFO : 0),
    drm_plane_type: 1,
  });
  device.ioctl(vfio.VFIO_DEVICE_QUERY_GFX_PLANE, bytes, 'VFIO_DEVICE_QUERY_GFX_PLANE', 'raw query');
  const p = uapi.decode(vfioExt.vfio_device_gfx_plane_info, new DataView(bytes.buffer));
  if (p.drm_format === 0) return null;
  return { width: p.width, height: p.height, size: p.size, dmabufId: p.region_index, srcX: p.src_x, srcY: p.src_y, flipSeq: p.flip_seq };
}

/** Polls until `read` answers something, for a latch due within a frame. */
async function latched<T>(read: () => T | null | undefined, what: string): Promise<T> {
  const deadline = performance.now() + 5000;
  for (;;) {
    const value = read();
    if (value !== null && value !== undefined) return value;
    if (performance.now() > deadline) assert.fail(`${what}: not within 5 s`);
    await sleep(1);
  }
}

/** The kernel's unreclaimable slab, in KiB. */
function slabKiB(): number {
  const kib = /^SUnreclaim:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  assert.ok(kib !== undefined);
  return Number(kib);
}

/** Pans to pixel `k` of the guest's virtual screen, as bochs-drm does: X_OFFSET, then Y_OFFSET. */
function pan(guest: BochsGuest, k: number, width = 800): void {
  guest.setReg(DISPI_INDEX.X_OFFSET, k % width);
  guest.setReg(DISPI_INDEX.Y_OFFSET, Math.floor(k / width));
}

describe('the series review, in mbochs', { skip: !patched && 'the fixes are in the patched kernel; stock 6.12 has the bugs', timeout: 900_000 }, () => {
  test(`a guest that pans through ${PANS} distinct offsets, each queried, keeps host kernel memory bounded`, async (t) => {
    const mark = kernelLogMark();
    const vgpus: { mdev: MdevHandle; guest: BochsGuest; device: VfioDevice; close: () => void }[] = [];
    try {
      for (let i = 0; i < DEVICES; i++) {
        const mdev = createMdev('mbochs', 'mbochs-small');
        const display = openDisplay(mdev.uuid);
        const guest = new BochsGuest(display.device);
        guest.setMode(800, 600);
        vgpus.push({ mdev, guest, device: display.device, close: () => { guest[Symbol.dispose](); display.close(); mdev.remove(); } });
      }
      const before = slabKiB();
      const started = performance.now();
      for (let k = 1; k <= PANS / DEVICES; k++) {
        const seqs = vgpus.map((v) => rawQuery(v.device)?.flipSeq ?? 0n);
        for (const v of vgpus) pan(v.guest, k);
        // Each pan shows at the next emulated vertical blank; the query after it meets the new offset.
        await Promise.all(vgpus.map((v, i) => latched(() => ((rawQuery(v.device)?.flipSeq ?? 0n) > (seqs[i] ?? 0n) ? true : null), `pan ${k}`)));
      }
      const after = slabKiB();
      const seconds = (performance.now() - started) / 1000;
      t.diagnostic(`${PANS} pans in ${seconds.toFixed(0)} s; unreclaimable slab ${before} KiB -> ${after} KiB (${after - before >= 0 ? '+' : ''}${after - before} KiB)`);
      writeFileSync(join(out, 'review-slab.json'), `${JSON.stringify({ pans: PANS, devices: DEVICES, beforeKiB: before, afterKiB: after, seconds })}\n`);
      assert.ok(after - before < SLAB_BOUND_KIB, `unreclaimable slab grew by ${after - before} KiB, more than ${SLAB_BOUND_KIB} KiB`);
      // The buffers that are kept still answer: the current one exports.
      for (const v of vgpus) {
        const plane = rawQuery(v.device);
        assert.ok(plane);
        const fd = v.device.ioctl(vfio.VFIO_DEVICE_GET_GFX_DMABUF, new Uint8Array(Uint32Array.of(plane.dmabufId).buffer), 'VFIO_DEVICE_GET_GFX_DMABUF', 'export');
        assert.ok(fd >= 0);
        closeSync(fd);
      }
    } finally {
      for (const v of vgpus) v.close();
    }
    assert.deepEqual(kernelProblemsSince(mark), []);
  });

  test("bochs-drm's pan (X_OFFSET, then Y_OFFSET) is one flip: one PRIMARY signal, one flip_seq step, ten times", async () => {
    using g = openMbochsGuest();
    const { device } = g.display;
    using primary = new EventFd();
    using mode = new EventFd();
    device.setIrqs({ index: DISPLAY_IRQ, action: 'trigger', data: [primary, -1, mode] });
    const start = rawQuery(device)?.flipSeq ?? 0n;
    let signals = 0n;
    for (let k = 1; k <= 10; k++) {
      // Right after the previous latch: the next one is most of a frame away.
      pan(g.guest, k * 808);
      signals += await latched(() => {
        const n = primary.read();
        return n > 0n ? n : null;
      }, `the signal of pan ${k}`);
    }
    await sleep(100);
    signals += primary.read();
    assert.equal(signals, 10n, 'one PRIMARY signal per pan');
    assert.equal(mode.read(), 0n, 'no MODE signal');
    assert.equal((rawQuery(device)?.flipSeq ?? 0n) - start, 10n, 'flip_seq counts ten flips');
  });

  test('a query between the two writes of a pan answers the last complete state, not half of the pan', async () => {
    using g = openMbochsGuest();
    const { device } = g.display;
    const before = rawQuery(device);
    g.guest.setReg(DISPI_INDEX.X_OFFSET, 8);
    assert.deepEqual(rawQuery(device), before, 'X_OFFSET alone changes no answer');
    g.guest.setReg(DISPI_INDEX.Y_OFFSET, 4);
    const after = await latched(() => {
      const p = rawQuery(device);
      return p && p.flipSeq > (before?.flipSeq ?? 0n) ? p : null;
    }, 'the pan');
    assert.equal(after.flipSeq, (before?.flipSeq ?? 0n) + 1n, 'one flip');
    assert.notEqual(after.dmabufId, before?.dmabufId, 'another surface');
  });

  test('a pan to (3, 1): exported from its page with src (3, 1); old userspace gets what it always got; shown as the guest shows it', async () => {
    using g = openMbochsGuest('mbochs-medium');
    const { display, guest } = g;
    const picture = testPattern(800, 600, 7);
    guest.vram.set(picture, 3212);
    guest.setReg(DISPI_INDEX.X_OFFSET, 3);
    guest.flip(1);
    const ext = rawQuery(display.device);
    assert.ok(ext);
    assert.deepEqual([ext.srcX, ext.srcY, ext.size], [3, 1, 3212 + 1_920_000], 'the origin in the buffer, and a size that reaches the end of the picture');
    const old = rawQuery(display.device, false);
    assert.ok(old);
    assert.deepEqual([old.width, old.height, old.size, old.srcX, old.srcY], [800, 600, 1_920_000, 0, 0], 'without EXT_INFO: the answer of every kernel before');
    const plane = display.query();
    assert.ok(plane?.mode === 'dmabuf');
    {
      using map = display.dmabuf(plane).map();
      map.begin('read');
      const image = toRgba({ ...plane, bytes: map.bytes });
      map.end('read');
      const drawn = toRgba({ bytes: picture, width: 800, height: 600, stride: 3200, drmFormat: plane.drmFormat });
      assert.ok(Buffer.from(image.data).equals(Buffer.from(drawn.data)), 'the screenshot is the picture the guest shows');
    }
    // A userspace flip of it onto vkms, read back through writeback.
    using out2 = openVkms();
    using capture = out2.card.createWriteback(out2.writeback.id, { width: 800, height: 600 });
    let fence: OutFence | undefined;
    const flip = directFlip(display, out2.card, {
      connectorId: out2.writeback.id,
      kernel: false,
      beforeCommit: (request) => {
        fence ??= capture.attach(request, out2.crtcId);
      },
    });
    const frames = flip[Symbol.asyncIterator]();
    const first = await frames.next();
    assert.ok(!first.done && first.value.primary?.srcX === 3);
    assert.ok(fence);
    assert.equal(rgbMismatches(await capture.read(fence, { timeoutMs: 10_000 }), picture), 0, 'scanned out as the guest shows it');
    await frames.return();
  });
});
