// What every benchmark shares: side-by-side rounds, medians with their
// spread, and the machine the figures come from. The machine is noisy
// (2 cores shared with kernel builds and other VMs), so contenders run
// interleaved, round after round, and every figure is a ratio within a round.
import { execFileSync, type StdioOptions } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';

/** docs/bench/ of the repository (from test/dist/bench/). */
export const docsBench = join(import.meta.dirname, '..', '..', '..', 'docs', 'bench');

export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function spread(xs: readonly number[]): Spread {
  return { median: round3(median(xs)), min: round3(Math.min(...xs)), max: round3(Math.max(...xs)) };
}

export interface Machine {
  readonly date: string;
  readonly cpu: string;
  readonly cores: number;
  readonly kernel: string;
  readonly node: string;
  /** 1, 5 and 15 minute load averages (uptime) when the figures were taken. */
  readonly loadavg: readonly number[];
}

export function machine(): Machine {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    kernel: release(),
    node: process.version,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** Nanoseconds per call of `fn` over `n` calls. */
export function nsPerCall(n: number, fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

/**
 * Runs every contender once per round for `rounds` rounds after one warm-up
 * round, starting each round at the next contender so that none always runs
 * right after another; each returns its own measure (e.g. ns per call).
 */
export function rounds<K extends string>(count: number, contenders: Record<K, () => number>): Record<K, number[]> {
  const names = Object.keys(contenders) as K[];
  const times = Object.fromEntries(names.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (const name of names) contenders[name]();
  for (const name of turns(count, names)) times[name].push(contenders[name]());
  return times;
}

/** `items` `count` times over, each round starting at the next item. */
export function* turns<T>(count: number, items: readonly T[]): Generator<T> {
  for (let r = 0; r < count; r++) {
    for (let i = 0; i < items.length; i++) yield items[(r + i) % items.length] as T;
  }
}

export interface Ratio extends Spread {
  /** The same from each one's fastest round: the one least disturbed by other load. */
  readonly best: number;
}

/** Round by round, `of` / `base` (or `base` / `of` with `inverse`: a throughput ratio). */
export function ratio(of: readonly number[], base: readonly number[], inverse = false): Ratio {
  const r = (a: number, b: number): number => (inverse ? b / a : a / b);
  return { ...spread(of.map((t, i) => r(t, base[i] ?? NaN))), best: round3(r(Math.min(...of), Math.min(...base))) };
}

export function writeJson(dir: string, name: string, data: unknown): void {
  writeFileSync(join(dir, name), `${JSON.stringify(data, null, 2)}\n`);
}

/** Compiles test/bench/c/<name>.c with gcc -O2 into the temporary directory; returns the program's path. */
export function buildC(name: string): string {
  const source = join(import.meta.dirname, '..', '..', 'bench', 'c', `${name}.c`);
  const program = join(mkdtempSync(join(tmpdir(), 'vfio-bench-')), name);
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', program, source], { stdio: 'inherit' });
  return program;
}

/** Runs a C loop program; its output starts with nanoseconds per call. */
export function runC(program: string, args: readonly string[], options: { stdio?: StdioOptions } = {}): number {
  const out = execFileSync(program, args, { encoding: 'utf8', ...options });
  const ns = Number(out.split(' ')[0]);
  if (!Number.isFinite(ns)) throw new Error(`${program}: no time in ${JSON.stringify(out)}`);
  return ns;
}
