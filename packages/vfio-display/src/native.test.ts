// The addon on ordinary kernel objects (pipes, eventfds, memfd-like files):
// results, error shapes, mapping lifetimes, waits.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { native } from './native.js';

const FIONREAD = 0x541b;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

function pipe(): [number, number] {
  // A FIFO gives two plain fds without child processes.
  const dir = mkdtempSync(join(tmpdir(), 'vfio-display-'));
  const path = join(dir, 'fifo');
  spawnSync('mkfifo', [path]);
  const r = openSync(path, 'r+');
  const w = openSync(path, 'r+');
  return [r, w];
}

function tempFile(size: number): number {
  const fd = openSync(join(mkdtempSync(join(tmpdir(), 'vfio-display-')), 'f'), 'w+');
  ftruncateSync(fd, size);
  return fd;
}

test('ioctl with a struct argument: FIONREAD on a pipe', () => {
  const [r, w] = pipe();
  writeSync(w, 'hello');
  const out = new Uint8Array(4);
  assert.equal(native.ioctl(r, FIONREAD, out, 'FIONREAD'), 0);
  assert.equal(new DataView(out.buffer).getInt32(0, true), 5);
  closeSync(r);
  closeSync(w);
});

test('errors are SystemError-shaped, with the ioctl name', () => {
  assert.throws(() => native.ioctl(987654, FIONREAD, new Uint8Array(4), 'FIONREAD'), (err: unknown) => {
    const e = err as { code: string; errno: number; syscall: string; message: string };
    assert.equal(e.code, 'EBADF');
    assert.equal(e.errno, -9);
    assert.equal(e.syscall, 'ioctl');
    assert.match(e.message, /^ioctl FIONREAD failed: EBADF/);
    return true;
  });
  const fd = tempFile(16);
  assert.throws(() => native.ioctl(fd, 0x3b64, 0, 'VFIO_GET_API_VERSION'), { code: 'ENOTTY', errno: -25 });
  closeSync(fd);
});

test('ioctl writes the addresses of pointer targets into the struct first', () => {
  const [r, w] = pipe();
  writeSync(w, 'abc');
  const target = new Uint8Array(64);
  const other = new Uint8Array(64);
  const arg = new Uint8Array(32);
  const side = new Uint8Array(16);
  // FIONREAD fills arg[0..4]; the patches at 8, 16, 24 and in `side` stay as written.
  native.ioctl(r, FIONREAD, arg, 'FIONREAD', [
    [arg, 8, target],
    [arg, 16, other],
    [arg, 24, new Uint8Array(0)],
    [side, 0, target],
  ]);
  const view = new DataView(arg.buffer);
  assert.equal(view.getInt32(0, true), 3);
  const address = view.getBigUint64(8, true);
  assert.notEqual(address, 0n);
  assert.notEqual(view.getBigUint64(16, true), address);
  assert.equal(view.getBigUint64(24, true), 0n, 'an empty target is a NULL pointer');
  assert.equal(new DataView(side.buffer).getBigUint64(0, true), address);
  closeSync(r);
  closeSync(w);
});

test('bad pointer patches are TypeErrors and RangeErrors, not crashes', () => {
  const arg = new Uint8Array(16);
  assert.throws(() => native.ioctl(0, FIONREAD, arg, 'x', [[arg, 9, arg]]), RangeError);
  assert.throws(() => native.ioctl(0, FIONREAD, arg, 'x', [[arg, -1, arg]]), RangeError);
  assert.throws(() => native.ioctl(0, FIONREAD, arg, 'x', [[arg, 0]] as never), TypeError);
  assert.throws(() => native.ioctl(0, FIONREAD, arg, 'x', [[arg, 0, 5]] as never), TypeError);
  assert.throws(() => native.ioctl(0, FIONREAD, arg, 'x', {} as never), TypeError);
});

test('bad arguments are TypeErrors, not crashes', () => {
  assert.throws(() => native.ioctl(-1, FIONREAD, 0, 'x'), RangeError);
  assert.throws(() => native.ioctl(0.5, FIONREAD, 0, 'x'), RangeError, 'a fractional fd is not truncated');
  assert.throws(() => native.ioctl(2 ** 31, FIONREAD, 0, 'x'), RangeError);
  assert.throws(() => native.ioctl('1' as unknown as number, FIONREAD, 0, 'x'), TypeError);
  assert.throws(() => native.pread(0, new Uint16Array(2) as unknown as Uint8Array, 0), TypeError);
  assert.throws(() => native.pread(0, new Uint8Array(2), -1), RangeError);
  assert.throws(() => native.mmap(0, 0, PROT_READ, MAP_SHARED, 0), RangeError);
  assert.throws(() => native.munmap(new ArrayBuffer(8)), TypeError);
  assert.throws(() => { native.cancelWait({} as never); }, TypeError);
});

