// vfio-display create <parent> <type>: a new mdev instance; prints its UUID
// alone, so scripts can take it: uuid=$(vfio-display create mbochs mbochs-small).
import { createInstance } from '../device/mdev.js';
import type { Command } from './args.js';
import { println } from './output.js';

export const create: Command<{ parent: string; type: string; uuid?: string | undefined }> = {
  name: 'create',
  summary: 'create an mdev instance of a type and print its UUID',
  positionals: [
    ['parent', 'the parent device, as /sys/class/mdev_bus names it (e.g. mbochs, 0000:00:02.0)'],
    ['type', 'the type id under the parent (e.g. mbochs-small, i915-GVTg_V5_4)'],
  ],
  options: { uuid: { type: 'string', value: 'UUID', help: 'the new instance\'s UUID (default: a random one)' } },
  notes: ["'vfio-display list' shows the parents and types."],
  schema: (z) => z.strictObject({ parent: z.string(), type: z.string(), uuid: z.string().optional() }),
  run({ parent, type, uuid }, io) {
    println(io.stdout, uuid === undefined ? createInstance(parent, type) : createInstance(parent, type, uuid));
  },
};
