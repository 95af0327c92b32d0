// The CLI's dispatch: picks the command, loads it (only it: a command pulls
// in only the parts of the library it uses), parses its words, runs it, and
// turns what it throws into one line on stderr and an exit status.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandHelp, mainHelp, parseCommand, type Command } from './args.js';
import { EXIT, exitCodeOf, renderError, UsageError } from './errors.js';
import { println, type Io } from './output.js';

/** The commands in the order --help lists them. */
export const COMMANDS: readonly (readonly [string, () => Promise<Command>])[] = [
  ['list', async () => (await import('./list.js')).list],
  ['create', async () => (await import('./create.js')).create],
  ['remove', async () => (await import('./remove.js')).remove],
  ['info', async () => (await import('./info.js')).info],
  ['planes', async () => (await import('./planes.js')).planes],
  ['screenshot', async () => (await import('./screenshot.js')).screenshot],
  ['watch', async () => (await import('./watch.js')).watch],
  ['edid', async () => (await import('./edid.js')).edid],
  ['flip', async () => (await import('./flip.js')).flip],
];

export function version(): string {
  return (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

async function load(name: string): Promise<Command> {
  const entry = COMMANDS.find(([n]) => n === name);
  if (!entry) throw new UsageError(`no command ${JSON.stringify(name)}`);
  return entry[1]();
}

/** Runs the CLI on `argv` (the words after "vfio-display"); resolves with the exit status. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  let debug = argv.includes('--debug');
  try {
    if (name === undefined || name === '--help' || name === '-h') {
      io.stdout.write(mainHelp(await Promise.all(COMMANDS.map(([, get]) => get())), version()));
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    if (name === 'help' && rest[0] !== undefined) {
      io.stdout.write(commandHelp(await load(rest[0])));
      return EXIT.ok;
    }
    if (name === '--version' || name === '-V') {
      println(io.stdout, version());
      return EXIT.ok;
    }
    const command = await load(name);
    const parsed = parseCommand(command, rest);
    debug = parsed.debug;
    if (parsed.help) {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    await command.run(parsed.args, io);
    return EXIT.ok;
  } catch (err) {
    println(io.stderr, renderError(err, debug));
    return exitCodeOf(err);
  }
}
