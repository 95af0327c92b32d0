// The GVT-g hardware tier: a real guest on a real GVT-g vGPU, started with
// the vGPU handed over to QEMU (GVT-g opens a vGPU only for the process that
// has the VM's KVM). Runs when VFIO_DISPLAY_GVT_MDEV names a vGPU (see
// gvt-config.ts and the README's "On GVT-g hardware"); elsewhere the whole
// tier reports itself skipped with the reason.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test, type TestContext } from 'node:test';
import { PNG } from 'pngjs';
import {
  Display,
  directFlip,
  drmCardOfParent,
  formatInfo,
  modifierName,
  openCard,
  openHandover,
  tilingOf,
  toRgba,
  uapi,
  type DeviceHandover,
  type FlipFrame,
  type PlaneInfo,
} from 'vfio-display';
import { gvtConfig, gvtQemuArgs, type GvtConfig } from './gvt-config.js';
import { seams } from './seams.js';

const setup = gvtConfig();
const config: GvtConfig | undefined = 'config' in setup ? setup.config : undefined;
const skip = 'skip' in setup ? setup.skip : false;
const repo = join(import.meta.dirname, '..', '..', '..');
const HELPER = join(repo, 'packages', 'examples', 'dist', 'qemu-helper.js');
const { I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED, DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_Yf_TILED } = uapi.drmFourcc;

function need(): GvtConfig {
  assert.ok(config, 'the tier is configured');
  return config;
}

/** Stops a child with SIGTERM (SIGKILL after 20 s) and waits for it. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const late = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(late);
}

/** Polls `read` until it returns something, or fails after `ms`. */
async function until<T>(read: () => T | null | undefined, ms: number, what: string): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = read();
    if (value !== null && value !== undefined) return value;
    if (performance.now() > deadline) assert.fail(`${what}: not within ${ms / 1000} s`);
    await sleep(250);
  }
}

