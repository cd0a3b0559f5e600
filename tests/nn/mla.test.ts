/**
 * nn/mla.ts: Multi-head Latent Attention. Absorbed == explicit (logits and outputs), cached decoding == one full
 * forward in both modes, relative-position invariance of the full MLA logit, the latent cache's size per token,
 * DeepSeek-V2's shapes from the dims alone, the spectral query/key maps, gradcheck, and the errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, concat, gradcheck, noGrad, randn } from '../../core/index.js';
import { KVCache } from '../../nn/index.js';
import {
  LatentKVCache, MultiHeadLatentAttention, mlaCacheNumbersPerToken, mlaParameterShapes, type MLADims, type MLARoPE,
} from '../../nn/mla.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

const f64 = (shape: number[], g: Generator): Tensor => randn(shape, { dtype: 'float64', generator: g });
const range = (from: number, n: number): Tensor => new Tensor(Float64Array.from({ length: n }, (_, i) => from + i), [n]);

/** Small random MLA dims (every optional branch reachable). */
const dimsArb = fc.record({
  numHeads: fc.integer({ min: 1, max: 3 }),
  kvLoraRank: fc.integer({ min: 1, max: 6 }),
  qLoraRank: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
  qkNopeHeadDim: fc.integer({ min: 1, max: 4 }),
  qkRopeHeadDim: fc.constantFrom(2, 4),
  vHeadDim: fc.integer({ min: 1, max: 4 }),
  bias: fc.boolean(),
});

function mla(dims: Omit<MLADims, 'dim'> & { dim?: number }, seed: number, rope: MLARoPE = 'decoupled'): MultiHeadLatentAttention {
  return new MultiHeadLatentAttention({ dim: 8, ...dims, rope, generator: new Generator(seed), dtype: 'float64' });
}

test('absorbed == explicit: logits and outputs agree to 1e-10 in float64 (random dims, with and without q_lora_rank)', () => {
  fc.assert(
    fc.property(dimsArb, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (dims, B, T, seed) => {
      const layer = mla(dims, seed);
      const x = f64([B, T, 8], new Generator(seed + 1));
      const positions = range(3, T);
      const [explicitOut, explicitLogits] = noGrad(() => [layer.forward(x, { positions }), layer.logits(x, { positions })]);
      layer.mode = 'absorbed';
      const [absorbedOut, absorbedLogits] = noGrad(() => [layer.forward(x, { positions }), layer.logits(x, { positions })]);
      assert.equal(absorbedLogits!.shape, [B, dims.numHeads, T, T]);
      assertClose(absorbedLogits!.data, explicitLogits!.data, { rtol: 1e-10, atol: 1e-10 }, 'logits');
      assertClose(absorbedOut!.data, explicitOut!.data, { rtol: 1e-10, atol: 1e-10 }, 'outputs');
    }),
    fcParams(40),
  );
});

test('cached decoding (prefill + random chunks) equals one full forward: decoupled explicit/absorbed and PreRoPE', () => {
  fc.assert(
    fc.property(dimsArb, fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }), fc.integer(), (dims, chunks, seed) => {
      const T = chunks.reduce((a, b) => a + b, 0);
      const x = f64([2, T, 8], new Generator(seed + 1));
      for (const [rope, mode] of [['decoupled', 'explicit'], ['decoupled', 'absorbed'], ['pre-rope', 'explicit']] as const) {
        const layer = mla(dims, seed, rope);
        layer.mode = mode;
        const full = noGrad(() => layer.forward(x));
        const cache = layer.newCache();
        const parts: Tensor[] = [];
        let t0 = 0;
        for (const n of chunks) {
          parts.push(noGrad(() => layer.forward(x.narrow(1, t0, n), { cache })));
          t0 += n;
        }
        assert.is(cache.position, T);
        assertClose(concat(parts, 1).data, full.data, { rtol: 1e-10, atol: 1e-10 }, `${rope}/${mode}`);
      }
    }),
    fcParams(25),
  );
});

