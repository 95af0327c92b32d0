// EDID 1.4 base blocks for a virtual display: the first mode is the
// preferred detailed timing (VESA CVT reduced blanking, v1), further modes
// go to standard timings or a second detailed timing, and the block carries
// range limits and a monitor name. Pure: bytes in, bytes out.
import { InvalidArgumentError } from '../errors.js';

export interface DisplayMode {
  readonly width: number;
  readonly height: number;
  /** Vertical refresh in Hz. */
  readonly refresh: number;
}

export interface DetailedTiming {
  readonly pixelClockKhz: number;
  readonly hActive: number;
  readonly hBlank: number;
  readonly hSyncOffset: number;
  readonly hSyncWidth: number;
  readonly vActive: number;
  readonly vBlank: number;
  readonly vSyncOffset: number;
  readonly vSyncWidth: number;
  /** Sync polarities; CVT reduced blanking's (+hsync, -vsync) by default. */
  readonly hSyncPositive?: boolean;
  readonly vSyncPositive?: boolean;
}

export interface EdidOptions {
  /** Modes, preferred first: {width, height, refresh} or "1920x1080[@60]". */
  readonly modes: readonly (DisplayMode | string)[];
  /** Monitor name, up to 13 printable ASCII characters. */
  readonly name?: string;
  /** Three-letter PNP manufacturer id. */
  readonly manufacturer?: string;
  readonly productCode?: number;
  readonly serial?: number;
  /** Physical size; defaults give about 96 dpi for the preferred mode. */
  readonly widthMm?: number;
  readonly heightMm?: number;
  /**
   * The preferred mode's exact timing (a host monitor's, say) instead of
   * CVT reduced blanking, which rounds the width down to 8 pixels; its
   * size must be the first mode's.
   */
  readonly timing?: DetailedTiming;
}

const MODE = /^(\d{1,6})x(\d{1,6})(?:@(\d{1,4}))?$/;
export const MODE_LIMITS = { minWidth: 64, maxWidth: 4095, minHeight: 64, maxHeight: 4095, minRefresh: 24, maxRefresh: 240 } as const;

/** Parses "1920x1080" or "1920x1080@60" (60 Hz by default) and checks the range a base block can carry. */
export function parseMode(mode: DisplayMode | string): DisplayMode {
  let parsed: DisplayMode;
  if (typeof mode === 'string') {
    const m = MODE.exec(mode.trim());
    if (!m) throw new InvalidArgumentError(`not a mode: ${JSON.stringify(mode)} (expected WIDTHxHEIGHT or WIDTHxHEIGHT@HZ)`);
    parsed = { width: Number(m[1]), height: Number(m[2]), refresh: m[3] === undefined ? 60 : Number(m[3]) };
  } else {
    parsed = mode;
  }
  const { width, height, refresh } = parsed;
  const L = MODE_LIMITS;
  if (!Number.isInteger(width) || width < L.minWidth || width > L.maxWidth || !Number.isInteger(height) || height < L.minHeight || height > L.maxHeight) {
    throw new InvalidArgumentError(`mode ${width}x${height}: width and height must be whole numbers from ${L.minWidth} to ${L.maxWidth}`);
  }
  if (!Number.isInteger(refresh) || refresh < L.minRefresh || refresh > L.maxRefresh) {
    throw new InvalidArgumentError(`mode ${width}x${height}@${refresh}: refresh must be a whole number of Hz from ${L.minRefresh} to ${L.maxRefresh}`);
  }
  return { width, height, refresh };
}

/** The largest mode a device can show, per axis; null where it sets no limit. */
export interface ModeLimits {
  readonly maxXres: number | null;
  readonly maxYres: number | null;
}

/**
 * The modes scaled into `limits` keeping their aspect ratio (a guest shown a
 * 1920x1080 monitor on an 800x600 device gets 800x450, not a stretched
 * 800x600): the width goes down to a multiple of 8, as a detailed timing's
 * CVT width does, and the height follows it. Modes that come out equal to
 * an earlier one are dropped; the order, preferred first, is kept.
 */
export function fitModes(modes: readonly (DisplayMode | string)[], limits: ModeLimits): DisplayMode[] {
  const fitted: DisplayMode[] = [];
  for (const mode of modes.map(parseMode)) {
    const scale = Math.min(1, (limits.maxXres ?? Infinity) / mode.width, (limits.maxYres ?? Infinity) / mode.height);
    const width = scale < 1 ? Math.floor((mode.width * scale) / 8) * 8 : mode.width;
    const height = scale < 1 ? Math.round((width * mode.height) / mode.width) : mode.height;
    if (!fitted.some((m) => m.width === width && m.height === height && m.refresh === mode.refresh)) fitted.push({ width, height, refresh: mode.refresh });
  }
  return fitted;
}

