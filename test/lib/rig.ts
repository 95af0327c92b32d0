// Helpers for tests that run inside the rig's VM (test/vm/run): mediated
// device instances of the kernel's sample drivers, the vkms card, and the
// kernel log.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { createInstance, getInstance, listTypes, removeInstance, type MdevInstance } from 'vfio-display';

/** Set by test/vm/run: the writable share inside the guest. */
export const rigOut = process.env.VFIO_DISPLAY_RIG_OUT;

/** Which rig kernel this is ("stock" or "patched"), inside the VM. */
export const rigKernel = process.env.VFIO_DISPLAY_KERNEL;

/** Integration tests call this first: they only mean something inside the VM. */
export function requireRig(): string {
  if (rigOut === undefined) {
    throw new Error('this test runs inside the rig: test/vm/run -- node --test <file>');
  }
  return rigOut;
}

export interface MdevHandle extends MdevInstance, Disposable {
  /** /dev/vfio/<group> */
  readonly groupNode: string;
  /** Removes the instance; later calls do nothing. */
  remove(): void;
}

/** Type ids a parent offers (e.g. "mbochs" offers "mbochs-small"). */
export function mdevTypes(parent: string): string[] {
  return listTypes(parent).map((t) => t.id);
}

/** Creates an instance of `type` under `parent`; remove it (or `using` it) when done, unless a test removed it. */
export function createMdev(parent: string, type: string): MdevHandle {
  const uuid = createInstance(parent, type);
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    if (existsSync(`/sys/bus/mdev/devices/${uuid}`)) removeInstance(uuid);
  };
  try {
    const instance = getInstance(uuid);
    return { ...instance, groupNode: `/dev/vfio/${String(instance.iommuGroup)}`, remove, [Symbol.dispose]: remove };
  } catch (err) {
    remove();
    throw err;
  }
}

export interface Remover {
  /** Resolves when the write to `remove` has returned (the kernel finished removing). */
  readonly done: Promise<void>;
  /** Whether it has. */
  readonly finished: () => boolean;
}

/**
 * Writes `remove` of an mdev from another process: the kernel blocks the
 * write until every fd of the device is closed, so this process must stay
 * free to close them.
 */
export function removeFromAnotherProcess(mdev: MdevInstance): Remover {
  let finished = false;
  const done = new Promise<void>((resolve, reject) => {
    const remover = spawn(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(`${mdev.sysfsPath}/remove`)}, '1')`], { stdio: 'inherit' });
    remover.on('error', reject);
    remover.on('exit', (code) => {
      finished = true;
      if (code === 0) resolve();
      else reject(new Error(`the remover exited with ${String(code)}`));
    });
  });
  return { done, finished: () => finished };
}

export interface DrmCard {
  /** e.g. "card0" */
  readonly name: string;
  /** e.g. "/dev/dri/card0" */
  readonly node: string;
  /** Connector names as sysfs lists them, e.g. ["Virtual-1", "Writeback-1"]. */
  readonly connectors: string[];
}

/** The DRM card whose device is the vkms platform device. */
export function findVkmsCard(): DrmCard {
  for (const name of readdirSync('/sys/class/drm')) {
    if (!/^card\d+$/.test(name)) continue;
    if (basename(realpathSync(`/sys/class/drm/${name}/device`)) !== 'vkms') continue;
    const connectors = readdirSync('/sys/class/drm')
      .filter((entry) => entry.startsWith(`${name}-`))
      .map((entry) => entry.slice(name.length + 1))
      .sort();
    return { name, node: `/dev/dri/${name}`, connectors };
  }
  throw new Error('no vkms card in /sys/class/drm (is CONFIG_DRM_VKMS built in?)');
}

/** Reads a sysfs attribute, trimmed. */
export function sysfsRead(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

// What the kernel logs when it hits a bug: test/vm/scan-kernel-log's pattern,
// plus the page allocator's and list debugging's own reports.
const KERNEL_PROBLEM = /WARNING:|BUG[: ]|Oops|Call Trace|general protection fault|Bad page|list_(add|del) corruption|refcount_t:|KASAN:|UBSAN:/;
const TIMESTAMP = /^\[\s*(\d+\.\d+)\]/;

function kernelLog(): string[] {
  return execFileSync('dmesg', { encoding: 'utf8' }).split('\n');
}

/** The time (s since boot) of the kernel log's last line: a mark for kernelProblemsSince(). */
export function kernelLogMark(): number {
  let mark = 0;
  for (const line of kernelLog()) mark = Number(TIMESTAMP.exec(line)?.[1] ?? mark);
  return mark;
}

/** Kernel log lines after `mark` that match `pattern`. */
export function kernelLogSince(mark: number, pattern: RegExp): string[] {
  let after = false;
  return kernelLog().filter((line) => {
    const time = TIMESTAMP.exec(line)?.[1];
    if (time !== undefined) after = Number(time) > mark;
    return after && pattern.test(line);
  });
}

/** Kernel log lines after `mark` that report a warning, a bug or an oops. */
export function kernelProblemsSince(mark: number): string[] {
  return kernelLogSince(mark, KERNEL_PROBLEM);
}

/**
 * Why a process of another uid cannot run this checkout's scripts (a
 * directory on the way to it without o+x, e.g. a clone in `mktemp -d`), or
 * null when it can: tests that run as an unprivileged user skip with this.
 */
export function unreachableByOthers(path = process.cwd()): string | null {
  for (let dir = realpathSync(path); ; dir = dirname(dir)) {
    const { mode } = statSync(dir);
    if ((mode & 0o001) === 0) return `${dir} is not searchable by other users (mode ${(mode & 0o777).toString(8)}), so an unprivileged process cannot load this checkout`;
    if (dir === '/') return null;
  }
}
