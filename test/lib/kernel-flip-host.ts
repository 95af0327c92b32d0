// The host process of a kernel flip, for the rig's wake-up test: given a
// vGPU's open device as fd 3, it opens vkms as DRM master, shows the guest
// on the Virtual connector with directFlip's kernel flips (a modeset, a
// lease of the CRTC and plane to the vGPU), and from then on only waits:
// in poll() on its DRM fd, for any event the kernel might send it; for a
// guest mode change (directFlip's MODE eventfd); and on stdin, for the
// test's "end". It prints one JSON line when it is ready and one at the end.
import { Display, VfioDevice, directFlip, openCard, waitReadable } from 'vfio-display';

const display = new Display(VfioDevice.fromFd(3, 'mbochs (inherited)'));
const card = openCard({ driver: 'vkms' });
const virtual = card.connectors().find((c) => c.name === 'Virtual-1');
if (!virtual) throw new Error('vkms has no Virtual-1 connector');
const stop = new AbortController();
const flip = directFlip(display, card, { connectorId: virtual.id, kernel: true, signal: stop.signal });
const frames = flip[Symbol.asyncIterator]();
const first = await frames.next();
if (first.done) throw new Error('the flip ended before its first frame');
let drmEvents = 0;
const drm = waitReadable(card.fd, { signal: stop.signal }).then(
  () => {
    drmEvents++;
  },
  () => undefined,
);
const running = frames.next().catch(() => undefined);
console.log(JSON.stringify({ ready: true, planeId: flip.output.planeId, crtcId: flip.output.crtcId, flipper: flip.stats.flipper }));
process.stdin.once('data', () => {
  const { kernel } = flip.stats;
  stop.abort();
  void Promise.all([drm, running]).then(() => {
    console.log(JSON.stringify({ drmEvents, commits: String(kernel?.commits ?? 0n), state: kernel?.state }));
    card.close();
    display.close();
    process.stdin.destroy();
  });
});
