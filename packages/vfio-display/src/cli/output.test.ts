// Tables, sizes, planes in words, the status line and the rate meter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlaneInfo } from '../display/plane.js';
import { describePlane, RateMeter, size, StatusLine, table, type Output } from './output.js';

class Captured implements Output {
  text = '';
  write(chunk: string | Uint8Array): boolean {
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }
}

test('table pads every column but the last', () => {
  assert.deepEqual(table([['A', 'BB', 'C'], ['long', 'x', 'last column']]), ['A     BB  C', 'long  x   last column']);
});

test('size: whole KiB, MiB and GiB, else bytes', () => {
  assert.deepEqual([4194304, 4096, 255, 0, 3 * 2 ** 30, 1920000, 1000].map(size), ['4 MiB', '4 KiB', '255 B', '0 B', '3 GiB', '1875 KiB', '1000 B']);
});

test('describePlane: primary, cursor and extended info in one line', () => {
  const primary: PlaneInfo = { type: 'primary', drmFormat: 0x34325258, fourcc: 'XR24', modifier: 0x0100000000000001n, width: 800, height: 600, stride: 3200, size: 1920000, x: 0, y: 0, hotspot: null, head: 0, numHeads: 1, srcX: 0, srcY: 8, flipSeq: 5n, mode: 'dmabuf', dmabufId: 2 };
  assert.equal(describePlane(primary), '800x600 XR24 I915_X_TILED, stride 3200, 1920000 bytes, dma-buf 2, head 0 of 1, visible from 0,8, flip 5');
  const cursor: PlaneInfo = { type: 'cursor', drmFormat: 0x34325241, fourcc: 'AR24', modifier: 0n, width: 64, height: 64, stride: 256, size: 16384, x: 10, y: 20, hotspot: { x: 1, y: 2 }, mode: 'dmabuf', dmabufId: 4 };
  assert.equal(describePlane(cursor), '64x64 AR24 LINEAR, stride 256, 16384 bytes, dma-buf 4, at 10,20, hotspot 1,2');
  assert.equal(describePlane(null), 'off');
});

test('status line on a terminal: rewritten in place, lines go above it', () => {
  const out = new Captured();
  const status = new StatusLine(out, { tty: true });
  status.update('a');
  status.update('b');
  status.line('event');
  status.done();
  assert.equal(out.text, '\ra\x1b[K\rb\x1b[K\r\x1b[Kevent\nb\n');
});

test('status line elsewhere: at most one line per interval, the last one held back until done', () => {
  const out = new Captured();
  let now = 0;
  const status = new StatusLine(out, { tty: false, everyMs: 1000, now: () => now });
  status.update('1');
  now = 500;
  status.update('2');
  status.line('mode');
  now = 1000;
  status.update('3');
  now = 1200;
  status.update('4');
  status.done();
  assert.equal(out.text, '1\nmode\n3\n4\n');
});

test('rate meter: events in the last second', () => {
  const rate = new RateMeter();
  for (let i = 0; i < 30; i++) rate.add(BigInt(i) * 33_000_000n);
  assert.equal(rate.rate(990_000_000n), 30);
  assert.equal(rate.rate(1_500_000_000n), 14);
  assert.equal(rate.rate(5_000_000_000n), 0);
});
