// The package as users get it: `pnpm pack` (which makes the prebuilt addon),
// then `npm install` of the tarball into an empty project, offline, with a
// PATH that has node, npm and sh but no compiler, make or python. Then the
// CLI runs, ESM and CommonJS (require(esm)) consumers load it, TypeScript
// finds its types through `exports`; and where no prebuilt addon loads, the
// install step builds one from source, or says in words what is missing.
//
// Offline: the library's dependencies are packed from the workspace's own
// node_modules (the versions the lockfile pinned) and installed alongside,
// so npm resolves every name locally and never asks the registry.
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';

const repo = join(import.meta.dirname, '..', '..', '..');
const library = join(repo, 'packages', 'vfio-display');
const pkg = JSON.parse(readFileSync(join(library, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };
const pnpm = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;

const work = mkdtempSync(join(tmpdir(), 'vfio-display-pack-'));
const bin = join(work, 'bin');
const project = join(work, 'project');
const installed = join(project, 'node_modules', pkg.name);
/** node, npm and sh, nothing else: no compiler, make or python. */
const barePath = bin;
const TOOLS = ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'make', 'python3'];

function run(command: string, args: readonly string[], options: SpawnSyncOptions & { path?: string } = {}): { status: number | null; out: string } {
  const { path = barePath, env, ...rest } = options;
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 300_000, ...rest, env: { HOME: process.env.HOME, PATH: path, ...env } });
  if (r.error) throw r.error;
  return { status: r.status, out: `${String(r.stdout)}${String(r.stderr)}` };
}

function ok(command: string, args: readonly string[], options: SpawnSyncOptions & { path?: string } = {}): string {
  const r = run(command, args, options);
  assert.equal(r.status, 0, `${command} ${args.join(' ')}: status ${r.status}\n${r.out}`);
  return r.out;
}

/**
 * A tarball of an installed package directory, as npm pack would lay it out
 * (package/...). pnpm hard-links files of equal content to one store file,
 * and tar would record the second as a link, which npm does not extract:
 * every file goes in as itself.
 */
function tarball(dir: string, name: string, into: string): string {
  const file = join(into, `${name.replace('/', '-')}.tgz`);
  ok('tar', ['-czf', file, '--hard-dereference', '-C', dir, '--transform', 's,^\\.,package,', '.'], { path: process.env.PATH ?? '' });
  return file;
}

