/**
 * Issue 17, protocol #4 B (../shared/specs/reproductions.md §5, "fine-tuning analogue of §3") — "Base of RoPE Bounds
 * Context Length" (Men et al., NeurIPS 2024, arXiv 2405.14591): a model pretrained at L is extended to L′ = 4L by
 * fine-tuning with a small base whose every period fits in L′ (no out-of-distribution angle, but L_θ far below L′) or
 * with a base above the bound. The paper's prediction: both reach a low text loss at L′, but the small base cannot
 * retrieve beyond a few tens of tokens — long context that is only "superficial" (its Table 3, Method 1 vs Method 2).
 *
 * Stage A (per seed): context-extension's third-protocol base model (`pretrainBase` with its DEFAULT_FLAGS): GPT 2
 * layers, dim 64, 2 heads of d_head 32, RoPE base 393 (regime-matched at L = 128), 5000 AdamW steps of 16 × 128 on G1
 * Markov text and single-key passkey episodes; seeds 1–3. Changed from the spec, stated before the run: the spec
 * pretrains with base 1e4, which at L = 128 leaves the slow pairs unturned (NoPE-like, its own rule G4); the
 * regime-matched model is the one whose retrieval at L is known (context-extension's control: 100 % in every seed).
 * Stage B: each arm swaps in plain RoPE with its base b and is fine-tuned at L′ = 512 on the same mix (6 of 8 rows
 * passkey episodes at distances uniform in [5, 507], answers ×14, filler 0; 2 rows text), 300 AdamW steps × 8 × 512,
 * peak lr 5e-4 after 15 warm-up steps, cosine to 10 %, the same batches for every arm of a seed:
 *   small  b = 50       all periods ≤ 2π·50^{30/32} ≈ 246 < 512 ("no OOD"), L_θ = 21
 *   kept   b = 393      the pretraining base, direct fine-tuning (reported, not judged), L_θ = 85
 *   large  b = 1.6e5    above the bound for 512 (≈ 1.1e4 at d_head 32), L_θ = 1441
 * where L_θ = sup{L : B_{m,θ} = Σ_i cos(m·θ_i) ≥ 0 ∀ m ≤ L} (positional/base-bound.ts).
 * Metrics at 0 (the base swapped in, zero-shot), 100, 200 and 300 steps: text loss (nats/token) on 16 held-out G1
 * sequences of 512; passkey accuracy (all three digits the argmax under teacher forcing) at 16 distances evenly in
 * [5, 507], 16 trials each; the effective length (base-bound-retrieval's: where the accuracy curve first drops below
 * 80 %, interpolated).
 *
 * Usage: node scripts/run.mjs scripts/experiments/base-bound-ft.ts [--quick] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Generator, setNumThreads } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { RoPE } from '../../positional/rope.js';
import { isEntryPoint } from '../lib/entry.js';
import { readFlags } from '../lib/flags.js';
import type { Reproduction, ReproductionResult } from '../lib/reproduction.js';
import { judgeOrdering, meanRange, summarize, weakestVerdict, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';
import { MarkovText, regimeMatchedBase, textDocument } from '../lib/toy-data.js';
import { THRESHOLD, TEXT_TOLERANCE, boundLength, effectiveLength } from './base-bound-retrieval.js';
import {
  DEFAULT_FLAGS, QUICK_FLAGS, accuracyByDistance, fineTuneCopy, passkeyDistances, passkeyHits, passkeyTrials, pretrainBase, textLoss,
  type FineTuning, type Flags as StageAFlags, type PasskeyTrial,
} from './context-extension.js';

/** The arms: the small base (all periods inside L′, L_θ ≪ L′), the pretraining base kept, and a base above the bound. */
export const ARMS = ['small', 'kept', 'large'] as const;
export type Arm = (typeof ARMS)[number];

export interface BoundFtSettings {
  /** Stage A (and its seeds): context-extension.ts's flags. */
  stageA: StageAFlags;
  /** L′, the fine-tuning and evaluation length. */
  length: number;
  /** The small and the large arm's bases (the kept arm's is Stage A's regime-matched base). */
  smallBase: number;
  largeBase: number;
  steps: number;
  /** Steps after which every arm is measured (0 = the base swapped in, before any fine-tuning). */
  checkpoints: number[];
  batch: number;
  lr: number;
  warmup: number;
  /** Held-out G1 sequences for the text loss; passkey distances and trials per distance. */
  text: number;
  distances: number;
  trials: number;
  /** The judged retrieval metric is the mean accuracy over the distances greater than this ("beyond a few tens"). */
  beyond: number;
}

