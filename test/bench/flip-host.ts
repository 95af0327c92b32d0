// The host side of the flip-paths benchmark, in a process of its own so that
// its wake-ups and CPU time can be counted apart: on the mbochs device it
// inherits as fd 3 it shows the guest on vkms's Virtual connector one of the
// three ways a guest flip can reach a host plane, and waits.
//   node flip-host.js timer|event|kernel
// timer: directFlip polling every 30 ms (QEMU's refresh timer); event:
// directFlip woken by the display change IRQ, one commit per change; kernel:
// directFlip's kernel flips (a lease of the CRTC and plane to the vGPU).
// Prints {"ready":true,"hz":...} once the guest is on screen, and on "end"
// from stdin the frames it committed ({flipSeq, completedAt} in ns; none
// for kernel flips, which the benchmark reads from the kernel) as one line.
import { Display, VfioDevice, directFlip, openCard, refreshRate } from 'vfio-display';

const way = process.argv[2];
if (way !== 'timer' && way !== 'event' && way !== 'kernel') throw new Error(`way: timer, event or kernel, not ${String(way)}`);
const display = new Display(VfioDevice.fromFd(3, 'mbochs (inherited)'));
const card = openCard({ driver: 'vkms' });
const virtual = card.connectors().find((c) => c.name === 'Virtual-1');
if (!virtual) throw new Error('vkms has no Virtual-1 connector');
const stop = new AbortController();
const flip = directFlip(display, card, {
  connectorId: virtual.id,
  signal: stop.signal,
  kernel: way === 'kernel',
  changes: way === 'timer' ? 'timer' : 'event',
  periodMs: 30,
  cursorPlaneId: null,
});
const shown: { flipSeq: string; completedAt: string }[] = [];
const frames = flip[Symbol.asyncIterator]();
const first = await frames.next();
if (first.done) throw new Error('the flip ended before its first frame');
const mode = card.crtcState(flip.output.crtcId).mode;
if (!mode) throw new Error('no host mode after the first frame');
const running = (async () => {
  for (;;) {
    const r = await frames.next();
    if (r.done) return;
    if (r.value.primary?.flipSeq !== undefined) shown.push({ flipSeq: String(r.value.primary.flipSeq), completedAt: String(r.value.completedAt) });
  }
})().catch(() => undefined);
console.log(JSON.stringify({ ready: true, hz: refreshRate(mode), flipper: flip.stats.flipper, crtcId: flip.output.crtcId }));
process.stdin.once('data', () => {
  stop.abort();
  void running.then(() => {
    console.log(JSON.stringify({ shown }));
    card.close();
    display.close();
    process.stdin.destroy();
  });
});
