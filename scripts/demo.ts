/**
 * npm run demo — the main job. Trains small character-level models on Moby-Dick (scripts/data/, public domain): a
 * GPT per positional encoding and the MLA / memory-augmented architectures, with a live progress line; prints
 * train/val loss, samples text from the RoPE GPT and saves it to out/demo.safetensors; then evaluates every model at
 * 1×, 2× and 4× its training context (plus training-free PI/NTK/YaRN on the RoPE GPT) and writes the table to
 * out/extrapolation.svg. Run with --help for the flags.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW, Generator, Tensor, noGrad, warmupCosineLr, type Module } from '../core/index.js';
import { GPT, MLALM, MemoryTransformer, PaTHLM } from '../models/index.js';
import { generate, saveSafetensors, train } from '../nn/index.js';
import { createPositional, positionalNames } from '../positional/index.js';
import { loadCorpus, sampleBatch } from './lib/corpus.js';
import { FlagError, integerFlag, listFlag, pathFlag, readFlags } from './lib/flags.js';
import { lineChart } from './lib/svg.js';

interface Flags {
  steps: number;
  context: number;
  batch: number;
  dim: number;
  layers: number;
  heads: number;
  seed: number;
  models: string[];
  out: string;
}

/** What the demo needs of a model: its parameters and a next-token loss. */
type LanguageModel = Module & { loss(ids: Tensor, targets: Tensor): Tensor };

/** The attention architectures compared beside the GPT positional encodings (issue: MLA, PaTH, memory). */
const ARCHITECTURES: Record<string, (f: Flags, vocabSize: number) => LanguageModel> = {
  // DeepSeek-style latent attention with decoupled RoPE; the latent is half the model width
  mla: (f, V) => new MLALM({
    vocabSize: V, dim: f.dim, numLayers: f.layers, numHeads: f.heads, kvLoraRank: f.dim / 2,
    qkNopeHeadDim: f.dim / f.heads / 2, qkRopeHeadDim: f.dim / f.heads / 2, vHeadDim: f.dim / f.heads, seed: f.seed,
  }),
  // PaTH: data-dependent Householder transforms instead of RoPE (low-rank w as fla, chunk 32)
  path: (f, V) => new PaTHLM({ vocabSize: V, dim: f.dim, numLayers: f.layers, numHeads: f.heads, lowRankW: 16, chunkSize: 32, seed: f.seed }),
  // segments of the training context, chunks of a quarter of it, 8 memory slots carried across segments
  memory: (f, V) => new MemoryTransformer({
    vocabSize: V, dim: f.dim, numLayers: f.layers, numHeads: f.heads, segmentLength: f.context,
    chunkSize: Math.max(1, f.context / 4), memorySlots: 8, seed: f.seed,
  }),
};

const DEFAULT_MODELS = ['nope', 'learned', 'rope', 'p-rope-0.75', 'mla', 'path', 'memory'];

const HELP = `usage: npm run demo -- [flags]

Trains one small character-level GPT per positional encoding on Moby-Dick chapters 1–50, samples text from the
RoPE model, saves it to out/demo.safetensors, and evaluates every model at 1×, 2× and 4× its training context
(out/extrapolation.svg). Defaults train seven models for ~20–60 s each: about three to four minutes on 2 cores.

  --steps N       AdamW steps per model (default 80)
  --context T     training context length in characters (default 64)
  --batch B       sequences per step (default 16)
  --dim C         model width (default 64)
  --layers L      transformer blocks (default 2)
  --heads H       attention heads (default 4)
  --seed S        seed for weights, batches and sampling (default 0)
  --models a,b    what to train: GPT positional encodings (nope, learned, rope, p-rope-0.75, …) and
                  architectures (${Object.keys(ARCHITECTURES).join(', ')}); default all of ${DEFAULT_MODELS.join(',')}
  --out DIR       where demo.safetensors and extrapolation.svg go (default out)
  --help          this text`;

function readCommandLine(): Flags {
  const defaults: Flags = { steps: 80, context: 64, batch: 16, dim: 64, layers: 2, heads: 4, seed: 0, models: [...DEFAULT_MODELS], out: 'out' };
  const encodings = positionalNames();
  return readFlags<Flags>('demo', HELP, defaults, {
    values: {
      steps: (f, v) => (f.steps = integerFlag(v, 0)),
      context: (f, v) => (f.context = integerFlag(v, 1)),
      batch: (f, v) => (f.batch = integerFlag(v, 1)),
      dim: (f, v) => (f.dim = integerFlag(v, 1)),
      layers: (f, v) => (f.layers = integerFlag(v, 1)),
      heads: (f, v) => (f.heads = integerFlag(v, 1)),
      seed: (f, v) => (f.seed = integerFlag(v, 0)),
      models: (f, v) => (f.models = listFlag(v, [...encodings, ...Object.keys(ARCHITECTURES)])),
      out: (f, v) => (f.out = pathFlag(v)),
    },
    check: (f) => {
      const headDim = f.dim / f.heads;
      if (!Number.isInteger(headDim)) throw new FlagError(`demo: --dim must be a multiple of --heads (${f.heads}), got '${f.dim}'`);
      if (headDim % 2 !== 0) throw new FlagError(`demo: --dim / --heads must be even (rotary pairs), got ${f.dim} / ${f.heads} = ${headDim}`);
      if (f.models.includes('mla') && headDim % 4 !== 0) {
        throw new FlagError(`demo: --models mla needs --dim / --heads divisible by 4 (half of each head is rotary), got ${headDim}`);
      }
      if (f.models.includes('memory') && f.context % 4 !== 0) {
        throw new FlagError(`demo: --models memory needs --context divisible by 4 (chunks of a quarter of it), got '${f.context}'`);
      }
      if (!f.models.some((name) => encodings.includes(name))) {
        throw new FlagError(`demo: --models needs at least one GPT positional encoding (${encodings.join(', ')}) to sample and save, got '${f.models.join(',')}'`);
      }
    },
  });
}

