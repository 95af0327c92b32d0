// Frame conversion against memcpy of the same bytes, and PNG encoders, on a
// 1920x1080 XRGB8888 frame; host only (no rig). Run by `pnpm bench`
// (test/bench/run.ts). Prints a table and writes docs/bench/image.json.
// Ratios are memcpy time / operation time: 1.0 is memcpy's throughput, the
// design target is >= 0.5.
import { mkdirSync } from 'node:fs';
import { encode as fastPngEncode } from 'fast-png';
import { PNG } from 'pngjs';
import { encodePng, FrameConverter, tiledOffset, toRgba, uapi, type Frame, type RgbaImage } from 'vfio-display';
import { docsBench, machine, ratio, rounds, spread, writeJson, type Ratio } from './measure.js';

const { DRM_FORMAT_XRGB8888, I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED, DRM_FORMAT_MOD_LINEAR } = uapi.drmFourcc;
const W = 1920;
const H = 1080;
const STRIDE = W * 4;
const RUNS = Number(process.env.VFIO_DISPLAY_BENCH_RUNS ?? 31);

interface Timing {
  name: string;
  bytes: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Round by round, memcpy's time / this time (1 is memcpy's throughput), with "best" from each one's fastest run. */
  vsMemcpy?: Ratio;
  note?: string;
}

function once(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function summary(name: string, bytes: number, ms: number[]): Timing {
  const { median, min, max } = spread(ms);
  return { name, bytes, medianMs: median, minMs: min, maxMs: max };
}

/** Every operation once per round (test/bench/measure.ts rounds()), against memcpy in the same round. */
function interleaved(bytes: number, runs: number, memcpy: () => unknown, ops: [string, () => unknown][]): Timing[] {
  const base = 'memcpy (Uint8Array.set, reused destination)';
  const times = rounds(runs, Object.fromEntries([[base, memcpy] as const, ...ops].map(([name, op]) => [name, () => once(op)])));
  return [base, ...ops.map(([name]) => name)].map((name) => ({ ...summary(name, bytes, times[name] ?? []), vsMemcpy: ratio(times[name] ?? [], times[base] ?? [], true) }));
}

function time(name: string, bytes: number, runs: number, fn: () => unknown): Timing {
  fn();
  return summary(name, bytes, Array.from({ length: runs }, () => once(fn)));
}

/** A desktop-like picture: gradient wallpaper, a window with text-like rows, a noisy photo. */
function desktop(): Uint8Array {
  const px = new Uint8Array(W * H * 4);
  let seed = 1;
  const noise = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) | 0) >>> 16) & 0xff;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let r = Math.floor((x * 255) / W);
      let g = Math.floor((y * 255) / H);
      let b = 128;
      if (x > 200 && x < 1100 && y > 150 && y < 800) {
        r = g = b = 240;
        if (y > 200 && y % 18 < 11 && x > 230 && x < 1050 && (x * 7 + y * 3) % 13 < 6) r = g = b = 30;
      }
      if (x > 1200 && x < 1800 && y > 300 && y < 900) {
        r = (r + noise()) >> 1;
        g = (g + noise()) >> 1;
        b = (b + noise()) >> 1;
      }
      // XRGB8888 in memory: B, G, R, X.
      px.set([b, g, r, 0], (y * W + x) * 4);
    }
  }
  return px;
}

function tiled(linear: Uint8Array, modifier: bigint, tileHeight: number): Uint8Array {
  const rows = Math.ceil(H / tileHeight) * tileHeight;
  const out = new Uint8Array(STRIDE * rows);
  for (let y = 0; y < H; y++) {
    for (let xb = 0; xb < STRIDE; xb += 16) {
      out.set(linear.subarray(y * STRIDE + xb, y * STRIDE + xb + 16), tiledOffset(modifier, STRIDE, xb, y));
    }
  }
  return out;
}

