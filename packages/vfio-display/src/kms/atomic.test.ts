import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AtomicCommitError, InvalidArgumentError, PermissionError } from '../errors.js';
import * as d from '../uapi/drm.js';
import { AtomicRequest, commitError, flagNames, fromFixed16, toFixed16, type PropertyResolver } from './atomic.js';

const PLANE = 31;
const CRTC = 38;
const CONN = 40;
const WB = 41;
/** Property ids as a card would report them, for request building without a card. */
const ids: Record<number, Record<string, number>> = {
  [PLANE]: { FB_ID: 17, CRTC_ID: 20, SRC_X: 10, SRC_Y: 11, SRC_W: 12, SRC_H: 13, CRTC_X: 14, CRTC_Y: 15, CRTC_W: 16, CRTC_H: 18 },
  [CRTC]: { ACTIVE: 22, MODE_ID: 23 },
  [CONN]: { CRTC_ID: 20 },
  [WB]: { CRTC_ID: 20, WRITEBACK_FB_ID: 30, WRITEBACK_OUT_FENCE_PTR: 31 },
};
const resolver: PropertyResolver = {
  id(objectId, name) {
    const id = ids[objectId]?.[name];
    if (id === undefined) throw new InvalidArgumentError(`object ${objectId} has no property ${name}`);
    return id;
  },
};
const kinds = new Map([
  [PLANE, d.DRM_MODE_OBJECT_PLANE],
  [CRTC, d.DRM_MODE_OBJECT_CRTC],
  [CONN, d.DRM_MODE_OBJECT_CONNECTOR],
  [WB, d.DRM_MODE_OBJECT_CONNECTOR],
]);
const request = (): AtomicRequest => new AtomicRequest(resolver, kinds);

test('16.16 fixed point', () => {
  assert.equal(toFixed16(800), 800n << 16n);
  assert.equal(toFixed16(0.5), 0x8000n);
  assert.equal(toFixed16(65535.5), 0xffff8000n);
  assert.equal(fromFixed16(0x3200000n), 800);
  assert.equal(fromFixed16(toFixed16(12.25)), 12.25);
  for (const bad of [-1, 65536, Number.NaN, Infinity]) assert.throws(() => toFixed16(bad), RangeError);
});

test('a modeset with a plane encodes object by object, in the order named', () => {
  const req = request()
    .setCrtc(CRTC, { active: true, modeId: 55 })
    .setConnector(CONN, CRTC)
    .setPlane(PLANE, { fbId: 60, crtcId: CRTC, src: { x: 0, y: 8, width: 800, height: 600 }, crtc: { x: 112, y: 84, width: 800, height: 600 } });
  const enc = req.encode();
  assert.deepEqual([...enc.objects], [CRTC, CONN, PLANE]);
  assert.deepEqual([...enc.counts], [2, 1, 10]);
  assert.deepEqual([...enc.props], [22, 23, 20, 17, 20, 10, 11, 12, 13, 14, 15, 16, 18]);
  assert.deepEqual([...enc.values], [1n, 55n, 38n, 60n, 38n, 0n, 8n << 16n, 800n << 16n, 600n << 16n, 112n, 84n, 800n, 600n]);
  assert.deepEqual(enc.pointers, []);
  assert.deepEqual(req.crtcs, new Set([CRTC]));
});

test('negative CRTC positions are two\'s complement; the last value set wins', () => {
  const req = request().setPlane(PLANE, { fbId: 1, crtcId: CRTC, src: { x: 0, y: 0, width: 64, height: 64 }, crtc: { x: -10, y: -1, width: 64, height: 64 } });
  req.set(PLANE, 'FB_ID', 2);
  const enc = req.encode();
  assert.equal(enc.counts[0], 10);
  assert.equal(enc.values[0], 2n);
  assert.equal(enc.values[6], 0xfffffffffffffff6n);
  assert.equal(enc.values[7], 0xffffffffffffffffn);
});

test('values are checked before they reach the kernel', () => {
  assert.throws(() => request().set(PLANE, 'FB_ID', 1.5), InvalidArgumentError);
  assert.throws(() => request().set(PLANE, 'FB_ID', 1n << 64n), InvalidArgumentError);
  assert.throws(() => request().set(PLANE, 'NOPE', 1), /has no property NOPE/);
  const plane = { fbId: 1, crtcId: CRTC, src: { x: 0, y: 0, width: 64, height: 64 }, crtc: { x: 0, y: 0, width: 64, height: 64 } };
  assert.throws(() => request().setPlane(PLANE, { ...plane, src: { ...plane.src, x: -1 } }), InvalidArgumentError);
  assert.throws(() => request().setPlane(PLANE, { ...plane, crtc: { ...plane.crtc, width: Number.NaN } }), InvalidArgumentError);
});

