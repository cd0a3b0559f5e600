/**
 * Issue 17, protocol #3 (../shared/specs/reproductions.md §4) — "Round and Round We Go! What makes Rotary Positional
 * Encodings useful?" (Barbero, Vitvitskyi, Perivolaropoulos, Pascanu, Veličković; ICLR 2025, arXiv 2410.06205), at toy
 * scale: which RoPE frequencies do positional and semantic heads use, and does p-RoPE (the slowest pairs turned into
 * NoPE channels) recall better beyond the training length than RoPE?
 *
 * p-RoPE (positional/p-rope.ts, Barbero et al. §5): θ_i = b^(−2i/d) for i < ⌊p·d/2⌋, θ_i = 0 for the rest (the
 * slowest pairs no longer rotate); "0.75-reversed" (here, `reversedInvFreq`) zeroes the fastest quarter instead.
 * The base is matched to Gemma's regime (G4, `gemmaRegimeBase`): the slowest pair turns 0.88 rad over the training
 * context, as Gemma-7B's (d 256, b 1e4) does over 8192 tokens.
 *
 * Data. G1 Markov text (scripts/lib/toy-data.ts) with associative-recall blocks (`recallEpisode`, this file):
 * `pairs` blocks `MARK k v` (distinct keys k, one value digit v) and, for each, a later block `QUERY k v` at an exactly
 * chosen distance position(QUERY) − position(MARK); the model must predict v after `QUERY k`. The keys are 16 tokens
 * of their own (64–79, vocabulary 80) that the Markov filler never uses — with G2's letter keys, which also occur in
 * the filler, a 2-layer model could not learn the lookup. Training distances are uniform over [3, T − 4]; the other
 * pairs are each query's distractors. Loss: next-token cross-entropy on every position, the answers weighted ×W.
 *
 * (A) Frequency usage (Barbero et al. §4) on the p = 1 (RoPE) models: per layer, head and pair k (k = 0 fastest) the
 *     mean 2-norm of q's and k's 2-D chunk ((i, i + d/2) in the 'half' layout; rotation-invariant, so taken before
 *     RoPE), over every position of held-out episodes at the training length; usage-weighted frequency index
 *     f̄ = Σ_k k·‖q⁽ᵏ⁾‖‖k⁽ᵏ⁾‖ / Σ_k ‖q⁽ᵏ⁾‖‖k⁽ᵏ⁾‖, and the same statistic on v as a control. Head types, from attention
 *     maps on the same episodes (defined before the run):
 *     - positional: ≥ 70 % of its attention mass (mean over query positions ≥ 8) at one fixed offset 0, −1 or −2
 *       (the spec says 0 or −1; −2 added because the second-order text needs the token two back);
 *     - semantic: ≥ 50 % of the mass of the query's key token (the position that predicts v) on the 3 tokens of the
 *       matching `MARK k v` block (mean over the episodes' controlled queries);
 *     - a head meeting both is counted as neither ('both'), one meeting none is 'other'.
 *     Also the NoPE check (Prop. 5.2): on a repeated-token sequence, the largest mean mass any head puts at offset −1,
 *     for RoPE and NoPE (NoPE's is 1/(t+1), exactly uniform, by construction).
 * (B) p-RoPE sweep: p ∈ {1, 0.75, 0.5, 0.25}, 0.75-reversed and NoPE, the same data, init seed and data order per
 *     seed; recall accuracy (argmax = v) per (eval length L′ ∈ {1, 2, 3, 4}·T, distance d ≤ L′ − 4) and text loss at T.
 *
 * Usage: node scripts/run.mjs scripts/experiments/prope-frequency.ts [--quick] [--seeds N] [--steps N] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { AdamW, Generator, Tensor, argmax, crossEntropy, matmul, noGrad, setNumThreads, softmax } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { MultiHeadAttention } from '../../nn/attention.js';
import { train } from '../../nn/train.js';
import { NoPE, PRoPE, RoPE, ropeInvFreq, type PositionalEncoding } from '../../positional/index.js';
import { isEntryPoint } from '../lib/entry.js';
import { integerFlag, readFlags } from '../lib/flags.js';
import type { Reproduction, ReproductionResult } from '../lib/reproduction.js';
import { judgeOrdering, meanRange, summarize, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';
import { MarkovText, TOY_VOCAB, multiQueryEpisode, textDocument, type MultiQuery, type MultiQueryEpisode } from '../lib/toy-data.js';

// ── vocabulary, base ──────────────────────────────────────────────────────────────────────────────────────────────

/** The toy vocabulary (64 tokens, scripts/lib/toy-data.ts) plus 16 key tokens that the Markov filler never uses. */
export const RECALL_VOCAB = { size: TOY_VOCAB.size + 16, firstKey: TOY_VOCAB.size, keys: 16 } as const;

/** Tokens of a recall block: MARK (or QUERY), the key, the value digit. */
export const RECALL_BLOCK = 3;

/**
 * Gemma-7B's L/λ_max: 8192 / (2π·10000^(254/256)) ≈ 0.140 — its slowest pair turns 2π·0.140 ≈ 0.88 rad over the
 * training context (G4, Gemma regime).
 */
export const GEMMA_CONTEXT_PER_WAVELENGTH = 8192 / (2 * Math.PI * Math.pow(10000, 254 / 256));

/**
 * The base whose slowest wavelength 2π·b^((d−2)/d) puts L/λ_max at Gemma's value: 424 for d = 32 at L = 256 (the spec's
 * 370 is the same regime rounded to 1 rad over the context); 134 for d = 16 at L = 64.
 */
export function gemmaRegimeBase(headDim: number, contextLength: number): number {
  if (!Number.isInteger(headDim) || headDim < 4 || headDim % 2 !== 0 || !(contextLength > 0)) {
    throw new RangeError(`gemmaRegimeBase: headDim must be an even integer ≥ 4 and contextLength > 0, got ${headDim}, ${contextLength}`);
  }
  return Math.pow(contextLength / (2 * Math.PI * GEMMA_CONTEXT_PER_WAVELENGTH), headDim / (headDim - 2));
}

