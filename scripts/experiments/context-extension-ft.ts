/**
 * Issue 17 — context extension with short fine-tuning: Stage C of ../shared/specs/reproductions.md §3, the half of
 * the protocol that context-extension.ts (Stages A and B, zero-shot) leaves out.
 *
 * Stage A is the first protocol of context-extension.ts (`pretrainBase` with FIRST_PROTOCOL_FLAGS: GPT 2L d64 4×16,
 * RoPE base 602 = G4's LLaMA-2 regime at L = 128, 800 steps on passkey episodes in G1 filler, seeds 1–3), the models
 * this reproduction ran on; context-extension's later protocols train others.
 * Stage C: each arm's table for s = L′/L = 4 is swapped in (`armEncoding`) and the model is fine-tuned at L′ = 512 —
 * direct FT (plain RoPE, `extrapolation`), PI, NTK-aware, YaRN, Llama-3 — on the same mix at depths up to 500, batch
 * 4 × 512, AdamW lr 2e-4 constant after 10 warm-up steps, the same batches for every arm of a seed. At 0, 25, 50, 100
 * and 200 steps: text loss on 16 held-out G1 sequences of 512 (the ppl@512-vs-steps curve of PI Table 4 / YaRN
 * Table 1) and passkey accuracy at 512 (16 distances × 8 trials) with PI's k_max.
 *
 * Changed from the spec, stated before the run: the verdict is on text loss only. Stage B's positive control showed
 * the base models retrieve no passkey even at L (0.0 % at L′ = 128 in every seed), so k_max after fine-tuning would
 * measure whether 200 steps teach retrieval from nothing, not how fast each method extends it; passkey is reported.
 *
 * Usage: node scripts/run.mjs scripts/experiments/context-extension-ft.ts [--quick] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Generator, setNumThreads } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { readFlags } from '../lib/flags.js';
import { isEntryPoint } from '../lib/entry.js';
import type { Reproduction, ReproductionResult } from '../lib/reproduction.js';
import { VERDICT_RANK, judgeOrdering, meanRange, summarize, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';
import { MarkovText, regimeMatchedBase, textDocument } from '../lib/toy-data.js';
import {
  FIRST_PROTOCOL_FLAGS as STAGE_A_FLAGS, QUICK_FLAGS, accuracyByDistance, armEncoding, fineTuneCopy, kMax, passkeyDistances,
  passkeyHits, passkeyTrials, pretrainBase, textLoss, type ArmSpec, type FineTuning, type Flags as StageAFlags, type PasskeyTrial,
} from './context-extension.js';

/** The fine-tuning arms: direct FT keeps plain RoPE (the `extrapolation` table). */
export const FT_ARMS = ['extrapolation', 'pi', 'ntk', 'yarn', 'llama3'] as const;
export type FtArm = (typeof FT_ARMS)[number];

export interface FtSettings {
  /** Stage A (and its seeds): context-extension.ts's flags. */
  stageA: StageAFlags;
  /** L′, the fine-tuning and evaluation length. */
  length: number;
  /** Fine-tuning steps; measured after each of `checkpoints` (0 = zero-shot). */
  steps: number;
  checkpoints: number[];
  batch: number;
  lr: number;
  warmup: number;
  /** Held-out G1 sequences for the text loss; passkey distances and trials per distance. */
  text: number;
  distances: number;
  trials: number;
}

export const FT_FULL: FtSettings = { stageA: STAGE_A_FLAGS, length: 512, steps: 200, checkpoints: [0, 25, 50, 100, 200], batch: 4, lr: 2e-4, warmup: 10, text: 16, distances: 16, trials: 8 };
/** The quick Stage A with the first protocol's loss (every row a passkey episode, answers ×5 in the full loss). */
const STAGE_A_QUICK = { ...QUICK_FLAGS, answerWeight: STAGE_A_FLAGS.answerWeight, fillerWeight: STAGE_A_FLAGS.fillerWeight, episodes: STAGE_A_FLAGS.episodes };
export const FT_QUICK: FtSettings = { stageA: STAGE_A_QUICK, length: 64, steps: 2, checkpoints: [0, 1, 2], batch: 2, lr: 2e-4, warmup: 1, text: 2, distances: 4, trials: 2 };

