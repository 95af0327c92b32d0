// The main job on the embedded default: boot the rig (patched kernel), make
// an mbochs vGPU, play a small guest animation on it by page flips through
// its DISPI registers, and put it on vkms twice: flipped by this process
// (woken by the display change IRQ, one commit per guest frame), then by
// the kernel (the CRTC and plane leased to the vGPU once). Each time,
// capture what vkms scanned out through its writeback connector and write
// PNGs of guest frames next to the matching scanned-out frames to
// test/vm/out/demo/{userspace,kernel}/, plus a summary of both.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compareImages, directFlip, encodePng, LatencyHistogram, listTypes, toRgba, uapi, type DirectFlip, type FlipFrame, type OutFence, type RgbaImage, type WritebackCapture } from 'vfio-display';
import { openMbochsGuest, type MbochsGuest } from './lib/bochs-guest.js';
import { rigOut } from './lib/rig.js';
import { captureScanout, openVkms, rgbMismatches, type VkmsOutput } from './lib/vkms.js';

const PHASES = [
  { width: 800, height: 600, frames: 120 },
  { width: 1024, height: 768, frames: 60 },
] as const;
/** Every this many frames (and the first of each mode) is captured and compared. */
const SAMPLE_EVERY = 30;

const backgrounds = new Map<string, Uint32Array>();

/** Frame `k` of the animation: a gradient, a bouncing square, and k in binary along the top. */
function scene(width: number, height: number, k: number): Uint8Array {
  const key = `${width}x${height}`;
  let bg = backgrounds.get(key);
  if (!bg) {
    bg = new Uint32Array(width * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) bg[y * width + x] = (((x * 255) / width) << 16) | (((y * 255) / height) << 8) | 0x60;
    }
    backgrounds.set(key, bg);
  }
  const px = bg.slice();
  const size = 96;
  const span = (n: number, room: number): number => {
    const t = n % (2 * room);
    return t < room ? t : 2 * room - t;
  };
  const sx = span(k * 9, width - size);
  const sy = span(k * 6, height - size);
  for (let y = sy; y < sy + size; y++) px.fill(0xf0f0f0 - ((k * 0x0b0305) & 0x3f3f3f), y * width + sx, y * width + sx + size);
  for (let bit = 0; bit < 16; bit++) {
    const color = (k >> bit) & 1 ? 0xffffff : 0x000000;
    for (let y = 8; y < 24; y++) px.fill(color, y * width + 8 + bit * 20, y * width + 24 + bit * 20);
  }
  return new Uint8Array(px.buffer);
}

const xrgb = (width: number, height: number, bytes: Uint8Array): RgbaImage => toRgba({ width, height, stride: width * 4, drmFormat: uapi.drmFourcc.DRM_FORMAT_XRGB8888, bytes });

interface Sample {
  readonly frame: number;
  readonly width: number;
  readonly height: number;
  readonly mismatches: number;
  readonly files: readonly string[];
}

/** How a guest frame reaches the host plane, and how the demo sees it there. */
interface Path {
  readonly flip: DirectFlip;
  /**
   * Shows guest frame `image` (already in VRAM): pans to `line` unless it
   * is the first of a mode; returns when the host scans it out (CLOCK_MONOTONIC
   * ns), and what the CRTC scanned out when `capture` is set.
   */
  show(line: number | null, width: number, capture: boolean): Promise<{ shownAt: bigint; pixels: Uint8Array | null }>;
  close(): Promise<void>;
}

/**
 * Userspace flips: this process is woken by the display change IRQ and
 * commits each guest frame; a sampled frame's commit carries a writeback
 * capture.
 */
function userspacePath(g: MbochsGuest, vkms: VkmsOutput): Path {
  const captures = new Map<string, WritebackCapture>();
  const fences = new Map<number, { fence: OutFence; capture: WritebackCapture }>();
  const wanted = new Set<number>();
  const flip = directFlip(g.display, vkms.card, {
    connectorId: vkms.writeback.id,
    kernel: false,
    beforeCommit: (request, f) => {
      if (!f.primary || !wanted.has(f.seq)) return;
      const key = `${f.primary.width}x${f.primary.height}`;
      let c = captures.get(key);
      if (!c) {
        c = vkms.card.createWriteback(vkms.writeback.id, { width: f.primary.width, height: f.primary.height });
        captures.set(key, c);
      }
      fences.set(f.seq, { fence: c.attach(request, vkms.crtcId), capture: c });
    },
  });
  const frames = flip[Symbol.asyncIterator]();
  const next = async (): Promise<FlipFrame> => {
    const r = await frames.next();
    if (r.done) throw new Error('the direct flip ended early');
    return r.value;
  };
  return {
    flip,
    async show(line, width, capture) {
      if (capture) wanted.add(flip.stats.frames + 1);
      if (line !== null) g.guest.flip(line);
      let f = await next();
      // A mode set can show first as the display going off: wait for the new mode.
      while (f.primary?.width !== width) {
        if (capture) wanted.add(flip.stats.frames + 1);
        f = await next();
      }
      const entry = fences.get(f.seq);
      fences.delete(f.seq);
      return { shownAt: f.completedAt, pixels: entry ? await entry.capture.read(entry.fence, { timeoutMs: 10_000 }) : null };
    },
    async close() {
      await frames.return();
      for (const c of captures.values()) c.close();
    },
  };
}

