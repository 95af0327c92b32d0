// A DRM card opened for atomic KMS: capabilities, resources (CRTCs, planes
// with their formats, encoders, connectors with their modes), the objects it
// owns, and commits with their completion events.
import { constants, openSync, readdirSync, readlinkSync } from 'node:fs';
import { fromSystemError, InvalidArgumentError, NotFoundError, PermissionError, UnsupportedError, VfioDisplayError } from '../errors.js';
import { close, dupCloexec, setNonBlocking, type PointerPatch } from '../sys.js';
import { decode, encode, readField, viewOf } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';
import { fourccString, modifierName } from '../uapi/drm_fourcc.js';
import { AtomicRequest, atomicIoctl, fromFixed16, type PlaneUpdate, type Rect } from './atomic.js';
import { DrmFile } from './drm-file.js';
import { EventReader, type FlipEvent } from './events.js';
import { createDumb, importDmabuf, type DumbBuffer, type DumbBufferOptions, type Framebuffer, type FramebufferLayout } from './framebuffer.js';
import { Lease, checkLeaseIds, leasedObjects, listLessees } from './lease.js';
import { decodeModeInfo, encodeModeInfo, type ModeInfo } from './mode.js';
import { decodeInFormats, enumName, Properties, signedValue, type PropertyBlob } from './properties.js';
import { WritebackCapture } from './writeback.js';

export interface DriverVersion {
  /** e.g. "vkms", "i915". */
  readonly name: string;
  readonly major: number;
  readonly minor: number;
  readonly patchlevel: number;
  readonly date: string;
  readonly description: string;
}

export interface CardCaps {
  readonly dumbBuffer: boolean;
  readonly primeImport: boolean;
  readonly primeExport: boolean;
  /** ADDFB2 takes explicit modifiers (and planes have IN_FORMATS). */
  readonly addFb2Modifiers: boolean;
  /** Events carry their CRTC's id. */
  readonly crtcInVblankEvent: boolean;
  readonly timestampMonotonic: boolean;
  readonly asyncPageFlip: boolean;
  readonly atomicAsyncPageFlip: boolean;
  /** The legacy cursor size limit (a hint for the cursor plane). */
  readonly cursorWidth: number;
  readonly cursorHeight: number;
  /** The client cap was accepted: writeback connectors are listed. */
  readonly writebackConnectors: boolean;
}

export interface Crtc {
  readonly id: number;
  /** Its bit in possible_crtcs masks. */
  readonly index: number;
}

export type KmsPlaneType = 'primary' | 'overlay' | 'cursor';

export interface KmsPlane {
  readonly id: number;
  readonly type: KmsPlaneType;
  /** The CRTCs it can be on. */
  readonly crtcs: readonly number[];
  readonly formats: readonly number[];
  /** IN_FORMATS: the modifiers of each format; empty where the plane has no IN_FORMATS (implicit linear only). */
  readonly modifiers: ReadonlyMap<number, readonly bigint[]>;
}

/** Whether `plane` scans out `format` with `modifier` (undefined: implicit). */
export function planeSupports(plane: KmsPlane, format: number, modifier?: bigint): boolean {
  if (!plane.formats.includes(format)) return false;
  if (modifier === undefined || plane.modifiers.size === 0) return modifier === undefined || modifier === 0n;
  return plane.modifiers.get(format)?.includes(modifier) ?? false;
}

/**
 * Why `plane` cannot scan out a buffer of `format` and `modifier`, or null
 * if it can; `explicitModifiers`: the card takes modifiers (ADDFB2 with
 * modifiers), else the buffer goes in with an implicit one.
 */
export function scanoutProblem(plane: KmsPlane, format: number, modifier: bigint, explicitModifiers: boolean): string | null {
  if (planeSupports(plane, format, explicitModifiers ? modifier : undefined)) return null;
  return `host ${plane.type} plane ${String(plane.id)} cannot scan out ${fourccString(format)} ${modifierName(modifier)} (its formats: ${plane.formats.map(fourccString).join(' ')})`;
}

export interface Encoder {
  readonly id: number;
  /** DRM_MODE_ENCODER_*. */
  readonly type: number;
  readonly crtcs: readonly number[];
  /** Encoders that may share a CRTC with it. */
  readonly clones: readonly number[];
}

