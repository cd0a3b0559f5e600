/**
 * Issue 17, protocol #4 A (../shared/specs/reproductions.md §5) — "Base of RoPE Bounds Context Length" (Men, Xu,
 * Wang, Zhang, Lin, Han, Chen; NeurIPS 2024, arXiv 2405.14591), from scratch: small RoPE GPTs (models/gpt.ts) with
 * several bases trained on the same data; does the retrieval range track the paper's bound while the text loss (the
 * "superficial" long-context metric) stays flat?
 *
 * The bound (positional/base-bound.ts): B_{m,θ} = Σ_i cos(m·θ_i), θ_i = b^(−2i/d); L_θ = m0(b) − 1 where m0(b) =
 * firstNegativeDistance(b, d_head) is the first distance with B_{m,θ} < 0 — the longest context over which a query
 * still prefers a similar key to a random one.
 *
 * Data (scripts/lib/toy-data.ts, plus one generator here):
 * - G1 text: BOS + the second-order Markov chain (entropy rate 0.898 nats/token, the floor of the text loss);
 * - multi-query KV retrieval (scripts/lib/toy-data.ts `multiQueryEpisode`, the spec's "multi-key, multi-query" G2 variant): G1 filler with
 *   `pairs` blocks `MARK k v1 v2 v3` (distinct keys k) and, for each, a later block `QUERY k v1 v2 v3` at an exactly
 *   chosen distance position(QUERY) − position(MARK); training distances are uniform over [5, T − 5], so every
 *   distance is trained. The other pairs are the distractors of each query. The 16 keys are tokens of their own
 *   (after TOY_VOCAB), never in the filler.
 * The third protocol uses one pair per episode (`pairs` 1): the query's key token attends to the same token d back.
 * Each training batch holds `textRows` text rows (4 of 16 by default), the rest retrieval episodes. The loss is
 * answer-dominated: next-token cross-entropy over every position of the text rows plus cross-entropy over the answer
 * digits only of the episode rows (each mean, summed), so the sparse recall signal is not drowned by filler.
 * (The first protocol trained plain next-token loss on everything with letter keys, at dim 32 and 1 head: no model
 * learned to retrieve; see the reproduction's history.)
 *
 * Metrics, per (base, seed), on held-out data shared by all arms:
 * (a) text loss: cross-entropy on the letters of fresh G1 sequences predicted from two letters (positions ≥ 3);
 * (b) retrieval accuracy per distance d on a grid: episodes with one controlled pair at distance d (the others at
 *     random distances), a query counted right when all three answer digits are the argmax (teacher forcing);
 * (c) effective length: the distance where the accuracy curve, read outward from the shortest distance, first falls
 *     below 80 % (linear interpolation between grid points; the longest grid distance when it never does; 0 when the
 *     shortest already fails);
 * (d) Spearman(effective length, L_θ) over all runs.
 *
 * Usage: node scripts/run.mjs scripts/experiments/base-bound-retrieval.ts [--quick] [--seeds N] [--steps N]
 *          [--bases 30,100,300,3000] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { AdamW, Generator, Tensor, add, argmax, crossEntropy, noGrad, setNumThreads } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { train } from '../../nn/train.js';
import { firstNegativeDistance } from '../../positional/base-bound.js';
import { isEntryPoint } from '../lib/entry.js';
import { integerFlag, integerListFlag, readFlags } from '../lib/flags.js';
import type { Reproduction, ReproductionResult } from '../lib/reproduction.js';
import { judgeOrdering, meanRange, summarize, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';
import { MarkovText, TOY_VOCAB, multiQueryEpisode, textDocument, type MultiQuery, type MultiQueryEpisode } from '../lib/toy-data.js';

// ── data ──────────────────────────────────────────────────────────────────────────────────────────────────────────


/** Rows of T + 1 tokens → inputs [B, T] and next-token targets (flat [B·T]). */
function toBatch(rows: readonly Int32Array[]): { ids: Tensor; targets: Int32Array } {
  const T = rows[0]!.length - 1;
  const ids = new Float64Array(rows.length * T);
  const targets = new Int32Array(rows.length * T);
  rows.forEach((row, b) => {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = row[t]!;
      targets[b * T + t] = row[t + 1]!;
    }
  });
  return { ids: new Tensor(ids, [rows.length, T]), targets };
}

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

