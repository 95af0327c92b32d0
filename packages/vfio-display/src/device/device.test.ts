// Region-info decoding of malformed driver answers (plain buffers; the rig
// tests the real drivers' answers), and requests refused before any ioctl.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError, MalformedReplyError } from '../errors.js';
import { EventFd } from '../eventfd.js';
import { encode, viewOf } from '../uapi/codec.js';
import * as v from '../uapi/vfio.js';
import { decodeRegionInfo, VfioDevice } from './device.js';

const CAPS = v.VFIO_REGION_INFO_FLAG_CAPS | v.VFIO_REGION_INFO_FLAG_READ;

function info(argsz: number, fields: Partial<{ flags: number; cap_offset: number; size: bigint; offset: bigint }>, length = argsz): Uint8Array {
  return encode(v.vfio_region_info, { argsz, index: 9, ...fields }, length);
}

test('a region with an EDID type capability, as mbochs answers', () => {
  const bytes = info(48, { flags: CAPS, cap_offset: 32, size: 4096n, offset: 8192n });
  const view = viewOf(bytes);
  view.setUint16(32, v.VFIO_REGION_INFO_CAP_TYPE, true);
  view.setUint16(34, 1, true);
  view.setUint32(40, v.VFIO_REGION_TYPE_GFX, true);
  view.setUint32(44, v.VFIO_REGION_SUBTYPE_GFX_EDID, true);
  const r = decodeRegionInfo(bytes, 9, 'region 9');
  assert.equal(r.size, 4096);
  assert.equal(r.offset, 8192);
  assert.deepEqual(r.capabilities, [{ kind: 'type', version: 1, type: 1, subtype: 1 }]);
});

test('malformed answers are MalformedReplyErrors', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['argsz still larger than the buffer it asked for', info(64, { flags: CAPS, cap_offset: 32 }, 48), /need 64 bytes/],
    ['cap_offset beyond argsz', info(40, { flags: CAPS, cap_offset: 48 }, 40), /beyond/],
    ['cap_offset inside the struct', info(48, { flags: CAPS, cap_offset: 8 }), /overlaps/],
    ['a size beyond 2^53', info(32, { size: 1n << 60n }), /region size/],
    ['an offset beyond 2^53', info(32, { offset: 0xffffffffffffffffn }), /region offset/],
  ];
  for (const [name, bytes, message] of cases) {
    assert.throws(() => decodeRegionInfo(bytes, 9, 'region 9'), (err: unknown) => err instanceof MalformedReplyError && message.test(err.message), name);
  }
});

test('without the CAPS flag a stray cap_offset is ignored', () => {
  assert.deepEqual(decodeRegionInfo(info(32, { cap_offset: 4000 }), 0, 'region 0').capabilities, []);
});

test('SET_IRQS data mixing booleans and eventfds is refused before any ioctl', () => {
  const fd = openSync(join(mkdtempSync(join(tmpdir(), 'vfio-display-')), 'f'), 'w+');
  const device = VfioDevice.fromFd(fd, 'a plain file');
  using efd = new EventFd();
  // Before: the booleans became eventfd 0 (a boolean has no .fd) in the EVENTFD payload.
  const cases: unknown[][] = [[true, efd], [efd, false], [true, 5], [efd, 2.5], [-2]];
  for (const data of cases) {
    assert.throws(() => { device.setIrqs({ index: 0, action: 'trigger', data: data as never }); }, InvalidArgumentError, String(data));
  }
  device.close();
  closeSync(fd);
});
