// DRM ioctl numbers pinned (the header test checks them too, but only where
// the rig's kernels are built; these run everywhere). Values as libdrm's
// xf86drm users see them on x86-64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as d from './drm.js';

test('DRM ioctl numbers', () => {
  const pinned: Record<string, number> = {
    DRM_IOCTL_VERSION: 0xc0406400,
    DRM_IOCTL_GEM_CLOSE: 0x40086409,
    DRM_IOCTL_GET_CAP: 0xc010640c,
    DRM_IOCTL_SET_CLIENT_CAP: 0x4010640d,
    DRM_IOCTL_PRIME_HANDLE_TO_FD: 0xc00c642d,
    DRM_IOCTL_PRIME_FD_TO_HANDLE: 0xc00c642e,
    DRM_IOCTL_MODE_GETRESOURCES: 0xc04064a0,
    DRM_IOCTL_MODE_GETCRTC: 0xc06864a1,
    DRM_IOCTL_MODE_GETENCODER: 0xc01464a6,
    DRM_IOCTL_MODE_GETCONNECTOR: 0xc05064a7,
    DRM_IOCTL_MODE_GETPROPERTY: 0xc04064aa,
    DRM_IOCTL_MODE_GETPROPBLOB: 0xc01064ac,
    DRM_IOCTL_MODE_RMFB: 0xc00464af,
    DRM_IOCTL_MODE_CREATE_DUMB: 0xc02064b2,
    DRM_IOCTL_MODE_MAP_DUMB: 0xc01064b3,
    DRM_IOCTL_MODE_DESTROY_DUMB: 0xc00464b4,
    DRM_IOCTL_MODE_GETPLANERESOURCES: 0xc01064b5,
    DRM_IOCTL_MODE_GETPLANE: 0xc02064b6,
    DRM_IOCTL_MODE_ADDFB2: 0xc06864b8,
    DRM_IOCTL_MODE_OBJ_GETPROPERTIES: 0xc02064b9,
    DRM_IOCTL_MODE_ATOMIC: 0xc03864bc,
    DRM_IOCTL_MODE_CREATEPROPBLOB: 0xc01064bd,
    DRM_IOCTL_MODE_DESTROYPROPBLOB: 0xc00464be,
    DRM_IOCTL_MODE_CREATE_LEASE: 0xc01864c6,
    DRM_IOCTL_MODE_LIST_LESSEES: 0xc01064c7,
    DRM_IOCTL_MODE_GET_LEASE: 0xc01064c8,
    DRM_IOCTL_MODE_REVOKE_LEASE: 0xc00464c9,
    DRM_IOCTL_MODE_CLOSEFB: 0xc00864d0,
  };
  const actual = Object.fromEntries(Object.entries(d).filter(([name]) => name.startsWith('DRM_IOCTL_') && name !== 'DRM_IOCTL_BASE'));
  assert.deepEqual(actual, pinned);
});
