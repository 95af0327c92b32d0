// A vGPU's display: probe (dma-buf, then region, as QEMU does), plane
// queries, dma-bufs or region framebuffers, the EDID region, changes.
import type { VfioDevice } from '../device/device.js';
import { openDevice, type DeviceTarget, type OpenOptions } from '../device/open.js';
import { InvalidArgumentError, UnsupportedError, VfioDisplayError } from '../errors.js';
import * as ext from '../uapi/vfio-ext.js';
import type { IrqInfo } from '../device/device.js';
import { ChangeHub } from './events.js';
import * as v from '../uapi/vfio.js';
import { abortSignal, lazySchema, parse } from '../validate.js';
import { pollChanges, type ChangesOptions, type ChangeSource, type ChangeStream, type DisplayChange } from './changes.js';
import { DmabufCache, exportDmabuf, type BorrowedDmabuf, type Dmabuf, type DmabufPlane } from './dmabuf.js';
import { EdidRegion, type EdidLimits, type EdidUpdateOptions } from './edid.js';
import { fitModes, generateEdid, type DisplayMode, type EdidOptions } from './edid-generator.js';
import { PlaneQuery, checkPlaneType, type DrmFbPlane, type PlaneInfo, type PlaneMode, type PlaneType } from './plane.js';
import { KernelFlip, type KernelFlipPlacement } from './kernel-flip.js';
import { RegionView, type RegionPlane } from './region.js';

export interface DisplayFeatures {
  /** How planes are delivered: dma-bufs (mbochs, GVT-g) or a device region (mdpy). */
  readonly planes: PlaneMode;
  /** The EDID region's limits, or null where the device has none. */
  readonly edid: EdidLimits | null;
  /** Whether the kernel signals display changes (kernel-patches/); otherwise changes() polls. */
  readonly changeEvents: boolean;
  /** Whether plane queries carry head, srcX, srcY and flipSeq (kernel-patches/). */
  readonly extendedInfo: boolean;
  /** The display change IRQ index, or null. */
  readonly changeIrq: IrqInfo | null;
  /**
   * Whether the kernel can show a head on a plane of a host DRM lease and
   * flip it there itself (kernelFlip(); kernel-patches: mbochs, GVT-g).
   */
  readonly kernelFlip: boolean;
}

export interface DisplayOptions {
  /** How many exported dma-bufs to keep (default 5, as QEMU). */
  readonly dmabufCacheSize?: number;
}

const displayOptions = lazySchema((z) => z.strictObject({ dmabufCacheSize: z.int().min(1).max(64).optional() }));
const changesOptions = lazySchema((z) =>
  z.strictObject({
    signal: abortSignal(z).optional(),
    periodMs: z.number().min(1).max(60_000).optional(),
    keepAlive: z.boolean().optional(),
    mode: z.enum(['auto', 'event', 'timer']).optional(),
    kinds: z.array(z.enum(['primary', 'cursor', 'mode'])).min(1).optional(),
    everyPoll: z.boolean().optional(),
  }),
);

function checkHead(head: number): void {
  if (!Number.isInteger(head) || head < 0 || head > 0xffffffff) throw new InvalidArgumentError(`head must be a u32, not ${head}`);
}

export class Display implements Disposable {
  readonly device: VfioDevice;
  readonly #ownsDevice: boolean;
  readonly #planes: PlaneQuery;
  readonly #dmabufs: DmabufCache;
  readonly #regionView: RegionView;
  readonly #edid: EdidRegion | null;
  /** The display change IRQ's one subscription, shared by every event-mode stream. */
  readonly #hub: ChangeHub | null;
  readonly features: DisplayFeatures;
  /** changes() streams still running: a removed device is let go once they have ended. */
  #streams = 0;
  #closeWhenIdle = false;
  readonly #onRemoval = (): void => {
    this.#closeWhenIdle = true;
    if (this.#streams === 0) this.#letGo();
  };

