import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytes, chars, decode, encode, layout, s32, u16, u32, u64, u8, viewOf } from './codec.js';

const demo = layout('demo', 24, { a: u8(0), b: u16(2), c: u32(4), d: s32(8), e: u64(16) });

test('encode and decode round-trip every field type, little-endian', () => {
  const bytes = encode(demo, { a: 0xfe, b: 0xbeef, c: 0xdeadbeef, d: -2, e: 0x0100000000000001n });
  assert.deepEqual([...bytes.subarray(0, 8)], [0xfe, 0, 0xef, 0xbe, 0xef, 0xbe, 0xad, 0xde]);
  assert.deepEqual(decode(demo, viewOf(bytes)), { a: 0xfe, b: 0xbeef, c: 0xdeadbeef, d: -2, e: 0x0100000000000001n });
});

test('decode at a base offset inside a larger buffer, and of a subarray', () => {
  const big = new Uint8Array(64);
  big.set(encode(demo, { c: 7 }), 32);
  assert.equal(decode(demo, viewOf(big), 32).c, 7);
  assert.equal(decode(demo, viewOf(big.subarray(32))).c, 7);
});

test('decode refuses bytes that are too short', () => {
  assert.throws(() => decode(demo, viewOf(new Uint8Array(23))), RangeError);
  assert.throws(() => decode(demo, viewOf(new Uint8Array(30)), 8), RangeError);
});

test('layouts with misaligned or out-of-range fields are rejected', () => {
  assert.throws(() => layout('bad', 8, { x: u32(2) }), /misaligned/);
  assert.throws(() => layout('bad', 8, { x: u64(8) }), /beyond/);
});

test('encode sizes the buffer for a larger argsz', () => {
  assert.equal(encode(demo, { c: 1 }, 40).length, 40);
});

const named = layout('named', 24, { id: u32(0), name: chars(4, 8), inner: bytes(12, 12) });

test('char arrays decode up to the first NUL and encode NUL-padded', () => {
  const b = encode(named, { id: 1, name: 'XR24' });
  assert.deepEqual([...b.subarray(4, 12)], [0x58, 0x52, 0x32, 0x34, 0, 0, 0, 0]);
  assert.equal(decode(named, viewOf(b)).name, 'XR24');
  b.fill(0x41, 4, 12);
  assert.equal(decode(named, viewOf(b)).name, 'AAAAAAAA', 'a full array has no NUL');
  assert.throws(() => encode(named, { name: 'ninechars' }), RangeError);
});

test('embedded structs are copied bytes', () => {
  const inner = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
  const b = encode(named, { inner });
  const out = decode(named, viewOf(b)).inner;
  assert.deepEqual([...out], [...inner]);
  b[12] = 99;
  assert.equal(out[0], 1, 'a copy, not a view');
  assert.throws(() => encode(named, { inner: new Uint8Array(4) }), RangeError);
});

test('char arrays and embedded structs must fit the struct', () => {
  assert.throws(() => layout('bad', 8, { s: chars(4, 8) }), /beyond/);
});
