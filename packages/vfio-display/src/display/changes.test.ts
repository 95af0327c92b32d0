import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pollChanges } from './changes.js';
import type { PlaneInfo } from './plane.js';

const plane = (dmabufId: number): PlaneInfo => ({ type: 'primary', mode: 'dmabuf', dmabufId, drmFormat: 0x34325258, fourcc: 'XR24', modifier: 0n, width: 8, height: 8, stride: 32, size: 256, x: 0, y: 0, hotspot: { x: 0, y: 0 } });

test('timer mode: an abort while it sleeps ends the stream with the signal\'s reason, as event mode does', async () => {
  const ac = new AbortController();
  const stream = pollChanges(() => plane(1), false, { signal: ac.signal, periodMs: 1000 });
  const first = await stream.next();
  assert.ok(!first.done);
  assert.equal(first.value.primary?.mode, 'dmabuf');
  const next = stream.next();
  ac.abort();
  await assert.rejects(next, (err) => err === ac.signal.reason);
});
