/**
 * npm run demo — the main job. Trains small character-level models on Moby-Dick (scripts/data/, public domain), one
 * model per core at a time on trainer threads (each model keeps its own seeds, so the numbers do not depend on the
 * thread count), long enough to write readable text, and shows what the position encoding does beyond the training
 * length:
 *
 * - the models (default): a RoPE GPT, a NoPE GPT (no position encoding: attention is causal, nothing more) and a
 *   Hugging Face Llama with the same RoPE base; `--models` adds learned absolute positions, p-RoPE, MLA, PaTH, the
 *   memory transformer and the other registered encodings;
 * - the RoPE base is regime-matched (reproductions.md §1.3 G4): toy heads (d_head 16) and a 64-character context
 *   with base 10000 leave the slowest pairs almost still, i.e. NoPE-like, and the context-extension rules then have
 *   nothing to do. G4 picks b so that the slowest pair's wavelength λ_max = 2π·b^((d−2)/d) is L/0.0753 — LLaMA-2's
 *   ratio (4096 / (2π·10000^(126/128))) — so b = (L/(2π·0.0753))^(d/(d−2)) ≈ 274 for d = 16, L = 64: the fastest pair
 *   turns ~10 times within the context, the slowest 0.075 of a turn, and at 2× and 4× L the middle pairs reach
 *   angles they never saw in training;
 * - the table and out/extrapolation.svg: loss on the last L characters of windows of 1×, 2×, 4× L (so the characters
 *   scored sit at positions the model never trained on), for every model, plus the RoPE GPT with its frequencies
 *   rescaled by the training-free rules with s = window/L: PI θ/s, NTK-aware b·s^(d/(d−2)), YaRN (NTK-by-parts with
 *   α = 1, β = 4 — G5: YaRN's LLaMA β = 32 leaves no pair untouched at toy scale — and cos/sin × (0.1·ln s + 1));
 * - samples from the RoPE GPT, reading at most its training context (a sliding window), and saves it to
 *   out/demo.safetensors; the Llama goes to out/llama-hf/ in HF's format (config.json + model.safetensors).
 * Run with --help for the flags.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { AdamW, Generator, Tensor, crossEntropy, getBackend, noGrad, setNumThreads, warmupCosineLr, type Module } from '../core/index.js';
import { GPT, LlamaForCausalLM, MLALM, MemoryTransformer, PaTHLM, type LlamaHFConfig } from '../models/index.js';
import { sampleFromLogits, saveSafetensors, serializeSafetensors, train, type ProgressOutput } from '../nn/index.js';
import { RoPE, ntkInvFreq, piInvFreq, positionalNames, yarnAttentionFactor, yarnInvFreq } from '../positional/index.js';
import { loadCorpus, sampleBatch, type CharCorpus } from './lib/corpus.js';
import { isEntryPoint } from './lib/entry.js';
import { FlagError, integerFlag, listFlag, numberFlag, pathFlag, readFlags } from './lib/flags.js';
import { PALETTE, lineChart } from './lib/svg.js';
import { regimeMatchedBase } from './lib/toy-data.js';

interface Flags {
  steps: number;
  context: number;
  batch: number;
  dim: number;
  layers: number;
  heads: number;
  /** RoPE base of the GPTs and the Llama; null = G4's regime-matched base for --context and the head dim. */
  base: number | null;
  seed: number;
  models: string[];
  out: string;
  /** Trainer threads (default: the cores). */
  threads: number;
}

/** LLaMA-2's L/λ_max: 4096 / (2π·10000^(126/128)) ≈ 0.0753 (reproductions.md §1.3 G4). */
/** The RoPE base the run uses: --base, or G4's. */
function ropeBase(f: Flags): number {
  return f.base ?? regimeMatchedBase(f.dim / f.heads, f.context);
}

/** What the demo needs of a model: its parameters, logits and a next-token loss. */
type LanguageModel = Module & { forward(ids: Tensor): Tensor; loss(ids: Tensor, targets: Tensor): Tensor };

/**
 * The demo's Hugging Face Llama (RMSNorm, SwiGLU, GQA with half the heads for keys/values, the run's RoPE base, tied
 * head), as the config.json that out/llama-hf/ gets: transformers' LlamaForCausalLM.from_pretrained loads it.
 */
