/**
 * Issue 17 (#2, ../shared/specs/reproductions.md §3) — context extension at toy scale: Position Interpolation (Chen
 * et al., arXiv 2306.15595, 2023), NTK-aware scaling (bloc97, 2023), dynamic NTK (emozilla, 2023), NTK-by-parts and
 * YaRN (Peng et al., ICLR 2024, arXiv 2309.00071; jquesnelle/yarn), Llama-3 scaling (HF transformers
 * `_compute_llama3_parameters`) and LongRoPE (Ding et al., ICML 2024, arXiv 2402.13753), zero-shot, on a small GPT
 * pretrained at L = 128 with a regime-matched RoPE base (§1.3 G4).
 *
 * Stage A (per seed): a GPT (2 layers, dim 64, 2 heads of d_head 32) with RoPE base b is trained at L = 128 on G1
 * Markov text rows and G2 passkey rows (`MARK k v1 v2 v3` at a distance uniform in [5, L − 5] before the closing
 * `QUERY k v1 v2 v3`), 4 and 12 of every 16. The loss is answer-dominated: every token of the text rows weighs 1, the
 * three answer tokens of a passkey row `--answer-weight` (14 ≈ 512 text tokens / 36 answers, so the two halves weigh
 * alike) and its filler `--filler-weight` (0); 5000 AdamW steps of 16 × 128 at peak lr 1.5e-3 (the third protocol; the
 * second ran 3000 at 3e-3 and one seed did not learn the text).
 *   b is matched by G4's rule: L/λ_max equals LLaMA-2's 4096/(2π·10000^{126/128}) = 0.0753, λ_max = 2π·b^{(d−2)/d},
 *   so b = (L/(2π·0.0753))^{d/(d−2)} — 393 for d_head 32 (the spec's ≈ 400, used here), 602 for d_head 16.
 * The first protocol (FIRST_PROTOCOL_FLAGS: 4 heads of 16, every row a passkey episode with answers ×5 in the full
 * next-token loss, 800 steps) never learned to retrieve; it stays the Stage A of context-extension-ft.ts.
 * Stage B: every arm's table for s = L′/L is swapped in with GPT.setPositional, no training, at L′ ∈ {128, 256, 512}:
 *   extrapolation  θ_i unchanged (RoPE past its training length)
 *   pi             θ′_i = θ_i/s                                                             (positional/pi.ts)
 *   ntk            θ′_i = (b·s^{d/(d−2)})^{−2i/d}                                            (positional/ntk.ts)
 *   dynamic-ntk    DynamicNTKRoPE, factor 1: b′ = b·(ℓ/L)^{d/(d−2)} for the current length ℓ (positional/ntk.ts)
 *   ntk-by-parts   θ′_i = (1 − γ_i)·θ_i + γ_i·θ_i/s, γ the HF ramp with α = 1, β = 4 (G5)   (positional/yarn.ts)
 *   yarn           ntk-by-parts + cos/sin × (0.1·ln s + 1)                                   (positional/yarn.ts)
 *   llama3         θ′_i by wavelength: kept if L/λ_i > 4, θ_i/s if < 1, linear in L/λ_i between (positional/llama3.ts)
 *   longrope-lite  θ′_i = θ_i/λ_i, λ non-decreasing in i, found by a coordinate search on held-out loss; the first n̂
 *                  positions un-interpolated; Phi-3's cos/sin factor √(1 + ln s/ln L) or 1, chosen by the search
 *                  (positional/longrope.ts for θ/λ and the factor; the n̂ rule is LongRoPELite below)
 * At s = 1 (L′ = L) every arm's table is the base model's, so L′ = 128 is measured once per seed.
 * Metrics per (arm, L′): text loss (nats/token, mean over all L′ positions of `--text` G1 sequences; dynamic NTK
 * scored as it runs, each chunk of 64 tokens with the table for the prefix that ends it) and passkey accuracy (all
 * three digits right under teacher forcing) at `--distances` distances evenly spaced in [5, L′ − 5], `--trials` each;
 * k_max as PI defines it: the largest distance k such that every distance k′ ≤ k has ≥ 20 % success.
 *
 * Stage C (fine-tuning at 512) is its own reproduction, context-extension-ft.ts, on the same Stage-A models (`pretrainBase`).
 *
 * Usage: node scripts/run.mjs scripts/experiments/context-extension.ts [--quick] [--seeds N] [--steps N] [--json] [--help]
 *          [--batch B] [--lr X] [--distances N] [--trials N] [--text N] [--answer-weight W] [--filler-weight W] [--sweeps N]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  AdamW, Generator, Tensor, argmax, crossEntropy, noGrad, setNumThreads,
} from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { train } from '../../nn/train.js';
import { PositionalEncoding, type EncodedQK, type Positions } from '../../positional/encoding.js';
import { llama3InvFreq } from '../../positional/llama3.js';
import { longRopeAttentionFactor, longRopeInvFreq } from '../../positional/longrope.js';
import { DynamicNTKRoPE, ntkInvFreq } from '../../positional/ntk.js';
import { piInvFreq } from '../../positional/pi.js';
import { RoPE, applyRotary, invFreqLadder } from '../../positional/rope.js';
import { yarnAttentionFactor, yarnInvFreq } from '../../positional/yarn.js';
import { integerFlag, numberFlag, readFlags } from '../lib/flags.js';
import { isEntryPoint } from '../lib/entry.js';
import type { Reproduction, ReproductionResult } from '../lib/reproduction.js';
import { VERDICT_RANK, judgeOrdering, summarize, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart, type LineSeries } from '../lib/svg.js';
import { MarkovText, RETRIEVAL_BLOCK, TOY_VOCAB, regimeMatchedBase, retrievalEpisode, textDocument } from '../lib/toy-data.js';

// ── data ──────────────────────────────────────────────────────────────────────────────────────────────────────────

/** A training or held-out batch: ids [B, T], next-token targets [B·T] and loss weights [B·T]. */
export interface WeightedBatch {
  ids: Tensor;
  targets: Int32Array;
  weights: Float64Array;
}

/**
 * The Stage-A mix for sequences of T input tokens: the first B − `episodes` rows G1 text, the last `episodes` rows
 * passkey episodes (length T + 1, distance uniform in [RETRIEVAL_BLOCK, T − RETRIEVAL_BLOCK], G1 filler) whose three
 * answer targets weigh `answerWeight` and whose other targets weigh `fillerWeight`; the text rows' targets weigh 1.
 */