/** Mean validation loss over fixed windows of length T (the same windows for every model). */
function evalLoss(model: LanguageModel, data: Int32Array, T: number, windows: number, seed: number): number {
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
  const flags = readCommandLine();
  const corpus = loadCorpus();
  const T = flags.context;
  console.log(`ropelab demo: char-level language models on Moby-Dick (${corpus.train.length + corpus.val.length} chars, vocab ${corpus.vocab.length})`);
  console.log(`model: ${flags.layers} layers, dim ${flags.dim}, ${flags.heads} heads, context ${T}; ${flags.steps} steps × batch ${flags.batch}`);
  if (flags.steps === 0) console.log('--steps 0: no training; every model is evaluated, sampled and saved at its random initialization');
  console.log();

  const models = new Map<string, LanguageModel>();
  for (const name of flags.models) {
    const architecture = ARCHITECTURES[name];
    const model: LanguageModel = architecture
      ? architecture(flags, corpus.vocab.length)
      : new GPT({ vocabSize: corpus.vocab.length, contextLength: T, dim: flags.dim, numLayers: flags.layers, numHeads: flags.heads, positional: name, seed: flags.seed });
    const g = new Generator(flags.seed + 1);
    const optimizer = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
    console.log(`[${name}] ${model.numParameters()} parameters`);
    if (flags.steps === 0) {
      console.log(`[${name}] not trained (--steps 0): val loss ${evalLoss(model, corpus.val, T, 32, 7).toFixed(3)} at initialization\n`);
      models.set(name, model);
      continue;
    }
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
    console.log(`[${name}] train loss ${trainLoss.toFixed(3)}, val loss ${valLoss.toFixed(3)} (${result.seconds.toFixed(1)} s)\n`);
    models.set(name, model);
  }

  const main = [...models.values()].find((m): m is GPT => m instanceof GPT && m.config.positional === 'rope')
    ?? [...models.values()].find((m): m is GPT => m instanceof GPT);
  if (main === undefined) throw new Error('demo: unreachable — readCommandLine asks for at least one GPT');
  const prompt = 'Call me Ishmael. ';
  const index = new Map(corpus.vocab.map((c, i) => [c, i]));
  const sample = generate(main, Array.from(prompt, (c) => index.get(c)!), {
    maxNewTokens: 240, temperature: 0.8, topK: 20, generator: new Generator(flags.seed + 2),
  });
  console.log(`sample from the ${main.config.positional} model:\n${prompt}${sample.map((i) => corpus.vocab[i]).join('')}\n`);
  mkdirSync(flags.out, { recursive: true });
  const weightsFile = join(flags.out, 'demo.safetensors');
  await saveSafetensors(main, weightsFile, { config: JSON.stringify(main.config), vocab: JSON.stringify(corpus.vocab) });
  console.log(`saved ${weightsFile}\n`);

  const multiples = [1, 2, 4];
  const rows: Array<{ name: string; losses: number[] }> = [];
  for (const [name, model] of models) {
    rows.push({ name, losses: multiples.map((m) => evalLoss(model, corpus.val, m * T, 32, 11)) });
  }
  // training-free context extension of the RoPE model: its frequencies rescaled with factor = eval / train length
  const rope = models.get('rope') instanceof GPT ? (models.get('rope') as GPT) : undefined;
  for (const rule of rope ? ['pi', 'ntk', 'yarn'] : []) {
    const spec = { headDim: flags.dim / flags.heads, modelDim: flags.dim, contextLength: T };
    rows.push({
      name: `rope+${rule}`,
      losses: multiples.map((m) => {
        rope!.setPositional(createPositional(rule, { ...spec, scalingFactor: m }));
        return evalLoss(rope!, corpus.val, m * T, 32, 11);
      }),
    });
    rope!.setPositional(rope!.positional);
  }
  console.log(`validation loss at 1×, 2×, 4× the training context (${T}); rope+X rescale the RoPE model's frequencies by X with factor = eval/train length:`);
  console.log(` model       │ ${multiples.map((m) => `${m}× (${m * T})`.padStart(10)).join(' │ ')}`);
  console.log(`─────────────┼─${multiples.map(() => '─'.repeat(10)).join('─┼─')}`);
  for (const r of rows) console.log(` ${r.name.padEnd(11)} │ ${r.losses.map((l) => l.toFixed(3).padStart(10)).join(' │ ')}`);
  const chartFile = join(flags.out, 'extrapolation.svg');
  writeFileSync(chartFile, lineChart({
    title: `Moby-Dick char LM: validation loss vs evaluation context (trained at ${T})`,
    xLabel: 'evaluation context (characters)',
    yLabel: 'validation loss (nats/char)',
    logX: true,
    series: rows.map((r) => ({ name: r.name, points: r.losses.map((l, i) => [multiples[i]! * T, l] as [number, number]) })),
  }));
  console.log(`\nwrote ${chartFile}`);
}

await main();
