/**
 * Issue 17 (#6, ../shared/specs/reproductions.md §7) — PSC, Phase Shift Calibration (Zhu, Xu, Wang, Wu, EMNLP 2024,
 * arXiv 2505.12423; code WNQzhu/PSC, PSC_code/lora_llama.py class `Phase`; here positional/psc.ts PSCRoPE) at toy
 * scale: does a per-head calibration gate on q and k, trained with LoRA while a context-extension rule (PI, YaRN) is
 * in place, lower the loss at the extended length more than LoRA alone — and more as the extension factor s grows?
 *
 * Stage A (once per seed, shared by every arm): a GPT (2 layers, dim 64, 4 heads of d_head 16, RoPE with the
 * regime-matched base of §1.3 G4, regimeMatchedBase(16, L) = 273 at L = 64) trained on G1 Markov text at L = 64.
 * Stage B (per method m ∈ {PI, YaRN} and s ∈ {2, 4}, L′ = s·L): the method's table is swapped in
 *   PI    θ′_i = θ_i/s                                                           (positional/pi.ts)
 *   YaRN  θ′_i = (1 − γ_i)·θ_i/s + γ_i·θ_i, γ the ramp in r_i = L/λ_i with α = 1, β = 4 (G5),
 *         cos/sin × (0.1·ln s + 1)                                                (positional/yarn.ts)
 * and the model is fine-tuned at L′ for `--ft-steps` AdamW steps on fresh G1 text, every base weight frozen, in arms
 *   lora          LoRA on W_q, W_k, W_v, W_o of every layer, rank r: W x + γ_r·B A x, A [r, in] ~ U(±1/√in),
 *                 B [out, r] = 0 (PEFT's init), γ_r = α/√r (rank-stabilised, so ranks compare at one step size)
 *   lora+psc      the same LoRA (same A init) + PSC per layer: q ← q ⊙ c_q(q), k ← k ⊙ c_k(k) before the rotation,
 *                 c(x) = 1 + ½·tanh(SiLU(x U) D) per head (U zero, D ~ U(±1/h)) — PSCRoPE over the method's RoPE
 *   lora-matched  LoRA alone with the rank raised until its trainable parameters reach lora+psc's (capacity control)
 * Every arm of a (seed, m, s) sees the same batches; the metric is the text loss (nats/token, mean over all L′
 * positions) on `--eval` held-out G1 sequences of length L′ (the same sequences for every seed and arm).
 * Relative reduction ρ = 1 − ppl_psc/ppl_other = 1 − exp(loss_psc − loss_other) (the spec's ρ(s)).
 *
 * Usage: node scripts/run.mjs scripts/experiments/psc-calibration.ts [--quick] [--seeds N] [--json] [--help]
 *          [--steps N] [--ft-steps N] [--factors 2,4] [--rank R] [--lr X] [--ft-lr X] [--eval N]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import {
  AdamW, Generator, Parameter, Tensor, crossEntropy, noGrad, setNumThreads,
} from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { wrapWithLoRA } from '../../nn/lora.js';
import { train } from '../../nn/train.js';
import { PositionalEncoding } from '../../positional/encoding.js';
import { piInvFreq } from '../../positional/pi.js';
import { PSCRoPE } from '../../positional/psc.js';
import { RoPE } from '../../positional/rope.js';
import { yarnAttentionFactor, yarnInvFreq } from '../../positional/yarn.js';
import { isEntryPoint } from '../lib/entry.js';
import { FlagError, integerFlag, numberFlag, readFlags } from '../lib/flags.js';
import type { Reproduction, ReproductionResult } from '../lib/reproduction.js';
import { VERDICT_RANK, judgeOrdering, summarize, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart, type LineSeries } from '../lib/svg.js';
import { MarkovText, TOY_VOCAB, regimeMatchedBase, textDocument } from '../lib/toy-data.js';

// ── LoRA (nn/lora.ts) ──────────────────────────────────────────────────────────────────────────────────────────────

/** Trainable parameters of LoRA rank r on W_q, W_k, W_v, W_o of `layers` layers of a dim-C model (each C → C). */
export function loraParameters(layers: number, dim: number, rank: number): number {
  return layers * 4 * rank * (dim + dim);
}

/** PSC's parameters per model: a q gate and a k gate per layer, each U and D of [H, h, h]. */
export function pscParameters(layers: number, heads: number, headDim: number): number {
  return layers * 2 * 2 * heads * headDim * headDim;
}

