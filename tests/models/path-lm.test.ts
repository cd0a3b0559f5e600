/** models/path-lm.ts: a tiny PaTH LM overfits a fixed batch, cached decoding equals the full forward, it generates, and it checks its input. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, Generator, Tensor, ValueError, noGrad } from '../../core/index.js';
import { KVCache, generate, type CausalLM } from '../../nn/index.js';
import { PaTHCache } from '../../nn/path-attention.js';
import { PaTHLM, type PaTHLMConfig } from '../../models/path-lm.js';
import { assertClose } from '../helpers/close.js';

const tiny = (extra: Partial<PaTHLMConfig> = {}): PaTHLM =>
  new PaTHLM({ vocabSize: 13, dim: 32, numLayers: 2, numHeads: 4, chunkSize: 8, seed: 7, ...extra });

function batch(seed: number, B: number, T: number, V: number): Tensor {
  const g = new Generator(seed);
  return new Tensor(Float64Array.from({ length: B * T }, () => g.int(0, V)), [B, T]);
}

test('a tiny PaTH LM overfits a fixed batch: loss < 0.05 within 300 AdamW steps (lr 1e-2), in under 5 s', () => {
  const model = tiny({ numKVHeads: 2, useForgetGate: true });
  const ids = batch(1, 2, 16, 13);
  const [inp, tgt] = [ids.narrow(1, 0, 15), ids.narrow(1, 1, 15)];
  const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
  const start = performance.now();
  let loss = Infinity;
  let steps = 0;
  for (; steps < 300 && loss >= 0.05; steps++) {
    const l = model.loss(inp, tgt);
    opt.zeroGrad();
    l.backward();
    opt.step();
    loss = l.item();
  }
  const seconds = (performance.now() - start) / 1000;
  assert.ok(loss < 0.05, `loss ${loss} after ${steps} steps`);
  assert.ok(seconds < 5, `took ${seconds.toFixed(2)} s (${steps} steps)`);
});

test('decoding token by token with PaTH caches gives the logits of one full forward', () => {
  for (const extra of [{}, { numKVHeads: 2, useForgetGate: true, qkNorm: true, mlp: 'gelu', norm: 'layer' }] as Array<Partial<PaTHLMConfig>>) {
    const model = tiny(extra).to('float64');
    const ids = batch(2, 2, 12, 13);
    const full = noGrad(() => model.forward(ids));
    const caches = model.newCaches();
    const V = 13;
    let t = 0;
    for (const n of [5, 1, 3, 1, 2]) {
      const step = noGrad(() => model.forward(ids.narrow(1, t, n), { caches }));
      for (let b = 0; b < 2; b++) {
        assertClose(step.data.subarray(b * n * V, (b + 1) * n * V), full.data.subarray((b * 12 + t) * V, (b * 12 + t + n) * V), { rtol: 1e-10, atol: 1e-12 }, `${JSON.stringify(extra)} at ${t}`);
      }
      t += n;
    }
  }
});

test('PaTHLM is a CausalLM: greedy generate continues the prompt as the full forward argmax does', () => {
  const model: CausalLM = tiny().to('float64');
  const prompt = [1, 5, 2, 7];
  const out = generate(model, prompt, { maxNewTokens: 5, temperature: 0 });
  assert.is(out.length, 5);
  const seq = [...prompt];
  for (let i = 0; i < 5; i++) {
    const logits = noGrad(() => model.forward(new Tensor(Float64Array.from(seq), [1, seq.length])));
    const last = Array.from(logits.data.subarray(logits.size - 13));
    seq.push(last.indexOf(Math.max(...last)));
  }
  assert.equal(out, seq.slice(prompt.length));
});

test('parameter names are dotted and stable; bad config, ids and caches are refused', () => {
  const model = tiny({ useForgetGate: true });
  const names = model.namedParameters().map(([n]) => n);
  assert.ok(names.includes('blocks.1.attn.wConv.weight') && names.includes('blocks.0.attn.betaProj.bias') && names.includes('lnF.weight'));
  assert.is(new Set(names).size, names.length);
  assert.ok(model.newCaches().every((c) => c instanceof PaTHCache));
  assert.throws(() => tiny({ dim: 30 }), (e: unknown) => e instanceof ValueError && /dim=30/.test((e as Error).message));
  assert.throws(() => model.forward(batch(1, 1, 4, 13).reshape([4])), (e: unknown) => e instanceof ValueError && (e as ValueError).arg === 'ids');
  assert.throws(() => model.forward(batch(1, 1, 4, 13), { caches: [new KVCache(), new KVCache()] }), (e: unknown) => e instanceof ValueError && /caches\[0\] is not a PaTHCache/.test((e as Error).message));
  assert.throws(() => model.forward(batch(1, 1, 4, 13), { caches: model.newCaches().slice(1) }), (e: unknown) => e instanceof ValueError && /got 1 caches for 2 layers/.test((e as Error).message));
});

test.run();
