// What watch counts: flips, mode changes and cursor changes, from changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DisplayChange } from '../display/changes.js';
import type { PlaneInfo } from '../display/plane.js';
import { WatchTally } from './watch.js';

const plane = (dmabufId: number, width = 800): PlaneInfo => ({ type: 'primary', drmFormat: 0x34325258, fourcc: 'XR24', modifier: 0n, width, height: 600, stride: width * 4, size: width * 2400, x: 0, y: 0, hotspot: null, mode: 'dmabuf', dmabufId });

function change(seq: number, primary: PlaneInfo | null, changed: Partial<DisplayChange['changed']>, ms: number): DisplayChange {
  return { seq, source: 'event', primary, cursor: null, changed: { primary: false, cursor: false, mode: false, ...changed }, events: null, seenAt: BigInt(ms) * 1_000_000n };
}

test('the first change is the state at the start; later ones are flips, mode changes or cursor changes', () => {
  const tally = new WatchTally();
  tally.add(change(1, plane(1), { primary: true, cursor: true, mode: true }, 0));
  assert.deepEqual([tally.flips, tally.modeChanges, tally.cursorChanges], [0, 0, 0]);
  tally.add(change(2, plane(2), { primary: true }, 100));
  tally.add(change(3, plane(1), { primary: true }, 200));
  tally.add(change(4, plane(1), { cursor: true }, 250));
  tally.add(change(5, plane(3, 1024), { primary: true, mode: true }, 300));
  tally.add(change(6, null, { primary: true, mode: true }, 400));
  assert.deepEqual([tally.flips, tally.modeChanges, tally.cursorChanges], [2, 2, 1]);
  assert.equal(tally.fps(1_000_000_000n), 2);
  assert.equal(tally.status('event', 1_150_000_000n), 'event: 1.0 fps, 2 flips, 2 mode changes, 1 cursor changes');
  const line = tally.line(change(6, null, { primary: true, mode: true }, 400), 2_000_000_000n);
  assert.deepEqual([line.flips, line.modeChanges, line.cursorChanges, line.fps], [2, 2, 1, 0]);
});
