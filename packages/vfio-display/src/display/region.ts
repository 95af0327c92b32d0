// Region planes (mdpy and the like): the plane lives in a device
// region, mmapped once and mapped again when index, size or format change.
import type { RegionMapping, VfioDevice } from '../device/device.js';
import { MalformedReplyError } from '../errors.js';
import type { PlaneInfo } from './plane.js';

export type RegionPlane = Extract<PlaneInfo, { mode: 'region' }>;

export class RegionView implements Disposable {
  readonly #device: VfioDevice;
  #mapping: RegionMapping | undefined;
  #plane: RegionPlane | undefined;

  constructor(device: VfioDevice) {
    this.#device = device;
  }

  /** The framebuffer's bytes for `plane` (a view of the mapping: stride x height at least). */
  bytes(plane: RegionPlane): Uint8Array {
    const old = this.#plane;
    if (!this.#mapping || !old || old.regionIndex !== plane.regionIndex || old.size !== plane.size || old.drmFormat !== plane.drmFormat) {
      this.close();
      const region = this.#device.region(plane.regionIndex);
      if (plane.size > region.size) {
        throw new MalformedReplyError(`${this.#device.name}: the plane's ${plane.size} bytes exceed region ${plane.regionIndex} (${region.size} bytes)`);
      }
      this.#mapping = this.#device.mmap(plane.regionIndex, { length: region.size, writable: false });
    }
    this.#plane = plane;
    return this.#mapping.bytes.subarray(0, plane.size);
  }

  close(): void {
    this.#mapping?.unmap();
    this.#mapping = undefined;
    this.#plane = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