// ── data ──────────────────────────────────────────────────────────────────────────────────────────────────────────

/** The repeated-token probe of Prop. 5.2: `length` copies of one letter (no BOS: every token the same, as in the proof). */
export function repeatedTokenProbe(length: number, letter = 0): Int32Array {
  return new Int32Array(length).fill(letter);
}

/** Rows of T + 1 tokens → inputs [B, T], next-token targets [B·T] and loss weights [B·T] (answers ×answerWeight). */
function toBatch(rows: readonly Int32Array[], answers: readonly number[][] = [], answerWeight = 1): { ids: Tensor; targets: Int32Array; weights: Float64Array } {
  const T = rows[0]!.length - 1;
  const ids = new Float64Array(rows.length * T);
  const targets = new Int32Array(rows.length * T);
  const weights = new Float64Array(rows.length * T).fill(1);
  rows.forEach((row, b) => {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = row[t]!;
      targets[b * T + t] = row[t + 1]!;
    }
    for (const at of answers[b] ?? []) weights[b * T + at - 1] = answerWeight; // the answer at `at` is predicted at at − 1
  });
  return { ids: new Tensor(ids, [rows.length, T]), targets, weights };
}

// ── arms ──────────────────────────────────────────────────────────────────────────────────────────────────────────

export const ARMS = ['p=1', 'p=0.75', 'p=0.5', 'p=0.25', 'p=0.75-rev', 'NoPE'] as const;
export type Arm = (typeof ARMS)[number];

/** RoPE's table with the fastest ⌈(1 − p)·d/2⌉ pairs set to 0 (p-RoPE reversed: the slowest fraction p keeps rotating). */
export function reversedInvFreq(headDim: number, p: number, base: number): Float64Array {
  const out = ropeInvFreq(headDim, base);
  const dropped = headDim / 2 - Math.floor((p * headDim) / 2);
  out.fill(0, 0, dropped);
  return out;
}

/** The encoding of an arm for head dim `headDim` and base `base`. */
export function armEncoding(arm: Arm, headDim: number, base: number): PositionalEncoding {
  switch (arm) {
    case 'p=1': return new RoPE(headDim, { base });
    case 'p=0.75': return new PRoPE(headDim, 0.75, { base });
    case 'p=0.5': return new PRoPE(headDim, 0.5, { base });
    case 'p=0.25': return new PRoPE(headDim, 0.25, { base });
    case 'p=0.75-rev': return new RoPE(headDim, { invFreq: reversedInvFreq(headDim, 0.75, base) });
    case 'NoPE': return new NoPE();
  }
}

// ── settings ──────────────────────────────────────────────────────────────────────────────────────────────────────

export interface Settings {
  /** Training context T (episodes hold T + 1 tokens). */
  context: number;
  dim: number;
  layers: number;
  heads: number;
  seeds: number;
  steps: number;
  batch: number;
  lr: number;
  /** Recall pairs per sequence (training and evaluation). */
  pairs: number;
  /** Loss weight of the answer tokens. */
  answerWeight: number;
  /** Evaluation lengths, as multiples of T. */
  evalMultiples: number[];
  /** Distances probed (each at every evaluation length it fits: d ≤ L′ − 4). */
  evalDistances: number[];
  /** Episodes per (length, distance) cell. */
  evalEpisodes: number;
  /** Text sequences for the text loss. */
  evalText: number;
  /** Episodes (at T) for the frequency and head-type analysis. */
  analysisEpisodes: number;
}

export const FULL: Settings = {
  context: 64, dim: 32, layers: 2, heads: 2, seeds: 3, steps: 250, batch: 16, lr: 1e-2, pairs: 6, answerWeight: 4,
  evalMultiples: [1, 2, 3, 4], evalDistances: [8, 24, 40, 60, 80, 100, 124, 160, 200, 252], evalEpisodes: 16, evalText: 32, analysisEpisodes: 32,
};

export const QUICK: Settings = {
  context: 16, dim: 16, layers: 2, heads: 2, seeds: 2, steps: 3, batch: 4, lr: 3e-3, pairs: 2, answerWeight: 4,
  evalMultiples: [1, 2], evalDistances: [8, 20], evalEpisodes: 2, evalText: 2, analysisEpisodes: 2,
};

/** Recall accuracy both headline arms need at the training length, in every seed, for the toy to count as able to recall. */
export const CONTROL_THRESHOLD = 0.8;
/** "ppl gaps small": every RoPE-family arm's mean text loss within this fraction of the best one's. */
export const TEXT_TOLERANCE = 0.05;
/** Head typing thresholds (Part A). */
export const POSITIONAL_MASS = 0.7;
export const SEMANTIC_MASS = 0.5;
/** Offsets a positional head may attend at (0, −1, −2). */
export const POSITIONAL_OFFSETS = [0, 1, 2] as const;

// ── measurement ───────────────────────────────────────────────────────────────────────────────────────────────────

/** One layer's attention for a batch: pre-rotation q, k, v [B, H, T, d] and the attention probabilities [B, H, T, T]. */
export interface LayerAttention {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  probs: Tensor;
}

