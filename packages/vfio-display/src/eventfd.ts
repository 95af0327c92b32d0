// An owned eventfd: the kernel signals it (SET_IRQS), we read its counter.
import { fromSystemError } from './errors.js';
import { OwnedFd } from './fd.js';
import { native } from './native.js';
import { waitReadable, type WaitOptions, type WaitResult } from './wait.js';

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

export class EventFd implements Disposable {
  readonly #owned: OwnedFd;
  readonly #counter = new BigUint64Array(1);
  readonly #bytes = new Uint8Array(this.#counter.buffer);

  constructor(label = 'eventfd') {
    let fd: number;
    try {
      fd = native.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    } catch (err) {
      throw fromSystemError(err, 'create an eventfd');
    }
    this.#owned = new OwnedFd(fd, label);
  }

  get fd(): number {
    return this.#owned.fd;
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** Reads and resets the counter; 0n if nothing was signalled. */
  read(): bigint {
    try {
      native.read(this.#owned.fd, this.#bytes);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 0n;
      throw fromSystemError(err, `read ${this.#owned.label}`);
    }
    return this.#counter[0] ?? 0n;
  }

  /** Adds to the counter (as the kernel would). */
  signal(value = 1n): void {
    this.#counter[0] = value;
    try {
      native.write(this.#owned.fd, this.#bytes);
    } catch (err) {
      throw fromSystemError(err, `write ${this.#owned.label}`);
    }
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
