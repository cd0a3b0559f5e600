/**
 * scripts/experiments/elitekv.ts, smoke level: the pipeline (calibration, RoPElite, conversion at a 25% budget with
 * both selections, uptraining, the table, the chart) runs on the reference model at tiny settings and reports sane
 * numbers; plus the budget splits, the pre-RoPE queries/keys it calibrates on, and flag parsing. Importing the script
 * must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor, noGrad } from '../../core/index.js';
import { MultiHeadAttention, eliteKVCacheRatio, eliteKVConvert, uniformElitePairs } from '../../nn/index.js';
import { loadCorpus, sampleBatch } from '../../scripts/lib/corpus.js';
import { loadReferenceModel } from '../../scripts/lib/reference-model.js';
import { DEFAULT_FLAGS, attentionRotations, centredKeys, chart, distillationLoss, formatResults, inputCovariances, inputMeans, judgeTarget, parseFlags, runExperiment, splits, uptrain, type Row } from '../../scripts/experiments/elitekv.js';
import { layerInputs } from '../../scripts/lib/reference-model.js';
import { assertWellFormedSvg } from '../helpers/svg.js';
import { ELITE_ARMS, ELITE_QUICK, judgeElite, lowestFrequencyPairs, reproduction, type EliteSeedRun } from '../../scripts/experiments/elitekv.js';

test('splits: every (r, c) of a budget fills it exactly, c + 2·r·Hkv = b (reference model: Hkv 2, d 32, C 128)', () => {
  assert.equal(splits(32, 2, 32, 128), [{ r: 2, c: 24 }, { r: 4, c: 16 }, { r: 6, c: 8 }]);
  assert.equal(splits(16, 2, 32, 128), [{ r: 1, c: 12 }, { r: 2, c: 8 }, { r: 3, c: 4 }]);
  assert.equal(splits(64, 2, 32, 128), [{ r: 4, c: 48 }, { r: 8, c: 32 }, { r: 12, c: 16 }]);
  for (const b of [16, 32, 64]) for (const { r, c } of splits(b, 2, 32, 128)) assert.is(eliteKVCacheRatio({ rank: c, elitePairs: r, numKVHeads: 2, headDim: 32 }), b / 128);
});

test('the reference model at tiny settings: the whole pipeline runs and reports sane numbers', () => {
  const corpus = loadCorpus();
  const { model } = loadReferenceModel();
  const ids = new Tensor(Float64Array.from(corpus.train.subarray(0, 16)), [1, 16]);
  const qk = layerInputs(model, ids);
  assert.is(qk.length, 4);
  assert.equal(qk[0]!.q.shape, [1, 4, 16, 32]);
  assert.equal(qk[0]!.k.shape, [1, 2, 16, 32]);
  // layer 0's pre-RoPE keys are wk(norm1(embedding)), computed here directly
  const h = noGrad(() => model.blocks[0]!.norm1.forward(model.wte.forward(ids)));
  const attn = model.blocks[0]!.attn;
  assert.ok(attn instanceof MultiHeadAttention);
  const k0 = noGrad(() => attn.wk.forward(h)).data;
  assert.ok(Math.abs(qk[0]!.k.data[0]! - k0[0]!) < 1e-6 && Math.abs(qk[0]!.k.data[32]! - k0[64]!) < 1e-6, 'key of head 0 at t=0 and t=1');

  const cov = inputCovariances([qk]);
  const x0 = qk[2]!.x.data;
  let want = 0;
  for (let t = 0; t < 16; t++) want += x0[t * 128 + 3]! * x0[t * 128 + 5]!;
  assert.ok(Math.abs(cov[2]!.data[3 * 128 + 5]! - want / 16) < 1e-9 && cov[2]!.data[3 * 128 + 5] === cov[2]!.data[5 * 128 + 3], 'Σ = E[x xᵀ] of layer 2\'s attention input');

  const res = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 1, batch: 1, context: 64, budgets: [32], splits: 1 });
  const aware = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 0, batch: 1, budgets: [32], splits: 1, jlrd: 'inputs' });
  assert.is(aware.settings.jlrd, 'inputs');
  aware.rows.forEach((row, i) => assert.ok(row.before !== res.rows[i]!.before, `${row.selection}: J-LRD on the inputs converts differently`));
  const mean = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 0, batch: 1, budgets: [32], splits: 1, rest: 'mean' });
  assert.is(mean.settings.rest, 'mean');
  assert.is(res.ranking.length, 4, 'a ranking per layer');
  assert.not.equal(mean.ranking, res.ranking, 'RoPElite searches with the mean rotation as the rest');
  mean.rows.forEach((row, i) => assert.ok(row.before < res.rows[i]!.before, `${row.selection}: the mean rotation converts better than NoPE (${row.before} vs ${res.rows[i]!.before})`));
  assert.match(formatResults(mean), /replaced by their mean rotation/);
  const aware2 = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 0, batch: 1, budgets: [32], splits: 1, rest: 'attention', meanKey: true });
  assert.equal([aware2.settings.rest, aware2.settings.meanKey], ['attention', true]);
  assert.not.equal(aware2.ranking, mean.ranking, 'RoPElite searches on keys minus their mean');
  aware2.rows.forEach((row, i) => assert.ok(row.before < mean.rows[i]!.before, `${row.selection}: the attention's mean rotation with mean keys converts better than the context mean (${row.before} vs ${mean.rows[i]!.before})`));
  assert.match(formatResults(aware2), /averaged under the attention \(ours\) plus their rotated mean key/);
  const meanKeyOnly = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 0, batch: 1, budgets: [32], splits: 1, rest: 'nope', meanKey: true });
  aware2.rows.forEach((row, i) => assert.ok(row.before < meanKeyOnly.rows[i]!.before, `${row.selection}: with mean keys, the attention's mean rotation converts better than NoPE (${row.before} vs ${meanKeyOnly.rows[i]!.before})`));
  const reseeded = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 0, batch: 1, budgets: [32], splits: 1, jlrd: 'inputs', seed: 1 });
  assert.is(reseeded.unconverted, aware.unconverted, 'the same validation windows');
  reseeded.rows.forEach((row, i) => assert.ok(row.before !== aware.rows[i]!.before, `${row.selection}: --seed draws other calibration windows, so J-LRD on the inputs converts differently`));
  assert.is(res.rows.length, 2);
  const byDefault = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 0, batch: 1, budgets: null, splits: 1 });
  assert.equal([...new Set(byDefault.rows.map((row) => row.budget))], [64, 32, 16], 'default budgets: a half, a quarter, an eighth of 2·Hkv·d = 128');
  for (const row of res.rows) {
    assert.is(row.ratio, 0.25);
    assert.ok(Number.isFinite(row.before) && row.before > res.unconverted, `${row.selection}: converting at 25% costs loss`);
    assert.ok(row.after !== null && Number.isFinite(row.after) && row.after !== row.before, 'uptrained: one step changes the loss');
  }
  assert.ok(res.target.measured);
  assert.equal(res.target, judgeTarget(res.rows, res.unconverted, 32));
  assert.is(res.settings.tokens, 64, 'one step of one 64-character window');
  const table = formatResults(res);
  assert.match(table, /\| 25\.0% \| 2 \| 24 \| ropelite \|/);
  assert.match(table, /MET/);
  assert.match(chart(res), /^<svg/);
  assert.match(chart(res), /EliteKV, 2 KV heads \(J-LRD on the weights\)/, 'the title names the model and the J-LRD');
});

test('--uptrain distill: the loss is the cross-entropy to the teacher\'s distribution, and the experiment uptrains with it', () => {
  const { model } = loadReferenceModel();
  const corpus = loadCorpus();
  const ids = sampleBatch(corpus.train, 1, 32, new Generator(3)).x;
  const p = noGrad(() => model.forward(ids).softmax(-1)).data; // [1, 32, V]
  const V = model.config.vocabSize;
  let entropy = 0;
  for (let i = 0; i < p.length; i++) entropy -= p[i]! > 0 ? p[i]! * Math.log(p[i]!) : 0;
  entropy /= p.length / V;
  const self = noGrad(() => distillationLoss(model, model, ids).item());
  assert.ok(Math.abs(self - entropy) < 1e-4 * entropy, `a model distilled to itself scores the teacher's entropy: ${self} vs ${entropy}`);
  const soft = noGrad(() => model.forward(ids).mul(0.5).softmax(-1)).data; // τ = 2
  let softEntropy = 0;
  for (let i = 0; i < soft.length; i++) softEntropy -= soft[i]! > 0 ? soft[i]! * Math.log(soft[i]!) : 0;
  softEntropy /= soft.length / V;
  const selfAt2 = noGrad(() => distillationLoss(model, model, ids, 2).item());
  assert.ok(Math.abs(selfAt2 - 4 * softEntropy) < 1e-4 * softEntropy, `at τ = 2: τ² times the entropy of softmax(logits/τ): ${selfAt2} vs ${4 * softEntropy}`);
  const student = eliteKVConvert(model, { elitePairs: model.blocks.map(() => [uniformElitePairs(16, 2), uniformElitePairs(16, 2)]), rank: 8 });
  assert.ok(noGrad(() => distillationLoss(student, model, ids).item()) > self + 0.1, 'another student scores above the entropy (Gibbs)');

  const res = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 1, batch: 1, context: 64, budgets: [32], splits: 1, uptrain: 'distill' });
  assert.is(res.settings.uptrain, 'distill');
  assert.ok(Math.abs(res.unconvertedUptrained - res.unconverted) < 2e-3, `the control, distilled to itself, barely moves (a cross-entropy step moves it 0.04): ${res.unconvertedUptrained} vs ${res.unconverted}`);
  for (const row of res.rows) assert.ok(row.after !== null && Number.isFinite(row.after) && row.after !== row.before, `${row.selection}: one distillation step moves the loss`);
  assert.match(formatResults(res), /distillation from the unconverted model/);
  const hot = runExperiment(model, corpus, { ...DEFAULT_FLAGS, windows: 1, val: 1, steps: 1, batch: 1, context: 64, budgets: [32], splits: 1, uptrain: 'distill', temperature: 2 });
  hot.rows.forEach((row, i) => assert.ok(row.after !== res.rows[i]!.after, `${row.selection}: uptraining at τ = 2 differs from τ = 1`));
  assert.match(formatResults(hot), /temperature 2/);
});

test('uptrain with otherLrScale: the attention layers move at lr, every other parameter at that fraction of it (0: not at all)', () => {
  const corpus = loadCorpus();
  const run = (scale: number): { attention: boolean[]; others: boolean[] } => {
    const { model } = loadReferenceModel();
    const attention = new Set(model.blocks.flatMap((b) => b.attn.parameters()));
    const before = model.parameters().map((p) => Float64Array.from(p.data));
    uptrain(model, corpus.train, { steps: 2, batch: 1, context: 16, lr: 1e-3, batchSeed: 3, teacher: null, otherLrScale: scale });
    const moved = model.parameters().map((p, i) => p.data.some((v, j) => v !== before[i]![j]));
    return { attention: moved.filter((_, i) => attention.has(model.parameters()[i]!)), others: moved.filter((_, i) => !attention.has(model.parameters()[i]!)) };
  };
  const frozen = run(0);
  assert.ok(frozen.attention.length > 0 && frozen.attention.every(Boolean), 'every attention parameter moves');
  assert.ok(frozen.others.length > 0 && !frozen.others.some(Boolean), 'scale 0: nothing outside the attention layers moves');
  assert.ok(run(0.2).others.some(Boolean), 'scale 0.2: the others move too');
});

test('inputMeans, centredKeys, attentionRotations: the calibration statistics of --mean-key and --rest attention', () => {
  const { model } = loadReferenceModel();
  const corpus = loadCorpus();
  const perBatch = [0, 1].map((i) => layerInputs(model, new Tensor(Float64Array.from(corpus.train.subarray(100 * i, 100 * i + 12)), [1, 12])));
  const means = inputMeans(perBatch);
  let want = 0;
  for (const b of perBatch) for (let t = 0; t < 12; t++) want += b[1]!.x.data[t * 128 + 7]!;
  assert.ok(Math.abs(means[1]!.data[7]! - want / 24) < 1e-9, 'E[x] over both batches');
  assert.equal(means[1]!.shape, [128]);
  const centred = centredKeys(perBatch);
  for (const [g, ch] of [[0, 0], [1, 31]] as const) {
    let sum = 0;
    for (const b of centred) for (let t = 0; t < 12; t++) sum += b[2]!.k.data[(g * 12 + t) * 32 + ch]!;
    assert.ok(Math.abs(sum) < 1e-4, `layer 2, KV head ${g}, channel ${ch}: the centred keys sum to 0 (${sum})`);
  }
  assert.ok(Math.abs(centred[0]![2]!.k.data[5]! - perBatch[0]![2]!.k.data[5]!) > 1e-6, 'keys moved');
  assert.is(centred[0]![2]!.q, perBatch[0]![2]!.q, 'queries untouched');
  const rotations = attentionRotations(model, perBatch);
  assert.equal([rotations.length, rotations[0]!.length, rotations[0]![0]!.cos.length], [4, 4, 16]);
  assert.ok(rotations.flat().every((r) => r.cos.every((c, j) => Math.hypot(c, r.sin[j]!) <= 1 + 1e-12)), 'an average of unit rotations');
});

test('the target: RoPElite at 25% after uptraining within 3% of the unconverted loss AND below uniform', () => {
  const row = (selection: 'ropelite' | 'uniform', after: number | null, budget = 32): Row => ({ budget, ratio: budget / 128, r: 4, c: 16, selection, before: 3, after });
  assert.ok(judgeTarget([row('ropelite', 1.02), row('uniform', 1.05)], 1, 32).met);
  assert.not.ok(judgeTarget([row('ropelite', 1.02), row('uniform', 1.01)], 1, 32).met, 'uniform ahead');
  assert.not.ok(judgeTarget([row('ropelite', 1.04), row('uniform', 1.05)], 1, 32).met, 'more than 3% over');
  assert.not.ok(judgeTarget([row('ropelite', 1.02, 64), row('uniform', 1.05, 64)], 1, 32).measured, 'another budget');
  assert.not.ok(judgeTarget([row('ropelite', null), row('uniform', 1.05)], 1, 32).measured, 'not uptrained');
  assert.ok(Math.abs(judgeTarget([row('ropelite', 1.02), row('uniform', 1.05)], 1, 32).increase! - 0.02) < 1e-12);
});

test('flags: defaults, overrides, --help, and errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--windows', '2', '--steps', '0', '--lr', '3e-4', '--budgets', '32', '--splits', '5', '--jlrd', 'inputs', '--model', 'mha', '--context', '128', '--uptrain', 'distill', '--rest', 'mean', '--other-lr-scale', '0.2', '--temperature', '2', '--json']), {
    ...DEFAULT_FLAGS, windows: 2, steps: 0, lr: 3e-4, budgets: [32], splits: 3, jlrd: 'inputs', model: 'mha', context: 128, uptrain: 'distill', rest: 'mean', otherLrScale: 0.2, temperature: 2, json: true,
  });
  assert.equal(parseFlags(['--rest', 'attention', '--mean-key', '--seed', '2']), { ...DEFAULT_FLAGS, rest: 'attention', meanKey: true, seed: 2 });
  assert.throws(() => parseFlags(['--jlrd', 'svd']), /weights, inputs/);
  assert.throws(() => parseFlags(['--model', 'gqa4']), /gqa, mha/);
  assert.throws(() => parseFlags(['--uptrain', 'kd']), /lm, distill/);
  assert.throws(() => parseFlags(['--rest', 'zero']), /nope, mean/);
  assert.throws(() => parseFlags(['--other-lr-scale', '-0.5']), /number ≥ 0/);
  assert.throws(() => parseFlags(['--temperature', '0']), /number > 0/);
  assert.is(parseFlags(['--help']), 'help');
  assert.throws(() => parseFlags(['--windows', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--lr', '-1']), /number > 0/);
  assert.throws(() => parseFlags(['--bogus', '1']), /unknown flag/);
});


test('lowestFrequencyPairs: the r slowest pairs (highest indices)', () => {
  assert.equal(lowestFrequencyPairs(16, 4), [12, 13, 14, 15]);
  assert.equal(lowestFrequencyPairs(16, 1), [15]);
});

test('judgeElite: RoPElite < uniform decides, unless the positive control (unconverted ahead) fails', () => {
  const run = (seed: number, after: Record<string, number>, unconverted: number): EliteSeedRun => ({
    seed, before: { ropelite: 2, uniform: 2.2, 'lowest-freq': 2.5 }, after: after as EliteSeedRun['after'], unconvertedUptrained: unconverted, picks: [],
  });
  const good = [1, 2, 3].map((s) => run(s, { ropelite: 1.6 + s / 1000, uniform: 1.7, 'lowest-freq': 1.9 }, 1.5));
  assert.is(judgeElite(good).verdict, 'reproduced');
  assert.is(judgeElite([1, 2, 3].map((s) => run(s, { ropelite: 1.75, uniform: 1.7, 'lowest-freq': 1.9 }, 1.5))).verdict, 'not reproduced');
  const free = judgeElite([1, 2, 3].map((s) => run(s, { ropelite: 1.6, uniform: 1.7, 'lowest-freq': 1.9 }, 1.6 + s / 100)));
  assert.is(free.verdict, 'not reproduced');
  assert.match(free.reason, /positive control failed/);
});

test('reproduction --quick: a well-formed result (fields, finite numbers, every arm, the SVG)', async () => {
  const r = await reproduction.run({ quick: true, progress: () => {} });
  assert.is(reproduction.name, 'elitekv');
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(reproduction.claim, /0\.6 %/);
  const data = r.data as { runs: EliteSeedRun[] };
  assert.is(data.runs.length, ELITE_QUICK.seeds);
  for (const run of data.runs) {
    for (const a of ELITE_ARMS) assert.ok(Number.isFinite(run.before[a]) && Number.isFinite(run.after[a]) && run.after[a] !== run.before[a], `${a}: uptraining moves the loss`);
    assert.ok(run.picks.every((layer) => layer.every((head) => head.length === ELITE_QUICK.r)));
  }
  assert.ok(data.runs[0]!.after.ropelite !== data.runs[1]!.after.ropelite, 'seeds differ');
  assert.match(r.table, /positive control/);
  assertWellFormedSvg(r.svg!);
});

test.run();