export const BOUND_FT_FULL: BoundFtSettings = {
  stageA: DEFAULT_FLAGS, length: 512, smallBase: 50, largeBase: 1.6e5, steps: 300, checkpoints: [0, 100, 200, 300], batch: 8, lr: 5e-4, warmup: 15,
  text: 16, distances: 16, trials: 16, beyond: 64,
};
export const BOUND_FT_QUICK: BoundFtSettings = {
  stageA: QUICK_FLAGS, length: 64, smallBase: 10, largeBase: 1e4, steps: 2, checkpoints: [0, 1, 2], batch: 2, lr: 5e-4, warmup: 1,
  text: 2, distances: 4, trials: 2, beyond: 16,
};

/** Stage A's L and d_head, and each arm's base. */
export function armBases(s: BoundFtSettings): Record<Arm, number> {
  const headDim = s.stageA.dim / s.stageA.heads;
  return { small: s.smallBase, kept: regimeMatchedBase(headDim, s.stageA.trainLength), large: s.largeBase };
}

/** One arm at one checkpoint. */
export interface BoundFtMeasure {
  step: number;
  textLoss: number;
  /** Passkey accuracy per distance. */
  accuracy: number[];
  effectiveLength: number;
}

export interface BoundFtSeedRun {
  seed: number;
  /** Stage-A loss, first and last step. */
  pretrainLoss: [number, number];
  /** Arm → one measure per checkpoint. */
  curves: Record<Arm, BoundFtMeasure[]>;
}

/** Mean accuracy over the distances greater than `beyond`. */
export function accuracyBeyond(distances: readonly number[], accuracy: readonly number[], beyond: number): number {
  const far = accuracy.filter((_, j) => distances[j]! > beyond);
  if (far.length === 0) throw new RangeError(`accuracyBeyond: no distance exceeds ${beyond} in [${distances.join(', ')}]`);
  return far.reduce((a, b) => a + b, 0) / far.length;
}

const EVAL_SEED = 57721;

/** Stage B for one Stage-A model: each arm's base swapped in, fine-tuned on the same batches, measured at the checkpoints. */
export function fineTuneBases(model: GPT, s: BoundFtSettings, seed: number, text: MarkovText, evalText: readonly Int32Array[], trials: readonly PasskeyTrial[], distances: readonly number[], tick: () => void = () => {}): Record<Arm, BoundFtMeasure[]> {
  const headDim = s.stageA.dim / s.stageA.heads;
  const bases = armBases(s);
  const fineTuning: FineTuning = {
    stageA: s.stageA, batch: s.batch, length: s.length, steps: s.steps, lr: s.lr, checkpoints: s.checkpoints,
    schedule: (step) => s.lr * Math.min(1, (step + 1) / s.warmup) * (0.55 + 0.45 * Math.cos((Math.PI * step) / Math.max(1, s.steps))),
  };
  const measure = (tuned: GPT, step: number): BoundFtMeasure => {
    const accuracy = accuracyByDistance(trials, passkeyHits(tuned, trials, s.length), distances);
    return { step, textLoss: textLoss(tuned, evalText, s.length), accuracy, effectiveLength: effectiveLength(distances, accuracy) };
  };
  // new Generator(…) per arm: the same batches for every arm of this seed
  return Object.fromEntries(ARMS.map((arm) => [arm, fineTuneCopy(model, new RoPE(headDim, { base: bases[arm] }), fineTuning, text, new Generator(seed * 104723 + 5), measure, tick)])) as Record<Arm, BoundFtMeasure[]>;
}

export interface BoundFtJudgement {
  verdict: Verdict;
  reason: string;
  /** The large base must retrieve at L′: its mean accuracy over all distances after fine-tuning ≥ THRESHOLD in every seed. */
  control: { passed: boolean; accuracy: number[] };
  /** Mean accuracy beyond `beyond` after fine-tuning: large > small. */
  retrieval: OrderingJudgement;
  /** The small base's effective length after fine-tuning, per seed, and whether every one is ≤ `beyond` (it fails within a few tens of tokens). */
  smallFails: { lengths: number[]; passed: boolean };
  /** Text loss at L′ after fine-tuning: the small base's mean within TEXT_TOLERANCE of the large base's (or below it). */
  text: { small: number; large: number; ratio: number; passed: boolean };
}


