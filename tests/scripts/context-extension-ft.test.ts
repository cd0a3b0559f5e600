/**
 * scripts/experiments/context-extension-ft.ts (Stage C): the verdict rule on known inputs (the early ordering at the
 * first checkpoint after 0, the late one at the last, the fine-tuning control), and the quick run — the step-0
 * measure is the zero-shot model, arms start from the same weights, and a run is deterministic.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../../core/index.js';
import { MarkovText, regimeMatchedBase, textDocument } from '../../scripts/lib/toy-data.js';
import { armEncoding, passkeyDistances, passkeyTrials, pretrainBase, textLoss } from '../../scripts/experiments/context-extension.js';
import {
  FT_ARMS, FT_QUICK, fineTuneArms, formatFineTuning, judgeFineTuning, reproduction, runFineTuning, type FtArm, type FtMeasure, type FtSeedRun,
} from '../../scripts/experiments/context-extension-ft.js';

/** A seed run whose arms follow the given text-loss curves (checkpoints [0, 25, 200]). */
function seedRun(seed: number, losses: Record<FtArm, [number, number, number]>): FtSeedRun {
  const curves = Object.fromEntries(FT_ARMS.map((arm) => [arm, losses[arm].map((l, i): FtMeasure => ({ step: [0, 25, 200][i]!, textLoss: l, passkey: 0, kMax: 0 }))])) as Record<FtArm, FtMeasure[]>;
  return { seed, pretrainLoss: [4, 1], curves };
}

const CHECKPOINTS = [0, 25, 200];
/** Interpolation adapts faster (yarn < pi < direct FT at 25) and PI stays ahead at 200; seeds differ by `jitter`. */
const predicted = (jitter: number): Record<FtArm, [number, number, number]> => ({
  extrapolation: [5, 3 + jitter, 2.5 + jitter], pi: [4, 2 + jitter, 1.8 + jitter], ntk: [4, 2.2, 2], yarn: [3.5, 1.5 + jitter, 1.7], llama3: [4, 2.1, 1.9],
});

test('judgeFineTuning: the predicted orderings in every seed by a clear margin reproduce', () => {
  const j = judgeFineTuning([seedRun(1, predicted(0)), seedRun(2, predicted(0.01)), seedRun(3, predicted(-0.01))], CHECKPOINTS);
  assert.ok(j.control.passed);
  assert.is(j.early.verdict, 'reproduced');
  assert.is(j.late.verdict, 'reproduced');
  assert.is(j.verdict, 'reproduced');
});

test('judgeFineTuning: the early ordering is read at the first checkpoint after 0, the late one at the last', () => {
  // at 25 steps direct FT is ahead of PI (early fails); at 200 PI is ahead (late holds)
  const early = (s: number): FtSeedRun => seedRun(s, { ...predicted(0), extrapolation: [5, 1.9, 2.5], pi: [4, 2, 1.8] });
  const j = judgeFineTuning([early(1), early(2), early(3)], CHECKPOINTS);
  assert.is(j.early.verdict, 'not reproduced');
  assert.is(j.late.verdict, 'reproduced');
  assert.is(j.verdict, 'not reproduced', 'the weaker of the two');
  assert.match(j.reason, /after 25 steps, yarn < pi < direct FT/);
  // and the other way round
  const late = (s: number): FtSeedRun => seedRun(s, { ...predicted(0), extrapolation: [5, 3, 1.7], pi: [4, 2, 1.8] });
  const k = judgeFineTuning([late(1), late(2), late(3)], CHECKPOINTS);
  assert.is(k.early.verdict, 'reproduced');
  assert.is(k.late.verdict, 'not reproduced');
  assert.match(k.reason, /after 200 steps, pi < direct FT/);
});

test('judgeFineTuning: an arm whose loss does not fall with fine-tuning fails the control, whatever the orderings', () => {
  const stuck = seedRun(2, { ...predicted(0), ntk: [2, 2.2, 2.1] });
  const j = judgeFineTuning([seedRun(1, predicted(0)), stuck, seedRun(3, predicted(0))], CHECKPOINTS);
  assert.not.ok(j.control.passed);
  assert.equal(j.control.failures, ['ntk (seed 2)']);
  assert.is(j.verdict, 'not reproduced');
  assert.match(j.reason, /positive control failed/);
});

test('fineTuneArms: step 0 is the zero-shot model of each arm; every arm starts from the same weights; runs repeat exactly', () => {
  const s = FT_QUICK;
  const text = new MarkovText();
  const { model } = pretrainBase(s.stageA, 1, text);
  const g = new Generator(5);
  const distances = passkeyDistances(s.length, s.distances);
  const evalText = Array.from({ length: s.text }, () => textDocument(s.length + 1, g, text));
  const trials = passkeyTrials(s.length, distances, s.trials, g, text);
  const curves = fineTuneArms(model, s, 1, text, evalText, trials, distances);
  const headDim = s.stageA.dim / s.stageA.heads;
  const spec = { headDim, base: regimeMatchedBase(headDim, s.stageA.trainLength), trainLength: s.stageA.trainLength, factor: s.length / s.stageA.trainLength, alpha: s.stageA.alpha, beta: s.stageA.beta };
  for (const arm of FT_ARMS) {
    assert.equal(curves[arm].map((m) => m.step), s.checkpoints, `${arm}: one measure per checkpoint`);
    model.setPositional(armEncoding(arm, spec));
    assert.is(curves[arm][0]!.textLoss, textLoss(model, evalText, s.length), `${arm}: step 0 is the base model with the arm's table`);
    assert.ok(curves[arm].at(-1)!.textLoss !== curves[arm][0]!.textLoss, `${arm}: fine-tuning changes the loss`);
  }
  const again = fineTuneArms(pretrainBase(s.stageA, 1, text).model, s, 1, text, evalText, trials, distances);
  assert.equal(again, curves, 'deterministic');
});

test('the quick run and the reproduction entry', async () => {
  const res = runFineTuning(FT_QUICK);
  assert.is(res.runs.length, FT_QUICK.stageA.seeds);
  const table = formatFineTuning(res);
  assert.match(table, /\| direct FT \|/);
  assert.match(table, /verdict: /);
  assert.is(reproduction.name, 'context-extension-ft');
  const quick = await reproduction.run({ quick: true, progress: () => {} });
  assert.match(quick.svg!, /^<svg/);
  assert.match(quick.summary, /direct FT/);
});

test.run();
