/**
 * nn/attention.ts: scaledDotProductAttention against a per-element loop, the causal property, masks (document,
 * padding, sliding window), grouped-query heads, cross-attention, the KV cache, and a gradcheck of a whole block.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, ShapeError, Tensor, ValueError, gradcheck, noGrad, randn, tensor } from '../../core/index.js';
import {
  Block, KVCache, MultiHeadAttention, causalMask, combineMasks, documentMask, paddingMask, scaledDotProductAttention, slidingWindowMask,
} from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

/** softmax(q kᵀ·scale) v over one [T, d] matrix with an explicit 0/1 mask function, element by element. */
function naiveAttention(q: Tensor, k: Tensor, v: Tensor, allowed: (i: number, j: number) => boolean, scale: number): number[] {
  const [Tq, d] = q.shape.slice(-2) as [number, number];
  const Tk = k.shape[k.ndim - 2]!;
  const dv = v.shape[v.ndim - 1]!;
  const out: number[] = [];
  for (let i = 0; i < Tq; i++) {
    const s: number[] = [];
    for (let j = 0; j < Tk; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += q.data[i * d + c]! * k.data[j * d + c]!;
      s.push(allowed(i, j) ? dot * scale : -Infinity);
    }
    const m = Math.max(...s);
    const e = s.map((x) => (m === -Infinity ? 0 : Math.exp(x - m)));
    const z = e.reduce((a, b) => a + b, 0);
    for (let c = 0; c < dv; c++) {
      let acc = 0;
      for (let j = 0; j < Tk; j++) acc += (z > 0 ? e[j]! / z : 0) * v.data[j * dv + c]!;
      out.push(acc);
    }
  }
  return out;
}

const f64 = (shape: number[], g: Generator, requiresGrad = false): Tensor => randn(shape, { dtype: 'float64', generator: g, requiresGrad });

test('scaledDotProductAttention equals the per-element loop (causal bottom-right, window, explicit masks)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 50 }), fc.integer(), (Tq, extra, d, window, seed) => {
      const g = new Generator(seed);
      const Tk = Tq + extra;
      const [q, k, v] = [f64([Tq, d], g), f64([Tk, d], g), f64([Tk, d + 1], g)];
      const scale = 1 / Math.sqrt(d);
      const pos = (i: number): number => i + Tk - Tq;
      const causal = scaledDotProductAttention(q, k, v, { causal: true });
      assertClose(causal.data, naiveAttention(q, k, v, (i, j) => j <= pos(i), scale), { rtol: 1e-12, atol: 1e-12 }, 'causal');
      const windowed = scaledDotProductAttention(q, k, v, { causal: true, window });
      assertClose(windowed.data, naiveAttention(q, k, v, (i, j) => j <= pos(i) && j > pos(i) - window, scale), { rtol: 1e-12, atol: 1e-12 }, 'window');
      const viaMask = scaledDotProductAttention(q, k, v, { mask: slidingWindowMask(Tq, Tk, window) });
      assertClose(viaMask.data, windowed.data, { rtol: 1e-12, atol: 1e-12 }, 'slidingWindowMask = window flag');
      const doc = Array.from({ length: Tk }, (_, j) => Math.floor(j / 3));
      const docMask = documentMask(doc).narrow(0, Tk - Tq, Tq);
      const masked = scaledDotProductAttention(q, k, v, { mask: combineMasks(docMask, causalMask(Tq, Tk)) });
      assertClose(masked.data, naiveAttention(q, k, v, (i, j) => j <= pos(i) && doc[j] === doc[pos(i)], scale), { rtol: 1e-12, atol: 1e-12 }, 'document');
    }),
    fcParams(40),
  );
});

test('causal property: the output at t never depends on tokens after t (MultiHeadAttention with RoPE)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 24 }), fc.integer(), (T, seed) => {
      const g = new Generator(seed);
      const mha = new MultiHeadAttention(8, { numHeads: 2, positional: new RoPE(4), generator: g }).to('float64');
      const x = f64([1, T, 8], g);
      const t = g.int(0, T - 1);
      const y = x.clone();
      for (let i = (t + 1) * 8; i < T * 8; i++) y.data[i] = 10 * g.normal(); // change only the future
      const [a, b] = noGrad(() => [mha.forward(x), mha.forward(y)]);
      assert.equal(Array.from(a.data.subarray(0, (t + 1) * 8)), Array.from(b.data.subarray(0, (t + 1) * 8)));
    }),
    fcParams(30),
  );
});

