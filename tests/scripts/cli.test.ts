/**
 * Every script's command line: a bad or unknown flag is one line on stderr naming the script and the flag, exit
 * status 2, no stack trace, and nothing done; --help prints the usage and exits 0. A few runs go through
 * `node scripts/run.mjs <script> …` as a user's do; the rest run the same scripts bundled once by esbuild as run.mjs
 * bundles them (bundling per run costs ~0.4 s of CPU, the flag check itself ~80 ms). Flags are parsed before any
 * work, and the runs go in parallel. `demo --steps 0` runs for real on a tiny model: it says that nothing was trained.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadHFModel, type LlamaHFConfig } from '../../models/index.js';
import { parseSafetensors, serializeSafetensors } from '../../nn/index.js';
import { regimeMatchedBase } from '../../scripts/lib/toy-data.js';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runNode(argv: readonly string[], cwd = process.cwd()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every script, by the name its messages start with. */
const SCRIPTS: Record<string, string> = {
  demo: 'scripts/demo.ts',
  'base-bound': 'scripts/base-bound.ts',
  'check:browser': 'scripts/browser-check.ts',
  'bench:matmul': 'scripts/bench/matmul.ts',
  'bench:ops': 'scripts/bench/ops.ts',
  'bench:attention': 'scripts/bench/attention.ts',
  'bench:rope': 'scripts/bench/rope.ts',
  'bench:long-context': 'scripts/bench/long-context.ts',
  'bench:decode': 'scripts/bench/decode.ts',
  'bf16-drift': 'scripts/experiments/bf16-drift.ts',
  'mla-spectrum': 'scripts/experiments/mla-spectrum.ts',
  'rope-analysis': 'scripts/experiments/rope-analysis.ts',
  'video-needle': 'scripts/experiments/video-needle.ts',
  'vit-resolution': 'scripts/experiments/vit-resolution.ts',
  'drope-turns': 'scripts/experiments/drope-turns.ts',
  'train:reference': 'scripts/train-reference.ts',
};

/** The scripts bundled as run.mjs bundles them, into a private folder inside the checkout (packages stay external). */
const BUNDLES = join(process.cwd(), '.cache', `cli-test-${process.pid}`);

