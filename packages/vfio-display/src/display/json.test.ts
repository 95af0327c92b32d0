// The JSON codecs: values survive a trip through JSON text exactly
// (bigints included), and malformed JSON is refused with the field named.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DisplayChange } from './changes.js';
import { displayChangeSchema, planeInfoSchema } from './json.js';
import type { PlaneInfo } from './plane.js';

const I915_Y_TILED = 0x0100000000000002n;

const dmabufPlane: PlaneInfo = {
  type: 'primary',
  drmFormat: 0x34325258,
  fourcc: 'XR24',
  modifier: I915_Y_TILED,
  width: 1920,
  height: 1080,
  stride: 7680,
  size: 8294400,
  x: 0,
  y: 0,
  hotspot: null,
  head: 0,
  numHeads: 1,
  srcX: 0,
  srcY: 0,
  flipSeq: 2n ** 60n + 1n,
  mode: 'dmabuf',
  dmabufId: 3,
};
const regionPlane: PlaneInfo = { type: 'primary', drmFormat: 0x34325258, fourcc: 'XR24', modifier: 0n, width: 640, height: 480, stride: 2560, size: 2097152, x: 0, y: 0, hotspot: { x: 0, y: 0 }, mode: 'region', regionIndex: 16 };

const viaText = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

test('planes survive JSON text exactly: u64s as strings (modifier hex, flipSeq decimal)', () => {
  for (const plane of [dmabufPlane, regionPlane]) {
    const json = planeInfoSchema().encode(plane);
    assert.deepEqual(planeInfoSchema().parse(viaText(json)), plane);
  }
  const json = planeInfoSchema().encode(dmabufPlane);
  assert.equal(json.modifier, '0x0100000000000002');
  assert.equal(json.flipSeq, '1152921504606846977');
  assert.equal(planeInfoSchema().encode(regionPlane).modifier, '0x0000000000000000');
  assert.equal('flipSeq' in planeInfoSchema().encode(regionPlane), false, 'fields a kernel does not fill stay absent');
});

test('malformed plane JSON is refused, naming the field', () => {
  const good = planeInfoSchema().encode(dmabufPlane);
  const bad = (patch: Record<string, unknown>, field: string): void => {
    const r = planeInfoSchema().safeParse({ ...good, ...patch });
    if (r.success) assert.fail(`accepted ${JSON.stringify(patch)}`);
    assert.ok(r.error.issues.some((i) => i.path.includes(field)), `${field}: ${r.error.message}`);
  };
  bad({ modifier: 2 ** 56 + 2 }, 'modifier');
  bad({ modifier: '0x100000000000002' }, 'modifier');
  bad({ flipSeq: '-1' }, 'flipSeq');
  bad({ flipSeq: '18446744073709551616' }, 'flipSeq');
  bad({ width: -1 }, 'width');
  bad({ fourcc: 'XR2' }, 'fourcc');
  assert.equal(planeInfoSchema().safeParse({ ...good, mode: 'other' }).success, false);
  assert.equal(planeInfoSchema().safeParse({ ...good, regionIndex: 1 }).success, false, 'a dma-buf plane has no regionIndex');
});

test('display changes survive JSON text; seenAt is decimal nanoseconds', () => {
  const change: DisplayChange = {
    seq: 7,
    source: 'event',
    primary: dmabufPlane,
    cursor: null,
    changed: { primary: true, cursor: false, mode: false },
    events: { primary: 1, cursor: 0, mode: 0, any: 0 },
    seenAt: 123456789012345678n,
  };
  const json = displayChangeSchema().encode(change);
  assert.equal(json.seenAt, '123456789012345678');
  assert.deepEqual(displayChangeSchema().parse(viaText(json)), change);
  const timer = { ...change, source: 'timer' as const, events: null, primary: regionPlane };
  assert.deepEqual(displayChangeSchema().parse(viaText(displayChangeSchema().encode(timer))), timer);
  assert.equal(displayChangeSchema().safeParse({ ...json, seq: 0 }).success, false);
});
