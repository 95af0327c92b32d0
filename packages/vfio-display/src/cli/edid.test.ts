// EDID blobs given on the command line are checked, and shown in words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateEdid } from '../display/edid-generator.js';
import { InvalidArgumentError } from '../errors.js';
import { checkEdid, describeEdid } from './edid.js';

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