/** VESA CVT 1.2 reduced blanking (v1) timing for a mode; width is rounded down to 8 pixels. */
export function cvtReducedBlanking(mode: DisplayMode): DetailedTiming {
  const H_BLANK = 160;
  const H_SYNC = 32;
  const H_FRONT_PORCH = 48;
  const V_FRONT_PORCH = 3;
  const MIN_V_BACK_PORCH = 6;
  const MIN_V_BLANK_US = 460;
  const CLOCK_STEP_MHZ = 0.25;
  const hActive = Math.floor(mode.width / 8) * 8;
  const vActive = mode.height;
  const vSync = vSyncWidth(hActive, vActive);
  const hPeriodEstUs = (1e6 / mode.refresh - MIN_V_BLANK_US) / vActive;
  const vbiLines = Math.max(Math.floor(MIN_V_BLANK_US / hPeriodEstUs) + 1, V_FRONT_PORCH + vSync + MIN_V_BACK_PORCH);
  const totalLines = vActive + vbiLines;
  const totalPixels = hActive + H_BLANK;
  const clockMhz = CLOCK_STEP_MHZ * Math.floor((mode.refresh * totalLines * totalPixels) / 1e6 / CLOCK_STEP_MHZ);
  return {
    pixelClockKhz: Math.round(clockMhz * 1000),
    hActive,
    hBlank: H_BLANK,
    hSyncOffset: H_FRONT_PORCH,
    hSyncWidth: H_SYNC,
    vActive,
    vBlank: vbiLines,
    vSyncOffset: V_FRONT_PORCH,
    vSyncWidth: vSync,
  };
}

/** CVT encodes the aspect ratio in the vertical sync width. */
function vSyncWidth(w: number, h: number): number {
  const is = (x: number, y: number): boolean => Math.abs(w / h - x / y) < 0.01;
  if (is(4, 3)) return 4;
  if (is(16, 9)) return 5;
  if (is(16, 10)) return 6;
  if (is(5, 4) || is(15, 9)) return 7;
  return 10;
}

/** EDID standard timing bytes, or undefined where the mode cannot be one. */
function standardTiming(mode: DisplayMode): [number, number] | undefined {
  const aspects: [number, number, number][] = [
    [16, 10, 0],
    [4, 3, 1],
    [5, 4, 2],
    [16, 9, 3],
  ];
  const aspect = aspects.find(([x, y]) => mode.width * y === mode.height * x);
  if (!aspect || mode.width % 8 !== 0 || mode.width < 256 || mode.width > 2288 || mode.refresh < 60 || mode.refresh > 123) return undefined;
  return [mode.width / 8 - 31, (aspect[2] << 6) | (mode.refresh - 60)];
}

function detailedTimingDescriptor(t: DetailedTiming, widthMm: number, heightMm: number): number[] {
  const clock = Math.round(t.pixelClockKhz / 10);
  if (clock > 0xffff) throw new InvalidArgumentError(`mode ${t.hActive}x${t.vActive}: pixel clock ${t.pixelClockKhz / 1000} MHz exceeds the 655.35 MHz a detailed timing can carry`);
  // The descriptor's field widths: 12-bit blanking, 10-bit horizontal and 6-bit vertical sync.
  if (t.hBlank > 4095 || t.vBlank > 4095 || t.hSyncOffset > 1023 || t.hSyncWidth > 1023 || t.vSyncOffset > 63 || t.vSyncWidth > 63) {
    throw new InvalidArgumentError(`mode ${t.hActive}x${t.vActive}: its blanking or sync does not fit a detailed timing descriptor`);
  }
  return [
    clock & 0xff,
    clock >> 8,
    t.hActive & 0xff,
    t.hBlank & 0xff,
    ((t.hActive >> 8) << 4) | (t.hBlank >> 8),
    t.vActive & 0xff,
    t.vBlank & 0xff,
    ((t.vActive >> 8) << 4) | (t.vBlank >> 8),
    t.hSyncOffset & 0xff,
    t.hSyncWidth & 0xff,
    ((t.vSyncOffset & 0xf) << 4) | (t.vSyncWidth & 0xf),
    (((t.hSyncOffset >> 8) & 3) << 6) | (((t.hSyncWidth >> 8) & 3) << 4) | (((t.vSyncOffset >> 4) & 3) << 2) | ((t.vSyncWidth >> 4) & 3),
    widthMm & 0xff,
    heightMm & 0xff,
    ((widthMm >> 8) << 4) | (heightMm >> 8),
    0,
    0,
    // Digital separate sync and its polarities.
    0x18 | (t.vSyncPositive === true ? 0x04 : 0) | (t.hSyncPositive === false ? 0 : 0x02),
  ];
}

function textDescriptor(tag: number, text: string): number[] {
  // Callers pass printable ASCII only (checked in generateEdid).
  const bytes = Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
  if (bytes.length < 13) bytes.push(0x0a);
  while (bytes.length < 13) bytes.push(0x20);
  return [0, 0, 0, tag, 0, ...bytes];
}

