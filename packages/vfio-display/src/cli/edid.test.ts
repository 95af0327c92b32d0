// EDID blobs given on the command line are checked, and shown in words.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateEdid } from '../display/edid-generator.js';
import { InvalidArgumentError } from '../errors.js';
import { checkEdid, describeEdid, readEdidFile } from './edid.js';

test('a generated EDID passes the checks and reads back as its modes and name', () => {
  const blob = generateEdid({ modes: ['1920x1080@60', '1280x720'], name: 'rig' });
  assert.equal(checkEdid(blob, 'x'), blob);
  assert.equal(describeEdid(blob), '128 bytes, EDID 1.4, manufacturer VFD, preferred 1920x1080@59.93, name "rig"');
});

test('blobs that are not EDID are refused, saying why', () => {
  const blob = generateEdid({ modes: ['800x600'] });
  const refused = (b: Uint8Array, why: RegExp): void => {
    assert.throws(() => checkEdid(b, 'f.bin'), (err: unknown) => err instanceof InvalidArgumentError && why.test(err.message));
  };
  refused(blob.subarray(0, 100), /^f\.bin: an EDID is whole 128-byte blocks, this is 100 bytes$/);
  refused(new Uint8Array(0), /this is 0 bytes/);
  refused(Uint8Array.from(blob, (b, i) => (i === 0 ? 1 : b)), /lacks the 00 ff ff ff ff ff ff 00 header/);
  refused(Uint8Array.from(blob, (b, i) => (i === 30 ? b ^ 4 : b)), /block 0 has a bad checksum \(its bytes sum to 4, not 0, mod 256\)/);
  const two = new Uint8Array(256);
  two.set(blob);
  two[128] = 2;
  refused(two, /block 1 has a bad checksum/);
  assert.equal(describeEdid(new Uint8Array(16)), '16 bytes, not an EDID');
});

test('EDID files: read whole up to 256 blocks; larger files, /dev/zero and missing files refused without reading them whole', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-display-edid-'));
  t.after(() => {
    rmSync(dir, { recursive: true });
  });
  const blob = generateEdid({ modes: ['800x600'] });
  const small = join(dir, 'small.bin');
  writeFileSync(small, blob);
  assert.deepEqual(readEdidFile(small), blob);
  const largest = join(dir, 'largest.bin');
  writeFileSync(largest, new Uint8Array(256 * 128));
  assert.equal(readEdidFile(largest).length, 256 * 128);
  const oneTooMany = join(dir, 'one-too-many.bin');
  writeFileSync(oneTooMany, new Uint8Array(256 * 128 + 1));
  const huge = join(dir, 'huge.bin');
  writeFileSync(huge, new Uint8Array(64 << 20));
  for (const file of [oneTooMany, huge, '/dev/zero']) {
    assert.throws(() => readEdidFile(file), (err: unknown) => err instanceof InvalidArgumentError && /larger than any EDID/.test(err.message), file);
  }
  assert.throws(() => readEdidFile(join(dir, 'missing.bin')), { code: 'ENOENT' });
});
