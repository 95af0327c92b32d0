// The README's runnable example, run as a user would.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { createMdev, requireRig } from '../lib/rig.js';

requireRig();

test('examples/planes prints the features and planes of an mdpy vGPU', () => {
  using mdev = createMdev('mdpy', 'mdpy-vga');
  const out = execFileSync(process.execPath, ['packages/examples/dist/planes.js', mdev.uuid], { encoding: 'utf8' });
  assert.match(out, new RegExp(`^${mdev.uuid}: opened through iommufd; region planes; EDID none$`, 'm'));
  assert.match(out, /^primary: 640x480 XR24 LINEAR stride 2560, 2097152 bytes, region 16$/m);
  assert.match(out, /^cursor: {2}disabled$/m);
});