const before = machine();
const linear = desktop();
const frameBytes = linear.length;
const xTiled = tiled(linear, I915_FORMAT_MOD_X_TILED, 8);
const yTiled = tiled(linear, I915_FORMAT_MOD_Y_TILED, 32);
const frame = (bytes: Uint8Array, modifier: bigint): Frame => ({ bytes, width: W, height: H, stride: STRIDE, drmFormat: DRM_FORMAT_XRGB8888, modifier });
const reused = new Uint8Array(frameBytes);
const converter = new FrameConverter();

const conversions = interleaved(
  frameBytes,
  RUNS,
  () => {
    reused.set(linear);
  },
  [
    [
      'memcpy into a new Uint8Array',
      () => {
        new Uint8Array(frameBytes).set(linear);
      },
    ],
    ['toRgba() XRGB8888 linear (new memory each frame)', () => toRgba(frame(linear, DRM_FORMAT_MOD_LINEAR))],
    ['XRGB8888 linear -> RGBA', () => converter.convert(frame(linear, DRM_FORMAT_MOD_LINEAR))],
    ['X-tiled -> linear', () => converter.detile({ bytes: xTiled, stride: STRIDE, height: H, modifier: I915_FORMAT_MOD_X_TILED })],
    ['Y-tiled -> linear', () => converter.detile({ bytes: yTiled, stride: STRIDE, height: H, modifier: I915_FORMAT_MOD_Y_TILED })],
    ['X-tiled XRGB8888 -> RGBA', () => converter.convert(frame(xTiled, I915_FORMAT_MOD_X_TILED))],
    ['Y-tiled XRGB8888 -> RGBA', () => converter.convert(frame(yTiled, I915_FORMAT_MOD_Y_TILED))],
  ],
);

// Every conversion's result must be the same picture.
const rgba: RgbaImage = toRgba(frame(linear, DRM_FORMAT_MOD_LINEAR));
for (const [name, bytes, modifier] of [['X', xTiled, I915_FORMAT_MOD_X_TILED], ['Y', yTiled, I915_FORMAT_MOD_Y_TILED]] as const) {
  if (Buffer.compare(toRgba(frame(bytes, modifier)).data, rgba.data) !== 0) throw new Error(`${name}-tiled conversion differs from linear`);
}

const pngRuns = Math.max(3, Math.min(RUNS, 7));
const png = new PNG({ width: W, height: H });
png.data = Buffer.from(rgba.data);
const encoders: [string, () => Uint8Array][] = [
  ['encodePng(): pngjs 7.0.0, Sub filter, level 6, default strategy', () => encodePng(rgba)],
  ['encodePng() level 1', () => encodePng(rgba, { level: 1 })],
  ['pngjs 7.0.0 defaults (adaptive filter, level 9, Z_RLE)', () => PNG.sync.write(png)],
  ['pngjs 7.0.0 Sub filter, level 6, Z_RLE', () => PNG.sync.write(png, { filterType: 1, deflateLevel: 6 })],
  ['fast-png 8.0.0 defaults', () => fastPngEncode({ width: W, height: H, data: rgba.data, channels: 4, depth: 8 })],
];
const pngs = encoders.map(([name, encode]) => {
  const size = encode().length;
  return { ...time(`PNG ${name}`, frameBytes, pngRuns, encode), note: `${size} bytes` };
});

const results: Timing[] = [...conversions, ...pngs];
const report = {
  machine: before,
  loadAfter: machine().loadavg,
  frame: `${W}x${H} XRGB8888, ${frameBytes} bytes`,
  runs: RUNS,
  results,
};
mkdirSync(docsBench, { recursive: true });
writeJson(docsBench, 'image.json', report);
console.table(
  results.map((r) => ({
    name: r.name,
    'median ms': r.medianMs.toFixed(2),
    'min-max ms': `${r.minMs.toFixed(2)}-${r.maxMs.toFixed(2)}`,
    'x memcpy': r.vsMemcpy?.median ?? '',
    'x memcpy min-max': r.vsMemcpy ? `${String(r.vsMemcpy.min)}-${String(r.vsMemcpy.max)}` : '',
    'x memcpy (best runs)': r.vsMemcpy?.best ?? '',
    note: r.note ?? '',
  })),
);
