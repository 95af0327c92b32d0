// vfio-display list: the mdev parents with their types, and the instances,
// each opened once to say whether it has a display.
import { listInstances, listParents, type MdevType } from '../device/mdev.js';
import { openDisplay } from '../display/display.js';
import type { Command } from './args.js';
import { exitCodeOf, EXIT } from './errors.js';
import { println, table } from './output.js';

function typeText(t: MdevType): string {
  const parts = [t.name !== undefined && t.name !== t.id ? t.name : undefined, t.description].filter((p) => p !== undefined);
  return parts.join(': ') || '-';
}

/** Whether an instance has a display, by opening it (QEMU may hold it: then it is in use). */
export function displayOf(uuid: string): string {
  try {
    using display = openDisplay(uuid);
    return display.features.planes === 'dmabuf' ? 'dma-buf' : 'region';
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_VFIO_NOT_A_DISPLAY') return 'no';
    // i915/gvt (6.12) opens a vGPU only for a process with the VM's KVM.
    if (code === 'ESRCH') return 'only with its VM';
    switch (exitCodeOf(err)) {
      case EXIT.busy:
        return 'in use';
      case EXIT.permission:
        return 'no access';
      default:
        return `unknown (${err instanceof Error ? ((err as { code?: string }).code ?? err.name) : 'error'})`;
    }
  }
}

export const list: Command<Record<string, never>> = {
  name: 'list',
  summary: 'list mdev parents, their types (available instances, description) and instances (UUID, type, driver, IOMMU group, cdev, display)',
  positionals: [],
  options: {},
  notes: [
    'DISPLAY says how the instance delivers its frames (dma-buf or region), "no" for devices without a display, "in use" while another process (QEMU) has it open, "only with its VM" for GVT-g vGPUs, which open only for the process that has their VM\'s KVM.',
  ],
  schema: (z) => z.strictObject({}),
  run(_args, io) {
    const parents = listParents();
    if (parents.length === 0) {
      println(io.stdout, 'no mdev parents: load a driver that offers mediated devices (i915 with GVT-g, or the samples mbochs, mdpy, mtty)');
      return;
    }
    const types = parents.flatMap((p) => p.types.map((t) => [p.name, t.id, String(t.availableInstances ?? '?'), t.deviceApi ?? '-', typeText(t)]));
    for (const line of table([['PARENT', 'TYPE', 'AVAILABLE', 'API', 'DESCRIPTION'], ...types])) println(io.stdout, line);
    const instances = listInstances();
    println(io.stdout);
    if (instances.length === 0) {
      println(io.stdout, "no mdev instances ('vfio-display create <parent> <type>' makes one)");
      return;
    }
    const rows = instances.map((i) => [i.uuid, i.parent, i.type, i.driver ?? '-', i.iommuGroup === null ? '-' : String(i.iommuGroup), i.cdev ?? '-', displayOf(i.uuid)]);
    for (const line of table([['UUID', 'PARENT', 'TYPE', 'DRIVER', 'GROUP', 'CDEV', 'DISPLAY'], ...rows])) println(io.stdout, line);
  },
};
