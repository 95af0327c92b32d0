// The EDID region (VFIO_REGION_SUBTYPE_GFX_EDID): its registers are read and
// written with 4-byte pread/pwrite (GVT-g accepts nothing else), the blob at
// edid_offset. An update takes the link down, writes blob and size, and
// brings the link up, so the guest sees one hot-plug with the new EDID.
import type { RegionInfo, VfioDevice } from '../device/device.js';
import { InvalidArgumentError } from '../errors.js';
import { viewOf } from '../uapi/codec.js';
import * as v from '../uapi/vfio.js';

const R = v.vfio_region_gfx_edid.fields;
export const EDID_BLOCK = 128;
/** The base block and at most 255 extensions (its extension count is one byte). */
export const EDID_MAX_BLOCKS = 256;

export interface EdidLimits {
  /** Largest blob the device takes, in bytes. */
  readonly maxSize: number;
  /** Largest mode the device can show; null where it sets no limit. */
  readonly maxXres: number | null;
  readonly maxYres: number | null;
}

export type LinkState = 'up' | 'down';

export class EdidRegion {
  readonly #device: VfioDevice;
  readonly #region: RegionInfo;

  constructor(device: VfioDevice, region: RegionInfo) {
    this.#device = device;
    this.#region = region;
  }

  get regionIndex(): number {
    return this.#region.index;
  }

  #get(offset: number): number {
    return viewOf(this.#device.read(this.#region.index, offset, 4)).getUint32(0, true);
  }

  #set(offset: number, value: number): void {
    const bytes = new Uint8Array(4);
    viewOf(bytes).setUint32(0, value, true);
    this.#device.write(this.#region.index, offset, bytes);
  }

  limits(): EdidLimits {
    const maxXres = this.#get(R.max_xres.offset);
    const maxYres = this.#get(R.max_yres.offset);
    return { maxSize: this.#get(R.edid_max_size.offset), maxXres: maxXres || null, maxYres: maxYres || null };
  }

  linkState(): LinkState {
    return this.#get(R.link_state.offset) === v.VFIO_DEVICE_GFX_LINK_STATE_UP ? 'up' : 'down';
  }

  setLinkState(state: LinkState): void {
    this.#set(R.link_state.offset, state === 'up' ? v.VFIO_DEVICE_GFX_LINK_STATE_UP : v.VFIO_DEVICE_GFX_LINK_STATE_DOWN);
  }

  /** The current blob (edid_size bytes). */
  read(): Uint8Array {
    const size = this.#get(R.edid_size.offset);
    if (size === 0) return new Uint8Array(0);
    return this.#device.read(this.#region.index, this.#get(R.edid_offset.offset), size);
  }

  /**
   * Link down, blob and size, link up. The blob must be whole 128-byte
   * blocks within maxSize; one no EDID can be is refused before the device
   * is asked anything.
   */
  write(blob: Uint8Array): void {
    if (!(blob instanceof Uint8Array) || blob.length === 0 || blob.length % EDID_BLOCK !== 0 || blob.length > EDID_BLOCK * EDID_MAX_BLOCKS) {
      const what = blob instanceof Uint8Array ? `${blob.length} bytes` : typeof blob;
      throw new InvalidArgumentError(`an EDID is 1 to ${EDID_MAX_BLOCKS} blocks of ${EDID_BLOCK} bytes, not ${what}`);
    }
    const { maxSize } = this.limits();
    if (blob.length > maxSize) throw new InvalidArgumentError(`${this.#device.name} takes an EDID of at most ${maxSize} bytes, not ${blob.length} bytes`);
    this.setLinkState('down');
    this.#device.write(this.#region.index, this.#get(R.edid_offset.offset), blob);
    this.#set(R.edid_size.offset, blob.length);
    this.setLinkState('up');
  }
}
