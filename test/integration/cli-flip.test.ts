// vfio-display flip: the test is the guest of an mbochs vGPU and hands the
// CLI its open device (fd 3); the CLI direct-flips it onto vkms's Virtual
// connector as a user would, and is the card's DRM master meanwhile, so the
// test sees the scanout only through DRM debugfs: the plane's state, and
// the CRCs vkms computes of each composed frame, compared with the CRC of
// what the guest drew.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateEdid, timingOf, uapi } from 'vfio-display';
import { openMbochsGuest, openMdpyGuest } from '../lib/bochs-guest.js';
import { cliFails, CliProcess } from '../lib/cli.js';
import { findVkmsCard, requireRig, rigKernel, type DrmCard } from '../lib/rig.js';
import { CrtcCrcs, openVkms, planeDebugState, vkmsCrc } from '../lib/vkms.js';

const out = requireRig();
const patched = rigKernel === 'patched';

/** Whether vkms composes `xrgb` (the CRTC's whole frame) within a minute: a fresh CRC reading each time. */
async function scannedOut(card: DrmCard, xrgb: Uint8Array): Promise<boolean> {
  await using crcs = await CrtcCrcs.open(card);
  return await crcs.until(vkmsCrc(xrgb));
}

test('flip: one line saying why not (stock 6.12: mbochs dma-bufs have no vmap, vkms refuses them at the commit)', { skip: patched && 'stock kernel behaviour', timeout: 300_000 }, () => {
  using g = openMbochsGuest();
  const card = findVkmsCard();
  g.guest.draw(1);
  const line = cliFails(['flip', 'fd:3', '--drm', card.node, '--connector', 'Virtual-1'], 1, { fd: g.display.device.fd, stdout: /^flipping fd:3 onto \/dev\/dri\/card\d \(vkms\): [^\n]*\n$/ });
  assert.match(line, /^vfio-display: atomic commit \([A-Z_|]+\) on \/dev\/dri\/card\d refused with E[A-Z]+/);
});

for (const kernel of ['no', 'yes'] as const) {
  const who = kernel === 'yes' ? 'the kernel' : 'the CLI';
  test(`flip --kernel ${kernel}: ${who} commits each guest frame on vkms (debugfs state and CRCs) until SIGINT ends it with status 0`, { skip: !patched && 'needs the kernel-patches series', timeout: 300_000 }, async () => {
    using g = openMbochsGuest();
    const card = findVkmsCard();
    let expected = g.guest.draw(1);
    await using flip = new CliProcess(['flip', 'fd:3', '--drm', card.node, '--connector', 'Virtual-1', '--kernel', kernel], { fd: g.display.device.fd });
    const header = await flip.line();
    const cursor = kernel === 'yes' ? '' : ', cursor plane \\d+';
    const plane = Number(new RegExp(`^flipping fd:3 onto ${card.node} \\(vkms\\): connector Virtual-1, CRTC \\d+, plane (\\d+)${cursor}$`).exec(header)?.[1]);
    assert.ok(plane > 0, header);
    if (kernel === 'yes') assert.equal(await flip.line(), 'kernel flips: the CRTC and plane are leased to the vGPU, and the kernel commits each guest flip');
    assert.equal(await flip.line(), 'event mode: the kernel signals each change, nothing polls');
    assert.equal(await flip.line(), 'guest 800x600 XR24 LINEAR shown at 0,0 800x600 (modeset)');
    assert.ok(await scannedOut(card, expected), 'vkms scans out what the guest drew');
    const state = planeDebugState(card, plane);
    assert.ok(state.fb > 0);
    assert.deepEqual([state.format, state.size, state.crtcPos], ['XR24', '800x600', '800x600+0+0']);
    const shown = new Set([state.fb]);
    const back = g.guest.backBufferLine();
    for (const [seed, line] of [[2, back], [3, 0]] as const) {
      expected = g.guest.draw(seed, line);
      g.guest.flip(line);
      assert.ok(await scannedOut(card, expected), `guest frame ${seed} on the host after its flip`);
      shown.add(planeDebugState(card, plane).fb);
    }
    assert.equal(shown.size, 2, 'one host framebuffer per guest buffer');
    const { status, rest } = await flip.stop('SIGINT');
    writeFileSync(join(out, `cli-flip-kernel-${kernel}.txt`), `${flip.seen.join('\n')}\n`);
    assert.equal(status, 0, flip.stderr);
    assert.equal(flip.stderr, '');
    const stopped =
      kernel === 'yes'
        ? /^stopped: kernel flips: (\d+) frames, 0 dropped, 1 modesets, off, flip_seq \d+, host vblank \d+$/.exec(rest.at(-1) ?? '')
        : /^stopped: event: (\d+) frames, 0 dropped, 1 modesets, 2 imports, latency p50 [\d.]+ ms, p99 [\d.]+ ms$/.exec(rest.at(-1) ?? '');
    assert.ok(stopped && Number(stopped[1]) >= 3, rest.join('\n'));
    // Once the CLI is gone, vkms's fbdev console takes the plane back: it shows none of the guest's framebuffers.
    assert.ok(!shown.has(planeDebugState(card, plane).fb), 'the guest framebuffers are off the host plane');
  });
}

