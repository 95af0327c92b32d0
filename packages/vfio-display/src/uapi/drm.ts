// include/uapi/drm/drm.h and drm_mode.h (Linux 6.12): the KMS subset a
// display consumer uses — caps, resources, properties and blobs, PRIME
// import, framebuffers, dumb buffers, atomic commits and their events.
// Names are the kernel's; test/rig/uapi-headers checks every value and
// layout against the real headers compiled with gcc.
import { bytes, chars, layout, s32, u16, u32, u64 } from './codec.js';
import { iow, iowr } from './ioctl.js';

export const DRM_IOCTL_BASE = 0x64; // 'd'

export const DRM_DISPLAY_MODE_LEN = 32;
export const DRM_PROP_NAME_LEN = 32;
export const DRM_CONNECTOR_NAME_LEN = 32;

// --- drm.h -----------------------------------------------------------------

/** Pointers and size_t are 64-bit here: the library runs on 64-bit Linux only. */
export const drm_version = layout('drm_version', 64, {
  version_major: s32(0),
  version_minor: s32(4),
  version_patchlevel: s32(8),
  name_len: u64(16),
  name: u64(24),
  date_len: u64(32),
  date: u64(40),
  desc_len: u64(48),
  desc: u64(56),
});

export const drm_gem_close = layout('drm_gem_close', 8, { handle: u32(0), pad: u32(4) });
export const drm_get_cap = layout('drm_get_cap', 16, { capability: u64(0), value: u64(8) });
export const drm_set_client_cap = layout('drm_set_client_cap', 16, { capability: u64(0), value: u64(8) });
export const drm_prime_handle = layout('drm_prime_handle', 12, { handle: u32(0), flags: u32(4), fd: s32(8) });

export const DRM_CAP_DUMB_BUFFER = 0x1;
export const DRM_CAP_VBLANK_HIGH_CRTC = 0x2;
export const DRM_CAP_DUMB_PREFERRED_DEPTH = 0x3;
export const DRM_CAP_DUMB_PREFER_SHADOW = 0x4;
export const DRM_CAP_PRIME = 0x5;
export const DRM_PRIME_CAP_IMPORT = 0x1;
export const DRM_PRIME_CAP_EXPORT = 0x2;
export const DRM_CAP_TIMESTAMP_MONOTONIC = 0x6;
export const DRM_CAP_ASYNC_PAGE_FLIP = 0x7;
export const DRM_CAP_CURSOR_WIDTH = 0x8;
export const DRM_CAP_CURSOR_HEIGHT = 0x9;
export const DRM_CAP_ADDFB2_MODIFIERS = 0x10;
export const DRM_CAP_PAGE_FLIP_TARGET = 0x11;
export const DRM_CAP_CRTC_IN_VBLANK_EVENT = 0x12;
export const DRM_CAP_SYNCOBJ = 0x13;
export const DRM_CAP_SYNCOBJ_TIMELINE = 0x14;
export const DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP = 0x15;

export const DRM_CLIENT_CAP_STEREO_3D = 1;
export const DRM_CLIENT_CAP_UNIVERSAL_PLANES = 2;
export const DRM_CLIENT_CAP_ATOMIC = 3;
export const DRM_CLIENT_CAP_ASPECT_RATIO = 4;
export const DRM_CLIENT_CAP_WRITEBACK_CONNECTORS = 5;
export const DRM_CLIENT_CAP_CURSOR_PLANE_HOTSPOT = 6;

/** The header of every event read(2) returns from a DRM fd; `length` includes it. */
export const drm_event = layout('drm_event', 8, { type: u32(0), length: u32(4) });
export const drm_event_vblank = layout('drm_event_vblank', 32, {
  'base.type': u32(0),
  'base.length': u32(4),
  user_data: u64(8),
  tv_sec: u32(16),
  tv_usec: u32(20),
  sequence: u32(24),
  crtc_id: u32(28),
});
export const DRM_EVENT_VBLANK = 0x01;
export const DRM_EVENT_FLIP_COMPLETE = 0x02;
export const DRM_EVENT_CRTC_SEQUENCE = 0x03;

// --- drm_mode.h --------------------------------------------------------------

