// The library against the real sample drivers: mbochs (dma-buf planes,
// EDID) and mdpy (region planes), opened both ways, with the test as guest.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BusyError, ClosedError, Display, InvalidArgumentError, KernelError, generateEdid, NotFoundError, UnsupportedError, openDevice, openDisplay, uapi, type PlaneInfo } from 'vfio-display';
import { BochsGuest, openMbochsGuest, testPattern } from '../lib/bochs-guest.js';
import { bytesThatFault } from '../lib/faulting-bytes.js';
import { createMdev, requireRig, rigKernel } from '../lib/rig.js';

const out = requireRig();
const patched = rigKernel === 'patched';
const XR24 = 0x34325258;

function dmabufPlane(plane: PlaneInfo | null): Extract<PlaneInfo, { mode: 'dmabuf' }> {
  assert.ok(plane?.mode === 'dmabuf', `expected a dma-buf plane, got ${JSON.stringify(plane, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
  return plane;
}

for (const via of ['type1', 'iommufd'] as const) {
  describe(`mbochs opened through ${via}`, () => {
    test('planes follow the mode the guest sets', () => {
      using mdev = createMdev('mbochs', 'mbochs-small');
      using display = openDisplay(mdev.uuid, { via });
      assert.equal(display.device.via, via);
      assert.equal(display.features.planes, 'dmabuf');
      using guest = new BochsGuest(display.device);
      assert.equal(guest.reg(0), 0xb0c5, 'DISPI ID');
      assert.equal(display.query('primary'), null, 'no plane before the guest sets a mode');
      guest.setMode(800, 600);
      const plane = dmabufPlane(display.query('primary'));
      assert.deepEqual(
        { format: plane.drmFormat, fourcc: plane.fourcc, modifier: plane.modifier, width: plane.width, height: plane.height, stride: plane.stride, size: plane.size },
        { format: XR24, fourcc: 'XR24', modifier: 0n, width: 800, height: 600, stride: 3200, size: 1920000 },
      );
      assert.equal(display.query('cursor'), null);
      guest.disable();
      assert.equal(display.query('primary'), null, 'no plane after the guest disables the display');
    });
  });
}

describe('mbochs dma-bufs', () => {
  test('the first raw query after a mode change: ENOMEM on stock 6.12 (the library retries), answered on patched', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    guest.setMode(800, 600);
    const q = uapi.encode(uapi.vfio.vfio_device_gfx_plane_info, { argsz: 64, flags: uapi.vfio.VFIO_GFX_PLANE_TYPE_DMABUF, drm_plane_type: 1 });
    const raw = (): number => display.device.ioctl(uapi.vfio.VFIO_DEVICE_QUERY_GFX_PLANE, q, 'VFIO_DEVICE_QUERY_GFX_PLANE', 'raw query');
    if (patched) {
      assert.equal(raw(), 0, 'kernel-patches 0001: the first query answers');
    } else {
      assert.throws(raw, { code: 'ENOMEM', errno: -12, syscall: 'ioctl', ioctl: 'VFIO_DEVICE_QUERY_GFX_PLANE' });
      assert.equal(raw(), 0, 'the second query succeeds');
    }
    guest.setMode(1024, 768);
    assert.equal(dmabufPlane(display.query()).width, 1024, 'the library retries once');
  });

  test('export is cached per buffer and lent: its borrower cannot close it; a page flip (Y_OFFSET) names another buffer', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    guest.setMode(800, 600);
    const front = dmabufPlane(display.query());
    const a = display.dmabuf(front);
    assert.ok(a.fd > 2);
    assert.equal(display.dmabuf(front), a, 'same buffer, same object');
    // `using buf = display.dmabuf(p)` closed the cache's fd, and every later display.dmabuf(p) threw ClosedError.
    const asOwned = a as unknown as Partial<Disposable & { close(): void }>;
    assert.equal(asOwned.close, undefined, 'no close()');
    assert.equal(asOwned[Symbol.dispose], undefined, 'no dispose');
    guest.flip(guest.backBufferLine());
    const back = dmabufPlane(display.query());
    assert.notEqual(back.dmabufId, front.dmabufId);
    const b = display.dmabuf(back);
    assert.notEqual(b.fd, a.fd);
    assert.equal(display.dmabuf(front), a, 'both buffers stay cached');
  });

  test('patched mbochs: one exported for the caller is the caller\'s, and closing it leaves the cache alone', { skip: !patched && 'Linux 6.12 mbochs gives a second fd of an exported buffer no reference (kernel-patches fixes 5): a second export would corrupt the stock kernel\'s memory' }, () => {
    using g = openMbochsGuest();
    const { display } = g;
    const front = dmabufPlane(display.query());
    const lent = display.dmabuf(front);
    const own = display.exportDmabuf(front);
    assert.equal(own.id, lent.id);
    assert.notEqual(own.fd, lent.fd, 'an fd of its own');
    own.close();
    assert.equal(display.dmabuf(front), lent, 'the cache is untouched');
    assert.ok(!lent.closed);
  });

  test('patched mbochs: a mapping owns its fd, so it syncs after the display evicted the buffer and the fd number was reused', { skip: !patched && 'needs kernel-patches 0003' }, () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid, { dmabufCacheSize: 1 });
    using guest = new BochsGuest(display.device);
    guest.setMode(800, 600);
    const drawn = guest.draw(7);
    const lent = display.dmabuf(dmabufPlane(display.query()));
    using map = lent.map();
    guest.flip(guest.backBufferLine());
    display.dmabuf(dmabufPlane(display.query()));
    assert.ok(lent.closed, 'evicted: a cache of one');
    assert.throws(() => lent.fd, ClosedError);
    const reused = openSync('/dev/null', 'r');
    try {
      map.begin('read');
      assert.ok(Buffer.from(map.bytes.subarray(0, drawn.length)).equals(drawn), 'the evicted buffer, still mapped');
      map.end('read');
    } finally {
      closeSync(reused);
    }
    map.unmap();
    assert.throws(() => { map.begin('read'); }, ClosedError, 'an unmapped mapping has no fd left');
  });

  test('patched mbochs: both buffers of a double-buffered guest map with the pixels it drew', { skip: !patched && 'needs kernel-patches 0003' }, () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    guest.setMode(800, 600);
    for (const [seed, line] of [[1, 0], [2, guest.backBufferLine()]] as const) {
      const drawn = guest.draw(seed, line);
      guest.flip(line);
      for (const writable of [false, true]) {
        using map = display.dmabuf(dmabufPlane(display.query())).map({ writable });
        map.begin(writable ? 'rw' : 'read');
        assert.ok(Buffer.from(map.bytes.subarray(0, drawn.length)).equals(drawn), `buffer at line ${line}`);
        map.end(writable ? 'rw' : 'read');
      }
    }
  });

  test('stock 6.12 mbochs refuses every CPU mapping of its dma-bufs: a typed error', { skip: patched && 'stock kernel behaviour' }, () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    // Exact-size and page-multiple sizes alike: it exports read-only and its mmap refuses.
    for (const [width, height] of [[800, 600], [1024, 768]] as const) {
      guest.setMode(width, height);
      const buf = display.dmabuf(dmabufPlane(display.query()));
      for (const writable of [false, true]) {
        assert.throws(() => buf.map({ writable }), (err: unknown) => {
          assert.ok(err instanceof UnsupportedError, String(err));
          assert.equal(err.code, 'ERR_VFIO_DMABUF_NOT_MAPPABLE');
          assert.equal(err.syscall, 'mmap');
          assert.match(err.message, /refused a CPU mapping/);
          return true;
        });
      }
    }
  });
});

test('pread/pwrite on BAR0 reach the offset asked for (patched), or the 6.12 sample bugs (stock)', () => {
  const pattern = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
  {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using device = openDevice(mdev.uuid);
    using vram = device.mmap(0);
    vram.bytes.set(pattern, 0x10000);
    vram.bytes.set(pattern.map((b) => b ^ 0xff), 0x12000);
    // Stock mbochs subtracts the MMIO BAR's offset, landing two pages further on.
    const expected = patched ? pattern : pattern.map((b) => b ^ 0xff);
    assert.deepEqual([...device.read(0, 0x10000, 64)], [...expected], 'mbochs');
  }
  {
    using mdev = createMdev('mdpy', 'mdpy-vga');
    using device = openDevice(mdev.uuid);
    using fb = device.mmap(0);
    const expected = fb.bytes.slice(0, 0x4000 + 64);
    device.write(0, 0x4000, pattern);
    if (patched) {
      expected.set(pattern, 0x4000);
    } else {
      // Stock mdpy ignores the offset: the kernel splits the write into
      // 4-byte accesses, each landing on the first 4 bytes.
      expected.set(pattern.subarray(60), 0);
    }
    assert.ok(Buffer.from(fb.bytes.subarray(0, 0x4000 + 64)).equals(expected), 'mdpy');
  }
});

test('mdpy: a region plane whose pixels are what was written to the framebuffer', () => {
  using mdev = createMdev('mdpy', 'mdpy-vga');
  using display = openDisplay(mdev.uuid);
  assert.equal(display.features.planes, 'region');
  const plane = display.query();
  assert.ok(plane?.mode === 'region');
  assert.deepEqual([plane.drmFormat, plane.width, plane.height, plane.stride, plane.regionIndex], [XR24, 640, 480, 2560, 16]);
  assert.equal(display.query('cursor'), null);
  const drawn = testPattern(640, 480, 7);
  using bar0 = display.device.mmap(0);
  bar0.bytes.set(drawn);
  assert.ok(Buffer.from(display.regionBytes(plane).subarray(0, drawn.length)).equals(drawn));
});

/** The preferred (first detailed) timing's size, read as EDID 1.4 lays it out. */
function preferredMode(blob: Uint8Array): string {
  const at = (i: number): number => blob[54 + i] ?? 0;
  return `${at(2) | ((at(4) >> 4) << 8)}x${at(5) | ((at(7) >> 4) << 8)}`;
}

describe('EDID (mbochs)', () => {
  test('generated blob written, read back identical, link up, limits honoured, edid-decode agrees', async () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    const edid = display.edid;
    assert.ok(edid);
    assert.deepEqual(display.features.edid, { maxSize: 1024, maxXres: 800, maxYres: 600 });
    const blob = await display.setModes(['1920x1080@60', '640x480@60'], { linkUpDelayMs: 0 });
    assert.deepEqual([...edid.read()], [...blob]);
    assert.equal(edid.linkState(), 'up');
    edid.setLinkState('down');
    assert.equal(edid.linkState(), 'down');
    edid.setLinkState('up');
    const file = join(out, 'mbochs-edid.bin');
    writeFileSync(file, blob);
    const decoded = execFileSync('edid-decode', ['--check', file], { encoding: 'utf8' });
    assert.match(decoded, /DTD 1: +800x450 +59\.49\d+ Hz/, 'the preferred mode is scaled into 800x600 keeping 16:9 (CVT-RB: 59.49 Hz)');
    assert.match(decoded, /Display Product Name: 'vfio-display'/);
    assert.match(decoded, /EDID conformity: PASS/);
  });

  test('a blob write mbochs fails part way (EFAULT) leaves the guest the monitor it had, link up', async () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    const edid = display.edid;
    assert.ok(edid);
    const before = await display.setModes(['800x600']);
    assert.deepEqual(guest.edid(), before);
    // Two blocks: mbochs_write() copies 4 bytes at a time, so the first block goes in and the second faults.
    const blob = bytesThatFault(128, 128);
    blob.set(generateEdid({ modes: ['640x480'] }));
    await assert.rejects(edid.update(blob), (err: unknown) => err instanceof KernelError && err.code === 'EFAULT');
    assert.equal(edid.linkState(), 'up', 'the link is back up');
    assert.deepEqual(guest.edid(), before, 'the guest reads its previous EDID, not half of the new one');
    assert.deepEqual(edid.read(), before);
  });

  test('an update unplugs the guest\'s monitor for linkUpDelayMs (100 ms, as QEMU), then plugs it in with the new modes', async () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    await display.setModes(['800x600'], { linkUpDelayMs: 0 });
    // What the guest reads, sampled while the update runs: null while unplugged.
    const seen: { ms: number; name: string }[] = [];
    const start = performance.now();
    const sample = (): void => {
      const blob = guest.edid();
      const name = blob === null ? 'unplugged' : preferredMode(blob);
      if (seen.at(-1)?.name !== name) seen.push({ ms: performance.now() - start, name });
    };
    sample();
    const sampler = setInterval(sample, 2);
    const update = display.setModes(['1280x720@60', '640x480@60']);
    // Once the update's first part has run (link down, blob, size), whatever the sampler's timer does on a busy machine.
    setImmediate(sample);
    const blob = await update;
    clearInterval(sampler);
    sample();
    const unplugged = seen.find((s) => s.name === 'unplugged');
    const plugged = seen.at(-1);
    console.log(`# guest saw: ${seen.map((s) => `${s.name} at ${s.ms.toFixed(1)} ms`).join(', ')}`);
    assert.deepEqual(seen.map((s) => s.name), ['800x600', 'unplugged', '800x450'], 'the old monitor, none, the new one');
    // Node's timers may fire up to a millisecond early against performance.now().
    assert.ok(unplugged && plugged && plugged.ms >= 99, `plugged in again ${plugged?.ms ?? 0} ms after the call, not before 100 ms`);
    assert.deepEqual(guest.edid(), blob);
    const file = join(out, 'mbochs-guest-edid.bin');
    writeFileSync(file, guest.edid() ?? new Uint8Array(0));
    const decoded = execFileSync('edid-decode', ['--check', file], { encoding: 'utf8' });
    assert.match(decoded, /DTD 1: +800x450 /, 'the guest is offered the scaled 16:9 mode as preferred');
    assert.match(decoded, /640x480 +\d+\.\d+ Hz/, 'and 640x480');
  });

  test('bad blobs are refused before the device sees them', async () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    const edid = display.edid;
    assert.ok(edid);
    const link = edid.linkState();
    await assert.rejects(edid.update(new Uint8Array(100)), InvalidArgumentError);
    await assert.rejects(edid.update(new Uint8Array(128 * 9)), InvalidArgumentError, 'more than mbochs takes (1 KiB)');
    await assert.rejects(display.setModes(['0x0']), InvalidArgumentError);
    await assert.rejects(display.setModes(['100000x100000']), InvalidArgumentError);
    await assert.rejects(display.setModes(['800x600@0']), InvalidArgumentError);
    assert.equal(edid.linkState(), link, 'refusals leave the link alone');
  });
});

