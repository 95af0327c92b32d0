#!/usr/bin/env node
// Starts QEMU on a vGPU whose display this process serves.
//
//   node packages/examples/dist/qemu-helper.js --mdev <uuid> [--flip /dev/dri/cardN]
//        [--screenshot DIR] [--stats] -- <QEMU arguments>
//
// The helper opens the vGPU's iommufd cdev and /dev/iommu itself and hands
// both fds to QEMU (i915/GVT-g opens a vGPU only for the process with the
// VM's KVM, so a display tool cannot open it beside QEMU). Once QEMU has
// bound the device, the fd the helper kept answers display queries, and
// serveDisplay() serves them until QEMU exits or the helper is told to stop:
// direct flip onto a host display plane, screenshots, statistics.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Display, FrameConverter, HandoverError, directFlip, encodePng, fitGuestToConnector, modifierName, openCard, openHandover, type Card, type ChangeSource, type PlaneInfo } from 'vfio-display';
import { z } from 'zod';

const USAGE = `usage: qemu-helper --mdev <uuid> [options] -- <QEMU arguments>

Starts QEMU with the vGPU <uuid> handed over as already opened fds
(-object iommufd,fd=3 -device vfio-pci,fd=4,...,display=off) and serves the
vGPU's display until QEMU exits.

  --mdev UUID          the vGPU: an mdev instance (/sys/bus/mdev/devices/UUID)
  --qemu PATH          the QEMU to run (default qemu-system-x86_64); QEMU >= 9.0
  --flip CARD|fd:N     show the guest on a host display, zero-copy: each guest
                       frame is flipped onto CARD's primary plane (/dev/dri/cardN;
                       the helper must be its DRM master: run it from a text
                       console, not under a compositor), or onto a DRM fd the
                       parent passed down as fd N, such as a lease of one output
                       (a supervisor lending one output per VM)
  --connector ID|NAME  with --flip: the output (default: the first connected one)
  --fit HOW            with --flip: auto (default), modeset, center, scale, stretch
  --fit-edid           with --flip: give the guest that output's preferred mode,
                       refresh and size as its monitor (EDID), so it renders at
                       the native size; not rewritten where it has it already
  --screenshot DIR     write the guest's screen to DIR/screen.png once a second
  --stats              print the display's changes: event or timer mode,
                       plane geometry as it changes, changes (or flips) per
                       second, and with --flip the flip latency
  --bind-timeout SEC   how long QEMU may take to bind the vGPU (default 60)
  -h, --help           this text

SIGINT or SIGTERM stops QEMU (forwarded; SIGKILL after 10 s) and the helper.
Exit status: QEMU's (128+N if it died on signal N), 1 if the helper failed,
2 for bad usage.`;

/**
 * QEMU's iommufd backend (`-object iommufd,fd=`, `-device vfio-pci,fd=`)
 * was merged on 2023-12-19, after 8.2.0 was tagged: 9.0 is the first
 * release with it (issue 5 assumed 8.2).
 */
const MIN_QEMU: readonly [number, number] = [9, 0];
const KILL_AFTER_MS = 10_000;

const optionsSchema = z.strictObject({
  mdev: z
    .string({ error: '--mdev <uuid> is required' })
    .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, '--mdev must be an mdev UUID (8-4-4-4-12 hex digits)'),
  qemu: z.string().min(1, '--qemu must name a program').default('qemu-system-x86_64'),
  stats: z.boolean().default(false),
  flip: z
    .string()
    .regex(/^(\/dev\/dri\/card\d+|fd:\d{1,9})$/, '--flip takes a DRM card node such as /dev/dri/card0, or fd:N (a DRM fd passed down, such as a lease)')
    .transform((s) => (s.startsWith('fd:') ? { fd: Number(s.slice(3)) } : s))
    .optional(),
  connector: z.union([z.coerce.number().int().positive(), z.string().min(1)]).optional(),
  fit: z.enum(['auto', 'modeset', 'center', 'scale', 'stretch'], { error: '--fit is auto, modeset, center, scale or stretch' }).default('auto'),
  fitEdid: z.boolean().default(false),
  screenshot: z.string().min(1, '--screenshot takes a directory').optional(),
  bindTimeout: z.coerce.number({ error: '--bind-timeout must be a number of seconds' }).positive('--bind-timeout must be positive').max(3600, '--bind-timeout is at most 3600 s').default(60),
  qemuArgs: z.array(z.string()),
}).refine((o) => o.flip !== undefined || (o.connector === undefined && o.fit === 'auto' && !o.fitEdid), '--connector, --fit and --fit-edid go with --flip');

type HelperOptions = z.infer<typeof optionsSchema>;

