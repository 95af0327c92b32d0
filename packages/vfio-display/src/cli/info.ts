// vfio-display info <dev>: the device, its regions with their decoded
// capabilities, its IRQ indexes, and what its display offers.
import type { IrqCapability, RegionCapability } from '../device/caps.js';
import type { IrqInfo, RegionInfo, VfioDevice } from '../device/device.js';
import { listInstances } from '../device/mdev.js';
import { Display } from '../display/display.js';
import { UnsupportedError } from '../errors.js';
import * as v from '../uapi/vfio.js';
import * as x from '../uapi/vfio-ext.js';
import type { Command } from './args.js';
import { devName, devSchema, openDev, type DevArg } from './device.js';
import { DEV_HELP } from './args.js';
import { hex, println, size, table, type Output } from './output.js';

const PCI_REGIONS = ['BAR0', 'BAR1', 'BAR2', 'BAR3', 'BAR4', 'BAR5', 'ROM', 'CONFIG', 'VGA'];
const PCI_IRQS = ['INTx', 'MSI', 'MSI-X', 'ERR', 'REQ'];

function typeName(type: number, subtype: number): string {
  if (type === v.VFIO_REGION_TYPE_GFX && subtype === v.VFIO_REGION_SUBTYPE_GFX_EDID) return 'gfx/edid';
  if ((type & v.VFIO_REGION_TYPE_PCI_VENDOR_TYPE) !== 0) return `pci vendor ${hex(type & v.VFIO_REGION_TYPE_PCI_VENDOR_MASK)}/${hex(subtype)}`;
  return `${type}/${subtype}`;
}

export function regionCapText(cap: RegionCapability): string {
  switch (cap.kind) {
    case 'type':
      return `type ${typeName(cap.type, cap.subtype)}`;
    case 'sparse-mmap':
      return `sparse mmap ${cap.areas.map((a) => `${hex(a.offset)}+${size(a.size)}`).join(' ') || '(no areas)'}`;
    case 'msix-mappable':
      return 'msix mappable';
    case 'unknown':
      return `capability ${cap.id} v${cap.version}`;
  }
}

const DISPLAY_EVENTS: readonly (readonly [number, string])[] = [
  [x.VFIO_IRQ_DISPLAY_PRIMARY, 'primary'],
  [x.VFIO_IRQ_DISPLAY_CURSOR, 'cursor'],
  [x.VFIO_IRQ_DISPLAY_MODE, 'mode'],
];

export function irqCapText(cap: IrqCapability): string {
  switch (cap.kind) {
    case 'type':
      return `type ${cap.type === x.VFIO_IRQ_TYPE_GFX && cap.subtype === x.VFIO_IRQ_SUBTYPE_GFX_DISPLAY ? 'gfx/display' : `${cap.type}/${cap.subtype}`}`;
    case 'display':
      return `display events: ${DISPLAY_EVENTS.filter(([bit]) => (cap.events & bit) !== 0).map(([, name]) => name).join(' ') || 'none'}`;
  }
}

const flagWords = (pairs: readonly (readonly [boolean, string])[]): string => pairs.filter(([on]) => on).map(([, w]) => w).join(' ') || '-';

function regionRow(r: RegionInfo, pci: boolean): string[] {
  return [
    String(r.index),
    (pci ? PCI_REGIONS[r.index] : undefined) ?? '-',
    size(r.size),
    hex(r.offset),
    flagWords([[r.readable, 'read'], [r.writable, 'write'], [r.mappable, 'mmap']]),
    r.capabilities.map(regionCapText).join('; ') || '-',
  ];
}

function irqRow(irq: IrqInfo, pci: boolean): string[] {
  return [
    String(irq.index),
    (pci ? PCI_IRQS[irq.index] : undefined) ?? '-',
    String(irq.count),
    flagWords([[irq.eventfd, 'eventfd'], [irq.maskable, 'maskable'], [irq.automasked, 'automasked'], [irq.noresize, 'noresize']]),
    irq.capabilities.map(irqCapText).join('; ') || '-',
  ];
}