describe('bad input gives typed errors', () => {
  test('device arguments', () => {
    assert.throws(() => openDisplay('not-a-uuid'), InvalidArgumentError);
    assert.throws(() => openDisplay('../../../etc/passwd'), InvalidArgumentError);
    assert.throws(() => openDisplay('/dev/vfio/devices/../../null'), InvalidArgumentError);
    assert.throws(() => openDisplay('/dev/null'), InvalidArgumentError);
    assert.throws(() => openDisplay(`/sys/kernel/../bus/mdev/devices/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`), InvalidArgumentError);
    assert.throws(() => openDisplay('00000000-0000-0000-0000-000000000000'), NotFoundError);
  });

  test('plane types other than primary and cursor', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    for (const bad of [0, 3, 'overlay', null, 'PRIMARY']) {
      assert.throws(() => display.query(bad as never), InvalidArgumentError, String(bad));
    }
  });

  test('a second opener of the same device gets BusyError, the first is unaffected', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    for (const via of ['iommufd', 'type1'] as const) {
      using first = openDisplay(mdev.uuid, { via });
      assert.throws(() => openDisplay(mdev.uuid, { via }), BusyError);
      assert.equal(first.query(), null);
    }
  });

  test('a non-display mdev (mtty): refused every way in, nothing left open, the device itself still usable', () => {
    using mdev = createMdev('mtty', 'mtty-2');
    const notADisplay = (err: unknown): boolean => err instanceof UnsupportedError && err.code === 'ERR_VFIO_NOT_A_DISPLAY';
    const fds = readdirSync('/proc/self/fd').length;
    for (const via of ['auto', 'iommufd', 'type1'] as const) assert.throws(() => openDisplay(mdev.uuid, { via }), notADisplay, via);
    assert.equal(readdirSync('/proc/self/fd').length, fds, 'the refused opens closed what they opened');
    using device = openDevice(mdev.uuid);
    assert.throws(() => new Display(device), notADisplay);
    assert.equal(device.closed, false, 'a borrowed device stays open');
    assert.ok(device.info().numIrqs > 0);
  });

  test('use after close, double close', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    const display = openDisplay(mdev.uuid);
    display.close();
    display.close();
    assert.throws(() => display.query(), ClosedError);
    assert.throws(() => display.device.info(), ClosedError);
  });
});

test('opening and closing a device 1000 times leaves the fd count unchanged', () => {
  using mdev = createMdev('mbochs', 'mbochs-small');
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  for (let i = 0; i < 1000; i++) {
    const display = openDisplay(mdev.uuid, { via: i % 2 ? 'type1' : 'iommufd' });
    display.query();
    display.close();
  }
  assert.equal(fds(), before);
});

test('changes(): timer mode yields the current state, then each flip', async () => {
  using rig = openMbochsGuest();
  const { display, guest } = rig;
  const back = guest.backBufferLine();
  const controller = new AbortController();
  const changes = display.changes({ signal: controller.signal, periodMs: 5, mode: 'timer' });
  assert.equal(changes.source, 'timer');
  const first = await changes.next();
  assert.ok(!first.done);
  const id = dmabufPlane(first.value.primary).dmabufId;
  guest.flip(back);
  const second = await changes.next();
  assert.ok(!second.done);
  assert.notEqual(dmabufPlane(second.value.primary).dmabufId, id);
  assert.deepEqual(second.value.changed, { primary: true, cursor: false, mode: false });
  controller.abort();
  await assert.rejects(changes.next(), { name: 'AbortError' });
});
