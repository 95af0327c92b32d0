// Display changes as an async iterator. Without a change notification from
// the kernel (upstream has none), the planes are polled on a timer; the
// kernel-patches series adds an eventfd, and the iterator then waits on it
// instead (events.ts). Either way a change is yielded only when a query
// answer differs from the last one yielded: the API is the same in both
// modes, and says which is in use.
import { setTimeout as sleep } from 'node:timers/promises';
import { diffPlanes, type PlaneInfo, type PlaneType } from './plane.js';

export type ChangeSource = 'event' | 'timer';

export interface DisplayChange {
  /** Counts the changes this iterator yielded, from 1. */
  readonly seq: number;
  readonly source: ChangeSource;
  readonly primary: PlaneInfo | null;
  readonly cursor: PlaneInfo | null;
  /** What differs from the previous change (everything on the first). */
  readonly changed: { readonly primary: boolean; readonly cursor: boolean; readonly mode: boolean };
  /**
   * Event mode: the signals since the previous change, per kind where the
   * kernel reports kinds (else under `any`); null in timer mode and on the
   * first change.
   */
  readonly events: EventCounts | null;
  /** process.hrtime.bigint() when the change was seen. */
  readonly seenAt: bigint;
}

export interface EventCounts {
  primary: number;
  cursor: number;
  mode: number;
  any: number;
}

export interface ChangesOptions {
  readonly signal?: AbortSignal;
  /** Timer mode: milliseconds between polls (default 16). */
  readonly periodMs?: number;
  /** 'auto' (default): events where the kernel signals changes, else the timer. */
  readonly mode?: 'auto' | 'event' | 'timer';
  /** Keep the process alive while waiting (default true: the caller is waiting for it). */
  readonly keepAlive?: boolean;
  /**
   * Event mode: the kinds of change to wake up for (default all). Where the
   * kernel signals kinds apart (the display capability), the others get no
   * eventfd and cost no wake-up: a kernel flip needs only 'mode'.
   */
  readonly kinds?: readonly (keyof Omit<EventCounts, 'any'>)[];
  /**
   * Yield on every poll, changed or not (then `changed` is all false): a
   * region plane's bytes change with no sign in the query's answer. Polls,
   * so mode 'auto' means the timer.
   */
  readonly everyPoll?: boolean;
}

export interface ChangeStream extends AsyncGenerator<DisplayChange, void, undefined> {
  /** 'event' where the kernel signals changes, 'timer' where the planes are polled. */
  readonly source: ChangeSource;
}

export type QueryPlane = (type: PlaneType) => PlaneInfo | null;

type Changed = DisplayChange['changed'];

/**
 * What differs from the last change a stream yielded (everything on the
 * first), or null if nothing does: both modes yield changes only.
 */
export function changeSince(last: { primary: PlaneInfo | null; cursor: PlaneInfo | null } | undefined, primary: PlaneInfo | null, cursor: PlaneInfo | null): Changed | null {
  if (!last) return { primary: true, cursor: true, mode: true };
  const p = diffPlanes(last.primary, primary);
  const c = diffPlanes(last.cursor, cursor);
  return p.any || c.any ? { primary: p.any, cursor: c.any, mode: p.layout } : null;
}

const unchanged: Changed = { primary: false, cursor: false, mode: false };

/**
 * The one loop of both modes: queries the planes, yields what changed since
 * the last change yielded (the first time, the current state; with
 * `everyPoll`, also what did not), then waits for `wake`, which resolves
 * with the kernel's signals (event mode) or null (timer mode).
 */
export async function* planeChanges(
  source: ChangeSource,
  query: QueryPlane,
  withCursor: boolean,
  signal: AbortSignal | undefined,
  wake: () => Promise<EventCounts | null>,
  everyPoll = false,
): AsyncGenerator<DisplayChange> {
  let seq = 0;
  let last: { primary: PlaneInfo | null; cursor: PlaneInfo | null } | undefined;
  let events: EventCounts | null = null;
  for (;;) {
    signal?.throwIfAborted();
    const primary = query('primary');
    const cursor = withCursor ? query('cursor') : null;
    const changed = changeSince(last, primary, cursor) ?? (everyPoll ? unchanged : null);
    if (changed) {
      yield { seq: ++seq, source, primary, cursor, changed, events, seenAt: process.hrtime.bigint() };
      last = { primary, cursor };
      events = null;
    }
    const counts = await wake();
    if (counts) events = events ? { primary: events.primary + counts.primary, cursor: events.cursor + counts.cursor, mode: events.mode + counts.mode, any: events.any + counts.any } : counts;
  }
}

/**
 * Polls `query` every `periodMs` and yields when an answer changed; the
 * first iteration yields the current state. `withCursor` is false for
 * region-mode devices, whose drivers answer only for the primary plane.
 */
export function pollChanges(query: QueryPlane, withCursor: boolean, options: ChangesOptions): AsyncGenerator<DisplayChange> {
  const { signal, periodMs = 16, keepAlive = true, everyPoll = false } = options;
  return planeChanges('timer', query, withCursor, signal, async () => {
    try {
      await sleep(periodMs, undefined, signal ? { signal, ref: keepAlive } : { ref: keepAlive });
    } catch (err) {
      // The timer rejects with an AbortError of its own: end with the signal's reason, as event mode does.
      signal?.throwIfAborted();
      throw err;
    }
    return null;
  }, everyPoll);
}
