// dma-bufs of a dma-buf display device: export (GET_GFX_DMABUF), the
// object that owns one, its CPU mapping, and the MRU cache QEMU keeps.
import { fromSystemError, UnsupportedError } from '../errors.js';
import type { VfioDevice } from '../device/device.js';
import { OwnedFd } from '../fd.js';
import { dupCloexec, ioctl, mmapShared, munmap, setCloexec } from '../sys.js';
import { DMA_BUF_IOCTL_SYNC, DMA_BUF_SYNC_END, DMA_BUF_SYNC_READ, DMA_BUF_SYNC_RW, DMA_BUF_SYNC_WRITE } from '../uapi/dma-buf.js';
import * as v from '../uapi/vfio.js';
import { diffPlanes, type PlaneInfo } from './plane.js';

export type DmabufPlane = Extract<PlaneInfo, { mode: 'dmabuf' }>;
export type CpuAccess = 'read' | 'write' | 'rw';

const ACCESS: Record<CpuAccess, number> = { read: DMA_BUF_SYNC_READ, write: DMA_BUF_SYNC_WRITE, rw: DMA_BUF_SYNC_RW };

/**
 * A CPU mapping of a dma-buf. Bracket access with begin()/end()
 * (DMA_BUF_IOCTL_SYNC). It owns a duplicate of the dma-buf's fd, so its syncs
 * reach this buffer however long the fd it was made from stays open (a
 * display evicts cached buffers, and the kernel reuses fd numbers).
 */
export class DmabufMapping implements Disposable {
  readonly #buffer: ArrayBuffer;
  readonly #fd: OwnedFd;
  readonly #sync = new BigUint64Array(1);
  readonly bytes: Uint8Array;

  constructor(buffer: ArrayBuffer, fd: OwnedFd) {
    this.#buffer = buffer;
    this.#fd = fd;
    this.bytes = new Uint8Array(buffer);
  }

  #syncCall(flags: number): void {
    this.#sync[0] = BigInt(flags);
    ioctl(this.#fd.fd, DMA_BUF_IOCTL_SYNC, new Uint8Array(this.#sync.buffer), 'DMA_BUF_IOCTL_SYNC', 'sync a dma-buf for CPU access');
  }

  begin(access: CpuAccess = 'read'): void {
    this.#syncCall(ACCESS[access]);
  }

  end(access: CpuAccess = 'read'): void {
    this.#syncCall(ACCESS[access] | DMA_BUF_SYNC_END);
  }