export interface Settings {
  /** Training context T (the model sees T tokens; episodes hold T + 1). */
  context: number;
  dim: number;
  layers: number;
  heads: number;
  bases: number[];
  seeds: number;
  steps: number;
  /** Sequences per step. */
  batch: number;
  /** Of which this many are pure G1 text (the rest retrieval episodes, whose filler is G1 text too). */
  textRows: number;
  lr: number;
  /** Key–value pairs per retrieval sequence. */
  pairs: number;
  /** Retrieval accuracy is measured at these distances. */
  evalDistances: number[];
  /** Episodes per evaluation distance. */
  evalEpisodes: number;
  /** Text sequences for the text loss. */
  evalText: number;
}

export const FULL: Settings = {
  context: 64, dim: 64, layers: 2, heads: 2, bases: [20, 50, 200, 1000], seeds: 3, steps: 5000, batch: 16, textRows: 4, lr: 3e-3, pairs: 1,
  evalDistances: [8, 16, 24, 32, 40, 48, 56], evalEpisodes: 96, evalText: 32,
};

export const QUICK: Settings = {
  context: 32, dim: 16, layers: 2, heads: 2, bases: [30, 3000], seeds: 2, steps: 3, batch: 4, textRows: 2, lr: 3e-3, pairs: 2,
  evalDistances: [8, 16, 24], evalEpisodes: 4, evalText: 2,
};

/** The retrieval keys: 16 tokens after the toy vocabulary's, so the filler never contains one. */
const FIRST_KEY = TOY_VOCAB.size;
/** The models' vocabulary: the toy vocabulary and the keys. */
const VOCAB_SIZE = TOY_VOCAB.size + TOY_VOCAB.keys;

/** Accuracy needed at a distance for it to count as retrieved. */
export const THRESHOLD = 0.8;
/** Text loss counts as flat when the worst base's mean is within this fraction of the best's. */
export const TEXT_TOLERANCE = 0.05;

export interface ArmRun {
  base: number;
  seed: number;
  textLoss: number;
  /** Accuracy per evaluation distance: the first answer digit (the key → value lookup) is the argmax. */
  accuracy: number[];
  /** Per distance: all three answer digits are the argmax (digits 2–3 also need the block's order). */
  exactMatch: number[];
  effectiveLength: number;
  finalTrainLoss: number;
  seconds: number;
}

/** L_θ = m0(b) − 1: B_{m,θ} ≥ 0 for every m ≤ L_θ (Men et al. 2024), for head dim d. */
export function boundLength(base: number, headDim: number): number {
  return firstNegativeDistance(base, headDim) - 1;
}

/**
 * Where the accuracy curve, read from the shortest distance outward, first falls below `threshold`: linear
 * interpolation between the last grid distance at or above it and the first below; the longest distance when none
 * falls below; 0 when the shortest already does.
 */
export function effectiveLength(distances: readonly number[], accuracy: readonly number[], threshold = THRESHOLD): number {
  if (distances.length === 0 || distances.length !== accuracy.length) throw new RangeError(`effectiveLength: need one accuracy per distance, got ${distances.length} and ${accuracy.length}`);
  if (accuracy[0]! < threshold) return 0;
  for (let i = 1; i < distances.length; i++) {
    if (accuracy[i]! < threshold) {
      const [d0, d1, a0, a1] = [distances[i - 1]!, distances[i]!, accuracy[i - 1]!, accuracy[i]!];
      return d0 + ((a0 - threshold) / (a0 - a1)) * (d1 - d0);
    }
  }
  return distances.at(-1)!;
}

/** Spearman's rank correlation (ties get their mean rank); NaN when either side is constant. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length || x.length < 2) throw new RangeError(`spearman: need two lists of equal length ≥ 2, got ${x.length} and ${y.length}`);
  const ranks = (v: readonly number[]): number[] => {
    const order = v.map((_, i) => i).sort((a, b) => v[a]! - v[b]!);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length;) {
      let j = i;
      while (j + 1 < order.length && v[order[j + 1]!] === v[order[i]!]) j++;
      for (let k = i; k <= j; k++) r[order[k]!] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (rx.length + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - mean) * (ry[i]! - mean);
    sxx += (rx[i]! - mean) ** 2;
    syy += (ry[i]! - mean) ** 2;
  }
  return sxx === 0 || syy === 0 ? NaN : sxy / Math.sqrt(sxx * syy);
}

/** The held-out data every arm is measured on (fixed seeds, independent of the training seeds). */
interface EvalSet {
  text: { ids: Tensor; targets: Int32Array }[];
  /** Per distance: batches of episodes and, per batch, the controlled query of each row. */
  retrieval: Array<Array<{ ids: Tensor; queries: MultiQuery[] }>>;
}

