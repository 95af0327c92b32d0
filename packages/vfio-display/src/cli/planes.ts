// vfio-display planes <dev> [--json]: the primary and cursor planes now.
import { DEV_HELP, type Command } from './args.js';
import { devSchema, openDisplayOf, type DevArg } from './device.js';
import { describePlane, println } from './output.js';
import { planesReportSchema, type PlanesReport } from './schemas.js';

export const planes: Command<{ dev: DevArg; json?: boolean | undefined }> = {
  name: 'planes',
  summary: 'show the primary and cursor planes of a display (format, size, buffer; --json for tools)',
  synopsis: '<dev> [--json]',
  positionals: [['dev', DEV_HELP]],
  options: { json: { type: 'boolean', help: 'one JSON object, checked against planesReportSchema (vfio-display/cli-schemas)' } },
  notes: [
    'The JSON is { device, via, planes: "dmabuf"|"region", primary, cursor }, each plane null or a PlaneInfo with its 64-bit fields as strings: modifier "0x" and 16 hex digits, flipSeq decimal. planesReportSchema().parse(json) (vfio-display/cli-schemas) gives the PlaneInfo values back.',
  ],
  schema: (z) => z.strictObject({ dev: devSchema(z), json: z.boolean().optional() }),
  run({ dev, json }, io) {
    using display = openDisplayOf(dev);
    const report: PlanesReport = {
      device: display.device.name,
      via: display.device.via,
      planes: display.features.planes,
      primary: display.query('primary'),
      cursor: display.query('cursor'),
    };
    if (json === true) {
      println(io.stdout, JSON.stringify(planesReportSchema().encode(report)));
      return;
    }
    const via = report.via === 'borrowed' ? 'a device fd passed down' : `opened through ${report.via}`;
    println(io.stdout, `${report.device}: ${report.planes === 'dmabuf' ? 'dma-buf' : 'region'} planes, ${via}`);
    println(io.stdout, `primary: ${describePlane(report.primary)}`);
    println(io.stdout, `cursor:  ${describePlane(report.cursor)}`);
  },
};
