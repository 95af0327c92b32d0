// Kernel flips (kernel-patches: VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP) in the
// rig: the test is the guest of an mbochs vGPU and the DRM master of vkms;
// it leases vkms's CRTC, primary plane and writeback connector to the vGPU,
// and from then on the kernel commits every guest flip on the plane. What
// vkms scans out is read back, as the lessor, through the writeback
// connector, and compared pixel for pixel with what the guest drew.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { uapi, type KernelFlip, type KernelFlipStatus, type Lease } from 'vfio-display';
import { openMbochsGuest, testPattern, type MbochsGuest } from '../lib/bochs-guest.js';
import { createMdev, findVkmsCard, kernelLogMark, kernelProblemsSince, removeFromAnotherProcess, requireRig, rigKernel } from '../lib/rig.js';
import { captureScanout, CrtcCrcs, openFds, openVkms, rgbMismatches, vkmsCrc, writebackMode, type VkmsOutput } from '../lib/vkms.js';

requireRig();
const patched = rigKernel === 'patched';
/** Guest flips of the wake-up test. */
const FLIPS = Number(process.env.VFIO_DISPLAY_WAKEUP_FLIPS ?? 20);

/** Context switches of every thread of process `pid` (each sleep after a wake-up is one). */
function contextSwitches(pid: number): { main: number; all: number } {
  let all = 0;
  let main = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const n = Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1]);
    all += n;
    if (tid === String(pid)) main = n;
  }
  return { main, all };
}

/** Polls `read` until it is true (a kernel commit lands within a frame or two), or fails. */
async function until(read: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!read()) {
    if (performance.now() > deadline) assert.fail(`${what}: not within ${ms / 1000} s`);
    await sleep(5);
  }
}

/**
 * An mbochs guest and vkms, the CRTC on in `width` x `height` with the
 * writeback connector, its CRTC, primary plane and connector leased, and
 * the vGPU's head assigned to the plane at (x, y).
 */
class Rig implements Disposable {
  readonly g: MbochsGuest;
  readonly out: VkmsOutput;
  readonly lease: Lease;
  readonly flip: KernelFlip;
  readonly width: number;
  readonly height: number;

  constructor(options: { width?: number; height?: number; x?: number; y?: number; scaleTo?: { width: number; height: number } } = {}) {
    const { width = 800, height = 600, x = 0, y = 0, scaleTo } = options;
    this.width = width;
    this.height = height;
    this.g = openMbochsGuest('mbochs-medium');
    try {
      this.out = openVkms();
      const { card, crtcId, primary, writeback } = this.out;
      using blob = card.createModeBlob(writebackMode(this.out, width, height));
      card.commitBlocking(card.atomic().setCrtc(crtcId, { active: true, modeId: blob.id }).setConnector(this.out.virtual.id, 0).setConnector(writeback.id, crtcId), { allowModeset: true });
      this.lease = card.createLease([writeback.id, crtcId, primary.id]);
      this.flip = this.g.display.kernelFlip(this.lease, { crtcId, planeId: primary.id, x, y, ...scaleTo });
    } catch (err) {
      this[Symbol.dispose]();
      throw err;
    }
  }

  status(): KernelFlipStatus {
    return this.flip.status();
  }

  /** Waits until the kernel shows the guest's latest surface (its flip_seq). */
  async shown(): Promise<KernelFlipStatus> {
    const seq = this.g.display.query()?.flipSeq;
    assert.ok(seq !== undefined, 'the guest shows a surface');
    await until(() => this.status().flipSeq === seq, `the kernel shows flip_seq ${seq}`);
    return this.status();
  }

  /** What the CRTC scans out now (a commit of the lessor). */
  capture(): Promise<Uint8Array> {
    return captureScanout(this.out, this.width, this.height);
  }

  [Symbol.dispose](): void {
    (this.flip as KernelFlip | undefined)?.close();
    (this.lease as Lease | undefined)?.close();
    (this.out as VkmsOutput | undefined)?.[Symbol.dispose]();
    this.g[Symbol.dispose]();
  }
}

