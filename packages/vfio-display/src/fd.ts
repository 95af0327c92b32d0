// Ownership of file descriptors. Every fd the library opens belongs to one
// OwnedFd; close() is idempotent. The finalization registry only warns about
// a leak: it is never the cleanup path.
import { ClosedError } from './errors.js';
import { close } from './sys.js';

const leaks = new FinalizationRegistry<string>((label) => {
  process.emitWarning(`${label} was garbage-collected without close(); its fd leaked until exit`, 'ResourceLeakWarning');
});

export class OwnedFd implements Disposable {
  #fd: number;
  /** What this fd is, for messages: "VFIO device 7c8f... (iommufd)". */
  readonly label: string;

  constructor(fd: number, label: string) {
    this.#fd = fd;
    this.label = label;
    leaks.register(this, label, this);
  }

  /** The raw fd; throws ClosedError after close(). */
  get fd(): number {
    if (this.#fd < 0) throw new ClosedError(this.label);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    leaks.unregister(this);
    close(fd, `close ${this.label}`);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
