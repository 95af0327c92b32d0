// Child process of the kernel fuzz test (test/integration/kernel-fuzz.test.ts):
// random sequences of the display ioctls, SET_IRQS, DISPI register writes and
// other region accesses on a device fd it inherited (fd 3), for a bounded
// time. Every refusal must be an errno from the kernel; anything else (a
// crash, a JS error) fails the child. Prints one JSON line (FuzzReport).
//   node kernel-fuzz.js '{"seed":1,"seconds":10,"exports":"shared","slot":0,"slots":2}'
//
// `exports` says how the child exports dma-bufs:
//   none    not at all;
//   shared  any id at any time: several live fds of one buffer (from raw
//           GET_GFX_DMABUF and from Displays with small dma-buf caches, whose
//           evictions close and re-export), CPU mappings that outlive their
//           fd. Only for kernels with kernel-patches 0005;
//   once    Linux 6.12 mbochs as it ships: each buffer at most once in the
//           device's life, and only ids where id % slots == slot, so that
//           children do not share one. Its mbochs_get_gfx_dmabuf() gives a
//           second fd of an exported buffer no reference of its own, and
//           mbochs_release_dmabuf() drops the buffer's page references while
//           keeping it for the next export, so a second export of one buffer
//           frees its pages twice and corrupts the page allocator.
//
// Without `bar0Tail`, pread/pwrite on BAR0 keep off its last two pages:
// Linux 6.12 mbochs (fixed by kernel-patches 0002) maps a BAR0 offset to
// VRAM two pages further on, past the end of its page array there.
//
// With `directFlip` (the patched kernel), the child is also vkms's DRM
// master: it leases vkms's CRTC and a plane, assigns the device's head to
// them with any arguments, reads the assignment back, revokes and closes
// leases, and turns the CRTC off and on, while the others flip the guest.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { Display, EventFd, openCard, uapi, VfioDevice, VfioDisplayError, type Card, type DmabufMapping, type Lease, type PlaneType, type PropertyBlob } from 'vfio-display';

export type ExportMode = 'none' | 'shared' | 'once';

export interface FuzzConfig {
  readonly seed: number;
  readonly seconds: number;
  readonly exports: ExportMode;
  readonly slot?: number;
  readonly slots?: number;
  readonly bar0Tail?: boolean;
  readonly directFlip?: boolean;
}

export interface FuzzReport {
  readonly seed: number;
  readonly exports: ExportMode;
  readonly operations: number;
  /** Per operation, how often each outcome ("ok" or an error code) occurred. */
  readonly outcomes: Record<string, Record<string, number>>;
  /** Raw exports that added a live fd to a buffer that already had one. */
  readonly secondLiveFds: number;
  /** Raw exports of a buffer this child had exported and closed every fd of. */
  readonly reexports: number;
}

const { vfio, vfioExt, encode } = uapi;
const config = JSON.parse(process.argv[2] ?? '{}') as FuzzConfig;
const { seed, seconds, exports, slot = 0, slots = 1, bar0Tail = false, directFlip = false } = config;
const device = VfioDevice.fromFd(3, 'inherited mbochs');

/** mulberry32: the same sequence for the same seed. */
let state = seed >>> 0;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const below = (n: number): number => Math.floor(random() * n);
function oneOf<T>(items: readonly T[]): T {
  const item = items[below(items.length)];
  if (item === undefined) throw new Error('oneOf of nothing');
  return item;
}
const WORDS = [0, 1, 2, 3, 4, 5, 8, 16, 24, 32, 64, 88, 0x41, 0xff, 0x100, 0x1000, 0x7fffffff, 0x80000000, 0xffffffff];
const word = (): number => (random() < 0.7 ? oneOf(WORDS) : Math.floor(random() * 2 ** 32));

const outcomes = new Map<string, Map<string, number>>();
function count(op: string, outcome: string): void {
  const m = outcomes.get(op) ?? new Map<string, number>();
  m.set(outcome, (m.get(outcome) ?? 0) + 1);
  outcomes.set(op, m);
}