/** Bad usage: printed on one line, exit status 2. */
class UsageError extends Error {}

function parseOptions(argv: readonly string[]): HelperOptions | 'help' {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  let values;
  try {
    ({ values } = parseArgs({
      args: [...own],
      options: {
        mdev: { type: 'string' },
        qemu: { type: 'string' },
        stats: { type: 'boolean' },
        flip: { type: 'string' },
        connector: { type: 'string' },
        fit: { type: 'string' },
        'fit-edid': { type: 'boolean' },
        screenshot: { type: 'string' },
        'bind-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    // parseArgs explains itself ("Unknown option '--x'. To specify a positional argument ...").
    throw new UsageError((err as Error).message.split('. ')[0] ?? 'bad arguments');
  }
  if (values.help) return 'help';
  const result = optionsSchema.safeParse({
    mdev: values.mdev,
    qemu: values.qemu,
    stats: values.stats,
    flip: values.flip,
    connector: values.connector !== undefined && /^\d+$/.test(values.connector) ? Number(values.connector) : values.connector,
    fit: values.fit,
    fitEdid: values['fit-edid'],
    screenshot: values.screenshot,
    bindTimeout: values['bind-timeout'],
    qemuArgs: split < 0 ? [] : argv.slice(split + 1),
  });
  if (!result.success) throw new UsageError(result.error.issues.map((i) => i.message).join('; '));
  return result.data;
}

/** The version `qemu --version` reports, as [major, minor, patch]. */
function parseQemuVersion(text: string): [number, number, number] | null {
  const m = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : null;
}

/** Checks that `qemu` runs and can take the fds; returns its version string. */
function checkQemu(qemu: string): string {
  let text: string;
  try {
    text = execFileSync(qemu, ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot run ${qemu} --version${code === 'ENOENT' ? ': not found (give its path with --qemu)' : `: ${(err as Error).message.split('\n')[0] ?? ''}`}`);
  }
  const version = parseQemuVersion(text);
  if (version === null) throw new Error(`${qemu} --version does not say which QEMU it is: ${JSON.stringify(text.split('\n')[0])}`);
  const [major, minor] = version;
  if (major < MIN_QEMU[0] || (major === MIN_QEMU[0] && minor < MIN_QEMU[1])) {
    throw new Error(`QEMU ${version.join('.')} is too old: handing it the vGPU's fds needs QEMU >= ${MIN_QEMU.join('.')} (-object iommufd,fd= and -device vfio-pci,fd=)`);
  }
  return version.join('.');
}

function note(message: string): void {
  process.stderr.write(`qemu-helper: ${message}\n`);
}

function geometry(plane: PlaneInfo | null): string {
  if (plane === null) return 'none';
  const where = plane.mode === 'dmabuf' ? `dma-buf ${plane.dmabufId}` : `region ${plane.regionIndex}`;
  return `${plane.width}x${plane.height} ${plane.fourcc} ${modifierName(plane.modifier)} stride ${plane.stride} (${where})`;
}

/** --stats: the plane geometry as it changes, and the rate at most once a second. */
class Stats {
  readonly #start = performance.now();
  readonly #what: string;
  #total = 0;
  #windowStart = this.#start;
  #windowCount = 0;
  #primary: PlaneInfo | null | undefined;
  #cursorShown = false;

  /** `what`: "changes", or "flips" under --flip (a commit each). */
  constructor(source: ChangeSource, what: string) {
    this.#what = what;
    console.log(
      source === 'event'
        ? 'display: event mode (the kernel signals display changes; no timer runs)'
        : 'display: timer mode (the kernel signals no display changes; polling every 16 ms)',
    );
  }

  record(primary: PlaneInfo | null, cursor: PlaneInfo | null): void {
    this.#total++;
    this.#windowCount++;
    if (this.#primary === undefined || geometry(primary) !== geometry(this.#primary)) {
      if (this.#primary === undefined || primary === null || this.#primary === null || primary.width !== this.#primary.width || primary.height !== this.#primary.height || primary.drmFormat !== this.#primary.drmFormat) {
        console.log(`primary: ${geometry(primary)}`);
      }
      this.#primary = primary;
    }
    if ((cursor !== null) !== this.#cursorShown) {
      this.#cursorShown = cursor !== null;
      console.log(`cursor: ${geometry(cursor)}`);
    }
    const now = performance.now();
    if (now - this.#windowStart >= 1000) {
      const seconds = (now - this.#windowStart) / 1000;
      console.log(`${this.#what}: ${this.#windowCount} in ${seconds.toFixed(1)} s (${(this.#windowCount / seconds).toFixed(1)}/s), ${this.#total} in all`);
      this.#windowStart = now;
      this.#windowCount = 0;
    }
  }

  summary(): void {
    const seconds = (performance.now() - this.#start) / 1000;
    console.log(`${this.#what}: ${this.#total} in ${seconds.toFixed(1)} s (${(this.#total / seconds).toFixed(2)}/s)`);
  }
}

/** --screenshot: the guest's primary plane as DIR/screen.png, replaced once a second. */
class Screenshots implements Disposable {
  readonly #display: Display;
  readonly #dir: string;
  readonly #converter = new FrameConverter();
  readonly #timer: NodeJS.Timeout;
  #written = 0;
  #failed = false;

  constructor(display: Display, dir: string) {
    this.#display = display;
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
    this.#timer = setInterval(() => {
      this.#shoot();
    }, 1000);
  }

  #shoot(): void {
    if (this.#failed) return;
    try {
      const plane = this.#display.query('primary');
      if (plane === null) return;
      let bytes: Uint8Array;
      if (plane.mode === 'dmabuf') {
        using map = this.#display.dmabuf(plane).map();
        map.begin('read');
        try {
          bytes = this.#converter.convert({ ...plane, bytes: map.bytes }).data.slice();
        } finally {
          map.end('read');
        }
      } else {
        bytes = this.#converter.convert({ ...plane, bytes: this.#display.regionBytes(plane) }).data.slice();
      }
      const tmp = join(this.#dir, '.screen.png.tmp');
      writeFileSync(tmp, encodePng({ width: plane.width, height: plane.height, data: bytes }));
      renameSync(tmp, join(this.#dir, 'screen.png'));
      if (this.#written++ === 0) note(`screenshots: ${join(this.#dir, 'screen.png')} (${plane.width}x${plane.height}), replaced once a second`);
    } catch (err) {
      // One line, once: e.g. a stock 6.12 mbochs dma-buf cannot be mapped.
      this.#failed = true;
      note(`screenshots stopped: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }
}

interface ServeOptions {
  readonly stats: boolean;
  readonly connector?: number | string | undefined;
  readonly fit: 'auto' | 'modeset' | 'center' | 'scale' | 'stretch';
  readonly fitEdid: boolean;
  readonly screenshot?: string | undefined;
}

/**
 * Serves the display of a bound vGPU until `signal` aborts. The changes are
 * taken from one stream: directFlip's (--flip) or the display's own.
 */
async function serveDisplay(display: Display, card: Card | undefined, options: ServeOptions, signal: AbortSignal): Promise<void> {
  const shots = options.screenshot === undefined ? undefined : new Screenshots(display, options.screenshot);
  try {
    if (card !== undefined) {
      const flip = directFlip(display, card, { signal, fit: options.fit, connectorId: options.connector === undefined ? undefined : card.findConnector(options.connector).id });
      const o = flip.output;
      note(`direct flip onto ${card.path} (${card.driver.name}): ${o.connectorName}, CRTC ${o.crtcId}, plane ${o.planeId}, ${flip.stats.flipper === 'kernel' ? 'each guest flip committed by the kernel (a lease of the CRTC and plane)' : 'each guest flip committed by this helper'}`);
      if (options.fitEdid) {
        const fit = await fitGuestToConnector(display, card, o.connectorId);
        note(`guest monitor "${fit.name}" serial ${fit.serial}: ${fit.mode.width}x${fit.mode.height}@${fit.mode.refresh}${fit.written ? '' : ' (it had it already)'}`);
      }
      let stats: Stats | undefined;
      try {
        for await (const frame of flip) {
          stats ??= options.stats ? new Stats(frame.source, 'flips') : undefined;
          stats?.record(frame.primary, frame.cursor);
        }
      } finally {
        if (options.stats) {
          stats?.summary();
          const s = flip.stats;
          const how = s.kernel ? `by the kernel, ${s.kernel.state}, flip_seq ${s.kernel.flipSeq}` : `latency p50 ${s.latency.p50Ms.toFixed(1)} ms p99 ${s.latency.p99Ms.toFixed(1)} ms`;
          console.log(`flip: ${s.frames} frames, ${s.dropped} dropped, ${s.modesets} modesets, ${how}`);
        }
      }
    } else if (options.stats) {
      const changes = display.changes({ signal });
      const stats = new Stats(changes.source, 'changes');
      try {
        for await (const change of changes) stats.record(change.primary, change.cursor);
      } finally {
        stats.summary();
      }
    } else if (!signal.aborted) {
      await once(signal, 'abort');
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    shots?.[Symbol.dispose]();
  }
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** QEMU's exit as an exit status: its code, or 128 + the signal's number. */
function exitStatus(exit: Exit): number {
  if (exit.code !== null) return exit.code;
  return 128 + (exit.signal === null ? 0 : constants.signals[exit.signal]);
}

/** Resolves when `child` has exited, or at once if it never started (spawn's 'error'). */
function exitOf(child: ChildProcess): Promise<Exit | null> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
    child.once('error', () => {
      if (child.pid === undefined) resolve(null);
    });
  });
}

/** Stops QEMU: `signal`, then SIGKILL after KILL_AFTER_MS. Resolves when it has exited. */
async function stopQemu(qemu: ChildProcess, exited: Promise<Exit | null>, signal: NodeJS.Signals): Promise<Exit | null> {
  if (qemu.pid === undefined) return exited;
  if (qemu.exitCode === null && qemu.signalCode === null) qemu.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(resolve, KILL_AFTER_MS, 'late');
  });
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (first !== 'late') return first;
  note(`QEMU did not exit within ${KILL_AFTER_MS / 1000} s of ${signal}; killing it`);
  qemu.kill('SIGKILL');
  return exited;
}

/** SIGINT/SIGTERM: the first aborts `signal` (the caller stops QEMU with it), a second kills QEMU. */
class StopSignals implements Disposable {
  readonly #stop = new AbortController();
  /** The signal to forward to QEMU. */
  received: NodeJS.Signals = 'SIGTERM';
  qemu: ChildProcess | undefined;

  constructor() {
    process.on('SIGINT', this.#on).on('SIGTERM', this.#on);
  }

  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  readonly #on = (signal: NodeJS.Signals): void => {
    if (this.#stop.signal.aborted) {
      note(`${signal} again: killing QEMU`);
      this.qemu?.kill('SIGKILL');
      return;
    }
    note(`${signal}: stopping QEMU`);
    this.received = signal;
    this.#stop.abort(new Error(`stopped by ${signal}`));
  };

  [Symbol.dispose](): void {
    process.off('SIGINT', this.#on).off('SIGTERM', this.#on);
  }
}

async function run(options: HelperOptions): Promise<number> {
  const version = checkQemu(options.qemu);
  // The card first: a bad one fails before QEMU starts, and a DRM fd handed
  // down (a lease) is closed once the card has its own (close-on-exec) copy,
  // so QEMU does not inherit it and keep the output after the helper ends.
  using card = options.flip === undefined ? undefined : openCard(options.flip);
  if (typeof options.flip === 'object') closeSync(options.flip.fd);
  using handover = openHandover(options.mdev);
  // Installed before QEMU starts, so no signal can end the helper and leave QEMU behind.
  using stop = new StopSignals();
  const qemu = spawn(options.qemu, [...handover.qemuArgs(), ...options.qemuArgs], { stdio: handover.stdio('inherit', 'inherit', 'pipe') });
  stop.qemu = qemu;
  const exited = exitOf(qemu);
  const stderrDone = qemu.stderr ? once(createInterface({ input: qemu.stderr }).on('line', (line) => process.stderr.write(`qemu: ${line}\n`)), 'close') : Promise.resolve();
  const gone = new AbortController();
  void exited.then(() => {
    gone.abort(new Error('QEMU exited'));
  });

  let failed = false;
  try {
    note(`QEMU ${version} (pid ${String(qemu.pid)}) gets ${handover.uuid} (${handover.cdev}); waiting for it to bind the vGPU`);
    const device = await handover.waitBound({ child: qemu, signal: stop.signal, timeoutMs: options.bindTimeout * 1000 });
    using display = new Display(device);
    note(`QEMU bound ${handover.uuid}; serving its display (${display.features.planes} planes)`);
    await serveDisplay(display, card, options, AbortSignal.any([stop.signal, gone.signal]));
  } catch (err) {
    // A stop during the wait is no failure; anything else is, unless QEMU's own exit says more.
    if (err !== stop.signal.reason) {
      failed = !(err instanceof HandoverError && err.failure === 'exited');
      note(err instanceof Error ? err.message : String(err));
    }
  }
  const exit = await stopQemu(qemu, exited, stop.received);
  await stderrDone;
  if (exit === null) return 1;
  note(`QEMU exited ${exit.signal === null ? `with status ${String(exit.code)}` : `on ${exit.signal}`}`);
  // QEMU's status tells how the VM ended; the helper's own failure shows where QEMU ended cleanly.
  const status = exitStatus(exit);
  return status === 0 && failed ? 1 : status;
}

async function main(): Promise<void> {
  let options: HelperOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`qemu-helper: ${err.message} (see --help)\n`);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  try {
    process.exitCode = await run(options);
  } catch (err) {
    note(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}

await main();
