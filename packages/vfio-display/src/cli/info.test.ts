// Region and IRQ capabilities in words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { irqCapText, regionCapText } from './info.js';

test('region capabilities', () => {
  assert.equal(regionCapText({ kind: 'type', version: 1, type: 1, subtype: 1 }), 'type gfx/edid');
  assert.equal(regionCapText({ kind: 'type', version: 1, type: 0x80008086, subtype: 3 }), 'type pci vendor 0x8086/0x3');
  assert.equal(regionCapText({ kind: 'type', version: 1, type: 2, subtype: 1 }), 'type 2/1');
  assert.equal(regionCapText({ kind: 'sparse-mmap', version: 1, areas: [{ offset: 0, size: 4096 }, { offset: 0x10000, size: 2 ** 20 }] }), 'sparse mmap 0x0+4 KiB 0x10000+1 MiB');
  assert.equal(regionCapText({ kind: 'msix-mappable', version: 1 }), 'msix mappable');
  assert.equal(regionCapText({ kind: 'unknown', id: 9, version: 2, bytes: new Uint8Array(8) }), 'capability 9 v2');
});

test('IRQ capabilities (the kernel-patches extension)', () => {
  assert.equal(irqCapText({ kind: 'type', version: 1, type: 1, subtype: 1 }), 'type gfx/display');
  assert.equal(irqCapText({ kind: 'type', version: 1, type: 3, subtype: 4 }), 'type 3/4');
  assert.equal(irqCapText({ kind: 'display', version: 1, events: 0b101 }), 'display events: primary mode');
  assert.equal(irqCapText({ kind: 'display', version: 1, events: 0 }), 'display events: none');
});