test('pread/pwrite at offsets', () => {
  const fd = tempFile(8192);
  assert.equal(native.pwrite(fd, Uint8Array.of(1, 2, 3), 5000), 3);
  const back = new Uint8Array(5);
  assert.equal(native.pread(fd, back, 4999), 5);
  assert.deepEqual([...back], [0, 1, 2, 3, 0]);
  closeSync(fd);
});

test('mmap: shared bytes; munmap detaches every view; GC-safe; second munmap is false', () => {
  const fd = tempFile(8192);
  const ab = native.mmap(fd, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
  const view = new Uint8Array(ab);
  view[4096] = 42;
  const back = new Uint8Array(1);
  native.pread(fd, back, 4096);
  assert.equal(back[0], 42);
  assert.equal(native.munmap(ab), true);
  assert.equal(ab.byteLength, 0);
  assert.equal(view.length, 0);
  assert.equal(view[4096], undefined, 'no access to unmapped memory');
  assert.equal(native.munmap(ab), false);
  closeSync(fd);
});

test('mmap errors: a read-only fd mapped writable', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'vfio-display-')), 'ro');
  const w = openSync(path, 'w');
  ftruncateSync(w, 4096);
  closeSync(w);
  const fd = openSync(path, 'r');
  assert.throws(() => native.mmap(fd, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 0), { code: 'EACCES', syscall: 'mmap' });
  closeSync(fd);
});

test('eventfd: write adds, read returns and resets the counter', () => {
  const fd = native.eventfd(0, 0o4000 /* EFD_NONBLOCK */);
  const one = new Uint8Array(new BigUint64Array([3n]).buffer);
  native.write(fd, one);
  native.write(fd, one);
  const out = new BigUint64Array(1);
  assert.equal(native.read(fd, new Uint8Array(out.buffer)), 8);
  assert.equal(out[0], 6n);
  assert.throws(() => native.read(fd, new Uint8Array(out.buffer)), { code: 'EAGAIN' });
  native.close(fd);
  assert.throws(() => { native.close(fd); }, { code: 'EBADF' });
});

test('waitReadable: readable, timeout, cancel; one wait per fd', async () => {
  const fd = native.eventfd(0, 0o4000);
  const wait = (timeoutMs: number): { result: Promise<number>; handle: ReturnType<typeof native.waitReadable> } => {
    let resolve!: (n: number) => void;
    const result = new Promise<number>((r) => (resolve = r));
    return { result, handle: native.waitReadable(fd, timeoutMs, true, -1, resolve) };
  };
  assert.equal(await wait(20).result, -110, 'ETIMEDOUT');
  const pending = wait(-1);
  setTimeout(() => native.write(fd, new Uint8Array(new BigUint64Array([1n]).buffer)), 10);
  assert.equal((await pending.result) & 1, 1, 'UV_READABLE');
  native.read(fd, new Uint8Array(8));
  const cancelled = wait(-1);
  assert.throws(() => native.waitReadable(fd, -1, true, -1, () => undefined), { code: 'EEXIST' });
  native.cancelWait(cancelled.handle);
  assert.equal(await cancelled.result, -125, 'ECANCELED');
  native.cancelWait(cancelled.handle);
  native.close(fd);
});

test('a wait without keepAlive does not hold the process; with it, it does', () => {
  const addon = join(import.meta.dirname, 'native.js');
  const script = (keepAlive: boolean): string =>
    `import { native } from ${JSON.stringify(addon)};
     const fd = native.eventfd(0, 0);
     native.waitReadable(fd, 1500, ${keepAlive}, -1, (r) => console.log('result', r));`;
  const run = (keepAlive: boolean): string => spawnSync(process.execPath, ['--input-type=module', '-e', script(keepAlive)], { encoding: 'utf8', timeout: 10_000 }).stdout;
  assert.equal(run(false), '', 'the process exited without waiting');
  assert.equal(run(true).trim(), 'result -110', 'the process waited for the timeout');
});

test('an exception thrown by a wait callback reaches uncaughtException, not abort()', () => {
  const addon = join(import.meta.dirname, 'native.js');
  const script = `import { native } from ${JSON.stringify(addon)};
    process.on('uncaughtException', (e) => console.log('caught', e.message));
    native.waitReadable(native.eventfd(0, 0), 5, true, -1, () => { throw new Error('boom'); });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'caught boom');
});
