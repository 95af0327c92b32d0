// Framebuffer pixels -> RGBA8 (straight alpha, R first: what PNG stores), for
// every format in uapi/drm_fourcc.ts FORMATS, from linear or I915 X/Y-tiled
// buffers, cropped to a source rectangle.
//
// Formats as DRM defines them (little-endian words, drm_fourcc.h), with the
// byte order GVT-g's fb_decoder.c describes for them:
//  - 8:8:8:8 (XR24 bytes B,G,R,X; XB24 R,G,B,X; AR24 B,G,R,A; AB24 R,G,B,A):
//    one SIMD byte shuffle (simd.ts); X formats get alpha 255.
//  - 2:10:10:10: each 10-bit channel to 8 bits rounded to nearest,
//    round(v * 255 / 1023); 2-bit alpha v * 85.
//  - RGB565: round(v * 255 / 31) and round(v * 255 / 63).
//  - RGB888 (bytes B,G,R), BGR888 (bytes R,G,B).
//  - C8: indices into a palette the caller gives (256 0xRRGGBB values). The
//    guest's palette lives in display registers VFIO does not expose; without
//    one, index i is gray (i, i, i).
//  - Packed 4:2:2 YUYV/YVYU/UYVY/VYUY: BT.601, limited range (Y 16-235, CbCr
//    16-240), the integer form of ITU-R BT.601 used by most software decoders:
//    R = (298(Y-16) + 409(Cr-128) + 128) >> 8, G = (298(Y-16) - 100(Cb-128)
//    - 208(Cr-128) + 128) >> 8, B = (298(Y-16) + 516(Cb-128) + 128) >> 8,
//    clamped. GVT-g reports only the byte order: it ignores PLANE_CTL's
//    BT.709 (bit 18) and range-correction-disable (bit 28) bits, whose cleared
//    state, the hardware's default, is exactly BT.601 limited range.
import { endianness } from 'node:os';
import { InvalidArgumentError, UnsupportedError } from '../errors.js';
import {
  DRM_FORMAT_ABGR2101010,
  DRM_FORMAT_ABGR8888,
  DRM_FORMAT_ARGB2101010,
  DRM_FORMAT_ARGB8888,
  DRM_FORMAT_BGR888,
  DRM_FORMAT_C8,
  DRM_FORMAT_MOD_LINEAR,
  DRM_FORMAT_RGB565,
  DRM_FORMAT_RGB888,
  DRM_FORMAT_UYVY,
  DRM_FORMAT_VYUY,
  DRM_FORMAT_XBGR2101010,
  DRM_FORMAT_XBGR8888,
  DRM_FORMAT_XRGB2101010,
  DRM_FORMAT_XRGB8888,
  DRM_FORMAT_YUYV,
  DRM_FORMAT_YVYU,
  formatInfo,
  fourccString,
} from '../uapi/drm_fourcc.js';
import { Arena, IDENTITY, NO_OR, pixelOr, pixelShuffle } from './simd.js';
import { checkInt, detileInto, gatherRows, gatherSize, MAX_DIMENSION, rowSpan, tilingOf, type DetileOptions, type Surface } from './tiling.js';

/** An RGBA8 image: `data` holds width * height * 4 bytes, rows top to bottom, straight alpha. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** A framebuffer as the plane query describes it. */
export interface Frame extends Surface {
  readonly width: number;
  readonly height: number;
  /** DRM fourcc, e.g. DRM_FORMAT_XRGB8888 (named as in PlaneInfo, so a plane spreads into a Frame). */
  readonly drmFormat: number;
  /** Origin of the visible rectangle inside the buffer (extended plane info src_x/src_y). */
  readonly srcX?: number;
  readonly srcY?: number;
}

export interface ConvertOptions {
  /** C8 only: 256 colours as 0xRRGGBB (default: a gray ramp). */
  readonly palette?: ArrayLike<number>;
}

