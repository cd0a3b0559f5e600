/** models/gpt.ts: a tiny GPT overfits a fixed batch with each positional encoding; cached decoding equals the full forward. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DTypeError, ShapeError, ValueError, noGrad, type Tensor } from '../../core/index.js';
import { GPT, type GPTConfig } from '../../models/index.js';
import { LearnedAbsolute, NoPE, PSCRoPE, RoPE, positionalNames, type PositionalEncoding } from '../../positional/index.js';
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

/** The learnable tensors of each layer's encoding, and whether any tensor object is shared by two layers. */
function layerEncodingParameters(model: GPT): { perLayer: Tensor[][]; shared: boolean } {
  const perLayer = model.blocks.map((b) => b.attn.positional.parameters());
  const seen = new Set<Tensor>();
  let shared = false;
  for (const ps of perLayer) for (const p of ps) (seen.has(p) ? (shared = true) : seen.add(p));
  return { perLayer, shared };
}

test("a 'layer'-scoped registry encoding gets its own instance in every layer, with distinct learnable parameters that train independently", () => {
  const model = tiny('psc-rope', { numLayers: 3 });
  const encodings = model.blocks.map((b) => b.attn.positional);
  assert.ok(encodings.every((p) => p instanceof PSCRoPE && p.scope === 'layer'));
  assert.is(new Set(encodings).size, 3, 'one instance per layer');
  const { perLayer, shared } = layerEncodingParameters(model);
  assert.ok(perLayer.every((ps) => ps.length > 0), 'PSC has learnable gates');
  assert.not.ok(shared, 'no parameter object is shared between layers');
  assert.instance(model.positional, NoPE);
  // a gradient step on layer 0's gates alone leaves layers 1 and 2 as they were
  const before = perLayer.map((ps) => ps.map((p) => Array.from(p.data)));
  const ids = randomTokens(4, 1, 6, 13);
  model.loss(ids.narrow(1, 0, 5), ids.narrow(1, 1, 5)).backward();
  for (const p of perLayer[0]!) for (let i = 0; i < p.size; i++) p.data[i] -= 0.5 * (p.grad?.data[i] ?? 0) + 0.25;
  perLayer.slice(1).forEach((ps, l) => ps.forEach((p, j) => assert.equal(Array.from(p.data), before[l + 1]![j], `layer ${l + 1} unchanged`)));
  assert.not.equal(perLayer[0]!.map((p) => Array.from(p.data)), before[0], 'layer 0 changed');
});

test("a 'model'-scoped registry encoding is one instance shared by every layer and the model", () => {
  for (const name of ['learned', 'rope']) {
    const model = tiny(name, { numLayers: 3 });
    assert.ok(model.blocks.every((b) => b.attn.positional === model.positional), name);
  }
});

test('setPositional with each scope: model-scoped → every layer and the model-level slot; layer-scoped → its own instance per layer', () => {
  const ids = randomTokens(5, 2, 7, 13);
  const model = tiny('nope', { numLayers: 3 }).to('float64');
  const plain = noGrad(() => model.forward(ids));
  // model scope: a learned absolute table becomes the model-level encoding, so its input embedding is added
  const table = new LearnedAbsolute(16, 32, { dtype: 'float64' });
  model.setPositional(table);
  assert.is(model.positional, table);
  assert.ok(model.blocks.every((b) => b.attn.positional === table));
  assert.ok(model.namedParameters().some(([n, p]) => n === 'positional.weight' && p === table.weight), 'the table is a parameter of the model');
  assert.not.equal(Array.from(noGrad(() => model.forward(ids)).data), Array.from(plain.data), 'the table changes the logits');
  table.weight.data.fill(0);
  assert.equal(Array.from(noGrad(() => model.forward(ids)).data), Array.from(plain.data), 'a zero table gives the NoPE logits back');
  // model scope, parameter-free: RoPE in every layer, no input embedding
  const rope = new RoPE(8);
  model.setPositional(rope);
  assert.is(model.positional, rope);
  assert.ok(model.blocks.every((b) => b.attn.positional === rope));
  // layer scope by name: a new instance per layer, the model-level slot is NoPE
  model.setPositional('psc-rope');
  assert.instance(model.positional, NoPE);
  assert.is(new Set(model.blocks.map((b) => b.attn.positional)).size, 3);
  assert.not.ok(layerEncodingParameters(model).shared);
  assert.ok(model.blocks.every((b) => b.attn.positional.parameters().every((p) => p.dtype === 'float64')), 'built in the model dtype');
  // layer scope by factory
  const made: PositionalEncoding[] = [];
  model.setPositional((i) => {
    const p = new PSCRoPE(new RoPE(8), { numHeads: 4, numKVHeads: 4, headDim: 8, dtype: 'float64' });
    made[i] = p;
    return p;
  });
  assert.ok(model.blocks.every((b, i) => b.attn.positional === made[i]));
  // one layer-scoped instance for three layers is refused, and nothing changes
  const single = new PSCRoPE(new RoPE(8), { numHeads: 4, numKVHeads: 4, headDim: 8 });
  assert.throws(() => model.setPositional(single), (e: unknown) => e instanceof ValueError && /^GPT.setPositional: 'psc-rope' is 'layer'-scoped/.test((e as Error).message));
  assert.throws(() => model.setPositional(() => single), (e: unknown) => e instanceof ValueError && /^GPT.setPositional: /.test((e as Error).message));
  assert.ok(model.blocks.every((b, i) => b.attn.positional === made[i]), 'unchanged after a refused call');
  assert.throws(() => model.setPositional(new RoPE(16)), (e: unknown) => e instanceof ShapeError && /^GPT.setPositional: positional 'rope' was built for headDim=16/.test((e as Error).message));
  assert.throws(() => model.setPositional('alibi'), (e: unknown) => e instanceof ValueError && /^GPT.setPositional: unknown positional encoding 'alibi'/.test((e as Error).message));
  assert.throws(() => model.setPositional(null as unknown as string), (e: unknown) => e instanceof DTypeError && /^GPT.setPositional: /.test((e as Error).message));
});

test.run();
