// The guest fitted to its monitor (fitGuestToConnector): vkms's Virtual-1
// connector's preferred mode goes into an mbochs guest's EDID, the test
// reads it as the guest's driver does (BochsGuest.edid()), and a second fit,
// also from a new Display as on the next start, writes nothing: the guest
// sees no unplug.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fitGuestToConnector, openDisplay, refreshRate, uapi, type Display } from 'vfio-display';
import { BochsGuest } from '../lib/bochs-guest.js';
import { createMdev, requireRig } from '../lib/rig.js';
import { openVkms } from '../lib/vkms.js';

const out = requireRig();

/** Runs `fit` while sampling what the guest reads every 2 ms; returns how often it found no monitor. */
async function unpluggedSamples<T>(guest: BochsGuest, fit: () => Promise<T>): Promise<[T, number]> {
  let unplugged = 0;
  const sample = (): void => {
    if (guest.edid() === null) unplugged++;
  };
  const sampler = setInterval(sample, 2);
  let immediate: NodeJS.Immediate | undefined;
  try {
    const running = fit();
    // Once the fit's first part has run (a link cycle starts with link down), whatever the sampler's timer does on a busy machine.
    immediate = setImmediate(sample);
    const result = await running;
    sample();
    return [result, unplugged];
  } finally {
    clearInterval(sampler);
    // A fit that writes nothing resolves before the immediate runs: it must not sample a guest closed after.
    clearImmediate(immediate);
  }
}

test('vkms Virtual-1\'s preferred mode becomes the mbochs guest\'s preferred mode, with a stable identity; a second fit, also after a restart, is no link cycle', async () => {
  using vkms = openVkms();
  using mdev = createMdev('mbochs', 'mbochs-medium');
  const connector = vkms.card.connector(vkms.virtual.id);
  const native = connector.modes.find((m) => (m.type & uapi.drm.DRM_MODE_TYPE_PREFERRED) !== 0);
  assert.ok(native, 'vkms 6.12 marks a preferred mode (1024x768)');
  const refresh = Math.round(refreshRate(native));

  const fitOn = async (display: Display, guest: BochsGuest): Promise<[Awaited<ReturnType<typeof fitGuestToConnector>>, number]> =>
    unpluggedSamples(guest, () => fitGuestToConnector(display, vkms.card, connector.id));

  let first: Uint8Array;
  {
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    const [fit, unplugged] = await fitOn(display, guest);
    assert.ok(fit.written);
    assert.ok(unplugged > 0, 'the first fit unplugged the monitor for a while (the sampler sees link cycles)');
    assert.deepEqual(fit.mode, { width: native.hdisplay, height: native.vdisplay, refresh });
    assert.equal(fit.name, 'Virtual-1');
    first = guest.edid() ?? new Uint8Array(0);
    assert.deepEqual(first, fit.edid, 'the guest reads the fitted EDID');
    const file = join(out, 'fit-edid.bin');
    writeFileSync(file, first);
    const decoded = execFileSync('edid-decode', ['--check', file], { encoding: 'utf8' });
    assert.match(decoded, new RegExp(`DTD 1: +${native.hdisplay}x${native.vdisplay} `), 'the monitor\'s mode is the guest\'s preferred one');
    assert.match(decoded, new RegExp(`DTD 1: .* ${(native.clock / 1000).toFixed(6)} MHz`), 'with the monitor\'s own timing (its pixel clock), not CVT\'s');
    assert.match(decoded, /Display Product Name: 'Virtual-1'/);
    assert.match(decoded, new RegExp(`Serial Number: ${fit.serial}\\b`));
    assert.match(decoded, /EDID conformity: PASS/);

    const [again, unpluggedAgain] = await fitOn(display, guest);
    assert.equal(again.written, false, 'the same EDID is not written again');
    assert.equal(unpluggedAgain, 0, 'and the guest never saw its monitor go');
  }
  {
    // The next start: a new Display on the same vGPU derives the same monitor.
    using display = openDisplay(mdev.uuid);
    using guest = new BochsGuest(display.device);
    const [fit, unplugged] = await fitOn(display, guest);
    assert.equal(fit.written, false);
    assert.equal(unplugged, 0);
    assert.deepEqual(guest.edid(), first);
  }
  {
    // Another vGPU on the same connector is another monitor: another serial.
    using other = createMdev('mbochs', 'mbochs-medium');
    using display = openDisplay(other.uuid);
    const fit = await fitGuestToConnector(display, vkms.card, connector.id, { linkUpDelayMs: 0 });
    assert.ok(fit.written);
    assert.notDeepEqual(fit.edid, first);
  }
});
