// Tile maps against offsets worked out by hand, and the SIMD gather against
// the tile map on synthetic surfaces of several sizes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError, UnsupportedError } from '../errors.js';
import { DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED, I915_FORMAT_MOD_Yf_TILED } from '../uapi/drm_fourcc.js';
import { FrameConverter } from './convert.js';
import { detile, tiledOffset, tilingOf } from './tiling.js';

const X = I915_FORMAT_MOD_X_TILED;
const Y = I915_FORMAT_MOD_Y_TILED;

test('X tile map: 512-byte rows, 8 rows per 4 KiB tile, tiles row-major', () => {
  // stride 1024: two tiles per row of tiles.
  assert.equal(tiledOffset(X, 1024, 0, 0), 0);
  assert.equal(tiledOffset(X, 1024, 5, 1), 517); // tile 0: row 1 * 512 + 5
  assert.equal(tiledOffset(X, 1024, 511, 7), 4095); // tile 0's last byte: 7 * 512 + 511
  assert.equal(tiledOffset(X, 1024, 600, 3), 5720); // tile 1 (600 >> 9): 4096 + 3 * 512 + (600 - 512)
  assert.equal(tiledOffset(X, 1024, 10, 9), 8714); // tile row 1 -> tile 2: 8192 + (9 & 7) * 512 + 10
});

test('Y tile map: 16-byte OWord columns of 32 rows, 8 columns per 128-byte-wide tile', () => {
  // stride 256: two tiles per row of tiles.
  assert.equal(tiledOffset(Y, 256, 0, 0), 0);
  assert.equal(tiledOffset(Y, 256, 5, 1), 21); // column 0, row 1: 1 * 16 + 5
  assert.equal(tiledOffset(Y, 256, 20, 0), 516); // column 1 (20 >> 4): 1 * 512 + 0 * 16 + 4
  assert.equal(tiledOffset(Y, 256, 127, 31), 4095); // column 7, row 31: 7 * 512 + 31 * 16 + 15
  assert.equal(tiledOffset(Y, 256, 130, 2), 4130); // tile 1: 4096 + column 0 + 2 * 16 + 2
  assert.equal(tiledOffset(Y, 256, 40, 33), 9240); // tile row 1 -> tile 2: 8192 + column 2 * 512 + (33 & 31) * 16 + 8
});

test('linear is row * stride + byte', () => {
  assert.equal(tiledOffset(DRM_FORMAT_MOD_LINEAR, 300, 7, 2), 607);
});

/** A surface of `rows` rows whose byte at (xb, y) is a value from both, stored with `modifier`; height rounded up to the tile as GVT-g does. */
function synthetic(modifier: bigint, stride: number, rows: number): { tiled: Uint8Array; linear: Uint8Array } {
  const th = tilingOf(modifier).height;
  const tiled = new Uint8Array(stride * Math.ceil(rows / th) * th);
  const linear = new Uint8Array(stride * rows);
  for (let y = 0; y < rows; y++) {
    for (let xb = 0; xb < stride; xb++) {
      const v = (xb * 7 + y * 13 + (xb >> 8)) & 0xff;
      linear[y * stride + xb] = v;
      tiled[tiledOffset(modifier, stride, xb, y)] = v;
    }
  }
  return { tiled, linear };
}

for (const [name, modifier, stride, rows] of [
  ['X, one tile', X, 512, 8],
  ['X, 3 tiles wide, 20 rows (not a tile multiple)', X, 1536, 20],
  ['X, 1920x1080 XRGB8888', X, 7680, 1080],
  ['Y, one tile', Y, 128, 32],
  ['Y, 3 tiles wide, 45 rows (not a tile multiple)', Y, 384, 45],
  ['Y, 1366 wide (5464 bytes -> stride 5504), 77 rows', Y, 5504, 77],
] as const) {
  test(`detile ${name}`, () => {
    const { tiled, linear } = synthetic(modifier, stride, rows);
    assert.deepEqual(detile({ bytes: tiled, stride, height: rows, modifier }), linear);
    // A band of rows that starts and ends inside tiles.
    const y = Math.min(3, rows - 1);
    const n = Math.max(1, rows - y - 2);
    assert.deepEqual(detile({ bytes: tiled, stride, height: rows, modifier }, { y, rows: n }), linear.subarray(y * stride, (y + n) * stride));
  });
}

test('a converter reuses its memory: results stay right as sizes grow and shrink', () => {
  const converter = new FrameConverter();
  for (const [modifier, stride, rows] of [[Y, 128, 32], [X, 7680, 200], [Y, 384, 45]] as const) {
    const { tiled, linear } = synthetic(modifier, stride, rows);
    assert.deepEqual(converter.detile({ bytes: tiled, stride, height: rows, modifier }), linear);
  }
});

test('Yf and unknown modifiers are unsupported, by name', () => {
  assert.throws(() => tilingOf(I915_FORMAT_MOD_Yf_TILED), (e: unknown) => e instanceof UnsupportedError && /Yf/.test(e.message));
  assert.throws(() => detile({ bytes: new Uint8Array(4096), stride: 128, height: 32, modifier: (1n << 56n) | 9n }), (e: unknown) => e instanceof UnsupportedError && /0x0100000000000009/.test(e.message));
});

test('bad geometry is an InvalidArgumentError, never a read past the buffer', () => {
  const bad = (surface: Parameters<typeof detile>[0], pattern: RegExp): void => {
    assert.throws(() => detile(surface), (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message));
  };
  bad({ bytes: new Uint8Array(4096), stride: 500, height: 8, modifier: X }, /multiple of its tile width, 512/);
  bad({ bytes: new Uint8Array(4096), stride: 192, height: 32, modifier: Y }, /multiple of its tile width, 128/);
  // 9 rows of X tiles need two tile rows: 8 KiB.
  bad({ bytes: new Uint8Array(4096), stride: 512, height: 9, modifier: X }, /need 8192/);
  bad({ bytes: new Uint8Array(100), stride: 10, height: 11, modifier: DRM_FORMAT_MOD_LINEAR }, /need 110/);
  bad({ bytes: new Uint8Array(4096), stride: 512, height: 0, modifier: X }, /height must be an integer from 1/);
  bad({ bytes: new Uint8Array(4096), stride: 512, height: 1e9, modifier: X }, /height must be/);
  bad({ bytes: new Uint8Array(4096), stride: 2 ** 31, height: 1, modifier: X }, /stride must be/);
  bad({ bytes: new Uint8Array(4096), stride: 512.5, height: 1, modifier: X }, /stride must be/);
  assert.throws(() => detile({ bytes: new Uint8Array(4096), stride: 512, height: 8, modifier: X }, { y: 8 }), InvalidArgumentError);
});
