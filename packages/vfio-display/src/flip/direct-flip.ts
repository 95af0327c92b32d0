// Direct flip: the guest's framebuffer on a host display plane, zero-copy.
// On each display change the guest's current dma-buf is looked up (imported
// into the host card once per buffer) and committed on the host plane; one
// commit is in flight at a time and the newest guest frame wins, because
// every change re-queries the planes after the previous commit completed.
// A new guest mode means a modeset where the connector has that mode, else
// scaling or centring on the current one, as the host plane allows.
// Where the vGPU offers its primary as a host framebuffer (DRM_FB, GVT-g),
// that framebuffer is committed once per guest mode and the driver flips it.
import { realpathSync } from 'node:fs';
import type { Display } from '../display/display.js';
import type { ChangeSource, DisplayChange } from '../display/changes.js';
import type { Dmabuf } from '../display/dmabuf.js';
import type { DrmFbPlane, PlaneInfo } from '../display/plane.js';
import { drmCardOfParent } from '../device/mdev.js';
import { AtomicCommitError, InvalidArgumentError, NotFoundError, UnsupportedError } from '../errors.js';
import type { AtomicRequest } from '../kms/atomic.js';
import { planeSupports, type Card, type Connector } from '../kms/card.js';
import type { Framebuffer } from '../kms/framebuffer.js';
import { chooseMode, isPreferred, type ModeInfo } from '../kms/mode.js';
import type { PropertyBlob } from '../kms/properties.js';
import { fourccString, modifierName } from '../uapi/drm_fourcc.js';
import { abortSignal, lazySchema, parse } from '../validate.js';
import { LatencyHistogram, type LatencySummary } from './latency.js';
import { isUnscaled, placeCursor, placePlane, type Fit, type GuestGeometry, type Placement } from './placement.js';

export interface DirectFlipOptions {
  /** The connector to show the guest on; default: the first connected one that is not writeback. */
  readonly connectorId?: number | undefined;
  /** Default: the CRTC the connector is on, else the first it can drive. */
  readonly crtcId?: number | undefined;
  /** Default: the CRTC's primary plane. */
  readonly planeId?: number | undefined;
  /** Default: the CRTC's cursor plane where it has one; null: do not show the guest's cursor. */
  readonly cursorPlaneId?: number | null | undefined;
  /**
   * How a guest mode is shown. 'auto' (default): a modeset to the guest's
   * size where the connector has it, else scaled to fit where the plane
   * scales, else centred 1:1. 'modeset' always switches to the connector
   * mode nearest the guest's; the others keep the host mode.
   */
  readonly fit?: 'auto' | 'modeset' | Fit | undefined;
  /** How changes are noticed (Display.changes()): default 'auto'. */
  readonly changes?: 'auto' | 'event' | 'timer' | undefined;
  /** Timer mode: poll period (default 16 ms). */
  readonly periodMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called with each commit before it is issued, e.g. to add a writeback capture. */
  readonly beforeCommit?: ((request: AtomicRequest, frame: { readonly seq: number; readonly primary: PlaneInfo | null }) => void) | undefined;
  /** Leave the last frame on screen when the flip ends (default: the planes are turned off), unless the vGPU was removed. */
  readonly keepOnScreen?: boolean | undefined;
  /**
   * Show the primary through the vGPU's own host framebuffer (DRM_FB plane
   * type, kernel-patches RFC, GVT-g): committed once per guest mode, flipped
   * by the driver. 'auto' (default): where the display offers it and `card`
   * is the vGPU's parent GPU; true: required.
   */
  readonly drmFb?: 'auto' | boolean | undefined;
}

