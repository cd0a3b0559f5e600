/**
 * What every `ropelab` subcommand is: a name, a one-line summary for `ropelab --help`, its own help text, and a
 * `run` that parses its arguments (scripts/lib/flags.ts: parseFlags) and writes through `io`, so that tests run a
 * command in-process and read what it printed. A bad argument, an unreadable file or a config the library refuses
 * is a `FlagError` (or one of the library's typed errors) whose one-line message names the command and the problem;
 * cli.ts prints it on stderr and exits with status 2. `run` resolves to the exit status (0 on success).
 */
import { readFileSync } from 'node:fs';
import { FlagError } from '../scripts/lib/flags.js';

/** Where a command writes: stdout for results (text or --json), stderr for progress and notes. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface CliCommand {
  /** As typed after `ropelab` (e.g. 'freqs'). */
  name: string;
  /** One line for `ropelab --help`. */
  summary: string;
  /** The full usage text `ropelab <name> --help` prints. */
  help: string;
  /** argv: the arguments after the command name. Resolves to the exit status. */
  run(argv: readonly string[], io: CliIO): Promise<number>;
}

/** The process's own stdout/stderr, one line per call. */
export const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  stderr: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** The bytes of `path` (flag `flag` of command `command`), or a FlagError naming the file and why it cannot be read. */
export function readFileArgument(command: string, flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new FlagError(`ropelab ${command}: ${flag} '${path}' cannot be read (${why})`);
  }
}

/** A JSON object read from `path` (a config.json): a FlagError when the file is unreadable, not JSON, or not an object. */
export function readJsonObject(command: string, flag: string, path: string): Record<string, unknown> {
  const text = readFileArgument(command, flag, path).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FlagError(`ropelab ${command}: ${flag} '${path}' is not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FlagError(`ropelab ${command}: ${flag} '${path}' must hold a JSON object (a config.json), got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  return value as Record<string, unknown>;
}