export function mixedBatch(B: number, T: number, g: Generator, text: MarkovText, answerWeight: number, episodes: number, fillerWeight = 1): WeightedBatch {
  const seqs: Int32Array[] = [];
  const answers: number[][] = [];
  for (let b = 0; b < B; b++) {
    if (b < B - episodes) {
      seqs.push(textDocument(T + 1, g, text));
      answers.push([]);
    } else {
      const e = retrievalEpisode({ length: T + 1, distance: g.int(RETRIEVAL_BLOCK, T - RETRIEVAL_BLOCK + 1), generator: g, text });
      seqs.push(e.tokens);
      answers.push(e.answerPositions.map((p) => p - 1)); // the input position that predicts the answer token
    }
  }
  const batch = shifted(seqs, T);
  batch.weights.fill(fillerWeight, (B - episodes) * T);
  for (let b = 0; b < B; b++) for (const t of answers[b]!) batch.weights[b * T + t] = answerWeight;
  return batch;
}

/** Sequences of T + 1 tokens → ids (the first T), targets (the last T), weights 1. */
function shifted(seqs: readonly Int32Array[], T: number): WeightedBatch {
  const B = seqs.length;
  const ids = new Float64Array(B * T);
  const targets = new Int32Array(B * T);
  seqs.forEach((s, b) => {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = s[t]!;
      targets[b * T + t] = s[t + 1]!;
    }
  });
  return { ids: new Tensor(ids, [B, T]), targets, weights: new Float64Array(B * T).fill(1) };
}

/** Weighted mean next-token loss of a batch: Σ w·CE / Σ w (differentiable). */
export function weightedLoss(model: GPT, batch: WeightedBatch): Tensor {
  const [B, T] = batch.ids.shape as [number, number];
  const V = model.config.vocabSize;
  const total = batch.weights.reduce((a, w) => a + w, 0);
  const ce = crossEntropy(model.forward(batch.ids).reshape([B * T, V]), batch.targets, { reduction: 'none' });
  return ce.mul(new Tensor(Float64Array.from(batch.weights), [B * T]).cast(ce.dtype)).sum().mul(1 / total);
}

/** `n` distances evenly spaced in [RETRIEVAL_BLOCK, T − RETRIEVAL_BLOCK] (PI's uniform grid over the window). */
export function passkeyDistances(T: number, n: number): number[] {
  const lo = RETRIEVAL_BLOCK;
  const hi = T - RETRIEVAL_BLOCK;
  if (n === 1) return [hi];
  return Array.from({ length: n }, (_, j) => Math.round(lo + (j * (hi - lo)) / (n - 1)));
}

/** PI's k_max: the largest distance k such that every distance k′ ≤ k has success ≥ threshold (0 if the first fails). */
export function kMax(distances: readonly number[], accuracy: readonly number[], threshold = 0.2): number {
  let k = 0;
  for (let j = 0; j < distances.length; j++) {
    if (accuracy[j]! < threshold) break;
    k = distances[j]!;
  }
  return k;
}

// ── the arms ──────────────────────────────────────────────────────────────────────────────────────────────────────

export const ARMS = ['extrapolation', 'pi', 'ntk', 'dynamic-ntk', 'ntk-by-parts', 'yarn', 'llama3', 'longrope-lite'] as const;
export type ArmName = (typeof ARMS)[number];

/** What an arm's table is built from. */
export interface ArmSpec {
  headDim: number;
  base: number;
  /** L, the training context. */
  trainLength: number;
  /** s = L′/L ≥ 1. */
  factor: number;
  /** The by-parts ramp: pairs turning ≤ alpha times in L are interpolated, ≥ beta times kept (G5: 1 and 4). */
  alpha: number;
  beta: number;
}

/** LongRoPE-lite's searched parameters. */
export interface LongRoPEParams {
  /** Per-pair rescale λ [d/2], non-decreasing in the pair index. */
  lambda: number[];
  /** The first `leading` positions keep θ (LongRoPE's n̂). */
  leading: number;
  /** Multiplier on cos and sin. */
  attentionFactor: number;
}

/**
 * LongRoPE with n̂ un-interpolated leading tokens (LongRoPE §3.2): angle(m, i) = m·θ_i for m < n̂, m·θ_i/λ_i after,
 * θ_i/λ_i from positional/longrope.ts; q and k rotated by applyRotary ('half' pairs, as RoPE) and scaled by the
 * attention factor. The library's LongRoPE has no n̂ (HF's has none either), hence this small encoding here.
 */
export class LongRoPELite extends PositionalEncoding {
  readonly name = 'longrope-lite';
  readonly theta: Float64Array;
  readonly scaled: Float64Array;

  constructor(readonly headDim: number, readonly base: number, readonly trainLength: number, readonly params: LongRoPEParams) {
    super();
    this.theta = invFreqLadder(headDim, base);
    this.scaled = longRopeInvFreq({
      dim: headDim, base, shortFactor: new Array<number>(headDim / 2).fill(1), longFactor: params.lambda, originalMaxPositions: trainLength, seqLen: trainLength + 1,
    });
  }

  /** Angles [T, d/2] for positions [T]. */
  angles(positions: Positions): Tensor {
    const P = this.theta.length;
    const out = new Float64Array(positions.size * P);
    for (let t = 0; t < positions.size; t++) {
      const m = positions.data[t]!;
      const table = m < this.params.leading ? this.theta : this.scaled;
      for (let i = 0; i < P; i++) out[t * P + i] = m * table[i]!;
    }
    return new Tensor(out, [positions.size, P]);
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    const options = { layout: 'half' as const, scale: this.params.attentionFactor };
    return { q: applyRotary(q, this.angles(qPositions), options), k: applyRotary(k, this.angles(kPositions), options) };
  }
}

/** The by-parts inverse frequencies (HF YaRN ramp with betaFast = β, betaSlow = α), without YaRN's temperature. */
function byPartsInvFreq(spec: ArmSpec): Float64Array {
  return yarnInvFreq({ dim: spec.headDim, base: spec.base, factor: spec.factor, originalMaxPositions: spec.trainLength, betaFast: spec.beta, betaSlow: spec.alpha });
}

/** The inverse-frequency table of a static arm at factor s (dynamic NTK: its table at ℓ = s·L). */
export function armInvFreq(arm: Exclude<ArmName, 'longrope-lite'>, spec: ArmSpec): Float64Array {
  const { headDim: dim, base, factor, trainLength } = spec;
  switch (arm) {
    case 'extrapolation': return invFreqLadder(dim, base);
    case 'pi': return piInvFreq({ dim, base, factor });
    case 'ntk': return ntkInvFreq({ dim, base, factor });
    case 'dynamic-ntk': return new DynamicNTKRoPE(dim, { base, factor: 1, maxPositions: trainLength }).updateFor(Math.round(factor * trainLength));
    case 'ntk-by-parts': case 'yarn': return byPartsInvFreq(spec);
    case 'llama3': return llama3InvFreq({ dim, base, factor, originalMaxPositions: trainLength, lowFreqFactor: spec.alpha, highFreqFactor: spec.beta });
  }
}