/** Runs ids [B, T] through `model` block by block (positions 0…T−1), returning each layer's q, k, v and attention probabilities. */
export function layerAttention(model: GPT, ids: Tensor): LayerAttention[] {
  return noGrad(() => {
    const [B, T] = ids.shape as [number, number];
    const positions = new Tensor(Float64Array.from({ length: T }, (_, t) => t), [T]);
    let x = model.wte.forward(ids);
    const absolute = model.positional.inputEmbedding(positions, model.config.dim);
    if (absolute !== null) x = x.add(absolute);
    const causal = new Float64Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) causal[i * T + j] = -Infinity;
    return model.blocks.map((block) => {
      const attn = block.attn;
      if (!(attn instanceof MultiHeadAttention) || attn.numKVHeads !== attn.numHeads) throw new Error('layerAttention: every layer must be a MultiHeadAttention without grouped keys');
      const { numHeads: H, headDim: D } = attn;
      const h = block.norm1.forward(x);
      const split = (t: Tensor): Tensor => t.reshape([B, T, H, D]).transpose(1, 2);
      const q = split(attn.wq.forward(h));
      const k = split(attn.wk.forward(h));
      const v = split(attn.wv.forward(h));
      const enc = attn.positional.encodeQK(q, k, positions, positions);
      const scale = (enc.logitScale ?? 1) / Math.sqrt(D);
      const logits = matmul(enc.q, enc.k, { transposeB: true }).mul(scale).add(new Tensor(causal, [T, T]).cast(q.dtype));
      const probs = softmax(logits, -1);
      x = block.forward(x);
      return { q, k, v, probs };
    });
  });
}

/** Mean 2-norm of each 2-D chunk (i, i + d/2) over every batch row and position: x [B, H, T, d] → [H][d/2]. */
export function chunkNorms(x: Tensor): number[][] {
  const [B, H, T, D] = x.shape as [number, number, number, number];
  const half = D / 2;
  const out = Array.from({ length: H }, () => new Array<number>(half).fill(0));
  const data = x.data;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const row = ((b * H + h) * T + t) * D;
        for (let i = 0; i < half; i++) out[h]![i]! += Math.hypot(data[row + i]!, data[row + i + half]!);
      }
    }
  }
  return out.map((r) => r.map((s) => s / (B * T)));
}

/** f̄ = Σ_k k·a_k·b_k / Σ_k a_k·b_k (k = 0 the fastest pair); the uniform profile gives (d/2 − 1)/2. */
export function frequencyIndex(a: readonly number[], b: readonly number[]): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < a.length; k++) {
    num += k * a[k]! * b[k]!;
    den += a[k]! * b[k]!;
  }
  return den > 0 ? num / den : NaN;
}

export type HeadType = 'positional' | 'semantic' | 'both' | 'other';

export interface HeadReport {
  layer: number;
  head: number;
  type: HeadType;
  /** Largest mean attention mass at one of POSITIONAL_OFFSETS, and which offset. */
  offsetMass: number;
  offset: number;
  /** Mean mass of the queries' key token on the matching MARK block. */
  markMass: number;
  /** Usage-weighted frequency index of q·k, and the same on v (‖v⁽ᵏ⁾‖²). */
  fq: number;
  fv: number;
  /** Mean ‖q⁽ᵏ⁾‖·‖k⁽ᵏ⁾‖ per pair k. */
  profile: number[];
}

/** Positional if ≥ POSITIONAL_MASS at one offset, semantic if ≥ SEMANTIC_MASS on the matching MARK block; both → 'both'. */
export function classifyHead(offsetMass: number, markMass: number): HeadType {
  const positional = offsetMass >= POSITIONAL_MASS;
  const semantic = markMass >= SEMANTIC_MASS;
  return positional && semantic ? 'both' : positional ? 'positional' : semantic ? 'semantic' : 'other';
}

/** Part A on held-out episodes at the training length: every head's type, attention statistics and frequency index. */
export function analyseHeads(model: GPT, episodes: readonly MultiQueryEpisode[]): HeadReport[] {
  const ids = toBatch(episodes.map((e) => e.tokens)).ids;
  const [B, T] = ids.shape as [number, number];
  const layers = layerAttention(model, ids);
  const minQuery = Math.min(8, T - 1);
  return layers.flatMap(({ q, k, v, probs }, layer) => {
    const H = q.shape[1]!;
    const qn = chunkNorms(q);
    const kn = chunkNorms(k);
    const vn = chunkNorms(v);
    const p = probs.data;
    return Array.from({ length: H }, (_, h) => {
      const offsetMass = POSITIONAL_OFFSETS.map((o) => {
        let s = 0;
        let n = 0;
        for (let b = 0; b < B; b++) for (let t = Math.max(minQuery, o); t < T; t++, n++) s += p[((b * H + h) * T + t) * T + t - o]!;
        return n > 0 ? s / n : 0;
      });
      const best = offsetMass.indexOf(Math.max(...offsetMass));
      let mark = 0;
      let n = 0;
      episodes.forEach((e, b) => {
        for (const query of e.queries) {
          const t = query.queryPosition + 1; // the key token, which predicts the value
          if (t >= T) continue;
          const row = ((b * H + h) * T + t) * T;
          for (let j = query.markPosition; j < query.markPosition + RECALL_BLOCK; j++) mark += p[row + j]!;
          n++;
        }
      });
      const markMass = n > 0 ? mark / n : 0;
      const profile = qn[h]!.map((a, i) => a * kn[h]![i]!);
      return {
        layer, head: h, type: classifyHead(offsetMass[best]!, markMass), offsetMass: offsetMass[best]!, offset: POSITIONAL_OFFSETS[best]!, markMass,
        fq: frequencyIndex(qn[h]!, kn[h]!), fv: frequencyIndex(vn[h]!, vn[h]!), profile,
      };
    });
  });
}

/** The largest mean attention mass any head puts at offset −1 on the repeated-token probe (query positions ≥ 1). */
export function probeOffsetMass(model: GPT, length: number): number {
  const layers = layerAttention(model, new Tensor(Float64Array.from(repeatedTokenProbe(length)), [1, length]));
  let best = 0;
  for (const { probs } of layers) {
    const H = probs.shape[1]!;
    for (let h = 0; h < H; h++) {
      let s = 0;
      for (let t = 1; t < length; t++) s += probs.data[(h * length + t) * length + t - 1]!;
      best = Math.max(best, s / (length - 1));
    }
  }
  return best;
}