test('the full MLA logit depends only on relative position: shifting every position leaves logits unchanged', () => {
  fc.assert(
    fc.property(dimsArb, fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4096 }), fc.integer(), (dims, T, shift, seed) => {
      const x = f64([1, T, 8], new Generator(seed + 1));
      for (const [rope, mode] of [['decoupled', 'explicit'], ['decoupled', 'absorbed'], ['pre-rope', 'explicit']] as const) {
        const layer = mla(dims, seed, rope);
        layer.mode = mode;
        const base = noGrad(() => layer.logits(x, { positions: range(0, T) }));
        const shifted = noGrad(() => layer.logits(x, { positions: range(shift, T) }));
        // float64 angles: the rounding error grows with the position, ~1e-13 per unit of m·θ
        assertClose(shifted.data, base.data, { rtol: 1e-9, atol: 1e-9 }, `${rope}/${mode} shift ${shift}`);
      }
    }),
    fcParams(30),
  );
  // per-sequence positions [B, T] rotate each sequence by its own positions
  for (const rope of ['decoupled', 'pre-rope'] as const) {
    const layer = mla({ numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 4, vHeadDim: 2 }, 6, rope);
    const x = f64([2, 3, 8], new Generator(10));
    const both = noGrad(() => layer.forward(x, { positions: new Tensor(Float64Array.from([0, 1, 2, 7, 9, 12]), [2, 3]) }));
    const first = noGrad(() => layer.forward(x.narrow(0, 0, 1), { positions: range(0, 3) }));
    const second = noGrad(() => layer.forward(x.narrow(0, 1, 1), { positions: new Tensor(Float64Array.from([7, 9, 12]), [3]) }));
    assertClose(both.data, [...first.data, ...second.data], { rtol: 1e-12, atol: 1e-12 }, `${rope} [B, T] positions`);
  }
  // …while the positions do matter: stretching them changes the logits (RoPE really enters both variants)
  for (const rope of ['decoupled', 'pre-rope'] as const) {
    const layer = mla({ numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 4, vHeadDim: 2 }, 5, rope);
    const x = f64([1, 4, 8], new Generator(9));
    const a = noGrad(() => layer.logits(x, { positions: range(0, 4) }));
    const b = noGrad(() => layer.logits(x, { positions: new Tensor(Float64Array.from([0, 2, 4, 6]), [4]) }));
    assert.ok(a.data.some((v, i) => Math.abs(v - b.data[i]!) > 1e-6), `${rope}: logits ignore positions`);
  }
});

test('the latent cache holds kvLoraRank + qkRopeHeadDim numbers per token (PreRoPE: kvLoraRank + numHeads·qkRopeHeadDim)', () => {
  const dims = { numHeads: 3, kvLoraRank: 5, qLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 4, vHeadDim: 3 };
  for (const [rope, perToken] of [['decoupled', 5 + 4], ['pre-rope', 5 + 3 * 4]] as const) {
    const layer = mla(dims, 1, rope);
    const cache = layer.newCache();
    assert.is(cache.numbersPerToken, perToken);
    assert.is(mlaCacheNumbersPerToken({ dim: 8, ...dims, rope }), perToken);
    const x = f64([2, 7, 8], new Generator(2));
    noGrad(() => layer.forward(x.narrow(1, 0, 4), { cache }));
    noGrad(() => layer.forward(x.narrow(1, 4, 3), { cache }));
    const stored = cache.latents!.size + cache.ropeKeys!.size;
    assert.is(stored, 2 * 7 * perToken, `${rope}: stored ${stored}`);
    assert.equal(cache.latents!.shape, [2, 1, 7, 5]);
    assert.equal(cache.ropeKeys!.shape, [2, rope === 'decoupled' ? 1 : 3, 7, 4]);
    assert.is(cache.position, 7);
    assert.is(cache.length, 7);
  }
});