/** The last checkpoint's measure of `arm`, one per seed. */
const final = (runs: readonly BoundFtSeedRun[], arm: Arm): BoundFtMeasure[] => runs.map((r) => r.curves[arm].at(-1)!);

/**
 * The pre-registered verdict. Control failed → not reproduced. Else the retrieval ordering's verdict (judgeOrdering:
 * large > small on the mean accuracy beyond `beyond`, every seed, mean gap > 2× the larger seed range), lowered to at
 * most 'partly' when the small base does not fail within a few tens of tokens (effective length > `beyond` in some
 * seed) or when its text loss is not as low as the large base's (mean more than TEXT_TOLERANCE above: then the
 * failure is not superficial).
 */
export function judgeBoundFt(runs: readonly BoundFtSeedRun[], distances: readonly number[], beyond: number): BoundFtJudgement {
  const controlAcc = final(runs, 'large').map((m) => m.accuracy.reduce((a, b) => a + b, 0) / m.accuracy.length);
  const control = { passed: controlAcc.every((a) => a >= THRESHOLD), accuracy: controlAcc };
  const far = (arm: Arm): number[] => final(runs, arm).map((m) => accuracyBeyond(distances, m.accuracy, beyond));
  const retrieval = judgeOrdering({ large: far('large'), small: far('small') }, ['large', 'small'], 'higher');
  const lengths = final(runs, 'small').map((m) => m.effectiveLength);
  const smallFails = { lengths, passed: lengths.every((l) => l <= beyond) };
  const small = summarize(final(runs, 'small').map((m) => m.textLoss)).mean;
  const large = summarize(final(runs, 'large').map((m) => m.textLoss)).mean;
  const text = { small, large, ratio: small / large, passed: small / large <= 1 + TEXT_TOLERANCE };
  if (!control.passed) {
    const worst = Math.min(...controlAcc);
    return { verdict: 'not reproduced', reason: `positive control failed: the large base retrieves ${(100 * worst).toFixed(1)} % at L′ in its worst seed (< ${100 * THRESHOLD} %), so the toy cannot show what the small base lacks`, control, retrieval, smallFails, text };
  }
  let verdict = retrieval.verdict;
  const caveats: string[] = [];
  if (!smallFails.passed) {
    verdict = weakestVerdict(verdict, 'partly');
    caveats.push(`but the small base retrieves past ${beyond} tokens (effective length ${lengths.map((l) => l.toFixed(0)).join('/')})`);
  }
  if (!text.passed) {
    verdict = weakestVerdict(verdict, 'partly');
    caveats.push(`but the small base's text loss is ${(100 * (text.ratio - 1)).toFixed(1)} % above the large base's (> ${100 * TEXT_TOLERANCE} %): not superficial`);
  }
  const reason = [`control passed; retrieval beyond ${beyond}, large > small: ${retrieval.reason}`, ...caveats].join('; ');
  return { verdict, reason, control, retrieval, smallFails, text };
}

export interface BoundFtResults {
  settings: BoundFtSettings;
  bases: Record<Arm, number>;
  /** L_θ per arm. */
  bounds: Record<Arm, number>;
  distances: number[];
  runs: BoundFtSeedRun[];
  judgement: BoundFtJudgement;
  seconds: number;
}

