// The KMS side on vkms (Linux 6.12): resources, planes and properties,
// dumb buffers scanned out and read back through the writeback connector,
// non-blocking flips and their events, TEST_ONLY refusals, the cursor plane,
// and ownership (fds, framebuffers, GEM handles) over many cycles.
import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtomicCommitError, ClosedError, InvalidArgumentError, KernelError, NotFoundError, PermissionError, openCard, planeSupports, uapi, type Card, type DumbBuffer, type PlaneUpdate } from 'vfio-display';
import { testPattern } from '../lib/bochs-guest.js';
import { findVkmsCard, requireRig } from '../lib/rig.js';
import { commitAndCapture, openFds, openVkms, rgbMismatches, solid, writebackMode, type VkmsOutput } from '../lib/vkms.js';

requireRig();
const { drm, drmFourcc: fourcc } = uapi;

/** drivers/gpu/drm/vkms/vkms_plane.c vkms_formats, in order. */
const VKMS_FORMATS = [fourcc.DRM_FORMAT_ARGB8888, fourcc.DRM_FORMAT_XRGB8888, fourcc.fourccCode('X', 'R', '4', '8'), fourcc.fourccCode('A', 'R', '4', '8'), fourcc.DRM_FORMAT_RGB565];

describe('vkms resources', () => {
  test('driver, caps, one CRTC, primary and cursor planes, both connectors', () => {
    using card = openCard({ driver: 'vkms' });
    assert.equal(card.path, findVkmsCard().node);
    assert.equal(card.driver.name, 'vkms');
    assert.deepEqual(
      { dumb: card.caps.dumbBuffer, prime: card.caps.primeImport, modifiers: card.caps.addFb2Modifiers, crtcInEvent: card.caps.crtcInVblankEvent, monotonic: card.caps.timestampMonotonic, writeback: card.caps.writebackConnectors },
      { dumb: true, prime: true, modifiers: true, crtcInEvent: true, monotonic: true, writeback: true },
    );
    // vkms_drv.c: mode_config cursor 512x512, sizes 10..8192.
    assert.deepEqual([card.caps.cursorWidth, card.caps.cursorHeight], [512, 512]);
    assert.deepEqual(card.limits, { minWidth: 10, maxWidth: 8192, minHeight: 10, maxHeight: 8192 });
    assert.equal(card.crtcs.length, 1);
    const crtc = card.crtcs[0];
    assert.ok(crtc);
    assert.deepEqual(card.planes.map((p) => p.type).sort(), ['cursor', 'primary']);
    for (const plane of card.planes) {
      assert.deepEqual(plane.crtcs, [crtc.id]);
      assert.deepEqual(plane.formats, VKMS_FORMATS);
      // No modifier list from vkms: the core's default, LINEAR for every format.
      assert.deepEqual([...plane.modifiers], VKMS_FORMATS.map((f) => [f, [fourcc.DRM_FORMAT_MOD_LINEAR]]));
      assert.ok(planeSupports(plane, fourcc.DRM_FORMAT_XRGB8888, fourcc.DRM_FORMAT_MOD_LINEAR));
      assert.ok(planeSupports(plane, fourcc.DRM_FORMAT_XRGB8888));
      assert.ok(!planeSupports(plane, fourcc.DRM_FORMAT_XRGB8888, fourcc.I915_FORMAT_MOD_X_TILED));
      assert.ok(!planeSupports(plane, fourcc.DRM_FORMAT_XBGR8888));
    }
    const connectors = card.connectors();
    assert.deepEqual(connectors.map((c) => c.name).sort(), findVkmsCard().connectors, 'names as sysfs has them');
    const virtual = connectors.find((c) => c.type === drm.DRM_MODE_CONNECTOR_VIRTUAL);
    const writeback = connectors.find((c) => c.writeback);
    assert.ok(virtual && writeback);
    assert.equal(virtual.connection, 'connected');
    assert.deepEqual([virtual.crtcs, writeback.crtcs], [[crtc.id], [crtc.id]]);
    // vkms_output.c: modes without EDID up to 8192, 1024x768 preferred.
    const preferred = virtual.modes.filter((m) => m.type & drm.DRM_MODE_TYPE_PREFERRED);
    assert.deepEqual(preferred.map((m) => `${m.hdisplay}x${m.vdisplay}`), ['1024x768']);
    for (const size of ['800x600', '1024x768', '1920x1080']) assert.ok(writeback.modes.some((m) => `${m.hdisplay}x${m.vdisplay}` === size), size);
    assert.ok(card.encoders.length >= 2);
  });

  test('a connector by id or by name; an unknown one is a NotFoundError naming those there are', () => {
    using card = openCard({ driver: 'vkms' });
    const virtual = card.connectors().find((c) => c.type === drm.DRM_MODE_CONNECTOR_VIRTUAL);
    assert.ok(virtual);
    for (const given of [virtual.id, String(virtual.id), virtual.name]) assert.equal(card.findConnector(given).id, virtual.id, String(given));
    assert.throws(
      () => card.findConnector('HDMI-A-9'),
      (e: unknown) => e instanceof NotFoundError && e.message.includes(`${virtual.name} (${virtual.id}, connected)`) && /Writeback-1/.test(e.message),
    );
    assert.throws(() => card.findConnector(0), NotFoundError);
  });

  test('properties by name, with kinds, enums and blobs', () => {
    using out = openVkms();
    const { card, primary, crtcId, writeback } = out;
    const props = card.properties;
    const planeProps = props.values(primary.id);
    for (const name of ['FB_ID', 'CRTC_ID', 'SRC_X', 'SRC_Y', 'SRC_W', 'SRC_H', 'CRTC_X', 'CRTC_Y', 'CRTC_W', 'CRTC_H', 'type', 'IN_FORMATS', 'rotation']) assert.ok(planeProps.has(name), name);
    const info = (object: number, name: string) => props.info(props.id(object, name));
    assert.deepEqual([info(primary.id, 'FB_ID').kind, info(primary.id, 'CRTC_X').kind, info(primary.id, 'SRC_X').kind], ['object', 'signed-range', 'range']);
    assert.deepEqual(info(primary.id, 'FB_ID').values, [BigInt(drm.DRM_MODE_OBJECT_FB)]);
    const type = info(primary.id, 'type');
    assert.deepEqual([type.kind, type.immutable, [...type.enums.keys()].sort()], ['enum', true, ['Cursor', 'Overlay', 'Primary']]);
    const rotation = info(primary.id, 'rotation');
    assert.equal(rotation.kind, 'bitmask');
    assert.ok(rotation.enums.has('rotate-0') && rotation.enums.has('reflect-y'));
    assert.deepEqual([info(primary.id, 'IN_FORMATS').kind, info(primary.id, 'IN_FORMATS').immutable], ['blob', true]);
    assert.equal(info(crtcId, 'MODE_ID').kind, 'blob');
    assert.ok(info(crtcId, 'ACTIVE').atomic);
    const wbValues = props.values(writeback.id);
    for (const name of ['CRTC_ID', 'WRITEBACK_FB_ID', 'WRITEBACK_OUT_FENCE_PTR', 'WRITEBACK_PIXEL_FORMATS']) assert.ok(wbValues.has(name), name);
    const formats = props.blob(Number(wbValues.get('WRITEBACK_PIXEL_FORMATS')));
    assert.deepEqual([...new Uint32Array(formats.buffer, formats.byteOffset, formats.length / 4)], VKMS_FORMATS, 'vkms_writeback.c vkms_wb_formats');
    assert.throws(() => card.atomic().set(primary.id, 'NOPE', 1), (err: unknown) => err instanceof InvalidArgumentError && /plane \d+ has no property NOPE \(it has .*FB_ID/.test(err.message));
    assert.throws(() => props.blob(0x7ffffff), (err: unknown) => err instanceof NotFoundError && err.ioctl === 'DRM_IOCTL_MODE_GETPROPBLOB');
  });
});


const full = (w: number, h: number) => ({ x: 0, y: 0, width: w, height: h });

/** Two 640x480 dumb buffers, `a` shown full-screen on the primary plane; `on(fb)` places one so. */
async function twoBuffers(out: VkmsOutput): Promise<{ a: DumbBuffer; b: DumbBuffer; on: (fb: { id: number }) => PlaneUpdate } & Disposable> {
  const { card, primary, crtcId } = out;
  const a = card.createDumb({ width: 640, height: 480 });
  const b = card.createDumb({ width: 640, height: 480 });
  const on = (fb: { id: number }): PlaneUpdate => ({ fbId: fb.id, crtcId, src: full(640, 480), crtc: full(640, 480) });
  const dispose = (): void => {
    a.close();
    b.close();
  };
  try {
    await commitAndCapture(out, writebackMode(out, 640, 480), card.atomic().setPlane(primary.id, on(a.framebuffer)));
  } catch (err) {
    dispose();
    throw err;
  }
  return { a, b, on, [Symbol.dispose]: dispose };
}

describe('scanout on vkms', { timeout: 120_000 }, () => {
  test('a dumb buffer on the primary plane after a modeset: the writeback capture is pixel-identical', async () => {
    using out = openVkms();
    const { card, primary, crtcId } = out;
    const mode = writebackMode(out, 800, 600);
    using src = card.createDumb({ width: 800, height: 600 });
    const pattern = testPattern(800, 600, 3);
    src.write(pattern);
    const req = card.atomic().setPlane(primary.id, { fbId: src.framebuffer.id, crtcId, src: full(800, 600), crtc: full(800, 600) }).disablePlane(out.cursor.id);
    const { completion, pixels } = await commitAndCapture(out, mode, req);
    assert.deepEqual(
      completion.events.map((e) => [e.kind, e.crtcId]),
      [['flip', crtcId]],
    );
    assert.equal(rgbMismatches(pixels, pattern), 0);
    const state = card.crtcState(crtcId);
    assert.equal(state.active, true);
    assert.deepEqual(state.mode, mode);
    assert.deepEqual(card.planeState(primary.id), { fbId: src.framebuffer.id, crtcId, src: full(800, 600), crtc: full(800, 600) });
  });

  test('a non-blocking page flip resolves with its completion event; the next capture shows the new buffer', async () => {
    using out = openVkms();
    const { card, primary, crtcId } = out;
    const mode = writebackMode(out, 640, 480);
    using a = card.createDumb({ width: 640, height: 480 });
    using b = card.createDumb({ width: 640, height: 480 });
    a.write(testPattern(640, 480, 1));
    const second = testPattern(640, 480, 2);
    b.write(second);
    const first = await commitAndCapture(out, mode, card.atomic().setPlane(primary.id, { fbId: a.framebuffer.id, crtcId, src: full(640, 480), crtc: full(640, 480) }));
    const flip = await card.attachFramebuffer(primary.id, { fbId: b.framebuffer.id, crtcId, src: full(640, 480), crtc: full(640, 480) });
    assert.deepEqual(
      flip.events.map((e) => e.crtcId),
      [crtcId],
    );
    assert.ok(flip.sequence > first.completion.sequence, `vblank sequence ${flip.sequence} after ${first.completion.sequence}`);
    assert.ok(flip.timestampUs > first.completion.timestampUs);
    assert.ok(flip.userData > first.completion.userData);
    assert.ok(BigInt(flip.timestampUs) <= process.hrtime.bigint() / 1000n, 'event times are CLOCK_MONOTONIC');
    assert.equal(card.pendingCommits, 0);
    assert.equal(card.planeState(primary.id).fbId, b.framebuffer.id);
    const again = await commitAndCapture(out, mode, card.atomic());
    assert.equal(rgbMismatches(again.pixels, second), 0);
  });

  test('an abandoned wait: the commit still lands, its late event is skipped, the next commit resolves', async () => {
    using out = openVkms();
    const { card, primary } = out;
    using bufs = await twoBuffers(out);
    const { a, b, on } = bufs;
    const ac = new AbortController();
    const abandoned = card.attachFramebuffer(primary.id, on(b.framebuffer), { signal: ac.signal });
    ac.abort();
    await assert.rejects(abandoned, { name: 'AbortError' });
    assert.equal(card.pendingCommits, 0);
    // A blocking commit waits in the kernel for the abandoned one to finish.
    card.commitBlocking(card.atomic().setPlane(primary.id, on(a.framebuffer)));
    const next = await card.attachFramebuffer(primary.id, on(b.framebuffer));
    assert.deepEqual(
      next.events.map((e) => e.userData),
      [next.userData],
    );
    assert.equal(card.planeState(primary.id).fbId, b.framebuffer.id);
    // A signal already aborted: refused before the ioctl, nothing changes on the screen.
    await assert.rejects(card.attachFramebuffer(primary.id, on(a.framebuffer), { signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.equal(card.planeState(primary.id).fbId, b.framebuffer.id, 'the aborted commit was not issued');
    assert.equal(card.pendingCommits, 0);
  });

  test('closing an out-fence with a wait pending cancels the wait first: it rejects with ClosedError, nothing polls a closed fd', async () => {
    using out = openVkms();
    const { card, primary, crtcId } = out;
    using bufs = await twoBuffers(out);
    const { b, on } = bufs;
    // The CRTC's out-fence of a page flip: issued before commit() returns, it signals at the next vblank.
    const request = card.atomic().setPlane(primary.id, on(b.framebuffer));
    const fence = request.outFence(crtcId, 'OUT_FENCE_PTR');
    const committed = card.commit(request);
    const waiting = fence.wait();
    fence.close();
    const outcome = await Promise.race([waiting.then(() => 'resolved', (err: unknown) => err), sleep(3000).then(() => 'still pending after 3 s')]);
    assert.ok(outcome instanceof ClosedError, String(outcome));
    await committed;
    assert.equal(card.planeState(primary.id).fbId, b.framebuffer.id);
  });

  test('TEST_ONLY of invalid configurations: a typed error naming what it set, and nothing changes', async () => {
    using out = openVkms();
    const { card, primary, crtcId } = out;
    const mode = writebackMode(out, 800, 600);
    using src = card.createDumb({ width: 800, height: 600 });
    await commitAndCapture(out, mode, card.atomic().setPlane(primary.id, { fbId: src.framebuffer.id, crtcId, src: full(800, 600), crtc: full(800, 600) }));
    const before = { plane: card.planeState(primary.id), crtc: card.crtcState(crtcId), virtual: card.properties.get(out.virtual.id, 'CRTC_ID') };

    // vkms 6.12 planes cannot scale (vkms_plane_atomic_check: DRM_PLANE_NO_SCALING; the helper answers ERANGE).
    const scaled = card.atomic().setPlane(primary.id, { fbId: src.framebuffer.id, crtcId, src: full(800, 600), crtc: full(400, 300) });
    assert.throws(
      () => { card.test(scaled); },
      (err: unknown) => {
        assert.ok(err instanceof AtomicCommitError, String(err));
        assert.equal(err.code, 'ERANGE');
        assert.equal(err.ioctl, 'DRM_IOCTL_MODE_ATOMIC');
        assert.deepEqual(err.flags, ['TEST_ONLY']);
        assert.match(err.message, /refused with ERANGE: a scaling factor or a value is outside what the hardware allows/);
        assert.deepEqual(
          err.objects.map((o) => [o.id, o.properties.CRTC_W]),
          [[primary.id, 400n]],
        );
        assert.match(err.message, new RegExp(`plane ${primary.id} FB_ID=${src.framebuffer.id} CRTC_ID=${crtcId} SRC_X=0 SRC_Y=0 SRC_W=800 SRC_H=600 CRTC_X=0 CRTC_Y=0 CRTC_W=400 CRTC_H=300`));
        return true;
      },
    );
    // Virtual and Writeback on one CRTC: the clone check refuses it.
    const cloned = card.atomic().setConnector(out.virtual.id, crtcId).setConnector(out.writeback.id, crtcId);
    assert.throws(() => { card.test(cloned, { allowModeset: true }); }, (err: unknown) => err instanceof AtomicCommitError && err.code === 'EINVAL' && err.flags.includes('ALLOW_MODESET'));
    // A mode change without ALLOW_MODESET.
    using other = card.createModeBlob(writebackMode(out, 1024, 768));
    assert.throws(() => { card.test(card.atomic().setCrtc(crtcId, { active: true, modeId: other.id })); }, AtomicCommitError);
    // An unknown framebuffer id.
    assert.throws(() => { card.test(card.atomic().set(primary.id, 'FB_ID', 0x7ffffff)); }, (err: unknown) => err instanceof AtomicCommitError && err.code === 'EINVAL');

    assert.deepEqual({ plane: card.planeState(primary.id), crtc: card.crtcState(crtcId), virtual: card.properties.get(out.virtual.id, 'CRTC_ID') }, before);
    // And a valid configuration passes TEST_ONLY.
    card.test(card.atomic().setPlane(primary.id, { fbId: src.framebuffer.id, crtcId, src: full(400, 300), crtc: { x: 200, y: 150, width: 400, height: 300 } }));
    assert.deepEqual(card.planeState(primary.id), before.plane);
  });

  test('the cursor plane, positioned (partly off screen too), composed over the primary', async () => {
    using out = openVkms();
    const { card, primary, cursor, crtcId } = out;
    const mode = writebackMode(out, 800, 600);
    const background = 0x204080;
    using bg = card.createDumb({ width: 800, height: 600 });
    bg.write(solid(800, 600, background));
    using cur = card.createDumb({ width: 64, height: 64, format: fourcc.DRM_FORMAT_ARGB8888 });
    // Opaque, so the composed pixels are the cursor's exactly.
    const image = new Uint32Array(64 * 64).map((_, i) => (0xff000000 | ((i % 64) * 4) | (Math.floor(i / 64) * 4) << 8 | 0xc00000) >>> 0);
    cur.write(new Uint8Array(image.buffer));
    for (const [x, y] of [[100, 50], [-16, 570]] as const) {
      const req = card
        .atomic()
        .setPlane(primary.id, { fbId: bg.framebuffer.id, crtcId, src: full(800, 600), crtc: full(800, 600) })
        .setPlane(cursor.id, { fbId: cur.framebuffer.id, crtcId, src: full(64, 64), crtc: { x, y, width: 64, height: 64 } });
      const { pixels } = await commitAndCapture(out, mode, req);
      assert.deepEqual(card.planeState(cursor.id).crtc, { x, y, width: 64, height: 64 }, 'signed CRTC_X/Y read back');
      const px = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length / 4);
      let wrong = 0;
      for (let sy = 0; sy < 600; sy++) {
        for (let sx = 0; sx < 800; sx++) {
          const cx = sx - x;
          const cy = sy - y;
          const want = cx >= 0 && cx < 64 && cy >= 0 && cy < 64 ? (image[cy * 64 + cx] ?? 0) : background;
          if (((px[sy * 800 + sx] ?? 0) ^ want) & 0xffffff) wrong++;
        }
      }
      assert.equal(wrong, 0, `cursor at ${x},${y}`);
    }
  });
});

describe('ownership', { timeout: 120_000 }, () => {
  test('closing the card closes what it owns; closed objects answer ClosedError', async () => {
    const fds = openFds();
    const out = openVkms();
    const { card } = out;
    const dumb = card.createDumb({ width: 64, height: 64 });
    dumb.write(solid(64, 64, 0x123456));
    const blob = card.createModeBlob(writebackMode(out, 800, 600));
    const later = card.atomic().setCrtc(out.crtcId, { active: true, modeId: blob.id });
    // Re-importing the card's own buffer gives back the dumb buffer's handle, which must stay open.
    const exported = exportDumb(card, dumb.handle);
    const fb = card.importDmabuf(exported, { width: 64, height: 64, format: fourcc.DRM_FORMAT_XRGB8888, stride: dumb.stride });
    closeSync(exported);
    assert.equal(card.openResources, 4, 'the dumb buffer, its framebuffer, the blob, the imported framebuffer');
    assert.ok(rgbMismatches(dumb.read(), solid(64, 64, 0x123456)) === 0);
    card.close();
    card.close();
    // The dumb buffer's handle survived the import: closing the card destroyed it without complaint.
    assert.ok(dumb.closed && dumb.framebuffer.closed && blob.closed && fb.closed && card.closed);
    assert.throws(() => dumb.bytes, ClosedError);
    assert.throws(() => card.createDumb({ width: 8, height: 8 }), ClosedError);
    await assert.rejects(card.commit(later, { allowModeset: true }), ClosedError);
    assert.equal(openFds(), fds);
  });

  test('a second opener of the card is not the DRM master: its commits are a PermissionError', () => {
    using first = openVkms();
    using second = openCard(first.card.path);
    const request = second.atomic().setPlane(first.primary.id, { fbId: 0, crtcId: 0, src: full(0, 0), crtc: full(0, 0) });
    assert.throws(
      () => {
        second.test(request);
      },
      (err: unknown) => err instanceof PermissionError && err.code === 'EACCES' && err.ioctl === 'DRM_IOCTL_MODE_ATOMIC' && /not the DRM master/.test(err.message),
    );
    first.card.test(first.card.atomic().disablePlane(first.cursor.id));
  });

  test('bad input: typed errors before the kernel sees it', () => {
    using out = openVkms();
    const { card } = out;
    assert.throws(() => card.createDumb({ width: 0, height: 8 }), InvalidArgumentError);
    assert.throws(() => card.createDumb({ width: 8, height: 8, format: fourcc.fourccCode('N', 'O', 'P', 'E') }), InvalidArgumentError);
    assert.throws(() => card.importDmabuf(-1, { width: 8, height: 8, format: fourcc.DRM_FORMAT_XRGB8888, stride: 32 }), InvalidArgumentError);
    assert.throws(() => card.importDmabuf(0, { width: 8, height: 8, format: fourcc.DRM_FORMAT_XRGB8888, stride: 16 }), /stride 16 is less than 8 pixels of XRGB8888/);
    assert.throws(() => card.createWriteback(out.virtual.id, { width: 8, height: 8 }), /not a writeback connector/);
    assert.throws(() => card.importDmabuf(0, { width: 8, height: 8, format: fourcc.DRM_FORMAT_XRGB8888, stride: 32 }), (err: unknown) => err instanceof KernelError && err.ioctl === 'DRM_IOCTL_PRIME_FD_TO_HANDLE');
    assert.equal(card.openResources, 0);
  });
});

/** PRIME_HANDLE_TO_FD of a dumb buffer: a dma-buf of this card, to exercise import without a vGPU. */
function exportDumb(card: Card, handle: number): number {
  const arg = uapi.encode(drm.drm_prime_handle, { handle, flags: 0o2000000 | 2 });
  card.ioctl(drm.DRM_IOCTL_PRIME_HANDLE_TO_FD, arg, 'DRM_IOCTL_PRIME_HANDLE_TO_FD', 'export a dumb buffer');
  return uapi.decode(drm.drm_prime_handle, uapi.viewOf(arg)).fd;
}
