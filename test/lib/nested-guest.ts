// A real guest on a vGPU, inside the rig: the rig's own bzImage (its
// bochs-drm drives the mbochs vGPU, fbcon draws the console) with a busybox
// initramfs (test/vm/nested-init), under QEMU's TCG in the rig's VM.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';

const repo = join(import.meta.dirname, '..', '..', '..');

/** Nested boots under TCG take 45-60 s on this machine kind, with a wide spread. */
export const GUEST_TIMEOUT_MS = 300_000;

/** Packs the initramfs into a fresh directory under /tmp and returns its path. */
export function buildInitramfs(): string {
  const path = join(mkdtempSync('/tmp/nested-guest-'), 'initramfs.cpio');
  execFileSync(join(repo, 'test', 'vm', 'nested-initramfs'), [path], { stdio: 'inherit' });
  return path;
}

/**
 * QEMU arguments for the guest, without the vGPU: q35 under TCG, no other
 * display device, serial console on stdio. `initcall_blacklist=vkms_init`
 * keeps the rig kernel's vkms out of the guest, so the vGPU's framebuffer
 * is fb0 and carries fbcon; `acpi=off` and qboot shave seconds off the boot.
 */
export function guestArgs(initramfs: string): string[] {
  const kernelDir = process.env.VFIO_DISPLAY_KERNEL_DIR;
  if (kernelDir === undefined) throw new Error('VFIO_DISPLAY_KERNEL_DIR is unset: run this inside the rig (test/vm/run)');
  return [
    '-machine', 'q35', '-accel', 'tcg', '-cpu', 'max', '-m', '256M',
    '-nodefaults', '-no-user-config', '-vga', 'none', '-display', 'none',
    '-serial', 'stdio', '-no-reboot', '-bios', 'qboot.rom',
    '-kernel', join(kernelDir, 'bzImage'), '-initrd', initramfs,
    '-append', 'console=tty0 console=ttyS0 quiet panic=-1 acpi=off initcall_blacklist=vkms_init bochs.defx=640 bochs.defy=480',
  ];
}

/** Lines of a child's output, kept, with a wait for the first that matches. */
export class Lines {
  readonly all: string[] = [];
  readonly #waiters = new Set<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }>();
  #closed = false;
  readonly #onClose = new Set<() => void>();

  constructor(streams: readonly Readable[], echo: (line: string) => void) {
    let open = streams.length;
    for (const stream of streams) {
      createInterface({ input: stream })
        .on('line', (line) => {
          this.all.push(line);
          echo(line);
          for (const w of this.#waiters) {
            const m = w.pattern.exec(line);
            if (m) {
              this.#waiters.delete(w);
              w.resolve(m);
            }
          }
        })
        .on('close', () => {
          if (--open > 0) return;
          this.#closed = true;
          for (const f of this.#onClose) f();
        });
    }
  }

  /** The first line (seen or to come) matching `pattern`; rejects on timeout or when the streams end first. */
  waitFor(pattern: RegExp, timeoutMs = GUEST_TIMEOUT_MS): Promise<RegExpMatchArray> {
    for (const line of this.all) {
      const m = pattern.exec(line);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        cleanup();
        reject(new Error(`no line matching ${String(pattern)}: ${why}; last lines:\n${this.all.slice(-20).join('\n')}`));
      };
      const waiter = {
        pattern,
        resolve: (m: RegExpMatchArray): void => {
          cleanup();
          resolve(m);
        },
      };
      const onClose = (): void => {
        fail('the output ended');
      };
      const timer = setTimeout(fail, timeoutMs, `none within ${timeoutMs} ms`);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        this.#onClose.delete(onClose);
      };
      if (this.#closed) {
        onClose();
        return;
      }
      this.#waiters.add(waiter);
      this.#onClose.add(onClose);
    });
  }
}

/** The open fds of `pids` (default: every process) that refer to one of `paths`, as "pid fd -> path". */
export function fdsOpenOn(paths: readonly string[], pids?: readonly number[]): string[] {
  const found: string[] = [];
  for (const pid of pids?.map(String) ?? readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (paths.includes(target)) found.push(`${pid} ${fd} -> ${target}`);
      } catch {
        // The process or fd went away while we looked.
      }
    }
  }
  return found;
}
