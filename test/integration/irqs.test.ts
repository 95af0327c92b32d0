// SET_IRQS with eventfds against mtty, the sample whose INTx signals an
// eventfd (and masks itself, as level-triggered INTx does).
import assert from 'node:assert/strict';
import { openSync, closeSync } from 'node:fs';
import { test } from 'node:test';
import { ClosedError, EventFd, KernelError, VfioDevice, openDevice } from 'vfio-display';
import { createMdev, requireRig } from '../lib/rig.js';

requireRig();
const INTX = 0;

test('INTx: eventfd trigger, automask, mask and unmask, teardown', async () => {
  using mdev = createMdev('mtty', 'mtty-2');
  using device = openDevice(mdev.uuid);
  assert.deepEqual(
    (({ eventfd, maskable, count }) => ({ eventfd, maskable, count }))(device.irq(INTX)),
    { eventfd: true, maskable: true, count: 1 },
  );
  using efd = new EventFd('mtty INTx');
  device.setIrqs({ index: INTX, action: 'trigger', data: [efd] });
  const fire = (): void => {
    device.setIrqs({ index: INTX, action: 'trigger', data: 'none' });
  };
  fire();
  assert.equal(await efd.wait({ timeoutMs: 5000, keepAlive: true }), 'readable');
  assert.equal(efd.read(), 1n);
  fire();
  assert.equal(efd.read(), 0n, 'masked after it fired');
  device.setIrqs({ index: INTX, action: 'unmask', data: 'none' });
  fire();
  assert.equal(efd.read(), 1n);
  device.setIrqs({ index: INTX, action: 'unmask', data: [true] });
  device.setIrqs({ index: INTX, action: 'mask', data: [true] });
  fire();
  assert.equal(efd.read(), 0n, 'masked explicitly');
  device.setIrqs({ index: INTX, action: 'unmask', data: 'none' });
  device.setIrqs({ index: INTX, action: 'trigger', data: 'none', count: 0 });
  assert.throws(fire, { code: 'EINVAL' }, 'nothing to trigger once torn down');
  assert.equal(efd.read(), 0n);
});

test('bad SET_IRQS requests are typed kernel errors', () => {
  using mdev = createMdev('mtty', 'mtty-2');
  using device = openDevice(mdev.uuid);
  const devNull = openSync('/dev/null', 'r');
  try {
    assert.throws(() => { device.setIrqs({ index: INTX, action: 'trigger', data: [devNull] }); }, (e: unknown) => e instanceof KernelError && e.code === 'EINVAL' && e.ioctl === 'VFIO_DEVICE_SET_IRQS');
  } finally {
    closeSync(devNull);
  }
  assert.throws(() => { device.setIrqs({ index: INTX, action: 'trigger', data: [devNull] }); }, { code: 'EBADF' });
  assert.throws(() => { device.setIrqs({ index: 1, action: 'trigger', data: 'none', count: 2 }); }, { code: 'EINVAL' });
  assert.throws(() => { device.setIrqs({ index: -1, action: 'trigger', data: 'none' }); }, { code: 'ERR_INVALID_ARG_VALUE' });
  using efd = new EventFd('mixed');
  // A boolean among eventfds would reach the kernel as eventfd 0.
  assert.throws(() => { device.setIrqs({ index: INTX, action: 'trigger', data: [efd, true] as never }); }, { name: 'InvalidArgumentError' });
});

test('a device fd borrowed by number: typed errors once closed', () => {
  using mdev = createMdev('mtty', 'mtty-2');
  const owner = openDevice(mdev.uuid);
  const borrowed = VfioDevice.fromFd(owner.fd, 'borrowed mtty');
  assert.equal(borrowed.info().numIrqs, 5);
  borrowed.close();
  assert.throws(() => borrowed.irq(0), ClosedError);
  assert.equal(owner.irq(INTX).count, 1, 'closing the borrower left the owner open');
  const fd = owner.fd;
  owner.close();
  assert.throws(() => VfioDevice.fromFd(fd).info(), { code: 'EBADF', syscall: 'ioctl' });
});
