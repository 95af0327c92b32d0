// The EDID region (VFIO_REGION_SUBTYPE_GFX_EDID): its registers are read and
// written with 4-byte pread/pwrite (GVT-g accepts nothing else), the blob at
// edid_offset. An update takes the link down, writes blob and size, and
// brings the link up a moment later, as QEMU does, so the guest sees the
// monitor unplugged and then plugged with the new EDID.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RegionInfo, VfioDevice } from '../device/device.js';
import { InvalidArgumentError } from '../errors.js';
import { viewOf } from '../uapi/codec.js';
import * as v from '../uapi/vfio.js';
import { lazySchema, parse } from '../validate.js';

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

export interface EdidUpdateOptions {
  /**
   * How long the link stays down before it comes up with the new EDID;
   * default 100 ms, QEMU's (hw/vfio/display.c raises it on a timer), so
   * that the guest sees an unplug and then a plug. 0: at once.
   */
  readonly linkUpDelayMs?: number | undefined;
}

const updateOptions = lazySchema((z) => z.strictObject({ linkUpDelayMs: z.number().min(0).max(10_000).optional() }));

export class EdidRegion {
  readonly #device: VfioDevice;
  readonly #region: RegionInfo;
  /** The update under way: the next waits for it, so that one link cycle never cuts into another. */
  #updating: Promise<unknown> = Promise.resolve();

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

  /** Blob, then size: the guest reads edid_size bytes, so the size goes last. */
  #put(blob: Uint8Array): void {
    if (blob.length > 0) this.#device.write(this.#region.index, this.#get(R.edid_offset.offset), blob);
    this.#set(R.edid_size.offset, blob.length);
  }

  /**
   * Link down, blob and size, and after linkUpDelayMs the link up: the
   * guest's monitor is plugged in with the new EDID (also where the link was
   * down). The blob must be whole 128-byte blocks within maxSize; one no
   * EDID can be is refused before the device is asked anything. Where the
   * device refuses the blob, the previous one is put back and the link
   * returns to the state it had; where even that fails the link stays down
   * rather than show the guest a half-written EDID. Updates run one at a time.
   */
  async update(blob: Uint8Array, options: EdidUpdateOptions = {}): Promise<void> {
    if (!(blob instanceof Uint8Array) || blob.length === 0 || blob.length % EDID_BLOCK !== 0 || blob.length > EDID_BLOCK * EDID_MAX_BLOCKS) {
      const what = blob instanceof Uint8Array ? `${blob.length} bytes` : typeof blob;
      throw new InvalidArgumentError(`an EDID is 1 to ${EDID_MAX_BLOCKS} blocks of ${EDID_BLOCK} bytes, not ${what}`);
    }
    const { linkUpDelayMs = 100 } = parse(updateOptions, options, 'EDID update options');
    const run = this.#updating.then(() => this.#update(blob, linkUpDelayMs));
    this.#updating = run.catch(() => undefined);
    return run;
  }

  async #update(blob: Uint8Array, linkUpDelayMs: number): Promise<void> {
    const { maxSize } = this.limits();
    if (blob.length > maxSize) throw new InvalidArgumentError(`${this.#device.name} takes an EDID of at most ${maxSize} bytes, not ${blob.length} bytes`);
    const link = this.linkState();
    const previous = this.read();
    this.setLinkState('down');
    try {
      this.#put(blob);
    } catch (err) {
      // The old EDID back, and the link as it was; if even that fails, down rather than half-written.
      let restored = true;
      try {
        this.#put(previous);
      } catch {
        restored = false;
      }
      this.setLinkState(restored ? link : 'down');
      throw err;
    }
    if (linkUpDelayMs > 0) await sleep(linkUpDelayMs);
    this.setLinkState('up');
  }
}
