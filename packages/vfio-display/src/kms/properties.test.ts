import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MalformedReplyError } from '../errors.js';
import { encode } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';
import { DRM_FORMAT_ARGB8888, DRM_FORMAT_MOD_LINEAR, DRM_FORMAT_RGB565, DRM_FORMAT_XRGB8888, I915_FORMAT_MOD_X_TILED } from '../uapi/drm_fourcc.js';
import { bitmaskNames, decodeInFormats, enumName, propertyKind, signedValue, type PropertyInfo } from './properties.js';

test('property kinds from flags: legacy bits and extended types', () => {
  assert.equal(propertyKind(d.DRM_MODE_PROP_RANGE | d.DRM_MODE_PROP_ATOMIC), 'range');
  assert.equal(propertyKind(d.DRM_MODE_PROP_ENUM | d.DRM_MODE_PROP_IMMUTABLE), 'enum');
  assert.equal(propertyKind(d.DRM_MODE_PROP_BITMASK), 'bitmask');
  assert.equal(propertyKind(d.DRM_MODE_PROP_BLOB | d.DRM_MODE_PROP_IMMUTABLE), 'blob');
  assert.equal(propertyKind(d.DRM_MODE_PROP_OBJECT | d.DRM_MODE_PROP_ATOMIC), 'object');
  assert.equal(propertyKind(d.DRM_MODE_PROP_SIGNED_RANGE | d.DRM_MODE_PROP_ATOMIC), 'signed-range');
  assert.throws(() => propertyKind(0), MalformedReplyError);
  assert.throws(() => propertyKind(d.DRM_MODE_PROP_RANGE | d.DRM_MODE_PROP_ENUM), MalformedReplyError);
  assert.throws(() => propertyKind(5 << 6), MalformedReplyError);
});

const info = (kind: PropertyInfo['kind'], enums: [string, bigint][] = []): PropertyInfo => ({ id: 1, name: 'x', kind, immutable: false, atomic: false, values: [], enums: new Map(enums) });

test('enum names and bitmask names', () => {
  const type = info('enum', [['Overlay', 0n], ['Primary', 1n], ['Cursor', 2n]]);
  assert.equal(enumName(type, 1n), 'Primary');
  assert.equal(enumName(type, 9n), undefined);
  const rotation = info('bitmask', [['rotate-0', 0n], ['rotate-90', 1n], ['reflect-x', 4n]]);
  assert.deepEqual(bitmaskNames(rotation, 0b10001n), ['rotate-0', 'reflect-x']);
  assert.deepEqual(bitmaskNames(rotation, 0n), []);
});

test('signed ranges read back negative; others stay unsigned', () => {
  assert.equal(signedValue(info('signed-range'), 0xfffffffffffffff6n), -10n);
  assert.equal(signedValue(info('range'), 0xfffffffffffffff6n), 0xfffffffffffffff6n);
});

/** An IN_FORMATS blob as drm_plane.c create_in_format_blob() lays it out. */
function inFormats(formats: number[], mods: { formats: bigint; offset: number; modifier: bigint }[]): Uint8Array {
  const head = encode(d.drm_format_modifier_blob, {
    version: d.FORMAT_BLOB_CURRENT,
    count_formats: formats.length,
    formats_offset: 24,
    count_modifiers: mods.length,
    modifiers_offset: 24 + Math.ceil((formats.length * 4) / 8) * 8,
  });
  const list = new Uint8Array(Math.ceil((formats.length * 4) / 8) * 8);
  const view = new DataView(list.buffer);
  formats.forEach((f, i) => {
    view.setUint32(i * 4, f, true);
  });
  return new Uint8Array(Buffer.concat([head, list, ...mods.map((m) => encode(d.drm_format_modifier, m))]));
}

test('IN_FORMATS: the modifiers of each format', () => {
  const blob = inFormats(
    [DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888, DRM_FORMAT_RGB565],
    [
      { formats: 0b111n, offset: 0, modifier: DRM_FORMAT_MOD_LINEAR },
      { formats: 0b010n, offset: 0, modifier: I915_FORMAT_MOD_X_TILED },
    ],
  );
  assert.deepEqual(
    decodeInFormats(blob),
    new Map([
      [DRM_FORMAT_ARGB8888, [DRM_FORMAT_MOD_LINEAR]],
      [DRM_FORMAT_XRGB8888, [DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_X_TILED]],
      [DRM_FORMAT_RGB565, [DRM_FORMAT_MOD_LINEAR]],
    ]),
  );
});

test('IN_FORMATS: an offset selects the window of 64 formats a mask covers', () => {
  const formats = Array.from({ length: 70 }, (_, i) => 0x1000 + i);
  const decoded = decodeInFormats(inFormats(formats, [{ formats: 1n, offset: 65, modifier: 5n }]));
  assert.deepEqual(decoded.get(0x1000 + 65), [5n]);
  assert.deepEqual(decoded.get(0x1000), []);
});

test('IN_FORMATS: bad versions and out-of-range parts are malformed', () => {
  const good = inFormats([DRM_FORMAT_XRGB8888], [{ formats: 1n, offset: 0, modifier: 0n }]);
  const badVersion = good.slice();
  badVersion[0] = 2;
  assert.throws(() => decodeInFormats(badVersion), MalformedReplyError);
  assert.throws(() => decodeInFormats(good.subarray(0, good.length - 8)), MalformedReplyError);
  assert.throws(() => decodeInFormats(inFormats([DRM_FORMAT_XRGB8888], [{ formats: 0b10n, offset: 0, modifier: 0n }])), /names format #1 of 1/);
});
