// An owned eventfd: the kernel signals it (SET_IRQS), we read its counter.
import { OwnedFd } from './fd.js';
import { eventfd, readAvailable, write } from './sys.js';
import { waitReadable, type WaitOptions, type WaitResult } from './wait.js';

export class EventFd implements Disposable {
  readonly #owned: OwnedFd;
  readonly #counter = new BigUint64Array(1);
  readonly #bytes = new Uint8Array(this.#counter.buffer);

  constructor(label = 'eventfd') {
    this.#owned = new OwnedFd(eventfd('create an eventfd'), label);
  }

  get fd(): number {
    return this.#owned.fd;
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** Reads and resets the counter; 0n if nothing was signalled. */
  read(): bigint {
    if (readAvailable(this.#owned.fd, this.#bytes, `read ${this.#owned.label}`) === null) return 0n;
    return this.#counter[0] ?? 0n;
  }

  /** Adds to the counter (as the kernel would). */
  signal(value = 1n): void {
    this.#counter[0] = value;
    write(this.#owned.fd, this.#bytes, `write ${this.#owned.label}`);
  }

  /** Resolves when the counter is non-zero (without reading it). */
  wait(options?: WaitOptions): Promise<WaitResult> {
    return waitReadable(this.#owned.fd, options);
  }

  close(): void {
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
