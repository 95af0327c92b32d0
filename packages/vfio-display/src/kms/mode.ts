// Display modes: drm_mode_modeinfo decoded and encoded (the bytes of a
// MODE_ID blob), and the choice of a mode for a guest of a given size.
import { decode, encode, viewOf } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';

/** drm_mode_modeinfo, in camelCase. */
export interface ModeInfo {
  readonly name: string;
  /** Pixel clock in kHz. */
  readonly clock: number;
  readonly hdisplay: number;
  readonly hsyncStart: number;
  readonly hsyncEnd: number;
  readonly htotal: number;
  readonly hskew: number;
  readonly vdisplay: number;
  readonly vsyncStart: number;
  readonly vsyncEnd: number;
  readonly vtotal: number;
  readonly vscan: number;
  /** Rounded refresh rate in Hz, as the kernel reports it. */
  readonly vrefresh: number;
  /** DRM_MODE_FLAG_* (sync polarities, interlace, ...). */
  readonly flags: number;
  /** DRM_MODE_TYPE_* (PREFERRED, DRIVER, USERDEF). */
  readonly type: number;
}

/** The drm_mode_modeinfo at `offset`; RangeError if fewer than its 68 bytes are there. */
export function decodeModeInfo(bytes: Uint8Array, offset = 0): ModeInfo {
  const m = decode(d.drm_mode_modeinfo, viewOf(bytes), offset);
  return {
    name: m.name,
    clock: m.clock,
    hdisplay: m.hdisplay,
    hsyncStart: m.hsync_start,
    hsyncEnd: m.hsync_end,
    htotal: m.htotal,
    hskew: m.hskew,
    vdisplay: m.vdisplay,
    vsyncStart: m.vsync_start,
    vsyncEnd: m.vsync_end,
    vtotal: m.vtotal,
    vscan: m.vscan,
    vrefresh: m.vrefresh,
    flags: m.flags,
    type: m.type,
  };
}

/** The 68 bytes of drm_mode_modeinfo (the content of a MODE_ID blob). */
export function encodeModeInfo(mode: ModeInfo): Uint8Array {
  return encode(d.drm_mode_modeinfo, {
    name: mode.name,
    clock: mode.clock,
    hdisplay: mode.hdisplay,
    hsync_start: mode.hsyncStart,
    hsync_end: mode.hsyncEnd,
    htotal: mode.htotal,
    hskew: mode.hskew,
    vdisplay: mode.vdisplay,
    vsync_start: mode.vsyncStart,
    vsync_end: mode.vsyncEnd,
    vtotal: mode.vtotal,
    vscan: mode.vscan,
    vrefresh: mode.vrefresh,
    flags: mode.flags,
    type: mode.type,
  });
}

/** The exact refresh rate in Hz (the kernel's vrefresh is rounded). */
export function refreshRate(mode: ModeInfo): number {
  if (mode.htotal === 0 || mode.vtotal === 0) return 0;
  let rate = (mode.clock * 1000) / (mode.htotal * mode.vtotal);
  if (mode.flags & d.DRM_MODE_FLAG_INTERLACE) rate *= 2;
  if (mode.flags & d.DRM_MODE_FLAG_DBLSCAN) rate /= 2;
  if (mode.vscan > 1) rate /= mode.vscan;
  return rate;
}

export const isPreferred = (mode: ModeInfo): boolean => (mode.type & d.DRM_MODE_TYPE_PREFERRED) !== 0;

export interface ModeRequest {
  readonly width: number;
  readonly height: number;
  /** Hz; default: the preferred mode's rate among equals, else the one nearest 60. */
  readonly refresh?: number | undefined;
}

/**
 * The mode to show a `width` x `height` image on, from a connector's list:
 * 1. that exact size (progressive before interlaced; the refresh nearest the
 *    one asked for, else the preferred mode, else the one nearest 60 Hz);
 * 2. else the smallest mode that contains it (the image is centred 1:1 on
 *    planes that cannot scale, as vkms 6.12's cannot);
 * 3. else the largest mode (the image is scaled down or cropped).
 * Undefined for an empty list.
 */
export function chooseMode(modes: readonly ModeInfo[], want: ModeRequest): ModeInfo | undefined {
  const area = (m: ModeInfo): number => m.hdisplay * m.vdisplay;
  const interlaced = (m: ModeInfo): number => (m.flags & d.DRM_MODE_FLAG_INTERLACE ? 1 : 0);
  const refreshCost = (m: ModeInfo): number => Math.abs(refreshRate(m) - (want.refresh ?? 60));
  const byFit = (a: ModeInfo, b: ModeInfo): number =>
    interlaced(a) - interlaced(b) ||
    (want.refresh === undefined ? Number(isPreferred(b)) - Number(isPreferred(a)) : 0) ||
    refreshCost(a) - refreshCost(b);

  const exact = modes.filter((m) => m.hdisplay === want.width && m.vdisplay === want.height);
  if (exact.length) return [...exact].sort(byFit)[0];
  const containing = modes.filter((m) => m.hdisplay >= want.width && m.vdisplay >= want.height);
  if (containing.length) return [...containing].sort((a, b) => area(a) - area(b) || byFit(a, b))[0];
  return [...modes].sort((a, b) => area(b) - area(a) || byFit(a, b))[0];
}
