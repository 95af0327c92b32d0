// Where a guest plane goes on a host CRTC: the source rectangle inside the
// guest's buffer and the destination rectangle on the CRTC, for the ways a
// host can show a guest mode that differs from its own. Pure arithmetic,
// no kernel: directFlip turns the result into SRC_* / CRTC_* properties.
import type { Rect } from '../kms/atomic.js';
import { scanoutProblem, type KmsPlane } from '../kms/card.js';
import type { FramebufferLayout } from '../kms/framebuffer.js';
import { DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR, formatInfo } from '../uapi/drm_fourcc.js';

/** The visible part of a guest plane: its size and (extended info) its origin in the buffer. */
export interface GuestGeometry {
  readonly width: number;
  readonly height: number;
  readonly srcX?: number | undefined;
  readonly srcY?: number | undefined;
}

export interface Size {
  readonly width: number;
  readonly height: number;
}

/**
 * - 'center': 1:1, centred; a guest larger than the CRTC is cropped around its centre.
 * - 'scale': as large as fits with the guest's aspect ratio, centred (needs a scaling plane).
 * - 'stretch': the whole CRTC (needs a scaling plane).
 */
export type Fit = 'center' | 'scale' | 'stretch';

export interface Placement {
  /** In guest buffer pixels (SRC_* are these in 16.16). */
  readonly src: Rect;
  /** On the CRTC, in host pixels. */
  readonly crtc: Rect;
}

/** Whether a placement shows the guest 1:1 (no scaling needed). */
export function isUnscaled(p: Placement): boolean {
  return p.src.width === p.crtc.width && p.src.height === p.crtc.height;
}

/** One axis of 'center': [srcOffset, srcLength, crtcOffset, crtcLength]. */
function centerAxis(guest: number, host: number): [number, number, number, number] {
  if (guest <= host) return [0, guest, Math.floor((host - guest) / 2), guest];
  return [Math.floor((guest - host) / 2), host, 0, host];
}

export function placePlane(guest: GuestGeometry, crtc: Size, fit: Fit): Placement {
  const { width, height, srcX = 0, srcY = 0 } = guest;
  if (width <= 0 || height <= 0 || crtc.width <= 0 || crtc.height <= 0) {
    throw new RangeError(`cannot place a ${width}x${height} plane on a ${crtc.width}x${crtc.height} CRTC`);
  }
  const whole: Rect = { x: srcX, y: srcY, width, height };
  switch (fit) {
    case 'center': {
      const [sx, sw, cx, cw] = centerAxis(width, crtc.width);
      const [sy, sh, cy, ch] = centerAxis(height, crtc.height);
      return { src: { x: srcX + sx, y: srcY + sy, width: sw, height: sh }, crtc: { x: cx, y: cy, width: cw, height: ch } };
    }
    case 'scale': {
      const s = Math.min(crtc.width / width, crtc.height / height);
      const cw = Math.max(1, Math.round(width * s));
      const ch = Math.max(1, Math.round(height * s));
      return { src: whole, crtc: { x: Math.floor((crtc.width - cw) / 2), y: Math.floor((crtc.height - ch) / 2), width: cw, height: ch } };
    }
    case 'stretch':
      return { src: whole, crtc: { x: 0, y: 0, width: crtc.width, height: crtc.height } };
  }
}

export interface GuestCursor {
  /** Top left of the cursor image on the guest screen (GVT-g: the CURPOS register). */
  readonly x: number;
  readonly y: number;
  /** The pointer's hotspot inside the image, or null where the device gives none. */
  readonly hotspot: { readonly x: number; readonly y: number } | null;
}

/**
 * The host CRTC position of the cursor image's top left, given where the
 * primary plane was placed: the pointer (image + hotspot) moves with the
 * scaled primary; the image itself is not scaled.
 */
export function placeCursor(cursor: GuestCursor, primary: Placement, guestOrigin: { srcX?: number | undefined; srcY?: number | undefined } = {}): { x: number; y: number } {
  const scaleX = primary.crtc.width / primary.src.width;
  const scaleY = primary.crtc.height / primary.src.height;
  // Guest screen coordinates are relative to the visible origin; the
  // primary's source rectangle may start further in (cropped 'center').
  const offsetX = primary.src.x - (guestOrigin.srcX ?? 0);
  const offsetY = primary.src.y - (guestOrigin.srcY ?? 0);
  const hotX = cursor.hotspot?.x ?? 0;
  const hotY = cursor.hotspot?.y ?? 0;
  return {
    x: Math.round(primary.crtc.x + (cursor.x + hotX - offsetX) * scaleX) - hotX,
    y: Math.round(primary.crtc.y + (cursor.y + hotY - offsetY) * scaleY) - hotY,
  };
}

/** A guest plane's buffer as VFIO describes it. */
export interface GuestBuffer extends GuestGeometry {
  readonly drmFormat: number;
  readonly modifier: bigint;
  readonly stride: number;
}

/**
 * The host framebuffer of a guest buffer, and the guest geometry within it.
 * Linear memory is imported from its visible origin on, which the buffer
 * describes as the pixel (srcX, srcY) at srcY * stride + srcX * cpp bytes:
 * a guest may pan to any byte (mbochs), so its rows need not start at a
 * column of the buffer. Tiled buffers are imported whole and the origin
 * goes in the source rectangle.
 */
export function hostFramebuffer(plane: GuestBuffer): { readonly layout: FramebufferLayout; readonly geometry: GuestGeometry } {
  const { width, height, srcX = 0, srcY = 0, stride, drmFormat: format, modifier } = plane;
  const cpp = formatInfo(format)?.cpp;
  if ((modifier === DRM_FORMAT_MOD_LINEAR || modifier === DRM_FORMAT_MOD_INVALID) && cpp !== undefined) {
    return { layout: { width, height, format, modifier, stride, offset: srcY * stride + srcX * cpp }, geometry: { width, height } };
  }
  return { layout: { width: srcX + width, height: srcY + height, format, modifier, stride }, geometry: { width, height, srcX, srcY } };
}

/** The host cursor plane's limits: the card's cursor size hint (0: none) and whether it takes explicit modifiers. */
export interface CursorLimits {
  readonly width: number;
  readonly height: number;
  readonly modifiers: boolean;
}

/**
 * Why a host cursor plane cannot show a guest cursor (its format, modifier
 * or size), or null if it can. A cursor it cannot show is hidden, as QEMU
 * does, rather than ending the flip.
 */
export function cursorProblem(host: KmsPlane, limits: CursorLimits, cursor: { readonly drmFormat: number; readonly modifier: bigint } & Size): string | null {
  const problem = scanoutProblem(host, cursor.drmFormat, cursor.modifier, limits.modifiers);
  if (problem) return problem;
  if (limits.width > 0 && limits.height > 0 && (cursor.width > limits.width || cursor.height > limits.height)) {
    return `the guest's ${cursor.width}x${cursor.height} cursor is larger than the host cursor's ${limits.width}x${limits.height}`;
  }
  return null;
}
