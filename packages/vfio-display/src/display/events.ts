// Display changes from the kernel's display change IRQ (kernel-patches):
// one eventfd per IRQ of the index — with the display capability, IRQ n
// signals the changes of bit n (primary, cursor, mode). The IRQ has one set
// of eventfds per device, so a Display keeps one subscription (ChangeHub)
// and fans its signals out to every stream: a directFlip and a watcher run
// on one display together. The hub registers eventfds only for the kinds
// some stream wants, so a kernel flip's stream (mode only) is not woken by
// the guest's flips.
import type { IrqInfo, VfioDevice } from '../device/device.js';
import { ClosedError } from '../errors.js';
import { EventFd } from '../eventfd.js';
import * as ext from '../uapi/vfio-ext.js';
import { abortReason } from '../wait.js';
import { planeChanges, type ChangesOptions, type DisplayChange, type EventCounts, type QueryPlane } from './changes.js';

type Kind = keyof EventCounts;

const KINDS = [
  ['primary', ext.VFIO_IRQ_DISPLAY_PRIMARY],
  ['cursor', ext.VFIO_IRQ_DISPLAY_CURSOR],
  ['mode', ext.VFIO_IRQ_DISPLAY_MODE],
] as const;

/** What each IRQ of a display change index signals: a kind, or (without the capability) anything. */
function displayIrqKinds(irq: IrqInfo): Kind[] {
  const cap = irq.capabilities.find((c) => c.kind === 'display');
  if (!cap) return ['any'];
  return KINDS.slice(0, irq.count).map(([kind, bit]) => ((cap.events & bit) !== 0 ? kind : 'any'));
}

const noCounts = (): EventCounts => ({ primary: 0, cursor: 0, mode: 0, any: 0 });

/** One stream's share of the hub: the signals since it last took them, and its wait for the next. */
class Subscription {
  readonly wanted: readonly Kind[] | undefined;
  readonly keepAlive: boolean;
  #counts = noCounts();
  #error: Error | undefined;
  #waiter: { resolve: (counts: EventCounts) => void; reject: (err: Error) => void } | undefined;

  constructor(wanted: readonly Kind[] | undefined, keepAlive: boolean) {
    this.wanted = wanted;
    this.keepAlive = keepAlive;
  }

  wants(kind: Kind): boolean {
    return kind === 'any' || this.wanted === undefined || this.wanted.includes(kind);
  }

  #due(): boolean {
    return (Object.keys(this.#counts) as Kind[]).some((kind) => this.#counts[kind] > 0 && this.wants(kind));
  }

  #take(): EventCounts {
    const counts = this.#counts;
    this.#counts = noCounts();
    return counts;
  }

  deliver(counts: EventCounts): void {
    for (const kind of Object.keys(counts) as Kind[]) this.#counts[kind] += counts[kind];
    if (this.#waiter && this.#due()) {
      this.#waiter.resolve(this.#take());
      this.#waiter = undefined;
    }
  }

  fail(err: Error): void {
    this.#error ??= err;
    this.#waiter?.reject(err);
    this.#waiter = undefined;
  }

  /** Resolves with the signals (of every kind) since the last call, once one of a wanted kind came. */
  next(signal: AbortSignal | undefined): Promise<EventCounts> {
    if (this.#error) return Promise.reject(this.#error);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#due()) return Promise.resolve(this.#take());
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiter = undefined;
        reject(abortReason(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        resolve: (counts) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(counts);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
    });
  }
}

/** The display change IRQ of one device: one set of eventfds, waited on once, shared by every stream. */
export class ChangeHub {
  readonly #device: VfioDevice;
  readonly #irq: IrqInfo;
  readonly #kinds: Kind[];
  readonly #subscriptions = new Set<Subscription>();
  /** One per IRQ of the index, null where no stream wants its kind. */
  #eventfds: (EventFd | null)[];
  /** Ends the current wait (a re-registration, the last stream gone). */
  #round: AbortController | undefined;

