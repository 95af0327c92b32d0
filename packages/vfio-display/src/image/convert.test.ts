// Every format against pixel values worked out by hand from drm_fourcc.h's
// layouts, then cropping and tiled sources against the linear result.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, UnsupportedError } from '../errors.js';
import * as fourcc from '../uapi/drm_fourcc.js';
import { canConvert, FrameConverter, toRgba, type Frame } from './convert.js';
import { tiledOffset, tilingOf } from './tiling.js';

/** One row of `pixels` given as the bytes of each pixel, converted. */
function row(format: number, ...pixels: number[][]): number[] {
  const bytes = Uint8Array.from(pixels.flat());
  return [...toRgba({ bytes, width: pixels.length, height: 1, stride: bytes.length, drmFormat: format }).data];
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const le16 = (v: number): number[] => [v & 0xff, v >>> 8];

test('every format in FORMATS converts', () => {
  for (const f of fourcc.FORMATS) assert.ok(canConvert(f.fourcc), f.name);
});

test('8:8:8:8: byte order per DRM, X formats opaque, alpha kept', () => {
  // XRGB8888 is B, G, R, X in memory.
  assert.deepEqual(row(fourcc.DRM_FORMAT_XRGB8888, [0x10, 0x20, 0x30, 0x99], [1, 2, 3, 0]), [0x30, 0x20, 0x10, 255, 3, 2, 1, 255]);
  assert.deepEqual(row(fourcc.DRM_FORMAT_ARGB8888, [0x10, 0x20, 0x30, 0x80]), [0x30, 0x20, 0x10, 0x80]);
  // XBGR8888 is R, G, B, X.
  assert.deepEqual(row(fourcc.DRM_FORMAT_XBGR8888, [0x30, 0x20, 0x10, 0x00]), [0x30, 0x20, 0x10, 255]);
  assert.deepEqual(row(fourcc.DRM_FORMAT_ABGR8888, [0x30, 0x20, 0x10, 0x40]), [0x30, 0x20, 0x10, 0x40]);
  // Widths that are not a multiple of the 4-pixel SIMD vector.
  const five = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16], [17, 18, 19, 20]];
  assert.deepEqual(row(fourcc.DRM_FORMAT_ARGB8888, ...five), five.flatMap(([b, g, r, a]) => [r ?? 0, g ?? 0, b ?? 0, a ?? 0]));
});

test('2:10:10:10: 10-bit channels rounded to nearest, 2-bit alpha scaled', () => {
  const word = (a: number, hi: number, g: number, lo: number): number[] => le32(((a << 30) | (hi << 20) | (g << 10) | lo) >>> 0);
  // 1023 -> 255; 512 -> round(127.62) = 128; 2 -> round(0.50) = 0 (0.4985); 3 -> round(0.75) = 1.
  // 1020 -> round(254.25) = 254 (truncating >> 2 would give 255); 1021 -> round(254.50) = 255; 511 -> 127.
  assert.deepEqual(row(fourcc.DRM_FORMAT_XRGB2101010, word(0, 1023, 512, 2), word(3, 1020, 511, 3)), [255, 128, 0, 255, 254, 127, 1, 255]);
  assert.deepEqual(row(fourcc.DRM_FORMAT_XBGR2101010, word(0, 2, 512, 1023), word(0, 3, 1021, 1020)), [255, 128, 0, 255, 254, 255, 1, 255]);
  // Alpha 0..3 -> 0, 85, 170, 255.
  assert.deepEqual(
    row(fourcc.DRM_FORMAT_ARGB2101010, word(0, 0, 0, 1023), word(1, 0, 0, 0), word(2, 1023, 0, 0), word(3, 0, 1023, 0)),
    [0, 0, 255, 0, 0, 0, 0, 85, 255, 0, 0, 170, 0, 255, 0, 255],
  );
  assert.deepEqual(row(fourcc.DRM_FORMAT_ABGR2101010, word(2, 0, 0, 1023)), [255, 0, 0, 170]);
});

