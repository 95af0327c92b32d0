// VFIO_DEVICE_QUERY_GFX_PLANE: probing and the per-frame query. The query
// reuses one buffer per device and decodes by hand (no allocation but the
// result object): it is the hot path of every consumer.
import { InvalidArgumentError, KernelError, VfioDisplayError } from '../errors.js';
import type { VfioDevice } from '../device/device.js';
import { readField, viewOf } from '../uapi/codec.js';
import { fourccString } from '../uapi/drm_fourcc.js';
import * as v from '../uapi/vfio.js';

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
}

export type PlaneInfo =
  | (PlaneCommon & { readonly mode: 'dmabuf'; readonly dmabufId: number })
  | (PlaneCommon & { readonly mode: 'region'; readonly regionIndex: number });

const F = v.vfio_device_gfx_plane_info.fields;
const FLAG: Record<PlaneMode, number> = { dmabuf: v.VFIO_GFX_PLANE_TYPE_DMABUF, region: v.VFIO_GFX_PLANE_TYPE_REGION };

export function checkPlaneType(type: unknown): PlaneType {
  if (type !== 'primary' && type !== 'cursor') {
    throw new InvalidArgumentError(`plane type must be 'primary' or 'cursor', not ${JSON.stringify(type)}`);
  }
  return type;
}

/** One device's plane queries. */
export class PlaneQuery {
  readonly #device: VfioDevice;
  readonly #bytes = new Uint8Array(v.vfio_device_gfx_plane_info.size);
  readonly #view = viewOf(this.#bytes);

  constructor(device: VfioDevice) {
    this.#device = device;
  }

  #call(flags: number, planeType: number, what: string): void {
    this.#bytes.fill(0);
    this.#view.setUint32(F.argsz.offset, this.#bytes.length, true);
    this.#view.setUint32(F.flags.offset, flags, true);
    this.#view.setUint32(F.drm_plane_type.offset, planeType, true);
    this.#device.ioctl(v.VFIO_DEVICE_QUERY_GFX_PLANE, this.#bytes, 'VFIO_DEVICE_QUERY_GFX_PLANE', what);
  }

  /** Whether the device offers planes of `mode` (PROBE answers 0) — EINVAL or ENOTTY mean no. */
  probe(mode: PlaneMode): boolean {
    try {
      this.#call(v.VFIO_GFX_PLANE_TYPE_PROBE | FLAG[mode], DRM_PLANE_TYPE.primary, `probe ${mode} planes`);
      return true;
    } catch (err) {
      if (err instanceof KernelError && (err.code === 'EINVAL' || err.code === 'ENOTTY')) return false;
      throw err;
    }
  }

  /** The plane, or null if it is disabled (drm_format or size 0). */
  query(mode: PlaneMode, type: PlaneType): PlaneInfo | null {
    this.#queryWithRetry(mode, type);
    const view = this.#view;
    const drmFormat = readField(view, F.drm_format);
    const size = readField(view, F.size);
    if (drmFormat === 0 || size === 0) return null;
    const xHot = readField(view, F.x_hot);
    const yHot = readField(view, F.y_hot);
    const common: PlaneCommon = {
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
    const id = readField(view, F.region_index);
    return mode === 'dmabuf' ? { ...common, mode, dmabufId: id } : { ...common, mode, regionIndex: id };
  }

  #queryWithRetry(mode: PlaneMode, type: PlaneType): void {
    const what = `query the ${type} plane`;
    try {
      this.#call(FLAG[mode], DRM_PLANE_TYPE[checkPlaneType(type)], what);
    } catch (err) {
      // Linux 6.12 mbochs: the first query after a mode change allocates the
      // new mode's dma-buf but drops the result and answers ENOMEM; the next
      // query finds it. Fixed by kernel-patches/0001.
      if (!(err instanceof VfioDisplayError) || err.code !== 'ENOMEM') throw err;
      this.#call(FLAG[mode], DRM_PLANE_TYPE[type], what);
    }
  }
}
