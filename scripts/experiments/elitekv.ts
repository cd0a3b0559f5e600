/**
 * Issue 13 item 4 — EliteKV (Zhou et al. 2025; CiaranZhou/EliteKV) on the shipped reference model
 * (scripts/lib/reference-model.ts: RoPE GPT, 4 layers, 4 query heads / 2 KV heads of 32, context 512, val loss 1.496),
 * or with `--model mha` its twin with 4 KV heads (val loss 1.495): the paper converts MHA models, whose plain cache is
 * 2·d_model numbers per token and layer; the GQA model's is d_model, so a given ratio leaves it half as many numbers.
 *
 * 1. Calibration: `--windows` training windows of 512 characters run through the model block by block; each layer gives
 *    its pre-RoPE queries and keys (wq, wk of norm1(x)), and `ropeliteSelect` ranks every KV head's rotary pairs
 *    (RoPElite, greedy, averaged over the KV head's query group).
 * 2. Conversion (`eliteKVConvert`) at KV-cache budgets of 64, 32 and 16 numbers per token per layer (50%, 25%, 12.5% of
 *    the plain cache's 2·2·32 = 128; 128, 64, 32 of 256 for MHA): each budget b = c + 2·r·Hkv is split several ways
 *    (r = k·b/(8·Hkv), k = 1, 2, 3, so the rotated keys take a quarter, half or three quarters of it), with RoPElite's
 *    elite pairs and with the reference's uniform ones (`uniformElitePairs`); every conversion's val loss is measured as converted.
 * 3. Uptraining: for each budget the split where RoPElite's converted loss is lowest is uptrained, for both selections
 *    alike, `--steps` AdamW steps of `--batch` × 512 characters (96 × 1 × 512 = 1% of the reference's 1200 × 8 × 512
 *    training tokens; the same batches for every run), and measured again. The unconverted model gets the same
 *    uptraining as a control (more training of the reference itself). The loss is next-token cross-entropy, as the
 *    paper's; `--uptrain distill` (ours) uses the KL divergence to the unconverted model on the same windows instead.
 *
 * Target (issue 13): at 25% of the cache, after uptraining, val loss within 3% of the unconverted model's, and RoPElite
 * ahead of uniform; printed MET / NOT MET. Writes out/elitekv.svg (val loss vs cache ratio); `--json` prints the results
 * as one JSON object instead of tables.
 *
 * Reproduction (issue 17, ../shared/specs/reproductions.md §15b; `reproduction` below, run by `npm run reproduce
 * elitekv`): at 25 % cache (r = 4, c = 16, fixed in advance), RoPElite vs uniform vs the 4 slowest pairs, each
 * uptrained 16 steps × 8 × 128 characters; 3 seeds (RoPElite's calibration windows, uptraining batch order); verdict
 * by judgeOrdering on the uptrained val loss, the positive control being the unconverted model (same uptraining) ahead.
 *
 * Usage: node scripts/run.mjs scripts/experiments/elitekv.ts [--model gqa|mha] [--windows N] [--val N] [--steps N]
 *          [--batch B] [--context T] [--lr X] [--budgets 64,32,16] [--splits N] [--jlrd weights|inputs]
 *          [--uptrain lm|distill] [--rest nope|mean|attention] [--mean-key]
 *          [--other-lr-scale S] [--temperature τ] [--seed S] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdamW, Generator, Tensor, concat, matmul, noGrad, warmupCosineLr } from '../../core/index.js';
import { GPT } from '../../models/index.js';
import { attentionMeanRotation, eliteKVCacheRatio, eliteKVConvert, ropeliteSelect, train, uniformElitePairs, type MeanRotation, type RoPEliteOptions } from '../../nn/index.js';
import { loadCorpus, sampleBatch } from '../lib/corpus.js';
import { choiceFlag, integerFlag, integerListFlag, numberFlag, parseFlags as parseScriptFlags, readFlags, type FlagSpec } from '../lib/flags.js';
import { REFERENCE_CHECKPOINT, REFERENCE_MHA_CHECKPOINT, layerInputs, loadReferenceModel, referenceValLoss, ropeAttentionOf, type LayerQKV } from '../lib/reference-model.js';
import { isEntryPoint } from '../lib/entry.js';
import type { Reproduction } from '../lib/reproduction.js';
import { judgeOrdering, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';

// ── the model's layers ────────────────────────────────────────────────────────────────────────────────────────────

/**
 * RoPElite per layer on the calibration batches' layer inputs: per KV head, the pairs in the order picked (`rounds` of
 * them); `rest` is ropeliteSelect's (what the unselected pairs contribute: NoPE, or their mean rotation).
 */
export function ropeliteRanking(model: GPT, perBatch: readonly LayerQKV[][], rounds: number, rest: NonNullable<RoPEliteOptions['rest']> = 'nope'): number[][][] {
  return model.blocks.map((_, layer) => {
    const rope = ropeAttentionOf(model, layer).positional;
    const q = concat(perBatch.map((b) => b[layer]!.q), 0);
    const k = concat(perBatch.map((b) => b[layer]!.k), 0);
    return ropeliteSelect(q, k, rope.invFreq, rope.layout, { rounds, rest }).pairs;
  });
}

/** Per layer, E[x] [C] of the attention's input over the calibration tokens (float64; for `--mean-key`). */
export function inputMeans(perBatch: readonly LayerQKV[][]): Tensor[] {
  return perBatch[0]!.map((_, layer) => noGrad(() => concat(perBatch.map((b) => b[layer]!.x.reshape([-1, b[layer]!.x.shape[2]!])), 0).cast('float64').mean(0)));
}

