// vfio-display remove <uuid>: removes an mdev instance.
import { removeInstance } from '../device/mdev.js';
import type { Command } from './args.js';

export const remove: Command<{ uuid: string }> = {
  name: 'remove',
  summary: 'remove an mdev instance',
  positionals: [['uuid', 'the instance\'s UUID']],
  options: {},
  schema: (z) => z.strictObject({ uuid: z.string() }),
  run({ uuid }) {
    removeInstance(uuid);
  },
};
