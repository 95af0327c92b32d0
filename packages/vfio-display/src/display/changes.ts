// Display changes as an async iterator. Without a change notification from
// the kernel (upstream has none), the planes are polled on a timer and a
// change is yielded only when a query answer differs; the kernel-patches
// series adds an eventfd, and the iterator then waits on it instead. The
// API is the same in both modes, and says which is in use.
import { setTimeout as sleep } from 'node:timers/promises';
import type { PlaneInfo, PlaneType } from './plane.js';

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
}

export interface ChangeStream extends AsyncGenerator<DisplayChange, void, undefined> {
  /** 'event' where the kernel signals changes, 'timer' where the planes are polled. */
  readonly source: ChangeSource;
}

export type QueryPlane = (type: PlaneType) => PlaneInfo | null;

/** What names the plane's buffer: "dmabuf 3", "region 16". */
const bufferId = (p: PlaneInfo): string => `${p.mode} ${p.mode === 'dmabuf' ? p.dmabufId : p.regionIndex}`;

/** Same buffer and geometry (what a consumer has to react to). */
export function samePlane(a: PlaneInfo | null, b: PlaneInfo | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.drmFormat === b.drmFormat &&
    a.modifier === b.modifier &&
    a.width === b.width &&
    a.height === b.height &&
    a.stride === b.stride &&
    a.size === b.size &&
    a.x === b.x &&
    a.y === b.y &&
    a.hotspot?.x === b.hotspot?.x &&
    a.hotspot?.y === b.hotspot?.y &&
    bufferId(a) === bufferId(b)
  );
}

export function sameMode(a: PlaneInfo | null, b: PlaneInfo | null): boolean {
  if (a === null || b === null) return a === b;
  return a.drmFormat === b.drmFormat && a.modifier === b.modifier && a.width === b.width && a.height === b.height && a.stride === b.stride;
}

/**
 * Polls `query` every `periodMs` and yields when an answer changed; the
 * first iteration yields the current state. `withCursor` is false for
 * region-mode devices, whose drivers answer only for the primary plane.
 */
export async function* pollChanges(query: QueryPlane, withCursor: boolean, options: ChangesOptions): AsyncGenerator<DisplayChange> {
  const { signal, periodMs = 16, keepAlive = true } = options;
  let seq = 0;
  let primary: PlaneInfo | null | undefined;
  let cursor: PlaneInfo | null | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const p = query('primary');
    const c = withCursor ? query('cursor') : null;
    const changed = { primary: primary === undefined || !samePlane(primary, p), cursor: cursor === undefined || !samePlane(cursor, c), mode: primary === undefined || !sameMode(primary, p) };
    if (changed.primary || changed.cursor) {
      primary = p;
      cursor = c;
      yield { seq: ++seq, source: 'timer', primary: p, cursor: c, changed, events: null, seenAt: process.hrtime.bigint() };
    }
    try {
      await sleep(periodMs, undefined, signal ? { signal, ref: keepAlive } : { ref: keepAlive });
    } catch (err) {
      // The timer rejects with an AbortError of its own: end with the signal's reason, as event mode does.
      signal?.throwIfAborted();
      throw err;
    }
  }
}
