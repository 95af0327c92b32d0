// Atomic requests: object id + property name -> value, encoded into the four
// arrays of DRM_IOCTL_MODE_ATOMIC; plane source rectangles in 16.16 fixed
// point; out-fences (sync_file fds the kernel writes through a pointer in
// the value array); and the ioctl itself with its typed refusal.
import { AtomicCommitError, ClosedError, fromSystemError, InvalidArgumentError, PermissionError, VfioDisplayError, type CommitObject } from '../errors.js';
import { OwnedFd } from '../fd.js';
import type { PointerPatch } from '../sys.js';
import { encode } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';
import { waitReadable, type WaitOptions } from '../wait.js';
import type { DrmFile, Resource } from './drm-file.js';

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

const FIXED_ONE = 65536;

/** A non-negative number of pixels in 16.16 fixed point (SRC_X/Y/W/H), rounded to 1/65536. */
export function toFixed16(pixels: number): bigint {
  if (!Number.isFinite(pixels) || pixels < 0 || pixels >= 0x10000) throw new RangeError(`${pixels} is outside what 16.16 fixed point holds (0 to 65535.99998)`);
  return BigInt(Math.round(pixels * FIXED_ONE));
}

export function fromFixed16(value: bigint): number {
  return Number(value) / FIXED_ONE;
}

/** Where a framebuffer goes: what the lead's placement computes. */
export interface PlaneUpdate {
  /** A framebuffer id: one of ours, or one handed over (e.g. a vGPU's DRM_FB plane). */
  readonly fbId: number;
  readonly crtcId: number;
  /** In framebuffer pixels (fractions allowed: 16.16). */
  readonly src: Rect;
  /** On the CRTC; x and y may be negative (a cursor half off the screen). */
  readonly crtc: Rect;
}

export interface CrtcUpdate {
  readonly active: boolean;
  /** A MODE_ID blob id (see Card.createModeBlob), 0 for none (with active false). */
  readonly modeId: number;
}

/** Looks up property ids by name; the card's Properties does it with its cache. */
export interface PropertyResolver {
  id(objectId: number, name: string, objectType?: number): number;
}

interface Entry {
  readonly name: string;
  value: bigint | OutFence;
}

/** The encoded arrays, ready for the ioctl; `pointers` patch the out-fence addresses in. */
export interface EncodedRequest {
  readonly objects: Uint32Array;
  readonly counts: Uint32Array;
  readonly props: Uint32Array;
  readonly values: BigUint64Array;
  readonly pointers: readonly PointerPatch[];
}

function toU64(value: number | bigint, what: string): bigint {
  if (typeof value === 'bigint') {
    if (value < -(1n << 63n) || value >= 1n << 64n) throw new InvalidArgumentError(`${what}: ${value} does not fit in 64 bits`);
    return BigInt.asUintN(64, value);
  }
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`${what}: ${value} is not an integer`);
  // Negative values (CRTC_X, CRTC_Y) are two's complement, as the kernel's signed ranges read them.
  return BigInt.asUintN(64, BigInt(value));
}

function checkRect(rect: Rect, what: string, signedOrigin: boolean): void {
  const ok = (n: number, min: number): boolean => Number.isFinite(n) && n >= min;
  const min = signedOrigin ? -0x80000000 : 0;
  if (!ok(rect.x, min) || !ok(rect.y, min) || !ok(rect.width, 0) || !ok(rect.height, 0)) {
    throw new InvalidArgumentError(`${what}: invalid rectangle ${rect.width}x${rect.height}+${rect.x}+${rect.y}`);
  }
}

/**
 * The properties one atomic commit sets, object by object, in the order
 * they were first named. Setting a property twice keeps the last value.
 * Build it with Card.atomic(); commit it with Card.commit().
 */
export class AtomicRequest {
  readonly #resolver: PropertyResolver;
  readonly #kinds: ReadonlyMap<number, number>;
  readonly #objects = new Map<number, Map<number, Entry>>();

