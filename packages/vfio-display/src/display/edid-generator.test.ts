// The generator checked by a second, independent reading of the bytes (the
// rig also runs Debian's edid-decode on them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import { cvtReducedBlanking, fitModes, generateEdid, parseMode } from './edid-generator.js';

/** Reads a detailed timing descriptor the way the EDID 1.4 spec lays it out. */
function readDtd(b: Uint8Array, at: number): Record<string, number> {
  const byte = (i: number): number => b[at + i] ?? -1;
  return {
    clockKhz: (byte(0) | (byte(1) << 8)) * 10,
    hActive: byte(2) | ((byte(4) >> 4) << 8),
    hBlank: byte(3) | ((byte(4) & 0xf) << 8),
    vActive: byte(5) | ((byte(7) >> 4) << 8),
    vBlank: byte(6) | ((byte(7) & 0xf) << 8),
    hSyncOffset: byte(8) | (((byte(11) >> 6) & 3) << 8),
    hSyncWidth: byte(9) | (((byte(11) >> 4) & 3) << 8),
    vSyncOffset: (byte(10) >> 4) | (((byte(11) >> 2) & 3) << 4),
    vSyncWidth: (byte(10) & 0xf) | ((byte(11) & 3) << 4),
  };
}

test('CVT-RB timings match the VESA CVT spreadsheet values', () => {
  // 1920x1080@60 RB: 138.50 MHz, htotal 2080, vtotal 1111 (VESA DMT 0x52 "CVT-RB").
  assert.deepEqual(cvtReducedBlanking({ width: 1920, height: 1080, refresh: 60 }), {
    pixelClockKhz: 138500, hActive: 1920, hBlank: 160, hSyncOffset: 48, hSyncWidth: 32, vActive: 1080, vBlank: 31, vSyncOffset: 3, vSyncWidth: 5,
  });
  // 1280x800@60 RB (DMT 0x1B): 71.00 MHz, vtotal 823, vsync 6.
  const t = cvtReducedBlanking({ width: 1280, height: 800, refresh: 60 });
  assert.equal(t.pixelClockKhz, 71000);
  assert.equal(t.vActive + t.vBlank, 823);
  assert.equal(t.vSyncWidth, 6);
});

test('a base block with header, checksum, preferred DTD, range limits and name', () => {
  const edid = generateEdid({ modes: ['1920x1080@60', '1280x1024@60', '1024x768@75'], name: 'rig display' });
  assert.equal(edid.length, 128);
  assert.deepEqual([...edid.subarray(0, 8)], [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]);
  assert.equal(edid.reduce((a, b) => a + b, 0) % 256, 0);
  assert.deepEqual([edid[18], edid[19]], [1, 4]);
  // Manufacturer "VFD" packed in 5-bit letters, big-endian.
  const pnp = ((edid[8] ?? 0) << 8) | (edid[9] ?? 0);
  assert.equal(String.fromCharCode(((pnp >> 10) & 31) + 64, ((pnp >> 5) & 31) + 64, (pnp & 31) + 64), 'VFD');
  const dtd = readDtd(edid, 54);
  assert.deepEqual(dtd, { clockKhz: 138500, hActive: 1920, hBlank: 160, vActive: 1080, vBlank: 31, hSyncOffset: 48, hSyncWidth: 32, vSyncOffset: 3, vSyncWidth: 5 });
  // 1280x1024 (5:4) and 1024x768@75 (4:3) as standard timings.
  assert.deepEqual([...edid.subarray(38, 42)], [1280 / 8 - 31, (2 << 6) | 0, 1024 / 8 - 31, (1 << 6) | 15]);
  const tags = [54, 72, 90, 108].map((at) => (edid[at] === 0 && edid[at + 1] === 0 ? (edid[at + 3] ?? -1) : 'dtd'));
  assert.deepEqual(tags, ['dtd', 0x10, 0xfd, 0xfc]);
  const name = String.fromCharCode(...edid.subarray(108 + 5, 108 + 18));
  assert.equal(name, 'rig display\n ');
  // Range limits cover the modes: 60-75 Hz.
  assert.deepEqual([edid[90 + 5], edid[90 + 6]], [60, 75]);
  assert.equal(edid[126], 0);
});

