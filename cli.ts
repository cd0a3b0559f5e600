#!/usr/bin/env node
/**
 * The `ropelab` command line (package.json "bin": dist/cli.js; in a checkout `npm run ropelab -- …`). Dispatches
 * `ropelab <command> [args…]` to the commands of cli/ (each a CliCommand, cli/command.ts); `ropelab --help` (or no
 * arguments, or `ropelab help`) lists them, `ropelab help <command>` and `ropelab <command> --help` print a command's
 * usage, `ropelab --version` the package version. Exit status: the command's (0 on success); 2 for a bad command
 * line — an unknown command, a FlagError, or one of the library's typed errors (core/errors.ts), printed as one line
 * on stderr without a stack trace; 1 with the stack for anything else (a bug).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isEntryPoint } from './scripts/lib/entry.js';
import { FlagError } from './scripts/lib/flags.js';
import { boundCommand } from './cli/bound.js';
import { processIO, type CliCommand, type CliIO } from './cli/command.js';
import { freqsCommand, isLibraryError } from './cli/freqs.js';
import { plotCommand } from './cli/plot.js';
import { verifyCommand } from './cli/verify.js';
import { benchCommand, demoCommand, experimentCommand, packageRoot } from './cli/scripts.js';

/** Every command, in the order `ropelab --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [freqsCommand, boundCommand, plotCommand, verifyCommand, demoCommand, benchCommand, experimentCommand];

/** `ropelab --help`: the commands with their summaries. */
export function cliHelp(commands: readonly CliCommand[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: ropelab <command> [args…]      (ropelab <command> --help: its usage)',
    '',
    'RoPE tables, bounds and charts from the command line, computed by the ropelab library.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit status: 0 on success; 2 for a bad argument or an unreadable or refused config (one line on stderr);',
    "demo, bench and experiment pass their script's status through. --version prints the package version.",
  ].join('\n');
}

/** The message of an expected error as one line (FlagErrors and library errors are written as one already). */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ');
}

/**
 * Runs `ropelab argv…` (argv: the arguments after `ropelab`) writing through io; resolves to the exit status. Never
 * calls process.exit and never rejects for a bad command line or a refused config.
 */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  return runCommands(COMMANDS, argv, io);
}

/** runCli over another list of commands (tests give it commands that fail on purpose). */
export async function runCommands(commands: readonly CliCommand[], argv: readonly string[], io: CliIO = processIO): Promise<number> {
  if (!Array.isArray(commands) || commands.length === 0) throw new TypeError('runCommands: commands must be a non-empty array of CliCommands');
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) {
    throw new TypeError(`runCli: argv must be an array of strings (the arguments after 'ropelab'), got ${Array.isArray(argv) ? 'an array with a non-string' : typeof argv}`);
  }
  if (typeof io !== 'object' || io === null || typeof io.stdout !== 'function' || typeof io.stderr !== 'function') {
    throw new TypeError('runCli: io must be an object with stdout(text) and stderr(text) functions (a CliIO)');
  }
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    io.stdout(cliHelp(commands));
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(versionOf());
    return 0;
  }
  const helpFor = name === 'help';
  const wanted = helpFor ? rest[0]! : name;
  const command = commands.find((c) => c.name === wanted);
  if (command === undefined) {
    const known = commands.map((c) => c.name).join(', ');
    io.stderr(`ropelab: unknown command '${wanted}' (one of ${known}; see ropelab --help)`);
    return 2;
  }
  if (helpFor) {
    io.stdout(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof FlagError) {
      io.stderr(oneLine(err.message));
      return 2;
    }
    if (isLibraryError(err)) {
      io.stderr(`ropelab ${command.name}: ${oneLine(err.message)}`);
      return 2;
    }
    io.stderr(err instanceof Error && err.stack !== undefined ? err.stack : `ropelab ${command.name}: internal error: ${String(err)}`);
    return 1;
  }
}

function versionOf(): string {
  const root = packageRoot(import.meta.url);
  if (root === null) return 'ropelab (version unknown)';
  return `ropelab ${(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '(version unknown)'}`;
}

if (isEntryPoint(import.meta.url, 'cli')) process.exitCode = await runCli(process.argv.slice(2));
