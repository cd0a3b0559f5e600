/**
 * npm run demo — the main job. Trains small character-level models on Moby-Dick (scripts/data/, public domain): a
 * GPT per positional encoding, a Hugging Face Llama and the MLA / PaTH / memory-augmented architectures, one model per
 * core at a time on trainer threads (each model keeps its own seeds, so the numbers do not depend on the thread count);
 * prints train/val loss, samples text from the RoPE GPT and saves it to out/demo.safetensors, saves the Llama in HF's
 * format to out/llama-hf/ (config.json + model.safetensors); then evaluates every model at
 * 1×, 2× and 4× its training context (plus training-free PI/NTK/YaRN on the RoPE GPT) and writes the table to
 * out/extrapolation.svg. Run with --help for the flags.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { AdamW, Generator, Tensor, getBackend, noGrad, setNumThreads, warmupCosineLr, type Module } from '../core/index.js';
import { GPT, LlamaForCausalLM, MLALM, MemoryTransformer, PaTHLM, type LlamaHFConfig } from '../models/index.js';
import { generate, saveSafetensors, serializeSafetensors, train, type ProgressOutput } from '../nn/index.js';
import { createPositional, positionalNames } from '../positional/index.js';
import { loadCorpus, sampleBatch, type CharCorpus } from './lib/corpus.js';
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
  /** Trainer threads (default: the cores). */
  threads: number;
}

/** What the demo needs of a model: its parameters and a next-token loss. */
type LanguageModel = Module & { loss(ids: Tensor, targets: Tensor): Tensor };

/**
 * The demo's Hugging Face Llama (RMSNorm, SwiGLU, GQA with half the heads for keys/values, RoPE base 10000, tied
 * head), as the config.json that out/llama-hf/ gets: transformers' LlamaForCausalLM.from_pretrained loads it.
 */
function llamaConfig(f: Flags, vocabSize: number): LlamaHFConfig {
  return {
    model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: vocabSize, hidden_size: f.dim,
    intermediate_size: 16 * Math.ceil((f.dim * 8) / 3 / 16), num_hidden_layers: f.layers, num_attention_heads: f.heads,
    num_key_value_heads: f.heads % 2 === 0 ? f.heads / 2 : f.heads, max_position_embeddings: f.context, rms_norm_eps: 1e-5,
    rope_theta: 10000, tie_word_embeddings: true, torch_dtype: 'float32',
  };
}