/**
 * The calibration batches with every key minus its mean over all calibration tokens (per KV head and channel): with
 * mean keys the conversion keeps R(δθ)·μ of each non-elite pair, so what RoPElite's search must weigh is the rotation
 * of the rest, k − μ.
 */
export function centredKeys(perBatch: readonly LayerQKV[][]): LayerQKV[][] {
  const means = perBatch[0]!.map((_, layer) => noGrad(() => concat(perBatch.map((b) => b[layer]!.k), 0).mean([0, 2], true))); // [1, Hkv, 1, d]
  return perBatch.map((b) => b.map((qkv, layer) => ({ ...qkv, k: noGrad(() => qkv.k.sub(means[layer]!)) })));
}

/** Per layer, `attentionMeanRotation` of its calibration queries and keys (for `--rest attention`). */
export function attentionRotations(model: GPT, perBatch: readonly LayerQKV[][]): MeanRotation[][] {
  return model.blocks.map((_, layer) => {
    const rope = ropeAttentionOf(model, layer).positional;
    return attentionMeanRotation(concat(perBatch.map((b) => b[layer]!.q), 0), concat(perBatch.map((b) => b[layer]!.k), 0), rope.invFreq, rope.layout);
  });
}

/** Per layer, Σ = E[x xᵀ] [C, C] of the attention's input over the calibration tokens (for `--jlrd inputs`). */
export function inputCovariances(perBatch: readonly LayerQKV[][]): Tensor[] {
  return perBatch[0]!.map((_, layer) => noGrad(() => {
    const x = concat(perBatch.map((b) => b[layer]!.x.reshape([-1, b[layer]!.x.shape[2]!])), 0).cast('float64'); // [N, C]
    return matmul(x, x, { transposeA: true }).mul(1 / x.shape[0]!);
  }));
}

/**
 * The (r, c) splits of a budget of b numbers per token per layer, b = c + 2·r·Hkv: the rotated keys take k/4 of it,
 * k = 1, 2, 3 (r = k·b/(8·Hkv)), keeping those with an integer 1 ≤ r ≤ d/2 and 1 ≤ c ≤ maxRank.
 */
export function splits(budget: number, numKVHeads: number, headDim: number, dim: number): Array<{ r: number; c: number }> {
  const out: Array<{ r: number; c: number }> = [];
  for (let k = 1; k <= 3; k++) {
    const r = (k * budget) / (8 * numKVHeads);
    const c = budget - 2 * r * numKVHeads;
    const maxRank = Math.min(dim, numKVHeads * (2 * headDim - 2 * r));
    if (Number.isInteger(r) && r >= 1 && r <= headDim / 2 && c >= 1 && c <= maxRank) out.push({ r, c });
  }
  return out;
}

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

export type Selection = 'ropelite' | 'uniform';

export interface Row {
  budget: number;
  ratio: number;
  r: number;
  c: number;
  selection: Selection;
  before: number;
  /** After uptraining; null for the splits that were not uptrained. */
  after: number | null;
}

export interface Results {
  unconverted: number;
  /** The unconverted model after the same uptraining (control). */
  unconvertedUptrained: number;
  /** RoPElite's ranking per layer and KV head: the pairs in the order picked (as many rounds as the largest r). */
  ranking: number[][][];
  rows: Row[];
  /** The 25% target: the uptrained RoPElite row at a quarter of the plain cache within 3% of `unconverted`, and below uniform's. */
  target: { measured: boolean; ropelite: number | null; uniform: number | null; increase: number | null; met: boolean };
  settings: { kvHeads: number; windows: number; val: number; steps: number; batch: number; context: number; lr: number; jlrd: 'weights' | 'inputs'; uptrain: Uptraining; rest: Rest; meanKey: boolean; otherLrScale: number; temperature: number; seed: number; tokens: number; tokenFraction: number };
  seconds: { calibration: number; conversions: number; uptraining: number; total: number };
}

export interface Flags {
  windows: number;
  val: number;
  steps: number;
  batch: number;
  /** Uptraining window length; null: the model's context (512). Validation always runs on full 512 windows. */
  context: number | null;
  lr: number;
  /** Cache budgets in numbers per token per layer; null: a half, a quarter and an eighth of the plain cache. */
  budgets: number[] | null;
  splits: number;
  /** Which shipped reference model: 'gqa' (2 KV heads, the default) or 'mha' (4 KV heads, the paper's setting). */
  model: 'gqa' | 'mha';
  /** J-LRD by the weights' SVD (the reference) or by the SVD on the calibration inputs (ours: inputCovariance). */
  jlrd: 'weights' | 'inputs';
  /** Uptraining loss: next-token cross-entropy (the paper's) or distillation from the unconverted model (ours). */
  uptrain: Uptraining;
  /**
   * What replaces the non-elite pairs' rotation: the identity (the reference's NoPE), their mean rotation over the
   * context (ours), or their rotation averaged under the model's attention (ours; the search then uses the context mean).
   */
  rest: Rest;
  /** Mean keys (ours): each non-elite pair keeps its key's mean rotated by position (eliteKVConvert's inputMean); the search runs on centred keys. */
  meanKey: boolean;
  /** Uptraining lr of every parameter outside the attention layers, as a fraction of `lr` (1: one rate for all). */
  otherLrScale: number;
  /** Distillation temperature τ (with `--uptrain distill`). */
  temperature: number;
  /** Seed of the calibration windows (Generator(5 + seed)) and of the uptraining batches (17 + 1000·seed); 0 is the recorded run. */
  seed: number;
  json: boolean;
}

