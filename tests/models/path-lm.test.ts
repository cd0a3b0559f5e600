/** models/path-lm.ts: a tiny PaTH LM overfits a fixed batch, cached decoding equals the full forward, it generates, and it checks its input. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DTypeError, ShapeError, ValueError } from '../../core/index.js';
import { KVCache, generate, type CausalLM } from '../../nn/index.js';
import { PaTHCache } from '../../nn/path-attention.js';
import { PaTHLM, type PaTHLMConfig } from '../../models/path-lm.js';
import { assertCachedDecodingMatches, greedyByFullForward, randomTokens, trainUntil } from '../helpers/lm.js';

const tiny = (extra: Partial<PaTHLMConfig> = {}): PaTHLM =>
  new PaTHLM({ vocabSize: 13, dim: 32, numLayers: 2, numHeads: 4, chunkSize: 8, seed: 7, ...extra });

test('a tiny PaTH LM overfits a fixed batch: loss < 0.05 within 300 AdamW steps (lr 1e-2)', () => {
  const model = tiny({ numKVHeads: 2, useForgetGate: true });
  const ids = randomTokens(1, 2, 16, 13);
  const [inp, tgt] = [ids.narrow(1, 0, 15), ids.narrow(1, 1, 15)];
  const { loss, steps } = trainUntil(model.parameters(), () => model.loss(inp, tgt), { lr: 1e-2, maxSteps: 300 });
  assert.ok(loss < 0.05, `loss ${loss} after ${steps} steps`);
});

test('decoding token by token with PaTH caches gives the logits of one full forward', () => {
  for (const extra of [{}, { numKVHeads: 2, useForgetGate: true, qkNorm: true, mlp: 'gelu', norm: 'layer' }] as Array<Partial<PaTHLMConfig>>) {
    const model = tiny(extra).to('float64');
    assertCachedDecodingMatches(model, randomTokens(2, 2, 12, 13), [5, 1, 3, 1, 2], 13, JSON.stringify(extra));
  }
});

test('PaTHLM is a CausalLM: greedy generate continues the prompt as the full forward argmax does', () => {
  const model: CausalLM = tiny().to('float64');
  const prompt = [1, 5, 2, 7];
  const out = generate(model, prompt, { maxNewTokens: 5, temperature: 0 });
  assert.is(out.length, 5);
  assert.equal(out, greedyByFullForward(model, prompt, 5, 13));
});

test('parameter names are dotted and stable; bad config, ids and caches are refused', () => {
  const model = tiny({ useForgetGate: true });
  const names = model.namedParameters().map(([n]) => n);
  assert.ok(names.includes('blocks.1.attn.wConv.weight') && names.includes('blocks.0.attn.betaProj.bias') && names.includes('lnF.weight'));
  assert.is(new Set(names).size, names.length);
  assert.ok(model.newCaches().every((c) => c instanceof PaTHCache));
  assert.throws(() => tiny({ dim: 30 }), (e: unknown) => e instanceof ValueError && /dim=30/.test((e as Error).message));
  assert.throws(() => model.forward(randomTokens(1, 1, 4, 13).reshape([4])), (e: unknown) => e instanceof ShapeError && (e as ShapeError).arg === 'ids' && /^PaTHLM.forward: /.test((e as Error).message));
  assert.throws(() => model.forward(randomTokens(1, 1, 4, 13), { caches: [new KVCache(), new KVCache()] }), (e: unknown) => e instanceof DTypeError && /^PaTHLM.forward: caches\[0\] must be a PaTHCache/.test((e as Error).message));
  assert.throws(() => model.forward(randomTokens(1, 1, 4, 13), { caches: model.newCaches().slice(1) }), (e: unknown) => e instanceof ValueError && /got 1 caches for 2 layers/.test((e as Error).message));
});

test.run();