/** Runs one operation; an OS refusal is counted, anything else is a failure of the kernel's contract. */
function attempt(op: string, fn: () => string | undefined): void {
  try {
    count(op, fn() ?? 'ok');
  } catch (err) {
    const { code, errno, syscall } = err as { code?: unknown; errno?: unknown; syscall?: unknown };
    if (typeof code !== 'string' || typeof errno !== 'number' || (!(err instanceof VfioDisplayError) && syscall === undefined)) throw err;
    count(op, code);
  }
}

/** A buffer big enough for whatever the kernel writes back (argsz may claim more). */
function arg(argsz: number, bytes: Uint8Array): Uint8Array {
  const b = new Uint8Array(4096);
  b.set(bytes.subarray(0, Math.min(bytes.length, b.length)));
  new DataView(b.buffer).setUint32(0, argsz, true);
  return b;
}
const argsz = (natural: number): number => (random() < 0.6 ? natural : oneOf([0, 4, natural - 1, natural + 1, 63, 64, 87, 88, 200, 4096, word()]));

const eventfds = [new EventFd(), new EventFd()];
const devNull = openSync('/dev/null', 'r');
/** The dma-buf id of the last plane a query answered, for exports that can succeed. */
let lastDmabufId = 0;
/** Live raw dma-buf fds by buffer id. */
const held = new Map<number, number[]>();
/** Ids this child exported (raw) at least once. */
const exported = new Set<number>();
let secondLiveFds = 0;
let reexports = 0;
/** Displays over the same device, each with its own dma-buf cache (shared mode). */
const displays = exports === 'shared' ? [new Display(device, { dmabufCacheSize: 1 }), new Display(device, { dmabufCacheSize: 2 })] : [];
/** CPU mappings of dma-bufs kept past the close of their fd. */
const mappings: DmabufMapping[] = [];

function region(index: number): { offset: number; size: number } {
  const r = device.region(index);
  return { offset: r.offset, size: r.size };
}

function closeHeld(id: number, all: boolean): void {
  const fds = held.get(id) ?? [];
  while (fds.length > 0) {
    closeSync(fds.splice(below(fds.length), 1)[0] ?? -1);
    if (!all) break;
  }
  if (fds.length === 0) held.delete(id);
}

function rawExport(): string | undefined {
  const id = random() < 0.6 ? lastDmabufId : random() < 0.8 ? below(10) : word();
  if (exports === 'once' && (id % slots !== slot || exported.has(id))) return 'not tried (stock: once per buffer)';
  const live = held.get(id)?.length ?? 0;
  // Shared mode: half the time close-and-re-export, else add a second live fd.
  if (exports === 'shared' && live > 0 && random() < 0.5) closeHeld(id, true);
  const fd = device.ioctl(vfio.VFIO_DEVICE_GET_GFX_DMABUF, new Uint8Array(new Uint32Array([id]).buffer), 'VFIO_DEVICE_GET_GFX_DMABUF', 'fuzz');
  if ((held.get(id)?.length ?? 0) > 0) secondLiveFds++;
  else if (exported.has(id)) reexports++;
  exported.add(id);
  held.set(id, [...(held.get(id) ?? []), fd]);
  // Bound the fds held: close one of a random buffer.
  if ([...held.values()].reduce((n, fds) => n + fds.length, 0) > 12) closeHeld(oneOf([...held.keys()]), false);
  return undefined;
}

function displayExport(): string {
  const display = oneOf(displays);
  const type: PlaneType = random() < 0.85 ? 'primary' : 'cursor';
  const plane = display.query(type);
  if (plane?.mode !== 'dmabuf') return 'no plane';
  const dmabuf = display.dmabuf(plane);
  if (random() < 0.5) return 'exported';
  const map = dmabuf.map();
  map.begin('read');
  const byte = map.bytes[below(map.bytes.length)];
  map.end('read');
  if (byte === undefined) throw new Error(`an empty mapping of dma-buf ${String(plane.dmabufId)}`);
  if (random() < 0.3) {
    // Outlives its fd once the cache evicts the buffer: the mapping holds the dma-buf.
    mappings.push(map);
    if (mappings.length > 4) mappings.shift()?.unmap();
  } else {
    map.unmap();
  }
  return 'mapped';
}