  /**
   * Wraps an open device (borrowed unless `ownsDevice`). Throws
   * UnsupportedError if it offers no display.
   */
  constructor(device: VfioDevice, options: DisplayOptions & { ownsDevice?: boolean } = {}) {
    const { ownsDevice = false, ...rest } = options;
    const { dmabufCacheSize = 5 } = parse(displayOptions, rest, 'display options');
    this.device = device;
    this.#ownsDevice = ownsDevice;
    this.#planes = new PlaneQuery(device);
    const planes: PlaneMode | undefined = this.#planes.probe('dmabuf') ? 'dmabuf' : this.#planes.probe('region') ? 'region' : undefined;
    if (planes === undefined) {
      throw new UnsupportedError(`${device.name} is not a display device: it answers neither dma-buf nor region plane probes`, { code: 'ERR_VFIO_NOT_A_DISPLAY' });
    }
    this.#dmabufs = new DmabufCache(device, dmabufCacheSize);
    this.#regionView = new RegionView(device);
    const edidRegion = device.findRegion(v.VFIO_REGION_TYPE_GFX, v.VFIO_REGION_SUBTYPE_GFX_EDID);
    this.#edid = edidRegion ? new EdidRegion(device, edidRegion) : null;
    const changeIrq = device.findIrq(ext.VFIO_IRQ_TYPE_GFX, ext.VFIO_IRQ_SUBTYPE_GFX_DISPLAY) ?? null;
    // Only where the device shows the extension (PlaneQuery): its plane bits are not upstream's.
    this.#planes.probeExtended(planes);
    this.#hub = changeIrq ? new ChangeHub(device, changeIrq) : null;
    this.features = {
      planes,
      edid: this.#edid?.limits() ?? null,
      changeEvents: changeIrq !== null,
      extendedInfo: this.#planes.extended,
      changeIrq,
      kernelFlip: planes === 'dmabuf' && this.#planes.probe('drm-fb'),
    };
    device.removal.addEventListener('abort', this.#onRemoval, { once: true });
  }

  /**
   * Closes the display once the kernel wants the device back and its
   * streams have ended, after what their consumers do on the way out
   * (directFlip takes the guest's buffers off the host card first).
   */
  #letGo(): void {
    setImmediate(() => {
      this.close();
    });
  }

  /** The plane of display head `head` (0 unless extended info is available), or null while it is disabled. */
  query(type: PlaneType = 'primary', options: { head?: number } = {}): PlaneInfo | null {
    checkPlaneType(type);
    const { head = 0 } = options;
    checkHead(head);
    // Region-mode drivers describe only the primary plane (6.12 mdpy answers
    // the primary's values whatever plane is asked for); QEMU asks them for
    // nothing else either.
    if (this.features.planes === 'region' && type === 'cursor') return null;
    return this.#planes.query(this.features.planes, type, head);
  }