/**
 * Converts `rows` rows of `rowPixels` gathered source pixels at `src` to
 * `width` RGBA words a row at `dst` (arena offsets; the same for in-place
 * plans). `skip`: pixels before the origin in the first 4:2:2 pair.
 */
type Scalar = (arena: Arena, src: number, dst: number, rows: number, rowPixels: number, options: ConvertOptions, skip: number, width: number) => void;

type Plan =
  /** 8:8:8:8: where each RGBA byte comes from in the source pixel, and which byte is forced to 255. */
  | { readonly kind: 'shuffle'; readonly from: readonly [number, number, number, number]; readonly opaque: boolean }
  | { readonly kind: 'scalar'; readonly convert: Scalar; readonly inPlace: boolean; readonly pairs?: boolean };

const rgba = (r: number, g: number, b: number, a: number): number => r | (g << 8) | (b << 16) | (a << 24);
const words = (arena: Arena, at: number, count: number): Int32Array => new Int32Array(arena.bytes.buffer, at, count);

const scale = (max: number): Uint8Array => Uint8Array.from({ length: max + 1 }, (_, v) => Math.round((v * 255) / max));
let lut10: Uint8Array | undefined;
let lut565: Int32Array | undefined;

function convert2101010(redLow: boolean, alpha: boolean): Scalar {
  return (arena, src, _dst, rows, rowPixels) => {
    const to8 = (lut10 ??= scale(1023));
    const px = words(arena, src, rows * rowPixels);
    for (let i = 0; i < px.length; i++) {
      const v = px[i] ?? 0;
      const lo = to8[v & 0x3ff] ?? 0;
      const g = to8[(v >>> 10) & 0x3ff] ?? 0;
      const hi = to8[(v >>> 20) & 0x3ff] ?? 0;
      const a = alpha ? (v >>> 30) * 85 : 255;
      px[i] = redLow ? rgba(lo, g, hi, a) : rgba(hi, g, lo, a);
    }
  };
}

const rgb565: Scalar = (arena, src, dst, rows, rowPixels) => {
  lut565 ??= (() => {
    const r5 = scale(31);
    const g6 = scale(63);
    return Int32Array.from({ length: 65536 }, (_, v) => rgba(r5[v >>> 11] ?? 0, g6[(v >>> 5) & 0x3f] ?? 0, r5[v & 0x1f] ?? 0, 255));
  })();
  const count = rows * rowPixels;
  const from = new Uint16Array(arena.bytes.buffer, src, count);
  const to = words(arena, dst, count);
  for (let i = 0; i < count; i++) to[i] = lut565[from[i] ?? 0] ?? 0;
};

function rgb888(redFirst: boolean): Scalar {
  return (arena, src, dst, rows, rowPixels) => {
    const b = arena.bytes;
    const to = words(arena, dst, rows * rowPixels);
    for (let i = 0, s = src; i < to.length; i++, s += 3) {
      const first = b[s] ?? 0;
      const third = b[s + 2] ?? 0;
      to[i] = redFirst ? rgba(first, b[s + 1] ?? 0, third, 255) : rgba(third, b[s + 1] ?? 0, first, 255);
    }
  };
}

const c8: Scalar = (arena, src, dst, rows, rowPixels, options) => {
  const palette = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const c = options.palette === undefined ? i * 0x010101 : (options.palette[i] ?? 0);
    palette[i] = rgba((c >>> 16) & 0xff, (c >>> 8) & 0xff, c & 0xff, 255);
  }
  const count = rows * rowPixels;
  const from = arena.bytes.subarray(src, src + count);
  const to = words(arena, dst, count);
  for (let i = 0; i < count; i++) to[i] = palette[from[i] ?? 0] ?? 0;
};

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Offsets of Y0, Cb, Y1, Cr inside a 4-byte macropixel. */
function yuv422(y0: number, cb: number, y1: number, cr: number): Scalar {
  return (arena, src, dst, rows, rowPixels, _options, skip, width) => {
    const b = arena.bytes;
    const to = words(arena, dst, rows * width);
    for (let r = 0, o = 0; r < rows; r++) {
      const row = src + r * rowPixels * 2;
      for (let x = skip; x < skip + width; x++, o++) {
        const m = row + (x >> 1) * 4;
        const c = 298 * ((b[m + ((x & 1) === 0 ? y0 : y1)] ?? 0) - 16) + 128;
        const d = (b[m + cb] ?? 0) - 128;
        const e = (b[m + cr] ?? 0) - 128;
        to[o] = rgba(clamp((c + 409 * e) >> 8), clamp((c - 100 * d - 208 * e) >> 8), clamp((c + 516 * d) >> 8), 255);
      }
    }
  };
}

