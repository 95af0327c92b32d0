// How the CLI writes: the streams it is given (so tests can hold them),
// aligned tables, planes in words, and a live status line that rewrites
// itself on a terminal and prints at most once a second elsewhere.
import type { PlaneInfo } from '../display/plane.js';
import { modifierName } from '../uapi/drm_fourcc.js';

export interface Output {
  write(chunk: string | Uint8Array): boolean;
  readonly isTTY?: boolean;
}

export interface Io {
  readonly stdout: Output;
  readonly stderr: Output;
  /**
   * A signal aborted by the first SIGINT or SIGTERM: the commands that run
   * until stopped (watch, flip) ask for it and end cleanly. A second signal
   * ends the process at once.
   */
  interruptSignal(): AbortSignal;
}

export function println(out: Output, line = ''): void {
  out.write(`${line}\n`);
}

/** Rows padded into columns (the last one is not padded). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** 4194304 -> "4 MiB"; sizes that are not whole KiB/MiB stay in bytes. */
export function size(n: number): string {
  for (const [unit, bytes] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= bytes && n % bytes === 0) return `${n / bytes} ${unit}`;
  }
  return `${n} B`;
}

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** A plane in one line: "800x600 XR24 LINEAR, stride 3200, 1920000 bytes, dma-buf 1". */
export function describePlane(plane: PlaneInfo | null): string {
  if (plane === null) return 'off';
  const parts = [
    `${plane.width}x${plane.height} ${plane.fourcc} ${modifierName(plane.modifier)}`,
    `stride ${plane.stride}`,
    `${plane.size} bytes`,
    plane.mode === 'dmabuf' ? `dma-buf ${plane.dmabufId}` : `region ${plane.regionIndex}`,
  ];
  if (plane.type === 'cursor') parts.push(`at ${plane.x},${plane.y}${plane.hotspot ? `, hotspot ${plane.hotspot.x},${plane.hotspot.y}` : ''}`);
  if (plane.head !== undefined) parts.push(`head ${plane.head} of ${plane.numHeads ?? '?'}, visible from ${plane.srcX ?? 0},${plane.srcY ?? 0}, flip ${plane.flipSeq ?? '?'}`);
  return parts.join(', ');
}

/**
 * A status line. On a terminal it is rewritten in place (and lines printed
 * meanwhile go above it); elsewhere each update is a line of its own, at
 * most one per `everyMs`, so logs stay readable at 60 updates a second.
 */
export class StatusLine {
  readonly #out: Output;
  readonly #tty: boolean;
  readonly #everyMs: number;
  readonly #now: () => number;
  #text = '';
  #printedAt = -Infinity;
  #pending = false;

  constructor(out: Output, options: { tty?: boolean; everyMs?: number; now?: () => number } = {}) {
    this.#out = out;
    // A terminal that cannot move the cursor (TERM=dumb: serial consoles, editors) gets lines.
    this.#tty = options.tty ?? (out.isTTY === true && process.env.TERM !== 'dumb');
    this.#everyMs = options.everyMs ?? 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether the line is rewritten in place (a terminal). */
  get live(): boolean {
    return this.#tty;
  }

  update(text: string): void {
    this.#text = text;
    if (this.#tty) {
      this.#out.write(`\r${text}\x1b[K`);
      return;
    }
    const now = this.#now();
    if (now - this.#printedAt < this.#everyMs) {
      this.#pending = true;
      return;
    }
    this.#printedAt = now;
    this.#pending = false;
    println(this.#out, text);
  }

  /** A line of its own, above the status line. */
  line(text: string): void {
    if (this.#tty) {
      this.#out.write(`\r\x1b[K${text}\n${this.#text}`);
    } else {
      println(this.#out, text);
    }
  }

  /** Ends with the latest status on its own line (printed if it was held back). */
  done(): void {
    if (this.#tty) {
      if (this.#text) this.#out.write('\n');
    } else if (this.#pending) {
      println(this.#out, this.#text);
    }
    this.#pending = false;
  }
}

/** Events per second over the last `windowNs` (default one second). */
export class RateMeter {
  readonly #windowNs: bigint;
  readonly #times: bigint[] = [];

  constructor(windowNs = 1_000_000_000n) {
    this.#windowNs = windowNs;
  }

  add(at: bigint): void {
    this.#times.push(at);
  }

  rate(now: bigint): number {
    while (this.#times.length > 0 && (this.#times[0] ?? now) <= now - this.#windowNs) this.#times.shift();
    return (this.#times.length * 1e9) / Number(this.#windowNs);
  }
}