/** The attention architectures compared beside the GPT positional encodings (issue: MLA, PaTH, memory; HF Llama). */
const ARCHITECTURES: Record<string, (f: Flags, vocabSize: number) => LanguageModel> = {
  llama: (f, V) => new LlamaForCausalLM(llamaConfig(f, V), { seed: f.seed }),
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

const DEFAULT_MODELS = ['nope', 'learned', 'rope', 'p-rope-0.75', 'llama', 'mla', 'path', 'memory'];

const HELP = `usage: npm run demo -- [flags]

Trains one small character-level GPT per positional encoding on Moby-Dick chapters 1–50, samples text from the
RoPE model, saves it to out/demo.safetensors, saves the Llama in Hugging Face's format (out/llama-hf/: config.json
and model.safetensors, which transformers' LlamaForCausalLM.from_pretrained loads), and evaluates every model at 1×,
2× and 4× its training context (out/extrapolation.svg). Defaults train eight models for ~6–30 s each, one per core at
a time: about a minute on 2 cores.

  --steps N       AdamW steps per model (default 80)
  --context T     training context length in characters (default 64)
  --batch B       sequences per step (default 16)
  --dim C         model width (default 64)
  --layers L      transformer blocks (default 2)
  --heads H       attention heads (default 4)
  --seed S        seed for weights, batches and sampling (default 0)
  --models a,b    what to train: GPT positional encodings (nope, learned, rope, p-rope-0.75, …) and
                  architectures (${Object.keys(ARCHITECTURES).join(', ')}); default all of ${DEFAULT_MODELS.join(',')}
  --out DIR       where demo.safetensors, llama-hf/ and extrapolation.svg go (default out)
  --threads N     models trained at once, one per trainer thread (default: the cores, here ${availableParallelism()})
  --help          this text`;

function readCommandLine(): Flags {
  const defaults: Flags = { steps: 80, context: 64, batch: 16, dim: 64, layers: 2, heads: 4, seed: 0, models: [...DEFAULT_MODELS], out: 'out', threads: availableParallelism() };
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
      threads: (f, v) => (f.threads = integerFlag(v, 1)),
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

/** One trained model as a trainer thread reports it: its numbers, and its weights when the main thread needs them. */
interface Trained {
  name: string;
  parameters: number;
  /** Mean of the last 10 training losses and the last validation loss (NaN with --steps 0). */
  trainLoss: number;
  valLoss: number;
  /** Validation loss at initialization (--steps 0 only). */
  initLoss: number;
  seconds: number;
  /** Validation loss at 1×, 2×, 4× the context: this model's row, and for the RoPE GPT its rope+pi/ntk/yarn rows. */
  rows: Array<{ name: string; losses: number[] }>;
  /** The GPT's state dict (data and shape per name), for the model the main thread samples from and saves. */
  weights: Array<{ name: string; shape: number[]; data: Float32Array | Float64Array }> | null;
}

/** Evaluation contexts, as multiples of the training context. */
const MULTIPLES = [1, 2, 4];

/**
 * Trains model `name` as the demo always has (its own seeds, so the result does not depend on which thread trains it
 * or in what order), evaluates it at 1×, 2×, 4× the context, and returns its numbers (and weights when asked).
 */
function trainOne(name: string, flags: Flags, corpus: CharCorpus, withWeights: boolean, output: ProgressOutput): Trained {
  const T = flags.context;
  const architecture = ARCHITECTURES[name];
  const model: LanguageModel = architecture
    ? architecture(flags, corpus.vocab.length)
    : new GPT({ vocabSize: corpus.vocab.length, contextLength: T, dim: flags.dim, numLayers: flags.layers, numHeads: flags.heads, positional: name, seed: flags.seed });
  const trained: Trained = { name, parameters: model.numParameters(), trainLoss: NaN, valLoss: NaN, initLoss: NaN, seconds: 0, rows: [], weights: null };
  if (flags.steps === 0) trained.initLoss = evalLoss(model, corpus.val, T, 32, 7);
  else {
    const g = new Generator(flags.seed + 1);
    const optimizer = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
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
      output,
    });
    const last = result.losses.slice(-10);
    trained.trainLoss = last.reduce((a, b) => a + b, 0) / last.length;
    trained.valLoss = result.valLosses[result.valLosses.length - 1]?.loss ?? NaN;
    trained.seconds = result.seconds;
  }
  trained.rows.push({ name, losses: MULTIPLES.map((m) => evalLoss(model, corpus.val, m * T, 32, 11)) });
  if (model instanceof GPT && name === 'rope') {
    // training-free context extension of the RoPE model: its frequencies rescaled with factor = eval / train length
    const spec = { headDim: flags.dim / flags.heads, modelDim: flags.dim, contextLength: T };
    for (const rule of ['pi', 'ntk', 'yarn']) {
      trained.rows.push({
        name: `rope+${rule}`,
        losses: MULTIPLES.map((m) => {
          model.setPositional(createPositional(rule, { ...spec, scalingFactor: m }));
          return evalLoss(model, corpus.val, m * T, 32, 11);
        }),
      });
    }
    model.setPositional(model.positional);
  }
  if (withWeights) trained.weights = Object.entries(model.stateDict()).map(([key, t]) => ({ name: key, shape: [...t.shape], data: t.data.slice() }));
  return trained;
}

/** Messages between the main thread and a trainer thread. */
type ToTrainer = { kind: 'train'; name: string; withWeights: boolean } | { kind: 'done' };
type FromTrainer = { kind: 'progress'; text: string } | { kind: 'trained'; trained: Trained } | { kind: 'failed'; error: string };

