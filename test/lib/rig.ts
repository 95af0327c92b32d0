// Helpers for tests that run inside the rig's VM (test/vm/run): mediated
// device instances of the kernel's sample drivers, and the vkms card.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Set by test/vm/run: the writable share inside the guest. */
export const rigOut = process.env.VFIO_DISPLAY_RIG_OUT;

/** Which rig kernel this is ("stock" or "patched"), inside the VM. */
export const rigKernel = process.env.VFIO_DISPLAY_KERNEL;

/** Integration tests call this first: they only mean something inside the VM. */
export function requireRig(): string {
  if (rigOut === undefined) {
    throw new Error('this test runs inside the rig: test/vm/run -- node --test <file>');
  }
  return rigOut;
}

const MDEV_BUS = '/sys/class/mdev_bus';
const MDEV_DEVICES = '/sys/bus/mdev/devices';

export interface MdevInstance extends Disposable {
  readonly uuid: string;
  readonly parent: string;
  readonly type: string;
  /** /sys/bus/mdev/devices/<uuid> */
  readonly sysfsPath: string;
  readonly iommuGroup: number;
  /** /dev/vfio/<group> */
  readonly groupNode: string;
  /** /dev/vfio/devices/vfioN, or null where the kernel has no VFIO cdev. */
  readonly cdev: string | null;
  /** Removes the instance; later calls do nothing. */
  remove(): void;
}

/** Types a parent offers (e.g. "mbochs" offers "mbochs-small"). */
export function mdevTypes(parent: string): string[] {
  return readdirSync(join(MDEV_BUS, parent, 'mdev_supported_types')).sort();
}

/** Creates an instance of `type` under `parent`; remove it (or `using` it) when done. */
export function createMdev(parent: string, type: string): MdevInstance {
  const uuid = randomUUID();
  writeFileSync(join(MDEV_BUS, parent, 'mdev_supported_types', type, 'create'), uuid);
  const sysfsPath = join(MDEV_DEVICES, uuid);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    writeFileSync(join(sysfsPath, 'remove'), '1');
  };
  try {
    const iommuGroup = Number(basename(readlinkSync(join(sysfsPath, 'iommu_group'))));
    const vfioDev = join(sysfsPath, 'vfio-dev');
    const cdevName = existsSync(vfioDev) ? readdirSync(vfioDev)[0] : undefined;
    return {
      uuid,
      parent,
      type,
      sysfsPath,
      iommuGroup,
      groupNode: `/dev/vfio/${iommuGroup}`,
      cdev: cdevName === undefined ? null : `/dev/vfio/devices/${cdevName}`,
      remove,
      [Symbol.dispose]: remove,
    };
  } catch (err) {
    remove();
    throw err;
  }
}

export interface DrmCard {
  /** e.g. "card0" */
  readonly name: string;
  /** e.g. "/dev/dri/card0" */
  readonly node: string;
  /** Connector names as sysfs lists them, e.g. ["Virtual-1", "Writeback-1"]. */
  readonly connectors: string[];
}

/** The DRM card whose device is the vkms platform device. */
export function findVkmsCard(): DrmCard {
  for (const name of readdirSync('/sys/class/drm')) {
    if (!/^card\d+$/.test(name)) continue;
    if (basename(realpathSync(`/sys/class/drm/${name}/device`)) !== 'vkms') continue;
    const connectors = readdirSync('/sys/class/drm')
      .filter((entry) => entry.startsWith(`${name}-`))
      .map((entry) => entry.slice(name.length + 1))
      .sort();
    return { name, node: `/dev/dri/${name}`, connectors };
  }
  throw new Error('no vkms card in /sys/class/drm (is CONFIG_DRM_VKMS built in?)');
}

/** Reads a sysfs attribute, trimmed. */
export function sysfsRead(path: string): string {
  return readFileSync(path, 'utf8').trim();
}