test('DeepSeek-V2 dims give its shapes (tech report §2.1, HF configuration_deepseek_v2) without allocating them; the cache is 576 numbers vs MHA 32768', () => {
  const v2: MLADims = { dim: 5120, numHeads: 128, kvLoraRank: 512, qLoraRank: 1536, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128 };
  assert.equal(mlaParameterShapes(v2), {
    'qAProj.weight': [1536, 5120], // W^DQ: c^Q has d′_c = 1536
    'qALayernorm.weight': [1536],
    'qBProj.weight': [128 * (128 + 64), 1536], // per head q^C 128 + q^R 64
    'kvAProjWithMqa.weight': [512 + 64, 5120], // [c^KV 512; k^R 64]
    'kvALayernorm.weight': [512],
    'kvBProj.weight': [128 * (128 + 128), 512], // per head k^C 128 + v 128
    'oProj.weight': [5120, 128 * 128],
  });
  const perToken = mlaCacheNumbersPerToken(v2);
  const mha = 2 * 128 * 128; // MHA caches k and v for 128 heads of 128
  assert.is(perToken, 576);
  assert.is(mha, 32768);
  assertClose([perToken / mha], [0.017578125], {}, 'cache ratio'); // 0.0176; = GQA with 2.25 groups (DeepSeek-V2 §2.1.4, Table 1)
  assertClose([perToken / (2 * 128)], [2.25], {}, 'GQA-equivalent groups');
  // softmax scale (d_nope + d_rope)^(−1/2) = 192^(−1/2): checked on a small layer with the same head dims
  const small = new MultiHeadLatentAttention({ ...v2, dim: 4, numHeads: 1, kvLoraRank: 2, qLoraRank: 2, dtype: 'float64' });
  assertClose([small.softmaxScale], [1 / Math.sqrt(192)], {}, 'softmax scale');
  // DeepSeek-V2-Lite: no query compression (q_lora_rank null) → one q_proj
  const lite = mlaParameterShapes({ ...v2, dim: 2048, numHeads: 16, qLoraRank: null });
  assert.equal(lite['qProj.weight'], [16 * 192, 2048]);
  assert.is(lite['qAProj.weight'], undefined);
  assert.equal(lite['kvBProj.weight'], [16 * 256, 512]);
  // PreRoPE keeps no shared rotary key: kv_a projects to the latent only, kv_b adds each head's rotary channels
  const pre = mlaParameterShapes({ ...v2, rope: 'pre-rope' });
  assert.equal(pre['kvAProjWithMqa.weight'], [512, 5120]);
  assert.equal(pre['kvBProj.weight'], [128 * (128 + 64 + 128), 512]);
  assert.is(mlaCacheNumbersPerToken({ ...v2, rope: 'pre-rope' }), 512 + 128 * 64);
});

test('mlaParameterShapes names and shapes every parameter the module allocates (random dims, both RoPE variants)', () => {
  fc.assert(
    fc.property(dimsArb, fc.constantFrom<MLARoPE>('decoupled', 'pre-rope'), (dims, rope) => {
      const layer = mla(dims, 0, rope);
      const actual = Object.fromEntries(layer.namedParameters().map(([name, p]) => [name, [...p.shape]]));
      assert.equal(actual, mlaParameterShapes({ dim: 8, ...dims, rope }));
    }),
    fcParams(30),
  );
});

test('queryKeyMaps: per-head W_Q, W_K from the layer input reproduce the logits at equal positions (norm factors applied)', () => {
  for (const rope of ['decoupled', 'pre-rope'] as const) {
    const dims = { numHeads: 2, kvLoraRank: 3, qLoraRank: null, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2 };
    const layer = mla(dims, 4, rope);
    const g = new Generator(11);
    for (const p of [layer.kvALayernorm.weight!]) for (let i = 0; i < p.size; i++) p.data[i] = 0.5 + g.random(); // non-trivial gains
    const T = 3;
    const x = f64([1, T, 8], g);
    const logits = noGrad(() => layer.logits(x, { positions: new Tensor(new Float64Array(T), [T]) })); // all at position 0
    const { query, key } = layer.queryKeyMaps();
    assert.equal(query.shape, [2, 4, 8]);
    assert.equal(key.shape, [2, 4, 8]);
    // the RMSNorm on c^KV divides the latent (nope key rows; PreRoPE: every key row) by rms(W^DKV x) + ε
    const wd = layer.kvAProjWithMqa.weight;
    const rms = (n: number): number => {
      let s = 0;
      for (let r = 0; r < 3; r++) {
        let v = 0;
        for (let c = 0; c < 8; c++) v += wd.data[r * 8 + c]! * x.data[n * 8 + c]!;
        s += v * v;
      }
      return Math.sqrt(s / 3 + 1e-6);
    };
    const apply = (m: Tensor, h: number, row: number, n: number): number => {
      let v = 0;
      for (let c = 0; c < 8; c++) v += m.data[(h * 4 + row) * 8 + c]! * x.data[n * 8 + c]!;
      return v;
    };
    const expected: number[] = [];
    for (let h = 0; h < 2; h++) {
      for (let m = 0; m < T; m++) {
        for (let n = 0; n < T; n++) {
          let s = 0;
          for (let row = 0; row < 4; row++) {
            const normed = row < 2 || rope === 'pre-rope';
            s += apply(query, h, row, m) * apply(key, h, row, n) / (normed ? rms(n) : 1);
          }
          expected.push(s * layer.softmaxScale);
        }
      }
    }
    assertClose(logits.data, expected, { rtol: 1e-10, atol: 1e-10 }, rope);
  }
});

