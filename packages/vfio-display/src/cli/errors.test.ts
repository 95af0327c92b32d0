// Exit statuses and the one-line error messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BusyError, InvalidArgumentError, KernelError, NotFoundError, PermissionError, UnsupportedError } from '../errors.js';
import { EXIT, EXIT_MEANINGS, exitCodeOf, renderError, UsageError } from './errors.js';

const nodeError = (code: string): Error => Object.assign(new Error(`${code}: something, open '/x'`), { code });

test('each kind of failure has its exit status, and each status is documented', () => {
  assert.equal(exitCodeOf(new UsageError('u')), EXIT.usage);
  assert.equal(exitCodeOf(new InvalidArgumentError('bad')), EXIT.usage);
  assert.equal(exitCodeOf(new NotFoundError('nf')), EXIT.notFound);
  assert.equal(exitCodeOf(new PermissionError('p')), EXIT.permission);
  assert.equal(exitCodeOf(new BusyError('b')), EXIT.busy);
  assert.equal(exitCodeOf(new UnsupportedError('u')), EXIT.unsupported);
  assert.equal(exitCodeOf(new KernelError('k')), EXIT.failed);
  assert.equal(exitCodeOf(nodeError('ENOENT')), EXIT.notFound);
  assert.equal(exitCodeOf(nodeError('EACCES')), EXIT.permission);
  assert.equal(exitCodeOf(nodeError('EIO')), EXIT.failed);
  assert.equal(exitCodeOf(new Error('bug')), EXIT.failed);
  assert.deepEqual(EXIT_MEANINGS.map(([code]) => code), Object.values(EXIT).sort());
});

test('errors render as one line with the hint for their kind', () => {
  assert.equal(renderError(new UsageError('planes: missing <dev>', 'planes'), false), "vfio-display: planes: missing <dev> (see 'vfio-display planes --help')");
  assert.equal(renderError(new UsageError('no command "x"'), false), 'vfio-display: no command "x" (see \'vfio-display --help\')');
  assert.equal(
    renderError(new UnsupportedError('fd:3 is not a display device', { code: 'ERR_VFIO_NOT_A_DISPLAY' }), false),
    "vfio-display: fd:3 is not a display device ('vfio-display list' shows which devices have a display)",
  );
  assert.match(renderError(new NotFoundError('no mdev instance x', { path: '/sys/bus/mdev/devices/x' }), false), /'vfio-display list' shows the mdev parents/);
  assert.equal(renderError(new KernelError('first\n  second'), false), 'vfio-display: first; second');
  assert.equal(renderError(nodeError('ENOENT'), false), "vfio-display: ENOENT: something, open '/x'");
  assert.match(renderError(new TypeError('x is undefined'), false), /^vfio-display: x is undefined \(an unexpected error: run again with --debug/);
});

test('--debug shows the stack and the causes', () => {
  const err = new KernelError('outer', { cause: new Error('inner') });
  const text = renderError(err, true);
  assert.match(text, /KernelError: outer\n\s+at /);
  assert.match(text, /\[cause\]: Error: inner/);
});