export const drm_mode_modeinfo = layout('drm_mode_modeinfo', 68, {
  clock: u32(0),
  hdisplay: u16(4),
  hsync_start: u16(6),
  hsync_end: u16(8),
  htotal: u16(10),
  hskew: u16(12),
  vdisplay: u16(14),
  vsync_start: u16(16),
  vsync_end: u16(18),
  vtotal: u16(20),
  vscan: u16(22),
  vrefresh: u32(24),
  flags: u32(28),
  type: u32(32),
  name: chars(36, 32),
});
export const DRM_MODE_TYPE_PREFERRED = 1 << 3;
export const DRM_MODE_TYPE_USERDEF = 1 << 5;
export const DRM_MODE_TYPE_DRIVER = 1 << 6;
export const DRM_MODE_FLAG_PHSYNC = 1 << 0;
export const DRM_MODE_FLAG_NHSYNC = 1 << 1;
export const DRM_MODE_FLAG_PVSYNC = 1 << 2;
export const DRM_MODE_FLAG_NVSYNC = 1 << 3;
export const DRM_MODE_FLAG_INTERLACE = 1 << 4;
export const DRM_MODE_FLAG_DBLSCAN = 1 << 5;

export const drm_mode_card_res = layout('drm_mode_card_res', 64, {
  fb_id_ptr: u64(0),
  crtc_id_ptr: u64(8),
  connector_id_ptr: u64(16),
  encoder_id_ptr: u64(24),
  count_fbs: u32(32),
  count_crtcs: u32(36),
  count_connectors: u32(40),
  count_encoders: u32(44),
  min_width: u32(48),
  max_width: u32(52),
  min_height: u32(56),
  max_height: u32(60),
});

export const drm_mode_crtc = layout('drm_mode_crtc', 104, {
  set_connectors_ptr: u64(0),
  count_connectors: u32(8),
  crtc_id: u32(12),
  fb_id: u32(16),
  x: u32(20),
  y: u32(24),
  gamma_size: u32(28),
  mode_valid: u32(32),
  mode: bytes(36, 68),
});

export const drm_mode_get_plane_res = layout('drm_mode_get_plane_res', 16, { plane_id_ptr: u64(0), count_planes: u32(8) });
export const drm_mode_get_plane = layout('drm_mode_get_plane', 32, {
  plane_id: u32(0),
  crtc_id: u32(4),
  fb_id: u32(8),
  possible_crtcs: u32(12),
  gamma_size: u32(16),
  count_format_types: u32(20),
  format_type_ptr: u64(24),
});

export const drm_mode_get_encoder = layout('drm_mode_get_encoder', 20, {
  encoder_id: u32(0),
  encoder_type: u32(4),
  crtc_id: u32(8),
  possible_crtcs: u32(12),
  possible_clones: u32(16),
});
export const DRM_MODE_ENCODER_NONE = 0;
export const DRM_MODE_ENCODER_DAC = 1;
export const DRM_MODE_ENCODER_TMDS = 2;
export const DRM_MODE_ENCODER_LVDS = 3;
export const DRM_MODE_ENCODER_TVDAC = 4;
export const DRM_MODE_ENCODER_VIRTUAL = 5;
export const DRM_MODE_ENCODER_DSI = 6;
export const DRM_MODE_ENCODER_DPMST = 7;
export const DRM_MODE_ENCODER_DPI = 8;