/** The encoding an arm swaps in for s = spec.factor (a fresh DynamicNTKRoPE: its table follows each call's length). */
export function armEncoding(arm: ArmName, spec: ArmSpec, longrope?: LongRoPEParams): PositionalEncoding {
  const { headDim, base, factor, trainLength } = spec;
  if (arm === 'dynamic-ntk') return new DynamicNTKRoPE(headDim, { base, factor: 1, maxPositions: trainLength });
  if (arm === 'longrope-lite') {
    if (longrope === undefined) throw new Error('armEncoding: longrope-lite needs its searched parameters');
    return new LongRoPELite(headDim, base, trainLength, longrope);
  }
  const attentionFactor = arm === 'yarn' ? yarnAttentionFactor({ factor }) : 1;
  return new RoPE(headDim, { invFreq: armInvFreq(arm, spec), attentionFactor });
}

// ── evaluation ────────────────────────────────────────────────────────────────────────────────────────────────────

const EVAL_BATCH = 8;

/** Per-token losses [B·T] of sequences of T + 1 tokens under the model's current encoding. */
export function tokenLosses(model: GPT, seqs: readonly Int32Array[], T: number): Float64Array {
  const batch = shifted(seqs, T);
  const ce = crossEntropy(model.forward(batch.ids).reshape([seqs.length * T, model.config.vocabSize]), batch.targets, { reduction: 'none' });
  return Float64Array.from(ce.data);
}

/** Mean next-token loss over all T positions of sequences of T + 1 tokens. */
export function textLoss(model: GPT, seqs: readonly Int32Array[], T: number, onBatch: (tokens: number) => void = () => {}): number {
  return noGrad(() => {
    let total = 0;
    for (let s = 0; s < seqs.length; s += EVAL_BATCH) {
      const chunk = seqs.slice(s, s + EVAL_BATCH);
      total += tokenLosses(model, chunk, T).reduce((a, v) => a + v, 0);
      onBatch(chunk.length * T);
    }
    return total / (seqs.length * T);
  });
}

/**
 * Dynamic NTK's text loss as it runs: positions [0, L) from the prefix of length L (plain RoPE), then each chunk
 * [ℓ − chunk, ℓ) from the prefix of length ℓ = L + chunk, L + 2·chunk, …, T, with a fresh DynamicNTKRoPE per prefix
 * (its table follows ℓ; HF's state machine would keep a grown table across shorter calls).
 */
export function dynamicTextLoss(model: GPT, seqs: readonly Int32Array[], T: number, spec: ArmSpec, chunk: number, onBatch: (tokens: number) => void = () => {}): number {
  return noGrad(() => {
    let total = 0;
    const ends: number[] = [];
    for (let end = Math.min(spec.trainLength, T); end < T; end += chunk) ends.push(end);
    ends.push(T);
    for (let s = 0; s < seqs.length; s += EVAL_BATCH) {
      const batch = seqs.slice(s, s + EVAL_BATCH);
      let from = 0;
      for (const end of ends) {
        model.setPositional(armEncoding('dynamic-ntk', spec));
        const losses = tokenLosses(model, batch.map((q) => q.subarray(0, end + 1)), end);
        for (let b = 0; b < batch.length; b++) for (let t = from; t < end; t++) total += losses[b * end + t]!;
        onBatch(batch.length * end);
        from = end;
      }
    }
    return total / (seqs.length * T);
  });
}

/** One passkey trial: the episode (T + 1 tokens) and the input positions that predict its three digits. */
export interface PasskeyTrial {
  tokens: Int32Array;
  distance: number;
  values: [number, number, number];
}

/** `trials` episodes at each distance, for inputs of T tokens. */
export function passkeyTrials(T: number, distances: readonly number[], trials: number, g: Generator, text: MarkovText): PasskeyTrial[] {
  return distances.flatMap((distance) => Array.from({ length: trials }, () => {
    const e = retrievalEpisode({ length: T + 1, distance, generator: g, text });
    return { tokens: e.tokens, distance, values: e.values };
  }));
}

/** Whether each trial's three digits are all the argmax under teacher forcing (positions T − 3, T − 2, T − 1). */
export function passkeyHits(model: GPT, trials: readonly PasskeyTrial[], T: number, onBatch: (tokens: number) => void = () => {}): boolean[] {
  return noGrad(() => {
    const hits: boolean[] = [];
    const V = model.config.vocabSize;
    for (let s = 0; s < trials.length; s += EVAL_BATCH) {
      const chunk = trials.slice(s, s + EVAL_BATCH);
      const ids = new Tensor(Float64Array.from(chunk.flatMap((tr) => Array.from(tr.tokens.subarray(0, T)))), [chunk.length, T]);
      const logits = model.forward(ids); // [B, T, V]
      const pred = argmax(logits.reshape([chunk.length * T, V]), -1).data;
      chunk.forEach((tr, b) => hits.push(tr.values.every((v, j) => pred[b * T + T - 3 + j] === v)));
      onBatch(chunk.length * T);
    }
    return hits;
  });
}

/** Accuracy per distance (trials grouped by their distance, in `distances` order). */
export function accuracyByDistance(trials: readonly PasskeyTrial[], hits: readonly boolean[], distances: readonly number[]): number[] {
  return distances.map((d) => {
    const mine = hits.filter((_, i) => trials[i]!.distance === d);
    return mine.filter(Boolean).length / mine.length;
  });
}

/** Everything measured for one arm at one length. */
export interface ArmMeasure {
  textLoss: number;
  /** Accuracy per distance (`distances` of that length). */
  accuracy: number[];
  /** Mean over all distances. */
  passkey: number;
  /** Mean over the distances beyond the training length (NaN when there are none). */
  passkeyBeyond: number;
  kMax: number;
}

// ── LongRoPE-lite search ──────────────────────────────────────────────────────────────────────────────────────────

/** The rescale grid for factor s: 1, four steps to s, and 1.25·s (LongRoPE's λ ≤ 1.25·s bound). */
export function lambdaGrid(s: number): number[] {
  return [...new Set([1, ...[1, 2, 3, 4].map((k) => 1 + ((s - 1) * k) / 4), 1.25 * s])].sort((a, b) => a - b);
}

/** λ_i = θ_i/θ′_i of a table (the rescale a static rule applies to pair i). */
function impliedLambda(theta: Float64Array, scaled: Float64Array): number[] {
  return Array.from(theta, (t, i) => t / scaled[i]!);
}

/**
 * LongRoPE-lite's search (LongRoPE §3.2, reduced to a coordinate search): start from the best of PI, NTK, by-parts
 * and Llama-3's implied λ (LongRoPE seeds its population with them), then per pair i (fastest first) try every grid
 * value within [λ_{i−1}, λ_{i+1}] (monotone non-decreasing, LongRoPE's constraint), `sweeps` times; then n̂ ∈
 * {0, 2, 4, 8} and the attention factor ∈ {1, √(1 + ln s/ln L)}. Objective: the Stage-A weighted loss on held-out
 * sequences of the target length (text and passkey episodes). `evaluate` counts the objective's calls.
 */
