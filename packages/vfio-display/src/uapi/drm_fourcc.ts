// include/uapi/drm/drm_fourcc.h (Linux 6.12): the formats and modifiers that
// GVT-g (i915/gvt/fb_decoder.c) and the sample drivers report, with names
// and bytes per pixel. Checked against the header by test/rig/uapi-headers.

export function fourccCode(a: string, b: string, c: string, d: string): number {
  return (a.charCodeAt(0) | (b.charCodeAt(0) << 8) | (c.charCodeAt(0) << 16) | (d.charCodeAt(0) << 24)) >>> 0;
}

export const DRM_FORMAT_C8 = fourccCode('C', '8', ' ', ' ');
export const DRM_FORMAT_RGB565 = fourccCode('R', 'G', '1', '6');
export const DRM_FORMAT_RGB888 = fourccCode('R', 'G', '2', '4');
export const DRM_FORMAT_BGR888 = fourccCode('B', 'G', '2', '4');
export const DRM_FORMAT_XRGB8888 = fourccCode('X', 'R', '2', '4');
export const DRM_FORMAT_XBGR8888 = fourccCode('X', 'B', '2', '4');
export const DRM_FORMAT_ARGB8888 = fourccCode('A', 'R', '2', '4');
export const DRM_FORMAT_ABGR8888 = fourccCode('A', 'B', '2', '4');
export const DRM_FORMAT_XRGB2101010 = fourccCode('X', 'R', '3', '0');
export const DRM_FORMAT_XBGR2101010 = fourccCode('X', 'B', '3', '0');
export const DRM_FORMAT_ARGB2101010 = fourccCode('A', 'R', '3', '0');
export const DRM_FORMAT_ABGR2101010 = fourccCode('A', 'B', '3', '0');
export const DRM_FORMAT_YUYV = fourccCode('Y', 'U', 'Y', 'V');
export const DRM_FORMAT_YVYU = fourccCode('Y', 'V', 'Y', 'U');
export const DRM_FORMAT_UYVY = fourccCode('U', 'Y', 'V', 'Y');
export const DRM_FORMAT_VYUY = fourccCode('V', 'Y', 'U', 'Y');

const fourccModCode = (vendor: bigint, value: bigint): bigint => (vendor << 56n) | (value & 0x00ffffffffffffffn);

export const DRM_FORMAT_MOD_VENDOR_NONE = 0n;
export const DRM_FORMAT_MOD_VENDOR_INTEL = 0x01n;
export const DRM_FORMAT_RESERVED = (1n << 56n) - 1n;
export const DRM_FORMAT_MOD_INVALID = fourccModCode(DRM_FORMAT_MOD_VENDOR_NONE, DRM_FORMAT_RESERVED);
export const DRM_FORMAT_MOD_LINEAR = fourccModCode(DRM_FORMAT_MOD_VENDOR_NONE, 0n);
export const I915_FORMAT_MOD_X_TILED = fourccModCode(DRM_FORMAT_MOD_VENDOR_INTEL, 1n);
export const I915_FORMAT_MOD_Y_TILED = fourccModCode(DRM_FORMAT_MOD_VENDOR_INTEL, 2n);
export const I915_FORMAT_MOD_Yf_TILED = fourccModCode(DRM_FORMAT_MOD_VENDOR_INTEL, 3n);

export interface FormatInfo {
  /** The kernel's macro name without DRM_FORMAT_, e.g. "XRGB8888". */
  readonly name: string;
  readonly fourcc: number;
  /** Bytes per pixel of the (single) plane; packed YUV 4:2:2 is 2 per pixel. */
  readonly cpp: number;
  readonly hasAlpha: boolean;
}

export const FORMATS: readonly FormatInfo[] = [
  { name: 'C8', fourcc: DRM_FORMAT_C8, cpp: 1, hasAlpha: false },
  { name: 'RGB565', fourcc: DRM_FORMAT_RGB565, cpp: 2, hasAlpha: false },
  { name: 'RGB888', fourcc: DRM_FORMAT_RGB888, cpp: 3, hasAlpha: false },
  { name: 'BGR888', fourcc: DRM_FORMAT_BGR888, cpp: 3, hasAlpha: false },
  { name: 'XRGB8888', fourcc: DRM_FORMAT_XRGB8888, cpp: 4, hasAlpha: false },
  { name: 'XBGR8888', fourcc: DRM_FORMAT_XBGR8888, cpp: 4, hasAlpha: false },
  { name: 'ARGB8888', fourcc: DRM_FORMAT_ARGB8888, cpp: 4, hasAlpha: true },
  { name: 'ABGR8888', fourcc: DRM_FORMAT_ABGR8888, cpp: 4, hasAlpha: true },
  { name: 'XRGB2101010', fourcc: DRM_FORMAT_XRGB2101010, cpp: 4, hasAlpha: false },
  { name: 'XBGR2101010', fourcc: DRM_FORMAT_XBGR2101010, cpp: 4, hasAlpha: false },
  { name: 'ARGB2101010', fourcc: DRM_FORMAT_ARGB2101010, cpp: 4, hasAlpha: true },
  { name: 'ABGR2101010', fourcc: DRM_FORMAT_ABGR2101010, cpp: 4, hasAlpha: true },
  { name: 'YUYV', fourcc: DRM_FORMAT_YUYV, cpp: 2, hasAlpha: false },
  { name: 'YVYU', fourcc: DRM_FORMAT_YVYU, cpp: 2, hasAlpha: false },
  { name: 'UYVY', fourcc: DRM_FORMAT_UYVY, cpp: 2, hasAlpha: false },
  { name: 'VYUY', fourcc: DRM_FORMAT_VYUY, cpp: 2, hasAlpha: false },
];

const byFourcc = new Map(FORMATS.map((f) => [f.fourcc, f]));

/** The format's description, or undefined for a fourcc this table lacks. */
export function formatInfo(fourcc: number): FormatInfo | undefined {
  return byFourcc.get(fourcc);
}

/** "XR24" for DRM_FORMAT_XRGB8888; non-printable bytes as \xNN. */
export function fourccString(fourcc: number): string {
  let s = '';
  for (let i = 0; i < 4; i++) {
    const c = (fourcc >>> (8 * i)) & 0xff;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

export interface ModifierInfo {
  readonly name: string;
  readonly modifier: bigint;
}

export const MODIFIERS: readonly ModifierInfo[] = [
  { name: 'LINEAR', modifier: DRM_FORMAT_MOD_LINEAR },
  { name: 'I915_X_TILED', modifier: I915_FORMAT_MOD_X_TILED },
  { name: 'I915_Y_TILED', modifier: I915_FORMAT_MOD_Y_TILED },
  { name: 'I915_Yf_TILED', modifier: I915_FORMAT_MOD_Yf_TILED },
  { name: 'INVALID', modifier: DRM_FORMAT_MOD_INVALID },
];

/** "I915_X_TILED", or "0x0100000000000009" for a modifier this table lacks. */
export function modifierName(modifier: bigint): string {
  return MODIFIERS.find((m) => m.modifier === modifier)?.name ?? `0x${modifier.toString(16).padStart(16, '0')}`;
}
