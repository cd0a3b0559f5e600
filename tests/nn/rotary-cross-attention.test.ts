/**
 * nn/rotary-cross-attention.ts: MuseControlLite's decoupled rotary cross-attention (spec §8.4). The positions
 * i·Lc/Lq and 0…Lc−1; the branch against an element-by-element oracle (rotated q, k and v, softmax, zero-init output
 * projection, GQA, apScale); the consistent layout's shift property; the reference's layout quirk against a literal
 * transcription of its formula and the spec's seed-0 numbers (tests/fixtures/musecontrollite_quirk.json); zero-init ⇒
 * the wrapped host's output unchanged; without RoPE the branch cannot see frame order; gradcheck; refusals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, gradcheck, noGrad, randn } from '../../core/index.js';
import { MultiHeadAttention } from '../../nn/attention.js';
import { RoPE } from '../../positional/index.js';
import {
  DecoupledRotaryAttention, RotaryCrossAttention, rotaryCrossPositions, type RotaryCrossAttentionOptions,
} from '../../nn/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { assertRefused } from '../helpers/refusal.js';

const f64 = (shape: number[], g: Generator, requiresGrad = false): Tensor => randn(shape, { dtype: 'float64', generator: g, requiresGrad });
const vec = (values: readonly number[]): Tensor => new Tensor(Float64Array.from(values), [values.length]);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

type Layout = 'half' | 'quirk' | 'none';
const layoutOptions = (layout: Layout): Partial<RotaryCrossAttentionOptions> =>
  layout === 'none' ? { rope: false } : layout === 'quirk' ? { museQuirkLayout: true } : {};

/** A float64 branch whose output projection is random (not zero), so that every parameter shapes the output. */
function branch(o: { numHeads: number; numKVHeads?: number; headDim: number; condDim: number; layout: Layout; seed: number; apScale?: number; base?: number }): RotaryCrossAttention {
  const b = new RotaryCrossAttention({
    numHeads: o.numHeads, numKVHeads: o.numKVHeads, headDim: o.headDim, condDim: o.condDim, apScale: o.apScale, base: o.base,
    generator: new Generator(o.seed), dtype: 'float64', ...layoutOptions(o.layout),
  });
  b.wo.weight.data.set(f64([...b.wo.weight.shape], new Generator(o.seed + 7)).data);
  return b;
}

// ── literal oracles (written from the reference's formulas, not from the module) ──

/** θ_p = base^(−2p/d). */
const freq = (p: number, d: number, base: number): number => Math.pow(base, (-2 * p) / d);

/** HF Llama half layout: y = x·[cos‖cos] + rotate_half(x)·[sin‖sin], rotate_half(x) = [−x[d/2:] ‖ x[:d/2]]. */
function halfLiteral(x: readonly number[], pos: number, base = 10000): number[] {
  const d = x.length;
  const P = d / 2;
  const cos = Array.from({ length: d }, (_, i) => Math.cos(pos * freq(i % P, d, base)));
  const sin = Array.from({ length: d }, (_, i) => Math.sin(pos * freq(i % P, d, base)));
  const rh = [...x.slice(P).map((v) => -v), ...x.slice(0, P)];
  return x.map((v, i) => v * cos[i]! + rh[i]! * sin[i]!);
}

/**
 * The reference processor's map, transcribed step by step: cos/sin from LlamaRotaryEmbedding ([φ ‖ φ]); its
 * rotate_half views x as [d/2, 2], unbinds the last axis into x1 = x[0::2], x2 = x[1::2] and returns cat(−x2, x1).
 */
function quirkLiteral(x: readonly number[], pos: number, base = 10000): number[] {
  const d = x.length;
  const P = d / 2;
  const emb = [...Array.from({ length: P }, (_, p) => pos * freq(p, d, base)), ...Array.from({ length: P }, (_, p) => pos * freq(p, d, base))];
  const x1 = Array.from({ length: P }, (_, p) => x[2 * p]!);
  const x2 = Array.from({ length: P }, (_, p) => x[2 * p + 1]!);
  const rh = [...x2.map((v) => -v), ...x1];
  return x.map((v, i) => v * Math.cos(emb[i]!) + rh[i]! * Math.sin(emb[i]!));
}

