// A test acting as the guest of an mbochs vGPU: it programs the Bochs DISPI
// registers through the MMIO BAR (BAR2 + 0x500, 16-bit registers) and draws
// into VRAM through a BAR0 mmap, as a bochs-drm guest would.
//
// The patched mbochs latches its registers at an emulated vertical blank (at
// most 1/60 s after a write), and plane queries answer what it latched: the
// guest's mode sets, flips and disables return once the latch has them, so
// that a test can query right after. Stock 6.12 answers from the registers.
import { openDisplay, uapi, type Display, type RegionMapping, type RgbaImage, type VfioDevice } from 'vfio-display';
import { createMdev } from './rig.js';

const BAR0 = 0;
const BAR2 = 2;
const DISPI = 0x500;
export const DISPI_INDEX = { ID: 0, XRES: 1, YRES: 2, BPP: 3, ENABLE: 4, VIRT_WIDTH: 6, VIRT_HEIGHT: 7, X_OFFSET: 8, Y_OFFSET: 9 } as const;
const EDID_BLOCK = 128;
const EDID_HEADER = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];
const ENABLED_LFB = 0x41; // VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED
/** How long a latch may take on a busy rig (it is due within 17 ms). */
const LATCH_TIMEOUT_MS = 5000;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** The primary plane as the kernel answers it now: null while disabled (EXT_INFO where `extended`). */
function queryPrimary(device: VfioDevice, extended: boolean): { width: number; height: number; flipSeq: bigint } | null {
  const { vfio, vfioExt } = uapi;
  const bytes = uapi.encode(vfioExt.vfio_device_gfx_plane_info, {
    argsz: extended ? vfioExt.vfio_device_gfx_plane_info.size : vfio.vfio_device_gfx_plane_info.size,
    flags: vfio.VFIO_GFX_PLANE_TYPE_DMABUF | (extended ? vfioExt.VFIO_GFX_PLANE_FLAG_EXT_INFO : 0),
    drm_plane_type: 1,
  });
  device.ioctl(vfio.VFIO_DEVICE_QUERY_GFX_PLANE, bytes, 'VFIO_DEVICE_QUERY_GFX_PLANE', 'test guest: query the latched plane');
  const p = uapi.decode(vfioExt.vfio_device_gfx_plane_info, new DataView(bytes.buffer));
  return p.drm_format === 0 ? null : { width: p.width, height: p.height, flipSeq: p.flip_seq };
}

export class BochsGuest implements Disposable {
  readonly #device: VfioDevice;
  readonly #vram: RegionMapping;
  /** Whether the kernel latches (the patched mbochs: it answers extended plane info). */
  readonly #latches: boolean;
  width = 0;
  height = 0;

  constructor(device: VfioDevice) {
    this.#device = device;
    this.#vram = device.mmap(BAR0);
    try {
      queryPrimary(device, true);
      this.#latches = true;
    } catch {
      this.#latches = false;
    }
  }

