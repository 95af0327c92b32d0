// A real nested guest on an mbochs vGPU: QEMU (TCG, inside the rig's VM)
// gets the vGPU as already opened fds, the guest's bochs-drm drives it and
// fbcon draws its console there, and the process beside QEMU reads the
// display through the fd it kept. Slow (a nested boot under TCG each):
// waits are generous, times are reported, never asserted.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import { Display, HandoverError, openDisplay, openHandover, type DisplayChange, type PlaneInfo } from 'vfio-display';
import { GUEST_TIMEOUT_MS, Lines, buildInitramfs, fdsOpenOn, guestArgs } from '../lib/nested-guest.js';
import { createMdev, requireRig, rigKernel } from '../lib/rig.js';

requireRig();
const patched = rigKernel === 'patched';
const repo = join(import.meta.dirname, '..', '..', '..');
const HELPER = join(repo, 'packages', 'examples', 'dist', 'qemu-helper.js');
const QEMU = 'qemu-system-x86_64';
const BOOT = { timeout: 2 * GUEST_TIMEOUT_MS };

let initramfs = '';
before(() => {
  const start = performance.now();
  initramfs = buildInitramfs();
  console.log(`# nested guest initramfs packed in ${((performance.now() - start) / 1000).toFixed(2)} s`);
});

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** Resolves with the child's exit; `exit` is awaited in every path, so no test leaves a process behind. */
function exitOf(child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
  return once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
}

/** SIGKILLs `child` unless it has exited, and waits for it. For test failures only. */
async function reap(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
}

describe('the fd hand-over without a guest', () => {
  test('the child sees /dev/iommu on fd 3 and the cdev on fd 4', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using handover = openHandover(mdev.uuid);
    const out = execFileSync('/bin/sh', ['-c', 'readlink /proc/self/fd/3 /proc/self/fd/4'], { stdio: handover.stdio('ignore', 'pipe', 'inherit'), encoding: 'utf8' });
    assert.deepEqual(out.trim().split('\n'), ['/dev/iommu', mdev.cdev]);
  });

  test('waitBound fails by name: timeout, abort, a QEMU that exits first, a program that does not start; the vGPU stays free', async () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    {
      using handover = openHandover(mdev.uuid);
      await assert.rejects(handover.waitBound({ timeoutMs: 100 }), (err: unknown) => err instanceof HandoverError && err.failure === 'timeout' && err.code === 'ERR_VFIO_HANDOVER_TIMEOUT');
      const reason = new Error('stop');
      await assert.rejects(handover.waitBound({ signal: AbortSignal.abort(reason) }), (err: unknown) => err === reason);

      // No PCI bus on machine "none": QEMU exits before it gets to the device.
      const qemu = spawn(QEMU, ['-machine', 'none', '-display', 'none', ...handover.qemuArgs()], { stdio: handover.stdio('ignore', 'ignore', 'pipe') });
      const exited = exitOf(qemu);
      const stderr = new Lines(qemu.stderr ? [qemu.stderr] : [], () => undefined);
      await assert.rejects(handover.waitBound({ child: qemu }), (err: unknown) => {
        assert.ok(err instanceof HandoverError, String(err));
        assert.equal(err.failure, 'exited');
        assert.equal(err.exitCode, 1);
        assert.match(err.message, /exited with status 1 before it bound the device/);
        return true;
      });
      await exited;
      await stderr.waitFor(/vfio-pci/, 10_000);

      const missing = spawn('/nonexistent/qemu', [], { stdio: handover.stdio('ignore', 'ignore', 'ignore') });
      const failed = once(missing, 'error');
      await assert.rejects(handover.waitBound({ child: missing }), (err: unknown) => err instanceof HandoverError && err.failure === 'not-started' && /ENOENT/.test(err.message));
      await failed;
    }
    using display = openDisplay(mdev.uuid);
    assert.equal(display.device.via, 'iommufd', 'the failed hand-overs left the vGPU unbound');
  });
});