const PLANS = new Map<number, Plan>([
  [DRM_FORMAT_XRGB8888, { kind: 'shuffle', from: [2, 1, 0, 3], opaque: true }],
  [DRM_FORMAT_ARGB8888, { kind: 'shuffle', from: [2, 1, 0, 3], opaque: false }],
  [DRM_FORMAT_XBGR8888, { kind: 'shuffle', from: [0, 1, 2, 3], opaque: true }],
  [DRM_FORMAT_ABGR8888, { kind: 'shuffle', from: [0, 1, 2, 3], opaque: false }],
  [DRM_FORMAT_XRGB2101010, { kind: 'scalar', convert: convert2101010(false, false), inPlace: true }],
  [DRM_FORMAT_ARGB2101010, { kind: 'scalar', convert: convert2101010(false, true), inPlace: true }],
  [DRM_FORMAT_XBGR2101010, { kind: 'scalar', convert: convert2101010(true, false), inPlace: true }],
  [DRM_FORMAT_ABGR2101010, { kind: 'scalar', convert: convert2101010(true, true), inPlace: true }],
  [DRM_FORMAT_RGB565, { kind: 'scalar', convert: rgb565, inPlace: false }],
  [DRM_FORMAT_RGB888, { kind: 'scalar', convert: rgb888(false), inPlace: false }],
  [DRM_FORMAT_BGR888, { kind: 'scalar', convert: rgb888(true), inPlace: false }],
  [DRM_FORMAT_C8, { kind: 'scalar', convert: c8, inPlace: false }],
  [DRM_FORMAT_YUYV, { kind: 'scalar', convert: yuv422(0, 1, 2, 3), inPlace: false, pairs: true }],
  [DRM_FORMAT_YVYU, { kind: 'scalar', convert: yuv422(0, 3, 2, 1), inPlace: false, pairs: true }],
  [DRM_FORMAT_UYVY, { kind: 'scalar', convert: yuv422(1, 0, 3, 2), inPlace: false, pairs: true }],
  [DRM_FORMAT_VYUY, { kind: 'scalar', convert: yuv422(1, 2, 3, 0), inPlace: false, pairs: true }],
]);

/** Whether toRgba() converts this fourcc. */
export function canConvert(format: number): boolean {
  return PLANS.has(format);
}