function llamaConfig(f: Flags, vocabSize: number): LlamaHFConfig {
  return {
    model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: vocabSize, hidden_size: f.dim,
    intermediate_size: 16 * Math.ceil((f.dim * 8) / 3 / 16), num_hidden_layers: f.layers, num_attention_heads: f.heads,
    num_key_value_heads: f.heads % 2 === 0 ? f.heads / 2 : f.heads, max_position_embeddings: f.context, rms_norm_eps: 1e-5,
    rope_theta: ropeBase(f), tie_word_embeddings: true, torch_dtype: 'float32',
  };
}

/** The attention architectures that can be compared beside the GPT positional encodings (MLA, PaTH, memory; HF Llama). */
const ARCHITECTURES: Record<string, (f: Flags, vocabSize: number) => LanguageModel> = {
  llama: (f, V) => new LlamaForCausalLM(llamaConfig(f, V), { seed: f.seed }),
  // DeepSeek-style latent attention with decoupled RoPE (its own base 10000); the latent is half the model width
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

const DEFAULT_MODELS = ['rope', 'nope', 'llama'];

/** Default steps: enough for the 2-layer, dim-64 models to write words (val ≈ 1.9 nats/char). */
const DEFAULT_STEPS = 600;

const HELP = `usage: npm run demo -- [flags]

Trains small character-level models on Moby-Dick chapters 1–50 — by default a RoPE GPT, a NoPE GPT and a Hugging
Face Llama, with a regime-matched RoPE base — then shows what happens beyond the training length: the loss on the
last --context characters of windows of 1×, 2×, 4× --context, for each model and for the RoPE GPT with PI, NTK and
YaRN rescaling (no training), as a table and out/extrapolation.svg. Samples text from the RoPE GPT, saves it to
out/demo.safetensors, and saves the Llama in Hugging Face's format (out/llama-hf/: config.json and
model.safetensors, which transformers' LlamaForCausalLM.from_pretrained loads). About 3 minutes on 2 cores.

  --steps N       AdamW steps per model (default ${DEFAULT_STEPS})
  --context T     training context length in characters (default 64)
  --batch B       sequences per step (default 16)
  --dim C         model width (default 64)
  --layers L      transformer blocks (default 2)
  --heads H       attention heads (default 4)
  --base B        RoPE base (default: regime-matched to --context and the head dim, reproductions.md G4: 274 for
                  the defaults; 10000 puts the slow pairs out of reach of the context and hides the effect)
  --seed S        seed for weights, batches and sampling (default 0)
  --models a,b    what to train: GPT positional encodings (rope, nope, learned, p-rope-0.75, …) and
                  architectures (${Object.keys(ARCHITECTURES).join(', ')}); default ${DEFAULT_MODELS.join(',')}
  --out DIR       where demo.safetensors, llama-hf/ and extrapolation.svg go (default out)
  --threads N     models trained at once, one per trainer thread (default: the cores, here ${availableParallelism()})
  --help          this text`;

function readCommandLine(): Flags {
  const defaults: Flags = {
    steps: DEFAULT_STEPS, context: 64, batch: 16, dim: 64, layers: 2, heads: 4, base: null, seed: 0, models: [...DEFAULT_MODELS], out: 'out',
    threads: availableParallelism(),
  };
  const encodings = positionalNames();
  return readFlags<Flags>('demo', HELP, defaults, {
    values: {
      steps: (f, v) => (f.steps = integerFlag(v, 0)),
      context: (f, v) => (f.context = integerFlag(v, 1)),
      batch: (f, v) => (f.batch = integerFlag(v, 1)),
      dim: (f, v) => (f.dim = integerFlag(v, 1)),
      layers: (f, v) => (f.layers = integerFlag(v, 1)),
      heads: (f, v) => (f.heads = integerFlag(v, 1)),
      base: (f, v) => (f.base = numberFlag(v, { above: 1 })),
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

/**
 * Mean next-character loss on the last `scored` positions of `windows` fixed validation windows of `length` characters
 * (the same windows for every model and rule: they depend only on `seed`). With length = scored it is the plain
 * validation loss; with length = m·L and scored = L it scores only the characters at positions (m − 1)·L … m·L − 1.
 */
function evalLoss(model: LanguageModel, data: Int32Array, length: number, scored: number, windows: number, seed: number): number {
  const g = new Generator(seed);
  const B = 4;
  let total = 0;
  let batches = 0;
  for (let i = 0; i < windows; i += B) {
    const { x, y } = sampleBatch(data, B, length, g);
    if (scored < length) for (let b = 0; b < B; b++) y.data.fill(-100, b * length, b * length + length - scored); // ignored (crossEntropy's ignoreIndex)
    total += noGrad(() => crossEntropy(model.forward(x), y).item());
    batches++;
  }
  return total / batches;
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
  /** Wall-clock seconds of training. */
  seconds: number;
  /** Loss on the last L characters of windows of 1×, 2×, 4× L: this model's row, and for the RoPE GPT its rope+pi/ntk/yarn rows. */
  rows: Array<{ name: string; losses: number[] }>;
  /** The GPT's state dict (data and shape per name), for the model the main thread samples from and saves. */
  weights: Array<{ name: string; shape: number[]; data: Float32Array | Float64Array }> | null;
}

/** Evaluation windows, as multiples of the training context. */
const MULTIPLES = [1, 2, 4];
/** Validation windows per evaluation (fixed: the same for every model and rule). */
const EVAL_WINDOWS = 64;

/**
 * The training-free context-extension rules applied to the RoPE GPT for a window of s·L (s = 1: plain RoPE): PI,
 * NTK-aware, YaRN with G5's toy-scale ramp (α = 1, β = 4).
 */
function extensionRule(rule: 'pi' | 'ntk' | 'yarn', headDim: number, base: number, L: number, s: number): RoPE {
  if (rule === 'pi') return new RoPE(headDim, { invFreq: piInvFreq({ dim: headDim, base, factor: s }) });
  if (rule === 'ntk') return new RoPE(headDim, { invFreq: ntkInvFreq({ dim: headDim, base, factor: s }) });
  const o = { dim: headDim, base, factor: s, originalMaxPositions: L, betaFast: 4, betaSlow: 1 };
  return new RoPE(headDim, { invFreq: yarnInvFreq(o), attentionFactor: yarnAttentionFactor(o) });
}

/**
 * Trains model `name` (its own seeds, so the result does not depend on which thread trains it or in what order),
 * evaluates it at 1×, 2×, 4× the context, and returns its numbers (and weights when asked).
 */
function trainOne(name: string, flags: Flags, corpus: CharCorpus, withWeights: boolean, output: ProgressOutput): Trained {
  const T = flags.context;
  const base = ropeBase(flags);
  const architecture = ARCHITECTURES[name];
  const model: LanguageModel = architecture
    ? architecture(flags, corpus.vocab.length)
    : new GPT({ vocabSize: corpus.vocab.length, contextLength: T, dim: flags.dim, numLayers: flags.layers, numHeads: flags.heads, positional: name, ropeBase: base, seed: flags.seed });
  const trained: Trained = { name, parameters: model.numParameters(), trainLoss: NaN, valLoss: NaN, initLoss: NaN, seconds: 0, rows: [], weights: null };
  const validation = (): number => evalLoss(model, corpus.val, T, T, 32, 7);
  if (flags.steps === 0) trained.initLoss = validation();
  else {
    const g = new Generator(flags.seed + 1);
    const optimizer = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0.01 });
    const logEvery = Math.max(1, Math.round(flags.steps / 6));
    const result = train(model, () => {
      const { x, y } = sampleBatch(corpus.train, flags.batch, T, g);
      return model.loss(x, y);
    }, {
      steps: flags.steps,
      optimizer,
      clipGradNorm: 1,
      schedule: (step) => warmupCosineLr(step, { maxLr: 3e-3, warmupSteps: Math.min(30, flags.steps), totalSteps: flags.steps, minLr: 3e-4 }),
      tokensPerStep: flags.batch * T,
      evaluate: validation,
      evalEvery: 2 * logEvery, // every other progress line shows a fresh validation loss; train() marks the others with their step
      logEvery,
      output,
    });
    const last = result.losses.slice(-10);
    trained.trainLoss = last.reduce((a, b) => a + b, 0) / last.length;
    trained.valLoss = result.valLosses[result.valLosses.length - 1]?.loss ?? NaN;
    trained.seconds = result.seconds;
  }
  trained.rows.push({ name, losses: MULTIPLES.map((m) => evalLoss(model, corpus.val, m * T, T, EVAL_WINDOWS, 11)) });
  if (model instanceof GPT && name === 'rope') {
    // training-free context extension of the RoPE model: its frequencies rescaled with s = window / training length
    const headDim = flags.dim / flags.heads;
    for (const rule of ['pi', 'ntk', 'yarn'] as const) {
      trained.rows.push({
        name: `rope+${rule}`,
        losses: MULTIPLES.map((m) => {
          model.setPositional(extensionRule(rule, headDim, base, T, m));
          return evalLoss(model, corpus.val, m * T, T, EVAL_WINDOWS, 11);
        }),
      });
    }
    model.setPositional(new RoPE(headDim, { base }));
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
const COST_ORDER = ['path', 'memory', 'mla', 'llama'];

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

/**
 * `count` characters sampled from `model` after `prompt`, reading at most the last `context` characters (a sliding
 * window: the model never sees a position it was not trained on). Temperature 0.6, top-k 10.
 */
function sampleText(model: GPT, prompt: readonly number[], count: number, context: number, generator: Generator): number[] {
  const ids = [...prompt];
  noGrad(() => {
    for (let i = 0; i < count; i++) {
      const window = ids.slice(-context);
      const logits = model.forward(new Tensor(Float32Array.from(window), [1, window.length])); // [1, t, V]
      const V = logits.shape[2]!;
      ids.push(sampleFromLogits(logits.data.subarray((window.length - 1) * V, window.length * V), { temperature: 0.6, topK: 10, generator }));
    }
  });
  return ids.slice(prompt.length);
}

async function main(): Promise<void> {
  const flags = readCommandLine();
  const cpuStart = process.cpuUsage();
  const corpus = loadCorpus();
  const T = flags.context;
  const base = ropeBase(flags);
  const headDim = flags.dim / flags.heads;
  const threads = Math.min(flags.threads, flags.models.length);
  console.log(`ropelab demo: char-level language models on Moby-Dick (${corpus.train.length + corpus.val.length} chars, vocab ${corpus.vocab.length})`);
  console.log(`model: ${flags.layers} layers, dim ${flags.dim}, ${flags.heads} heads (d_head ${headDim}), context ${T}; ${flags.steps} steps × batch ${flags.batch}`);
  console.log(flags.base === null
    ? `RoPE base ${base.toFixed(0)}, regime-matched (reproductions.md G4): its slowest pair's wavelength 2π·b^(${headDim - 2}/${headDim}) = ${(2 * Math.PI * Math.pow(base, (headDim - 2) / headDim)).toFixed(0)} is ${T}/0.0753, LLaMA-2's ratio`
    : `RoPE base ${base} (--base)`);
  console.log(`${flags.models.length} model${flags.models.length === 1 ? '' : 's'} on ${threads} trainer thread${threads === 1 ? '' : 's'}, ${getBackend()} kernels`);
  if (flags.steps === 0) console.log('--steps 0: no training; every model is evaluated, sampled and saved at its random initialization');
  console.log();

  // the model sampled from and saved: the RoPE GPT, else the first GPT
  const encodings = positionalNames();
  const sampled = flags.models.includes('rope') ? 'rope' : flags.models.find((name) => encodings.includes(name))!;
  const trained = await trainAll(flags, threads, sampled);
  console.log(`\n${trained.map((t) => `[${t.name}] ${flags.steps === 0 ? `val loss at init ${t.initLoss.toFixed(3)}` : `train ${t.trainLoss.toFixed(3)}, val ${t.valLoss.toFixed(3)}, ${t.seconds.toFixed(1)} s`}`).join('\n')}\n`);

  const source = trained.find((t) => t.name === sampled)!;
  const main = new GPT({ vocabSize: corpus.vocab.length, contextLength: T, dim: flags.dim, numLayers: flags.layers, numHeads: flags.heads, positional: sampled, ropeBase: base, seed: flags.seed });
  main.loadStateDict(Object.fromEntries(source.weights!.map((w) => [w.name, new Tensor(w.data, w.shape)])));
  const prompt = 'Call me Ishmael. ';
  const index = new Map(corpus.vocab.map((c, i) => [c, i]));
  const sample = sampleText(main, Array.from(prompt, (c) => index.get(c)!), 300, T, new Generator(flags.seed + 2));
  console.log(`sample from the ${main.config.positional} model (temperature 0.6, top-k 10, reading the last ${T} characters):\n${prompt}${sample.map((i) => corpus.vocab[i]).join('')}\n`);
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

  const rows = trained.flatMap((t) => t.rows);
  const header = MULTIPLES.map((m) => `${m}× (${m * T})`.padStart(10));
  console.log(`loss (nats/char) on the last ${T} characters of validation windows of 1×, 2×, 4× the training context ${T}, i.e. on`);
  console.log(`positions ${MULTIPLES.map((m) => `${(m - 1) * T}–${m * T - 1}`).join(', ')}; rope+X: the RoPE model with its frequencies rescaled by rule X for s = window/${T}, no training:`);
  console.log(` model       │ ${header.join(' │ ')} │ 4× − 1×`);
  console.log(`─────────────┼─${header.map(() => '─'.repeat(10)).join('─┼─')}─┼─────────`);
  for (const r of rows) console.log(` ${r.name.padEnd(11)} │ ${r.losses.map((l) => l.toFixed(3).padStart(10)).join(' │ ')} │ ${(r.losses[2]! - r.losses[0]!).toFixed(3).padStart(7)}`);
  const rise = (name: string): string => {
    const r = rows.find((row) => row.name === name);
    return r === undefined ? '' : (r.losses[2]! - r.losses[0]!).toFixed(2);
  };
  if (flags.steps > 0 && flags.models.includes('rope')) {
    const nope = rows.find((row) => row.name === 'nope');
    console.log(`\nreading it (4× − 1×): past ${T} plain RoPE meets rotation angles it never saw in training (${rise('rope')}); NTK and YaRN slow`);
    console.log(`its slow pairs down to angles it saw, without retraining (${rise('rope+ntk')}, ${rise('rope+yarn')}); PI slows the fast pairs too (${rise('rope+pi')})${nope === undefined ? '' : `;\nNoPE has no angles to leave behind (${rise('nope')}, at ${nope.losses[0]!.toFixed(2)} on 1×)`}`);
  }
  const chartFile = join(flags.out, 'extrapolation.svg');
  // x in multiples of the training context on a linear axis, so that the axis spans exactly 1×…4×; the rescaled
  // RoPE rows are dashed beside the solid trained models, so lines stay apart in grey print too
  const dashes: Record<string, string> = { 'rope+pi': '6 3', 'rope+ntk': '2 3', 'rope+yarn': '9 3 2 3' };
  const colors: Record<string, string> = { llama: '#000000' }; // not the palette's sky blue next to RoPE's blue
  writeFileSync(chartFile, lineChart({
    title: `Char LMs trained on ${T} characters of Moby-Dick, read past that length`,
    xLabel: `window read, in training contexts (1× = ${T} chars); loss on its last ${T} chars`,
    yLabel: 'loss (nats/char, lower is better)',
    series: rows.map((r, i) => ({ name: r.name, color: colors[r.name] ?? PALETTE[i % PALETTE.length], dash: dashes[r.name] ?? '', points: r.losses.map((l, i) => [MULTIPLES[i]!, l] as [number, number]) })),
    width: 760,
    height: 460,
  }));
  const cpu = process.cpuUsage(cpuStart);
  console.log(`\nwrote ${chartFile}; CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s (user + system, all threads)`);
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === TRAINER) serveTrainer(parentPort!, (workerData as { flags: Flags }).flags);
else if (isEntryPoint(import.meta.url, 'demo')) await main();
