// Direct flip: the guest's framebuffer on a host display plane, zero-copy.
// On each display change the guest's current dma-buf is looked up (imported
// into the host card once per buffer) and committed on the host plane; one
// commit is in flight at a time and the newest guest frame wins, because
// every change re-queries the planes after the previous commit completed.
// A new guest mode means a modeset where the connector has that mode, else
// scaling or centring on the current one, as the host plane allows.
// Region planes (device memory, no dma-buf) are polled and copied into host
// buffers instead, one copy per change of their bytes (region-copy.ts).
// Where the kernel can flip the guest itself (kernel-patches: direct flips to
// a DRM lease), this process leases the CRTC and plane to the vGPU once and
// wakes up only for guest mode changes; the kernel commits every flip.
import type { Display } from '../display/display.js';
import type { ChangeSource, DisplayChange } from '../display/changes.js';
import type { BorrowedDmabuf } from '../display/dmabuf.js';
import type { KernelFlip, KernelFlipStatus } from '../display/kernel-flip.js';
import type { PlaneInfo } from '../display/plane.js';
import type { RegionPlane } from '../display/region.js';
import { AtomicCommitError, ClosedError, InvalidArgumentError, NotFoundError, UnsupportedError } from '../errors.js';
import type { AtomicRequest } from '../kms/atomic.js';
import { scanoutProblem, type Card, type CommitCompletion, type Connector } from '../kms/card.js';
import type { DumbBuffer, Framebuffer } from '../kms/framebuffer.js';
import type { Lease } from '../kms/lease.js';
import { OutputSnapshot } from '../kms/output-snapshot.js';
import { chooseMode, isPreferred, type ModeInfo } from '../kms/mode.js';
import type { PropertyBlob } from '../kms/properties.js';
import { fourccString, modifierName } from '../uapi/drm_fourcc.js';
import { abortSignal, lazySchema, parse } from '../validate.js';
import { LatencyHistogram, type LatencySummary } from './latency.js';
import { RegionCopy } from './region-copy.js';
import { cursorProblem, hostFramebuffer, isUnscaled, placeCursor, placePlane, type Fit, type GuestGeometry, type Placement } from './placement.js';

export interface DirectFlipOptions {
  /** The connector to show the guest on; default: the first connected one that is not writeback. */
  readonly connectorId?: number | undefined;
  /** Default: the CRTC the connector is on, else the first it can drive. */
  readonly crtcId?: number | undefined;
  /** Default: the CRTC's primary plane. */
  readonly planeId?: number | undefined;
  /**
   * Default: the CRTC's cursor plane where it has one; null: do not show the
   * guest's cursor. A guest cursor that plane cannot show (format, size) is
   * hidden, with a DirectFlipWarning once per reason, as QEMU does.
   */
  readonly cursorPlaneId?: number | null | undefined;
  /**
   * How a guest mode is shown. 'auto' (default): a modeset to the guest's
   * size where the connector has it, else scaled to fit where the plane
   * scales, else centred 1:1. 'modeset' always switches to the connector
   * mode nearest the guest's; the others keep the host mode.
   */
  readonly fit?: 'auto' | 'modeset' | Fit | undefined;
  /** How changes are noticed (Display.changes()): default 'auto'; region planes are always polled. */
  readonly changes?: 'auto' | 'event' | 'timer' | undefined;
  /** Timer mode: poll period (default 16 ms). */
  readonly periodMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called with each commit before it is issued, e.g. to add a writeback capture. */
  readonly beforeCommit?: ((request: AtomicRequest, frame: { readonly seq: number; readonly primary: PlaneInfo | null }) => void) | undefined;
  /**
   * Leave the last frame on screen when the flip ends, unless the vGPU was
   * removed. Default: what the CRTC showed before the flip's first commit
   * (mode, connectors, planes: a console or compositor) is put back; a
   * plane whose framebuffer its owner removed meanwhile is turned off.
   * The frame stays until the next commit on the CRTC, or with fbdev
   * emulation until the card's last DRM file closes and the console takes
   * the output back. Needs Linux 6.8 (CLOSEFB): before it, closing the
   * flip's framebuffers (RMFB) turns the plane off. Userspace flips only:
   * the kernel takes its framebuffers, and so the guest, off the plane when
   * a kernel flip ends.
   */
  readonly keepOnScreen?: boolean | undefined;
  /**
   * Let the kernel flip the guest (kernel-patches: Display.kernelFlip()):
   * the CRTC and plane are leased to the vGPU once, every guest flip is
   * committed by the kernel, and this process wakes up only for guest mode
   * changes. 'auto' (default): where the display offers it; true: required.
   * The guest cursor is not shown this way.
   */
  readonly kernel?: 'auto' | boolean | undefined;
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
    kernel: z.union([z.literal('auto'), z.boolean()]).optional(),
  });
});

