// directFlip end to end in the rig: the test is the guest of an mbochs vGPU
// (draws into VRAM, flips by panning, changes mode, turns the display off
// and on through the DISPI registers); the pipeline puts each guest frame on
// vkms's primary plane, and the writeback connector shows what was scanned
// out. Stock 6.12 cannot scan out mbochs dma-bufs at all (no vmap).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtomicCommitError, directFlip, drmCardOfParent, type Display, uapi, type CrtcState, type DirectFlipOptions, type FlipFrame, type KmsPlaneState, type OutFence, type WritebackCapture } from 'vfio-display';
import { openMbochsGuest, openMdpyGuest } from '../lib/bochs-guest.js';
import { findVkmsCard, kernelLogMark, kernelLogSince, requireRig, rigKernel } from '../lib/rig.js';
import { captureScanout, CrtcCrcs, openFds, openVkms, rgbMismatches, solid, vkmsCrc, writebackMode, type VkmsOutput } from '../lib/vkms.js';

requireRig();
const patched = rigKernel === 'patched';

/** What vkms's output shows: the CRTC's mode, its primary plane, where Virtual-1 goes. */
function outputState(out: VkmsOutput): { active: boolean; mode: CrtcState['mode']; plane: KmsPlaneState; virtual: bigint | undefined } {
  const { active, mode } = out.card.crtcState(out.crtcId);
  return { active, mode, plane: out.card.planeState(out.primary.id), virtual: out.card.properties.get(out.virtual.id, 'CRTC_ID') };
}

/**
 * A direct flip onto vkms's writeback connector, stepped one frame at a
 * time; frames whose seq `capture` picks are captured through writeback.
 */
class SteppedFlip implements AsyncDisposable {
  readonly #out: VkmsOutput;
  readonly #captures = new Map<string, WritebackCapture>();
  readonly #fences = new Map<number, { fence: OutFence; capture: WritebackCapture }>();
  readonly #frames: AsyncIterator<FlipFrame>;
  readonly #before: ReturnType<typeof outputState>;
  readonly flip;

  constructor(display: Display, out: VkmsOutput, capture: (seq: number) => boolean, options: DirectFlipOptions = {}) {
    this.#out = out;
    this.#before = outputState(out);
    this.flip = directFlip(display, out.card, {
      connectorId: out.writeback.id,
      kernel: false,
      ...options,
      beforeCommit: (request, frame) => {
        if (!frame.primary || !capture(frame.seq)) return;
        const { width, height } = frame.primary;
        const key = `${width}x${height}`;
        let c = this.#captures.get(key);
        if (!c) {
          c = out.card.createWriteback(out.writeback.id, { width, height });
          this.#captures.set(key, c);
        }
        this.#fences.set(frame.seq, { fence: c.attach(request, out.crtcId), capture: c });
      },
    });
    this.#frames = this.flip[Symbol.asyncIterator]();
  }

  /** The next frame shown. */
  async next(): Promise<FlipFrame> {
    const r = await this.#frames.next();
    assert.ok(!r.done, 'the flip ended');
    return r.value;
  }

  /** Frames until one satisfies `pred` (a mode change may show as more than one). */
  async until(pred: (f: FlipFrame) => boolean, what: string): Promise<FlipFrame> {
    for (let i = 0; i < 5; i++) {
      const f = await this.next();
      if (pred(f)) return f;
    }
    assert.fail(`no frame with ${what} within 5 frames`);
  }

