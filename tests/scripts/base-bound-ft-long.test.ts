/**
 * scripts/experiments/base-bound-ft-long.ts (base bound, protocol B fine-tuned 4× longer): the settings differ from
 * base-bound-ft's only in the steps and checkpoints, the per-checkpoint text curves, and the --quick run.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BOUND_FT_FULL, reproduction as protocolB, type BoundFtMeasure, type BoundFtResults } from '../../scripts/experiments/base-bound-ft.js';
import { BOUND_FT_LONG, reproduction, textCurves } from '../../scripts/experiments/base-bound-ft-long.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

test('BOUND_FT_LONG is base-bound-ft\'s protocol with 4× the fine-tuning steps, measured every 300', () => {
  const { steps, checkpoints, ...rest } = BOUND_FT_LONG;
  const { steps: _s, checkpoints: _c, ...short } = BOUND_FT_FULL;
  assert.equal(rest, short, 'the same Stage A, arms, batch, lr, warm-up and evaluation');
  assert.is(steps, 4 * BOUND_FT_FULL.steps);
  assert.equal(checkpoints, [0, 300, 600, 900, 1200]);
  assert.is(reproduction.claim, protocolB.claim);
  assert.ok(reproduction.criterion.includes('judgeOrdering') && reproduction.criterion.includes('after 1200 steps'), 'base-bound-ft\'s criterion, at 1200 steps');
});

test('textCurves: one line per seed with the small and large arms\' text loss at every checkpoint', () => {
  const measure = (step: number, textLoss: number): BoundFtMeasure => ({ step, textLoss, accuracy: [], effectiveLength: 0 });
  const curve = (losses: number[]): BoundFtMeasure[] => losses.map((l, i) => measure(300 * i, l));
  const res = {
    settings: BOUND_FT_LONG, bases: { small: 50, kept: 393, large: 1.6e5 },
    runs: [1, 2].map((seed) => ({ seed, pretrainLoss: [4, 1], curves: { small: curve([5, 1.2, 1.1, 1.05, 1.04 + seed / 1000]), kept: curve([2, 1, 1, 1, 1]), large: curve([1.5, 1, 0.99, 0.98, 0.97]) } })),
  } as unknown as BoundFtResults;
  assert.is(textCurves(res), [
    'small-base (50) and large-base (160000) text loss at steps 0/300/600/900/1200, per seed:',
    '  seed 1: small 5.000 → 1.200 → 1.100 → 1.050 → 1.041; large 1.500 → 1.000 → 0.990 → 0.980 → 0.970',
    '  seed 2: small 5.000 → 1.200 → 1.100 → 1.050 → 1.042; large 1.500 → 1.000 → 0.990 → 0.980 → 0.970',
  ].join('\n'));
});

test('--quick: the reproduction runs and its table carries the curves', async () => {
  const res = await reproduction.run({ quick: true, progress: () => {} });
  assert.is(reproduction.name, 'base-bound-ft-long');
  assert.match(res.table, /verdict: /);
  assert.match(res.table, /seed 1: small [\d.]+ → /);
  assertWellFormedSvg(res.svg!);
});

test.run();