/**
 * One guest frame shown on the host by a commit of this process: every
 * frame with userspace flips; with kernel flips, the first frame and each
 * guest mode change (the kernel shows the rest: see `kernel`).
 */
export interface FlipFrame {
  /** Counts the commits, from 1. */
  readonly seq: number;
  readonly source: ChangeSource;
  /**
   * The guest planes shown (primary null: the guest display is off, shown
   * as the driver allows: the plane off, else a black buffer, else the CRTC
   * off, a modeset).
   */
  readonly primary: PlaneInfo | null;
  readonly cursor: PlaneInfo | null;
  /** Where the primary went on the CRTC; null while it is off. */
  readonly placement: Placement | null;
  /** Whether this commit changed the host mode. */
  readonly modeset: boolean;
  /** Guest frames since the previous one that were never shown (newest wins). */
  readonly dropped: number;
  /** When the change was seen, and when the host flipped to it (CLOCK_MONOTONIC ns); kernel flips: when the kernel was given it. */
  readonly seenAt: bigint;
  readonly completedAt: bigint;
  /** Kernel flips: what the kernel reports once it has the guest. */
  readonly kernel: KernelFlipStatus | null;
}

export interface DirectFlipStats {
  /** 'event' or 'timer' once running. */
  readonly source: ChangeSource | null;
  /** 'kernel' where the kernel commits the guest's flips (kernel option), else 'userspace'. */
  readonly flipper: 'kernel' | 'userspace';
  /**
   * Guest frames shown: this process's commits, or with kernel flips the
   * kernel's, summed over the assignments each guest mode change makes (a
   * commit that completes while one is replaced can go uncounted).
   */
  readonly frames: number;
  /** Guest frames never shown because a newer one came first: by flip_seq, or the kernel's count (summed as frames). */
  readonly dropped: number;
  readonly modesets: number;
  /** Framebuffers this process imported (one per guest buffer while it is in use; none with kernel flips). */
  readonly imports: number;
  /** Region planes: guest frames copied into a host buffer (one per change of the guest's bytes); 0 for dma-buf planes. */
  readonly copies: number;
  /** Kernel flips: the kernel's account of the current assignment (read when stats are read; kept when the flip ends, with state 'off' unless the lease was revoked). */
  readonly kernel: KernelFlipStatus | null;
  /** Userspace flips: from the change being seen to the commit's completion event. */
  readonly latency: LatencySummary;
}

/** A kind of guest cursor, as a host cursor plane takes it or not. */
const cursorKeyOf = (c: DmabufPlane): string => `${c.width}x${c.height} ${fourccString(c.drmFormat)} ${modifierName(c.modifier)}`;

/** How a guest display that is off is shown (DirectFlip.#showOff). */
type OffWay = 'plane off' | 'black' | 'crtc off';

/** The host output the pipeline drives. */
interface Output {
  readonly connector: Connector;
  readonly crtcId: number;
  readonly planeId: number;
  readonly cursorPlaneId: number | null;
}

type DmabufPlane = Extract<PlaneInfo, { mode: 'dmabuf' }>;
const isDmabufPlane = (p: PlaneInfo | null): p is DmabufPlane => p?.mode === 'dmabuf';

/** The guest geometry that needs a new placement when it changes. */
const geometryKey = (p: GuestGeometry): string => `${p.width}x${p.height}+${p.srcX ?? 0}+${p.srcY ?? 0}`;

