// Proves the rig: the kernel is ours, the sample mdev drivers and vkms are there.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { describe, test } from 'node:test';
import { createMdev, findVkmsCard, mdevTypes, requireRig, rigKernel } from '../lib/rig.js';

requireRig();

test('the guest runs our Linux 6.12 build', () => {
  assert.match(release(), /^6\.12\.\d+-vfio-display$/);
  assert.ok(rigKernel === 'stock' || rigKernel === 'patched', `VFIO_DISPLAY_KERNEL=${String(rigKernel)}`);
});

test('/dev/iommu and the type1 container node exist', () => {
  assert.ok(statSync('/dev/iommu').isCharacterDevice());
  assert.ok(statSync('/dev/vfio/vfio').isCharacterDevice());
});

for (const [parent, type] of [
  ['mbochs', 'mbochs-small'],
  ['mdpy', 'mdpy-vga'],
  ['mtty', 'mtty-2'],
] as const) {
  describe(`${parent} instance`, () => {
    test(`offers ${type}`, () => {
      assert.ok(mdevTypes(parent).includes(type), `types: ${mdevTypes(parent).join(', ')}`);
    });

    test('create -> group and cdev nodes appear; remove -> they go', () => {
      const mdev = createMdev(parent, type);
      let removed = false;
      try {
        assert.ok(existsSync(mdev.sysfsPath));
        assert.ok(statSync(mdev.groupNode).isCharacterDevice(), mdev.groupNode);
        assert.ok(mdev.cdev !== null, 'the kernel has VFIO_DEVICE_CDEV');
        assert.ok(statSync(mdev.cdev).isCharacterDevice(), mdev.cdev);
        mdev.remove();
        removed = true;
        assert.ok(!existsSync(mdev.sysfsPath));
        assert.ok(!existsSync(mdev.groupNode));
        assert.ok(!existsSync(mdev.cdev));
      } finally {
        if (!removed) mdev.remove();
      }
    });
  });
}

test('vkms exposes a card with a writeback connector', () => {
  const card = findVkmsCard();
  assert.ok(statSync(card.node).isCharacterDevice());
  assert.ok(card.connectors.some((c) => c.startsWith('Writeback-')), card.connectors.join(', '));
  assert.ok(card.connectors.some((c) => c.startsWith('Virtual-')), card.connectors.join(', '));
});