const rotLiteral = (layout: Layout, x: readonly number[], pos: number, base = 10000): number[] =>
  layout === 'none' ? [...x] : layout === 'half' ? halfLiteral(x, pos, base) : quirkLiteral(x, pos, base);

/** The branch element by element: q [B, H, Lq, d], c [B, Lc, Cc] → [B, Lq, H·d]. */
function oracleBranch(b: RotaryCrossAttention, layout: Layout, q: Tensor, c: Tensor, base = 10000): number[] {
  const { numHeads: H, numKVHeads: Hkv, headDim: d } = b;
  const [B, , Lq] = q.shape as [number, number, number, number];
  const [, Lc, Cc] = c.shape as [number, number, number];
  const Wk = b.wk.weight.data;
  const Wv = b.wv.weight.data;
  const Wo = b.wo.weight.data;
  const proj = (W: ArrayLike<number>, bi: number, j: number, h: number): number[] =>
    Array.from({ length: d }, (_, e) => {
      let s = 0;
      for (let f = 0; f < Cc; f++) s += c.data[(bi * Lc + j) * Cc + f]! * W[(h * d + e) * Cc + f]!;
      return s;
    });
  const out: number[] = [];
  for (let bi = 0; bi < B; bi++) {
    const merged: number[][] = Array.from({ length: Lq }, () => []);
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor((h * Hkv) / H);
      const keys = Array.from({ length: Lc }, (_, j) => rotLiteral(layout, proj(Wk, bi, j, kvh), j, base));
      const values = Array.from({ length: Lc }, (_, j) => rotLiteral(layout, proj(Wv, bi, j, kvh), j, base));
      for (let i = 0; i < Lq; i++) {
        const qi = Array.from(q.data.subarray(((bi * H + h) * Lq + i) * d, ((bi * H + h) * Lq + i + 1) * d));
        const qr = rotLiteral(layout, qi, (i * Lc) / Lq, base);
        const s = keys.map((k) => dot(qr, k) / Math.sqrt(d));
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((a, v) => a + v, 0);
        for (let ch = 0; ch < d; ch++) merged[i]!.push(values.reduce((a, v, j) => a + (e[j]! / z) * v[ch]!, 0));
      }
    }
    for (let i = 0; i < Lq; i++) {
      for (let o = 0; o < H * d; o++) out.push(b.apScale * dot(merged[i]!, Wo.subarray(o * H * d, (o + 1) * H * d)));
    }
  }
  return out;
}

// ── positions ──

test('positions: query ids are i·Lc/Lq (Lq = 4, Lc = 8 → [0, 2, 4, 6]; Lq = Lc → 0…L−1; doubling Lc doubles them exactly), keys 0…Lc−1', () => {
  assert.equal([...rotaryCrossPositions(4, 8).query.data], [0, 2, 4, 6]);
  assert.equal([...rotaryCrossPositions(4, 8).key.data], [0, 1, 2, 3, 4, 5, 6, 7]);
  const long = rotaryCrossPositions(1025, 1024).query.data; // spec §8.5: a prepended global token
  assertClose([long[0]!, long[1]!, long[2]!, long[1024]!], [0, 0.999024, 1.998049, 1023.000976], { atol: 5e-7, rtol: 0 }, 'Lq = 1025, Lc = 1024');
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), (Lq, Lc) => {
      const { query, key } = rotaryCrossPositions(Lq, Lc);
      assert.equal(query.shape, [Lq]);
      assert.equal(key.shape, [Lc]);
      for (let i = 0; i < Lq; i++) assert.ok(Math.abs(query.data[i]! - (i * Lc) / Lq) <= 1e-15 * Lc, `query ${i}: ${query.data[i]} vs ${(i * Lc) / Lq}`);
      for (let j = 0; j < Lc; j++) assert.is(key.data[j], j);
      assert.ok(query.data[Lq - 1]! < Lc, 'the last query lands before Lc');
      const same = rotaryCrossPositions(Lq, Lq).query.data;
      for (let i = 0; i < Lq; i++) assert.is(same[i], i, 'Lq = Lc gives the integers');
      const doubled = rotaryCrossPositions(Lq, 2 * Lc).query.data;
      for (let i = 0; i < Lq; i++) assert.is(doubled[i], 2 * query.data[i]!, 'doubling Lc doubles every id');
    }),
    fcParams(80),
  );
  assert.equal(rotaryCrossPositions(0, 3).query.shape, [0]);
});

