// Runs the built vfio-display CLI as a child process, as a user's shell
// would: to completion (status, stdout, stderr), or in the background with
// its output as lines (watch, flip) until a signal ends it. A device the
// test holds open goes to the child as fd 3 (the CLI's fd:3), a second fd
// (a DRM lease) as fd 4.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const CLI = join(import.meta.dirname, '..', '..', '..', 'packages', 'vfio-display', 'bin', 'vfio-display.js');

export interface CliOptions {
  /** Open fds of this process the child gets as fd 3 (and 4, ...). */
  readonly fd?: number | readonly number[];
  readonly timeoutMs?: number;
  /** Run as this user and group (e.g. 65534, nobody) instead of root. */
  readonly uid?: number;
  readonly gid?: number;
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const stdio = (fd: CliOptions['fd']): ('ignore' | 'pipe' | number)[] => ['ignore', 'pipe', 'pipe', ...(fd === undefined ? [] : [fd].flat())];

export function cli(args: readonly string[], options: CliOptions = {}): CliResult {
  const { fd, timeoutMs = 120_000, ...ids } = options;
  const r = spawnSync(process.execPath, [CLI, ...args], { stdio: stdio(fd), encoding: 'utf8', timeout: timeoutMs, ...ids });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs and expects status 0 and nothing on stderr; returns stdout. */
export function cliOk(args: readonly string[], options: CliOptions = {}): string {
  const r = cli(args, options);
  assert.equal(r.status, 0, `vfio-display ${args.join(' ')}: status ${r.status}, stderr: ${r.stderr}`);
  assert.equal(r.stderr, '', `vfio-display ${args.join(' ')} wrote to stderr`);
  return r.stdout;
}

/**
 * Expects a failure reported as the CLI promises: status `status`, nothing
 * on stdout (or what `stdout` matches: what it printed before failing), one
 * line on stderr starting "vfio-display: ", no stack trace. Returns that line.
 */
export function cliFails(args: readonly string[], status: number, options: CliOptions & { readonly stdout?: RegExp } = {}): string {
  const { stdout = /^$/, ...rest } = options;
  const r = cli(args, rest);
  assert.equal(r.status, status, `vfio-display ${args.join(' ')}: status ${r.status} (stderr: ${r.stderr})`);
  assert.match(r.stdout, stdout);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr, not: ${r.stderr}`);
  const [line = ''] = lines;
  assert.match(line, /^vfio-display: /);
  assert.doesNotMatch(line, /\n|\bat .*\.js:\d+/);
  return line;
}

/** A CLI running in the background; its stdout read line by line. */
export class CliProcess implements AsyncDisposable {
  readonly #child;
  readonly #lines: AsyncIterator<string>;
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  /** Every line of stdout read so far. */
  readonly seen: string[] = [];

  constructor(args: readonly string[], options: CliOptions = {}) {
    this.#child = spawn(process.execPath, [CLI, ...args], { stdio: stdio(options.fd) });
    this.#child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    const stdout = this.#child.stdout;
    assert.ok(stdout);
    this.#lines = createInterface({ input: stdout })[Symbol.asyncIterator]();
    this.exited = new Promise((resolve) => {
      this.#child.on('exit', (status, signal) => {
        resolve({ status, signal });
      });
    });
  }

  /** The next line of stdout; fails after `timeoutMs` or if the output ends. */
  async line(timeoutMs = 60_000): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`no line from the CLI within ${timeoutMs} ms (stderr: ${this.stderr})`));
      }, timeoutMs);
    });
    try {
      const r = await Promise.race([this.#lines.next(), timeout]);
      assert.ok(r.done !== true, `the CLI's output ended (stderr: ${this.stderr})`);
      this.seen.push(r.value);
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Lines until one matches; returns it. */
  async lineMatching(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    for (;;) {
      const line = await this.line(timeoutMs);
      if (pattern.test(line)) return line;
    }
  }

  /** Sends `signal` and waits for the exit; returns the status and the rest of stdout. */
  async stop(signal: NodeJS.Signals = 'SIGINT'): Promise<{ status: number | null; rest: string[] }> {
    this.#child.kill(signal);
    const { status } = await this.exited;
    const rest: string[] = [];
    for (;;) {
      const r = await this.#lines.next();
      if (r.done === true) break;
      rest.push(r.value);
      this.seen.push(r.value);
    }
    return { status, rest };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGKILL');
      await this.exited;
    }
  }
}
