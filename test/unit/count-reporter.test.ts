// test/lib/count-reporter.js under node:test itself: the totals run-all adds
// up must count a failure wherever node:test reports one, including a
// suite whose own body throws (it has no tests to fail) and a test file
// that exits with an error outside any test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Counts } from '../lib/count-reporter.js';

const reporter = join(import.meta.dirname, '..', 'lib', 'count-reporter.js');

function counts(files: Record<string, string>): Counts {
  const dir = mkdtempSync(join(tmpdir(), 'counts-'));
  for (const [name, source] of Object.entries(files)) writeFileSync(join(dir, name), source);
  const out = join(dir, 'counts.json');
  // Without NODE_TEST_CONTEXT, which would make the child report to this runner instead.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
  spawnSync(process.execPath, ['--test', `--test-reporter=${reporter}`, `--test-reporter-destination=${out}`, ...Object.keys(files).map((f) => join(dir, f))], { cwd: dir, env });
  return JSON.parse(readFileSync(out, 'utf8')) as Counts;
}

test('tests that pass, fail and skip; suites count through their tests', () => {
  const source = `import { describe, test } from 'node:test';
describe('s', () => { test('a', () => {}); test('b', () => { throw new Error('no'); }); test('c', (t) => t.skip('why')); });
describe('skipped', { skip: 'why' }, () => { test('d', () => {}); });
test('e', () => {});`;
  assert.deepEqual(counts({ 'a.test.mjs': source }), { passed: 2, failed: 1, skipped: 2 });
});

test('a suite whose body throws is one failure', () => {
  const source = `import { describe, test } from 'node:test';
describe('broken', () => { throw new Error('setup failed'); });
test('fine', () => {});`;
  assert.deepEqual(counts({ 'a.test.mjs': source }), { passed: 1, failed: 1, skipped: 0 });
});

test('a file that fails outside its tests is one failure', () => {
  const source = `import { test } from 'node:test';
test('fine', () => {});
process.exitCode = 3;`;
  assert.deepEqual(counts({ 'a.test.mjs': source, 'b.test.mjs': `import { test } from 'node:test';\ntest('fine too', () => {});` }), { passed: 2, failed: 1, skipped: 0 });
});