// ── the branch against the oracle ──

test('forward equals the element-by-element branch: rotated q, k AND v at i·Lc/Lq and j, softmax/√d, GQA, output projection, apScale', () => {
  fc.assert(
    fc.property(
      fc.constantFrom<Layout>('half', 'quirk', 'none'), fc.integer({ min: 1, max: 2 }), fc.constantFrom([1, 1], [2, 2], [2, 1], [4, 2]), fc.constantFrom(2, 4, 6),
      fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: -4, max: 8 }), fc.integer(),
      (layout, B, [H, Hkv], d, Lq, Lc, condDim, scaleTenths, seed) => {
        const apScale = scaleTenths / 4;
        const b = branch({ numHeads: H!, numKVHeads: Hkv, headDim: d, condDim, layout, seed, apScale, base: 100 });
        const g = new Generator(seed + 1);
        const q = f64([B, H!, Lq, d], g).mul(2);
        const c = f64([B, Lc, condDim], g).mul(2);
        const out = b.forward(q, c);
        assert.equal(out.shape, [B, Lq, H! * d]);
        assertClose(out.data, oracleBranch(b, layout, q, c, 100), { rtol: 1e-10, atol: 1e-10 }, layout);
      },
    ),
    fcParams(60),
  );
});

test('rope: false cannot tell condition frames apart: shuffling them leaves the output unchanged; with RoPE it changes', () => {
  const g = new Generator(3);
  const q = f64([1, 2, 6, 4], g);
  const c = f64([1, 5, 3], g);
  const perm = [3, 0, 4, 1, 2];
  const shuffled = new Tensor(Float64Array.from(perm.flatMap((j) => Array.from(c.data.subarray(j * 3, j * 3 + 3)))), [1, 5, 3]);
  const none = branch({ numHeads: 2, headDim: 4, condDim: 3, layout: 'none', seed: 9 });
  assertClose(none.forward(q, shuffled).data, none.forward(q, c).data, { rtol: 1e-12, atol: 1e-12 }, 'no RoPE: order-blind');
  for (const layout of ['half', 'quirk'] as const) {
    const rope = branch({ numHeads: 2, headDim: 4, condDim: 3, layout, seed: 9 });
    const a = rope.forward(q, c).data;
    const s = rope.forward(q, shuffled).data;
    assert.ok(a.some((v, i) => Math.abs(v - s[i]!) > 1e-3), `${layout}: the frame order matters`);
  }
});

// ── layouts ──

test('consistent layout: the score of query frame i and condition frame j depends only on i·Lc/Lq − j (shift test), and norms are kept', () => {
  fc.assert(
    fc.property(fc.constantFrom(2, 4, 8, 16), fc.integer({ min: 2, max: 8 }), fc.constantFrom(0.5, 1, 2), fc.integer(), (d, Lc, rate, seed) => {
      const Lq = Lc * 2 * rate; // Lq = 4·Lc, 2·Lc or Lc: the differences are exact multiples of 1/4
      const b = new RotaryCrossAttention({ numHeads: 1, headDim: d, condDim: 1, dtype: 'float64' });
      const g = new Generator(seed);
      const q = f64([1, d], g);
      const k = f64([1, d], g);
      const { query, key } = rotaryCrossPositions(Lq, Lc);
      const scores = new Map<number, number>();
      for (let i = 0; i < Lq; i++) {
        const qr = b.rotate(q, new Tensor(query.data.slice(i, i + 1), [1])).data;
        assertClose([Math.hypot(...qr)], [Math.hypot(...q.data)], { rtol: 1e-12, atol: 0 }, 'norm');
        for (let j = 0; j < Lc; j++) {
          const s = dot(qr, b.rotate(k, new Tensor(key.data.slice(j, j + 1), [1])).data);
          const delta = query.data[i]! - j;
          const seen = scores.get(delta);
          if (seen === undefined) scores.set(delta, s);
          else assertClose([s], [seen], { rtol: 1e-10, atol: 1e-10 }, `score at Δ = ${delta} (i = ${i}, j = ${j})`);
        }
      }
    }),
    fcParams(40),
  );
});

