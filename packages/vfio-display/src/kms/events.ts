// Completion events of atomic commits, read from the DRM fd: each commit
// with PAGE_FLIP_EVENT carries its own user_data, and the kernel sends one
// FLIP_COMPLETE event with it per CRTC of the commit. One reader per card
// waits (uv_poll, never the thread pool) only while commits are pending.
import { ClosedError, MalformedReplyError } from '../errors.js';
import { readAvailable } from '../sys.js';
import { decode, viewOf } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';
import { waitReadable } from '../wait.js';
import type { DrmFile } from './drm-file.js';

export interface FlipEvent {
  readonly kind: 'flip' | 'vblank';
  readonly userData: bigint;
  /** 0 on kernels without DRM_CAP_CRTC_IN_VBLANK_EVENT (before 4.12). */
  readonly crtcId: number;
  /** The CRTC's vblank counter at the flip. */
  readonly sequence: number;
  /** When the flip happened: CLOCK_MONOTONIC in µs (process.hrtime.bigint() / 1000n is the same clock). */
  readonly timestampUs: number;
}

/** The vblank and flip events in bytes read(2) returned; other event types are skipped. */
export function parseEvents(bytes: Uint8Array): FlipEvent[] {
  const view = viewOf(bytes);
  const out: FlipEvent[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (bytes.length - at < d.drm_event.size) throw new MalformedReplyError(`a DRM event header is cut off at byte ${at} of ${bytes.length}`);
    const { type, length } = decode(d.drm_event, view, at);
    if (length < d.drm_event.size || at + length > bytes.length) throw new MalformedReplyError(`a DRM event of type ${type} claims ${length} bytes at ${at} of ${bytes.length}`);
    if ((type === d.DRM_EVENT_FLIP_COMPLETE || type === d.DRM_EVENT_VBLANK) && length >= d.drm_event_vblank.size) {
      const e = decode(d.drm_event_vblank, view, at);
      out.push({
        kind: type === d.DRM_EVENT_FLIP_COMPLETE ? 'flip' : 'vblank',
        userData: e.user_data,
        crtcId: e.crtc_id,
        sequence: e.sequence,
        timestampUs: e.tv_sec * 1e6 + e.tv_usec,
      });
    }
    at += length;
  }
  return out;
}

interface Pending {
  /** The CRTCs still to report; events without a CRTC id (old kernels) count down the size instead. */
  readonly waiting: Set<number>;
  readonly events: FlipEvent[];
  readonly resolve: (events: FlipEvent[]) => void;
  readonly reject: (err: unknown) => void;
  readonly detach: () => void;
}

export class EventReader {
  readonly #file: DrmFile;
  readonly #pending = new Map<bigint, Pending>();
  readonly #buffer = new Uint8Array(4096);
  #stop: AbortController | undefined;

  constructor(file: DrmFile) {
    this.#file = file;
  }

  /** Commits still waiting for their events. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Resolves with the events carrying `userData` once each of `crtcs` has
   * sent one (a commit can pull in further CRTCs, e.g. the one a connector
   * leaves; their events come along in the list).
   */
  expect(userData: bigint, crtcs: ReadonlySet<number>, signal?: AbortSignal): Promise<FlipEvent[]> {
    return new Promise<FlipEvent[]>((resolve, reject) => {
      const onAbort = (): void => {
        this.#settle(userData)?.reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(userData, {
        waiting: new Set(crtcs),
        events: [],
        resolve,
        reject,
        detach: () => {
          signal?.removeEventListener('abort', onAbort);
        },
      });
      if (signal?.aborted) onAbort();
      else this.#start();
    });
  }

  /** Removes a pending commit, stops the reader when none is left, and hands the entry back to settle. */
  #settle(userData: bigint): Pending | undefined {
    const p = this.#pending.get(userData);
    if (!p) return undefined;
    this.#pending.delete(userData);
    p.detach();
    if (this.#pending.size === 0) this.#stop?.abort();
    return p;
  }

  #start(): void {
    if (this.#stop) return;
    const stop = new AbortController();
    this.#stop = stop;
    void this.#run(stop.signal).finally(() => {
      this.#stop = undefined;
      // A commit may have arrived between the loop's end and now.
      if (this.#pending.size > 0 && !this.#file.closed) this.#start();
    });
  }

  async #run(stop: AbortSignal): Promise<void> {
    try {
      while (!stop.aborted && this.#pending.size > 0) {
        // Waits before reading even when an event is already queued, so an
        // abort in the same tick as the commit always wins; keeps the process
        // alive: the kernel owes us the event.
        await waitReadable(this.#file.fd, { signal: stop, keepAlive: true });
        this.#drain();
      }
    } catch (err) {
      if (stop.aborted) return;
      for (const userData of [...this.#pending.keys()]) this.#settle(userData)?.reject(err);
    }
  }

  /** Reads every queued event (the fd is non-blocking) and settles the commits they complete. */
  #drain(): void {
    for (;;) {
      const n = readAvailable(this.#file.fd, this.#buffer, `read events from ${this.#file.path}`);
      if (n === null || n === 0) return;
      for (const event of parseEvents(this.#buffer.subarray(0, n))) {
        const p = this.#pending.get(event.userData);
        if (!p) continue;
        p.events.push(event);
        if (event.crtcId === 0) p.waiting.delete(p.waiting.values().next().value ?? 0);
        else p.waiting.delete(event.crtcId);
        if (p.waiting.size === 0) this.#settle(event.userData)?.resolve(p.events);
      }
    }
  }

  /** Rejects every pending commit with ClosedError (the card is closing). */
  close(): void {
    for (const userData of [...this.#pending.keys()]) this.#settle(userData)?.reject(new ClosedError(this.#file.label));
    this.#stop?.abort();
  }
}
