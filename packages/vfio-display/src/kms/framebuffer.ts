// Framebuffers: a dma-buf imported into the card (PRIME_FD_TO_HANDLE ->
// ADDFB2, the GEM handle closed at once since the framebuffer holds the
// object), and dumb buffers (CPU-drawn, e.g. for tests and writeback).
import { ClosedError, InvalidArgumentError, UnsupportedError, VfioDisplayError } from '../errors.js';
import { mmapShared, munmap } from '../sys.js';
import { encode, readField, viewOf } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';
import { DRM_FORMAT_MOD_INVALID, DRM_FORMAT_MOD_LINEAR, DRM_FORMAT_XRGB8888, formatInfo, fourccString, modifierName } from '../uapi/drm_fourcc.js';
import { FileResource, type DrmFile } from './drm-file.js';

/** How the pixels of a single-plane buffer are laid out. */
export interface FramebufferLayout {
  readonly width: number;
  readonly height: number;
  /** DRM fourcc, e.g. DRM_FORMAT_XRGB8888 (VFIO's drm_format). */
  readonly format: number;
  /** VFIO's drm_format_mod; undefined or DRM_FORMAT_MOD_INVALID: implicit (the driver's default, linear). */
  readonly modifier?: bigint | undefined;
  /** Bytes per line. */
  readonly stride: number;
  /** Where the pixels start in the buffer (default 0). */
  readonly offset?: number | undefined;
}

/** A framebuffer object of the card. close() removes its id (CLOSEFB): a plane showing it keeps the image until the next commit replaces it. */
export class Framebuffer extends FileResource {
  readonly id: number;
  readonly width: number;
  readonly height: number;
  readonly format: number;
  /** The modifier it was created with, undefined if implicit. */
  readonly modifier: bigint | undefined;
  #rmfb = false;

  constructor(file: DrmFile, id: number, layout: FramebufferLayout, modifier: bigint | undefined) {
    super(file);
    this.id = id;
    this.width = layout.width;
    this.height = layout.height;
    this.format = layout.format;
    this.modifier = modifier;
  }

  /** Closes it with RMFB: any plane still showing it is turned off (close() leaves the image). */
  remove(): void {
    this.#rmfb = true;
    this.close();
  }

  protected destroy(fileOpen: boolean): void {
    if (!fileOpen) return;
    if (!this.#rmfb) {
      try {
        this.file.ioctl(d.DRM_IOCTL_MODE_CLOSEFB, encode(d.drm_mode_closefb, { fb_id: this.id }), 'DRM_IOCTL_MODE_CLOSEFB', `close framebuffer ${this.id}`);
        return;
      } catch (err) {
        // Kernels before 6.8 have no CLOSEFB (EINVAL for an unknown core ioctl):
        // RMFB, which also turns off any plane still showing the framebuffer.
        if (!(err instanceof VfioDisplayError && err.code === 'EINVAL')) throw err;
      }
    }
    this.file.ioctl(d.DRM_IOCTL_MODE_RMFB, new Uint8Array(new Uint32Array([this.id]).buffer), 'DRM_IOCTL_MODE_RMFB', `remove framebuffer ${this.id}`);
  }
}

/** What the card said it supports, as far as framebuffers care. */
export interface FramebufferCaps {
  readonly addFb2Modifiers: boolean;
}

function checkLayout(layout: FramebufferLayout): void {
  const { width, height, stride, offset = 0 } = layout;
  const whole = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
  if (!whole(width) || !whole(height) || width === 0 || height === 0 || !whole(stride) || !whole(offset)) {
    throw new InvalidArgumentError(`invalid framebuffer layout: ${width}x${height}, stride ${stride}, offset ${offset}`);
  }
  const info = formatInfo(layout.format);
  if (info && stride < width * info.cpp) {
    throw new InvalidArgumentError(`stride ${stride} is less than ${width} pixels of ${info.name} (${width * info.cpp} bytes)`);
  }
}

/** The modifier to pass to ADDFB2, or undefined to create the framebuffer without DRM_MODE_FB_MODIFIERS. */
function explicitModifier(layout: FramebufferLayout, caps: FramebufferCaps): bigint | undefined {
  const modifier = layout.modifier;
  if (modifier === undefined || modifier === DRM_FORMAT_MOD_INVALID) return undefined;
  if (caps.addFb2Modifiers) return modifier;
  if (modifier === DRM_FORMAT_MOD_LINEAR) return undefined;
  throw new UnsupportedError(`the card has no framebuffer modifiers (DRM_CAP_ADDFB2_MODIFIERS is 0), so it cannot scan out ${modifierName(modifier)} buffers`);
}

