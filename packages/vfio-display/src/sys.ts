// System calls with typed errors: the only module that calls the addon
// (eslint enforces it). Each call checks its fd and turns a refusal into the
// error class for it (errors.ts) with code, errno and syscall, and the
// operation (`what`, in words) in its message.
import { constants, openSync } from 'node:fs';
import { fromSystemError, InvalidArgumentError } from './errors.js';
import { native, type PointerPatch, type WaitHandle } from './native.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from './uapi/mman.js';

export type { PointerPatch, WaitHandle };

/**
 * The addon refuses a fractional fd as well (it used to truncate 3.7 to fd 3
 * and act on a file nobody named); here it is a typed error, before any call.
 */
function checkFd(fd: number, what: string): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new InvalidArgumentError(`${what}: ${String(fd)} is not a file descriptor (a non-negative integer)`);
  }
}

/** Runs one addon call on `fd` with the one error convention of this module. */
function call<T>(fd: number, what: string, fn: () => T, extra?: { ioctl?: string; path?: string }): T {
  checkFd(fd, what);
  try {
    return fn();
  } catch (err) {
    throw fromSystemError(err, what, extra);
  }
}

/** ioctl(2); `name` is the kernel's name of the request, `what` the operation in words. */
export function ioctl(fd: number, request: number, arg: Uint8Array | number, name: string, what: string, pointers?: readonly PointerPatch[]): number {
  return call(fd, what, () => native.ioctl(fd, request, arg, name, pointers), { ioctl: name });
}

/** open(2) read-write, close-on-exec (Node adds O_CLOEXEC). */
export function openRw(path: string, what: string): number {
  try {
    return openSync(path, 'r+');
  } catch (err) {
    throw fromSystemError(err, what, { path });
  }
}

export function close(fd: number, what: string): void {
  call(fd, what, () => {
    native.close(fd);
  });
}

export function pread(fd: number, buffer: Uint8Array, offset: number, what: string): number {
  return call(fd, what, () => native.pread(fd, buffer, offset));
}

export function pwrite(fd: number, buffer: Uint8Array, offset: number, what: string): number {
  return call(fd, what, () => native.pwrite(fd, buffer, offset));
}

/** read(2) of a non-blocking fd: the bytes read, or null when there is nothing yet (EAGAIN). */
export function readAvailable(fd: number, buffer: Uint8Array, what: string): number | null {
  checkFd(fd, what);
  try {
    return native.read(fd, buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return null;
    throw fromSystemError(err, what);
  }
}

export function write(fd: number, buffer: Uint8Array, what: string): number {
  return call(fd, what, () => native.write(fd, buffer));
}

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

/** A new eventfd(2) with counter 0, close-on-exec and non-blocking. */
export function eventfd(what: string): number {
  try {
    return native.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  } catch (err) {
    throw fromSystemError(err, what);
  }
}

/** A shared mapping of `length` bytes of `fd` at `offset`; unmapped by munmap() or when collected. */
export function mmapShared(fd: number, length: number, offset: number, writable: boolean, what: string): ArrayBuffer {
  return call(fd, what, () => native.mmap(fd, length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, offset));
}

/** Unmaps a buffer mmapShared() returned and detaches every view of it; false if it was already unmapped. */
export function munmap(buffer: ArrayBuffer, what: string): boolean {
  try {
    return native.munmap(buffer);
  } catch (err) {
    throw fromSystemError(err, what);
  }
}

const F_DUPFD_CLOEXEC = 1030;
const F_GETFL = 3;
const F_SETFL = 4;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/** A close-on-exec duplicate of `fd`, for an owner of its own (the caller wraps it). */
export function dupCloexec(fd: number, what: string): number {
  return call(fd, what, () => native.fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

/** Sets FD_CLOEXEC on `fd` (this fd only, not its duplicates). */
export function setCloexec(fd: number, what: string): void {
  call(fd, what, () => native.fcntl(fd, F_SETFD, FD_CLOEXEC));
}

/** The open file's status flags (F_GETFL: O_NONBLOCK, O_APPEND...), shared by every duplicate of `fd`. */
export function statusFlags(fd: number, what: string): number {
  return call(fd, what, () => native.fcntl(fd, F_GETFL, 0));
}

/** Sets O_NONBLOCK on the open file `fd` names: every duplicate of it shares the flag. */
export function setNonBlocking(fd: number, what: string): void {
  call(fd, what, () => {
    const flags = native.fcntl(fd, F_GETFL, 0);
    if ((flags & constants.O_NONBLOCK) === 0) native.fcntl(fd, F_SETFL, flags | constants.O_NONBLOCK);
  });
}

/**
 * Starts a wait for `fd` to become readable; `callback` runs once on this
 * thread's loop with the uv_poll event mask (>= 0) or -ETIMEDOUT,
 * -ECANCELED or another -errno. timeoutMs < 0 waits without limit.
 *
 * uv_poll_init sets O_NONBLOCK on the open file, which the caller (and any
 * process sharing it, e.g. a terminal) would then see fail with EAGAIN: a
 * blocking file gets its flags back when the wait ends, before the callback.
 * `fd` must stay open until then, as libuv requires of a polled fd.
 */
export function startWait(fd: number, timeoutMs: number, keepAlive: boolean, callback: (result: number) => void, what: string): WaitHandle {
  return call(fd, what, () => {
    const flags = native.fcntl(fd, F_GETFL, 0);
    return native.waitReadable(fd, timeoutMs, keepAlive, flags & constants.O_NONBLOCK ? -1 : flags, callback);
  });
}

/** A pending wait calls back now with -ECANCELED; a finished one is left alone. */
export function cancelWait(handle: WaitHandle): void {
  native.cancelWait(handle);
}