/** sRGB primaries and D65 white as the 10-bit chromaticity bytes 25-34. */
function chromaticity(): number[] {
  const [rx, ry, gx, gy, bx, by, wx, wy] = [0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329].map((c) => Math.round(c * 1024)) as [number, number, number, number, number, number, number, number];
  const lo = (a: number, b: number, c: number, d: number): number => ((a & 3) << 6) | ((b & 3) << 4) | ((c & 3) << 2) | (d & 3);
  return [lo(rx, ry, gx, gy), lo(bx, by, wx, wy), rx >> 2, ry >> 2, gx >> 2, gy >> 2, bx >> 2, by >> 2, wx >> 2, wy >> 2];
}

/** A 128-byte EDID 1.4 base block for the modes (preferred first). */
export function generateEdid(options: EdidOptions): Uint8Array {
  if (options.modes.length === 0) throw new InvalidArgumentError('an EDID needs at least one mode');
  const modes = options.modes.map(parseMode);
  const name = options.name ?? 'vfio-display';
  if (!/^[\x20-\x7e]{1,13}$/.test(name)) throw new InvalidArgumentError(`monitor name must be 1-13 printable ASCII characters: ${JSON.stringify(name)}`);
  const manufacturer = options.manufacturer ?? 'VFD';
  if (!/^[A-Z]{3}$/.test(manufacturer)) throw new InvalidArgumentError(`manufacturer must be three capital letters: ${JSON.stringify(manufacturer)}`);
  const productCode = options.productCode ?? 0x1234;
  const serial = options.serial ?? 0;
  if (!Number.isInteger(productCode) || productCode < 0 || productCode > 0xffff) throw new InvalidArgumentError('productCode must be a u16');
  if (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff) throw new InvalidArgumentError('serial must be a u32');
  const preferred = modes[0] as DisplayMode;
  // About 96 dpi unless told.
  const widthMm = options.widthMm ?? Math.round((preferred.width * 25.4) / 96);
  const heightMm = options.heightMm ?? Math.round((preferred.height * 25.4) / 96);
  if (!Number.isInteger(widthMm) || !Number.isInteger(heightMm) || widthMm < 1 || heightMm < 1 || widthMm > 4095 || heightMm > 4095) {
    throw new InvalidArgumentError('widthMm and heightMm must be whole millimetres from 1 to 4095');
  }

  const { timing } = options;
  if (timing && (timing.hActive !== preferred.width || timing.vActive !== preferred.height)) {
    throw new InvalidArgumentError(`the timing is for ${timing.hActive}x${timing.vActive}, the preferred mode is ${preferred.width}x${preferred.height}`);
  }
  const timings = modes.map((m, i) => (i === 0 && timing ? timing : cvtReducedBlanking(m)));
  const descriptors: number[][] = [detailedTimingDescriptor(timings[0] as DetailedTiming, widthMm, heightMm)];
  const standard: number[] = [];
  for (const [i, mode] of modes.entries()) {
    if (i === 0) continue;
    const st = standardTiming(mode);
    if (st && standard.length < 16) standard.push(...st);
    else if (descriptors.length < 2) descriptors.push(detailedTimingDescriptor(timings[i] as DetailedTiming, widthMm, heightMm));
    else throw new InvalidArgumentError(`too many modes for one EDID block: ${mode.width}x${mode.height}@${mode.refresh} fits neither a standard timing nor a free descriptor`);
  }
  while (standard.length < 16) standard.push(0x01, 0x01);

  const refreshes = modes.map((m) => m.refresh);
  const hRatesKhz = timings.map((t) => t.pixelClockKhz / (t.hActive + t.hBlank));
  const maxClock10Mhz = Math.ceil(Math.max(...timings.map((t) => t.pixelClockKhz)) / 10000);
  descriptors.push([
    0, 0, 0, 0xfd, 0,
    Math.min(...refreshes), Math.max(...refreshes),
    Math.floor(Math.min(...hRatesKhz)), Math.ceil(Math.max(...hRatesKhz)),
    Math.min(maxClock10Mhz, 255),
    0x01, // range limits only
    0x0a, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
  ]);
  descriptors.push(textDescriptor(0xfc, name));
  while (descriptors.length < 4) descriptors.splice(descriptors.length - 2, 0, [0, 0, 0, 0x10, ...new Array<number>(14).fill(0)]);

  const m = manufacturer;
  const pnp = ((m.charCodeAt(0) - 64) << 10) | ((m.charCodeAt(1) - 64) << 5) | (m.charCodeAt(2) - 64);
  const block = [
    0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
    pnp >> 8, pnp & 0xff,
    productCode & 0xff, productCode >> 8,
    serial & 0xff, (serial >>> 8) & 0xff, (serial >>> 16) & 0xff, serial >>> 24,
    1, 2026 - 1990, // week 1 of the model year
    1, 4, // EDID 1.4
    0xa5, // digital, 8 bits per colour, DisplayPort
    Math.round(widthMm / 10), Math.round(heightMm / 10),
    120, // gamma 2.2
    0x06, // sRGB default colour space, preferred timing is native
    ...chromaticity(),
    0, 0, 0, // no established timings
    ...standard,
    ...descriptors.flat(),
    0, // no extension blocks
  ];
  const sum = block.reduce((a, b) => a + b, 0);
  block.push((256 - (sum % 256)) % 256);
  return Uint8Array.from(block);
}
