// `pnpm bench`: every benchmark, then docs/benchmarks.md from their JSON.
//   node test/dist/bench/run.js [binding] [image] [rig] [report]   (default: all)
// binding and image run on the host; rig boots the rig's VM once on the
// patched kernel (test/vm/run builds it if needed) and runs query,
// change-latency, flip-paths and region-copy there, then copies their JSON to docs/bench/
// with the host's machine and load around the VM run. A benchmark that fails
// is reported and the others still run; the exit status says whether all ran.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { docsBench, machine, writeJson } from './measure.js';
import { writeReport } from './report.js';

const repo = join(import.meta.dirname, '..', '..', '..');
const PARTS = ['binding', 'image', 'rig', 'report'] as const;
type Part = (typeof PARTS)[number];
const RIG_BENCHES = ['query', 'change-latency', 'flip-paths', 'region-copy'];

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !(PARTS as readonly string[]).includes(a));
if (unknown.length) {
  console.error(`unknown part ${unknown.join(', ')}: choose from ${PARTS.join(', ')}`);
  process.exit(2);
}
const parts = new Set<Part>(asked.length ? (asked as Part[]) : PARTS);
const failed: string[] = [];

function run(what: string, cmd: string, args: string[]): void {
  console.log(`\n== ${what}`);
  const r = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit' });
  if (r.status !== 0) failed.push(`${what} (exit ${String(r.status ?? r.signal)})`);
}

mkdirSync(docsBench, { recursive: true });
for (const host of ['binding', 'image'] as const) {
  if (parts.has(host)) run(host, process.execPath, [join(import.meta.dirname, `${host}.js`)]);
}
if (parts.has('rig')) {
  const out = join(repo, 'test', 'vm', 'out', 'bench');
  const script = `st=0; for b in ${RIG_BENCHES.join(' ')}; do node test/dist/bench/$b.js || { echo "bench: $b failed"; st=1; }; done; exit $st`;
  const host = machine();
  run('rig: query, change-latency, flip-paths, region-copy', join(repo, 'test', 'vm', 'run'), ['--kernel', 'patched', '--out', out, '--timeout', '3600', '--', 'sh', '-c', script]);
  const hostAround = { ...host, loadAfter: machine().loadavg };
  for (const b of RIG_BENCHES) {
    const file = join(out, `${b}.json`);
    if (!existsSync(file)) continue;
    writeJson(docsBench, `${b}.json`, { ...(JSON.parse(readFileSync(file, 'utf8')) as object), host: hostAround });
  }
}
if (parts.has('report')) {
  writeReport();
  console.log(`\nwrote ${join('docs', 'benchmarks.md')} from docs/bench/*.json`);
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join('; ')}`);
  process.exitCode = 1;
}
