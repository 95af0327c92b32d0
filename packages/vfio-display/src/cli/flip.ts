// vfio-display flip <dev> --drm /dev/dri/cardN|fd:N: the guest's framebuffer
// on a host display, zero-copy, flip for flip (directFlip), with live stats:
// committed by the kernel where it can (kernel-patches), else by this
// process. Ctrl-C (or --duration) ends it: what the output showed before is
// put back, status 0.
import { fitGuestToConnector, type FittedEdid } from '../flip/fit-edid.js';
import { directFlip, type DirectFlipOptions, type DirectFlipStats, type FlipFrame } from '../flip/direct-flip.js';
import { modifierName } from '../uapi/drm_fourcc.js';
import { DEV_HELP, type Command } from './args.js';
import { devName, devSchema, openCardOf, openDisplayOf, type DevArg } from './device.js';
import { println, RateMeter, StatusLine } from './output.js';
import { intWord, SOURCE_OPTIONS, sourceSchema, sourceText, type SourceChoice } from './source.js';

type Fit = NonNullable<DirectFlipOptions['fit']>;

interface FlipArgs {
  dev: DevArg;
  drm: DevArg;
  connector?: string | undefined;
  crtc?: number | undefined;
  plane?: number | undefined;
  cursorPlane?: number | 'none' | undefined;
  fit?: Fit | undefined;
  source?: SourceChoice | undefined;
  interval?: number | undefined;
  duration?: number | undefined;
  kernel?: 'auto' | 'yes' | 'no' | undefined;
  fitEdid?: boolean | undefined;
}

/** The stats in one line; `fps` while running (not in the summary at the end). */
export function flipStatus(stats: DirectFlipStats, fps?: number): string {
  const rate = fps === undefined ? '' : `${fps.toFixed(1)} fps, `;
  const counts = `${stats.frames} frames, ${stats.dropped} dropped, ${stats.modesets} modesets`;
  const k = stats.kernel;
  if (k) return `kernel flips: ${rate}${counts}, ${k.state}${k.error ? ` (${k.error})` : ''}, flip_seq ${k.flipSeq}, host vblank ${k.vblankSeq}`;
  const l = stats.latency;
  return `${stats.source ?? 'starting'}: ${rate}${counts}, ${stats.copies > 0 ? `${stats.copies} copies` : `${stats.imports} imports`}, latency p50 ${l.p50Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms`;
}

/** Where the guest's frames go, in words: the same until its mode or placement changes. */
export function placementText(frame: FlipFrame): string {
  const { primary: g, placement: p } = frame;
  if (g === null || p === null) return 'guest display off';
  return `guest ${g.width}x${g.height} ${g.fourcc} ${modifierName(g.modifier)} shown at ${p.crtc.x},${p.crtc.y} ${p.crtc.width}x${p.crtc.height}`;
}

/** What --fit-edid gave the guest, in words. */
export function fitText(fit: FittedEdid): string {
  const { mode, sizeMm } = fit;
  const size = sizeMm ? `${sizeMm.width}x${sizeMm.height} mm` : 'no physical size (about 96 dpi)';
  return `guest EDID: monitor "${fit.name}" serial ${fit.serial}, ${mode.width}x${mode.height}@${mode.refresh} preferred, ${size}${fit.written ? '' : ' (already so: not rewritten)'}`;
}

