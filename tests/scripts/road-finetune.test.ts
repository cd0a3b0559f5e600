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

test.run();
