// An open VFIO device: info, regions (with capabilities), IRQs, region
// read/write/mmap, reset. Opening lives in open.ts.
import { ClosedError, InvalidArgumentError, MalformedReplyError, UnsupportedError } from '../errors.js';
import type { EventFd } from '../eventfd.js';
import type { OwnedFd } from '../fd.js';
import { ioctl, mmapShared, munmap, pread, pwrite } from '../sys.js';
import { decode, encode, viewOf } from '../uapi/codec.js';
import * as v from '../uapi/vfio.js';
import { decodeDeviceCapabilities, decodeRegionCapabilities, irqCapabilities, safeNumber, type DeviceCapability, type IrqCapability, type RegionCapability } from './caps.js';
import { RemovalWatch } from './removal.js';

/**
 * How the device fd was obtained: 'iommufd' / 'type1' opened (and owned) by
 * this object; 'borrowed' a raw fd its caller owns (fromFd); 'shared' the fd
 * a DeviceHandover owns and handed to the process that bound it (QEMU).
 * Only 'iommufd' and 'type1' devices close their fd.
 */
export type OpenedVia = 'iommufd' | 'type1' | 'borrowed' | 'shared';

export interface DeviceInfo {
  readonly flags: number;
  readonly reset: boolean;
  readonly pci: boolean;
  readonly numRegions: number;
  readonly numIrqs: number;
  /** Decoded capabilities: the kernel-patches extension's describe device-specific IRQ indexes. */
  readonly capabilities: readonly DeviceCapability[];
}

export interface RegionInfo {
  readonly index: number;
  readonly flags: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly mappable: boolean;
  readonly size: number;
  /** Offset of the region in the device fd. */
  readonly offset: number;
  readonly capabilities: readonly RegionCapability[];
}

export interface IrqInfo {
  readonly index: number;
  readonly flags: number;
  readonly eventfd: boolean;
  readonly maskable: boolean;
  readonly automasked: boolean;
  readonly noresize: boolean;
  readonly count: number;
  /** What the device's capabilities say of this index (type, display): the kernel-patches extension. */
  readonly capabilities: readonly IrqCapability[];
}

export type IrqAction = 'trigger' | 'mask' | 'unmask';

export interface SetIrqsRequest {
  readonly index: number;
  readonly start?: number;
  readonly action: IrqAction;
  /**
   * 'none': act on `count` interrupts (default 1) without data;
   * booleans: one per interrupt; eventfds (or -1 to unassign): one per
   * interrupt, for 'trigger' to signal them and for 'unmask' to unmask
   * through them. 'none' with count 0 and 'trigger' tears signalling down.
   */
  readonly data: 'none' | readonly boolean[] | readonly (EventFd | number)[];
  readonly count?: number;
}

/**
 * A region mmap. `bytes` is empty after unmap(), and after the device is
 * closed: a mapping keeps the device open in the kernel.
 */
export class RegionMapping implements Disposable {
  readonly #buffer: ArrayBuffer;
  readonly #onUnmap: (mapping: RegionMapping) => void;
  readonly bytes: Uint8Array;
  readonly regionIndex: number;
  /** Offset inside the region. */
  readonly offset: number;

  constructor(buffer: ArrayBuffer, regionIndex: number, offset: number, onUnmap: (mapping: RegionMapping) => void = () => undefined) {
    this.#buffer = buffer;
    this.#onUnmap = onUnmap;
    this.bytes = new Uint8Array(buffer);
    this.regionIndex = regionIndex;
    this.offset = offset;
  }

  get mapped(): boolean {
    return this.#buffer.byteLength > 0;
  }

