// VFIO capability chains (device and region info). The bytes come from a driver, so the walk trusts nothing: every
// header must lie inside the buffer, after the fixed struct, 4-byte aligned,
// and each `next` must point past the current capability, which rules out
// loops, backward links and overlaps, and bounds the walk by the buffer size.
import { MalformedReplyError } from '../errors.js';
import { decode, readField, viewOf } from '../uapi/codec.js';
import {
  VFIO_REGION_INFO_CAP_MSIX_MAPPABLE,
  VFIO_REGION_INFO_CAP_SPARSE_MMAP,
  VFIO_REGION_INFO_CAP_TYPE,
  vfio_info_cap_header,
  vfio_region_info_cap_sparse_mmap,
  vfio_region_info_cap_type,
  vfio_region_sparse_mmap_area,
} from '../uapi/vfio.js';
import {
  VFIO_DEVICE_INFO_CAP_GFX_DISPLAY_IRQ,
  VFIO_DEVICE_INFO_CAP_IRQ_TYPE,
  VFIO_IRQ_SUBTYPE_GFX_DISPLAY,
  VFIO_IRQ_TYPE_GFX,
  vfio_device_info_cap_gfx_display_irq,
  vfio_device_info_cap_irq_type,
} from '../uapi/vfio-ext.js';

export interface RawCapability {
  readonly id: number;
  readonly version: number;
  /** Offset of the header in the info buffer. */
  readonly offset: number;
  /** Bytes from the header to the next capability (or the buffer's end). */
  readonly length: number;
}

/**
 * Walks the chain starting at `first` (the info struct's cap_offset) in
 * `bytes` (the whole info buffer); `fixedSize` is the struct's own size,
 * which capabilities must follow.
 */
export function walkCapabilities(bytes: Uint8Array, first: number, fixedSize: number, what: string): RawCapability[] {
  const view = viewOf(bytes);
  const caps: RawCapability[] = [];
  const bad = (why: string): MalformedReplyError => new MalformedReplyError(`${what}: malformed capability chain: ${why}`);
  let offset = first;
  while (offset !== 0) {
    if (offset < fixedSize) throw bad(`capability at ${offset} overlaps the ${fixedSize}-byte info struct`);
    if (offset % 4 !== 0) throw bad(`capability at ${offset} is misaligned`);
    if (offset + vfio_info_cap_header.size > bytes.length) throw bad(`capability at ${offset} lies beyond the ${bytes.length}-byte buffer`);
    const id = readField(view, vfio_info_cap_header.fields.id, offset);
    const version = readField(view, vfio_info_cap_header.fields.version, offset);
    const next = readField(view, vfio_info_cap_header.fields.next, offset);
    if (next !== 0 && next < offset + vfio_info_cap_header.size) {
      throw bad(`capability at ${offset} links ${next <= offset ? 'backwards' : 'into its own header'} (next = ${next})`);
    }
    if (next > bytes.length) throw bad(`capability at ${offset} links beyond the buffer (next = ${next})`);
    caps.push({ id, version, offset, length: (next === 0 ? bytes.length : next) - offset });
    offset = next;
  }
  return caps;
}

export interface SparseMmapArea {
  /** Offset inside the region. */
  readonly offset: number;
  readonly size: number;
}

/** A region's capabilities, decoded. Unknown ids are kept with their raw bytes. */
export type RegionCapability =
  | { readonly kind: 'sparse-mmap'; readonly version: number; readonly areas: readonly SparseMmapArea[] }
  | { readonly kind: 'type'; readonly version: number; readonly type: number; readonly subtype: number }
  | { readonly kind: 'msix-mappable'; readonly version: number }
  | UnknownCapability;

/** A u64 from the kernel as a number; sizes and offsets beyond 2^53 are not real. */
export function safeNumber(value: bigint, field: string, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedReplyError(`${what}: ${field} ${value} is out of range`);
  return Number(value);
}

/** A capability this library does not know, kept with its raw bytes (header included). */
export interface UnknownCapability {
  readonly kind: 'unknown';
  readonly id: number;
  readonly version: number;
  readonly bytes: Uint8Array;
}

type Decoder<T> = (view: DataView, cap: RawCapability, need: (size: number, name: string) => void) => T;

/** Walks a chain and decodes each capability with the decoder for its id. */
function decodeChain<T>(bytes: Uint8Array, first: number, fixedSize: number, what: string, decoders: Readonly<Record<number, Decoder<T>>>): (T | UnknownCapability)[] {
  const view = viewOf(bytes);
  return walkCapabilities(bytes, first, fixedSize, what).map((cap) => {
    const decoder = decoders[cap.id];
    if (!decoder) return { kind: 'unknown', id: cap.id, version: cap.version, bytes: bytes.slice(cap.offset, cap.offset + cap.length) };
    return decoder(view, cap, (size, name) => {
      if (cap.length < size) throw new MalformedReplyError(`${what}: ${name} capability at ${cap.offset} needs ${size} bytes, has ${cap.length}`);
    });
  });
}