/** The LoRA rank whose parameters equal LoRA rank `rank` plus PSC's (the capacity-matched control); exact when it divides. */
export function matchedRank(layers: number, dim: number, heads: number, rank: number): number {
  return rank + pscParameters(layers, heads, dim / heads) / loraParameters(layers, dim, 1);
}

/**
 * Freeze every parameter of `model`, then wrap W_q, W_k, W_v, W_o of every layer with LoRA rank r, scale α/√r (rsLoRA).
 * Returns the adapters' parameters (the only trainable ones besides any PSC gates added later).
 */
export function addLoRA(model: GPT, rank: number, alpha: number, generator: Generator): Parameter[] {
  return wrapWithLoRA(model, { select: /attn\.w[qkvo]$/, rank, alpha, rsLoRA: true, generator }).flatMap(([, lora]) => [lora.loraA, lora.loraB]);
}

// ── the extension methods ─────────────────────────────────────────────────────────────────────────────────────────

export const METHODS = ['pi', 'yarn'] as const;
export type Method = (typeof METHODS)[number];
export const ARMS = ['lora', 'lora+psc', 'lora-matched'] as const;
export type Arm = (typeof ARMS)[number];

/** The method's rotary encoding at factor s for a model trained at L (YaRN: by-parts α = 1, β = 4 and its temperature). */
export function methodEncoding(method: Method, headDim: number, base: number, trainLength: number, factor: number): RoPE {
  if (method === 'pi') return new RoPE(headDim, { invFreq: piInvFreq({ dim: headDim, base, factor }) });
  const invFreq = yarnInvFreq({ dim: headDim, base, factor, originalMaxPositions: trainLength, betaFast: 4, betaSlow: 1 });
  return new RoPE(headDim, { invFreq, attentionFactor: yarnAttentionFactor({ factor }) });
}

// ── data and evaluation ───────────────────────────────────────────────────────────────────────────────────────────

/** Sequences of T + 1 tokens → ids [B, T] (the first T) and next-token targets [B·T] (the last T). */
export function shiftedBatch(seqs: readonly Int32Array[], T: number): { ids: Tensor; targets: Int32Array } {
  const ids = new Float64Array(seqs.length * T);
  const targets = new Int32Array(seqs.length * T);
  seqs.forEach((s, b) => {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = s[t]!;
      targets[b * T + t] = s[t + 1]!;
    }
  });
  return { ids: new Tensor(ids, [seqs.length, T]), targets };
}

/** B fresh G1 documents of T + 1 tokens (BOS + letters). */
export function textBatch(B: number, T: number, g: Generator, text: MarkovText): { ids: Tensor; targets: Int32Array } {
  return shiftedBatch(Array.from({ length: B }, () => textDocument(T + 1, g, text)), T);
}

/** Mean next-token loss of a model on a batch (differentiable). */
function batchLoss(model: GPT, batch: { ids: Tensor; targets: Int32Array }): Tensor {
  const [B, T] = batch.ids.shape as [number, number];
  return crossEntropy(model.forward(batch.ids).reshape([B * T, model.config.vocabSize]), batch.targets);
}

const EVAL_BATCH = 8;

/**
 * Text loss of `seqs` (T + 1 tokens each): the mean over all T target positions, and over the positions t ≥ 2 alone
 * (targets with a full order-2 context: the first two letters after BOS are uniform and no model can predict them).
 */
export function textLoss(model: GPT, seqs: readonly Int32Array[], T: number): { all: number; contextual: number } {
  return noGrad(() => {
    let all = 0;
    let contextual = 0;
    for (let s = 0; s < seqs.length; s += EVAL_BATCH) {
      const chunk = seqs.slice(s, s + EVAL_BATCH);
      const batch = shiftedBatch(chunk, T);
      const ce = crossEntropy(model.forward(batch.ids).reshape([chunk.length * T, model.config.vocabSize]), batch.targets, { reduction: 'none' }).data;
      for (let b = 0; b < chunk.length; b++) {
        for (let t = 0; t < T; t++) {
          all += ce[b * T + t]!;
          if (t >= 2) contextual += ce[b * T + t]!;
        }
      }
    }
    return { all: all / (seqs.length * T), contextual: contextual / (seqs.length * (T - 2)) };
  });
}

/**
 * The entropy of G1's next letter given only the previous one, H(x_t | x_{t−1}) under the chain's stationary pair
 * distribution (power iteration from uniform pairs): the best loss a model can reach without finding the token two
 * back — so a model below it uses the relative position 2. (The order-2 floor is text.entropyRate.)
 */
