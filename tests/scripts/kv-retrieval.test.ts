/**
 * Smoke test of scripts/experiments/kv-retrieval.ts on the shipped reference model, at tiny sizes (its main does not
 * run on import): calibration gives one codebook per (layer, KV head); the quality measures are anchored (the oracle
 * selection has recall 1, retrieval of every token has the exact loss); the speed table runs and counts sensibly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../../core/index.js';
import { loadCorpus, sampleBatch } from '../../scripts/lib/corpus.js';
import { layerInputs, loadReferenceModel } from '../../scripts/lib/reference-model.js';
import { calibrate, decodeSpeed, meanLoss, retrievalCaches, selectionQuality } from '../../scripts/experiments/kv-retrieval.js';

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

test.run();
