// How a process learns that the kernel wants an open device back. Removing
// an mdev (or unbinding a device's driver) runs vfio_unregister_group_dev(),
// which in Linux 6.12 first deletes the device's VFIO cdev node
// (vfio_device_del()), then calls the driver's request callback and waits
// until the last fd of the device is closed. None of 6.12's mdev drivers
// (mbochs, mdpy, mtty, i915/GVT-g) has a request callback, so the remover
// just blocks, and the node's deletion, seen through inotify, is the only
// sign userspace gets. Kernels without VFIO cdevs give none.
import { existsSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { DeviceRemovedError } from '../errors.js';

/**
 * The VFIO cdev node (/dev/vfio/devices/vfioN) of device `name` in IOMMU
 * group `group`, or null where the kernel has no VFIO cdevs.
 */
export function cdevNode(group: number, name: string): string | null {
  try {
    const [node] = readdirSync(`/sys/kernel/iommu_groups/${group}/devices/${name}/vfio-dev`);
    return node === undefined ? null : `/dev/vfio/devices/${node}`;
  } catch {
    return null;
  }
}

/** Watches a device's cdev node; `signal` aborts (with a DeviceRemovedError) once it is gone. */
export class RemovalWatch implements Disposable {
  readonly #controller = new AbortController();
  readonly #watcher: FSWatcher | undefined;
  readonly #node: string;
  readonly #name: string;
  #closed = false;

  /** `node` null: nothing to watch, the signal never aborts. */
  constructor(node: string | null, name: string) {
    this.#node = node ?? '';
    this.#name = name;
    if (node === null) return;
    try {
      // inotify: no timer, no wake-up until the node changes; does not keep the process alive.
      this.#watcher = watch(node, { persistent: false }, () => {
        this.#check();
      });
      this.#watcher.on('error', () => {
        this.#check();
      });
    } catch {
      // The node went between the open and now: the removal has begun.
      queueMicrotask(() => {
        this.#check();
      });
    }
  }

  /** Aborted, with a DeviceRemovedError as its reason, when the kernel asks for the device. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  #check(): void {
    if (this.#closed || this.#controller.signal.aborted || existsSync(this.#node)) return;
    this.#watcher?.close();
    this.#controller.abort(
      new DeviceRemovedError(`${this.#name} is being removed (its node ${this.#node} is gone): the kernel waits until every fd of it is closed`, { path: this.#node }),
    );
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