/** Each dependency (and theirs) as installed in the workspace, packed. */
function packDependencies(from: string, into: string, seen = new Set<string>()): string[] {
  const deps = (JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
  return Object.keys(deps).flatMap((name) => {
    if (seen.has(name)) return [];
    seen.add(name);
    let dir = from;
    while (!existsSync(join(dir, 'node_modules', name))) {
      assert.notEqual(dirname(dir), dir, `${name} is installed`);
      dir = dirname(dir);
    }
    const real = realpathSync(join(dir, 'node_modules', name));
    return [tarball(real, name, into), ...packDependencies(real, into, seen)];
  });
}

/** The packed library; the tarballs of its dependencies. */
let packed: string;
let dependencies: string[];

before(() => {
  mkdirSync(bin);
  mkdirSync(project);
  for (const tool of ['node', 'npm', 'sh']) {
    const found = ok('sh', ['-c', `command -v ${tool}`], { path: process.env.PATH ?? '' }).trim();
    symlinkSync(found, join(bin, tool));
  }
  for (const tool of TOOLS) assert.notEqual(run('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is not on the bare PATH`);
  const execpath = process.env.npm_execpath;
  const [command, ...args] = execpath?.includes('pnpm') === true ? [process.execPath, execpath] : ['npx', '--yes', '--prefer-offline', pnpm];
  ok(command, [...args, 'pack', '--pack-destination', work], { cwd: library, path: process.env.PATH ?? '' });
  packed = join(work, `${pkg.name}-${pkg.version}.tgz`);
  const deps = join(work, 'deps');
  mkdirSync(deps);
  dependencies = packDependencies(library, deps);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', allowScripts: { [pkg.name]: true } }));
});

after(() => {
  rmSync(work, { recursive: true, force: true });
});

const npm = (args: readonly string[], options: SpawnSyncOptions & { path?: string } = {}): { status: number | null; out: string } =>
  run('npm', [...args, '--offline', '--no-audit', '--no-fund', '--foreground-scripts', '--cache', join(work, 'npm-cache')], { cwd: project, ...options });

test('the tarball holds the build, the prebuilt addon, the sources to rebuild it, and no tests', () => {
  const files = ok('tar', ['-tzf', packed], { path: process.env.PATH ?? '' }).split('\n').filter(Boolean);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'binding.gyp', 'native/addon.cc', 'native/build.mjs', 'native/install.mjs', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'bin/vfio-display.js']) {
    assert.ok(files.includes(`package/${f}`), f);
  }
  assert.ok(files.some((f) => /^package\/prebuilds\/linux-x64\/[^/]+\.node$/.test(f)), 'a prebuilt linux-x64 addon');
  assert.deepEqual(files.filter((f) => /\.test\.|\/test\/|build\/Release/.test(f)), []);
});

test('npm installs it offline with no compiler on PATH; the CLI runs from the prebuilt addon', () => {
  const r = npm(['install', ...dependencies, packed]);
  assert.equal(r.status, 0, r.out);
  assert.ok(!existsSync(join(installed, 'build')), 'nothing was compiled');
  const cli = join(project, 'node_modules', '.bin', 'vfio-display');
  const help = ok(cli, ['--help']);
  assert.match(help, /^Usage: vfio-display <command> \[arguments\] \[options\]$/m);
  assert.match(help, /^ {2}screenshot <dev> -o FILE/m);
  assert.equal(ok(cli, ['--version']), `${pkg.version}\n`);
  const planes = run(cli, ['planes', '00000000-0000-0000-0000-000000000000']);
  assert.deepEqual([planes.status, planes.out.split('\n').length], [3, 2], `the addon loads and the command fails as it should: ${planes.out}`);
});

test('ESM import, CommonJS require (require(esm)) and TypeScript types through `exports`', () => {
  const check = 'JSON.stringify({ edid: m.generateEdid({ modes: ["1024x768"] }).length, ioctl: m.uapi.vfio.VFIO_DEVICE_QUERY_GFX_PLANE, schema: typeof m.planeInfoSchema().parse, uapi: u.vfio.VFIO_DEVICE_GET_GFX_DMABUF })';
  const want = `${JSON.stringify({ edid: 128, ioctl: 0x3b72, schema: 'function', uapi: 0x3b73 })}\n`;
  writeFileSync(join(project, 'esm.mjs'), `import * as m from '${pkg.name}';\nimport * as u from '${pkg.name}/uapi';\nconsole.log(${check});\n`);
  assert.equal(ok('node', ['esm.mjs'], { cwd: project }), want);
  assert.equal(process.features.require_module, true, `this Node (${process.version}) loads ES modules with require()`);
  writeFileSync(join(project, 'cjs.cjs'), `const m = require('${pkg.name}');\nconst u = require('${pkg.name}/uapi');\nconsole.log(${check});\n`);
  const cjs = spawnSync('node', ['cjs.cjs'], { cwd: project, encoding: 'utf8', env: { PATH: barePath } });
  assert.equal(cjs.status, 0, cjs.stderr);
  assert.equal(cjs.stdout, want);
  writeFileSync(
    join(project, 'consumer.ts'),
    `import { openDisplay, planeInfoSchema, type PlaneInfo } from '${pkg.name}';\nimport { vfio } from '${pkg.name}/uapi';\nexport const f: (uuid: string) => PlaneInfo | null = (uuid) => openDisplay(uuid).query('primary');\nexport const n: number = vfio.VFIO_DEVICE_QUERY_GFX_PLANE;\nexport const s = planeInfoSchema;\n`,
  );
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  ok('node', [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2023,esnext.disposable', '--types', 'node', '--typeRoots', join(repo, 'node_modules', '@types'), 'consumer.ts'], { cwd: project });
});

test('without a prebuilt addon that loads: no compiler means a failed install that says what is missing; with one, it builds from source', () => {
  rmSync(join(installed, 'prebuilds'), { recursive: true });
  const cli = join(project, 'node_modules', '.bin', 'vfio-display');
  const broken = run(cli, ['--version']);
  assert.equal(broken.status, 0, '--version needs no addon');
  const noAddon = run(cli, ['list']);
  assert.equal(noAddon.status, 1);
  assert.match(noAddon.out, /^vfio-display: the vfio-display native addon does not load \(No native build was found .*\); where no prebuilt one fits, its install script builds it/);
  assert.equal(noAddon.out.split('\n').length, 2, 'one line');

  const failed = npm(['rebuild', pkg.name]);
  assert.notEqual(failed.status, 0);
  assert.match(failed.out, /vfio-display: no prebuilt addon loads here \(No native build was found/);
  assert.match(failed.out, /vfio-display: cannot build the native addon from source: no C\+\+ compiler on PATH/);
  assert.match(failed.out, /apt install g\+\+ make python3/);

  const toolchain = [...new Set(TOOLS.map((t) => run('sh', ['-c', `command -v ${t}`], { path: process.env.PATH ?? '' }).out.trim()).filter(Boolean).map(dirname))];
  const built = npm(['rebuild', pkg.name], { path: [barePath, ...toolchain].join(delimiter) });
  assert.equal(built.status, 0, built.out);
  assert.ok(existsSync(join(installed, 'build', 'Release', 'vfio_display.node')));
  assert.equal(run(cli, ['list']).status, 0, 'the CLI runs on the addon built from source');
});
