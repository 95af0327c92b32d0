// Names that become sysfs paths are validated before any file is touched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { createInstance, getInstance, listTypes, removeInstance, validateUuid } from './mdev.js';
import { openDevice } from './open.js';

const UUID = '4b20d080-1b54-4048-85b3-a6a62d165c01';

test('UUIDs: canonical form accepted (lower-cased), anything else refused', () => {
  assert.equal(validateUuid(UUID.toUpperCase()), UUID);
  for (const bad of ['', '4b20d080', `${UUID}/..`, `../${UUID}`, `${UUID}\n`, `${UUID} `, '4b20d080-1b54-4048-85b3-a6a62d165c0g', '/sys/bus/mdev/devices/x']) {
    assert.throws(() => validateUuid(bad), InvalidArgumentError, JSON.stringify(bad));
  }
});

test('path traversal through parent, type or UUID is refused before sysfs is touched', () => {
  for (const call of [
    () => createInstance('../../../../tmp', 'x'),
    () => createInstance('mbochs', '../../remove'),
    () => createInstance('mbochs', 'mbochs-small/../../x'),
    () => createInstance('.', 'mbochs-small'),
    () => createInstance('mbochs', 'mbochs-small', '../../../etc'),
    () => listTypes('..'),
    () => listTypes('mbochs/../..'),
    () => getInstance('../../kernel'),
    () => { removeInstance(`${UUID}/../${UUID}`); },
    () => openDevice('/dev/vfio/devices/../../sda'),
    () => openDevice({ cdev: '/dev/vfio/devices/vfio0/../../null' }),
    () => openDevice({ group: 1, name: '../x' }),
    () => openDevice({ group: -1, name: 'x' }),
    () => openDevice('/sys/bus/mdev/devices/not-a-uuid'),
  ]) {
    assert.throws(call, InvalidArgumentError, call.toString());
  }
});

test('device arguments outside the mdev bus and the VFIO cdevs are refused; the documented forms reach the lookup', () => {
  for (const bad of [
    '../../x',
    `../../../sys/bus/mdev/devices/${UUID}`,
    `/sys/bus/mdev/devices/../devices/${UUID}`,
    `/sys/bus/mdev/devices/./${UUID}`,
    `/sys/devices/../../tmp/${UUID}`,
    `/sys/kernel/${UUID}`,
    `/sys/class/mdev_bus/${UUID}`,
    `/tmp/${UUID}`,
    `/proc/self/root/sys/bus/mdev/devices/${UUID}`,
    '/dev/null',
    '/dev/vfio/vfio',
    '/dev/vfio/0',
    '/dev/vfio/devices/vfio0/',
    '/dev/vfio/devices/vfio',
  ]) {
    assert.throws(() => openDevice(bad), InvalidArgumentError, bad);
  }
  for (const cdev of ['/dev/sda', '/dev/vfio/devices/vfio1x', 'vfio0', '/dev/iommu']) {
    assert.throws(() => openDevice({ cdev }), InvalidArgumentError, cdev);
  }
  // No such mdev on the host: a NotFoundError means the path was accepted and only the UUID looked up.
  for (const good of [`/sys/bus/mdev/devices/${UUID}`, `/sys/bus/mdev/devices/${UUID}/`, `/sys/devices/virtual/mtty/mtty/${UUID}`]) {
    assert.throws(() => openDevice(good), NotFoundError, good);
  }
});

test('open options are validated', () => {
  assert.throws(() => openDevice(UUID, { via: 'vfio' as never }), /invalid open options: via/);
  assert.throws(() => openDevice(UUID, { extra: 1 } as never), /invalid open options/);
});
