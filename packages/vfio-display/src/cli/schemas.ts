/**
 * The JSON the CLI writes (`planes --json`, each line of `watch --json`),
 * as zod codecs: the CLI encodes through them, and a consumer checks and
 * decodes with the same schema (u64s as strings, see display/json.ts).
 * Exported as `vfio-display/cli-schemas`, apart from the library's root.
 * @packageDocumentation
 */
import type { OpenedVia } from '../device/device.js';
import type { DisplayChange } from '../display/changes.js';
import { displayChangeSchema, planeInfoSchema, type JsonCodec, type Jsonified } from '../display/json.js';
import type { PlaneInfo, PlaneMode } from '../display/plane.js';
import { lazySchema } from '../validate.js';

/** What `vfio-display planes --json` prints. */
export interface PlanesReport {
  /** The device as named on the command line's open: its UUID, cdev name or fd:N. */
  readonly device: string;
  readonly via: OpenedVia;
  readonly planes: PlaneMode;
  readonly primary: PlaneInfo | null;
  readonly cursor: PlaneInfo | null;
}
export type PlanesReportJson = Jsonified<PlanesReport>;

/** One line of `vfio-display watch --json`: the change and the counts so far. */
export interface WatchLine {
  readonly change: DisplayChange;
  /** New primary surfaces seen in the same mode (guest page flips). */
  readonly flips: number;
  /** Mode changes seen (size, format, stride; the display turning on or off). */
  readonly modeChanges: number;
  readonly cursorChanges: number;
  /** Flips in the last second. */
  readonly fps: number;
}
export type WatchLineJson = Jsonified<WatchLine>;

const schemas = lazySchema((z) => {
  const plane = planeInfoSchema().nullable();
  const count = z.int().min(0);
  return {
    planes: z.strictObject({ device: z.string(), via: z.enum(['iommufd', 'type1', 'borrowed']), planes: z.enum(['dmabuf', 'region']), primary: plane, cursor: plane }),
    watch: z.strictObject({ change: displayChangeSchema(), flips: count, modeChanges: count, cursorChanges: count, fps: z.number().min(0) }),
  };
});

export function planesReportSchema(): JsonCodec<PlanesReport, PlanesReportJson> {
  return schemas().planes;
}

export function watchLineSchema(): JsonCodec<WatchLine, WatchLineJson> {
  return schemas().watch;
}
