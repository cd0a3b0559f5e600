/**
 * scripts/experiments/drope-turns.ts (DRoPE protocol A over several turns): its settings are drope-heading's with
 * the turns, steps and arms changed, the wrap-around share formula, and the --quick run trains only the three arms.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_FLAGS, evaluationScenes, type Results } from '../../scripts/experiments/drope-heading.js';
import { TURNS_FLAGS, TURNS_QUICK, reproduction, wrapShare } from '../../scripts/experiments/drope-turns.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

test('TURNS_FLAGS: drope-heading\'s protocol with 8 turns, 5× the steps, the three arms the verdict reads', () => {
  const { turns, steps, arms, ...rest } = TURNS_FLAGS;
  const { turns: _t, steps: s0, arms: _a, ...base } = DEFAULT_FLAGS;
  assert.equal(rest, base);
  assert.equal([turns, steps, arms], [8, 5 * s0, ['rope', 'rope-no-k0', 'drope']]);
  assert.is(TURNS_QUICK.turns, 8);
  const { evalScenes, curveScenes } = evaluationScenes(TURNS_FLAGS);
  for (const s of [...evalScenes, ...curveScenes]) assert.ok(Math.max(...s.heading) > 2 * Math.PI * 7.9, 'the evaluation headings span the 8 turns too');
});

test('wrapShare: P(|U − V| > π) for U, V uniform in [0, 2πK)', () => {
  assert.is(wrapShare(1), 0.25);
  assert.is(wrapShare(8), (15 / 16) ** 2);
});

test('--quick: the reproduction trains the three arms over 8 turns and returns a well-formed result', async () => {
  const res = await reproduction.run({ quick: true, progress: () => {} });
  assert.is(reproduction.name, 'drope-turns');
  const data = res.data as Results;
  assert.equal([...new Set(data.runs.map((r) => r.arm))], ['rope', 'rope-no-k0', 'drope']);
  assert.is(data.flags.turns, 8);
  assert.equal(Object.keys(data.summary).sort(), ['drope', 'rope', 'rope-no-k0']);
  assert.match(res.table, /headings uniform in \[0, 8·2π\)/);
  assert.not.match(res.table, /absolute/);
  assertWellFormedSvg(res.svg!);
});

test.run();
