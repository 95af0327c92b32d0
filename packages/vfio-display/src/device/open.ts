// Opening a VFIO device: through its iommufd cdev (bind, allocate an IOAS,
// attach) where the kernel has one, else through the type1 container and
// its IOMMU group. Every fd opened on the way is owned, and closed again if
// a later step fails.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { BusyError, InvalidArgumentError, KernelError, NotFoundError, UnsupportedError } from '../errors.js';
import { OwnedFd } from '../fd.js';
import { ioctl, openRw } from '../sys.js';
import { decode, encode, viewOf } from '../uapi/codec.js';
import { IOMMU_IOAS_ALLOC, iommu_ioas_alloc } from '../uapi/iommufd.js';
import * as v from '../uapi/vfio.js';
import { lazySchema, parse } from '../validate.js';
import { VfioDevice } from './device.js';
import { getInstance, validateUuid } from './mdev.js';
import { cdevNode } from './removal.js';

export type DeviceTarget =
  /**
   * An mdev UUID, `/sys/bus/mdev/devices/<uuid>` or the mdev's own path under
   * `/sys/devices/` (ending in the UUID), or `/dev/vfio/devices/vfioN`.
   */
  | string
  | { readonly uuid: string }
  | { readonly group: number; readonly name: string }
  | { readonly cdev: string };

export interface OpenOptions {
  /** 'auto' (default) prefers the iommufd cdev and falls back to type1. */
  readonly via?: 'auto' | 'iommufd' | 'type1' | undefined;
}

const openOptions = lazySchema((z) => z.strictObject({ via: z.enum(['auto', 'iommufd', 'type1']).optional() }));

const CDEV = /^\/dev\/vfio\/devices\/vfio\d+$/;
const MDEV_SYSFS = /^\/sys\/(?:bus\/mdev\/devices|devices(?:\/[\w.:-]+)+)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/?$/i;

/**
 * The UUID of an mdev named by its sysfs path. Only the UUID is used (the
 * device is looked up under /sys/bus/mdev/devices), but a path elsewhere,
 * or one that climbs out with `..`, is refused rather than read as a name.
 */
function uuidOfSysfsPath(path: string): string {
  const uuid = MDEV_SYSFS.exec(path)?.[1];
  if (uuid === undefined || path.split('/').some((part) => part === '.' || part === '..')) {
    throw new InvalidArgumentError(`not an mdev sysfs path: ${JSON.stringify(path)} (expected /sys/bus/mdev/devices/<uuid> or /sys/devices/.../<uuid>)`);
  }
  return uuid;
}

/** Runs `fn` with a list that collects fds; on failure closes them, newest first. */
function building<T>(fn: (own: (fd: number, label: string) => OwnedFd) => T): T {
  const opened: OwnedFd[] = [];
  try {
    return fn((fd, label) => {
      const owned = new OwnedFd(fd, label);
      opened.push(owned);
      return owned;
    });
  } catch (err) {
    for (const fd of opened.reverse()) fd.close();
    throw err;
  }
}

/** Opens a cdev, binds it to a new iommufd and attaches it to a fresh IOAS. */
export function openCdev(cdev: string, name = basename(cdev)): VfioDevice {
  if (!CDEV.test(cdev)) throw new InvalidArgumentError(`not a VFIO cdev path: ${JSON.stringify(cdev)} (expected /dev/vfio/devices/vfioN)`);
  return building((own) => {
    const iommufd = own(openRw('/dev/iommu', 'open /dev/iommu'), '/dev/iommu');
    const device = own(openRw(cdev, `open ${cdev}`), `VFIO device ${name} (iommufd)`);
    const bind = encode(v.vfio_device_bind_iommufd, { argsz: v.vfio_device_bind_iommufd.size, iommufd: iommufd.fd });
    try {
      ioctl(device.fd, v.VFIO_DEVICE_BIND_IOMMUFD, bind, 'VFIO_DEVICE_BIND_IOMMUFD', `bind ${cdev} to /dev/iommu`);
    } catch (err) {
      // Linux 6.12 vfio_df_open(): a cdev open of a device that is already
      // open (another cdev open, or its group) fails the bind with EINVAL or
      // EBUSY; the struct we pass is otherwise always valid. `code` says
      // EBUSY as every other way in does; errno and syscall stay the kernel's.
      if (err instanceof KernelError && err.code === 'EINVAL') {
        throw new BusyError(`open ${cdev}: the device is already open elsewhere (another process, QEMU, or an earlier open; EINVAL from ${String(err.ioctl)})`, {
          code: 'EBUSY',
          errno: err.errno,
          syscall: err.syscall,
          ioctl: err.ioctl,
          path: cdev,
          cause: err,
        });
      }
      throw err;
    }
    const alloc = encode(iommu_ioas_alloc, { size: iommu_ioas_alloc.size });
    ioctl(iommufd.fd, IOMMU_IOAS_ALLOC, alloc, 'IOMMU_IOAS_ALLOC', 'allocate an I/O address space');
    const ioas = decode(iommu_ioas_alloc, viewOf(alloc)).out_ioas_id;
    const attach = encode(v.vfio_device_attach_iommufd_pt, { argsz: v.vfio_device_attach_iommufd_pt.size, pt_id: ioas });
    ioctl(device.fd, v.VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach, 'VFIO_DEVICE_ATTACH_IOMMUFD_PT', `attach ${cdev} to its I/O address space`);
    return new VfioDevice(device, [iommufd], name, 'iommufd', cdev);
  });
}

