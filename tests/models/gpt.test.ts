/** models/gpt.ts: a tiny GPT overfits a fixed batch with each positional encoding; cached decoding equals the full forward. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ShapeError, ValueError, noGrad } from '../../core/index.js';
import { GPT, type GPTConfig } from '../../models/index.js';
import { positionalNames } from '../../positional/index.js';
import { assertCachedDecodingMatches, randomTokens, trainUntil } from '../helpers/lm.js';

const tiny = (positional: string, extra: Partial<GPTConfig> = {}): GPT =>
  new GPT({ vocabSize: 13, contextLength: 16, dim: 32, numLayers: 2, numHeads: 4, positional, seed: 7, ...extra });

for (const positional of ['nope', 'learned', 'rope']) {
  test(`a tiny GPT (${positional}) overfits a fixed batch: loss < 0.05 within 400 AdamW steps`, () => {
    const model = tiny(positional, { numKVHeads: 2 });
    const ids = randomTokens(1, 2, 16, 13);
    const [inp, tgt] = [ids.narrow(1, 0, 15), ids.narrow(1, 1, 15)];
    const { loss, steps } = trainUntil(model.parameters(), () => model.loss(inp, tgt), { lr: 3e-3, maxSteps: 400 });
    assert.ok(loss < 0.05, `loss ${loss} after ${steps} steps`);
  });
}

test('decoding token by token with KV caches gives the logits of one full forward (every encoding)', () => {
  for (const positional of positionalNames()) {
    const model = tiny(positional, { numKVHeads: 2, norm: 'rms', mlp: 'swiglu' }).to('float64');
    assertCachedDecodingMatches(model, randomTokens(2, 2, 12, 13), [5, 1, 3, 1, 2], 13, positional);
  }
});

test('parameter names are stable and dotted; tied embeddings are counted once', () => {
  const model = tiny('learned');
  const names = model.namedParameters().map(([n]) => n);
  assert.equal(names.slice(0, 2), ['wte.weight', 'positional.weight']);
  assert.ok(names.includes('blocks.1.attn.wq.weight') && names.includes('blocks.0.mlp.fc2.weight') && names.includes('lnF.weight'));
  assert.is(new Set(names).size, names.length);
  const untied = tiny('rope', { tieEmbeddings: false });
  assert.is(untied.numParameters() - tiny('rope').numParameters(), 13 * 32);
});

test('a state dict round trip reproduces the logits exactly', () => {
  const a = tiny('rope');
  const b = new GPT({ ...a.config, seed: 99 });
  const ids = randomTokens(3, 1, 8, 13);
  assert.not.equal(Array.from(noGrad(() => b.forward(ids)).data), Array.from(noGrad(() => a.forward(ids)).data));
  b.loadStateDict(a.stateDict());
  assert.equal(Array.from(noGrad(() => b.forward(ids)).data), Array.from(noGrad(() => a.forward(ids)).data));
});

test('bad config and input are refused with the field named', () => {
  assert.throws(() => tiny('rope', { dim: 30 }), (e: unknown) => e instanceof ValueError && /dim=30/.test((e as Error).message));
  assert.throws(() => tiny('alibi'), (e: unknown) => e instanceof ValueError && /unknown positional encoding 'alibi'/.test((e as Error).message));
  assert.throws(() => tiny('rope').forward(randomTokens(1, 1, 4, 13).reshape([4])), (e: unknown) => e instanceof ShapeError && /^GPT.forward: ids must be \[B, T\]/.test((e as Error).message));
});

test.run();