/** Whether to let the kernel flip (see DirectFlipOptions.kernel). */
function useKernel(display: Display, card: Card, wanted: 'auto' | boolean): boolean {
  if (wanted === false) return false;
  if (wanted === true && !display.features.kernelFlip) {
    throw new UnsupportedError(`${display.device.name} cannot be flipped by the kernel: it lacks VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP (kernel-patches/)`, { code: 'ERR_VFIO_NO_KERNEL_FLIP' });
  }
  return display.features.kernelFlip && card.caps.primeImport;
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
  const current = card.connectorCrtc(connector.id);
  // A lessee may see its connector on a CRTC outside the lease: not one it can use.
  const crtcId = options.crtcId ?? (connector.crtcs.includes(current) ? current : connector.crtcs[0]);
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

/** A change of the host mode: the blob, and what puts it in a request. */
interface ModeChange {
  readonly blob: PropertyBlob;
  readonly mode: ModeInfo;
  readonly apply: (request: AtomicRequest) => void;
}

/** Where the primary goes for a guest geometry (`key`), and the mode change it needs. */
interface Placed {
  readonly key: string;
  readonly placement: Placement;
  readonly change: ModeChange | null;
}

const sameTiming = (a: ModeInfo, b: ModeInfo): boolean =>
  a.clock === b.clock && a.hdisplay === b.hdisplay && a.vdisplay === b.vdisplay && a.htotal === b.htotal && a.vtotal === b.vtotal && a.flags === b.flags;

/**
 * Shows a display's guest framebuffer on a host card, flip for flip. Iterate
 * it (once) to run it; each item is a frame this process committed. The
 * display and card are borrowed; the framebuffers it imports, and with
 * kernel flips the lease and the assignment, are its own and let go when
 * the iteration ends (break, abort, error).
 */
export class DirectFlip implements AsyncIterable<FlipFrame> {
  readonly #display: Display;
  readonly #card: Card;
  readonly #options: DirectFlipOptions;
  readonly #output: Output;
  readonly #latency = new LatencyHistogram();
  /** Imported guest buffers, by the display cache's dma-buf object (same buffer, same object). */
  readonly #framebuffers = new Map<BorrowedDmabuf, Framebuffer>();
  /** Region planes: the host buffers they are copied into. */
  #region: RegionCopy | undefined;
  /** The one iteration, once started. */
  #iteration: AsyncGenerator<FlipFrame, void, undefined> | undefined;
  /** close(): ends the iteration as a normal end. */
  readonly #closing = new AbortController();
  /** The caller's signal and close(). */
  readonly #signal: AbortSignal;
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
  /** How the guest's display being off is shown, for the host mode it was chosen for. */
  #off: { mode: ModeInfo; way: OffWay } | undefined;
  #black: DumbBuffer | undefined;
  /** Kinds of guest cursor (cursorKeyOf): true once a TEST_ONLY commit showed one, false once hidden. */
  readonly #cursorKinds = new Map<string, boolean>();
  /** What the CRTC showed before this process first changed it. */
  #before: OutputSnapshot | undefined;
  readonly #kernel: boolean;
  /** Kernel flips on a lessee's card: its own fd is the lease the vGPU gets. */
  readonly #lesseeCard: boolean;
  /** Kernel flips: the CRTC and plane leased to the vGPU, and its assignment. */
  #lease: Lease | undefined;
  #kernelFlip: KernelFlip | undefined;
  /** Kernel flips: the kernel's account when the assignment ended. */
  #kernelStatus: KernelFlipStatus | null = null;
  /** Kernel flips: commits and skipped surfaces of the assignments a reassignment ended (the kernel counts per assignment). */
  #kernelEarlier = { commits: 0n, skipped: 0n };

  constructor(display: Display, card: Card, options: DirectFlipOptions = {}) {
    this.#options = parse(optionsSchema, options, 'directFlip() options');
    if (display.features.planes === 'region') {
      if (this.#options.changes === 'event') {
        throw new UnsupportedError(`${display.device.name} offers region planes: their bytes change with no signal, so they are polled (changes 'timer' or 'auto')`, { code: 'ERR_VFIO_NO_CHANGE_EVENTS' });
      }
    } else if (!card.caps.primeImport) {
      throw new UnsupportedError(`${card.path} (${card.driver.name}) cannot import dma-bufs`, { code: 'ERR_VFIO_NO_PRIME_IMPORT' });
    }
    this.#display = display;
    this.#card = card;
    this.#output = pickOutput(card, this.#options);
    this.#kernel = useKernel(display, card, this.#options.kernel ?? 'auto');
    // Asked here, where a refusal is clear: GET_LEASE needs the card to be DRM master.
    this.#lesseeCard = this.#kernel && card.lessee;
    const { signal } = this.#options;
    this.#signal = signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal;
  }

  /** The connector, CRTC and planes in use. */
  get output(): { readonly connectorId: number; readonly connectorName: string; readonly crtcId: number; readonly planeId: number; readonly cursorPlaneId: number | null } {
    const o = this.#output;
    return { connectorId: o.connector.id, connectorName: o.connector.name, crtcId: o.crtcId, planeId: o.planeId, cursorPlaneId: o.cursorPlaneId };
  }

  get stats(): DirectFlipStats {
    const kernel = this.#kernelFlip && !this.#kernelFlip.closed ? this.#kernelFlip.status() : this.#kernelStatus;
    return {
      source: this.#source,
      flipper: this.#kernel ? 'kernel' : 'userspace',
      frames: kernel ? Number(this.#kernelEarlier.commits + kernel.commits) : this.#frames,
      dropped: kernel ? Number(this.#kernelEarlier.skipped + kernel.skipped) : this.#dropped,
      modesets: this.#modesets,
      imports: this.#imports,
      copies: this.#region?.copies ?? 0,
      kernel,
      latency: this.#latency.summary(),
    };
  }

  /**
   * Runs until the signal aborts, close() or an error, without per-frame
   * work; resolves with the stats.
   */
  async run(): Promise<DirectFlipStats> {
    const frames = this[Symbol.asyncIterator]();
    try {
      while (!(await frames.next()).done);
    } catch (err) {
      if (!(this.#options.signal?.aborted && err === this.#options.signal.reason)) throw err;
    }
    return this.stats;
  }

  /**
   * Ends the flip as a normal end (a pending next() resolves done, run()
   * with the stats) and resolves once it has let go of the output: the
   * screen restored or kept (keepOnScreen), its framebuffers closed. A flip
   * never iterated cannot be iterated after. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closing.signal.aborted) this.#closing.abort(new ClosedError('the direct flip'));
    await this.#iteration?.return();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  [Symbol.asyncIterator](): AsyncGenerator<FlipFrame, void, undefined> {
    const frames = this.#run(this.#iteration === undefined);
    this.#iteration ??= frames;
    return frames;
  }

  async *#run(first: boolean): AsyncGenerator<FlipFrame, void, undefined> {
    if (!first) throw new InvalidArgumentError('a DirectFlip runs once: iterate it a single time');
    this.#closing.signal.throwIfAborted();
    const { changes: mode = 'auto', periodMs } = this.#options;
    const stream = this.#display.changes({
      mode: this.#kernel ? 'event' : mode,
      everyPoll: this.#display.features.planes === 'region',
      keepAlive: true,
      ...(this.#kernel ? { kinds: ['mode'] as const } : {}),
      signal: this.#signal,
      ...(periodMs === undefined ? {} : { periodMs }),
    });
    this.#source = stream.source;
    let failed = false;
    try {
      for await (const change of stream) {
        const frame = this.#kernel ? await this.#showByKernel(change) : await this.#show(change);
        if (frame) yield frame;
      }
    } catch (err) {
      if (this.#closing.signal.aborted && err === this.#closing.signal.reason) return;
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
    const primary = change.primary;
    const cursor = this.#output.cursorPlaneId !== null && isDmabufPlane(change.cursor) ? change.cursor : null;
    // A signal with nothing new to show (e.g. the guest rewrote the same surface
    // address); region planes are polled, their bytes compared below.
    if (!change.changed.primary && !change.changed.cursor && primary?.mode !== 'region') return undefined;
    // Until the guest first shows something, the host output is left as it is.
    if (!primary && (!this.#mode || !change.changed.primary)) return undefined;
    const card = this.#card;
    const { crtcId, planeId, cursorPlaneId } = this.#output;
    const request = card.atomic();
    let placed: Placed | null = null;
    let guestOff: OffWay | null = null;
    let cursorShown = false;
    const seq = this.#frames + 1;
    try {
      if (primary) {
        this.#checkFormat(primary);
        const source = primary.mode === 'region' ? this.#regionFramebuffer(primary) : this.#framebufferFor(primary);
        // A region plane's bytes as the last frame left them: nothing to show.
        if (!source) return undefined;
        const { fb, geometry } = source;
        placed = this.#place(geometry, fb.id);
        placed.change?.apply(request);
        request.setPlane(planeId, { fbId: fb.id, crtcId, ...placed.placement });
      } else {
        guestOff = this.#showOff(request);
      }
      const placement = placed?.placement ?? null;
      if (cursorPlaneId !== null) {
        const kind = cursor && cursorKeyOf(cursor);
        if (primary && placement && cursor && kind && this.#cursorShowable(cursorPlaneId, cursor, kind)) {
          const at = placeCursor(cursor, placement, primary);
          const { fb } = this.#framebufferFor(cursor);
          request.setPlane(cursorPlaneId, { fbId: fb.id, crtcId, src: { x: 0, y: 0, width: cursor.width, height: cursor.height }, crtc: { ...at, width: cursor.width, height: cursor.height } });
          cursorShown = this.#cursorKinds.get(kind) === true || this.#testCursor(request, kind, placed?.change != null);
        } else if (this.#cursorShown) {
          request.disablePlane(cursorPlaneId);
        }
      }
      this.#options.beforeCommit?.(request, { seq, primary });
    } catch (err) {
      placed?.change?.blob.close();
      throw err;
    }
    const modeset = placed?.change != null || guestOff === 'crtc off';
    const completion = await this.#commitPlaced(request, placed, guestOff === 'crtc off');
    this.#cursorShown = cursorShown;
    if (guestOff === 'crtc off') this.#outputOff();
    this.#frames = seq;
    // The kernel's flip time where it stamps CLOCK_MONOTONIC (as hrtime), else now.
    const completedAt = card.caps.timestampMonotonic && completion.timestampUs > 0 ? BigInt(completion.timestampUs) * 1000n : process.hrtime.bigint();
    this.#latency.record(completedAt - change.seenAt);
    this.#releaseEvicted();
    return { seq, source: change.source, primary, cursor, placement: placed?.placement ?? null, modeset, dropped, seenAt: change.seenAt, completedAt, kernel: null };
  }

  /**
   * Kernel flips: only the first frame and guest mode changes get here. The
   * host mode is set (a commit of this process) where the guest's needs
   * one, and the head is assigned, or reassigned, to the leased plane with
   * the new placement: the kernel shows the frames from then on.
   */
  async #showByKernel(change: DisplayChange): Promise<FlipFrame | undefined> {
    const primary = isDmabufPlane(change.primary) ? change.primary : null;
    // The kernel turns the plane off while the guest's display is off, and
    // shows the guest again, in the placement it had, when it comes back.
    if (!primary || (!change.changed.mode && this.#kernelFlip)) return undefined;
    this.#checkFormat(primary);
    const { crtcId, planeId, connector } = this.#output;
    this.#snapshot();
    const placed = this.#placeForKernel(primary);
    const modeset = placed.change !== null;
    if (placed.change) {
      const request = this.#card.atomic();
      placed.change.apply(request);
      this.#options.beforeCommit?.(request, { seq: this.#frames + 1, primary });
      await this.#commitPlaced(request, placed);
    }
    const { crtc } = placed.placement;
    // Unscaled: the kernel sizes the plane to each guest surface itself.
    const size = isUnscaled(placed.placement) ? {} : { width: crtc.width, height: crtc.height };
    const where = { crtcId, planeId, x: crtc.x, y: crtc.y, ...size };
    // A lessee cannot lease on (DRM has no sub-leases): its own fd is the lease the vGPU gets.
    const lease = this.#lesseeCard ? this.#card.fd : (this.#lease ??= this.#card.createLease([connector.id, crtcId, planeId])).fd;
    if (this.#kernelFlip) {
      const before = this.#kernelFlip.status();
      this.#kernelFlip.reassign(lease, where);
      this.#kernelEarlier = { commits: this.#kernelEarlier.commits + before.commits, skipped: this.#kernelEarlier.skipped + before.skipped };
    }
    else this.#kernelFlip = this.#display.kernelFlip(lease, where);
    const seq = ++this.#frames;
    const now = process.hrtime.bigint();
    return { seq, source: change.source, primary, cursor: null, placement: placed.placement, modeset, dropped: 0, seenAt: change.seenAt, completedAt: now, kernel: this.#kernelFlip.status() };
  }

  /** Kernel flips: where the guest goes, without a framebuffer of ours to test scaling with. */
  #placeForKernel(primary: PlaneInfo): Placed {
    const geometry = { width: primary.width, height: primary.height };
    const fit = this.#options.fit ?? 'auto';
    const { mode, change } = this.#hostMode(geometry, fit);
    // The kernel commits what it is told and reports a refusal: 'auto' keeps to what needs no scaling.
    const placement = placePlane(geometry, { width: mode.hdisplay, height: mode.vdisplay }, fit === 'auto' || fit === 'modeset' ? 'center' : fit);
    return { key: geometryKey(geometry), placement, change };
  }

  /**
   * Commits a request built on a placement; what the placement changes (the
   * host mode, the placement kept for the geometry) becomes ours only once
   * the kernel has taken the commit.
   */
  async #commitPlaced(request: AtomicRequest, placed: Placed | null, modeset = false): Promise<CommitCompletion> {
    this.#snapshot();
    let completion: CommitCompletion;
    try {
      completion = await this.#card.commit(request, { allowModeset: modeset || placed?.change != null, signal: this.#signal });
    } catch (err) {
      placed?.change?.blob.close();
      throw err;
    }
    if (placed) {
      this.#placement = { key: placed.key, placement: placed.placement };
      if (placed.change) {
        this.#modeBlob?.close();
        this.#modeBlob = placed.change.blob;
        this.#mode = placed.change.mode;
        this.#modesets++;
      }
    }
    return completion;
  }

  #snapshot(): void {
    const { crtcId, planeId, cursorPlaneId } = this.#output;
    this.#before ??= OutputSnapshot.take(this.#card, crtcId, cursorPlaneId === null ? [planeId] : [planeId, cursorPlaneId]);
  }

  /**
   * Whether guest cursors of this kind may go on the host cursor plane:
   * known from an earlier frame, else as far as the card says (format,
   * modifier, size hint); one it cannot show is hidden from now on.
   */
  #cursorShowable(cursorPlaneId: number, cursor: DmabufPlane, kind: string): boolean {
    const known = this.#cursorKinds.get(kind);
    if (known !== undefined) return known;
    const host = this.#card.planes.find((p) => p.id === cursorPlaneId);
    const { cursorWidth, cursorHeight, addFb2Modifiers } = this.#card.caps;
    const problem = host && cursorProblem(host, { width: cursorWidth, height: cursorHeight, modifiers: addFb2Modifiers }, cursor);
    if (problem) this.#hideCursor(kind, problem);
    return !problem;
  }

  /**
   * A new kind of guest cursor, TEST_ONLY first: drivers refuse sizes the
   * card's hint allows (i915: 64/128/256 squares). Refused, it is taken out
   * of `request` and hidden; refused without it too, the commit will say
   * what else is wrong.
   */
  #testCursor(request: AtomicRequest, kind: string, allowModeset: boolean): boolean {
    try {
      this.#card.test(request, { allowModeset });
      this.#cursorKinds.set(kind, true);
      return true;
    } catch (err) {
      if (!(err instanceof AtomicCommitError) || this.#output.cursorPlaneId === null) throw err;
      request.disablePlane(this.#output.cursorPlaneId);
      this.#card.test(request, { allowModeset });
      this.#hideCursor(kind, `host cursor plane ${String(this.#output.cursorPlaneId)} refused it (${err.code})`);
      return false;
    }
  }

  /** Hides guest cursors of one kind from now on, saying so once. */
  #hideCursor(kind: string, why: string): void {
    this.#cursorKinds.set(kind, false);
    process.emitWarning(`the guest's ${kind} cursor is hidden: ${why}`, 'DirectFlipWarning');
  }

  /** The guest's primary plane in a format and modifier the host plane scans out, else UnsupportedError. */
  #checkFormat(plane: PlaneInfo): void {
    const host = this.#card.planes.find((p) => p.id === this.#output.planeId);
    const problem = host && scanoutProblem(host, plane.drmFormat, plane.modifier, this.#card.caps.addFb2Modifiers);
    if (problem) throw new UnsupportedError(`${problem}: the guest's primary plane cannot be shown on ${this.#card.path}`, { code: 'ERR_VFIO_FORMAT_UNSUPPORTED' });
  }


  /**
   * Adds the guest's display being off to `request`, in the first way the
   * driver accepts for the host mode (TEST_ONLY once per mode): the plane
   * off; else a black buffer, for drivers that need a primary plane on an
   * active CRTC (drm_atomic_helper_check_crtc_primary_plane: simple-KMS
   * drivers); else the CRTC off, a modeset both ways.
   */
  #showOff(request: AtomicRequest): OffWay {
    const mode = this.#mode;
    if (!mode) throw new Error('DirectFlip: the guest display turned off before anything was shown');
    if (!this.#off || !sameTiming(this.#off.mode, mode)) this.#off = { mode, way: this.#offWayFor(mode) };
    this.#addOff(request, this.#off.way, mode);
    // When the guest comes back, its first frame is shown even if its bytes did not change.
    this.#region?.forget();
    return this.#off.way;
  }

  #offWayFor(mode: ModeInfo): OffWay {
    for (const way of ['plane off', 'black'] as const) {
      const probe = this.#card.atomic();
      this.#addOff(probe, way, mode);
      try {
        this.#card.test(probe);
        return way;
      } catch (err) {
        if (!(err instanceof AtomicCommitError)) throw err;
      }
    }
    this.#black?.close();
    this.#black = undefined;
    return 'crtc off';
  }

  #addOff(request: AtomicRequest, way: OffWay, mode: ModeInfo): void {
    const { crtcId, planeId, cursorPlaneId, connector } = this.#output;
    if (cursorPlaneId !== null && this.#cursorShown) request.disablePlane(cursorPlaneId);
    if (way === 'black') {
      const full = { x: 0, y: 0, width: mode.hdisplay, height: mode.vdisplay };
      request.setPlane(planeId, { fbId: this.#blackBuffer(mode).framebuffer.id, crtcId, src: full, crtc: full });
    } else if (way === 'plane off') {
      // ACTIVE as it is (no modeset) names the CRTC, whose event completes the commit.
      request.disablePlane(planeId).set(crtcId, 'ACTIVE', 1);
    } else {
      request.disablePlane(planeId).setCrtc(crtcId, { active: false, modeId: 0 }).setConnector(connector.id, 0);
    }
  }

  /** A black buffer the size of the host mode. */
  #blackBuffer(mode: ModeInfo): DumbBuffer {
    if (this.#black?.width !== mode.hdisplay || this.#black.height !== mode.vdisplay) {
      this.#black?.close();
      this.#black = this.#card.createDumb({ width: mode.hdisplay, height: mode.vdisplay });
      this.#black.bytes.fill(0);
    }
    return this.#black;
  }

  /** The CRTC was turned off (a modeset): the next guest frame sets a mode anew. */
  #outputOff(): void {
    this.#modesets++;
    this.#mode = null;
    this.#placement = undefined;
    this.#modeBlob?.close();
    this.#modeBlob = undefined;
    this.#cursorShown = false;
  }

  /** A region plane's bytes copied into a host buffer, or null when they are the last frame's. */
  #regionFramebuffer(plane: RegionPlane): { fb: Framebuffer; geometry: GuestGeometry } | null {
    this.#region ??= new RegionCopy(this.#card);
    const buffer = this.#region.frame(plane, this.#display.regionBytes(plane));
    return buffer && { fb: buffer.framebuffer, geometry: { width: plane.width, height: plane.height } };
  }

  /** The host framebuffer of a guest buffer (imported on first use), and the guest geometry within it. */
  #framebufferFor(plane: DmabufPlane): { fb: Framebuffer; geometry: GuestGeometry } {
    const dmabuf = this.#display.dmabuf(plane);
    const { layout, geometry } = hostFramebuffer(plane);
    let fb = this.#framebuffers.get(dmabuf);
    if (!fb) {
      fb = this.#card.importDmabuf(dmabuf.fd, layout);
      this.#framebuffers.set(dmabuf, fb);
      this.#imports++;
    }
    return { fb, geometry };
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
   * The host mode for a guest geometry, and the change to it where it
   * differs from the CRTC's (null otherwise).
   */
  #hostMode(primary: GuestGeometry, fit: 'auto' | 'modeset' | Fit): { mode: ModeInfo; fits: readonly Fit[]; change: ModeChange | null } {
    // No forced probe per guest mode change: the modes the connector had when the flip began, or a later probe's.
    const modes = this.#card.connector(this.#output.connector.id, { probe: false }).modes;
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
    if (this.#mode && sameTiming(this.#mode, mode)) return { mode, fits, change: null };
    const shown = this.#mode ? null : this.#outputMode(mode);
    if (shown) {
      // The first frame, on a CRTC that already drives our connector alone at this timing: no modeset.
      this.#mode = shown;
      return { mode: shown, fits, change: null };
    }
    const blob = this.#card.createModeBlob(mode);
    const { crtcId, connector } = this.#output;
    const apply = (request: AtomicRequest): void => {
      request.setCrtc(crtcId, { active: true, modeId: blob.id }).setConnector(connector.id, crtcId);
      this.#detachOtherConnectors(request);
    };
    return { mode, fits, change: { blob, mode, apply } };
  }

  /**
   * Where the primary goes and the host mode change that takes, if any;
   * placements are kept, once a commit took them, until the geometry changes.
   */
  #place(primary: GuestGeometry, fbId: number): Placed {
    const key = geometryKey(primary);
    if (this.#placement?.key === key && this.#mode) return { key, placement: this.#placement.placement, change: null };
    const { mode, fits, change } = this.#hostMode(primary, this.#options.fit ?? 'auto');
    try {
      const placement = this.#firstThatFits(fits, primary, { width: mode.hdisplay, height: mode.vdisplay }, fbId, change?.apply ?? null);
      return { key, placement, change };
    } catch (err) {
      change?.blob.close();
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

  /** The CRTC's mode where it is active at `mode`'s timing and drives our connector and no other; else null. */
  #outputMode(mode: ModeInfo): ModeInfo | null {
    const { crtcId, connector } = this.#output;
    const state = this.#card.crtcState(crtcId);
    if (!state.active || !state.mode || !sameTiming(state.mode, mode)) return null;
    const alone = this.#card.connectorIds.every((id) => (this.#card.connectorCrtc(id) === crtcId) === (id === connector.id));
    return alone ? state.mode : null;
  }

  /** Other connectors on our CRTC would be clones (vkms refuses Virtual + Writeback together): take them off. */
  #detachOtherConnectors(request: AtomicRequest): void {
    for (const id of this.#card.connectorIds) {
      if (id === this.#output.connector.id) continue;
      if (this.#card.connectorCrtc(id) === this.#output.crtcId) request.setConnector(id, 0);
    }
  }

  #teardown(): void {
    const card = this.#card;
    if (this.#kernelFlip) {
      // The kernel's account outlives the assignment; ending it takes the
      // guest off the plane, and the lease goes back to the card.
      if (!this.#display.device.closed) {
        const last = this.#kernelFlip.status();
        this.#kernelStatus = { ...last, state: last.state === 'revoked' ? 'revoked' : 'off' };
      }
      this.#kernelFlip.close();
      this.#kernelFlip = undefined;
    }
    if (this.#lease && !card.closed) this.#lease.revoke();
    this.#lease?.close();
    this.#lease = undefined;
    // A removed vGPU's buffers must not stay on screen: they go with the device.
    const keep = this.#options.keepOnScreen && !this.#kernel && !this.#display.device.removal.aborted;
    // A revoked lease cannot commit: nothing to try (the kernel took its own framebuffers off).
    const revoked = this.#kernelStatus?.state === 'revoked';
    let putBack = false;
    try {
      if (!card.closed && !keep && this.#before && !revoked) {
        this.#before.restore();
        putBack = true;
      }
    } finally {
      // Not put back (the restore failed, e.g. a lease revoked under a
      // userspace flip): RMFB, not CLOSEFB, takes the guest's frames off.
      const remove = !keep && !putBack;
      for (const fb of this.#framebuffers.values()) {
        if (remove) fb.remove();
        else fb.close();
      }
      this.#framebuffers.clear();
      this.#region?.close(remove);
      this.#black?.close();
      this.#modeBlob?.close();
      this.#modeBlob = undefined;
    }
  }
}

/** Direct flip of `display` onto `card` (both borrowed): iterate the result, or call run(). */
export function directFlip(display: Display, card: Card, options: DirectFlipOptions = {}): DirectFlip {
  return new DirectFlip(display, card, options);
}