export function firstOrderEntropy(text: MarkovText, iterations = 200): number {
  const V = TOY_VOCAB.letters;
  const k = text.probs.length;
  let pi = new Float64Array(V * V).fill(1 / (V * V));
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(V * V);
    for (let a = 0; a < V; a++) {
      for (let b = 0; b < V; b++) {
        const w = pi[a * V + b]!;
        for (let j = 0; j < k; j++) next[b * V + text.successors[(a * V + b) * k + j]!]! += w * text.probs[j]!;
      }
    }
    pi = next;
  }
  // pi is now the stationary distribution of consecutive pairs (b, c): H(c | b) = H(b, c) − H(b)
  let joint = 0;
  let marginal = 0;
  for (let b = 0; b < V; b++) {
    let pb = 0;
    for (let c = 0; c < V; c++) {
      const p = pi[b * V + c]!;
      pb += p;
      if (p > 0) joint -= p * Math.log(p);
    }
    if (pb > 0) marginal -= pb * Math.log(pb);
  }
  return joint - marginal;
}

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

export interface Flags {
  seeds: number;
  /** Stage-A AdamW steps at L. */
  steps: number;
  batch: number;
  lr: number;
  dim: number;
  heads: number;
  layers: number;
  /** L, the pretraining context. */
  trainLength: number;
  /** Extension factors s (L′ = s·L). */
  factors: number[];
  /** Fine-tuning steps per (method, s, arm). */
  ftSteps: number;
  /** Tokens per fine-tuning step (batch = tokens / L′, at least 1). */
  ftTokens: number;
  ftLr: number;
  /** LoRA rank of the lora and lora+psc arms (the control's is matchedRank). */
  rank: number;
  /** LoRA α: scale α/√r. */
  alpha: number;
  /** Held-out sequences per length. */
  eval: number;
  quick: boolean;
  json: boolean;
}

export const DEFAULT_FLAGS: Flags = {
  seeds: 3, steps: 600, batch: 16, lr: 3e-3, dim: 64, heads: 4, layers: 2, trainLength: 64, factors: [2, 4],
  ftSteps: 40, ftTokens: 1024, ftLr: 2e-3, rank: 4, alpha: 4, eval: 16, quick: false, json: false,
};

/** `--quick`: every code path at tiny sizes, in seconds (the numbers mean nothing). */
export const QUICK_FLAGS: Flags = {
  ...DEFAULT_FLAGS, steps: 4, batch: 4, dim: 16, heads: 2, layers: 1, trainLength: 16, factors: [2, 4], ftSteps: 2, ftTokens: 64, eval: 2, quick: true,
};

/** One seed: the base model and, per method and s, the zero-shot loss and each arm's loss after fine-tuning. */
export interface SeedRun {
  seed: number;
  /** Stage-A training loss, first and last step. */
  trainLoss: [number, number];
  /** Base model at L: text loss over all positions and over t ≥ 2. */
  baseLoss: number;
  baseContextual: number;
  /** method → s → { zero-shot, arm → loss after FT }. */
  loss: Record<Method, Record<number, { zeroShot: number } & Record<Arm, number>>>;
  seconds: number;
}

export interface Results {
  flags: Flags;
  base: number;
  /** The control arm's LoRA rank, and trainable parameters per arm. */
  matchedRank: number;
  trainable: Record<Arm, number>;
  /** H(x_t | x_{t−1}) and the order-2 floor of G1 (nats). */
  firstOrderEntropy: number;
  entropyRate: number;
  runs: SeedRun[];
  judgements: Record<string, OrderingJudgement>;
  controls: { learned: boolean; fineTuning: Record<string, OrderingJudgement>; passed: boolean };
  verdict: Verdict;
  reason: string;
  seconds: number;
}

const EVAL_SEED = 271828;

/** ρ = 1 − exp(loss_psc − loss_other): PSC's relative perplexity reduction (> 0 when PSC is better). */
export const relativeReduction = (pscLoss: number, otherLoss: number): number => 1 - Math.exp(pscLoss - otherLoss);

const label = (m: Method): string => (m === 'pi' ? 'PI' : 'YaRN');