test('RGB565: 5 and 6 bits rounded to nearest', () => {
  // R 31 -> 255, G 32 -> round(129.52) = 130, B 1 -> round(8.23) = 8; R 16 -> round(131.61) = 132, G 63 -> 255, B 0.
  assert.deepEqual(row(fourcc.DRM_FORMAT_RGB565, le16((31 << 11) | (32 << 5) | 1), le16((16 << 11) | (63 << 5))), [255, 130, 8, 255, 132, 255, 0, 255]);
});

test('RGB888 is B, G, R in memory; BGR888 is R, G, B', () => {
  assert.deepEqual(row(fourcc.DRM_FORMAT_RGB888, [0x10, 0x20, 0x30], [1, 2, 3]), [0x30, 0x20, 0x10, 255, 3, 2, 1, 255]);
  assert.deepEqual(row(fourcc.DRM_FORMAT_BGR888, [0x30, 0x20, 0x10]), [0x30, 0x20, 0x10, 255]);
});

test('C8: gray ramp by default, or the caller palette', () => {
  assert.deepEqual(row(fourcc.DRM_FORMAT_C8, [7], [255]), [7, 7, 7, 255, 255, 255, 255, 255]);
  const palette = new Array<number>(256).fill(0);
  palette[5] = 0x123456;
  const bytes = Uint8Array.of(5, 6);
  const rgba = toRgba({ bytes, width: 2, height: 1, stride: 2, drmFormat: fourcc.DRM_FORMAT_C8 }, { palette });
  assert.deepEqual([...rgba.data], [0x12, 0x34, 0x56, 255, 0, 0, 0, 255]);
  assert.throws(() => toRgba({ bytes, width: 2, height: 1, stride: 2, drmFormat: fourcc.DRM_FORMAT_C8 }, { palette: [1, 2] }), InvalidArgumentError);
});

test('packed 4:2:2: BT.601 limited range in each byte order, odd origins keep their chroma pair', () => {
  // Macropixel 0: Y 16 and 235 with neutral chroma -> black, white.
  // Macropixel 1: Y 81, Cb 90, Cr 240 (BT.601 red): R = (298*65 + 409*112 + 128) >> 8 = 255,
  // G = (298*65 + 100*38 - 208*112 + 128) >> 8 = 0, B = (298*65 - 516*38 + 128) >> 8 = -1 -> 0.
  const expected = [0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 255, 255, 0, 0, 255];
  const orders: [number, (y0: number, cb: number, y1: number, cr: number) => number[]][] = [
    [fourcc.DRM_FORMAT_YUYV, (y0, cb, y1, cr) => [y0, cb, y1, cr]],
    [fourcc.DRM_FORMAT_YVYU, (y0, cb, y1, cr) => [y0, cr, y1, cb]],
    [fourcc.DRM_FORMAT_UYVY, (y0, cb, y1, cr) => [cb, y0, cr, y1]],
    [fourcc.DRM_FORMAT_VYUY, (y0, cb, y1, cr) => [cr, y0, cb, y1]],
  ];
  for (const [format, pack] of orders) {
    const bytes = Uint8Array.from([...pack(16, 128, 235, 128), ...pack(81, 90, 81, 240)]);
    const frame: Frame = { bytes, width: 4, height: 1, stride: 8, drmFormat: format };
    assert.deepEqual([...toRgba(frame).data], expected, fourcc.fourccString(format));
    // Pixels 1..2: white from the first pair, red from the second.
    assert.deepEqual([...toRgba({ ...frame, width: 2, srcX: 1 }).data], expected.slice(4, 12), fourcc.fourccString(format));
    assert.deepEqual([...toRgba({ ...frame, width: 1, srcX: 3 }).data], expected.slice(12), fourcc.fourccString(format));
  }
});