function convertInto(arena: Arena, frame: Frame, options: ConvertOptions): RgbaImage {
  if (!Number.isInteger(frame.drmFormat) || frame.drmFormat < 0 || frame.drmFormat > 0xffffffff) {
    throw new InvalidArgumentError(`drmFormat must be a DRM fourcc (a 32-bit unsigned integer), not ${String(frame.drmFormat)}`);
  }
  if (!(frame.bytes instanceof Uint8Array)) throw new InvalidArgumentError('bytes must be a Uint8Array');
  const plan = PLANS.get(frame.drmFormat);
  const info = formatInfo(frame.drmFormat);
  if (plan === undefined || info === undefined) {
    throw new UnsupportedError(`the pixel format ${fourccString(frame.drmFormat)} (0x${frame.drmFormat.toString(16).padStart(8, '0')}) is not supported`);
  }
  if (endianness() !== 'LE') throw new UnsupportedError('image conversion assumes a little-endian host');
  const width = checkInt('width', frame.width, 1, MAX_DIMENSION);
  const height = checkInt('height', frame.height, 1, MAX_DIMENSION);
  let srcX = checkInt('srcX', frame.srcX ?? 0, 0, MAX_DIMENSION);
  const srcY = checkInt('srcY', frame.srcY ?? 0, 0, MAX_DIMENSION);
  if (tilingOf(frame.modifier ?? DRM_FORMAT_MOD_LINEAR).shape === null && (srcX !== 0 || srcY !== 0)) {
    // Linear memory: the visible part starts at byte srcY * stride + srcX * cpp,
    // and its rows may run past a row of the buffer (an mbochs guest pans to
    // any byte). Read it from there; 4:2:2 pairs keep their parity.
    const pair = plan.kind === 'scalar' && plan.pairs === true ? srcX & 1 : 0;
    const origin = srcY * checkInt('stride', frame.stride, 1, Number.MAX_SAFE_INTEGER) + (srcX - pair) * info.cpp;
    if (origin > frame.bytes.length) throw new InvalidArgumentError(`the visible origin (${srcX}, ${srcY}) lies beyond the ${frame.bytes.length}-byte buffer`);
    frame = { ...frame, bytes: frame.bytes.subarray(origin), srcX: pair, srcY: 0 };
    srcX = pair;
  }
  if (options.palette !== undefined && options.palette.length < 256) {
    throw new InvalidArgumentError(`a C8 palette has 256 entries, not ${options.palette.length}`);
  }
  // 4:2:2 pixels come in pairs sharing chroma: read whole pairs.
  const skip = plan.kind === 'scalar' && plan.pairs === true ? srcX & 1 : 0;
  const rowPixels = plan.kind === 'scalar' && plan.pairs === true ? (skip + width + 1) & ~1 : width;
  const xb0 = (srcX - skip) * info.cpp;
  const xb1 = xb0 + rowPixels * info.cpp;
  const span = rowSpan(frame, frame.srcY ?? 0, height, xb1);
  const outBytes = width * height * 4;
  const separate = plan.kind === 'scalar' && !plan.inPlace;
  const rawBytes = rowPixels * height * info.cpp;
  arena.reset(Arena.size(outBytes) + (separate ? Arena.size(rawBytes) : 0) + gatherSize(span, height, xb0, xb1, frame.stride));
  const out = arena.alloc(outBytes);
  const raw = separate ? arena.alloc(rawBytes) : out;
  if (plan.kind === 'shuffle') {
    const masks = (): void => {
      arena.masks(pixelShuffle(plan.from), pixelOr(plan.opaque ? 3 : null));
    };
    masks();
    if (!gatherRows(arena, frame, span, height, xb0, xb1, out, true)) {
      masks();
      arena.shuffle(out, out, outBytes);
    }
  } else {
    arena.masks(IDENTITY, NO_OR);
    gatherRows(arena, frame, span, height, xb0, xb1, raw, false);
    plan.convert(arena, raw, out, height, rowPixels, options, skip, width);
  }
  return { width, height, data: arena.bytes.subarray(out, out + outBytes) };
}

/**
 * The visible rectangle of a framebuffer as RGBA8, in memory of its own.
 * Throws UnsupportedError for a format or modifier it does not know,
 * InvalidArgumentError for geometry that does not fit the buffer. For a
 * stream of frames, FrameConverter reuses its memory instead.
 */
export function toRgba(frame: Frame, options: ConvertOptions = {}): RgbaImage {
  return convertInto(new Arena(), frame, options);
}

/**
 * toRgba() and detile() for a stream of frames: one block of memory serves
 * every call, so a frame costs no allocation. What a call returns is a view
 * of that memory, valid until the next call on the same converter (copy it,
 * or encode it, before then).
 */
export class FrameConverter {
  readonly #arena = new Arena();

  convert(frame: Frame, options: ConvertOptions = {}): RgbaImage {
    return convertInto(this.#arena, frame, options);
  }

  detile(surface: Surface & { readonly height: number }, options: DetileOptions = {}): Uint8Array {
    return detileInto(this.#arena, surface, options);
  }
}