export type Connection = 'connected' | 'disconnected' | 'unknown';

export interface Connector {
  readonly id: number;
  /** DRM_MODE_CONNECTOR_*. */
  readonly type: number;
  /** As sysfs names it: "Virtual-1", "Writeback-1", "HDMI-A-2". */
  readonly name: string;
  readonly connection: Connection;
  readonly writeback: boolean;
  readonly modes: readonly ModeInfo[];
  readonly encoders: readonly number[];
  /** The CRTCs its encoders can drive. */
  readonly crtcs: readonly number[];
  readonly mmWidth: number;
  readonly mmHeight: number;
}

export interface CrtcState {
  readonly active: boolean;
  /** The MODE_ID blob id, 0 for none. */
  readonly modeId: number;
  readonly mode: ModeInfo | null;
}

export interface KmsPlaneState {
  readonly fbId: number;
  readonly crtcId: number;
  readonly src: Rect;
  readonly crtc: Rect;
}

export interface CardLimits {
  readonly minWidth: number;
  readonly maxWidth: number;
  readonly minHeight: number;
  readonly maxHeight: number;
}

export interface CommitOptions {
  /** Allow a modeset (mode, ACTIVE or connector routing changes). */
  readonly allowModeset?: boolean | undefined;
}

export interface AsyncCommitOptions extends CommitOptions {
  /** Stops waiting for the completion event (the commit itself is already in the kernel). */
  readonly signal?: AbortSignal | undefined;
}

export interface CommitCompletion {
  /** The commit's user_data. */
  readonly userData: bigint;
  /** The vblank counter of the last CRTC to complete. */
  readonly sequence: number;
  /** When the last CRTC flipped: CLOCK_MONOTONIC µs. */
  readonly timestampUs: number;
  /** One per CRTC of the commit (those it names, and any the kernel pulled in before they reported), in arrival order. */
  readonly events: readonly FlipEvent[];
}

export interface OpenCardOptions {
  /** Ask for writeback connectors (default true); the card lists them only to clients that ask. */
  readonly writeback?: boolean | undefined;
}

// include/drm/drm_connector.h (kernel-internal enum drm_connector_status).
const CONNECTION: Record<number, Connection> = { 1: 'connected', 2: 'disconnected', 3: 'unknown' };
// drivers/gpu/drm/drm_connector.c drm_connector_enum_list: the names sysfs uses.
const CONNECTOR_NAMES = ['Unknown', 'VGA', 'DVI-I', 'DVI-D', 'DVI-A', 'Composite', 'SVIDEO', 'LVDS', 'Component', 'DIN', 'DP', 'HDMI-A', 'HDMI-B', 'TV', 'eDP', 'Virtual', 'DSI', 'DPI', 'Writeback', 'SPI', 'USB'];
const PLANE_TYPES: Record<string, KmsPlaneType> = { Primary: 'primary', Overlay: 'overlay', Cursor: 'cursor' };

/** The ids of the bits set in a possible_crtcs / possible_clones mask. */
function maskToIds(mask: number, ids: readonly number[]): number[] {
  return ids.filter((_, i) => (mask >>> i) & 1);
}

const idArray = (n: number): Uint32Array => new Uint32Array(n);
const bytesOf = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer);

function openNode(path: string): DrmFile {
  let fd: number;
  try {
    // Non-blocking: events are read only after uv_poll says the fd is readable, and an empty queue must answer EAGAIN.
    fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  } catch (err) {
    const e = fromSystemError(err, `open ${path}`, { path });
    if (e instanceof PermissionError) {
      throw new PermissionError(`open ${path}: permission denied; run as root or as a member of the group that owns it (usually "video")`, { code: e.code, errno: e.errno, syscall: e.syscall, path, cause: err });
    }
    throw e;
  }
  return new DrmFile(fd, path);
}

