/**
 * scripts/experiments/base-bound-ft.ts (base bound, protocol B): the verdict rule on known inputs (the positive control,
 * the retrieval ordering beyond a few tens of tokens, the small base failing early, the text loss staying superficially
 * fine), the far-accuracy helper, and the quick run — step 0 is the Stage-A model with each arm's base, every arm
 * starts from the same weights, the kept arm is the pretraining base, and a run is deterministic.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../../core/index.js';
import { GPT } from '../../models/gpt.js';
import { RoPE } from '../../positional/rope.js';
import { MarkovText, regimeMatchedBase, textDocument } from '../../scripts/lib/toy-data.js';
import { passkeyDistances, passkeyTrials, pretrainBase, textLoss } from '../../scripts/experiments/context-extension.js';
import {
  ARMS, BOUND_FT_FULL, BOUND_FT_QUICK, accuracyBeyond, armBases, fineTuneBases, formatBoundFt, judgeBoundFt, reproduction, runBoundFt,
  type Arm, type BoundFtMeasure, type BoundFtSeedRun, type BoundFtSettings,
} from '../../scripts/experiments/base-bound-ft.js';

const DISTANCES = [8, 40, 72, 104];
const BEYOND = 64;

/** A seed run whose arms end with the given accuracy curves and text losses (one checkpoint after step 0). */
function seedRun(seed: number, arms: Record<Arm, { accuracy: number[]; text: number; length: number }>): BoundFtSeedRun {
  const curves = Object.fromEntries(ARMS.map((arm) => {
    const a = arms[arm];
    const zero: BoundFtMeasure = { step: 0, textLoss: 9, accuracy: DISTANCES.map(() => 0), effectiveLength: 0 };
    return [arm, [zero, { step: 300, textLoss: a.text, accuracy: a.accuracy, effectiveLength: a.length }]];
  })) as Record<Arm, BoundFtMeasure[]>;
  return { seed, pretrainLoss: [4, 1], curves };
}

/** The predicted outcome: the large base retrieves everywhere, the small one only at the shortest distance. */
const predicted = (jitter: number, over: Partial<Record<Arm, { accuracy: number[]; text: number; length: number }>> = {}): Record<Arm, { accuracy: number[]; text: number; length: number }> => ({
  small: { accuracy: [1, 0.3 + jitter, 0.1, 0.05], text: 1.02, length: 30 },
  kept: { accuracy: [1, 0.9, 0.5, 0.2], text: 1.01, length: 60 },
  large: { accuracy: [1, 1, 0.95 - jitter, 0.9], text: 1.0, length: 104 },
  ...over,
});

test('accuracyBeyond: the mean over the distances past the cut, and a refusal when there are none', () => {
  assert.is(accuracyBeyond(DISTANCES, [1, 0.5, 0.25, 0.75], 64), 0.5);
  assert.is(accuracyBeyond(DISTANCES, [1, 0.5, 0.25, 0.75], 40), 0.5, 'strictly greater: 40 is not beyond 40');
  assert.throws(() => accuracyBeyond(DISTANCES, [1, 1, 1, 1], 104), /accuracyBeyond: no distance exceeds 104/);
});

test('judgeBoundFt: the predicted outcome in every seed by a clear margin reproduces', () => {
  const j = judgeBoundFt([seedRun(1, predicted(0)), seedRun(2, predicted(0.02)), seedRun(3, predicted(-0.02))], DISTANCES, BEYOND);
  assert.ok(j.control.passed);
  assert.is(j.retrieval.verdict, 'reproduced');
  assert.ok(j.smallFails.passed);
  assert.ok(j.text.passed);
  assert.is(j.text.ratio, 1.02);
  assert.is(j.verdict, 'reproduced');
});

test('judgeBoundFt: a large base that does not retrieve fails the control, whatever the ordering', () => {
  const weak = predicted(0, { large: { accuracy: [1, 0.8, 0.7, 0.6], text: 1, length: 50 } }); // mean 0.775 < 0.8
  const j = judgeBoundFt([seedRun(1, predicted(0)), seedRun(2, weak), seedRun(3, predicted(0))], DISTANCES, BEYOND);
  assert.not.ok(j.control.passed);
  assert.equal(j.control.accuracy.map((a) => +a.toFixed(4)), [0.9625, 0.775, 0.9625]);
  assert.is(j.retrieval.verdict, 'reproduced', 'the ordering itself holds');
  assert.is(j.verdict, 'not reproduced');
  assert.match(j.reason, /positive control failed/);
});

test('judgeBoundFt: a small base that retrieves past a few tens of tokens, or loses text loss, caps the verdict at partly', () => {
  const far = (s: number): BoundFtSeedRun => seedRun(s, predicted(0, { small: { accuracy: [1, 0.9, 0.1, 0.05], text: 1.02, length: 70 } }));
  const j = judgeBoundFt([far(1), far(2), far(3)], DISTANCES, BEYOND);
  assert.is(j.retrieval.verdict, 'reproduced');
  assert.not.ok(j.smallFails.passed);
  assert.is(j.verdict, 'partly');
  assert.match(j.reason, /retrieves past 64 tokens/);
  const costly = (s: number): BoundFtSeedRun => seedRun(s, predicted(0, { small: { accuracy: [1, 0.3, 0.1, 0.05], text: 1.06, length: 30 } }));
  const k = judgeBoundFt([costly(1), costly(2), costly(3)], DISTANCES, BEYOND);
  assert.not.ok(k.text.passed);
  assert.is(k.verdict, 'partly');
  assert.match(k.reason, /not superficial/);
});

