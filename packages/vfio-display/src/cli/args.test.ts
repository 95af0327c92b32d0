// Argument parsing and help text, on a command made for the test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columns, commandHelp, mainHelp, parseCommand, wrap, type Command } from './args.js';
import { EXIT_MEANINGS, UsageError } from './errors.js';

const sample: Command<{ dev: string; out?: string | undefined; withCursor?: boolean | undefined; count?: number | undefined }> = {
  name: 'sample',
  summary: 'a command for the test',
  positionals: [['dev', 'the device'], ['out?', 'where to']],
  options: {
    'with-cursor': { type: 'boolean', help: 'with the cursor' },
    count: { type: 'string', short: 'c', value: 'N', help: 'how many' },
  },
  notes: ['A note.'],
  schema: (z) =>
    z.strictObject({
      dev: z.string(),
      out: z.string().optional(),
      withCursor: z.boolean().optional(),
      count: z.string().regex(/^\d+$/, 'expected a whole number').transform(Number).optional(),
    }),
  run: () => undefined,
};

const usage = (argv: string[]): string => {
  try {
    parseCommand(sample, argv);
  } catch (err) {
    assert.ok(err instanceof UsageError);
    assert.equal(err.command, 'sample');
    return err.message;
  }
  assert.fail(`accepted ${argv.join(' ')}`);
};

test('positionals by name, options in camelCase, values checked by the schema', () => {
  assert.deepEqual(parseCommand(sample, ['uuid', '--with-cursor', '-c', '3']), { help: false, debug: false, args: { dev: 'uuid', withCursor: true, count: 3 } });
  assert.deepEqual(parseCommand(sample, ['--count=4', 'uuid', 'x.png', '--debug']).args, { dev: 'uuid', out: 'x.png', count: 4 });
  assert.equal(parseCommand(sample, ['uuid', '--debug']).debug, true);
});

test('--help wins over everything but an unknown option', () => {
  assert.deepEqual(parseCommand(sample, ['--help']), { help: true, debug: false, args: undefined });
  assert.equal(parseCommand(sample, ['-h', '--count', 'nope']).help, true);
});

test('mistakes are UsageErrors naming the argument as it is written', () => {
  assert.equal(usage([]), 'sample: missing <dev>');
  assert.equal(usage(['a', 'b', 'c']), 'sample: unexpected argument "c"');
  assert.equal(usage(['a', '--bogus']), 'sample: unknown option --bogus');
  assert.equal(usage(['a', '-x']), 'sample: unknown option -x');
  assert.equal(usage(['a', '--count']), "sample: Option '-c, --count <value>' argument missing");
  assert.equal(usage(['a', '--with-cursor=yes']), "sample: Option '--with-cursor' does not take an argument");
  assert.equal(usage(['a', '--count', 'x']), 'sample: --count: expected a whole number');
});

test('wrap and columns keep lines within the width', () => {
  assert.deepEqual(wrap('one two three four', 9), ['one two', 'three', 'four']);
  assert.deepEqual(wrap('unbreakable-long-word x', 5), ['unbreakable-long-word', 'x']);
  const lines = columns([['--a', 'x '.repeat(100)], ['--long-option', 'y']], 60);
  assert.ok(lines.every((l) => l.length <= 60));
  assert.equal(lines.at(-1), '  --long-option  y');
});

test('a command\'s help shows its usage, arguments, every option, notes and the exit statuses', () => {
  const help = commandHelp(sample);
  assert.match(help, /^Usage: vfio-display sample <dev> \[<out>\] \[options\]$/m);
  assert.match(help, /^A command for the test\.$/m);
  assert.match(help, /^ {2}<dev> +the device$/m);
  assert.match(help, /^ {6}--with-cursor +with the cursor$/m);
  assert.match(help, /^ {2}-c, --count N +how many$/m);
  assert.match(help, /^ {2}-h, --help +show this help$/m);
  assert.match(help, /^A note\.$/m);
  for (const [code, meaning] of EXIT_MEANINGS) assert.ok(help.includes(`  ${code}  ${meaning.slice(0, 40)}`), meaning);
});

test('the main help lists the commands and what <dev> may be', () => {
  const help = mainHelp([sample], '1.2.3');
  assert.match(help, /^vfio-display 1\.2\.3: /);
  assert.match(help, /^ {2}sample <dev> \[<out>\]\n {6}a command for the test$/m);
  assert.match(help, /fd:N/);
});