function readVersion(file: DrmFile): DriverVersion {
  const v = d.drm_version.fields;
  const arg = new Uint8Array(d.drm_version.size);
  file.ioctl(d.DRM_IOCTL_VERSION, arg, 'DRM_IOCTL_VERSION', 'get the driver version');
  const lengths = decode(d.drm_version, viewOf(arg));
  const name = new Uint8Array(Number(lengths.name_len));
  const date = new Uint8Array(Number(lengths.date_len));
  const desc = new Uint8Array(Number(lengths.desc_len));
  file.ioctl(d.DRM_IOCTL_VERSION, arg, 'DRM_IOCTL_VERSION', 'get the driver version', [
    [arg, v.name.offset, name],
    [arg, v.date.offset, date],
    [arg, v.desc.offset, desc],
  ]);
  const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
  return { name: text(name), major: lengths.version_major, minor: lengths.version_minor, patchlevel: lengths.version_patchlevel, date: text(date), description: text(desc) };
}

function getCap(file: DrmFile, capability: number): bigint {
  const arg = encode(d.drm_get_cap, { capability: BigInt(capability) });
  try {
    file.ioctl(d.DRM_IOCTL_GET_CAP, arg, 'DRM_IOCTL_GET_CAP', `get capability ${capability}`);
  } catch (err) {
    // A capability the kernel does not know is one the card lacks.
    if (err instanceof VfioDisplayError && err.code === 'EINVAL') return 0n;
    throw err;
  }
  return readField(viewOf(arg), d.drm_get_cap.fields.value);
}

function setClientCap(file: DrmFile, capability: number, name: string): boolean {
  try {
    file.ioctl(d.DRM_IOCTL_SET_CLIENT_CAP, encode(d.drm_set_client_cap, { capability: BigInt(capability), value: 1n }), 'DRM_IOCTL_SET_CLIENT_CAP', `enable ${name}`);
    return true;
  } catch (err) {
    if (err instanceof VfioDisplayError && (err.code === 'EINVAL' || err.code === 'EOPNOTSUPP')) return false;
    throw err;
  }
}

function readCaps(file: DrmFile, writeback: boolean): CardCaps {
  const prime = getCap(file, d.DRM_CAP_PRIME);
  return {
    dumbBuffer: getCap(file, d.DRM_CAP_DUMB_BUFFER) !== 0n,
    primeImport: (prime & BigInt(d.DRM_PRIME_CAP_IMPORT)) !== 0n,
    primeExport: (prime & BigInt(d.DRM_PRIME_CAP_EXPORT)) !== 0n,
    addFb2Modifiers: getCap(file, d.DRM_CAP_ADDFB2_MODIFIERS) !== 0n,
    crtcInVblankEvent: getCap(file, d.DRM_CAP_CRTC_IN_VBLANK_EVENT) !== 0n,
    timestampMonotonic: getCap(file, d.DRM_CAP_TIMESTAMP_MONOTONIC) !== 0n,
    asyncPageFlip: getCap(file, d.DRM_CAP_ASYNC_PAGE_FLIP) !== 0n,
    atomicAsyncPageFlip: getCap(file, d.DRM_CAP_ATOMIC_ASYNC_PAGE_FLIP) !== 0n,
    cursorWidth: Number(getCap(file, d.DRM_CAP_CURSOR_WIDTH)),
    cursorHeight: Number(getCap(file, d.DRM_CAP_CURSOR_HEIGHT)),
    writebackConnectors: writeback && setClientCap(file, d.DRM_CLIENT_CAP_WRITEBACK_CONNECTORS, 'writeback connectors'),
  };
}

