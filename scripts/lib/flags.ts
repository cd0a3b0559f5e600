/**
 * Command-line flags for the scripts: `--name value` pairs and value-less switches, parsed into a copy of the
 * defaults. Each flag has a setter that parses its value with the checkers below; `--help` / `-h` makes parseFlags
 * return 'help' (the script prints its text). Errors are FlagErrors that name the script and the flag, e.g.
 * `demo: --steps needs an integer ≥ 0, got 'x'`. Scripts call readFlags, which prints such an error as one line on
 * stderr and exits with status 2 (no stack trace), and prints the help text and exits 0 for --help.
 */

/** A bad command line: the message is the whole story (script, flag, value), printed without a stack trace. */
export class FlagError extends Error {
  override name = 'FlagError';
}

/** Thrown by a checker: says what the flag needs; parseFlags adds the script, the flag and the value. */
class FlagValueError extends Error {}

export interface FlagSpec<F> {
  /** Flags that take a value, by name without the dashes: each parses its value into the flags. */
  values: Readonly<Record<string, (flags: F, value: string) => void>>;
  /** Flags without a value. */
  switches?: Readonly<Record<string, (flags: F) => void>>;
}

export function parseFlags<F extends object>(script: string, argv: readonly string[], defaults: F, spec: FlagSpec<F>): F | 'help' {
  const flags = structuredClone(defaults);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const name = arg.startsWith('--') ? arg.slice(2) : '';
    const toggle = spec.switches !== undefined && Object.hasOwn(spec.switches, name) ? spec.switches[name] : undefined;
    if (toggle !== undefined) {
      toggle(flags);
      continue;
    }
    const set = Object.hasOwn(spec.values, name) ? spec.values[name] : undefined;
    if (set === undefined) throw new FlagError(`${script}: unknown flag '${arg}' (see --help)`);
    const value = argv[++i];
    if (value === undefined) throw new FlagError(`${script}: ${arg} needs a value (see --help)`);
    try {
      set(flags, value);
    } catch (err) {
      if (err instanceof FlagValueError) throw new FlagError(`${script}: ${arg} ${err.message}, got '${value}'`);
      throw err;
    }
  }
  return flags;
}

/**
 * The command line of a script: parseFlags over process.argv, then `check` (cross-flag rules; it throws FlagError).
 * `--help` prints `help` and exits 0; a FlagError prints its one-line message on stderr and exits 2.
 */
export function readFlags<F extends object>(
  script: string,
  help: string,
  defaults: F,
  spec: FlagSpec<F> & { check?: (flags: F) => void },
  argv: readonly string[] = process.argv.slice(2),
): F {
  try {
    const flags = parseFlags(script, argv, defaults, spec);
    if (flags === 'help') {
      console.log(help);
      process.exit(0);
    }
    spec.check?.(flags);
    return flags;
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
}

/** An integer ≥ min. */
export function integerFlag(value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new FlagValueError(`needs an integer ≥ ${min}`);
  return n;
}

/** A finite number > above (or ≥ atLeast). */
export function numberFlag(value: string, bound: { above: number } | { atLeast: number }): number {
  const n = Number(value);
  const ok = value.trim() !== '' && Number.isFinite(n) && ('above' in bound ? n > bound.above : n >= bound.atLeast);
  if (!ok) throw new FlagValueError(`needs a finite number ${'above' in bound ? `> ${bound.above}` : `≥ ${bound.atLeast}`}`);
  return n;
}

/** One of `choices`. */
export function choiceFlag<T extends string>(value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new FlagValueError(`must be one of ${choices.join(', ')}`);
  return value as T;
}

/** A file or folder path: any non-empty string. */
export function pathFlag(value: string): string {
  if (value.trim() === '') throw new FlagValueError('needs a path');
  return value;
}

/** A comma-separated list; each item one of `choices` when given. */
export function listFlag<T extends string>(value: string, choices?: readonly T[]): T[] {
  const items = value.split(',');
  const bad = choices === undefined ? [] : items.filter((item) => !(choices as readonly string[]).includes(item));
  if (bad.length > 0 || items.some((item) => item === '')) {
    throw new FlagValueError(`takes a comma-separated list${choices === undefined ? '' : ` of ${choices.join(', ')}`}${bad.length > 0 ? ` (unknown: ${bad.join(', ')})` : ''}`);
  }
  return items as T[];
}

/** A comma-separated list of integers ≥ min. */
export function integerListFlag(value: string, min: number): number[] {
  const parts = value.split(',');
  const items = parts.map(Number);
  if (parts.some((part) => part.trim() === '') || items.some((n) => !Number.isInteger(n) || n < min)) throw new FlagValueError(`takes a comma-separated list of integers ≥ ${min}`);
  return items;
}
