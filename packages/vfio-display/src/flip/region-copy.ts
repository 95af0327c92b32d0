// Region planes (mdpy; NVIDIA's vGPUs) live in device memory that no host
// card can import: they are copied into two dumb buffers of the host card,
// written in turn, one copy per change of the guest's bytes. Each poll
// compares the region, row by row in place, with a system-memory copy of
// the last frame; only a change is copied (from its first differing row)
// into that copy and then into a dumb buffer, so an idle guest costs one
// read of its framebuffer per poll, and the dumb buffers (write-combined
// on real GPUs, slow to read) are only ever written. Double buffering: the
// buffer written is never the one being scanned out, because a commit
// completes before the next copy.
import type { RegionPlane } from '../display/region.js';
import { MalformedReplyError, UnsupportedError } from '../errors.js';
import type { Card } from '../kms/card.js';
import { copyRows, type DumbBuffer } from '../kms/framebuffer.js';
import { formatInfo, fourccString } from '../uapi/drm_fourcc.js';

/** The first of `height` rows of `rowBytes` where `a` (stride `aStride`) and packed `b` differ; `height` if none does. */
function firstDifferentRow(a: Uint8Array, aStride: number, b: Uint8Array, rowBytes: number, height: number): number {
  if (aStride === rowBytes && Buffer.compare(a.subarray(0, rowBytes * height), b) === 0) return height;
  for (let y = 0; y < height; y++) {
    if (Buffer.compare(a.subarray(y * aStride, y * aStride + rowBytes), b.subarray(y * rowBytes, (y + 1) * rowBytes)) !== 0) return y;
  }
  return height;
}

export class RegionCopy implements Disposable {
  readonly #card: Card;
  #buffers: DumbBuffer[] = [];
  /** The buffer the next copy goes to. */
  #next = 0;
  /** The last frame handed out, rows packed. */
  #last = new Uint8Array(0);
  /** Whether #last holds a frame to compare with (not after a new geometry or forget()). */
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
    const from = this.#haveLast ? firstDifferentRow(bytes, stride, this.#last, row, height) : 0;
    if (from === height) return null;
    copyRows(bytes.subarray(from * stride), stride, this.#last.subarray(from * row), row, row, height - from);
    this.#haveLast = true;
    const target = this.#buffers[this.#next];
    if (!target) throw new Error('RegionCopy: buffers missing');
    copyRows(this.#last, row, target.bytes, target.stride, row, height);
    this.#next ^= 1;
    this.#copies++;
    return target;
  }

  /** The next frame() returns the plane's bytes even if they did not change (the host stopped showing them). */
  forget(): void {
    this.#haveLast = false;
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
    this.#key = key;
  }

  /**
   * Closes the host buffers: a plane still showing one keeps the image
   * until the next commit (CLOSEFB), or with `remove` is turned off (RMFB).
   */
  close(remove = false): void {
    for (const buffer of this.#buffers) {
      if (remove) buffer.remove();
      else buffer.close();
    }
    this.#buffers = [];
    this.#next = 0;
    this.#haveLast = false;
    this.#key = '';
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