/** The card's KMS resources: ids of CRTCs, connectors, encoders; size limits. */
function readResources(file: DrmFile): { crtcs: number[]; connectors: number[]; encoders: number[]; limits: CardLimits } {
  const r = d.drm_mode_card_res.fields;
  for (let attempt = 0; attempt < 8; attempt++) {
    const counts = new Uint8Array(d.drm_mode_card_res.size);
    file.ioctl(d.DRM_IOCTL_MODE_GETRESOURCES, counts, 'DRM_IOCTL_MODE_GETRESOURCES', 'get the KMS resources');
    const c = decode(d.drm_mode_card_res, viewOf(counts));
    const crtcs = idArray(c.count_crtcs);
    const connectors = idArray(c.count_connectors);
    const encoders = idArray(c.count_encoders);
    const arg = encode(d.drm_mode_card_res, { count_crtcs: crtcs.length, count_connectors: connectors.length, count_encoders: encoders.length });
    file.ioctl(d.DRM_IOCTL_MODE_GETRESOURCES, arg, 'DRM_IOCTL_MODE_GETRESOURCES', 'get the KMS resources', [
      [arg, r.crtc_id_ptr.offset, bytesOf(crtcs)],
      [arg, r.connector_id_ptr.offset, bytesOf(connectors)],
      [arg, r.encoder_id_ptr.offset, bytesOf(encoders)],
    ]);
    const got = decode(d.drm_mode_card_res, viewOf(arg));
    // Connectors can appear between the calls (DP MST); then ask again.
    if (got.count_crtcs > crtcs.length || got.count_connectors > connectors.length || got.count_encoders > encoders.length) continue;
    return {
      crtcs: [...crtcs.subarray(0, got.count_crtcs)],
      connectors: [...connectors.subarray(0, got.count_connectors)],
      encoders: [...encoders.subarray(0, got.count_encoders)],
      limits: { minWidth: got.min_width, maxWidth: got.max_width, minHeight: got.min_height, maxHeight: got.max_height },
    };
  }
  throw new VfioDisplayError(`the KMS resources of ${file.path} kept changing while they were read`);
}

export class Card implements Disposable {
  readonly #file: DrmFile;
  readonly #events: EventReader;
  readonly #kinds = new Map<number, number>();
  #lessee: boolean | undefined;
  #nextUserData = 1n;
  readonly path: string;
  readonly driver: DriverVersion;
  readonly caps: CardCaps;
  readonly limits: CardLimits;
  readonly crtcs: readonly Crtc[];
  readonly encoders: readonly Encoder[];
  readonly connectorIds: readonly number[];
  readonly planes: readonly KmsPlane[];
  /** Property names, ids and values of the card's objects (cached per object). */
  readonly properties: Properties;