export const drm_mode_get_connector = layout('drm_mode_get_connector', 80, {
  encoders_ptr: u64(0),
  modes_ptr: u64(8),
  props_ptr: u64(16),
  prop_values_ptr: u64(24),
  count_modes: u32(32),
  count_props: u32(36),
  count_encoders: u32(40),
  encoder_id: u32(44),
  connector_id: u32(48),
  connector_type: u32(52),
  connector_type_id: u32(56),
  connection: u32(60),
  mm_width: u32(64),
  mm_height: u32(68),
  subpixel: u32(72),
  pad: u32(76),
});
export const DRM_MODE_CONNECTOR_Unknown = 0;
export const DRM_MODE_CONNECTOR_VGA = 1;
export const DRM_MODE_CONNECTOR_DVII = 2;
export const DRM_MODE_CONNECTOR_DVID = 3;
export const DRM_MODE_CONNECTOR_DVIA = 4;
export const DRM_MODE_CONNECTOR_Composite = 5;
export const DRM_MODE_CONNECTOR_SVIDEO = 6;
export const DRM_MODE_CONNECTOR_LVDS = 7;
export const DRM_MODE_CONNECTOR_Component = 8;
export const DRM_MODE_CONNECTOR_9PinDIN = 9;
export const DRM_MODE_CONNECTOR_DisplayPort = 10;
export const DRM_MODE_CONNECTOR_HDMIA = 11;
export const DRM_MODE_CONNECTOR_HDMIB = 12;
export const DRM_MODE_CONNECTOR_TV = 13;
export const DRM_MODE_CONNECTOR_eDP = 14;
export const DRM_MODE_CONNECTOR_VIRTUAL = 15;
export const DRM_MODE_CONNECTOR_DSI = 16;
export const DRM_MODE_CONNECTOR_DPI = 17;
export const DRM_MODE_CONNECTOR_WRITEBACK = 18;
export const DRM_MODE_CONNECTOR_SPI = 19;
export const DRM_MODE_CONNECTOR_USB = 20;

export const DRM_MODE_PROP_PENDING = 1 << 0;
export const DRM_MODE_PROP_RANGE = 1 << 1;
export const DRM_MODE_PROP_IMMUTABLE = 1 << 2;
export const DRM_MODE_PROP_ENUM = 1 << 3;
export const DRM_MODE_PROP_BLOB = 1 << 4;
export const DRM_MODE_PROP_BITMASK = 1 << 5;
export const DRM_MODE_PROP_LEGACY_TYPE = DRM_MODE_PROP_RANGE | DRM_MODE_PROP_ENUM | DRM_MODE_PROP_BLOB | DRM_MODE_PROP_BITMASK;
export const DRM_MODE_PROP_EXTENDED_TYPE = 0x0000ffc0;
export const DRM_MODE_PROP_OBJECT = 1 << 6;
export const DRM_MODE_PROP_SIGNED_RANGE = 2 << 6;
export const DRM_MODE_PROP_ATOMIC = 0x80000000;

export const drm_mode_property_enum = layout('drm_mode_property_enum', 40, { value: u64(0), name: chars(8, 32) });
export const drm_mode_get_property = layout('drm_mode_get_property', 64, {
  values_ptr: u64(0),
  enum_blob_ptr: u64(8),
  prop_id: u32(16),
  flags: u32(20),
  name: chars(24, 32),
  count_values: u32(56),
  count_enum_blobs: u32(60),
});

export const DRM_MODE_OBJECT_CRTC = 0xcccccccc;
export const DRM_MODE_OBJECT_CONNECTOR = 0xc0c0c0c0;
export const DRM_MODE_OBJECT_ENCODER = 0xe0e0e0e0;
export const DRM_MODE_OBJECT_MODE = 0xdededede;
export const DRM_MODE_OBJECT_PROPERTY = 0xb0b0b0b0;
export const DRM_MODE_OBJECT_FB = 0xfbfbfbfb;
export const DRM_MODE_OBJECT_BLOB = 0xbbbbbbbb;
export const DRM_MODE_OBJECT_PLANE = 0xeeeeeeee;
export const DRM_MODE_OBJECT_ANY = 0;

export const drm_mode_obj_get_properties = layout('drm_mode_obj_get_properties', 32, {
  props_ptr: u64(0),
  prop_values_ptr: u64(8),
  count_props: u32(16),
  obj_id: u32(20),
  obj_type: u32(24),
});

export const drm_mode_get_blob = layout('drm_mode_get_blob', 16, { blob_id: u32(0), length: u32(4), data: u64(8) });
export const drm_mode_create_blob = layout('drm_mode_create_blob', 16, { data: u64(0), length: u32(8), blob_id: u32(12) });
export const drm_mode_destroy_blob = layout('drm_mode_destroy_blob', 4, { blob_id: u32(0) });