test('consistent layout equals positional/RoPE (half) and the literal HF Llama formula', () => {
  fc.assert(
    fc.property(fc.constantFrom(2, 4, 8), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 9 }), fc.integer(), (d, T, Lc, seed) => {
      const b = new RotaryCrossAttention({ numHeads: 1, headDim: d, condDim: 1, dtype: 'float64' });
      const x = f64([2, T, d], new Generator(seed));
      const positions = rotaryCrossPositions(T, Lc).query;
      const y = b.rotate(x, positions);
      assertClose(y.data, new RoPE(d, { layout: 'half' }).rotate(x, positions).data, { rtol: 0, atol: 0 }, 'RoPE');
      const literal = Array.from({ length: 2 * T }, (_, r) => halfLiteral(Array.from(x.data.subarray(r * d, (r + 1) * d)), positions.data[r % T]!)).flat();
      assertClose(y.data, literal, { rtol: 1e-12, atol: 1e-12 }, 'literal');
    }),
    fcParams(40),
  );
});

test('museQuirkLayout equals a literal transcription of the reference processor (rotate_half on interleaved pairs, cos/sin [φ‖φ])', () => {
  fc.assert(
    fc.property(fc.constantFrom(2, 4, 8, 64), fc.integer({ min: 1, max: 4 }), fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 4, maxLength: 4 }), fc.integer(), (d, T, ps, seed) => {
      const b = new RotaryCrossAttention({ numHeads: 1, headDim: d, condDim: 1, museQuirkLayout: true, dtype: 'float64' });
      const x = f64([T, d], new Generator(seed));
      const positions = vec(ps.slice(0, T).map((p) => p / 4)); // fractional, as query ids are
      const literal = Array.from({ length: T }, (_, t) => quirkLiteral(Array.from(x.data.subarray(t * d, (t + 1) * d)), positions.data[t]!)).flat();
      assertClose(b.rotate(x, positions).data, literal, { rtol: 1e-12, atol: 1e-12 });
    }),
    fcParams(60),
  );
});

test("museQuirkLayout reproduces the spec's §8.2 numbers (q, k = numpy default_rng(0) draws, d = 64): ‖q‖ 7.3153 → 7.5320, score(3,1) −12.551133 vs score(13,11) −7.371685; consistent −10.551758 for both", () => {
  const fx = JSON.parse(readFileSync(join(process.cwd(), 'tests/fixtures/musecontrollite_quirk.json'), 'utf8')) as { head_dim: number; q: number[]; k: number[] };
  assert.is(fx.head_dim, 64);
  const q = new Tensor(Float64Array.from(fx.q), [1, 64]);
  const k = new Tensor(Float64Array.from(fx.k), [1, 64]);
  const at = (p: number): Tensor => vec([p]);
  const quirk = new RotaryCrossAttention({ numHeads: 1, headDim: 64, condDim: 1, museQuirkLayout: true, dtype: 'float64' });
  const consistent = new RotaryCrossAttention({ numHeads: 1, headDim: 64, condDim: 1, dtype: 'float64' });
  const score = (b: RotaryCrossAttention, i: number, j: number): number => dot(b.rotate(q, at(i)).data, b.rotate(k, at(j)).data);
  const near = (actual: number, expected: number, digits: number, label: string): void =>
    assert.ok(Math.abs(actual - expected) <= 0.5 * 10 ** -digits, `${label}: ${actual} vs ${expected}`);
  near(Math.hypot(...q.data), 7.3153, 4, '‖q‖');
  near(Math.hypot(...quirk.rotate(q, at(5)).data), 7.532, 4, '‖quirk(q)‖ at position 5 (the spec does not name the position; 5 is the one that gives 7.5320)');
  near(score(quirk, 3, 1), -12.551133, 6, 'quirk score(3,1)');
  near(score(quirk, 13, 11), -7.371685, 6, 'quirk score(13,11)');
  near(score(consistent, 3, 1), -10.551758, 6, 'consistent score(3,1)');
  near(score(consistent, 13, 11), -10.551758, 6, 'consistent score(13,11)');
  near(Math.hypot(...consistent.rotate(q, at(5)).data), 7.3153, 4, 'consistent keeps the norm');
});

