import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MalformedReplyError } from '../errors.js';
import { encode } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';
import { parseEvents } from './events.js';

const vblank = (type: number, userData: bigint, crtcId: number, sequence: number, sec: number, usec: number): Uint8Array =>
  encode(d.drm_event_vblank, { 'base.type': type, 'base.length': 32, user_data: userData, tv_sec: sec, tv_usec: usec, sequence, crtc_id: crtcId });

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

test('flip and vblank events with their user data, CRTC and monotonic time', () => {
  const bytes = concat(vblank(d.DRM_EVENT_FLIP_COMPLETE, 7n, 38, 1234, 100, 250), vblank(d.DRM_EVENT_VBLANK, 0xffffffffffn, 0, 5, 0, 1));
  assert.deepEqual(parseEvents(bytes), [
    { kind: 'flip', userData: 7n, crtcId: 38, sequence: 1234, timestampUs: 100_000_250 },
    { kind: 'vblank', userData: 0xffffffffffn, crtcId: 0, sequence: 5, timestampUs: 1 },
  ]);
});

test('other event types are skipped by their length', () => {
  const sequenceEvent = encode(d.drm_event, { type: d.DRM_EVENT_CRTC_SEQUENCE, length: 32 }, 32);
  const vendor = encode(d.drm_event, { type: 0x80000000, length: 12 }, 12);
  const bytes = concat(sequenceEvent, vendor, vblank(d.DRM_EVENT_FLIP_COMPLETE, 1n, 1, 1, 0, 0));
  assert.deepEqual(
    parseEvents(bytes).map((e) => e.userData),
    [1n],
  );
  assert.deepEqual(parseEvents(new Uint8Array(0)), []);
});

test('a cut-off or self-contradicting stream is a malformed reply', () => {
  const one = vblank(d.DRM_EVENT_FLIP_COMPLETE, 1n, 1, 1, 0, 0);
  assert.throws(() => parseEvents(one.subarray(0, 20)), MalformedReplyError);
  assert.throws(() => parseEvents(one.subarray(0, 5)), MalformedReplyError);
  assert.throws(() => parseEvents(encode(d.drm_event, { type: 1, length: 4 })), MalformedReplyError, 'a length below the header loops forever otherwise');
});
