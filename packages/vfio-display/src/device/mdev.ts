// Mediated devices in sysfs: parents, their types, instances; create and
// remove. Every name that becomes part of a path is validated first, so no
// argument can walk out of the sysfs directories.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BusyError, fromSystemError, InvalidArgumentError, NotFoundError } from '../errors.js';

const MDEV_BUS = '/sys/class/mdev_bus';
const MDEV_DEVICES = '/sys/bus/mdev/devices';
const DRM_CLASS = '/sys/class/drm';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:+-]*$/;

/** Returns the UUID in lower case, or throws InvalidArgumentError. */
export function validateUuid(uuid: string): string {
  if (!UUID.test(uuid)) throw new InvalidArgumentError(`not an mdev UUID: ${JSON.stringify(uuid)} (expected 8-4-4-4-12 hex digits)`);
  return uuid.toLowerCase();
}

function validateName(kind: string, name: string): string {
  if (!NAME.test(name) || name.length > 255) throw new InvalidArgumentError(`not a valid mdev ${kind} name: ${JSON.stringify(name)}`);
  return name;
}

function readAttr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function listDir(path: string, what: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fromSystemError(err, `list ${what}`, { path });
  }
}

export interface MdevType {
  /** The sysfs id, e.g. "mbochs-small" or "i915-GVTg_V5_4". */
  readonly id: string;
  readonly parent: string;
  /** The driver's name for it, if it gives one. */
  readonly name: string | undefined;
  readonly description: string | undefined;
  readonly availableInstances: number | undefined;
  /** "vfio-pci" for display devices. */
  readonly deviceApi: string | undefined;
}

export interface MdevParent {
  /** The parent device's name in /sys/class/mdev_bus, e.g. "mbochs" or "0000:00:02.0". */
  readonly name: string;
  readonly types: readonly MdevType[];
}

export function listParents(): MdevParent[] {
  return listDir(MDEV_BUS, 'mdev parents').map((name) => ({ name, types: listTypes(name) }));
}

export function listTypes(parent: string): MdevType[] {
  const dir = join(MDEV_BUS, validateName('parent', parent), 'mdev_supported_types');
  if (!existsSync(dir)) throw new NotFoundError(`no mdev parent ${JSON.stringify(parent)} (see /sys/class/mdev_bus)`, { path: dir });
  return listDir(dir, `mdev types of ${parent}`).map((id) => {
    const attr = (name: string): string | undefined => readAttr(join(dir, id, name));
    const available = attr('available_instances');
    return {
      id,
      parent,
      name: attr('name'),
      description: attr('description'),
      availableInstances: available === undefined ? undefined : Number(available),
      deviceApi: attr('device_api'),
    };
  });
}

export interface MdevInstance {
  readonly uuid: string;
  readonly parent: string;
  readonly type: string;
  /** /sys/bus/mdev/devices/<uuid> */
  readonly sysfsPath: string;
  /** The bound driver ("vfio_mdev" / the parent's), or null. */
  readonly driver: string | null;
  readonly iommuGroup: number | null;
  /** /dev/vfio/devices/vfioN where the kernel has VFIO cdevs, else null. */
  readonly cdev: string | null;
}

function linkName(path: string): string | null {
  try {
    return basename(readlinkSync(path));
  } catch {
    return null;
  }
}

/** The instance with this UUID; NotFoundError if there is none. */
export function getInstance(uuid: string): MdevInstance {
  const id = validateUuid(uuid);
  const sysfsPath = join(MDEV_DEVICES, id);
  if (!existsSync(sysfsPath)) throw new NotFoundError(`no mdev instance ${id} (see ${MDEV_DEVICES})`, { path: sysfsPath });
  const group = linkName(join(sysfsPath, 'iommu_group'));
  const cdevName = listDir(join(sysfsPath, 'vfio-dev'), `VFIO cdev of ${id}`)[0];
  return {
    uuid: id,
    parent: basename(join(readlinkSync(sysfsPath), '..')),
    type: linkName(join(sysfsPath, 'mdev_type')) ?? '',
    sysfsPath,
    driver: linkName(join(sysfsPath, 'driver')),
    iommuGroup: group === null ? null : Number(group),
    cdev: cdevName === undefined ? null : `/dev/vfio/devices/${cdevName}`,
  };
}

/**
 * The DRM card node of an mdev's parent device (GVT-g: the host i915 GPU),
 * or null where the parent is no DRM device (the sample drivers). The
 * DRM_FB plane type answers framebuffer ids of this card.
 */
export function drmCardOfParent(uuid: string): string | null {
  const parent = realpathSync(join(getInstance(uuid).sysfsPath, '..'));
  for (const name of listDir(DRM_CLASS, 'DRM devices')) {
    if (!/^card\d+$/.test(name)) continue;
    let device: string;
    try {
      device = realpathSync(join(DRM_CLASS, name, 'device'));
    } catch {
      continue;
    }
    if (device === parent) return `/dev/dri/${name}`;
  }
  return null;
}

export function listInstances(): MdevInstance[] {
  return listDir(MDEV_DEVICES, 'mdev instances')
    .filter((name) => UUID.test(name))
    .map(getInstance);
}

/** Creates an instance of `type` under `parent`; returns its UUID. */
export function createInstance(parent: string, type: string, uuid: string = randomUUID()): string {
  const id = validateUuid(uuid);
  const dir = join(MDEV_BUS, validateName('parent', parent), 'mdev_supported_types', validateName('type', type));
  if (!existsSync(dir)) throw new NotFoundError(`no mdev type ${JSON.stringify(type)} under ${JSON.stringify(parent)}`, { path: dir });
  try {
    writeFileSync(join(dir, 'create'), id);
  } catch (err) {
    throw fromSystemError(err, `create mdev ${type} under ${parent}`, { path: join(dir, 'create') });
  }
  return id;
}

/** Whether this process has the instance's group or cdev node open. */
function heldByThisProcess(instance: MdevInstance): boolean {
  const nodes = [instance.cdev, instance.iommuGroup === null ? null : `/dev/vfio/${instance.iommuGroup}`];
  return readdirSync('/proc/self/fd').some((fd) => {
    try {
      return nodes.includes(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      return false;
    }
  });
}

/**
 * Removes an instance. BusyError if this process still has it open: Linux
 * 6.12 makes the removal wait until the last fd of the device is closed,
 * which the same thread could then never do.
 */
export function removeInstance(uuid: string): void {
  const path = join(MDEV_DEVICES, validateUuid(uuid), 'remove');
  if (!existsSync(path)) throw new NotFoundError(`no mdev instance ${uuid}`, { path });
  if (heldByThisProcess(getInstance(uuid))) {
    throw new BusyError(`remove mdev ${uuid}: this process still has it open; close it first (the kernel waits for its last fd to close)`, { path });
  }
  try {
    writeFileSync(path, '1');
  } catch (err) {
    throw fromSystemError(err, `remove mdev ${uuid}`, { path });
  }
}
