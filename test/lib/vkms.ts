// Scanout on vkms for tests: the card's one CRTC, its planes and its two
// connectors, a modeset onto the writeback connector with a capture of what
// the CRTC composed, pixel comparison of XRGB8888 images, and, for a card
// another process drives, its state and frame CRCs from DRM debugfs.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { chooseMode, openCard, type AtomicRequest, type Card, type CommitCompletion, type Connector, type ModeInfo, type KmsPlane } from 'vfio-display';
import type { DrmCard } from './rig.js';

/** Disposing it closes the card. */
export interface VkmsOutput extends Disposable {
  readonly card: Card;
  readonly crtcId: number;
  readonly primary: KmsPlane;
  readonly cursor: KmsPlane;
  readonly virtual: Connector;
  readonly writeback: Connector;
}

export function openVkms(): VkmsOutput {
  const card = openCard({ driver: 'vkms' });
  try {
    const [crtc] = card.crtcs;
    assert.ok(crtc, 'vkms has a CRTC');
    const [primary] = card.planesFor(crtc.id, 'primary');
    const [cursor] = card.planesFor(crtc.id, 'cursor');
    const connectors = card.connectors();
    const virtual = connectors.find((c) => c.name === 'Virtual-1');
    const writeback = connectors.find((c) => c.writeback);
    assert.ok(primary && cursor && virtual && writeback, 'vkms 6.12: primary and cursor planes, Virtual-1 and a writeback connector');
    return {
      card,
      crtcId: crtc.id,
      primary,
      cursor,
      virtual,
      writeback,
      [Symbol.dispose]: () => {
        card.close();
      },
    };
  } catch (err) {
    card.close();
    throw err;
  }
}

/** The writeback connector's mode for a width x height image. */
export function writebackMode(out: VkmsOutput, width: number, height: number): ModeInfo {
  const mode = chooseMode(out.writeback.modes, { width, height });
  assert.ok(mode?.hdisplay === width && mode.vdisplay === height, `the writeback connector lists ${width}x${height}`);
  return mode;
}

export interface Captured {
  readonly completion: CommitCompletion;
  /** The CRTC's composed frame, XRGB8888 rows packed. */
  readonly pixels: Uint8Array;
}

/**
 * Commits `request` with the writeback connector (and only it: vkms's clone
 * check refuses Virtual and Writeback on one CRTC) on the CRTC in `mode`,
 * and returns what the CRTC scanned out.
 */
export async function commitAndCapture(out: VkmsOutput, mode: ModeInfo, request: AtomicRequest): Promise<Captured> {
  using blob = out.card.createModeBlob(mode);
  using capture = out.card.createWriteback(out.writeback.id, { width: mode.hdisplay, height: mode.vdisplay });
  request.setCrtc(out.crtcId, { active: true, modeId: blob.id }).setConnector(out.virtual.id, 0);
  const fence = capture.attach(request, out.crtcId);
  const completion = await out.card.commit(request, { allowModeset: true });
  return { completion, pixels: await capture.read(fence) };
}

/**
 * What the CRTC scans out now, through the writeback connector, by a commit
 * that touches nothing else: the lessor's view of a CRTC whose plane a
 * lessee (or the kernel, for a vGPU) flips.
 */
export async function captureScanout(out: VkmsOutput, width: number, height: number): Promise<Uint8Array> {
  const { card, crtcId, writeback } = out;
  using cap = card.createWriteback(writeback.id, { width, height });
  for (let attempt = 0; ; attempt++) {
    const request = card.atomic();
    const fence = cap.attach(request, crtcId);
    try {
      await card.commit(request);
    } catch (err) {
      // A kernel commit on the CRTC in flight: the lessor's waits its turn.
      if ((err as { code?: string }).code === 'EBUSY' && attempt < 50) {
        await sleep(5);
        continue;
      }
      throw err;
    }
    return await cap.read(fence, { timeoutMs: 10_000 });
  }
}

/** Pixels whose R, G or B differ (vkms 6.12 writes 0xff into the X byte of XRGB8888). */
export function rgbMismatches(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length, 'same size');
  const pa = new Uint32Array(a.buffer, a.byteOffset, a.length / 4);
  const pb = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
  let n = 0;
  for (let i = 0; i < pa.length; i++) if (((pa[i] ?? 0) ^ (pb[i] ?? 0)) & 0xffffff) n++;
  return n;
}

/** A solid XRGB8888 (or opaque ARGB8888) image. */
export function solid(width: number, height: number, rgb: number): Uint8Array {
  return new Uint8Array(new Uint32Array(width * height).fill((0xff000000 | rgb) >>> 0).buffer);
}

