// Intel tiled framebuffers (the modifiers GVT-g's dmabuf.c reports) and their
// conversion to linear rows.
//
// Layouts (include/uapi/drm/drm_fourcc.h; mesa docs/isl/tiling.rst gives the
// bit patterns): a surface is a row-major grid of 4 KiB tiles, `stride / tile
// width` tiles per row of tiles.
//  - X: 512 bytes x 8 rows, rows stored one after another.
//    offset in tile = v[2:0] << 9 | u[8:0]           (u: byte column, v: row)
//  - Y: 128 bytes x 32 rows, stored as eight 16-byte (OWord) columns, each
//    column's 32 rows consecutive.
//    offset in tile = u[6:4] << 9 | v[4:0] << 4 | u[3:0]
//  - Yf: not supported. Its tile shape depends on bytes per pixel (i915
//    intel_tile_width_bytes(): 64 B wide for 1 byte per pixel, 128 B for 2 and
//    4), but the order of the pixel blocks inside the tile is given only by
//    the Skylake PRM's table, which we could not check: the uapi comment leaves
//    the order of the 64-byte blocks inside a 256-byte unit open, mesa's isl
//    defers to that PRM table and its tiled_memcpy has no Yf. Guessing would
//    give plausible but scrambled pictures, so Yf throws UnsupportedError.
//
// Bit-6 swizzling: none. GVT-g runs on gen8+ only (intel_gvt.c
// is_supported_device: BDW, SKL, KBL, BXT, CFL, CML), and Linux 6.12's
// detect_bit_6_swizzle() sets I915_BIT_6_SWIZZLE_NONE for GRAPHICS_VER >= 8
// ("On BDW+, swizzling is not used"); the guest's i915 sees the same graphics
// version and so makes the same choice, and GVT-g emulates no swizzle control.
import { InvalidArgumentError, UnsupportedError } from '../errors.js';
import { DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED, I915_FORMAT_MOD_Yf_TILED, modifierName } from '../uapi/drm_fourcc.js';
import { Arena, IDENTITY, NO_OR, type TileShape } from './simd.js';

export const TILE_BYTES = 4096;

export interface Tiling {
  readonly modifier: bigint;
  /** Bytes per tile row (stride must be a multiple), or 1 for linear. */
  readonly widthBytes: number;
  /** Rows per tile (GVT-g rounds the buffer's height up to it), or 1. */
  readonly height: number;
  /** The tile's storage for the gather loop; null for linear. */
  readonly shape: TileShape | null;
}

const LINEAR: Tiling = { modifier: DRM_FORMAT_MOD_LINEAR, widthBytes: 1, height: 1, shape: null };
const X_TILED: Tiling = { modifier: I915_FORMAT_MOD_X_TILED, widthBytes: 512, height: 8, shape: { log2Width: 9, log2Height: 3, log2Unit: 9 } };
const Y_TILED: Tiling = { modifier: I915_FORMAT_MOD_Y_TILED, widthBytes: 128, height: 32, shape: { log2Width: 7, log2Height: 5, log2Unit: 4 } };

/** The tiling of a DRM format modifier; UnsupportedError for Yf and others. */
export function tilingOf(modifier: bigint): Tiling {
  switch (modifier) {
    case DRM_FORMAT_MOD_LINEAR:
      return LINEAR;
    case I915_FORMAT_MOD_X_TILED:
      return X_TILED;
    case I915_FORMAT_MOD_Y_TILED:
      return Y_TILED;
    case I915_FORMAT_MOD_Yf_TILED:
      throw new UnsupportedError(
        'I915_FORMAT_MOD_Yf_TILED framebuffers cannot be detiled: the order of pixel blocks inside a Yf tile depends on bytes per pixel and is not verified here (only X and Y tiling are)',
      );
    default:
      throw new UnsupportedError(`the framebuffer modifier ${modifierName(modifier)} is not supported (linear, I915 X- and Y-tiled are)`);
  }
}

