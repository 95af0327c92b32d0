// Region planes (mdpy; NVIDIA's vGPUs) live in device memory that no host
// card can import: they are copied into two dumb buffers of the host card,
// written in turn, one copy per change of the guest's bytes. Each poll reads
// the region once into system memory and compares it with the last frame
// shown, so the dumb buffers (write-combined on real GPUs, slow to read) are
// only ever written. Double buffering: the buffer written is never the one
// being scanned out, because a commit completes before the next copy.
import type { RegionPlane } from '../display/region.js';
import { MalformedReplyError, UnsupportedError } from '../errors.js';
import type { Card } from '../kms/card.js';
import { copyRows, type DumbBuffer } from '../kms/framebuffer.js';
import { formatInfo, fourccString } from '../uapi/drm_fourcc.js';

export class RegionCopy implements Disposable {
  readonly #card: Card;
  #buffers: DumbBuffer[] = [];
  /** The buffer the next copy goes to. */
  #next = 0;
  /** The last frame handed out (packed rows), and the poll being compared with it. */
  #last = new Uint8Array(0);
  #scratch = new Uint8Array(0);
  /** Whether #last holds a frame (not so after a new geometry). */
  #haveLast = false;
  #key = '';
  #copies = 0;

  constructor(card: Card) {
    this.#card = card;
  }

  /** Frames copied into a host buffer. */
  get copies(): number {
    return this.#copies;
  }

  /**
   * The host buffer holding the plane's bytes now, or null when they are
   * the bytes of the last frame returned (nothing new to show).
   */
  frame(plane: RegionPlane, bytes: Uint8Array): DumbBuffer | null {
    const { width, height, stride, drmFormat } = plane;
    const info = formatInfo(drmFormat);
    if (!info) throw new UnsupportedError(`the guest's region plane format ${fourccString(drmFormat)} has no known pixel size to copy by`, { code: 'ERR_VFIO_FORMAT_UNSUPPORTED' });
    const row = width * info.cpp;
    if (stride < row || stride * (height - 1) + row > bytes.length) {
      throw new MalformedReplyError(`a ${width}x${height} ${info.name} region plane with stride ${stride} does not fit its ${bytes.length} bytes`);
    }
    const key = `${width}x${height}:${drmFormat}`;
    if (key !== this.#key) this.#allocate(key, plane, row * height);
    copyRows(bytes, stride, this.#scratch, row, row, height);
    if (this.#haveLast && Buffer.compare(this.#scratch, this.#last) === 0) return null;
    [this.#last, this.#scratch] = [this.#scratch, this.#last];
    this.#haveLast = true;
    const target = this.#buffers[this.#next];
    if (!target) throw new Error('RegionCopy: buffers missing');
    copyRows(this.#last, row, target.bytes, target.stride, row, height);
    this.#next ^= 1;
    this.#copies++;
    return target;
  }

  #allocate(key: string, plane: RegionPlane, size: number): void {
    this.close();
    const options = { width: plane.width, height: plane.height, format: plane.drmFormat };
    const first = this.#card.createDumb(options);
    try {
      this.#buffers = [first, this.#card.createDumb(options)];
    } catch (err) {
      first.close();
      throw err;
    }
    this.#last = new Uint8Array(size);
    this.#scratch = new Uint8Array(size);
    this.#key = key;
  }

  /** Closes the host buffers (a plane still showing one keeps it until the next commit: CLOSEFB). */
  close(): void {
    for (const buffer of this.#buffers) buffer.close();
    this.#buffers = [];
    this.#next = 0;
    this.#haveLast = false;
    this.#key = '';
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
