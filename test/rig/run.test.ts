// The rig's own contract, checked from the host by booting the VM:
// output streamed, exit status passed through, kernel warnings fail the run,
// a timed-out run still leaves its kernel log.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const repo = join(import.meta.dirname, '..', '..', '..');

function rig(name: string, options: string[], command: string[]): { status: number | null; stdout: string; stderr: string; out: string } {
  const out = join(repo, 'test', 'vm', 'out', `selftest-${name}`);
  const result = spawnSync(join(repo, 'test', 'vm', 'run'), ['--kernel', 'stock', '--out', out, ...options, '--', ...command], {
    cwd: repo,
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, out };
}

test('runs the command on our 6.12 kernel and passes its output and status 0 through', () => {
  const r = rig('uname', [], ['uname', '-r']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^6\.12\.\d+-vfio-display$/m);
  assert.ok(existsSync(join(r.out, 'kernel.log')), 'the kernel log is saved beside the results');
});

test('runs in the repository directory and passes a failing status through', () => {
  const r = rig('status', [], ['sh', '-c', 'test -f test/vm/guest-init && exit 7']);
  assert.equal(r.status, 7, r.stderr);
});

test('`false` fails the run', () => {
  assert.equal(rig('false', [], ['false']).status, 1);
});

test('a kernel WARNING fails the run, with the excerpt printed', () => {
  // LKDTM's WARNING test calls WARN_ON(1) from the write handler.
  const r = rig('warning', [], ['sh', '-c', 'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT']);
  assert.equal(r.status, 70, r.stderr);
  assert.match(r.stderr, /kernel log problems/);
  assert.match(r.stderr, /WARNING: CPU: \d+ PID: \d+ at .*lkdtm/);
  assert.match(readFileSync(join(r.out, 'kernel.log'), 'utf8'), /Call Trace/);
});

test('a command that outlives --timeout is stopped with status 124, and the kernel log up to then is kept and scanned', () => {
  // The timeout leaves the boot (a few seconds) ample time to reach the WARNING.
  const r = rig('timeout', ['--timeout', '45'], ['sh', '-c', 'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT; sleep 600']);
  assert.equal(r.status, 124, r.stderr);
  assert.match(r.stderr, /timed out after 45 s/);
  assert.match(r.stderr, /kernel log problems/);
  assert.match(readFileSync(join(r.out, 'kernel.log'), 'utf8'), /WARNING: CPU: \d+ PID: \d+ at .*lkdtm/);
});
