// The VFIO display extension of this project's kernel series
// (kernel-patches/, on Linux 6.12): IRQ-info capabilities, the display
// change IRQ and extended plane info. Kernels without the series lack all
// of it; test/rig/uapi-headers checks these against the patched headers.
import { layout, u32, u64 } from './codec.js';
import * as base from './vfio.js';

/** vfio_irq_info grows by cap_offset and a pad that keeps capabilities 8-byte aligned (16 -> 24 bytes). */
export const VFIO_IRQ_INFO_FLAG_CAPS = 1 << 4;
export const vfio_irq_info = layout('vfio_irq_info', 24, { ...base.vfio_irq_info.fields, cap_offset: u32(16), pad: u32(20) });

export const VFIO_IRQ_INFO_CAP_TYPE = 1;
export const vfio_irq_info_cap_type = layout('vfio_irq_info_cap_type', 16, { type: u32(8), subtype: u32(12) });

export const VFIO_IRQ_TYPE_GFX = 1;
export const VFIO_IRQ_SUBTYPE_GFX_DISPLAY = 1;

/** Optional: one IRQ per bit of `events`, IRQ n signalling the changes of bit n. */
export const VFIO_IRQ_INFO_CAP_DISPLAY = 2;
export const vfio_irq_info_cap_display = layout('vfio_irq_info_cap_display', 16, { events: u32(8), pad: u32(12) });
export const VFIO_IRQ_DISPLAY_PRIMARY = 1 << 0;
export const VFIO_IRQ_DISPLAY_CURSOR = 1 << 1;
export const VFIO_IRQ_DISPLAY_MODE = 1 << 2;

/** Input flag; with it (and argsz >= 88) the struct continues at 64. */
export const VFIO_GFX_PLANE_FLAG_EXT_INFO = 1 << 3;
/**
 * The 2018 GVT-g proposal (an RFC in the series): the query answers, in the
 * union with dmabuf_id, the id of a framebuffer of the host DRM device that
 * owns the vGPU, kept showing the guest's current surface by the driver.
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