/**
 * Kernel flips: this process sets the mode and leases the CRTC and plane to
 * the vGPU, which commits every guest frame itself; the demo reads the
 * kernel's account to learn when a frame is shown and captures, as the
 * lessor, what the CRTC scans out.
 */
function kernelPath(g: MbochsGuest, vkms: VkmsOutput): Path {
  const stop = new AbortController();
  const flip = directFlip(g.display, vkms.card, { connectorId: vkms.writeback.id, kernel: true, signal: stop.signal });
  // Woken only for the first frame and guest mode changes, which it sets on the host.
  let failure: Error | undefined;
  const pump = flip.run().catch((err: unknown) => {
    failure = err instanceof Error ? err : new Error(String(err));
  });
  return {
    flip,
    async show(line, width, capture) {
      if (line !== null) g.guest.flip(line);
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (failure !== undefined) throw failure;
        const plane = g.display.query();
        const kernel = flip.stats.kernel;
        // After a guest mode set the kernel shows the new surface at once, on
        // the old host mode until this process has set the new one.
        const hostWidth = vkms.card.crtcState(vkms.crtcId).mode?.hdisplay;
        if (plane?.width === width && hostWidth === width && kernel?.state === 'active' && kernel.flipSeq === plane.flipSeq) {
          return { shownAt: kernel.vblankNs, pixels: capture ? await captureScanout(vkms, width, plane.height) : null };
        }
        if (kernel && kernel.state !== 'active' && kernel.state !== 'off') throw new Error(`the kernel flip is ${kernel.state} (${String(kernel.error)})`);
        if (Date.now() > deadline) throw new Error(`the kernel did not show the guest's ${width}-wide frame within 10 s`);
        await sleep(2);
      }
    },
    async close() {
      stop.abort();
      await pump;
    },
  };
}

const PATHS = { userspace: userspacePath, kernel: kernelPath } as const;

async function play(g: MbochsGuest, vkms: VkmsOutput, how: keyof typeof PATHS, out: string): Promise<Record<string, unknown>> {
  mkdirSync(out, { recursive: true });
  console.log(`\n${how} flips:`);
  const path = PATHS[how](g, vkms);
  const guestToHost = new LatencyHistogram();
  const samples: Sample[] = [];
  let k = 0;
  let totalMismatches = 0;
  try {
    for (const phase of PHASES) {
      const { width, height } = phase;
      g.guest.setMode(width, height);
      const back = g.guest.backBufferLine();
      let line = 0;
      for (let i = 0; i < phase.frames; i++, k++) {
        const image = scene(width, height, k);
        line = i === 0 ? 0 : line === 0 ? back : 0;
        g.guest.vram.set(image, line * g.guest.stride);
        const sampled = i === 0 || k % SAMPLE_EVERY === 0;
        const flippedAt = process.hrtime.bigint();
        // The first frame of a mode is the mode set itself (at line 0); the rest are page flips.
        const shown = await path.show(i > 0 ? line : null, width, sampled);
        guestToHost.record(shown.shownAt - flippedAt);
        if (!shown.pixels) continue;
        const mismatches = rgbMismatches(shown.pixels, image);
        totalMismatches += mismatches;
        const guest = xrgb(width, height, image);
        const scanned = xrgb(width, height, shown.pixels);
        const name = `frame-${String(k).padStart(4, '0')}`;
        const files = [`${name}-guest.png`, `${name}-scanout.png`, `${name}-side-by-side.png`];
        writeFileSync(join(out, files[0] ?? ''), encodePng(guest));
        writeFileSync(join(out, files[1] ?? ''), encodePng(scanned));
        writeFileSync(join(out, files[2] ?? ''), encodePng(compareImages(guest, scanned, { diff: true })));
        samples.push({ frame: k, width, height, mismatches, files: files.map((f) => `${how}/${f}`) });
        console.log(`frame ${k} (${width}x${height}): ${mismatches} pixels differ between the guest's frame and the scanout -> ${how}/${files[2] ?? ''}`);
      }
    }
  } finally {
    await path.close();
  }
  const stats = path.flip.stats;
  const g2h = guestToHost.summary();
  return {
    flipper: stats.flipper,
    changeSource: stats.source,
    guestFrames: k,
    framesShown: stats.frames,
    dropped: stats.dropped,
    modesets: stats.modesets,
    imports: stats.imports,
    kernel: stats.kernel && { commits: Number(stats.kernel.commits), skipped: Number(stats.kernel.skipped) },
    pixelCopies: 0,
    sampledFrames: samples.length,
    pixelMismatches: totalMismatches,
    latencyMs: { guestFlipToScanout: { p50: g2h.p50Ms, p99: g2h.p99Ms, max: g2h.maxMs } },
    samples,
  };
}