test('flip of an mdpy guest (region planes, every kernel): each change of its bytes copied to the host and scanned out by vkms (CRCs) until SIGINT', { timeout: 300_000 }, async () => {
  using g = openMdpyGuest();
  const card = findVkmsCard();
  let expected = g.draw(1);
  await using flip = new CliProcess(['flip', 'fd:3', '--drm', card.node, '--connector', 'Virtual-1'], { fd: g.display.device.fd });
  const header = await flip.line();
  const plane = Number(new RegExp(`^flipping fd:3 onto ${card.node} \\(vkms\\): connector Virtual-1, CRTC \\d+, plane (\\d+), cursor plane \\d+$`).exec(header)?.[1]);
  assert.ok(plane > 0, header);
  assert.equal(await flip.line(), 'timer mode: polling every 16 ms, the device has no display change IRQ (kernel-patches/ adds one to mbochs)');
  assert.equal(await flip.line(), 'guest 640x480 XR24 LINEAR shown at 0,0 640x480 (modeset)');
  assert.ok(await scannedOut(card, expected), 'vkms scans out what the guest drew');
  expected = g.draw(2);
  assert.ok(await scannedOut(card, expected), 'the guest\'s next frame');
  const { status, rest } = await flip.stop('SIGINT');
  assert.equal(status, 0, flip.stderr);
  // A poll during the test's write may copy a torn frame, then the whole one: a copy per frame shown.
  const stopped = /^stopped: timer: (\d+) frames, 0 dropped, 1 modesets, (\d+) copies, latency p50 [\d.]+ ms, p99 [\d.]+ ms$/.exec(rest.at(-1) ?? '');
  assert.ok(stopped && Number(stopped[1]) >= 2 && stopped[2] === stopped[1], rest.join('\n'));
});

// Several VMs, one host output each: the DRM master (here the test) lends an
// output (connector, CRTC, primary plane) to a helper per VM as a lease fd;
// the rig's vkms has one output, so one helper has it, the master revokes
// it, and another helper with another guest gets it.
for (const kernel of ['no', 'yes'] as const) {
  const who = kernel === 'yes' ? 'kernel flips through the lessee fd' : 'flips by the helper';
  test(`several VMs: the output lent to one helper (flip --drm fd:4, ${who}), revoked, lent to another helper with another guest`, { skip: !patched && 'needs the kernel-patches series', timeout: 300_000 }, async () => {
    const node = findVkmsCard();
    using out = openVkms();
    using first = openMbochsGuest();
    using second = openMbochsGuest();
    for (const [name, g, seed] of [['first', first, 21], ['second', second, 22]] as const) {
      const drawn = g.guest.draw(seed);
      using lease = out.card.createLease([out.virtual.id, out.crtcId, out.primary.id]);
      await using helper = new CliProcess(['flip', 'fd:3', '--drm', 'fd:4', '--kernel', kernel], { fd: [g.display.device.fd, lease.fd] });
      await helper.lineMatching(/^guest 800x600 XR24 LINEAR shown at 0,0 800x600/);
      assert.ok(await scannedOut(node, drawn), `the ${name} VM's guest on the output`);
      lease.revoke();
      // The revoke shows at the next commit: a guest flip.
      const back = g.guest.backBufferLine();
      g.guest.draw(seed + 10, back);
      g.guest.flip(back);
      if (kernel === 'no') {
        const { status } = await helper.exited;
        assert.equal(status, 1, helper.stderr);
        assert.match(helper.stderr, /^vfio-display: .*not leased to this file \(the lease may have been revoked\)/);
      } else {
        // The kernel sees the revoke at its next commit and takes its framebuffer off the plane.
        for (let i = 0; i < 200 && planeDebugState(node, out.primary.id).fb !== 0; i++) await sleep(50);
        assert.equal(planeDebugState(node, out.primary.id).fb, 0, 'the kernel took the guest off the plane');
        const { status, rest } = await helper.stop('SIGINT');
        assert.equal(status, 0, helper.stderr);
        assert.match(rest.at(-1) ?? '', /^stopped: kernel flips: \d+ frames, \d+ dropped, \d+ modesets, revoked/);
      }
    }
    assert.equal(out.card.lessees().length, 0, 'no lease left');
  });
}

test('flip --fit-edid: the guest\'s monitor becomes Virtual-1 at its preferred mode; a second run writes nothing', { skip: !patched && 'needs the kernel-patches series (stock vkms refuses mbochs dma-bufs)', timeout: 300_000 }, async () => {
  using g = openMbochsGuest('mbochs-medium');
  const card = findVkmsCard();
  g.guest.draw(1);
  const lines: string[] = [];
  for (const run of [1, 2]) {
    await using flip = new CliProcess(['flip', 'fd:3', '--drm', card.node, '--connector', 'Virtual-1', '--kernel', 'no', '--fit-edid'], { fd: g.display.device.fd });
    assert.match(await flip.line(), /^flipping fd:3 onto /);
    lines.push(await flip.line());
    const { status } = await flip.stop('SIGINT');
    assert.equal(status, 0, `run ${run}: ${flip.stderr}`);
  }
  assert.match(lines[0] ?? '', /^guest EDID: monitor "Virtual-1" serial \d+, 1024x768@60 preferred, no physical size \(about 96 dpi\)$/);
  assert.equal(lines[1], `${lines[0] ?? ''} (already so: not rewritten)`);
  const serial = Number(/serial (\d+)/.exec(lines[0] ?? '')?.[1]);
  using vkms = openVkms();
  const native = vkms.card.connector(vkms.virtual.id).modes.find((m) => (m.type & uapi.drm.DRM_MODE_TYPE_PREFERRED) !== 0);
  assert.ok(native);
  assert.deepEqual(g.guest.edid(), generateEdid({ modes: ['1024x768@60'], name: 'Virtual-1', serial, timing: timingOf(native) }), 'the guest reads that monitor, at its timing');
});
