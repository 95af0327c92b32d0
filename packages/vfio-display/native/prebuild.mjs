// Makes the prebuilt addon that `pnpm pack` ships: prebuildify (Node-API,
// stripped, tagged with the C library) writes
// prebuilds/<platform>-<arch>/vfio-display.<libc>.node, which node-gyp-build
// loads on any Node with Node-API 8. It builds against the running Node's
// own headers (--target is this Node, nodedir its prefix: no download), in a
// copy of the sources, so the repository's build/ is left as it is.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';

const pkg = join(import.meta.dirname, '..');
const prefix = dirname(dirname(process.execPath));
if (!existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  process.stderr.write(`prebuild: ${prefix} has no include/node headers to build against\n`);
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'vfio-display-prebuild-'));
try {
  for (const f of ['package.json', 'binding.gyp', 'native/addon.cc']) cpSync(join(pkg, f), join(work, f));
  symlinkSync(join(pkg, 'node_modules'), join(work, 'node_modules'));
  const prebuildify = createRequire(import.meta.url).resolve('prebuildify/bin.js');
  const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', `--target=${process.versions.node}`], {
    cwd: work,
    stdio: 'inherit',
    env: { ...process.env, npm_config_nodedir: prefix },
  });
  if (r.status === 0) {
    rmSync(join(pkg, 'prebuilds'), { recursive: true, force: true });
    cpSync(join(work, 'prebuilds'), join(pkg, 'prebuilds'), { recursive: true });
  } else {
    process.exitCode = r.status ?? 1;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
