// mdev sysfs through the library: parents, types, instances.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import { NotFoundError, createInstance, getInstance, listInstances, listParents, removeInstance } from 'vfio-display';
import { requireRig } from '../lib/rig.js';

requireRig();

test('parents and types with their attributes; instances with group, cdev and driver', () => {
  const parents = listParents();
  assert.deepEqual(parents.map((p) => p.name).sort(), ['mbochs', 'mdpy', 'mtty']);
  const small = () => listParents().find((p) => p.name === 'mbochs')?.types.find((t) => t.id === 'mbochs-small');
  assert.deepEqual(
    (({ name, description, deviceApi }) => ({ name, description, deviceApi }))(small() ?? ({} as never)),
    { name: 'mbochs-small', description: 'virtual display, 4 MB video memory', deviceApi: 'vfio-pci' },
  );
  const before = small()?.availableInstances ?? 0;
  const uuid = createInstance('mbochs', 'mbochs-small');
  try {
    assert.equal(small()?.availableInstances, before - 1);
    const instance = getInstance(uuid.toUpperCase());
    assert.equal(instance.uuid, uuid);
    assert.equal(instance.parent, 'mbochs');
    assert.equal(instance.type, 'mbochs-small');
    assert.equal(instance.driver, 'mbochs');
    assert.ok(instance.iommuGroup !== null && statSync(`/dev/vfio/${instance.iommuGroup}`).isCharacterDevice());
    assert.ok(instance.cdev !== null && statSync(instance.cdev).isCharacterDevice());
    assert.deepEqual(listInstances().map((i) => i.uuid), [uuid]);
  } finally {
    removeInstance(uuid);
  }
  assert.deepEqual(listInstances(), []);
  assert.throws(() => getInstance(uuid), NotFoundError);
  assert.throws(() => { removeInstance(uuid); }, NotFoundError);
  assert.throws(() => createInstance('nope', 'nope-1'), NotFoundError);
  assert.throws(() => createInstance('mbochs', 'mbochs-tiny'), NotFoundError);
});