  unmap(): void {
    munmap(this.#buffer, `unmap region ${this.regionIndex} at ${this.offset}`);
    this.#onUnmap(this);
  }

  [Symbol.dispose](): void {
    this.unmap();
  }
}

export type FeatureOp = 'get' | 'set' | 'probe';

const FEATURE_OPS: Record<FeatureOp, number> = { get: v.VFIO_DEVICE_FEATURE_GET, set: v.VFIO_DEVICE_FEATURE_SET, probe: v.VFIO_DEVICE_FEATURE_PROBE };

const ACTIONS: Record<IrqAction, number> = {
  trigger: v.VFIO_IRQ_SET_ACTION_TRIGGER,
  mask: v.VFIO_IRQ_SET_ACTION_MASK,
  unmask: v.VFIO_IRQ_SET_ACTION_UNMASK,
};

/** Largest argsz a driver may ask for region info (capability chains are small). */
const MAX_ARGSZ = 1 << 16;
/** Indexes probed by regions(): num_regions is not an upper bound (mdpy's display region is 16). */
const REGION_PROBE_LIMIT = 32;

export class VfioDevice implements Disposable {
  readonly #device: OwnedFd | number;
  /** Group, container or iommufd fds that must outlive the device fd. */
  readonly #holders: readonly OwnedFd[];
  readonly #regions = new Map<number, RegionInfo>();
  /** Live mmaps of regions: each holds the device open in the kernel, so close() unmaps them. */
  readonly #mappings = new Set<RegionMapping>();
  #info: DeviceInfo | undefined;
  /** The device's name: its mdev UUID, or what it was opened as. */
  readonly name: string;
  /** How the device fd was obtained. */
  readonly via: OpenedVia;
  readonly #removal: RemovalWatch;

  /**
   * @internal Use openDevice(), VfioDevice.fromFd() or DeviceHandover.waitBound().
   * `node` is the device's VFIO cdev, watched for the device's removal.
   */
  constructor(device: OwnedFd | number, holders: readonly OwnedFd[], name: string, via: OpenedVia, node: string | null = null) {
    this.#device = device;
    this.#holders = holders;
    this.name = name;
    this.via = via;
    this.#removal = new RemovalWatch(node, `VFIO device ${name}`);
  }

  /**
   * Aborted, with a DeviceRemovedError as its reason, when the kernel asks
   * for the device back (an mdev's removal): close it then, or the removal
   * waits for ever. Learned from the device's VFIO cdev node (Linux 6.12's
   * mdev drivers send no request); never aborts on kernels without VFIO
   * cdevs or for a borrowed fd.
   */
  get removal(): AbortSignal {
    return this.#removal.signal;
  }

  /**
   * Every opener asks GET_INFO first (QEMU does): Linux 6.12 mtty fills the
   * num_irqs it checks IRQ ioctls against only in its GET_INFO handler, and
   * answers EINVAL before it.
   */
  #ready(): void {
    this.info();
  }

  /**
   * Wraps a device fd someone else owns (QEMU's, shared with a helper).
   * close() then forgets the fd without closing it.
   */
  static fromFd(fd: number, name = `fd ${fd}`): VfioDevice {
    if (!Number.isInteger(fd) || fd < 0) throw new InvalidArgumentError(`not a file descriptor: ${fd}`);
    return new VfioDevice(fd, [], name, 'borrowed');
  }

  #closed = false;

  /** The device fd (borrowed from this object: do not close it). */
  get fd(): number {
    if (this.closed) throw this.removal.aborted ? (this.removal.reason as Error) : new ClosedError(`VFIO device ${this.name}`);
    return typeof this.#device === 'number' ? this.#device : this.#device.fd;
  }

  /** Closed by close(), or (for a 'shared' device) by the hand-over that owns the fd. */
  get closed(): boolean {
    return this.#closed || (typeof this.#device !== 'number' && this.#device.closed);
  }