// ── zero init and the wrapper ──

test('zero-initialised output projection: the branch adds exactly 0, so DecoupledRotaryAttention equals its frozen host bit for bit', () => {
  fc.assert(
    fc.property(
      fc.constantFrom([2, 2], [4, 2], [2, 1]), fc.constantFrom(2, 4), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.integer(),
      (heads, d, rope, quirk, T, Lc, seed) => {
        const [H, Hkv] = heads as [number, number];
        const dim = H * d;
        const host = new MultiHeadAttention(dim, { numHeads: H, numKVHeads: Hkv, positional: new RoPE(d), generator: new Generator(seed), dtype: 'float64' });
        const layer = new DecoupledRotaryAttention(host, { condDim: 3, rope, museQuirkLayout: rope && quirk, generator: new Generator(seed + 1) });
        const g = new Generator(seed + 2);
        const x = f64([2, T, dim], g);
        const c = f64([2, Lc, 3], g);
        assert.ok(layer.branch.wo.weight.data.every((w) => Object.is(w, 0)), 'wo is +0 everywhere');
        assert.ok(layer.branch.forward(f64([2, H, T, d], g), c).data.every((v) => v === 0), 'the branch outputs zeros');
        assert.equal([...layer.forward(x, c).data], [...host.forward(x).data], 'wrapped == host');
        // once the branch's projection moves off zero, the condition reaches the output
        layer.branch.wo.weight.data.set(f64([...layer.branch.wo.weight.shape], g).data);
        const moved = layer.forward(x, c).data;
        assert.ok(moved.some((v, i) => Math.abs(v - host.forward(x).data[i]!) > 1e-6), 'a trained branch changes the output');
      },
    ),
    fcParams(30),
  );
});

test('DecoupledRotaryAttention = host(x) + branch(host.wq(x) split into heads, c)·host.woᵀ (no second bias), with the host\'s options', () => {
  const g = new Generator(11);
  const host = new MultiHeadAttention(8, { numHeads: 4, numKVHeads: 2, bias: true, generator: g, dtype: 'float64' });
  const layer = new DecoupledRotaryAttention(host, { condDim: 5, apScale: 0.5, generator: g });
  assert.is(layer.branch.numKVHeads, 2);
  assert.is(layer.branch.headDim, 2);
  layer.branch.wo.weight.data.set(f64([8, 8], g).data);
  const x = f64([2, 3, 8], g);
  const c = f64([2, 7, 5], g);
  const q = noGrad(() => host.wq.forward(x).reshape([2, 3, 4, 2]).transpose(1, 2));
  const added = layer.branch.forward(q, c); // [2, 3, 8], apScale included
  const Wo = host.wo.weight.data;
  const expected = Array.from(host.forward(x, { causal: true }).data);
  for (let r = 0; r < 6; r++) for (let o = 0; o < 8; o++) expected[r * 8 + o]! += dot(added.data.subarray(r * 8, r * 8 + 8), Wo.subarray(o * 8, o * 8 + 8));
  assertClose(layer.forward(x, c, { causal: true }).data, expected, { rtol: 1e-12, atol: 1e-12 });
  assert.equal(layer.parameters().length, host.parameters().length + 3, 'host parameters + wk, wv, wo');
  assert.equal(layer.branch.namedParameters().map(([n]) => n), ['wk.weight', 'wv.weight', 'wo.weight']);
});

// ── gradients ──

