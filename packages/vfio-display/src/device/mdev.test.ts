// Names that become sysfs paths are validated before any file is touched.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
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

test('open options are validated', () => {
  assert.throws(() => openDevice(UUID, { via: 'vfio' as never }), /invalid open options: via/);
  assert.throws(() => openDevice(UUID, { extra: 1 } as never), /invalid open options/);
});
