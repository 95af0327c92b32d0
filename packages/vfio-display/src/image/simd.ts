// The two pixel-moving loops of image/, as a WebAssembly SIMD module built
// here from its opcodes (no toolchain, no binary in the repository). Plain JS
// moves one 32-bit pixel per loop iteration: a tenth to a fifth of memcpy's
// throughput on a 1920x1080 frame, measured while designing this; a 16-byte
// `i8x16.swizzle` per four pixels runs at memcpy's pace (docs/bench/image.json
// has the end-to-end ratios). The converted frame lives in the module's
// memory, and the caller gets a view of it, so nothing is copied out again.
// WebAssembly SIMD is in every Node this package supports (V8 needs SSE4.1 on
// x86-64, NEON on arm64).
//
// Memory layout: [0, 16) the byte-shuffle mask, [16, 32) a mask
// ORed in after it (forces alpha to 0xff for X formats), then the regions the
// caller places with `Arena.alloc`.

const I32 = 0x7f;
const V128 = 0x7b;

/** Unsigned LEB128, as the wasm binary format encodes indices and sizes. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128, for i32.const immediates. */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// The instructions the two functions use (WebAssembly core spec 2.0, SIMD).
const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];
const konst = (n: number): number[] => [0x41, ...sleb(n)];
const add = [0x6a];
const sub = [0x6b];
const mul = [0x6c];
const and = [0x71];
const shl = [0x74];
const shrU = [0x76];
const geU = [0x4f];
const eqz = [0x45];
const block = [0x02, 0x40];
const loop = [0x03, 0x40];
const end = [0x0b];
const ifThen = [0x04, 0x40];
const orElse = [0x05];
const br = (depth: number): number[] => [0x0c, depth];
const brIf = (depth: number): number[] => [0x0d, depth];
const v128Load = [0xfd, 0x00, 0x00, 0x00];
const v128Store = [0xfd, 0x0b, 0x00, 0x00];
const swizzle = [0xfd, 0x0e];
const v128Or = [0xfd, 0x50];
/** local[i] += n */
const bump = (i: number, n: number): number[] => [...get(i), ...konst(n), ...add, ...set(i)];

/** v128 at the top of the stack -> shuffled by local `m`, ORed with local `o`. */
const convert = (m: number, o: number): number[] => [...get(m), ...swizzle, ...get(o), ...v128Or];
const loadMasks = (m: number, o: number): number[] => [...konst(0), ...v128Load, ...set(m), ...konst(16), ...v128Load, ...set(o)];

/** shuffle(src, dst, count): converts `count` 16-byte vectors from src to dst (which may be src). */
function shuffleBody(): number[] {
  const [src, dst, count, m, o] = [0, 1, 2, 3, 4];
  return [
    ...vec([[2, V128]]),
    ...loadMasks(m, o),
    ...block, ...loop,
    ...get(count), ...eqz, ...brIf(1),
    ...get(dst), ...get(src), ...v128Load, ...convert(m, o), ...v128Store,
    ...bump(src, 16), ...bump(dst, 16), ...bump(count, -1),
    ...br(0), ...end, ...end,
    ...end,
  ];
}

/**
 * gather(src, tilesPerRow, log2TileHeight, log2Unit, y0, rows, xb0, xb1, dst,
 * dstStride): for each row y0..y0+rows, the bytes [xb0, xb1) of
 * a tiled surface, 16 at a time, converted, to dst + r * dstStride. A tile is
 * 4 KiB of (1 << log2TileHeight) rows, stored as columns of (1 << log2Unit) bytes, each column's rows consecutive (X: one
 * 512-byte column; Y: eight 16-byte OWord columns). Along a row, a unit's
 * bytes are consecutive and the next unit starts (unit << log2TileHeight)
 * bytes after the last one started, tile boundaries included, so the walk
 * needs no per-vector address arithmetic. xb0 is a multiple of 16; the last
 * vector of a row may run up to 15 bytes past xb1 - xb0.
 */