test('document masks isolate documents: changing one document leaves the others unchanged', () => {
  const g = new Generator(3);
  const mha = new MultiHeadAttention(8, { numHeads: 2, positional: new RoPE(4), generator: g }).to('float64');
  const docs = [0, 0, 0, 1, 1, 1, 1, 2, 2];
  const mask = documentMask(docs);
  const x = f64([1, docs.length, 8], g);
  const y = x.clone();
  for (let i = 3 * 8; i < 7 * 8; i++) y.data[i] += 1; // perturb document 1
  const [a, b] = noGrad(() => [mha.forward(x, { mask }), mha.forward(y, { mask })]);
  for (const t of [0, 1, 2, 7, 8]) assert.equal(Array.from(a.data.subarray(t * 8, t * 8 + 8)), Array.from(b.data.subarray(t * 8, t * 8 + 8)), `token ${t}`);
  assert.ok(a.data.subarray(3 * 8, 7 * 8).some((v, i) => v !== b.data[3 * 8 + i]), 'document 1 itself changes');
});

test('padding mask: padded keys get no attention, so their values do not matter', () => {
  const g = new Generator(4);
  const [q, k, v] = [f64([2, 1, 5, 3], g), f64([2, 1, 5, 3], g), f64([2, 1, 5, 3], g)];
  const mask = paddingMask([5, 3], 5);
  const out = scaledDotProductAttention(q, k, v, { mask });
  const v2 = v.clone();
  for (const j of [3, 4]) for (let c = 0; c < 3; c++) v2.data[(5 + j) * 3 + c] = 99;
  assert.equal(Array.from(scaledDotProductAttention(q, k, v2, { mask }).data), Array.from(out.data));
});

test('grouped-query attention equals MHA whose key/value heads are repeated', () => {
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 4), fc.integer({ min: 1, max: 9 }), fc.integer(), (Hkv, T, seed) => {
      const g = new Generator(seed);
      const H = 4;
      const D = 3;
      const gqa = new MultiHeadAttention(12, { numHeads: H, numKVHeads: Hkv, headDim: D, positional: new RoPE(3, { rotaryDim: 2 }), generator: g }).to('float64');
      const mha = new MultiHeadAttention(12, { numHeads: H, headDim: D, positional: new RoPE(3, { rotaryDim: 2 }), generator: g }).to('float64');
      mha.wq.weight.data.set(gqa.wq.weight.data);
      mha.wo.weight.data.set(gqa.wo.weight.data);
      const G = H / Hkv;
      for (let h = 0; h < H; h++) {
        const src = Math.floor(h / G);
        mha.wk.weight.data.set(gqa.wk.weight.data.subarray(src * D * 12, (src + 1) * D * 12), h * D * 12);
        mha.wv.weight.data.set(gqa.wv.weight.data.subarray(src * D * 12, (src + 1) * D * 12), h * D * 12);
      }
      const x = f64([2, T, 12], g);
      const mask = paddingMask([T, Math.max(1, T - 2)], T);
      const [a, b] = noGrad(() => [gqa.forward(x, { mask }), mha.forward(x, { mask })]);
      assertClose(a.data, b.data, { rtol: 1e-11, atol: 1e-12 }, 'GQA vs repeated MHA');
    }),
    fcParams(25),
  );
});

test('cross-attention reads keys and values from the context, not from x', () => {
  const g = new Generator(6);
  const mha = new MultiHeadAttention(8, { numHeads: 2, kvDim: 5, generator: g }).to('float64');
  const x = f64([2, 4, 8], g);
  const ctx = f64([2, 7, 5], g);
  const out = mha.forward(x, { context: ctx });
  assert.equal(out.shape, [2, 4, 8]);
  const x2 = x.clone();
  x2.data.set(x.data.subarray(0, 8), 8); // token 1 := token 0: same query, same context ⇒ same output row
  const out2 = noGrad(() => mha.forward(x2, { context: ctx }));
  assertClose(out2.data.subarray(8, 16), out2.data.subarray(0, 8), { rtol: 1e-12, atol: 1e-12 }, 'no causal mask, no self keys');
});