test('gradcheck (float64): the branch\'s parameters and inputs q, condition, in every layout and with GQA; the wrapper end to end', () => {
  for (const layout of ['half', 'quirk', 'none'] as const) {
    for (const [H, Hkv] of [[2, 2], [4, 2]] as const) {
      const b = branch({ numHeads: H, numKVHeads: Hkv, headDim: 4, condDim: 3, layout, seed: 5, apScale: 0.7 });
      const g = new Generator(6);
      const q = f64([2, H, 3, 4], g, true);
      const c = f64([2, 5, 3], g, true);
      gradcheck((qq, cc) => b.forward(qq!, cc!).square().sum(), [q, c], { atol: 1e-6, rtol: 1e-5 });
      gradcheck(() => b.forward(q.detach(), c.detach()).square().sum(), b.parameters(), { atol: 1e-6, rtol: 1e-5 });
    }
  }
  const g = new Generator(8);
  const host = new MultiHeadAttention(8, { numHeads: 2, positional: new RoPE(4), generator: g, dtype: 'float64' });
  const layer = new DecoupledRotaryAttention(host, { condDim: 3, museQuirkLayout: true, generator: g });
  layer.branch.wo.weight.data.set(f64([8, 8], g).data);
  const x = f64([1, 4, 8], g, true);
  const c = f64([1, 2, 3], g, true);
  gradcheck((xx, cc) => layer.forward(xx!, cc!).square().sum(), [x, c], { atol: 1e-6, rtol: 1e-5 });
  gradcheck(() => layer.forward(x.detach(), c.detach()).square().sum(), layer.branch.parameters(), { atol: 1e-6, rtol: 1e-5 });
});

test('a float32 branch stays float32 and agrees with float64 to float32 rounding (both layouts)', () => {
  for (const layout of ['half', 'quirk'] as const) {
    const b64 = branch({ numHeads: 2, headDim: 4, condDim: 3, layout, seed: 2 });
    const b32 = new RotaryCrossAttention({ numHeads: 2, headDim: 4, condDim: 3, dtype: 'float32', ...layoutOptions(layout) });
    b32.loadStateDict(b64.stateDict());
    const g = new Generator(4);
    const q = f64([1, 2, 5, 4], g);
    const c = f64([1, 3, 3], g);
    const out = b32.forward(q.cast('float32'), c.cast('float32'));
    assert.is(out.dtype, 'float32', layout);
    assertClose(out.data, b64.forward(q, c).data, { rtol: 1e-4, atol: 1e-5 }, layout);
  }
});

// ── refusals ──

