// DRM leases: a DRM master lends a connector, a CRTC and planes to a new
// DRM file, the lessee, which may use them as a master would, while the
// lessor keeps the right to revoke them. A lessee is what the kernel's
// direct flip of a vGPU takes (Display.kernelFlip()), and what a
// compositor hands out to a program that wants a monitor of its own.
import { InvalidArgumentError, VfioDisplayError } from '../errors.js';
import { OwnedFd } from '../fd.js';
import { decode, encode, viewOf } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';
import { FileResource, type DrmFile } from './drm-file.js';

/**
 * A lease this process made as lessor. It owns the lessee's fd until
 * close(); whoever the fd is handed to (another process over a socket, the
 * kernel through Display.kernelFlip()) takes a reference of its own, so the
 * lease lasts while any holds one. revoke() ends it for all of them.
 */
export class Lease extends FileResource {
  readonly #lessee: OwnedFd;
  #revoked = false;
  /** The lessee's id on the lessor's card (DRM_IOCTL_MODE_LIST_LESSEES). */
  readonly lesseeId: number;
  /** The objects leased: connector, CRTC and plane ids. */
  readonly objectIds: readonly number[];

  /** @internal Use Card.createLease(). */
  constructor(file: DrmFile, objectIds: readonly number[]) {
    super(file);
    const ids = Uint32Array.from(objectIds);
    const arg = encode(d.drm_mode_create_lease, { object_count: ids.length, flags: d.DRM_CLOEXEC });
    file.ioctl(d.DRM_IOCTL_MODE_CREATE_LEASE, arg, 'DRM_IOCTL_MODE_CREATE_LEASE', `lease objects ${objectIds.join(', ')}`, [
      [arg, d.drm_mode_create_lease.fields.object_ids.offset, new Uint8Array(ids.buffer)],
    ]);
    const out = decode(d.drm_mode_create_lease, viewOf(arg));
    this.lesseeId = out.lessee_id;
    this.objectIds = [...objectIds];
    this.#lessee = new OwnedFd(out.fd, `DRM lease ${out.lessee_id} of ${file.path}`);
    file.own(this);
  }

  /** The lessee's fd (borrowed from this object: the receiver takes its own reference). */
  get fd(): number {
    return this.#lessee.fd;
  }

  /** Whether revoke() ran. */
  get revoked(): boolean {
    return this.#revoked;
  }

  /**
   * Takes the objects back from every holder of the lessee's file: their
   * commits on them fail from now on. Idempotent; the fd stays open until
   * close().
   */
  revoke(): void {
    if (this.#revoked) return;
    this.#revoked = true;
    this.file.ioctl(d.DRM_IOCTL_MODE_REVOKE_LEASE, encode(d.drm_mode_revoke_lease, { lessee_id: this.lesseeId }), 'DRM_IOCTL_MODE_REVOKE_LEASE', `revoke lease ${this.lesseeId}`);
  }

  /** Closes this process's fd of the lessee; the lease lasts while others hold one. */
  protected destroy(): void {
    this.#lessee.close();
  }
}

/**
 * An id list answered by LIST_LESSEES or GET_LEASE, whose structs are alike
 * (a u32 count at 0, a pointer to the ids at 8): the count, then the ids.
 */
function readIds(file: DrmFile, request: number, name: string, what: string): number[] {
  const ptr = d.drm_mode_list_lessees.fields.lessees_ptr.offset;
  for (let attempt = 0; attempt < 8; attempt++) {
    const ask = new Uint8Array(d.drm_mode_list_lessees.size);
    file.ioctl(request, ask, name, what);
    const count = viewOf(ask).getUint32(0, true);
    const ids = new Uint32Array(count);
    const arg = new Uint8Array(d.drm_mode_list_lessees.size);
    viewOf(arg).setUint32(0, count, true);
    file.ioctl(request, arg, name, what, [[arg, ptr, new Uint8Array(ids.buffer)]]);
    const got = viewOf(arg).getUint32(0, true);
    // The list can grow between the calls; then ask again.
    if (got <= count) return [...ids.subarray(0, got)];
  }
  throw new VfioDisplayError(`${what}: the list kept growing while it was read`);
}

/** The lessees of the card's file (the lessor's leases that are still alive). */
export function listLessees(file: DrmFile): number[] {
  return readIds(file, d.DRM_IOCTL_MODE_LIST_LESSEES, 'DRM_IOCTL_MODE_LIST_LESSEES', 'list lessees');
}

/** The objects the card's file may use: a lessee's leased ids, or every object for a lessor. */
export function leasedObjects(file: DrmFile): number[] {
  return readIds(file, d.DRM_IOCTL_MODE_GET_LEASE, 'DRM_IOCTL_MODE_GET_LEASE', 'get the leased objects');
}

/** Checks a lease request's ids before the kernel sees them. */
export function checkLeaseIds(objectIds: readonly number[]): void {
  if (objectIds.length === 0 || !objectIds.every((id) => Number.isInteger(id) && id > 0 && id <= 0xffffffff) || new Set(objectIds).size !== objectIds.length) {
    throw new InvalidArgumentError(`a lease takes distinct object ids (a connector, a CRTC and its planes), not [${objectIds.join(', ')}]`);
  }
}
