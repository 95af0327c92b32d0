// ioctl numbers pinned (the header test checks them too, but only where the
// rig's kernels are built; these run everywhere).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IOMMU_DESTROY, IOMMU_IOAS_ALLOC } from './iommufd.js';
import * as v from './vfio.js';

test('VFIO ioctl numbers', () => {
  assert.deepEqual(
    [
      v.VFIO_GET_API_VERSION,
      v.VFIO_CHECK_EXTENSION,
      v.VFIO_SET_IOMMU,
      v.VFIO_GROUP_GET_STATUS,
      v.VFIO_GROUP_SET_CONTAINER,
      v.VFIO_GROUP_UNSET_CONTAINER,
      v.VFIO_GROUP_GET_DEVICE_FD,
      v.VFIO_DEVICE_GET_INFO,
      v.VFIO_DEVICE_GET_REGION_INFO,
      v.VFIO_DEVICE_GET_IRQ_INFO,
      v.VFIO_DEVICE_SET_IRQS,
      v.VFIO_DEVICE_RESET,
      v.VFIO_DEVICE_QUERY_GFX_PLANE,
      v.VFIO_DEVICE_GET_GFX_DMABUF,
      v.VFIO_DEVICE_FEATURE,
      v.VFIO_DEVICE_BIND_IOMMUFD,
      v.VFIO_DEVICE_ATTACH_IOMMUFD_PT,
      v.VFIO_DEVICE_DETACH_IOMMUFD_PT,
    ],
    [0x3b64, 0x3b65, 0x3b66, 0x3b67, 0x3b68, 0x3b69, 0x3b6a, 0x3b6b, 0x3b6c, 0x3b6d, 0x3b6e, 0x3b6f, 0x3b72, 0x3b73, 0x3b75, 0x3b76, 0x3b77, 0x3b78],
  );
});

test('iommufd ioctl numbers', () => {
  assert.equal(IOMMU_DESTROY, 0x3b80);
  assert.equal(IOMMU_IOAS_ALLOC, 0x3b81);
});
