// The CLI in-process, as main.ts runs it: help, version, and the mistakes
// it reports without touching a device (the rig runs the rest).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Io, Output } from './output.js';
import { COMMANDS, runCli, version } from './run.js';

class Captured implements Output {
  text = '';
  write(chunk: string | Uint8Array): boolean {
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }
}

async function run(...argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout = new Captured();
  const stderr = new Captured();
  const io: Io = { stdout, stderr, interruptSignal: () => new AbortController().signal };
  const status = await runCli(argv, io);
  return { status, stdout: stdout.text, stderr: stderr.text };
}

test('--help lists every command; each command has its own --help', async () => {
  const main = await run('--help');
  assert.equal(main.status, 0);
  for (const [name] of COMMANDS) {
    assert.match(main.stdout, new RegExp(`^ {2}${name}\\b`, 'm'));
    const viaFlag = await run(name, '--help');
    assert.equal(viaFlag.status, 0, name);
    assert.match(viaFlag.stdout, new RegExp(`^Usage: vfio-display ${name}\\b`), name);
    assert.match(viaFlag.stdout, /^Exit status:$/m, name);
    assert.equal((await run('help', name)).stdout, viaFlag.stdout);
  }
  const bare = await run();
  assert.equal(bare.status, 2, 'no command: the help, as a usage error');
  assert.equal(bare.stdout, main.stdout);
});

test('--version prints the package version', async () => {
  assert.deepEqual(await run('--version'), { status: 0, stdout: `${version()}\n`, stderr: '' });
  assert.match(version(), /^\d+\.\d+\.\d+/);
});

test('usage mistakes: one line on stderr, status 2, nothing on stdout', async () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /^vfio-display: no command "frobnicate" \(see 'vfio-display --help'\)$/],
    [['help', 'frobnicate'], /no command "frobnicate"/],
    [['planes'], /^vfio-display: planes: missing <dev> \(see 'vfio-display planes --help'\)$/],
    [['planes', 'x', 'y'], /planes: unexpected argument "y"/],
    [['planes', 'x', '--plain'], /planes: unknown option --plain/],
    [['planes', 'not-a-device'], /not an mdev UUID: "not-a-device"/],
    [['planes', 'fd:999'], /fd:999: this process has no fd 999/],
    [['screenshot', 'x'], /screenshot: --output: missing/],
    [['screenshot', 'x', '-o', 'a.png', '--plane', 'side'], /--plane: Invalid option: expected one of "primary"\|"cursor"/],
    [['screenshot', 'x', '-o', 'a.png', '--plane', 'cursor', '--with-cursor'], /--with-cursor: goes with the primary plane only/],
    [['watch', 'x', '--count', '0'], /--count: must be at least 1/],
    [['watch', 'x', '--interval', 'soon'], /--interval: expected a whole number/],
    [['edid', 'x', '--mode', '800x600', '--link', 'up'], /give at most one of --mode, --modes, --file and --link/],
    [['edid', 'x', '--link', 'sideways'], /--link: Invalid option/],
    [['flip', 'x'], /flip: --drm: missing: give the host DRM card/],
    [['flip', 'x', '--drm', '/dev/dri/card0', '--cursor-plane', 'off'], /--cursor-plane/],
    [['remove', 'abc'], /not an mdev UUID: "abc"/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(...argv);
    assert.equal(r.status, 2, argv.join(' '));
    assert.equal(r.stdout, '', argv.join(' '));
    assert.match(r.stderr.trimEnd(), message, argv.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  }
});
