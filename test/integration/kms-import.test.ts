// A vGPU's dma-buf on a host KMS plane: an mbochs framebuffer (the test is
// its guest) imported into vkms and scanned out, compared through writeback;
// the stock 6.12 refusal of it; and many import/close cycles without growth
// in fds, framebuffers or GEM handles.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicCommitError, KernelError, uapi, type Card, type Framebuffer, type PlaneInfo } from 'vfio-display';
import { openMbochsGuest } from '../lib/bochs-guest.js';
import { requireRig, rigKernel } from '../lib/rig.js';
import { commitAndCapture, debugfsFramebuffers, openFds, openVkms, rgbMismatches, writebackMode } from '../lib/vkms.js';

requireRig();
const patched = rigKernel === 'patched';
const { drm } = uapi;

type DmabufPlane = Extract<PlaneInfo, { mode: 'dmabuf' }>;
function dmabufPlane(plane: PlaneInfo | null): DmabufPlane {
  assert.ok(plane?.mode === 'dmabuf', 'expected a dma-buf plane');
  return plane;
}


const layoutOf = (p: DmabufPlane) => ({ width: p.width, height: p.height, format: p.drmFormat, modifier: p.modifier, stride: p.stride });

function importPlane(card: Card, fd: number, p: DmabufPlane): Framebuffer {
  return card.importDmabuf(fd, layoutOf(p));
}

const full = (p: DmabufPlane) => ({ x: 0, y: 0, width: p.width, height: p.height });

/** The lowest GEM handle the card's file has free: a dumb buffer gets it (vkms: 10x10 at least). */
function nextGemHandle(card: Card): number {
  using probe = card.createDumb({ width: 16, height: 16 });
  return probe.handle;
}

describe('an mbochs dma-buf on vkms', { timeout: 180_000 }, () => {
  test('patched: imported and scanned out, the capture equals what the guest drew, across a guest page flip', { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap)' }, async () => {
    using g = openMbochsGuest();
    using out = openVkms();
    const { card, primary, crtcId } = out;
    const mode = writebackMode(out, 800, 600);

    const front = g.guest.draw(5);
    const p1 = dmabufPlane(g.display.query());
    using fb1 = importPlane(card, g.display.dmabuf(p1).fd, p1);
    assert.equal(fb1.modifier, 0n, 'LINEAR passed explicitly (DRM_CAP_ADDFB2_MODIFIERS)');
    const first = await commitAndCapture(out, mode, card.atomic().setPlane(primary.id, { fbId: fb1.id, crtcId, src: full(p1), crtc: full(p1) }));
    assert.equal(rgbMismatches(first.pixels, front), 0);

    const line = g.guest.backBufferLine();
    const back = g.guest.draw(6, line);
    g.guest.flip(line);
    const p2 = dmabufPlane(g.display.query());
    assert.notEqual(p2.dmabufId, p1.dmabufId);
    using fb2 = importPlane(card, g.display.dmabuf(p2).fd, p2);
    await card.attachFramebuffer(primary.id, { fbId: fb2.id, crtcId, src: full(p2), crtc: full(p2) });
    const second = await commitAndCapture(out, mode, card.atomic());
    assert.equal(rgbMismatches(second.pixels, back), 0);
  });

  test('stock 6.12: the import works, TEST_ONLY passes, the real commit is refused (mbochs has no dma-buf vmap for vkms)', { skip: patched && 'stock kernel quirk' }, () => {
    using g = openMbochsGuest();
    using out = openVkms();
    const { card, primary, crtcId } = out;
    g.guest.draw(5);
    const p = dmabufPlane(g.display.query());
    using fb = importPlane(card, g.display.dmabuf(p).fd, p);
    using blob = card.createModeBlob(writebackMode(out, 800, 600));
    const before = card.planeState(primary.id);
    const request = () =>
      card
        .atomic()
        .setCrtc(crtcId, { active: true, modeId: blob.id })
        .setPlane(primary.id, { fbId: fb.id, crtcId, src: full(p), crtc: full(p) });
    // The check does not map the buffer; vkms_prepare_fb does, at commit time.
    card.test(request(), { allowModeset: true });
    assert.throws(
      () => {
        card.commitBlocking(request(), { allowModeset: true });
      },
      (err: unknown) => {
        assert.ok(err instanceof AtomicCommitError, String(err));
        assert.equal(err.code, 'EINVAL');
        assert.deepEqual(err.flags, ['ALLOW_MODESET']);
        assert.ok(err.objects.some((o) => o.id === primary.id && o.properties.FB_ID === BigInt(fb.id)));
        return true;
      },
    );
    assert.deepEqual(card.planeState(primary.id), before, 'nothing changed');
  });

  test('many import/close cycles: no growth in fds, framebuffers or GEM handles', () => {
    using g = openMbochsGuest();
    using out = openVkms();
    const { card } = out;
    const p = dmabufPlane(g.display.query());
    const dmabuf = g.display.dmabuf(p);
    const fds = openFds();
    const fbs = debugfsFramebuffers(card);
    const handle = nextGemHandle(card);
    const ids = new Set<number>();
    for (let i = 0; i < 500; i++) {
      using fb = importPlane(card, dmabuf.fd, p);
      ids.add(fb.id);
      if (i === 0) assert.equal(debugfsFramebuffers(card), fbs + 1, 'debugfs lists the imported framebuffer');
    }
    assert.equal(openFds(), fds, 'open fds');
    assert.equal(debugfsFramebuffers(card), fbs, 'framebuffers in DRM debugfs');
    assert.equal(card.openResources, 0);
    assert.equal(nextGemHandle(card), handle, 'the lowest free GEM handle');
    // The import's handle is that lowest one, and it was closed: closing it again is refused.
    const prime = uapi.encode(drm.drm_prime_handle, { fd: dmabuf.fd });
    card.ioctl(drm.DRM_IOCTL_PRIME_FD_TO_HANDLE, prime, 'DRM_IOCTL_PRIME_FD_TO_HANDLE', 'import once more');
    const h = uapi.decode(drm.drm_prime_handle, uapi.viewOf(prime)).handle;
    assert.equal(h, handle);
    const close = () => card.ioctl(drm.DRM_IOCTL_GEM_CLOSE, uapi.encode(drm.drm_gem_close, { handle: h }), 'DRM_IOCTL_GEM_CLOSE', 'close it');
    close();
    assert.throws(close, (err: unknown) => err instanceof KernelError && err.code === 'EINVAL');
    assert.ok(ids.size < 500, `framebuffer ids are reused (${ids.size} distinct)`);
  });
});
