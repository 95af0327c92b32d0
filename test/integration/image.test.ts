// image/ on real framebuffers: what the test drew as guest, read through the
// library (mdpy's region, mbochs's dma-buf), converted, written as PNG and
// read back, equals the picture drawn.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { compareImages, encodePng, openDisplay, toRgba, type PlaneInfo, type RgbaImage } from 'vfio-display';
import { openMbochsGuest, testPattern, testPatternRgba as expected } from '../lib/bochs-guest.js';
import { createMdev, requireRig, rigKernel } from '../lib/rig.js';

const out = requireRig();

/** Converts, checks, and round-trips through a PNG file in the rig's output. */
function check(name: string, plane: PlaneInfo, bytes: Uint8Array, want: RgbaImage): void {
  const rgba = toRgba({ ...plane, bytes });
  const cmp = compareImages(rgba, want, { diff: true });
  writeFileSync(join(out, `${name}-compare.png`), encodePng(cmp));
  assert.equal(cmp.differing, 0, `${name}: ${cmp.differing} pixels differ (see ${name}-compare.png)`);
  const file = encodePng(rgba);
  writeFileSync(join(out, `${name}.png`), file);
  const back = PNG.sync.read(file);
  assert.deepEqual([back.width, back.height], [want.width, want.height]);
  assert.ok(Buffer.from(back.data).equals(Buffer.from(want.data)), `${name}: PNG pixels`);
}

test('mdpy: the region framebuffer as RGBA and PNG', () => {
  using mdev = createMdev('mdpy', 'mdpy-vga');
  using display = openDisplay(mdev.uuid);
  const plane = display.query();
  assert.ok(plane?.mode === 'region');
  using bar0 = display.device.mmap(0);
  bar0.bytes.set(testPattern(plane.width, plane.height, 5));
  check('mdpy', plane, display.regionBytes(plane), expected(plane.width, plane.height, 5));
});

test('mbochs: the guest\'s front and back buffers as RGBA and PNG', (t) => {
  if (rigKernel !== 'patched') {
    t.skip('stock 6.12 mbochs refuses CPU mappings of its dma-bufs (kernel-patches 0003)');
    return;
  }
  using g = openMbochsGuest();
  const { display, guest } = g;
  for (const [seed, line] of [[3, 0], [4, guest.backBufferLine()]] as const) {
    guest.draw(seed, line);
    guest.flip(line);
    const plane = display.query();
    assert.ok(plane?.mode === 'dmabuf');
    using map = display.dmabuf(plane).map();
    map.begin('read');
    try {
      check(`mbochs-${seed}`, plane, map.bytes, expected(guest.width, guest.height, seed));
    } finally {
      map.end('read');
    }
  }
});