  /** What was scanned out for a captured frame (rows packed, XRGB8888). */
  async captured(frame: FlipFrame): Promise<Uint8Array> {
    const entry = this.#fences.get(frame.seq);
    assert.ok(entry, `frame ${frame.seq} was captured`);
    this.#fences.delete(frame.seq);
    return entry.capture.read(entry.fence, { timeoutMs: 10_000 });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#frames.return?.();
    for (const c of this.#captures.values()) c.close();
    assert.deepEqual(outputState(this.#out), this.#before, 'the output shows what it showed before the flip');
  }
}

describe('directFlip of an mbochs guest onto vkms', { timeout: 600_000 }, () => {
  test(
    'patched: 120 double-buffered guest flips, sampled captures equal what the guest drew; 800x600 -> 1024x768; display off and on',
    { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap) for vkms to scan out the guest' },
    async () => {
      using g = openMbochsGuest('mbochs-medium');
      using out = openVkms();
      let expected = g.guest.draw(0);
      await using s = new SteppedFlip(g.display, out, (seq) => seq % 10 === 1);
      assert.equal(s.flip.output.connectorId, out.writeback.id);

      const first = await s.next();
      assert.equal(first.seq, 1);
      assert.ok(first.modeset, 'the first frame sets the guest mode on the host');
      assert.deepEqual(first.placement?.crtc, { x: 0, y: 0, width: 800, height: 600 });
      assert.equal(rgbMismatches(await s.captured(first), expected), 0);

      const back = g.guest.backBufferLine();
      let line = 0;
      let compared = 1;
      for (let k = 1; k <= 120; k++) {
        line = line === 0 ? back : 0;
        expected = g.guest.draw(k, line);
        g.guest.flip(line);
        const f = await s.next();
        assert.equal(f.modeset, false);
        assert.equal(f.primary?.width, 800);
        if (f.seq % 10 === 1) {
          assert.equal(rgbMismatches(await s.captured(f), expected), 0, `frame ${f.seq} (guest flip ${k})`);
          compared++;
        }
      }
      assert.ok(compared >= 12);
      const stats = s.flip.stats;
      assert.equal(stats.source, 'event');
      assert.equal(stats.frames, 121);
      assert.equal(stats.dropped, 0, 'lockstep flips drop nothing');
      assert.equal(stats.imports, 2, 'two guest buffers, each imported once');
      assert.equal(stats.latency.count, 121);

      g.guest.setMode(1024, 768);
      expected = g.guest.draw(200);
      const big = await s.until((f) => f.primary?.width === 1024, 'the 1024x768 mode');
      assert.ok(big.modeset);
      assert.equal(out.card.crtcState(out.crtcId).mode?.hdisplay, 1024);
      if (big.seq % 10 !== 1) {
        // Not a sampled frame: flip once more onto a captured one.
        while ((s.flip.stats.frames + 1) % 10 !== 1) {
          line = line === 0 ? g.guest.backBufferLine() : 0;
          g.guest.draw(300, line);
          g.guest.flip(line);
          await s.next();
        }
        line = line === 0 ? g.guest.backBufferLine() : 0;
        expected = g.guest.draw(301, line);
        g.guest.flip(line);
        assert.equal(rgbMismatches(await s.captured(await s.next()), expected), 0, 'after the mode change');
      } else {
        assert.equal(rgbMismatches(await s.captured(big), expected), 0, 'after the mode change');
      }

      g.guest.disable();
      const off = await s.until((f) => f.primary === null, 'the display off');
      assert.equal(off.placement, null);
      assert.equal(out.card.planeState(out.primary.id).fbId, 0, 'the host plane is off while the guest display is');

      g.guest.setMode(800, 600);
      g.guest.draw(400);
      const on = await s.until((f) => f.primary !== null, 'the display on again');
      assert.ok(on.modeset, 'back to 800x600');
      assert.equal(on.primary?.width, 800);
      assert.notEqual(out.card.planeState(out.primary.id).fbId, 0);
    },
  );

  test('patched: timer mode flips too, and says so', { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap)' }, async () => {
    using g = openMbochsGuest();
    using out = openVkms();
    g.guest.draw(0);
    await using s = new SteppedFlip(g.display, out, (seq) => seq === 6, { changes: 'timer', periodMs: 5 });
    await s.next();
    const back = g.guest.backBufferLine();
    let expected: Uint8Array = new Uint8Array();
    for (let k = 1; k <= 5; k++) {
      const line = k % 2 ? back : 0;
      expected = g.guest.draw(k, line);
      g.guest.flip(line);
      const f = await s.next();
      assert.equal(f.source, 'timer');
      if (f.seq === 6) assert.equal(rgbMismatches(await s.captured(f), expected), 0);
    }
    assert.equal(s.flip.stats.source, 'timer');
  });

  test('timer and event mode: run() resolves with the stats when its signal aborts', { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap)' }, async () => {
    for (const changes of ['timer', 'event'] as const) {
      using g = openMbochsGuest();
      using out = openVkms();
      g.guest.draw(0);
      const stop = new AbortController();
      const flip = directFlip(g.display, out.card, { connectorId: out.writeback.id, kernel: false, changes, periodMs: 5, signal: stop.signal });
      const running = flip.run();
      for (let i = 0; i < 200 && flip.stats.frames === 0; i++) await sleep(10);
      assert.equal(flip.stats.frames, 1, `${changes}: the guest is shown`);
      stop.abort();
      const stats = await running;
      assert.equal(stats.source, changes);
      assert.equal(stats.frames, 1);
    }
  });

  test('patched: a CRTC that already drives the output at the guest\'s timing gets no modeset', { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap)' }, async () => {
    using g = openMbochsGuest();
    using out = openVkms();
    const { card, crtcId, virtual, writeback } = out;
    {
      using blob = card.createModeBlob(writebackMode(out, 800, 600));
      card.commitBlocking(card.atomic().setCrtc(crtcId, { active: true, modeId: blob.id }).setConnector(virtual.id, 0).setConnector(writeback.id, crtcId), { allowModeset: true });
    }
    const expected = g.guest.draw(3);
    await using s = new SteppedFlip(g.display, out, () => true);
    const first = await s.next();
    assert.equal(first.modeset, false, 'the host already shows 800x600 on this connector');
    assert.equal(s.flip.stats.modesets, 0);
    assert.equal(rgbMismatches(await s.captured(first), expected), 0);
  });

  test('patched: guest mode changes make no forced connector probe (a DDC read of the monitor on real outputs)', { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap)' }, async () => {
    using g = openMbochsGuest('mbochs-medium');
    using out = openVkms();
    g.guest.draw(0);
    await using s = new SteppedFlip(g.display, out, () => false);
    await s.next();
    // drm.debug's KMS category logs every probe of a connector's modes.
    const debug = '/sys/module/drm/parameters/debug';
    const before = readFileSync(debug, 'utf8').trim();
    const mark = kernelLogMark();
    writeFileSync(debug, '4');
    try {
      for (const [width, height] of [[1024, 768], [800, 600]] as const) {
        g.guest.setMode(width, height);
        g.guest.draw(width);
        const f = await s.until((frame) => frame.primary?.width === width, `${String(width)}x${String(height)}`);
        assert.ok(f.modeset);
      }
    } finally {
      writeFileSync(debug, before);
    }
    assert.deepEqual(kernelLogSince(mark, /drm_helper_probe_single_connector_modes/), [], 'no connector probed');
  });

