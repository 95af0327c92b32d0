// Removal of an mdev while this process uses it. Linux 6.12's mdev drivers
// have no request callback: the remover's write to `remove` blocks until
// the last fd of the device is closed, and the only sign of it is the
// device's VFIO cdev node going away first, which the library watches
// (device/removal.ts). A display then ends its streams with a
// DeviceRemovedError and closes itself; directFlip takes the guest's
// buffers off the host card on the way out.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { BusyError, Display, DeviceRemovedError, directFlip, openDevice, openDisplay, openHandover, removeInstance, uapi } from 'vfio-display';
import { BochsGuest } from '../lib/bochs-guest.js';
import { createMdev, removeFromAnotherProcess, requireRig, rigKernel, type MdevHandle } from '../lib/rig.js';
import { openFds, openVkms } from '../lib/vkms.js';

requireRig();
const patched = rigKernel === 'patched';
const vias = ['iommufd', 'type1'] as const;

const isRemoved = (err: unknown): boolean => err instanceof DeviceRemovedError && err.code === 'ERR_VFIO_DEVICE_REMOVED';

/** Another device opens and answers after a removal: nothing global was left behind. */
function anotherDeviceWorks(): void {
  using mdev = createMdev('mbochs', 'mbochs-small');
  using display = openDisplay(mdev.uuid);
  using guest = new BochsGuest(display.device);
  guest.setMode(640, 480);
  assert.equal(display.query()?.width, 640);
}

/** The fd count of this process once the loop's inotify fd (libuv keeps one per loop, for fs.watch) exists. */
function baselineFds(): number {
  using mdev = createMdev('mbochs', 'mbochs-small');
  openDisplay(mdev.uuid).close();
  return openFds();
}

async function removeAndExpectLetGo(mdev: MdevHandle, display: Display, fds: number): Promise<void> {
  await removeFromAnotherProcess(mdev).done;
  assert.ok(display.device.closed, 'the display let go of the device');
  assert.ok(!existsSync(mdev.sysfsPath), 'the mdev is gone');
  assert.equal(openFds(), fds, 'every fd closed');
  assert.throws(() => display.query(), isRemoved, 'later calls say why');
}

