// The guest fitted to its monitor: the host connector's preferred mode,
// refresh rate and physical size go into the guest's EDID, so that the guest
// renders at the monitor's native size and nothing has to scale. The monitor
// keeps one identity per vGPU and connector (name and serial derived from
// them), so a guest does not collect a new monitor on every start, and an
// EDID that already says all this is not written again: no link cycle, no
// hot-plug for the guest.
import type { Display } from '../display/display.js';
import { fitModes, generateEdid, MODE_LIMITS, type DetailedTiming, type DisplayMode } from '../display/edid-generator.js';
import type { EdidUpdateOptions } from '../display/edid.js';
import { NotFoundError, UnsupportedError } from '../errors.js';
import type { Card } from '../kms/card.js';
import { isPreferred, refreshRate, type ModeInfo } from '../kms/mode.js';
import { DRM_MODE_FLAG_PHSYNC, DRM_MODE_FLAG_PVSYNC } from '../uapi/drm.js';
import { lazySchema, parse } from '../validate.js';

export interface FitEdidOptions extends EdidUpdateOptions {
  /**
   * What the monitor's serial is derived from, with the connector's name;
   * default: the device's name (its mdev UUID where it was opened by one).
   * Give the UUID where the device came as an fd.
   */
  readonly identity?: string;
}

export interface FittedEdid {
  /** The guest's preferred mode: the monitor's, scaled into the device's limits where it is larger. */
  readonly mode: DisplayMode;
  /** The monitor's physical size, or null where the connector reports none (the EDID then says about 96 dpi). */
  readonly sizeMm: { readonly width: number; readonly height: number } | null;
  readonly name: string;
  readonly serial: number;
  readonly edid: Uint8Array;
  /** False where the guest's EDID already was this one, link up: nothing was written. */
  readonly written: boolean;
}

const fitOptions = lazySchema((z) => z.strictObject({ linkUpDelayMs: z.number().optional(), identity: z.string().min(1).max(256).optional() }));

/** FNV-1a: a stable 32-bit serial from a string. */
function serialOf(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

/**
 * Writes the EDID of connector `connectorId` of `card` as the guest's
 * monitor (link down, blob, link up after linkUpDelayMs: EdidRegion.update),
 * unless the guest already has it with the link up. The connector is
 * probed; its preferred mode is used, else its first.
 */
export async function fitGuestToConnector(display: Display, card: Card, connectorId: number, options: FitEdidOptions = {}): Promise<FittedEdid> {
  const { identity = display.device.name, ...update } = parse(fitOptions, options, 'fitGuestToConnector() options');
  const edid = display.edid;
  if (!edid) throw new UnsupportedError(`${display.device.name} has no EDID region: its driver does not let the host choose the guest's monitor`, { code: 'ERR_VFIO_NO_EDID' });
  const connector = card.connector(connectorId);
  const native = connector.modes.find(isPreferred) ?? connector.modes[0];
  if (!native) throw new NotFoundError(`${card.path} connector ${connector.name} has no modes (${connector.connection}): no monitor to fit the guest to`);
  const refresh = Math.min(Math.max(Math.round(refreshRate(native)), MODE_LIMITS.minRefresh), MODE_LIMITS.maxRefresh);
  const [mode] = fitModes([{ width: native.hdisplay, height: native.vdisplay, refresh }], edid.limits()) as [DisplayMode];
  // The monitor's own timing where the guest may have its size; a scaled mode gets CVT's.
  const timing = mode.width === native.hdisplay && mode.height === native.vdisplay ? timingOf(native) : undefined;
  const sizeMm = connector.mmWidth > 0 && connector.mmHeight > 0 ? { width: connector.mmWidth, height: connector.mmHeight } : null;
  // An EDID monitor name is at most 13 characters.
  const name = connector.name.slice(0, 13);
  const serial = serialOf(`${identity}/${connector.name}`);
  const blob = generateEdid({ modes: [mode], name, serial, ...(timing && { timing }), ...(sizeMm && { widthMm: sizeMm.width, heightMm: sizeMm.height }) });
  const written = !(edid.linkState() === 'up' && Buffer.compare(edid.read(), blob) === 0);
  if (written) await edid.update(blob, update);
  return { mode, sizeMm, name, serial, edid: blob, written };
}

/** A KMS mode as an EDID detailed timing (sync polarities from its flags). */
export function timingOf(mode: ModeInfo): DetailedTiming {
  return {
    pixelClockKhz: mode.clock,
    hActive: mode.hdisplay,
    hBlank: mode.htotal - mode.hdisplay,
    hSyncOffset: mode.hsyncStart - mode.hdisplay,
    hSyncWidth: mode.hsyncEnd - mode.hsyncStart,
    vActive: mode.vdisplay,
    vBlank: mode.vtotal - mode.vdisplay,
    vSyncOffset: mode.vsyncStart - mode.vdisplay,
    vSyncWidth: mode.vsyncEnd - mode.vsyncStart,
    hSyncPositive: (mode.flags & DRM_MODE_FLAG_PHSYNC) !== 0,
    vSyncPositive: (mode.flags & DRM_MODE_FLAG_PVSYNC) !== 0,
  };
}