  constructor(device: VfioDevice, irq: IrqInfo) {
    this.#device = device;
    this.#irq = irq;
    this.#kinds = displayIrqKinds(irq);
    this.#eventfds = this.#kinds.map(() => null);
  }

  /** Display changes of this device for one stream (see Display.changes()). */
  async *changes(query: QueryPlane, withCursor: boolean, options: ChangesOptions): AsyncGenerator<DisplayChange> {
    const { signal, keepAlive = true, kinds } = options;
    const subscription = new Subscription(kinds, keepAlive);
    this.#subscriptions.add(subscription);
    try {
      this.#register();
      // Masks outlive streams (kernel-patches' mbochs keeps them until the device is
      // closed): one left by pauseChanges() or by another holder of the device
      // fd would silence this stream for good.
      this.#device.setIrqs({ index: this.#irq.index, action: 'unmask', data: 'none', count: this.#irq.count });
      yield* planeChanges('event', query, withCursor, signal, () => subscription.next(signal));
    } finally {
      this.#subscriptions.delete(subscription);
      this.#register();
    }
  }

  /** Ends every stream with ClosedError and lets the IRQ go (the display is closing). */
  close(): void {
    const err = new ClosedError(`display change IRQ of ${this.#device.name}`);
    for (const s of this.#subscriptions) s.fail(err);
    this.#subscriptions.clear();
    this.#register();
  }

  /**
   * Gives the kernel eventfds for the kinds the streams want now (none once
   * the last has gone) and restarts the wait on them. Eventfds kept keep
   * their counters, so no signal is lost across a re-registration.
   */
  #register(): void {
    const subscriptions = [...this.#subscriptions];
    const wanted = this.#kinds.map((kind) => subscriptions.some((s) => s.wants(kind)));
    const unchanged = wanted.every((w, i) => w === (this.#eventfds[i] !== null));
    this.#round?.abort();
    this.#round = undefined;
    if (!unchanged) {
      const previous = this.#eventfds;
      this.#eventfds = wanted.map((w, i) => (w ? (previous[i] ?? new EventFd(`display change IRQ ${this.#irq.index}.${i} (${this.#kinds[i] ?? 'any'})`)) : null));
      try {
        if (!this.#device.closed) {
          const any = this.#eventfds.some((efd) => efd !== null);
          this.#device.setIrqs(any ? { index: this.#irq.index, action: 'trigger', data: this.#eventfds.map((efd) => efd ?? -1) } : { index: this.#irq.index, action: 'trigger', data: 'none', count: 0 });
        }
      } catch (err) {
        // Going away (hot-unplug) when none is left; else the streams hear of it.
        if (subscriptions.length > 0) throw err;
      } finally {
        for (const [i, efd] of previous.entries()) if (efd && efd !== this.#eventfds[i]) efd.close();
      }
    }
    if (subscriptions.length > 0) void this.#wait(subscriptions.some((s) => s.keepAlive));
  }

  /** One round of waiting: until an eventfd fires (then hands its counts to every stream and waits again) or the round ends. */
  async #wait(keepAlive: boolean): Promise<void> {
    const round = new AbortController();
    this.#round = round;
    const eventfds = this.#eventfds;
    try {
      while (!round.signal.aborted) {
        // One poll per fd at a time (libuv): the waits that did not fire end with the race.
        const race = new AbortController();
        const endRace = (): void => {
          race.abort();
        };
        round.signal.addEventListener('abort', endRace, { once: true });
        try {
          await Promise.race(eventfds.flatMap((efd) => (efd ? [efd.wait({ signal: race.signal, keepAlive })] : [])));
        } finally {
          round.signal.removeEventListener('abort', endRace);
          race.abort();
        }
        const counts = noCounts();
        eventfds.forEach((efd, i) => {
          // One closed by a re-registration in the meantime keeps its signals for nobody.
          if (efd && !efd.closed) counts[this.#kinds[i] ?? 'any'] += Number(efd.read());
        });
        for (const s of this.#subscriptions) s.deliver(counts);
      }
    } catch (err) {
      if (round.signal.aborted) return;
      for (const s of this.#subscriptions) s.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      round.abort();
    }
  }
}
