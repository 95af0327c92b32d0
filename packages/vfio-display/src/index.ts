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
 *
 * using card = openCard({ driver: 'vkms' });       // atomic KMS on a host card
 * const fb = card.importDmabuf(buf.fd, { width, height, format, modifier, stride });
 * await card.attachFramebuffer(plane.id, { fbId: fb.id, crtcId, src, crtc });
 * ```
 * @packageDocumentation
 */
export { Display, openDisplay, type DisplayFeatures, type DisplayOptions } from './display/display.js';
export type { ChangeSource, ChangeStream, ChangesOptions, DisplayChange, EventCounts } from './display/changes.js';
export { displayChangeSchema, planeInfoSchema, type DisplayChangeJson, type JsonCodec, type Jsonified, type PlaneInfoJson } from './display/json.js';
export { BorrowedDmabuf, Dmabuf, DmabufMapping, type CpuAccess, type DmabufPlane } from './display/dmabuf.js';
export { EdidRegion, type EdidLimits, type EdidUpdateOptions, type LinkState } from './display/edid.js';
export { KernelFlip, type AssignedPlacement, type KernelFlipPlacement, type KernelFlipState, type KernelFlipStatus } from './display/kernel-flip.js';
export { cvtReducedBlanking, fitModes, generateEdid, parseMode, type DetailedTiming, type DisplayMode, type EdidOptions, type ModeLimits } from './display/edid-generator.js';
export type { DrmFbPlane, PlaneInfo, PlaneMode, PlaneType, QueryMode } from './display/plane.js';
export type { RegionPlane } from './display/region.js';
export { VfioDevice, RegionMapping, type DeviceInfo, type FeatureOp, type IrqAction, type IrqInfo, type OpenedVia, type RegionInfo, type SetIrqsRequest } from './device/device.js';
export type { DeviceCapability, IrqCapability, RegionCapability, SparseMmapArea, UnknownCapability } from './device/caps.js';
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
export { createInstance, drmCardOfParent, getInstance, listInstances, listParents, listTypes, removeInstance, validateUuid, type MdevInstance, type MdevParent, type MdevType } from './device/mdev.js';
export {
  Card,
  openCard,
  planeSupports,
  type AsyncCommitOptions,
  type CardCaps,
  type CardLimits,
  type CommitCompletion,
  type CommitOptions,
  type Connection,
  type Connector,
  type Crtc,
  type CrtcState,
  type DriverVersion,
  type Encoder,
  type OpenCardOptions,
  type KmsPlane,
  type KmsPlaneType,
  type KmsPlaneState,
} from './kms/card.js';
export { AtomicRequest, OutFence, fromFixed16, toFixed16, type CrtcUpdate, type PlaneUpdate, type Rect } from './kms/atomic.js';
export type { FlipEvent } from './kms/events.js';
export { DumbBuffer, Framebuffer, type DumbBufferOptions, type FramebufferLayout } from './kms/framebuffer.js';
export { Lease } from './kms/lease.js';
export { chooseMode, decodeModeInfo, encodeModeInfo, refreshRate, type ModeInfo, type ModeRequest } from './kms/mode.js';
export { Properties, PropertyBlob, bitmaskNames, decodeInFormats, enumName, type PropertyInfo, type PropertyKind } from './kms/properties.js';
export { WritebackCapture, attachWriteback } from './kms/writeback.js';
export { EventFd } from './eventfd.js';
export { waitReadable, type WaitOptions, type WaitResult } from './wait.js';
export {
  AtomicCommitError,
  BusyError,
  ClosedError,
  DeviceRemovedError,
  HandoverError,
  InvalidArgumentError,
  KernelError,
  MalformedReplyError,
  NotFoundError,
  PermissionError,
  UnsupportedError,
  VfioDisplayError,
  type CommitObject,
  type ErrorDetails,
  type HandoverFailure,
} from './errors.js';
export { DirectFlip, directFlip, type DirectFlipOptions, type DirectFlipStats, type FlipFrame } from './flip/direct-flip.js';
export { fitGuestToConnector, timingOf, type FitEdidOptions, type FittedEdid } from './flip/fit-edid.js';
export { LatencyHistogram, type LatencySummary } from './flip/latency.js';
export { cursorProblem, isUnscaled, placeCursor, placePlane, type CursorLimits, type Fit, type GuestCursor, type GuestGeometry, type Placement, type Size } from './flip/placement.js';
export { canConvert, FrameConverter, toRgba, type ConvertOptions, type Frame, type RgbaImage } from './image/convert.js';
export { detile, tiledOffset, tilingOf, TILE_BYTES, type DetileOptions, type Surface, type Tiling } from './image/tiling.js';
export { encodePng, type PngOptions } from './image/png.js';
export { compareImages, compositeCursor, type CompareOptions, type Comparison, type CursorPlacement } from './image/compose.js';
export { formatInfo, fourccString, modifierName, type FormatInfo } from './uapi/drm_fourcc.js';
export * as uapi from './uapi/index.js';