test('judgeBoundFt: a seed out of order fails the ordering; the kept arm is never judged', () => {
  const flipped = seedRun(2, predicted(0, { small: { accuracy: [1, 1, 1, 1], text: 1.0, length: 30 } }));
  const j = judgeBoundFt([seedRun(1, predicted(0)), flipped, seedRun(3, predicted(0))], DISTANCES, BEYOND);
  assert.equal(j.retrieval.seedsInOrder, [true, false, true]);
  assert.is(j.verdict, 'partly', 'the means stay in order (judgeOrdering), one seed breaks it');
  assert.match(j.reason, /seed 1 breaks the ordering/);
  const keptOff = (s: number): BoundFtSeedRun => seedRun(s, predicted(0, { kept: { accuracy: [0, 0, 0, 0], text: 5, length: 0 } }));
  assert.is(judgeBoundFt([keptOff(1), keptOff(2), keptOff(3)], DISTANCES, BEYOND).verdict, 'reproduced');
});

test('armBases: the kept arm is Stage A\'s regime-matched base; the full run\'s bases straddle the bound', () => {
  const bases = armBases(BOUND_FT_FULL);
  assert.equal([bases.small, bases.large], [50, 1.6e5]);
  assert.is(bases.kept, regimeMatchedBase(32, 128));
});

/** A quick Stage-A model (seed 1) and the evaluation data fineTuneBases measures on. */
function quickStart(s: BoundFtSettings) {
  const text = new MarkovText();
  const { model } = pretrainBase(s.stageA, 1, text);
  const g = new Generator(5);
  const distances = passkeyDistances(s.length, s.distances);
  const evalText = Array.from({ length: s.text }, () => textDocument(s.length + 1, g, text));
  const trials = passkeyTrials(s.length, distances, s.trials, g, text);
  return { text, model, distances, evalText, trials };
}

test('fineTuneBases: step 0 is the Stage-A model under each arm\'s base; arms share a start; runs repeat exactly', () => {
  const s = BOUND_FT_QUICK;
  const { text, model, distances, evalText, trials } = quickStart(s);
  const curves = fineTuneBases(model, s, 1, text, evalText, trials, distances);
  const headDim = s.stageA.dim / s.stageA.heads;
  const bases = armBases(s);
  const probe = new GPT(model.config);
  for (const arm of ARMS) {
    assert.equal(curves[arm].map((m) => m.step), s.checkpoints, `${arm}: one measure per checkpoint`);
    probe.loadStateDict(model.stateDict());
    probe.setPositional(new RoPE(headDim, { base: bases[arm] }));
    probe.eval();
    assert.is(curves[arm][0]!.textLoss, textLoss(probe, evalText, s.length), `${arm}: step 0 is the base model with base ${bases[arm]}`);
    assert.ok(curves[arm].at(-1)!.textLoss !== curves[arm][0]!.textLoss, `${arm}: fine-tuning changes the loss`);
  }
  assert.is.not(curves.small[0]!.textLoss, curves.large[0]!.textLoss, 'the bases differ, so do the zero-shot losses');
  const again = fineTuneBases(pretrainBase(s.stageA, 1, text).model, s, 1, text, evalText, trials, distances);
  assert.equal(again, curves, 'deterministic');
});

test('fineTuneBases: the arms of a seed see the same batches (two arms with the same base end identical), other seeds other batches', () => {
  const s = { ...BOUND_FT_QUICK, smallBase: 1e4, largeBase: 1e4 };
  const { text, model, distances, evalText, trials } = quickStart(s);
  const curves = fineTuneBases(model, s, 1, text, evalText, trials, distances);
  assert.equal(curves.small, curves.large, 'same start, same base, same batches');
  const other = fineTuneBases(model, s, 2, text, evalText, trials, distances);
  assert.is.not(other.small.at(-1)!.textLoss, curves.small.at(-1)!.textLoss, 'the seed sets the batches');
});

test('the quick run and the reproduction entry', async () => {
  const res = runBoundFt(BOUND_FT_QUICK);
  assert.is(res.runs.length, BOUND_FT_QUICK.stageA.seeds);
  assert.equal(res.distances, passkeyDistances(BOUND_FT_QUICK.length, BOUND_FT_QUICK.distances));
  const table = formatBoundFt(res);
  assert.match(table, /\| base 10 \|/);
  assert.match(table, /\(kept\)/);
  assert.match(table, /verdict: /);
  assert.is(reproduction.name, 'base-bound-ft');
  const quick = await reproduction.run({ quick: true, progress: () => {} });
  assert.match(quick.svg!, /^<svg/);
  assert.match(quick.summary, /base 10000/);
});

test.run();
