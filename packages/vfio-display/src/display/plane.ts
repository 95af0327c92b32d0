// VFIO_DEVICE_QUERY_GFX_PLANE: probing and the per-frame query. The query
// reuses one buffer per device and decodes by hand (no allocation but the
// result object): it is the hot path of every consumer.
import { InvalidArgumentError, KernelError, UnsupportedError, VfioDisplayError } from '../errors.js';
import { hasDisplayExtension } from '../device/caps.js';
import type { VfioDevice } from '../device/device.js';
import { readField, viewOf } from '../uapi/codec.js';
import { fourccString } from '../uapi/drm_fourcc.js';
import * as v from '../uapi/vfio.js';
import * as ext from '../uapi/vfio-ext.js';

export type PlaneType = 'primary' | 'cursor';
export type PlaneMode = 'dmabuf' | 'region';

/** enum drm_plane_type (include/drm/drm_plane.h, kernel-internal): what drm_plane_type carries. */
const DRM_PLANE_TYPE: Record<PlaneType, number> = { primary: 1, cursor: 2 };

const NO_HOTSPOT = 0xffffffff;

interface PlaneCommon {
  readonly type: PlaneType;
  /** DRM fourcc, e.g. 0x34325258 (XR24). */
  readonly drmFormat: number;
  /** The fourcc as text, e.g. "XR24". */
  readonly fourcc: string;
  /** DRM format modifier (0n linear; I915 tiling modifiers on GVT-g). */
  readonly modifier: bigint;
  readonly width: number;
  readonly height: number;
  /** Bytes per line. */
  readonly stride: number;
  /** Bytes of the buffer. */
  readonly size: number;
  /** Cursor position on the primary plane (0 for the primary). */
  readonly x: number;
  readonly y: number;
  /** Cursor hotspot, or null where the device gives none. */
  readonly hotspot: { readonly x: number; readonly y: number } | null;
  /** Extended info (kernel-patches), present where the kernel fills it: */
  /** The guest display head (pipe) this plane belongs to. */
  readonly head?: number;
  readonly numHeads?: number;
  /** Top left of the visible part within the buffer, in pixels. */
  readonly srcX?: number;
  readonly srcY?: number;
  /** Surfaces this plane has shown since the device was opened. */
  readonly flipSeq?: bigint;
}

export type PlaneInfo =
  | (PlaneCommon & { readonly mode: 'dmabuf'; readonly dmabufId: number })
  | (PlaneCommon & { readonly mode: 'region'; readonly regionIndex: number });

/** VFIO_GFX_PLANE_TYPE_DRM_FB (kernel-patches RFC, GVT-g): the primary as a framebuffer id of the host DRM device that owns the vGPU. */
export type DrmFbPlane = PlaneCommon & { readonly mode: 'drm-fb'; readonly fbId: number };

/** How a query asks for the plane: a dma-buf id, a region index, or a host DRM framebuffer id. */
export type QueryMode = PlaneMode | 'drm-fb';

/** Whether two answers name the same buffer (a dma-buf id, or a region index); no allocation: every poll compares. */
const sameBuffer = (a: PlaneInfo, b: PlaneInfo): boolean =>
  a.mode === 'dmabuf' ? b.mode === 'dmabuf' && a.dmabufId === b.dmabufId : b.mode === 'region' && a.regionIndex === b.regionIndex;

export interface PlaneDifference {
  /** Format, modifier, size or stride differ, or one is null: an export of the one is not the other. */
  readonly layout: boolean;
  /** Anything a consumer reacts to: the layout, the buffer, the position, the visible origin, or a new surface (flip_seq). */
  readonly any: boolean;
}

