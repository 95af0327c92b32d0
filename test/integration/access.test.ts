// Who may use a vGPU: a second process while one has it open (a BusyError,
// and the first carries on), and an unprivileged user (a PermissionError
// with the hint, and nothing left half open). The other process is a real
// child, as root or under a uid with no passwd entry (the rig's root file
// system is the host's, read-only: no user can be added).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { openDisplay } from 'vfio-display';
import { BochsGuest } from '../lib/bochs-guest.js';
import type { ProbeResult } from '../lib/open-probe.js';
import { createMdev, findVkmsCard, requireRig, rigKernel, unreachableByOthers } from '../lib/rig.js';

requireRig();
const patched = rigKernel === 'patched';
const NOBODY = 4242;

/** Runs the attempts in one child process (root, or uid NOBODY). */
function probe(attempts: string[], asUser = false): ProbeResult[] {
  const out = execFileSync(process.execPath, ['test/dist/lib/open-probe.js', ...attempts], {
    encoding: 'utf8',
    ...(asUser ? { uid: NOBODY, gid: NOBODY, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' } } : {}),
  });
  const results = JSON.parse(out.trim().split('\n').at(-1) ?? '') as ProbeResult[];
  assert.equal(results.length, attempts.length);
  return results;
}

function assertRefused(r: ProbeResult | undefined, error: string, code: string, what: string): asserts r is ProbeResult {
  assert.ok(r);
  assert.equal(r.ok, false, `${what}: refused`);
  assert.equal(r.error, error, `${what}: ${String(r.message)}`);
  assert.equal(r.code, code, what);
  assert.equal(r.fdsAfter, r.fdsBefore, `${what}: nothing left open`);
}

describe('contention: a second process opens a vGPU that is in use', { timeout: 180_000 }, () => {
  for (const held of ['iommufd', 'type1'] as const) {
    test(`held through ${held}: every way in is a BusyError, and the holder carries on`, async () => {
      using mdev = createMdev('mbochs', 'mbochs-small');
      using holder = openDisplay(mdev.uuid, { via: held });
      using guest = new BochsGuest(holder.device);
      guest.setMode(800, 600);
      const changes = holder.changes();
      assert.ok(!(await changes.next()).done);
      const vias = ['auto', 'iommufd', 'type1'] as const;
      const results = probe(vias.map((via) => `display ${mdev.uuid} ${via}`));
      vias.forEach((via, i) => {
        const r = results[i];
        assertRefused(r, 'BusyError', 'EBUSY', `second process via ${via}`);
        // The kernel's own answer stays on the error (the cdev bind says EINVAL).
        assert.equal(typeof r.errno, 'number', `second process via ${via}: errno (${String(r.message)})`);
        assert.ok(r.syscall === 'ioctl' || r.syscall === 'open', `second process via ${via}: syscall ${String(r.syscall)}`);
      });
      // The holder's device, IRQs and stream are as they were.
      guest.flip(guest.backBufferLine());
      const next = await changes.next();
      assert.ok(!next.done);
      assert.equal(next.value.source, patched ? 'event' : 'timer');
      assert.equal(next.value.changed.primary, true);
      assert.equal(holder.query()?.height, 600);
      await changes.return(undefined);
    });
  }
});

describe('permissions: an unprivileged user', { timeout: 180_000, skip: unreachableByOthers() ?? false }, () => {
  test(`uid ${NOBODY} (no passwd entry): PermissionError with the hint, nothing half open`, () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    const card = findVkmsCard().node;
    const vias = ['auto', 'iommufd', 'type1'] as const;
    const [create, openCard, ...opens] = probe(['create mbochs mbochs-small', `card ${card}`, ...vias.map((via) => `display ${mdev.uuid} ${via}`)], true);
    vias.forEach((via, i) => {
      const r = opens[i];
      assertRefused(r, 'PermissionError', 'EACCES', `open via ${via}`);
      assert.match(r.message ?? '', /udev rule/, 'the message says how to grant access');
    });
    assertRefused(create, 'PermissionError', 'EACCES', 'create an mdev');
    assertRefused(openCard, 'PermissionError', 'EACCES', 'open the KMS card');
    // As root the same attempts work: the refusals were about the user.
    assert.deepEqual(
      probe([`card ${card}`, `display ${mdev.uuid} auto`]).map((r) => r.ok),
      [true, true],
    );
  });
});