export function searchLongRoPE(spec: ArmSpec, objective: (p: LongRoPEParams) => number, sweeps: number): { params: LongRoPEParams; loss: number; evaluations: number } {
  let evaluations = 0;
  const score = (p: LongRoPEParams): number => {
    evaluations++;
    return objective(p);
  };
  const theta = invFreqLadder(spec.headDim, spec.base);
  const starts = (['pi', 'ntk', 'ntk-by-parts', 'llama3'] as const).map((arm) => impliedLambda(theta, armInvFreq(arm, spec)));
  let best: LongRoPEParams = { lambda: starts[0]!, leading: 0, attentionFactor: 1 };
  let bestLoss = Infinity;
  for (const lambda of starts) {
    const p = { lambda, leading: 0, attentionFactor: 1 };
    const l = score(p);
    if (l < bestLoss) [best, bestLoss] = [p, l];
  }
  const grid = lambdaGrid(spec.factor);
  for (let sweep = 0; sweep < sweeps; sweep++) {
    for (let i = 0; i < best.lambda.length; i++) {
      const lo = i === 0 ? 1 : best.lambda[i - 1]!;
      const hi = i === best.lambda.length - 1 ? Infinity : best.lambda[i + 1]!;
      for (const v of grid) {
        if (v < lo || v > hi || v === best.lambda[i]) continue;
        const lambda = best.lambda.slice();
        lambda[i] = v;
        const p = { ...best, lambda };
        const l = score(p);
        if (l < bestLoss) [best, bestLoss] = [p, l];
      }
    }
  }
  for (const leading of [2, 4, 8]) {
    const p = { ...best, leading };
    const l = score(p);
    if (l < bestLoss) [best, bestLoss] = [p, l];
  }
  const factor = spec.factor > 1 ? longRopeAttentionFactor({ factor: spec.factor, originalMaxPositions: spec.trainLength }) : 1;
  if (factor !== 1) {
    const p = { ...best, attentionFactor: factor };
    const l = score(p);
    if (l < bestLoss) [best, bestLoss] = [p, l];
  }
  return { params: best, loss: bestLoss, evaluations };
}

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

export interface Flags {
  seeds: number;
  /** Stage-A AdamW steps. */
  steps: number;
  batch: number;
  lr: number;
  dim: number;
  heads: number;
  layers: number;
  /** L, the training context. */
  trainLength: number;
  /** L′ values (multiples of L; the first is L). */
  lengths: number[];
  distances: number;
  trials: number;
  /** G1 sequences for the text loss. */
  text: number;
  answerWeight: number;
  /** Loss weight of the passkey rows' other targets (their filler): 1 = plain next-token loss, 0 = answers only. */
  fillerWeight: number;
  /** Fraction of the Stage-A rows that are passkey episodes (the rest pure G1 text). */
  episodes: number;
  /** The first seed (seeds are firstSeed, firstSeed + 1, …): one process per seed, merged by `assemble`. */
  firstSeed: number;
  /** LongRoPE-lite coordinate sweeps. */
  sweeps: number;
  /** Held-out sequences for the LongRoPE-lite objective (half text, half passkey). */
  searchSequences: number;
  /** Dynamic NTK's chunk in the text loss. */
  chunk: number;
  alpha: number;
  beta: number;
  quick: boolean;
  json: boolean;
}

export const DEFAULT_FLAGS: Flags = {
  seeds: 3, steps: 5000, batch: 16, lr: 1.5e-3, dim: 64, heads: 2, layers: 2, trainLength: 128, lengths: [128, 256, 512],
  distances: 16, trials: 8, text: 16, answerWeight: 14, fillerWeight: 0, episodes: 0.75, firstSeed: 1, sweeps: 1, searchSequences: 8, chunk: 64,
  alpha: 1, beta: 4, quick: false, json: false,
};

/**
 * Stage A of the first protocol (run 2026-12-07; its models never retrieved): 4 heads of 16 (base 602), every row a
 * passkey episode, answers ×5 in the full next-token loss, 800 steps. context-extension-ft.ts still starts from it.
 */
export const FIRST_PROTOCOL_FLAGS: Flags = { ...DEFAULT_FLAGS, steps: 800, lr: 3e-3, heads: 4, answerWeight: 5, fillerWeight: 1, episodes: 1 };

/** `--quick`: every code path (all arms, the search, the streaming loss) at tiny sizes, in seconds. */
export const QUICK_FLAGS: Flags = {
  ...DEFAULT_FLAGS, seeds: 2, steps: 4, batch: 4, dim: 16, heads: 2, layers: 1, trainLength: 16, lengths: [16, 32, 64],
  distances: 4, trials: 2, text: 2, searchSequences: 2, chunk: 8, quick: true,
};

export interface SeedRun {
  seed: number;
  /** Stage-A loss: first and last step. */
  trainLoss: [number, number];
  /** L′ → arm → measures. */
  measures: Record<number, Record<ArmName, ArmMeasure>>;
  /** L′ → LongRoPE-lite's searched parameters and objective value (s > 1 only). */
  longrope: Record<number, { params: LongRoPEParams; loss: number; evaluations: number }>;
  seconds: number;
}

export interface Results {
  flags: Flags;
  base: number;
  /** L′ → distances. */
  distances: Record<number, number[]>;
  runs: SeedRun[];
  judgements: Record<string, OrderingJudgement>;
  control: { passed: boolean; accuracy: number[] };
  verdict: Verdict;
  reason: string;
  seconds: number;
}

const EVAL_SEED = 271828;
const SEARCH_SEED = 314159;

/** Pre-registered orderings at the longest L′ (best first): passkey accuracy (higher) and text loss (lower). */
export const PREDICTIONS: ReadonlyArray<{ key: string; metric: 'passkey' | 'textLoss'; order: readonly ArmName[] }> = [
  { key: 'passkey: yarn > pi > extrapolation', metric: 'passkey', order: ['yarn', 'pi', 'extrapolation'] },
  { key: 'passkey: ntk-by-parts > pi > extrapolation', metric: 'passkey', order: ['ntk-by-parts', 'pi', 'extrapolation'] },
  { key: 'text loss: yarn < pi < extrapolation', metric: 'textLoss', order: ['yarn', 'pi', 'extrapolation'] },
  { key: 'text loss: ntk-by-parts < pi < extrapolation', metric: 'textLoss', order: ['ntk-by-parts', 'pi', 'extrapolation'] },
];

/** The positive control: the base model's passkey accuracy at L′ = L, in every seed. */
export const CONTROL_THRESHOLD = 0.9;


/**
 * Stage A for one seed: a GPT with RoPE at the regime-matched base trained `flags.steps` steps at L on the mix
 * (`mixedBatch`, warm-up then a cosine to 10 % of lr), returned in eval mode with its per-step losses. `onStep` gets
 * each step's number and loss. The fine-tuning reproduction (context-extension-ft.ts) starts from the same model.
 */