/** The one comparison of two answers for a plane: the change streams and the dma-buf cache use it. */
export function diffPlanes(a: PlaneInfo | null, b: PlaneInfo | null): PlaneDifference {
  if (a === null || b === null) return { layout: a !== b, any: a !== b };
  const layout = a.drmFormat !== b.drmFormat || a.modifier !== b.modifier || a.width !== b.width || a.height !== b.height || a.stride !== b.stride || a.size !== b.size;
  const any =
    layout ||
    !sameBuffer(a, b) ||
    a.x !== b.x ||
    a.y !== b.y ||
    a.hotspot?.x !== b.hotspot?.x ||
    a.hotspot?.y !== b.hotspot?.y ||
    a.srcX !== b.srcX ||
    a.srcY !== b.srcY ||
    a.flipSeq !== b.flipSeq;
  return { layout, any };
}

// The extended layout is the base one plus fields from offset 64 on.
const F = ext.vfio_device_gfx_plane_info.fields;
/** The field of a plane of each mode that carries the id the kernel returns in dmabuf_id/region_index. */
const ID_FIELD = { dmabuf: 'dmabufId', region: 'regionIndex', 'drm-fb': 'fbId' } as const satisfies Record<QueryMode, string>;
const FLAG: Record<QueryMode, number> = { dmabuf: v.VFIO_GFX_PLANE_TYPE_DMABUF, region: v.VFIO_GFX_PLANE_TYPE_REGION, 'drm-fb': ext.VFIO_GFX_PLANE_TYPE_DRM_FB };

export function checkPlaneType(type: unknown): PlaneType {
  if (type !== 'primary' && type !== 'cursor') {
    throw new InvalidArgumentError(`plane type must be 'primary' or 'cursor', not ${JSON.stringify(type)}`);
  }
  return type;
}

/**
 * Decodes a filled vfio_device_gfx_plane_info (88 bytes; the fields from
 * offset 64 on only where `extended`), or null for a disabled plane
 * (drm_format or size 0). RangeError if the view is shorter.
 */
export function decodePlane(view: DataView, mode: PlaneMode, type: PlaneType, extended: boolean): PlaneInfo | null;
export function decodePlane(view: DataView, mode: 'drm-fb', type: PlaneType, extended: boolean): DrmFbPlane | null;
export function decodePlane(view: DataView, mode: QueryMode, type: PlaneType, extended: boolean): PlaneInfo | DrmFbPlane | null;
export function decodePlane(view: DataView, mode: QueryMode, type: PlaneType, extended: boolean): PlaneInfo | DrmFbPlane | null {
  if (view.byteLength < ext.vfio_device_gfx_plane_info.size) throw new RangeError(`vfio_device_gfx_plane_info: needs ${ext.vfio_device_gfx_plane_info.size} bytes, have ${view.byteLength}`);
  const drmFormat = readField(view, F.drm_format);
  const size = readField(view, F.size);
  if (drmFormat === 0 || size === 0) return null;
  const xHot = readField(view, F.x_hot);
  const yHot = readField(view, F.y_hot);
  // One literal, then plain property additions: object spread with
  // properties after it ({ ...a, ...b, mode, id }) cost 20-30 us per call
  // in Node 20 (V8 11.3) against 0.1-0.5 us for this, and this is the
  // per-frame path (test/bench/query.ts).
  const plane: { -readonly [K in keyof PlaneCommon]: PlaneCommon[K] } & Record<string, unknown> = {
    type,
    drmFormat,
    fourcc: fourccString(drmFormat),
    modifier: readField(view, F.drm_format_mod),
    width: readField(view, F.width),
    height: readField(view, F.height),
    stride: readField(view, F.stride),
    size,
    x: readField(view, F.x_pos),
    y: readField(view, F.y_pos),
    hotspot: xHot === NO_HOTSPOT || yHot === NO_HOTSPOT ? null : { x: xHot, y: yHot },
  };
  if (extended) {
    plane.head = readField(view, F.head);
    plane.numHeads = readField(view, F.num_heads);
    plane.srcX = readField(view, F.src_x);
    plane.srcY = readField(view, F.src_y);
    plane.flipSeq = readField(view, F.flip_seq);
  }
  plane.mode = mode;
  plane[ID_FIELD[mode]] = readField(view, F.region_index);
  return plane as unknown as PlaneInfo | DrmFbPlane;
}