const optionsSchema = lazySchema((z) => {
  const id = z.int().min(1).max(0xffffffff);
  return z.strictObject({
    connectorId: id.optional(),
    crtcId: id.optional(),
    planeId: id.optional(),
    cursorPlaneId: id.nullable().optional(),
    fit: z.enum(['auto', 'modeset', 'center', 'scale', 'stretch']).optional(),
    changes: z.enum(['auto', 'event', 'timer']).optional(),
    periodMs: z.number().min(1).max(60_000).optional(),
    signal: abortSignal(z).optional(),
    beforeCommit: z.custom<NonNullable<DirectFlipOptions['beforeCommit']>>((v) => typeof v === 'function', 'expected a function').optional(),
    keepOnScreen: z.boolean().optional(),
    drmFb: z.union([z.literal('auto'), z.boolean()]).optional(),
  });
});

/** One guest frame shown on the host. */
export interface FlipFrame {
  /** Counts the commits, from 1. */
  readonly seq: number;
  readonly source: ChangeSource;
  /** The guest planes shown (primary null: the guest display is off, and so is the host plane). */
  readonly primary: PlaneInfo | null;
  readonly cursor: PlaneInfo | null;
  /** Where the primary went on the CRTC; null while it is off. */
  readonly placement: Placement | null;
  /** Whether this commit changed the host mode. */
  readonly modeset: boolean;
  /** Guest frames since the previous one that were never shown (newest wins). */
  readonly dropped: number;
  /** When the change was seen, and when the host flipped to it (CLOCK_MONOTONIC ns). */
  readonly seenAt: bigint;
  readonly completedAt: bigint;
}

export interface DirectFlipStats {
  /** 'event' or 'timer' once running. */
  readonly source: ChangeSource | null;
  readonly frames: number;
  readonly dropped: number;
  readonly modesets: number;
  /** Framebuffers imported (one per guest buffer while it is in use). */
  readonly imports: number;
  /** Whether the primary is the vGPU's own host framebuffer (DRM_FB), flipped by the driver. */
  readonly drmFb: boolean;
  /** DRM_FB: guest flips the driver showed without a commit (not counted in frames). */
  readonly kernelFlips: number;
  /** From the change being seen to the commit's completion event. */
  readonly latency: LatencySummary;
}

/** The host output the pipeline drives. */
interface Output {
  readonly connector: Connector;
  readonly crtcId: number;
  readonly planeId: number;
  readonly cursorPlaneId: number | null;
}

const isDmabufPlane = (p: PlaneInfo | null): p is Extract<PlaneInfo, { mode: 'dmabuf' }> => p?.mode === 'dmabuf';

/** The guest geometry that needs a new placement when it changes. */
const geometryKey = (p: GuestGeometry): string => `${p.width}x${p.height}+${p.srcX ?? 0}+${p.srcY ?? 0}`;

/** Whether to show the primary through the vGPU's DRM_FB framebuffer (see DirectFlipOptions.drmFb). */
function useDrmFb(display: Display, card: Card, wanted: 'auto' | boolean): boolean {
  if (wanted === false) return false;
  let parentCard: string | null = null;
  if (display.features.drmFb) {
    try {
      parentCard = drmCardOfParent(display.device.name);
    } catch (err) {
      // A device not opened by its mdev UUID: its parent is unknown.
      if (!(err instanceof InvalidArgumentError || err instanceof NotFoundError)) throw err;
    }
  }
  const same = parentCard !== null && realpathSync(parentCard) === realpathSync(card.path);
  if (wanted === true && !same) {
    throw new UnsupportedError(
      display.features.drmFb
        ? `the DRM framebuffers of ${display.device.name} belong to ${parentCard ?? 'its parent GPU (unknown: open the vGPU by its mdev UUID)'}, not ${card.path}`
        : `${display.device.name} offers no DRM framebuffer planes (VFIO_GFX_PLANE_TYPE_DRM_FB: the kernel-patches RFC, GVT-g only)`,
      { code: 'ERR_VFIO_NO_DRM_FB' },
    );
  }
  return same;
}

