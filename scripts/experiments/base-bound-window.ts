/**
 * Issue 17, base bound protocol A′ (ours: base-bound-retrieval's protocol with the bases moved below the window, after
 * its examination) — "Base of RoPE Bounds Context Length" (Men et al., NeurIPS 2024, arXiv 2405.14591), from scratch.
 *
 * base-bound-retrieval trained RoPE GPTs at T = 64 with bases 20…1000 and found every one retrieving across the whole
 * window, base 20 (L_θ = 9) included. Its reading: B_{m,θ} weighs every pair alike, but a trained head can lean on its
 * slowest pair, and at T = 64 even base 20's slowest pair (wavelength 2π·20^{30/32} ≈ 104 tokens) never completes a
 * turn inside the window, so a key's score can stay positive at every distance. The claim that survives that reading is
 * narrower: the bound binds when every pair turns inside the window, i.e. when the slowest wavelength
 * λ_max = 2π·b^{(d−2)/d} is shorter than T. This protocol tests it at the same cost per run: bases 4 and 8 (λ_max 23
 * and 44 < 64; L_θ 2 and 3) against base 20 (λ_max 104 > 64; L_θ 9) and base 1000 (the positive control, L_θ 121).
 * Everything else is base-bound-retrieval's full settings (data, model, 5000 steps, evaluation), so its base-20 and
 * base-1000 models are the same models (each run depends only on its base and seed).
 *
 * Usage: node scripts/run.mjs scripts/experiments/base-bound-window.ts [--quick] [--json] [--help]
 */
