// The main job on the embedded default: boot the rig (patched kernel) and
// show the display devices it offers, as the kernel itself describes them
// (mdev sysfs, the vkms plane state in DRM debugfs).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMdev, findVkmsCard, mdevTypes, rigOut, sysfsRead } from './lib/rig.js';

function showDevices(): void {
  for (const parent of ['mbochs', 'mdpy', 'mtty']) {
    for (const type of mdevTypes(parent)) {
      const dir = `/sys/class/mdev_bus/${parent}/mdev_supported_types/${type}`;
      const attr = (name: string): string => (existsSync(join(dir, name)) ? sysfsRead(join(dir, name)) : '-');
      console.log(`${type}: ${attr('name')} | ${attr('description').replaceAll('\n', ', ')} | api ${attr('device_api')} | ${attr('available_instances')} available`);
    }
  }
  for (const [parent, type] of [['mbochs', 'mbochs-small'], ['mdpy', 'mdpy-vga']] as const) {
    using mdev = createMdev(parent, type);
    console.log(`created ${type} ${mdev.uuid}: IOMMU group ${mdev.iommuGroup} (${mdev.groupNode}), cdev ${mdev.cdev ?? 'none'}`);
  }
  const card = findVkmsCard();
  console.log(`\nvkms: ${card.node}, connectors ${card.connectors.join(', ')}; plane state from debugfs:`);
  const minor = card.name.slice('card'.length);
  console.log(readFileSync(`/sys/kernel/debug/dri/${minor}/state`, 'utf8'));
}

if (rigOut !== undefined) {
  showDevices();
} else {
  const repo = join(import.meta.dirname, '..', '..');
  const out = join(repo, 'test', 'vm', 'out', 'demo');
  const r = spawnSync(join(repo, 'test', 'vm', 'run'), ['--kernel', 'patched', '--out', out, '--', 'node', 'test/dist/demo.js'], {
    cwd: repo,
    stdio: 'inherit',
  });
  console.log(`\nrig output (console and kernel log): ${out}`);
  process.exitCode = r.status ?? 1;
}
