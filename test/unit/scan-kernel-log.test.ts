// test/vm/scan-kernel-log on kernel logs recorded from the rig (6.12.117):
// a clean boot with mdev create/remove, and LKDTM's deliberate WARNING.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const repo = join(import.meta.dirname, '..', '..', '..');
const fixtures = join(repo, 'test', 'unit', 'fixtures');

function scan(log: string): { status: number | null; stderr: string } {
  const r = spawnSync(join(repo, 'test', 'vm', 'scan-kernel-log'), [log], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

test('a clean boot log passes', () => {
  assert.equal(scan(join(fixtures, 'kernel-clean.log')).status, 0);
});

test('a WARNING fails, and the excerpt shows where it came from', () => {
  const r = scan(join(fixtures, 'kernel-lkdtm-warning.log'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /WARNING: CPU: 1 PID: 50 at drivers\/misc\/lkdtm\/bugs\.c:112/);
  assert.match(r.stderr, /Call Trace/);
});

test('BUG:, Oops and general protection faults fail too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scan-'));
  const clean = readFileSync(join(fixtures, 'kernel-clean.log'), 'utf8');
  for (const line of [
    'BUG: kernel NULL pointer dereference, address: 0000000000000008',
    'Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP',
    'BUG: KASAN: slab-use-after-free in mbochs_query_gfx_plane+0x2a/0x1b0',
  ]) {
    const log = join(dir, 'k.log');
    writeFileSync(log, `${clean}[    9.000000] ${line}\n`);
    assert.equal(scan(log).status, 1, line);
  }
});

test('a missing log is an error of its own', () => {
  assert.equal(scan(join(fixtures, 'no-such.log')).status, 2);
});