/** One arm at one checkpoint. */
export interface FtMeasure {
  step: number;
  textLoss: number;
  passkey: number;
  kMax: number;
}

export interface FtSeedRun {
  seed: number;
  /** Stage-A loss, first and last step. */
  pretrainLoss: [number, number];
  /** Arm → one measure per checkpoint. */
  curves: Record<FtArm, FtMeasure[]>;
}

const EVAL_SEED = 161803;

/** Stage C for one Stage-A model: every arm fine-tuned on the same batches, measured at the checkpoints. */
export function fineTuneArms(model: GPT, s: FtSettings, seed: number, text: MarkovText, evalText: readonly Int32Array[], trials: readonly PasskeyTrial[], distances: readonly number[], tick: () => void = () => {}): Record<FtArm, FtMeasure[]> {
  const L = s.stageA.trainLength;
  const headDim = s.stageA.dim / s.stageA.heads;
  const spec: ArmSpec = { headDim, base: regimeMatchedBase(headDim, L), trainLength: L, factor: s.length / L, alpha: s.stageA.alpha, beta: s.stageA.beta };
  const fineTuning: FineTuning = {
    stageA: s.stageA, batch: s.batch, length: s.length, steps: s.steps, lr: s.lr, checkpoints: s.checkpoints,
    schedule: (step) => s.lr * Math.min(1, (step + 1) / s.warmup),
  };
  const measure = (tuned: GPT, step: number): FtMeasure => {
    const accuracy = accuracyByDistance(trials, passkeyHits(tuned, trials, s.length), distances);
    return { step, textLoss: textLoss(tuned, evalText, s.length), passkey: accuracy.reduce((a, b) => a + b, 0) / accuracy.length, kMax: kMax(distances, accuracy) };
  };
  // new Generator(…) per arm: the same batches for every arm of this seed
  return Object.fromEntries(FT_ARMS.map((arm) => [arm, fineTuneCopy(model, armEncoding(arm, spec), fineTuning, text, new Generator(seed * 104729 + 3), measure, tick)])) as Record<FtArm, FtMeasure[]>;
}

export interface FtJudgement {
  verdict: Verdict;
  reason: string;
  /** Text loss at L′ after the first checkpoint > 0: yarn < pi < extrapolation (direct FT). */
  early: OrderingJudgement;
  /** Text loss at L′ after the last checkpoint: pi < extrapolation. */
  late: OrderingJudgement;
  /** Fine-tuning works here: every arm's text loss at the last checkpoint is below its zero-shot loss, in every seed. */
  control: { passed: boolean; failures: string[] };
}


/** Text loss of `arm` at checkpoint index `i`, one value per seed. */
const lossAt = (runs: readonly FtSeedRun[], arm: FtArm, i: number): number[] => runs.map((r) => r.curves[arm][i]!.textLoss);

export function judgeFineTuning(runs: readonly FtSeedRun[], checkpoints: readonly number[]): FtJudgement {
  const first = checkpoints.findIndex((c) => c > 0);
  const last = checkpoints.length - 1;
  const early = judgeOrdering({ yarn: lossAt(runs, 'yarn', first), pi: lossAt(runs, 'pi', first), extrapolation: lossAt(runs, 'extrapolation', first) }, ['yarn', 'pi', 'extrapolation'], 'lower');
  const late = judgeOrdering({ pi: lossAt(runs, 'pi', last), extrapolation: lossAt(runs, 'extrapolation', last) }, ['pi', 'extrapolation'], 'lower');
  const failures = runs.flatMap((r) => FT_ARMS.filter((arm) => !(r.curves[arm][last]!.textLoss < r.curves[arm][0]!.textLoss)).map((arm) => `${arm} (seed ${r.seed})`));
  const control = { passed: failures.length === 0, failures };
  if (!control.passed) {
    return { verdict: 'not reproduced', reason: `positive control failed — fine-tuning did not lower the text loss at L′ for ${failures.join(', ')}`, early, late, control };
  }
  const weakest = VERDICT_RANK[early.verdict] <= VERDICT_RANK[late.verdict] ? { name: `after ${checkpoints[first]} steps, yarn < pi < direct FT`, j: early } : { name: `after ${checkpoints[last]} steps, pi < direct FT`, j: late };
  return { verdict: weakest.j.verdict, reason: `control passed (fine-tuning lowers every arm's loss); weakest ordering '${weakest.name}': ${weakest.j.reason}`, early, late, control };
}