/** The device's display (borrowing it), or null if it has none. */
function displayOf(device: VfioDevice): Display | null {
  try {
    return new Display(device);
  } catch (err) {
    if (err instanceof UnsupportedError && err.code === 'ERR_VFIO_NOT_A_DISPLAY') return null;
    throw err;
  }
}

function printDisplay(out: Output, device: VfioDevice): void {
  using display = displayOf(device);
  if (!display) {
    println(out, 'display: none (not a display device: it answers no plane probe)');
    return;
  }
  const f = display.features;
  println(out, 'display:');
  println(out, `  planes: ${f.planes === 'dmabuf' ? 'dma-buf (exported per guest buffer)' : 'region (a framebuffer in device memory)'}`);
  const irq = f.changeIrq;
  println(
    out,
    `  change events: ${irq ? `yes, IRQ index ${irq.index} (${irq.count} IRQs)` : 'no: the device has no display change IRQ (kernel-patches/ adds one to mbochs), so watch and flip poll on a timer'}`,
  );
  println(out, `  extended plane info: ${f.extendedInfo ? 'yes (head, visible origin, flip sequence)' : 'no: the device does not answer VFIO_GFX_PLANE_FLAG_EXT_INFO (kernel-patches/ adds it to mbochs)'}`);
  println(out, `  kernel flips: ${f.kernelFlip ? 'yes: the kernel can flip a head to a plane of a host DRM lease itself (vfio-display flip uses them)' : 'no: the kernel lacks VFIO_DEVICE_FEATURE_GFX_DIRECT_FLIP (kernel-patches/ adds it to mbochs and GVT-g)'}`);
  const edid = display.edid;
  if (f.edid && edid) {
    const max = f.edid.maxXres === null || f.edid.maxYres === null ? 'no resolution limit' : `up to ${f.edid.maxXres}x${f.edid.maxYres}`;
    println(out, `  EDID: region ${edid.regionIndex}, link ${edid.linkState()}, ${edid.read().length}-byte blob (room for ${f.edid.maxSize}), ${max}`);
  } else {
    println(out, '  EDID: none (the device has no EDID region)');
  }
}

export const info: Command<{ dev: DevArg }> = {
  name: 'info',
  summary: 'show a device: its regions with decoded capabilities, IRQs, and display features (planes, change events, extended info, EDID)',
  positionals: [['dev', DEV_HELP]],
  options: {},
  schema: (z) => z.strictObject({ dev: devSchema(z) }),
  run({ dev }, io) {
    using device = openDev(dev);
    const out = io.stdout;
    const d = device.info();
    const instance = listInstances().find((i) => i.uuid === device.name || i.cdev === dev);
    println(out, `device ${devName(dev)}: ${device.via === 'borrowed' ? 'a device fd passed down' : `opened through ${device.via}`}`);
    if (instance) {
      println(out, `  mdev ${instance.uuid}: ${instance.parent}/${instance.type}, driver ${instance.driver ?? '-'}, IOMMU group ${instance.iommuGroup ?? '-'}, cdev ${instance.cdev ?? '-'}`);
    }
    println(out, `  ${flagWords([[d.pci, 'PCI'], [d.reset, 'resettable']])}; ${d.numRegions} regions, ${d.numIrqs} IRQ indexes (flags ${hex(d.flags)})`);
    println(out, 'regions:');
    for (const line of table([['INDEX', 'NAME', 'SIZE', 'OFFSET', 'ACCESS', 'CAPABILITIES'], ...device.regions().map((r) => regionRow(r, d.pci))])) println(out, `  ${line}`);
    println(out, 'IRQs:');
    for (const line of table([['INDEX', 'NAME', 'COUNT', 'FLAGS', 'CAPABILITIES'], ...device.irqs().map((i) => irqRow(i, d.pci))])) println(out, `  ${line}`);
    printDisplay(out, device);
  },
};
