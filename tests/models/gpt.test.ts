/** models/gpt.ts: a tiny GPT overfits a fixed batch with each positional encoding; cached decoding equals the full forward. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, Generator, Tensor, ValueError, noGrad } from '../../core/index.js';
import { GPT, type GPTConfig } from '../../models/index.js';
import { positionalNames } from '../../positional/index.js';
import { assertClose } from '../helpers/close.js';

const tiny = (positional: string, extra: Partial<GPTConfig> = {}): GPT =>
  new GPT({ vocabSize: 13, contextLength: 16, dim: 32, numLayers: 2, numHeads: 4, positional, seed: 7, ...extra });

function batch(seed: number, B: number, T: number, V: number): Tensor {
  const g = new Generator(seed);
  return new Tensor(Float64Array.from({ length: B * T }, () => g.int(0, V)), [B, T]);
}

for (const positional of ['nope', 'learned', 'rope']) {
  test(`a tiny GPT (${positional}) overfits a fixed batch: loss < 0.05 within 400 AdamW steps`, () => {
    const model = tiny(positional, { numKVHeads: 2 });
    const ids = batch(1, 2, 16, 13);
    const [inp, tgt] = [ids.narrow(1, 0, 15), ids.narrow(1, 1, 15)];
    const opt = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0 });
    let loss = Infinity;
    for (let step = 0; step < 400 && loss >= 0.05; step++) {
      const l = model.loss(inp, tgt);
      opt.zeroGrad();
      l.backward();
      opt.step();
      loss = l.item();
    }
    assert.ok(loss < 0.05, `loss ${loss}`);
  });
}

test('decoding token by token with KV caches gives the logits of one full forward (every encoding)', () => {
  for (const positional of positionalNames()) {
    const model = tiny(positional, { numKVHeads: 2, norm: 'rms', mlp: 'swiglu' }).to('float64');
    const ids = batch(2, 2, 12, 13);
    const full = noGrad(() => model.forward(ids));
    const caches = model.newCaches();
    const V = 13;
    let t = 0;
    for (const n of [5, 1, 3, 1, 2]) {
      const step = noGrad(() => model.forward(ids.narrow(1, t, n), { caches }));
      for (let b = 0; b < 2; b++) {
        assertClose(step.data.subarray(b * n * V, (b + 1) * n * V), full.data.subarray((b * 12 + t) * V, (b * 12 + t + n) * V), { rtol: 1e-10, atol: 1e-12 }, `${positional} at ${t}`);
      }
      t += n;
    }
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
  const ids = batch(3, 1, 8, 13);
  assert.not.equal(Array.from(noGrad(() => b.forward(ids)).data), Array.from(noGrad(() => a.forward(ids)).data));
  b.loadStateDict(a.stateDict());
  assert.equal(Array.from(noGrad(() => b.forward(ids)).data), Array.from(noGrad(() => a.forward(ids)).data));
});

test('bad config and input are refused with the field named', () => {
  assert.throws(() => tiny('rope', { dim: 30 }), (e: unknown) => e instanceof ValueError && /dim=30/.test((e as Error).message));
  assert.throws(() => tiny('alibi'), (e: unknown) => e instanceof ValueError && /unknown positional encoding 'alibi'/.test((e as Error).message));
  assert.throws(() => tiny('rope').forward(batch(1, 1, 4, 13).reshape([4])), (e: unknown) => e instanceof ValueError);
});

test.run();
