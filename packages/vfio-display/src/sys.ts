// System calls with typed errors: the addon's calls, each wrapped so a
// refusal becomes the error class for it (errors.ts) with the operation named.
import { constants, openSync } from 'node:fs';
import { fromSystemError } from './errors.js';
import { native, type PointerPatch } from './native.js';

/** ioctl(2); `name` is the kernel's name of the request, `what` the operation in words. */
export function ioctl(fd: number, request: number, arg: Uint8Array | number, name: string, what: string, pointers?: readonly PointerPatch[]): number {
  try {
    return native.ioctl(fd, request, arg, name, pointers);
  } catch (err) {
    throw fromSystemError(err, what, { ioctl: name });
  }
}

/** open(2) read-write, close-on-exec (Node adds O_CLOEXEC). */
export function openRw(path: string, what: string): number {
  try {
    return openSync(path, 'r+');
  } catch (err) {
    throw fromSystemError(err, what, { path });
  }
}

export function pread(fd: number, buffer: Uint8Array, offset: number, what: string): number {
  try {
    return native.pread(fd, buffer, offset);
  } catch (err) {
    throw fromSystemError(err, what);
  }
}

export function pwrite(fd: number, buffer: Uint8Array, offset: number, what: string): number {
  try {
    return native.pwrite(fd, buffer, offset);
  } catch (err) {
    throw fromSystemError(err, what);
  }
}

const F_DUPFD_CLOEXEC = 1030;
const F_GETFL = 3;
const F_SETFL = 4;

/** A close-on-exec duplicate of `fd`, for an owner of its own (the caller wraps it). */
export function dupCloexec(fd: number, what: string): number {
  try {
    return native.fcntl(fd, F_DUPFD_CLOEXEC, 0);
  } catch (err) {
    throw fromSystemError(err, what);
  }
}

/** Sets O_NONBLOCK on the open file `fd` names: every duplicate of it shares the flag. */
export function setNonBlocking(fd: number, what: string): void {
  try {
    const flags = native.fcntl(fd, F_GETFL, 0);
    if ((flags & constants.O_NONBLOCK) === 0) native.fcntl(fd, F_SETFL, flags | constants.O_NONBLOCK);
  } catch (err) {
    throw fromSystemError(err, what);
  }
}
