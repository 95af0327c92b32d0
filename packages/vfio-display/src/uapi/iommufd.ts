// include/uapi/linux/iommufd.h (Linux 6.12): what attaching a VFIO cdev to
// an I/O address space needs. Checked against the header by test/rig/uapi-headers.
import { layout, u32 } from './codec.js';
import { io } from './ioctl.js';

export const IOMMUFD_TYPE = 0x3b; // ';'
export const IOMMUFD_CMD_BASE = 0x80;
export const IOMMU_DESTROY = io(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 0);
export const IOMMU_IOAS_ALLOC = io(IOMMUFD_TYPE, IOMMUFD_CMD_BASE + 1);

export const iommu_destroy = layout('iommu_destroy', 8, { size: u32(0), id: u32(4) });
export const iommu_ioas_alloc = layout('iommu_ioas_alloc', 12, { size: u32(0), flags: u32(4), out_ioas_id: u32(8) });