  test('patched: a watcher on the same display beside directFlip: both see every guest flip', { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap)' }, async () => {
    using g = openMbochsGuest();
    using out = openVkms();
    g.guest.draw(0);
    const stop = new AbortController();
    const flip = directFlip(g.display, out.card, { connectorId: out.writeback.id, kernel: false, changes: 'event', signal: stop.signal });
    const running = flip.run();
    const watcher = g.display.changes({ signal: stop.signal });
    const frames = async (n: number, what: string): Promise<void> => {
      for (let i = 0; i < 1000 && flip.stats.frames < n; i++) await sleep(5);
      assert.equal(flip.stats.frames, n, what);
    };
    const watched = async (what: string): Promise<void> => {
      const r = await Promise.race([watcher.next(), sleep(10_000, 'timeout' as const, { ref: false })]);
      assert.ok(r !== 'timeout' && !r.done && r.value.changed.primary, `${what}: the watcher sees it`);
    };
    await watched('the first state');
    await frames(1, 'the guest is shown');
    let line = 0;
    for (let k = 1; k <= 10; k++) {
      line = line === 0 ? g.guest.backBufferLine() : 0;
      g.guest.draw(k, line);
      g.guest.flip(line);
      await watched(`guest flip ${String(k)}`);
      await frames(k + 1, `guest flip ${String(k)} is shown`);
    }
    stop.abort();
    const stats = await running;
    assert.equal(stats.frames, 11);
    assert.equal(stats.dropped, 0);
    await watcher.return(undefined);
  });

  test('stock 6.12: the first commit is refused (mbochs dma-bufs have no vmap), typed, and nothing is left open', { skip: patched && 'stock kernel quirk' }, async () => {
    using g = openMbochsGuest();
    using out = openVkms();
    g.guest.draw(0);
    const fds = openFds();
    const flip = directFlip(g.display, out.card, { connectorId: out.writeback.id, kernel: false });
    await assert.rejects(flip.run(), (err: unknown) => {
      assert.ok(err instanceof AtomicCommitError, String(err));
      assert.equal(err.code, 'EINVAL');
      return true;
    });
    assert.equal(out.card.openResources, 0, 'the imported framebuffer and the mode blob are closed');
    assert.equal(flip.stats.frames, 0);
    g.display.close();
    assert.ok(openFds() <= fds, 'no fd left behind');
  });

  test(`kernel flips: ${patched ? 'offered, and chosen by default' : 'not on stock 6.12: the probe answers EINVAL and kernel: true is refused'}`, () => {
    using g = openMbochsGuest();
    using out = openVkms();
    assert.equal(g.display.features.kernelFlip, patched);
    const probe = new Uint8Array(uapi.vfioExt.vfio_device_gfx_plane_info.size);
    const view = new DataView(probe.buffer);
    view.setUint32(0, uapi.vfio.vfio_device_gfx_plane_info.size, true);
    view.setUint32(4, uapi.vfio.VFIO_GFX_PLANE_TYPE_PROBE | uapi.vfioExt.VFIO_GFX_PLANE_TYPE_DRM_FB, true);
    view.setUint32(8, 1, true);
    const ask = (): number => g.display.device.ioctl(uapi.vfio.VFIO_DEVICE_QUERY_GFX_PLANE, probe, 'VFIO_DEVICE_QUERY_GFX_PLANE', 'probe DRM_FB');
    if (patched) {
      assert.equal(ask(), 0);
      assert.equal(directFlip(g.display, out.card, { connectorId: out.writeback.id }).stats.flipper, 'kernel');
      assert.equal(directFlip(g.display, out.card, { connectorId: out.writeback.id, kernel: false }).stats.flipper, 'userspace');
    } else {
      assert.throws(ask, { code: 'EINVAL' });
      assert.throws(() => g.display.queryDrmFb(), { code: 'ERR_VFIO_NO_KERNEL_FLIP' });
      assert.equal(directFlip(g.display, out.card, { connectorId: out.writeback.id }).stats.flipper, 'userspace');
      assert.throws(() => directFlip(g.display, out.card, { connectorId: out.writeback.id, kernel: true }), { code: 'ERR_VFIO_NO_KERNEL_FLIP' });
    }
    assert.equal(drmCardOfParent(g.display.device.name), null, "mbochs' parent is no DRM device");
  });

  test('kernel flips through guest mode changes: each host mode set by the process, the head reassigned, every commit of every assignment counted, pixel-exact', { skip: !patched && 'needs the kernel-patches series' }, async () => {
    using g = openMbochsGuest('mbochs-medium');
    using out = openVkms();
    const fds = openFds();
    g.guest.setMode(800, 600);
    const stop = new AbortController();
    const flip = directFlip(g.display, out.card, { connectorId: out.writeback.id, kernel: true, signal: stop.signal });
    const running = flip.run();
    /** Until the kernel shows what the guest shows, on a host mode of the guest's width. */
    const shown = async (width: number): Promise<void> => {
      for (let i = 0; i < 2000; i++) {
        const plane = g.display.query();
        const kernel = flip.stats.kernel;
        if (plane?.width === width && out.card.crtcState(out.crtcId).mode?.hdisplay === width && kernel?.state === 'active' && kernel.flipSeq === plane.flipSeq) return;
        await sleep(5);
      }
      assert.fail(`the kernel did not show the guest's ${width}-wide frame`);
    };
    try {
      let flips = 0;
      for (const [width, height] of [[800, 600], [1024, 768], [800, 600]] as const) {
        g.guest.setMode(width, height);
        await shown(width);
        const back = g.guest.backBufferLine();
        for (let i = 0; i < 4; i++, flips++) {
          const line = i % 2 === 0 ? back : 0;
          const picture = g.guest.draw(flips, line);
          g.guest.flip(line);
          await shown(width);
          assert.equal(rgbMismatches(await captureScanout(out, width, height), picture), 0, `${width}x${height} flip ${i}`);
        }
      }
      const { stats } = flip;
      assert.ok(stats.kernel, 'the kernel reports');
      assert.equal(stats.modesets, 3, 'the process set each host mode');
      // Each assignment counts its own commits: three assignments, twelve flips and three mode sets shown.
      assert.ok(stats.frames >= flips + 3, `all commits counted (${stats.frames})`);
      assert.ok(stats.frames > Number(stats.kernel.commits), 'earlier assignments included');
    } finally {
      stop.abort();
      await running;
    }
    assert.equal(flip.stats.kernel?.state, 'off', 'the assignment ended with the flip');
    g.display.close();
    assert.ok(openFds() <= fds, 'no fd left behind');
  });

  test('bad options are refused before anything is opened', () => {
    using g = openMbochsGuest();
    using out = openVkms();
    assert.throws(() => directFlip(g.display, out.card, { fit: 'zoom' as never }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => directFlip(g.display, out.card, { connectorId: 999_999 }), { code: 'ENOENT' });
    assert.throws(() => directFlip(g.display, out.card, { connectorId: out.writeback.id, planeId: out.cursor.id, cursorPlaneId: out.primary.id + 999 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.equal(out.card.openResources, 0);
  });
});

describe('directFlip of an mdpy guest (region planes) onto vkms', { timeout: 300_000 }, () => {
  test('each change of the guest\'s bytes copied once into one of two host buffers, pixel-exact; unchanged bytes cost no commit', async () => {
    using g = openMdpyGuest();
    const { display } = g;
    using out = openVkms();
    assert.throws(() => directFlip(display, out.card, { changes: 'event' }), { code: 'ERR_VFIO_NO_CHANGE_EVENTS' });
    let expected = g.draw(1);
    await using s = new SteppedFlip(display, out, () => true, { periodMs: 5 });
    const first = await s.next();
    assert.equal(first.source, 'timer');
    assert.equal(first.primary?.mode, 'region');
    assert.ok(first.modeset);
    assert.equal(rgbMismatches(await s.captured(first), expected), 0, 'the first frame');
    const buffers = new Set([out.card.planeState(out.primary.id).fbId]);
    for (let k = 2; k <= 6; k++) {
      expected = g.draw(k);
      const f = await s.next();
      assert.equal(f.seq, k);
      assert.equal(f.modeset, false);
      assert.equal(rgbMismatches(await s.captured(f), expected), 0, `frame ${k}`);
      buffers.add(out.card.planeState(out.primary.id).fbId);
    }
    assert.equal(buffers.size, 2, 'two host buffers, taken in turn');
    // The flip polls on, waiting for a frame: with nothing new, no copy and no commit.
    const pending = s.next();
    await sleep(100);
    const stats = s.flip.stats;
    assert.deepEqual([stats.frames, stats.copies, stats.imports, stats.modesets], [6, 6, 0, 1]);
    // A change after the quiet polls is shown as the next frame.
    expected = g.draw(7);
    const f = await pending;
    assert.equal(f.seq, 7);
    assert.equal(rgbMismatches(await s.captured(f), expected), 0, 'after the quiet polls');
  });
});

describe('the host output after a flip', { timeout: 300_000 }, () => {
  test('what another client showed (mode, framebuffer, connector) is back when the flip ends; a framebuffer its owner removed meanwhile leaves the plane off', async () => {
    using g = openMdpyGuest();
    const { display } = g;
    g.draw(3);
    using out = openVkms();
    // Another client's screen on Virtual-1: 800x600, one colour.
    const screen = out.card.createDumb({ width: 800, height: 600 });
    const pixels = solid(800, 600, 0x336699);
    screen.write(pixels);
    using blob = out.card.createModeBlob(writebackMode(out, 800, 600));
    const full = { x: 0, y: 0, width: 800, height: 600 };
    const request = out.card.atomic().setCrtc(out.crtcId, { active: true, modeId: blob.id }).setConnector(out.virtual.id, out.crtcId);
    request.setPlane(out.primary.id, { fbId: screen.framebuffer.id, crtcId: out.crtcId, src: full, crtc: full });
    out.card.commitBlocking(request, { allowModeset: true });
    const before = outputState(out);

    const flipOnce = async (meanwhile: () => void): Promise<void> => {
      const frames = directFlip(display, out.card, { connectorId: out.virtual.id })[Symbol.asyncIterator]();
      const first = await frames.next();
      assert.ok(!first.done && first.value.modeset);
      assert.equal(out.card.crtcState(out.crtcId).mode?.hdisplay, 640, 'the guest mode on the host');
      meanwhile();
      await frames.return();
    };
    await flipOnce(() => undefined);
    assert.deepEqual(outputState(out), before, 'mode, plane and connector as they were');
    // Blanked (a mode, not active): put back blanked.
    out.card.commitBlocking(out.card.atomic().setCrtc(out.crtcId, { active: false, modeId: blob.id }), { allowModeset: true });
    const blanked = outputState(out);
    assert.deepEqual([blanked.active, blanked.mode?.hdisplay, blanked.plane.fbId], [false, 800, screen.framebuffer.id]);
    await flipOnce(() => undefined);
    assert.deepEqual(outputState(out), blanked, 'blanked as it was');
    out.card.commitBlocking(out.card.atomic().setCrtc(out.crtcId, { active: true, modeId: blob.id }), { allowModeset: true });
    {
      // vkms takes no writeback clone of Virtual-1: its CRCs say what it composes.
      await using crcs = await CrtcCrcs.open(findVkmsCard());
      assert.ok(await crcs.until(vkmsCrc(pixels)), 'the other client\'s pixels');
    }

    await flipOnce(() => {
      screen.close();
    });
    const after = outputState(out);
    assert.deepEqual([after.active, after.mode, after.virtual], [before.active, before.mode, before.virtual], 'mode and connector as they were');
    assert.equal(after.plane.fbId, 0, 'the removed framebuffer is not shown: the plane is off');
    assert.equal(out.card.openResources, 1, 'only the test\'s mode blob is left');
  });

  test('close(): a pending next() ends done, run() resolves with its stats, the output is put back; await using closes; a flip closed or iterated once cannot run again', async () => {
    using g = openMdpyGuest();
    const { display } = g;
    g.draw(4);
    using out = openVkms();
    const before = outputState(out);
    const options = { connectorId: out.writeback.id, periodMs: 5 };
    {
      const flip = directFlip(display, out.card, options);
      const frames = flip[Symbol.asyncIterator]();
      assert.equal((await frames.next()).done, false);
      const pending = frames.next();
      await flip.close();
      assert.deepEqual(await pending, { done: true, value: undefined }, 'the pending next() ends the iteration');
      assert.deepEqual(outputState(out), before, 'the output as it was, once close() resolved');
      assert.equal(out.card.openResources, 0, 'the host buffers closed');
      await flip.close();
      await assert.rejects(flip[Symbol.asyncIterator]().next(), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    {
      const flip = directFlip(display, out.card, options);
      const running = flip.run();
      while (flip.stats.frames === 0) await sleep(5);
      await flip.close();
      assert.equal((await running).frames, 1, 'run() resolves with the stats');
    }
    {
      await using flip = directFlip(display, out.card, options);
      assert.equal((await flip[Symbol.asyncIterator]().next()).done, false);
    }
    assert.deepEqual(outputState(out), before, 'await using put the output back');
    assert.equal(out.card.openResources, 0);
    const closed = directFlip(display, out.card, options);
    await closed.close();
    await assert.rejects(closed.run(), { code: 'ERR_VFIO_CLOSED' });
  });
});