/** Exact one-sided Mann–Whitney p-value P(U ≤ u) for samples x (expected smaller) and y, no ties; U = #{(i, j): x_i > y_j}. */
export function mannWhitneyLess(x: readonly number[], y: readonly number[]): { u: number; p: number } {
  const m = x.length;
  const n = y.length;
  if (m === 0 || n === 0) return { u: NaN, p: NaN };
  let u = 0;
  for (const a of x) for (const b of y) u += a > b ? 1 : a === b ? 0.5 : 0;
  // counts[k] = number of arrangements with U = k (recursion over the largest element), normalised by C(m + n, m)
  const memo = new Map<string, Float64Array>();
  const dist = (a: number, b: number): Float64Array => {
    const key = `${a},${b}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const out = new Float64Array(a * b + 1);
    if (a === 0 || b === 0) out[0] = 1;
    else {
      const fromA = dist(a - 1, b); // the largest is an x: it exceeds all b y's
      const fromB = dist(a, b - 1);
      fromA.forEach((c, k) => (out[k + b]! += c));
      fromB.forEach((c, k) => (out[k]! += c));
    }
    memo.set(key, out);
    return out;
  };
  const counts = dist(m, n);
  const total = counts.reduce((s, c) => s + c, 0);
  let below = 0;
  for (let k = 0; k <= Math.floor(u); k++) below += counts[k]!;
  return { u, p: below / total };
}

/** Held-out data, the same for every arm (fixed seeds, independent of the training seeds). */
interface EvalSet {
  text: Array<{ ids: Tensor; targets: Int32Array }>;
  /** cells[i]: one (length, distance) cell: batches with the controlled query of each row. */
  cells: Array<{ multiple: number; length: number; distance: number; batches: Array<{ ids: Tensor; queries: MultiQuery[] }> }>;
  analysis: MultiQueryEpisode[];
}

const EVAL_BATCH = 24;

function chunks<T>(xs: T[], size = EVAL_BATCH): T[][] {
  return Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));
}

function makeEvalSet(s: Settings, text: MarkovText): EvalSet {
  const g = new Generator(424_242);
  const T = s.context;
  const textBatches = chunks(Array.from({ length: s.evalText }, () => textDocument(T + 1, g, text))).map((rows) => {
    const batch = toBatch(rows);
    for (let i = 0; i < batch.targets.length; i++) if (i % T < 2) batch.targets[i] = -1; // score letters with two letters before them
    return { ids: batch.ids, targets: batch.targets };
  });
  const cells: EvalSet['cells'] = [];
  for (const multiple of s.evalMultiples) {
    const length = multiple * T;
    for (const distance of s.evalDistances) {
      if (distance > length - RECALL_BLOCK - 1) continue;
      const episodes = Array.from({ length: s.evalEpisodes }, () => multiQueryEpisode({ length: length + 1, pairs: s.pairs, distances: [distance], maxDistance: Math.min(length - RECALL_BLOCK, T - RECALL_BLOCK - 1), generator: g, text, values: 1, firstKey: RECALL_VOCAB.firstKey }));
      cells.push({ multiple, length, distance, batches: chunks(episodes).map((eps) => ({ ids: toBatch(eps.map((e) => e.tokens)).ids, queries: eps.map((e) => e.queries[0]!) })) });
    }
  }
  const analysis = Array.from({ length: s.analysisEpisodes }, () => multiQueryEpisode({ length: T + 1, pairs: s.pairs, generator: g, text, values: 1, firstKey: RECALL_VOCAB.firstKey }));
  return { text: textBatches, cells, analysis };
}

/** Queries whose value is the argmax at the position before it: predictions [B·T] (argmax per position). */
export function scoreRecall(predictions: ArrayLike<number>, T: number, queries: readonly MultiQuery[]): number {
  let hit = 0;
  queries.forEach((q, b) => {
    if (predictions[b * T + q.answerPositions[0]! - 1] === q.values[0]) hit++;
  });
  return hit;
}

// ── training ──────────────────────────────────────────────────────────────────────────────────────────────────────

export interface ArmRun {
  arm: Arm;
  seed: number;
  textLoss: number;
  /** Recall accuracy per evaluation cell (same order as Results.cells). */
  accuracy: number[];
  /** Mean accuracy over the cells with L′ > T and d > T (the headline metric). */
  beyond: number;
  /** Mean accuracy over the cells at L′ = T (the positive control). */
  atTrain: number;
  /** Mean accuracy over the cells with L′ > T and d ≤ T (longer sequences, trained distances). */
  nearLong: number;
  /** Largest mean mass at offset −1 on the repeated-token probe. */
  probeMass: number;
  /** Part A (p = 1 only; empty otherwise). */
  heads: HeadReport[];
  finalTrainLoss: number;
  seconds: number;
}

function buildModel(s: Settings, arm: Arm, seed: number, base: number): GPT {
  const headDim = s.dim / s.heads;
  // built without positions (the same init for every arm: no encoding here draws from the generator), then given the arm's
  const model = new GPT({ vocabSize: RECALL_VOCAB.size, contextLength: s.context, dim: s.dim, numLayers: s.layers, numHeads: s.heads, seed, positional: 'nope' });
  model.setPositional(armEncoding(arm, headDim, base));
  return model;
}

/** One model of `arm`, seed `seed` (init and data order shared by every arm), trained and measured. */
export function runArm(s: Settings, arm: Arm, seed: number, base: number, text: MarkovText, evalSet: EvalSet, onStep: () => void = () => {}): ArmRun {
  const started = performance.now();
  const model = buildModel(s, arm, seed, base);
  const g = new Generator(7919 * seed);
  const warmup = Math.max(1, Math.round(s.steps / 20));
  const V = RECALL_VOCAB.size;
  const result = train(model, () => {
    const episodes = Array.from({ length: s.batch }, () => multiQueryEpisode({ length: s.context + 1, pairs: s.pairs, generator: g, text, values: 1, firstKey: RECALL_VOCAB.firstKey }));
    const batch = toBatch(episodes.map((e) => e.tokens), episodes.map((e) => e.queries.map((q) => q.answerPositions[0]!)), s.answerWeight);
    const [B, T] = batch.ids.shape as [number, number];
    const ce = crossEntropy(model.forward(batch.ids).reshape([B * T, V]), batch.targets, { reduction: 'none' });
    const total = batch.weights.reduce((a, w) => a + w, 0);
    return ce.mul(new Tensor(batch.weights, [B * T]).cast(ce.dtype)).sum().mul(1 / total);
  }, {
    steps: s.steps, optimizer: new AdamW(model.parameters(), { lr: s.lr, weightDecay: 0 }), clipGradNorm: 1, output: null,
    schedule: (step) => s.lr * Math.min(1, (step + 1) / warmup) * (0.55 + 0.45 * Math.cos((Math.PI * step) / s.steps)),
    onStep,
  });
  const measured = noGrad(() => {
    let loss = 0;
    for (const { ids, targets } of evalSet.text) loss += crossEntropy(model.forward(ids), targets, { ignoreIndex: -1 }).item();
    const accuracy = evalSet.cells.map((cell) => {
      let hit = 0;
      let n = 0;
      for (const { ids, queries } of cell.batches) {
        hit += scoreRecall(argmax(model.forward(ids), -1).data, cell.length, queries);
        n += queries.length;
      }
      return hit / n;
    });
    return { textLoss: loss / evalSet.text.length, accuracy };
  });
  const T = s.context;
  const meanOf = (keep: (c: EvalSet['cells'][number]) => boolean): number => {
    const xs = evalSet.cells.flatMap((c, i) => (keep(c) ? [measured.accuracy[i]!] : []));
    return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
  };
  return {
    arm, seed, textLoss: measured.textLoss, accuracy: measured.accuracy,
    beyond: meanOf((c) => c.length > T && c.distance > T),
    atTrain: meanOf((c) => c.length === T),
    nearLong: meanOf((c) => c.length > T && c.distance <= T),
    probeMass: probeOffsetMass(model, T),
    heads: arm === 'p=1' ? analyseHeads(model, evalSet.analysis) : [],
    finalTrainLoss: result.losses.at(-1) ?? NaN,
    seconds: (performance.now() - started) / 1000,
  };
}

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

export interface PartA {
  /** Per seed: mean f̄ of its positional and semantic heads (NaN when a seed has none of a type). */
  positional: number[];
  semantic: number[];
  /** Counts of every type over all p = 1 heads. */
  counts: Record<HeadType, number>;
  /** Pooled over seeds: one-sided Mann–Whitney (positional f̄ < semantic f̄). */
  mannWhitney: { u: number; p: number };
  /** judgeOrdering on the per-seed means (lower f̄ first: positional), or null when a seed lacks a type. */
  ordering: OrderingJudgement | null;
  /** Share of the pooled q·k chunk mass in the slowest and in the fastest quarter of pairs. */
  slowShare: number;
  fastShare: number;
  /** Mean v frequency index over all heads, and the uniform profile's value (d/2 − 1)/2. */
  meanFv: number;
  uniformIndex: number;
  verdict: Verdict;
  reason: string;
}

export interface Results {
  settings: Settings;
  headDim: number;
  base: number;
  entropyRate: number;
  cells: Array<{ multiple: number; length: number; distance: number }>;
  runs: ArmRun[];
  /** Headline: long-distance recall beyond T, p = 0.75 > p = 1. */
  headline: OrderingJudgement;
  control: { passed: boolean; atTrain: Record<string, number[]> };
  /** Secondary: text-loss spread over the RoPE-family arms; reversed hurts local (text loss p = 1 < reversed); NoPE check. */
  textSpread: number;
  textFlat: boolean;
  local: OrderingJudgement;
  probe: { rope: number[]; nope: number[]; passed: boolean };
  partA: PartA;
  verdict: Verdict;
  reason: string;
  seconds: number;
}

/** The models of every arm and seed (p = 1 first within a seed, so the control and Part A come early). */
export function runExperiment(s: Settings, progress: (done: number, total: number, note?: string) => void = () => {}): Results {
  const started = performance.now();
  setNumThreads(1);
  const text = new MarkovText();
  const headDim = s.dim / s.heads;
  const base = gemmaRegimeBase(headDim, s.context);
  const evalSet = makeEvalSet(s, text);
  const runs: ArmRun[] = [];
  const total = ARMS.length * s.seeds * s.steps;
  let done = 0;
  for (let seed = 1; seed <= s.seeds; seed++) {
    for (const arm of ARMS) {
      const run = runArm(s, arm, seed, base, text, evalSet, () => progress(++done, total, `${arm}, seed ${seed}`));
      runs.push(run);
      progress(done, total, `${arm}, seed ${seed}: text ${run.textLoss.toFixed(3)}, recall at T ${pct(run.atTrain)}, beyond T ${pct(run.beyond)} (${run.seconds.toFixed(0)} s)`);
    }
  }
  return { ...judge(s, headDim, base, text.entropyRate, evalSet.cells.map(({ multiple, length, distance }) => ({ multiple, length, distance })), runs), seconds: (performance.now() - started) / 1000 };
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The pre-registered verdict and the secondary checks from the runs. */
export function judge(s: Settings, headDim: number, base: number, entropyRate: number, cells: Results['cells'], runs: ArmRun[]): Omit<Results, 'seconds'> {
  const per = (arm: Arm): ArmRun[] => runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
  const arms = (f: (r: ArmRun) => number): Record<string, number[]> => Object.fromEntries(ARMS.map((a) => [a, per(a).map(f)]));
  const headline = judgeOrdering(arms((r) => r.beyond), ['p=0.75', 'p=1'], 'higher');
  const atTrain = { 'p=1': per('p=1').map((r) => r.atTrain), 'p=0.75': per('p=0.75').map((r) => r.atTrain) };
  const controlPassed = [...atTrain['p=1'], ...atTrain['p=0.75']].every((a) => a >= CONTROL_THRESHOLD);
  const family: Arm[] = ['p=1', 'p=0.75', 'p=0.5', 'p=0.25', 'p=0.75-rev'];
  const textMeans = family.map((a) => summarize(per(a).map((r) => r.textLoss)).mean);
  const textSpread = Math.max(...textMeans) / Math.min(...textMeans) - 1;
  const local = judgeOrdering(arms((r) => r.textLoss), ['p=1', 'p=0.75-rev'], 'lower');
  const probe = { rope: per('p=1').map((r) => r.probeMass), nope: per('NoPE').map((r) => r.probeMass), passed: false };
  probe.passed = probe.rope.every((m) => m >= 0.9) && probe.nope.every((m) => m <= 0.5);
  const partA = judgePartA(per('p=1'), headDim);
  let verdict: Verdict;
  let reason: string;
  if (!controlPassed) {
    verdict = 'not reproduced';
    reason = `the positive control failed: recall at the training length (p = 1: ${atTrain['p=1'].map(pct).join(', ')}; p = 0.75: ${atTrain['p=0.75'].map(pct).join(', ')}) is below ${pct(CONTROL_THRESHOLD)} in some seed, so the toy did not learn the recall it is tested on`;
  } else {
    verdict = headline.verdict;
    reason = `long-distance recall beyond T, 0.75-RoPE > RoPE: ${headline.reason}; control passed (recall at T ≥ ${pct(CONTROL_THRESHOLD)} for p = 1 and p = 0.75 in every seed)`;
  }
  reason += `; secondary — text loss spread over the RoPE family ${(100 * textSpread).toFixed(1)} % (${textSpread <= TEXT_TOLERANCE ? 'small' : 'NOT small'}, tolerance ${100 * TEXT_TOLERANCE} %); `
    + `reversed hurts local (text loss p = 1 < 0.75-rev): ${local.verdict}; Part A (f̄ positional < semantic): ${partA.verdict} (${partA.reason}); `
    + `NoPE check (offset −1 on the repeated-token probe: RoPE ≥ 0.9, NoPE ≤ 0.5): ${probe.passed ? 'passed' : 'failed'}`;
  return {
    settings: s, headDim, base, entropyRate, cells, runs, headline, control: { passed: controlPassed, atTrain }, textSpread, textFlat: textSpread <= TEXT_TOLERANCE,
    local, probe, partA, verdict, reason,
  };
}

function judgePartA(ropeRuns: ArmRun[], headDim: number): PartA {
  const meanFq = (heads: HeadReport[]): number => (heads.length > 0 ? heads.reduce((a, h) => a + h.fq, 0) / heads.length : NaN);
  const positional = ropeRuns.map((r) => meanFq(r.heads.filter((h) => h.type === 'positional')));
  const semantic = ropeRuns.map((r) => meanFq(r.heads.filter((h) => h.type === 'semantic')));
  const all = ropeRuns.flatMap((r) => r.heads);
  const counts: Record<HeadType, number> = { positional: 0, semantic: 0, both: 0, other: 0 };
  for (const h of all) counts[h.type]++;
  const mannWhitney = mannWhitneyLess(all.filter((h) => h.type === 'positional').map((h) => h.fq), all.filter((h) => h.type === 'semantic').map((h) => h.fq));
  const complete = positional.every(Number.isFinite) && semantic.every(Number.isFinite);
  const ordering = complete ? judgeOrdering({ positional, semantic }, ['positional', 'semantic'], 'lower') : null;
  const pairs = headDim / 2;
  const pooled = new Array<number>(pairs).fill(0);
  for (const h of all) h.profile.forEach((m, k) => (pooled[k]! += m));
  const mass = pooled.reduce((a, b) => a + b, 0);
  const quarter = Math.max(1, Math.floor(pairs / 4));
  const slowShare = mass > 0 ? pooled.slice(pairs - quarter).reduce((a, b) => a + b, 0) / mass : NaN;
  const fastShare = mass > 0 ? pooled.slice(0, quarter).reduce((a, b) => a + b, 0) / mass : NaN;
  const meanFv = all.length > 0 ? all.reduce((a, h) => a + h.fv, 0) / all.length : NaN;
  let verdict: Verdict;
  let reason: string;
  if (ordering === null) {
    verdict = 'not reproduced';
    reason = `not every seed has both head types (positional per seed: ${ropeRuns.map((r) => r.heads.filter((h) => h.type === 'positional').length).join(', ')}; semantic: ${ropeRuns.map((r) => r.heads.filter((h) => h.type === 'semantic').length).join(', ')})`;
  } else if (!(mannWhitney.p <= 0.1)) {
    verdict = ordering.verdict === 'not reproduced' ? 'not reproduced' : 'partly';
    reason = `${ordering.reason}; pooled rank test p = ${mannWhitney.p.toFixed(3)} > 0.1`;
  } else {
    verdict = ordering.verdict;
    reason = `${ordering.reason}; pooled rank test p = ${mannWhitney.p.toFixed(3)}`;
  }
  return { positional, semantic, counts, mannWhitney, ordering, slowShare, fastShare, meanFv, uniformIndex: (pairs - 1) / 2, verdict, reason };
}

// ── report ────────────────────────────────────────────────────────────────────────────────────────────────────────

const range = (xs: number[], digits: number, scale = 1): string => {
  const finite = xs.filter(Number.isFinite);
  if (finite.length === 0) return 'n/a';
  return meanRange(finite.map((x) => x * scale), (v) => v.toFixed(digits));
};

export function formatTable(res: Results): string {
  const { settings: s } = res;
  const T = s.context;
  const per = (arm: Arm): ArmRun[] => res.runs.filter((r) => r.arm === arm).sort((a, b) => a.seed - b.seed);
  const longest = s.evalMultiples.at(-1)! * T;
  const farCells = res.cells.map((c, i) => [c, i] as const).filter(([c]) => c.length === longest);
  const rows = ARMS.map((arm) => {
    const runs = per(arm);
    const curve = farCells.map(([, i]) => (100 * runs.reduce((a, r) => a + r.accuracy[i]!, 0)) / runs.length);
    return `| ${arm} | ${range(runs.map((r) => r.textLoss), 3)} | ${range(runs.map((r) => r.atTrain), 1, 100)} | ${range(runs.map((r) => r.nearLong), 1, 100)} | ${range(runs.map((r) => r.beyond), 1, 100)} | ${runs.map((r) => (100 * r.beyond).toFixed(1)).join(', ')} | ${curve.map((a) => a.toFixed(0)).join(' ')} |`;
  });
  const a = res.partA;
  const heads = res.runs.filter((r) => r.arm === 'p=1').flatMap((r) => r.heads.map((h) => `s${r.seed} L${h.layer}H${h.head} ${h.type[0]} f̄ ${h.fq.toFixed(2)} (off ${h.offset}: ${h.offsetMass.toFixed(2)}, mark ${h.markMass.toFixed(2)})`));
  return [
    `G1 text + ${s.pairs}-pair associative recall (own keys), T = ${T}; GPT ${s.layers} layers, dim ${s.dim}, ${s.heads} heads (d_head ${res.headDim}), base ${res.base.toFixed(0)} (Gemma regime); ${s.steps} steps × ${s.batch}, answers ×${s.answerWeight}; ${s.seeds} seeds; text floor ${res.entropyRate.toFixed(3)} nats`,
    '',
    `| arm | text loss @T | recall % @T | recall % L′>T, d≤T | recall % L′>T, d>T (headline) | per seed | recall % @L′=${longest}, d = ${farCells.map(([c]) => c.distance).join(' ')} |`,
    '|---|---:|---:|---:|---:|---|---|',
    ...rows,
    '',
    `headline (recall beyond T, p=0.75 > p=1): ${res.headline.verdict} — ${res.headline.reason}`,
    `positive control (recall @T ≥ ${pct(CONTROL_THRESHOLD)} for p=1 and p=0.75, every seed): ${res.control.passed ? 'passed' : 'FAILED'}`,
    `text-loss spread over the RoPE family: ${(100 * res.textSpread).toFixed(1)} % (${res.textFlat ? 'small' : 'NOT small'}); reversed hurts local (text loss p=1 < 0.75-rev): ${res.local.verdict} — ${res.local.reason}`,
    `NoPE check, max mass at offset −1 on a repeated token: RoPE ${res.probe.rope.map((m) => m.toFixed(2)).join(', ')}; NoPE ${res.probe.nope.map((m) => m.toFixed(2)).join(', ')} (${res.probe.passed ? 'passed' : 'failed'})`,
    `Part A (p=1): heads ${Object.entries(a.counts).map(([k, v]) => `${k} ${v}`).join(', ')}; f̄ positional ${range(a.positional, 2)}, semantic ${range(a.semantic, 2)} (uniform ${a.uniformIndex.toFixed(1)}); Mann–Whitney p = ${Number.isFinite(a.mannWhitney.p) ? a.mannWhitney.p.toFixed(3) : 'n/a'}; q·k mass slowest quarter ${pct(a.slowShare)}, fastest ${pct(a.fastShare)}; mean v f̄ ${a.meanFv.toFixed(2)} → ${a.verdict}: ${a.reason}`,
    `heads: ${heads.join('; ')}`,
    `verdict: ${res.verdict} — ${res.reason}`,
  ].join('\n');
}

export function chart(res: Results): string {
  const { settings: s } = res;
  const longest = s.evalMultiples.at(-1)! * s.context;
  const idx = res.cells.map((c, i) => [c, i] as const).filter(([c]) => c.length === longest);
  return lineChart({
    title: `Recall vs distance at L′ = ${longest} (${longest / s.context}× the training length ${s.context}; mean of ${s.seeds} seeds)`,
    xLabel: 'distance QUERY − MARK (tokens)', yLabel: 'recall accuracy (%)',
    series: [
      ...ARMS.map((arm) => {
        const runs = res.runs.filter((r) => r.arm === arm);
        return { name: arm, points: idx.map(([c, i]) => [c.distance, (100 * runs.reduce((a, r) => a + r.accuracy[i]!, 0)) / runs.length] as const) };
      }),
      { name: `training length ${s.context}`, points: [[s.context, 0], [s.context, 100]], color: '#888888', dash: '4 4' },
    ],
  });
}

export function toResult(res: Results): ReproductionResult {
  const summary = ARMS.map((a) => `${a} ${range(res.runs.filter((r) => r.arm === a).map((r) => r.beyond), 1, 100)}%`).join(', ');
  return {
    verdict: res.verdict,
    summary: `recall beyond the training length (L′ = 2–4×T, d > T): ${summary}; Part A f̄ positional ${range(res.partA.positional, 2)} vs semantic ${range(res.partA.semantic, 2)}`,
    reason: res.reason, table: formatTable(res), svg: chart(res), data: res,
  };
}

export const reproduction: Reproduction = {
  name: 'prope-frequency',
  paper: 'Barbero, Vitvitskyi, Perivolaropoulos, Pascanu, Veličković — Round and Round We Go! What makes Rotary Positional Encodings useful? (ICLR 2025, arXiv 2410.06205)',
  claim:
    'Gemma-7B uses RoPE\'s frequencies by role: q/k chunk norms concentrate at the lowest frequencies (semantic channels) in every layer, while '
    + 'positional (diagonal / previous-token) heads use the highest; low-frequency semantic channels are not robust over long contexts (Thm 6.1). '
    + 'Hence p-RoPE, which turns the slowest pairs into NoPE channels: Gemma-2B from scratch (Wiki / FlanV2 ppl) 0.75-RoPE 4.4414 / 6.4422 vs '
    + 'RoPE 4.4627 / 6.4429, 0.75-RoPE-reversed 4.4592 / 6.4683, 0.25-RoPE 4.5302 / 6.5111, NoPE 4.8594 / 6.6429.',
  setup: `G1 Markov text + ${FULL.pairs}-pair associative recall with keys outside the filler's vocabulary, T = ${FULL.context}; GPT ${FULL.layers}L dim ${FULL.dim}, `
    + `${FULL.heads} heads (d_head ${FULL.dim / FULL.heads}), base ${gemmaRegimeBase(FULL.dim / FULL.heads, FULL.context).toFixed(0)} (Gemma regime); arms p = 1, 0.75, 0.5, 0.25, `
    + `0.75-reversed, NoPE; ${FULL.steps} AdamW steps × ${FULL.batch}; ${FULL.seeds} seeds; recall at L′ = ${FULL.evalMultiples.join(', ')}×T, text loss at T; `
    + 'Part A: q/k chunk-norm frequency index of positional vs semantic heads of the p = 1 models',
  criterion:
    'Headline (the verdict): long-distance recall beyond the training length — mean recall accuracy over the cells with L′ ∈ {2, 3, 4}×T and '
    + 'distance d > T — is higher for 0.75-RoPE than for RoPE, judged by judgeOrdering(\'higher\') (every seed in order and the mean gap > 2× the '
    + `larger seed range → reproduced; means in order → partly). Positive control: recall at the training length ≥ ${100 * CONTROL_THRESHOLD} % for both `
    + 'p = 1 and p = 0.75 in every seed, else not reproduced. Secondary (reported, not in the verdict): text-loss spread over p = 1, 0.75, 0.5, 0.25, '
    + `0.75-rev within ${100 * TEXT_TOLERANCE} % ("ppl gaps small"); reversed hurts local (text loss p = 1 < 0.75-rev, judgeOrdering); Part A on the p = 1 `
    + `models: heads typed positional (≥ ${100 * POSITIONAL_MASS} % mass at offset 0, −1 or −2) or semantic (≥ ${100 * SEMANTIC_MASS} % of the query's mass on the `
    + 'matching MARK block), f̄ positional < semantic per seed (judgeOrdering \'lower\') and pooled one-sided Mann–Whitney p ≤ 0.1; NoPE check: '
    + 'offset −1 mass on a repeated token ≥ 0.9 for RoPE, ≤ 0.5 for NoPE.',
  falsifier:
    'With the control passing, RoPE recalls as well as or better than 0.75-RoPE beyond the training length (means not in order); for Part A, no '
    + 'separation of f̄ between positional and semantic heads (rank test p > 0.1, seeds pooled).',
  minutes: 8,
  examination:
    'Why the positive control failed: no arm learned the MARK/QUERY recall at all (9–11 % at the training length, chance 10 %), so neither ' +
    'the p-RoPE sweep nor the head typing (0 positional and 0 semantic heads found) could show anything. Pilots before the run stayed at the ' +
    'chance loss ln 10 for 400–600 steps (d 32 and d 64, lr 3e-3 to 1e-2, 4 or 6 pairs). It is the same failure as base-bound-retrieval\'s ' +
    'and context-extension\'s (see their examinations): the engine learns induction fast on dense copying, but a recall lookup supervised ' +
    'on a few answer tokens inside filler needs thousands of steps (answer-only multi-query recall reached 31.6 % after 1500 and 49.4 % ' +
    'after 4000 steps in a diagnostic). What would settle it: the spec\'s 1000+ steps at d 128 (about 10× this budget), or answer-dominated training long enough ' +
    'for recall at T to pass 80 % before the arms are compared.',
  async run({ quick, progress }) {
    return toResult(runExperiment(quick ? QUICK : FULL, progress));
  },
};

// ── command line ──────────────────────────────────────────────────────────────────────────────────────────────────

interface Flags {
  quick: boolean;
  seeds: number | null;
  steps: number | null;
  json: boolean;
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/prope-frequency.ts [flags]

Round and Round We Go (Barbero et al. 2025) at toy scale: (A) q/k frequency usage of positional vs semantic heads of a
RoPE GPT trained on G1 text + associative recall; (B) p-RoPE sweep (p = 1, 0.75, 0.5, 0.25, 0.75-reversed, NoPE),
recall at 1–4× the training length and text loss.

  --quick        a seconds-long run of every code path (its numbers mean nothing)
  --seeds N      seeds per arm (default ${FULL.seeds})
  --steps N      training steps per model (default ${FULL.steps})
  --json         print the results as JSON
  --help         this text`;

function main(): void {
  const flags = readFlags<Flags>('prope-frequency', HELP, { quick: false, seeds: null, steps: null, json: false }, {
    values: {
      seeds: (f, v) => (f.seeds = integerFlag(v, 1)),
      steps: (f, v) => (f.steps = integerFlag(v, 1)),
    },
    switches: { quick: (f) => (f.quick = true), json: (f) => (f.json = true) },
  });
  const start = flags.quick ? QUICK : FULL;
  const s: Settings = { ...start, seeds: flags.seeds ?? start.seeds, steps: flags.steps ?? start.steps };
  const log = (line: string): void => {
    if (!flags.json) console.log(line);
  };
  log(`node scripts/run.mjs scripts/experiments/prope-frequency.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  let last = 0;
  const res = runExperiment(s, (done, total, note) => {
    const now = performance.now();
    if (note?.includes(':') === true || now - last > 30_000) {
      last = now;
      log(`  ${done}/${total} ${note ?? ''}`);
    }
  });
  log(`\n${formatTable(res)}`);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/prope-frequency.svg', chart(res));
  log(`\nwrote out/prope-frequency.svg; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify(res));
}

if (isEntryPoint(import.meta.url, 'prope-frequency')) main();