/** The framebuffers DRM debugfs lists for the card (all clients, fbdev's included). */
export function debugfsFramebuffers(card: Card): number {
  const minor = /card(\d+)$/.exec(card.path)?.[1];
  assert.ok(minor !== undefined);
  return readFileSync(`/sys/kernel/debug/dri/${minor}/framebuffer`, 'utf8').split('\n').filter((l) => l.startsWith('framebuffer[')).length;
}

/** The lowest free GEM handle of the card's file: it grows if handles leak. */
export function nextGemHandle(out: VkmsOutput): number {
  using probe = out.card.createDumb({ width: 16, height: 16 });
  return probe.handle;
}

/** dma-buf objects alive in the whole system (debugfs bufinfo: exported and not yet released). */
export function systemDmabufs(): number {
  const total = /Total (\d+) objects/.exec(readFileSync('/sys/kernel/debug/dma_buf/bufinfo', 'utf8'))?.[1];
  assert.ok(total !== undefined, 'debugfs dma_buf/bufinfo has a total');
  return Number(total);
}

/** Open fds of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** A plane as DRM debugfs `state` prints it (drm_atomic_plane_print_state, 6.12). */
export interface PlaneDebugState {
  readonly fb: number;
  /** The framebuffer's fourcc, e.g. "XR24", and size, e.g. "800x600"; absent without one. */
  readonly format?: string;
  readonly size?: string;
  /** Where it is on the CRTC: "800x600+0+0". */
  readonly crtcPos: string;
}

export function planeDebugState(card: DrmCard, planeId: number): PlaneDebugState {
  const state = readFileSync(`/sys/kernel/debug/dri/${card.name.replace(/^card/, '')}/state`, 'utf8');
  const block = state.split(/^(?=\S)/m).find((b) => b.startsWith(`plane[${planeId}]:`));
  assert.ok(block, `debugfs state lists plane ${planeId}`);
  const field = (name: string): string | undefined => new RegExp(`^\\s+${name}=(\\S+)`, 'm').exec(block)?.[1];
  const format = field('format');
  const size = field('size');
  return { fb: Number(field('fb')), crtcPos: field('crtc-pos') ?? '', ...(format === undefined ? {} : { format }), ...(size === undefined ? {} : { size }) };
}

/**
 * What vkms's CRC of a frame will be: 6.12 vkms_composer.c blend() runs
 * crc32_le from 0 over each composed line as 16-bit a, r, g, b (8-bit values
 * times 257; X formats opaque). zlib's crc32 is crc32_le with the value
 * inverted before and after. `xrgb`: the CRTC's whole frame, XRGB8888.
 */
export function vkmsCrc(xrgb: Uint8Array): number {
  const argb16 = new Uint16Array(xrgb.length);
  for (let i = 0; i < xrgb.length; i += 4) argb16.set([0xffff, (xrgb[i + 2] ?? 0) * 257, (xrgb[i + 1] ?? 0) * 257, (xrgb[i] ?? 0) * 257], i);
  return ~crc32(new Uint8Array(argb16.buffer), 0xffffffff) >>> 0;
}

/** CRCs of what a vkms CRTC scans out, frame by frame (debugfs crc/data with source "auto"; the CRTC must be on). */
export class CrtcCrcs implements AsyncDisposable {
  readonly #file: FileHandle;

  private constructor(file: FileHandle) {
    this.#file = file;
  }

  static async open(card: DrmCard, crtcIndex = 0): Promise<CrtcCrcs> {
    const dir = `/sys/kernel/debug/dri/${card.name.replace(/^card/, '')}/crtc-${crtcIndex}/crc`;
    writeFileSync(`${dir}/control`, 'auto');
    return new CrtcCrcs(await open(`${dir}/data`, 'r'));
  }

  /** The next frame's CRC (a line "0xFRAME 0xCRC"). */
  async next(): Promise<number> {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await this.#file.read(buf, 0, buf.length);
    const crc = /^0x[0-9a-f]{8} 0x([0-9a-f]{8})/.exec(buf.toString('latin1', 0, bytesRead))?.[1];
    assert.ok(crc !== undefined, `a CRC line, not ${JSON.stringify(buf.toString('latin1', 0, bytesRead))}`);
    return parseInt(crc, 16);
  }

  /**
   * Reads frames until one has CRC `want` (true), or false after `timeoutMs`.
   * Entries wait in a ring of 128 (older frames first, newer ones dropped
   * while it is full), so it may take a while to read up to the present.
   */
  async until(want: number, timeoutMs = 60_000): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) if ((await this.next()) === want) return true;
    return false;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#file.close();
  }
}