describe('hot-unplug of an open mdev', { timeout: 300_000 }, () => {
  test('Linux 6.12: the removal waits for the last fd; the cdev node goes first, and the device still answers meanwhile', async () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    const device = openDevice(mdev.uuid);
    const node = mdev.cdev;
    assert.ok(node && existsSync(node));
    assert.throws(() => { removeInstance(mdev.uuid); }, BusyError, 'removing it from the process that holds it would block for ever');
    const remover = removeFromAnotherProcess(mdev);
    await once(device.removal, 'abort');
    assert.ok(isRemoved(device.removal.reason));
    assert.ok(!existsSync(node), 'the cdev node is gone');
    assert.equal(remover.finished(), false, 'the remover waits while the device is open');
    const info = uapi.encode(uapi.vfio.vfio_device_info, { argsz: uapi.vfio.vfio_device_info.size });
    device.ioctl(uapi.vfio.VFIO_DEVICE_GET_INFO, info, 'VFIO_DEVICE_GET_INFO', 'get info while being removed');
    device.close();
    await remover.done;
    assert.ok(!existsSync(mdev.sysfsPath));
  });

  for (const via of vias) {
    test(`changes() waiting (${via}): a DeviceRemovedError, the display lets go, every fd closed, the next device opens`, async () => {
      const fds = baselineFds();
      const mdev = createMdev('mbochs', 'mbochs-small');
      const display = openDisplay(mdev.uuid, { via });
      const changes = display.changes();
      assert.equal(changes.source, patched ? 'event' : 'timer');
      assert.ok(!(await changes.next()).done);
      const waiting = changes.next();
      const removed = assert.rejects(waiting, isRemoved);
      await removeAndExpectLetGo(mdev, display, fds);
      await removed;
      anotherDeviceWorks();
    });
  }

  test('a display nobody iterates lets go by itself', async () => {
    const fds = baselineFds();
    const mdev = createMdev('mdpy', 'mdpy-vga');
    const display = openDisplay(mdev.uuid);
    assert.equal(display.features.planes, 'region');
    const plane = display.query();
    assert.ok(plane?.mode === 'region');
    display.regionBytes(plane);
    await removeAndExpectLetGo(mdev, display, fds);
  });

  test(
    patched
      ? 'directFlip running: the flip ends with DeviceRemovedError, the host plane shows what it showed before, its framebuffers closed'
      : 'directFlip waiting for a first frame: it ends with DeviceRemovedError',
    async () => {
      using out = openVkms();
      const shownBefore = out.card.planeState(out.primary.id);
      assert.notEqual(shownBefore.fbId, 0, 'fbcon shows its console before the flip');
      const fds = baselineFds();
      const mdev = createMdev('mbochs', 'mbochs-small');
      const display = openDisplay(mdev.uuid);
      const guest = new BochsGuest(display.device);
      const flip = directFlip(display, out.card, { connectorId: out.writeback.id, keepOnScreen: true, kernel: false });
      const running = flip.run();
      if (patched) {
        guest.setMode(800, 600);
        const lines = [0, guest.backBufferLine()];
        let k = 0;
        // The guest flips on while the device goes.
        const flipper = setInterval(() => {
          if (!display.device.closed) guest.flip(lines[++k % 2] ?? 0);
        }, 15);
        while (flip.stats.frames < 10) await new Promise((r) => setTimeout(r, 20));
        assert.notEqual(out.card.planeState(out.primary.id).fbId, 0);
        const removed = assert.rejects(running, isRemoved);
        await removeAndExpectLetGo(mdev, display, fds);
        clearInterval(flipper);
        await removed;
        assert.deepEqual(out.card.planeState(out.primary.id), shownBefore, 'keepOnScreen does not keep a removed vGPU on screen: what was there before is back');
      } else {
        const removed = assert.rejects(running, isRemoved);
        await removeAndExpectLetGo(mdev, display, fds);
        await removed;
      }
      assert.equal(out.card.openResources, 0, 'imported framebuffers and the mode blob closed');
      assert.equal(guest.vram.length, 0, "the guest's BAR0 mapping went with the device (a mapping holds it open)");
      anotherDeviceWorks();
    },
  );
});

describe('hot-unplug of a vGPU handed over to QEMU', { timeout: 300_000 }, () => {
  test('the hand-over\'s device sees the removal: its display\'s stream ends with a DeviceRemovedError; the removal completes once QEMU and the hand-over let go', async () => {
    const mdev = createMdev('mbochs', 'mbochs-small');
    const handover = openHandover(mdev.uuid);
    // -S: QEMU binds the vGPU as it creates the device, then waits without running a guest.
    const idle = ['-machine', 'q35', '-accel', 'tcg', '-nodefaults', '-no-user-config', '-display', 'none', '-bios', 'qboot.rom', '-S'];
    const qemu = spawn('qemu-system-x86_64', [...idle, ...handover.qemuArgs()], { stdio: handover.stdio('ignore', 'ignore', 'inherit') });
    const exited = once(qemu, 'exit');
    let remover: ReturnType<typeof removeFromAnotherProcess> | undefined;
    try {
      const device = await handover.waitBound({ child: qemu });
      const display = new Display(device);
      const changes = display.changes();
      assert.ok(!(await changes.next()).done);
      const ended = assert.rejects(changes.next(), isRemoved);
      remover = removeFromAnotherProcess(mdev);
      const noticed = await Promise.race([once(device.removal, 'abort').then(() => true), sleep(10_000).then(() => false)]);
      assert.ok(noticed, 'the handed-over device learned of the removal within 10 s');
      assert.ok(isRemoved(device.removal.reason));
      await ended;
      assert.equal(remover.finished(), false, 'QEMU still holds the vGPU');
    } finally {
      qemu.kill('SIGKILL');
      await exited;
      handover.close();
      if (remover) await remover.done;
      else mdev.remove();
    }
    assert.ok(!existsSync(mdev.sysfsPath), 'the mdev is gone');
  });
});