test('disabling a plane names no CRTC; a connector or CRTC does', () => {
  assert.deepEqual(request().disablePlane(PLANE).crtcs, new Set());
  assert.deepEqual(request().setConnector(CONN, CRTC).crtcs, new Set([CRTC]));
  assert.deepEqual(request().setCrtc(CRTC, { active: false, modeId: 0 }).crtcs, new Set([CRTC]));
});

test('an out-fence is a pointer patched into the value array', () => {
  const req = request().setConnector(WB, CRTC).set(WB, 'WRITEBACK_FB_ID', 70);
  const fence = req.outFence(WB, 'WRITEBACK_OUT_FENCE_PTR');
  const enc = req.encode();
  assert.deepEqual([...enc.props], [20, 30, 31]);
  assert.equal(enc.pointers.length, 1);
  const [into, offset, target] = enc.pointers[0] ?? [];
  assert.equal(into?.buffer, enc.values.buffer);
  assert.equal(offset, 16);
  assert.equal(target?.buffer, fence.target.buffer, 'the fence\'s own slot');
  assert.equal(target.length, 4);
  assert.deepEqual(req.fences, [fence]);
  fence.reset();
  assert.equal(new Int32Array(fence.target.buffer)[0], -1);
});

test('a refused commit names its flags, objects and properties', () => {
  const req = request().setPlane(PLANE, { fbId: 60, crtcId: CRTC, src: { x: 0, y: 0, width: 800.5, height: 600 }, crtc: { x: -3, y: 0, width: 800, height: 600 } });
  const flags = d.DRM_MODE_ATOMIC_TEST_ONLY | d.DRM_MODE_ATOMIC_ALLOW_MODESET;
  assert.deepEqual(flagNames(flags), ['TEST_ONLY', 'ALLOW_MODESET']);
  const raw = Object.assign(new Error('ioctl DRM_IOCTL_MODE_ATOMIC failed: EINVAL (Invalid argument)'), { code: 'EINVAL', errno: -22, syscall: 'ioctl' });
  const err = commitError(raw, req, flags, '/dev/dri/card0');
  assert.ok(err instanceof AtomicCommitError);
  assert.equal(err.code, 'EINVAL');
  assert.equal(err.errno, -22);
  assert.equal(err.ioctl, 'DRM_IOCTL_MODE_ATOMIC');
  assert.deepEqual(err.flags, ['TEST_ONLY', 'ALLOW_MODESET']);
  assert.deepEqual(
    err.objects.map((o) => [o.kind, o.id, o.properties.FB_ID]),
    [['plane', PLANE, 60n]],
  );
  assert.match(err.message, /\(TEST_ONLY\|ALLOW_MODESET\) on \/dev\/dri\/card0 refused with EINVAL: the driver rejected the configuration; it set plane 31 FB_ID=60 CRTC_ID=38 SRC_X=0 SRC_Y=0 SRC_W=800.5 SRC_H=600 CRTC_X=-3 /);

  const busy = commitError(Object.assign(new Error('x failed: EBUSY (Device or resource busy)'), { code: 'EBUSY', errno: -16, syscall: 'ioctl' }), req, d.DRM_MODE_ATOMIC_NONBLOCK, '/dev/dri/card0');
  assert.ok(busy instanceof AtomicCommitError);
  assert.match(busy.message, /previous non-blocking commit/);
  const range = commitError(Object.assign(new Error('x failed: ERANGE (Numerical result out of range)'), { code: 'ERANGE', errno: -34, syscall: 'ioctl' }), req, 0, '/dev/dri/card0');
  assert.match(range.message, /refused with ERANGE: a scaling factor/);
  const nomem = commitError(Object.assign(new Error('x failed: ENOMEM (Cannot allocate memory)'), { code: 'ENOMEM', errno: -12, syscall: 'ioctl' }), req, 0, '/dev/dri/card0');
  assert.match(nomem.message, /refused with ENOMEM: ENOMEM \(Cannot allocate memory\)/);
  const master = commitError(Object.assign(new Error('x failed: EACCES'), { code: 'EACCES', errno: -13, syscall: 'ioctl' }), req, 0, '/dev/dri/card0');
  assert.ok(master instanceof PermissionError);
  assert.match(master.message, /not the DRM master/);
});