export interface FtResults {
  settings: FtSettings;
  distances: number[];
  runs: FtSeedRun[];
  judgement: FtJudgement;
  seconds: number;
}

export function runFineTuning(s: FtSettings, progress: (done: number, total: number, note?: string) => void = () => {}, log: (line: string) => void = () => {}): FtResults {
  const started = performance.now();
  const text = new MarkovText();
  const g = new Generator(EVAL_SEED + s.length);
  const distances = passkeyDistances(s.length, s.distances);
  const evalText = Array.from({ length: s.text }, () => textDocument(s.length + 1, g, text));
  const trials = passkeyTrials(s.length, distances, s.trials, g, text);
  const seeds = Array.from({ length: s.stageA.seeds }, (_, i) => s.stageA.firstSeed + i);
  // work in fine-tuning-step units: a Stage-A step is a quarter of one (16 × 128 against 4 × 512 tokens, shorter attention)
  const total = seeds.length * (s.stageA.steps / 4 + FT_ARMS.length * s.steps);
  let done = 0;
  const runs: FtSeedRun[] = [];
  for (const seed of seeds) {
    const t0 = performance.now();
    const { model, losses } = pretrainBase(s.stageA, seed, text, () => progress((done += 0.25), total, `seed ${seed}: pretraining`));
    log(`seed ${seed}: pretrained ${s.stageA.steps} steps at L = ${s.stageA.trainLength}, loss ${losses[0]?.toFixed(3)} → ${losses.at(-1)?.toFixed(3)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const curves = fineTuneArms(model, s, seed, text, evalText, trials, distances, () => progress((done += 1), total, `seed ${seed}: fine-tuning`));
    for (const arm of FT_ARMS) log(`  ${arm}: text loss ${curves[arm].map((m) => `${m.step}:${m.textLoss.toFixed(3)}`).join(' ')}; passkey ${curves[arm].map((m) => `${(100 * m.passkey).toFixed(0)}%`).join(' ')}`);
    runs.push({ seed, pretrainLoss: [losses[0] ?? NaN, losses.at(-1) ?? NaN], curves });
  }
  return { settings: s, distances, runs, judgement: judgeFineTuning(runs, s.checkpoints), seconds: (performance.now() - started) / 1000 };
}

/** An arm's name in tables: direct fine-tuning keeps plain RoPE's (`extrapolation`) table. */
const label = (arm: FtArm): string => (arm === 'extrapolation' ? 'direct FT' : arm);

export function formatFineTuning(res: FtResults): string {
  const { settings: s, runs, judgement: j } = res;
  const gaps = (o: OrderingJudgement): string => `${o.gaps.map((g) => `${g.better} − ${g.worse} = ${g.gap.toFixed(4)} (margin ${g.margin.toFixed(4)})`).join('; ')}, seeds in order: ${o.seedsInOrder.map((ok) => (ok ? 'yes' : 'no')).join('/')}`;
  const rows = FT_ARMS.map((arm) => `| ${label(arm)} | ${s.checkpoints.map((_, i) => meanRange(lossAt(runs, arm, i))).join(' | ')} | ${s.checkpoints.map((_, i) => meanRange(runs.map((r) => 100 * r.curves[arm][i]!.passkey), (v) => v.toFixed(0))).join(' / ')} |`);
  return [
    `Stage A as context-extension (L = ${s.stageA.trainLength}, ${s.stageA.steps} steps, seeds ${runs.map((r) => r.seed).join(', ')}); fine-tuning at L′ = ${s.length}: ${s.steps} AdamW steps × ${s.batch} × ${s.length}, lr ${s.lr} after ${s.warmup} warm-up steps; text loss on ${s.text} G1 sequences, passkey ${s.distances} distances × ${s.trials} trials`,
    '',
    `| arm | ${s.checkpoints.map((c) => `text loss @${c}`).join(' | ')} | passkey % @${s.checkpoints.join('/')} |`,
    `|---|${s.checkpoints.map(() => '---:|').join('')}---|`,
    ...rows,
    '',
    `criterion — after ${s.checkpoints.find((c) => c > 0)} steps, yarn < pi < direct FT: ${gaps(j.early)} → ${j.early.verdict}`,
    `criterion — after ${s.checkpoints.at(-1)} steps, pi < direct FT: ${gaps(j.late)} → ${j.late.verdict}`,
    `positive control — fine-tuning lowers every arm's text loss at L′: ${j.control.passed ? 'passed' : `FAILED (${j.control.failures.join(', ')})`}`,
    `verdict: ${j.verdict} — ${j.reason}`,
  ].join('\n');
}

export function chartFineTuning(res: FtResults): string {
  return lineChart({
    title: `Fine-tuning at L′ = ${res.settings.length}: text loss vs steps (mean of ${res.runs.length} seeds)`,
    xLabel: 'fine-tuning steps', yLabel: 'text loss at L′ (nats/token)',
    series: FT_ARMS.map((arm) => ({ name: arm === 'extrapolation' ? 'direct FT (plain RoPE)' : arm, points: res.settings.checkpoints.map((c, i) => [c, summarize(lossAt(res.runs, arm, i)).mean] as const) })),
  });
}

function toResult(res: FtResults): ReproductionResult {
  const last = res.settings.checkpoints.length - 1;
  return {
    verdict: res.judgement.verdict,
    summary: `text loss at L′ = ${res.settings.length} after ${res.settings.checkpoints.at(-1)} fine-tuning steps: ${FT_ARMS.map((arm) => `${label(arm)} ${meanRange(lossAt(res.runs, arm, last))}`).join(', ')}`,
    reason: res.judgement.reason,
    table: formatFineTuning(res),
    svg: chartFineTuning(res),
    data: res,
  };
}

export const reproduction: Reproduction = {
  name: 'context-extension-ft',
  paper: 'PI (Chen et al., arXiv 2306.15595, 2023); YaRN (Peng et al., ICLR 2024); NTK-aware (bloc97, 2023); Llama-3 scaling (Meta, 2024)',
  claim:
    'With short fine-tuning at the new length, interpolation adapts fast where extrapolation does not: LLaMA-7B→8192, PI\u2019s PG19 ppl falls from 16.10 (step 0) to 7.12 after 200 steps and its passkey k_max reaches L′ within 200 steps, while direct fine-tuning reaches k_max 1792 after 200 steps and 2560 after 10 000 (PI Table 4); YaRN matches PI\u2019s fine-tuned ppl with 2.5× fewer steps (Llama-2-7B 4k→8k: PI 1000 steps 3.34, YaRN 400 steps 3.35).',
  setup:
    `context-extension\u2019s Stage-A models (GPT 2L d64 4×16, base 602, L = 128, 800 steps, seeds 1–3), fine-tuned at L′ = 512 for ${FT_FULL.steps} steps × ${FT_FULL.batch} × 512 (lr 2e-4) with direct FT (plain RoPE), PI, NTK-aware, YaRN, Llama-3 tables (s = 4), same batches per seed; text loss on ${FT_FULL.text} sequences and passkey ${FT_FULL.distances} × ${FT_FULL.trials} at 0/25/50/100/200 steps`,
  criterion:
    'Stated before the run: text loss at L′ = 512 (lower better), by judgeOrdering (every seed in order, every mean gap > 2× the larger seed range): after 25 steps yarn < pi < direct FT (interpolation adapts faster; YaRN fastest), and after 200 steps pi < direct FT; the verdict is the weaker of the two. Positive control: fine-tuning lowers every arm\u2019s text loss (step 200 below step 0) in every seed, else \u2018not reproduced\u2019. Passkey accuracy and k_max are reported, not judged: the base models retrieve nothing at L (context-extension\u2019s control), so the spec\u2019s k_max-vs-steps comparison cannot be made here.',
  falsifier: 'With the control passing, direct fine-tuning matches or beats PI at 200 steps, or PI/YaRN are not ahead of direct FT after 25 steps: interpolation buys no fine-tuning efficiency at this scale.',
  minutes: 20,
  examination:
    'A real negative at this scale, not a failed toy: fine-tuning works for every arm (control passed), and PI is the slowest to adapt, behind ' +
    'even plain RoPE — text loss at 512 after 25 steps: YaRN 1.169, NTK 1.218, Llama-3 1.206, direct FT 1.740, PI 3.597; after 200 steps: YaRN ' +
    '1.085, NTK and Llama-3 1.091, direct FT 1.111, PI 1.609, in every seed. What separates the arms is what they do to the fast pairs. PI divides ' +
    'every frequency by s = 4, so the fast pairs that carry the filler\u2019s local (second-order Markov) structure lose the resolution the model ' +
    'learned and must be relearned; YaRN, NTK-by-parts-style Llama-3 and NTK keep them (nearly) as trained, and plain RoPE keeps them exactly — ' +
    'its fast pairs turn full circles within L = 128, so only the pairs with wavelengths beyond 128 meet angles they never saw. The zero-shot losses (step 0: PI 4.86 against YaRN 1.62) show the same ' +
    'split before any training. The claim\u2019s other half, PI\u2019s passkey k_max after fine-tuning, could not be tested: the base models ' +
    'retrieve nothing (0 % at every checkpoint here too). What would settle it: the spec\u2019s base models that retrieve (see context-extension), ' +
    'and PI fine-tuned for the paper\u2019s 1000 steps at a text mix whose structure is not all local.',
  async run({ quick, progress }) {
    setNumThreads(1);
    return toResult(runFineTuning(quick ? FT_QUICK : FT_FULL, progress));
  },
};

const HELP = `usage: node scripts/run.mjs scripts/experiments/context-extension-ft.ts [--quick] [--json]

Context extension, Stage C: the base models of context-extension's first protocol fine-tuned at L′ = 512 with direct
FT, PI, NTK-aware, YaRN and Llama-3 tables; text loss and passkey at 0/25/50/100/200 steps, 3 seeds. Writes
out/context-extension-ft.svg.

  --quick   tiny sizes, seconds (every code path; the numbers mean nothing)
  --json    print the results as JSON
  --help    this text`;

function main(): void {
  const flags = readFlags<{ quick: boolean; json: boolean }>('context-extension-ft', HELP, { quick: false, json: false }, {
    values: {},
    switches: { quick: (f) => (f.quick = true), json: (f) => (f.json = true) },
  });
  setNumThreads(1);
  const log = (line: string): void => (flags.json ? console.error(line) : console.log(line));
  const res = runFineTuning(flags.quick ? FT_QUICK : FT_FULL, () => {}, log);
  log(`\n${formatFineTuning(res)}`);
  mkdirSync('out', { recursive: true });
  writeFileSync('out/context-extension-ft.svg', chartFineTuning(res));
  log(`\nwrote out/context-extension-ft.svg; ${res.seconds.toFixed(0)} s in all`);
  if (flags.json) console.log(JSON.stringify(res));
}

if (isEntryPoint(import.meta.url, 'context-extension-ft')) main();
