import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as d from '../uapi/drm.js';
import { chooseMode, decodeModeInfo, encodeModeInfo, refreshRate, type ModeInfo } from './mode.js';

/** DMT timings as the kernel lists them (drivers/gpu/drm/drm_edid.c drm_dmt_modes). */
function mode(name: string, clock: number, h: [number, number, number, number], v: [number, number, number, number], extra: Partial<ModeInfo> = {}): ModeInfo {
  const [hdisplay, hsyncStart, hsyncEnd, htotal] = h;
  const [vdisplay, vsyncStart, vsyncEnd, vtotal] = v;
  const m = { name, clock, hdisplay, hsyncStart, hsyncEnd, htotal, hskew: 0, vdisplay, vsyncStart, vsyncEnd, vtotal, vscan: 0, vrefresh: 0, flags: 0, type: d.DRM_MODE_TYPE_DRIVER, ...extra };
  return { ...m, vrefresh: Math.round(refreshRate(m)) };
}

const m800x600at60 = mode('800x600', 40000, [800, 840, 968, 1056], [600, 601, 605, 628], { flags: d.DRM_MODE_FLAG_PHSYNC | d.DRM_MODE_FLAG_PVSYNC });
const m800x600at75 = mode('800x600', 49500, [800, 816, 896, 1056], [600, 601, 604, 625]);
const m800x600at56 = mode('800x600', 36000, [800, 824, 896, 1024], [600, 601, 603, 625]);
const m1024x768at60 = mode('1024x768', 65000, [1024, 1048, 1184, 1344], [768, 771, 777, 806], { type: d.DRM_MODE_TYPE_DRIVER | d.DRM_MODE_TYPE_PREFERRED });
const m1024x768i = mode('1024x768i', 44900, [1024, 1032, 1208, 1264], [768, 768, 776, 817], { flags: d.DRM_MODE_FLAG_INTERLACE });
const m1920x1080 = mode('1920x1080', 148500, [1920, 2008, 2052, 2200], [1080, 1084, 1089, 1125]);
const list = [m1920x1080, m800x600at56, m1024x768i, m800x600at75, m1024x768at60, m800x600at60];

test('modeinfo encodes to the 68 bytes of drm_mode_modeinfo and back', () => {
  const bytes = encodeModeInfo(m800x600at60);
  assert.equal(bytes.length, 68);
  assert.equal(new DataView(bytes.buffer).getUint32(0, true), 40000);
  assert.equal(new DataView(bytes.buffer).getUint16(4, true), 800);
  assert.equal(Buffer.from(bytes.subarray(36, 43)).toString('latin1'), '800x600');
  assert.deepEqual(decodeModeInfo(bytes), m800x600at60);
  const padded = new Uint8Array(68 * 2);
  padded.set(bytes, 68);
  assert.deepEqual(decodeModeInfo(padded, 68), m800x600at60);
});

test('refresh rate from clock and totals, halved/doubled for scan flags', () => {
  assert.ok(Math.abs(refreshRate(m800x600at60) - 60.317) < 0.001);
  assert.ok(Math.abs(refreshRate(m1024x768i) - 86.96) < 0.01, 'interlaced: two fields per frame');
  assert.equal(refreshRate({ ...m800x600at60, htotal: 0 }), 0);
  assert.ok(Math.abs(refreshRate({ ...m800x600at60, flags: d.DRM_MODE_FLAG_DBLSCAN }) - 30.16) < 0.01);
});

test('chooseMode: the exact size, nearest 60 Hz by default', () => {
  assert.equal(chooseMode(list, { width: 800, height: 600 }), m800x600at60);
  assert.equal(chooseMode(list, { width: 800, height: 600, refresh: 75 }), m800x600at75);
  assert.equal(chooseMode(list, { width: 800, height: 600, refresh: 50 }), m800x600at56);
});

test('chooseMode: progressive before interlaced, preferred among equals', () => {
  assert.equal(chooseMode([m1024x768i, m1024x768at60], { width: 1024, height: 768 }), m1024x768at60);
  const other = { ...m1024x768at60, type: d.DRM_MODE_TYPE_DRIVER, clock: 65100 };
  assert.equal(chooseMode([other, m1024x768at60], { width: 1024, height: 768 }), m1024x768at60);
});

test('chooseMode: the smallest mode that holds a size no mode has, else the largest', () => {
  assert.equal(chooseMode(list, { width: 640, height: 480 }), m800x600at60);
  assert.equal(chooseMode(list, { width: 1000, height: 700 }), m1024x768at60);
  assert.equal(chooseMode(list, { width: 2560, height: 1440 }), m1920x1080);
  assert.equal(chooseMode([], { width: 800, height: 600 }), undefined);
});
