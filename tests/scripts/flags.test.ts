/** The scripts' flag parser (scripts/lib/flags.ts): values, switches, --help, and errors that name script and flag. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { choiceFlag, integerFlag, integerListFlag, listFlag, numberFlag, parseFlags } from '../../scripts/lib/flags.js';

interface Flags {
  steps: number;
  lr: number;
  mode: 'a' | 'b';
  names: string[];
  sizes: number[];
  verbose: boolean;
}

const DEFAULTS: Flags = { steps: 10, lr: 0.1, mode: 'a', names: ['x'], sizes: [1, 2], verbose: false };

const parse = (argv: readonly string[]): Flags | 'help' =>
  parseFlags<Flags>('tool', argv, DEFAULTS, {
    values: {
      steps: (f, v) => (f.steps = integerFlag(v, 1)),
      lr: (f, v) => (f.lr = numberFlag(v, { above: 0 })),
      mode: (f, v) => (f.mode = choiceFlag(v, ['a', 'b'] as const)),
      names: (f, v) => (f.names = listFlag(v)),
      sizes: (f, v) => (f.sizes = integerListFlag(v, 0)),
    },
    switches: { verbose: (f) => (f.verbose = true) },
  });

test('defaults come back as a copy; values and switches override them in any order', () => {
  const flags = parse([]);
  assert.equal(flags, DEFAULTS);
  assert.is.not((flags as Flags).names, DEFAULTS.names, 'lists are copied, so a script cannot change the defaults');
  assert.equal(parse(['--verbose', '--sizes', '0,7', '--steps', '3', '--lr', '1e-3', '--mode', 'b', '--names', 'p,q']), {
    steps: 3, lr: 1e-3, mode: 'b', names: ['p', 'q'], sizes: [0, 7], verbose: true,
  });
  assert.is(parse(['--steps', '3', '--help']), 'help');
  assert.is(parse(['-h']), 'help');
});

test('integerFlag accepts exactly the integers ≥ min, written any way Number reads them', () => {
  fc.assert(
    fc.property(fc.integer({ min: -5, max: 5 }), fc.oneof(fc.integer({ min: -1000, max: 1000 }).map(String), fc.constantFrom('', ' ', '1.5', 'x', '1e2', '0x10', 'NaN')), (min, value) => {
      const n = Number(value);
      const ok = value.trim() !== '' && Number.isInteger(n) && n >= min;
      if (ok) assert.is(integerFlag(value, min), n);
      else assert.throws(() => parseFlags('tool', ['--k', value], { k: 0 }, { values: { k: (f, v) => (f.k = integerFlag(v, min)) } }), new RegExp(`^tool: --k needs an integer ≥ ${min}, got '`));
    }),
  );
});

test('bad input throws naming the script, the flag and the value', () => {
  const cases: [string[], RegExp][] = [
    [['--steps', '0'], /^tool: --steps needs an integer ≥ 1, got '0'$/],
    [['--lr', '0'], /^tool: --lr needs a finite number > 0, got '0'$/],
    [['--lr', 'Infinity'], /finite number > 0/],
    [['--mode', 'c'], /^tool: --mode must be one of a, b, got 'c'$/],
    [['--names', 'p,,q'], /^tool: --names takes a comma-separated list/],
    [['--sizes', '1,-1'], /^tool: --sizes takes a comma-separated list of integers ≥ 0/],
    [['--bogus', '1'], /^tool: unknown flag '--bogus' \(see --help\)$/],
    [['steps', '1'], /^tool: unknown flag 'steps'/],
    [['--steps'], /^tool: --steps needs a value/],
    [['--verbose', 'yes'], /^tool: unknown flag 'yes'/],
  ];
  for (const [argv, message] of cases) assert.throws(() => parse(argv), message, argv.join(' '));
  assert.throws(() => listFlag('a,z', ['a', 'b']), /of a, b \(unknown: z\)/);
});

test.run();
