// The binding benchmark's comparators, koffi and ffi-napi/ref-napi, installed
// for the benchmark only: into node_modules/.cache/bench-comparators of the
// repository (ignored by git, never a dependency of any package) with
//   npm install --ignore-scripts koffi@3.3.4 ffi-napi@4.0.3 ref-napi@3.0.3
// then, for the packages with native code, the two steps their own install
// script would take, each recorded: node-gyp-build's check that the shipped
// prebuilt binary loads (node-gyp-build-test), and a build from source with
// node-gyp against this Node's headers (in a copy, so the prebuilt binary
// stays the one loaded). Whatever loads is measured; what does not is
// recorded with its error line.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const repo = join(import.meta.dirname, '..', '..', '..');
export const comparatorDir = join(repo, 'node_modules', '.cache', 'bench-comparators');
const PACKAGES = { koffi: '3.3.4', 'ffi-napi': '4.0.3', 'ref-napi': '3.0.3' } as const;
type Name = keyof typeof PACKAGES;

export interface Step {
  readonly ok: boolean;
  /** The command, as run. */
  readonly command: string;
  /** The line of its output that says why it failed. */
  readonly error?: string;
}

export interface ComparatorStatus {
  readonly name: Name;
  readonly version: string;
  /** node-gyp-build-test: the shipped prebuilt binary loaded in a fresh process (what npm's install step checks). */
  readonly prebuildCheck?: Step;
  /** node-gyp rebuild against this Node's headers. */
  readonly sourceBuild?: Step;
  /** require() in the benchmark's process. */
  readonly load: Step;
}

/** The line that says why a command failed: a compiler error, an assertion, else its last line. */
function errorLine(r: SpawnSyncReturns<string>): string {
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const telling = lines.find((l) => /error:|Assertion|npm error code|ERR!.*not ok/.test(l));
  const signal = r.signal ? ` (killed by ${r.signal})` : '';
  return `${telling ?? lines.at(-1) ?? `exit status ${String(r.status)}`}${signal}`;
}

function run(cmd: string, args: string[], cwd: string): Step {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  // Paths relative to the repository: the same on every machine.
  const local = (s: string): string => s.replaceAll(`${repo}/`, '');
  const command = local([cmd === process.execPath ? 'node' : cmd, ...args].join(' '));
  return r.status === 0 ? { ok: true, command } : { ok: false, command, error: local(errorLine(r)) };
}

/** Headers for node-gyp, as packages/vfio-display/native/build.mjs finds them (no download). */
function nodedir(): string[] {
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

export interface Installed {
  readonly install: Step;
  readonly status: ComparatorStatus[];
  /** The loaded modules, by name (only those that loaded). */
  readonly modules: Partial<Record<Name, unknown>>;
}

export function installComparators(): Installed {
  mkdirSync(comparatorDir, { recursive: true });
  if (!existsSync(join(comparatorDir, 'package.json'))) writeFileSync(join(comparatorDir, 'package.json'), '{ "private": true }\n');
  const specs = Object.entries(PACKAGES).map(([name, version]) => `${name}@${version}`);
  const install = run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--save-exact', ...specs], comparatorDir);
  const req = createRequire(join(comparatorDir, 'package.json'));
  const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js', { paths: [join(repo, 'packages', 'vfio-display')] });
  const modules: Partial<Record<Name, unknown>> = {};
  const copy = join(comparatorDir, 'source-build', 'node_modules');
  if (install.ok) cpSync(join(comparatorDir, 'node_modules'), copy, { recursive: true, force: true, filter: (src) => !src.endsWith('/.bin') });
  const status = (Object.keys(PACKAGES) as Name[]).map((name): ComparatorStatus => {
    const version = PACKAGES[name];
    const dir = join(comparatorDir, 'node_modules', name);
    let native: Pick<ComparatorStatus, 'prebuildCheck' | 'sourceBuild'> = {};
    if (install.ok && existsSync(join(dir, 'binding.gyp'))) {
      native = {
        prebuildCheck: run(process.execPath, [req.resolve('node-gyp-build/build-test.js')], dir),
        sourceBuild: run(process.execPath, [nodeGyp, 'rebuild', ...nodedir()], join(copy, name)),
      };
    }
    let load: Step = { ok: false, command: `require('${name}')`, error: 'not installed' };
    if (install.ok) {
      try {
        modules[name] = req(name);
        load = { ok: true, command: load.command };
      } catch (err) {
        load = { ...load, error: String(err).split('\n')[0] ?? '' };
      }
    }
    return { name, version, ...native, load };
  });
  return { install, status, modules };
}
