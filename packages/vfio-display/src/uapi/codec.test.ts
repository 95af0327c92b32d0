import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode, layout, s32, u16, u32, u64, u8, viewOf } from './codec.js';

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