test('a mode that is no standard timing takes the second descriptor', () => {
  const edid = generateEdid({ modes: ['800x600', '1366x768'] });
  assert.equal(readDtd(edid, 72).hActive, 1360); // CVT rounds the width down to 8 pixels
});

test('a monitor\'s own timing for the preferred mode: its exact width (CVT would give 1360) and sync polarities; one that does not fit is refused', () => {
  // 1366x768@60 as monitors list it (DMT 0x51): 85.50 MHz, htotal 1792, vtotal 798, +hsync +vsync.
  const timing = { pixelClockKhz: 85500, hActive: 1366, hBlank: 426, hSyncOffset: 70, hSyncWidth: 143, vActive: 768, vBlank: 30, vSyncOffset: 3, vSyncWidth: 3, hSyncPositive: true, vSyncPositive: true };
  const edid = generateEdid({ modes: ['1366x768@60'], timing });
  assert.deepEqual(readDtd(edid, 54), { clockKhz: 85500, hActive: 1366, hBlank: 426, vActive: 768, vBlank: 30, hSyncOffset: 70, hSyncWidth: 143, vSyncOffset: 3, vSyncWidth: 3 });
  assert.equal(edid[54 + 17], 0x1e, 'digital separate sync, +vsync, +hsync');
  assert.equal(generateEdid({ modes: ['1920x1080'] })[54 + 17], 0x1a, 'CVT-RB: +hsync, -vsync');
  assert.throws(() => generateEdid({ modes: ['1280x768@60'], timing }), InvalidArgumentError);
  assert.throws(() => generateEdid({ modes: ['1366x768@60'], timing: { ...timing, vSyncOffset: 64 } }), /does not fit a detailed timing descriptor/);
});

test('parseMode reads WxH and WxH@Hz and rejects absurd modes with typed errors', () => {
  assert.deepEqual(parseMode('1024x768'), { width: 1024, height: 768, refresh: 60 });
  assert.deepEqual(parseMode('640x480@75'), { width: 640, height: 480, refresh: 75 });
  for (const bad of ['0x0', '100000x100000', '1920x1080@0', '1920x1080@1000', 'x', '1920*1080', '-1x5', '1920x1080@60.5']) {
    assert.throws(() => parseMode(bad), InvalidArgumentError, bad);
  }
  assert.throws(() => parseMode({ width: 1920.5, height: 1080, refresh: 60 }), InvalidArgumentError);
});

test('bad options are typed errors', () => {
  assert.throws(() => generateEdid({ modes: [] }), InvalidArgumentError);
  assert.throws(() => generateEdid({ modes: ['800x600'], name: 'a name that is far too long' }), InvalidArgumentError);
  assert.throws(() => generateEdid({ modes: ['800x600'], manufacturer: 'vf' }), InvalidArgumentError);
  const many = ['1920x1080', '1366x768', '1360x765', '1000x700'];
  assert.throws(() => generateEdid({ modes: many }), /too many modes/);
});

test('fitModes: a mode beyond the limits is scaled into them keeping its aspect ratio; the duplicates this makes are dropped, order kept', () => {
  const m = (width: number, height: number, refresh = 60): { width: number; height: number; refresh: number } => ({ width, height, refresh });
  assert.deepEqual(fitModes(['1920x1080@60', '1600x1200', '800x600', '1024x768@60', '640x480', '640x480@75'], { maxXres: 800, maxYres: 600 }), [
    m(800, 450),
    m(800, 600),
    m(640, 480),
    m(640, 480, 75),
  ]);
  // Bound by the height, portrait: the width goes down to a multiple of 8 (a detailed timing's CVT width), the height follows it.
  assert.deepEqual(fitModes(['1080x1920'], { maxXres: 1920, maxYres: 1080 }), [m(600, 1067)]);
  assert.deepEqual(fitModes(['4000x3000', '4000x3000'], { maxXres: null, maxYres: null }), [m(4000, 3000)], 'no limits: duplicates still dropped');
});