/** A trainer thread: trains the models the main thread sends, one at a time, on one thread each (the demo's models are small: a thread per model uses the cores better than threads per product). */
function serveTrainer(port: MessagePort, flags: Flags): void {
  setNumThreads(1);
  const corpus = loadCorpus();
  port.on('message', (message: ToTrainer) => {
    if (message.kind === 'done') {
      port.close();
      return;
    }
    const output: ProgressOutput = { isTTY: false, write: (text) => port.postMessage({ kind: 'progress', text: text.split('\n').filter((l) => l !== '').map((l) => `[${message.name}] ${l}\n`).join('') } satisfies FromTrainer) };
    try {
      port.postMessage({ kind: 'trained', trained: trainOne(message.name, flags, corpus, message.withWeights, output) } satisfies FromTrainer);
    } catch (e) {
      port.postMessage({ kind: 'failed', error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies FromTrainer);
    }
  });
}

/** Heaviest first, so that two threads finish close together (PaTH and the memory transformer take longest). */
const COST_ORDER = ['path', 'memory', 'mla'];

/**
 * Trains every model on `threads` trainer threads, each taking the next model when it finishes one, printing their
 * progress lines as they come; resolves to the results in the order of --models.
 */
async function trainAll(flags: Flags, threads: number, sampled: string): Promise<Trained[]> {
  const queue = [...flags.models].sort((a, b) => rank(a) - rank(b));
  const results = new Map<string, Trained>();
  await Promise.all(Array.from({ length: Math.min(threads, queue.length) }, () => new Promise<void>((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { role: TRAINER, flags } });
    const next = (): void => {
      const name = queue.shift();
      worker.postMessage((name === undefined ? { kind: 'done' } : { kind: 'train', name, withWeights: name === sampled || name === 'llama' }) satisfies ToTrainer);
    };
    worker.on('message', (message: FromTrainer) => {
      if (message.kind === 'progress') process.stdout.write(message.text);
      else if (message.kind === 'failed') reject(new Error(`demo: a trainer thread failed:\n${message.error}`));
      else {
        const t = message.trained;
        results.set(t.name, t);
        console.log(flags.steps === 0
          ? `[${t.name}] not trained (--steps 0): val loss ${t.initLoss.toFixed(3)} at initialization (${t.parameters} parameters)`
          : `[${t.name}] ${t.parameters} parameters: train loss ${t.trainLoss.toFixed(3)}, val loss ${t.valLoss.toFixed(3)} (${t.seconds.toFixed(1)} s)`);
        next();
      }
    });
    worker.on('error', reject);
    worker.on('exit', () => resolve());
    next();
  })));
  return flags.models.map((name) => results.get(name)!);
}

function rank(name: string): number {
  const i = COST_ORDER.indexOf(name);
  return i < 0 ? COST_ORDER.length : i;
}

const TRAINER = 'demo-trainer';

