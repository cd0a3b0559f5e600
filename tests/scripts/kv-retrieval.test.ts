/**
 * Smoke test of scripts/experiments/kv-retrieval.ts on the shipped reference model, at tiny sizes (its main does not
 * run on import): calibration gives one codebook per (layer, KV head); the quality measures are anchored (the oracle
 * selection has recall 1, retrieval of every token has the exact loss); the speed table runs and counts sensibly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, Tensor } from '../../core/index.js';
import { encodeKeys } from '../../nn/index.js';
import { loadCorpus, sampleBatch } from '../../scripts/lib/corpus.js';
import { layerInputs, loadReferenceModel } from '../../scripts/lib/reference-model.js';
import { calibrate, decodeSpeed, meanLoss, retrievalCaches, selectionQuality } from '../../scripts/experiments/kv-retrieval.js';
import { assertWellFormedSvg } from '../helpers/svg.js';
import { RECALL_ARMS, judgeVq, massRecall, plainCodebooks, reproduction, type VqSeedRun } from '../../scripts/experiments/kv-retrieval.js';

const corpus = loadCorpus();
const { model } = loadReferenceModel();
const g = new Generator(1);
const calibration = [layerInputs(model, sampleBatch(corpus.train, 1, 128, g).x)];
const books = calibrate(model, calibration, 8, 256, 3, 1);
const batches = [sampleBatch(corpus.val, 1, 160, g)];
const inputs = batches.map(({ x }) => layerInputs(model, x));

test('calibrate: one codebook per layer and KV head, of the size asked, in the head dim', () => {
  assert.is(books.length, 4);
  for (const layer of books) {
    assert.is(layer.length, 2);
    for (const book of layer) assert.equal(book.codebook.shape, [8, 32]);
  }
});

test('quality: the oracle selection recalls every true top-K token; A²ATS recalls fewer, and errs more', () => {
  const oracle = selectionQuality(model, inputs, 'oracle', 0.1, 256);
  assert.ok(oracle.recallByLayer.every((r) => Math.abs(r - 1) < 1e-12), `oracle recall ${oracle.recallByLayer}`);
  const a2ats = selectionQuality(model, inputs, books, 0.1, 256);
  assert.ok(a2ats.recall < 1 && a2ats.recall > 0, `codebook recall ${a2ats.recall}`);
  assert.ok(a2ats.outputError > oracle.outputError, `output error ${a2ats.outputError} vs oracle ${oracle.outputError}`);
  const all = selectionQuality(model, inputs, books, 1, 256);
  assert.ok(all.outputError < 1e-6, `top-K 100%: output error ${all.outputError}`);
});

test('val loss: retrieving every token gives the exact loss; 3% gives a different one', () => {
  const exact = meanLoss(model, batches);
  const every = meanLoss(model, batches, () => retrievalCaches(model, books, 1, 256, 'retrieval'));
  assert.ok(Math.abs(every - exact) < 1e-5, `${every} vs ${exact}`);
  const few = meanLoss(model, batches, () => retrievalCaches(model, books, 0.03, 256, 'retrieval'));
  assert.ok(few !== exact && Number.isFinite(few), `${few}`);
});

test('decode speed: both caches decode, the retrieval one attends to sinks + window + a few, and holds the codes too', () => {
  const [row] = decodeSpeed(model, corpus.train, books, 0.03, 256, [200], 2);
  assert.ok(row!.plainMs > 0 && row!.retrievalMs > 0);
  assert.ok(row!.attended >= 8 + 64 && row!.attended <= 8 + 64 + 2 * Math.floor(0.03 * 202) + 1, `attended ${row!.attended}`);
  assert.is(row!.plainBytes, 4 * 2 * 2 * 202 * 32 * 4, 'keys + values, 4 layers, 2 KV heads, 200 + 2 decoded tokens, float32');
  assert.is(row!.retrievalBytes - row!.plainBytes, 4 * 2 * 202 * 4, 'one int32 code per token, KV head and layer');
});


test('massRecall: the kept candidates\' share of the candidates\' softmax mass; rows without candidates are skipped', () => {
  // one head, T = 4, sinks 1, window 1: rows t = 2, 3 have candidates [1, t − 1]
  const T = 4;
  const logits = new Float64Array(T * T);
  logits.set([0, Math.log(3), 0, 0], 2 * T); // row 2: candidate 1 only
  logits.set([0, 0, Math.log(3), 0], 3 * T); // row 3: candidates 1 (p ∝ 1) and 2 (p ∝ 3)
  const mask = new Float32Array(T * T);
  mask[3 * T + 2] = 1; // row 3 keeps candidate 2; row 2 keeps nothing
  assert.ok(Math.abs(massRecall(logits, mask, 1, 1, T, 1, 1) - (0 + 3 / 4) / 2) < 1e-12);
  mask[2 * T + 1] = 1;
  assert.ok(Math.abs(massRecall(logits, mask, 1, 1, T, 1, 1) - (1 + 3 / 4) / 2) < 1e-12);
});

test('plainCodebooks: identity "queries" give Euclidean k-means — every key is coded by its nearest codeword', () => {
  const plain = plainCodebooks(model, calibration, 8, 3, 1, false);
  const keys = calibration[0]![1]!.k; // layer 1, [1, 2, 128, 32]
  const book = plain[1]![0]!;
  const d = 32;
  const rows = new Tensor(keys.data.slice(0, 128 * d), [128, d]);
  const codes = encodeKeys(book, rows);
  for (let m = 0; m < 128; m += 9) {
    const dist = (c: number): number => { let s = 0; for (let j = 0; j < d; j++) s += (rows.data[m * d + j]! - book.codebook.data[c * d + j]!) ** 2; return s; };
    const best = Array.from({ length: 8 }, (_, c) => c).reduce((a, c) => (dist(c) < dist(a) - 1e-9 ? c : a), 0);
    assert.ok(dist(codes[m]!) <= dist(best) + 1e-4, `key ${m}: code ${codes[m]} at ${dist(codes[m]!)}, nearest ${best} at ${dist(best)}`);
  }
});

test('judgeVq: not reproduced when a positive control fails, else the ordering decides', () => {
  const run = (seed: number, r: Partial<Record<string, number>>, loss: Partial<Record<string, number>> = {}): VqSeedRun => ({
    seed,
    recall: Object.fromEntries(RECALL_ARMS.map((a) => [a, r[a] ?? 0.5])) as VqSeedRun['recall'],
    recallByLayer: Object.fromEntries(RECALL_ARMS.map((a) => [a, [r[a] ?? 0.5]])) as VqSeedRun['recallByLayer'],
    loss: { ...Object.fromEntries(RECALL_ARMS.map((a) => [a, 1.5])), exact: 1.4, 'window-only': 1.9, ...loss } as VqSeedRun['loss'],
  });
  const good = [1, 2, 3].map((s) => run(s, { 'wrope+qa': 0.8 + s / 1000, wrope: 0.6, 'pre-rope': 0.3, 'post-rope': 0.2, oracle: 0.95, random: 0.1 }));
  assert.is(judgeVq(good).verdict, 'reproduced');
  const swapped = [1, 2, 3].map((s) => run(s, { 'wrope+qa': 0.5, wrope: 0.6, 'pre-rope': 0.3, 'post-rope': 0.2, oracle: 0.95, random: 0.1 }));
  assert.is(judgeVq(swapped).verdict, 'not reproduced');
  const flat = [1, 2, 3].map((s) => run(s, { 'wrope+qa': 0.8, wrope: 0.6, 'pre-rope': 0.3, 'post-rope': 0.2, oracle: 0.95, random: 0.1 }, { 'window-only': 1.4 }));
  assert.is(judgeVq(flat).verdict, 'not reproduced');
  assert.match(judgeVq(flat).reason, /positive control failed/);
});

test('reproduction --quick: a well-formed result (fields, finite numbers, every arm, the SVG)', async () => {
  const seen: number[] = [];
  const r = await reproduction.run({ quick: true, progress: (done) => seen.push(done) });
  assert.is(reproduction.name, 'kv-retrieval');
  assert.ok(['reproduced', 'partly', 'not reproduced'].includes(r.verdict));
  for (const field of [r.summary, r.reason, r.table, reproduction.claim, reproduction.setup, reproduction.criterion, reproduction.falsifier]) assert.ok(field.length > 20);
  assert.match(reproduction.claim, /2\.7×/);
  assert.match(r.table, /positive control/);
  const data = r.data as { runs: VqSeedRun[] };
  assert.is(data.runs.length, 3);
  for (const run of data.runs) {
    for (const a of RECALL_ARMS) assert.ok(run.recall[a] >= 0 && run.recall[a] <= 1 && Number.isFinite(run.loss[a]), `${a}: ${run.recall[a]} ${run.loss[a]}`);
    assert.ok(run.recall.oracle >= run.recall.random, 'the oracle selection keeps at least a random one\'s mass');
  }
  assert.equal(seen.at(-1), 3);
  assertWellFormedSvg(r.svg!);
});

test.run();