async function demo(out: string): Promise<void> {
  console.log('mdev display types in the rig:');
  for (const parent of ['mbochs', 'mdpy']) {
    for (const t of listTypes(parent)) console.log(`  ${parent}/${t.id}: ${t.name ?? ''} ${t.description?.replaceAll('\n', ', ') ?? ''} (${t.availableInstances} available)`);
  }
  using g = openMbochsGuest('mbochs-medium');
  using vkms = openVkms();
  console.log(`\nvGPU ${g.display.device.name} (${g.display.device.via}), features ${JSON.stringify({ ...g.display.features, changeIrq: g.display.features.changeIrq?.index ?? null })}`);
  console.log(`host: ${vkms.card.path} (${vkms.card.driver.name}), CRTC ${vkms.crtcId}, primary plane ${vkms.primary.id}, connector ${vkms.writeback.name}`);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const how of g.display.features.kernelFlip ? (['userspace', 'kernel'] as const) : (['userspace'] as const)) {
    paths[how] = await play(g, vkms, how, join(out, how));
  }
  const summary = {
    kernel: process.env.VFIO_DISPLAY_KERNEL,
    vgpu: { type: 'mbochs-medium', uuid: g.display.device.name, via: g.display.device.via },
    host: { card: vkms.card.path, driver: vkms.card.driver.name, connector: vkms.writeback.name },
    paths,
  };
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const lines: string[] = [];
  let mismatches = 0;
  for (const [how, p] of Object.entries(paths)) {
    const l = (p.latencyMs as { guestFlipToScanout: { p50: number; p99: number } }).guestFlipToScanout;
    const kernel = p.kernel as { commits: number; skipped: number } | null;
    mismatches += p.pixelMismatches as number;
    lines.push(
      `${how} flips: guest frames ${String(p.guestFrames)} (800x600, then 1024x768), ` +
        (kernel ? `kernel commits ${kernel.commits}, skipped ${kernel.skipped}, host modesets ${String(p.modesets)}, dma-bufs imported by this process 0` : `shown ${String(p.framesShown)}, dropped ${String(p.dropped)}, modesets ${String(p.modesets)}, dma-bufs imported ${String(p.imports)}`),
      `  sampled frames ${String(p.sampledFrames)}, pixel mismatches between guest and scanout: ${String(p.pixelMismatches)}; pixels copied: 0`,
      `  latency guest flip -> scanout: p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms (TCG emulation, vkms at 60 Hz)`,
    );
  }
  const text = lines.join('\n');
  writeFileSync(join(out, 'summary.txt'), `${text}\n`);
  console.log(`\n${text}`);
  if (mismatches > 0) process.exitCode = 1;
}

if (rigOut !== undefined) {
  await demo(rigOut);
} else {
  const repo = join(import.meta.dirname, '..', '..');
  const out = join(repo, 'test', 'vm', 'out', 'demo');
  const r = spawnSync(join(repo, 'test', 'vm', 'run'), ['--kernel', 'patched', '--out', out, '--', 'node', 'test/dist/demo.js'], { cwd: repo, stdio: 'inherit' });
  mkdirSync(out, { recursive: true });
  console.log(`\ndemo output (PNGs, summary.json, console and kernel log): ${out}`);
  if (existsSync(join(out, 'summary.txt'))) console.log(readFileSync(join(out, 'summary.txt'), 'utf8'));
  process.exitCode = r.status ?? 1;
}
