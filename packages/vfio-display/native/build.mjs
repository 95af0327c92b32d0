// Builds the addon with node-gyp against the headers of the Node.js that runs
// this script, so no nodedir setting in the user's npm config and no header
// download are needed (official tarballs and distribution packages both ship
// include/node beside bin/node). Configures once; make rebuilds what changed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';

const pkg = join(import.meta.dirname, '..');
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');

function gyp(...args) {
  const r = spawnSync(process.execPath, [nodeGyp, ...args, ...nodedir], { cwd: pkg, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync(join(pkg, 'build', 'Makefile'))) gyp('configure');
gyp('build');