function pickOutput(card: Card, options: DirectFlipOptions): Output {
  const connectors = card.connectors();
  const connector =
    options.connectorId === undefined ? connectors.find((c) => c.connection === 'connected' && !c.writeback) : connectors.find((c) => c.id === options.connectorId);
  if (!connector) {
    throw new NotFoundError(
      options.connectorId === undefined
        ? `${card.path} has no connected display (connectors: ${connectors.map((c) => `${c.name} ${c.connection}`).join(', ') || 'none'})`
        : `${card.path} has no connector ${options.connectorId}`,
    );
  }
  const current = Number(card.properties.values(connector.id).get('CRTC_ID') ?? 0n);
  const crtcId = options.crtcId ?? (current || connector.crtcs[0]);
  if (crtcId === undefined || !connector.crtcs.includes(crtcId)) {
    throw new InvalidArgumentError(`connector ${connector.name} cannot be driven by CRTC ${String(crtcId)} (it can by ${connector.crtcs.join(', ') || 'none'})`);
  }
  const planeId = options.planeId ?? card.planesFor(crtcId, 'primary')[0]?.id;
  if (planeId === undefined || !card.planesFor(crtcId).some((p) => p.id === planeId)) {
    throw new InvalidArgumentError(`plane ${String(planeId)} cannot go on CRTC ${crtcId} of ${card.path}`);
  }
  let cursorPlaneId = options.cursorPlaneId === undefined ? (card.planesFor(crtcId, 'cursor')[0]?.id ?? null) : options.cursorPlaneId;
  if (cursorPlaneId === planeId) cursorPlaneId = null;
  if (cursorPlaneId !== null && !card.planesFor(crtcId).some((p) => p.id === cursorPlaneId)) {
    throw new InvalidArgumentError(`plane ${cursorPlaneId} cannot go on CRTC ${crtcId} of ${card.path}`);
  }
  return { connector, crtcId, planeId, cursorPlaneId };
}

const sameTiming = (a: ModeInfo, b: ModeInfo): boolean =>
  a.clock === b.clock && a.hdisplay === b.hdisplay && a.vdisplay === b.vdisplay && a.htotal === b.htotal && a.vtotal === b.vtotal && a.flags === b.flags;

/**
 * Shows a display's guest framebuffer on a host card, flip for flip. Iterate
 * it (once) to run it; each item is a frame shown. The display and card are
 * borrowed; the framebuffers it imports are its own and closed when the
 * iteration ends (break, abort, error).
 */
export class DirectFlip implements AsyncIterable<FlipFrame> {
  readonly #display: Display;
  readonly #card: Card;
  readonly #options: DirectFlipOptions;
  readonly #output: Output;
  readonly #latency = new LatencyHistogram();
  /** Imported guest buffers, by the display cache's dma-buf object (same buffer, same object). */
  readonly #framebuffers = new Map<Dmabuf, Framebuffer>();
  #started = false;
  #source: ChangeSource | null = null;
  #frames = 0;
  #dropped = 0;
  #modesets = 0;
  #imports = 0;
  /** The host mode blob in use, once we set one. */
  #modeBlob: PropertyBlob | undefined;
  #mode: ModeInfo | null = null;
  /** The placement for the guest geometry it was computed for. */
  #placement: { key: string; placement: Placement } | undefined;
  #lastFlipSeq: bigint | undefined;
  #cursorShown = false;
  readonly #drmFb: boolean;
  /** DRM_FB: the framebuffer on the host plane, null until (or while not) shown. */
  #drmFbPlane: DrmFbPlane | null = null;
  #kernelFlips = 0;

  constructor(display: Display, card: Card, options: DirectFlipOptions = {}) {
    this.#options = parse(optionsSchema, options, 'directFlip() options');
    if (display.features.planes !== 'dmabuf') {
      throw new UnsupportedError(`${display.device.name} offers region planes (a framebuffer in device memory), which cannot be imported into a host card: direct flip needs dma-buf planes`, {
        code: 'ERR_VFIO_NO_DMABUF',
      });
    }
    if (!card.caps.primeImport) throw new UnsupportedError(`${card.path} (${card.driver.name}) cannot import dma-bufs`, { code: 'ERR_VFIO_NO_PRIME_IMPORT' });
    this.#display = display;
    this.#card = card;
    this.#output = pickOutput(card, this.#options);
    this.#drmFb = useDrmFb(display, card, this.#options.drmFb ?? 'auto');
  }