test('refusals: typed errors named after the call, nothing built or run half way', () => {
  const C = 'RotaryCrossAttention';
  const ok = { numHeads: 2, headDim: 4, condDim: 3 };
  assertRefused(() => new RotaryCrossAttention(undefined as never), DTypeError, C, { arg: 'options' });
  assertRefused(() => new RotaryCrossAttention({ ...ok, headDim: 3 }), ValueError, C, { arg: 'headDim', words: ['even'] });
  assertRefused(() => new RotaryCrossAttention({ ...ok, numKVHeads: 3 }), ValueError, C, { arg: 'numKVHeads' });
  assertRefused(() => new RotaryCrossAttention({ ...ok, apScale: NaN }), ValueError, C, { arg: 'apScale' });
  assertRefused(() => new RotaryCrossAttention({ ...ok, base: 1 }), ValueError, C, { arg: 'base' });
  assertRefused(() => new RotaryCrossAttention({ ...ok, condDim: 0 }), ValueError, C, { arg: 'condDim' });
  assertRefused(() => new RotaryCrossAttention({ ...ok, rope: false, museQuirkLayout: true }), ValueError, C, { arg: 'museQuirkLayout' });
  assertRefused(() => new RotaryCrossAttention({ ...ok, rope: 'yes' as never }), DTypeError, C, { arg: 'rope' });
  assertRefused(() => new RotaryCrossAttention({ ...ok, layout: 'half' } as never), ValueError, C, { words: ['layout'] });
  new RotaryCrossAttention({ ...ok, headDim: 3, rope: false }); // odd heads are fine without rotation

  const b = new RotaryCrossAttention({ ...ok, dtype: 'float64' });
  const g = new Generator(1);
  const F = `${C}.forward`;
  assertRefused(() => b.forward(f64([1, 3, 2, 4], g), f64([1, 2, 3], g)), ShapeError, F, { arg: 'q', words: ['[1,3,2,4]'] });
  assertRefused(() => b.forward(f64([1, 2, 2, 5], g), f64([1, 2, 3], g)), ShapeError, F, { arg: 'q' });
  assertRefused(() => b.forward(f64([2, 4], g), f64([1, 2, 3], g)), ShapeError, F, { arg: 'q' });
  assertRefused(() => b.forward(f64([1, 2, 2, 4], g).cast('float32'), f64([1, 2, 3], g)), DTypeError, F, { arg: 'q' });
  assertRefused(() => b.forward(f64([1, 2, 2, 4], g), f64([1, 2, 4], g)), ShapeError, F, { arg: 'condition' });
  assertRefused(() => b.forward(f64([1, 2, 2, 4], g), f64([2, 2, 3], g)), ShapeError, F, { arg: 'condition', words: ['batch'] });
  assertRefused(() => b.forward(f64([1, 2, 2, 4], g), f64([1, 0, 3], g)), ShapeError, F, { arg: 'condition', words: ['no frames'] });
  assertRefused(() => b.forward(f64([1, 2, 2, 4], g), f64([1, 2, 3], g).cast('float32')), DTypeError, F, { arg: 'condition' });
  assertRefused(() => b.forward(f64([1, 2, 2, 4], g), null as never), DTypeError, F, { arg: 'condition' });

  const R = `${C}.rotate`;
  assertRefused(() => b.rotate(f64([3, 5], g), vec([0, 1, 2])), ShapeError, R, { arg: 'x' });
  assertRefused(() => b.rotate(f64([3, 4], g), vec([0, 1])), ShapeError, R, { arg: 'positions' });
  assertRefused(() => b.rotate(f64([3, 4], g), vec([0, NaN, 2])), ValueError, R, { arg: 'positions' });
  assertRefused(() => b.rotate(f64([3, 4], g), new Tensor(new Float64Array(3), [1, 3])), ShapeError, R, { arg: 'positions' });

  const P = 'rotaryCrossPositions';
  assertRefused(() => rotaryCrossPositions(4, 0), ValueError, P, { arg: 'conditionLength' });
  assertRefused(() => rotaryCrossPositions(2.5, 4), ValueError, P, { arg: 'queryLength' });
  assertRefused(() => rotaryCrossPositions(-1, 4), ValueError, P, { arg: 'queryLength' });

  const W = 'DecoupledRotaryAttention';
  const host = new MultiHeadAttention(8, { numHeads: 2, generator: g, dtype: 'float64' });
  assertRefused(() => new DecoupledRotaryAttention({} as never, { condDim: 3 }), DTypeError, W, { arg: 'host' });
  assertRefused(() => new DecoupledRotaryAttention(host, undefined as never), DTypeError, W, { arg: 'options' });
  assertRefused(() => new DecoupledRotaryAttention(host, { condDim: 3, numHeads: 2 } as never), ValueError, W);
  assertRefused(() => new DecoupledRotaryAttention(host, { condDim: 3, apScale: Infinity }), ValueError, W, { arg: 'apScale' });
  const odd = new MultiHeadAttention(6, { numHeads: 2, generator: g });
  assertRefused(() => new DecoupledRotaryAttention(odd, { condDim: 3 }), ValueError, W, { arg: 'headDim' });
  const layer = new DecoupledRotaryAttention(host, { condDim: 3 });
  const WF = `${W}.forward`;
  assertRefused(() => layer.forward(f64([1, 2, 7], g), f64([1, 2, 3], g)), ShapeError, WF, { arg: 'x' });
  assertRefused(() => layer.forward(f64([1, 2, 8], g), f64([2, 2, 3], g)), ShapeError, WF, { arg: 'condition' });
  assertRefused(() => layer.forward(f64([1, 2, 8], g), f64([1, 2, 3], g), { bogus: 1 } as never), ValueError, WF);
  assertRefused(() => layer.forward(f64([1, 2, 8], g), f64([1, 2, 3], g), { positions: vec([0, Infinity]) }), ValueError, WF, { arg: 'positions' });
});

test.run();
