// vfio-display watch <dev>: display changes as they happen. A status line
// (mode, fps, flips, mode and cursor changes) or, with --json, one JSON line
// per change. Runs until Ctrl-C (status 0) or --count changes.
import type { ChangeSource, DisplayChange } from '../display/changes.js';
import { DEV_HELP, type Command } from './args.js';
import { devName, devSchema, openDisplayOf, type DevArg } from './device.js';
import { describePlane, println, RateMeter, StatusLine } from './output.js';
import { watchLineSchema, type WatchLine } from './schemas.js';
import { intWord, SOURCE_OPTIONS, sourceSchema, sourceText, type SourceChoice } from './source.js';

/** The counts a watch keeps: what each change was. */
export class WatchTally {
  flips = 0;
  modeChanges = 0;
  cursorChanges = 0;
  readonly #rate = new RateMeter();

  /** Counts a change (the first one is the state at the start: nothing to count). */
  add(change: DisplayChange): void {
    if (change.seq === 1) return;
    if (change.changed.mode) {
      this.modeChanges++;
    } else if (change.changed.primary && change.primary !== null) {
      this.flips++;
      this.#rate.add(change.seenAt);
    }
    if (change.changed.cursor) this.cursorChanges++;
  }

  fps(now: bigint): number {
    return this.#rate.rate(now);
  }

  line(change: DisplayChange, now: bigint): WatchLine {
    return { change, flips: this.flips, modeChanges: this.modeChanges, cursorChanges: this.cursorChanges, fps: this.fps(now) };
  }

  status(source: ChangeSource, now: bigint): string {
    return `${source}: ${this.fps(now).toFixed(1)} fps, ${this.flips} flips, ${this.modeChanges} mode changes, ${this.cursorChanges} cursor changes`;
  }
}

interface WatchArgs {
  dev: DevArg;
  json?: boolean | undefined;
  source?: SourceChoice | undefined;
  interval?: number | undefined;
  count?: number | undefined;
}

export const watch: Command<WatchArgs> = {
  name: 'watch',
  summary: 'follow display changes live: fps, flips, mode changes, event or timer mode (--json: a line per change)',
  synopsis: '<dev> [--json]',
  positionals: [['dev', DEV_HELP]],
  options: {
    json: { type: 'boolean', help: 'a JSON line per change, checked against watchLineSchema (vfio-display/cli-schemas)' },
    ...SOURCE_OPTIONS,
    count: { type: 'string', value: 'N', help: 'stop after N changes (the first is the state at the start)' },
  },
  notes: [
    'Each JSON line is { change, flips, modeChanges, cursorChanges, fps }: change is a DisplayChange (seq, source "event"|"timer", primary, cursor, changed, events, seenAt) with 64-bit values as strings, as in planes --json. Ctrl-C ends it with status 0.',
  ],
  schema: (z) => z.strictObject({ dev: devSchema(z), json: z.boolean().optional(), ...sourceSchema(z), count: intWord(z, 1, 1e9).optional() }),
  async run({ dev, json, source = 'auto', interval = 16, count }, io) {
    const signal = io.interruptSignal();
    using display = openDisplayOf(dev);
    const stream = display.changes({ mode: source, periodMs: interval, signal });
    const tally = new WatchTally();
    const status = new StatusLine(io.stdout);
    if (json !== true) println(io.stdout, `watching ${devName(dev)}: ${sourceText(stream.source, source, interval)}`);
    // On a terminal the fps shown decays while nothing changes.
    const ticker = json === true || !status.live ? undefined : setInterval(() => {
            status.update(tally.status(stream.source, process.hrtime.bigint()));
          }, 1000).unref();
    let seen = 0;
    try {
      for await (const change of stream) {
        tally.add(change);
        const now = process.hrtime.bigint();
        if (json === true) {
          println(io.stdout, JSON.stringify(watchLineSchema().encode(tally.line(change, now))));
        } else {
          if (change.changed.mode) status.line(`${change.seq === 1 ? 'primary' : 'mode change: primary'} ${describePlane(change.primary)}`);
          if (change.seq === 1 && change.cursor) status.line(`cursor ${describePlane(change.cursor)}`);
          status.update(tally.status(stream.source, now));
        }
        if (count !== undefined && ++seen >= count) break;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      clearInterval(ticker);
      status.done();
    }
  },
};
