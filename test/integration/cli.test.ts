// The vfio-display CLI run as a user runs it (a child process, its output
// read back) against mbochs, mdpy and mtty in the rig. Where the test acts
// as the guest of an mbochs vGPU it holds the device open and hands the CLI
// the same open device as fd 3: a VFIO device has one opener at a time.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { generateEdid, openDisplay, type RgbaImage } from 'vfio-display';
import { planesReportSchema, watchLineSchema, type WatchLine } from 'vfio-display/cli-schemas';
import { openMbochsGuest, testPattern, testPatternRgba } from '../lib/bochs-guest.js';
import { cliFails, cliOk, CliProcess } from '../lib/cli.js';
import { createMdev, requireRig, rigKernel, unreachableByOthers } from '../lib/rig.js';

const out = requireRig();
const patched = rigKernel === 'patched';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

function assertPng(file: string, want: RgbaImage): void {
  const png = PNG.sync.read(readFileSync(file));
  assert.deepEqual([png.width, png.height], [want.width, want.height]);
  assert.ok(Buffer.from(png.data).equals(Buffer.from(want.data)), `${file}: the PNG's pixels are what the guest drew`);
}

describe('list, create, remove', () => {
  test('create prints the new UUID, list shows it with its display kind, remove removes it', () => {
    const uuid = cliOk(['create', 'mbochs', 'mbochs-small']).trim();
    assert.match(uuid, new RegExp(`^${UUID}$`));
    try {
      using mdpy = createMdev('mdpy', 'mdpy-vga');
      using mtty = createMdev('mtty', 'mtty-2');
      const list = cliOk(['list']);
      assert.match(list, /^PARENT +TYPE +AVAILABLE +API +DESCRIPTION$/m);
      assert.match(list, /^mbochs +mbochs-small +\d+ +vfio-pci +virtual display, 4 MB video memory$/m);
      assert.match(list, /^mtty +mtty-2 +\d+ +vfio-pci +Dual port serial$/m);
      assert.match(list, /^UUID +PARENT +TYPE +DRIVER +GROUP +CDEV +DISPLAY$/m);
      const row = (uuid: string, parent: string, type: string, display: string): RegExp =>
        new RegExp(`^${uuid} +${parent} +${type} +${parent} +\\d+ +/dev/vfio/devices/vfio\\d+ +${display}$`, 'm');
      assert.match(list, row(uuid, 'mbochs', 'mbochs-small', 'dma-buf'));
      assert.match(list, row(mdpy.uuid, 'mdpy', 'mdpy-vga', 'region'));
      assert.match(list, row(mtty.uuid, 'mtty', 'mtty-2', 'no'));
      const held = openDisplay(mdpy.uuid);
      try {
        assert.match(cliOk(['list']), row(mdpy.uuid, 'mdpy', 'mdpy-vga', 'in use'), 'an instance someone holds open is in use');
      } finally {
        held.close();
      }
    } finally {
      assert.equal(cliOk(['remove', uuid]), '');
    }
    assert.ok(!existsSync(`/sys/bus/mdev/devices/${uuid}`));
  });
});

