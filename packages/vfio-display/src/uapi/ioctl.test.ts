import assert from 'node:assert/strict';
import { test } from 'node:test';
import { io, ior, iow, iowr } from './ioctl.js';

test('encodes requests as asm-generic/ioctl.h does', () => {
  assert.equal(io(0x3b, 100), 0x3b64); // VFIO_GET_API_VERSION
  assert.equal(io(0x3b, 114), 0x3b72); // VFIO_DEVICE_QUERY_GFX_PLANE
  assert.equal(iowr(0x64, 0xbc, 56), 0xc03864bc); // DRM_IOCTL_MODE_ATOMIC
  assert.equal(iowr(0x64, 0x2e, 12), 0xc00c642e); // DRM_IOCTL_PRIME_FD_TO_HANDLE
  assert.equal(ior(0xaf, 0x00, 8), 0x8008af00); // VHOST_GET_FEATURES
  assert.equal(iow(0x62, 0, 8), 0x40086200); // DMA_BUF_IOCTL_SYNC
});

test('rejects sizes that do not fit in 14 bits', () => {
  assert.throws(() => iowr(0x64, 1, 1 << 14), RangeError);
  assert.throws(() => ior(0x64, 1, -1), RangeError);
});