function gatherBody(): number[] {
  const [src, tpr, lTH, lU, y0, rows, xb0, xb1, dst, dstStride] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [r, y, s, dp, dpEnd, left, perUnit, jump, m, o] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  const pow2 = (log2: number): number[] => [...konst(1), ...get(log2), ...shl];
  const lowBits = (value: number, log2: number): number[] => [...get(value), ...pow2(log2), ...konst(-1), ...add, ...and];
  return [
    ...vec([[8, I32], [2, V128]]),
    ...loadMasks(m, o),
    // perUnit = unit / 16 vectors; jump = (unit << lTH) - unit + 16
    ...pow2(lU), ...konst(4), ...shrU, ...set(perUnit),
    ...pow2(lU), ...get(lTH), ...shl, ...pow2(lU), ...sub, ...konst(16), ...add, ...set(jump),
    ...konst(0), ...set(r),
    ...block, ...loop,
    ...get(r), ...get(rows), ...geU, ...brIf(1),
    ...get(y0), ...get(r), ...add, ...set(y),
    // s = src + (y >> lTH) * tpr * 4096 + (y & (TH - 1)) << lU
    //         + (xb0 >> lU) << (lU + lTH) + (xb0 & (unit - 1))
    ...get(src),
    ...get(y), ...get(lTH), ...shrU, ...get(tpr), ...mul, ...konst(12), ...shl, ...add,
    ...lowBits(y, lTH), ...get(lU), ...shl, ...add,
    ...get(xb0), ...get(lU), ...shrU, ...get(lU), ...get(lTH), ...add, ...shl, ...add,
    ...lowBits(xb0, lU), ...add,
    ...set(s),
    // left = vectors from xb0 to the end of its unit
    ...pow2(lU), ...lowBits(xb0, lU), ...sub, ...konst(4), ...shrU, ...set(left),
    ...get(dst), ...get(r), ...get(dstStride), ...mul, ...add, ...set(dp),
    ...get(dp), ...get(xb1), ...add, ...get(xb0), ...sub, ...set(dpEnd),
    ...block, ...loop,
    ...get(dp), ...get(dpEnd), ...geU, ...brIf(1),
    ...get(dp), ...get(s), ...v128Load, ...convert(m, o), ...v128Store,
    ...bump(dp, 16), ...bump(left, -1),
    ...get(left), ...eqz, ...ifThen,
    ...get(s), ...get(jump), ...add, ...set(s), ...get(perUnit), ...set(left),
    ...orElse,
    ...bump(s, 16),
    ...end,
    ...br(0), ...end, ...end,
    ...bump(r, 1),
    ...br(0), ...end, ...end,
    ...end,
  ];
}

function moduleBytes(): Uint8Array {
  const code = (body: number[]): number[] => [...uleb(body.length), ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([
      [0x60, ...vec([[I32], [I32], [I32]]), ...vec([])],
      [0x60, ...vec(Array.from({ length: 10 }, () => [I32])), ...vec([])],
    ])),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [1]])),
    ...section(7, vec([[...name('shuffle'), 0x00, 0], [...name('gather'), 0x00, 1]])),
    ...section(10, vec([code(shuffleBody()), code(gatherBody())])),
  ]);
}

// The WebAssembly global Node provides; @types/node 20 leaves it to lib.dom,
// which a Node library should not pull in, so the little used here is typed here.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer; grow(pages: number): number };
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
let compiled: object | undefined;

interface Exports {
  shuffle(src: number, dst: number, count: number): void;
  gather(src: number, tilesPerRow: number, log2TileHeight: number, log2Unit: number, y0: number, rows: number, xb0: number, xb1: number, dst: number, dstStride: number): void;
}

