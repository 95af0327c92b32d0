// The package's install step. A prebuilt addon (prebuilds/, made by
// prebuild.mjs and shipped in the tarball) or an earlier build that loads
// on this machine is kept; otherwise the addon is built from source
// (build.mjs), whose failure says what is missing. npm_config_build_from_source
// (npm install --build-from-source) skips the prebuilt one.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import process from 'node:process';

const pkg = join(import.meta.dirname, '..');
const fromSource = process.env.npm_config_build_from_source === 'true';

let reason = 'building from source, as asked (npm_config_build_from_source)';
if (!fromSource) {
  try {
    createRequire(import.meta.url)('node-gyp-build')(pkg);
    process.exit(0);
  } catch (err) {
    reason = `no prebuilt addon loads here (${String(err instanceof Error ? err.message : err).split('\n')[0]}): building it from source`;
  }
}
process.stderr.write(`vfio-display: ${reason}\n`);
const r = spawnSync(process.execPath, [join(import.meta.dirname, 'build.mjs')], { stdio: 'inherit' });
process.exit(r.status ?? 1);