const EVAL_BATCH = 16;

function makeEvalSet(s: Settings, text: MarkovText): EvalSet {
  const g = new Generator(777_001);
  const textRows = Array.from({ length: s.evalText }, () => textDocument(s.context + 1, g, text));
  const chunks = <T>(xs: T[]): T[][] => Array.from({ length: Math.ceil(xs.length / EVAL_BATCH) }, (_, i) => xs.slice(i * EVAL_BATCH, (i + 1) * EVAL_BATCH));
  const textBatches = chunks(textRows).map((rows) => {
    const batch = toBatch(rows);
    // score a letter only once two letters precede it (positions ≥ 3 of the sequence: targets at t ≥ 2)
    const T = s.context;
    for (let i = 0; i < batch.targets.length; i++) if (i % T < 2) batch.targets[i] = -1;
    return batch;
  });
  const retrieval = s.evalDistances.map((d) => {
    const episodes = Array.from({ length: s.evalEpisodes }, () => multiQueryEpisode({ length: s.context + 1, pairs: s.pairs, distances: [d], generator: g, text, firstKey: FIRST_KEY }));
    return chunks(episodes).map((eps) => ({ ids: toBatch(eps.map((e) => e.tokens)).ids, queries: eps.map((e) => e.queries[0]!) }));
  });
  return { text: textBatches, retrieval };
}

/**
 * Queries answered right, given the argmax predictions `pred` [B, T] of a batch (the prediction at t is for token
 * t + 1) and the query of each row: `first` counts a right first digit, `exact` all three.
 */
export function scoreQueries(pred: ArrayLike<number>, T: number, queries: readonly MultiQuery[]): { first: number; exact: number } {
  let first = 0;
  let exact = 0;
  queries.forEach((q, b) => {
    if (pred[b * T + q.answerPositions[0] - 1] === q.values[0]) first++;
    if (q.answerPositions.every((pos, j) => pred[b * T + pos - 1] === q.values[j])) exact++;
  });
  return { first, exact };
}

/**
 * Episodes as a batch whose targets are the answer digits only (−1 elsewhere): the prediction at position p − 1 is for
 * the digit at p, for every answer position p of every query.
 */
export function answerTargets(episodes: readonly MultiQueryEpisode[], T: number): { ids: Tensor; targets: Int32Array } {
  const { ids, targets } = toBatch(episodes.map((e) => e.tokens));
  const answers = new Int32Array(targets.length).fill(-1);
  episodes.forEach((e, b) => {
    for (const q of e.queries) for (const p of q.answerPositions) answers[b * T + p - 1] = targets[b * T + p - 1]!;
  });
  return { ids, targets: answers };
}

/** Text loss and retrieval accuracy per distance of a trained model. */
function measure(model: GPT, evalSet: EvalSet, s: Settings): { textLoss: number; accuracy: number[]; exactMatch: number[] } {
  const exactMatch: number[] = [];
  return noGrad(() => {
    let loss = 0;
    for (const { ids, targets } of evalSet.text) loss += crossEntropy(model.forward(ids), targets, { ignoreIndex: -1 }).item();
    const T = s.context;
    const accuracy = evalSet.retrieval.map((batches) => {
      let hit = 0;
      let exact = 0;
      let n = 0;
      for (const { ids, queries } of batches) {
        const score = scoreQueries(argmax(model.forward(ids), -1).data, T, queries);
        hit += score.first;
        exact += score.exact;
        n += queries.length;
      }
      exactMatch.push(exact / n);
      return hit / n;
    });
    return { textLoss: loss / evalSet.text.length, accuracy, exactMatch };
  });
}

