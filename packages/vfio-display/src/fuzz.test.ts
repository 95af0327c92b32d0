// Fuzzing of everything that parses bytes the library did not write — the
// capability chains, region, IRQ and plane info from VFIO drivers, DRM
// events, IN_FORMATS blobs and mode blobs from KMS drivers, EDID files (the
// CLI's check and description) — and of what users hand the EDID generator.
// Random and mutated inputs (from real answers as seeds) may only produce
// the library's typed errors, or the RangeError a decoder documents for a
// buffer shorter than its struct; the test's timeout catches a hang.
//
// 20,000 inputs per target here; VFIO_DISPLAY_SOAK=1 runs 1,000,000 each.
// VFIO_DISPLAY_FUZZ_SEED=n reproduces a run.
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { checkEdid, describeEdid } from './cli/edid.js';
import { decodeDeviceInfo, decodeRegionInfo } from './device/device.js';
import { decodeDeviceCapabilities, decodeRegionCapabilities, walkCapabilities } from './device/caps.js';
import { generateEdid, parseMode, type DisplayMode, type EdidOptions } from './display/edid-generator.js';
import { decodePlane, type PlaneType, type QueryMode } from './display/plane.js';
import { validateUuid } from './device/mdev.js';
import { VfioDisplayError } from './errors.js';
import { parseEvents } from './kms/events.js';
import { decodeModeInfo } from './kms/mode.js';
import { decodeInFormats } from './kms/properties.js';
import { encode, viewOf } from './uapi/codec.js';
import * as d from './uapi/drm.js';
import * as v from './uapi/vfio.js';
import * as ext from './uapi/vfio-ext.js';

const INPUTS = process.env.VFIO_DISPLAY_SOAK === '1' ? 1_000_000 : 20_000;
const SEED = Number(process.env.VFIO_DISPLAY_FUZZ_SEED ?? 0x5eed) >>> 0 || 1;

/** xorshift32: fast, and the same inputs for the same seed. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  u32(): number {
    let s = this.#s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.#s = s >>> 0;
    return this.#s;
  }
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** Values that break length and offset arithmetic. */
const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 15, 16, 20, 23, 24, 31, 32, 40, 48, 56, 63, 64, 68, 87, 88, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff8, 0xfffffffe, 0xffffffff];

/** One to four mutations of `seed`: bit flips, interesting u8/u16/u32 values, truncation, extension, splices. */
function mutate(rng: Rng, seed: Uint8Array): Uint8Array {
  let b = seed.slice();
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = rng.chance(0.6) ? rng.int(b.length >> 2) << 2 : rng.int(b.length);
    const view = viewOf(b);
    switch (rng.int(8)) {
      case 0:
        if (b.length) b[at] = (b[at] ?? 0) ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length) b[at] = rng.pick(INTERESTING) & 0xff;
        break;
      case 2:
        if (at + 2 <= b.length) view.setUint16(at, rng.pick(INTERESTING) & 0xffff, true);
        break;
      case 3:
      case 4: {
        const value = rng.chance(0.3) ? (b.length + rng.int(9) - 4) >>> 0 : rng.pick(INTERESTING);
        if (at + 4 <= b.length) view.setUint32(at, value, true);
        break;
      }
      case 5:
        b = b.subarray(0, rng.int(b.length + 1)).slice();
        break;
      case 6: {
        const grown = new Uint8Array(b.length + 1 + rng.int(64));
        grown.set(b);
        grown.set(rng.bytes(grown.length - b.length), b.length);
        b = grown;
        break;
      }
      default: {
        const from = rng.int(b.length);
        const len = rng.int(Math.min(32, b.length - from) + 1);
        b.copyWithin(at, from, from + len);
      }
    }
  }
  return b;
}

/** A mutated seed most of the time, pure noise otherwise. */
function input(rng: Rng, seeds: readonly Uint8Array[], maxRandom = 256): Uint8Array {
  return rng.chance(0.8) ? mutate(rng, rng.pick(seeds)) : rng.bytes(rng.int(maxRandom + 1));
}

/** Nanoseconds `target(x)` takes, whether it returns or throws. */
function timed<T>(target: (x: T) => void, x: T): bigint {
  const t0 = process.hrtime.bigint();
  try {
    target(x);
  } catch {
    // Timing only: the outcome was judged when the input was first run.
  }
  return process.hrtime.bigint() - t0;
}