/** `frame` (the guest's whole picture, w x h) where the CRTC (cw x ch) shows it at (x, y), black around. */
function onCrtc(frame: Uint8Array, w: number, h: number, cw: number, ch: number, x = 0, y = 0): Uint8Array {
  const out = new Uint8Array(cw * ch * 4);
  for (let row = 0; row < h && y + row < ch; row++) {
    const len = Math.min(w, cw - x) * 4;
    out.set(frame.subarray(row * w * 4, row * w * 4 + len), ((y + row) * cw + x) * 4);
  }
  return out;
}

describe('kernel flips: an mbochs guest flipped onto vkms by the kernel', { skip: !patched && 'needs the kernel-patches series', timeout: 600_000 }, () => {
  test('assigned once: distinct guest frames, one at a pan to a byte that is not on a page, each pixel-exact on the host', async () => {
    using rig = new Rig();
    const { guest, display } = rig.g;
    const mark = kernelLogMark();
    let expected = guest.draw(1);
    let status = await rig.shown();
    assert.equal(status.state, 'active');
    assert.equal(rgbMismatches(await rig.capture(), expected), 0, 'frame 1');
    assert.equal(display.queryDrmFb()?.fbId, rig.out.card.planeState(rig.out.primary.id).fbId, 'DRM_FB answers the framebuffer on the plane');
    const back = guest.backBufferLine();
    const commits = status.commits;
    for (let frame = 2; frame <= 7; frame++) {
      const line = frame % 2 === 0 ? back : 0;
      expected = guest.draw(frame, line);
      guest.flip(line);
      status = await rig.shown();
      assert.equal(rgbMismatches(await rig.capture(), expected), 0, `frame ${frame}`);
    }
    assert.equal(status.commits, commits + 6n, 'one commit per guest flip');
    // A pan to (3, 1) of an 800-pixel-wide screen: the picture starts 3212 bytes into VRAM, not on a page.
    const picture = testPattern(800, 600, 99);
    guest.vram.set(picture, 3212);
    guest.setReg(8, 3);
    guest.flip(1);
    const plane = display.query();
    assert.deepEqual([plane?.srcX, plane?.srcY], [3, 1], 'the visible origin of the pan');
    await rig.shown();
    assert.equal(rgbMismatches(await rig.capture(), picture), 0, 'the panned picture, as the guest shows it');
    assert.deepEqual(kernelProblemsSince(mark), []);
  });

  test('the guest changes mode, turns its display off and on: the kernel follows, with no modeset of its own', async () => {
    using rig = new Rig({ width: 1024, height: 768 });
    const { guest } = rig.g;
    let expected = guest.draw(1);
    await rig.shown();
    assert.equal(rgbMismatches(await rig.capture(), onCrtc(expected, 800, 600, 1024, 768)), 0, '800x600 at 0,0 of a 1024x768 CRTC');
    guest.setMode(1024, 768);
    expected = guest.draw(2);
    await rig.shown();
    assert.equal(rgbMismatches(await rig.capture(), expected), 0, 'the guest at 1024x768 fills the CRTC');
    assert.equal(rig.status().state, 'active');
    guest.disable();
    await until(() => rig.out.card.planeState(rig.out.primary.id).fbId === 0, 'the plane off');
    assert.equal(rgbMismatches(await rig.capture(), new Uint8Array(1024 * 768 * 4)), 0, 'black');
    guest.setMode(1024, 768);
    expected = guest.draw(3);
    await rig.shown();
    assert.equal(rgbMismatches(await rig.capture(), expected), 0, 'shown again');
  });

  test('a placement the host plane cannot take is refused and reported; placed again, the guest is shown', async () => {
    // vkms's planes do not scale.
    using rig = new Rig({ scaleTo: { width: 400, height: 300 } });
    await until(() => rig.status().state === 'refused', 'the refusal');
    const status = rig.status();
    assert.equal(status.error, 'ERANGE');
    assert.equal(status.commits, 0n);
    assert.notEqual(rig.out.card.planeState(rig.out.primary.id).fbId, rig.g.display.queryDrmFb()?.fbId, 'the plane as it was, not showing the guest');
    rig.flip.reassign(rig.lease.fd, { crtcId: rig.out.crtcId, planeId: rig.out.primary.id });
    const expected = rig.g.guest.draw(5);
    await rig.shown();
    assert.equal(rgbMismatches(await rig.capture(), expected), 0);
  });

  test('revoked mid-stream: no commit after, the kernel takes its framebuffers off the plane, the lessor has it back', async () => {
    using rig = new Rig();
    const { guest } = rig.g;
    const mark = kernelLogMark();
    guest.draw(1);
    await rig.shown();
    rig.lease.revoke();
    assert.equal(rig.status().state, 'revoked', 'reported at once');
    const { commits } = rig.status();
    guest.flip(guest.backBufferLine());
    await until(() => rig.out.card.planeState(rig.out.primary.id).fbId === 0, 'the plane off');
    await sleep(100);
    assert.equal(rig.status().commits, commits, 'no commit after the revocation');
    assert.throws(() => rig.g.display.queryDrmFb(), { code: 'EACCES' });
    // The lessor uses the plane as its own again.
    using dumb = rig.out.card.createDumb({ width: 800, height: 600 });
    rig.out.card.commitBlocking(rig.out.card.atomic().setPlane(rig.out.primary.id, { fbId: dumb.framebuffer.id, crtcId: rig.out.crtcId, src: { x: 0, y: 0, width: 800, height: 600 }, crtc: { x: 0, y: 0, width: 800, height: 600 } }));
    assert.deepEqual(kernelProblemsSince(mark), []);
  });

  test('the assignment ended (close), then the vfio device closed mid-stream: the plane off each time, nothing left', async () => {
    using rig = new Rig();
    const { guest, display } = rig.g;
    guest.draw(1);
    await rig.shown();
    rig.flip.close();
    assert.equal(rig.out.card.planeState(rig.out.primary.id).fbId, 0, 'SET -1 takes the guest off the plane');
    assert.throws(() => display.queryDrmFb(), { code: 'ERR_VFIO_NOT_ASSIGNED' });
    const again = display.kernelFlip(rig.lease, { crtcId: rig.out.crtcId, planeId: rig.out.primary.id });
    await until(() => again.status().commits > 0n, 'assigned again');
    assert.notEqual(rig.out.card.planeState(rig.out.primary.id).fbId, 0);
    display.device.close();
    assert.equal(rig.out.card.planeState(rig.out.primary.id).fbId, 0, 'closing the device takes the guest off the plane');
    assert.equal(again.closed, false);
    again.close();
  });

  test('hot-unplug mid-stream: the removal completes, the plane is off, every fd closed', async () => {
    const fds = openFds();
    const mdev = createMdev('mbochs', 'mbochs-small');
    const out = openVkms();
    try {
      const { openDisplay } = await import('vfio-display');
      const display = openDisplay(mdev.uuid);
      const { BochsGuest } = await import('../lib/bochs-guest.js');
      const guest = new BochsGuest(display.device);
      guest.setMode(800, 600);
      guest.draw(1);
      const { card, crtcId, primary, writeback } = out;
      using blob = card.createModeBlob(writebackMode(out, 800, 600));
      card.commitBlocking(card.atomic().setCrtc(crtcId, { active: true, modeId: blob.id }).setConnector(out.virtual.id, 0).setConnector(writeback.id, crtcId), { allowModeset: true });
      using lease = card.createLease([writeback.id, crtcId, primary.id]);
      const flip = display.kernelFlip(lease, { crtcId, planeId: primary.id });
      await until(() => flip.status().commits > 0n, 'the first commit');
      guest[Symbol.dispose]();
      const remover = removeFromAnotherProcess(mdev);
      await remover.done;
      assert.ok(display.device.closed, 'the display let go of the device');
      assert.equal(card.planeState(primary.id).fbId, 0, 'the plane is off');
      flip.close();
    } finally {
      out[Symbol.dispose]();
      mdev.remove();
    }
    assert.equal(openFds(), fds, 'every fd closed');
  });

  test('bad assignments get their errors: not a lease, not leased, a plane of another CRTC, a bad head or fd, flags', () => {
    using g = openMbochsGuest();
    using out = openVkms();
    const { card, crtcId, primary, cursor, writeback, virtual } = out;
    const { display } = g;
    const where = { crtcId, planeId: primary.id };
    assert.throws(() => display.kernelFlip(card.fd, where), { code: 'EINVAL' }, 'the master itself is no lease');
    using lease = card.createLease([virtual.id, crtcId, cursor.id]);
    assert.throws(() => display.kernelFlip(lease, where), { code: 'EACCES' }, 'the primary plane is not leased');
    assert.throws(() => display.kernelFlip(lease, { crtcId: crtcId + 1000, planeId: cursor.id }), { code: 'EACCES' }, 'no such CRTC');
    assert.throws(() => display.kernelFlip(lease, { ...where, head: 1 }), { code: 'EINVAL' }, 'mbochs has one head');
    assert.throws(() => display.kernelFlip(987_654, where), { code: 'EBADF' });
    assert.throws(() => display.kernelFlip(lease, { ...where, crtcId: 0 }), { code: 'ERR_INVALID_ARG_VALUE' }, 'checked before the kernel sees it');
    const data = uapi.encode(uapi.vfioExt.vfio_device_feature_gfx_direct_flip, { drm_fd: lease.fd, flags: 1, crtc_id: crtcId, plane_id: cursor.id });
    assert.throws(() => { display.device.feature(uapi.vfioExt.VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP, 'set', data, 'flags'); }, { code: 'EINVAL' });
    assert.throws(() => { display.device.feature(uapi.vfioExt.VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP, 'get', new Uint8Array(40), 'short'); }, { code: 'EINVAL' }, 'argsz too small');
    // An assignment to the cursor plane of the lease works (any plane of the CRTC).
    using flip = display.kernelFlip(lease, { crtcId, planeId: cursor.id });
    assert.notEqual(flip.status().state, 'off');
    assert.ok(!lease.objectIds.includes(writeback.id));
  });

  test(`the host process that assigned the plane sleeps in poll() on its DRM fd: no wake-up over ${FLIPS} guest flips, and vkms's CRCs show every frame`, async (t) => {
    using g = openMbochsGuest('mbochs-medium');
    const card = findVkmsCard();
    // V8's memory reducer wakes an idle Node process every 8 s or so after
    // its last GC, for a while, whatever the process waits for: off, so that
    // what is counted is what the flips cause (with it, 4 in 40 s of flips).
    const host = spawn(process.execPath, ['--no-memory-reducer', join(import.meta.dirname, '..', 'lib', 'kernel-flip-host.js')], { stdio: ['pipe', 'pipe', 'inherit', g.display.device.fd] });
    const { stdin, stdout } = host;
    assert.ok(stdin && stdout);
    const lines = createInterface({ input: stdout })[Symbol.asyncIterator]();
    const line = async (): Promise<Record<string, unknown>> => {
      const r = await lines.next();
      assert.ok(!r.done, 'the host process ended early');
      return JSON.parse(r.value) as Record<string, unknown>;
    };
    try {
      const ready = await line();
      assert.equal(ready.flipper, 'kernel');
      const pid = host.pid ?? 0;
      await using crcs = await CrtcCrcs.open(card);
      let expected = g.guest.draw(0);
      assert.ok(await crcs.until(vkmsCrc(expected)), 'the first frame');
      // What start-up left to do (the loop settling) ends once it is idle: wait for that.
      let before = contextSwitches(pid);
      for (let quiet = 0, waited = 0; quiet < 3 && waited < 60; waited++) {
        await sleep(1000);
        const now = contextSwitches(pid);
        quiet = now.all === before.all ? quiet + 1 : 0;
        before = now;
      }
      const back = g.guest.backBufferLine();
      for (let k = 1; k <= FLIPS; k++) {
        const y = k % 2 ? back : 0;
        expected = g.guest.draw(k, y);
        g.guest.flip(y);
        assert.ok(await crcs.until(vkmsCrc(expected), 10_000), `guest frame ${k} scanned out`);
      }
      const after = contextSwitches(pid);
      t.diagnostic(`host process: ${after.main - before.main} wake-ups of its main thread, ${after.all - before.all} of all its threads, over ${FLIPS} guest flips`);
      assert.equal(after.main - before.main, 0, 'the main thread never woke');
      assert.equal(after.all - before.all, 0, 'no thread of the host process woke');
      stdin.write('end\n');
      const end = await line();
      assert.equal(end.drmEvents, 0, 'poll() on the DRM fd never returned');
      assert.ok(Number(end.commits) >= FLIPS + 1, `the kernel made a commit per frame (${String(end.commits)})`);
    } finally {
      host.kill();
    }
  });
});