/** One model: base `base`, seed `seed` (init and data order shared by every base). */
function runArm(s: Settings, base: number, seed: number, text: MarkovText, evalSet: EvalSet, onStep: () => void): ArmRun {
  const started = performance.now();
  const model = new GPT({
    vocabSize: VOCAB_SIZE, contextLength: s.context, dim: s.dim, numLayers: s.layers, numHeads: s.heads, positional: 'rope', ropeBase: base, seed,
  });
  const g = new Generator(10_007 * seed);
  const half = s.textRows;
  const warmup = Math.max(1, Math.round(s.steps / 20));
  const result = train(model, () => {
    const textRows = Array.from({ length: half }, () => textDocument(s.context + 1, g, text));
    const episodes = Array.from({ length: s.batch - half }, () => multiQueryEpisode({ length: s.context + 1, pairs: s.pairs, generator: g, text, firstKey: FIRST_KEY }));
    const textBatch = toBatch(textRows);
    const recall = answerTargets(episodes, s.context);
    return add(crossEntropy(model.forward(textBatch.ids), textBatch.targets), crossEntropy(model.forward(recall.ids), recall.targets, { ignoreIndex: -1 }));
  }, {
    steps: s.steps, optimizer: new AdamW(model.parameters(), { lr: s.lr, weightDecay: 0 }), clipGradNorm: 1, output: null,
    schedule: (step) => s.lr * Math.min(1, (step + 1) / warmup) * (0.55 + 0.45 * Math.cos((Math.PI * step) / s.steps)),
    onStep,
  });
  const { textLoss, accuracy, exactMatch } = measure(model, evalSet, s);
  return {
    base, seed, textLoss, accuracy, exactMatch, effectiveLength: effectiveLength(s.evalDistances, accuracy), finalTrainLoss: result.losses.at(-1) ?? NaN,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface Results {
  settings: Settings;
  headDim: number;
  /** L_θ per base (same order as settings.bases). */
  bounds: number[];
  entropyRate: number;
  runs: ArmRun[];
  ordering: OrderingJudgement;
  textSpread: number;
  textFlat: boolean;
  /** Mean accuracy of the largest base at every distance ≥ THRESHOLD. */
  control: { base: number; minMeanAccuracy: number; passed: boolean };
  spearman: number;
  verdict: Verdict;
  reason: string;
  seconds: number;
}

/**
 * The models of `seeds` × `bases` (the largest base first within a seed, so the positive control comes early); the
 * evaluation data depend only on the settings, so runs split over processes (e.g. one per seed) can be joined.
 */
export function runArms(s: Settings, bases: readonly number[], seeds: readonly number[], progress: (done: number, total: number, note?: string) => void = () => {}): ArmRun[] {
  setNumThreads(1);
  const text = new MarkovText();
  const evalSet = makeEvalSet(s, text);
  const runs: ArmRun[] = [];
  const total = bases.length * seeds.length * s.steps;
  let done = 0;
  for (const seed of seeds) {
    for (const base of [...bases].sort((a, b) => b - a)) {
      const run = runArm(s, base, seed, text, evalSet, () => progress(++done, total, `base ${base}, seed ${seed}`));
      runs.push(run);
      progress(done, total, `base ${base}, seed ${seed}: text loss ${run.textLoss.toFixed(3)}, effective length ${run.effectiveLength.toFixed(1)}, accuracy % ${run.accuracy.map((a) => (100 * a).toFixed(0)).join(' ')}`);
    }
  }
  return runs;
}

export function runExperiment(s: Settings, progress: (done: number, total: number, note?: string) => void = () => {}): Results {
  const started = performance.now();
  const runs = runArms(s, s.bases, Array.from({ length: s.seeds }, (_, i) => i + 1), progress);
  const headDim = s.dim / s.heads;
  return { ...judge(s, headDim, s.bases.map((b) => boundLength(b, headDim)), new MarkovText().entropyRate, runs), seconds: (performance.now() - started) / 1000 };
}

/** The pre-registered verdict from the runs. */
export function judge(s: Settings, headDim: number, bounds: number[], entropyRate: number, runs: ArmRun[]): Omit<Results, 'seconds'> {
  const name = (b: number): string => `base ${b}`;
  const per = (b: number): ArmRun[] => runs.filter((r) => r.base === b).sort((x, y) => x.seed - y.seed);
  const arms = Object.fromEntries(s.bases.map((b) => [name(b), per(b).map((r) => r.effectiveLength)]));
  const predicted = [...s.bases].sort((a, b) => b - a).map(name); // best (longest) first: the largest base
  const ordering = judgeOrdering(arms, predicted, 'higher');
  const textMeans = s.bases.map((b) => summarize(per(b).map((r) => r.textLoss)).mean);
  const textSpread = Math.max(...textMeans) / Math.min(...textMeans) - 1;
  const textFlat = textSpread <= TEXT_TOLERANCE;
  const top = Math.max(...s.bases);
  const topRuns = per(top);
  const meanAcc = s.evalDistances.map((_, i) => topRuns.reduce((a, r) => a + r.accuracy[i]!, 0) / topRuns.length);
  const control = { base: top, minMeanAccuracy: Math.min(...meanAcc), passed: Math.min(...meanAcc) >= THRESHOLD };
  const rho = spearman(runs.map((r) => r.effectiveLength), runs.map((r) => bounds[s.bases.indexOf(r.base)]!));
  let verdict: Verdict;
  let reason: string;
  if (!control.passed) {
    verdict = 'not reproduced';
    reason = `the positive control failed: base ${top} retrieves only ${(100 * control.minMeanAccuracy).toFixed(1)} % (mean over seeds) at its worst distance, below ${100 * THRESHOLD} % — the toy did not learn retrieval well enough to test the bound`;
  } else if (!textFlat) {
    verdict = ordering.verdict === 'reproduced' ? 'partly' : ordering.verdict;
    reason = `effective length: ${ordering.reason}; but the text loss is not flat (worst base ${(100 * textSpread).toFixed(1)} % above the best, tolerance ${100 * TEXT_TOLERANCE} %), so the failure is not only "superficial"`;
  } else {
    verdict = ordering.verdict;
    reason = `effective length: ${ordering.reason}; text loss flat (spread ${(100 * textSpread).toFixed(1)} % ≤ ${100 * TEXT_TOLERANCE} %); control passed (base ${top} ≥ ${(100 * control.minMeanAccuracy).toFixed(0)} % at every distance)`;
  }
  return { settings: s, headDim, bounds, entropyRate, runs, ordering, textSpread, textFlat, control, spearman: rho, verdict, reason };
}

// ── report ────────────────────────────────────────────────────────────────────────────────────────────────────────

const range = (xs: number[], digits: number): string => meanRange(xs, (v) => v.toFixed(digits));

export function formatTable(res: Results): string {
  const { settings: s } = res;
  const per = (b: number): ArmRun[] => res.runs.filter((r) => r.base === b).sort((x, y) => x.seed - y.seed);
  const rows = s.bases.map((b, i) => {
    const runs = per(b);
    const meanAcc = s.evalDistances.map((_, j) => runs.reduce((a, r) => a + r.accuracy[j]!, 0) / runs.length);
    return `| ${b} | ${res.bounds[i]} | ${range(runs.map((r) => r.textLoss), 3)} | ${range(runs.map((r) => r.effectiveLength), 1)} | ${runs.map((r) => r.effectiveLength.toFixed(1)).join(', ')} | ${meanAcc.map((a) => (100 * a).toFixed(0)).join(' ')} |`;
  });
  return [
    `T = ${s.context}, ${s.layers} layers, dim ${s.dim}, ${s.heads} head${s.heads > 1 ? 's' : ''} (d_head ${res.headDim}), ${s.steps} steps × ${s.batch} (${s.textRows} text rows, ${s.batch - s.textRows} with ${s.pairs}-pair retrieval), ${s.seeds} seeds; text floor ${res.entropyRate.toFixed(3)} nats`,
    '',
    `| base | L_θ | text loss, mean (min–max) | effective length, mean (min–max) | per seed | accuracy % at d = ${s.evalDistances.join(' ')} (mean) |`,
    '|---:|---:|---:|---:|---|---|',
    ...rows,
    '',
    `Spearman(effective length, L_θ) over ${res.runs.length} runs: ${rhoText(res.spearman, 3)}; text-loss spread ${(100 * res.textSpread).toFixed(1)} %; positive control (base ${res.control.base} ≥ ${100 * THRESHOLD} % at every distance): ${res.control.passed ? 'passed' : 'FAILED'} (worst ${(100 * res.control.minMeanAccuracy).toFixed(1)} %)`,
    `verdict: ${res.verdict} — ${res.reason}`,
  ].join('\n');
}

export function chart(res: Results): string {
  const { settings: s } = res;
  return lineChart({
    title: `Retrieval accuracy vs distance (T = ${s.context}, d_head ${res.headDim}; mean of ${s.seeds} seeds)`,
    xLabel: 'distance QUERY − MARK (tokens)', yLabel: 'retrieval accuracy (%)',
    series: [
      ...s.bases.map((b, i) => {
        const runs = res.runs.filter((r) => r.base === b);
        return { name: `base ${b} (L_θ ${res.bounds[i]})`, points: s.evalDistances.map((d, j) => [d, (100 * runs.reduce((a, r) => a + r.accuracy[j]!, 0)) / runs.length] as const) };
      }),
      { name: `${100 * THRESHOLD} % (effective length)`, points: [[0, 100 * THRESHOLD], [s.evalDistances.at(-1)!, 100 * THRESHOLD]], color: '#888888', dash: '4 4' },
    ],
  });
}

/** Spearman's ρ, or why there is none (every effective length tied: ranks carry no order; JSON stores NaN as null). */
function rhoText(rho: number | null, digits: number): string {
  return rho !== null && Number.isFinite(rho) ? rho.toFixed(digits) : 'undefined (every effective length is the same)';
}

export function toResult(res: Results): ReproductionResult {
  const { settings: s } = res;
  const summary = s.bases.map((b) => `base ${b}: ${range(res.runs.filter((r) => r.base === b).map((r) => r.effectiveLength), 0)} tokens`).join('; ');
  return {
    verdict: res.verdict,
    summary: `effective retrieval length ${summary}; text loss ${range(res.runs.map((r) => r.textLoss), 3)} nats over all arms; Spearman ${rhoText(res.spearman, 2)}`,
    reason: res.reason, table: formatTable(res), svg: chart(res), data: res,
  };
}

export const reproduction: Reproduction = {
  name: 'base-bound-retrieval',
  paper: 'Men, Xu, Wang, Zhang, Lin, Han, Chen — Base of RoPE Bounds Context Length (NeurIPS 2024, arXiv 2405.14591)',
  claim:
    'B_{m,θ} = Σ_i cos(m·θ_i) measures a query\'s ability to attend more to similar than to random tokens; the obtainable context is '
    + 'L_θ = sup{L : B_{m,θ} ≥ 0 ∀ m ≤ L}, so the base lower-bounds the context (1k: 4.3e3, 2k: 1.6e4, 4k: 2.7e4, 8k: 8.4e4, 16k: 3.1e5, '
    + '32k: 6.4e5). Below the bound long context is "superficial": Llama2-7B fine-tuned to 32k with base 500 keeps a low perplexity up to '
    + '128k but cannot retrieve at 1k; a 2B model pretrained from scratch with base 100 at 4096 retrieves from only the last ≈500 tokens.',
  setup: `G1 Markov text (${FULL.textRows} of ${FULL.batch} rows) + ${FULL.pairs === 1 ? 'single-key retrieval (one MARK k v1 v2 v3 block, queried once' : `${FULL.pairs}-pair multi-query KV retrieval (`}; distances uniform, keys never in the filler), T = ${FULL.context}; `
    + `answer-dominated loss (text rows: every token; episodes: the answer digits only); 2-layer RoPE GPT, dim ${FULL.dim}, `
    + `${FULL.heads} head${FULL.heads > 1 ? 's' : ''} (d_head ${FULL.dim / FULL.heads}); bases ${FULL.bases.join(', ')} (L_θ ${FULL.bases.map((b) => boundLength(b, FULL.dim / FULL.heads)).join(', ')}); `
    + `${FULL.steps} AdamW steps × ${FULL.batch}; ${FULL.seeds} seeds (shared init and data order); text loss and first-digit retrieval accuracy at d = `
    + `${FULL.evalDistances[0]}…${FULL.evalDistances.at(-1)}`,
  criterion:
    `Effective retrieval length (distance where first-digit accuracy first drops below ${100 * THRESHOLD} %, interpolated) increases with the base: `
    + `base ${[...FULL.bases].reverse().join(' > ')} in every seed, each mean gap > 2× the larger seed range (judgeOrdering, 'higher'); `
    + `the text loss stays flat: every base's mean within ${100 * TEXT_TOLERANCE} % of the best (else at most 'partly'); positive control: the `
    + `largest base (${Math.max(...FULL.bases)}, L_θ > T) retrieves ≥ ${100 * THRESHOLD} % at every distance (mean of seeds), else 'not reproduced'. `
    + 'Reported: Spearman(effective length, L_θ) over all runs (expected > 0.8).',
  falsifier:
    'The effective length does not grow with the base (same within the seed spread, or a smaller base retrieving farther) while the '
    + 'largest base passes the control; or the text loss degrades with a small base as much as retrieval does (then the failure is not superficial).',
  minutes: 100,
  history: [
    '2026-12-07, first protocol (dim 32, 1 head, 1500 steps × 16, lr 5e-3, plain next-token loss on every token, keys = the letters 0–15 that ' +
    'also fill the text; 3 seeds, 17 min): not reproduced — the positive control failed: first-digit accuracy 8–15 % at every distance for every ' +
    'base (chance 10 %; base 1000 8.3 % at its worst distance), text loss 2.57 (2.23–2.96) nats against a floor of 0.90, so the bound could not show. ' +
    'Examined then: it was not the engine (the same 2-layer d 32 RoPE GPT copies a repeated random 16-token sequence to 100 % within ~150 ' +
    'steps) but the supervision — keys disjoint from the filler alone changed nothing at 400–600 steps, and answer-only recall at d 32 reached ' +
    '49.4 % after 4000 steps. Changed before this rerun: (1) the loss is answer-dominated (text rows keep every token; episode rows keep only the ' +
    'answer digits; the two means summed); (2) the keys are 16 tokens of their own, never in the filler; (3) dim 64 with 2 heads, so d_head ' +
    'stays 32 and every L_θ is unchanged, 5000 steps at lr 3e-3. Pilots, on the control arm only (base 1000, seed 1; .cache diagnostics, not ' +
    'registered): with (1)+(2) at dim 32 / 1 head, 10 000 steps still gave 34–58 % (and 28–59 % with 1-digit values and 6 pairs); dim 64 / ' +
    '1 head (d_head 64) 38–77 % at 5000 steps; dim 64 / 2 heads 88–97 % at 4000 and 94–100 % at 5000 steps (413 s on one core). No other base ' +
    'was trained before the run.',
    '2026-12-07, second protocol (3 pairs per retrieval row, keys of their own, answer-dominated loss, dim 64 with 2 heads, 5000 steps at ' +
    'lr 3e-3; 3 seeds, 85 min): not reproduced — the positive control failed: the keyed lookup formed in only 2 of the 12 runs (base 1000 ' +
    'seed 1: 94–99 % at every distance; base 200 seed 3: 100 %); the other ten sat on a plateau of 26–74 % first-digit accuracy (chance 10 %: ' +
    'they copy a digit from some MARK block without matching its key), base 1000 at 61.1 % at its worst distance (mean of seeds). The text ' +
    'loss was flat (1.055–1.116 nats, spread 1.2 %). The one-seed pilot had been the lucky seed. Diagnostics after it (.cache, not registered), ' +
    'each on runs where the lookup had not formed, first-digit accuracy at d = 8/32/56: 15 000 steps (seed 2, bases 1000 and 50) 73/58/100 % and ' +
    '67/63/100 % (the 100 % at d = 56 is positional: at T = 64 that MARK block opens the sequence); a third layer (base 1000, seeds 2 and 3, ' +
    '5000 steps) 52/31/64 % and 42/53/91 %; four heads of 32 (dim 128; base 1000, seed 1, where two heads had formed it) 24/11/20 %; a ' +
    'curriculum of 1, then 2, then 3 pairs (1000 steps each; base 1000, seed 2) 20/39/98 %. Changed before this rerun: one pair per retrieval ' +
    'row (pairs 1), so the query need not pick its key out of distractors, and attends from its key token to the same token d positions back ' +
    '— the similar-token attention B_{m,θ} bounds. Pilot on the control arm only (base 1000, seeds 2 and 3, the two that plateaued with 3 ' +
    'pairs): 100 % first-digit accuracy at every distance in both (text loss 1.307 and 1.301). No other base was trained before the run.',
  ],
  examination:
    'A measured negative, not a failed toy: the control passed and the falsifier is met. With one key per episode every one of the 12 ' +
    'runs retrieves 100 % first-digit accuracy at every distance from 8 to 56, base 20 (L_θ = 9) as well as base 1000 (L_θ = 121), so the ' +
    'effective length is 56 everywhere, independent of the base, and Spearman is undefined. At T = 64 the bound does not bind a trained ' +
    'model: base 20 retrieves at 6× its L_θ. B_{m,θ} is the score of a query against an identical key with every pair weighted alike; a ' +
    'trained head weights its pairs, and at T = 64 even base 20\u2019s slowest pair has a wavelength of 2π·20^{30/32} ≈ 104 tokens, longer than ' +
    'the window, so a head that leans on the slow pairs keeps the key\u2019s score positive over all 64 positions. Protocol B (base-bound-ft) ' +
    'is the contrast: at L′ = 512 base 50\u2019s longest wavelength (≈ 246) is shorter than the window and it fails there (7 % beyond 64 tokens, ' +
    'against 99 % for base 1.6e5). The text loss was not flat (spread 15.3 %), but not in the direction the falsifier names: base 20 ' +
    'learned the text best in every seed (1.061–1.078), and the larger bases ended higher in some seeds (200 and 1000 in seeds 2 and 3, 50 in ' +
    'seed 3: 1.24–1.37; every base 1.065–1.078 in seed 1) — slower text learning with fewer fast pairs, not a cost of a small base. What would settle the from-scratch claim: this protocol at ' +
    'the spec\u2019s L = 512, with bases on both sides of the window (slowest wavelength 2π·b^{30/32} below and above 512: b ≈ 50–100 against ' +
    '≥ 200); about 8× the cost per step (a few hours on 2 cores), not run. The cheaper test of the same reading, bases whose every pair turns ' +
    'inside T = 64 (base-bound-window: bases 4 and 8), refuted it: base 8 retrieves 100 % at every distance in every seed too. With a ' +
    'distractor MARK block, the models retrieve at about the rate of picking one of the two blocks, so they do not match keys at all. ' +
    'One pair per row lets a model find the only MARK block without the key-matched score that B_{m,θ} bounds, so this protocol cannot test the bound (see base-bound-window). (This run was split over two processes, 6 runs each, with the ' +
    'reproduction\u2019s own runArms and joined with its judge: each run depends only on its base and seed, so the record is what one ' +
    'process writes; its time is the runs\u2019 sum, with three processes sharing 2 cores.)',
  async run({ quick, progress }) {
    return toResult(runExperiment(quick ? QUICK : FULL, progress));
  },
};

// ── command line ──────────────────────────────────────────────────────────────────────────────────────────────────

interface Flags {
  quick: boolean;
  seeds: number | null;
  steps: number | null;
  bases: number[] | null;
  json: boolean;
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/base-bound-retrieval.ts [flags]

Base of RoPE bounds context length (Men et al. 2024), from scratch: RoPE GPTs with several bases trained on G1 text +
multi-query KV retrieval; text loss, retrieval accuracy per distance, effective length vs the bound L_θ.

  --quick        a seconds-long run of every code path (its numbers mean nothing)
  --seeds N      seeds per base (default 3)
  --steps N      training steps per model (default ${FULL.steps})
  --bases LIST   RoPE bases (default ${FULL.bases.join(',')})
  --json         print the results as JSON
  --help         this text`;

function main(): void {
  const flags = readFlags<Flags>('base-bound-retrieval', HELP, { quick: false, seeds: null, steps: null, bases: null, json: false }, {
    values: {
      seeds: (f, v) => (f.seeds = integerFlag(v, 1)),
      steps: (f, v) => (f.steps = integerFlag(v, 1)),
      bases: (f, v) => (f.bases = integerListFlag(v, 2)),
    },
    switches: { quick: (f) => (f.quick = true), json: (f) => (f.json = true) },
  });
  const base = flags.quick ? QUICK : FULL;
  const s: Settings = { ...base, seeds: flags.seeds ?? base.seeds, steps: flags.steps ?? base.steps, bases: flags.bases ?? base.bases };
  const log = (line: string): void => {
    if (!flags.json) console.log(line);
  };
  log(`node scripts/run.mjs scripts/experiments/base-bound-retrieval.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
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
  writeFileSync('out/base-bound-retrieval.svg', chart(res));
  log(`\nwrote out/base-bound-retrieval.svg; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify(res));
}

if (isEntryPoint(import.meta.url, 'base-bound-retrieval')) main();
