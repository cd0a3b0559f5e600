/**
 * scripts/experiments/base-bound-window.ts (base bound, protocol A′): the slowest wavelength against its formula, the
 * design (the bases below the window turn every pair inside it, the reference does not, the control's L_θ exceeds it),
 * the verdict rule on known inputs (control, the two orderings, the text-loss cap, the falsifier), and the --quick run.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { boundLength, type ArmRun } from '../../scripts/experiments/base-bound-retrieval.js';
import {
  WINDOW_FULL, WINDOW_QUICK, judgeWindow, reproduction, slowestWavelength, windowResults, type WindowResults, type WindowSettings,
} from '../../scripts/experiments/base-bound-window.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

test('slowestWavelength: 2π·b^{(d−2)/d}, the last pair of the RoPE table', () => {
  for (const [b, d] of [[4, 32], [8, 32], [20, 32], [1000, 32], [10000, 64], [3, 8]] as const) {
    const want = 2 * Math.PI * b ** ((d - 2) / d);
    assert.ok(Math.abs(slowestWavelength(b, d) - want) < 1e-9 * want, `base ${b}, d ${d}: ${slowestWavelength(b, d)} vs ${want}`);
  }
});

test('the full design: bases below the window turn every pair inside T, the reference does not, the control is above the bound', () => {
  const w = WINDOW_FULL;
  const d = w.run.dim / w.run.heads;
  for (const b of w.below) assert.ok(slowestWavelength(b, d) < w.run.context, `base ${b}: λ_max ${slowestWavelength(b, d)} < T`);
  assert.ok(slowestWavelength(w.reference, d) > w.run.context);
  assert.ok(boundLength(w.control, d) > w.run.context);
  assert.equal(w.run.bases, [...w.below, w.reference, w.control]);
  assert.equal(WINDOW_QUICK.run.bases, [...WINDOW_QUICK.below, WINDOW_QUICK.reference, WINDOW_QUICK.control]);
});

const S: WindowSettings = { run: { ...WINDOW_QUICK.run, evalDistances: [8, 16, 24], seeds: 3 }, below: [4, 8], reference: 20, control: 1000 };
const run = (base: number, seed: number, effectiveLength: number, textLoss = 1, accuracy = [1, 1, 1]): ArmRun => ({
  base, seed, textLoss, accuracy, exactMatch: accuracy, effectiveLength, finalTrainLoss: 1, seconds: 1,
});
/** The predicted outcome: bases 4 and 8 retrieve only near, 20 and 1000 everywhere, the text loss equal. */
const predicted = (over: (b: number, s: number) => Partial<ArmRun> = () => ({})): ArmRun[] =>
  [1, 2, 3].flatMap((s) => [
    { ...run(4, s, 0.5 * s), ...over(4, s) }, { ...run(8, s, 2 + s), ...over(8, s) }, { ...run(20, s, 24), ...over(20, s) }, { ...run(1000, s, 24), ...over(1000, s) },
  ]);

test('judgeWindow: the predicted outcome in every seed by a clear margin reproduces', () => {
  const j = judgeWindow(S, predicted());
  assert.ok(j.control.passed);
  assert.equal(j.orderings.map((o) => [o.base, o.ordering.verdict]), [[4, 'reproduced'], [8, 'reproduced']]);
  assert.equal(j.textRatios.map((t) => t.passed), [true, true]);
  assert.is(j.verdict, 'reproduced');
});

test('judgeWindow: a control that does not retrieve (mean over seeds, at its worst distance) fails the run, whatever the orderings', () => {
  const j = judgeWindow(S, predicted((b, s) => (b === 1000 && s === 2 ? { accuracy: [1, 0.6, 0.6] } : {})));
  assert.ok(j.control.passed, 'one weak seed: the mean over seeds is 86.7 % at its worst distance, above 80 %');
  assert.ok(Math.abs(j.control.minMeanAccuracy - 2.6 / 3) < 1e-12, 'the mean over seeds at the worst distance');
  const k = judgeWindow(S, predicted((b) => (b === 1000 ? { accuracy: [1, 0.7, 0.9] } : {})));
  assert.is(k.verdict, 'not reproduced');
  assert.match(k.reason, /positive control failed: base 1000 retrieves only 70.0 %/);
});

test('judgeWindow: the verdict is the weaker ordering; one base below the window retrieving as far as the reference is the falsifier', () => {
  const far8 = judgeWindow(S, predicted((b) => (b === 8 ? { effectiveLength: 24 } : {})));
  assert.equal(far8.orderings.map((o) => o.ordering.verdict), ['reproduced', 'not reproduced']);
  assert.is(far8.verdict, 'not reproduced');
  assert.match(far8.reason, /base 20 > base 8: the means are not in the predicted order/);
  const spread = judgeWindow(S, predicted((b, s) => (b === 4 ? { effectiveLength: [0, 24, 0][s - 1]! } : {})));
  assert.is(spread.orderings[0]!.ordering.verdict, 'partly', 'seed 2 ties the reference');
  assert.is(spread.verdict, 'partly');
});

test('judgeWindow: a base below the window that also loses text loss caps the verdict at partly', () => {
  const j = judgeWindow(S, predicted((b) => (b === 4 ? { textLoss: 1.06 } : {})));
  assert.equal(j.textRatios.map((t) => +t.ratio.toFixed(3)), [1.06, 1]);
  assert.is(j.verdict, 'partly');
  assert.match(j.reason, /not superficially fine \(base 4 6.0 % above base 20's/);
  assert.is(judgeWindow(S, predicted((b) => (b === 4 ? { textLoss: 1.05 } : {}))).verdict, 'reproduced', 'exactly at the tolerance is fine');
});

test('--quick: the reproduction runs in seconds and returns a well-formed result', async () => {
  let lastDone = 0;
  let lastTotal = 0;
  const res = await reproduction.run({ quick: true, progress: (done, total) => ((lastDone = done), (lastTotal = total)) });
  assert.is(reproduction.name, 'base-bound-window');
  assert.ok(lastTotal > 0 && lastDone === lastTotal, 'progress reaches its total');
  const data = res.data as WindowResults;
  const w = data.settings;
  assert.is(data.runs.length, w.run.bases.length * w.run.seeds);
  assert.equal(data.bounds, w.run.bases.map((b) => boundLength(b, data.headDim)));
  for (const r of data.runs) assert.ok(Number.isFinite(r.textLoss) && r.accuracy.every((a) => a >= 0 && a <= 1));
  assert.match(res.table, /\| base \| L_θ \| λ_max \|/);
  assert.match(res.table, /criterion — effective length, base 30 > base 3/);
  assert.equal(windowResults(w, data.runs).judgement, data.judgement, 'joined runs judge as one run');
  assertWellFormedSvg(res.svg!);
  for (const field of [reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 40);
});

test.run();