  /** Unmaps the bytes and closes the mapping's fd; idempotent. */
  unmap(): void {
    if (this.#fd.closed) return;
    try {
      munmap(this.#buffer, `unmap ${this.#fd.label}`);
    } finally {
      this.#fd.close();
    }
  }

  [Symbol.dispose](): void {
    this.unmap();
  }
}

/** One exported dma-buf, owned by whoever holds this object: close() it when done. */
export class Dmabuf implements Disposable {
  readonly #fd: OwnedFd;
  /** The plane it was exported for. */
  readonly plane: DmabufPlane;

  constructor(fd: OwnedFd, plane: DmabufPlane) {
    this.#fd = fd;
    this.plane = plane;
  }

  get id(): number {
    return this.plane.dmabufId;
  }

  /** The dma-buf fd, for this object's lifetime: pass it on (KMS import), close() the object, not the fd. */
  get fd(): number {
    return this.#fd.fd;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Maps the plane's bytes for the CPU, where the exporter allows it. The mapping owns an fd of its own. */
  map(options: { writable?: boolean } = {}): DmabufMapping {
    const fd = new OwnedFd(dupCloexec(this.fd, `duplicate the fd of dma-buf ${this.id} for a mapping`), `mapping of dma-buf ${this.id}`);
    try {
      return new DmabufMapping(mmapShared(fd.fd, this.plane.size, 0, options.writable ?? false, `mmap dma-buf ${this.id}`), fd);
    } catch (err) {
      fd.close();
      const e = fromSystemError(err, `mmap dma-buf ${this.id}`);
      if (e.code === 'EINVAL' || e.code === 'EACCES' || e.code === 'ENODEV') {
        // Linux 6.12 mbochs exports read-only with the exact (not page-rounded)
        // size, so most modes cannot be mapped; kernel-patches/0001 fixes it.
        throw new UnsupportedError(
          `the exporter refused a CPU mapping of dma-buf ${this.id} (${e.code}${options.writable ? ', writable' : ''}); import it into a GPU or KMS device instead, or use a kernel whose driver supports dma-buf mmap`,
          { code: 'ERR_VFIO_DMABUF_NOT_MAPPABLE', errno: e.errno, syscall: 'mmap', cause: err },
        );
      }
      throw e;
    }
  }

  close(): void {
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A dma-buf the display keeps and lends (`Display.dmabuf()`): use its fd while
 * the display keeps the buffer, never close it; it has no close(). Once the
 * display evicts the buffer, `fd` throws ClosedError; a mapping made from it
 * stays valid.
 */
export class BorrowedDmabuf {
  readonly #owner: Dmabuf;

  constructor(owner: Dmabuf) {
    this.#owner = owner;
  }

  get plane(): DmabufPlane {
    return this.#owner.plane;
  }

  get id(): number {
    return this.#owner.id;
  }

  /** The borrowed fd: import it (KMS, EGL); do not close it. */
  get fd(): number {
    return this.#owner.fd;
  }

  get closed(): boolean {
    return this.#owner.closed;
  }

  map(options: { writable?: boolean } = {}): DmabufMapping {
    return this.#owner.map(options);
  }
}

/** GET_GFX_DMABUF for `plane`; the new fd is close-on-exec. */
export function exportDmabuf(device: VfioDevice, plane: DmabufPlane): Dmabuf {
  const arg = new Uint8Array(new Uint32Array([plane.dmabufId]).buffer);
  const fd = device.ioctl(v.VFIO_DEVICE_GET_GFX_DMABUF, arg, 'VFIO_DEVICE_GET_GFX_DMABUF', `export dma-buf ${plane.dmabufId}`);
  const owned = new OwnedFd(fd, `dma-buf ${plane.dmabufId} of ${device.name}`);
  try {
    // Linux 6.12 mbochs passes no O_CLOEXEC to dma_buf_fd(); children (QEMU) must not inherit it.
    setCloexec(fd, `set close-on-exec on dma-buf ${plane.dmabufId}`);
  } catch (err) {
    owned.close();
    throw err;
  }
  return new Dmabuf(owned, plane);
}

/**
 * Exported dma-bufs by dmabuf_id, most recently used last. A cached buffer is
 * reused only while the plane's geometry is the same: drivers reuse freed ids
 * (GVT-g lowest-first), so an id alone does not name a buffer.
 */
export class DmabufCache implements Disposable {
  readonly #device: VfioDevice;
  readonly #keep: number;
  readonly #byId = new Map<number, { owned: Dmabuf; lent: BorrowedDmabuf }>();

  constructor(device: VfioDevice, keep = 5) {
    this.#device = device;
    this.#keep = keep;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The cached export of `plane`'s buffer, lent: the cache keeps it and closes it on eviction. */
  get(plane: DmabufPlane): BorrowedDmabuf {
    const cached = this.#byId.get(plane.dmabufId);
    if (cached) {
      this.#byId.delete(plane.dmabufId);
      if (!diffPlanes(cached.owned.plane, plane).layout) {
        this.#byId.set(plane.dmabufId, cached);
        return cached.lent;
      }
      cached.owned.close();
    }
    const owned = exportDmabuf(this.#device, plane);
    const entry = { owned, lent: new BorrowedDmabuf(owned) };
    this.#byId.set(plane.dmabufId, entry);
    for (const [id, old] of this.#byId) {
      if (this.#byId.size <= this.#keep) break;
      old.owned.close();
      this.#byId.delete(id);
    }
    return entry.lent;
  }

  /** Closes every cached dma-buf (after a mode change, or when done). */
  clear(): void {
    for (const { owned } of this.#byId.values()) owned.close();
    this.#byId.clear();
  }

  [Symbol.dispose](): void {
    this.clear();
  }
}
