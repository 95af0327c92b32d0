// encodePng's files read back by pngjs's parser, which checks every chunk's
// CRC, inflates and undoes the filters: pixels, alpha and header must survive.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { InvalidArgumentError } from '../errors.js';
import { encodePng } from './png.js';

function decode(file: Buffer): { width: number; height: number; data: Buffer } {
  const png = PNG.sync.read(file, { checkCRC: true });
  return { width: png.width, height: png.height, data: png.data };
}

test('round trip: every pixel, alpha included, at several sizes and levels', () => {
  for (const [width, height, level] of [[1, 1, 6], [3, 2, 0], [17, 9, 9], [640, 48, 1]] as const) {
    const data = Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 73 + (i >> 7)) & 0xff);
    const file = encodePng({ width, height, data }, { level });
    assert.deepEqual([...file.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const back = decode(file);
    assert.equal(back.width, width);
    assert.equal(back.height, height);
    assert.deepEqual(new Uint8Array(back.data), data, `${width}x${height} level ${level}`);
  }
});

test('IHDR says 8-bit RGBA, not interlaced', () => {
  const file = encodePng({ width: 2, height: 1, data: new Uint8Array(8) });
  assert.equal(file.toString('latin1', 12, 16), 'IHDR');
  assert.deepEqual([...file.subarray(24, 29)], [8, 6, 0, 0, 0]);
  assert.equal(file.toString('latin1', file.length - 8, file.length - 4), 'IEND');
});

test('inconsistent images and options are InvalidArgumentError', () => {
  assert.throws(() => encodePng({ width: 2, height: 2, data: new Uint8Array(15) }), /has 16 bytes, not 15/);
  assert.throws(() => encodePng({ width: 0, height: 2, data: new Uint8Array(0) }), InvalidArgumentError);
  assert.throws(() => encodePng({ width: 1, height: 1, data: new Uint8Array(4) }, { level: 10 }), InvalidArgumentError);
});
