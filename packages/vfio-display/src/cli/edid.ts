// vfio-display edid <dev>: the EDID the guest sees. Without options it shows
// it; --mode/--modes write one generated for those modes (scaled into the
// device's limits), --file writes a blob as it is, and each write is read
// back from the region and compared; --link takes the virtual cable out or
// puts it back.
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import type { Display } from '../display/display.js';
import { EDID_BLOCK, EDID_MAX_BLOCKS, type EdidRegion, type LinkState } from '../display/edid.js';
import { fitModes, parseMode } from '../display/edid-generator.js';
import { InvalidArgumentError, KernelError, UnsupportedError } from '../errors.js';
import { DEV_HELP, type Command } from './args.js';
import { devSchema, openDisplayOf, type DevArg } from './device.js';
import { println } from './output.js';

const HEADER = [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00];

const EDID_MAX_BYTES = EDID_MAX_BLOCKS * EDID_BLOCK;

/**
 * Reads an EDID file, refusing one larger than any EDID can be after at
 * most one byte past that size: a huge file, /dev/zero or a pipe that never
 * ends is not read into memory.
 */
export function readEdidFile(file: string): Uint8Array {
  const buffer = new Uint8Array(EDID_MAX_BYTES + 1);
  let length = 0;
  const fd = openSync(file, 'r');
  try {
    for (let n = -1; n !== 0 && length < buffer.length; length += n) n = readSync(fd, buffer, length, buffer.length - length, null);
  } finally {
    closeSync(fd);
  }
  if (length > EDID_MAX_BYTES) throw new InvalidArgumentError(`${file}: larger than any EDID (at most ${EDID_MAX_BLOCKS} blocks of ${EDID_BLOCK} bytes, ${EDID_MAX_BYTES} bytes)`);
  return buffer.slice(0, length);
}

/** Checks a blob is EDID: whole 128-byte blocks, the base block's header, every block's checksum. */
export function checkEdid(blob: Uint8Array, what: string): Uint8Array {
  if (blob.length === 0 || blob.length % EDID_BLOCK !== 0) throw new InvalidArgumentError(`${what}: an EDID is whole ${EDID_BLOCK}-byte blocks, this is ${blob.length} bytes`);
  if (!HEADER.every((b, i) => blob[i] === b)) throw new InvalidArgumentError(`${what}: not an EDID (it lacks the 00 ff ff ff ff ff ff 00 header)`);
  for (let block = 0; block < blob.length / EDID_BLOCK; block++) {
    const sum = blob.subarray(block * EDID_BLOCK, (block + 1) * EDID_BLOCK).reduce((a, b) => a + b, 0);
    if (sum % 256 !== 0) throw new InvalidArgumentError(`${what}: block ${block} has a bad checksum (its bytes sum to ${sum % 256}, not 0, mod 256)`);
  }
  return blob;
}

/** The base block in words: manufacturer, monitor name, preferred timing. */
export function describeEdid(blob: Uint8Array): string {
  if (blob.length < EDID_BLOCK || !HEADER.every((b, i) => blob[i] === b)) return `${blob.length} bytes, not an EDID`;
  const at = (i: number): number => blob[i] ?? 0;
  const pnp = (at(8) << 8) | at(9);
  const maker = [10, 5, 0].map((s) => String.fromCharCode(64 + ((pnp >> s) & 31))).join('');
  const parts = [`${blob.length} bytes, EDID ${at(18)}.${at(19)}, manufacturer ${maker}`];
  for (let d = 54; d < 126; d += 18) {
    if (at(d) === 0 && at(d + 1) === 0) {
      if (at(d + 3) === 0xfc) parts.push(`name "${String.fromCharCode(...blob.subarray(d + 5, d + 18)).replace(/\n.*$/s, '').trimEnd()}"`);
      continue;
    }
    if (d !== 54) continue;
    const clockHz = (at(d) | (at(d + 1) << 8)) * 10_000;
    const hActive = at(d + 2) | ((at(d + 4) >> 4) << 8);
    const hBlank = at(d + 3) | ((at(d + 4) & 15) << 8);
    const vActive = at(d + 5) | ((at(d + 7) >> 4) << 8);
    const vBlank = at(d + 6) | ((at(d + 7) & 15) << 8);
    parts.push(`preferred ${hActive}x${vActive}@${(clockHz / ((hActive + hBlank) * (vActive + vBlank))).toFixed(2)}`);
  }
  return parts.join(', ');
}

