/**
 * npm run demo — the main job. Trains small character-level GPTs on Moby-Dick (scripts/data/, public domain), one
 * per positional encoding, with a live progress line; prints train/val loss, samples text from the RoPE model and
 * saves it to out/demo.safetensors; then evaluates every model at 1×, 2× and 4× its training context and writes
 * the table to out/extrapolation.svg. Run with --help for the flags.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdamW, Generator, Tensor, noGrad, warmupCosineLr } from '../core/index.js';
import { GPT, type GPTConfig } from '../models/index.js';
import { generate, saveSafetensors, train } from '../nn/index.js';
import { lineChart } from './lib/svg.js';

interface Flags {
  steps: number;
  context: number;
  batch: number;
  dim: number;
  layers: number;
  heads: number;
  seed: number;
  encodings: string[];
}

const HELP = `usage: npm run demo -- [flags]

Trains one small character-level GPT per positional encoding on Moby-Dick chapters 1–50, samples text from the
RoPE model, saves it to out/demo.safetensors, and evaluates every model at 1×, 2× and 4× its training context
(out/extrapolation.svg). Defaults take about two minutes of training on 2 cores.

  --steps N       AdamW steps per model (default 150)
  --context T     training context length in characters (default 64)
  --batch B       sequences per step (default 16)
  --dim C         model width (default 64)
  --layers L      transformer blocks (default 2)
  --heads H       attention heads (default 4)
  --seed S        seed for weights, batches and sampling (default 0)
  --encodings a,b positional encodings to compare (default nope,learned,rope)
  --help          this text`;

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = { steps: 150, context: 64, batch: 16, dim: 64, layers: 2, heads: 4, seed: 0, encodings: ['nope', 'learned', 'rope'] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(HELP);
      process.exit(0);
    }
    const key = arg.replace(/^--/, '');
    const value = argv[++i];
    if (!(key in flags) || value === undefined) throw new Error(`demo: unknown flag or missing value '${arg}' (see --help)`);
    if (key === 'encodings') {
      flags.encodings = value.split(',');
      continue;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`demo: --${key} needs a non-negative integer, got '${value}'`);
    (flags as unknown as Record<string, number>)[key] = n;
  }
  return flags;
}

/** Character vocabulary and the corpus as ids, split 90/10 into train and validation. */
function loadCorpus(): { vocab: string[]; train: Int32Array; val: Int32Array } {
  const text = readFileSync(resolve('scripts/data/moby-dick.txt'), 'utf8'); // npm runs scripts from the package root
  const vocab = [...new Set(text)].sort();
  const index = new Map(vocab.map((c, i) => [c, i]));
  const ids = Int32Array.from(text, (c) => index.get(c)!);
  const cut = Math.floor(ids.length * 0.9);
  return { vocab, train: ids.subarray(0, cut), val: ids.subarray(cut) };
}

/** B random windows of T + 1 characters: inputs [B, T] and next-character targets [B, T]. */
function sampleBatch(data: Int32Array, B: number, T: number, g: Generator): { x: Tensor; y: Tensor } {
  const x = new Float32Array(B * T);
  const y = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = g.int(0, data.length - T - 1);
    for (let t = 0; t < T; t++) {
      x[b * T + t] = data[start + t]!;
      y[b * T + t] = data[start + t + 1]!;
    }
  }
  return { x: new Tensor(x, [B, T]), y: new Tensor(y, [B, T]) };
}

