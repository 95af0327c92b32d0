// Direct flips made by the kernel (kernel-patches:
// VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP): a display head's primary plane shown
// on a plane of a host DRM lease, each guest flip committed by the kernel in
// time for the host's next vertical blank, with no wake-up of this process.
// Host userspace chooses the CRTC and plane (by leasing them), makes the
// modesets, and ends the assignment or revokes the lease.
import { constants } from 'node:os';
import type { VfioDevice } from '../device/device.js';
import { InvalidArgumentError, PermissionError, UnsupportedError, VfioDisplayError } from '../errors.js';
import { decode, encode, viewOf } from '../uapi/codec.js';
import * as ext from '../uapi/vfio-ext.js';
import { lazySchema, parse } from '../validate.js';

export type KernelFlipState = 'active' | 'refused' | 'revoked' | 'off';

export interface KernelFlipStatus {
  /**
   * 'active': the plane shows the surface of flipSeq; 'refused': the last
   * commit failed (error) and the plane shows what it showed before, the
   * next guest surface is tried anew; 'revoked': the lease no longer holds
   * the CRTC and plane, and the kernel makes no more commits; 'off': the
   * head is not assigned (the assignment ended).
   */
  readonly state: KernelFlipState;
  /** Why the last commit failed, as Node names errnos ('EINVAL'), or null. */
  readonly error: string | null;
  /** The extended plane info's flipSeq of the surface last shown. */
  readonly flipSeq: bigint;
  /** The host CRTC's vblank counter, and its CLOCK_MONOTONIC time, when that surface was shown. */
  readonly vblankSeq: bigint;
  readonly vblankNs: bigint;
  /** Atomic commits the kernel made. */
  readonly commits: bigint;
  /** Guest surfaces a newer one replaced before their commit (the newest wins). */
  readonly skipped: bigint;
}

/** Where a head's primary plane goes on the host. */
export interface KernelFlipPlacement {
  readonly crtcId: number;
  readonly planeId: number;
  /** Top left on the CRTC (default 0, 0). */
  readonly x?: number | undefined;
  readonly y?: number | undefined;
  /** Size on the CRTC: default (or 0) the guest plane's own, unscaled. */
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  /** The guest display head (default 0). */
  readonly head?: number | undefined;
}

/** A placement with every default filled in. */
export type AssignedPlacement = { readonly [K in keyof KernelFlipPlacement]-?: Exclude<KernelFlipPlacement[K], undefined> };

const placementSchema = lazySchema((z) => {
  const id = z.int().min(1).max(0xffffffff);
  const coord = z.int().min(-0x80000000).max(0x7fffffff);
  const size = z.int().min(0).max(0x7fffffff);
  return z.strictObject({
    crtcId: id,
    planeId: id,
    x: coord.optional(),
    y: coord.optional(),
    width: size.optional(),
    height: size.optional(),
    head: z.int().min(0).max(0xffffffff).optional(),
  });
});

const STATES: Record<number, KernelFlipState> = {
  [ext.VFIO_GFX_DIRECT_FLIP_OFF]: 'off',
  [ext.VFIO_GFX_DIRECT_FLIP_ACTIVE]: 'active',
  [ext.VFIO_GFX_DIRECT_FLIP_REFUSED]: 'refused',
  [ext.VFIO_GFX_DIRECT_FLIP_REVOKED]: 'revoked',
};

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, errno]) => [errno, name]));

const F = ext.vfio_device_feature_gfx_direct_flip;

/**
 * The assignment of a head to a plane of a host DRM lease, owned by this
 * object: close() ends it, which takes the guest off the host plane. The
 * device is borrowed; the lease's fd too (the kernel takes a reference of
 * its own to the lessee's file, so the caller may close its fd).
 */
export class KernelFlip implements Disposable {
  readonly #device: VfioDevice;
  #placement: AssignedPlacement;
  #closed = false;

