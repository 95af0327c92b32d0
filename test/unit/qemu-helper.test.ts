// The QEMU helper refuses bad usage and unusable QEMUs on one line, before
// it opens any device (run as a user runs it; the rig's nested-guest test
// runs it on a real vGPU).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const helper = join(import.meta.dirname, '..', '..', '..', 'packages', 'examples', 'dist', 'qemu-helper.js');
const UUID = '4b20d080-1b54-4048-85b3-a6a62d165c01';

function runHelper(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [helper, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help prints the usage and exits 0', () => {
  const r = runHelper('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^usage: qemu-helper --mdev <uuid> \[options\] -- <QEMU arguments>$/m);
  for (const option of ['--stats', '--flip CARD', '--connector ID|NAME', '--fit HOW', '--screenshot DIR']) assert.ok(r.stdout.includes(option), option);
});

test('bad usage: one line on stderr naming the problem, exit status 2', () => {
  const cases: [string[], RegExp][] = [
    [[], /--mdev <uuid> is required/],
    [['--mdev', 'nope'], /--mdev must be an mdev UUID/],
    [['--mdev', UUID, '--frobnicate'], /Unknown option '--frobnicate'/],
    [['--mdev', UUID, 'stray'], /Unexpected argument 'stray'/],
    [['--mdev', UUID, '--bind-timeout', 'soon'], /--bind-timeout must be a number of seconds/],
    [['--mdev', UUID, '--bind-timeout', '0'], /--bind-timeout must be positive/],
    [['--mdev', UUID, '--qemu', ''], /--qemu must name a program/],
    [['--mdev', UUID, '--flip', '/etc/passwd'], /--flip takes a DRM card node such as \/dev\/dri\/card0/],
    [['--mdev', UUID, '--flip', 'fd:three'], /--flip takes a DRM card node such as \/dev\/dri\/card0, or fd:N/],
    [['--mdev', UUID, '--flip', '/dev/dri/card0', '--fit', 'zoom'], /--fit is auto, modeset, center, scale or stretch/],
    [['--mdev', UUID, '--connector', 'HDMI-A-1'], /--connector, --fit and --fit-edid go with --flip/],
    [['--mdev', UUID, '--fit-edid'], /--connector, --fit and --fit-edid go with --flip/],
    [['--mdev', UUID, '--screenshot', ''], /--screenshot takes a directory/],
  ];
  for (const [args, message] of cases) {
    const r = runHelper(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.match(r.stderr, /^qemu-helper: [^\n]+ \(see --help\)\n$/, args.join(' '));
  }
});

test('a QEMU that is missing, unidentifiable or older than 9.0 is refused before any device is opened', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'qemu-helper-'));
  t.after(() => {
    rmSync(dir, { recursive: true });
  });
  // Stand-ins for QEMU binaries: the version gate only reads `--version`.
  const fake = (name: string, output: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\necho '${output}'\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const cases: [string, RegExp][] = [
    [join(dir, 'absent'), /cannot run .*absent --version: not found \(give its path with --qemu\)/],
    [fake('other', 'some other program 1.0'), /does not say which QEMU it is/],
    [fake('old', 'QEMU emulator version 7.2.0 (Debian 1:7.2+dfsg-7)'), /QEMU 7\.2\.0 is too old: .* needs QEMU >= 9\.0/],
    [fake('almost', 'QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)'), /QEMU 8\.2\.2 is too old/],
  ];
  for (const [qemu, message] of cases) {
    const r = runHelper('--mdev', UUID, '--qemu', qemu, '--', '-m', '256M');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /mdev|waiting/, 'no device was looked at');
  }
  // A new enough QEMU passes the gate; the absent vGPU stops it next.
  const r = runHelper('--mdev', UUID, '--qemu', fake('new', 'QEMU emulator version 9.0.0'));
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^qemu-helper: no mdev instance ${UUID}`, 'm'));
});