test('gradcheck through a small MLA in float64: input and every weight, explicit and absorbed', () => {
  for (const [rope, mode] of [['decoupled', 'explicit'], ['decoupled', 'absorbed'], ['pre-rope', 'explicit']] as const) {
    const layer = mla({ dim: 4, numHeads: 2, kvLoraRank: 3, qLoraRank: 2, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2, bias: true }, 3, rope);
    layer.mode = mode;
    const x = randn([1, 3, 4], { dtype: 'float64', generator: new Generator(8), requiresGrad: true });
    const positions = range(2, 3);
    gradcheck((input) => layer.forward(input!, { positions }).square().sum(), [x], { atol: 1e-6, rtol: 1e-5 });
    gradcheck(() => layer.forward(x.detach(), { positions }).square().sum(), layer.parameters(), { atol: 1e-6, rtol: 1e-5 });
  }
});

test('errors: PreRoPE cannot be absorbed; caches must be latent caches of the right layout; dims are validated', () => {
  const dims = { dim: 8, numHeads: 2, kvLoraRank: 4, qkNopeHeadDim: 2, qkRopeHeadDim: 2, vHeadDim: 2 };
  assert.throws(() => new MultiHeadLatentAttention({ ...dims, rope: 'pre-rope', mode: 'absorbed' }), (e: unknown) => e instanceof ValueError && /PreRoPE cannot be absorbed/.test(e.message));
  const pre = new MultiHeadLatentAttention({ ...dims, rope: 'pre-rope' });
  assert.throws(() => (pre.mode = 'absorbed'), (e: unknown) => e instanceof ValueError && /R\(n\)/.test(e.message));
  assert.throws(() => pre.absorbedWeights(), (e: unknown) => e instanceof ValueError && /PreRoPE/.test(e.message));
  assert.is(pre.mode, 'explicit');
  const layer = new MultiHeadLatentAttention(dims);
  const x = randn([1, 2, 8], { generator: new Generator(1) });
  assert.throws(() => layer.forward(x, { cache: new KVCache() as unknown as LatentKVCache }), (e: unknown) => e instanceof DTypeError && /^MultiHeadLatentAttention.forward: cache is not a LatentKVCache/.test(e.message));
  assert.throws(() => layer.forward(x, { cache: pre.newCache() }), (e: unknown) => e instanceof ShapeError && /ropeKeyHeads=2/.test(e.message));
  assert.throws(() => layer.forward(randn([1, 2, 5])), (e: unknown) => e instanceof ShapeError && /x=\[1,2,5\]/.test(e.message));
  assert.throws(() => new MultiHeadLatentAttention({ ...dims, qkRopeHeadDim: 3 }), (e: unknown) => e instanceof ValueError && /qkRopeHeadDim is odd/.test(e.message));
  assert.throws(() => new MultiHeadLatentAttention({ ...dims, kvLoraRank: 0 }), (e: unknown) => e instanceof ValueError && /^MultiHeadLatentAttention: kvLoraRank must be an integer ≥ 1, got 0/.test(e.message));
  assert.throws(() => mlaParameterShapes({ ...dims, qLoraRank: 1.5 }), (e: unknown) => e instanceof ValueError && /^mlaParameterShapes: qLoraRank must be an integer ≥ 1, got 1.5/.test(e.message));
  const cache = layer.newCache();
  assert.throws(() => cache.append(randn([1, 2, 1, 2]), randn([1, 1, 1, 4])), (e: unknown) => e instanceof ShapeError && /rotary keys or latents/.test(e.message));
});

test.run();
