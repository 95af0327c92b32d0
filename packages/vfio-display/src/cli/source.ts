// How watch and flip notice display changes: --source and --interval, and
// the line that says which mode is in use and why.
import type { ChangeSource } from '../display/changes.js';
import type { Z } from '../validate.js';
import type { OptionSpec } from './args.js';

export type SourceChoice = 'auto' | 'event' | 'timer';

export const SOURCE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  source: {
    type: 'string',
    value: 'auto|event|timer',
    help: 'how changes are noticed: the kernel\'s display change events where it has them (auto, the default), only events (fails on kernels without them), or polling',
  },
  interval: { type: 'string', value: 'MS', help: 'timer mode: milliseconds between polls (default 16)' },
};

/** A whole number from min to max, given as a word. */
export const intWord = (z: Z, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

export const sourceSchema = (z: Z) => ({ source: z.enum(['auto', 'event', 'timer']).optional(), interval: intWord(z, 1, 60_000).optional() });

/** "event mode: ..." or "timer mode: ...": the mode in use, and why. */
export function sourceText(source: ChangeSource, asked: SourceChoice, intervalMs: number): string {
  if (source === 'event') return 'event mode: the kernel signals each change, nothing polls';
  const why = asked === 'timer' ? 'as asked' : 'the device has no display change IRQ (kernel-patches/ adds one to mbochs)';
  return `timer mode: polling every ${intervalMs} ms, ${why}`;
}