/** vkms, of which this child is the DRM master (directFlip). */
interface Host {
  readonly card: Card;
  readonly crtcId: number;
  readonly connectorId: number;
  readonly planes: readonly number[];
  readonly mode: PropertyBlob;
  lease: Lease | undefined;
}

function openHost(): Host {
  const card = openCard({ driver: 'vkms' });
  const [crtc] = card.crtcs;
  const connector = card.connectors().find((c) => c.name === 'Virtual-1');
  const mode = connector?.modes.find((m) => m.hdisplay === 1024 && m.vdisplay === 768);
  if (!crtc || !connector || !mode) throw new Error('vkms: a CRTC and Virtual-1 with 1024x768');
  return { card, crtcId: crtc.id, connectorId: connector.id, planes: card.planesFor(crtc.id).map((p) => p.id), mode: card.createModeBlob(mode), lease: undefined };
}

const host = directFlip ? openHost() : undefined;

/** VFIO_DEVICE_FEATURE of the direct flip: SET with any arguments, mostly sensible ones, or GET. */
function directFlipFeature(h: Host): string | undefined {
  const F = vfioExt.vfio_device_feature_gfx_direct_flip;
  const set = random() < 0.6;
  const data = encode(F, {
    drm_fd: random() < 0.7 ? (h.lease?.fd ?? -1) : oneOf([-1, -2, h.card.fd, devNull, 98765, eventfds[0]?.fd ?? -1]),
    flags: random() < 0.9 ? 0 : word(),
    head: random() < 0.9 ? 0 : word(),
    crtc_id: random() < 0.9 ? h.crtcId : word(),
    plane_id: random() < 0.9 ? oneOf(h.planes) : word(),
    crtc_x: random() < 0.8 ? below(200) : word() | 0,
    crtc_y: random() < 0.8 ? below(200) : word() | 0,
    crtc_w: random() < 0.8 ? 0 : word(),
    crtc_h: random() < 0.8 ? 0 : word(),
  });
  device.feature(vfioExt.VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP, set ? 'set' : 'get', data, 'fuzz');
  return undefined;
}

