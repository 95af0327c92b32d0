// Display change events and extended plane info: on the patched kernel the
// kernel's display change IRQ (kernel-patches 0007-0010); on the stock
// kernel the same API through the timer, and typed errors for the rest.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { KernelError, UnsupportedError, openDisplay, uapi, type DisplayChange, type PlaneInfo } from 'vfio-display';
import { BochsGuest, DISPI_INDEX, openMbochsGuest } from '../lib/bochs-guest.js';
import { createMdev, requireRig, rigKernel } from '../lib/rig.js';

requireRig();
const patched = rigKernel === 'patched';

function dmabufPlane(plane: PlaneInfo | null): Extract<PlaneInfo, { mode: 'dmabuf' }> {
  assert.ok(plane?.mode === 'dmabuf', 'expected a dma-buf plane');
  return plane;
}

/** 'quiet' if `pending` has not settled after `ms` (the stream stayed asleep). */
function quietFor(pending: Promise<unknown>, ms: number): Promise<'woke' | 'quiet'> {
  return Promise.race([pending.then(() => 'woke' as const), sleep(ms).then(() => 'quiet' as const)]);
}

/** `pending`, or a failure naming `what` after `ms` (a stream that never wakes fails, rather than hanging the suite). */
async function within<T>(pending: Promise<T>, ms: number, what: string): Promise<T> {
  const timeout = sleep(ms, 'timeout' as const, { ref: false });
  const result = await Promise.race([pending, timeout]);
  if (result === 'timeout') assert.fail(`${what}: nothing within ${String(ms)} ms`);
  return result;
}

async function next(changes: AsyncIterator<DisplayChange>): Promise<DisplayChange> {
  const r = await changes.next();
  assert.ok(!r.done);
  return r.value;
}