  /** `kinds`: object id -> DRM_MODE_OBJECT_* of the card's CRTCs, planes and connectors. */
  constructor(resolver: PropertyResolver, kinds: ReadonlyMap<number, number>) {
    this.#resolver = resolver;
    this.#kinds = kinds;
  }

  #entry(objectId: number, name: string, value: bigint | OutFence): this {
    const propId = this.#resolver.id(objectId, name, this.#kinds.get(objectId));
    let props = this.#objects.get(objectId);
    if (!props) {
      props = new Map();
      this.#objects.set(objectId, props);
    }
    props.set(propId, { name, value });
    return this;
  }

  /** Sets property `name` of object `objectId`. */
  set(objectId: number, name: string, value: number | bigint): this {
    return this.#entry(objectId, name, toU64(value, `${name} of object ${objectId}`));
  }

  /** FB_ID, CRTC_ID, SRC_* (16.16) and CRTC_* of a plane. */
  setPlane(planeId: number, update: PlaneUpdate): this {
    checkRect(update.src, `source of plane ${planeId}`, false);
    checkRect(update.crtc, `CRTC rectangle of plane ${planeId}`, true);
    return this.set(planeId, 'FB_ID', update.fbId)
      .set(planeId, 'CRTC_ID', update.crtcId)
      .#entry(planeId, 'SRC_X', toFixed16(update.src.x))
      .#entry(planeId, 'SRC_Y', toFixed16(update.src.y))
      .#entry(planeId, 'SRC_W', toFixed16(update.src.width))
      .#entry(planeId, 'SRC_H', toFixed16(update.src.height))
      .set(planeId, 'CRTC_X', Math.round(update.crtc.x))
      .set(planeId, 'CRTC_Y', Math.round(update.crtc.y))
      .set(planeId, 'CRTC_W', Math.round(update.crtc.width))
      .set(planeId, 'CRTC_H', Math.round(update.crtc.height));
  }

  /** Takes a plane off its CRTC. */
  disablePlane(planeId: number): this {
    return this.set(planeId, 'FB_ID', 0).set(planeId, 'CRTC_ID', 0);
  }

  /** ACTIVE and MODE_ID of a CRTC (a modeset: commit with allowModeset). */
  setCrtc(crtcId: number, update: CrtcUpdate): this {
    return this.set(crtcId, 'ACTIVE', update.active ? 1 : 0).set(crtcId, 'MODE_ID', update.modeId);
  }

  /** Routes a connector to a CRTC (0: off). */
  setConnector(connectorId: number, crtcId: number): this {
    return this.set(connectorId, 'CRTC_ID', crtcId);
  }

  /** A pointer property the kernel writes a sync_file fd through (WRITEBACK_OUT_FENCE_PTR, OUT_FENCE_PTR). */
  outFence(objectId: number, name: string): OutFence {
    const fence = new OutFence(`${name} of object ${objectId}`);
    this.#entry(objectId, name, fence);
    return fence;
  }

  /** The CRTCs the commit names: CRTC objects and non-zero CRTC_ID values. Each sends one completion event. */
  get crtcs(): Set<number> {
    const out = new Set<number>();
    for (const [objectId, props] of this.#objects) {
      if (this.#kinds.get(objectId) === d.DRM_MODE_OBJECT_CRTC) out.add(objectId);
      for (const { name, value } of props.values()) if (name === 'CRTC_ID' && typeof value === 'bigint' && value !== 0n) out.add(Number(value));
    }
    return out;
  }

  /** The out-fences of the request. */
  get fences(): OutFence[] {
    const out: OutFence[] = [];
    for (const props of this.#objects.values()) for (const { value } of props.values()) if (value instanceof OutFence) out.push(value);
    return out;
  }

  get empty(): boolean {
    return this.#objects.size === 0;
  }

  encode(): EncodedRequest {
    const objects = new Uint32Array(this.#objects.size);
    const counts = new Uint32Array(this.#objects.size);
    const total = [...this.#objects.values()].reduce((n, props) => n + props.size, 0);
    const props = new Uint32Array(total);
    const values = new BigUint64Array(total);
    const valueBytes = new Uint8Array(values.buffer);
    const pointers: PointerPatch[] = [];
    let i = 0;
    let o = 0;
    for (const [objectId, entries] of this.#objects) {
      objects[o] = objectId;
      counts[o++] = entries.size;
      for (const [propId, { value }] of entries) {
        props[i] = propId;
        if (value instanceof OutFence) pointers.push([valueBytes, 8 * i, value.target]);
        else values[i] = value;
        i++;
      }
    }
    return { objects, counts, props, values, pointers };
  }

  /** What the request sets, for error messages and logs. */
  describe(): CommitObject[] {
    return [...this.#objects].map(([id, entries]) => ({
      id,
      kind: { [d.DRM_MODE_OBJECT_CRTC]: 'CRTC', [d.DRM_MODE_OBJECT_PLANE]: 'plane', [d.DRM_MODE_OBJECT_CONNECTOR]: 'connector' }[this.#kinds.get(id) ?? 0] ?? 'object',
      properties: Object.fromEntries([...entries.values()].map(({ name, value }) => [name, value instanceof OutFence ? -1n : value])),
    }));
  }
}

/**
 * A sync_file fd the kernel creates on commit and writes through a pointer
 * in the request (e.g. WRITEBACK_OUT_FENCE_PTR); readable once signalled.
 * Owned by the card from the commit on; wait() closes it.
 */
export class OutFence implements Resource, Disposable {
  readonly #slot = new Int32Array([-1]);
  readonly #label: string;
  #fd: OwnedFd | undefined;
  #file: DrmFile | undefined;
  /** Pending waits, cancelled by close(). */
  readonly #closing = new Set<AbortController>();

  constructor(label: string) {
    this.#label = label;
  }

  /** The 4 bytes the kernel writes the fd into. */
  get target(): Uint8Array {
    return new Uint8Array(this.#slot.buffer);
  }

  /** Whether a commit has run with it (a fence serves one commit). */
  get used(): boolean {
    return this.#file !== undefined;
  }

  /** Before the ioctl: -1, so a refused commit leaves no fd to take. */
  reset(): void {
    if (this.used) throw new InvalidArgumentError(`${this.#label} already served a commit; build a new request`);
    this.#slot[0] = -1;
  }

  /** After a successful commit: takes ownership of the fd the kernel wrote. */
  adopt(file: DrmFile): void {
    this.#file = file;
    const fd = this.#slot[0] ?? -1;
    if (fd < 0) return;
    this.#fd = new OwnedFd(fd, `out-fence (${this.#label})`);
    file.own(this);
  }

  /**
   * Resolves once the fence has signalled (the kernel finished the work),
   * then closes it. A close() meanwhile rejects the wait with ClosedError.
   */
  async wait(options: WaitOptions = {}): Promise<void> {
    const fd = this.#fd;
    if (!fd) throw new InvalidArgumentError(`${this.#label}: no fence (the request was not committed, or only tested)`);
    if (fd.closed) return;
    const closing = new AbortController();
    this.#closing.add(closing);
    try {
      const signal = options.signal ? AbortSignal.any([options.signal, closing.signal]) : closing.signal;
      const result = await waitReadable(fd.fd, { keepAlive: true, ...options, signal });
      if (result === 'timeout') throw new VfioDisplayError(`${this.#label}: the fence did not signal within ${options.timeoutMs ?? 0} ms`, { code: 'ETIMEDOUT' });
    } finally {
      this.#closing.delete(closing);
    }
    this.close();
  }

  close(): void {
    const fd = this.#fd;
    if (!fd || fd.closed) return;
    // Cancelled first: a poll must not outlive its fd (the number may name another file next).
    for (const closing of this.#closing) closing.abort(new ClosedError(this.#label));
    this.#file?.release(this);
    fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const FLAG_NAMES: readonly [number, string][] = [
  [d.DRM_MODE_ATOMIC_TEST_ONLY, 'TEST_ONLY'],
  [d.DRM_MODE_ATOMIC_NONBLOCK, 'NONBLOCK'],
  [d.DRM_MODE_ATOMIC_ALLOW_MODESET, 'ALLOW_MODESET'],
  [d.DRM_MODE_PAGE_FLIP_EVENT, 'PAGE_FLIP_EVENT'],
  [d.DRM_MODE_PAGE_FLIP_ASYNC, 'PAGE_FLIP_ASYNC'],
];

export function flagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([bit]) => flags & bit).map(([, name]) => name);
}

function describeObjects(objects: readonly CommitObject[]): string {
  return objects
    .map((o) => `${o.kind} ${o.id} ${Object.entries(o.properties).map(([name, value]) => `${name}=${name.startsWith('SRC_') ? String(fromFixed16(value)) : String(BigInt.asIntN(64, value))}`).join(' ')}`)
    .join('; ');
}

const WHY: Readonly<Record<string, string>> = {
  EBUSY: 'a previous non-blocking commit on the same CRTC has not completed',
  EINVAL: 'the driver rejected the configuration',
  // drm_mode_object_find(): an id that is gone, or that the file's lease does not hold (revoked, say).
  ENOENT: 'an object it names does not exist, or is not leased to this file (the lease may have been revoked)',
  // drm_atomic_helper_check_plane_state: scaling beyond the plane's limits (none at all on vkms 6.12).
  ERANGE: 'a scaling factor or a value is outside what the hardware allows',
};

/** The typed error for a refused DRM_IOCTL_MODE_ATOMIC (errors without an errno, e.g. ClosedError, pass through). */
export function commitError(err: unknown, request: AtomicRequest, flags: number, path: string): VfioDisplayError {
  const e = fromSystemError(err, `atomic commit on ${path}`, { ioctl: 'DRM_IOCTL_MODE_ATOMIC' });
  if (e.errno === undefined) return e;
  const details = { code: e.code, errno: e.errno, syscall: e.syscall, ioctl: 'DRM_IOCTL_MODE_ATOMIC', path, cause: e.cause ?? err };
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return new PermissionError(
      `atomic commit on ${path}: not the DRM master (${e.code}); another process (a display server or compositor) controls this card: stop it, or run from a free virtual terminal`,
      details,
    );
  }
  const objects = request.describe();
  const names = flagNames(flags);
  const text = (e.cause instanceof Error ? e.cause : e).message.replace(/^.* failed: /, '');
  const why = WHY[e.code] ?? text;
  return new AtomicCommitError(`atomic commit${names.length ? ` (${names.join('|')})` : ''} on ${path} refused with ${e.code}: ${why}; it set ${describeObjects(objects)}`, details, names, objects);
}

/** DRM_IOCTL_MODE_ATOMIC; on success (not TEST_ONLY) the out-fences become the card's. */
export function atomicIoctl(file: DrmFile, request: AtomicRequest, flags: number, userData: bigint): void {
  if (request.empty) throw new InvalidArgumentError('an atomic commit needs at least one property');
  const fences = request.fences;
  for (const fence of fences) fence.reset();
  const enc = request.encode();
  const a = d.drm_mode_atomic.fields;
  const arg = encode(d.drm_mode_atomic, { flags, count_objs: enc.objects.length, user_data: userData });
  const bytesOf = (array: Uint32Array | BigUint64Array): Uint8Array => new Uint8Array(array.buffer);
  try {
    file.ioctl(d.DRM_IOCTL_MODE_ATOMIC, arg, 'DRM_IOCTL_MODE_ATOMIC', 'atomic commit', [
      [arg, a.objs_ptr.offset, bytesOf(enc.objects)],
      [arg, a.count_props_ptr.offset, bytesOf(enc.counts)],
      [arg, a.props_ptr.offset, bytesOf(enc.props)],
      [arg, a.prop_values_ptr.offset, bytesOf(enc.values)],
      ...enc.pointers,
    ]);
  } catch (err) {
    throw commitError(err, request, flags, file.path);
  }
  if (flags & d.DRM_MODE_ATOMIC_TEST_ONLY) return;
  for (const fence of fences) fence.adopt(file);
}