const REGION_DECODERS: Record<number, Decoder<Exclude<RegionCapability, UnknownCapability>>> = {
  [VFIO_REGION_INFO_CAP_SPARSE_MMAP]: (view, cap, need) => {
    need(vfio_region_info_cap_sparse_mmap.size, 'sparse mmap');
    const { nr_areas } = decode(vfio_region_info_cap_sparse_mmap, view, cap.offset);
    const areaSize = vfio_region_sparse_mmap_area.size;
    need(vfio_region_info_cap_sparse_mmap.size + nr_areas * areaSize, `sparse mmap (${nr_areas} areas)`);
    const areas: SparseMmapArea[] = [];
    for (let i = 0; i < nr_areas; i++) {
      const area = decode(vfio_region_sparse_mmap_area, view, cap.offset + vfio_region_info_cap_sparse_mmap.size + i * areaSize);
      areas.push({ offset: safeNumber(area.offset, 'sparse area offset', 'sparse mmap'), size: safeNumber(area.size, 'sparse area size', 'sparse mmap') });
    }
    return { kind: 'sparse-mmap', version: cap.version, areas };
  },
  [VFIO_REGION_INFO_CAP_TYPE]: (view, cap, need) => {
    need(vfio_region_info_cap_type.size, 'type');
    const { type, subtype } = decode(vfio_region_info_cap_type, view, cap.offset);
    return { kind: 'type', version: cap.version, type, subtype };
  },
  [VFIO_REGION_INFO_CAP_MSIX_MAPPABLE]: (_view, cap) => ({ kind: 'msix-mappable', version: cap.version }),
};

export function decodeRegionCapabilities(bytes: Uint8Array, first: number, fixedSize: number, what: string): RegionCapability[] {
  return decodeChain(bytes, first, fixedSize, what, REGION_DECODERS);
}

/**
 * A device's capabilities, decoded: the IRQ ones (the kernel-patches
 * extension) describe device-specific IRQ indexes; others (zPCI, PCIe
 * atomics) are kept raw.
 */
export type DeviceCapability =
  | { readonly kind: 'irq-type'; readonly version: number; readonly index: number; readonly type: number; readonly subtype: number }
  | { readonly kind: 'display-irq'; readonly version: number; readonly index: number; readonly events: number }
  | UnknownCapability;

/** What the device's capabilities say about one IRQ index. */
export type IrqCapability =
  | { readonly kind: 'type'; readonly version: number; readonly type: number; readonly subtype: number }
  | { readonly kind: 'display'; readonly version: number; readonly events: number };

const DEVICE_DECODERS: Record<number, Decoder<Exclude<DeviceCapability, UnknownCapability>>> = {
  [VFIO_DEVICE_INFO_CAP_IRQ_TYPE]: (view, cap, need) => {
    need(vfio_device_info_cap_irq_type.size, 'IRQ type');
    const { index, type, subtype } = decode(vfio_device_info_cap_irq_type, view, cap.offset);
    return { kind: 'irq-type', version: cap.version, index, type, subtype };
  },
  [VFIO_DEVICE_INFO_CAP_GFX_DISPLAY_IRQ]: (view, cap, need) => {
    need(vfio_device_info_cap_gfx_display_irq.size, 'display IRQ');
    const { index, events } = decode(vfio_device_info_cap_gfx_display_irq, view, cap.offset);
    return { kind: 'display-irq', version: cap.version, index, events };
  },
};

export function decodeDeviceCapabilities(bytes: Uint8Array, first: number, fixedSize: number, what: string): DeviceCapability[] {
  return decodeChain(bytes, first, fixedSize, what, DEVICE_DECODERS);
}

/** The capabilities of IRQ index `index`, from its device's. */
export function irqCapabilities(device: readonly DeviceCapability[], index: number): IrqCapability[] {
  const out: IrqCapability[] = [];
  for (const cap of device) {
    if (cap.kind === 'irq-type' && cap.index === index) out.push({ kind: 'type', version: cap.version, type: cap.type, subtype: cap.subtype });
    else if (cap.kind === 'display-irq' && cap.index === index) out.push({ kind: 'display', version: cap.version, events: cap.events });
  }
  return out;
}

/**
 * Whether the device shows the kernel-patches display extension: a
 * VFIO_DEVICE_INFO_CAP_GFX_DISPLAY_IRQ for an IRQ index typed GFX/DISPLAY.
 * The series' plane bits (EXT_INFO 1 << 3, DRM_FB 1 << 4) are not
 * upstream's; they are used only where this holds, so a kernel that gives
 * them another meaning is not misread. Patched mbochs and GVT-g always
 * present both capabilities (kernel-patches/display 0004, 0009).
 */
export function hasDisplayExtension(capabilities: readonly DeviceCapability[]): boolean {
  return capabilities.some(
    (c) =>
      c.kind === 'display-irq' &&
      capabilities.some((t) => t.kind === 'irq-type' && t.index === c.index && t.type === VFIO_IRQ_TYPE_GFX && t.subtype === VFIO_IRQ_SUBTYPE_GFX_DISPLAY),
  );
}
