// The GVT-g hardware tier's parts that need no hardware: its configuration,
// the QEMU command line, and the tile-seam check on synthetic tiled buffers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tiledOffset, toRgba, uapi, type RgbaImage } from 'vfio-display';
import { gvtConfig, gvtQemuArgs, SKIP_REASON } from '../hardware/gvt-config.js';
import { seams } from '../hardware/seams.js';

const UUID = '4b20d080-1b54-4048-85b3-a6a62d165c01';

test('without VFIO_DISPLAY_GVT_MDEV the tier is skipped with a reason that says how to run it', () => {
  assert.deepEqual(gvtConfig({}), { skip: SKIP_REASON });
  assert.match(SKIP_REASON, /VFIO_DISPLAY_GVT_MDEV=<vGPU uuid>.*On GVT-g hardware/);
});

test('a named vGPU with bad settings fails clearly instead of skipping', () => {
  assert.throws(() => gvtConfig({ VFIO_DISPLAY_GVT_MDEV: 'nope', VFIO_DISPLAY_GVT_IMAGE: '/i.qcow2' }), /VFIO_DISPLAY_GVT_MDEV must be a vGPU UUID/);
  assert.throws(() => gvtConfig({ VFIO_DISPLAY_GVT_MDEV: UUID }), /VFIO_DISPLAY_GVT_IMAGE must name the guest disk image/);
  assert.throws(() => gvtConfig({ VFIO_DISPLAY_GVT_MDEV: UUID, VFIO_DISPLAY_GVT_IMAGE: '/i', VFIO_DISPLAY_GVT_MEMORY: 'lots' }), /VFIO_DISPLAY_GVT_MEMORY is a size/);
  assert.throws(() => gvtConfig({ VFIO_DISPLAY_GVT_MDEV: UUID, VFIO_DISPLAY_GVT_IMAGE: '/i', VFIO_DISPLAY_GVT_CARD: '/dev/sda' }), /VFIO_DISPLAY_GVT_CARD is a DRM card node/);
  assert.throws(() => gvtConfig({ VFIO_DISPLAY_GVT_MDEV: UUID, VFIO_DISPLAY_GVT_IMAGE: '/i', VFIO_DISPLAY_GVT_BOOT_TIMEOUT: '-1' }), /VFIO_DISPLAY_GVT_BOOT_TIMEOUT is seconds/);
});

test('defaults and the QEMU command line', () => {
  const r = gvtConfig({ VFIO_DISPLAY_GVT_MDEV: UUID.toUpperCase(), VFIO_DISPLAY_GVT_IMAGE: '/srv/guest.qcow2', VFIO_DISPLAY_GVT_QEMU_ARGS: ' -smp 4  -name gvt ' });
  assert.ok('config' in r);
  assert.deepEqual(r.config, { mdev: UUID, image: '/srv/guest.qcow2', qemu: 'qemu-system-x86_64', memory: '2G', card: null, qemuArgs: ['-smp', '4', '-name', 'gvt'], bootTimeoutMs: 180_000 });
  const args = gvtQemuArgs(r.config, ['-object', 'iommufd,id=iommufd0,fd=3']);
  assert.deepEqual(args.slice(0, 2), ['-object', 'iommufd,id=iommufd0,fd=3'], 'the hand-over first');
  assert.ok(args.join(' ').includes('-global vfio-pci.x-igd-opregion=on'));
  assert.ok(args.join(' ').includes('-accel kvm'), 'GVT-g needs the VM to have KVM');
  assert.ok(args.includes('file=/srv/guest.qcow2,if=virtio,snapshot=on'));
  assert.deepEqual(args.slice(-4), ['-smp', '4', '-name', 'gvt'], 'the user has the last word');
});

/** A smooth 256x64 XRGB8888 picture with a little text-like detail, stored with `modifier`. */
function tiled(modifier: bigint): { bytes: Uint8Array; width: number; height: number; stride: number } {
  const width = 256;
  const height = 64;
  const stride = width * 4;
  const bytes = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Detail on a grid that is not the tiles' (5 px by 3 rows).
      const px = [x, y * 4, (Math.floor(x / 5) ^ Math.floor(y / 3)) & 1 ? 200 : 180, 0];
      for (let b = 0; b < 4; b++) bytes[tiledOffset(modifier, stride, x * 4 + b, y)] = px[b] ?? 0;
    }
  }
  return { bytes, width, height, stride };
}

function picture(bytes: Uint8Array, modifier: bigint): RgbaImage {
  return toRgba({ bytes, width: 256, height: 64, stride: 1024, drmFormat: uapi.drmFourcc.DRM_FORMAT_XRGB8888, modifier });
}

test('seams: a correctly detiled X- or Y-tiled picture is smooth across tile edges, a misread one is not', () => {
  const { I915_FORMAT_MOD_X_TILED: X, I915_FORMAT_MOD_Y_TILED: Y, DRM_FORMAT_MOD_LINEAR: LINEAR } = uapi.drmFourcc;
  for (const [modifier, tileWidth, tileHeight] of [[X, 128, 8], [Y, 32, 32]] as const) {
    const { bytes } = tiled(modifier);
    const good = seams(picture(bytes, modifier), tileWidth, tileHeight);
    assert.ok(good.seam <= 2 * good.interior + 4, `${String(modifier)} detiled: ${JSON.stringify(good)}`);
    const bad = seams(picture(bytes, LINEAR), tileWidth, tileHeight);
    assert.ok(bad.seam > 2 * bad.interior + 4, `${String(modifier)} read as linear: ${JSON.stringify(bad)}`);
  }
});
