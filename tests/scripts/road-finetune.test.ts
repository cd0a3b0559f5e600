/**
 * scripts/experiments/road-finetune.ts, smoke level: the three arms run on the reference model at tiny settings (two
 * steps of 2 windows of 16 characters) and report sane numbers — RoAd trains only its adapters (4 layers × (128 + 64 +
 * 64 + 128) numbers for road_1), full fine-tuning trains every parameter, the frozen arm none; plus the reversed task,
 * the table and flag parsing. Importing the script must not run its main.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadCorpus } from '../../scripts/lib/corpus.js';
import { loadReferenceModel } from '../../scripts/lib/reference-model.js';
import { DEFAULT_FLAGS, formatResults, parseFlags, reversed, runExperiment } from '../../scripts/experiments/road-finetune.js';
import { Generator, Tensor, noGrad } from '../../core/index.js';
import { wrapWithLoRA, wrapWithRoAd } from '../../nn/index.js';
import { assertWellFormedSvg } from '../helpers/svg.js';
import { FINE_TUNE_ARMS, LORA_TARGETS, angleMagnitude, judgeRoAd, reproduction, type RoAdSeedRun } from '../../scripts/experiments/road-finetune.js';

test('reversed: the text read backwards', () => {
  assert.equal(Array.from(reversed(Int32Array.from([1, 2, 3, 4]))), [4, 3, 2, 1]);
});

test('the reference model at tiny settings: three arms, trainable counts, finite losses, training moves the loss', () => {
  const corpus = loadCorpus();
  const res = runExperiment(() => loadReferenceModel().model, corpus, { ...DEFAULT_FLAGS, steps: 2, batch: 2, context: 16, val: 2 });
  assert.equal(res.arms.map((a) => a.arm), ['none', 'road', 'full']);
  const [none, road, full] = res.arms as [typeof res.arms[0], typeof res.arms[0], typeof res.arms[0]];
  assert.is(none.trainable, 0);
  assert.is(road.trainable, 4 * (128 + 64 + 64 + 128), 'road_1: one θ and one α per pair of outputs of q, k, v, o');
  assert.is(full.trainable, res.totalParameters);
  for (const a of res.arms) assert.ok(Number.isFinite(a.shifted) && Number.isFinite(a.original), `${a.arm}: finite val losses`);
  assert.ok(road.shifted !== none.shifted && full.shifted !== none.shifted, 'two steps change the val loss');
  assert.ok(none.shifted > none.original, 'the reversed text is harder for the reference model');
  const table = formatResults(res);
  assert.match(table, /\| none \(frozen reference\) \| 0 \|/);
  assert.match(table, /\| road \(road_1, g 32, q\/k\/v\/o\) \| 1536 \|/);
});

test('flags: defaults, overrides, --help, and errors', () => {
  assert.equal(parseFlags([]), DEFAULT_FLAGS);
  assert.equal(parseFlags(['--steps', '3', '--variant', 'road_4', '--lr-road', '1e-2', '--context', '9999', '--json']), {
    ...DEFAULT_FLAGS, steps: 3, variant: 'road_4', lrRoad: 1e-2, context: 512, json: true,
  });
  assert.is(parseFlags(['--help']), 'help');
  assert.throws(() => parseFlags(['--variant', 'road_3']), /must be one of/);
  assert.throws(() => parseFlags(['--batch', '0']), /integer ≥ 1/);
  assert.throws(() => parseFlags(['--bogus']), /unknown flag/);
});


test('LoRA r = 1 on k, v: as many parameters as RoAd1 on q, k, v, o, and the base model at init', () => {
  const corpus = loadCorpus();
  const { model } = loadReferenceModel();
  const x = new Tensor(Float64Array.from(corpus.val.subarray(0, 16)), [1, 16]);
  const before = noGrad(() => model.forward(x)).data;
  const added = wrapWithLoRA(model, { select: LORA_TARGETS, rank: 1, alpha: 1, generator: new Generator(1) }).reduce((n, [, l]) => n + l.loraA.size + l.loraB.size, 0);
  assert.is(added, 4 * (128 + 64) * 2);
  assert.is(model.parameters().filter((p) => p.requiresGrad).reduce((n, p) => n + p.size, 0), added, 'only the LoRA factors train');
  const after = noGrad(() => model.forward(x)).data;
  assert.ok(after.every((v, i) => Math.abs(v - before[i]!) < 1e-6), 'B = 0: the base model');
  const road = loadReferenceModel().model;
  wrapWithRoAd(road, { select: /attn\.w[qkvo]$/, variant: 'road_1', groupSize: 32 });
  assert.is(road.parameters().filter((p) => p.requiresGrad).reduce((n, p) => n + p.size, 0), added, 'matched parameter count');
});

test('angleMagnitude: a rotation changes only the angle, a scaling only the magnitude', () => {
  const C = 2;
  const h = [Float32Array.of(1, 0, 0, 2)];
  const rotated = angleMagnitude(h, [Float32Array.of(Math.cos(0.3), Math.sin(0.3), -2 * Math.sin(0.3), 2 * Math.cos(0.3))], C, new Generator(1));
  assert.ok(Math.abs(rotated.angle - 0.3) < 1e-6 && rotated.magnitude < 1e-6, JSON.stringify(rotated));
  const scaled = angleMagnitude(h, [Float32Array.of(1.5, 0, 0, 3)], C, new Generator(1));
  assert.ok(Math.abs(scaled.magnitude - 0.5) < 1e-6 && scaled.angle < 1e-3, JSON.stringify(scaled));
});

test('judgeRoAd: ≈ within δ both ways, angle > 3 × magnitude, and not reproduced when an adapter learns nothing', () => {
  const run = (seed: number, road: number, lora: number, angle = 0.5, magnitude = 0.05): RoAdSeedRun => ({
    seed, loss: { road, lora, full: 2 }, trainable: { road: 1536, lora: 1536, full: 1 }, change: { angle, magnitude, nullAngle: 1, nullMagnitude: 0.1 },
  });
  // frozen 3, full 2: δ = 0.1
  assert.is(judgeRoAd([1, 2, 3].map((s) => run(s, 2.5 + s / 1000, 2.5)), 3, 0.1).verdict, 'reproduced');
  assert.is(judgeRoAd([1, 2, 3].map((s) => run(s, 2.7, 2.5)), 3, 0.1).verdict, 'not reproduced', 'RoAd 0.2 behind: outside δ');
  assert.is(judgeRoAd([1, 2, 3].map((s) => run(s, 2.5, 2.5, 0.1, 0.05)), 3, 0.1).verdict, 'not reproduced', 'angle only 2 × magnitude');
  const stuck = judgeRoAd([1, 2, 3].map((s) => run(s, 3, 3)), 3, 0.1);
  assert.is(stuck.verdict, 'not reproduced');
  assert.match(stuck.reason, /positive control failed/);
});

test('reproduction --quick: a well-formed result (fields, finite numbers, every arm, the SVG)', async () => {
  const seen: Array<[number, number]> = [];
  const r = await reproduction.run({ quick: true, progress: (d, t) => seen.push([d, t]) });
  assert.is(reproduction.name, 'road-finetune');
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(reproduction.claim, /0\.1 %/);
  const data = r.data as { runs: RoAdSeedRun[]; none: number };
  assert.is(data.runs.length, 3);
  for (const run of data.runs) {
    for (const a of FINE_TUNE_ARMS) assert.ok(Number.isFinite(run.loss[a]) && run.loss[a] !== data.none, `${a}: trained`);
    assert.ok(run.change.angle > 0 && run.change.magnitude >= 0 && Number.isFinite(run.change.nullAngle));
    assert.is(run.trainable.road, run.trainable.lora);
  }
  assert.equal(seen.at(-1), [9, 9]);
  assert.match(r.table, /positive control/);
  assertWellFormedSvg(r.svg!);
});

test.run();
