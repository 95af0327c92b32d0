// The open DRM file every KMS object of a card shares: its fd, ioctls with
// typed errors, and the kernel objects it owns (framebuffers, dumb buffers,
// blobs, fences), closed with it.
import { ClosedError, fromSystemError, VfioDisplayError } from '../errors.js';
import { OwnedFd } from '../fd.js';
import { ioctl, type PointerPatch } from '../sys.js';

/** Something the file owns: released by close() (idempotent). */
export interface Resource {
  close(): void;
}

export class DrmFile {
  readonly #fd: OwnedFd;
  readonly path: string;
  readonly #owned = new Set<Resource>();
  /** GEM handles the file keeps open (dumb buffers): an import that gets one back must not close it. */
  readonly #heldHandles = new Set<number>();

  constructor(fd: number, path: string) {
    this.#fd = new OwnedFd(fd, `DRM card ${path}`);
    this.path = path;
  }

  get fd(): number {
    return this.#fd.fd;
  }

  get closed(): boolean {
    return this.#fd.closed;
  }

  get label(): string {
    return this.#fd.label;
  }

  /** ioctl(2) on the card; `what` names the operation for the error message. */
  ioctl(request: number, arg: Uint8Array | number, name: string, what: string, pointers?: readonly PointerPatch[]): number {
    return ioctl(this.fd, request, arg, name, `${what} (${this.path})`, pointers);
  }

  /** Marks a GEM handle as kept open by a resource of this file (a dumb buffer). */
  holdHandle(handle: number): void {
    this.#heldHandles.add(handle);
  }

  unholdHandle(handle: number): void {
    this.#heldHandles.delete(handle);
  }

  /** Whether a resource keeps `handle` open: PRIME_FD_TO_HANDLE answers such a handle for its own dma-buf. */
  holdsHandle(handle: number): boolean {
    return this.#heldHandles.has(handle);
  }

  /** Registers `resource` to be closed with the file. */
  own<T extends Resource>(resource: T): T {
    if (this.closed) throw new ClosedError(this.label);
    this.#owned.add(resource);
    return resource;
  }

  /** Called by a resource's own close(). */
  release(resource: Resource): void {
    this.#owned.delete(resource);
  }

  /** How many resources are open; tests watch it for leaks. */
  get ownedCount(): number {
    return this.#owned.size;
  }

  /**
   * Closes every owned resource (newest first), then the fd. The fd is
   * closed even if a resource fails; the first failure is thrown after.
   */
  close(): void {
    if (this.closed) return;
    let first: unknown;
    for (const resource of [...this.#owned].reverse()) {
      try {
        resource.close();
      } catch (err) {
        first ??= err;
      }
      this.#owned.delete(resource);
    }
    this.#fd.close();
    if (first !== undefined) throw first instanceof VfioDisplayError ? first : fromSystemError(first, `close resources of ${this.label}`);
  }
}

/**
 * A kernel object of the file (framebuffer, dumb buffer, blob), released
 * once: close() calls destroy(), telling it whether the file is still open
 * (once the file is closed the kernel has freed its objects already).
 */
export abstract class FileResource implements Resource, Disposable {
  protected readonly file: DrmFile;
  #closed = false;

  constructor(file: DrmFile) {
    this.file = file;
  }

  get closed(): boolean {
    return this.#closed;
  }

  protected abstract destroy(fileOpen: boolean): void;

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.release(this);
    this.destroy(!this.file.closed);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
