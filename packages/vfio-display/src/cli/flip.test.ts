// What flip prints: where the guest's frames go, and its stats.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PlaneInfo } from '../display/plane.js';
import type { FlipFrame } from '../flip/direct-flip.js';
import { flipStatus, placementText } from './flip.js';

const primary: PlaneInfo = { type: 'primary', drmFormat: 0x34325258, fourcc: 'XR24', modifier: 0n, width: 800, height: 600, stride: 3200, size: 1920000, x: 0, y: 0, hotspot: null, mode: 'dmabuf', dmabufId: 1 };
const frame: FlipFrame = {
  seq: 1,
  source: 'event',
  primary,
  cursor: null,
  placement: { src: { x: 0, y: 0, width: 800, height: 600 }, crtc: { x: 112, y: 84, width: 800, height: 600 } },
  modeset: false,
  dropped: 0,
  seenAt: 0n,
  completedAt: 0n,
  kernel: null,
};

test('placement in words; the same for every flip of one mode', () => {
  assert.equal(placementText(frame), 'guest 800x600 XR24 LINEAR shown at 112,84 800x600');
  assert.equal(placementText({ ...frame, seq: 2, primary: { ...primary, dmabufId: 2 } }), placementText(frame));
  assert.equal(placementText({ ...frame, primary: null, placement: null }), 'guest display off');
});

test('stats in one line', () => {
  const latency = { count: 3, minMs: 1, meanMs: 2, p50Ms: 1.96, p90Ms: 3, p99Ms: 4.04, maxMs: 5, buckets: [] };
  const base = { source: 'event', flipper: 'userspace', frames: 3, dropped: 1, modesets: 1, imports: 2, copies: 0, kernel: null, latency } as const;
  assert.equal(flipStatus(base, 59.94), 'event: 59.9 fps, 3 frames, 1 dropped, 1 modesets, 2 imports, latency p50 2.0 ms, p99 4.0 ms');
  assert.match(flipStatus({ ...base, source: null, frames: 0, dropped: 0, imports: 0 }, 0), /^starting: 0\.0 fps, 0 frames/);
  assert.match(flipStatus({ ...base, source: 'timer', frames: 9, dropped: 0 }), /^timer: 9 frames, 0 dropped/);
  assert.match(flipStatus({ ...base, source: 'timer', imports: 0, copies: 7 }), /, 7 copies, latency/);
  const kernel = { state: 'refused', error: 'EINVAL', flipSeq: 42n, vblankSeq: 1000n, vblankNs: 0n, commits: 41n, skipped: 2n } as const;
  assert.equal(
    flipStatus({ ...base, flipper: 'kernel', frames: 41, dropped: 2, imports: 0, kernel }, 60),
    'kernel flips: 60.0 fps, 41 frames, 2 dropped, 1 modesets, refused (EINVAL), flip_seq 42, host vblank 1000',
  );
});