export function pretrainBase(flags: Flags, seed: number, text: MarkovText, onStep: (step: number, loss: number) => void = () => {}): { model: GPT; losses: number[] } {
  const L = flags.trainLength;
  const base = regimeMatchedBase(flags.dim / flags.heads, L);
  const model = new GPT({ vocabSize: TOY_VOCAB.size, contextLength: L, dim: flags.dim, numLayers: flags.layers, numHeads: flags.heads, positional: 'rope', ropeBase: base, seed });
  const g = new Generator(seed * 7919 + 1);
  const warmup = Math.max(1, Math.round(flags.steps / 20));
  const schedule = (step: number): number => flags.lr * Math.min(1, (step + 1) / warmup) * (0.55 + 0.45 * Math.cos((Math.PI * step) / Math.max(1, flags.steps)));
  const episodes = Math.round(flags.episodes * flags.batch);
  const result = train(model, () => weightedLoss(model, mixedBatch(flags.batch, L, g, text, flags.answerWeight, episodes, flags.fillerWeight)), {
    steps: flags.steps, optimizer: new AdamW(model.parameters(), { lr: flags.lr, weightDecay: 0 }), clipGradNorm: 1, schedule, output: null,
    onStep: (p) => onStep(p.step, p.loss),
  });
  model.eval();
  return { model, losses: result.losses };
}

/** How `fineTuneCopy` trains: `steps` AdamW steps (no weight decay, gradients clipped to 1) of `batch` × `length` rows of the mix. */
export interface FineTuning {
  /** Stage A's flags: the mix (episodes, answer and filler weights). */
  stageA: Flags;
  batch: number;
  length: number;
  steps: number;
  lr: number;
  schedule: (step: number) => number;
  /** Steps after which the copy is measured (0: before any step). */
  checkpoints: readonly number[];
}

/**
 * A copy of `model` with `encoding` swapped in, fine-tuned on the Stage-A mix of `text` at `length` (the rows drawn by
 * `generator`: arms given equally seeded generators see the same batches), and `measure`d in eval mode at each
 * checkpoint; returns the measures in checkpoint order. `tick` is called after every step. The fine-tuning
 * reproductions (context-extension-ft.ts, base-bound-ft.ts) run every arm through it.
 */
export function fineTuneCopy<M>(model: GPT, encoding: PositionalEncoding, f: FineTuning, text: MarkovText, generator: Generator, measure: (tuned: GPT, step: number) => M, tick: () => void = () => {}): M[] {
  const tuned = new GPT(model.config);
  tuned.loadStateDict(model.stateDict());
  tuned.setPositional(encoding);
  const measured = (step: number): M => {
    tuned.eval();
    const m = measure(tuned, step);
    tuned.train();
    return m;
  };
  const curve = f.checkpoints.includes(0) ? [measured(0)] : [];
  const episodes = Math.round(f.stageA.episodes * f.batch);
  train(tuned, () => weightedLoss(tuned, mixedBatch(f.batch, f.length, generator, text, f.stageA.answerWeight, episodes, f.stageA.fillerWeight)), {
    steps: f.steps, optimizer: new AdamW(tuned.parameters(), { lr: f.lr, weightDecay: 0 }), clipGradNorm: 1, schedule: f.schedule, output: null,
    onStep: (p) => {
      tick();
      if (f.checkpoints.includes(p.step)) curve.push(measured(p.step));
    },
  });
  return curve;
}