export const flip: Command<FlipArgs> = {
  name: 'flip',
  summary: "show the guest's display on a host display, zero-copy, flip for flip, with live stats",
  synopsis: '<dev> --drm CARD|fd:N',
  positionals: [['dev', DEV_HELP]],
  options: {
    drm: {
      type: 'string',
      value: 'CARD|fd:N',
      help: 'the host DRM card, e.g. /dev/dri/card0 (this process must be able to be its master: no compositor on it), or fd:N, a DRM fd the parent passed down, such as a lease of one output',
    },
    connector: { type: 'string', value: 'ID|NAME', help: 'the host connector (default: the first connected one)' },
    crtc: { type: 'string', value: 'ID', help: "the CRTC (default: the connector's)" },
    plane: { type: 'string', value: 'ID', help: "the host plane for the guest's primary (default: the CRTC's primary plane)" },
    'cursor-plane': { type: 'string', value: 'ID|none', help: "the host plane for the guest's cursor (default: the CRTC's cursor plane)" },
    fit: { type: 'string', value: 'auto|modeset|center|scale|stretch', help: 'how a guest mode is shown (auto: a modeset where the connector has the mode, else scaled or centred)' },
    ...SOURCE_OPTIONS,
    kernel: { type: 'string', value: 'auto|yes|no', help: 'who commits each guest flip: the kernel, with no wake-up of this process (kernel-patches: direct flips to a DRM lease), or this process (auto: the kernel where it can)' },
    duration: { type: 'string', value: 'S', help: 'stop after S seconds (default: run until Ctrl-C)' },
    'fit-edid': { type: 'boolean', help: "give the guest the host monitor's preferred mode, refresh and size as its EDID, so it renders at the native size (no write where it has it already)" },
  },
  notes: [
    'Dma-buf planes (mbochs, GVT-g) need a host card that imports dma-bufs; the guest buffers are imported once each and never copied. Region planes (mdpy) are polled and copied into two host buffers, one copy per change. The status line shows frames shown, guest frames dropped (newest wins), modesets, imports (or copies) and the latency from a change to its flip.',
    "With kernel flips the CRTC and plane are leased to the vGPU and the kernel commits every guest flip; this process wakes up only for the guest's mode changes and the status line, and shows the kernel's account (frames, state, flip_seq, host vblank).",
  ],
  schema: (z) => {
    const id = intWord(z, 1, 0xffffffff);
    return z.strictObject({
      dev: devSchema(z),
      drm: devSchema(z, 'missing: give the host DRM card, e.g. --drm /dev/dri/card0'),
      connector: z.string().optional(),
      crtc: id.optional(),
      plane: id.optional(),
      cursorPlane: z.literal('none').or(id).optional(),
      fit: z.enum(['auto', 'modeset', 'center', 'scale', 'stretch']).optional(),
      ...sourceSchema(z),
      duration: intWord(z, 1, 31_536_000).optional(),
      kernel: z.enum(['auto', 'yes', 'no']).optional(),
      fitEdid: z.boolean().optional(),
    });
  },
  async run(args, io) {
    const { dev, drm, source = 'auto', interval = 16, duration } = args;
    const interrupt = io.interruptSignal();
    const signal = duration === undefined ? interrupt : AbortSignal.any([interrupt, AbortSignal.timeout(duration * 1000)]);
    using display = openDisplayOf(dev);
    using card = openCardOf(drm);
    const session = directFlip(display, card, {
      connectorId: args.connector === undefined ? undefined : card.findConnector(args.connector).id,
      crtcId: args.crtc,
      planeId: args.plane,
      cursorPlaneId: args.cursorPlane === 'none' ? null : args.cursorPlane,
      fit: args.fit,
      changes: source,
      periodMs: interval,
      signal,
      kernel: args.kernel === undefined || args.kernel === 'auto' ? 'auto' : args.kernel === 'yes',
    });
    const o = session.output;
    const byKernel = session.stats.flipper === 'kernel';
    const cursor = o.cursorPlaneId === null || byKernel ? '' : `, cursor plane ${o.cursorPlaneId}`;
    println(io.stdout, `flipping ${devName(dev)} onto ${card.path} (${card.driver.name}): connector ${o.connectorName}, CRTC ${o.crtcId}, plane ${o.planeId}${cursor}`);
    if (byKernel) println(io.stdout, 'kernel flips: the CRTC and plane are leased to the vGPU, and the kernel commits each guest flip');
    if (args.fitEdid) println(io.stdout, fitText(await fitGuestToConnector(display, card, o.connectorId)));
    const status = new StatusLine(io.stdout);
    const rate = new RateMeter();
    let shown = 0;
    const show = (): void => {
      const stats = session.stats;
      // Kernel flips are not seen one by one here: count what the kernel reports.
      for (const now = process.hrtime.bigint(); byKernel && shown < stats.frames; shown++) rate.add(now);
      status.update(flipStatus(stats, rate.rate(process.hrtime.bigint())));
    };
    const ticker = status.live ? setInterval(show, 1000).unref() : undefined;
    let lastPlacement = '';
    try {
      for await (const frame of session) {
        if (!byKernel) rate.add(frame.completedAt);
        if (frame.seq === 1) status.line(sourceText(frame.source, source, interval));
        const placement = placementText(frame);
        if (frame.modeset || placement !== lastPlacement) status.line(`${placement}${frame.modeset ? ' (modeset)' : ''}`);
        lastPlacement = placement;
        show();
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      clearInterval(ticker);
      status.done();
    }
    println(io.stdout, `stopped: ${flipStatus(session.stats)}`);
  },
};