/**
 * 'nope': non-elite pairs unrotated, as the reference; 'mean' (ours): their mean rotation over the context
 * (nn/elitekv.ts `meanRotation`); 'attention' (ours): their rotation averaged under each head's attention on the
 * calibration windows (`attentionMeanRotation`).
 */
export type Rest = 'nope' | 'mean' | 'attention';

/** 'lm': next-token cross-entropy, as the paper uptrains; 'distill' (ours): KL to the unconverted model's next-token distribution. */
export type Uptraining = 'lm' | 'distill';

export const DEFAULT_FLAGS: Flags = { windows: 8, val: 16, steps: 96, batch: 1, context: null, lr: 5e-4, budgets: null, splits: 3, model: 'gqa', jlrd: 'weights', uptrain: 'lm', rest: 'nope', meanKey: false, otherLrScale: 1, temperature: 1, seed: 0, json: false };

const HELP = `usage: node scripts/run.mjs scripts/experiments/elitekv.ts [flags]

EliteKV on the reference model: RoPElite calibration, conversion at KV-cache budgets of 50%, 25%, 12.5% of the plain
cache (64, 32, 16 numbers per token per layer of 128 for the GQA model; 128, 64, 32 of 256 for the MHA one), RoPElite
vs uniform elite pairs, val loss before and after a short uptraining.

  --windows N    training windows of 512 for RoPElite (default 8)
  --val N        validation windows of 512 (default 16)
  --steps N      uptraining AdamW steps (default 96; 96 × 1 × 512 is 1% of the reference's training tokens)
  --batch B      sequences per uptraining step (default 1: at a fixed token budget more, smaller steps recover more)
  --context T    characters per uptraining sequence (default 512, the model's context)
  --lr X         uptraining peak learning rate, cosine-decayed to lr/10 (default 5e-4)
  --budgets LIST cache numbers per token per layer (default: a half, a quarter, an eighth of the plain cache)
  --splits N     (r, c) splits tried per budget, at most 3 (default 3)
  --model M      'gqa' (default): the shipped reference model, 2 KV heads; 'mha': the same model trained with 4 KV heads
                 (data/reference/rope-gpt-512-mha.safetensors), the setting of the paper (LLaMA-2, MHA)
  --jlrd MODE    'weights' (default): J-LRD by the SVD of W_kv, as the reference; 'inputs' (ours, not the paper's):
                 the rank-c map closest on the calibration windows' attention inputs (inputCovariance)
  --uptrain MODE 'lm' (default): next-token cross-entropy, as the paper; 'distill' (ours, not the paper's): the KL
                 divergence to the unconverted model's next-character distribution on the same windows
  --rest MODE    'nope' (default): the non-elite pairs unrotated, as the reference; 'mean' (ours, not the paper's):
                 replaced by their mean rotation over the 512-character context, in RoPElite's search and the conversion;
                 'attention' (ours): in the conversion, by their rotation averaged under each head's attention on the
                 calibration windows (attentionMeanRotation), the search using the context mean
  --mean-key     (ours, not the paper's) each non-elite pair keeps its key's calibration mean, rotated by position: the
                 logits keep q_restᵀ R(δθ) μ at no cache cost (eliteKVConvert's inputMean); RoPElite then searches on
                 keys minus that mean
  --other-lr-scale S  uptraining lr of every parameter outside the attention layers (embeddings, norms, MLPs) as a
                 fraction of --lr (default 1); below 1 they move less while the converted attention relearns
  --temperature τ  distillation temperature (default 1; with --uptrain distill): both next-character distributions
                 are softmax(logits/τ), the loss scaled by τ²
  --seed S       calibration windows and uptraining batches drawn with seed S (default 0; the pretrained model and
                 the validation windows stay the same)
  --json         print the results as JSON
  --help         this text`;

const FLAG_SPEC: FlagSpec<Flags> = {
  values: {
    windows: (f, v) => (f.windows = integerFlag(v, 1)),
    val: (f, v) => (f.val = integerFlag(v, 1)),
    steps: (f, v) => (f.steps = integerFlag(v, 0)),
    batch: (f, v) => (f.batch = integerFlag(v, 1)),
    context: (f, v) => (f.context = integerFlag(v, 2)),
    lr: (f, v) => (f.lr = numberFlag(v, { above: 0 })),
    budgets: (f, v) => (f.budgets = integerListFlag(v, 1)),
    splits: (f, v) => (f.splits = Math.min(3, integerFlag(v, 1))),
    model: (f, v) => (f.model = choiceFlag(v, ['gqa', 'mha'] as const)),
    jlrd: (f, v) => (f.jlrd = choiceFlag(v, ['weights', 'inputs'] as const)),
    uptrain: (f, v) => (f.uptrain = choiceFlag(v, ['lm', 'distill'] as const)),
    rest: (f, v) => (f.rest = choiceFlag(v, ['nope', 'mean', 'attention'] as const)),
    'other-lr-scale': (f, v) => (f.otherLrScale = numberFlag(v, { atLeast: 0 })),
    temperature: (f, v) => (f.temperature = numberFlag(v, { above: 0 })),
    seed: (f, v) => (f.seed = integerFlag(v, 0)),
  },
  switches: { json: (f) => (f.json = true), 'mean-key': (f) => (f.meanKey = true) },
};

export function parseFlags(argv: readonly string[]): Flags | 'help' {
  return parseScriptFlags<Flags>('elitekv', argv, DEFAULT_FLAGS, FLAG_SPEC);
}

