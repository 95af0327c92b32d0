// The addon's surface, typed. Internal: only sys.ts (and the addon's own
// tests) import it; its errors are shaped as errors.ts NativeSystemError.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { VfioDisplayError } from './errors.js';

export interface NativeAddon {
  /**
   * Returns the ioctl's result (>= 0). `arg` is the struct (in/out) or a
   * value. Each of `pointers` first writes the address of `target` (0 if it
   * is empty) as a u64 at `into[offset]`: user pointers inside the struct.
   */
  ioctl(fd: number, request: number, arg: Uint8Array | number, name: string, pointers?: readonly PointerPatch[]): number;
  pread(fd: number, buffer: Uint8Array, offset: number): number;
  pwrite(fd: number, buffer: Uint8Array, offset: number): number;
  read(fd: number, buffer: Uint8Array): number;
  write(fd: number, buffer: Uint8Array): number;
  eventfd(initval: number, flags: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  close(fd: number): void;
  /** An external ArrayBuffer over the mapping; unmapped on GC or by munmap. */
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): ArrayBuffer;
  /** Unmaps and detaches; false if it was already unmapped. */
  munmap(buffer: ArrayBuffer): boolean;
  /**
   * Calls back once on this thread's loop: result >= 0 is the uv_poll event
   * mask (1 readable, 4 disconnect), else -ETIMEDOUT, -ECANCELED or -errno.
   * timeoutMs < 0 waits without limit; keepAlive false does not hold the loop.
   * restoreFlags >= 0: F_SETFL to it when the wait ends (uv_poll_init sets
   * O_NONBLOCK), before the callback and also at environment teardown.
   */
  waitReadable(fd: number, timeoutMs: number, keepAlive: boolean, restoreFlags: number, callback: (result: number) => void): WaitHandle;
  /** A pending wait calls back now with -ECANCELED. */
  cancelWait(handle: WaitHandle): void;
}

/** [into, offset, target]: the address of target's bytes goes at into[offset]. */
export type PointerPatch = readonly [into: Uint8Array, offset: number, target: Uint8Array];

declare const waitHandle: unique symbol;
export interface WaitHandle {
  readonly [waitHandle]: true;
}

const require = createRequire(import.meta.url);
const load = require('node-gyp-build') as (dir: string) => unknown;
const pkg = join(import.meta.dirname, '..');

/** node-gyp-build's own error lists every path it tried: say what to do instead. */
function loadAddon(): NativeAddon {
  try {
    return load(pkg) as NativeAddon;
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    throw new VfioDisplayError(
      `the vfio-display native addon does not load (${reason}); where no prebuilt one fits, its install script builds it: allow it (pnpm approve-builds, npm install-scripts approve vfio-display) and reinstall, or run node ${join(pkg, 'native', 'build.mjs')}`,
      { code: 'ERR_VFIO_NO_ADDON', cause: err },
    );
  }
}

export const native = loadAddon();