/** How a tiled surface is stored. */
export interface TileShape {
  /** log2 of the tile's width in bytes. */
  readonly log2Width: number;
  readonly log2Height: number;
  /** log2 of the bytes of one column's row (X: the whole tile width; Y: 16). */
  readonly log2Unit: number;
}

const PAGE = 65536;
/** Room after every region for the last vector of a row that runs past it. */
export const SLACK = 16;

/**
 * Wasm memory that conversions place their regions in, reused from one frame
 * to the next: a fresh 8 MiB buffer per frame costs more in page faults than
 * the conversion itself (docs/bench/image.json, "memcpy into a new
 * Uint8Array"). Growing it detaches views of earlier results, which `reset`'s
 * callers document as valid only until their next call.
 */
export class Arena {
  #memory: { readonly buffer: ArrayBuffer; grow(pages: number): number } | undefined;
  #fns: Exports | undefined;
  #view = new Uint8Array(0);
  #next = 32;

  /** The whole memory; fetch it again after reset(). */
  get bytes(): Uint8Array {
    return this.#view;
  }

  /** Makes room for `totalBytes` of regions and forgets the previous ones. */
  reset(totalBytes: number): void {
    const pages = Math.ceil((totalBytes + 32) / PAGE);
    if (this.#memory === undefined) {
      compiled ??= new wasm.Module(moduleBytes());
      this.#memory = new wasm.Memory({ initial: pages });
      this.#fns = new wasm.Instance(compiled, { env: { memory: this.#memory } }).exports as Exports;
    } else if (this.#memory.buffer.byteLength < pages * PAGE) {
      this.#memory.grow(pages - this.#memory.buffer.byteLength / PAGE);
    }
    this.#view = new Uint8Array(this.#memory.buffer);
    this.#next = 32;
  }

  /** Reserves `size` bytes (plus SLACK), 16-byte aligned; returns the offset. */
  alloc(size: number): number {
    const at = this.#next;
    this.#next += Arena.size(size);
    if (this.#next > this.#view.length) throw new RangeError('image arena: region past the end of its memory');
    return at;
  }

  /** Bytes reset() needs for regions of these sizes. */
  static size(...regions: number[]): number {
    return regions.reduce((total, size) => total + Math.ceil((size + SLACK) / 16) * 16, 0);
  }

  /** Sets the byte shuffle (16 indices, >= 16 gives 0) and the OR mask. */
  masks(shuffle: ArrayLike<number>, or: ArrayLike<number>): void {
    this.#view.set(shuffle, 0);
    this.#view.set(or, 16);
  }

  /** Converts `size` bytes (rounded up to 16) from src to dst; they may be the same. */
  shuffle(src: number, dst: number, size: number): void {
    this.#exports().shuffle(src, dst, Math.ceil(size / 16));
  }

  gather(src: number, tilesPerRow: number, tile: TileShape, y0: number, rows: number, xb0: number, xb1: number, dst: number, dstStride: number): void {
    this.#exports().gather(src, tilesPerRow, tile.log2Height, tile.log2Unit, y0, rows, xb0, xb1, dst, dstStride);
  }

  #exports(): Exports {
    if (this.#fns === undefined) throw new RangeError('image arena: reset() first');
    return this.#fns;
  }
}

/** Byte shuffle that leaves every byte where it is. */
export const IDENTITY: readonly number[] = Array.from({ length: 16 }, (_, i) => i);
export const NO_OR: readonly number[] = new Array<number>(16).fill(0);

/** The 16-byte shuffle that applies a 4-byte pixel permutation to four pixels. */
export function pixelShuffle(perPixel: readonly [number, number, number, number]): number[] {
  return Array.from({ length: 16 }, (_, i) => (i & ~3) + (perPixel[i & 3] ?? 0));
}

/** The OR mask that sets byte `index` of every 4-byte pixel to 0xff. */
export function pixelOr(index: number | null): number[] {
  return Array.from({ length: 16 }, (_, i) => (index !== null && (i & 3) === index ? 0xff : 0));
}
