// Handing a vGPU to QEMU while keeping its display. i915/GVT-g opens a vGPU
// only for the process that has the VM's KVM, so a tool beside QEMU cannot
// open the device itself. Instead it opens the vGPU's iommufd cdev and
// /dev/iommu without binding them, passes both fds to QEMU (>= 9.0:
// `-object iommufd,fd=` and `-device vfio-pci,fd=`), and once QEMU has bound
// the device, the fd it kept — the same open file — answers display queries.
import type { ChildProcess, IOType } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Stream } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import { HandoverError, KernelError, UnsupportedError } from '../errors.js';
import { OwnedFd } from '../fd.js';
import { openRw } from '../sys.js';
import { abortSignal, lazySchema, parse } from '../validate.js';
import { abortReason } from '../wait.js';
import { VfioDevice } from './device.js';
import { getInstance, validateUuid, type MdevInstance } from './mdev.js';

/** The fd numbers the child sees. */
export interface ChildFds {
  readonly iommufd: number;
  readonly device: number;
}

/** Where stdio() puts the two fds in the child: right after stdin, stdout, stderr. */
export const HANDOVER_CHILD_FDS: ChildFds = { iommufd: 3, device: 4 };

export interface QemuArgsOptions {
  /** The fd numbers QEMU will see (default HANDOVER_CHILD_FDS, where stdio() puts them). */
  readonly fds?: ChildFds;
  /** The id of QEMU's iommufd object (default "iommufd0"). */
  readonly id?: string;
}

export interface BindWaitOptions {
  /** The process the fds were handed to: if it exits first, the wait fails with HandoverError 'exited'. */
  readonly child?: ChildProcess;
  /** Rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Give up (HandoverError 'timeout') after this long; default 60 000 ms. */
  readonly timeoutMs?: number;
  /** Milliseconds between probes; default 20. */
  readonly intervalMs?: number;
}

/** What spawn() accepts for one stdio slot. */
export type StdioEntry = IOType | Stream | number | null | undefined;

const qemuArgsOptions = lazySchema((z) => {
  const childFd = z.int().min(3).max(0x7fffffff);
  return z.strictObject({
    fds: z.strictObject({ iommufd: childFd, device: childFd }).refine((f) => f.iommufd !== f.device, 'the two fds must differ').optional(),
    // QEMU ids: a letter, then letters, digits, '-', '.', '_'.
    id: z.string().regex(/^[A-Za-z][A-Za-z0-9._-]{0,63}$/, 'not a QEMU object id').optional(),
  });
});

const bindWaitOptions = lazySchema((z) =>
  z.strictObject({
    child: z.custom<ChildProcess>((c) => typeof c === 'object' && c !== null && 'pid' in c && 'kill' in c, 'expected a ChildProcess').optional(),
    signal: abortSignal(z).optional(),
    timeoutMs: z.number().min(0).max(3_600_000).optional(),
    intervalMs: z.number().min(1).max(10_000).optional(),
  }),
);

/**
 * The vGPU's cdev, or a typed error saying why a hand-over is impossible:
 * the group interface (type1) cannot be shared with a second process
 * (QEMU's open makes the group EBUSY for everyone else).
 */
export function handoverCdev(instance: MdevInstance, hasIommu: boolean): string {
  const needs = 'handing a vGPU to QEMU needs a kernel with CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV';
  if (instance.cdev === null) {
    throw new UnsupportedError(`mdev ${instance.uuid} has no VFIO cdev (/sys/bus/mdev/devices/${instance.uuid}/vfio-dev is empty): ${needs}`, { code: 'ERR_VFIO_NO_CDEV' });
  }
  if (!hasIommu) throw new UnsupportedError(`there is no /dev/iommu: ${needs}`, { code: 'ERR_VFIO_NO_CDEV', path: '/dev/iommu' });
  return instance.cdev;
}

/**
 * A vGPU's iommufd cdev and /dev/iommu, opened but not bound, to hand to
 * QEMU; after QEMU has bound the device, waitBound() gives a VfioDevice over
 * the kept device fd (wrap it in a Display for the planes). The hand-over
 * owns both fds (close-on-exec, like every fd the library opens; spawn()
 * clears the flag on the copies it places in the child). Closing it ends
 * the view; QEMU keeps its copies. When the vGPU is removed, the view's
 * `removal` aborts (a Display on it ends its streams with a
 * DeviceRemovedError); the removal completes once QEMU has exited and the
 * hand-over is closed.
 */
export class DeviceHandover implements Disposable {
  readonly #iommufd: OwnedFd;
  readonly #device: OwnedFd;
  readonly #view: VfioDevice;
  #bound = false;
  /** The mdev UUID. */
  readonly uuid: string;
  /** /sys/bus/mdev/devices/<uuid>: QEMU needs it beside fd= to treat the device as an mdev. */
  readonly sysfsPath: string;
  /** /dev/vfio/devices/vfioN */
  readonly cdev: string;

  /** @internal Use openHandover(). */
  constructor(instance: MdevInstance, cdev: string, iommufd: OwnedFd, device: OwnedFd) {
    this.uuid = instance.uuid;
    this.sysfsPath = instance.sysfsPath;
    this.cdev = cdev;
    this.#iommufd = iommufd;
    this.#device = device;
    // The cdev too, so the view learns of the vGPU's removal as an opened device does.
    this.#view = new VfioDevice(device, [], instance.uuid, 'shared', cdev);
  }

