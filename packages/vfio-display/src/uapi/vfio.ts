// include/uapi/linux/vfio.h (Linux 6.12), the parts a display consumer uses,
// plus the extension of this project's kernel series (marked below).
// Names are the kernel's; test/rig/uapi-headers checks every value and
// layout against the real headers compiled with gcc.
import { layout, s32, u16, u32, u64 } from './codec.js';
import { io } from './ioctl.js';

export const VFIO_API_VERSION = 0;
export const VFIO_TYPE = 0x3b; // ';'
export const VFIO_BASE = 100;

export const VFIO_TYPE1_IOMMU = 1;
export const VFIO_TYPE1v2_IOMMU = 3;

// ioctls: all _IO(';', 100 + n); their structs grow through argsz.
export const VFIO_GET_API_VERSION = io(VFIO_TYPE, VFIO_BASE + 0);
export const VFIO_CHECK_EXTENSION = io(VFIO_TYPE, VFIO_BASE + 1);
export const VFIO_SET_IOMMU = io(VFIO_TYPE, VFIO_BASE + 2);
export const VFIO_GROUP_GET_STATUS = io(VFIO_TYPE, VFIO_BASE + 3);
export const VFIO_GROUP_SET_CONTAINER = io(VFIO_TYPE, VFIO_BASE + 4);
export const VFIO_GROUP_UNSET_CONTAINER = io(VFIO_TYPE, VFIO_BASE + 5);
export const VFIO_GROUP_GET_DEVICE_FD = io(VFIO_TYPE, VFIO_BASE + 6);
export const VFIO_DEVICE_GET_INFO = io(VFIO_TYPE, VFIO_BASE + 7);
export const VFIO_DEVICE_GET_REGION_INFO = io(VFIO_TYPE, VFIO_BASE + 8);
export const VFIO_DEVICE_GET_IRQ_INFO = io(VFIO_TYPE, VFIO_BASE + 9);
export const VFIO_DEVICE_SET_IRQS = io(VFIO_TYPE, VFIO_BASE + 10);
export const VFIO_DEVICE_RESET = io(VFIO_TYPE, VFIO_BASE + 11);
export const VFIO_DEVICE_QUERY_GFX_PLANE = io(VFIO_TYPE, VFIO_BASE + 14);
export const VFIO_DEVICE_GET_GFX_DMABUF = io(VFIO_TYPE, VFIO_BASE + 15);
export const VFIO_DEVICE_BIND_IOMMUFD = io(VFIO_TYPE, VFIO_BASE + 18);
export const VFIO_DEVICE_ATTACH_IOMMUFD_PT = io(VFIO_TYPE, VFIO_BASE + 19);
export const VFIO_DEVICE_DETACH_IOMMUFD_PT = io(VFIO_TYPE, VFIO_BASE + 20);
export const VFIO_DEVICE_FEATURE = io(VFIO_TYPE, VFIO_BASE + 17);

export const vfio_group_status = layout('vfio_group_status', 8, { argsz: u32(0), flags: u32(4) });
export const VFIO_GROUP_FLAGS_VIABLE = 1 << 0;
export const VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

export const vfio_device_info = layout('vfio_device_info', 24, {
  argsz: u32(0),
  flags: u32(4),
  num_regions: u32(8),
  num_irqs: u32(12),
  cap_offset: u32(16),
  pad: u32(20),
});
export const VFIO_DEVICE_FLAGS_RESET = 1 << 0;
export const VFIO_DEVICE_FLAGS_PCI = 1 << 1;
export const VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
export const VFIO_DEVICE_FLAGS_AMBA = 1 << 3;
export const VFIO_DEVICE_FLAGS_CCW = 1 << 4;
export const VFIO_DEVICE_FLAGS_AP = 1 << 5;
export const VFIO_DEVICE_FLAGS_FSL_MC = 1 << 6;
export const VFIO_DEVICE_FLAGS_CAPS = 1 << 7;
export const VFIO_DEVICE_FLAGS_CDX = 1 << 8;

export const vfio_region_info = layout('vfio_region_info', 32, {
  argsz: u32(0),
  flags: u32(4),
  index: u32(8),
  cap_offset: u32(12),
  size: u64(16),
  offset: u64(24),
});
export const VFIO_REGION_INFO_FLAG_READ = 1 << 0;
export const VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
export const VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
export const VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;

// Capability chains (device info, region info, and with the extension IRQ
// info): `next` is an offset from the start of the info buffer, 0 ends it.
export const vfio_info_cap_header = layout('vfio_info_cap_header', 8, { id: u16(0), version: u16(2), next: u32(4) });

export const VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;
export const vfio_region_info_cap_sparse_mmap = layout('vfio_region_info_cap_sparse_mmap', 16, {
  nr_areas: u32(8),
  reserved: u32(12),
});
export const vfio_region_sparse_mmap_area = layout('vfio_region_sparse_mmap_area', 16, { offset: u64(0), size: u64(8) });

