/**
 * scripts/experiments/drope-interaction-long.ts (DRoPE protocol B, 1200 steps): its settings are drope-interaction's
 * with the steps changed, its criterion is drope-interaction's, and the --quick run returns a well-formed result.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_FLAGS, reproduction as protocolB, type Results } from '../../scripts/experiments/drope-interaction.js';
import { INTERACTION_LONG, reproduction } from '../../scripts/experiments/drope-interaction-long.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

test('INTERACTION_LONG: drope-interaction\'s protocol with 4× the steps; the same criterion and falsifier', () => {
  const { steps, ...rest } = INTERACTION_LONG;
  const { steps: s0, ...base } = DEFAULT_FLAGS;
  assert.equal(rest, base);
  assert.is(steps, 4 * s0);
  assert.ok(reproduction.criterion.endsWith(protocolB.criterion.replace(/^Stated before the run: /, '')), 'the rule unchanged');
  assert.match(reproduction.criterion, /after 1200 steps/);
  assert.is(reproduction.falsifier, protocolB.falsifier);
  assert.match(reproduction.setup, /1200 steps × 32 scenes/);
});

test('--quick: the reproduction runs and returns a well-formed result', async () => {
  const res = await reproduction.run({ quick: true, progress: () => {} });
  assert.is(reproduction.name, 'drope-interaction-long');
  const data = res.data as Results;
  assert.is(data.runs.length, 4 * data.flags.seeds);
  assert.match(res.summary, /majority class/);
  assertWellFormedSvg(res.svg!);
});

test.run();