/**
 * The byte offset of byte column `xb`, row `y` of a surface stored with
 * `modifier` and `stride` bytes per row: the tile map, one byte at a time.
 */
export function tiledOffset(modifier: bigint, stride: number, xb: number, y: number): number {
  const t = tilingOf(modifier);
  if (t.shape === null) return y * stride + xb;
  const { log2Width, log2Height, log2Unit } = t.shape;
  const tile = (y >> log2Height) * (stride >> log2Width) + (xb >> log2Width);
  const column = (xb & (t.widthBytes - 1)) >> log2Unit;
  const inTile = (column << (log2Unit + log2Height)) | ((y & (t.height - 1)) << log2Unit) | (xb & ((1 << log2Unit) - 1));
  return tile * TILE_BYTES + inTile;
}

/** Largest width, height (pixels) and stride (bytes) accepted: DRM's own limits are far below. */
export const MAX_DIMENSION = 16384;
export const MAX_STRIDE = 1 << 20;

export function checkInt(what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}, not ${String(value)}`);
  }
  return value;
}

export interface Surface {
  /** The buffer, e.g. a dma-buf mapping; only read. */
  readonly bytes: Uint8Array;
  /** Bytes per row of the linear image (for tiled: of the whole surface). */
  readonly stride: number;
  readonly modifier?: bigint;
}

/** Where the rows [y0, y0 + rows) of a surface start in `bytes`, checked against its length. */
export interface RowSpan {
  readonly tiling: Tiling;
  /** First byte of the tile row (tiled) or row (linear) holding y0. */
  readonly first: number;
  /** y0 relative to `first`. */
  readonly y0: number;
}

/** Checks a surface's geometry for rows [y0, y0 + rows) and bytes [xb0, xb1) of each. */
export function rowSpan(surface: Surface, y0: number, rows: number, xb1: number): RowSpan {
  const tiling = tilingOf(surface.modifier ?? DRM_FORMAT_MOD_LINEAR);
  const stride = checkInt('stride', surface.stride, 1, MAX_STRIDE);
  if (xb1 > stride) throw new InvalidArgumentError(`stride ${stride} is smaller than the ${xb1} bytes a row needs`);
  if (stride % tiling.widthBytes !== 0) {
    throw new InvalidArgumentError(`stride ${stride} of a ${modifierName(tiling.modifier)} surface must be a multiple of its tile width, ${tiling.widthBytes} bytes`);
  }
  const last = y0 + rows - 1;
  const first = (y0 - (y0 % tiling.height)) * stride;
  const end = tiling.shape === null ? last * stride + xb1 : (last - (last % tiling.height) + tiling.height) * stride;
  if (end > surface.bytes.length) {
    throw new InvalidArgumentError(`the buffer has ${surface.bytes.length} bytes, rows up to ${last} with stride ${stride} (${modifierName(tiling.modifier)}) need ${end}`);
  }
  return { tiling, first, y0: y0 % tiling.height };
}

/**
 * Copies bytes [xb0, xb1) of rows [y0, y0 + rows) of a surface to `at` in
 * `arena`, xb1 - xb0 bytes per row. Tiled surfaces go one row of tiles at a
 * time through a staging region small enough to stay in cache, where the SIMD
 * loop gathers them, applying the arena's byte shuffle on the way (the identity
 * unless the caller set one and `shuffled` is true). Returns whether it did.
 */
export function gatherRows(arena: Arena, surface: Surface, span: RowSpan, rows: number, xb0: number, xb1: number, at: number, shuffled: boolean): boolean {
  const rowBytes = xb1 - xb0;
  const { stride } = surface;
  const shape = span.tiling.shape;
  if (shape === null) {
    if (!shuffled) {
      copyRows(surface, span.first + xb0, rows, rowBytes, arena.bytes, at);
      return false;
    }
    // Staged too: shuffling the copy in place would read and write it all once more.
    const chunk = stagedRows(rowBytes, rows);
    const stage = arena.alloc(chunk * rowBytes);
    for (let r = 0; r < rows; r += chunk) {
      const n = Math.min(chunk, rows - r);
      copyRows(surface, span.first + r * stride + xb0, n, rowBytes, arena.bytes, stage);
      arena.shuffle(stage, at + r * rowBytes, n * rowBytes);
    }
    return true;
  }
  const th = span.tiling.height;
  const band = stride * th;
  const stage = arena.alloc(band);
  // An origin inside an OWord: gather from the OWord before it into rows of
  // `wide` bytes, then drop the lead.
  const lead = xb0 % 16;
  const wide = lead === 0 ? rowBytes : Math.ceil((rowBytes + lead) / 16) * 16;
  const to = lead === 0 ? at : arena.alloc(wide * rows);
  if (lead !== 0) arena.masks(IDENTITY, NO_OR);
  for (let first = 0; first < span.y0 + rows; first += th) {
    arena.bytes.set(surface.bytes.subarray(span.first + (first / th) * band, span.first + (first / th + 1) * band), stage);
    const y = Math.max(span.y0, first);
    const n = Math.min(span.y0 + rows, first + th) - y;
    arena.gather(stage, stride / span.tiling.widthBytes, shape, y - first, n, xb0 - lead, xb1, to + (y - span.y0) * wide, wide);
  }
  if (lead === 0) return shuffled;
  for (let r = 0; r < rows; r++) {
    const from = to + r * wide + lead;
    arena.bytes.copyWithin(at + r * rowBytes, from, from + rowBytes);
  }
  return false;
}

/** Bytes of linear rows staged at a time: well inside a core's L2 cache. */
const STAGE_BYTES = 128 * 1024;
const stagedRows = (rowBytes: number, rows: number): number => Math.min(rows, Math.max(1, Math.floor(STAGE_BYTES / rowBytes)));

function copyRows(surface: Surface, from: number, rows: number, rowBytes: number, to: Uint8Array, at: number): void {
  if (rowBytes === surface.stride) {
    to.set(surface.bytes.subarray(from, from + rows * rowBytes), at);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const start = from + r * surface.stride;
    to.set(surface.bytes.subarray(start, start + rowBytes), at + r * rowBytes);
  }
}

/** Arena bytes for gatherRows' own regions. */
export function gatherSize(span: RowSpan, rows: number, xb0: number, xb1: number, stride: number): number {
  if (span.tiling.shape === null) return Arena.size(stagedRows(xb1 - xb0, rows) * (xb1 - xb0));
  const lead = xb0 % 16;
  return Arena.size(stride * span.tiling.height) + (lead === 0 ? 0 : Arena.size(Math.ceil((xb1 - xb0 + lead) / 16) * 16 * rows));
}

export interface DetileOptions {
  /** First row (default 0). */
  readonly y?: number;
  /** Rows to convert (default: the rest of `height`). */
  readonly rows?: number;
}

/**
 * Rows [y, y + rows) of a surface `height` rows high as linear rows of
 * `stride` bytes, in `arena`'s memory (valid until its next use).
 */
export function detileInto(arena: Arena, surface: Surface & { readonly height: number }, options: DetileOptions = {}): Uint8Array {
  const height = checkInt('height', surface.height, 1, MAX_DIMENSION);
  const y = checkInt('y', options.y ?? 0, 0, height - 1);
  const rows = checkInt('rows', options.rows ?? height - y, 1, height - y);
  const span = rowSpan(surface, y, rows, surface.stride);
  const size = rows * surface.stride;
  arena.reset(Arena.size(size) + gatherSize(span, rows, 0, surface.stride, surface.stride));
  const at = arena.alloc(size);
  arena.masks(IDENTITY, NO_OR);
  gatherRows(arena, surface, span, rows, 0, surface.stride, at, false);
  return arena.bytes.subarray(at, at + size);
}

/**
 * A tiled surface as linear rows of `stride` bytes (a linear one comes back
 * copied), in memory of its own. FrameConverter.detile reuses memory instead.
 */
export function detile(surface: Surface & { readonly height: number }, options: DetileOptions = {}): Uint8Array {
  return detileInto(new Arena(), surface, options);
}