/** The whole experiment; `progress` gets (done, total) in token-forward units, `log` the progress lines. */
export function runExperiment(flags: Flags, progress: (done: number, total: number, note?: string) => void = () => {}, log: (s: string) => void = () => {}): Results {
  const started = performance.now();
  const L = flags.trainLength;
  const headDim = flags.dim / flags.heads;
  const base = regimeMatchedBase(headDim, L);
  const text = new MarkovText();
  const lengths = flags.lengths;
  const distances: Record<number, number[]> = Object.fromEntries(lengths.map((T) => [T, passkeyDistances(T, flags.distances)]));
  const evalSets = Object.fromEntries(lengths.map((T) => {
    const g = new Generator(EVAL_SEED + T);
    return [T, { text: Array.from({ length: flags.text }, () => textDocument(T + 1, g, text)), trials: passkeyTrials(T, distances[T]!, flags.trials, g, text) }];
  })) as Record<number, { text: Int32Array[]; trials: PasskeyTrial[] }>;
  const searchSets = Object.fromEntries(lengths.filter((T) => T > L).map((T) => {
    const g = new Generator(SEARCH_SEED + T);
    const seqs: Int32Array[] = [];
    const answers: number[] = [];
    const spread = passkeyDistances(T, Math.ceil(flags.searchSequences / 2));
    for (let i = 0; i < flags.searchSequences; i++) {
      if (i % 2 === 0) seqs.push(textDocument(T + 1, g, text));
      else {
        const e = retrievalEpisode({ length: T + 1, distance: spread[(i - 1) / 2]!, generator: g, text });
        seqs.push(e.tokens);
        answers.push(...e.answerPositions.map((p) => (seqs.length - 1) * T + p - 1));
      }
    }
    const batch = shifted(seqs, T);
    for (const a of answers) batch.weights[a] = flags.answerWeight;
    return [T, batch];
  })) as Record<number, WeightedBatch>;

  // progress in token-forward units: a training token counts 3 (forward + backward)
  const perSeedEval = lengths.reduce((acc, T) => {
    const arms = T === L ? 1 : ARMS.length;
    const dynamicExtra = T === L ? 0 : dynamicTokens(T, L, flags.chunk) - T;
    const searchEvals = T === L ? 0 : 4 + flags.sweeps * (headDim / 2) * 3 + 4;
    return acc + (flags.text * T + flags.text * dynamicExtra / arms + evalSets[T]!.trials.length * T) * arms + searchEvals * flags.searchSequences * T;
  }, 0);
  const total = flags.seeds * (3 * flags.steps * flags.batch * L + perSeedEval);
  let done = 0;
  const tick = (tokens: number, note?: string): void => {
    done = Math.min(total, done + tokens);
    progress(done, total, note);
  };

  const runs: SeedRun[] = [];
  for (let s = 0; s < flags.seeds; s++) {
    const seed = flags.firstSeed + s;
    const t0 = performance.now();
    // Stage A
    const { model, losses } = pretrainBase(flags, seed, text, (step, loss) => {
      tick(3 * flags.batch * L, `seed ${seed}: pretraining`);
      if (step % Math.max(1, Math.round(flags.steps / 10)) === 0) log(`  seed ${seed} step ${step}: loss ${loss.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    });
    log(`seed ${seed}: pretrained ${flags.steps} steps at L = ${L}, loss ${losses[0]?.toFixed(3)} → ${losses.at(-1)?.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    // Stage B
    const measures = {} as SeedRun['measures'];
    const longrope = {} as SeedRun['longrope'];
    for (const T of lengths) {
      const spec: ArmSpec = { headDim, base, trainLength: L, factor: T / L, alpha: flags.alpha, beta: flags.beta };
      const sets = evalSets[T]!;
      const measure = (arm: ArmName, params?: LongRoPEParams): ArmMeasure => {
        const note = `seed ${seed}: ${arm} at ${T}`;
        model.setPositional(armEncoding(arm, spec, params));
        const hits = passkeyHits(model, sets.trials, T, (n) => tick(n, note));
        const loss = arm === 'dynamic-ntk' && T > L
          ? dynamicTextLoss(model, sets.text, T, spec, flags.chunk, (n) => tick(n, note))
          : textLoss(model, sets.text, T, (n) => tick(n, note));
        const accuracy = accuracyByDistance(sets.trials, hits, distances[T]!);
        const beyond = accuracy.filter((_, j) => distances[T]![j]! > L);
        return {
          textLoss: loss, accuracy, passkey: mean(accuracy), passkeyBeyond: beyond.length === 0 ? NaN : mean(beyond), kMax: kMax(distances[T]!, accuracy),
        };
      };
      if (T === L) {
        const m = measure('extrapolation'); // s = 1: every arm's table is the base model's
        measures[T] = Object.fromEntries(ARMS.map((arm) => [arm, m])) as Record<ArmName, ArmMeasure>;
        log(`  L′ = ${T} (base model): text loss ${m.textLoss.toFixed(3)}, passkey ${pct(m.passkey)}`);
        continue;
      }
      const held = searchSets[T]!;
      const search = searchLongRoPE(spec, (p) => {
        model.setPositional(armEncoding('longrope-lite', spec, p));
        const l = noGrad(() => weightedLoss(model, held).data[0]!);
        tick(flags.searchSequences * T, `seed ${seed}: LongRoPE-lite search at ${T}`);
        return l;
      }, flags.sweeps);
      longrope[T] = search;
      measures[T] = {} as Record<ArmName, ArmMeasure>;
      for (const arm of ARMS) measures[T]![arm] = measure(arm, arm === 'longrope-lite' ? search.params : undefined);
      log(`  L′ = ${T}: ${ARMS.map((arm) => `${arm} ${measures[T]![arm].textLoss.toFixed(3)}/${pct(measures[T]![arm].passkey)}`).join(', ')}`);
      log(`    longrope-lite λ = [${search.params.lambda.map((v) => +v.toFixed(3)).join(', ')}], n̂ = ${search.params.leading}, factor ${search.params.attentionFactor.toFixed(3)} (${search.evaluations} evaluations)`);
    }
    model.setPositional(new RoPE(headDim, { base }));
    runs.push({ seed, trainLoss: [losses[0] ?? NaN, losses.at(-1) ?? NaN], measures, longrope, seconds: (performance.now() - t0) / 1000 });
  }
  return assemble(flags, runs, (performance.now() - started) / 1000);
}

/**
 * The verdict from the seeds' runs (also runs made in separate processes, one seed each): the four pre-registered
 * orderings at the longest L′ by judgeOrdering, the positive control at L, the weakest verdict.
 */
export function assemble(flags: Flags, runs: SeedRun[], seconds: number): Results {
  const L = flags.trainLength;
  const longest = flags.lengths.at(-1)!;
  const base = regimeMatchedBase(flags.dim / flags.heads, L);
  const distances: Record<number, number[]> = Object.fromEntries(flags.lengths.map((T) => [T, passkeyDistances(T, flags.distances)]));
  const judgements = Object.fromEntries(PREDICTIONS.map((p) => {
    const arms = Object.fromEntries(p.order.map((arm) => [arm, runs.map((r) => r.measures[longest]![arm][p.metric])]));
    return [p.key, judgeOrdering(arms, p.order, p.metric === 'passkey' ? 'higher' : 'lower')];
  }));
  const controlAcc = runs.map((r) => r.measures[L]!.extrapolation.passkey);
  const control = { passed: controlAcc.every((a) => a >= CONTROL_THRESHOLD), accuracy: controlAcc };
  const weakest = Object.entries(judgements).reduce((w, e) => (VERDICT_RANK[e[1].verdict] < VERDICT_RANK[w[1].verdict] ? e : w));
  const verdict: Verdict = control.passed ? weakest[1].verdict : 'not reproduced';
  const reason = !control.passed
    ? `the positive control failed: the base model's passkey accuracy at L′ = ${L} is ${controlAcc.map(pct).join(', ')} over the seeds (needs ≥ ${pct(CONTROL_THRESHOLD)} in every seed), so the toy cannot show the claim`
    : Object.values(judgements).every((j) => j.verdict === 'reproduced')
      ? `control passed (base passkey at ${L}: ${controlAcc.map(pct).join(', ')}); all four orderings at L′ = ${longest} hold in every seed with gaps beyond twice the seed range`
      : `control passed (base passkey at ${L}: ${controlAcc.map(pct).join(', ')}); weakest ordering '${weakest[0]}': ${weakest[1].reason}`;
  return { flags, base, distances, runs, judgements, control, verdict, reason, seconds };
}

/** Tokens a streaming dynamic-NTK pass over one sequence of T runs (prefixes L, L + chunk, …, T). */
function dynamicTokens(T: number, L: number, chunk: number): number {
  let n = 0;
  for (let end = Math.min(L, T); end < T; end += chunk) n += end;
  return n + T;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '—');

/** "mean (min–max)" of one metric of one arm at one length over the seeds. */
function cell(res: Results, T: number, arm: ArmName, metric: 'textLoss' | 'passkey' | 'passkeyBeyond' | 'kMax'): string {
  const values = res.runs.map((r) => r.measures[T]![arm][metric]);
  if (values.some((v) => !Number.isFinite(v))) return '—';
  const s = summarize(values);
  const f = metric === 'textLoss' ? (v: number) => v.toFixed(3) : metric === 'kMax' ? (v: number) => v.toFixed(0) : (v: number) => (100 * v).toFixed(1);
  return `${f(s.mean)} (${f(s.min)}–${f(s.max)})`;
}

/** The table: one row per arm, text loss, passkey (all distances and beyond L) and k_max per L′ > L. */
export function formatTable(res: Results): string {
  const L = res.flags.trainLength;
  const longer = res.flags.lengths.filter((T) => T > L);
  const f = res.flags;
  const head = [
    `model: ${f.layers} layers, dim ${f.dim}, ${f.heads} heads of ${f.dim / f.heads}, RoPE base ${res.base.toFixed(0)} (G4-matched), pretrained ${f.steps} steps × ${f.batch} × ${L}; ${res.runs.length} seeds; passkey ${f.distances} distances × ${f.trials} trials, text ${f.text} sequences per L′`,
    `base model at L′ = ${L}: text loss ${cell(res, L, 'extrapolation', 'textLoss')}, passkey ${cell(res, L, 'extrapolation', 'passkey')} % (positive control ≥ ${pct(CONTROL_THRESHOLD)} in every seed: ${res.control.passed ? 'passed' : 'FAILED'})`,
    '',
    `| arm | ${longer.map((T) => `text loss @${T} | passkey % @${T} | beyond ${L} % @${T} | k_max @${T}`).join(' | ')} |`,
    `|---|${longer.map(() => '---:|---:|---:|---:').join('|')}|`,
    ...ARMS.map((arm) => `| ${arm} | ${longer.map((T) => [cell(res, T, arm, 'textLoss'), cell(res, T, arm, 'passkey'), cell(res, T, arm, 'passkeyBeyond'), cell(res, T, arm, 'kMax')].join(' | ')).join(' | ')} |`),
    '',
    'cells: mean (min–max) over seeds',
    ...Object.entries(res.judgements).map(([key, j]) => `${key} @${res.flags.lengths.at(-1)}: ${j.verdict} — ${j.reason}`),
    `verdict: ${res.verdict} — ${res.reason}`,
  ];
  return head.join('\n');
}

/**
 * Text loss vs L′, one line per arm (mean over seeds; every arm is the base model at L′ = L). Passkey accuracy is in
 * the table: with the positive control failed (no retrieval even at L) a passkey-vs-distance chart shows only noise.
 */
export function chart(res: Results): string {
  const series: LineSeries[] = ARMS.map((arm) => ({
    name: arm as string,
    points: res.flags.lengths.map((T) => [T, mean(res.runs.map((r) => r.measures[T]![arm].textLoss))] as const),
  }));
  return lineChart({
    title: `Zero-shot text loss beyond the training length (L = ${res.flags.trainLength}), mean of ${res.runs.length} seeds`,
    xLabel: 'evaluation length L′ (tokens; s = L′/L)', yLabel: 'text loss (nats/token)', series, width: 760, height: 440,
  });
}

/** One line: the headline metrics at the longest L′, mean (min–max) per arm. */
export function summaryLine(res: Results): string {
  const T = res.flags.lengths.at(-1)!;
  return `@${T} passkey %: ${ARMS.map((arm) => `${arm} ${cell(res, T, arm, 'passkey')}`).join('; ')} · text loss: ${ARMS.map((arm) => `${arm} ${cell(res, T, arm, 'textLoss')}`).join('; ')}`;
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/context-extension.ts [flags]

Context extension zero-shot (PI, NTK-aware, dynamic NTK, NTK-by-parts, YaRN, Llama-3, LongRoPE-lite) on a toy GPT
pretrained at L = 128 (G1 text + passkey episodes, RoPE base matched to LLaMA-2's regime), measured at 128/256/512.

  --quick          tiny settings (seconds; the numbers mean nothing)
  --seeds N        seeds (default 3)
  --steps N        pretraining AdamW steps (default ${DEFAULT_FLAGS.steps})
  --batch B        sequences per step (default ${DEFAULT_FLAGS.batch})
  --lr X           peak learning rate (default ${DEFAULT_FLAGS.lr})
  --distances N    passkey distances per L′ (default ${DEFAULT_FLAGS.distances})
  --trials N       passkey trials per distance (default ${DEFAULT_FLAGS.trials})
  --text N         text sequences per L′ (default ${DEFAULT_FLAGS.text})
  --answer-weight W  loss weight of the passkey answer tokens (default ${DEFAULT_FLAGS.answerWeight})
  --filler-weight W  loss weight of the passkey rows' other tokens (default ${DEFAULT_FLAGS.fillerWeight})
  --episodes F     fraction of pretraining rows that are passkey episodes (default ${DEFAULT_FLAGS.episodes}; the spec's 0.5)
  --first-seed N   first seed (default 1): run seeds in separate processes, merge the --json outputs with assemble()
  --sweeps N       LongRoPE-lite coordinate sweeps (default ${DEFAULT_FLAGS.sweeps})
  --json           print the results as JSON
  --help           this text`;

function readCommandLine(): Flags {
  const quick = process.argv.includes('--quick');
  return readFlags('context-extension', HELP, quick ? QUICK_FLAGS : DEFAULT_FLAGS, {
    values: {
      seeds: (f, v) => (f.seeds = integerFlag(v, 1)),
      steps: (f, v) => (f.steps = integerFlag(v, 0)),
      batch: (f, v) => (f.batch = integerFlag(v, 2)),
      lr: (f, v) => (f.lr = numberFlag(v, { above: 0 })),
      distances: (f, v) => (f.distances = integerFlag(v, 1)),
      trials: (f, v) => (f.trials = integerFlag(v, 1)),
      text: (f, v) => (f.text = integerFlag(v, 1)),
      'answer-weight': (f, v) => (f.answerWeight = numberFlag(v, { above: 0 })),
      'filler-weight': (f, v) => (f.fillerWeight = numberFlag(v, { atLeast: 0 })),
      episodes: (f, v) => (f.episodes = Math.min(1, numberFlag(v, { atLeast: 0 }))),
      'first-seed': (f, v) => (f.firstSeed = integerFlag(v, 1)),
      sweeps: (f, v) => (f.sweeps = integerFlag(v, 0)),
    },
    switches: { quick: () => {}, json: (f) => (f.json = true) },
  });
}

function toResult(res: Results): ReproductionResult {
  return { verdict: res.verdict, summary: summaryLine(res), reason: res.reason, table: formatTable(res), svg: chart(res), data: res };
}

export const reproduction: Reproduction = {
  name: 'context-extension',
  paper: 'PI (Chen et al., arXiv 2306.15595, 2023); NTK-aware (bloc97, 2023) and dynamic NTK (emozilla, 2023); YaRN (Peng et al., ICLR 2024); Llama-3 scaling (Meta, 2024); LongRoPE (Ding et al., ICML 2024)',
  claim: 'Zero-shot beyond the training length, plain RoPE extrapolation fails (LLaMA perplexity > 10³) while PI stays finite (LLaMA-7B→8192, PG19 ppl 16.10 at step 0, 7.12 after 200 FT steps, passkey k_max = L′ after 200 steps); NTK-aware and YaRN are better than PI without fine-tuning (YaRN, non-FT LLaMA-7B s = 8, Proof-pile ppl: PI > 10 at all lengths, NTK 4.64/4.27/4.24 at 2k/4k/8k, YaRN 4.37/3.95/3.81); LongRoPE\'s searched per-pair λ beats PI/dynamic-NTK/YaRN zero-shot (LLaMA2-7B PG19 8k: 9.37 vs 10.65/10.21/32.64).',
  setup: `GPT 2L d64 2×32, RoPE base 393 (G4: LLaMA-2's L/λ_max at L = 128), ${DEFAULT_FLAGS.steps} steps × 16 × 128 at peak lr ${DEFAULT_FLAGS.lr}: 4 G1 text rows and 12 passkey rows in G1 filler, answer-dominated loss (text tokens ×1, answers ×${DEFAULT_FLAGS.answerWeight}, passkey filler ×${DEFAULT_FLAGS.fillerWeight}); zero-shot at L′ = 256, 512 (s = L′/128) for 8 arms; passkey 16 distances × 8 trials, text loss on 16 sequences; 3 seeds; Stage C (fine-tuning) is the context-extension-ft reproduction`,
  criterion: `Stated before the run: at L′ = 512, passkey accuracy (mean over 16 distances) yarn > pi > extrapolation and ntk-by-parts > pi > extrapolation; text loss yarn < pi < extrapolation and ntk-by-parts < pi < extrapolation; each judged by judgeOrdering (every seed in order, every mean gap > 2× the larger seed range); the verdict is the weakest of the four. Positive control: the base model (every arm at L′ = 128) retrieves the passkey ≥ 90 % in every seed, else 'not reproduced'.`,
  falsifier: 'Plain extrapolation matches or beats PI at L′ = 512 (passkey or text loss), or PI matches or beats YaRN / NTK-by-parts — with the positive control passing, so the toy can retrieve within its training length.',
  minutes: 60,
  history: [
    '2026-12-07, first protocol (GPT 2L d64 4×16, base 602, 800 steps × 16 × 128, every row a passkey episode, answers ×5 in the full ' +
    'next-token loss; 3 seeds, 37 min): not reproduced — the positive control failed: passkey 0.0 % at L′ = 128 in every seed (a 3000-step ' +
    'diagnostic reached 0.8 %), so the zero-shot comparison could not show. Its text-loss orderings at 4× were real (YaRN 1.62, NTK-by-parts ' +
    '1.64, LongRoPE-lite 1.55 against PI 4.84 and extrapolation 5.80 nats) but not the pre-registered verdict. Examined then: not the engine ' +
    '(the same GPT copies a repeated random sequence to 100 % within ~150 steps) but the supervision — keys outside the filler changed nothing ' +
    'at 400–600 steps, and a sparse answer signal inside a full next-token loss needs thousands of steps. Changed before this rerun: (1) the ' +
    'loss is answer-dominated: 4 of 16 rows are G1 text with every token ×1, 12 are passkey rows scored on their three answers only (×14, so ' +
    'the answers weigh what the text does; filler ×0); (2) 2 heads of 32 instead of 4 of 16, so the regime-matched base is the spec\'s ≈ 400 ' +
    '(393); (3) 3000 steps. One pilot, on single-pair recall at T = 128 with this model and loss (base 393, seed 1; a .cache diagnostic, ' +
    'not a registered run), reached 45–91 % first-digit accuracy across distances 8–120 after 1000 steps and 98–100 % after 2000; the same model with 3 keyed pairs at ' +
    'T = 64 reached 94–100 % at 5000 steps. context-extension-ft keeps the first protocol\'s models (FIRST_PROTOCOL_FLAGS), on which it ran.',
    '2026-12-07, second protocol (as the first entry describes: 2 heads of 32, base 393, answer-dominated loss, 3000 steps at peak lr 3e-3; ' +
    '3 seeds, 30m41s): not reproduced — the positive control failed narrowly (passkey at L′ = 128: 83.6 %, 94.5 %, 96.9 %; ≥ 90 % needed in ' +
    'every seed) and seed 2 never learned the text (text loss 3.62 nats at 128, against 1.08 and 1.13): an optimization failure at lr 3e-3. ' +
    'Seed by seed at L′ = 512, YaRN kept most of the passkey (80.5 %, 63.3 %, 86.7 %) where PI (5.5 %, 11.7 %, 1.6 %) and extrapolation ' +
    '(4.7 %, 6.2 %, 3.1 %) lost it, and in the two seeds that learned the text YaRN\'s loss stayed at the training level (1.06, 1.08) while ' +
    'PI\'s (5.78, 5.48) was worse than extrapolation\'s (4.97, 4.40). Changed before this rerun, as that run\'s examination proposed: peak ' +
    'lr 1.5e-3 (half) so every seed learns the text, and 5000 steps instead of 3000 so the lower lr still reaches ≥ 90 % at L; nothing else.',
  ],
  examination:
    'The third protocol\'s control passed: passkey 100 % at L′ = 128 and text loss 1.03–1.04 nats in every seed, so the verdict is the ' +
    'comparison\'s, and the falsifier is met: at L′ = 512 (4×) plain extrapolation beats PI on text loss in every seed (1.54, 1.12, 3.56 ' +
    'against 5.25, 5.33, 5.28 nats) and on passkey in the mean (13.8 % against 2.3 %; seeds 0.8/4.7, 16.4/2.3, 24.2/0.0). The other half of ' +
    'the claim holds in every seed and by wide margins: YaRN keeps the passkey (75.0, 74.2, 88.3 %) and the text at the training level ' +
    '(0.99–1.00 nats), NTK-by-parts 70.3, 48.4, 65.6 % and 1.01–1.02, NTK 74.7 % in the mean, against PI\'s 2.3 %. LongRoPE-lite, ' +
    'searched on held-out loss, has the best mean passkey (85.7 %; above YaRN in seeds 1 and 2, below in seed 3) with text at 1.00–1.02. ' +
    'Why PI fails here: it divides every frequency by s = 4, so the distances 1 and 2 that the G1 text (a second-order Markov chain) ' +
    'depends on become rotations of 0.25 and 0.5 that the model never saw, and the text collapses; YaRN and NTK-by-parts leave the fast ' +
    'pairs alone. Extrapolation, unlike LLaMA\'s (perplexity > 10³), degrades only mildly on text in two seeds (1.12, 1.54 nats), ' +
    'likely because the G1 text needs only the last two tokens: a model that attends locally loses little to unseen far angles, so this ' +
    'toy text is kinder to extrapolation than natural language (the passkey, which needs the far angles, does collapse). Protocols 2 and 3 agree on all of this, and ' +
    'context-extension-ft (Stage C) found PI behind as well. So at this scale "NTK-aware and YaRN beat PI without fine-tuning" is ' +
    'reproduced, and "PI stays finite where extrapolation fails" is refuted, not untested.',
  async run({ quick, progress }) {
    setNumThreads(1);
    return toResult(runExperiment(quick ? QUICK_FLAGS : DEFAULT_FLAGS, progress));
  },
};

function main(): void {
  const flags = readCommandLine();
  setNumThreads(1);
  const log = (s: string): void => (flags.json ? console.error(s) : console.log(s));
  log(`node scripts/run.mjs scripts/experiments/context-extension.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  const res = runExperiment(flags, () => {}, log);
  log(`\n${formatTable(res)}`);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/context-extension.svg', chart(res));
  log(`\nwrote out/context-extension.svg; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify(res));
}

if (isEntryPoint(import.meta.url, 'context-extension')) main();
