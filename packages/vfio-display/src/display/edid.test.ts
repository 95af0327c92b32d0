// What users hand EdidRegion.update(): a blob no EDID can be is refused
// before the device is asked anything (the device here is closed, so any
// access would be a ClosedError).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VfioDevice, type RegionInfo } from '../device/device.js';
import { ClosedError, InvalidArgumentError } from '../errors.js';
import { EdidRegion } from './edid.js';

const region: RegionInfo = { index: 9, flags: 3, readable: true, writable: true, mappable: false, size: 0x1000, offset: 0x9000, capabilities: [] };

test('empty, ragged, oversized (257 blocks, 1 MiB) and non-byte EDID files, bad options: InvalidArgumentError, the device untouched', async () => {
  const device = VfioDevice.fromFd(0, 'closed');
  device.close();
  const edid = new EdidRegion(device, region);
  for (const blob of [new Uint8Array(0), new Uint8Array(100), new Uint8Array(129), new Uint8Array(128 * 257), new Uint8Array(1 << 20), 'edid' as never, [0, 255] as never]) {
    await assert.rejects(edid.update(blob), InvalidArgumentError, String((blob as Uint8Array).length));
  }
  for (const linkUpDelayMs of [-1, 10_001, Number.NaN, '100' as never]) {
    await assert.rejects(edid.update(new Uint8Array(128), { linkUpDelayMs }), InvalidArgumentError, String(linkUpDelayMs));
  }
  await assert.rejects(edid.update(new Uint8Array(128)), ClosedError, 'a blob that could be an EDID goes on to the device');
});