export const DRM_MODE_FB_INTERLACED = 1 << 0;
export const DRM_MODE_FB_MODIFIERS = 1 << 1;
/** Four planes per framebuffer; the library fills plane 0 (single-plane formats). */
export const drm_mode_fb_cmd2 = layout('drm_mode_fb_cmd2', 104, {
  fb_id: u32(0),
  width: u32(4),
  height: u32(8),
  pixel_format: u32(12),
  flags: u32(16),
  'handles[0]': u32(20),
  'handles[1]': u32(24),
  'handles[2]': u32(28),
  'handles[3]': u32(32),
  'pitches[0]': u32(36),
  'pitches[1]': u32(40),
  'pitches[2]': u32(44),
  'pitches[3]': u32(48),
  'offsets[0]': u32(52),
  'offsets[1]': u32(56),
  'offsets[2]': u32(60),
  'offsets[3]': u32(64),
  'modifier[0]': u64(72),
  'modifier[1]': u64(80),
  'modifier[2]': u64(88),
  'modifier[3]': u64(96),
});
export const drm_mode_closefb = layout('drm_mode_closefb', 8, { fb_id: u32(0), pad: u32(4) });

/** O_CLOEXEC, as DRM ioctls that return an fd take it in their flags. */
export const DRM_CLOEXEC = 0o2000000;
/** A lease of `object_count` object ids (at the pointer object_ids) to a new lessee file, returned in `fd`. */
export const drm_mode_create_lease = layout('drm_mode_create_lease', 24, {
  object_ids: u64(0),
  object_count: u32(8),
  flags: u32(12),
  lessee_id: u32(16),
  fd: u32(20),
});
/** The lessor's lessees: count_lessees ids at the pointer lessees_ptr. */
export const drm_mode_list_lessees = layout('drm_mode_list_lessees', 16, { count_lessees: u32(0), pad: u32(4), lessees_ptr: u64(8) });
/** The objects a lessee file may use: count_objects ids at the pointer objects_ptr. */
export const drm_mode_get_lease = layout('drm_mode_get_lease', 16, { count_objects: u32(0), pad: u32(4), objects_ptr: u64(8) });
export const drm_mode_revoke_lease = layout('drm_mode_revoke_lease', 4, { lessee_id: u32(0) });

export const drm_mode_create_dumb = layout('drm_mode_create_dumb', 32, {
  height: u32(0),
  width: u32(4),
  bpp: u32(8),
  flags: u32(12),
  handle: u32(16),
  pitch: u32(20),
  size: u64(24),
});
export const drm_mode_map_dumb = layout('drm_mode_map_dumb', 16, { handle: u32(0), pad: u32(4), offset: u64(8) });
export const drm_mode_destroy_dumb = layout('drm_mode_destroy_dumb', 4, { handle: u32(0) });

export const DRM_MODE_PAGE_FLIP_EVENT = 0x01;
export const DRM_MODE_PAGE_FLIP_ASYNC = 0x02;
export const DRM_MODE_ATOMIC_TEST_ONLY = 0x0100;
export const DRM_MODE_ATOMIC_NONBLOCK = 0x0200;
export const DRM_MODE_ATOMIC_ALLOW_MODESET = 0x0400;
export const DRM_MODE_ATOMIC_FLAGS =
  DRM_MODE_PAGE_FLIP_EVENT | DRM_MODE_PAGE_FLIP_ASYNC | DRM_MODE_ATOMIC_TEST_ONLY | DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_ATOMIC_ALLOW_MODESET;

/** Four parallel arrays: objects, their property counts, then property ids and u64 values object by object. */
export const drm_mode_atomic = layout('drm_mode_atomic', 56, {
  flags: u32(0),
  count_objs: u32(4),
  objs_ptr: u64(8),
  count_props_ptr: u64(16),
  props_ptr: u64(24),
  prop_values_ptr: u64(32),
  reserved: u64(40),
  user_data: u64(48),
});

export const DRM_MODE_ROTATE_0 = 1 << 0;
export const DRM_MODE_ROTATE_90 = 1 << 1;
export const DRM_MODE_ROTATE_180 = 1 << 2;
export const DRM_MODE_ROTATE_270 = 1 << 3;
export const DRM_MODE_REFLECT_X = 1 << 4;
export const DRM_MODE_REFLECT_Y = 1 << 5;