/** ADDFB2 with one GEM handle for plane 0. */
export function addFramebuffer(file: DrmFile, caps: FramebufferCaps, handle: number, layout: FramebufferLayout): Framebuffer {
  checkLayout(layout);
  const modifier = explicitModifier(layout, caps);
  const arg = encode(d.drm_mode_fb_cmd2, {
    width: layout.width,
    height: layout.height,
    pixel_format: layout.format,
    flags: modifier === undefined ? 0 : d.DRM_MODE_FB_MODIFIERS,
    'handles[0]': handle,
    'pitches[0]': layout.stride,
    'offsets[0]': layout.offset ?? 0,
    'modifier[0]': modifier ?? 0n,
  });
  const what = `add a ${layout.width}x${layout.height} ${fourccString(layout.format)}${modifier === undefined ? '' : ` ${modifierName(modifier)}`} framebuffer (stride ${layout.stride})`;
  file.ioctl(d.DRM_IOCTL_MODE_ADDFB2, arg, 'DRM_IOCTL_MODE_ADDFB2', what);
  return file.own(new Framebuffer(file, readField(viewOf(arg), d.drm_mode_fb_cmd2.fields.fb_id), layout, modifier));
}

export function closeGemHandle(file: DrmFile, handle: number): void {
  file.ioctl(d.DRM_IOCTL_GEM_CLOSE, encode(d.drm_gem_close, { handle }), 'DRM_IOCTL_GEM_CLOSE', `close GEM handle ${handle}`);
}

/**
 * Imports the dma-buf `dmabufFd` (borrowed: not closed) as a framebuffer.
 * The GEM handle is closed right after ADDFB2: the framebuffer keeps the
 * object. PRIME_FD_TO_HANDLE answers the same handle for the same object
 * within one DRM file, so a dma-buf exported from one of this card's dumb
 * buffers comes back as that buffer's handle, which stays open.
 */
export function importDmabuf(file: DrmFile, caps: FramebufferCaps, dmabufFd: number, layout: FramebufferLayout): Framebuffer {
  if (!Number.isInteger(dmabufFd) || dmabufFd < 0) throw new InvalidArgumentError(`invalid dma-buf fd ${dmabufFd}`);
  checkLayout(layout);
  const prime = encode(d.drm_prime_handle, { fd: dmabufFd });
  file.ioctl(d.DRM_IOCTL_PRIME_FD_TO_HANDLE, prime, 'DRM_IOCTL_PRIME_FD_TO_HANDLE', `import dma-buf fd ${dmabufFd}`);
  const handle = readField(viewOf(prime), d.drm_prime_handle.fields.handle);
  try {
    return addFramebuffer(file, caps, handle, layout);
  } finally {
    if (!file.holdsHandle(handle)) closeGemHandle(file, handle);
  }
}

/** Copies `height` rows of `rowBytes` from `src` (`srcStride` bytes per row) into `dst` (`dstStride`). */
export function copyRows(src: Uint8Array, srcStride: number, dst: Uint8Array, dstStride: number, rowBytes: number, height: number): void {
  if (srcStride === rowBytes && dstStride === rowBytes) {
    dst.set(src.subarray(0, rowBytes * height));
    return;
  }
  for (let y = 0; y < height; y++) dst.set(src.subarray(y * srcStride, y * srcStride + rowBytes), y * dstStride);
}

/** Copies `height` rows of `rowBytes` out of a buffer with `stride` bytes per row. */
export function packRows(bytes: Uint8Array, stride: number, rowBytes: number, height: number): Uint8Array {
  const out = new Uint8Array(rowBytes * height);
  copyRows(bytes, stride, out, rowBytes, rowBytes, height);
  return out;
}

export interface DumbBufferOptions {
  readonly width: number;
  readonly height: number;
  /** Default DRM_FORMAT_XRGB8888; must be a format of the fourcc table (for its bytes per pixel). */
  readonly format?: number | undefined;
}

/** A dumb buffer (CPU-mapped, linear) with its framebuffer. */
export class DumbBuffer extends FileResource {
  readonly handle: number;
  readonly width: number;
  readonly height: number;
  readonly format: number;
  /** Bytes per line, as the driver chose it. */
  readonly stride: number;
  readonly bytesPerPixel: number;
  readonly size: number;
  readonly framebuffer: Framebuffer;
  #mapping: ArrayBuffer | undefined;

