// Command-line parsing: node:util parseArgs splits the words, each command's
// zod schema checks and types them, and every mistake becomes a UsageError
// naming the argument as it is written (<dev>, --plane). Help text is made
// from the same specs, so it cannot drift from what is parsed.
import { parseArgs } from 'node:util';
import type * as Zod from 'zod';
import { describeIssues, lazySchema, type Z } from '../validate.js';
import { EXIT_MEANINGS, UsageError } from './errors.js';
import type { Io } from './output.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's placeholder in --help, e.g. "FILE". */
  readonly value?: string;
  readonly help: string;
}

export interface Command<A = unknown> {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The arguments and key options as the usage line shows them (default: the positionals). */
  readonly synopsis?: string;
  /** Positional arguments in order, each with its help; a name ending in "?" is optional. */
  readonly positionals: readonly (readonly [name: string, help: string])[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Paragraphs after the options in --help: what it prints, examples. */
  readonly notes?: readonly string[];
  /** Checks the words: positionals by name (without "?"), options by long name in camelCase (absent when not given). */
  readonly schema: (z: Z) => Zod.ZodType<A>;
  run(args: A, io: Io): Promise<void> | void;
}

/** Options every command takes. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec & { readonly type: 'boolean' }>> = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  debug: { type: 'boolean', help: 'show the whole error (stack, causes) when something fails' },
};

export interface Parsed<A> {
  readonly help: boolean;
  readonly debug: boolean;
  /** Undefined when help was asked for (nothing else is checked then). */
  readonly args: A | undefined;
}

const bare = (name: string): string => name.replace(/\?$/, '');
/** Schemas see options in camelCase: --with-cursor as withCursor. */
const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The argument as a user writes it: <dev> for positionals, --with-cursor for options. */
function spelled(command: Command, key: PropertyKey): string {
  const name = String(key);
  if (command.positionals.some(([p]) => bare(p) === name)) return `<${name}>`;
  return `--${Object.keys(command.options).find((o) => camel(o) === name) ?? name}`;
}

/** Node's parseArgs messages name the option and then explain the `--` convention at length: keep the first part. */
function parseArgsMessage(err: Error & { code?: string }): string {
  const option = /'([^']+)'/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? err.message}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${JSON.stringify(option ?? err.message)}`;
    default:
      return err.message.replace(/\.\s.*$/s, '');
  }
}

/** Splits and checks `argv` (the words after the command's name). */
export function parseCommand<A>(command: Command<A>, argv: readonly string[]): Parsed<A> {
  const options = { ...COMMON_OPTIONS, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(Object.entries(options).map(([name, o]) => [name, o.short === undefined ? { type: o.type } : { type: o.type, short: o.short }])),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    if (err instanceof Error && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) throw new UsageError(`${command.name}: ${parseArgsMessage(err)}`, command.name);
    throw err;
  }
  const { help = false, debug = false, ...values } = parsed.values as Record<string, string | boolean | undefined>;
  if (help === true) return { help: true, debug: debug === true, args: undefined };
  const words = parsed.positionals;
  const input: Record<string, unknown> = Object.fromEntries(Object.entries(values).map(([name, value]) => [camel(name), value]));
  for (const [i, [name]] of command.positionals.entries()) {
    const word = words[i];
    if (word === undefined) {
      if (!name.endsWith('?')) throw new UsageError(`${command.name}: missing <${name}>`, command.name);
      continue;
    }
    input[bare(name)] = word;
  }
  const extra = words[command.positionals.length];
  if (extra !== undefined) throw new UsageError(`${command.name}: unexpected argument ${JSON.stringify(extra)}`, command.name);
  const result = lazySchema(command.schema)().safeParse(input, { error: (issue) => (issue.input === undefined ? 'missing' : undefined) });
  if (!result.success) {
    throw new UsageError(`${command.name}: ${describeIssues(result.error, (path) => path.map((k, i) => (i === 0 ? spelled(command, k) : String(k))).join('.'))}`, command.name);
  }
  return { help: false, debug: debug === true, args: result.data };
}

function optionLine(name: string, o: OptionSpec): [string, string] {
  const flag = `${o.short === undefined ? '    ' : `-${o.short}, `}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
  return [flag, o.help];
}

const WIDTH = 100;

/** `text` in lines of at most `width` characters (longer words stay whole). */
export function wrap(text: string, width = WIDTH): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** Two columns, indented by two, the second wrapped to the width. */
export function columns(rows: readonly (readonly [string, string])[], width = WIDTH): string[] {
  const left = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.flatMap(([l, r]) => wrap(r, Math.max(30, width - left - 2)).map((text, i) => `  ${(i === 0 ? l : '').padEnd(left)}${text}`));
}

/** The command's name and arguments: "planes <dev> [--json]". */
export function synopsis(command: Command): string {
  const args = command.synopsis ?? command.positionals.map(([name]) => (name.endsWith('?') ? `[<${bare(name)}>]` : `<${name}>`)).join(' ');
  return `${command.name}${args ? ` ${args}` : ''}`;
}

export function exitStatusLines(): string[] {
  return columns(EXIT_MEANINGS.map(([code, meaning]) => [String(code), meaning]));
}

export function commandHelp(command: Command): string {
  const lines = [`Usage: vfio-display ${synopsis(command)} [options]`, '', ...wrap(`${command.summary[0]?.toUpperCase() ?? ''}${command.summary.slice(1)}.`)];
  if (command.positionals.length > 0) lines.push('', 'Arguments:', ...columns(command.positionals.map(([name, help]) => [`<${bare(name)}>`, help])));
  lines.push('', 'Options:', ...columns(Object.entries({ ...command.options, ...COMMON_OPTIONS }).map(([name, o]) => optionLine(name, o))));
  for (const note of command.notes ?? []) lines.push('', ...wrap(note));
  lines.push('', 'Exit status:', ...exitStatusLines());
  return `${lines.join('\n')}\n`;
}

export function mainHelp(commands: readonly Command[], version: string): string {
  return [
    `vfio-display ${version}: the display of a mediated vGPU (VFIO) from the host: list, inspect, capture, watch, flip.`,
    '',
    'Usage: vfio-display <command> [arguments] [options]',
    '',
    'Commands:',
    ...commands.flatMap((c) => [`  ${synopsis(c)}`, ...wrap(c.summary, WIDTH - 6).map((l) => `      ${l}`)]),
    '',
    ...wrap(`<dev> is ${DEV_HELP}.`),
    '',
    ...wrap("Every command takes -h/--help (its options, output and examples) and --debug. 'vfio-display --version' prints the version."),
    '',
    'Exit status:',
    ...exitStatusLines(),
    '',
  ].join('\n');
}

/** What a <dev> argument may be (device.ts parses it). */
export const DEV_HELP =
  'an mdev UUID, its sysfs path (/sys/bus/mdev/devices/UUID), its VFIO cdev (/dev/vfio/devices/vfioN), or fd:N, a VFIO device fd passed down by the program that opened it (e.g. beside QEMU)';