/**
 * Distillation loss (Hinton et al. 2015 §2, temperature τ): mean over positions of KL(p_teacher ‖ p_student) up to the
 * teacher's entropy, −τ²·Σ_v p_teacher(v)·log p_student(v) with both distributions softmax(logits/τ); the τ² keeps the
 * gradients' scale as τ changes. ids: [B, T]; the teacher runs without gradients.
 */
export function distillationLoss(student: GPT, teacher: GPT, ids: Tensor, temperature = 1): Tensor {
  const target = noGrad(() => teacher.forward(ids).mul(1 / temperature).softmax(-1)); // [B, T, V]
  return student.forward(ids).mul(1 / temperature).logSoftmax(-1).mul(target).sum(-1).mean().mul(-temperature * temperature);
}

/** How `uptrain` trains: `steps` AdamW steps of `batch` windows of `context` characters drawn by Generator(`batchSeed`). */
export interface UptrainOptions {
  steps: number;
  batch: number;
  context: number;
  /** Peak learning rate, cosine-decayed to lr/10. */
  lr: number;
  batchSeed: number;
  /** Distil from this model (`distillationLoss`); null: next-token cross-entropy. */
  teacher: GPT | null;
  /** Distillation temperature τ (default 1). */
  temperature?: number;
  /** The learning rate of every parameter outside the blocks' attention layers, as a fraction of lr (default 1). */
  otherLrScale?: number;
}

/**
 * Uptrain `model` in place: AdamW on batches drawn by a fixed generator, the learning rate decaying from lr to lr/10
 * by a cosine (as the reference model's own training ended; a constant rate undoes some of its training). The
 * attention layers (the converted ones) train at that rate, every other parameter at `otherLrScale` times it.
 */
export function uptrain(model: GPT, trainIds: Int32Array, o: UptrainOptions): void {
  if (o.steps === 0) return;
  const g = new Generator(o.batchSeed); // the same batches for every run with this seed
  const attention = new Set(model.blocks.flatMap((block) => block.attn.parameters()));
  const groups = [
    { params: [...attention], lrScale: 1 },
    { params: model.parameters().filter((p) => !attention.has(p)), lrScale: o.otherLrScale ?? 1 },
  ];
  train(model, () => {
    const { x, y } = sampleBatch(trainIds, o.batch, o.context, g);
    return o.teacher === null ? model.loss(x, y) : distillationLoss(model, o.teacher, x, o.temperature);
  }, {
    steps: o.steps, optimizer: new AdamW(groups, { lr: o.lr, weightDecay: 0 }), clipGradNorm: 1, output: null,
    schedule: (step) => warmupCosineLr(step, { maxLr: o.lr, warmupSteps: 0, totalSteps: o.steps, minLr: o.lr / 10 }),
  });
}

