// The README's test command (after `tsc -b`): lint, unit tests, the rig's own
// tests, then the integration suite inside the VM once per kernel variant.
// Ends with one line: "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Counts } from './lib/count-reporter.js';

const repo = join(import.meta.dirname, '..', '..');
const reporter = join(import.meta.dirname, 'lib', 'count-reporter.js');
const countsDir = join(repo, 'test', 'vm', 'out', 'counts');
const kernels = ['stock', 'patched'] as const;
/**
 * One VM runs a kernel's whole integration suite. The nested-guest test
 * boots a guest under TCG inside it (twice on patched): the patched suite
 * took 10 of test/vm/run's default 15 minutes on a busy machine.
 */
const VM_TIMEOUT_S = 1800;

const total: Counts = { passed: 0, failed: 0, skipped: 0 };
const failedSteps: string[] = [];

function banner(text: string): void {
  console.log(`\n=== ${text}`);
}

function run(argv: string[], env: NodeJS.ProcessEnv = {}): number {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  const result = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.error) throw result.error;
  return result.status ?? 128;
}

/** A step that is not a test run: its failure counts as one failed test. */
function step(name: string, argv: string[]): boolean {
  banner(name);
  const ok = run(argv) === 0;
  if (ok) {
    total.passed++;
  } else {
    total.failed++;
    failedSteps.push(name);
  }
  return ok;
}

/** Compiled test files under `dir` (relative to the repo), sorted. */
function testFiles(dir: string): string[] {
  const root = join(repo, dir);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => relative(repo, join(root, f)))
    .sort();
}

function nodeTestArgs(countsFile: string, files: string[]): string[] {
  return [
    'node',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${reporter}`,
    `--test-reporter-destination=${countsFile}`,
    ...files,
  ];
}

interface VmRun {
  kernel: (typeof kernels)[number];
  /** The VM's writable share on the host (test/vm/run --out). */
  out: string;
}

/** Runs node:test on `files`, on the host or inside the VM, and adds up the counts. */
function testRun(name: string, files: string[], countsFile: string, vm?: VmRun): void {
  banner(`${name} (${files.length} files)`);
  if (files.length === 0) {
    total.failed++;
    failedSteps.push(`${name}: no test files`);
    return;
  }
  rmSync(countsFile, { force: true });
  const status = vm
    ? run(['test/vm/run', '--kernel', vm.kernel, '--out', vm.out, '--timeout', String(VM_TIMEOUT_S), '--', ...nodeTestArgs('/run/rig/counts.json', files)])
    : run(nodeTestArgs(countsFile, files));
  let counts: Counts | undefined;
  try {
    counts = JSON.parse(readFileSync(countsFile, 'utf8')) as Counts;
  } catch {
    counts = undefined;
  }
  if (counts === undefined) {
    total.failed++;
    failedSteps.push(`${name}: no results (exit status ${status})`);
    return;
  }
  total.passed += counts.passed;
  total.failed += counts.failed;
  total.skipped += counts.skipped;
  if (status !== 0 || counts.failed > 0) failedSteps.push(`${name} (exit status ${status})`);
}

mkdirSync(countsDir, { recursive: true });
step('lint', ['node_modules/.bin/eslint', '.']);
testRun('unit tests', [...testFiles('packages/vfio-display/dist'), ...testFiles('test/dist/unit')], join(countsDir, 'unit.json'));
testRun('GVT-g hardware tier (skipped unless VFIO_DISPLAY_GVT_MDEV names a vGPU)', testFiles('test/dist/hardware'), join(countsDir, 'hardware.json'));
testRun('package tests (pnpm pack, an offline npm install without a compiler)', testFiles('test/dist/package'), join(countsDir, 'package.json'));
if (step('rig setup (packages, kernels)', ['test/vm/setup', '--kernel', 'all'])) {
  step('kernel series check (applies, checkpatch --strict, every patch builds: rig kernel, i915/GVT-g W=1)', ['kernel-patches/check']);
  testRun('host tests that need the rig (self-tests, uAPI headers)', testFiles('test/dist/rig'), join(countsDir, 'rig.json'));
  const files = testFiles('test/dist/integration');
  for (const kernel of kernels) {
    const out = join(repo, 'test', 'vm', 'out', kernel);
    testRun(`integration tests in the VM, ${kernel} kernel`, files, join(out, 'counts.json'), { kernel, out });
  }
}

console.log();
for (const s of failedSteps) console.log(`failed: ${s}`);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exitCode = total.failed > 0 || failedSteps.length > 0 ? 1 : 0;