/** A w x h XRGB8888 picture in a larger buffer, pixel (x, y) = B x, G y, R x + y. */
function xr24(stride: number, rows: number): Uint8Array {
  const bytes = new Uint8Array(stride * rows);
  for (let y = 0; y < rows; y++) for (let x = 0; x < stride / 4; x++) bytes.set([x & 0xff, y & 0xff, (x + y) & 0xff, 0], y * stride + x * 4);
  return bytes;
}
const expectXr24 = (x: number, y: number): number[] => [(x + y) & 0xff, y & 0xff, x & 0xff, 255];

test('srcX/srcY select the visible part of a larger buffer', () => {
  const bytes = xr24(24, 4); // 6 x 4 pixels
  const rgba = toRgba({ bytes, width: 3, height: 2, stride: 24, srcX: 2, srcY: 1, drmFormat: fourcc.DRM_FORMAT_XRGB8888 });
  assert.deepEqual([...rgba.data], [[2, 1], [3, 1], [4, 1], [2, 2], [3, 2], [4, 2]].flatMap(([x, y]) => expectXr24(x ?? 0, y ?? 0)));
  // The same for a format on the scalar path.
  const c8 = Uint8Array.from({ length: 24 }, (_, i) => i);
  assert.deepEqual([...toRgba({ bytes: c8, width: 2, height: 1, stride: 6, srcX: 4, srcY: 3, drmFormat: fourcc.DRM_FORMAT_C8 }).data], [22, 22, 22, 255, 23, 23, 23, 255]);
});

function retile(linear: Uint8Array, modifier: bigint, stride: number, rows: number): Uint8Array {
  const th = tilingOf(modifier).height;
  const tiled = new Uint8Array(stride * Math.ceil(rows / th) * th);
  for (let y = 0; y < rows; y++) for (let xb = 0; xb < stride; xb++) tiled[tiledOffset(modifier, stride, xb, y)] = linear[y * stride + xb] ?? 0;
  return tiled;
}

test('tiled sources: widths that are not tile multiples, origins inside tiles and inside OWords', () => {
  const cases: [bigint, number, number, number, number, number, number][] = [
    // modifier, stride, rows, width, height, srcX, srcY
    [fourcc.I915_FORMAT_MOD_X_TILED, 512, 10, 100, 10, 0, 0],
    [fourcc.I915_FORMAT_MOD_X_TILED, 1024, 20, 150, 11, 90, 5],
    [fourcc.I915_FORMAT_MOD_X_TILED, 1024, 20, 5, 3, 3, 17],
    [fourcc.I915_FORMAT_MOD_Y_TILED, 256, 40, 37, 40, 0, 0],
    [fourcc.I915_FORMAT_MOD_Y_TILED, 384, 70, 50, 33, 4, 31],
    [fourcc.I915_FORMAT_MOD_Y_TILED, 384, 70, 21, 6, 3, 60],
  ];
  const converter = new FrameConverter();
  for (const [modifier, stride, rows, width, height, srcX, srcY] of cases) {
    const tiled = retile(xr24(stride, rows), modifier, stride, rows);
    const want: number[] = [];
    for (let y = srcY; y < srcY + height; y++) for (let x = srcX; x < srcX + width; x++) want.push(...expectXr24(x, y));
    const frame: Frame = { bytes: tiled, width, height, stride, srcX, srcY, modifier, drmFormat: fourcc.DRM_FORMAT_XRGB8888 };
    const label = `${fourcc.modifierName(modifier)} ${width}x${height}+${srcX}+${srcY}`;
    assert.deepEqual([...toRgba(frame).data], want, label);
    assert.deepEqual([...converter.convert(frame).data], want, `${label} (reused memory)`);
  }
});

