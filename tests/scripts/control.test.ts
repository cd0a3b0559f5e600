/**
 * scripts/experiments/control.ts, smoke level: the task's batches (targets follow the control at frame ⌊i·Lc/Lq⌋ at
 * both rates, corruption flags honest), the pipeline (pretraining, frozen backbone, branch training per arm, the
 * table, the chart) at tiny settings in seconds, the target rule, and flag parsing. Importing the script must not
 * run its main. Issue 17: the reproduction's verdict rule (judgeOrdering on RoPE vs no-RoPE, the positive control RoPE
 * vs the backbone alone) and `reproduction.run({ quick: true })` end to end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../../core/index.js';
import {
  ControlModel, DEFAULT_FLAGS, QUICK_FLAGS, REPRODUCTION_FLAGS, accuracy, alignedFrame, chart, checkFlags, formatJudgement, formatResults, judgeReproduction,
  judgeTarget, makeBatch, outputLength, parseFlags, reproduction, runExperiment, type ArmRun, type ArmSummary, type Flags, type Results,
} from '../../scripts/experiments/control.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

test('makeBatch: the target at step i is the control\'s pitch class at frame ⌊i·Lc/Lq⌋ (rates 2 and 0.5), inputs kept or flagged', () => {
  for (const rate of [2, 0.5, 1]) {
    const task = { control: 8, rate, classes: 5, keep: 0.5 };
    const Lq = outputLength(task);
    assert.is(Lq, 8 * rate);
    const b = makeBatch(task, 3, new Generator(4));
    assert.equal(b.input.shape, [3, Lq]);
    assert.equal(b.condition.shape, [3, 8, 5]);
    let corrupted = 0;
    for (let s = 0; s < 3; s++) {
      for (let j = 0; j < 8; j++) {
        const row = Array.from(b.condition.data.subarray((s * 8 + j) * 5, (s * 8 + j + 1) * 5));
        assert.is(row.reduce((a, v) => a + v, 0), 1, 'one-hot frame');
      }
      for (let i = 0; i < Lq; i++) {
        const frame = alignedFrame(i, Lq, 8);
        assert.is(frame, Math.floor(i / rate));
        assert.is(b.condition.data[(s * 8 + frame) * 5 + b.target[s * Lq + i]!], 1, `step ${i} follows frame ${frame}`);
        if (b.corrupted[s * Lq + i] === 0) assert.is(b.input.data[s * Lq + i], b.target[s * Lq + i], 'a kept step is its target');
        corrupted += b.corrupted[s * Lq + i]!;
      }
    }
    assert.ok(corrupted > 0 && corrupted < 3 * Lq, 'some steps corrupted, some kept');
  }
});

test('a fresh model with the control equals the backbone alone (zero-initialised branches), and only the branches are trainable in step 2', () => {
  const flags: Flags = { ...DEFAULT_FLAGS, control: 4, classes: 4, dim: 8, layers: 2, heads: 2 };
  const model = new ControlModel(flags, 'rope', 3);
  const batch = makeBatch(flags, 4, new Generator(1));
  assert.equal([...model.forward(batch.input, batch.condition).data], [...model.forward(batch.input, null).data]);
  assert.is(model.branchParameters().length, 6, 'wk, wv, wo per block');
  assert.is(model.branchParameters().length + model.backboneParameters().length, model.parameters().length);
  const a = accuracy(model, [batch], true);
  assert.ok(a.all >= 0 && a.all <= 1 && a.corrupted >= 0 && a.corrupted <= 1);
});

test('the pipeline at tiny settings runs in seconds and reports sane numbers', () => {
  const flags: Flags = { ...DEFAULT_FLAGS, seeds: 2, steps: 3, pretrain: 2, batch: 2, control: 4, classes: 4, dim: 8, layers: 1, heads: 2, eval: 8, quirk: true };
  const res = runExperiment(flags);
  assert.is(res.runs.length, 6);
  assert.is(res.backbone.length, 2);
  assert.is(res.settings.outputLength, 8);
  assert.is(res.settings.trainableParameters, 2 * 4 * 8 + 8 * 8, 'wk, wv (4 → 8) and wo (8 → 8)');
  for (const r of res.runs) {
    assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && Number.isFinite(r.finalLoss), `${r.arm} seed ${r.seed}`);
    assert.is(r.curve[0]![0], 0);
    assert.is(r.curve.at(-1)![0], 3);
  }
  for (const seed of [1, 2]) {
    const starts = res.runs.filter((r) => r.seed === seed).map((r) => r.curve[0]![1]);
    assert.ok(starts.every((v) => v === starts[0]), 'every arm starts from the same model');
  }
  assert.equal(res.summary.map((s) => s.arm), ['rope', 'none', 'quirk']);
  const table = formatResults(res, flags);
  assert.match(table, /\| RoPE branch \|/);
  assert.match(table, /\| no-RoPE branch \|/);
  assert.match(table, /MET/);
  assert.match(chart(res), /^<svg/);
});

test('the target: every RoPE seed above every no-RoPE seed, and the mean gap wider than the spread', () => {
  const arm = (a: 'rope' | 'none', min: number, max: number, mean = (min + max) / 2): ArmSummary => ({ arm: a, mean, min, max, corruptedMean: mean });
  assert.ok(judgeTarget(arm('rope', 0.9, 0.95), arm('none', 0.6, 0.62)).met);
  assert.not.ok(judgeTarget(arm('rope', 0.61, 0.95), arm('none', 0.6, 0.62)).met, 'ranges overlap');
  assert.not.ok(judgeTarget(arm('rope', 0.63, 0.8), arm('none', 0.6, 0.62)).met, 'gap (0.105) below the RoPE spread (0.17)');
  assert.ok(Math.abs(judgeTarget(arm('rope', 0.9, 0.95), arm('none', 0.6, 0.62)).margin - 0.28) < 1e-12);
});

/** Results with the given final accuracies per seed (only what judgeReproduction reads). */
function fakeResults(rope: number[], none: number[], backbone: number[]): Results {
  const run = (arm: 'rope' | 'none', accuracy: number, i: number): ArmRun => ({ arm, seed: i + 1, accuracy, corruptedAccuracy: accuracy, curve: [], finalLoss: 0 });
  return { backbone, runs: [...rope.map((a, i) => run('rope', a, i)), ...none.map((a, i) => run('none', a, i))] } as unknown as Results;
}

