// Display changes from the kernel's display change IRQ (kernel-patches):
// one eventfd per IRQ of the index — with the display capability, IRQ n
// signals the changes of bit n (primary, cursor, mode) — waited on
// together; each wake-up re-queries the planes and says what fired.
import type { IrqInfo, VfioDevice } from '../device/device.js';
import { EventFd } from '../eventfd.js';
import * as ext from '../uapi/vfio-ext.js';
import { samePlane, sameMode, type ChangesOptions, type DisplayChange, type EventCounts, type QueryPlane } from './changes.js';
import type { PlaneInfo } from './plane.js';

const KINDS = [
  ['primary', ext.VFIO_IRQ_DISPLAY_PRIMARY],
  ['cursor', ext.VFIO_IRQ_DISPLAY_CURSOR],
  ['mode', ext.VFIO_IRQ_DISPLAY_MODE],
] as const;

/** What each IRQ of a display change index signals: a kind, or (without the capability) anything. */
export function displayIrqKinds(irq: IrqInfo): (keyof EventCounts | 'any')[] {
  const cap = irq.capabilities.find((c) => c.kind === 'display');
  if (!cap) return ['any'];
  return KINDS.slice(0, irq.count).map(([kind, bit]) => ((cap.events & bit) !== 0 ? kind : 'any'));
}

export async function* eventChanges(
  device: VfioDevice,
  irq: IrqInfo,
  query: QueryPlane,
  withCursor: boolean,
  options: ChangesOptions,
): AsyncGenerator<DisplayChange> {
  const { signal, keepAlive = true, kinds: wanted } = options;
  const kinds = displayIrqKinds(irq);
  // IRQs of kinds the caller does not want get no eventfd, so they wake nobody.
  const eventfds = kinds.map((kind, i) => (wanted === undefined || kind === 'any' || wanted.includes(kind) ? new EventFd(`display change IRQ ${irq.index}.${i} (${kind})`) : null));
  try {
    device.setIrqs({ index: irq.index, action: 'trigger', data: eventfds.map((efd) => efd ?? -1) });
    // Masks outlive streams (kernel-patches' mbochs keeps them until the device is
    // closed): one left by pauseChanges() or by another holder of the device
    // fd would silence this stream for good.
    device.setIrqs({ index: irq.index, action: 'unmask', data: 'none', count: irq.count });
    let seq = 0;
    let primary: PlaneInfo | null = null;
    let cursor: PlaneInfo | null = null;
    let counts: EventCounts | null = null;
    for (;;) {
      signal?.throwIfAborted();
      const p = query('primary');
      const c = withCursor ? query('cursor') : null;
      const first = seq === 0;
      yield {
        seq: ++seq,
        source: 'event',
        primary: p,
        cursor: c,
        changed: { primary: first || !samePlane(primary, p), cursor: first || !samePlane(cursor, c), mode: first || !sameMode(primary, p) },
        events: counts,
        seenAt: process.hrtime.bigint(),
      };
      primary = p;
      cursor = c;
      counts = await waitAny(eventfds, kinds, signal, keepAlive);
    }
  } finally {
    if (!device.closed) {
      try {
        device.setIrqs({ index: irq.index, action: 'trigger', data: 'none', count: 0 });
      } catch {
        // The device may be going away (hot-unplug); the eventfds close below either way.
      }
    }
    for (const efd of eventfds) efd?.close();
  }
}

/** Waits until one eventfd fires, then reads (and resets) them all. */
async function waitAny(eventfds: (EventFd | null)[], kinds: (keyof EventCounts | 'any')[], signal: AbortSignal | undefined, keepAlive: boolean): Promise<EventCounts> {
  signal?.throwIfAborted();
  const round = new AbortController();
  const onAbort = (): void => {
    round.abort(signal?.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race(eventfds.flatMap((efd) => (efd ? [efd.wait({ signal: round.signal, keepAlive })] : [])));
  } finally {
    signal?.removeEventListener('abort', onAbort);
    round.abort();
  }
  const counts: EventCounts = { primary: 0, cursor: 0, mode: 0, any: 0 };
  eventfds.forEach((efd, i) => {
    if (efd) counts[kinds[i] ?? 'any'] += Number(efd.read());
  });
  return counts;
}