  /**
   * Waits (blocking, as a guest's register write does) until the latched
   * plane satisfies `done`, and at least `minMs` (a frame, where the writes
   * may leave the plane as it was: any latch between them has run by then).
   */
  #latched(done: (plane: ReturnType<typeof queryPrimary>) => boolean, what: string, minMs = 0): void {
    if (!this.#latches) return;
    if (minMs > 0) Atomics.wait(pause, 0, 0, minMs);
    const deadline = performance.now() + LATCH_TIMEOUT_MS;
    while (!done(queryPrimary(this.#device, true))) {
      if (performance.now() > deadline) throw new Error(`mbochs did not latch ${what} within ${LATCH_TIMEOUT_MS} ms`);
      Atomics.wait(pause, 0, 0, 2);
    }
  }

  #primary(): ReturnType<typeof queryPrimary> {
    return this.#latches ? queryPrimary(this.#device, true) : null;
  }

  get vram(): Uint8Array {
    return this.#vram.bytes;
  }

  get stride(): number {
    return this.width * 4;
  }

  reg(index: number): number {
    const b = this.#device.read(BAR2, DISPI + 2 * index, 2);
    return (b[0] ?? 0) | ((b[1] ?? 0) << 8);
  }

  setReg(index: number, value: number): void {
    this.#device.write(BAR2, DISPI + 2 * index, Uint8Array.of(value & 0xff, value >> 8));
  }

  /**
   * The EDID as the guest's driver reads it: mbochs answers it at BAR2
   * offset 0 (where bochs-drm reads it) while the link is up and zeros
   * while it is down; null then, as for a monitor that is unplugged.
   */
  edid(): Uint8Array | null {
    const base = this.#device.read(BAR2, 0, EDID_BLOCK);
    if (!EDID_HEADER.every((b, i) => base[i] === b)) return null;
    // mbochs 6.12 answers 1 KiB of blob: at most 8 blocks.
    const blocks = Math.min(1 + (base[126] ?? 0), 8);
    return blocks === 1 ? base : this.#device.read(BAR2, 0, blocks * EDID_BLOCK);
  }

  /** XRGB8888 mode with the visible origin at line `yOffset`; returns once the display shows it. */
  setMode(width: number, height: number, yOffset = 0): void {
    const I = DISPI_INDEX;
    const before = this.#primary();
    const same = before !== null && before.width === width && before.height === height;
    this.setReg(I.ENABLE, 0);
    this.setReg(I.XRES, width);
    this.setReg(I.YRES, height);
    this.setReg(I.BPP, 32);
    this.setReg(I.VIRT_WIDTH, width);
    this.setReg(I.X_OFFSET, 0);
    this.setReg(I.Y_OFFSET, yOffset);
    this.setReg(I.ENABLE, ENABLED_LFB);
    this.width = width;
    this.height = height;
    this.#latched((p) => p !== null && p.width === width && p.height === height && (same || p.flipSeq > (before?.flipSeq ?? 0n)), `the ${width}x${height} mode`, same ? 20 : 0);
  }

  /**
   * The first line at or after the visible frame where a second buffer can
   * start: mbochs exports only page-aligned framebuffers (6.12
   * mbochs_dmabuf_export), so the offset must be a multiple of the page and
   * of the stride.
   */
  backBufferLine(): number {
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
    const step = 4096 / gcd(this.stride, 4096);
    return Math.ceil(this.height / step) * step;
  }

  /** A page flip by panning, as bochs-drm does; returns once the display shows it. */
  flip(yOffset: number): void {
    const moves = this.reg(DISPI_INDEX.Y_OFFSET) !== yOffset && this.reg(DISPI_INDEX.ENABLE) !== 0;
    const before = this.#primary()?.flipSeq ?? 0n;
    this.setReg(DISPI_INDEX.Y_OFFSET, yOffset);
    if (moves) this.#latched((p) => p === null || p.flipSeq > before, `the flip to line ${yOffset}`);
  }

  /** Turns the display off; returns once the display shows it. */
  disable(): void {
    this.setReg(DISPI_INDEX.ENABLE, 0);
    this.#latched((p) => p === null, 'the disabled display');
  }

  /** Fills the frame starting at line `yOffset` with a pattern unique to `seed`; returns a copy of it. */
  draw(seed: number, yOffset = 0): Uint8Array {
    const frame = testPattern(this.width, this.height, seed);
    this.vram.set(frame, yOffset * this.stride);
    return frame;
  }

  [Symbol.dispose](): void {
    this.#vram.unmap();
  }
}

/** XRGB8888 pixels that differ per pixel and per seed. */
export function testPattern(width: number, height: number, seed: number): Uint8Array {
  const px = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) px[y * width + x] = ((x * 7 + seed * 13) & 0xff) | (((y * 3 + seed) & 0xff) << 8) | (((x ^ y ^ seed) & 0xff) << 16);
  }
  return new Uint8Array(px.buffer);
}

/** testPattern as RGBA (its XRGB8888 words are B, G, R, X in memory): what a PNG of it holds. */
export function testPatternRgba(width: number, height: number, seed: number): RgbaImage {
  const xrgb = testPattern(width, height, seed);
  const data = new Uint8Array(xrgb.length);
  for (let i = 0; i < xrgb.length; i += 4) data.set([xrgb[i + 2] ?? 0, xrgb[i + 1] ?? 0, xrgb[i] ?? 0, 255], i);
  return { width, height, data };
}

export interface MbochsGuest extends Disposable {
  readonly display: Display;
  readonly guest: BochsGuest;
}

/**
 * A fresh mbochs vGPU (mbochs-small: 4 MiB of VRAM; mbochs-medium: 16 MiB,
 * room for two 1024x768 buffers), its display, and the test as its guest
 * with an 800x600 mode set.
 */
export function openMbochsGuest(type: 'mbochs-small' | 'mbochs-medium' = 'mbochs-small'): MbochsGuest {
  const mdev = createMdev('mbochs', type);
  const display = openDisplay(mdev.uuid);
  const guest = new BochsGuest(display.device);
  guest.setMode(800, 600);
  return {
    display,
    guest,
    [Symbol.dispose]: () => {
      guest[Symbol.dispose]();
      display.close();
      mdev.remove();
    },
  };
}

export interface MdpyGuest extends Disposable {
  readonly display: Display;
  /** Draws testPattern(640, 480, seed) into the framebuffer (BAR0) and returns it. */
  draw(seed: number): Uint8Array;
}

/** A fresh mdpy vGPU (mdpy-vga: a 640x480 XRGB8888 region plane), its display, and the test as its guest. */
export function openMdpyGuest(): MdpyGuest {
  const mdev = createMdev('mdpy', 'mdpy-vga');
  const display = openDisplay(mdev.uuid);
  const vram = display.device.mmap(0);
  return {
    display,
    draw: (seed) => {
      const pixels = testPattern(640, 480, seed);
      vram.bytes.set(pixels);
      return pixels;
    },
    [Symbol.dispose]: () => {
      vram.unmap();
      display.close();
      mdev.remove();
    },
  };
}