/** Opens device `name` of IOMMU group `group` through a new type1 container. */
export function openGroupDevice(group: number, name: string): VfioDevice {
  if (!Number.isInteger(group) || group < 0 || group > 0xffffffff) throw new InvalidArgumentError(`not an IOMMU group number: ${group}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(name)) throw new InvalidArgumentError(`not a device name: ${JSON.stringify(name)}`);
  return building((own) => {
    const container = own(openRw('/dev/vfio/vfio', 'open the VFIO container /dev/vfio/vfio'), '/dev/vfio/vfio');
    const api = ioctl(container.fd, v.VFIO_GET_API_VERSION, 0, 'VFIO_GET_API_VERSION', 'check the VFIO API version');
    if (api !== v.VFIO_API_VERSION) throw new UnsupportedError(`the kernel's VFIO API version is ${api}, not ${v.VFIO_API_VERSION}`);
    const groupPath = `/dev/vfio/${group}`;
    const groupFd = own(openRw(groupPath, `open IOMMU group ${groupPath}`), groupPath);
    const status = encode(v.vfio_group_status, { argsz: v.vfio_group_status.size });
    ioctl(groupFd.fd, v.VFIO_GROUP_GET_STATUS, status, 'VFIO_GROUP_GET_STATUS', `get the status of ${groupPath}`);
    if ((decode(v.vfio_group_status, viewOf(status)).flags & v.VFIO_GROUP_FLAGS_VIABLE) === 0) {
      throw new UnsupportedError(`IOMMU group ${group} is not viable: every device in it must be bound to a VFIO driver`);
    }
    const containerArg = new Uint8Array(new Int32Array([container.fd]).buffer);
    ioctl(groupFd.fd, v.VFIO_GROUP_SET_CONTAINER, containerArg, 'VFIO_GROUP_SET_CONTAINER', `add ${groupPath} to a container`);
    const type1v2 = ioctl(container.fd, v.VFIO_CHECK_EXTENSION, v.VFIO_TYPE1v2_IOMMU, 'VFIO_CHECK_EXTENSION', 'check for type1v2') === 1;
    ioctl(container.fd, v.VFIO_SET_IOMMU, type1v2 ? v.VFIO_TYPE1v2_IOMMU : v.VFIO_TYPE1_IOMMU, 'VFIO_SET_IOMMU', 'set the type1 IOMMU');
    const nameArg = new TextEncoder().encode(`${name}\0`);
    const deviceFd = ioctl(groupFd.fd, v.VFIO_GROUP_GET_DEVICE_FD, nameArg, 'VFIO_GROUP_GET_DEVICE_FD', `get device ${name} from ${groupPath}`);
    const device = own(deviceFd, `VFIO device ${name} (type1)`);
    return new VfioDevice(device, [groupFd, container], name, 'type1', cdevNode(group, name));
  });
}

/** Opens an mdev by UUID: its cdev where it has one (and `via` allows), else its group. */
export function openMdev(uuid: string, options: OpenOptions = {}): VfioDevice {
  const via = options.via ?? 'auto';
  const instance = getInstance(uuid);
  if (via !== 'type1' && instance.cdev !== null && existsSync('/dev/iommu')) return openCdev(instance.cdev, instance.uuid);
  if (via === 'iommufd') {
    throw new UnsupportedError(`mdev ${instance.uuid} has no iommufd cdev: the kernel lacks CONFIG_VFIO_DEVICE_CDEV or CONFIG_IOMMUFD`);
  }
  if (instance.iommuGroup === null) throw new NotFoundError(`mdev ${instance.uuid} has no IOMMU group (is it bound to its driver?)`);
  return openGroupDevice(instance.iommuGroup, instance.uuid);
}

/** Opens a vGPU given as a UUID, a sysfs path, a cdev path, a {group, name} or a {cdev}. */
export function openDevice(target: DeviceTarget, options: OpenOptions = {}): VfioDevice {
  options = parse(openOptions, options, 'open options');
  if (typeof target === 'string') {
    if (target.startsWith('/dev/')) return openDevice({ cdev: target }, options);
    return openMdev(target.startsWith('/') ? uuidOfSysfsPath(target) : target, options);
  }
  if ('uuid' in target) return openMdev(validateUuid(target.uuid), options);
  if ('cdev' in target) {
    if (options.via === 'type1') throw new InvalidArgumentError('a cdev opens through iommufd, not type1');
    return openCdev(target.cdev);
  }
  if (options.via === 'iommufd') throw new InvalidArgumentError('a group and device name open through type1, not iommufd');
  return openGroupDevice(target.group, target.name);
}
