// The <dev> argument: what openDevice() takes (UUID, sysfs path, cdev path),
// or fd:N, a device fd the parent process passed down. A VFIO device has
// one opener at a time, so a tool beside QEMU (or a test acting as the
// guest) can only share the fd it already has: the child gets it as fd N.
// The same for --drm: a card's path, or fd:N, a DRM fd passed down (a
// lease a DRM master handed out for one VM's output).
import { fstatSync } from 'node:fs';
import { VfioDevice } from '../device/device.js';
import { openDevice } from '../device/open.js';
import { Display, openDisplay } from '../display/display.js';
import { InvalidArgumentError } from '../errors.js';
import { openCard, type Card } from '../kms/card.js';
import type { Z } from '../validate.js';

export type DevArg = string | { readonly fd: number };

const FD = /^fd:(\d{1,9})$/;

export const devSchema = (z: Z, missing?: string) =>
  z
    .string(missing === undefined ? undefined : { error: missing })
    .min(1, 'expected a device')
    .transform((s): DevArg => {
      const m = FD.exec(s);
      return m ? { fd: Number(m[1]) } : s;
    });

export function devName(dev: DevArg): string {
  return typeof dev === 'string' ? dev : `fd:${dev.fd}`;
}

/** Checks fd:N names an open character device (VFIO and DRM fds are) before the ioctls. */
function inheritedFd(fd: number, what: string): number {
  let stat;
  try {
    stat = fstatSync(fd);
  } catch {
    throw new InvalidArgumentError(`fd:${fd}: this process has no fd ${fd} (the program starting it must pass the open ${what} down as fd ${fd})`);
  }
  if (!stat.isCharacterDevice()) throw new InvalidArgumentError(`fd:${fd}: fd ${fd} is not a ${what} (not even a character device)`);
  return fd;
}

export function openDev(dev: DevArg): VfioDevice {
  return typeof dev === 'string' ? openDevice(dev) : VfioDevice.fromFd(inheritedFd(dev.fd, 'VFIO device'), devName(dev));
}

/** --drm: a card by path, or a DRM fd passed down (the process's own fd stays open; the card has a duplicate). */
export function openCardOf(drm: DevArg): Card {
  return typeof drm === 'string' ? openCard(drm) : openCard({ fd: inheritedFd(drm.fd, 'DRM device') });
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
