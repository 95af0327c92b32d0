// Builds the addon from source with node-gyp against the headers of the
// Node.js that runs this script, so no nodedir setting in the user's npm
// config and no header download are needed (official tarballs and
// distribution packages both ship include/node beside bin/node). Configures
// once; make rebuilds what changed. The repository's build runs it; an
// installed package runs it (through install.mjs) only where no prebuilt
// addon loads. A missing toolchain is named before node-gyp is started.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import process from 'node:process';

const pkg = join(import.meta.dirname, '..');
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function fail(reason) {
  process.stderr.write(
    `${[
      `vfio-display: cannot build the native addon from source: ${reason}.`,
      '  Building it needs a C++17 compiler, make and python3 (Debian/Ubuntu: apt install g++ make python3;',
      '  Fedora: dnf install gcc-c++ make python3); install them and reinstall vfio-display.',
      '  Prebuilt addons cover Linux x86-64 with glibc >= 2.28 and the C++ runtime of GCC >= 11.',
    ].join('\n')}\n`,
  );
  process.exit(1);
}

/** This package's node-gyp (a devDependency in the repository), else the one npm and pnpm bundle, else one on PATH. */
function nodeGyp() {
  try {
    return [process.execPath, createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    const bundled = process.env.npm_config_node_gyp;
    if (bundled && existsSync(bundled)) return [process.execPath, bundled];
    const found = onPath('node-gyp');
    if (found) return [found];
    return fail('node-gyp was not found (npm and pnpm bring one; run the install through them)');
  }
}

if (process.env.CXX === undefined && !['c++', 'g++', 'clang++'].some(onPath)) fail('no C++ compiler on PATH (c++, g++ or clang++; or set CXX)');
if (!onPath('make')) fail('make is not on PATH');
if (!process.env.PYTHON && !onPath('python3')) fail('python3 (which node-gyp runs) is not on PATH');
if (nodedir.length === 0) process.stderr.write(`vfio-display: ${prefix} has no include/node headers: node-gyp will download them\n`);

const [command, ...prefixArgs] = nodeGyp();
function gyp(...args) {
  const r = spawnSync(command, [...prefixArgs, ...args, ...nodedir], { cwd: pkg, stdio: 'inherit' });
  if (r.error) fail(`node-gyp did not start (${r.error.message})`);
  if (r.status !== 0) fail(`node-gyp ${args[0]} exited with status ${r.status ?? r.signal} (its output is above)`);
}

if (!existsSync(join(pkg, 'build', 'Makefile'))) gyp('configure');
gyp('build');