describe('patched kernel: display change IRQ and extended plane info', { skip: !patched && 'needs the kernel-patches series', timeout: 120_000 }, () => {
  test('the IRQ index and its capabilities', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    const irq = display.features.changeIrq;
    assert.ok(irq);
    assert.deepEqual(
      { index: irq.index, eventfd: irq.eventfd, maskable: irq.maskable, count: irq.count, capabilities: irq.capabilities },
      {
        index: 5,
        eventfd: true,
        maskable: true,
        count: 3,
        capabilities: [
          { kind: 'type', version: 1, type: uapi.vfioExt.VFIO_IRQ_TYPE_GFX, subtype: uapi.vfioExt.VFIO_IRQ_SUBTYPE_GFX_DISPLAY },
          { kind: 'display', version: 1, events: uapi.vfioExt.VFIO_IRQ_DISPLAY_PRIMARY | uapi.vfioExt.VFIO_IRQ_DISPLAY_MODE },
        ],
      },
    );
    assert.equal(display.features.changeEvents, true);
    assert.equal(display.features.extendedInfo, true);
  });

  test('a double-buffered animation: each flip wakes changes() with no timer; flipSeq and buffers follow; pixels match', async () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    const controller = new AbortController();
    const changes = display.changes({ signal: controller.signal });
    assert.equal(changes.source, 'event');
    const initial = await next(changes);
    assert.equal(initial.primary, null);

    guest.setMode(800, 600);
    const moded = await next(changes);
    assert.deepEqual(moded.events, { primary: 0, cursor: 0, mode: 1, any: 0 });
    assert.ok(moded.changed.mode);
    const front = dmabufPlane(moded.primary);
    assert.deepEqual([front.head, front.numHeads, front.srcX, front.srcY], [0, 1, 0, 0]);

    const lines = [0, guest.backBufferLine()];
    let seq = front.flipSeq ?? -1n;
    for (let frame = 1; frame <= 6; frame++) {
      const line = lines[frame % 2] ?? 0;
      const drawn = guest.draw(frame, line);
      guest.flip(line);
      const change = await next(changes);
      assert.equal(change.source, 'event');
      assert.deepEqual(change.events, { primary: 1, cursor: 0, mode: 0, any: 0 }, `frame ${frame}`);
      assert.deepEqual(change.changed, { primary: true, cursor: false, mode: false });
      const plane = dmabufPlane(change.primary);
      assert.equal(plane.flipSeq, seq + 1n, 'flipSeq counts the flip');
      seq = plane.flipSeq ?? -1n;
      using map = display.dmabuf(plane).map();
      map.begin('read');
      assert.ok(Buffer.from(map.bytes.subarray(0, drawn.length)).equals(drawn), `frame ${frame}: dma-buf pixels equal the guest's drawing`);
      map.end('read');
    }
    controller.abort();
    await assert.rejects(changes.next(), { name: 'AbortError' });
  });

  test('paused: no signals; resumed: one signal for what happened meanwhile', async () => {
    using rig = openMbochsGuest();
    const { display, guest } = rig;
    const changes = display.changes();
    await next(changes);
    display.pauseChanges();
    guest.flip(guest.backBufferLine());
    guest.flip(0);
    guest.flip(guest.backBufferLine());
    const pending = next(changes);
    assert.equal(await quietFor(pending, 300), 'quiet', 'no signal while paused');
    display.resumeChanges();
    const change = await pending;
    assert.deepEqual(change.events, { primary: 1, cursor: 0, mode: 0, any: 0 }, 'one signal for three flips');
    await changes.return(undefined);
  });

  test('a stream ended while paused: the next stream starts unmasked (the mask outlives it in the kernel)', async () => {
    using rig = openMbochsGuest();
    const { display, guest } = rig;
    const first = display.changes();
    await next(first);
    display.pauseChanges();
    await first.return(undefined);
    const second = display.changes();
    await next(second);
    guest.flip(guest.backBufferLine());
    const pending = next(second);
    assert.equal(await quietFor(pending, 10_000), 'woke', 'the flip signalled the new stream');
    const change = await pending;
    assert.equal(change.source, 'event');
    assert.equal(change.changed.primary, true);
    await second.return(undefined);
  });

  test('streams share the IRQ: two on one display see every change they want, and one ending leaves the other running', async () => {
    using rig = openMbochsGuest();
    const { display, guest } = rig;
    // Before the display subscribed once for all its streams, the second stream's SET_IRQS took the IRQ from the first.
    const all = display.changes();
    const modes = display.changes({ kinds: ['mode'] });
    await next(all);
    await next(modes);
    for (const line of [guest.backBufferLine(), 0, guest.backBufferLine()]) {
      guest.flip(line);
      const change = await within(next(all), 10_000, 'the first stream sees the flip');
      assert.equal(change.changed.primary, true);
      assert.equal(change.events?.primary, 1);
    }
    const pending = next(modes);
    assert.equal(await quietFor(pending, 300), 'quiet', 'flips do not wake a stream that wants mode changes only');
    // A mode set is several register writes: the latch may see the display off on the way.
    const untilWidth = async (stream: AsyncIterator<DisplayChange>, width: number, first: Promise<DisplayChange> | undefined, what: string): Promise<{ primary: number; mode: number }> => {
      const seen = { primary: 0, mode: 0 };
      for (let pendingChange = first ?? next(stream); ; pendingChange = next(stream)) {
        const change = await within(pendingChange, 10_000, what);
        assert.ok(change.changed.mode, `${what}: a mode change`);
        seen.primary += change.events?.primary ?? 0;
        seen.mode += change.events?.mode ?? 0;
        if (change.primary?.width === width) return seen;
      }
    };
    guest.setMode(1024, 768);
    const [a, m] = await Promise.all([untilWidth(all, 1024, undefined, 'the first stream sees the mode change'), untilWidth(modes, 1024, pending, 'the second stream sees it')]);
    assert.ok(a.mode >= 1 && m.mode >= 1);
    assert.equal(m.primary, 3, 'the flips the second stream slept through are counted');
    await all.return(undefined);
    guest.setMode(800, 600);
    await untilWidth(modes, 800, undefined, 'the second stream, alone');
    await modes.return(undefined);
  });

  test('writes that change nothing signal nothing', async () => {
    using rig = openMbochsGuest();
    const { display, guest } = rig;
    const changes = display.changes();
    await next(changes);
    guest.flip(0);
    guest.setReg(DISPI_INDEX.VIRT_HEIGHT, 1234); // not part of the plane
    const pending = next(changes);
    assert.equal(await quietFor(pending, 300), 'quiet');
    guest.disable();
    assert.deepEqual((await pending).events, { primary: 0, cursor: 0, mode: 1, any: 0 }, 'disabling is a mode change');
    await changes.return(undefined);
  });

  test('a head that does not exist is refused', () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    assert.throws(() => display.query('primary', { head: 1 }), (e: unknown) => e instanceof KernelError && e.code === 'EINVAL');
  });
});

describe('stock kernel: the same API through the timer', { skip: patched && 'stock kernel behaviour', timeout: 120_000 }, () => {
  test('no events, no extended info; changes() polls; event-only calls are typed errors', async () => {
    using mdev = createMdev('mbochs', 'mbochs-small');
    using display = openDisplay(mdev.uuid);
    assert.equal(display.features.changeEvents, false);
    assert.equal(display.features.extendedInfo, false);
    assert.equal(display.features.changeIrq, null);
    assert.throws(() => display.changes({ mode: 'event' }), (e: unknown) => e instanceof UnsupportedError && e.code === 'ERR_VFIO_NO_CHANGE_EVENTS');
    assert.throws(() => { display.pauseChanges(); }, UnsupportedError);
    assert.throws(() => display.query('primary', { head: 1 }), UnsupportedError);
    using guest = new BochsGuest(display.device);
    guest.setMode(800, 600);
    const controller = new AbortController();
    const changes = display.changes({ signal: controller.signal, periodMs: 5 });
    assert.equal(changes.source, 'timer');
    const first = await next(changes);
    assert.equal(first.events, null);
    assert.equal(dmabufPlane(first.primary).flipSeq, undefined);
    guest.flip(guest.backBufferLine());
    assert.ok((await next(changes)).changed.primary);
    controller.abort();
    await assert.rejects(changes.next(), { name: 'AbortError' });
  });
});