/** The whole experiment on `model` (the reference model) and the corpus splits; `log` gets the progress lines. */
export function runExperiment(model: GPT, corpus: { train: Int32Array; val: Int32Array }, flags: Flags, log: (s: string) => void = () => {}): Results {
  const started = performance.now();
  const seconds = (t0: number): number => (performance.now() - t0) / 1000;
  const T = model.config.contextLength;
  const { numKVHeads: Hkv, headDim: d, dim: C } = ropeAttentionOf(model, 0);
  const full = 2 * Hkv * d;
  const unconverted = referenceValLoss(model, corpus.val, flags.val);
  log(`unconverted val loss ${unconverted.toFixed(4)} (${flags.val} windows of ${T}); plain cache ${full} numbers per token per layer`);

  const t0 = performance.now();
  const plans = (flags.budgets ?? [full / 2, full / 4, full / 8]).map((budget) => ({ budget, splits: splits(budget, Hkv, d, C).slice(0, flags.splits) }));
  const rounds = Math.max(1, ...plans.flatMap((p) => p.splits.map((s) => s.r)));
  const g = new Generator(5 + flags.seed);
  const calibration = Array.from({ length: Math.ceil(flags.windows / 4) }, (_, i) => sampleBatch(corpus.train, Math.min(4, flags.windows - 4 * i), T, g).x);
  const perBatch = calibration.map((ids) => layerInputs(model, ids));
  const ranking = ropeliteRanking(model, flags.meanKey ? centredKeys(perBatch) : perBatch, rounds, flags.rest === 'nope' ? 'nope' : 'mean');
  const conversion = {
    ...(flags.jlrd === 'inputs' ? { inputCovariance: inputCovariances(perBatch) } : {}),
    ...(flags.rest === 'mean' ? { meanRotationContext: T } : {}),
    ...(flags.rest === 'attention' ? { restRotation: attentionRotations(model, perBatch) } : {}),
    ...(flags.meanKey ? { inputMean: inputMeans(perBatch) } : {}),
  };
  const calibrationSeconds = seconds(t0);
  log(`RoPElite: ${flags.windows} windows, ${rounds} rounds, ${calibrationSeconds.toFixed(1)} s; first picks per layer (KV heads): ${ranking.map((l) => l.map((h) => h[0]).join('/')).join(', ')}`);

  const elitePairs = (selection: Selection, r: number): number[][][] =>
    ranking.map((layer) => layer.map((head) => (selection === 'ropelite' ? head.slice(0, r) : uniformElitePairs(d / 2, r))));
  const t1 = performance.now();
  const rows: Row[] = [];
  for (const { budget, splits: options } of plans) {
    for (const { r, c } of options) {
      for (const selection of ['ropelite', 'uniform'] as const) {
        const converted = eliteKVConvert(model, { elitePairs: elitePairs(selection, r), rank: c, ...conversion });
        const ratio = eliteKVCacheRatio({ rank: c, elitePairs: r, numKVHeads: Hkv, headDim: d });
        rows.push({ budget, ratio, r, c, selection, before: referenceValLoss(converted, corpus.val, flags.val), after: null });
        log(`  ${(100 * ratio).toFixed(1)}% r=${r} c=${c} ${selection}: ${rows.at(-1)!.before.toFixed(4)}`);
      }
    }
  }
  const conversionSeconds = seconds(t1);

  const t2 = performance.now();
  const control = new GPT(model.config); // a copy of the unconverted model
  control.loadStateDict(model.stateDict());
  const uptrainContext = flags.context ?? T;
  const teacher = flags.uptrain === 'distill' ? model : null;
  const uptraining = { steps: flags.steps, batch: flags.batch, context: uptrainContext, lr: flags.lr, batchSeed: 17 + 1000 * flags.seed, teacher, temperature: flags.temperature, otherLrScale: flags.otherLrScale };
  uptrain(control, corpus.train, uptraining);
  const unconvertedUptrained = referenceValLoss(control, corpus.val, flags.val);
  log(`control: the unconverted model after the same uptraining: ${unconvertedUptrained.toFixed(4)}`);
  for (const { budget } of plans) {
    const candidates = rows.filter((row) => row.budget === budget && row.selection === 'ropelite');
    if (candidates.length === 0) continue;
    const best = candidates.reduce((a, b) => (b.before < a.before ? b : a));
    for (const row of rows.filter((x) => x.budget === budget && x.r === best.r)) {
      const converted = eliteKVConvert(model, { elitePairs: elitePairs(row.selection, row.r), rank: row.c, ...conversion });
      uptrain(converted, corpus.train, uptraining);
      row.after = referenceValLoss(converted, corpus.val, flags.val);
      log(`  uptrained ${(100 * row.ratio).toFixed(1)}% r=${row.r} c=${row.c} ${row.selection}: ${row.before.toFixed(4)} → ${row.after.toFixed(4)}`);
    }
  }
  const uptrainingSeconds = seconds(t2);

  const tokens = flags.steps * flags.batch * uptrainContext;
  return {
    unconverted, unconvertedUptrained, ranking, rows,
    target: judgeTarget(rows, unconverted, full / 4),
    settings: { kvHeads: Hkv, windows: flags.windows, val: flags.val, steps: flags.steps, batch: flags.batch, context: uptrainContext, lr: flags.lr, jlrd: flags.jlrd, uptrain: flags.uptrain, rest: flags.rest, meanKey: flags.meanKey, otherLrScale: flags.otherLrScale, temperature: flags.temperature, seed: flags.seed, tokens, tokenFraction: tokens / (1200 * 8 * T) },
    seconds: { calibration: calibrationSeconds, conversions: conversionSeconds, uptraining: uptrainingSeconds, total: seconds(started) },
  };
}

/**
 * The issue's target on the uptrained rows of budget `budget` (a quarter of the plain cache): RoPElite's val loss
 * within 3% of `unconverted`, and below uniform's.
 */
export function judgeTarget(rows: readonly Row[], unconverted: number, budget: number): Results['target'] {
  const uptrained = (selection: Selection): Row | undefined => rows.find((row) => row.budget === budget && row.selection === selection && row.after !== null);
  const [ropelite, uniform] = [uptrained('ropelite'), uptrained('uniform')];
  const measured = ropelite !== undefined && uniform !== undefined;
  const increase = ropelite === undefined ? null : ropelite.after! / unconverted - 1;
  const met = measured && increase! <= 0.03 && ropelite.after! < uniform.after!;
  return { measured, ropelite: ropelite?.after ?? null, uniform: uniform?.after ?? null, increase, met };
}

const REST_WORDS: Record<Rest, string> = {
  nope: 'unrotated (the reference)',
  mean: 'replaced by their mean rotation over the context (ours)',
  attention: 'replaced by their rotation averaged under the attention (ours)',
};

/** The results table (markdown) and the target line. */
export function formatResults(res: Results): string {
  const pct = (v: number): string => `${v >= 0 ? '+' : ''}${(100 * (v / res.unconverted - 1)).toFixed(2)}%`;
  const lines = [
    `unconverted: ${res.unconverted.toFixed(4)}; after the same uptraining: ${res.unconvertedUptrained.toFixed(4)} (${pct(res.unconvertedUptrained)})`,
    '',
    '| cache ratio | r | c | selection | val loss as converted | over unconverted | after uptraining | over unconverted |',
    '|---:|---:|---:|---|---:|---:|---:|---:|',
    ...res.rows.map((row) =>
      `| ${(100 * row.ratio).toFixed(1)}% | ${row.r} | ${row.c} | ${row.selection} | ${row.before.toFixed(4)} | ${pct(row.before)} | ${row.after === null ? '—' : row.after.toFixed(4)} | ${row.after === null ? '—' : pct(row.after)} |`),
    '',
    `uptraining: ${res.settings.steps} steps × ${res.settings.batch} × ${res.settings.context} = ${res.settings.tokens} tokens (${(100 * res.settings.tokenFraction).toFixed(2)}% of the reference's training), AdamW peak lr ${res.settings.lr} (cosine to lr/10${res.settings.otherLrScale === 1 ? '' : `; ${res.settings.otherLrScale}× that outside the attention layers`}), ${res.settings.uptrain === 'distill' ? `loss: distillation from the unconverted model (ours${res.settings.temperature === 1 ? '' : `, temperature ${res.settings.temperature}`})` : 'loss: next-token cross-entropy (the paper\'s)'}, J-LRD on the ${res.settings.jlrd === 'inputs' ? 'calibration inputs (ours)' : 'weights (the reference)'}, non-elite pairs ${REST_WORDS[res.settings.rest]}${res.settings.meanKey ? ' plus their rotated mean key (ours)' : ''}, for the split (r, c) of each budget where RoPElite's converted loss is lowest`,
  ];
  const t = res.target;
  lines.push(
    `target (issue 13) — 25% cache, after uptraining: val loss within 3% of the unconverted model and RoPElite ahead of uniform: ${
      t.measured ? `RoPElite ${t.ropelite!.toFixed(4)} (${pct(t.ropelite!)}), uniform ${t.uniform!.toFixed(4)} — ${t.met ? 'MET' : 'NOT MET'}` : 'not measured (needs a budget of a quarter of the plain cache)'
    }`,
  );
  return lines.join('\n');
}

