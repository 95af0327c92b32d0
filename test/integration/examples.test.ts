// The README's runnable examples, run as a user would: the planes example,
// and the plain-JavaScript ones, on the Node.js the rig has (20).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { openDisplay } from 'vfio-display';
import { testPattern, testPatternRgba } from '../lib/bochs-guest.js';
import { createMdev, findVkmsCard, requireRig } from '../lib/rig.js';

requireRig();
const repo = join(import.meta.dirname, '..', '..', '..');

test('examples/planes prints the features and planes of an mdpy vGPU', () => {
  using mdev = createMdev('mdpy', 'mdpy-vga');
  const out = execFileSync(process.execPath, ['packages/examples/dist/planes.js', mdev.uuid], { encoding: 'utf8' });
  assert.match(out, new RegExp(`^${mdev.uuid}: opened through iommufd; region planes; EDID none$`, 'm'));
  assert.match(out, /^primary: 640x480 XR24 LINEAR stride 2560, 2097152 bytes, region 16$/m);
  assert.match(out, /^cursor: {2}disabled$/m);
});

/** A README example (`<!-- example: NAME -->` before a js block), written out with 'vfio-display' resolved to this checkout's build. */
function readmeExample(name: string): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const source = new RegExp(`<!-- example: ${name.replaceAll('.', '\\.')} -->\\n\`\`\`js\\n([\\s\\S]*?)\`\`\`\\n`).exec(readme)?.[1];
  assert.ok(source, `the README has example ${name}`);
  const library = pathToFileURL(join(repo, 'packages', 'vfio-display', 'dist', 'index.js')).href;
  const file = join(mkdtempSync('/tmp/readme-example-'), name);
  writeFileSync(file, source.replace("from 'vfio-display'", `from '${library}'`));
  return file;
}

test('README example screenshot.mjs (plain JavaScript): the PNG of what an mdpy guest drew', () => {
  using mdev = createMdev('mdpy', 'mdpy-vga');
  {
    using display = openDisplay(mdev.uuid);
    using bar0 = display.device.mmap(0);
    bar0.bytes.set(testPattern(640, 480, 9));
  }
  const png = join(mkdtempSync('/tmp/readme-shot-'), 'screen.png');
  const out = execFileSync(process.execPath, [readmeExample('screenshot.mjs'), mdev.uuid, png], { encoding: 'utf8' });
  assert.equal(out, `${png}: 640x480 XR24\n`);
  const image = PNG.sync.read(readFileSync(png));
  assert.ok(Buffer.from(image.data).equals(Buffer.from(testPatternRgba(640, 480, 9).data)), 'the PNG holds the guest\'s pixels');
});

test('README example flip.mjs (plain JavaScript): an mdpy guest on vkms for a second, then the screen put back', () => {
  using mdev = createMdev('mdpy', 'mdpy-vga');
  const card = findVkmsCard();
  const out = execFileSync(process.execPath, [readmeExample('flip.mjs'), mdev.uuid, card.node, '1'], { encoding: 'utf8' });
  assert.match(out, /^[1-9]\d* frames, 0 dropped, 1 modesets, by userspace\n$/);
});