  #requireKernelFlip(): void {
    if (!this.features.kernelFlip) {
      throw new UnsupportedError(`${this.device.name} cannot flip its display to a host DRM lease itself: the kernel lacks VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP (kernel-patches/)`, {
        code: 'ERR_VFIO_NO_KERNEL_FLIP',
      });
    }
  }

  /**
   * Shows head `placement.head`'s primary plane on a plane of a host DRM
   * lease (`lease`: the lessee's fd, borrowed; see Card.createLease(), which
   * must hold the CRTC and plane) and lets the kernel flip it there: each
   * new guest surface is committed in time for the host's next vertical
   * blank, with no wake-up of this process. Host modesets stay with the
   * caller (as lessor). The returned object owns the assignment: close()
   * ends it and takes the guest off the host plane; so does closing the
   * device. Replaces an earlier assignment of the head.
   */
  kernelFlip(lease: number | { readonly fd: number }, placement: KernelFlipPlacement): KernelFlip {
    this.#requireKernelFlip();
    return new KernelFlip(this.device, typeof lease === 'number' ? lease : lease.fd, placement);
  }

  /**
   * The primary plane of an assigned head (kernelFlip()) as the host
   * framebuffer the kernel commits for its current surface, which a tool may
   * also put on a plane of its own; null while the plane is disabled. The id
   * belongs to the leased DRM device, names an immutable framebuffer of that
   * one surface, and lasts while the kernel keeps it or a plane shows it.
   */
  queryDrmFb(options: { head?: number } = {}): DrmFbPlane | null {
    this.#requireKernelFlip();
    const { head = 0 } = options;
    checkHead(head);
    try {
      return this.#planes.query('drm-fb', 'primary', head);
    } catch (err) {
      if (err instanceof VfioDisplayError && err.code === 'ENXIO') {
        throw new InvalidArgumentError(`head ${head} of ${this.device.name} is not assigned to a host DRM lease (kernelFlip()): it has no host framebuffer`, {
          code: 'ERR_VFIO_NOT_ASSIGNED',
          errno: err.errno,
          syscall: err.syscall,
          ioctl: err.ioctl,
          cause: err,
        });
      }
      throw err;
    }
  }

  /**
   * The dma-buf of a dma-buf plane, exported once per buffer and cached: the
   * display owns it and lends it (no close(); evicted after `dmabufCacheSize`
   * other buffers, or at a close).
   */
  dmabuf(plane: DmabufPlane): BorrowedDmabuf {
    return this.#dmabufs.get(plane);
  }

  /**
   * A new export of a dma-buf plane's buffer, owned by the caller (hand it
   * to another process, close it when done). Linux 6.12's mbochs gives a
   * second export of one buffer no reference of its own and its release
   * corrupts the kernel's memory (kernel-patches/fixes 0005 fixes it).
   */
  exportDmabuf(plane: DmabufPlane): Dmabuf {
    return exportDmabuf(this.device, plane);
  }

  /**
   * The bytes of a region plane: a live view of the device's framebuffer
   * memory (not a KMS Framebuffer, which kms/ hands out).
   */
  regionBytes(plane: RegionPlane): Uint8Array {
    return this.#regionView.bytes(plane);
  }

  /** The EDID region, or null where the device has none. */
  get edid(): EdidRegion | null {
    return this.#edid;
  }

  /**
   * Generates an EDID for `modes` (preferred first), scaled into the
   * device's limits (fitModes), and writes it: link down, blob, link up
   * after linkUpDelayMs (EdidRegion.update). Resolves with the blob.
   */
  async setModes(modes: readonly (DisplayMode | string)[], options: Omit<EdidOptions, 'modes'> & EdidUpdateOptions = {}): Promise<Uint8Array> {
    const edid = this.#edid;
    if (!edid) throw new UnsupportedError(`${this.device.name} has no EDID region`, { code: 'ERR_VFIO_NO_EDID' });
    const { linkUpDelayMs, ...edidOptions } = options;
    const blob = generateEdid({ ...edidOptions, modes: fitModes(modes, edid.limits()) });
    await edid.update(blob, { linkUpDelayMs });
    return blob;
  }

  /**
   * Display changes: by the kernel's display change IRQ where it has one
   * (no timer runs, no wake-up while idle), else by polling every periodMs
   * (16). The first change is the current state; after it, a stream yields
   * only when an answer differs from the last it yielded, in both modes.
   * Any number of streams may run on one display (a directFlip beside a
   * watcher): the display subscribes to the IRQ once and fans it out. Two
   * Displays on one device fd would not share it: the IRQ has one set of
   * eventfds. When the kernel removes the device, the stream ends with a
   * DeviceRemovedError and, once every stream has ended, the display closes
   * itself so that the removal can complete; close() ends its streams with
   * ClosedError.
   */
  changes(options: ChangesOptions = {}): ChangeStream {
    const parsed = parse(changesOptions, options, 'changes() options') as ChangesOptions;
    const { mode = 'auto', everyPoll = false } = parsed;
    const irq = this.features.changeIrq;
    if (mode === 'event' && everyPoll) throw new InvalidArgumentError('changes(): everyPoll polls, so it goes with mode timer or auto, not event');
    if (mode === 'event' && !irq) {
      throw new UnsupportedError(`${this.device.name} signals no display changes: the kernel lacks the display change IRQ (kernel-patches/)`, { code: 'ERR_VFIO_NO_CHANGE_EVENTS' });
    }
    const query = (type: PlaneType): PlaneInfo | null => this.query(type);
    const withCursor = this.features.planes === 'dmabuf';
    const removal = this.device.removal;
    const watched = { ...parsed, signal: parsed.signal ? AbortSignal.any([parsed.signal, removal]) : removal };
    const source: ChangeSource = irq && mode !== 'timer' && !everyPoll ? 'event' : 'timer';
    const stream = this.#hub && source === 'event' ? this.#hub.changes(query, withCursor, watched) : pollChanges(query, withCursor, watched);
    return Object.assign(this.#tracked(stream, removal), { source });
  }

  /** Counts the stream while it runs, and ends it with the removal's error when that is why it ended. */
  async *#tracked(stream: AsyncGenerator<DisplayChange>, removal: AbortSignal): AsyncGenerator<DisplayChange, void, undefined> {
    this.#streams++;
    try {
      yield* stream;
    } catch (err) {
      throw removal.aborted ? removal.reason : err;
    } finally {
      if (--this.#streams === 0 && this.#closeWhenIdle) this.#letGo();
    }
  }

  /**
   * Masks the display change IRQ (e.g. while the display is not shown): no
   * signals until resumeChanges(), which signals once if anything changed
   * meanwhile; a new changes() stream starts unmasked. Timer-mode streams
   * are not affected.
   */
  pauseChanges(): void {
    this.#maskChanges('mask');
  }

  resumeChanges(): void {
    this.#maskChanges('unmask');
  }

  #maskChanges(action: 'mask' | 'unmask'): void {
    const irq = this.features.changeIrq;
    if (!irq) throw new UnsupportedError(`${this.device.name} signals no display changes to ${action}`, { code: 'ERR_VFIO_NO_CHANGE_EVENTS' });
    this.device.setIrqs({ index: irq.index, action, data: 'none', count: irq.count });
  }

  /** Closes the cached dma-bufs and framebuffer mapping, and the device if owned. Idempotent. */
  close(): void {
    this.device.removal.removeEventListener('abort', this.#onRemoval);
    this.#hub?.close();
    this.#dmabufs.clear();
    this.#regionView.close();
    if (this.#ownsDevice) this.device.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Opens a vGPU and its display; closing the display closes the device. */
export function openDisplay(target: DeviceTarget, options: OpenOptions & DisplayOptions = {}): Display {
  const { via, ...displayOpts } = options;
  // Checked here so a bad display option does not open (and close) the device first.
  parse(displayOptions, displayOpts, 'display options');
  const device = openDevice(target, via === undefined ? {} : { via });
  try {
    return new Display(device, { ...displayOpts, ownsDevice: true });
  } catch (err) {
    device.close();
    throw err;
  }
}
