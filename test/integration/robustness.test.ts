// The new ioctls of the patched kernel hammered from userspace: bad sizes,
// flags, indexes, counts and fds get the right error codes; storms from two
// processes sharing the device fd, and removal of the device while an
// eventfd is registered, leave a clean kernel log (the rig fails the run
// on any WARNING, BUG or Oops) and a device that still answers correctly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { EventFd, openDisplay, uapi, type VfioDevice } from 'vfio-display';
import { BochsGuest } from '../lib/bochs-guest.js';
import { createMdev, removeFromAnotherProcess, requireRig, rigKernel } from '../lib/rig.js';

requireRig();
const { vfio, vfioExt, encode } = uapi;
const DISPLAY_IRQ = 5;

function raw(device: VfioDevice, request: number, bytes: Uint8Array, name: string): number {
  return device.ioctl(request, bytes, name, `raw ${name}`);
}

function irqSet(fields: { argsz?: number; flags: number; index?: number; start?: number; count: number }, data: number[] = []): Uint8Array {
  const size = 20 + data.length * 4;
  const bytes = encode(vfio.vfio_irq_set, { argsz: fields.argsz ?? size, flags: fields.flags, index: fields.index ?? DISPLAY_IRQ, start: fields.start ?? 0, count: fields.count }, size);
  data.forEach((fd, i) => {
    new DataView(bytes.buffer).setInt32(20 + 4 * i, fd, true);
  });
  return bytes;
}