import { pairWavelengths } from '../../positional/analysis.js';
import { ropeInvFreq } from '../../positional/rope.js';
import { isEntryPoint } from '../lib/entry.js';
import { reproductionMain, type Reproduction, type ReproductionResult } from '../lib/reproduction.js';
import { judgeOrdering, meanRange, summarize, weakestVerdict, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';
import { FULL, QUICK, TEXT_TOLERANCE, THRESHOLD, boundLength, runArms, type ArmRun, type Settings } from './base-bound-retrieval.js';

export interface WindowSettings {
  /** base-bound-retrieval's settings; `run.bases` is every base trained. */
  run: Settings;
  /** Bases whose slowest wavelength is shorter than the window (predicted to retrieve only near). */
  below: number[];
  /** A base whose slowest wavelength is longer than the window but whose L_θ is still far below it. */
  reference: number;
  /** The positive control: a base with L_θ > T. */
  control: number;
}

export const WINDOW_FULL: WindowSettings = { run: { ...FULL, bases: [4, 8, 20, 1000] }, below: [4, 8], reference: 20, control: 1000 };
export const WINDOW_QUICK: WindowSettings = { run: { ...QUICK, bases: [3, 30, 3000] }, below: [3], reference: 30, control: 3000 };

/** λ_max = 2π·b^{(d−2)/d}, the wavelength of the slowest rotary pair of a head of dimension `headDim`. */
export function slowestWavelength(base: number, headDim: number): number {
  return pairWavelengths(ropeInvFreq(headDim, base)).at(-1)!;
}

export interface WindowJudgement {
  verdict: Verdict;
  reason: string;
  /** The control base retrieves ≥ THRESHOLD at every distance (mean of seeds). */
  control: { passed: boolean; minMeanAccuracy: number };
  /** Per base below the window: reference > it on the effective length (judgeOrdering, 'higher'). */
  orderings: Array<{ base: number; ordering: OrderingJudgement }>;
  /** Per base below the window: its mean text loss over the reference's (≤ 1 + TEXT_TOLERANCE: superficially fine). */
  textRatios: Array<{ base: number; ratio: number; passed: boolean }>;
}

/**
 * The pre-registered verdict. Control failed → not reproduced. Else the weakest of the orderings "reference > b" on the
 * effective length, one per base b below the window; lowered to at most 'partly' when some such base's text loss is
 * more than TEXT_TOLERANCE above the reference's (the failure is then not only in retrieval).
 */
export function judgeWindow(w: WindowSettings, runs: readonly ArmRun[]): WindowJudgement {
  const per = (b: number): ArmRun[] => runs.filter((r) => r.base === b).sort((x, y) => x.seed - y.seed);
  const controlRuns = per(w.control);
  const meanAcc = w.run.evalDistances.map((_, i) => controlRuns.reduce((a, r) => a + r.accuracy[i]!, 0) / controlRuns.length);
  const control = { passed: Math.min(...meanAcc) >= THRESHOLD, minMeanAccuracy: Math.min(...meanAcc) };
  const name = (b: number): string => `base ${b}`;
  const orderings = w.below.map((b) => ({
    base: b,
    ordering: judgeOrdering({ [name(w.reference)]: per(w.reference).map((r) => r.effectiveLength), [name(b)]: per(b).map((r) => r.effectiveLength) }, [name(w.reference), name(b)], 'higher'),
  }));
  const referenceText = summarize(per(w.reference).map((r) => r.textLoss)).mean;
  const textRatios = w.below.map((b) => {
    const ratio = summarize(per(b).map((r) => r.textLoss)).mean / referenceText;
    return { base: b, ratio, passed: ratio <= 1 + TEXT_TOLERANCE };
  });
  if (!control.passed) {
    const reason = `the positive control failed: base ${w.control} retrieves only ${(100 * control.minMeanAccuracy).toFixed(1)} % (mean over seeds) at its worst distance, below ${100 * THRESHOLD} %`;
    return { verdict: 'not reproduced', reason, control, orderings, textRatios };
  }
  let verdict = weakestVerdict(...orderings.map((o) => o.ordering.verdict));
  const parts = orderings.map((o) => `${name(w.reference)} > ${name(o.base)}: ${o.ordering.reason}`);
  const costly = textRatios.filter((t) => !t.passed);
  if (costly.length > 0) {
    verdict = weakestVerdict(verdict, 'partly');
    parts.push(`but the text loss is not superficially fine (${costly.map((t) => `${name(t.base)} ${(100 * (t.ratio - 1)).toFixed(1)} %`).join(', ')} above ${name(w.reference)}'s, tolerance ${100 * TEXT_TOLERANCE} %)`);
  }
  return { verdict, reason: `control passed; effective length, ${parts.join('; ')}`, control, orderings, textRatios };
}

export interface WindowResults {
  settings: WindowSettings;
  headDim: number;
  /** Per base of settings.run.bases: L_θ and λ_max. */
  bounds: number[];
  wavelengths: number[];
  runs: ArmRun[];
  judgement: WindowJudgement;
  seconds: number;
}

export function runWindow(w: WindowSettings, progress: (done: number, total: number, note?: string) => void = () => {}): WindowResults {
  const started = performance.now();
  const runs = runArms(w.run, w.run.bases, Array.from({ length: w.run.seeds }, (_, i) => i + 1), progress);
  return { ...windowResults(w, runs), seconds: (performance.now() - started) / 1000 };
}

/** The bounds, wavelengths and verdict of `runs` (runWindow's, or runs of the same settings joined from several processes). */
export function windowResults(w: WindowSettings, runs: ArmRun[]): Omit<WindowResults, 'seconds'> {
  const headDim = w.run.dim / w.run.heads;
  return {
    settings: w, headDim, bounds: w.run.bases.map((b) => boundLength(b, headDim)), wavelengths: w.run.bases.map((b) => slowestWavelength(b, headDim)), runs,
    judgement: judgeWindow(w, runs),
  };
}

// ── report ────────────────────────────────────────────────────────────────────────────────────────────────────────

const meanAccuracy = (runs: readonly ArmRun[], n: number): number[] => Array.from({ length: n }, (_, j) => runs.reduce((a, r) => a + r.accuracy[j]!, 0) / runs.length);

export function formatWindow(res: WindowResults): string {
  const { settings: w, judgement: j } = res;
  const s = w.run;
  const rows = s.bases.map((b, i) => {
    const runs = res.runs.filter((r) => r.base === b).sort((x, y) => x.seed - y.seed);
    return `| ${b} | ${res.bounds[i]} | ${res.wavelengths[i]!.toFixed(0)} | ${meanRange(runs.map((r) => r.textLoss))} | ${meanRange(runs.map((r) => r.effectiveLength), (v) => v.toFixed(1))} | ${runs.map((r) => r.effectiveLength.toFixed(1)).join(', ')} | ${meanAccuracy(runs, s.evalDistances.length).map((a) => (100 * a).toFixed(0)).join(' ')} |`;
  });
  return [
    `T = ${s.context}, ${s.layers} layers, dim ${s.dim}, ${s.heads} heads (d_head ${res.headDim}), ${s.steps} steps × ${s.batch} (${s.textRows} text rows), ${s.seeds} seeds; λ_max = slowest pair's wavelength`,
    '',
    `| base | L_θ | λ_max | text loss | effective length | per seed | first-digit accuracy % at d = ${s.evalDistances.join(' ')} (mean) |`,
    '|---:|---:|---:|---:|---:|---|---|',
    ...rows,
    '',
    `positive control — base ${w.control} ≥ ${100 * THRESHOLD} % at every distance: ${j.control.passed ? 'passed' : 'FAILED'} (worst ${(100 * j.control.minMeanAccuracy).toFixed(1)} %)`,
    ...j.orderings.map((o) => `criterion — effective length, base ${w.reference} > base ${o.base}: ${o.ordering.gaps.map((g) => `gap ${g.gap.toFixed(1)} (margin ${g.margin.toFixed(1)})`).join('')}, seeds in order ${o.ordering.seedsInOrder.map((ok) => (ok ? 'yes' : 'no')).join('/')} → ${o.ordering.verdict}`),
    ...j.textRatios.map((t) => `criterion — text loss of base ${t.base} / base ${w.reference} = ${t.ratio.toFixed(3)} (≤ ${1 + TEXT_TOLERANCE}): ${t.passed ? 'yes' : 'no'}`),
    `verdict: ${j.verdict} — ${j.reason}`,
  ].join('\n');
}

export function chartWindow(res: WindowResults): string {
  const s = res.settings.run;
  return lineChart({
    title: `Retrieval accuracy vs distance, T = ${s.context} (mean of ${s.seeds} seeds; λ_max < T for bases ${res.settings.below.join(' and ')})`,
    xLabel: 'distance QUERY − MARK (tokens)', yLabel: 'first-digit accuracy (%)',
    series: [
      ...s.bases.map((b, i) => ({
        name: `base ${b} (L_θ ${res.bounds[i]}, λ_max ${res.wavelengths[i]!.toFixed(0)})`,
        points: s.evalDistances.map((d, j) => [d, 100 * meanAccuracy(res.runs.filter((r) => r.base === b), s.evalDistances.length)[j]!] as const),
      })),
      { name: `${100 * THRESHOLD} % (effective length)`, points: [[0, 100 * THRESHOLD], [s.evalDistances.at(-1)!, 100 * THRESHOLD]], color: '#888888', dash: '4 4' },
    ],
    width: 900,
  });
}

export function windowResult(res: WindowResults): ReproductionResult {
  const part = (b: number): string => {
    const runs = res.runs.filter((r) => r.base === b);
    return `base ${b}: ${meanRange(runs.map((r) => r.effectiveLength), (v) => v.toFixed(0))} tokens (text ${meanRange(runs.map((r) => r.textLoss))})`;
  };
  return {
    verdict: res.judgement.verdict, summary: `effective retrieval length ${res.settings.run.bases.map(part).join('; ')}`, reason: res.judgement.reason,
    table: formatWindow(res), svg: chartWindow(res), data: res,
  };
}

const F = WINDOW_FULL;
const HEAD_DIM = F.run.dim / F.run.heads;
const describe = (b: number): string => `${b} (λ_max ${slowestWavelength(b, HEAD_DIM).toFixed(0)}, L_θ ${boundLength(b, HEAD_DIM)})`;

export const reproduction: Reproduction = {
  name: 'base-bound-window',
  paper: 'Men, Xu, Wang, Zhang, Lin, Han, Chen — Base of RoPE Bounds Context Length (NeurIPS 2024, arXiv 2405.14591), protocol A′ (ours)',
  claim:
    'The base lower-bounds the obtainable context: L_θ = sup{L : B_{m,θ} = Σ_i cos(m·θ_i) ≥ 0 ∀ m ≤ L}; a 2B model pretrained from scratch with '
    + 'base 100 at 4096 retrieves from only the last ≈500 tokens, while its perplexity stays low ("superficial" long context). Tested here in the '
    + 'regime where it can bind a trained head: every rotary pair turns inside the window.',
  setup:
    `base-bound-retrieval's toy (G1 text + single-key retrieval, T = ${F.run.context}, 2-layer RoPE GPT dim ${F.run.dim}, ${F.run.heads} heads of ${HEAD_DIM}, `
    + `${F.run.steps} AdamW steps × ${F.run.batch}, answer-dominated loss, ${F.run.seeds} seeds) with bases ${F.below.map(describe).join(' and ')}, every `
    + `pair turning inside the window, against ${describe(F.reference)} and the control ${describe(F.control)}; first-digit accuracy at d = `
    + `${F.run.evalDistances[0]}…${F.run.evalDistances.at(-1)}`,
  criterion:
    `Stated before the run (2026-12-08). Effective retrieval length (where first-digit accuracy first drops below ${100 * THRESHOLD} %): base `
    + `${F.reference} > base b for each b in {${F.below.join(', ')}}, in every seed, each mean gap > 2× the larger seed range (judgeOrdering, `
    + `'higher'); the verdict is the weaker of the two. Capped at 'partly' when a base below the window has a mean text loss more than `
    + `${100 * TEXT_TOLERANCE} % above base ${F.reference}'s (then its failure is not only in retrieval). Positive control: base ${F.control} retrieves `
    + `≥ ${100 * THRESHOLD} % at every distance (mean of seeds), else 'not reproduced'.`,
  falsifier:
    `With the control passing, a base below the window retrieves as far as base ${F.reference} (effective length ${F.run.evalDistances.at(-1)} in every `
    + 'seed, as every base did in base-bound-retrieval): then the bound does not bind a trained 2-layer model even when every pair turns inside the window.',
  minutes: 80,
  examination:
    'A measured negative, and it refutes the reading that led to this protocol. The control passed. Base 8, whose every pair turns inside ' +
    'the window (λ_max 44 < 64, L_θ 3), retrieves 100 % at every distance in every seed, as bases 20 and 1000 do. Base 4 (λ_max 23, L_θ 2) ' +
    'retrieves everywhere in seed 1, never learned the lookup in seed 2 (6–14 %, chance 10 %), and in seed 3 retrieves ≥ 94 % at every ' +
    'distance but d = 16 (10 %). Text losses are within 3 % of base 20\u2019s. So a slow pair that never turns inside the window is not what ' +
    'lets these models retrieve far past L_θ. Our reading now: with one MARK block per episode, the lookup needs no key-matched score that ' +
    'stays positive across distances, because the episode\u2019s only MARK block and its digits are tokens of their own, and a head can find ' +
    'them wherever they are. A diagnostic after the run tests this (.cache, not registered: base 4 and base 1000, seed 1, retrained with ' +
    'the run\u2019s code; the base-1000 model reproduced the recorded run\u2019s final training loss to the last digit). On episodes with a ' +
    'second MARK block under another key, first-digit accuracy of the controlled query falls from 100 % to 21–79 % for base 4 (mean 41 %) ' +
    'and 33–100 % for base 1000 (mean 61 %; the 100 % is at d = 56, where that block opens the sequence). That is about the 50 % of ' +
    'picking one of the two blocks, so neither model matches keys. The second protocol fits this too: with three pairs per row, where ' +
    'the key must be matched, the lookup formed in 2 of 12 runs. So this toy cannot test the bound. What would settle it is retrieval ' +
    'with distractors once a toy learns it reliably, or the spec\u2019s scale. (The runs of bases 4 and 8 ran in one process; the ' +
    'base-20 and base-1000 runs are base-bound-retrieval\u2019s recorded runs, which depend only on base and seed and were joined with ' +
    'this protocol\u2019s judge; the record\u2019s time is the runs\u2019 sum.)',
  async run({ quick, progress }) {
    return windowResult(runWindow(quick ? WINDOW_QUICK : WINDOW_FULL, progress));
  },
};

// ── command line ──────────────────────────────────────────────────────────────────────────────────────────────────

const HELP = `usage: node scripts/run.mjs scripts/experiments/base-bound-window.ts [--quick] [--json]

Base bound, protocol A′: base-bound-retrieval's toy with bases whose every rotary pair turns inside the T = 64 window
(4, 8) against base 20 and base 1000; effective retrieval length and text loss, 3 seeds. Writes out/base-bound-window.svg.

  --quick   tiny sizes, seconds (every code path; the numbers mean nothing)
  --json    print the results as JSON
  --help    this text`;

if (isEntryPoint(import.meta.url, 'base-bound-window')) await reproductionMain(reproduction, HELP);