test('KV-cache decoding in chunks of any size equals one full forward; positions continue', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }), fc.integer(), (chunks, seed) => {
      const g = new Generator(seed);
      const mha = new MultiHeadAttention(8, { numHeads: 4, numKVHeads: 2, positional: new RoPE(2), generator: g }).to('float64');
      const T = chunks.reduce((a, b) => a + b, 0);
      const x = f64([2, T, 8], g);
      const full = noGrad(() => mha.forward(x));
      const cache = new KVCache();
      let t = 0;
      for (const n of chunks) {
        const step = noGrad(() => mha.forward(x.narrow(1, t, n), { cache }));
        for (let b = 0; b < 2; b++) {
          assertClose(step.data.subarray(b * n * 8, (b + 1) * n * 8), full.data.subarray((b * T + t) * 8, (b * T + t + n) * 8), { rtol: 1e-11, atol: 1e-12 }, `chunk at ${t}`);
        }
        t += n;
        assert.is(cache.position, t);
      }
    }),
    fcParams(30),
  );
});

test('sliding-window attention with an evicting cache equals the full windowed forward', () => {
  const g = new Generator(8);
  const window = 4;
  const mha = new MultiHeadAttention(8, { numHeads: 2, positional: new RoPE(4), window, generator: g }).to('float64');
  const x = f64([1, 13, 8], g);
  const full = noGrad(() => mha.forward(x));
  const cache = new KVCache({ maxLength: window });
  const prefill = noGrad(() => mha.forward(x.narrow(1, 0, 6), { cache }));
  assertClose(prefill.data, full.data.subarray(0, 6 * 8), { rtol: 1e-11, atol: 1e-12 }, 'prefill longer than the window');
  assert.is(cache.length, window);
  for (let t = 6; t < 13; t++) {
    const step = noGrad(() => mha.forward(x.narrow(1, t, 1), { cache }));
    assertClose(step.data, full.data.subarray(t * 8, t * 8 + 8), { rtol: 1e-11, atol: 1e-12 }, `token ${t}`);
    assert.is(cache.length, window);
    assert.is(cache.position, t + 1);
  }
});

test('gradcheck of a whole pre-norm block (LayerNorm, causal MHA with RoPE and GQA, GELU MLP) in float64', () => {
  const g = new Generator(9);
  const block = new Block(8, { numHeads: 2, numKVHeads: 1, positional: new RoPE(4), generator: g }).to('float64');
  const x = f64([2, 5, 8], g, true);
  gradcheck((input) => block.forward(input!).square().sum(), [x], { atol: 1e-6, rtol: 1e-5 });
  // every parameter, reached by closure: gradcheck differentiates through leaf inputs themselves
  gradcheck(() => block.forward(x.detach()).square().sum(), block.parameters(), { atol: 1e-6, rtol: 1e-5 });
});

test('bad input: wrong feature dim, heads that do not divide, KV heads that do not divide', () => {
  const g = new Generator(1);
  const mha = new MultiHeadAttention(8, { numHeads: 2, generator: g });
  assert.throws(() => mha.forward(randn([1, 3, 6], { generator: g })), (e: unknown) => e instanceof ShapeError && /\[1,3,6\]/.test((e as Error).message));
  assert.throws(() => new MultiHeadAttention(10, { numHeads: 3 }), (e: unknown) => e instanceof ValueError);
  assert.throws(() => new MultiHeadAttention(8, { numHeads: 4, numKVHeads: 3 }), (e: unknown) => e instanceof ValueError);
  assert.throws(() => scaledDotProductAttention(tensor([[1, 2]]), tensor([[1, 2], [3, 4]]), tensor([[1], [2]]), { mask: tensor([1, 1, 1]) }), (e: unknown) => e instanceof ShapeError);
});

test.run();
