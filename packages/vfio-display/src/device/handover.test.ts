// The hand-over's pieces that need no device: QEMU arguments, the refusal
// on kernels without cdevs, and how spawn() places the fds in the child
// (two ordinary files stand in for /dev/iommu and the cdev; the rig's
// nested-guest test hands the real ones to a real QEMU).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError, UnsupportedError } from '../errors.js';
import { OwnedFd } from '../fd.js';
import { DeviceHandover, handoverCdev } from './handover.js';
import type { MdevInstance } from './mdev.js';

const UUID = '4b20d080-1b54-4048-85b3-a6a62d165c01';
const instance: MdevInstance = {
  uuid: UUID,
  parent: 'mbochs',
  type: 'mbochs-small',
  sysfsPath: `/sys/bus/mdev/devices/${UUID}`,
  driver: 'vfio_mdev',
  iommuGroup: 3,
  cdev: '/dev/vfio/devices/vfio0',
};

function standIn(iommu = '/dev/null', device = '/dev/null'): DeviceHandover {
  return new DeviceHandover(instance, '/dev/vfio/devices/vfio0', new OwnedFd(openSync(iommu, 'r'), iommu), new OwnedFd(openSync(device, 'r'), device));
}

test('kernels without VFIO cdevs: the error names the options the hand-over needs', () => {
  assert.equal(handoverCdev(instance, true), '/dev/vfio/devices/vfio0');
  for (const [cdev, iommu] of [[null, true], ['/dev/vfio/devices/vfio0', false]] as const) {
    assert.throws(
      () => handoverCdev({ ...instance, cdev }, iommu),
      (err: unknown) => err instanceof UnsupportedError && err.code === 'ERR_VFIO_NO_CDEV' && /CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV/.test(err.message),
    );
  }
});

test('QEMU arguments: iommufd object and vfio-pci device by fd, with sysfsdev and display=off', () => {
  using handover = standIn();
  assert.deepEqual(handover.qemuArgs(), [
    '-object',
    'iommufd,id=iommufd0,fd=3',
    '-device',
    `vfio-pci,iommufd=iommufd0,fd=4,sysfsdev=/sys/bus/mdev/devices/${UUID},display=off`,
  ]);
  assert.deepEqual(handover.qemuArgs({ fds: { iommufd: 7, device: 9 }, id: 'io1' }).slice(1, 4), ['iommufd,id=io1,fd=7', '-device', `vfio-pci,iommufd=io1,fd=9,sysfsdev=/sys/bus/mdev/devices/${UUID},display=off`]);
  for (const bad of [{ id: 'a,b' }, { id: '0x' }, { fds: { iommufd: 2, device: 4 } }, { fds: { iommufd: 5, device: 5 } }, { extra: 1 }]) {
    assert.throws(() => handover.qemuArgs(bad), InvalidArgumentError, JSON.stringify(bad));
  }
});

test('spawn() with stdio() puts the two fds on 3 and 4 in the child, not close-on-exec, and nowhere else', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'handover-'));
  t.after(() => {
    rmSync(dir, { recursive: true });
  });
  const [iommu, device] = [join(dir, 'iommu'), join(dir, 'device')];
  writeFileSync(iommu, '');
  writeFileSync(device, '');
  using handover = standIn(iommu, device);
  assert.ok(handover.iommufdFd > 4 && handover.deviceFd > 4);
  // Every fd still open after exec is listed: 3 and 4 being there means
  // spawn cleared close-on-exec on them; the originals (close-on-exec, at
  // other numbers) must not be.
  const script = 'cd /proc/self/fd && for f in *; do echo "$f $(readlink $f)"; done';
  const out = execFileSync('/bin/sh', ['-c', script], { stdio: handover.stdio('ignore', 'pipe', 'inherit'), encoding: 'utf8' });
  const seen = out.trim().split('\n').map((line) => line.split(' ')).filter(([, target]) => target === iommu || target === device);
  assert.deepEqual(seen, [['3', iommu], ['4', device]], out);
  handover.close();
  assert.equal(handover.closed, true);
  handover.close();
});