describe('new ioctls with bad arguments', { skip: rigKernel !== 'patched' && 'needs the kernel-patches series', timeout: 300_000 }, () => {
  test('GET_INFO: the display IRQ in the capabilities, the needed argsz for old-size callers; GET_IRQ_INFO keeps its 16 bytes', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    const d = display.device;
    const info = (argsz: number, size = 24): Uint8Array => {
      const bytes = encode(vfio.vfio_device_info, { argsz }, size);
      raw(d, vfio.VFIO_DEVICE_GET_INFO, bytes, 'VFIO_DEVICE_GET_INFO');
      return bytes;
    };
    const old = uapi.decode(vfio.vfio_device_info, new DataView(info(16).buffer));
    assert.equal(old.argsz, 24 + 24 + 16, 'struct, IRQ type cap, display IRQ cap');
    assert.ok(old.flags & vfio.VFIO_DEVICE_FLAGS_CAPS);
    assert.equal(old.num_irqs, DISPLAY_IRQ + 1);
    assert.equal(old.cap_offset, 0, 'an argsz of 16 gets 16 bytes back');
    assert.equal(uapi.decode(vfio.vfio_device_info, new DataView(info(24).buffer)).cap_offset, 0, 'no room for the capabilities: none');
    assert.equal(uapi.decode(vfio.vfio_device_info, new DataView(info(64, 64).buffer)).cap_offset, 24);
    assert.throws(() => info(15), { code: 'EINVAL' });
    assert.deepEqual(d.info().capabilities, [
      { kind: 'irq-type', version: 1, index: DISPLAY_IRQ, type: vfioExt.VFIO_IRQ_TYPE_GFX, subtype: vfioExt.VFIO_IRQ_SUBTYPE_GFX_DISPLAY },
      { kind: 'display-irq', version: 1, index: DISPLAY_IRQ, events: vfioExt.VFIO_IRQ_DISPLAY_PRIMARY | vfioExt.VFIO_IRQ_DISPLAY_MODE },
    ]);
    const irq = encode(vfio.vfio_irq_info, { argsz: 16, index: DISPLAY_IRQ });
    raw(d, vfio.VFIO_DEVICE_GET_IRQ_INFO, irq, 'VFIO_DEVICE_GET_IRQ_INFO');
    assert.deepEqual(uapi.decode(vfio.vfio_irq_info, new DataView(irq.buffer)), { argsz: 16, flags: vfio.VFIO_IRQ_INFO_EVENTFD | vfio.VFIO_IRQ_INFO_MASKABLE, index: DISPLAY_IRQ, count: 3 });
    for (const [argsz, index] of [[15, DISPLAY_IRQ], [0, DISPLAY_IRQ], [16, DISPLAY_IRQ + 1], [16, 0xffffffff]] as const) {
      assert.throws(() => raw(d, vfio.VFIO_DEVICE_GET_IRQ_INFO, encode(vfio.vfio_irq_info, { argsz, index }), 'VFIO_DEVICE_GET_IRQ_INFO'), { code: 'EINVAL' }, `argsz ${argsz} index ${index}`);
    }
  });

  test('QUERY_GFX_PLANE: EXT_INFO needs argsz 88; unknown flags and heads EINVAL', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    const d = display.device;
    const ask = (argsz: number, flags: number, head = 0): number =>
      raw(d, vfio.VFIO_DEVICE_QUERY_GFX_PLANE, encode(vfioExt.vfio_device_gfx_plane_info, { argsz, flags, drm_plane_type: 1, head }), 'VFIO_DEVICE_QUERY_GFX_PLANE');
    const EXT = vfioExt.VFIO_GFX_PLANE_FLAG_EXT_INFO;
    assert.equal(ask(88, vfio.VFIO_GFX_PLANE_TYPE_DMABUF | EXT), 0);
    assert.equal(ask(64, vfio.VFIO_GFX_PLANE_TYPE_DMABUF), 0, 'old userspace');
    assert.throws(() => ask(64, vfio.VFIO_GFX_PLANE_TYPE_DMABUF | EXT), { code: 'EINVAL' });
    assert.throws(() => ask(87, vfio.VFIO_GFX_PLANE_TYPE_DMABUF | EXT), { code: 'EINVAL' });
    assert.throws(() => ask(88, vfio.VFIO_GFX_PLANE_TYPE_DMABUF | (1 << 9)), { code: 'EINVAL' });
    assert.throws(() => ask(88, vfio.VFIO_GFX_PLANE_TYPE_REGION | EXT), { code: 'EINVAL' });
    assert.throws(() => ask(88, vfio.VFIO_GFX_PLANE_TYPE_DMABUF | EXT, 0xffffffff), { code: 'EINVAL' });
  });

  test('SET_IRQS: bad indexes, counts, starts, fds and data types get their errors', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    const d = display.device;
    const set = (bytes: Uint8Array): number => raw(d, vfio.VFIO_DEVICE_SET_IRQS, bytes, 'VFIO_DEVICE_SET_IRQS');
    const TRIGGER_FD = vfio.VFIO_IRQ_SET_ACTION_TRIGGER | vfio.VFIO_IRQ_SET_DATA_EVENTFD;
    const devNull = openSync('/dev/null', 'r');
    using efd = new EventFd();
    try {
      assert.throws(() => set(irqSet({ flags: TRIGGER_FD, count: 4 }, [efd.fd, efd.fd, efd.fd, efd.fd])), { code: 'EINVAL' }, 'count beyond the index');
      assert.throws(() => set(irqSet({ flags: TRIGGER_FD, start: 3, count: 1 }, [efd.fd])), { code: 'EINVAL' }, 'start beyond the index');
      assert.throws(() => set(irqSet({ flags: TRIGGER_FD, index: 0, count: 1 }, [efd.fd])), { code: 'EINVAL' }, 'a PCI index mbochs lacks');
      assert.throws(() => set(irqSet({ flags: TRIGGER_FD, index: 6, count: 1 }, [efd.fd])), { code: 'EINVAL' }, 'no such index');
      assert.throws(() => set(irqSet({ flags: TRIGGER_FD, count: 1 }, [devNull])), { code: 'EINVAL' }, 'not an eventfd');
      assert.throws(() => set(irqSet({ flags: TRIGGER_FD, count: 1 }, [987654])), { code: 'EBADF' }, 'closed fd');
      assert.throws(() => set(irqSet({ flags: vfio.VFIO_IRQ_SET_ACTION_MASK | vfio.VFIO_IRQ_SET_DATA_EVENTFD, count: 1 }, [efd.fd])), { code: 'EINVAL' }, 'mask by eventfd');
      assert.throws(() => set(irqSet({ flags: TRIGGER_FD | vfio.VFIO_IRQ_SET_DATA_BOOL, count: 1 }, [efd.fd])), { code: 'EINVAL' }, 'two data types');
      assert.throws(() => set(irqSet({ argsz: 20, flags: TRIGGER_FD, count: 1 }, [efd.fd])), { code: 'EINVAL' }, 'argsz without room for the data');
      assert.equal(set(irqSet({ flags: vfio.VFIO_IRQ_SET_ACTION_MASK | vfio.VFIO_IRQ_SET_DATA_NONE, count: 0 })), 0, 'mask of no IRQs: a no-op, as vfio core validates it');
      // A partly bad list changes nothing: the good eventfd is not installed.
      assert.throws(() => set(irqSet({ flags: TRIGGER_FD, count: 2 }, [efd.fd, 987654])), { code: 'EBADF' });
      set(irqSet({ flags: vfio.VFIO_IRQ_SET_ACTION_TRIGGER | vfio.VFIO_IRQ_SET_DATA_NONE, count: 1 }));
      assert.equal(efd.read(), 0n);
      // Exactly one action: none, or two at once, is refused, and signals nothing.
      set(irqSet({ flags: TRIGGER_FD, count: 1 }, [efd.fd]));
      assert.throws(() => set(irqSet({ flags: vfio.VFIO_IRQ_SET_DATA_NONE, count: 1 })), { code: 'EINVAL' }, 'no action');
      assert.throws(() => set(irqSet({ flags: vfio.VFIO_IRQ_SET_ACTION_MASK | vfio.VFIO_IRQ_SET_ACTION_UNMASK | vfio.VFIO_IRQ_SET_DATA_NONE, count: 1 })), { code: 'EINVAL' }, 'mask and unmask');
      assert.equal(efd.read(), 0n, 'a refused SET_IRQS does not trigger the eventfd');
      set(irqSet({ flags: vfio.VFIO_IRQ_SET_ACTION_TRIGGER | vfio.VFIO_IRQ_SET_DATA_NONE, count: 1 }));
      assert.equal(efd.read(), 1n, 'a loopback trigger does');
    } finally {
      closeSync(devNull);
    }
  });

  test('storms from two processes sharing the device fd, then removal with an eventfd registered', async () => {
    const mdev = createMdev('mbochs', 'mbochs-small');
    const display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    guest.setMode(800, 600);
    // The child gets the same open device as fd 3 and storms it too.
    const child = spawn(process.execPath, ['test/dist/lib/irq-storm.js', '3', '3000'], { stdio: ['ignore', 'inherit', 'inherit', display.device.fd] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    using efd = new EventFd();
    const back = guest.backBufferLine();
    for (let i = 0; i < 3000; i++) {
      const r = i % 7;
      if (r === 0) display.device.setIrqs({ index: DISPLAY_IRQ, action: 'trigger', data: [efd, -1, efd] });
      else if (r === 1) display.device.setIrqs({ index: DISPLAY_IRQ, action: 'mask', data: 'none', count: 3 });
      else if (r === 2) display.device.setIrqs({ index: DISPLAY_IRQ, action: 'unmask', data: [true, false, true] });
      else if (r === 3) display.device.setIrqs({ index: DISPLAY_IRQ, action: 'trigger', data: 'none', count: 0 });
      else guest.flip(i % 2 ? back : 0);
      efd.read();
    }
    assert.equal(await exited, 0, 'the other process stormed without an error it did not expect');
    // Still correct afterwards.
    guest.setMode(1024, 768);
    const plane = display.query();
    assert.ok(plane?.mode === 'dmabuf' && plane.width === 1024 && plane.height === 768);
    display.device.setIrqs({ index: DISPLAY_IRQ, action: 'trigger', data: [efd, efd, efd] });
    display.device.setIrqs({ index: DISPLAY_IRQ, action: 'unmask', data: 'none', count: 3 });
    guest[Symbol.dispose]();
    // Removal waits for the last user: the display lets go when asked.
    await removeFromAnotherProcess(mdev).done;
    assert.ok(display.device.closed);
    assert.ok(!existsSync(mdev.sysfsPath));
    assert.throws(() => { writeFileSync(`${mdev.sysfsPath}/remove`, '1'); });
  });
});
