// The <dev> argument: what openDevice() takes (UUID, sysfs path, cdev path),
// or fd:N, a device fd the parent process passed down. A VFIO device has
// one opener at a time, so a tool beside QEMU (or a test acting as the
// guest) can only share the fd it already has: the child gets it as fd N.
import { fstatSync } from 'node:fs';
import { VfioDevice } from '../device/device.js';
import { openDevice } from '../device/open.js';
import { Display, openDisplay } from '../display/display.js';
import { InvalidArgumentError } from '../errors.js';
import type { Z } from '../validate.js';

export type DevArg = string | { readonly fd: number };

const FD = /^fd:(\d{1,9})$/;

export const devSchema = (z: Z) =>
  z
    .string()
    .min(1, 'expected a device')
    .transform((s): DevArg => {
      const m = FD.exec(s);
      return m ? { fd: Number(m[1]) } : s;
    });

export function devName(dev: DevArg): string {
  return typeof dev === 'string' ? dev : `fd:${dev.fd}`;
}

/** Checks fd:N names an open character device (a VFIO device fd is one) before the ioctls. */
function inheritedFd(fd: number): number {
  let stat;
  try {
    stat = fstatSync(fd);
  } catch {
    throw new InvalidArgumentError(`fd:${fd}: this process has no fd ${fd} (the program starting it must pass the open device down as fd ${fd})`);
  }
  if (!stat.isCharacterDevice()) throw new InvalidArgumentError(`fd:${fd}: fd ${fd} is not a VFIO device (not even a character device)`);
  return fd;
}

export function openDev(dev: DevArg): VfioDevice {
  return typeof dev === 'string' ? openDevice(dev) : VfioDevice.fromFd(inheritedFd(dev.fd), devName(dev));
}

/** The device's display; UnsupportedError (ERR_VFIO_NOT_A_DISPLAY) if it has none. */
export function openDisplayOf(dev: DevArg): Display {
  if (typeof dev === 'string') return openDisplay(dev);
  const device = openDev(dev);
  try {
    return new Display(device, { ownsDevice: true });
  } catch (err) {
    device.close();
    throw err;
  }
}