describe('a real guest on the vGPU', () => {
  test('qemu-helper: the guest draws on the vGPU, --stats follows its display, SIGTERM stops QEMU and leaves no process or fd', BOOT, async (t: TestContext) => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    assert.ok(mdev.cdev);
    const start = performance.now();
    const helper = spawn(process.execPath, [HELPER, '--mdev', mdev.uuid, '--stats', '--', ...guestArgs(initramfs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = exitOf(helper);
    try {
      const lines = new Lines([helper.stdout, helper.stderr], () => undefined);
      const qemuPid = Number((await lines.waitFor(/^qemu-helper: QEMU [\d.]+ \(pid (\d+)\)/))[1]);
      await lines.waitFor(/^qemu-helper: QEMU bound /);
      t.diagnostic(`bound after ${seconds(start)}`);
      const mode = await lines.waitFor(/^display: (event|timer) mode/);
      assert.equal(mode[1], patched ? 'event' : 'timer');
      await lines.waitFor(/^primary: 640x480 XR24 LINEAR stride 2560 \(dma-buf \d+\)$/);
      t.diagnostic(`guest plane after ${seconds(start)}`);
      await lines.waitFor(/^nested-guest: drew the banner$/);
      t.diagnostic(`guest banner after ${seconds(start)}`);

      helper.kill('SIGTERM');
      const [code, signal] = await exited;
      t.diagnostic(`helper exited after ${seconds(start)}`);
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, lines.all.slice(-10).join('\n'));
      assert.ok(lines.all.includes('qemu-helper: SIGTERM: stopping QEMU'));
      assert.ok(lines.all.includes('qemu-helper: QEMU exited with status 0'));
      assert.ok(lines.all.some((l) => /^qemu: .*terminating on signal 15/.test(l)), 'QEMU\'s stderr is passed on, prefixed');
      assert.ok(lines.all.some((l) => /^changes: \d+ in [\d.]+ s \([\d.]+\/s\)$/.test(l)), 'a closing summary');
      assert.equal(lines.all.indexOf('primary: none'), lines.all.findIndex((l) => l.startsWith('primary: ')), 'no plane until the guest set its mode');
      assert.equal(existsSync(`/proc/${qemuPid}`), false, 'QEMU is gone (and reaped)');
      assert.deepEqual(fdsOpenOn([mdev.cdev]), [], 'no process holds the vGPU');
    } finally {
      await reap(helper, exited);
    }
  });

  test(
    'library hand-over: the guest console is in the vGPU dma-buf, and its mode set came as an event',
    { ...BOOT, skip: !patched && 'stock 6.12 mbochs exports dma-bufs that cannot be mmapped (vm-rig.md; kernel-patches 0003); the helper test covers the stock display' },
    async (t: TestContext) => {
      using mdev = createMdev('mbochs', 'mbochs-small');
      assert.ok(mdev.cdev);
      const start = performance.now();
      const handover = openHandover(mdev.uuid);
      const qemu = spawn(QEMU, [...handover.qemuArgs(), ...guestArgs(initramfs)], { stdio: handover.stdio('ignore', 'pipe', 'pipe') });
      const exited = exitOf(qemu);
      try {
        const lines = new Lines(qemu.stdout && qemu.stderr ? [qemu.stdout, qemu.stderr] : [], () => undefined);
        const device = await handover.waitBound({ child: qemu, timeoutMs: GUEST_TIMEOUT_MS });
        t.diagnostic(`bound after ${seconds(start)}`);
        assert.equal(device.via, 'shared');
        const display = new Display(device);
        const changes = display.changes({ signal: AbortSignal.timeout(GUEST_TIMEOUT_MS) });
        assert.equal(changes.source, 'event');
        const seen: DisplayChange[] = [];
        let plane: PlaneInfo | null = null;
        for await (const change of changes) {
          seen.push(change);
          if (change.primary?.width === 640) {
            plane = change.primary;
            break;
          }
        }
        t.diagnostic(`guest plane after ${seconds(start)}, change ${seen.length}`);
        assert.equal(seen[0]?.primary, null, 'no plane before the guest set its mode');
        assert.ok(plane?.mode === 'dmabuf' && plane.height === 480 && plane.fourcc === 'XR24');
        assert.ok((seen.at(-1)?.events?.mode ?? 0) + (seen.at(-1)?.events?.any ?? 0) > 0, `the mode set was signalled: ${JSON.stringify(seen.at(-1)?.events)}`);

        await lines.waitFor(/^nested-guest: drew the banner$/);
        {
          // fbcon draws into a shadow buffer that a worker copies to VRAM: give it time.
          using map = display.dmabuf(plane).map();
          const banner = { lit: 0, colours: new Set<number>() };
          const deadline = performance.now() + 60_000;
          while (banner.lit < 200 && performance.now() < deadline) {
            map.begin('read');
            const pixels = new Uint32Array(map.bytes.buffer, map.bytes.byteOffset, (plane.stride / 4) * 64);
            banner.lit = pixels.reduce((n, p) => n + ((p & 0xffffff) !== 0 ? 1 : 0), 0);
            for (const p of pixels) banner.colours.add(p & 0xffffff);
            map.end('read');
            if (banner.lit < 200) await new Promise((resolve) => setTimeout(resolve, 500));
          }
          t.diagnostic(`console text: ${banner.lit} lit pixels in the top 64 rows, ${banner.colours.size} colours, after ${seconds(start)}`);
          assert.ok(banner.lit >= 200, 'the banner is drawn: the image is not uniform');
          assert.ok(banner.colours.size >= 2);
        }
        display.close();

        qemu.kill('SIGTERM');
        const [code] = await exited;
        assert.equal(code, 0);
        handover.close();
        assert.deepEqual(fdsOpenOn([mdev.cdev]), [], 'no process holds the vGPU');
        assert.deepEqual(fdsOpenOn(['/dev/iommu'], [process.pid]), [], 'the hand-over closed its /dev/iommu');
      } finally {
        handover.close();
        await reap(qemu, exited);
      }
    },
  );
});
