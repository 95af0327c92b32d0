// Exit statuses and error messages of the CLI: every failure is one line
// saying what went wrong and what to do, its kind in the exit status; the
// stack only with --debug.
import { inspect } from 'node:util';
import { BusyError, InvalidArgumentError, NotFoundError, PermissionError, UnsupportedError, VfioDisplayError } from '../errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, permission: 4, busy: 5, unsupported: 6 } as const;

/** What each exit status means, for --help and the README. */
export const EXIT_MEANINGS: readonly (readonly [number, string])[] = [
  [EXIT.ok, 'success (watch and flip: also when ended by Ctrl-C or SIGTERM)'],
  [EXIT.failed, 'failed: the kernel or the device refused, or something unexpected happened'],
  [EXIT.usage, 'usage: unknown command or option, a missing or invalid argument'],
  [EXIT.notFound, 'not found: no such device, mdev parent or type, file or DRM card'],
  [EXIT.permission, 'permission denied: run as root, or grant access with a udev rule and group'],
  [EXIT.busy, 'busy: the device is in use (e.g. by QEMU)'],
  [EXIT.unsupported, 'unsupported: not a display device, or the kernel or device lacks the feature'],
];

/** Bad command-line input; `command` names the command whose --help to point at. */
export class UsageError extends Error {
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** node:fs and other Node errors carry an errno name in `code`. */
function osCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof InvalidArgumentError) return EXIT.usage;
  if (err instanceof NotFoundError) return EXIT.notFound;
  if (err instanceof PermissionError) return EXIT.permission;
  if (err instanceof BusyError) return EXIT.busy;
  if (err instanceof UnsupportedError) return EXIT.unsupported;
  if (err instanceof VfioDisplayError) return EXIT.failed;
  switch (osCode(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return EXIT.notFound;
    case 'EACCES':
    case 'EPERM':
      return EXIT.permission;
    case 'EBUSY':
      return EXIT.busy;
    default:
      return EXIT.failed;
  }
}

/** What the CLI adds to a library message: where to look next. */
function hint(err: unknown): string | undefined {
  if (err instanceof UsageError) return err.command === undefined ? "see 'vfio-display --help'" : `see 'vfio-display ${err.command} --help'`;
  if (!(err instanceof VfioDisplayError)) return undefined;
  if (err.code === 'ERR_VFIO_NOT_A_DISPLAY') return "'vfio-display list' shows which devices have a display";
  if (err instanceof NotFoundError && err.path?.startsWith('/sys/')) return "'vfio-display list' shows the mdev parents, types and instances";
  return undefined;
}

/** One line: what failed and the hint; with `debug`, the whole error (stack, cause chain). */
export function renderError(err: unknown, debug: boolean): string {
  if (debug) return `vfio-display: ${inspect(err, { depth: 6 })}`;
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, '; ').trim();
  const extra = hint(err);
  const known = err instanceof UsageError || err instanceof VfioDisplayError || osCode(err) !== undefined;
  return `vfio-display: ${message}${extra ? ` (${extra})` : ''}${known ? '' : ' (an unexpected error: run again with --debug for the stack and report it)'}`;
}