async function main(): Promise<void> {
  const flags = readCommandLine();
  const corpus = loadCorpus();
  const T = flags.context;
  const threads = Math.min(flags.threads, flags.models.length);
  console.log(`ropelab demo: char-level language models on Moby-Dick (${corpus.train.length + corpus.val.length} chars, vocab ${corpus.vocab.length})`);
  console.log(`model: ${flags.layers} layers, dim ${flags.dim}, ${flags.heads} heads, context ${T}; ${flags.steps} steps × batch ${flags.batch}`);
  console.log(`${flags.models.length} model${flags.models.length === 1 ? '' : 's'} on ${threads} trainer thread${threads === 1 ? '' : 's'}, ${getBackend()} kernels`);
  if (flags.steps === 0) console.log('--steps 0: no training; every model is evaluated, sampled and saved at its random initialization');
  console.log();

  // the model sampled from and saved: the RoPE GPT, else the first GPT
  const encodings = positionalNames();
  const sampled = flags.models.includes('rope') ? 'rope' : flags.models.find((name) => encodings.includes(name))!;
  const trained = await trainAll(flags, threads, sampled);
  console.log(`\n${trained.map((t) => `[${t.name}] ${flags.steps === 0 ? `val loss at init ${t.initLoss.toFixed(3)}` : `train ${t.trainLoss.toFixed(3)}, val ${t.valLoss.toFixed(3)}, ${t.seconds.toFixed(1)} s`}`).join('\n')}\n`);

  const source = trained.find((t) => t.name === sampled)!;
  const main = new GPT({ vocabSize: corpus.vocab.length, contextLength: T, dim: flags.dim, numLayers: flags.layers, numHeads: flags.heads, positional: sampled, seed: flags.seed });
  main.loadStateDict(Object.fromEntries(source.weights!.map((w) => [w.name, new Tensor(w.data, w.shape)])));
  const prompt = 'Call me Ishmael. ';
  const index = new Map(corpus.vocab.map((c, i) => [c, i]));
  const sample = generate(main, Array.from(prompt, (c) => index.get(c)!), {
    maxNewTokens: 240, temperature: 0.8, topK: 20, generator: new Generator(flags.seed + 2),
  });
  console.log(`sample from the ${main.config.positional} model:\n${prompt}${sample.map((i) => corpus.vocab[i]).join('')}\n`);
  mkdirSync(flags.out, { recursive: true });
  const weightsFile = join(flags.out, 'demo.safetensors');
  await saveSafetensors(main, weightsFile, { config: JSON.stringify(main.config), vocab: JSON.stringify(corpus.vocab) });
  console.log(`saved ${weightsFile}`);
  const llama = trained.find((t) => t.name === 'llama');
  if (llama !== undefined) {
    // the trained Llama in Hugging Face's format: config.json + model.safetensors under HF's state-dict names
    const model = new LlamaForCausalLM(llamaConfig(flags, corpus.vocab.length));
    model.loadStateDict(Object.fromEntries(llama.weights!.map((w) => [w.name, new Tensor(w.data, w.shape)])));
    const { config, weights } = model.toHF();
    const dir = join(flags.out, 'llama-hf');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(weights, { format: 'pt' }));
    writeFileSync(join(dir, 'vocab.json'), `${JSON.stringify(corpus.vocab)}\n`); // token id → character (not an HF tokenizer)
    console.log(`saved ${dir}/ (Hugging Face format: transformers' LlamaForCausalLM.from_pretrained('${dir}') loads it; vocab.json maps ids to characters)`);
  }
  console.log();

  const rows = trained.flatMap((t) => t.rows.slice(0, 1)).concat(trained.flatMap((t) => t.rows.slice(1)));
  console.log(`validation loss at 1×, 2×, 4× the training context (${T}); rope+X rescale the RoPE model's frequencies by X with factor = eval/train length:`);
  console.log(` model       │ ${MULTIPLES.map((m) => `${m}× (${m * T})`.padStart(10)).join(' │ ')}`);
  console.log(`─────────────┼─${MULTIPLES.map(() => '─'.repeat(10)).join('─┼─')}`);
  for (const r of rows) console.log(` ${r.name.padEnd(11)} │ ${r.losses.map((l) => l.toFixed(3).padStart(10)).join(' │ ')}`);
  const chartFile = join(flags.out, 'extrapolation.svg');
  writeFileSync(chartFile, lineChart({
    title: `Moby-Dick char LM: validation loss vs evaluation context (trained at ${T})`,
    xLabel: 'evaluation context (characters)',
    yLabel: 'validation loss (nats/char)',
    logX: true,
    series: rows.map((r) => ({ name: r.name, points: r.losses.map((l, i) => [MULTIPLES[i]! * T, l] as [number, number]) })),
  }));
  console.log(`\nwrote ${chartFile}`);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === TRAINER) serveTrainer(parentPort!, (workerData as { flags: Flags }).flags);
else await main();
