// DRM leases from the lessee's side: a card opened from a lease fd sees
// only what was lent, is refused the rest with a typed error, runs
// directFlip of an mbochs guest (pixel-checked by the lessor through
// vkms's writeback connector) and ends with a typed error, its stats kept,
// when the lessor revokes the lease.
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { AtomicCommitError, directFlip, InvalidArgumentError, openCard, VfioDisplayError } from 'vfio-display';
import { openMbochsGuest } from '../lib/bochs-guest.js';
import { requireRig, rigKernel } from '../lib/rig.js';
import { captureScanout, openFds, openVkms, rgbMismatches } from '../lib/vkms.js';

requireRig();
const patched = rigKernel === 'patched';

describe('a card opened from a DRM lease', { timeout: 300_000 }, () => {
  test('sees only the leased connector, CRTC and plane; the rest is refused, typed; the caller keeps its fd', () => {
    using out = openVkms();
    const { card, crtcId, primary, writeback } = out;
    const fds = openFds();
    using lease = card.createLease([writeback.id, crtcId, primary.id]);
    {
      using lessee = openCard({ fd: lease.fd });
      assert.deepEqual(lessee.crtcs.map((c) => c.id), [crtcId]);
      assert.deepEqual(lessee.connectorIds, [writeback.id]);
      assert.deepEqual(lessee.planes.map((p) => p.id), [primary.id]);
      assert.notEqual(lessee.fd, lease.fd, 'a duplicate of its own');
      assert.deepEqual([lessee.lessee, card.lessee], [true, false], 'a lessee knows it is one');
      const cursor = card.planes.find((p) => p.type === 'cursor');
      assert.ok(cursor);
      assert.throws(() => lessee.properties.values(cursor.id), (err: unknown) => err instanceof VfioDisplayError && err.code === 'ENOENT', 'an object not in the lease');
    }
    assert.ok(!lease.closed, "closing the lessee's card leaves the lease fd open");
    assert.equal(openFds(), fds + 1, 'only the lease fd itself');
    assert.throws(() => openCard({ fd: -1 }), InvalidArgumentError);
    const notDrm = openSync('/dev/null', 'r');
    try {
      assert.throws(() => openCard({ fd: notDrm }), (err: unknown) => err instanceof VfioDisplayError && err.code === 'ENOTTY');
    } finally {
      closeSync(notDrm);
    }
    assert.equal(openFds(), fds + 1, 'nothing left open by the refusals');
  });

  test('patched: directFlip through the lessee shows the guest pixel for pixel; a revoke ends it with a typed error, stats kept', { skip: !patched && 'needs kernel-patches 0004 (mbochs dma-buf vmap)' }, async () => {
    using g = openMbochsGuest();
    using out = openVkms();
    const { card, crtcId, primary, virtual, writeback } = out;
    // Virtual-1 (fbcon's) off the CRTC first: the lessee cannot see it to take it off, and vkms refuses the clone.
    card.commitBlocking(card.atomic().setCrtc(crtcId, { active: false, modeId: 0 }).setConnector(virtual.id, 0), { allowModeset: true });
    using lease = card.createLease([writeback.id, crtcId, primary.id]);
    using lessee = openCard({ fd: lease.fd });
    const drawn = g.guest.draw(5);
    const flip = directFlip(g.display, lessee, { connectorId: writeback.id, kernel: false, changes: 'event' });
    const running = flip.run();
    for (let i = 0; i < 1000 && flip.stats.frames === 0; i++) await sleep(5);
    assert.equal(flip.stats.frames, 1, 'the guest is shown');
    assert.equal(rgbMismatches(await captureScanout(out, 800, 600), drawn), 0, 'what the lessor captures is what the guest drew');
    lease.revoke();
    g.guest.draw(6, g.guest.backBufferLine());
    g.guest.flip(g.guest.backBufferLine());
    await assert.rejects(running, (err: unknown) => {
      assert.ok(err instanceof AtomicCommitError, String(err));
      assert.equal(err.code, 'ENOENT');
      assert.match(err.message, /not leased to this file \(the lease may have been revoked\)/);
      return true;
    });
    assert.equal(flip.stats.frames, 1, 'the stats of the session are kept');
  });
});
