/**
 * vfio-display: typed access to the Linux VFIO display uAPI — plane query,
 * dma-buf export, region framebuffers, EDID, display changes.
 *
 * ```ts
 * import { openDisplay } from 'vfio-display';
 * using display = openDisplay('4b20d080-1b54-4048-85b3-a6a62d165c01');
 * const plane = display.query('primary');          // null while the guest has no mode
 * if (plane?.mode === 'dmabuf') {
 *   const buf = display.dmabuf(plane);             // fd to import into KMS/GL
 * }
 * for await (const change of display.changes()) { ... }
 * ```
 * @packageDocumentation
 */
export { Display, openDisplay, type DisplayFeatures, type DisplayOptions } from './display/display.js';
export type { ChangeSource, ChangeStream, ChangesOptions, DisplayChange, EventCounts } from './display/changes.js';
export { Dmabuf, DmabufMapping, type CpuAccess, type DmabufPlane } from './display/dmabuf.js';
export { EdidRegion, type EdidLimits, type LinkState } from './display/edid.js';
export { cvtReducedBlanking, generateEdid, parseMode, type DetailedTiming, type DisplayMode, type EdidOptions } from './display/edid-generator.js';
export type { PlaneInfo, PlaneMode, PlaneType } from './display/plane.js';
export type { RegionPlane } from './display/region.js';
export { VfioDevice, RegionMapping, type DeviceInfo, type IrqAction, type IrqInfo, type OpenedVia, type RegionInfo, type SetIrqsRequest } from './device/device.js';
export type { IrqCapability, RegionCapability, SparseMmapArea, UnknownCapability } from './device/caps.js';
export {
  DeviceHandover,
  HANDOVER_CHILD_FDS,
  openHandover,
  type BindWaitOptions,
  type ChildFds,
  type QemuArgsOptions,
  type StdioEntry,
} from './device/handover.js';
export { openCdev, openDevice, openGroupDevice, openMdev, type DeviceTarget, type OpenOptions } from './device/open.js';
export { createInstance, getInstance, listInstances, listParents, listTypes, removeInstance, validateUuid, type MdevInstance, type MdevParent, type MdevType } from './device/mdev.js';
export { EventFd } from './eventfd.js';
export { waitReadable, type WaitOptions, type WaitResult } from './wait.js';
export {
  BusyError,
  ClosedError,
  HandoverError,
  InvalidArgumentError,
  KernelError,
  MalformedReplyError,
  NotFoundError,
  PermissionError,
  UnsupportedError,
  VfioDisplayError,
  type ErrorDetails,
  type HandoverFailure,
} from './errors.js';
export { formatInfo, fourccString, modifierName, type FormatInfo } from './uapi/drm_fourcc.js';
export * as uapi from './uapi/index.js';
