import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { MalformedReplyError } from '../errors.js';
import { viewOf } from '../uapi/codec.js';
import { decodeDeviceCapabilities, decodeRegionCapabilities, hasDisplayExtension, walkCapabilities } from './caps.js';

const FIXED = 32; // sizeof(struct vfio_region_info)

/** A region-info buffer with capabilities written at the given offsets. */
function buffer(size: number, caps: { at: number; id: number; next: number; body?: number[] }[]): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = viewOf(bytes);
  for (const { at, id, next, body = [] } of caps) {
    view.setUint16(at, id, true);
    view.setUint16(at + 2, 1, true);
    view.setUint32(at + 4, next, true);
    body.forEach((word, i) => {
      view.setUint32(at + 8 + 4 * i, word, true);
    });
  }
  return bytes;
}

test('decodes sparse mmap, type, msix-mappable and keeps unknown ids raw', () => {
  const bytes = buffer(128, [
    { at: 32, id: 1, next: 80, body: [2, 0, 0x1000, 0, 0x1000, 0, 0x3000, 0, 0x2000, 0] },
    { at: 80, id: 2, next: 96, body: [1, 1] },
    { at: 96, id: 3, next: 104 },
    { at: 104, id: 0x99, next: 0, body: [0xabcd] },
  ]);
  const caps = decodeRegionCapabilities(bytes, 32, FIXED, 'test');
  assert.deepEqual(caps.slice(0, 3), [
    { kind: 'sparse-mmap', version: 1, areas: [{ offset: 0x1000, size: 0x1000 }, { offset: 0x3000, size: 0x2000 }] },
    { kind: 'type', version: 1, type: 1, subtype: 1 },
    { kind: 'msix-mappable', version: 1 },
  ]);
  const unknown = caps[3];
  assert.ok(unknown?.kind === 'unknown');
  assert.equal(unknown.id, 0x99);
  assert.equal(unknown.bytes.length, 24);
  assert.equal(viewOf(unknown.bytes).getUint32(8, true), 0xabcd);
});

test('an empty chain (cap_offset 0) has no capabilities', () => {
  assert.deepEqual(walkCapabilities(new Uint8Array(32), 0, FIXED, 'test'), []);
});

const malformed: [string, Uint8Array, number, RegExp][] = [
  ['a loop back to itself', buffer(64, [{ at: 32, id: 2, next: 32 }]), 32, /backwards/],
  ['a loop through two caps', buffer(64, [{ at: 32, id: 3, next: 48 }, { at: 48, id: 3, next: 32 }]), 32, /backwards/],
  ['a link into its own header', buffer(64, [{ at: 32, id: 3, next: 36 }]), 32, /own header/],
  ['a header beyond the buffer', buffer(64, [{ at: 32, id: 3, next: 60 }]), 32, /beyond/],
  ['next beyond the buffer', buffer(64, [{ at: 32, id: 3, next: 4096 }]), 32, /beyond/],
  ['a misaligned header', buffer(64, [{ at: 32, id: 3, next: 42 }]), 32, /misaligned/],
  ['a first cap inside the fixed struct', buffer(64, [{ at: 16, id: 3, next: 0 }]), 16, /overlaps/],
  ['a type cap cut short', buffer(48, [{ at: 32, id: 2, next: 40 }, { at: 40, id: 3, next: 0 }]), 32, /needs 16 bytes/],
  ['more sparse areas than bytes', buffer(64, [{ at: 32, id: 1, next: 0, body: [1000, 0] }]), 32, /1000 areas/],
];
for (const [name, bytes, first, message] of malformed) {
  test(`rejects ${name}`, () => {
    assert.throws(() => decodeRegionCapabilities(bytes, first, FIXED, 'region 9'), (err: unknown) => {
      assert.ok(err instanceof MalformedReplyError);
      assert.equal(err.code, 'ERR_VFIO_MALFORMED_REPLY');
      assert.match(err.message, /^region 9: /);
      assert.match(err.message, message);
      return true;
    });
  });
}

test('random chains end in a result or a MalformedReplyError, never a hang or another error', () => {
  for (let i = 0; i < 20000; i++) {
    const bytes = new Uint8Array(randomBytes(32 + (i % 200)));
    // Bias toward plausible chains: small next offsets.
    const view = viewOf(bytes);
    for (let at = 32; at + 8 <= bytes.length; at += 8) view.setUint32(at + 4, view.getUint32(at + 4, true) % 256, true);
    try {
      decodeRegionCapabilities(bytes, 32 + 4 * (i % 8), FIXED, 'fuzz');
    } catch (err) {
      assert.ok(err instanceof MalformedReplyError, String(err));
    }
  }
});

test('the display extension is trusted only where the display change IRQ is described as such', () => {
  const DEVICE_FIXED = 24; // sizeof(struct vfio_device_info)
  const IRQ_TYPE = 6; // VFIO_DEVICE_INFO_CAP_IRQ_TYPE: index, type GFX, subtype DISPLAY
  const DISPLAY_IRQ = 7; // VFIO_DEVICE_INFO_CAP_GFX_DISPLAY_IRQ: index, events
  const caps = (list: { at: number; id: number; next: number; body?: number[] }[]): ReturnType<typeof decodeDeviceCapabilities> =>
    decodeDeviceCapabilities(buffer(96, list), 24, DEVICE_FIXED, 'device');
  // As patched mbochs and GVT-g answer: both, for display IRQ index 5.
  assert.equal(hasDisplayExtension(caps([{ at: 24, id: IRQ_TYPE, next: 48, body: [5, 1, 1, 0] }, { at: 48, id: DISPLAY_IRQ, next: 0, body: [5, 7] }])), true);
  // Upstream (no chain), only the IRQ type, or the two naming different indexes: not ours.
  assert.equal(hasDisplayExtension([]), false);
  assert.equal(hasDisplayExtension(caps([{ at: 24, id: IRQ_TYPE, next: 0, body: [5, 1, 1, 0] }])), false);
  assert.equal(hasDisplayExtension(caps([{ at: 24, id: IRQ_TYPE, next: 48, body: [4, 1, 1, 0] }, { at: 48, id: DISPLAY_IRQ, next: 0, body: [5, 7] }])), false);
  // An IRQ typed as something else than GFX/DISPLAY.
  assert.equal(hasDisplayExtension(caps([{ at: 24, id: IRQ_TYPE, next: 48, body: [5, 2, 1, 0] }, { at: 48, id: DISPLAY_IRQ, next: 0, body: [5, 7] }])), false);
});
