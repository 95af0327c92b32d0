import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cursorProblem, isUnscaled, placeCursor, placePlane } from './placement.js';

test('center: a smaller guest sits 1:1 in the middle', () => {
  const p = placePlane({ width: 800, height: 600 }, { width: 1024, height: 768 }, 'center');
  assert.deepEqual(p, { src: { x: 0, y: 0, width: 800, height: 600 }, crtc: { x: 112, y: 84, width: 800, height: 600 } });
  assert.ok(isUnscaled(p));
});

test('center: a larger guest is cropped around its centre, offset by its visible origin', () => {
  const p = placePlane({ width: 1920, height: 1080, srcX: 8, srcY: 1080 }, { width: 1024, height: 768 }, 'center');
  assert.deepEqual(p, { src: { x: 8 + 448, y: 1080 + 156, width: 1024, height: 768 }, crtc: { x: 0, y: 0, width: 1024, height: 768 } });
  assert.ok(isUnscaled(p));
});

test('center: odd differences round the offset down', () => {
  const p = placePlane({ width: 801, height: 601 }, { width: 1024, height: 768 }, 'center');
  assert.equal(p.crtc.x, 111);
  assert.equal(p.crtc.y, 83);
});

test('scale keeps the aspect ratio and letterboxes', () => {
  const p = placePlane({ width: 800, height: 600 }, { width: 1920, height: 1080 }, 'scale');
  assert.deepEqual(p, { src: { x: 0, y: 0, width: 800, height: 600 }, crtc: { x: 240, y: 0, width: 1440, height: 1080 } });
  assert.ok(!isUnscaled(p));
  const wide = placePlane({ width: 1920, height: 1080 }, { width: 1024, height: 768 }, 'scale');
  assert.deepEqual(wide.crtc, { x: 0, y: 96, width: 1024, height: 576 });
});

test('scale of an equal size is 1:1', () => {
  assert.ok(isUnscaled(placePlane({ width: 1024, height: 768 }, { width: 1024, height: 768 }, 'scale')));
});

test('stretch fills the CRTC', () => {
  const p = placePlane({ width: 640, height: 480, srcX: 0, srcY: 480 }, { width: 1920, height: 1080 }, 'stretch');
  assert.deepEqual(p, { src: { x: 0, y: 480, width: 640, height: 480 }, crtc: { x: 0, y: 0, width: 1920, height: 1080 } });
});

test('empty sizes are refused', () => {
  assert.throws(() => placePlane({ width: 0, height: 600 }, { width: 1024, height: 768 }, 'center'), RangeError);
  assert.throws(() => placePlane({ width: 800, height: 600 }, { width: 1024, height: 0 }, 'scale'), RangeError);
});

test('cursor: 1:1 placement shifts by the primary offset', () => {
  const primary = placePlane({ width: 800, height: 600 }, { width: 1024, height: 768 }, 'center');
  assert.deepEqual(placeCursor({ x: 10, y: 20, hotspot: null }, primary), { x: 122, y: 104 });
  assert.deepEqual(placeCursor({ x: 10, y: 20, hotspot: { x: 3, y: 4 } }, primary), { x: 122, y: 104 });
});

test('cursor: with scaling the hotspot follows the scaled pointer, the image is not scaled', () => {
  const primary = placePlane({ width: 800, height: 600 }, { width: 1600, height: 1200 }, 'scale');
  // Pointer at guest (10 + 5, 20 + 5) -> host (30, 50); image top left 5 px up and left of it.
  assert.deepEqual(placeCursor({ x: 10, y: 20, hotspot: { x: 5, y: 5 } }, primary), { x: 25, y: 45 });
});

test('cursor: a cropped primary moves the cursor by the crop', () => {
  const primary = placePlane({ width: 1920, height: 1080, srcX: 0, srcY: 1080 }, { width: 1024, height: 768 }, 'center');
  // The crop starts 448 px in and 156 lines down from the visible origin (srcY 1080).
  assert.deepEqual(placeCursor({ x: 500, y: 200, hotspot: null }, primary, { srcX: 0, srcY: 1080 }), { x: 52, y: 44 });
  assert.deepEqual(placeCursor({ x: 0, y: 0, hotspot: null }, primary, { srcX: 0, srcY: 1080 }), { x: -448, y: -156 });
});

test('cursorProblem: a format or modifier the host cursor plane lacks, or a cursor larger than its size; null where it fits', () => {
  const AR24 = 0x34325241;
  const XR24 = 0x34325258;
  const host = { id: 40, type: 'cursor', crtcs: [1], formats: [AR24], modifiers: new Map([[AR24, [0n]]]) } as const;
  const limits = { width: 64, height: 64, modifiers: true };
  const cursor = { drmFormat: AR24, modifier: 0n, width: 64, height: 64 };
  assert.equal(cursorProblem(host, limits, cursor), null);
  assert.match(cursorProblem(host, limits, { ...cursor, drmFormat: XR24 }) ?? '', /^host cursor plane 40 cannot scan out XR24 LINEAR \(its formats: AR24\)$/);
  assert.match(cursorProblem(host, limits, { ...cursor, modifier: 1n << 56n }) ?? '', /cannot scan out AR24/);
  assert.equal(cursorProblem(host, { ...limits, modifiers: false }, { ...cursor, modifier: 1n << 56n }), null, 'implicit modifiers: the card never sees it');
  assert.equal(cursorProblem(host, limits, { ...cursor, width: 128 }), "the guest's 128x64 cursor is larger than the host cursor's 64x64");
  assert.equal(cursorProblem(host, { ...limits, width: 0, height: 0 }, { ...cursor, width: 256, height: 256 }), null, 'no size hint: no size limit known');
});