test('info: regions with decoded capabilities, IRQs and display features of mbochs, mdpy and mtty', () => {
  using mbochs = createMdev('mbochs', 'mbochs-small');
  const info = cliOk(['info', mbochs.uuid]);
  assert.match(info, new RegExp(`^device ${mbochs.uuid}: opened through iommufd$`, 'm'));
  assert.match(info, new RegExp(`^  mdev ${mbochs.uuid}: mbochs/mbochs-small, driver mbochs, IOMMU group \\d+, cdev /dev/vfio/devices/vfio\\d+$`, 'm'));
  assert.match(info, /^ {2}0 +BAR0 +4 MiB +0x3000 +read write mmap +-$/m);
  assert.match(info, /^ {2}9 +- +4 KiB +0x2000 +read write +type gfx\/edid$/m);
  assert.match(info, /^ {2}planes: dma-buf/m);
  assert.match(info, patched ? /^ {2}kernel flips: yes: the kernel can flip a head to a plane of a host DRM lease itself/m : /^ {2}kernel flips: no: the kernel lacks VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP/m);
  assert.match(info, /^ {2}EDID: region 9, link (up|down), \d+-byte blob \(room for \d+\), up to 800x600$/m);
  if (patched) {
    assert.match(info, /^ {2}5 +- +3 +eventfd maskable +type gfx\/display; display events: primary mode$/m);
    assert.match(info, /^ {2}change events: yes, IRQ index 5 \(3 IRQs\)$/m);
    assert.match(info, /^ {2}extended plane info: yes/m);
  } else {
    assert.match(info, /^ {2}change events: no: the device has no display change IRQ/m);
    assert.match(info, /^ {2}extended plane info: no: the device does not answer VFIO_GFX_PLANE_FLAG_EXT_INFO/m);
  }

  using mdpy = createMdev('mdpy', 'mdpy-vga');
  const mdpyInfo = cliOk(['info', mdpy.uuid]);
  assert.match(mdpyInfo, /^ {2}16 +- +2 MiB +0x1000 +read write mmap +-$/m);
  assert.match(mdpyInfo, /^ {2}planes: region/m);
  assert.match(mdpyInfo, /^ {2}change events: no: the device has no display change IRQ \(kernel-patches\/ adds one to mbochs\), so watch and flip poll on a timer$/m);
  assert.match(mdpyInfo, /^ {2}EDID: none/m);

  using mtty = createMdev('mtty', 'mtty-2');
  const mttyInfo = cliOk(['info', mtty.uuid]);
  assert.match(mttyInfo, /^ {2}0 +INTx +1 +eventfd maskable automasked +-$/m);
  assert.match(mttyInfo, /^display: none \(not a display device/m);
});

describe('planes', () => {
  test('mbochs guest: --json checks against planesReportSchema and equals the library\'s planes; the text form', () => {
    using g = openMbochsGuest();
    g.guest.draw(1);
    const fd = g.display.device.fd;
    const json = JSON.parse(cliOk(['planes', 'fd:3', '--json'], { fd })) as { primary: { modifier: unknown; flipSeq?: unknown } };
    const report = planesReportSchema().parse(json);
    assert.deepEqual(report.primary, g.display.query('primary'));
    assert.deepEqual(report.cursor, g.display.query('cursor'));
    assert.deepEqual([report.device, report.via, report.planes], ['fd:3', 'borrowed', 'dmabuf']);
    assert.equal(json.primary.modifier, '0x0000000000000000', 'u64s are strings');
    assert.equal(typeof json.primary.flipSeq, patched ? 'string' : 'undefined');
    const text = cliOk(['planes', 'fd:3'], { fd });
    assert.match(text, /^fd:3: dma-buf planes, a device fd passed down$/m);
    assert.match(text, new RegExp(`^primary: 800x600 XR24 LINEAR, stride 3200, 1920000 bytes, dma-buf \\d+${patched ? ', head 0 of 1, visible from 0,0, flip \\d+' : ''}$`, 'm'));
    assert.match(text, /^cursor: {2}off$/m);
  });

  test('mdpy by sysfs path and cdev: the same planes as the library\'s', () => {
    using mdev = createMdev('mdpy', 'mdpy-vga');
    assert.ok(mdev.cdev !== null);
    const reports = [mdev.sysfsPath, mdev.cdev].map((dev) => planesReportSchema().parse(JSON.parse(cliOk(['planes', dev, '--json']))));
    using display = openDisplay(mdev.uuid);
    const primary = display.query('primary');
    assert.equal(primary?.mode, 'region');
    for (const r of reports) {
      assert.deepEqual(r.primary, primary);
      assert.equal(r.cursor, null);
      assert.equal(r.planes, 'region');
      assert.equal(r.via, 'iommufd');
    }
  });
});

describe('screenshot', () => {
  test('mdpy: the PNG holds what the guest drew into its framebuffer', () => {
    using mdev = createMdev('mdpy', 'mdpy-vga');
    {
      using display = openDisplay(mdev.uuid);
      using bar0 = display.device.mmap(0);
      bar0.bytes.set(testPattern(640, 480, 7));
    }
    const file = join(out, 'cli-mdpy.png');
    assert.equal(cliOk(['screenshot', mdev.uuid, '-o', file]), `wrote ${file}: 640x480 primary plane (XR24, LINEAR)\n`);
    assertPng(file, testPatternRgba(640, 480, 7));
  });

  test('mbochs: the PNG of each guest buffer (patched); one line saying why not (stock)', () => {
    using g = openMbochsGuest();
    const fd = g.display.device.fd;
    const file = join(out, 'cli-mbochs.png');
    g.guest.draw(8);
    if (!patched) {
      const line = cliFails(['screenshot', 'fd:3', '-o', file], 6, { fd });
      assert.match(line, /refused a CPU mapping of dma-buf \d+/);
      return;
    }
    assert.equal(cliOk(['screenshot', 'fd:3', '-o', file, '--with-cursor'], { fd }), `wrote ${file}: 800x600 primary plane (XR24, LINEAR), no cursor shown\n`);
    assertPng(file, testPatternRgba(800, 600, 8));
    const back = g.guest.backBufferLine();
    g.guest.draw(9, back);
    g.guest.flip(back);
    cliOk(['screenshot', 'fd:3', '-o', file], { fd });
    assertPng(file, testPatternRgba(800, 600, 9));
  });
});

test('edid: generated, scaled and given EDIDs are written and read back; link; absurd input refused', () => {
  using mdev = createMdev('mbochs', 'mbochs-small');
  const readBack = (): { blob: Uint8Array; link: string } => {
    using display = openDisplay(mdev.uuid);
    const edid = display.edid;
    assert.ok(edid);
    return { blob: edid.read(), link: edid.linkState() };
  };
  const saved = join(out, 'cli-edid.bin');
  const first = cliOk(['edid', mdev.uuid, '--mode', '800x600@60', '-o', saved]);
  assert.match(first, /^wrote and read back EDID: 128 bytes, EDID 1\.4, manufacturer VFD, preferred 800x600@\d+\.\d+, name "vfio-display"$/m);
  assert.match(first, /^link up, region 9, room for \d+ bytes, modes up to 800x600$/m);
  const want = generateEdid({ modes: ['800x600@60'] });
  assert.deepEqual(new Uint8Array(readFileSync(saved)), want);
  assert.deepEqual(readBack(), { blob: want, link: 'up' });

  const scaled = cliOk(['edid', mdev.uuid, '--modes', '1280x720,640x480@75']);
  assert.match(scaled, /^1280x720@60 is beyond the device's 800x600: scaled to 800x450$/m);
  assert.deepEqual(readBack().blob, generateEdid({ modes: [{ width: 800, height: 450, refresh: 60 }, '640x480@75'] }));

  const given = generateEdid({ modes: ['640x480'], name: 'cli test' });
  writeFileSync(join(out, 'given.bin'), given);
  assert.match(cliOk(['edid', mdev.uuid, '--file', join(out, 'given.bin')]), /^wrote and read back EDID: 128 bytes, .*preferred 640x480@59\.\d+, name "cli test"$/m);
  assert.deepEqual(readBack().blob, given);

  assert.equal(cliOk(['edid', mdev.uuid, '--link', 'down']), 'link down\n');
  assert.deepEqual(readBack(), { blob: given, link: 'down' });
  assert.match(cliOk(['edid', mdev.uuid]), /^EDID: 128 bytes, .*name "cli test"$/m);

  assert.match(cliFails(['edid', mdev.uuid, '--mode', '100000x100000'], 2), /width and height must be whole numbers from 64 to 4095/);
  assert.deepEqual(readBack(), { blob: given, link: 'down' }, 'refused writes change nothing');

  using mdpy = createMdev('mdpy', 'mdpy-vga');
  assert.match(cliFails(['edid', mdpy.uuid, '--mode', '640x480'], 6), /has no EDID region/);
});

describe('watch', () => {
  test(`mbochs: --json lines report each guest flip and the mode change, in ${patched ? 'event' : 'timer'} mode; SIGINT ends it with status 0`, async () => {
    using g = openMbochsGuest();
    g.guest.draw(0);
    await using watch = new CliProcess(['watch', 'fd:3', '--json'], { fd: g.display.device.fd });
    const next = async (): Promise<WatchLine> => watchLineSchema().parse(JSON.parse(await watch.line()));
    const first = await next();
    assert.equal(first.change.seq, 1);
    assert.equal(first.change.source, patched ? 'event' : 'timer');
    assert.equal(first.change.primary?.width, 800);
    const back = g.guest.backBufferLine();
    const ids = new Set<number>();
    let line = 0;
    for (let k = 1; k <= 6; k++) {
      line = line === 0 ? back : 0;
      g.guest.draw(k, line);
      g.guest.flip(line);
      const l = await next();
      assert.equal(l.flips, k);
      assert.deepEqual(l.change.changed, { primary: true, cursor: false, mode: false });
      if (patched) assert.equal(l.change.events?.primary, 1, 'one primary-surface event per flip');
      else assert.equal(l.change.events, null);
      if (l.change.primary?.mode === 'dmabuf') ids.add(l.change.primary.dmabufId);
    }
    assert.equal(ids.size, 2, 'two guest buffers');
    g.guest.setMode(640, 480);
    let last: WatchLine;
    do last = await next();
    while (last.change.primary?.width !== 640);
    assert.ok(last.modeChanges >= 1);
    assert.equal(last.flips, 6);
    const { status } = await watch.stop('SIGINT');
    assert.equal(status, 0);
    assert.equal(watch.stderr, '');
  });

  test('mdpy: timer mode on every kernel (mdpy signals nothing), the text form; --source event says what is missing', () => {
    using mdev = createMdev('mdpy', 'mdpy-vga');
    const text = cliOk(['watch', mdev.uuid, '--count', '1']).split('\n');
    assert.deepEqual(text, [
      `watching ${mdev.uuid}: timer mode: polling every 16 ms, the device has no display change IRQ (kernel-patches/ adds one to mbochs)`,
      'primary 640x480 XR24 LINEAR, stride 2560, 2097152 bytes, region 16',
      'timer: 0.0 fps, 0 flips, 0 mode changes, 0 cursor changes',
      '',
    ]);
    assert.match(cliFails(['watch', mdev.uuid, '--source', 'event'], 6), /signals no display changes/);
  });
});

test('a permission error as an unprivileged user: one line with the udev hint', { skip: unreachableByOthers() ?? false }, () => {
  using mdpy = createMdev('mdpy', 'mdpy-vga');
  assert.match(cliFails(['planes', mdpy.uuid], 4, { uid: 65534, gid: 65534 }), /permission denied.*udev rule/);
});

test('errors about devices: one line, no stack, and the exit status of their kind', () => {
  assert.match(cliFails(['planes', '00000000-0000-0000-0000-000000000000'], 3), /no mdev instance 00000000-0000-0000-0000-000000000000.*'vfio-display list'/);
  cliFails(['planes', '/dev/vfio/devices/vfio999'], 3);
  using mtty = createMdev('mtty', 'mtty-2');
  assert.match(cliFails(['screenshot', mtty.uuid, '-o', join(out, 'x.png')], 6), /is not a display device: it answers neither dma-buf nor region plane probes \('vfio-display list' shows which devices have a display\)$/);
  using mdpy = createMdev('mdpy', 'mdpy-vga');
  using held = openDisplay(mdpy.uuid);
  assert.ok(!held.device.closed);
  assert.match(cliFails(['planes', mdpy.uuid], 5), /already open elsewhere/);
});