/** Val loss vs cache ratio: RoPElite and uniform, as converted and after uptraining (best split per budget), and the unconverted model. */
export function chart(res: Results): string {
  const series = (['ropelite', 'uniform'] as const).flatMap((selection) => {
    const uptrained = res.rows.filter((row) => row.selection === selection && row.after !== null).sort((a, b) => a.ratio - b.ratio);
    return [
      { name: `${selection} as converted`, points: uptrained.map((row) => [100 * row.ratio, row.before] as const) },
      { name: `${selection} uptrained`, points: uptrained.map((row) => [100 * row.ratio, row.after!] as const) },
    ];
  });
  const ratios = res.rows.map((row) => 100 * row.ratio);
  series.push({ name: 'unconverted (100% cache)', points: [Math.min(...ratios, 100), 100].map((x) => [x, res.unconverted] as const) });
  return lineChart({ title: `EliteKV, ${res.settings.kvHeads} KV heads (J-LRD on the ${res.settings.jlrd}): val loss vs KV-cache ratio`, xLabel: 'KV cache (% of the plain cache)', yLabel: 'val loss (nats/char)', series });
}

// ── reproduction (issue 17, ../shared/specs/reproductions.md §15b) ──────────────────────────────────────────────────

/** The pair selections compared at one cache ratio: RoPElite's greedy picks, the reference's uniform ones, and the r slowest pairs. */
export type EliteArm = 'ropelite' | 'uniform' | 'lowest-freq';
export const ELITE_ARMS: readonly EliteArm[] = ['ropelite', 'uniform', 'lowest-freq'];

export interface EliteSettings {
  seeds: number;
  /** RoPElite calibration windows (training split, drawn per seed) and their length. */
  windows: number;
  calibrationContext: number;
  /** Fixed validation windows of 512 (referenceValLoss). */
  val: number;
  /** Cache budget (numbers per token per layer, of 128) and its split: r rotated pairs per KV head, latent rank c. */
  budget: number;
  r: number;
  c: number;
  /** Uptraining: AdamW steps × batch windows of `context` characters, peak lr (cosine to lr/10); batch order per seed. */
  steps: number;
  batch: number;
  context: number;
  lr: number;
}

/** 25 % cache (32 of 128 numbers), the middle split r = 4, c = 16; 16 uptraining steps × 8 × 128 characters. */
export const ELITE_FULL: EliteSettings = { seeds: 3, windows: 4, calibrationContext: 512, val: 8, budget: 32, r: 4, c: 16, steps: 16, batch: 8, context: 128, lr: 1e-3 };
export const ELITE_QUICK: EliteSettings = { seeds: 3, windows: 1, calibrationContext: 64, val: 1, budget: 32, r: 4, c: 16, steps: 1, batch: 1, context: 16, lr: 1e-3 };

/** The r slowest pairs (the highest indices: θ_i = b^(−2i/d) falls with i). */
export function lowestFrequencyPairs(numPairs: number, r: number): number[] {
  return Array.from({ length: r }, (_, i) => numPairs - r + i);
}

export interface EliteSeedRun {
  seed: number;
  /** Val loss per arm as converted and after uptraining; the unconverted model after the same uptraining (control). */
  before: Record<EliteArm, number>;
  after: Record<EliteArm, number>;
  unconvertedUptrained: number;
  /** RoPElite's picks per layer and KV head. */
  picks: number[][][];
}

export function runEliteSeed(model: GPT, corpus: { train: Int32Array; val: Int32Array }, s: EliteSettings, seed: number): EliteSeedRun {
  const { headDim: d } = ropeAttentionOf(model, 0);
  const g = new Generator(5000 + seed);
  const calibration = Array.from({ length: Math.ceil(s.windows / 4) }, (_, i) => layerInputs(model, sampleBatch(corpus.train, Math.min(4, s.windows - 4 * i), s.calibrationContext, g).x));
  const ranking = ropeliteRanking(model, calibration, s.r);
  const picks = ranking.map((layer) => layer.map((head) => head.slice(0, s.r)));
  const pairsOf = (arm: EliteArm): number[][][] =>
    arm === 'ropelite' ? picks : ranking.map((layer) => layer.map(() => (arm === 'uniform' ? uniformElitePairs(d / 2, s.r) : lowestFrequencyPairs(d / 2, s.r))));
  const uptraining = { steps: s.steps, batch: s.batch, context: s.context, lr: s.lr, batchSeed: 17 + 1000 * seed, teacher: null };
  const before = {} as Record<EliteArm, number>;
  const after = {} as Record<EliteArm, number>;
  for (const arm of ELITE_ARMS) {
    const converted = eliteKVConvert(model, { elitePairs: pairsOf(arm), rank: s.c });
    before[arm] = referenceValLoss(converted, corpus.val, s.val);
    uptrain(converted, corpus.train, uptraining);
    after[arm] = referenceValLoss(converted, corpus.val, s.val);
  }
  const control = new GPT(model.config);
  control.loadStateDict(model.stateDict());
  uptrain(control, corpus.train, uptraining);
  return { seed, before, after, unconvertedUptrained: referenceValLoss(control, corpus.val, s.val), picks };
}

