/**
 * The raw kernel uAPI tables the library is built on, for tools that need
 * them directly: constants and struct layouts named as in the kernel headers
 * (vfio.h, iommufd.h, drm.h + drm_mode.h, drm_fourcc.h, dma-buf.h, mman.h),
 * each checked against the real headers.
 * @packageDocumentation
 */
export * as vfio from './vfio.js';
export * as vfioExt from './vfio-ext.js';
export * as iommufd from './iommufd.js';
export * as drm from './drm.js';
export * as drmFourcc from './drm_fourcc.js';
export * as dmaBuf from './dma-buf.js';
export * as mman from './mman.js';
export { decode, encode, layout, readField, viewOf, writeField } from './codec.js';
export type { Decoded, Field, Fields, FieldType, Layout, Value } from './codec.js';
export { io, ior, iow, iowr } from './ioctl.js';