  constructor(file: DrmFile, handle: number, layout: FramebufferLayout, bytesPerPixel: number, size: number, framebuffer: Framebuffer) {
    super(file);
    this.handle = handle;
    this.width = layout.width;
    this.height = layout.height;
    this.format = layout.format;
    this.stride = layout.stride;
    this.bytesPerPixel = bytesPerPixel;
    this.size = size;
    this.framebuffer = framebuffer;
  }

  /** The buffer's bytes (`stride` per line), mapped on first use. */
  get bytes(): Uint8Array {
    if (this.closed) throw new ClosedError(`dumb buffer ${this.handle}`);
    if (!this.#mapping) {
      const arg = encode(d.drm_mode_map_dumb, { handle: this.handle });
      this.file.ioctl(d.DRM_IOCTL_MODE_MAP_DUMB, arg, 'DRM_IOCTL_MODE_MAP_DUMB', `map dumb buffer ${this.handle}`);
      const offset = readField(viewOf(arg), d.drm_mode_map_dumb.fields.offset);
      this.#mapping = mmapShared(this.file.fd, this.size, Number(offset), true, `mmap dumb buffer ${this.handle} of ${this.file.path}`);
    }
    return new Uint8Array(this.#mapping);
  }

  /** A copy of the pixels, rows packed (width x bytesPerPixel each). */
  read(): Uint8Array {
    return packRows(this.bytes, this.stride, this.width * this.bytesPerPixel, this.height);
  }

  /** Writes packed rows (width x bytesPerPixel each) into the buffer. */
  write(pixels: Uint8Array): void {
    const row = this.width * this.bytesPerPixel;
    if (pixels.length !== row * this.height) throw new InvalidArgumentError(`expected ${row * this.height} bytes (${this.width}x${this.height}), got ${pixels.length}`);
    copyRows(pixels, row, this.bytes, this.stride, row, this.height);
  }

  /** Closes it, its framebuffer with RMFB: any plane still showing it is turned off. */
  remove(): void {
    this.framebuffer.remove();
    this.close();
  }

  protected destroy(fileOpen: boolean): void {
    this.file.unholdHandle(this.handle);
    if (this.#mapping) munmap(this.#mapping, `unmap dumb buffer ${this.handle} of ${this.file.path}`);
    this.#mapping = undefined;
    this.framebuffer.close();
    if (!fileOpen) return;
    destroyDumb(this.file, this.handle);
  }
}

function destroyDumb(file: DrmFile, handle: number): void {
  file.ioctl(d.DRM_IOCTL_MODE_DESTROY_DUMB, encode(d.drm_mode_destroy_dumb, { handle }), 'DRM_IOCTL_MODE_DESTROY_DUMB', `destroy dumb buffer ${handle}`);
}

export function createDumb(file: DrmFile, caps: FramebufferCaps, options: DumbBufferOptions): DumbBuffer {
  const { width, height, format = DRM_FORMAT_XRGB8888 } = options;
  const info = formatInfo(format);
  if (!info) throw new InvalidArgumentError(`dumb buffers need a format of known size; ${fourccString(format)} is not in the fourcc table`);
  checkLayout({ width, height, format, stride: width * info.cpp });
  const arg = encode(d.drm_mode_create_dumb, { width, height, bpp: info.cpp * 8 });
  file.ioctl(d.DRM_IOCTL_MODE_CREATE_DUMB, arg, 'DRM_IOCTL_MODE_CREATE_DUMB', `create a ${width}x${height} ${info.name} dumb buffer`);
  const reply = viewOf(arg);
  const handle = readField(reply, d.drm_mode_create_dumb.fields.handle);
  file.holdHandle(handle);
  const layout: FramebufferLayout = { width, height, format, stride: readField(reply, d.drm_mode_create_dumb.fields.pitch) };
  const size = Number(readField(reply, d.drm_mode_create_dumb.fields.size));
  let framebuffer: Framebuffer;
  try {
    framebuffer = addFramebuffer(file, caps, handle, layout);
  } catch (err) {
    file.unholdHandle(handle);
    destroyDumb(file, handle);
    throw err;
  }
  // Owned after its framebuffer, so the card closes the buffer (and with it the framebuffer) first.
  return file.own(new DumbBuffer(file, handle, layout, info.cpp, size, framebuffer));
}