export interface EliteJudgement {
  verdict: Verdict;
  reason: string;
  /** RoPElite < uniform after uptraining (the claim). */
  claim: OrderingJudgement;
  /** Reported: RoPElite < uniform as converted; RoPElite < lowest-freq after uptraining. */
  asConverted: OrderingJudgement;
  lowest: OrderingJudgement;
  /** Positive control: the unconverted model (same uptraining) < RoPElite after uptraining: the compression costs loss. */
  control: OrderingJudgement;
}

export function judgeElite(runs: readonly EliteSeedRun[]): EliteJudgement {
  const after = (a: EliteArm): number[] => runs.map((r) => r.after[a]);
  const claim = judgeOrdering({ ropelite: after('ropelite'), uniform: after('uniform') }, ['ropelite', 'uniform'], 'lower');
  const asConverted = judgeOrdering({ ropelite: runs.map((r) => r.before.ropelite), uniform: runs.map((r) => r.before.uniform) }, ['ropelite', 'uniform'], 'lower');
  const lowest = judgeOrdering({ ropelite: after('ropelite'), 'lowest-freq': after('lowest-freq') }, ['ropelite', 'lowest-freq'], 'lower');
  const control = judgeOrdering({ unconverted: runs.map((r) => r.unconvertedUptrained), ropelite: after('ropelite') }, ['unconverted', 'ropelite'], 'lower');
  const extra = `as converted: ${asConverted.verdict}; RoPElite vs lowest-freq after uptraining: ${lowest.verdict}`;
  if (control.verdict !== 'reproduced') {
    return { verdict: 'not reproduced', reason: `positive control failed — the unconverted model is not clearly ahead of RoPElite at 25 % (${control.reason}), so the cache budget leaves nothing for the selection to decide; RoPElite vs uniform: ${claim.verdict} — ${claim.reason}; ${extra}`, claim, asConverted, lowest, control };
  }
  return { verdict: claim.verdict, reason: `val loss after uptraining at 25 % cache, RoPElite < uniform: ${claim.reason}; ${extra}; positive control passed`, claim, asConverted, lowest, control };
}