describe('GVT-g hardware tier: through the QEMU helper', { skip }, () => {
  test('the helper boots the guest on the vGPU, reports event mode where the kernel has the series, and keeps a screenshot', { timeout: 600_000 }, async (t: TestContext) => {
    const c = need();
    const shots = mkdtempSync('/tmp/vfio-display-gvt-');
    const helper = spawn(process.execPath, [HELPER, '--mdev', c.mdev, '--qemu', c.qemu, '--stats', '--screenshot', shots, '--', ...gvtQemuArgs(c, [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    helper.stdout.on('data', (b: Buffer) => (out += b.toString()));
    helper.stderr.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await until(() => (/^primary: \d+x\d+ /m.test(out) ? true : null), c.bootTimeoutMs, `the guest's plane in the helper's output:\n${out}`);
      t.diagnostic(out.match(/^(display|primary): .*$/gm)?.join('; ') ?? '');
      const png = await until(() => {
        try {
          return PNG.sync.read(readFileSync(join(shots, 'screen.png')));
        } catch {
          return null;
        }
      }, 30_000, 'a screenshot');
      assert.ok(png.width > 0 && png.height > 0);
    } finally {
      await stop(helper);
    }
    assert.equal(helper.exitCode, 0, out.split('\n').slice(-15).join('\n'));
  });
});

describe('GVT-g hardware tier: through the library', { skip }, () => {
  let handover: DeviceHandover | undefined;
  let qemu: ChildProcess | undefined;
  // Set by before(); the tests do not run if it fails.
  let display: Display = undefined as unknown as Display;
  let primary: PlaneInfo = undefined as unknown as PlaneInfo;

  before(async () => {
    const c = need();
    const h = openHandover(c.mdev);
    handover = h;
    qemu = spawn(c.qemu, gvtQemuArgs(c, h.qemuArgs()), { stdio: h.stdio('ignore', 'ignore', 'inherit') });
    display = new Display(await h.waitBound({ child: qemu, timeoutMs: c.bootTimeoutMs }));
    primary = await until(() => display.query('primary'), c.bootTimeoutMs, "the guest's primary plane");
  });

  after(async () => {
    (display as Display | undefined)?.close();
    if (qemu) await stop(qemu);
    handover?.close();
  });

  test('probe: dma-buf planes, and what the kernel adds', (t) => {
    const f = display.features;
    assert.equal(f.planes, 'dmabuf', 'GVT-g offers dma-buf planes');
    t.diagnostic(`change events ${f.changeEvents}, extended info ${f.extendedInfo}, kernel flips ${f.kernelFlip}, EDID ${JSON.stringify(f.edid)}`);
    assert.ok(f.edid, 'GVT-g has an EDID region');
    if (f.changeIrq) assert.equal(f.changeIrq.count, 3, 'PRIMARY, CURSOR, MODE (kernel-patches 0012)');
  });

  test('primary and cursor planes after the guest sets a mode', (t) => {
    t.diagnostic(`primary ${primary.width}x${primary.height} ${primary.fourcc} ${modifierName(primary.modifier)} stride ${primary.stride}`);
    assert.ok(formatInfo(primary.drmFormat), `a known format: ${primary.fourcc}`);
    assert.ok([DRM_FORMAT_MOD_LINEAR, I915_FORMAT_MOD_X_TILED, I915_FORMAT_MOD_Y_TILED, I915_FORMAT_MOD_Yf_TILED].includes(primary.modifier));
    assert.ok(primary.size >= primary.stride * primary.height);
    const cursor = display.query('cursor');
    if (cursor) {
      assert.equal(cursor.fourcc, 'AR24');
      assert.ok([64, 128, 256].includes(cursor.width), `cursor ${cursor.width}x${cursor.height}`);
    }
  });

  test('the screenshot of a tiled plane has no stripes at tile edges', (t) => {
    if (primary.modifier === DRM_FORMAT_MOD_LINEAR) {
      t.skip("the guest's primary plane is linear: nothing to detile");
      return;
    }
    if (primary.modifier === I915_FORMAT_MOD_Yf_TILED) {
      t.skip('Yf tiling is not supported by image/ (its layout is unverified)');
      return;
    }
    assert.equal(primary.mode, 'dmabuf');
    using map = display.dmabuf(primary).map();
    map.begin('read');
    const rgba = toRgba({ ...primary, bytes: map.bytes });
    map.end('read');
    const tiling = tilingOf(primary.modifier);
    const cpp = formatInfo(primary.drmFormat)?.cpp ?? 4;
    const s = seams(rgba, tiling.widthBytes / cpp, tiling.height);
    t.diagnostic(`mean difference across tile edges ${s.seam.toFixed(2)}, inside tiles ${s.interior.toFixed(2)}`);
    assert.ok(s.seam <= 2 * s.interior + 4, 'tile edges are no rougher than tile interiors');
  });

  test('EDID resize: the guest takes the new mode, and the change comes as an event where the kernel has the series', { timeout: 300_000 }, async (t) => {
    const c = need();
    const target = primary.width === 1024 && primary.height === 768 ? '800x600' : '1024x768';
    const [w, h] = target.split('x').map(Number);
    const ac = new AbortController();
    const changes = display.changes({ signal: ac.signal });
    const seen: string[] = [];
    const wait = (async () => {
      try {
        for await (const change of changes) {
          const p = change.primary;
          seen.push(`${p ? `${p.width}x${p.height}` : 'off'} ${JSON.stringify(change.events)}`);
          if (p !== null && p.width === w && p.height === h) return change;
        }
      } catch (err) {
        if (!ac.signal.aborted) throw err;
      }
      return undefined;
    })();
    await display.setModes([target]);
    const timer = setTimeout(() => {
      ac.abort();
    }, c.bootTimeoutMs);
    const change = await wait.finally(() => {
      clearTimeout(timer);
    });
    ac.abort();
    t.diagnostic(`changes: ${seen.join(' | ')}`);
    assert.ok(change, `the guest switched to ${target}`);
    if (changes.source === 'event') assert.ok((change.events?.mode ?? 0) + (change.events?.any ?? 0) > 0, 'the mode change was signalled');
    await display.setModes([`${primary.width}x${primary.height}`]);
    primary = await until(() => {
      const p = display.query('primary');
      return p?.width === primary.width ? p : null;
    }, c.bootTimeoutMs, 'the original mode back');
  });

  test('direct flip onto the host GPU (by the kernel where it can)', { timeout: 120_000 }, async (t) => {
    const c = need();
    const cardPath = c.card ?? drmCardOfParent(c.mdev);
    assert.ok(cardPath, "the vGPU's parent GPU has a DRM card");
    using card = openCard(cardPath);
    const ac = new AbortController();
    const flip = directFlip(display, card, { signal: ac.signal });
    const frames = flip[Symbol.asyncIterator]();
    const first = await frames.next();
    assert.ok(!first.done && first.value.primary, 'the guest frame is on a host plane');
    if (display.features.kernelFlip) {
      assert.equal(flip.stats.flipper, 'kernel', 'the kernel flips the guest onto the leased plane');
      await until(() => ((flip.stats.kernel?.commits ?? 0n) > 0n ? true : null), 10_000, 'the first kernel commit');
      assert.equal(card.planeState(flip.output.planeId).fbId, display.queryDrmFb()?.fbId, 'the host plane shows the framebuffer the kernel made of the guest surface');
    } else {
      assert.notEqual(card.planeState(flip.output.planeId).fbId, 0);
      t.diagnostic('the running kernel lacks direct flips to a DRM lease (kernel-patches/display): per-flip commits');
    }
    await sleep(5_000);
    t.diagnostic(JSON.stringify(flip.stats));
    await frames.return();
  });

  test('userspace flips with the guest cursor: on the host cursor plane, or hidden with a warning, and the flip goes on', { timeout: 120_000 }, async (t) => {
    const c = need();
    const cardPath = c.card ?? drmCardOfParent(c.mdev);
    assert.ok(cardPath, "the vGPU's parent GPU has a DRM card");
    using card = openCard(cardPath);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === 'DirectFlipWarning') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    try {
      const flip = directFlip(display, card, { kernel: false });
      const frames = flip[Symbol.asyncIterator]();
      let withCursor: FlipFrame | undefined;
      for (let i = 0; i < 600 && !withCursor; i++) {
        const r = await frames.next();
        assert.ok(!r.done, 'the flip goes on');
        if (r.value.cursor) withCursor = r.value;
      }
      assert.ok(withCursor, 'the guest shows a cursor (move the mouse in the guest if its desktop hides it)');
      const cursorPlane = flip.output.cursorPlaneId;
      await sleep(100);
      const shown = cursorPlane !== null && card.planeState(cursorPlane).fbId !== 0;
      t.diagnostic(shown ? 'the guest cursor is on the host cursor plane' : `hidden: ${warnings.join('; ')}`);
      assert.ok(shown || warnings.some((w) => /the guest's .* cursor is hidden/.test(w)), 'shown, or hidden with a DirectFlipWarning');
      assert.ok(!(await frames.next()).done, 'the flip goes on after the cursor');
      await flip.close();
    } finally {
      process.off('warning', onWarning);
    }
  });
});
