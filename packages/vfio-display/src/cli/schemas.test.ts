// The CLI's JSON outputs, through the schemas the package exports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlaneInfo } from '../display/plane.js';
import { planesReportSchema, watchLineSchema, type PlanesReport, type WatchLine } from './schemas.js';

const viaText = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const cursor: PlaneInfo = { type: 'cursor', drmFormat: 0x34325241, fourcc: 'AR24', modifier: 0n, width: 64, height: 64, stride: 256, size: 16384, x: 100, y: 50, hotspot: { x: 1, y: 2 }, mode: 'dmabuf', dmabufId: 9 };
const primary: PlaneInfo = { type: 'primary', drmFormat: 0x34325258, fourcc: 'XR24', modifier: 0n, width: 1024, height: 768, stride: 4096, size: 3145728, x: 0, y: 0, hotspot: null, mode: 'region', regionIndex: 16 };

test('planes --json: the report survives JSON text exactly, and extra keys are refused', () => {
  const report: PlanesReport = { device: 'fd:3', via: 'borrowed', planes: 'dmabuf', primary, cursor };
  const json = planesReportSchema().encode(report);
  assert.deepEqual(planesReportSchema().parse(viaText(json)), report);
  assert.equal(planesReportSchema().safeParse({ ...json, extra: 1 }).success, false);
  assert.equal(planesReportSchema().safeParse({ ...json, via: 'vfio' }).success, false);
});

test('watch --json: a line survives JSON text exactly', () => {
  const line: WatchLine = {
    change: { seq: 2, source: 'timer', primary, cursor, changed: { primary: true, cursor: false, mode: false }, events: null, seenAt: 5n },
    flips: 1,
    modeChanges: 0,
    cursorChanges: 0,
    fps: 59.5,
  };
  assert.deepEqual(watchLineSchema().parse(viaText(watchLineSchema().encode(line))), line);
  assert.equal(watchLineSchema().safeParse({ ...(viaText(watchLineSchema().encode(line)) as object), fps: -1 }).success, false);
});