/** The whole experiment; `progress` in token units (a training token counts 3: forward + backward). */
export function runExperiment(flags: Flags, progress: (done: number, total: number, note?: string) => void = () => {}, log: (s: string) => void = () => {}): Results {
  const started = performance.now();
  const L = flags.trainLength;
  const headDim = flags.dim / flags.heads;
  const base = regimeMatchedBase(headDim, L);
  const text = new MarkovText();
  const rMatched = matchedRank(flags.layers, flags.dim, flags.heads, flags.rank);
  if (!Number.isInteger(rMatched)) throw new RangeError(`psc-calibration: PSC's parameters are not a whole LoRA rank (matched rank ${rMatched})`);
  const lengths = [L, ...flags.factors.map((s) => s * L)];
  const evalSets = Object.fromEntries(lengths.map((T) => {
    const g = new Generator(EVAL_SEED + T);
    return [T, Array.from({ length: flags.eval }, () => textDocument(T + 1, g, text))];
  })) as Record<number, Int32Array[]>;
  const ftBatch = (T: number): number => Math.max(1, Math.round(flags.ftTokens / T));
  const perSeed = 3 * flags.steps * flags.batch * L + flags.eval * L
    + flags.factors.reduce((acc, s) => acc + METHODS.length * (flags.eval * s * L * (1 + ARMS.length) + ARMS.length * 3 * flags.ftSteps * ftBatch(s * L) * s * L), 0);
  const total = flags.seeds * perSeed;
  let done = 0;
  const tick = (n: number, note: string): void => {
    done = Math.min(total, done + n);
    progress(done, total, note);
  };
  const config = { vocabSize: TOY_VOCAB.size, contextLength: L, dim: flags.dim, numLayers: flags.layers, numHeads: flags.heads, positional: 'rope', ropeBase: base };
  const trainable = {} as Record<Arm, number>;

  const runs: SeedRun[] = [];
  for (let si = 0; si < flags.seeds; si++) {
    const seed = 1 + si;
    const t0 = performance.now();
    const secs = (): string => `${((performance.now() - t0) / 1000).toFixed(0)} s`;
    // Stage A: pretrain at L
    const model = new GPT({ ...config, seed });
    const g = new Generator(seed * 7919 + 1);
    const warmup = Math.max(1, Math.round(flags.steps / 20));
    const schedule = (step: number): number => flags.lr * Math.min(1, (step + 1) / warmup) * (0.55 + 0.45 * Math.cos((Math.PI * step) / Math.max(1, flags.steps)));
    const pre = train(model.parameters(), () => batchLoss(model, textBatch(flags.batch, L, g, text)), {
      steps: flags.steps, optimizer: new AdamW(model.parameters(), { lr: flags.lr, weightDecay: 0 }), clipGradNorm: 1, schedule, output: null,
      onStep: (p) => {
        tick(3 * flags.batch * L, `seed ${seed}: pretraining`);
        if (p.step % Math.max(1, Math.round(flags.steps / 5)) === 0) log(`  seed ${seed} step ${p.step}: loss ${p.loss.toFixed(3)} (${secs()})`);
      },
    });
    const state = model.stateDict();
    const baseEval = textLoss(model, evalSets[L]!, L);
    tick(flags.eval * L, `seed ${seed}: base model`);
    log(`seed ${seed}: pretrained ${flags.steps} steps at L = ${L}: text loss ${baseEval.all.toFixed(3)} (t ≥ 2: ${baseEval.contextual.toFixed(3)}) (${secs()})`);
    // Stage B: per method and s, zero-shot and three fine-tuned arms from the same base
    const loss = {} as SeedRun['loss'];
    for (const [mi, method] of METHODS.entries()) {
      loss[method] = {};
      for (const s of flags.factors) {
        const T = s * L;
        const encoding = (): PositionalEncoding => methodEncoding(method, headDim, base, L, s);
        const row = {} as { zeroShot: number } & Record<Arm, number>;
        const fresh = (): GPT => {
          const m = new GPT({ ...config, seed });
          m.loadStateDict(state);
          return m;
        };
        const zero = fresh();
        zero.setPositional(encoding());
        row.zeroShot = textLoss(zero, evalSets[T]!, T).all;
        tick(flags.eval * T, `seed ${seed}: ${method} ×${s} zero-shot`);
        for (const arm of ARMS) {
          const m = fresh();
          const rank = arm === 'lora-matched' ? rMatched : flags.rank;
          const params = addLoRA(m, rank, flags.alpha, new Generator(seed * 131 + 17));
          if (arm === 'lora+psc') {
            const pscGen = new Generator(seed * 137 + 19);
            m.setPositional(() => new PSCRoPE(encoding(), { numHeads: flags.heads, headDim, generator: pscGen }));
            for (const block of m.blocks) params.push(...block.attn.positional.parameters());
          } else {
            m.setPositional(encoding());
          }
          trainable[arm] = params.reduce((n, p) => n + p.size, 0);
          const data = new Generator(seed * 104729 + 1000 * mi + s);
          const B = ftBatch(T);
          const ftWarmup = Math.max(1, Math.round(flags.ftSteps / 10));
          train(params, () => batchLoss(m, textBatch(B, T, data, text)), {
            steps: flags.ftSteps, optimizer: new AdamW(params, { lr: flags.ftLr, weightDecay: 0 }), clipGradNorm: 1, output: null,
            schedule: (step) => flags.ftLr * Math.min(1, (step + 1) / ftWarmup),
            onStep: () => tick(3 * B * T, `seed ${seed}: ${method} ×${s} ${arm}`),
          });
          row[arm] = textLoss(m, evalSets[T]!, T).all;
          tick(flags.eval * T, `seed ${seed}: ${method} ×${s} ${arm}`);
        }
        loss[method][s] = row;
        log(`  ${label(method)} ×${s} (L′ = ${T}): zero-shot ${row.zeroShot.toFixed(3)}, ${ARMS.map((a) => `${a} ${row[a].toFixed(3)}`).join(', ')} (${secs()})`);
      }
    }
    runs.push({ seed, trainLoss: [pre.losses[0] ?? NaN, pre.losses.at(-1) ?? NaN], baseLoss: baseEval.all, baseContextual: baseEval.contextual, loss, seconds: (performance.now() - t0) / 1000 });
  }
  return assemble(flags, runs, rMatched, trainable, (performance.now() - started) / 1000);
}