/** One device's plane queries. */
export class PlaneQuery {
  readonly #device: VfioDevice;
  readonly #bytes = new Uint8Array(ext.vfio_device_gfx_plane_info.size);
  readonly #view = viewOf(this.#bytes);
  #extended = false;

  constructor(device: VfioDevice) {
    this.#device = device;
  }

  /** Whether queries ask for the extended fields (probeExtended() found them). */
  get extended(): boolean {
    return this.#extended;
  }

  /** The series' plane bits mean what we think only on a device that shows the extension (caps.ts). */
  #hasExtension(): boolean {
    return hasDisplayExtension(this.#device.info().capabilities);
  }

  #call(flags: number, planeType: number, head: number, what: string): void {
    // Without EXT_INFO the kernel sees the 64-byte struct it has always known.
    const extended = (flags & ext.VFIO_GFX_PLANE_FLAG_EXT_INFO) !== 0;
    this.#bytes.fill(0);
    this.#view.setUint32(F.argsz.offset, extended ? ext.vfio_device_gfx_plane_info.size : v.vfio_device_gfx_plane_info.size, true);
    this.#view.setUint32(F.flags.offset, flags, true);
    this.#view.setUint32(F.drm_plane_type.offset, planeType, true);
    this.#view.setUint32(F.head.offset, head, true);
    this.#device.ioctl(v.VFIO_DEVICE_QUERY_GFX_PLANE, this.#bytes, 'VFIO_DEVICE_QUERY_GFX_PLANE', what);
  }

  /**
   * Whether the device offers planes of `mode` (PROBE answers 0); EINVAL or
   * ENOTTY mean no. 'drm-fb' is asked only of a device with the extension.
   */
  probe(mode: QueryMode): boolean {
    if (mode === 'drm-fb' && !this.#hasExtension()) return false;
    return this.#probe(FLAG[mode], mode);
  }

  /** Whether `mode` planes come with extended info; if so, every later query asks for it. */
  probeExtended(mode: PlaneMode): boolean {
    this.#extended = this.#hasExtension() && this.#probe(FLAG[mode] | ext.VFIO_GFX_PLANE_FLAG_EXT_INFO, mode);
    return this.#extended;
  }

  #probe(flags: number, mode: QueryMode): boolean {
    try {
      this.#call(v.VFIO_GFX_PLANE_TYPE_PROBE | flags, DRM_PLANE_TYPE.primary, 0, `probe ${mode} planes`);
      return true;
    } catch (err) {
      if (err instanceof KernelError && (err.code === 'EINVAL' || err.code === 'ENOTTY')) return false;
      throw err;
    }
  }

  /** The plane of `head` (0 without extended info), or null if it is disabled (drm_format or size 0). */
  query(mode: PlaneMode, type: PlaneType, head?: number): PlaneInfo | null;
  query(mode: 'drm-fb', type: PlaneType, head?: number): DrmFbPlane | null;
  query(mode: QueryMode, type: PlaneType, head = 0): PlaneInfo | DrmFbPlane | null {
    if (head !== 0 && !this.#extended) {
      throw new UnsupportedError(`${this.#device.name}: querying display head ${head} needs extended plane info (the kernel-patches series)`);
    }
    this.#queryWithRetry(mode, type, head);
    return decodePlane(this.#view, mode, type, this.#extended);
  }

  #queryWithRetry(mode: QueryMode, type: PlaneType, head: number): void {
    const what = `query the ${type} plane${head ? ` of head ${head}` : ''}`;
    const flags = FLAG[mode] | (this.#extended ? ext.VFIO_GFX_PLANE_FLAG_EXT_INFO : 0);
    try {
      this.#call(flags, DRM_PLANE_TYPE[checkPlaneType(type)], head, what);
    } catch (err) {
      // Linux 6.12 mbochs: the first query after a mode change allocates the
      // new mode's dma-buf but drops the result and answers ENOMEM; the next
      // query finds it. Fixed by kernel-patches/0001.
      if (!(err instanceof VfioDisplayError) || err.code !== 'ENOMEM') throw err;
      this.#call(flags, DRM_PLANE_TYPE[type], head, what);
    }
  }
}
