// waitReadable on ordinary kernel objects (a FIFO, an eventfd): what the
// caller's open file looks like after a wait.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EventFd } from './eventfd.js';
import { statusFlags } from './sys.js';
import { waitReadable } from './wait.js';

/** Both ends of a FIFO, blocking, as a caller's own fds would be. */
function fifo(): [number, number] {
  const path = join(mkdtempSync(join(tmpdir(), 'vfio-display-')), 'fifo');
  spawnSync('mkfifo', [path]);
  return [openSync(path, 'r+'), openSync(path, 'r+')];
}

test("a wait leaves the caller's open file blocking (uv_poll_init sets O_NONBLOCK)", async () => {
  const [r, w] = fifo();
  const before = statusFlags(r, 'flags');
  assert.equal(before & constants.O_NONBLOCK, 0);
  setTimeout(() => writeSync(w, 'x'), 10);
  assert.equal(await waitReadable(r, { timeoutMs: 5000, keepAlive: true }), 'readable');
  assert.equal(statusFlags(r, 'flags'), before, 'after a readable wait');
  readSync(r, Buffer.alloc(1));
  assert.equal(await waitReadable(r, { timeoutMs: 10, keepAlive: true }), 'timeout');
  assert.equal(statusFlags(r, 'flags'), before, 'after a timeout');
  const abort = new AbortController();
  const aborted = waitReadable(r, { signal: abort.signal, keepAlive: true });
  abort.abort();
  await assert.rejects(aborted, { name: 'AbortError' });
  assert.equal(statusFlags(r, 'flags'), before, 'after an abort');
  closeSync(r);
  closeSync(w);
});

test('a wait leaves a non-blocking fd non-blocking', async () => {
  using efd = new EventFd();
  efd.signal();
  assert.equal(await efd.wait({ timeoutMs: 5000, keepAlive: true }), 'readable');
  assert.notEqual(statusFlags(efd.fd, 'flags') & constants.O_NONBLOCK, 0);
});

test('a fractional fd is refused, not truncated to another fd', async () => {
  const [r, w] = fifo();
  writeSync(w, 'x');
  await assert.rejects(waitReadable(r + 0.5, { timeoutMs: 100, keepAlive: true }), { name: 'InvalidArgumentError', code: 'ERR_INVALID_ARG_VALUE' });
  closeSync(r);
  closeSync(w);
});