  /**
   * Unmaps the device's region mappings, closes the device fd, then the fds
   * that held it open; a 'borrowed' or 'shared' device only stops using its
   * fd. Idempotent.
   */
  close(): void {
    this.#closed = true;
    this.#removal.close();
    for (const mapping of this.#mappings) mapping.unmap();
    if (typeof this.#device !== 'number' && this.via !== 'shared') this.#device.close();
    for (const holder of this.#holders) holder.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** `ioctl` on the device fd; `what` names the operation for errors. */
  ioctl(request: number, arg: Uint8Array | number, name: string, what: string): number {
    return ioctl(this.fd, request, arg, name, `${what} (${this.name})`);
  }

  /** The device's info with its capabilities (asked twice when they do not fit). Cached. */
  info(): DeviceInfo {
    if (this.#info && !this.closed) return this.#info;
    const what = 'get device info';
    const bytes = this.#askInfo(v.VFIO_DEVICE_GET_INFO, 'VFIO_DEVICE_GET_INFO', v.vfio_device_info.size, null, what);
    this.#info = decodeDeviceInfo(bytes, `${what} (${this.name})`);
    return this.#info;
  }

  /** A region's info with its capabilities (asked twice when they do not fit). Cached. */
  region(index: number): RegionInfo {
    checkIndex(index, 'region');
    const cached = this.#regions.get(index);
    if (cached && !this.closed) return cached;
    this.#ready();
    const what = `get info of region ${index}`;
    const bytes = this.#askInfo(v.VFIO_DEVICE_GET_REGION_INFO, 'VFIO_DEVICE_GET_REGION_INFO', v.vfio_region_info.size, index, what);
    const info = decodeRegionInfo(bytes, index, `${what} (${this.name})`);
    this.#regions.set(index, info);
    return info;
  }

  /**
   * GET_INFO and GET_REGION_INFO (argsz at 0; the region's index at 8). Asks
   * with the bare struct first — drivers reject an argsz larger than what
   * they fill (6.12 mbochs: EINVAL above 48) — and again with the argsz the
   * kernel reports when capabilities do not fit.
   */
  #askInfo(request: number, name: string, size: number, index: number | null, what: string): Uint8Array {
    let bytes = new Uint8Array(size);
    const ask = (): void => {
      const view = viewOf(bytes);
      view.setUint32(0, bytes.length, true);
      if (index !== null) view.setUint32(8, index, true);
      this.ioctl(request, bytes, name, what);
    };
    ask();
    const needed = viewOf(bytes).getUint32(0, true);
    if (needed > size) {
      if (needed > MAX_ARGSZ) throw new MalformedReplyError(`${what} (${this.name}): the kernel asks for an argsz of ${needed}`);
      bytes = new Uint8Array(needed);
      ask();
    }
    return bytes;
  }

  /**
   * Every region the device answers for: indexes below num_regions and,
   * since device-specific regions may lie beyond it, up to 32.
   */
  regions(): RegionInfo[] {
    const out: RegionInfo[] = [];
    const limit = Math.max(this.info().numRegions, REGION_PROBE_LIMIT);
    for (let index = 0; index < limit; index++) {
      try {
        out.push(this.region(index));
      } catch (err) {
        if ((err as { code?: string }).code !== 'EINVAL') throw err;
      }
    }
    return out;
  }

  /** The first region with a TYPE capability of this type/subtype, or undefined. */
  findRegion(type: number, subtype: number): RegionInfo | undefined {
    return this.regions().find((r) => r.capabilities.some((c) => c.kind === 'type' && c.type === type && c.subtype === subtype));
  }

  #checkRange(region: RegionInfo, offset: number, length: number, access: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > region.size) {
      throw new InvalidArgumentError(`${access} of region ${region.index}: ${length} bytes at ${offset} lie outside its ${region.size} bytes`);
    }
  }

  /** Reads `length` bytes at `offset` inside region `index` (pread on the device fd). */
  read(index: number, offset: number, length: number): Uint8Array {
    const region = this.region(index);
    if (!region.readable) throw new UnsupportedError(`region ${index} of ${this.name} is not readable`);
    this.#checkRange(region, offset, length, 'read');
    const out = new Uint8Array(length);
    const n = pread(this.fd, out, region.offset + offset, `read region ${index} of ${this.name}`);
    if (n !== length) throw new MalformedReplyError(`read region ${index} of ${this.name}: ${n} of ${length} bytes`);
    return out;
  }

  /** Writes `bytes` at `offset` inside region `index` (pwrite on the device fd). */
  write(index: number, offset: number, bytes: Uint8Array): void {
    const region = this.region(index);
    if (!region.writable) throw new UnsupportedError(`region ${index} of ${this.name} is not writable`);
    this.#checkRange(region, offset, bytes.length, 'write');
    const n = pwrite(this.fd, bytes, region.offset + offset, `write region ${index} of ${this.name}`);
    if (n !== bytes.length) throw new MalformedReplyError(`write region ${index} of ${this.name}: ${n} of ${bytes.length} bytes`);
  }

  /**
   * Maps `length` bytes (default: the rest of the region) at a page-aligned
   * `offset` of region `index`. Where the region has sparse mmap areas, the
   * range must lie inside one of them.
   */
  mmap(index: number, options: { offset?: number; length?: number; writable?: boolean } = {}): RegionMapping {
    const region = this.region(index);
    const { offset = 0, length = region.size - offset, writable = region.writable } = options;
    if (!region.mappable) throw new UnsupportedError(`region ${index} of ${this.name} cannot be mmapped`);
    this.#checkRange(region, offset, length, 'mmap');
    if (length === 0 || offset % 4096 !== 0) throw new InvalidArgumentError(`mmap of region ${index}: offset must be page-aligned and length > 0`);
    const sparse = region.capabilities.find((c) => c.kind === 'sparse-mmap');
    if (sparse && !sparse.areas.some((a) => offset >= a.offset && offset + length <= a.offset + a.size)) {
      throw new InvalidArgumentError(`mmap of region ${index}: ${length} bytes at ${offset} are not inside one of its sparse mmap areas`);
    }
    const buffer = mmapShared(this.fd, length, region.offset + offset, writable, `mmap region ${index} of ${this.name}`);
    const mapping = new RegionMapping(buffer, index, offset, (m) => this.#mappings.delete(m));
    this.#mappings.add(mapping);
    return mapping;
  }

  /** An IRQ index's info, with what the device's capabilities say of it. */
  irq(index: number): IrqInfo {
    checkIndex(index, 'IRQ');
    const { capabilities } = this.info();
    const bytes = encode(v.vfio_irq_info, { argsz: v.vfio_irq_info.size, index });
    this.ioctl(v.VFIO_DEVICE_GET_IRQ_INFO, bytes, 'VFIO_DEVICE_GET_IRQ_INFO', `get info of IRQ ${index}`);
    return decodeIrqInfo(bytes, index, irqCapabilities(capabilities, index));
  }

  /** The display change IRQ index (kernel-patches extension), or undefined. */
  findIrq(type: number, subtype: number): IrqInfo | undefined {
    return this.irqs().find((irq) => irq.capabilities.some((c) => c.kind === 'type' && c.type === type && c.subtype === subtype));
  }

  /** Every IRQ index the device answers for (some drivers refuse unimplemented ones with EINVAL). */
  irqs(): IrqInfo[] {
    const out: IrqInfo[] = [];
    for (let index = 0; index < this.info().numIrqs; index++) {
      try {
        out.push(this.irq(index));
      } catch (err) {
        if ((err as { code?: string }).code !== 'EINVAL') throw err;
      }
    }
    return out;
  }

  setIrqs(request: SetIrqsRequest): void {
    const { index, start = 0, action, data } = request;
    checkIndex(index, 'IRQ');
    checkIndex(start, 'IRQ start');
    let flags = ACTIONS[action];
    let payload: Uint8Array;
    if (data === 'none' || data.length === 0) {
      flags |= v.VFIO_IRQ_SET_DATA_NONE;
      payload = new Uint8Array(0);
    } else if (data.every((d) => typeof d === 'boolean')) {
      flags |= v.VFIO_IRQ_SET_DATA_BOOL;
      payload = Uint8Array.from(data, (b) => (b ? 1 : 0));
    } else {
      flags |= v.VFIO_IRQ_SET_DATA_EVENTFD;
      payload = new Uint8Array(new Int32Array(data.map(eventfdNumber)).buffer);
    }
    this.#ready();
    const count = data === 'none' ? (request.count ?? 1) : data.length;
    checkIndex(count, 'IRQ count');
    const argsz = v.vfio_irq_set.size + payload.length;
    const bytes = encode(v.vfio_irq_set, { argsz, flags, index, start, count }, argsz);
    bytes.set(payload, v.vfio_irq_set.size);
    this.ioctl(v.VFIO_DEVICE_SET_IRQS, bytes, 'VFIO_DEVICE_SET_IRQS', `${action} IRQ ${index}`);
  }

  reset(): void {
    this.ioctl(v.VFIO_DEVICE_RESET, 0, 'VFIO_DEVICE_RESET', 'reset');
  }

  /** VFIO_DEVICE_FEATURE: `op` on feature number `feature` with its `data`, which 'get' fills in. */
  feature(feature: number, op: FeatureOp, data: Uint8Array, what: string): void {
    const size = v.vfio_device_feature.size + data.length;
    const bytes = encode(v.vfio_device_feature, { argsz: size, flags: feature | FEATURE_OPS[op] }, size);
    bytes.set(data, v.vfio_device_feature.size);
    this.ioctl(v.VFIO_DEVICE_FEATURE, bytes, 'VFIO_DEVICE_FEATURE', what);
    if (op === 'get') data.set(bytes.subarray(v.vfio_device_feature.size));
  }
}

/**
 * One entry of an EVENTFD SET_IRQS payload: an EventFd's fd, or a number
 * (-1 unassigns). A boolean here (mixed with eventfds) used to become fd 0.
 */
function eventfdNumber(entry: EventFd | number | boolean): number {
  if (typeof entry === 'boolean') throw new InvalidArgumentError('SET_IRQS data is either all booleans or all eventfds (or -1), not a mix');
  const fd = typeof entry === 'number' ? entry : entry.fd;
  if (!Number.isInteger(fd) || fd < -1 || fd > 0x7fffffff) throw new InvalidArgumentError(`SET_IRQS data: ${String(fd)} is not an eventfd (an fd, or -1 to unassign)`);
  return fd;
}

/**
 * The capabilities of a filled device- or region-info buffer: none without
 * the CAPS flag, else the chain within the argsz the driver reported, which
 * must fit the buffer it was given after asking for it.
 */
function chainOf<T>(
  bytes: Uint8Array,
  raw: { flags: number; argsz: number; cap_offset: number },
  capsFlag: number,
  fixedSize: number,
  what: string,
  decodeChain: (bytes: Uint8Array, first: number, fixedSize: number, what: string) => T[],
): T[] {
  if ((raw.flags & capsFlag) === 0 || raw.cap_offset === 0) return [];
  if (raw.argsz > bytes.length) {
    throw new MalformedReplyError(`${what}: the capabilities need ${raw.argsz} bytes after the kernel was given the ${bytes.length} it asked for`);
  }
  return decodeChain(bytes.subarray(0, raw.argsz), raw.cap_offset, fixedSize, what);
}

/** Decodes a filled vfio_region_info buffer (the struct and its capability chain); RangeError if shorter than the struct. */
export function decodeRegionInfo(bytes: Uint8Array, index: number, what: string): RegionInfo {
  const raw = decode(v.vfio_region_info, viewOf(bytes));
  return {
    index,
    flags: raw.flags,
    readable: (raw.flags & v.VFIO_REGION_INFO_FLAG_READ) !== 0,
    writable: (raw.flags & v.VFIO_REGION_INFO_FLAG_WRITE) !== 0,
    mappable: (raw.flags & v.VFIO_REGION_INFO_FLAG_MMAP) !== 0,
    size: safeNumber(raw.size, 'region size', what),
    offset: safeNumber(raw.offset, 'region offset', what),
    capabilities: chainOf(bytes, raw, v.VFIO_REGION_INFO_FLAG_CAPS, v.vfio_region_info.size, what, decodeRegionCapabilities),
  };
}

/** Decodes a filled vfio_device_info buffer (the struct and its capability chain); RangeError if shorter than the struct. */
export function decodeDeviceInfo(bytes: Uint8Array, what: string): DeviceInfo {
  const raw = decode(v.vfio_device_info, viewOf(bytes));
  return {
    flags: raw.flags,
    reset: (raw.flags & v.VFIO_DEVICE_FLAGS_RESET) !== 0,
    pci: (raw.flags & v.VFIO_DEVICE_FLAGS_PCI) !== 0,
    numRegions: raw.num_regions,
    numIrqs: raw.num_irqs,
    capabilities: chainOf(bytes, raw, v.VFIO_DEVICE_FLAGS_CAPS, v.vfio_device_info.size, what, decodeDeviceCapabilities),
  };
}

/** Decodes a filled vfio_irq_info; `capabilities` are what the device's say of the index. */
export function decodeIrqInfo(bytes: Uint8Array, index: number, capabilities: readonly IrqCapability[]): IrqInfo {
  const raw = decode(v.vfio_irq_info, viewOf(bytes));
  return {
    index,
    flags: raw.flags,
    eventfd: (raw.flags & v.VFIO_IRQ_INFO_EVENTFD) !== 0,
    maskable: (raw.flags & v.VFIO_IRQ_INFO_MASKABLE) !== 0,
    automasked: (raw.flags & v.VFIO_IRQ_INFO_AUTOMASKED) !== 0,
    noresize: (raw.flags & v.VFIO_IRQ_INFO_NORESIZE) !== 0,
    count: raw.count,
    capabilities,
  };
}

function checkIndex(index: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) throw new InvalidArgumentError(`${what} index must be a u32, not ${index}`);
}