/**
 * The pre-registered judgements: per method and s, lora+psc < lora and lora+psc < lora-matched (text loss at L′,
 * lower); per method, ρ(s) (PSC vs LoRA) increasing in s (higher at the larger s). The verdict is the weakest of all,
 * provided both positive controls pass: the base model beats G1's first-order entropy at L (it uses position 2) in
 * every seed, and at the largest s LoRA fine-tuning beats the zero-shot loss for each method (judgeOrdering
 * 'reproduced': the fine-tuning budget moves the loss at all).
 */
export function assemble(flags: Flags, runs: SeedRun[], rMatched: number, trainable: Record<Arm, number>, seconds: number): Results {
  const text = new MarkovText();
  const h1 = firstOrderEntropy(text);
  const judgements: Record<string, OrderingJudgement> = {};
  const of = (m: Method, s: number, key: Arm | 'zeroShot'): number[] => runs.map((r) => r.loss[m][s]![key]);
  for (const m of METHODS) {
    for (const s of flags.factors) {
      judgements[`${label(m)} ×${s}: lora+psc < lora`] = judgeOrdering({ 'lora+psc': of(m, s, 'lora+psc'), lora: of(m, s, 'lora') }, ['lora+psc', 'lora'], 'lower');
      judgements[`${label(m)} ×${s}: lora+psc < lora-matched`] = judgeOrdering({ 'lora+psc': of(m, s, 'lora+psc'), 'lora-matched': of(m, s, 'lora-matched') }, ['lora+psc', 'lora-matched'], 'lower');
    }
    const rho = Object.fromEntries(flags.factors.map((s) => [`ρ(×${s})`, runs.map((r) => relativeReduction(r.loss[m][s]!['lora+psc'], r.loss[m][s]!.lora))]));
    judgements[`${label(m)}: ρ grows with s`] = judgeOrdering(rho, [...flags.factors].reverse().map((s) => `ρ(×${s})`), 'higher');
  }
  const learned = runs.every((r) => r.baseContextual < h1);
  const sMax = Math.max(...flags.factors);
  const fineTuning = Object.fromEntries(METHODS.map((m) => [`${label(m)} ×${sMax}: lora < zero-shot`, judgeOrdering({ lora: of(m, sMax, 'lora'), 'zero-shot': of(m, sMax, 'zeroShot') }, ['lora', 'zero-shot'], 'lower')]));
  const ftPassed = Object.values(fineTuning).every((j) => j.verdict === 'reproduced');
  const passed = learned && ftPassed;
  const weakest = Object.entries(judgements).reduce((w, e) => (VERDICT_RANK[e[1].verdict] < VERDICT_RANK[w[1].verdict] ? e : w));
  const verdict: Verdict = passed ? weakest[1].verdict : 'not reproduced';
  const failedControls = [
    ...(learned ? [] : [`the base model's loss at t ≥ 2 (${runs.map((r) => r.baseContextual.toFixed(3)).join(', ')}) is not below the first-order entropy ${h1.toFixed(3)} in every seed, so it does not use position 2`]),
    ...Object.entries(fineTuning).filter(([, j]) => j.verdict !== 'reproduced').map(([k, j]) => `${k}: ${j.reason}`),
  ];
  const reason = !passed
    ? `positive control failed — ${failedControls.join('; ')}`
    : Object.values(judgements).every((j) => j.verdict === 'reproduced')
      ? `controls passed; every judgement holds in all ${runs.length} seeds with gaps beyond twice the seed range`
      : `controls passed; weakest judgement '${weakest[0]}': ${weakest[1].reason}`;
  return {
    flags, base: regimeMatchedBase(flags.dim / flags.heads, flags.trainLength), matchedRank: rMatched, trainable, firstOrderEntropy: h1, entropyRate: text.entropyRate,
    runs, judgements, controls: { learned, fineTuning, passed }, verdict, reason, seconds,
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** "mean (min–max)" over seeds, with `digits` decimals (× `times`). */
function stat(values: readonly number[], digits = 3, times = 1): string {
  const s = summarize(values.map((v) => v * times));
  return `${s.mean.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** ρ per seed of PSC against `other` for method m at s. */
function rhoOf(res: Results, m: Method, s: number, other: Arm): number[] {
  return res.runs.map((r) => relativeReduction(r.loss[m][s]!['lora+psc'], r.loss[m][s]![other]));
}

export function formatTable(res: Results): string {
  const f = res.flags;
  const L = f.trainLength;
  const rows: string[] = [];
  for (const m of METHODS) {
    for (const s of f.factors) {
      const of = (key: Arm | 'zeroShot'): number[] => res.runs.map((r) => r.loss[m][s]![key]);
      rows.push(`| ${label(m)} | ${s} (${s * L}) | ${stat(of('zeroShot'))} | ${stat(of('lora'))} | ${stat(of('lora+psc'))} | ${stat(of('lora-matched'))} | ${stat(rhoOf(res, m, s, 'lora'), 2, 100)} | ${stat(rhoOf(res, m, s, 'lora-matched'), 2, 100)} |`);
    }
  }
  return [
    `model: ${f.layers} layers, dim ${f.dim}, ${f.heads} heads of ${f.dim / f.heads}, RoPE base ${res.base.toFixed(0)} (G4-matched at L = ${L}), pretrained ${f.steps} steps × ${f.batch} × ${L} on G1 text; ${res.runs.length} seeds`,
    `fine-tuning: ${f.ftSteps} AdamW steps (lr ${f.ftLr}) of ≈${f.ftTokens} tokens at L′, base frozen; LoRA r = ${f.rank} on q,k,v,o (${res.trainable.lora} params), + PSC (${res.trainable['lora+psc']}), capacity control LoRA r = ${res.matchedRank} (${res.trainable['lora-matched']}); scale α/√r, α = ${f.alpha}; text loss on ${f.eval} held-out sequences per L′`,
    `base model at L = ${L}: text loss ${stat(res.runs.map((r) => r.baseLoss))}, at t ≥ 2 ${stat(res.runs.map((r) => r.baseContextual))}; G1 floors: order-2 ${res.entropyRate.toFixed(3)}, first-order ${res.firstOrderEntropy.toFixed(3)} (positive control: below it in every seed — ${res.controls.learned ? 'passed' : 'FAILED'})`,
    '',
    '| method | s (L′) | zero-shot | lora | lora+psc | lora-matched | ρ vs lora % | ρ vs matched % |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    'cells: text loss at L′ (nats/token), mean (min–max) over seeds; ρ = 1 − ppl(lora+psc)/ppl(other)',
    ...Object.entries(res.controls.fineTuning).map(([k, j]) => `positive control ${k}: ${j.verdict === 'reproduced' ? 'passed' : 'FAILED'} — ${j.reason}`),
    ...Object.entries(res.judgements).map(([k, j]) => `${k}: ${j.verdict} — ${j.reason}`),
    `verdict: ${res.verdict} — ${res.reason}`,
  ].join('\n');
}

/** ρ(s) in % vs s, one line per method and comparator (mean over seeds), with ρ = 0 drawn as the reference. */
export function chart(res: Results): string {
  const factors = res.flags.factors;
  const series: LineSeries[] = [];
  for (const m of METHODS) {
    for (const other of ['lora', 'lora-matched'] as const) {
      series.push({
        name: `${label(m)}: PSC vs ${other === 'lora' ? 'LoRA' : 'matched LoRA'}`,
        points: res.flags.factors.map((s) => [s, 100 * mean(rhoOf(res, m, s, other))] as const),
        color: m === 'pi' ? '#0072B2' : '#D55E00',
        dash: other === 'lora' ? '' : '6 3',
      });
    }
  }
  series.push({ name: 'no gain (ρ = 0)', points: [[Math.min(...factors), 0], [Math.max(...factors), 0]], color: '#000000', dash: '2 2' });
  return lineChart({
    title: `PSC's relative perplexity reduction at L′ = s·${res.flags.trainLength}, mean of ${res.runs.length} seeds`,
    xLabel: 'extension factor s', yLabel: 'ρ = 1 − ppl(LoRA+PSC)/ppl(other), %', series, width: 760, height: 440,
  });
}