  /** Use openCard(). Takes ownership of `file`. */
  constructor(file: DrmFile, options: OpenCardOptions = {}) {
    this.#file = file;
    this.path = file.path;
    try {
      this.driver = readVersion(file);
      if (!setClientCap(file, d.DRM_CLIENT_CAP_UNIVERSAL_PLANES, 'universal planes') || !setClientCap(file, d.DRM_CLIENT_CAP_ATOMIC, 'atomic mode-setting')) {
        throw new UnsupportedError(`${file.path} (${this.driver.name}) does not support atomic mode-setting`, { path: file.path });
      }
      this.caps = readCaps(file, options.writeback ?? true);
      this.properties = new Properties(file);
      this.#events = new EventReader(file);
      const res = readResources(file);
      this.limits = res.limits;
      this.crtcs = res.crtcs.map((id, index) => ({ id, index }));
      this.connectorIds = res.connectors;
      this.encoders = res.encoders.map((id) => this.#encoder(id, res.crtcs, res.encoders));
      for (const id of res.crtcs) this.#kinds.set(id, d.DRM_MODE_OBJECT_CRTC);
      for (const id of res.connectors) this.#kinds.set(id, d.DRM_MODE_OBJECT_CONNECTOR);
      this.planes = this.#readPlanes(res.crtcs);
      for (const plane of this.planes) this.#kinds.set(plane.id, d.DRM_MODE_OBJECT_PLANE);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  get fd(): number {
    return this.#file.fd;
  }

  get closed(): boolean {
    return this.#file.closed;
  }

  /** Framebuffers, dumb buffers, blobs and fences the card still owns. */
  get openResources(): number {
    return this.#file.ownedCount;
  }

  /** Commits whose completion event has not arrived. */
  get pendingCommits(): number {
    return this.#events.pending;
  }

  /** A raw ioctl on the card (errors typed, with the ioctl's name). */
  ioctl(request: number, arg: Uint8Array | number, name: string, what: string, pointers?: readonly PointerPatch[]): number {
    return this.#file.ioctl(request, arg, name, what, pointers);
  }

  #encoder(id: number, crtcIds: readonly number[], encoderIds: readonly number[]): Encoder {
    const arg = encode(d.drm_mode_get_encoder, { encoder_id: id });
    this.#file.ioctl(d.DRM_IOCTL_MODE_GETENCODER, arg, 'DRM_IOCTL_MODE_GETENCODER', `get encoder ${id}`);
    const e = decode(d.drm_mode_get_encoder, viewOf(arg));
    return { id, type: e.encoder_type, crtcs: maskToIds(e.possible_crtcs, crtcIds), clones: maskToIds(e.possible_clones, encoderIds) };
  }

  #readPlanes(crtcIds: readonly number[]): KmsPlane[] {
    const f = d.drm_mode_get_plane_res.fields;
    let ids = idArray(0);
    for (let attempt = 0; ; attempt++) {
      const arg = encode(d.drm_mode_get_plane_res, { count_planes: ids.length });
      this.#file.ioctl(d.DRM_IOCTL_MODE_GETPLANERESOURCES, arg, 'DRM_IOCTL_MODE_GETPLANERESOURCES', 'list the planes', [[arg, f.plane_id_ptr.offset, bytesOf(ids)]]);
      const count = readField(viewOf(arg), f.count_planes);
      if (count <= ids.length) {
        ids = ids.subarray(0, count);
        break;
      }
      if (attempt === 8) throw new VfioDisplayError(`the planes of ${this.path} kept changing while they were read`);
      ids = idArray(count);
    }
    return [...ids].map((id) => this.#plane(id, crtcIds));
  }

  #plane(id: number, crtcIds: readonly number[]): KmsPlane {
    const f = d.drm_mode_get_plane.fields;
    const counts = encode(d.drm_mode_get_plane, { plane_id: id });
    this.#file.ioctl(d.DRM_IOCTL_MODE_GETPLANE, counts, 'DRM_IOCTL_MODE_GETPLANE', `get plane ${id}`);
    const formats = idArray(readField(viewOf(counts), f.count_format_types));
    const arg = encode(d.drm_mode_get_plane, { plane_id: id, count_format_types: formats.length });
    this.#file.ioctl(d.DRM_IOCTL_MODE_GETPLANE, arg, 'DRM_IOCTL_MODE_GETPLANE', `get plane ${id}`, [[arg, f.format_type_ptr.offset, bytesOf(formats)]]);
    const p = decode(d.drm_mode_get_plane, viewOf(arg));
    const values = this.properties.values(id);
    const typeName = enumName(this.properties.info(this.properties.id(id, 'type')), values.get('type') ?? -1n);
    const type = typeName === undefined ? undefined : PLANE_TYPES[typeName];
    if (!type) throw new VfioDisplayError(`plane ${id} has an unknown type ${typeName ?? String(values.get('type'))}`);
    const inFormats = values.get('IN_FORMATS');
    return {
      id,
      type,
      crtcs: maskToIds(p.possible_crtcs, crtcIds),
      formats: [...formats.subarray(0, p.count_format_types)],
      modifiers: inFormats ? decodeInFormats(this.properties.blob(Number(inFormats))) : new Map(),
    };
  }

  /** All connectors, probed now (status and modes can change). */
  connectors(): Connector[] {
    return this.connectorIds.map((id) => this.connector(id));
  }

  /**
   * The connector `given` names: its id, or its name as sysfs has it
   * ("HDMI-A-1", "Virtual-1"), or its id as text (a command-line argument).
   * NotFoundError lists the card's connectors.
   */
  findConnector(given: number | string): Connector {
    const connectors = this.connectors();
    const found = connectors.find((c) => c.id === given || c.name === given || String(c.id) === given);
    if (found) return found;
    const known = connectors.map((c) => `${c.name} (${c.id}, ${c.connection})`).join(', ') || 'none';
    throw new NotFoundError(`${this.path} has no connector ${JSON.stringify(given)} (it has ${known})`);
  }

