// The VFIO display extension of this project's kernel series
// (kernel-patches/display, on Linux 6.12): device-info capabilities that
// type an IRQ index, the display change IRQ, extended plane info, and direct
// flips to a host DRM lease. Kernels without the series lack all of it;
// test/rig/uapi-headers checks these against the patched headers.
import { layout, s32, u32, u64 } from './codec.js';
import * as base from './vfio.js';

/** Device-info capability: what a device-specific IRQ index is for (one per such index). */
export const VFIO_DEVICE_INFO_CAP_IRQ_TYPE = 6;
export const vfio_device_info_cap_irq_type = layout('vfio_device_info_cap_irq_type', 24, {
  index: u32(8),
  type: u32(12),
  subtype: u32(16),
  reserved: u32(20),
});

export const VFIO_IRQ_TYPE_GFX = 1;
export const VFIO_IRQ_SUBTYPE_GFX_DISPLAY = 1;

/** Optional: the display change IRQ index has one IRQ per bit of `events`, IRQ n signalling the changes of bit n. */
export const VFIO_DEVICE_INFO_CAP_GFX_DISPLAY_IRQ = 7;
export const vfio_device_info_cap_gfx_display_irq = layout('vfio_device_info_cap_gfx_display_irq', 16, { index: u32(8), events: u32(12) });
export const VFIO_IRQ_DISPLAY_PRIMARY = 1 << 0;
export const VFIO_IRQ_DISPLAY_CURSOR = 1 << 1;
export const VFIO_IRQ_DISPLAY_MODE = 1 << 2;

/** Input flag; with it (and argsz >= 88) the struct continues at 64. */
export const VFIO_GFX_PLANE_FLAG_EXT_INFO = 1 << 3;
/**
 * Probe for direct flips; a query with it answers, in the union with
 * dmabuf_id, the id of the host framebuffer the device commits for the
 * current surface of a head assigned to a DRM lease.
 */
export const VFIO_GFX_PLANE_TYPE_DRM_FB = 1 << 4;
export const vfio_device_gfx_plane_info = layout('vfio_device_gfx_plane_info', 88, {
  ...base.vfio_device_gfx_plane_info.fields,
  drm_fb_id: u32(56),
  head: u32(64),
  num_heads: u32(68),
  src_x: u32(72),
  src_y: u32(76),
  flip_seq: u64(80),
});

/** VFIO_DEVICE_FEATURE: show a head's primary plane on a plane of a host DRM lease, flipped by the kernel. */
export const VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP = 11;
export const vfio_device_feature_gfx_direct_flip = layout('vfio_device_feature_gfx_direct_flip', 88, {
  drm_fd: s32(0),
  flags: u32(4),
  head: u32(8),
  crtc_id: u32(12),
  plane_id: u32(16),
  crtc_x: s32(20),
  crtc_y: s32(24),
  crtc_w: u32(28),
  crtc_h: u32(32),
  state: u32(36),
  error: s32(40),
  reserved: u32(44),
  flip_seq: u64(48),
  vblank_seq: u64(56),
  vblank_ns: u64(64),
  commits: u64(72),
  skipped: u64(80),
});
export const VFIO_GFX_DIRECT_FLIP_OFF = 0;
export const VFIO_GFX_DIRECT_FLIP_ACTIVE = 1;
export const VFIO_GFX_DIRECT_FLIP_REFUSED = 2;
export const VFIO_GFX_DIRECT_FLIP_REVOKED = 3;
