// The README's two commands are the ones CI and the package manager pin use.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const repo = join(import.meta.dirname, '..', '..', '..');
const read = (path: string): string => readFileSync(join(repo, path), 'utf8');
const pnpm = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager;

test('.ci/run runs the README test command, with the pinned pnpm', () => {
  const command = read('.ci/run').trim().split('\n').at(-1) ?? '';
  assert.ok(command.includes(`npx --yes ${pnpm} `), command);
  assert.ok(read('README.md').includes(`\n${command}\n`), `README lacks: ${command}`);
});

test('the README main-job command uses the same pinned pnpm', () => {
  assert.ok(read('README.md').includes(`\nnpx --yes ${pnpm} install --frozen-lockfile && npx --yes ${pnpm} demo\n`));
});