test('tiled sources on the scalar path equal the linear conversion', () => {
  const stride = 512; // a multiple of both tile widths
  const rows = 40;
  const linear = Uint8Array.from({ length: stride * rows }, (_, i) => (i * 31 + (i >> 9)) & 0xff);
  for (const modifier of [fourcc.I915_FORMAT_MOD_X_TILED, fourcc.I915_FORMAT_MOD_Y_TILED]) {
    const tiled = retile(linear, modifier, stride, rows);
    for (const format of [fourcc.DRM_FORMAT_RGB565, fourcc.DRM_FORMAT_XRGB2101010, fourcc.DRM_FORMAT_RGB888, fourcc.DRM_FORMAT_UYVY, fourcc.DRM_FORMAT_C8]) {
      const cpp = fourcc.formatInfo(format)?.cpp ?? 1;
      // Origins inside an OWord (5 * cpp is not a multiple of 16), widths not tile multiples.
      const frame = { width: Math.floor(400 / cpp) - 6, height: 30, srcX: 5, srcY: 7, drmFormat: format, stride };
      assert.deepEqual(toRgba({ ...frame, bytes: tiled, modifier }).data, toRgba({ ...frame, bytes: linear }).data, `${fourcc.fourccString(format)} ${fourcc.modifierName(modifier)}`);
    }
  }
});

test('unknown formats are UnsupportedError naming the fourcc', () => {
  const nv12 = fourcc.fourccCode('N', 'V', '1', '2');
  assert.throws(() => toRgba({ bytes: new Uint8Array(64), width: 4, height: 4, stride: 4, drmFormat: nv12 }), (e: unknown) => e instanceof UnsupportedError && e.message.includes('NV12'));
});

test('a linear origin at any pixel: rows start stride bytes apart from it, even across a row of the buffer (an mbochs pan)', () => {
  // 4 pixels a row in the buffer; the visible 4x2 starts at pixel (3, 1), so its rows wrap.
  const px = Uint32Array.from({ length: 16 }, (_, i) => 0xff000000 | i);
  const image = toRgba({ bytes: new Uint8Array(px.buffer), width: 4, height: 2, stride: 16, drmFormat: fourcc.DRM_FORMAT_XRGB8888, srcX: 3, srcY: 1 });
  const seen = Array.from({ length: 8 }, (_, i) => image.data[i * 4 + 2]);
  assert.deepEqual(seen, [7, 8, 9, 10, 11, 12, 13, 14]);
});

test('bad geometry is an InvalidArgumentError, never a read past the buffer', () => {
  const base: Frame = { bytes: new Uint8Array(4 * 4 * 4), width: 4, height: 4, stride: 16, drmFormat: fourcc.DRM_FORMAT_XRGB8888 };
  const bad = (frame: Partial<Frame>, pattern: RegExp): void => {
    assert.throws(() => toRgba({ ...base, ...frame }), (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message), pattern.source);
  };
  bad({ stride: 12 }, /stride 12 is smaller than the 16 bytes/);
  // Linear: the visible part starts at byte srcY * stride + srcX * cpp, and must end inside the buffer.
  bad({ srcX: 1 }, /has 60 bytes.*need 64/);
  bad({ bytes: new Uint8Array(63) }, /has 63 bytes.*need 64/);
  bad({ srcY: 1 }, /has 48 bytes.*need 64/);
  bad({ width: 0 }, /width must be an integer from 1 to 16384/);
  bad({ height: 16385 }, /height must be/);
  bad({ width: 2.5 }, /width must be/);
  bad({ srcX: -1 }, /srcX must be/);
  bad({ stride: Number.NaN }, /stride must be/);
  bad({ drmFormat: -1 }, /drmFormat must be a DRM fourcc/);
  bad({ bytes: [1, 2, 3] as unknown as Uint8Array }, /bytes must be a Uint8Array/);
  // A 4:2:2 row that would need a pair half outside the stride.
  bad({ drmFormat: fourcc.DRM_FORMAT_YUYV, width: 3, stride: 6, bytes: new Uint8Array(24) }, /smaller than the 8 bytes/);
});