export function summaryLine(res: Results): string {
  return METHODS.map((m) => `${label(m)}: ${res.flags.factors.map((s) => `×${s} ρ vs LoRA ${stat(rhoOf(res, m, s, 'lora'), 2, 100)} %, vs matched ${stat(rhoOf(res, m, s, 'lora-matched'), 2, 100)} %`).join('; ')}`).join(' · ');
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/psc-calibration.ts [flags]

PSC (phase shift calibration) at toy scale: a small RoPE GPT pretrained at L = 64 on G1 Markov text (regime-matched
base) is extended to L′ = s·L with PI or YaRN and fine-tuned briefly with LoRA, LoRA + PSC, or a capacity-matched LoRA;
text loss at L′ over seeds.

  --quick         tiny settings (seconds; the numbers mean nothing)
  --seeds N       seeds (default ${DEFAULT_FLAGS.seeds})
  --steps N       pretraining AdamW steps (default ${DEFAULT_FLAGS.steps})
  --ft-steps N    fine-tuning steps per method, s and arm (default ${DEFAULT_FLAGS.ftSteps})
  --factors LIST  extension factors, comma-separated (default ${DEFAULT_FLAGS.factors.join(',')})
  --rank R        LoRA rank of the lora and lora+psc arms (default ${DEFAULT_FLAGS.rank})
  --lr X          pretraining peak learning rate (default ${DEFAULT_FLAGS.lr})
  --ft-lr X       fine-tuning learning rate (default ${DEFAULT_FLAGS.ftLr})
  --eval N        held-out sequences per length (default ${DEFAULT_FLAGS.eval})
  --batch B       pretraining sequences per step (default ${DEFAULT_FLAGS.batch})
  --dim C         model dim (default ${DEFAULT_FLAGS.dim})
  --heads H       heads (default ${DEFAULT_FLAGS.heads}; head dim C/H even)
  --layers N      layers (default ${DEFAULT_FLAGS.layers})
  --length L      pretraining context (default ${DEFAULT_FLAGS.trainLength})
  --ft-tokens N   tokens per fine-tuning step (default ${DEFAULT_FLAGS.ftTokens})
  --alpha X       LoRA α, scale α/√r (default ${DEFAULT_FLAGS.alpha})
  --json          print the results as JSON
  --help          this text`;

function readCommandLine(): Flags {
  const quick = process.argv.includes('--quick');
  return readFlags('psc-calibration', HELP, quick ? QUICK_FLAGS : DEFAULT_FLAGS, {
    values: {
      seeds: (f, v) => (f.seeds = integerFlag(v, 1)),
      steps: (f, v) => (f.steps = integerFlag(v, 0)),
      'ft-steps': (f, v) => (f.ftSteps = integerFlag(v, 0)),
      factors: (f, v) => (f.factors = v.split(',').map((x) => integerFlag(x, 2))),
      rank: (f, v) => (f.rank = integerFlag(v, 1)),
      lr: (f, v) => (f.lr = numberFlag(v, { above: 0 })),
      'ft-lr': (f, v) => (f.ftLr = numberFlag(v, { above: 0 })),
      eval: (f, v) => (f.eval = integerFlag(v, 1)),
      batch: (f, v) => (f.batch = integerFlag(v, 1)),
      dim: (f, v) => (f.dim = integerFlag(v, 2)),
      heads: (f, v) => (f.heads = integerFlag(v, 1)),
      layers: (f, v) => (f.layers = integerFlag(v, 1)),
      length: (f, v) => (f.trainLength = integerFlag(v, 4)),
      'ft-tokens': (f, v) => (f.ftTokens = integerFlag(v, 1)),
      alpha: (f, v) => (f.alpha = numberFlag(v, { above: 0 })),
    },
    switches: { quick: () => {}, json: (f) => (f.json = true) },
    check: (f) => {
      if (f.factors.length < 2) throw new FlagError('psc-calibration: --factors needs at least two factors (ρ must grow with s)');
      if (f.dim % f.heads !== 0 || (f.dim / f.heads) % 2 !== 0) throw new FlagError(`psc-calibration: --dim ${f.dim} must split into --heads ${f.heads} heads of an even size`);
    },
  });
}

function toResult(res: Results): ReproductionResult {
  return { verdict: res.verdict, summary: summaryLine(res), reason: res.reason, table: formatTable(res), svg: chart(res), data: res };
}

export const reproduction: Reproduction = {
  name: 'psc-calibration',
  paper: 'Zhu, Xu, Wang, Wu: Extending Context Window of Large Language Models via Phase Shift Calibration (PSC; EMNLP, arXiv 2505.12423; code WNQzhu/PSC)',
  claim: 'PSC is "a small module for calibrating the frequencies predefined by existing methods" (PI, YaRN, LongRoPE): per head a gate c = 1 + tanh(down(SiLU(up(x))))/2 rescales q and k before RoPE (lora_llama.py `Phase`), trained with LoRA (r = 8, q/k/v/o) during long-context fine-tuning (LLaMA-2-7B, seq 65536, YaRN factor 16, lr 2e-4); "when PSC is enabled, the comparative reductions in perplexity increase as the context window size is varied from 16k, to 32k, and up to 64k" (abstract; per-length numbers not retrieved).',
  setup: 'GPT 2L d64 4×16, RoPE base 273 (G4-matched at L = 64), 600 steps × 16 × 64 on G1 Markov text; extended to L′ = 128, 256 (s = 2, 4) with PI or YaRN (α = 1, β = 4), then 40 AdamW steps (lr 2e-3, ≈1024 tokens each) with the base frozen: LoRA r = 4 (q,k,v,o; 4096 params) vs LoRA r = 4 + PSC (+8192) vs LoRA r = 12 (12288, as many as LoRA + PSC); text loss at L′ on 16 held-out sequences; 3 seeds, each sharing its base model, LoRA init and batches across arms.',
  criterion: 'Stated before the run. Text loss at L′ (lower is better), judged by judgeOrdering (every seed in order and every mean gap > 2× the larger seed range → reproduced; means in order only → partly): for PI and YaRN at s = 2 and 4, (a) LoRA+PSC < LoRA and (b) LoRA+PSC < capacity-matched LoRA; (c) for each method ρ(s) = 1 − ppl(LoRA+PSC)/ppl(LoRA) higher at s = 4 than at s = 2 (judgeOrdering, higher). The verdict is the weakest of these ten. Positive controls (else not reproduced): the base model\'s loss at L (targets t ≥ 2) is below G1\'s first-order entropy in every seed (it uses relative position 2), and at s = 4 LoRA fine-tuning beats the zero-shot loss for both methods (judgeOrdering reproduced: the fine-tuning budget moves the loss).',
  falsifier: 'With the controls passing: ρ within seed noise or negative at every s, ρ shrinking as s grows, or LoRA+PSC no better than the capacity-matched LoRA (then the toy supports "more parameters", not "calibration").',
  minutes: 11,
  async run({ quick, progress }) {
    setNumThreads(1);
    return toResult(runExperiment(quick ? QUICK_FLAGS : DEFAULT_FLAGS, progress));
  },
};

function main(): void {
  const flags = readCommandLine();
  setNumThreads(1);
  const log = (s: string): void => (flags.json ? console.error(s) : console.log(s));
  log(`node scripts/run.mjs scripts/experiments/psc-calibration.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
  const res = runExperiment(flags, () => {}, log);
  log(`\n${formatTable(res)}`);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/psc-calibration.svg', chart(res));
  log(`\nwrote out/psc-calibration.svg; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify(res));
}

if (isEntryPoint(import.meta.url, 'psc-calibration')) main();