export const VFIO_REGION_INFO_CAP_TYPE = 2;
export const vfio_region_info_cap_type = layout('vfio_region_info_cap_type', 16, { type: u32(8), subtype: u32(12) });
export const VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

export const VFIO_REGION_TYPE_PCI_VENDOR_TYPE = 0x80000000;
export const VFIO_REGION_TYPE_PCI_VENDOR_MASK = 0xffff;
export const VFIO_REGION_TYPE_GFX = 1;
export const VFIO_REGION_TYPE_CCW = 2;
export const VFIO_REGION_TYPE_MIGRATION_DEPRECATED = 3;
export const VFIO_REGION_SUBTYPE_GFX_EDID = 1;

// vfio-pci's fixed region and IRQ indexes (mdev display devices use them too).
export const VFIO_PCI_BAR0_REGION_INDEX = 0;
export const VFIO_PCI_BAR2_REGION_INDEX = 2;
export const VFIO_PCI_ROM_REGION_INDEX = 6;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_PCI_VGA_REGION_INDEX = 8;
export const VFIO_PCI_NUM_REGIONS = 9;
export const VFIO_PCI_INTX_IRQ_INDEX = 0;
export const VFIO_PCI_MSI_IRQ_INDEX = 1;
export const VFIO_PCI_MSIX_IRQ_INDEX = 2;
export const VFIO_PCI_ERR_IRQ_INDEX = 3;
export const VFIO_PCI_REQ_IRQ_INDEX = 4;
export const VFIO_PCI_NUM_IRQS = 5;

/** The EDID region's registers, accessed with pread/pwrite at the region offset. */
export const vfio_region_gfx_edid = layout('vfio_region_gfx_edid', 24, {
  edid_offset: u32(0),
  edid_max_size: u32(4),
  edid_size: u32(8),
  max_xres: u32(12),
  max_yres: u32(16),
  link_state: u32(20),
});
export const VFIO_DEVICE_GFX_LINK_STATE_UP = 1;
export const VFIO_DEVICE_GFX_LINK_STATE_DOWN = 2;

export const vfio_irq_info = layout('vfio_irq_info', 16, { argsz: u32(0), flags: u32(4), index: u32(8), count: u32(12) });
export const VFIO_IRQ_INFO_EVENTFD = 1 << 0;
export const VFIO_IRQ_INFO_MASKABLE = 1 << 1;
export const VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
export const VFIO_IRQ_INFO_NORESIZE = 1 << 3;

/** Header of SET_IRQS; `count` entries of data (s32 eventfds, u8 bools) follow at 20. */
export const vfio_irq_set = layout('vfio_irq_set', 20, {
  argsz: u32(0),
  flags: u32(4),
  index: u32(8),
  start: u32(12),
  count: u32(16),
});
export const VFIO_IRQ_SET_DATA_NONE = 1 << 0;
export const VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
export const VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
export const VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
export const VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
export const VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;

export const vfio_device_gfx_plane_info = layout('vfio_device_gfx_plane_info', 64, {
  argsz: u32(0),
  flags: u32(4),
  drm_plane_type: u32(8),
  drm_format: u32(12),
  drm_format_mod: u64(16),
  width: u32(24),
  height: u32(28),
  stride: u32(32),
  size: u32(36),
  x_pos: u32(40),
  y_pos: u32(44),
  x_hot: u32(48),
  y_hot: u32(52),
  // A union with dmabuf_id at the same offset.
  region_index: u32(56),
  reserved: u32(60),
});
export const VFIO_GFX_PLANE_TYPE_PROBE = 1 << 0;
export const VFIO_GFX_PLANE_TYPE_DMABUF = 1 << 1;
export const VFIO_GFX_PLANE_TYPE_REGION = 1 << 2;

/** Header of VFIO_DEVICE_FEATURE; the feature's data follows at 8. */
export const vfio_device_feature = layout('vfio_device_feature', 8, { argsz: u32(0), flags: u32(4) });
export const VFIO_DEVICE_FEATURE_MASK = 0xffff;
export const VFIO_DEVICE_FEATURE_GET = 1 << 16;
export const VFIO_DEVICE_FEATURE_SET = 1 << 17;
export const VFIO_DEVICE_FEATURE_PROBE = 1 << 18;

export const vfio_device_bind_iommufd = layout('vfio_device_bind_iommufd', 16, {
  argsz: u32(0),
  flags: u32(4),
  iommufd: s32(8),
  out_devid: u32(12),
});
export const vfio_device_attach_iommufd_pt = layout('vfio_device_attach_iommufd_pt', 12, {
  argsz: u32(0),
  flags: u32(4),
  pt_id: u32(8),
});
export const vfio_device_detach_iommufd_pt = layout('vfio_device_detach_iommufd_pt', 8, { argsz: u32(0), flags: u32(4) });
