// The removal watch on plain files (the rig tests it on real VFIO cdevs).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceRemovedError } from '../errors.js';
import { cdevNode, RemovalWatch } from './removal.js';

/** The watch does not keep the process alive (as a waiting consumer would): hold it up while awaiting. */
async function aborted(signal: AbortSignal): Promise<void> {
  const hold = setInterval(() => undefined, 1000);
  try {
    await once(signal, 'abort');
  } finally {
    clearInterval(hold);
  }
}

function scratch(): { dir: string; node: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vfio-display-removal-'));
  const node = join(dir, 'vfio0');
  writeFileSync(node, '');
  return { dir, node };
}

test('the node going away aborts the signal with a DeviceRemovedError naming it', async () => {
  const { dir, node } = scratch();
  using watch = new RemovalWatch(node, 'VFIO device x');
  assert.equal(watch.signal.aborted, false);
  writeFileSync(node, 'touched');
  unlinkSync(node);
  await aborted(watch.signal);
  assert.ok(watch.signal.reason instanceof DeviceRemovedError);
  assert.equal((watch.signal.reason as DeviceRemovedError | undefined)?.code, 'ERR_VFIO_DEVICE_REMOVED');
  assert.equal((watch.signal.reason as DeviceRemovedError | undefined)?.path, node);
  rmSync(dir, { recursive: true });
});

test('a node already gone when the watch starts: aborted at once', async () => {
  using watch = new RemovalWatch(join(tmpdir(), 'vfio-display-no-such-node'), 'VFIO device y');
  await aborted(watch.signal);
  assert.ok(watch.signal.reason instanceof DeviceRemovedError);
});

test('after close() or without a node, nothing aborts', async () => {
  const { dir, node } = scratch();
  const watch = new RemovalWatch(node, 'VFIO device z');
  watch.close();
  unlinkSync(node);
  using none = new RemovalWatch(null, 'borrowed');
  await sleep(50);
  assert.equal(watch.signal.aborted, false);
  assert.equal(none.signal.aborted, false);
  rmSync(dir, { recursive: true });
});

test('no cdev node for a group or device that does not exist', () => {
  assert.equal(cdevNode(987_654, 'no-such-device'), null);
});