export function runBoundFt(s: BoundFtSettings, progress: (done: number, total: number, note?: string) => void = () => {}, log: (line: string) => void = () => {}): BoundFtResults {
  const started = performance.now();
  const text = new MarkovText();
  const g = new Generator(EVAL_SEED + s.length);
  const distances = passkeyDistances(s.length, s.distances);
  const evalText = Array.from({ length: s.text }, () => textDocument(s.length + 1, g, text));
  const trials = passkeyTrials(s.length, distances, s.trials, g, text);
  const seeds = Array.from({ length: s.stageA.seeds }, (_, i) => s.stageA.firstSeed + i);
  const bases = armBases(s);
  const headDim = s.stageA.dim / s.stageA.heads;
  // progress in fine-tuning-step units: a Stage-A step (16 × 128) costs about half of one (8 × 512), measured
  const total = seeds.length * (s.stageA.steps / 2 + ARMS.length * s.steps);
  let done = 0;
  const runs: BoundFtSeedRun[] = [];
  for (const seed of seeds) {
    const t0 = performance.now();
    const { model, losses } = pretrainBase(s.stageA, seed, text, () => progress((done += 0.5), total, `seed ${seed}: pretraining`));
    log(`seed ${seed}: pretrained ${s.stageA.steps} steps at L = ${s.stageA.trainLength}, loss ${losses[0]?.toFixed(3)} → ${losses.at(-1)?.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const curves = fineTuneBases(model, s, seed, text, evalText, trials, distances, () => progress((done += 1), total, `seed ${seed}: fine-tuning`));
    for (const arm of ARMS) log(`  base ${+bases[arm].toPrecision(3)}: text loss ${curves[arm].map((m) => `${m.step}:${m.textLoss.toFixed(3)}`).join(' ')}; effective length ${curves[arm].map((m) => m.effectiveLength.toFixed(0)).join(' ')}; accuracy % at ${s.steps} ${curves[arm].at(-1)!.accuracy.map((a) => (100 * a).toFixed(0)).join(' ')}`);
    runs.push({ seed, pretrainLoss: [losses[0] ?? NaN, losses.at(-1) ?? NaN], curves });
  }
  const bounds = Object.fromEntries(ARMS.map((arm) => [arm, boundLength(bases[arm], headDim)])) as Record<Arm, number>;
  return { settings: s, bases, bounds, distances, runs, judgement: judgeBoundFt(runs, distances, s.beyond), seconds: (performance.now() - started) / 1000 };
}

// ── report ────────────────────────────────────────────────────────────────────────────────────────────────────────

const armName = (res: BoundFtResults, arm: Arm): string => `base ${+res.bases[arm].toPrecision(3)}${arm === 'kept' ? ' (kept)' : ''}`;
const meanCurve = (runs: readonly BoundFtSeedRun[], arm: Arm, i: number, n: number): number[] =>
  Array.from({ length: n }, (_, j) => runs.reduce((a, r) => a + r.curves[arm][i]!.accuracy[j]!, 0) / runs.length);

export function formatBoundFt(res: BoundFtResults): string {
  const { settings: s, runs, judgement: j } = res;
  const last = s.checkpoints.length - 1;
  const rows = ARMS.map((arm) => {
    const at = (i: number): BoundFtMeasure[] => runs.map((r) => r.curves[arm][i]!);
    const beyond = (i: number): number[] => at(i).map((m) => 100 * accuracyBeyond(res.distances, m.accuracy, s.beyond));
    return `| ${armName(res, arm)} | ${res.bounds[arm]} | ${meanRange(at(0).map((m) => m.textLoss))} | ${meanRange(at(last).map((m) => m.textLoss))} | ${meanRange(beyond(0), (v) => v.toFixed(0))} | ${meanRange(beyond(last), (v) => v.toFixed(0))} | ${at(last).map((m) => m.effectiveLength.toFixed(0)).join(', ')} | ${meanCurve(runs, arm, last, res.distances.length).map((a) => (100 * a).toFixed(0)).join(' ')} |`;
  });
  return [
    `Stage A as context-extension (L = ${s.stageA.trainLength}, ${s.stageA.steps} steps, base ${+res.bases.kept.toPrecision(3)}, seeds ${runs.map((r) => r.seed).join(', ')}); fine-tuning at L′ = ${s.length}: ${s.steps} AdamW steps × ${s.batch} × ${s.length}, peak lr ${s.lr}; text loss on ${s.text} G1 sequences, passkey ${s.distances} distances × ${s.trials} trials`,
    '',
    `| arm | L_θ | text loss @0 | text loss @${s.checkpoints[last]} | passkey % beyond ${s.beyond} @0 | @${s.checkpoints[last]} | effective length @${s.checkpoints[last]} per seed | passkey % at d = ${res.distances.join(' ')} @${s.checkpoints[last]} (mean) |`,
    '|---|---:|---:|---:|---:|---:|---|---|',
    ...rows,
    '',
    `positive control — the large base retrieves ≥ ${100 * THRESHOLD} % at L′ in every seed: ${j.control.passed ? 'passed' : 'FAILED'} (${j.control.accuracy.map((a) => (100 * a).toFixed(1)).join(' / ')} %)`,
    `criterion — passkey beyond ${s.beyond}, large > small: ${j.retrieval.gaps.map((g) => `gap ${(100 * g.gap).toFixed(1)} points (margin ${(100 * g.margin).toFixed(1)})`).join('; ')}, seeds in order ${j.retrieval.seedsInOrder.map((ok) => (ok ? 'yes' : 'no')).join('/')} → ${j.retrieval.verdict}`,
    `criterion — the small base fails within ${s.beyond} tokens (effective length ≤ ${s.beyond} in every seed): ${j.smallFails.passed ? 'yes' : 'no'} (${j.smallFails.lengths.map((l) => l.toFixed(0)).join(', ')})`,
    `criterion — text loss superficially fine: small / large = ${j.text.ratio.toFixed(3)} (≤ ${1 + TEXT_TOLERANCE}): ${j.text.passed ? 'yes' : 'no'}`,
    `verdict: ${j.verdict} — ${j.reason}`,
  ].join('\n');
}

export function chartBoundFt(res: BoundFtResults): string {
  const last = res.settings.checkpoints.length - 1;
  return lineChart({
    title: `Passkey accuracy at L′ = ${res.settings.length} after ${res.settings.checkpoints[last]} fine-tuning steps (mean of ${res.runs.length} seeds)`,
    xLabel: 'distance QUERY − MARK (tokens)', yLabel: 'passkey accuracy (%)',
    series: [
      ...ARMS.map((arm) => ({ name: `${armName(res, arm)}, L_θ ${res.bounds[arm]}`, points: res.distances.map((d, j) => [d, 100 * meanCurve(res.runs, arm, last, res.distances.length)[j]!] as const) })),
      { name: `${100 * THRESHOLD} % (effective length)`, points: [[0, 100 * THRESHOLD], [res.distances.at(-1)!, 100 * THRESHOLD]], color: '#888888', dash: '4 4' },
    ],
  });
}

export function toResult(res: BoundFtResults): ReproductionResult {
  const last = res.settings.checkpoints.length - 1;
  const part = (arm: Arm): string => {
    const m = res.runs.map((r) => r.curves[arm][last]!);
    return `${armName(res, arm)}: passkey beyond ${res.settings.beyond} ${meanRange(m.map((x) => 100 * accuracyBeyond(res.distances, x.accuracy, res.settings.beyond)), (v) => v.toFixed(0))} %, text ${meanRange(m.map((x) => x.textLoss))}`;
  };
  return { verdict: res.judgement.verdict, summary: ARMS.map(part).join('; '), reason: res.judgement.reason, table: formatBoundFt(res), svg: chartBoundFt(res), data: res };
}

export const reproduction: Reproduction = {
  name: 'base-bound-ft',
  paper: 'Men, Xu, Wang, Zhang, Lin, Han, Chen — Base of RoPE Bounds Context Length (NeurIPS 2024, arXiv 2405.14591), protocol B',
  claim:
    'Fine-tuning to a longer context with a base below the bound gives long context that is only superficial: Llama2-7B fine-tuned to 32k with base 500 ' +
    'keeps a low perplexity up to 128k but cannot retrieve at 1k; two methods with no out-of-distribution angles differ sharply on Long-eval ' +
    '(0.27 vs 0.00 at 30k, Table 3) because only one respects the bound (for 32k it is 6.4e5).',
  setup:
    `context-extension\u2019s Stage-A models (GPT 2L d64 2×32, base 393, L = 128, 5000 steps, seeds 1–3), fine-tuned at L′ = 512 for ${BOUND_FT_FULL.steps} steps × ` +
    `${BOUND_FT_FULL.batch} × 512 (peak lr ${BOUND_FT_FULL.lr}) on text + passkey with base 50 (L_θ 21, every period < 512), 393 (kept; reported) or 1.6e5 (L_θ 1441), same batches per seed; ` +
    `text loss on ${BOUND_FT_FULL.text} sequences and passkey ${BOUND_FT_FULL.distances} distances × ${BOUND_FT_FULL.trials} trials at 0/100/200/300 steps`,
  criterion:
    `Stated before the run, on the models after ${BOUND_FT_FULL.steps} steps: mean passkey accuracy at distances > ${BOUND_FT_FULL.beyond} ` +
    `is higher for base 1.6e5 than for base 50 in every seed, mean gap > 2× the larger seed range (judgeOrdering); at most \u2018partly\u2019 unless ` +
    `base 50 also fails within a few tens of tokens (effective length ≤ ${BOUND_FT_FULL.beyond} in every seed) and its text loss at 512 stays ` +
    `superficially fine (mean ≤ ${1 + TEXT_TOLERANCE}× base 1.6e5\u2019s). Positive control: base 1.6e5 retrieves ≥ ${100 * THRESHOLD} % (mean over all distances) at 512 in every seed, else \u2018not reproduced\u2019.`,
  falsifier:
    'With the control passing, base 50 retrieves about as far as base 1.6e5 (no ordering beyond the seed spread), or far past a few tens of tokens; ' +
    'or its text loss at 512 is clearly worse (then the failure is not superficial).',
  minutes: 65,
  examination:
    'Half of the claim reproduced by a wide margin, and the half that failed is one seed\u2019s text loss. The control passed (base 1.6e5: ' +
    '98.0/100.0/98.8 % over all distances at 512). Retrieval beyond 64 tokens: base 50 7 % (3–14), base 1.6e5 99 % (98–100), in every seed ' +
    '(gap 92.4 points, margin 23.2); base 50 fails even nearer than the prediction (52 % at d = 5, effective length 0/17/0), while its every ' +
    'period fits in 512 — no angle it never saw, as the paper\u2019s "no OOD" methods. The text loss at 512 is what capped the verdict: base 50 ' +
    '1.040 (0.974–1.164) against 0.976 (0.969–0.982), 6.5 % above, but per seed the gap is +0.5 %, +0.5 % and +18.5 %: seed 3\u2019s base-50 arm ' +
    'started furthest away (zero-shot 5.69 nats, its Stage-A model is the one that extrapolates worst, cf. context-extension) and was still ' +
    'falling at 300 steps (1.41, 1.21, 1.16 at 100/200/300). So in two seeds the long context is exactly "superficial" (same text loss, no ' +
    'retrieval); in the third 300 steps were too few for the text. A longer fine-tune narrows it but does not close it: a diagnostic after ' +
    'the run (.cache, not registered) fine-tuned seed 3\u2019s base-50 and base-1.6e5 arms for 600 steps (cosine stretched to 600): text 1.061 ' +
    'against 0.970 (+9.4 %), passkey beyond 64 32 % against 100 %. So for that seed the small base costs text loss too, at least within 600 ' +
    'steps; what would settle whether it is superficial there is a fine-tune run to convergence, judged the same way. That run is ' +
    'base-bound-ft-long (1200 steps, partly): the text loss is then within 2.0 % (+5.0 % in seed 3), and seed 3\u2019s small base learned to ' +
    'retrieve at most distances (83 % beyond 64), so the retrieval gap no longer clears the margin. Also seen: the kept base 393 (L_θ = 85) retrieves 71 % (56–91) beyond 64 after direct fine-tuning, with effective ' +
    'lengths 151/489/0 — past its bound in two seeds, as the paper\u2019s own remark that the bound "is not very strict" (stacked layers) allows; ' +
    'L_θ orders the three bases\u2019 retrieval here but is not a hard limit.',
  async run({ quick, progress }) {
    setNumThreads(1);
    return toResult(runBoundFt(quick ? BOUND_FT_QUICK : BOUND_FT_FULL, progress));
  },
};

const HELP = `usage: node scripts/run.mjs scripts/experiments/base-bound-ft.ts [--quick] [--json]

Base bound, protocol B: context-extension's base models (L = 128, base 393) fine-tuned at L' = 512 with RoPE base 50
(below the bound), 393 (kept) or 1.6e5 (above it); text loss and passkey accuracy per distance at 0/100/200/300 steps,
3 seeds. Writes out/base-bound-ft.svg.

  --quick   tiny sizes, seconds (every code path; the numbers mean nothing)
  --json    print the results as JSON
  --help    this text`;

function main(): void {
  const flags = readFlags<{ quick: boolean; json: boolean }>('base-bound-ft', HELP, { quick: false, json: false }, {
    values: {},
    switches: { quick: (f) => (f.quick = true), json: (f) => (f.json = true) },
  });
  setNumThreads(1);
  const log = (line: string): void => (flags.json ? console.error(line) : console.log(line));
  const res = runBoundFt(flags.quick ? BOUND_FT_QUICK : BOUND_FT_FULL, () => {}, log);
  log(`\n${formatBoundFt(res)}`);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/base-bound-ft.svg', chartBoundFt(res));
  log(`\nwrote out/base-bound-ft.svg; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify(res));
}

if (isEntryPoint(import.meta.url, 'base-bound-ft')) main();
