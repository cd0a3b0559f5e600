/**
 * The shipped reference checkpoints (data/reference/, written by `npm run train:reference`, GQA and `--kv-heads 4`): it loads in the reference
 * architecture, carries its training record, and has learned the corpus — its validation loss is far below both an
 * untrained model's and the demo's 80-step models' (2.4–3.0 nats/char), and close to the loss it recorded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GPT } from '../../models/index.js';
import { loadCorpus } from '../../scripts/lib/corpus.js';
import { resolve } from 'node:path';
import { REFERENCE_CHECKPOINT, REFERENCE_MHA_CHECKPOINT, loadReferenceModel, referenceConfig, referenceValLoss } from '../../scripts/lib/reference-model.js';

for (const [name, path, kvHeads] of [['GQA', REFERENCE_CHECKPOINT, 2], ['MHA', REFERENCE_MHA_CHECKPOINT, 4]] as const) {
test(`the ${name} reference checkpoint loads with its config, vocabulary and training record, and has learned the corpus`, () => {
  const corpus = loadCorpus();
  const { model, vocab, record } = loadReferenceModel(resolve(path));
  assert.equal(vocab, corpus.vocab, 'the corpus vocabulary');
  assert.equal({ ...model.config, seed: 0 }, { ...referenceConfig(corpus.vocab.length, kvHeads), seed: 0 }, 'the reference architecture');
  for (const key of ['steps', 'tokens', 'seconds', 'trainLoss', 'valLoss', 'trainedWith']) assert.ok(record[key] !== undefined, `record has ${key}`);
  const recorded = Number(record['valLoss']);
  const loss = referenceValLoss(model, corpus.val, 8);
  assert.ok(loss < 2.0, `val loss ${loss} nats/char: clearly better than the demo's 80-step models (≥ 2.4)`);
  assert.ok(Math.abs(loss - recorded) <= 0.1, `val loss on 8 windows ${loss} is near the recorded ${recorded} (32 windows)`);
  const untrained = new GPT({ ...model.config, seed: 1 });
  assert.ok(referenceValLoss(untrained, corpus.val, 4) > loss + 1.5, 'an untrained model of the same shape is far worse');
});
}

test.run();