/** Mean validation loss over fixed windows of length T (the same windows for every model). */
function evalLoss(model: GPT, data: Int32Array, T: number, windows: number, seed: number): number {
  const g = new Generator(seed);
  let total = 0;
  const B = 4;
  for (let i = 0; i < windows; i += B) {
    const { x, y } = sampleBatch(data, B, T, g);
    total += noGrad(() => model.loss(x, y).item());
  }
  return total / Math.ceil(windows / B);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const corpus = loadCorpus();
  const T = flags.context;
  console.log(`ropelab demo: char-level GPT on Moby-Dick (${corpus.train.length + corpus.val.length} chars, vocab ${corpus.vocab.length})`);
  console.log(`model: ${flags.layers} layers, dim ${flags.dim}, ${flags.heads} heads, context ${T}; ${flags.steps} steps × batch ${flags.batch}\n`);

  const models = new Map<string, GPT>();
  for (const positional of flags.encodings) {
    const config: GPTConfig = {
      vocabSize: corpus.vocab.length, contextLength: T, dim: flags.dim, numLayers: flags.layers, numHeads: flags.heads, positional, seed: flags.seed,
    };
    const model = new GPT(config);
    const g = new Generator(flags.seed + 1);
    const optimizer = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
    console.log(`[${positional}] ${model.numParameters()} parameters`);
    const result = train(model, () => {
      const { x, y } = sampleBatch(corpus.train, flags.batch, T, g);
      return model.loss(x, y);
    }, {
      steps: flags.steps,
      optimizer,
      clipGradNorm: 1,
      schedule: (step) => warmupCosineLr(step, { maxLr: 3e-3, warmupSteps: Math.min(20, flags.steps), totalSteps: flags.steps, minLr: 3e-4 }),
      tokensPerStep: flags.batch * T,
      evaluate: () => evalLoss(model, corpus.val, T, 32, 7),
      evalEvery: Math.max(1, Math.floor(flags.steps / 3)),
    });
    const last = result.losses.slice(-10);
    const trainLoss = last.reduce((a, b) => a + b, 0) / last.length;
    const valLoss = result.valLosses[result.valLosses.length - 1]?.loss ?? NaN;
    console.log(`[${positional}] train loss ${trainLoss.toFixed(3)}, val loss ${valLoss.toFixed(3)} (${result.seconds.toFixed(1)} s)\n`);
    models.set(positional, model);
  }

  const main = models.get('rope') ?? [...models.values()][0]!;
  const prompt = 'Call me Ishmael. ';
  const index = new Map(corpus.vocab.map((c, i) => [c, i]));
  const sample = generate(main, Array.from(prompt, (c) => index.get(c)!), {
    maxNewTokens: 240, temperature: 0.8, topK: 20, generator: new Generator(flags.seed + 2),
  });
  console.log(`sample from the ${main.config.positional} model:\n${prompt}${sample.map((i) => corpus.vocab[i]).join('')}\n`);
  mkdirSync('out', { recursive: true });
  await saveSafetensors(main, 'out/demo.safetensors', { config: JSON.stringify(main.config), vocab: JSON.stringify(corpus.vocab) });
  console.log('saved out/demo.safetensors\n');

  const multiples = [1, 2, 4];
  const rows: Array<{ name: string; losses: number[] }> = [];
  for (const [name, model] of models) {
    rows.push({ name, losses: multiples.map((m) => evalLoss(model, corpus.val, m * T, 32, 11)) });
  }
  console.log(`validation loss at 1×, 2×, 4× the training context (${T}):`);
  console.log(` encoding │ ${multiples.map((m) => `${m}× (${m * T})`.padStart(10)).join(' │ ')}`);
  console.log(`──────────┼─${multiples.map(() => '─'.repeat(10)).join('─┼─')}`);
  for (const r of rows) console.log(` ${r.name.padEnd(8)} │ ${r.losses.map((l) => l.toFixed(3).padStart(10)).join(' │ ')}`);
  writeFileSync('out/extrapolation.svg', lineChart({
    title: `Moby-Dick char LM: validation loss vs evaluation context (trained at ${T})`,
    xLabel: 'evaluation context (characters)',
    yLabel: 'validation loss (nats/char)',
    logX: true,
    series: rows.map((r) => ({ name: r.name, points: r.losses.map((l, i) => [multiples[i]! * T, l] as [number, number]) })),
  }));
  console.log('\nwrote out/extrapolation.svg');
}

await main();
