/**
 * `ropelab demo|bench|experiment`: run what a ropelab checkout's scripts/ folder holds, exactly as
 * `node scripts/run.mjs scripts/<…>.ts [flags…]` does (esbuild bundles the TypeScript entry, node runs it), with the
 * checkout as working directory (the scripts read scripts/data/ and write out/ relative to it). The checkout is the
 * folder above this module whose package.json is ropelab's — found from this module's own URL, so it works from
 * cli.ts run by scripts/run.mjs (bundled under .cache/), from dist/cli.js after `npm run build`, and not at all from
 * an installed package (no scripts/, no esbuild): then one line says to clone the repository, exit status 2.
 * The child's exit status is passed through; its stdio is the terminal's (or, for a capturing CliIO, piped to it).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlagError } from '../scripts/lib/flags.js';
import { processIO, type CliCommand, type CliIO } from './command.js';

/** Modules of scripts/bench/ that are libraries of the benchmarks, not benchmarks: `ropelab bench` does not list them. */
export const BENCH_HELPERS: readonly string[] = ['harness', 'timing', 'tfjs-types', 'tf-rope', 'backends-page'];


/** The ropelab package folder holding this module (the checkout, or node_modules/ropelab), or null. */
export function packageRoot(moduleUrl: string = import.meta.url): string | null {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'ropelab') return dir;
      } catch {
        // not a readable package.json: keep looking above
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The checkout root when scripts/run.mjs and esbuild are there; else null. */
export function checkoutRoot(moduleUrl: string = import.meta.url): string | null {
  const root = packageRoot(moduleUrl);
  if (root === null || !existsSync(join(root, 'scripts', 'run.mjs'))) return null;
  try {
    createRequire(join(root, 'package.json')).resolve('esbuild');
  } catch {
    return null;
  }
  return root;
}

/** How to get a checkout: package.json's repository URL when it has one. */
function cloneHint(): string {
  const root = packageRoot();
  let url = '<the ropelab repository>';
  try {
    const repo = root === null ? undefined : (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { repository?: unknown }).repository;
    const given = typeof repo === 'string' ? repo : typeof repo === 'object' && repo !== null ? (repo as { url?: unknown }).url : undefined;
    if (typeof given === 'string' && given !== '') url = given.replace(/^git\+/, '');
  } catch {
    // keep the placeholder
  }
  return `git clone ${url} ropelab && cd ropelab && npm ci`;
}

function needCheckout(command: string): FlagError {
  return new FlagError(`ropelab ${command}: needs a ropelab checkout with its dev dependencies (the installed package has no scripts/ and no esbuild): ${cloneHint()}`);
}

/** Script names (file names without .ts) in scripts/<folder>/ of the checkout, sorted; [] without a checkout. */
export function scriptNames(folder: 'bench' | 'experiments', root: string | null = checkoutRoot()): string[] {
  if (root === null) return [];
  const skip = folder === 'bench' ? BENCH_HELPERS : [];
  return readdirSync(join(root, 'scripts', folder))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .filter((name) => !skip.includes(name))
    .sort();
}

/**
 * `node scripts/run.mjs <script> …args` in the checkout; resolves to the child's exit status (128 + signal number when
 * a signal ended it). With processIO the child writes to the terminal; with another CliIO its output is piped to it.
 */
export function runScript(root: string, script: string, args: readonly string[], io: CliIO): Promise<number> {
  const inherit = io === processIO;
  if (!inherit) io.stderr(`ropelab: node scripts/run.mjs ${script} ${args.join(' ')}`.trimEnd());
  else if (resolve(process.cwd()) !== root) io.stderr(`ropelab: running node scripts/run.mjs ${script} in ${root} (relative paths in flags are relative to it)`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(root, 'scripts', 'run.mjs'), script, ...args], { cwd: root, stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    if (!inherit) {
      child.stdout!.on('data', (chunk: Buffer) => io.stdout(chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => io.stderr(chunk.toString()));
    }
    child.on('error', fail);
    child.on('close', (code, signal) => done(code ?? 128 + (signal !== null ? constants.signals[signal] : 0)));
  });
}

const isHelp = (arg: string | undefined): boolean => arg === '--help' || arg === '-h';

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'train small char-level LMs with each position encoding and compare them (scripts/demo.ts; needs a checkout)',
  help: `usage: ropelab demo [flags…]

Runs scripts/demo.ts in the ropelab checkout (node scripts/run.mjs scripts/demo.ts flags…), with the checkout as
working directory; every flag goes to the demo (its own usage follows this text when a checkout is present).
Exit status: the demo's; 2 when there is no checkout (an installed package has no scripts/: git clone the repository, then npm ci).`,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const root = checkoutRoot();
    if (isHelp(argv[0])) {
      io.stdout(this.help);
      if (root === null) return 0;
      io.stdout('');
      return runScript(root, 'scripts/demo.ts', ['--help'], io);
    }
    if (root === null) throw needCheckout('demo');
    return runScript(root, 'scripts/demo.ts', argv, io);
  },
};

/** bench and experiment: `ropelab <command> <name> [flags…]` → scripts/<folder>/<name>.ts. */
function namedScriptCommand(name: 'bench' | 'experiment', folder: 'bench' | 'experiments', summary: string, what: string): CliCommand {
  const usage = (names: readonly string[]): string => `usage: ropelab ${name} <name> [flags…]

Runs scripts/${folder}/<name>.ts in the ropelab checkout (node scripts/run.mjs scripts/${folder}/<name>.ts flags…),
with the checkout as working directory; the flags go to the script (\`ropelab ${name} <name> --help\`: its usage).
${what}
${names.length > 0 ? `names: ${names.join(', ')}` : `names: (none here: this is an installed package without scripts/; ${cloneHint()})`}
Exit status: the script's; 2 for an unknown name or when there is no checkout.`;
  return {
    name,
    summary,
    get help(): string {
      return usage(scriptNames(folder));
    },
    async run(argv: readonly string[], io: CliIO): Promise<number> {
      const root = checkoutRoot();
      const [script, ...rest] = argv;
      if (isHelp(script)) {
        io.stdout(usage(scriptNames(folder, root)));
        return 0;
      }
      if (root === null) throw needCheckout(name);
      const names = scriptNames(folder, root);
      if (script === undefined) throw new FlagError(`ropelab ${name}: give a name, one of ${names.join(', ')} (see --help)`);
      if (!names.includes(script)) throw new FlagError(`ropelab ${name}: unknown ${name} '${script}' (one of ${names.join(', ')})`);
      return runScript(root, relative(root, join(root, 'scripts', folder, `${script}.ts`)).split('\\').join('/'), rest, io);
    },
  };
}

export const benchCommand: CliCommand = namedScriptCommand(
  'bench',
  'bench',
  'run a benchmark of scripts/bench/ (ropelab against TF.js, plain loops, other backends; needs a checkout)',
  `Benchmarks compare ropelab with TF.js (npm run peers:install first for matmul, ops, attention, backends) or with a
plain implementation, alternating the contenders, and print a table with ratios. Not listed: ${BENCH_HELPERS.join(', ')} (helpers).`,
);

export const experimentCommand: CliCommand = namedScriptCommand(
  'experiment',
  'experiments',
  'run an experiment of scripts/experiments/ (tables, --json, an SVG in out/; needs a checkout)',
  'Each experiment prints a table with its command line (--json for machine-readable results) and writes an SVG to out/.',
);