export function formatElite(runs: readonly EliteSeedRun[], s: EliteSettings, j: EliteJudgement): string {
  const f = (v: number): string => v.toFixed(4);
  const stat = (xs: number[]): string => `${f(xs.reduce((a, b) => a + b, 0) / xs.length)} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
  const gaps = (o: OrderingJudgement): string => o.gaps.map((g) => `${g.better} − ${g.worse} = ${g.gap.toFixed(4)} (margin ${g.margin.toFixed(4)})`).join('; ') + `, seeds in order: ${o.seedsInOrder.map((ok) => (ok ? 'yes' : 'no')).join('/')}`;
  return [
    `reference model; cache ${s.budget} of 128 numbers per token per layer (${(100 * s.budget / 128).toFixed(1)} %): r = ${s.r} rotated pairs per KV head, J-LRD rank c = ${s.c}; RoPElite on ${s.windows} windows of ${s.calibrationContext}; uptraining ${s.steps} AdamW steps × ${s.batch} × ${s.context} characters (${s.steps * s.batch * s.context} tokens), peak lr ${s.lr} cosine to lr/10; val ${s.val} fixed windows of 512`,
    '',
    `| arm | as converted ${runs.map((r) => `s${r.seed}`).join(' / ')} | mean (min–max) | after uptraining ${runs.map((r) => `s${r.seed}`).join(' / ')} | mean (min–max) |`,
    '|---|---|---:|---|---:|',
    ...ELITE_ARMS.map((a) => `| ${a} | ${runs.map((r) => f(r.before[a])).join(' / ')} | ${stat(runs.map((r) => r.before[a]))} | ${runs.map((r) => f(r.after[a])).join(' / ')} | ${stat(runs.map((r) => r.after[a]))} |`),
    `| unconverted (100 %) | — | — | ${runs.map((r) => f(r.unconvertedUptrained)).join(' / ')} | ${stat(runs.map((r) => r.unconvertedUptrained))} |`,
    '',
    `RoPElite picks (layer: KV heads), seed ${runs[0]!.seed}: ${runs[0]!.picks.map((l, i) => `${i}: ${l.map((h) => h.join(',')).join(' | ')}`).join('; ')}`,
    `criterion — RoPElite < uniform after uptraining: ${gaps(j.claim)} → ${j.claim.verdict}`,
    `reported — RoPElite < uniform as converted: ${gaps(j.asConverted)} → ${j.asConverted.verdict}; RoPElite < lowest-freq after uptraining: ${gaps(j.lowest)} → ${j.lowest.verdict}`,
    `positive control — unconverted < RoPElite after the same uptraining: ${gaps(j.control)} → ${j.control.verdict === 'reproduced' ? 'passed' : 'FAILED'}`,
    `verdict: ${j.verdict} — ${j.reason}`,
  ].join('\n');
}

export const reproduction: Reproduction = {
  name: 'elitekv',
  paper: 'Zhou et al.: EliteKV: Scalable KV Cache Compression via RoPE Frequency Selection and Joint Low-Rank Projection (2025; arXiv 2503.01586)',
  claim:
    'RoPElite finds each head\u2019s frequency preference and keeps rotation only on the selected pairs; with joint low-rank projection of K and V (J-LRD) and uptraining on 0.6 % of the original tokens, LLaMA2-7B/13B reach a 25 % KV cache with negligible loss (12.5 % ≈ GQA at 50 %); the greedy search restores one pair at a time, picking the one minimising mean |logits_partial − logits_fullRoPE| (CiaranZhou/EliteKV RoPElite/analysis.py).',
  setup:
    `Shipped reference char-LM (4 layers, 2 KV heads of 32, context 512), converted to a 25 % cache (r = ${ELITE_FULL.r} rotated pairs per KV head, J-LRD rank ${ELITE_FULL.c}) with RoPElite (${ELITE_FULL.windows} calibration windows per seed) vs uniform vs the ${ELITE_FULL.r} slowest pairs; ${ELITE_FULL.steps}-step uptraining (${ELITE_FULL.steps * ELITE_FULL.batch * ELITE_FULL.context} tokens); val loss on ${ELITE_FULL.val} fixed windows; 3 seeds (calibration windows and uptraining batch order; one pretrained model).`,
  criterion:
    'Val loss (nats/char) after uptraining at 25 % cache, RoPElite < uniform (the reference\u2019s torch.linspace pairs), judged by judgeOrdering (lower better): every seed in order and the mean gap above twice the larger seed range → reproduced; means in order only → partly. Seed i shares calibration windows (RoPElite\u2019s input) and uptraining batches across arms; the split (r = 4, c = 16) is fixed in advance (the middle of the three 25 % splits). Reported, not in the verdict: the same comparison as converted, and RoPElite vs the r slowest pairs. Positive control: the unconverted model after the same uptraining beats RoPElite at 25 % (judgeOrdering must say reproduced) — else the compression is free here and no selection can matter. Seeds do not vary the pretrained model: model-to-model variance is not covered.',
  falsifier: 'With the positive control passing, uniform pairs match or beat RoPElite\u2019s after uptraining (gap within the seed range or reversed): per-head frequency selection buys nothing at this scale.',
  minutes: 3,
  async run({ quick, progress }) {
    const s = quick ? ELITE_QUICK : ELITE_FULL;
    const corpus = loadCorpus();
    const { model } = loadReferenceModel();
    const runs: EliteSeedRun[] = [];
    progress(0, s.seeds, 'seed 1');
    for (let i = 0; i < s.seeds; i++) {
      runs.push(runEliteSeed(model, corpus, s, i + 1));
      progress(i + 1, s.seeds, `seed ${i + 1} done`);
    }
    const j = judgeElite(runs);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const stat = (xs: number[]): string => `${mean(xs).toFixed(4)} (${Math.min(...xs).toFixed(4)}–${Math.max(...xs).toFixed(4)})`;
    const svg = lineChart({
      title: `EliteKV at ${(100 * s.budget / 128).toFixed(0)} % cache: val loss (mean of ${s.seeds} seeds)`,
      xLabel: 'stage (0 = as converted, 1 = after uptraining)', yLabel: 'val loss (nats/char)',
      series: [
        ...ELITE_ARMS.map((a) => ({ name: a, points: [[0, mean(runs.map((r) => r.before[a]))], [1, mean(runs.map((r) => r.after[a]))]] as Array<readonly [number, number]> })),
        { name: 'unconverted (uptrained)', points: [[0, mean(runs.map((r) => r.unconvertedUptrained))], [1, mean(runs.map((r) => r.unconvertedUptrained))]] },
      ],
    });
    return {
      verdict: j.verdict,
      summary: `val loss after uptraining at 25 % cache: ${ELITE_ARMS.map((a) => `${a} ${stat(runs.map((r) => r.after[a]))}`).join(', ')}; unconverted ${stat(runs.map((r) => r.unconvertedUptrained))}`,
      reason: j.reason,
      table: formatElite(runs, s, j),
      svg,
      data: { settings: s, runs, judgement: j },
    };
  },
};

function main(): void {
  const flags = readFlags('elitekv', HELP, DEFAULT_FLAGS, FLAG_SPEC);
  const log = (s: string): void => {
    if (!flags.json) console.log(s);
  };
  const corpus = loadCorpus();
  const { model } = loadReferenceModel(resolve(flags.model === 'mha' ? REFERENCE_MHA_CHECKPOINT : REFERENCE_CHECKPOINT));
  const res = runExperiment(model, corpus, flags, log);
  log(`\n${formatResults(res)}`);
  mkdirSync('out', { recursive: true });
  const svgPath = flags.model === 'mha' ? 'out/elitekv-mha.svg' : 'out/elitekv.svg';
  writeFileSync(svgPath, chart(res));
  log(`\nwrote ${svgPath}; ${res.seconds.calibration.toFixed(0)} s calibration, ${res.seconds.conversions.toFixed(0)} s conversions, ${res.seconds.uptraining.toFixed(0)} s uptraining, ${res.seconds.total.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify(res));
}

if (isEntryPoint(import.meta.url, 'elitekv')) main();