test('the reproduction verdict: RoPE vs no-RoPE by judgeOrdering, and not reproduced whenever the positive control (RoPE ≥ 10 points above the backbone alone in every seed) fails', () => {
  const good = judgeReproduction(fakeResults([0.9, 0.92, 0.95], [0.7, 0.69, 0.71], [0.65, 0.66, 0.64]));
  assert.is(good.verdict, 'reproduced');
  assert.ok(good.control);
  assert.match(formatJudgement(good), /passed\nverdict: reproduced/);
  const spread = judgeReproduction(fakeResults([0.9, 0.75, 0.95], [0.7, 0.69, 0.71], [0.6, 0.6, 0.6]));
  assert.ok(spread.control, 'gains 30, 15, 35 points');
  assert.is(spread.verdict, 'partly', 'in order in every seed, but the gap (0.167) is under twice the RoPE range (0.2)');
  const seedBreaks = judgeReproduction(fakeResults([0.9, 0.68, 0.95], [0.7, 0.69, 0.71], [0.6, 0.6, 0.6]));
  assert.is(seedBreaks.claim.verdict, 'partly');
  assert.not.ok(seedBreaks.control, 'seed 2 gains 8 points < 10');
  assert.is(seedBreaks.verdict, 'not reproduced');
  assert.match(seedBreaks.reason, /positive control failed[^;]*30\.0, 8\.0, 35\.0 points/);
  assert.equal(seedBreaks.controlGains.map((g) => Math.round(1000 * g)), [300, 80, 350]);
  const narrow = judgeReproduction(fakeResults([0.72, 0.73, 0.74], [0.7, 0.69, 0.71], [0.3, 0.3, 0.31]));
  assert.is(narrow.verdict, 'partly', 'in order in every seed, gap 0.03 below twice the range 0.04');
  const noBranch = judgeReproduction(fakeResults([0.9, 0.92, 0.95], [0.7, 0.69, 0.71], [0.9, 0.91, 0.95]));
  assert.is(noBranch.verdict, 'not reproduced');
  assert.match(noBranch.reason, /positive control failed/);
  assert.is(judgeReproduction(fakeResults([0.6, 0.6, 0.6], [0.7, 0.69, 0.71], [0.3, 0.3, 0.3])).verdict, 'not reproduced');
});

test('reproduction --quick: a well-formed result in seconds (fields, finite numbers, progress to the total, the SVG well-formed)', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (done, total) => seen.push([done, total]) });
  assert.is(reproduction.name, 'control');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(reproduction.claim, /56\.6 % to 61\.1 %/);
  assert.match(r.table, /positive control/);
  assert.match(r.summary, /RoPE branch \d+\.\d%/);
  assertWellFormedSvg(r.svg!);
  const total = QUICK_FLAGS.seeds * (QUICK_FLAGS.pretrain + 2 * QUICK_FLAGS.steps);
  assert.equal(seen.at(-1), [total, total]);
  assert.ok(seen.every(([d], i) => i === 0 || d >= seen[i - 1]![0]), 'progress never goes back');
  const data = r.data as Results;
  assert.is(data.runs.length, 2 * QUICK_FLAGS.seeds);
  assert.ok(data.runs.every((x) => Number.isFinite(x.accuracy) && Number.isFinite(x.finalLoss)));
});

test('flags: defaults, overrides, cross-flag rules, --help, and errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--spec']), REPRODUCTION_FLAGS);
  assert.equal(parseFlags(['--quick', '--steps', '5']), { ...QUICK_FLAGS, steps: 5 });
  assert.equal([REPRODUCTION_FLAGS.control, outputLength(REPRODUCTION_FLAGS), REPRODUCTION_FLAGS.classes, REPRODUCTION_FLAGS.seeds], [32, 64, 12, 3], 'the spec\'s §15d toy');
  assert.equal(parseFlags(['--seeds', '2', '--rate', '0.5', '--keep', '0.3', '--quirk', '--json']), { ...DEFAULT_FLAGS, seeds: 2, rate: 0.5, keep: 0.3, quirk: true, json: true });
  assert.is(parseFlags(['--help']), 'help');
  assert.is(checkFlags(DEFAULT_FLAGS), null);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, rate: 0.3 }) ?? '', /positive integer/);
  assert.match(checkFlags({ ...DEFAULT_FLAGS, dim: 6, heads: 2 }) ?? '', /even/);
  assert.throws(() => parseFlags(['--seeds', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--rate', '0']), /number > 0/);
  assert.throws(() => parseFlags(['--bogus', '1']), /unknown flag/);
});

test.run();