type Op = readonly [name: string, weight: number, run: () => string | undefined];
const ops: readonly Op[] = [
  [
    'QUERY_GFX_PLANE',
    4,
    () => {
      const flags = random() < 0.7 ? oneOf([1 << 1, (1 << 1) | (1 << 3), 1 | (1 << 1), 1 | (1 << 2), (1 << 2) | (1 << 3), 1 << 4]) : below(64);
      const b = arg(argsz(random() < 0.5 ? 64 : 88), encode(vfioExt.vfio_device_gfx_plane_info, { flags, drm_plane_type: below(4), head: random() < 0.8 ? 0 : word() }));
      device.ioctl(vfio.VFIO_DEVICE_QUERY_GFX_PLANE, b, 'VFIO_DEVICE_QUERY_GFX_PLANE', 'fuzz');
      // dmabuf_id shares its slot with region_index.
      const id = new DataView(b.buffer).getUint32(vfioExt.vfio_device_gfx_plane_info.fields.region_index.offset, true);
      if (id !== 0) lastDmabufId = id;
      return undefined;
    },
  ],
  ['GET_GFX_DMABUF', exports === 'none' ? 0 : 3, rawExport],
  [
    'close dma-buf fd',
    exports === 'none' ? 0 : 1,
    () => {
      if (held.size === 0) return 'none held';
      closeHeld(oneOf([...held.keys()]), random() < 0.3);
      return undefined;
    },
  ],
  ['Display dma-buf', exports === 'shared' ? 2 : 0, displayExport],
  [
    'GET_IRQ_INFO',
    1,
    () => {
      device.ioctl(vfio.VFIO_DEVICE_GET_IRQ_INFO, arg(argsz(16), encode(vfio.vfio_irq_info, { index: random() < 0.8 ? below(8) : word() })), 'VFIO_DEVICE_GET_IRQ_INFO', 'fuzz');
      return undefined;
    },
  ],
  [
    'GET_REGION_INFO',
    1,
    () => {
      device.ioctl(vfio.VFIO_DEVICE_GET_REGION_INFO, arg(argsz(32), encode(vfio.vfio_region_info, { index: random() < 0.8 ? below(20) : word() })), 'VFIO_DEVICE_GET_REGION_INFO', 'fuzz');
      return undefined;
    },
  ],
  [
    'SET_IRQS',
    4,
    () => {
      const n = random() < 0.8 ? below(5) : word();
      const data = random() < 0.3 ? 1 : random() < 0.5 ? 2 : 4;
      const action = oneOf([1 << 3, 1 << 4, 1 << 5, 3 << 3]);
      const flags = random() < 0.85 ? data | action : word();
      const payload = new Int32Array(Math.min(n, 8));
      for (let i = 0; i < payload.length; i++) payload[i] = data === 4 ? oneOf([eventfds[0]?.fd ?? -1, eventfds[1]?.fd ?? -1, -1, devNull, 98765]) : below(2);
      const bytes = data === 2 ? Uint8Array.from(payload) : new Uint8Array(payload.buffer);
      const size = 20 + bytes.length;
      const b = encode(vfio.vfio_irq_set, { flags, index: random() < 0.8 ? 5 : below(8), start: random() < 0.8 ? below(3) : word(), count: n }, size);
      b.set(bytes, 20);
      device.ioctl(vfio.VFIO_DEVICE_SET_IRQS, arg(random() < 0.8 ? size : argsz(size), b), 'VFIO_DEVICE_SET_IRQS', 'fuzz');
      for (const e of eventfds) e.read();
      return undefined;
    },
  ],
  [
    'DISPI write',
    6,
    () => {
      const index = random() < 0.9 ? below(11) : below(64);
      const value = random() < 0.6 ? oneOf([0, 1, 8, 16, 24, 32, 0x40, 0x41, 64, 600, 608, 640, 768, 800, 1024, 1216, 1920, 4096, 0x7fff, 0xffff]) : below(0x10000);
      const len = random() < 0.9 ? 2 : oneOf([1, 3, 4, 8]);
      const at = 0x500 + 2 * index + (random() < 0.95 ? 0 : 1);
      writeSync(3, new Uint8Array(new Uint32Array([value, value]).buffer).subarray(0, len), 0, len, region(2).offset + at);
      return undefined;
    },
  ],
  [
    'guest mode set',
    1,
    () => {
      // A whole mode as a bochs-drm guest programs it, so that planes and dma-bufs exist to fuzz.
      const [xres, yres] = oneOf([[640, 480], [800, 600], [1024, 768], [320, 200], [1280, 1024]] as const);
      for (const [index, value] of [[4, 0], [1, xres], [2, yres], [3, 32], [6, xres], [8, 0], [9, oneOf([0, 32, yres, 608])], [4, 0x41]] as const) {
        writeSync(3, new Uint8Array(new Uint16Array([value]).buffer), 0, 2, region(2).offset + 0x500 + 2 * index);
      }
      return undefined;
    },
  ],
  [
    'BAR2 read',
    1,
    () => {
      const bar2 = region(2);
      readSync(3, new Uint8Array(8), 0, oneOf([1, 2, 4, 8]), bar2.offset + (random() < 0.8 ? 0x500 + 2 * below(16) : below(bar2.size + 16)));
      return undefined;
    },
  ],
  [
    'VRAM pread/pwrite',
    1,
    () => {
      const bar0 = region(0);
      const len = 1 + below(random() < 0.9 ? 256 : 65536);
      const end = bar0Tail ? bar0.size : bar0.size - 2 * 4096 - len;
      const at = random() < 0.9 ? below(end) : end - below(64);
      const buf = new Uint8Array(len);
      if (random() < 0.5) readSync(3, buf, 0, len, bar0.offset + at);
      else writeSync(3, buf.fill(below(256)), 0, len, bar0.offset + at);
      return undefined;
    },
  ],
  [
    'config space',
    1,
    () => {
      const cfg = region(7);
      const len = oneOf([1, 2, 4]);
      const at = below(cfg.size);
      if (random() < 0.5) readSync(3, new Uint8Array(4), 0, len, cfg.offset + at);
      else writeSync(3, new Uint8Array(new Uint32Array([word()]).buffer), 0, len, cfg.offset + at);
      return undefined;
    },
  ],
  [
    'EDID region',
    1,
    () => {
      const edid = region(9);
      const at = random() < 0.7 ? 4 * below(6) : below(edid.size);
      const len = random() < 0.7 ? 4 : 1 + below(256);
      const buf = new Uint8Array(new Uint32Array(Math.ceil(len / 4)).fill(word()).buffer).subarray(0, len);
      if (random() < 0.5) readSync(3, buf, 0, len, edid.offset + at);
      else writeSync(3, buf, 0, len, edid.offset + at);
      return undefined;
    },
  ],
  [
    'mmap VRAM',
    1,
    () => {
      // 6.12 mbochs maps BAR0 only from its start (EINVAL otherwise).
      using map = device.mmap(0, random() < 0.9 ? { offset: 0, length: 4096 * (1 + below(64)) } : { offset: 4096 * below(1024), length: 4096 });
      map.bytes[below(map.bytes.length)] = below(256);
      return undefined;
    },
  ],
  [
    'RESET',
    0.05,
    () => {
      device.reset();
      return undefined;
    },
  ],
  [
    'FEATURE, any flags and size',
    directFlip ? 0.5 : 0,
    () => {
      const size = 8 + (random() < 0.7 ? vfioExt.vfio_device_feature_gfx_direct_flip.size : below(200));
      const flags = random() < 0.7 ? oneOf([1 << 16, 1 << 17, 1 << 18, 3 << 16]) | (random() < 0.8 ? 11 : below(16)) : word();
      // A GET writes back as much as argsz allows: the buffer must hold that, whatever argsz claims.
      const b = arg(random() < 0.8 ? size : word(), encode(vfio.vfio_device_feature, { flags }, size));
      device.ioctl(vfio.VFIO_DEVICE_FEATURE, b, 'VFIO_DEVICE_FEATURE', 'fuzz');
      return undefined;
    },
  ],
  ['DIRECT_FLIP set/get', host ? 3 : 0, () => (host ? directFlipFeature(host) : 'no host')],
  [
    'lease',
    host ? 1 : 0,
    () => {
      if (!host) return 'no host';
      host.lease?.close();
      host.lease = undefined;
      host.lease = host.card.createLease([host.connectorId, host.crtcId, oneOf(host.planes)]);
      return undefined;
    },
  ],
  [
    'revoke lease',
    host ? 0.5 : 0,
    () => {
      host?.lease?.revoke();
      return host?.lease ? undefined : 'no lease';
    },
  ],
  [
    'close lease fd',
    host ? 0.3 : 0,
    () => {
      host?.lease?.close();
      if (host) host.lease = undefined;
      return undefined;
    },
  ],
  [
    'CRTC on/off',
    host ? 0.5 : 0,
    () => {
      if (!host) return 'no host';
      const on = random() < 0.7;
      const request = host.card.atomic().setCrtc(host.crtcId, { active: on, modeId: on ? host.mode.id : 0 }).setConnector(host.connectorId, on ? host.crtcId : 0);
      host.card.commitBlocking(request, { allowModeset: true });
      return undefined;
    },
  ],
];

const total = ops.reduce((s, [, w]) => s + w, 0);
const end = Date.now() + seconds * 1000;
let operations = 0;
for (; Date.now() < end; operations++) {
  let r = random() * total;
  const [name, , run] = ops.find(([, w]) => (r -= w) < 0) ?? ops[0] ?? ['none', 0, () => undefined];
  attempt(name, run);
}

// The master's close revokes its leases: the device's assignment ends with them.
host?.card.close();
for (const map of mappings) map.unmap();
for (const display of displays) display.close();
for (const id of [...held.keys()]) closeHeld(id, true);
for (const e of eventfds) e.close();
closeSync(devNull);
device.close();
const report: FuzzReport = {
  seed,
  exports,
  operations,
  outcomes: Object.fromEntries([...outcomes].map(([op, m]) => [op, Object.fromEntries(m)])),
  secondLiveFds,
  reexports,
};
console.log(JSON.stringify(report));