/** The IN_FORMATS plane property's blob: this header, the u32 formats, then the modifiers. */
export const FORMAT_BLOB_CURRENT = 1;
export const drm_format_modifier_blob = layout('drm_format_modifier_blob', 24, {
  version: u32(0),
  flags: u32(4),
  count_formats: u32(8),
  formats_offset: u32(12),
  count_modifiers: u32(16),
  modifiers_offset: u32(20),
});
/** Bit n of `formats` is format `offset + n` of the blob's format list. */
export const drm_format_modifier = layout('drm_format_modifier', 24, { formats: u64(0), offset: u32(8), pad: u32(12), modifier: u64(16) });

// --- ioctls: DRM_IOWR('d', nr, struct) unless noted ------------------------

const D = DRM_IOCTL_BASE;
export const DRM_IOCTL_VERSION = iowr(D, 0x00, drm_version.size);
export const DRM_IOCTL_GEM_CLOSE = iow(D, 0x09, drm_gem_close.size);
export const DRM_IOCTL_GET_CAP = iowr(D, 0x0c, drm_get_cap.size);
export const DRM_IOCTL_SET_CLIENT_CAP = iow(D, 0x0d, drm_set_client_cap.size);
export const DRM_IOCTL_PRIME_HANDLE_TO_FD = iowr(D, 0x2d, drm_prime_handle.size);
export const DRM_IOCTL_PRIME_FD_TO_HANDLE = iowr(D, 0x2e, drm_prime_handle.size);
export const DRM_IOCTL_MODE_GETRESOURCES = iowr(D, 0xa0, drm_mode_card_res.size);
export const DRM_IOCTL_MODE_GETCRTC = iowr(D, 0xa1, drm_mode_crtc.size);
export const DRM_IOCTL_MODE_GETENCODER = iowr(D, 0xa6, drm_mode_get_encoder.size);
export const DRM_IOCTL_MODE_GETCONNECTOR = iowr(D, 0xa7, drm_mode_get_connector.size);
export const DRM_IOCTL_MODE_GETPROPERTY = iowr(D, 0xaa, drm_mode_get_property.size);
export const DRM_IOCTL_MODE_GETPROPBLOB = iowr(D, 0xac, drm_mode_get_blob.size);
/** DRM_IOWR(0xAF, unsigned int): the argument is the fb id itself. */
export const DRM_IOCTL_MODE_RMFB = iowr(D, 0xaf, 4);
export const DRM_IOCTL_MODE_CREATE_DUMB = iowr(D, 0xb2, drm_mode_create_dumb.size);
export const DRM_IOCTL_MODE_MAP_DUMB = iowr(D, 0xb3, drm_mode_map_dumb.size);
export const DRM_IOCTL_MODE_DESTROY_DUMB = iowr(D, 0xb4, drm_mode_destroy_dumb.size);
export const DRM_IOCTL_MODE_GETPLANERESOURCES = iowr(D, 0xb5, drm_mode_get_plane_res.size);
export const DRM_IOCTL_MODE_GETPLANE = iowr(D, 0xb6, drm_mode_get_plane.size);
export const DRM_IOCTL_MODE_ADDFB2 = iowr(D, 0xb8, drm_mode_fb_cmd2.size);
export const DRM_IOCTL_MODE_OBJ_GETPROPERTIES = iowr(D, 0xb9, drm_mode_obj_get_properties.size);
export const DRM_IOCTL_MODE_ATOMIC = iowr(D, 0xbc, drm_mode_atomic.size);
export const DRM_IOCTL_MODE_CREATEPROPBLOB = iowr(D, 0xbd, drm_mode_create_blob.size);
export const DRM_IOCTL_MODE_DESTROYPROPBLOB = iowr(D, 0xbe, drm_mode_destroy_blob.size);
export const DRM_IOCTL_MODE_CREATE_LEASE = iowr(D, 0xc6, drm_mode_create_lease.size);
export const DRM_IOCTL_MODE_LIST_LESSEES = iowr(D, 0xc7, drm_mode_list_lessees.size);
export const DRM_IOCTL_MODE_GET_LEASE = iowr(D, 0xc8, drm_mode_get_lease.size);
export const DRM_IOCTL_MODE_REVOKE_LEASE = iowr(D, 0xc9, drm_mode_revoke_lease.size);
/** Linux 6.8+: removes the fb id without turning off the planes that show it. */
export const DRM_IOCTL_MODE_CLOSEFB = iowr(D, 0xd0, drm_mode_closefb.size);
