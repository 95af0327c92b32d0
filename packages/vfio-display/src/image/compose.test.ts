import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { compareImages, compositeCursor, type CursorPlacement } from './compose.js';
import type { RgbaImage } from './convert.js';

const GRAY = [100, 100, 100, 255];
const fill = (count: number, px: number[]): Uint8Array => Uint8Array.from(Array.from({ length: count }, () => px).flat());
const primary = (): RgbaImage => ({ width: 4, height: 3, data: fill(12, GRAY) });
// (0,0) opaque white, (1,0) transparent, (0,1) red at alpha 128 (premultiplied), (1,1) opaque blue.
const cursor: RgbaImage = { width: 2, height: 2, data: Uint8Array.from([255, 255, 255, 255, 0, 0, 0, 0, 128, 0, 0, 128, 0, 0, 255, 255]) };
// 128 + 100 * (1 - 128/255) = 177.8 -> 178; 100 * (1 - 128/255) = 49.8 -> 50.
const BLEND = [178, 50, 50, 255];
const WHITE = [255, 255, 255, 255];
const BLUE = [0, 0, 255, 255];

/** The primary as a map of pixel -> RGBA for the pixels that are not gray. */
function changed(at: CursorPlacement, c: RgbaImage = cursor): Record<string, number[]> {
  const out = compositeCursor(primary(), c, at);
  const diff: Record<string, number[]> = {};
  for (let i = 0; i < 12; i++) {
    const px = [...out.data.subarray(i * 4, i * 4 + 4)];
    if (px.join() !== GRAY.join()) diff[`${i % 4},${Math.floor(i / 4)}`] = px;
  }
  return diff;
}

test('cursor: the image top left goes at (x, y), whatever its hotspot', () => {
  assert.deepEqual(changed({ x: 1, y: 1 }), { '1,1': WHITE, '1,2': BLEND, '2,2': BLUE });
  assert.deepEqual(changed({ x: 0, y: 1 }), { '0,1': WHITE, '0,2': BLEND, '1,2': BLUE });
  // A cursor PlaneInfo carries its hotspot; the position already is the image's.
  const plane = { x: 1, y: 1, hotspot: { x: 1, y: 1 } };
  assert.deepEqual(changed(plane), changed({ x: 1, y: 1 }));
});

test('cursor: straight alpha blends colour * alpha', () => {
  const straight: RgbaImage = { width: 1, height: 1, data: Uint8Array.of(255, 0, 0, 128) };
  // 255 * 128/255 + 100 * (1 - 128/255) = 177.8 -> 178, as the premultiplied 128.
  assert.deepEqual(changed({ x: 0, y: 0, alpha: 'straight' }, straight), { '0,0': BLEND });
});

test('cursor: clipped at every edge, nothing drawn when wholly outside', () => {
  assert.deepEqual(changed({ x: -1, y: -1 }), { '0,0': BLUE });
  assert.deepEqual(changed({ x: 3, y: 2 }), { '3,2': WHITE });
  assert.deepEqual(changed({ x: 3, y: -1 }), { '3,0': BLEND });
  assert.deepEqual(changed({ x: -1, y: 2 }), {});
  for (const [x, y] of [[4, 0], [0, 3], [-2, 0], [0, -2], [1000, 1000]]) assert.deepEqual(changed({ x: x ?? 0, y: y ?? 0 }), {});
});

test('cursor: the primary is not modified', () => {
  const p = primary();
  compositeCursor(p, cursor, { x: 0, y: 0 });
  assert.deepEqual(p, primary());
  assert.throws(() => compositeCursor(p, { width: 2, height: 2, data: new Uint8Array(3) }, { x: 0, y: 0 }), InvalidArgumentError);
  assert.throws(() => compositeCursor(p, cursor, { x: 0.5, y: 0 }), InvalidArgumentError);
});

const solid = (width: number, height: number, px: number[]): RgbaImage => ({ width, height, data: fill(width * height, px) });

test('comparison: side by side, top-aligned, with a diff panel over both sizes', () => {
  const red = [200, 0, 0, 255];
  const right = solid(3, 1, red);
  right.data.set([0, 200, 0, 255], 8);
  const cmp = compareImages(solid(2, 2, red), right, { gap: 1, diff: true });
  assert.equal(cmp.width, 2 + 1 + 3 + 1 + 3);
  assert.equal(cmp.height, 2);
  // (2,0) only in the right image, (0,1) and (1,1) only in the left one.
  assert.equal(cmp.differing, 3);
  const at = (x: number, y: number): number[] => [...cmp.data.subarray((y * cmp.width + x) * 4, (y * cmp.width + x) * 4 + 4)];
  assert.deepEqual(at(0, 1), red);
  assert.deepEqual(at(2, 0), [0x20, 0x20, 0x20, 0xff]); // gap
  assert.deepEqual(at(3, 0), red);
  assert.deepEqual(at(5, 0), [0, 200, 0, 255]);
  assert.deepEqual(at(3, 1), [0x20, 0x20, 0x20, 0xff]); // below the shorter right image
  assert.deepEqual(at(7, 0), [50, 0, 0, 255]); // equal: the left pixel at a quarter
  assert.deepEqual(at(9, 0), [255, 0, 255, 255]); // differs
  assert.deepEqual(at(8, 1), [255, 0, 255, 255]); // left only
  assert.deepEqual(at(9, 1), [0x20, 0x20, 0x20, 0xff]); // in neither
});

test('comparison: tolerance, no diff panel, colours', () => {
  const a = solid(2, 1, [10, 10, 10, 255]);
  const b = solid(2, 1, [12, 8, 10, 255]);
  assert.equal(compareImages(a, b).differing, 2);
  const cmp = compareImages(a, b, { tolerance: 2, gap: 0, background: 0x01020304 });
  assert.equal(cmp.differing, 0);
  assert.equal(cmp.width, 4);
  // 3x2: row 0 is a, a, black; row 1 is background, background, black.
  const tall = compareImages(a, solid(1, 2, [0, 0, 0, 255]), { gap: 0, background: 0x01020304 });
  const px = (i: number): number[] => [...tall.data.subarray(i * 4, i * 4 + 4)];
  assert.deepEqual([px(1), px(2), px(3), px(5)], [[10, 10, 10, 255], [0, 0, 0, 255], [1, 2, 3, 4], [0, 0, 0, 255]]);
  assert.throws(() => compareImages(a, b, { tolerance: 256 }), InvalidArgumentError);
});
