// Waiting for an fd to become readable, on the caller's event loop (uv_poll
// in the addon, not the thread pool). Only one wait per fd may be pending:
// libuv allows one poll handle per fd, so callers serialise their waits.
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { fromSystemError, VfioDisplayError } from './errors.js';
import { cancelWait, startWait, type WaitHandle } from './sys.js';

const { ETIMEDOUT, ECANCELED } = constants.errno;
const UV_DISCONNECT = 4;

export interface WaitOptions {
  /** Give up after this long and resolve 'timeout'; default: no limit. */
  timeoutMs?: number;
  /** Rejects with the signal's reason (an AbortError by default). */
  signal?: AbortSignal;
  /** Keep the process alive while waiting (default false). */
  keepAlive?: boolean;
}

/** 'readable' also covers hang-up and error conditions: the next read tells which. */
export type WaitResult = 'readable' | 'disconnected' | 'timeout';

/**
 * Resolves when `fd` is readable (or hung up), on this thread's event loop.
 * The fd is borrowed: keep it open until the promise settles. libuv makes a
 * polled file non-blocking; a file that was blocking is blocking again when
 * the wait ends (its F_GETFL flags as they were), so the caller and anyone
 * sharing the open file (a terminal, a parent process) never see EAGAIN from
 * it. An fd that is not a non-negative integer is an InvalidArgumentError.
 */
export function waitReadable(fd: number, options: WaitOptions = {}): Promise<WaitResult> {
  const { timeoutMs = -1, signal, keepAlive = false } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const what = `wait for fd ${String(fd)}`;
  return new Promise<WaitResult>((resolve, reject) => {
    // A refusal to start throws here, and the executor's throw rejects the promise.
    const handle: WaitHandle = startWait(
      fd,
      timeoutMs,
      keepAlive,
      (result) => {
        signal?.removeEventListener('abort', onAbort);
        if (result >= 0) resolve(result & UV_DISCONNECT ? 'disconnected' : 'readable');
        else if (result === -ETIMEDOUT) resolve('timeout');
        else if (result === -ECANCELED && signal?.aborted) reject(abortReason(signal));
        else reject(fromSystemError(pollError(result), what));
      },
      what,
    );
    const onAbort = (): void => {
      cancelWait(handle);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The signal's reason when it is an Error (an AbortError by default), else a typed one. */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new VfioDisplayError('the wait was aborted', { code: 'ABORT_ERR', cause: signal.reason });
}

/** A libuv poll status (negative errno) as a SystemError-shaped error. */
function pollError(status: number): Error {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`epoll failed: ${code}`), { code, errno: status, syscall: 'epoll_wait' });
}