  /**
   * A connector and its modes. `probe` (default true): as DRM master, make
   * the kernel probe it first (on real outputs a DDC read of the monitor's
   * EDID, tens of milliseconds); false answers the modes of the last probe,
   * as libdrm's drmModeGetConnectorCurrent() does.
   */
  connector(id: number, options: { probe?: boolean } = {}): Connector {
    const f = d.drm_mode_get_connector.fields;
    // drm_mode_getconnector() probes when asked with no room for modes: one mode's room asks for what is known.
    const current = options.probe === false ? new Uint8Array(d.drm_mode_modeinfo.size) : null;
    const counts = encode(d.drm_mode_get_connector, { connector_id: id, count_modes: current ? 1 : 0 });
    this.#file.ioctl(d.DRM_IOCTL_MODE_GETCONNECTOR, counts, 'DRM_IOCTL_MODE_GETCONNECTOR', `get connector ${id}`, current ? [[counts, f.modes_ptr.offset, current]] : undefined);
    let c = decode(d.drm_mode_get_connector, viewOf(counts));
    for (let attempt = 0; ; attempt++) {
      const modes = new Uint8Array(c.count_modes * d.drm_mode_modeinfo.size);
      const encoders = idArray(c.count_encoders);
      const arg = encode(d.drm_mode_get_connector, { connector_id: id, count_modes: c.count_modes, count_encoders: c.count_encoders });
      this.#file.ioctl(d.DRM_IOCTL_MODE_GETCONNECTOR, arg, 'DRM_IOCTL_MODE_GETCONNECTOR', `get connector ${id}`, [
        [arg, f.modes_ptr.offset, modes],
        [arg, f.encoders_ptr.offset, bytesOf(encoders)],
      ]);
      const got = decode(d.drm_mode_get_connector, viewOf(arg));
      if (got.count_modes > c.count_modes || got.count_encoders > c.count_encoders) {
        if (attempt === 8) throw new VfioDisplayError(`connector ${id} kept changing while it was read`);
        c = got;
        continue;
      }
      const encoderIds = [...encoders.subarray(0, got.count_encoders)];
      const crtcs = new Set(encoderIds.flatMap((e) => this.encoders.find((x) => x.id === e)?.crtcs ?? []));
      return {
        id,
        type: got.connector_type,
        name: `${CONNECTOR_NAMES[got.connector_type] ?? 'Unknown'}-${got.connector_type_id}`,
        connection: CONNECTION[got.connection] ?? 'unknown',
        writeback: got.connector_type === d.DRM_MODE_CONNECTOR_WRITEBACK,
        modes: Array.from({ length: got.count_modes }, (_, i) => decodeModeInfo(modes, i * d.drm_mode_modeinfo.size)),
        encoders: encoderIds,
        crtcs: this.crtcs.filter((x) => crtcs.has(x.id)).map((x) => x.id),
        mmWidth: got.mm_width,
        mmHeight: got.mm_height,
      };
    }
  }

  /** The planes that can go on `crtcId`, optionally of one type. */
  planesFor(crtcId: number, type?: KmsPlaneType): KmsPlane[] {
    return this.planes.filter((p) => p.crtcs.includes(crtcId) && (type === undefined || p.type === type));
  }

  /** The CRTC a connector is on now (its CRTC_ID), 0 for none. */
  connectorCrtc(connectorId: number): number {
    return Number(this.properties.values(connectorId).get('CRTC_ID') ?? 0n);
  }

  /** ACTIVE and MODE_ID of a CRTC now. */
  crtcState(crtcId: number): CrtcState {
    const values = this.properties.values(crtcId);
    const modeId = Number(values.get('MODE_ID') ?? 0n);
    return { active: (values.get('ACTIVE') ?? 0n) !== 0n, modeId, mode: modeId ? decodeModeInfo(this.properties.blob(modeId)) : null };
  }

  /** What a plane shows now. */
  planeState(planeId: number): KmsPlaneState {
    const values = this.properties.values(planeId);
    const get = (name: string): bigint => values.get(name) ?? 0n;
    const signed = (name: string): number => Number(signedValue(this.properties.info(this.properties.id(planeId, name)), get(name)));
    return {
      fbId: Number(get('FB_ID')),
      crtcId: Number(get('CRTC_ID')),
      src: { x: fromFixed16(get('SRC_X')), y: fromFixed16(get('SRC_Y')), width: fromFixed16(get('SRC_W')), height: fromFixed16(get('SRC_H')) },
      crtc: { x: signed('CRTC_X'), y: signed('CRTC_Y'), width: Number(get('CRTC_W')), height: Number(get('CRTC_H')) },
    };
  }

  /** Imports a dma-buf (borrowed fd) as a framebuffer owned by the card. */
  importDmabuf(dmabufFd: number, layout: FramebufferLayout): Framebuffer {
    if (!this.caps.primeImport) throw new UnsupportedError(`${this.path} (${this.driver.name}) cannot import dma-bufs (no DRM_PRIME_CAP_IMPORT)`);
    return importDmabuf(this.#file, this.caps, dmabufFd, layout);
  }

  /** A CPU-mapped buffer with its framebuffer, owned by the card. */
  createDumb(options: DumbBufferOptions): DumbBuffer {
    if (!this.caps.dumbBuffer) throw new UnsupportedError(`${this.path} (${this.driver.name}) has no dumb buffers`);
    return createDumb(this.#file, this.caps, options);
  }

  /** A MODE_ID blob for `mode`, owned by the card (close it once a commit has taken it, or keep it). */
  createModeBlob(mode: ModeInfo): PropertyBlob {
    return this.properties.createBlob(encodeModeInfo(mode));
  }

  /**
   * Leases `objectIds` (a connector, a CRTC and planes of it, as the kernel
   * requires) to a new lessee file, owned by the returned Lease and closed
   * with the card. Needs DRM master; the objects must not be leased already.
   */
  createLease(objectIds: readonly number[]): Lease {
    checkLeaseIds(objectIds);
    const unknown = objectIds.filter((id) => !this.#kinds.has(id));
    if (unknown.length > 0) throw new InvalidArgumentError(`${this.path} has no connector, CRTC or plane ${unknown.join(', ')} to lease`);
    return new Lease(this.#file, objectIds);
  }

  /** The lessee ids of this card's live leases (as lessor). */
  lessees(): number[] {
    return listLessees(this.#file);
  }

  /** The objects this file may use: all of them for a lessor, the leased ones for a lessee. */
  leasedObjects(): number[] {
    return leasedObjects(this.#file);
  }

  /**
   * Whether this file is a lessee (a card opened from a lease fd). A
   * lessor's GET_LEASE lists every mode object, encoders and properties
   * among them; a lessee's only the connectors, CRTCs and planes it holds.
   */
  get lessee(): boolean {
    this.#lessee ??= this.leasedObjects().every((id) => {
      const kind = this.#kinds.get(id);
      return kind === d.DRM_MODE_OBJECT_CONNECTOR || kind === d.DRM_MODE_OBJECT_CRTC || kind === d.DRM_MODE_OBJECT_PLANE;
    });
    return this.#lessee;
  }

  /** A capture target for writeback connector `connectorId`: a dumb buffer of the mode's size. */
  createWriteback(connectorId: number, options: DumbBufferOptions): WritebackCapture {
    if (this.#kinds.get(connectorId) !== d.DRM_MODE_OBJECT_CONNECTOR || !this.properties.ids(connectorId).has('WRITEBACK_FB_ID')) {
      throw new InvalidArgumentError(`object ${connectorId} is not a writeback connector of ${this.path}${this.caps.writebackConnectors ? '' : ' (writeback connectors were not requested)'}`);
    }
    return new WritebackCapture(connectorId, this.createDumb(options));
  }

  /** A new, empty atomic request for this card. */
  atomic(): AtomicRequest {
    return new AtomicRequest(this.properties, this.#kinds);
  }

  #ioctl(request: AtomicRequest, flags: number, options: CommitOptions, userData = 0n): void {
    atomicIoctl(this.#file, request, flags | (options.allowModeset ? d.DRM_MODE_ATOMIC_ALLOW_MODESET : 0), userData);
  }

  /** TEST_ONLY: throws AtomicCommitError if the driver would refuse the request; changes nothing. */
  test(request: AtomicRequest, options: CommitOptions = {}): void {
    this.#ioctl(request, d.DRM_MODE_ATOMIC_TEST_ONLY, options);
  }

  /** A blocking commit: returns once the kernel has applied it (no event). */
  commitBlocking(request: AtomicRequest, options: CommitOptions = {}): void {
    this.#ioctl(request, 0, options);
  }

  /**
   * A non-blocking commit with PAGE_FLIP_EVENT: issued before this returns
   * (an async function runs synchronously up to its first await; refusals
   * reject), resolved when every CRTC it names has flipped. Only one commit
   * per CRTC may be in flight: a second is refused with EBUSY.
   */
  async commit(request: AtomicRequest, options: AsyncCommitOptions = {}): Promise<CommitCompletion> {
    const crtcs = request.crtcs;
    if (crtcs.size === 0) throw new InvalidArgumentError('a commit that waits for its completion must name a CRTC (a CRTC property, or a plane or connector CRTC_ID)');
    // An aborted caller gets no commit: checked before the ioctl, not only while waiting for its event.
    options.signal?.throwIfAborted();
    const userData = this.#nextUserData++;
    this.#ioctl(request, d.DRM_MODE_ATOMIC_NONBLOCK | d.DRM_MODE_PAGE_FLIP_EVENT, options, userData);
    const events = await this.#events.expect(userData, crtcs, options.signal);
    const last = events[events.length - 1];
    return { userData, sequence: last?.sequence ?? 0, timestampUs: last?.timestampUs ?? 0, events };
  }

  /** Puts framebuffer `update.fbId` (ours or handed over, e.g. a vGPU's DRM_FB plane) on a plane: a one-plane commit. */
  async attachFramebuffer(planeId: number, update: PlaneUpdate, options: AsyncCommitOptions = {}): Promise<CommitCompletion> {
    return this.commit(this.atomic().setPlane(planeId, update), options);
  }

  /** Rejects pending commits, releases everything the card owns, closes the fd. Idempotent. */
  close(): void {
    if (this.#file.closed) return;
    this.#events.close();
    this.#file.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A DRM file handed in (a lessee's fd, logind's TakeDevice): the card owns a
 * close-on-exec duplicate, and the caller keeps its fd. The open file is
 * made non-blocking (the card reads its events only when poll says so),
 * which its other fds share.
 */
function adoptNode(fd: number): DrmFile {
  // dupCloexec refuses what is no fd (InvalidArgumentError) or no open one.
  const dup = dupCloexec(fd, `duplicate DRM fd ${String(fd)}`);
  let file: DrmFile;
  try {
    file = new DrmFile(dup, `${readlinkSync(`/proc/self/fd/${String(dup)}`)} (fd ${String(fd)})`);
  } catch (err) {
    close(dup, `close the duplicate of DRM fd ${String(fd)}`);
    throw fromSystemError(err, `look up DRM fd ${String(fd)}`);
  }
  try {
    setNonBlocking(file.fd, `make DRM fd ${String(fd)} non-blocking`);
  } catch (err) {
    file.close();
    throw err;
  }
  return file;
}

/**
 * Opens a DRM card node for atomic KMS (universal planes, atomic, and
 * writeback connectors unless `writeback: false`): a path like
 * /dev/dri/card0, `{ driver: 'vkms' }` for the first card of that driver,
 * or `{ fd }` for a DRM fd handed in (a lease: the card then sees only the
 * leased objects). Commits of a card that is not the DRM master (or whose
 * lease was revoked) fail with a PermissionError or NotFoundError. A card
 * from `{ fd }` owns a duplicate, which shares the open file with the fd
 * handed in: its events are read non-blocking, so that file is O_NONBLOCK
 * from then on (a DRM fd is only read for its events, by one reader).
 */
export function openCard(target: string | { readonly driver: string } | { readonly fd: number }, options: OpenCardOptions = {}): Card {
  if (typeof target === 'string') return new Card(openNode(target), options);
  if ('fd' in target) return new Card(adoptNode(target.fd), options);
  let entries: string[];
  try {
    entries = readdirSync('/dev/dri');
  } catch (err) {
    throw fromSystemError(err, 'list /dev/dri', { path: '/dev/dri' });
  }
  const nodes = entries
    .filter((n) => /^card\d+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const seen: string[] = [];
  for (const node of nodes) {
    const file = openNode(`/dev/dri/${node}`);
    let name: string;
    try {
      name = readVersion(file).name;
    } catch (err) {
      file.close();
      throw err;
    }
    if (name === target.driver) return new Card(file, options);
    seen.push(`${node} (${name})`);
    file.close();
  }
  throw new NotFoundError(`no DRM card of driver ${target.driver} (found ${seen.join(', ') || 'none'} in /dev/dri)`, { path: '/dev/dri' });
}