  /** The kept /dev/iommu fd (owned by the hand-over). */
  get iommufdFd(): number {
    return this.#iommufd.fd;
  }

  /** The kept device fd (owned by the hand-over). */
  get deviceFd(): number {
    return this.#device.fd;
  }

  get closed(): boolean {
    return this.#device.closed;
  }

  /**
   * spawn()'s `stdio` option: the given stdin, stdout and stderr, then the
   * iommufd and the device fd, which land on fds 3 and 4 in the child
   * (HANDOVER_CHILD_FDS) without close-on-exec. No other fd of this process
   * reaches the child.
   */
  stdio(stdin: StdioEntry = 'inherit', stdout: StdioEntry = 'inherit', stderr: StdioEntry = 'inherit'): StdioEntry[] {
    return [stdin, stdout, stderr, this.iommufdFd, this.deviceFd];
  }

  /**
   * QEMU's arguments for the device: an iommufd object on the handed
   * iommufd and a vfio-pci device on the handed cdev, with `sysfsdev=` (QEMU
   * 10 takes a device given by fd alone for a physical PCI device and fails
   * on an mdev: "Failed to get hardware info") and `display=off` (this
   * process serves the display; QEMU's needs OpenGL). Add device properties
   * with `-global vfio-pci.<name>=<value>`.
   */
  qemuArgs(options: QemuArgsOptions = {}): string[] {
    const { fds = HANDOVER_CHILD_FDS, id = 'iommufd0' } = parse(qemuArgsOptions, options, 'qemuArgs() options');
    return [
      '-object',
      `iommufd,id=${id},fd=${fds.iommufd}`,
      '-device',
      `vfio-pci,iommufd=${id},fd=${fds.device},sysfsdev=${this.sysfsPath},display=off`,
    ];
  }

  /** GET_INFO answers once the device is bound (Linux 6.12: EINVAL before BIND_IOMMUFD). */
  #probe(): boolean {
    try {
      this.#view.info();
      return true;
    } catch (err) {
      if (err instanceof KernelError && err.code === 'EINVAL') return false;
      throw err;
    }
  }

  /**
   * Resolves with a VfioDevice over the kept device fd once the process it
   * was handed to has bound it (QEMU 10 does so about 0.8 s after exec).
   * Polls every intervalMs; fails with HandoverError when `child` exits or
   * fails to start first, or after timeoutMs. The device is owned by the
   * hand-over: closing it is not needed, and does not close the fd.
   */
  async waitBound(options: BindWaitOptions = {}): Promise<VfioDevice> {
    const { child, signal, timeoutMs = 60_000, intervalMs = 20 } = parse(bindWaitOptions, options, 'waitBound() options');
    let ended: HandoverError | undefined;
    let wake: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const onError = (err: Error): void => {
      ended ??= new HandoverError(`the process to hand ${this.uuid} to did not start: ${err.message}`, 'not-started', {}, err);
      wake?.();
    };
    const onExit = (code: number | null, sig: string | null): void => {
      // Node sets a negative errno as the exit code of a child that failed to spawn.
      if (code !== null && code < 0) {
        onError(new Error(`spawn failed: ${getSystemErrorName(code)}`));
        return;
      }
      const how = sig === null ? `with status ${String(code)}` : `on signal ${sig}`;
      ended ??= new HandoverError(`the process ${this.uuid} was handed to exited ${how} before it bound the device`, 'exited', { code, signal: sig });
      wake?.();
    };
    const onAbort = (): void => wake?.();
    if (child && (child.exitCode !== null || child.signalCode !== null)) onExit(child.exitCode, child.signalCode);
    child?.once('exit', onExit).once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
    const deadline = performance.now() + timeoutMs;
    try {
      for (;;) {
        if (signal?.aborted) throw abortReason(signal);
        if (ended) throw ended;
        if (this.#bound || this.#probe()) {
          this.#bound = true;
          return this.#view;
        }
        const left = deadline - performance.now();
        if (left <= 0) throw new HandoverError(`${this.uuid} was not bound within ${timeoutMs} ms of waiting`, 'timeout');
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, Math.min(intervalMs, left));
        });
        clearTimeout(timer);
      }
    } finally {
      clearTimeout(timer);
      child?.off('exit', onExit).off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Closes the view and both fds (QEMU's copies stay open). Idempotent. */
  close(): void {
    this.#view.close();
    this.#device.close();
    this.#iommufd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Opens an mdev vGPU (a UUID or /sys/bus/mdev/devices/<uuid>) for handing
 * to QEMU: its iommufd cdev and /dev/iommu, neither bound. UnsupportedError
 * (ERR_VFIO_NO_CDEV) on kernels without VFIO cdevs.
 */
export function openHandover(target: string | { readonly uuid: string }): DeviceHandover {
  const raw = typeof target === 'string' ? target.replace(/^\/sys\/bus\/mdev\/devices\//, '').replace(/\/$/, '') : target.uuid;
  const instance = getInstance(validateUuid(raw));
  const cdev = handoverCdev(instance, existsSync('/dev/iommu'));
  const iommufd = new OwnedFd(openRw('/dev/iommu', 'open /dev/iommu'), '/dev/iommu (hand-over)');
  try {
    const device = new OwnedFd(openRw(cdev, `open ${cdev}`), `VFIO device ${instance.uuid} (hand-over)`);
    return new DeviceHandover(instance, cdev, iommufd, device);
  } catch (err) {
    iommufd.close();
    throw err;
  }
}