/**
 * Runs `target` on INPUTS generated inputs; an error that `allowed` refuses
 * fails with the input that caused it. Reports the outcomes, and the
 * slowest input timed again (best of 5), since a first timing on a busy
 * machine includes scheduling and GC pauses.
 */
function fuzz<T>(t: TestContext, name: string, generate: (rng: Rng) => T, target: (x: T) => void, allowed: (err: unknown) => boolean): void {
  // FNV-1a of the (ASCII) target name: each target its own input sequence.
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  const rng = new Rng(SEED ^ hash);
  const errors = new Map<string, number>();
  let ok = 0;
  let maxNs = -1n;
  let slowest: T | undefined;
  const start = process.hrtime.bigint();
  for (let i = 0; i < INPUTS; i++) {
    const x = generate(rng);
    const t0 = process.hrtime.bigint();
    try {
      target(x);
      ok++;
    } catch (err) {
      if (!allowed(err)) {
        const shown = JSON.stringify(x, (_k, val: unknown) => (val instanceof Uint8Array ? Buffer.from(val).toString('hex') : val));
        assert.fail(`${name}, input ${i} (seed ${SEED}): ${String(err)}\n${(err as Error).stack ?? ''}\ninput: ${shown}`);
      }
      const key = `${(err as Error).constructor.name}${err instanceof VfioDisplayError ? ` ${err.code}` : ''}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
    const ns = process.hrtime.bigint() - t0;
    if (ns > maxNs) {
      maxNs = ns;
      slowest = x;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  let retimed = maxNs;
  for (let i = 0; i < 5; i++) {
    const ns = timed(target, slowest as T);
    if (ns < retimed) retimed = ns;
  }
  const outcomes = [...errors].map(([k, n]) => `${n} ${k}`).join(', ') || 'no errors';
  t.diagnostic(`${name}: ${INPUTS} inputs in ${seconds.toFixed(1)} s, ${ok} accepted, ${outcomes}; slowest input ${(Number(maxNs) / 1e6).toFixed(3)} ms, timed again ${(Number(retimed) / 1e6).toFixed(3)} ms`);
  assert.equal(ok + [...errors.values()].reduce((a, b) => a + b, 0), INPUTS);
}

const typed = (err: unknown): boolean => err instanceof VfioDisplayError;
const typedOrShort = (err: unknown): boolean => typed(err) || (err instanceof RangeError && /needs \d+ bytes/.test(err.message));

// Seeds: the answers the rig's drivers give.
const capHeader = (view: DataView, at: number, id: number, next: number): void => {
  view.setUint16(at, id, true);
  view.setUint16(at + 2, 1, true);
  view.setUint32(at + 4, next, true);
};

/** mbochs' EDID region (a type capability) and a region with sparse mmap, type and msix-mappable capabilities. */
function regionSeeds(): Uint8Array[] {
  const CAPS = v.VFIO_REGION_INFO_FLAG_CAPS | v.VFIO_REGION_INFO_FLAG_READ | v.VFIO_REGION_INFO_FLAG_WRITE;
  const edid = encode(v.vfio_region_info, { argsz: 48, flags: CAPS, index: 9, cap_offset: 32, size: 0x1000n, offset: 0x2000n }, 48);
  const ev = viewOf(edid);
  capHeader(ev, 32, v.VFIO_REGION_INFO_CAP_TYPE, 0);
  ev.setUint32(40, v.VFIO_REGION_TYPE_GFX, true);
  ev.setUint32(44, v.VFIO_REGION_SUBTYPE_GFX_EDID, true);
  const sparse = encode(v.vfio_region_info, { argsz: 112, flags: CAPS | v.VFIO_REGION_INFO_FLAG_MMAP, index: 0, cap_offset: 32, size: 0x400000n }, 112);
  const sv = viewOf(sparse);
  capHeader(sv, 32, v.VFIO_REGION_INFO_CAP_SPARSE_MMAP, 80);
  sv.setUint32(40, 2, true);
  sv.setBigUint64(48, 0x1000n, true);
  sv.setBigUint64(56, 0x1000n, true);
  sv.setBigUint64(64, 0x3000n, true);
  sv.setBigUint64(72, 0x2000n, true);
  capHeader(sv, 80, v.VFIO_REGION_INFO_CAP_TYPE, 96);
  sv.setUint32(88, 1, true);
  sv.setUint32(92, 1, true);
  capHeader(sv, 96, v.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 104);
  capHeader(sv, 104, 0x99, 0);
  return [edid, sparse, encode(v.vfio_region_info, { argsz: 32, flags: v.VFIO_REGION_INFO_FLAG_READ, index: 7, size: 256n, offset: 0x7000n })];
}

/** Patched mbochs' device info (the display change IRQ's type and display capabilities) and a plain 6.12 one. */
function deviceSeeds(): Uint8Array[] {
  const patched = encode(v.vfio_device_info, { argsz: 64, flags: v.VFIO_DEVICE_FLAGS_PCI | v.VFIO_DEVICE_FLAGS_CAPS, num_regions: 10, num_irqs: 6, cap_offset: 24 }, 64);
  const view = viewOf(patched);
  capHeader(view, 24, ext.VFIO_DEVICE_INFO_CAP_IRQ_TYPE, 48);
  view.setUint32(32, 5, true);
  view.setUint32(36, ext.VFIO_IRQ_TYPE_GFX, true);
  view.setUint32(40, ext.VFIO_IRQ_SUBTYPE_GFX_DISPLAY, true);
  capHeader(view, 48, ext.VFIO_DEVICE_INFO_CAP_GFX_DISPLAY_IRQ, 0);
  view.setUint32(56, 5, true);
  view.setUint32(60, ext.VFIO_IRQ_DISPLAY_PRIMARY | ext.VFIO_IRQ_DISPLAY_MODE, true);
  return [patched, encode(v.vfio_device_info, { argsz: 24, flags: v.VFIO_DEVICE_FLAGS_PCI, num_regions: 10, num_irqs: 5 })];
}

/** mbochs' primary plane at 800x600 (extended) and a cursor with a hotspot. */
function planeSeeds(): Uint8Array[] {
  const common = { argsz: 88, drm_format: 0x34325258, stride: 3200, x_hot: 0xffffffff, y_hot: 0xffffffff };
  return [
    encode(ext.vfio_device_gfx_plane_info, { ...common, flags: v.VFIO_GFX_PLANE_TYPE_DMABUF | ext.VFIO_GFX_PLANE_FLAG_EXT_INFO, drm_plane_type: 1, width: 800, height: 600, size: 1920000, region_index: 1, num_heads: 1, flip_seq: 7n }),
    encode(ext.vfio_device_gfx_plane_info, { ...common, flags: v.VFIO_GFX_PLANE_TYPE_DMABUF, drm_plane_type: 2, width: 64, height: 64, stride: 256, size: 16384, x_pos: 100, y_pos: 200, x_hot: 3, y_hot: 4, region_index: 2 }),
  ];
}

/** A flip-complete event, a vblank event and an event type the parser skips. */
function eventSeeds(): Uint8Array[] {
  const flip = encode(d.drm_event_vblank, { 'base.type': d.DRM_EVENT_FLIP_COMPLETE, 'base.length': 32, user_data: 7n, tv_sec: 12, tv_usec: 345, sequence: 9, crtc_id: 38 });
  const vblank = flip.slice();
  viewOf(vblank).setUint32(0, d.DRM_EVENT_VBLANK, true);
  const other = new Uint8Array(16);
  viewOf(other).setUint32(0, d.DRM_EVENT_CRTC_SEQUENCE, true);
  viewOf(other).setUint32(4, 16, true);
  const all = new Uint8Array(80);
  all.set(flip);
  all.set(other, 32);
  all.set(vblank, 48);
  return [flip, all];
}

/** An IN_FORMATS blob: three formats, linear for all, X-tiled for the first two. */
function inFormatsSeeds(): Uint8Array[] {
  const blob = encode(d.drm_format_modifier_blob, { version: d.FORMAT_BLOB_CURRENT, count_formats: 3, formats_offset: 24, count_modifiers: 2, modifiers_offset: 40 }, 88);
  const view = viewOf(blob);
  [0x34325258, 0x34325241, 0x36314752].forEach((f, i) => {
    view.setUint32(24 + 4 * i, f, true);
  });
  blob.set(encode(d.drm_format_modifier, { formats: 0b111n, offset: 0, modifier: 0n }), 40);
  blob.set(encode(d.drm_format_modifier, { formats: 0b011n, offset: 0, modifier: (1n << 56n) | 1n }), 64);
  return [blob];
}

function modeSeeds(): Uint8Array[] {
  return [
    encode(d.drm_mode_modeinfo, {
      clock: 148500, hdisplay: 1920, hsync_start: 2008, hsync_end: 2052, htotal: 2200, vdisplay: 1080, vsync_start: 1084, vsync_end: 1089, vtotal: 1125, vrefresh: 60, flags: 5, type: 0x48, name: '1920x1080',
    }),
  ];
}

describe(`fuzz: decoders of driver answers (${INPUTS} inputs each, seed ${SEED})`, { timeout: INPUTS > 100_000 ? 1_800_000 : 120_000 }, () => {
  test('region info and its capability chain', (t) => {
    const seeds = regionSeeds();
    fuzz(t, 'decodeRegionInfo', (rng) => input(rng, seeds), (b) => decodeRegionInfo(b, 0, 'fuzz'), typedOrShort);
  });

  test('device info and its capability chain (with the kernel-patches IRQ capabilities)', (t) => {
    const seeds = deviceSeeds();
    fuzz(t, 'decodeDeviceInfo', (rng) => input(rng, seeds), (b) => decodeDeviceInfo(b, 'fuzz'), typedOrShort);
  });

  test('capability chains from any start: bounded, forward only, inside the buffer', (t) => {
    const seeds = [...regionSeeds(), ...deviceSeeds()];
    fuzz(
      t,
      'walkCapabilities',
      (rng) => ({ bytes: input(rng, seeds, 512), first: rng.chance(0.5) ? rng.pick(INTERESTING) : rng.int(600), fixed: rng.pick([24, 32]) }),
      ({ bytes, first, fixed }) => {
        const caps = walkCapabilities(bytes, first, fixed, 'fuzz');
        assert.ok(caps.length <= Math.max(0, (bytes.length - fixed) / 8), 'no more capabilities than headers fit');
        caps.forEach((c, i) => {
          assert.ok(c.offset >= fixed && c.offset + c.length <= bytes.length && c.length >= 8);
          assert.ok(i === 0 || c.offset > (caps[i - 1]?.offset ?? 0));
        });
        decodeRegionCapabilities(bytes, first, fixed, 'fuzz');
        decodeDeviceCapabilities(bytes, first, fixed, 'fuzz');
      },
      typed,
    );
  });

  test('plane info, every mode and plane type, with and without the extended fields', (t) => {
    const seeds = planeSeeds();
    const modes: QueryMode[] = ['dmabuf', 'region', 'drm-fb'];
    const types: PlaneType[] = ['primary', 'cursor'];
    fuzz(
      t,
      'decodePlane',
      (rng) => ({ bytes: input(rng, seeds, 128), mode: rng.pick(modes), type: rng.pick(types), extended: rng.chance(0.5) }),
      ({ bytes, mode, type, extended }) => {
        const plane = decodePlane(viewOf(bytes), mode, type, extended);
        if (plane) assert.ok(plane.drmFormat !== 0 && plane.size !== 0 && plane.fourcc.length >= 4);
      },
      typedOrShort,
    );
  });

  test('DRM events as read(2) returns them', (t) => {
    const seeds = eventSeeds();
    fuzz(
      t,
      'parseEvents',
      (rng) => input(rng, seeds, 512),
      (b) => {
        assert.ok(parseEvents(b).length <= b.length / d.drm_event_vblank.size);
      },
      typed,
    );
  });

  test('IN_FORMATS blobs', (t) => {
    const seeds = inFormatsSeeds();
    fuzz(
      t,
      'decodeInFormats',
      (rng) => input(rng, seeds, 512),
      (b) => {
        for (const mods of decodeInFormats(b).values()) assert.ok(mods.length <= b.length / d.drm_format_modifier.size);
      },
      typed,
    );
  });

  test('mode blobs', (t) => {
    const seeds = modeSeeds();
    fuzz(t, 'decodeModeInfo', (rng) => ({ bytes: input(rng, seeds, 128), offset: rng.chance(0.8) ? 0 : rng.pick(INTERESTING) }), ({ bytes, offset }) => decodeModeInfo(bytes, offset), typedOrShort);
  });
});

/** Numbers a user might hand in by mistake. */
const WILD = [0, -0, 1, -1, 63, 64, 640, 800, 1080, 1920, 4095, 4096, 100000, 0.5, 59.94, 1e308, -1e308, Number.NaN, Infinity, -Infinity, 2 ** 53, 2 ** 32, 24, 60, 240, 241];

const SANE = ['1920x1080', '1280x720@60', '1024x768@75', '800x600', '2560x1440@144', '3840x2160@30', '640x480@24'];

function wildMode(rng: Rng): DisplayMode | string {
  if (rng.chance(0.4)) return rng.pick(SANE);
  if (rng.chance(0.5)) {
    const chars = '0123456789xX@ .-+e\u0660\u00d7\n';
    const text = rng.chance(0.5) ? `${rng.pick(WILD)}x${rng.pick(WILD)}${rng.chance(0.5) ? `@${rng.pick(WILD)}` : ''}` : Array.from({ length: rng.int(20) }, () => chars[rng.int(chars.length)]).join('');
    return text;
  }
  const odd: unknown[] = [undefined, null, '800', [], {}];
  const field = (): number => (rng.chance(0.1) ? (rng.pick(odd) as number) : rng.pick(WILD));
  return { width: field(), height: field(), refresh: field() };
}

describe(`fuzz: what users hand in: modes, EDID requests and files, device names (${INPUTS} inputs each)`, { timeout: INPUTS > 100_000 ? 1_800_000 : 120_000 }, () => {
  test('modes: strings and objects', (t) => {
    fuzz(t, 'parseMode', wildMode, (m) => parseMode(m), typed);
  });

  test('whole EDID requests: modes, names, ids, sizes', (t) => {
    const names = ['vfio-display', '', 'a'.repeat(14), 'caf\u00e9', 'ok', 'tab\there', 'x'.repeat(13)];
    const makers = ['VFD', 'vfd', 'AB', 'ABCD', '1AB', '', 'ZZZ'];
    fuzz(
      t,
      'generateEdid',
      (rng): EdidOptions => ({
        modes: Array.from({ length: rng.int(rng.chance(0.1) ? 40 : 6) }, () => wildMode(rng)),
        ...(rng.chance(0.5) ? { name: rng.pick(names) } : {}),
        ...(rng.chance(0.3) ? { manufacturer: rng.pick(makers) } : {}),
        ...(rng.chance(0.3) ? { productCode: rng.pick(WILD) } : {}),
        ...(rng.chance(0.3) ? { serial: rng.pick(WILD) } : {}),
        ...(rng.chance(0.3) ? { widthMm: rng.pick(WILD), heightMm: rng.pick(WILD) } : {}),
      }),
      (options) => {
        const blob = generateEdid(options);
        assert.equal(blob.length, 128);
        assert.equal(blob.reduce((a, b) => a + b, 0) % 256, 0, 'checksum');
      },
      typed,
    );
  });

  test('EDID files: checked and described as the CLI does', (t) => {
    const two = new Uint8Array(256);
    two.set(generateEdid({ modes: ['1920x1080@60', '1280x720'], name: 'two blocks' }));
    two[126] = 1;
    two[127] = (two[127] ?? 0) - 1;
    two[128] = 2;
    two[255] = 0xfe;
    const seeds = [generateEdid({ modes: ['800x600'] }), generateEdid({ modes: ['3840x2160@30'], name: 'rig', manufacturer: 'ABC', serial: 7 }), two];
    fuzz(
      t,
      'checkEdid+describeEdid',
      (rng) => input(rng, seeds, 512),
      (b) => {
        assert.equal(typeof describeEdid(b), 'string', 'any blob is described');
        checkEdid(b, 'fuzz');
      },
      typed,
    );
  });

  test('device names', (t) => {
    const seeds = ['4b20d080-1b54-4048-85b3-a6a62d165c01', '../../etc/passwd', '/sys/bus/mdev/devices/', '%2e%2e/'];
    fuzz(
      t,
      'validateUuid',
      (rng) => {
        const s = rng.pick(seeds);
        const at = rng.int(s.length + 1);
        return `${s.slice(0, at)}${String.fromCharCode(rng.int(128))}${s.slice(at + rng.int(3))}`;
      },
      (s) => {
        assert.match(validateUuid(s), /^[0-9a-f-]{36}$/);
      },
      typed,
    );
  });
});