test.before(async () => {
  await build({
    entryPoints: Object.values(SCRIPTS),
    outdir: BUNDLES,
    outbase: 'scripts',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
});

test.after(() => rmSync(BUNDLES, { recursive: true, force: true }));

/** Runs a script's bundle with these arguments. */
function runScript(script: string, args: readonly string[]): Promise<Run> {
  return runNode([join(BUNDLES, relative('scripts', script).replace(/\.ts$/, '.mjs')), ...args]);
}

/** Runs a script the way a user does: `node scripts/run.mjs <script> …` (esbuild bundles it, node runs it). */
function runThroughRunner(script: string, args: readonly string[]): Promise<Run> {
  return runNode(['scripts/run.mjs', script, ...args]);
}

/** A bad value per script (or a bad combination), and the whole line it must print. */
const BAD_VALUES: [name: string, args: string[], line: string][] = [
  ['demo', ['--steps', 'x'], "demo: --steps needs an integer ≥ 0, got 'x'"],
  ['demo', ['--models', 'rope,alibi'], "demo: --models takes a comma-separated list of nope, learned, rope, pi, ntk, dynamic-ntk, yarn, p-rope-0.25, p-rope-0.5, p-rope-0.75, psc-rope, llama3, llama, mla, path, memory (unknown: alibi), got 'rope,alibi'"],
  ['demo', ['--dim', '30', '--heads', '4'], "demo: --dim must be a multiple of --heads (4), got '30'"],
  ['base-bound', ['--dim', '3', '--context', '4096'], "base-bound: --dim must be even, got '3'"],
  ['base-bound', [], 'base-bound: give --context L or --table (see --help)'],
  ['bench:rope', ['--reps', 'x'], "bench:rope: --reps needs an integer ≥ 1, got 'x'"],
  ['bench:long-context', ['--lengths', '256,,1024'], "bench:long-context: --lengths takes a comma-separated list of integers ≥ 1, got '256,,1024'"],
  ['bench:long-context', ['--case', 'full'], 'bench:long-context: --case full needs --length T'],
  ['bench:decode', ['--lengths', '0'], "bench:decode: --lengths takes a comma-separated list of integers ≥ 1, got '0'"],
  ['bench:attention', ['--check', 'yes'], "bench:attention: unknown flag 'yes' (see --help)"],
  ['bf16-drift', ['--dim', '7'], "bf16-drift: --dim must be even, got '7'"],
  ['mla-spectrum', ['--lr', '0'], "mla-spectrum: --lr needs a finite number > 0, got '0'"],
  ['rope-analysis', ['--dim', '64'], "rope-analysis: unknown flag '--dim' (see --help)"],
  ['video-needle', ['--period', '1'], "video-needle: --period needs an integer ≥ 2, got '1'"],
  ['vit-resolution', ['--objects', 'huge'], "vit-resolution: --objects must be one of pixel, relative, got 'huge'"],
  ['check:browser', ['--headed'], "check:browser: unknown flag '--headed' (see --help)"],
  ['train:reference', ['--steps', '0'], "train:reference: --steps needs an integer ≥ 1, got '0'"],
  ['train:reference', ['--kv-heads', '3'], "train:reference: --kv-heads must be one of 2, 4, got '3'"],
];

/** Exit 2, stdout empty (nothing was done), stderr exactly `line` with no stack trace. */
function assertRefused(run: Run, line: string | RegExp, what: string): void {
  assert.is(run.code, 2, `${what}: exit status (stderr: ${run.stderr})`);
  assert.is(run.stdout, '', `${what}: prints nothing on stdout`);
  assert.not.match(run.stderr, /^\s+at /m, `${what}: no stack trace`);
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  assert.is(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(run.stderr)}`);
  if (typeof line === 'string') assert.is(lines[0], line, what);
  else assert.match(lines[0]!, line, what);
}

test('through scripts/run.mjs, as a user runs them: demo, bench:rope and rope-analysis refuse bad flags in one line', async () => {
  const cases: [name: string, args: string[], line: string][] = [
    ['demo', ['--steps', 'x'], "demo: --steps needs an integer ≥ 0, got 'x'"],
    ['bench:rope', ['--reps', 'x'], "bench:rope: --reps needs an integer ≥ 1, got 'x'"],
    ['rope-analysis', ['--bogus'], "rope-analysis: unknown flag '--bogus' (see --help)"],
  ];
  const runs = await Promise.all(cases.map(([name, args]) => runThroughRunner(SCRIPTS[name]!, args)));
  cases.forEach(([name, args, line], i) => assertRefused(runs[i]!, line, `run.mjs ${name} ${args.join(' ')}`));
});

test('every script refuses an unknown flag with one line and exit 2', async () => {
  const entries = Object.entries(SCRIPTS);
  const runs = await Promise.all(entries.map(([, path]) => runScript(path, ['--bogus', '1'])));
  entries.forEach(([name], i) => assertRefused(runs[i]!, `${name}: unknown flag '--bogus' (see --help)`, name));
});

test('bad flag values and combinations: one line naming the script, the flag and the value', async () => {
  const runs = await Promise.all(BAD_VALUES.map(([name, args]) => runScript(SCRIPTS[name]!, args)));
  BAD_VALUES.forEach(([name, args, line], i) => assertRefused(runs[i]!, line, `${name} ${args.join(' ')}`));
});

test('--help prints the usage on stdout and exits 0, for every script', async () => {
  const entries = Object.entries(SCRIPTS);
  const runs = await Promise.all(entries.map(([, path]) => runScript(path, ['--help'])));
  entries.forEach(([name], i) => {
    const run = runs[i]!;
    assert.is(run.code, 0, `${name} --help exit status (stderr: ${run.stderr})`);
    assert.match(run.stdout, /^usage: /, `${name} --help`);
    assert.is(run.stderr, '', `${name} --help writes nothing on stderr`);
  });
});

test('demo --steps 0 evaluates and saves the untrained models and says so (no NaN loss); the Llama in HF format loads back', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ropelab-demo-'));
  try {
    const run = await runThroughRunner(SCRIPTS['demo']!, ['--steps', '0', '--models', 'rope,llama', '--dim', '8', '--heads', '2', '--layers', '1', '--context', '8', '--out', out]);
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /--steps 0: no training; every model is evaluated, sampled and saved at its random initialization/);
    assert.match(run.stdout, /\[rope\] not trained \(--steps 0\): val loss \d+\.\d{3} at initialization/);
    assert.not.match(run.stdout, /NaN/);
    assert.ok(existsSync(join(out, 'demo.safetensors')) && existsSync(join(out, 'extrapolation.svg')), 'writes its files into --out');
    const base = regimeMatchedBase(4, 8);
    assert.ok(run.stdout.includes(`RoPE base ${base.toFixed(0)}, regime-matched`), 'prints the G4 base it uses');
    // the table: the RoPE GPT, its three training-free rescalings and the Llama, each at 1×, 2×, 4× the context
    const rows = [...run.stdout.matchAll(/^ (\S+) +│ +(\d+\.\d{3}) │ +(\d+\.\d{3}) │ +(\d+\.\d{3}) │ +-?\d+\.\d{3}$/gm)].map((m) => m[1]);
    assert.equal(rows, ['rope', 'rope+pi', 'rope+ntk', 'rope+yarn', 'llama'], run.stdout);
    const config = JSON.parse(readFileSync(join(out, 'llama-hf', 'config.json'), 'utf8')) as LlamaHFConfig;
    const vocab = JSON.parse(readFileSync(join(out, 'llama-hf', 'vocab.json'), 'utf8')) as string[];
    assert.equal([config.model_type, config.hidden_size, config.num_hidden_layers, config.vocab_size], ['llama', 8, 1, vocab.length], 'config.json describes the demo Llama');
    assert.is(config.rope_theta, base, 'the Llama has the GPTs\' regime-matched base');
    const bytes = readFileSync(join(out, 'llama-hf', 'model.safetensors'));
    const model = loadHFModel(config, bytes);
    assert.equal(Buffer.from(serializeSafetensors(model.toHF().weights, { format: 'pt' })), bytes, 'model.safetensors holds exactly what toHF gives (HF names, F32)');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a one-reproduction experiment (reproductionMain): --quick --json prints the verdict and data as JSON, the table on stderr, and writes out/<name>.svg', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'ropelab-repro-'));
  try {
    const run = await runNode([join(BUNDLES, 'experiments', 'drope-turns.mjs'), '--quick', '--json'], cwd);
    assert.is(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { verdict: string; reason: string; summary: string; data: { flags: { turns: number } } };
    assert.ok(['reproduced', 'partly', 'not reproduced'].includes(out.verdict) && out.reason.length > 0 && out.summary.length > 0);
    assert.is(out.data.flags.turns, 8);
    assert.match(run.stderr, /\| arm \|/, 'the table on stderr');
    assert.match(run.stderr, /\[drope-turns\] (reproduced|partly|not reproduced): /);
    assert.match(readFileSync(join(cwd, 'out', 'drope-turns.svg'), 'utf8'), /^<svg/);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('demo: the regime-matched RoPE base gives L/λ_max of LLaMA-2 (G4): LLaMA-2 itself comes back as 10000', () => {
  assert.ok(Math.abs(regimeMatchedBase(128, 4096) / 10000 - 1) < 1e-12, `${regimeMatchedBase(128, 4096)}`);
  for (const [d, L] of [[16, 64], [32, 128], [16, 128]] as const) {
    const lambdaMax = 2 * Math.PI * Math.pow(regimeMatchedBase(d, L), (d - 2) / d);
    assert.ok(Math.abs(L / lambdaMax - 4096 / (2 * Math.PI * Math.pow(10000, 126 / 128))) < 1e-12, `d ${d}, L ${L}: L/λ_max = ${L / lambdaMax}`);
  }
  assert.is(Math.round(regimeMatchedBase(32, 128)), 393, 'the spec\'s b ≈ 400 for d_head 32, L = 128');
  assert.is(Math.round(regimeMatchedBase(16, 64)), 273, 'the demo\'s default');
});

test('demo progress lines never show an old validation loss as current: fresh on evaluation steps, else marked with its step', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ropelab-demo-'));
  try {
    const run = await runScript(SCRIPTS['demo']!, ['--steps', '6', '--models', 'rope', '--dim', '8', '--heads', '2', '--layers', '1', '--context', '8', '--batch', '2', '--out', out]);
    assert.is(run.code, 0, run.stderr);
    const lines = [...run.stdout.matchAll(/^\[rope\] step (\d+)\/6 │ loss [\d.]+ │ (?:val ([\d.]+)(?: \(step (\d+)\))? │ )?/gm)];
    assert.equal(lines.map((m) => m[1]), ['1', '2', '3', '4', '5', '6'], run.stdout); // logEvery 1, evalEvery 2 at 6 steps
    const final = /\[rope\] \d+ parameters: train loss [\d.]+, val loss ([\d.]+)/.exec(run.stdout)?.[1];
    assert.equal(lines.map((m) => [m[2] === undefined ? null : m[3] ?? m[1]]), [[null], ['2'], ['2'], ['4'], ['4'], ['6']], 'the step each val was measured at');
    assert.is(Number(lines[5]![2]).toFixed(3), final, 'the last line shows the final validation loss');
    assert.is(lines[2]![2], lines[1]![2], 'step 3 shows step 2\'s value, marked as such');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('train:reference --steps 1 trains one step of the reference architecture and writes a checkpoint with its record', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ropelab-reference-'));
  try {
    const file = join(out, 'ref.safetensors');
    const run = await runScript(SCRIPTS['train:reference']!, ['--steps', '1', '--batch', '1', '--kv-heads', '4', '--out', file]);
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /val loss \d+\.\d{3} nats\/char \(32 windows of 512\)/);
    assert.ok(existsSync(file), 'writes the checkpoint');
    const { metadata } = parseSafetensors(readFileSync(file));
    assert.is((JSON.parse(metadata['config']!) as { numKVHeads: number }).numKVHeads, 4, '--kv-heads 4: the MHA twin');
    assert.match(metadata['trainedWith']!, /--kv-heads 4/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