function edidOf(display: Display): EdidRegion {
  const edid = display.edid;
  if (!edid) throw new UnsupportedError(`${display.device.name} has no EDID region: its driver does not let the host choose the guest's modes`, { code: 'ERR_VFIO_NO_EDID' });
  return edid;
}

/** Reads the blob back from the region: what the guest will read. */
function readBack(edid: EdidRegion, written: Uint8Array): Uint8Array {
  const back = edid.read();
  if (back.length !== written.length || !back.every((b, i) => b === written[i])) {
    throw new KernelError(`the device returned a different EDID (${back.length} bytes) than was written (${written.length} bytes)`, { code: 'ERR_VFIO_EDID_MISMATCH' });
  }
  return back;
}

interface EdidArgs {
  dev: DevArg;
  mode?: string | undefined;
  modes?: string | undefined;
  file?: string | undefined;
  link?: LinkState | undefined;
  output?: string | undefined;
}

export const edid: Command<EdidArgs> = {
  name: 'edid',
  summary: 'show the EDID the guest sees, or set it: generated for modes, from a file, or the link up or down',
  synopsis: '<dev> [--mode WxH[@HZ] | --modes LIST | --file FILE | --link up|down]',
  positionals: [['dev', DEV_HELP]],
  options: {
    mode: { type: 'string', value: 'WxH[@HZ]', help: 'write an EDID whose preferred mode is this (60 Hz unless given)' },
    modes: { type: 'string', value: 'WxH[@HZ],...', help: 'write an EDID with these modes, preferred first' },
    file: { type: 'string', value: 'FILE', help: 'write this EDID blob (checked: 128-byte blocks, header, checksums)' },
    link: { type: 'string', value: 'up|down', help: 'only set the link state (down: the guest sees the display unplugged)' },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'also save the EDID (after any write) to FILE' },
  },
  notes: [
    'A write takes the link down, writes the blob and its size, brings the link up 100 ms later as QEMU does (the guest sees an unplug, then a plug), then reads the blob back from the region and fails (status 1) if it differs. Modes must lie within 64-4095 pixels and 24-240 Hz; larger than the device allows, they are scaled into its limit keeping their aspect ratio (duplicates dropped), and the output says so.',
  ],
  schema: (z) =>
    z
      .strictObject({
        dev: devSchema(z),
        mode: z.string().optional(),
        modes: z.string().optional(),
        file: z.string().optional(),
        link: z.enum(['up', 'down']).optional(),
        output: z.string().optional(),
      })
      .refine((a) => [a.mode, a.modes, a.file, a.link].filter((x) => x !== undefined).length <= 1, { message: 'give at most one of --mode, --modes, --file and --link', path: ['mode'] }),
  async run({ dev, mode, modes, file, link, output }, io) {
    using display = openDisplayOf(dev);
    const region = edidOf(display);
    const limits = display.features.edid;
    if (link !== undefined) {
      region.setLinkState(link);
      println(io.stdout, `link ${region.linkState()}`);
      return;
    }
    let blob: Uint8Array | undefined;
    if (file !== undefined) {
      blob = checkEdid(readEdidFile(file), file);
      await region.update(blob);
    } else if (mode !== undefined || modes !== undefined) {
      const list = mode !== undefined ? [mode] : (modes ?? '').split(',').map((m) => m.trim());
      for (const m of list.map(parseMode)) {
        const [fitted] = fitModes([m], limits ?? { maxXres: null, maxYres: null });
        if (fitted && (fitted.width !== m.width || fitted.height !== m.height)) {
          println(io.stdout, `${m.width}x${m.height}@${m.refresh} is beyond the device's ${limits?.maxXres ?? 'any'}x${limits?.maxYres ?? 'any'}: scaled to ${fitted.width}x${fitted.height}`);
        }
      }
      blob = await display.setModes(list);
    }
    const current = blob === undefined ? region.read() : readBack(region, blob);
    if (output !== undefined) writeFileSync(output, current);
    const max = limits && limits.maxXres !== null && limits.maxYres !== null ? `, modes up to ${limits.maxXres}x${limits.maxYres}` : '';
    println(io.stdout, `${blob === undefined ? 'EDID' : 'wrote and read back EDID'}: ${current.length === 0 ? 'none' : describeEdid(current)}`);
    println(io.stdout, `link ${region.linkState()}, region ${region.regionIndex}, room for ${limits?.maxSize ?? 0} bytes${max}`);
  },
};
