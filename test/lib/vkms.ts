// Scanout on vkms for tests: the card's one CRTC, its planes and its two
// connectors, a modeset onto the writeback connector with a capture of what
// the CRTC composed, and pixel comparison of XRGB8888 images.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { chooseMode, openCard, type AtomicRequest, type Card, type CommitCompletion, type Connector, type ModeInfo, type Plane } from 'vfio-display';

/** Disposing it closes the card. */
export interface VkmsOutput extends Disposable {
  readonly card: Card;
  readonly crtcId: number;
  readonly primary: Plane;
  readonly cursor: Plane;
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