  /** @internal Use Display.kernelFlip(). */
  constructor(device: VfioDevice, leaseFd: number, placement: KernelFlipPlacement) {
    this.#device = device;
    this.#placement = this.#assign(leaseFd, placement);
  }

  /** Where the head's plane goes (as last assigned). */
  get placement(): AssignedPlacement {
    return this.#placement;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Moves the guest's plane (after a host modeset, say), on the same lease or another. */
  reassign(leaseFd: number, placement: Omit<KernelFlipPlacement, 'head'>): void {
    if (this.#closed) throw new InvalidArgumentError(`the kernel flip of head ${this.#placement.head} of ${this.#device.name} has ended`);
    this.#placement = this.#assign(leaseFd, { ...placement, head: this.#placement.head });
  }

  #assign(leaseFd: number, placement: KernelFlipPlacement): AssignedPlacement {
    if (!Number.isInteger(leaseFd) || leaseFd < 0) throw new InvalidArgumentError(`not a file descriptor of a DRM lease: ${leaseFd}`);
    const p = parse(placementSchema, placement, 'kernel flip placement');
    const full = { crtcId: p.crtcId, planeId: p.planeId, x: p.x ?? 0, y: p.y ?? 0, width: p.width ?? 0, height: p.height ?? 0, head: p.head ?? 0 };
    const data = encode(F, { drm_fd: leaseFd, head: full.head, crtc_id: full.crtcId, plane_id: full.planeId, crtc_x: full.x, crtc_y: full.y, crtc_w: full.width, crtc_h: full.height });
    const what = `assign head ${full.head} to plane ${full.planeId} on CRTC ${full.crtcId}`;
    try {
      this.#device.feature(ext.VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP, 'set', data, what);
    } catch (err) {
      throw kernelFlipError(err, `${what} (${this.#device.name})`);
    }
    return full;
  }

  /** What the kernel did: a VFIO_DEVICE_FEATURE GET, no wait. */
  status(): KernelFlipStatus {
    const data = encode(F, { drm_fd: -1, head: this.#placement.head });
    this.#device.feature(ext.VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP, 'get', data, `get the kernel flip of head ${this.#placement.head}`);
    const raw = decode(F, viewOf(data));
    return {
      state: this.#closed ? 'off' : (STATES[raw.state] ?? 'off'),
      error: raw.error === 0 ? null : (ERRNO_NAMES.get(-raw.error) ?? `errno ${-raw.error}`),
      flipSeq: raw.flip_seq,
      vblankSeq: raw.vblank_seq,
      vblankNs: raw.vblank_ns,
      commits: raw.commits,
      skipped: raw.skipped,
    };
  }

  /**
   * Ends the assignment: the kernel removes its framebuffers, turning off a
   * plane that still shows the guest. Idempotent; nothing to do once the
   * device is closed (closing it ended the assignment).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#device.closed) return;
    const data = encode(F, { drm_fd: -1, head: this.#placement.head });
    this.#device.feature(ext.VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP, 'set', data, `end the kernel flip of head ${this.#placement.head}`);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The kernel's refusal of an assignment, said in its terms rather than in a generic errno's. */
function kernelFlipError(err: unknown, what: string): unknown {
  if (!(err instanceof VfioDisplayError)) return err;
  const details = { code: err.code, errno: err.errno, syscall: err.syscall, ioctl: err.ioctl, cause: err };
  switch (err.code) {
    case 'EACCES':
      return new PermissionError(`${what}: the lease does not hold that CRTC and plane, or its lessor is not the DRM master now`, details);
    case 'EINVAL':
      return new InvalidArgumentError(`${what}: the fd is not a DRM lessee, the plane cannot go on that CRTC, or the head does not exist`, details);
    case 'EOPNOTSUPP':
    case 'ENOTTY':
      return new UnsupportedError(`${what}: not supported (${err.code}): the kernel or the DRM device lacks direct flips`, { ...details, code: 'ERR_VFIO_NO_KERNEL_FLIP' });
    default:
      return err;
  }
}
