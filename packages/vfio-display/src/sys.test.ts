// The system-call layer's argument checks, on ordinary kernel objects.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from './errors.js';
import { dupCloexec, ioctl, pread, statusFlags } from './sys.js';

const FIONREAD = 0x541b;

test('fds that are not non-negative integers are InvalidArgumentErrors, before any system call', () => {
  const fd = openSync(join(mkdtempSync(join(tmpdir(), 'vfio-display-')), 'f'), 'w+');
  for (const bad of [fd + 0.7, -1, 2 ** 31, Number.NaN]) {
    assert.throws(() => ioctl(bad, FIONREAD, new Uint8Array(4), 'FIONREAD', 'count bytes'), InvalidArgumentError, String(bad));
    assert.throws(() => pread(bad, new Uint8Array(1), 0, 'read'), InvalidArgumentError, String(bad));
    assert.throws(() => dupCloexec(bad, 'duplicate'), InvalidArgumentError, String(bad));
    assert.throws(() => statusFlags(bad, 'flags'), InvalidArgumentError, String(bad));
  }
  closeSync(fd);
});