  /** The connector, CRTC and planes in use. */
  get output(): { readonly connectorId: number; readonly connectorName: string; readonly crtcId: number; readonly planeId: number; readonly cursorPlaneId: number | null } {
    const o = this.#output;
    return { connectorId: o.connector.id, connectorName: o.connector.name, crtcId: o.crtcId, planeId: o.planeId, cursorPlaneId: o.cursorPlaneId };
  }

  get stats(): DirectFlipStats {
    return {
      source: this.#source,
      frames: this.#frames,
      dropped: this.#dropped,
      modesets: this.#modesets,
      imports: this.#imports,
      drmFb: this.#drmFb,
      kernelFlips: this.#kernelFlips,
      latency: this.#latency.summary(),
    };
  }

  /** Runs until the signal aborts or an error, without per-frame work; resolves with the stats. */
  async run(): Promise<DirectFlipStats> {
    const frames = this[Symbol.asyncIterator]();
    try {
      while (!(await frames.next()).done);
    } catch (err) {
      if (!(this.#options.signal?.aborted && err === this.#options.signal.reason)) throw err;
    }
    return this.stats;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FlipFrame, void, undefined> {
    if (this.#started) throw new InvalidArgumentError('a DirectFlip runs once: iterate it a single time');
    this.#started = true;
    const { changes: mode = 'auto', periodMs, signal } = this.#options;
    const stream = this.#display.changes({ mode, keepAlive: true, ...(signal ? { signal } : {}), ...(periodMs === undefined ? {} : { periodMs }) });
    this.#source = stream.source;
    let failed = false;
    try {
      for await (const change of stream) {
        const frame = await this.#show(change);
        if (frame) yield frame;
      }
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      try {
        this.#teardown();
      } catch (err) {
        // The consumer has stopped listening (break or an error on its way
        // out, e.g. the device went away): say it, as Node does for such.
        if (!failed) process.emitWarning(err instanceof Error ? err : String(err), 'DirectFlipWarning');
      }
    }
  }

  /** Guest frames skipped between two changes: by flip_seq where the kernel reports it, else by signals. */
  #countDropped(change: DisplayChange): number {
    const seq = change.primary?.flipSeq;
    let dropped = 0;
    if (seq !== undefined) {
      if (this.#lastFlipSeq !== undefined && seq > this.#lastFlipSeq) dropped = Number(seq - this.#lastFlipSeq) - 1;
      this.#lastFlipSeq = seq;
    } else if (change.events) {
      dropped = Math.max(0, change.events.primary - 1);
    }
    return dropped;
  }

  async #show(change: DisplayChange): Promise<FlipFrame | undefined> {
    const dropped = this.#countDropped(change);
    this.#dropped += dropped;
    const primary = isDmabufPlane(change.primary) ? change.primary : null;
    const cursor = this.#output.cursorPlaneId !== null && isDmabufPlane(change.cursor) ? change.cursor : null;
    // A signal with nothing new to show (e.g. the guest rewrote the same surface address).
    if (!change.changed.primary && !change.changed.cursor) return undefined;
    // Until the guest first shows something, the host output is left as it is.
    if (!primary && !this.#mode) return undefined;
    const card = this.#card;
    const { crtcId, planeId, cursorPlaneId } = this.#output;
    let shown: { readonly fbId: number; readonly plane: PlaneInfo | DrmFbPlane } | null = null;
    if (primary && this.#drmFb) {
      // The driver flips its framebuffer itself: only a new mode (or the first frame) needs a commit.
      const flipOnly = this.#drmFbPlane !== null && !change.changed.mode;
      if (flipOnly) this.#kernelFlips++;
      if (flipOnly && !change.changed.cursor) return undefined;
      if (!flipOnly) this.#drmFbPlane = this.#display.queryDrmFb();
      if (this.#drmFbPlane) shown = { fbId: this.#drmFbPlane.fbId, plane: this.#drmFbPlane };
    } else if (primary) {
      shown = { fbId: this.#framebufferFor(primary).id, plane: primary };
    }
    const request = card.atomic();
    let modeset = false;
    let placement: Placement | null = null;
    if (shown) {
      this.#checkFormat(planeId, shown.plane, 'primary');
      const placed = this.#place(shown.plane, shown.fbId);
      placement = placed.placement;
      placed.modeset?.(request);
      modeset = placed.modeset !== null;
      request.setPlane(planeId, { fbId: shown.fbId, crtcId, ...placement });
    } else {
      this.#drmFbPlane = null;
      // ACTIVE as it is (no modeset) names the CRTC, whose event completes the commit.
      request.disablePlane(planeId).set(crtcId, 'ACTIVE', 1);
    }
    if (cursorPlaneId !== null) {
      if (primary && placement && cursor) {
        this.#checkFormat(cursorPlaneId, cursor, 'cursor');
        const at = placeCursor(cursor, placement, primary);
        const fb = this.#framebufferFor(cursor);
        request.setPlane(cursorPlaneId, { fbId: fb.id, crtcId, src: { x: 0, y: 0, width: cursor.width, height: cursor.height }, crtc: { ...at, width: cursor.width, height: cursor.height } });
        this.#cursorShown = true;
      } else if (this.#cursorShown) {
        request.disablePlane(cursorPlaneId);
        this.#cursorShown = false;
      }
    }
    const seq = this.#frames + 1;
    this.#options.beforeCommit?.(request, { seq, primary });
    const completion = await card.commit(request, { allowModeset: modeset, signal: this.#options.signal });
    this.#frames = seq;
    if (modeset) this.#modesets++;
    // The kernel's flip time where it stamps CLOCK_MONOTONIC (as hrtime), else now.
    const completedAt = card.caps.timestampMonotonic && completion.timestampUs > 0 ? BigInt(completion.timestampUs) * 1000n : process.hrtime.bigint();
    this.#latency.record(completedAt - change.seenAt);
    this.#releaseEvicted();
    return { seq, source: change.source, primary, cursor, placement, modeset, dropped, seenAt: change.seenAt, completedAt };
  }

  #checkFormat(planeId: number, plane: { readonly drmFormat: number; readonly modifier: bigint }, what: string): void {
    const host = this.#card.planes.find((p) => p.id === planeId);
    if (host && !planeSupports(host, plane.drmFormat, this.#card.caps.addFb2Modifiers ? plane.modifier : undefined)) {
      throw new UnsupportedError(
        `host plane ${planeId} of ${this.#card.path} cannot scan out the guest's ${what} plane (${fourccString(plane.drmFormat)}, ${modifierName(plane.modifier)}); its formats: ${host.formats.map(fourccString).join(' ')}`,
        { code: 'ERR_VFIO_FORMAT_UNSUPPORTED' },
      );
    }
  }

  /** The host framebuffer of a guest buffer, imported on first use. */
  #framebufferFor(plane: Extract<PlaneInfo, { mode: 'dmabuf' }>): Framebuffer {
    const dmabuf = this.#display.dmabuf(plane);
    let fb = this.#framebuffers.get(dmabuf);
    if (!fb) {
      fb = this.#card.importDmabuf(dmabuf.fd, { width: plane.width, height: plane.height, format: plane.drmFormat, modifier: plane.modifier, stride: plane.stride });
      this.#framebuffers.set(dmabuf, fb);
      this.#imports++;
    }
    return fb;
  }

  /** Framebuffers of dma-bufs the display's cache has let go (CLOSEFB keeps a plane that still shows one). */
  #releaseEvicted(): void {
    for (const [dmabuf, fb] of this.#framebuffers) {
      if (!dmabuf.closed) continue;
      fb.close();
      this.#framebuffers.delete(dmabuf);
    }
  }

  /**
   * Where the primary goes and whether that takes a modeset (then `modeset`
   * adds it to a request); placements are kept until the geometry changes.
   */
  #place(primary: PlaneInfo | DrmFbPlane, fbId: number): { placement: Placement; modeset: ((request: AtomicRequest) => void) | null } {
    const key = geometryKey(primary);
    if (this.#placement?.key === key && this.#mode) return { placement: this.#placement.placement, modeset: null };
    const fit = this.#options.fit ?? 'auto';
    const modes = this.#card.connector(this.#output.connector.id).modes;
    const first = modes[0];
    if (!first) throw new NotFoundError(`connector ${this.#output.connector.name} lists no modes`);
    const exact = modes.some((m) => m.hdisplay === primary.width && m.vdisplay === primary.height);
    const current = this.#mode ?? this.#card.crtcState(this.#output.crtcId).mode;
    let mode: ModeInfo;
    let fits: readonly Fit[];
    if (fit === 'modeset' || (fit === 'auto' && exact)) {
      mode = chooseMode(modes, primary) ?? first;
      fits = ['center'];
    } else {
      mode = current ?? modes.find(isPreferred) ?? chooseMode(modes, primary) ?? first;
      fits = fit === 'auto' ? ['scale', 'center'] : [fit];
    }
    const blob = !this.#mode || !sameTiming(this.#mode, mode) ? this.#card.createModeBlob(mode) : undefined;
    const modeset = blob
      ? (request: AtomicRequest): void => {
          request.setCrtc(this.#output.crtcId, { active: true, modeId: blob.id }).setConnector(this.#output.connector.id, this.#output.crtcId);
          this.#detachOtherConnectors(request);
        }
      : null;
    try {
      const placement = this.#firstThatFits(fits, primary, { width: mode.hdisplay, height: mode.vdisplay }, fbId, modeset);
      if (blob) {
        this.#modeBlob?.close();
        this.#modeBlob = blob;
        this.#mode = mode;
      }
      this.#placement = { key, placement };
      return { placement, modeset };
    } catch (err) {
      blob?.close();
      throw err;
    }
  }

  /** The first fit the host accepts (TEST_ONLY, which changes nothing) where scaling is involved. */
  #firstThatFits(fits: readonly Fit[], primary: GuestGeometry, size: { width: number; height: number }, fbId: number, modeset: ((request: AtomicRequest) => void) | null): Placement {
    let refusal: unknown;
    for (const fit of fits) {
      const placement = placePlane(primary, size, fit);
      if (isUnscaled(placement) || fits.length === 1) return placement;
      const probe = this.#card.atomic();
      modeset?.(probe);
      probe.setPlane(this.#output.planeId, { fbId, crtcId: this.#output.crtcId, ...placement });
      try {
        this.#card.test(probe, { allowModeset: modeset !== null });
        return placement;
      } catch (err) {
        if (!(err instanceof AtomicCommitError)) throw err;
        refusal = err;
      }
    }
    throw refusal;
  }

  /** Other connectors on our CRTC would be clones (vkms refuses Virtual + Writeback together): take them off. */
  #detachOtherConnectors(request: AtomicRequest): void {
    for (const id of this.#card.connectorIds) {
      if (id === this.#output.connector.id) continue;
      if (Number(this.#card.properties.values(id).get('CRTC_ID') ?? 0n) === this.#output.crtcId) request.setConnector(id, 0);
    }
  }

  #teardown(): void {
    const card = this.#card;
    // A removed vGPU's buffers must not stay on screen: they go with the device.
    const keep = this.#options.keepOnScreen && !this.#display.device.removal.aborted;
    if (!card.closed && !keep && this.#frames > 0) {
      const request = card.atomic().disablePlane(this.#output.planeId);
      if (this.#output.cursorPlaneId !== null && this.#cursorShown) request.disablePlane(this.#output.cursorPlaneId);
      card.commitBlocking(request);
    }
    for (const fb of this.#framebuffers.values()) fb.close();
    this.#framebuffers.clear();
    this.#modeBlob?.close();
    this.#modeBlob = undefined;
  }
}

/** Direct flip of `display` onto `card` (both borrowed): iterate the result, or call run(). */
export function directFlip(display: Display, card: Card, options: DirectFlipOptions = {}): DirectFlip {
  return new DirectFlip(display, card, options);
}
