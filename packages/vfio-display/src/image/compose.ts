// Pictures made of pictures: a cursor blended onto the primary plane, and two
// frames side by side (e.g. what the guest drew and what KMS scanned out),
// with an optional third panel marking where they differ.
import { InvalidArgumentError } from '../errors.js';
import type { RgbaImage } from './convert.js';
import { checkInt, MAX_DIMENSION } from './tiling.js';

/** Where a cursor goes: a cursor PlaneInfo has these fields. */
export interface CursorPlacement {
  /**
   * Top left of the cursor image on the primary: the cursor plane's x_pos,
   * y_pos, which GVT-g takes from the CURPOS register (the image's position,
   * not the pointer's; the hotspot only says where in the image the pointer is).
   */
  readonly x: number;
  readonly y: number;
  /**
   * How the cursor's colour relates to its alpha. Default 'premultiplied':
   * DRM assumes premultiplied alpha for planes (drm_blend.c,
   * drm_plane_create_blend_mode_property), and that is what guests upload.
   */
  readonly alpha?: 'premultiplied' | 'straight';
}

function checkImage(what: string, image: RgbaImage): void {
  checkInt(`${what} width`, image.width, 1, MAX_DIMENSION);
  checkInt(`${what} height`, image.height, 1, MAX_DIMENSION);
  if (image.data.length < image.width * image.height * 4) {
    throw new InvalidArgumentError(`${what}: ${image.width}x${image.height} RGBA needs ${image.width * image.height * 4} bytes, the data has ${image.data.length}`);
  }
}

/**
 * A copy of `primary` with `cursor` blended over it ("over" operator), its
 * top-left at (x, y), clipped to the primary's edges (a cursor partly or
 * wholly outside is drawn partly or not at all).
 */
export function compositeCursor(primary: RgbaImage, cursor: RgbaImage, at: CursorPlacement): RgbaImage {
  checkImage('primary', primary);
  checkImage('cursor', cursor);
  if (!Number.isSafeInteger(at.x) || !Number.isSafeInteger(at.y)) {
    throw new InvalidArgumentError(`cursor position must be integers, not ${at.x},${at.y}`);
  }
  const left = at.x;
  const top = at.y;
  const out = primary.data.slice(0, primary.width * primary.height * 4);
  const straight = at.alpha === 'straight';
  const x0 = Math.max(0, -left);
  const x1 = Math.min(cursor.width, primary.width - left);
  const y0 = Math.max(0, -top);
  const y1 = Math.min(cursor.height, primary.height - top);
  for (let cy = y0; cy < y1; cy++) {
    for (let cx = x0; cx < x1; cx++) {
      const c = (cy * cursor.width + cx) * 4;
      const p = ((top + cy) * primary.width + left + cx) * 4;
      const a = (cursor.data[c + 3] ?? 0) / 255;
      const pa = (out[p + 3] ?? 0) / 255;
      const oa = a + pa * (1 - a);
      for (let k = 0; k < 3; k++) {
        const src = (cursor.data[c + k] ?? 0) * (straight ? a : 1);
        const dst = (out[p + k] ?? 0) * pa * (1 - a);
        out[p + k] = oa === 0 ? 0 : Math.min(255, Math.round((src + dst) / oa));
      }
      out[p + 3] = Math.round(oa * 255);
    }
  }
  return { width: primary.width, height: primary.height, data: out };
}

export interface CompareOptions {
  /** Add a third panel: differing pixels in `highlight`, equal ones dimmed. */
  readonly diff?: boolean;
  /** Per-channel difference (0-255) still counted as equal (default 0). */
  readonly tolerance?: number;
  /** Pixels between panels (default 8). */
  readonly gap?: number;
  /** Background and gap colour, 0xRRGGBBAA (default opaque dark gray 0x202020ff). */
  readonly background?: number;
  /** Colour of differing pixels in the diff panel, 0xRRGGBBAA (default opaque magenta). */
  readonly highlight?: number;
}

export interface Comparison extends RgbaImage {
  /** Pixels that differ beyond the tolerance, counting area covered by only one image. */
  readonly differing: number;
}

const bytesOf = (rgbaHex: number): [number, number, number, number] => [(rgbaHex >>> 24) & 0xff, (rgbaHex >>> 16) & 0xff, (rgbaHex >>> 8) & 0xff, rgbaHex & 0xff];

/**
 * `left` and `right` next to each other, top-aligned, on a background as tall
 * as the taller one; with `diff`, a third panel over the union of both sizes.
 */
export function compareImages(left: RgbaImage, right: RgbaImage, options: CompareOptions = {}): Comparison {
  checkImage('left', left);
  checkImage('right', right);
  const gap = checkInt('gap', options.gap ?? 8, 0, 1024);
  const tolerance = checkInt('tolerance', options.tolerance ?? 0, 0, 255);
  const diffW = Math.max(left.width, right.width);
  const height = Math.max(left.height, right.height);
  const width = left.width + gap + right.width + (options.diff === true ? gap + diffW : 0);
  checkInt('comparison width', width, 1, 3 * MAX_DIMENSION + 2048);
  const data = new Uint8Array(width * height * 4);
  const bg = bytesOf(options.background ?? 0x202020ff);
  for (let i = 0; i < data.length; i += 4) data.set(bg, i);
  const blit = (image: RgbaImage, x: number): void => {
    for (let y = 0; y < image.height; y++) {
      data.set(image.data.subarray(y * image.width * 4, (y + 1) * image.width * 4), (y * width + x) * 4);
    }
  };
  blit(left, 0);
  blit(right, left.width + gap);
  let differing = 0;
  const mark = bytesOf(options.highlight ?? 0xff00ffff);
  const dx = left.width + gap + right.width + gap;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < diffW; x++) {
      const inL = x < left.width && y < left.height;
      const inR = x < right.width && y < right.height;
      if (!inL && !inR) continue;
      const l = (y * left.width + x) * 4;
      const r = (y * right.width + x) * 4;
      let same = inL && inR;
      for (let k = 0; same && k < 4; k++) same = Math.abs((left.data[l + k] ?? 0) - (right.data[r + k] ?? 0)) <= tolerance;
      if (!same) differing++;
      if (options.diff !== true) continue;
      const o = (y * width + dx + x) * 4;
      if (!same) {
        data.set(mark, o);
      } else {
        // The left image at a quarter brightness, so differences stand out against it.
        for (let k = 0; k < 3; k++) data[o + k] = (left.data[l + k] ?? 0) >> 2;
        data[o + 3] = 255;
      }
    }
  }
  return { width, height, data, differing };
}
