/**
 * EliteKV (nn/elitekv.ts): RoPElite's greedy selection against a brute-force search that recomputes every logit, the
 * conversion against oracles built from the original weights (per-head partial RoPE; J-LRD by Eckart–Young), the
 * converted layer's invariants (relative positions, cache decoding, gradients) and what the caches hold.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, ShapeError, Tensor, ValueError, arange, concat, gradcheck, matmul, noGrad, randn, svd } from '../../core/index.js';
import { RoPE, applyRotary, ropeInvFreq, type PairLayout } from '../../positional/index.js';
import {
  EliteKVAttention, KVCache, LatentKVCache, MultiHeadAttention, attentionMeanRotation, eliteKVCacheRatio, eliteKVConvert, generate, meanRotation, ropeliteSelect, uniformElitePairs,
  type MeanRotation,
} from '../../nn/index.js';
import { GPT, type GPTConfig } from '../../models/index.js';
import { fcParams } from '../helpers/fc.js';
import { assertRefused } from '../helpers/refusal.js';

const CONFIG: GPTConfig = { vocabSize: 13, contextLength: 64, dim: 16, numLayers: 2, numHeads: 4, numKVHeads: 2, positional: 'rope', ropeBase: 100, seed: 3, dtype: 'float64' };
const tinyGPT = (seed = 3, layout: PairLayout = 'half'): GPT => {
  const m = new GPT({ ...CONFIG, seed });
  if (layout === 'interleaved') m.setPositional(new RoPE(4, { base: 100, layout }));
  return m;
};
const ids = (n: number, seed: number): Tensor => {
  const g = new Generator(seed);
  return new Tensor(Float64Array.from({ length: n }, () => g.int(0, CONFIG.vocabSize)), [1, n]);
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.is(a.length, b.length, 'lengths');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const mha = (m: GPT, i: number): MultiHeadAttention => m.blocks[i]!.attn as MultiHeadAttention;
const elite = (m: GPT, i: number): EliteKVAttention => m.blocks[i]!.attn as EliteKVAttention;

/** Per layer, per KV head: r random distinct pairs of P, in random order. */
const pairsArb = (layers: number, kvHeads: number, P: number, r: number) =>
  fc.array(fc.array(fc.shuffledSubarray(Array.from({ length: P }, (_, j) => j), { minLength: r, maxLength: r }), { minLength: kvHeads, maxLength: kvHeads }), {
    minLength: layers, maxLength: layers,
  });

// ── oracles ──

/** Channel of pair j (of P) in `layout`: its first ('a') or second ('b') channel. */
const pairChannel = (layout: PairLayout, P: number, j: number, second: boolean): number => (layout === 'half' ? j + (second ? P : 0) : 2 * j + (second ? 1 : 0));

/**
 * The attention of `src` with each KV head g's non-elite pairs unrotated (their θ set to 0 for the keys of head g and
 * the queries of its group), naive loops in float64: what a full-rank EliteKV conversion must compute. With `mean`
 * (one for every query head, or one per query head), those pairs' logit terms are c̄_j·A_j + s̄_j·B_j instead of A_j
 * (A_j = q_a k_a + q_b k_b, B_j = q_a k_b − q_b k_a). With `keyMeans` (per KV head, a key of d channels in the source
 * layout), each non-elite pair's term also gains cos δθ_j·A_j(q, μ) + sin δθ_j·B_j(q, μ), the mean key's rotated product.
 */
function partialRopeAttention(
  src: MultiHeadAttention, pairs: readonly (readonly number[])[], x: Tensor, positions: readonly number[], mean?: MeanRotation | readonly MeanRotation[], keyMeans?: readonly ArrayLike<number>[],
): Tensor {
  const rope = src.positional as RoPE;
  const { numHeads: H, numKVHeads: Hkv, headDim: d } = src;
  const [B, T] = x.shape as [number, number, number];
  const P = d / 2;
  const G = H / Hkv;
  const anglesFor = (heads: number, group: number): Tensor => {
    const a = new Float64Array(heads * T * P);
    for (let h = 0; h < heads; h++) {
      const kept = new Set(pairs[Math.floor(h / group)]!);
      for (let t = 0; t < T; t++) for (let j = 0; j < P; j++) a[(h * T + t) * P + j] = kept.has(j) ? positions[t]! * rope.invFreq[j]! : 0;
    }
    return new Tensor(a, [heads, T, P]);
  };
  return noGrad(() => {
    const q = applyRotary(src.wq.forward(x).reshape([B, T, H, d]).transpose(1, 2), anglesFor(H, G), { layout: rope.layout });
    const k = applyRotary(src.wk.forward(x).reshape([B, T, Hkv, d]).transpose(1, 2), anglesFor(Hkv, 1), { layout: rope.layout });
    const v = src.wv.forward(x).reshape([B, T, Hkv, d]).transpose(1, 2);
    const ch = (j: number, second: boolean): number => pairChannel(rope.layout, P, j, second);
    /**
     * Pair j's logit term for query row qi (head h) and key row ki (KV head g) at distance δ: ρ_j when elite (both
     * rotated), else A_j or c̄·A_j + s̄·B_j, plus the mean key's rotated product.
     */
    const term = (qi: number, ki: number, j: number, kept: boolean, h: number, g: number, delta: number): number => {
      const [qa, qb] = [q.data[qi + ch(j, false)]!, q.data[qi + ch(j, true)]!];
      const [ka, kb] = [k.data[ki + ch(j, false)]!, k.data[ki + ch(j, true)]!];
      const [A, Bt] = [qa * ka + qb * kb, qa * kb - qb * ka];
      if (kept) return A;
      const rot = mean === undefined ? undefined : 'cos' in mean ? mean : mean[h]!;
      const content = rot === undefined ? A : rot.cos[j]! * A + rot.sin[j]! * Bt;
      if (keyMeans === undefined) return content;
      const [ma, mb] = [keyMeans[g]![ch(j, false)]!, keyMeans[g]![ch(j, true)]!];
      const phi = delta * rope.invFreq[j]!;
      return content + Math.cos(phi) * (qa * ma + qb * mb) + Math.sin(phi) * (qa * mb - qb * ma);
    };
    const out = new Float64Array(B * T * H * d); // [B, T, H, d]
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / G);
        for (let m = 0; m < T; m++) {
          const kept = new Set(pairs[g]!);
          const s = Array.from({ length: m + 1 }, (_, t) => {
            let dot = 0;
            for (let j = 0; j < P; j++) dot += term(((b * H + h) * T + m) * d, ((b * Hkv + g) * T + t) * d, j, kept.has(j), h, g, positions[m]! - positions[t]!);
            return dot / Math.sqrt(d);
          });
          const top = Math.max(...s);
          const w = s.map((z) => Math.exp(z - top));
          const Z = w.reduce((p, c) => p + c, 0);
          for (let i = 0; i < d; i++) {
            let acc = 0;
            for (let t = 0; t <= m; t++) acc += (w[t]! / Z) * v.data[((b * Hkv + g) * T + t) * d + i]!;
            out[((b * T + m) * H + h) * d + i] = acc;
          }
        }
      }
    }
    return src.wo.forward(new Tensor(out, [B, T, H * d]));
  });
}

/** W_kv [C, Hkv·(dn + d)] built from the original wk, wv: per KV head its non-elite key channels (a then b), then its value. */
function jointKV(src: MultiHeadAttention, pairs: readonly (readonly number[])[]): Float64Array {
  const { numKVHeads: Hkv, headDim: d, dim: C } = src;
  const P = d / 2;
  const layout = (src.positional as RoPE).layout;
  const ch = (j: number, second: boolean): number => pairChannel(layout, P, j, second);
  const cols: Array<[Float64Array | Float32Array, number]> = [];
  for (let g = 0; g < Hkv; g++) {
    const rest = Array.from({ length: P }, (_, j) => j).filter((j) => !pairs[g]!.includes(j));
    for (const second of [false, true]) for (const j of rest) cols.push([src.wk.weight.data, g * d + ch(j, second)]);
    for (let i = 0; i < d; i++) cols.push([src.wv.weight.data, g * d + i]);
  }
  const n = cols.length;
  const w = new Float64Array(C * n);
  cols.forEach(([data, row], c) => {
    for (let i = 0; i < C; i++) w[i * n + c] = data[row * C + i]!;
  });
  return w;
}

/**
 * RoPElite's D_j by brute force: every candidate's full logits recomputed with applyRotary, per KV head given its S;
 * with `mean`, each unselected pair's query channels are first mapped by its mean rotation (the conversion's fold).
 */
function bruteDistances(q: Tensor, k: Tensor, invFreq: Float64Array, layout: PairLayout, chosen: readonly (readonly number[])[], mean?: MeanRotation): number[][] {
  const [N, H, T, d] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!;
  const G = H / Hkv;
  const P = d / 2;
  const row = (x: Tensor, heads: number, n: number, h: number): Tensor => new Tensor(x.data.slice((n * heads + h) * T * d, (n * heads + h + 1) * T * d), [T, d]);
  const ch = (j: number, second: boolean): number => pairChannel(layout, P, j, second);
  const logits = (qh: Tensor, kh: Tensor, kept: ReadonlySet<number>): Float64Array => {
    const a = new Tensor(Float64Array.from({ length: T * P }, (_, i) => (kept.has(i % P) ? Math.floor(i / P) * invFreq[i % P]! : 0)), [T, P]);
    const qm = Float64Array.from(qh.data);
    if (mean !== undefined) {
      for (let t = 0; t < T; t++) for (let j = 0; j < P; j++) {
        if (kept.has(j)) continue;
        const [qa, qb] = [qh.data[t * d + ch(j, false)]!, qh.data[t * d + ch(j, true)]!];
        qm[t * d + ch(j, false)] = mean.cos[j]! * qa - mean.sin[j]! * qb;
        qm[t * d + ch(j, true)] = mean.sin[j]! * qa + mean.cos[j]! * qb;
      }
    }
    return matmul(applyRotary(new Tensor(qm, [T, d]), a, { layout }), applyRotary(kh, a, { layout }), { transposeB: true }).data as Float64Array;
  };
  const all = new Set(Array.from({ length: P }, (_, j) => j));
  return Array.from({ length: Hkv }, (_, g) =>
    Array.from({ length: P }, (_, j) => {
      if (chosen[g]!.includes(j)) return 0;
      let total = 0;
      for (let n = 0; n < N; n++) {
        for (let h = g * G; h < (g + 1) * G; h++) {
          const qh = row(q, H, n, h);
          const kh = row(k, Hkv, n, g);
          const A = logits(qh, kh, all);
          const L = logits(qh, kh, new Set([...chosen[g]!, j]));
          for (let m = 0; m < T; m++) for (let t = 0; t <= m; t++) total += Math.abs(L[m * T + t]! - A[m * T + t]!) / Math.sqrt(d);
        }
      }
      return total / (T * T * N * G); // the reference's mean over all T×T entries (masked ones are 0)
    }),
  );
}

// ── RoPElite ──

test('RoPElite: D_j of rounds 0 and 1 equal a brute-force search over full logits, the picks are their argmin, and selections nest', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom<PairLayout>('half', 'interleaved'), fc.constantFrom([2, 1], [2, 2], [4, 2]), fc.constantFrom('nope', 'mean' as const), (s, layout, [H, Hkv], rest) => {
      const g = new Generator(s);
      const d = 8;
      const q = randn([2, H!, 6, d], { dtype: 'float64', generator: g });
      const k = randn([2, Hkv!, 6, d], { dtype: 'float64', generator: g });
      const invFreq = ropeInvFreq(d, 3);
      const full = ropeliteSelect(q, k, invFreq, layout, { rest });
      const mean = rest === 'mean' ? meanRotation(invFreq, 6) : undefined;
      let chosen: number[][] = Array.from({ length: Hkv! }, () => []);
      for (const round of [0, 1]) {
        const brute = bruteDistances(q, k, invFreq, layout, chosen, mean);
        for (let h = 0; h < Hkv!; h++) {
          assert.ok(maxDiff(full.distances[round]![h]!, brute[h]!) <= 1e-12 * (1 + Math.max(...brute[h]!)), `round ${round} head ${h}`);
          const candidates = brute[h]!.map((v, j) => [v, j] as const).filter(([, j]) => !chosen[h]!.includes(j));
          const best = candidates.reduce((a, b) => (b[0] < a[0] ? b : a));
          assert.is(full.pairs[h]![round], best[1], `round ${round} head ${h} picks the argmin`);
        }
        chosen = full.pairs.map((p) => p.slice(0, round + 1));
      }
      for (const p of full.pairs) assert.equal([...p].sort((a, b) => a - b), [0, 1, 2, 3], 'P rounds rank every pair once');
      const two = ropeliteSelect(q, k, invFreq, layout, { rounds: 2, rest });
      assert.equal(two.pairs, full.pairs.map((p) => p.slice(0, 2)), 'S_2 is the prefix of the full ranking (S_r ⊂ S_{r+1})');
    }),
    fcParams(8),
  );
});

test('RoPElite: ties go to the lower index (all-zero queries make every D_j 0)', () => {
  const q = new Tensor(new Float64Array(1 * 2 * 3 * 6), [1, 2, 3, 6]);
  const k = randn([1, 1, 3, 6], { dtype: 'float64', generator: new Generator(1) });
  assert.equal(ropeliteSelect(q, k, ropeInvFreq(6, 10), 'half').pairs, [[0, 1, 2]]);
});

test('uniformElitePairs: torch.linspace(0, P−1, r, dtype=int) as its CPU kernel computes it (double step, two halves, truncation)', () => {
  assert.equal(uniformElitePairs(64, 12), [0, 5, 11, 17, 22, 28, 34, 40, 45, 51, 57, 63]);
  assert.equal(uniformElitePairs(16, 4), [0, 5, 10, 15]);
  assert.equal(uniformElitePairs(16, 3), [0, 7, 15]);
  assert.equal(uniformElitePairs(16, 6), [0, 3, 6, 9, 12, 15]);
  assert.equal(uniformElitePairs(16, 16), Array.from({ length: 16 }, (_, j) => j));
  assert.equal(uniformElitePairs(16, 1), [0]);
});

test('meanRotation: the mean of the RoPE logit of unit pair vectors (applyRotary) over the causal entries, each query alike; (1, 0) at T = 1 or θ = 0', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.double({ min: 0, max: 4, noNaN: true }), { minLength: 1, maxLength: 4 }), fc.constantFrom<PairLayout>('half', 'interleaved'), (T, theta, layout) => {
      const P = theta.length;
      const d = 2 * P;
      const got = meanRotation(theta, T);
      const angles = new Tensor(Float64Array.from({ length: T * P }, (_, i) => Math.floor(i / P) * theta[i % P]!), [T, P]);
      const ch = (j: number, second: boolean): number => pairChannel(layout, P, j, second);
      for (let j = 0; j < P; j++) {
        // q = e_a of pair j at every position; k = e_a gives A = 1, B = 0 (logit cos δθ), k = e_b gives A = 0, B = 1 (sin δθ)
        const unit = (second: boolean): Tensor => new Tensor(Float64Array.from({ length: T * d }, (_, i) => (i % d === ch(j, second) ? 1 : 0)), [T, d]);
        const q = applyRotary(unit(false), angles, { layout });
        for (const [second, want] of [[false, got.cos[j]!], [true, got.sin[j]!]] as const) {
          const l = matmul(q, applyRotary(unit(second), angles, { layout }), { transposeB: true }).data;
          let mean = 0;
          for (let m = 0; m < T; m++) for (let t = 0; t <= m; t++) mean += l[m * T + t]! / ((m + 1) * T);
          assert.ok(Math.abs(mean - want) <= 1e-12, `pair ${j} ${second ? 'sin' : 'cos'}: ${mean} vs ${want}`);
        }
      }
    }),
    fcParams(30),
  );
  assert.equal([...meanRotation([0.3, 2, 0], 1).cos, ...meanRotation([0.3, 2, 0], 1).sin], [1, 1, 1, 0, 0, 0], 'T = 1: only δ = 0');
  const still = meanRotation([0], 100);
  assert.ok(Math.abs(still.cos[0]! - 1) <= 1e-12 && still.sin[0] === 0, `θ = 0 never turns: ${still.cos[0]}, ${still.sin[0]}`);
  const fast = meanRotation([Math.PI], 512); // cos δπ alternates ±1: its mean is small
  assert.ok(Math.abs(fast.cos[0]!) < 0.01, `a fast pair's mean vanishes: ${fast.cos[0]}`);
});

// ── conversion ──

test('full rank keeps the attention exact up to the unrotated pairs: EliteKVAttention = attention with each KV head\'s other pairs NoPE', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom<PairLayout>('half', 'interleaved'), pairsArb(2, 2, 2, 1), (s, layout, pairs) => {
      const model = tinyGPT(s % 1000, layout);
      const C = 16;
      const rank = Math.min(C, 2 * (2 * 4 - 2)); // rank(W_kv) of a random 16 × 12 matrix: 12
      const converted = eliteKVConvert(model, { elitePairs: pairs, rank });
      const x = randn([2, 5, C], { dtype: 'float64', generator: new Generator(s) });
      for (let i = 0; i < 2; i++) {
        const got = noGrad(() => elite(converted, i).forward(x)).data;
        const want = partialRopeAttention(mha(model, i), pairs[i]!, x, [0, 1, 2, 3, 4]).data;
        assert.ok(maxDiff(got, want) <= 1e-10, `layer ${i}: ${maxDiff(got, want)}`);
      }
    }),
    fcParams(15),
  );
});

test('meanRotationContext: full rank gives the attention whose non-elite pair terms are c̄·A + s̄·B (meanRotation); T = 1 is the NoPE conversion', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom<PairLayout>('half', 'interleaved'), pairsArb(2, 2, 4, 2), fc.integer({ min: 2, max: 64 }), (s, layout, pairs, context) => {
      // head dim 8 (P = 4, r = 2): two non-elite pairs per head, so their rows' order matters
      const model = new GPT({ ...CONFIG, dim: 32, seed: s % 1000 });
      model.setPositional(new RoPE(8, { base: 100, layout }));
      const rank = 24; // rank(W_kv) of a random 32 × 2·((8 − 4) + 8) matrix
      const converted = eliteKVConvert(model, { elitePairs: pairs, rank, meanRotationContext: context });
      const x = randn([2, 5, 32], { dtype: 'float64', generator: new Generator(s) });
      for (let i = 0; i < 2; i++) {
        const mean = meanRotation((mha(model, i).positional as RoPE).invFreq, context);
        const got = noGrad(() => elite(converted, i).forward(x)).data;
        const want = partialRopeAttention(mha(model, i), pairs[i]!, x, [0, 1, 2, 3, 4], mean).data;
        assert.ok(maxDiff(got, want) <= 1e-10, `layer ${i}: ${maxDiff(got, want)}`);
      }
      const nope = eliteKVConvert(model, { elitePairs: pairs, rank });
      const one = eliteKVConvert(model, { elitePairs: pairs, rank, meanRotationContext: 1 });
      assert.equal(one.stateDict()['blocks.0.attn.wq.weight']!.data, nope.stateDict()['blocks.0.attn.wq.weight']!.data, 'T = 1: (c̄, s̄) = (1, 0), the NoPE conversion');
    }),
    fcParams(10),
  );
});

test('attentionMeanRotation: the rotation averaged under each head\'s causal softmax of the full RoPE logits (applyRotary oracle); zero queries give meanRotation', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom<PairLayout>('half', 'interleaved'), fc.integer({ min: 1, max: 7 }), (s, layout, T) => {
      const [N, H, Hkv, d] = [2, 4, 2, 6];
      const P = d / 2;
      const g = new Generator(s);
      const q = randn([N, H, T, d], { dtype: 'float64', generator: g }).mul(2);
      const k = randn([N, Hkv, T, d], { dtype: 'float64', generator: g });
      const invFreq = ropeInvFreq(d, 7);
      const angles = new Tensor(Float64Array.from({ length: T * P }, (_, i) => Math.floor(i / P) * invFreq[i % P]!), [T, P]);
      const qr = applyRotary(q, angles, { layout });
      const kr = applyRotary(k, angles, { layout });
      const got = attentionMeanRotation(q, k, invFreq, layout);
      assert.is(got.length, H);
      for (let h = 0; h < H; h++) {
        const want = { cos: new Float64Array(P), sin: new Float64Array(P) };
        for (let n = 0; n < N; n++) {
          for (let m = 0; m < T; m++) {
            const logits = Array.from({ length: m + 1 }, (_, t) => {
              let dot = 0;
              for (let i = 0; i < d; i++) dot += qr.data[((n * H + h) * T + m) * d + i]! * kr.data[((n * Hkv + Math.floor(h / 2)) * T + t) * d + i]!;
              return dot / Math.sqrt(d);
            });
            const top = Math.max(...logits);
            const w = logits.map((z) => Math.exp(z - top));
            const Z = w.reduce((a, b) => a + b, 0);
            for (let t = 0; t <= m; t++) {
              for (let j = 0; j < P; j++) {
                want.cos[j] += (w[t]! / Z) * Math.cos((m - t) * invFreq[j]!) / (N * T);
                want.sin[j] += (w[t]! / Z) * Math.sin((m - t) * invFreq[j]!) / (N * T);
              }
            }
          }
        }
        assert.ok(maxDiff(got[h]!.cos, want.cos) <= 1e-12 && maxDiff(got[h]!.sin, want.sin) <= 1e-12, `head ${h}`);
      }
      const uniform = attentionMeanRotation(q.mul(0), k, invFreq, layout);
      const mean = meanRotation(invFreq, T);
      for (const rot of uniform) assert.ok(maxDiff(rot.cos, mean.cos) <= 1e-12 && maxDiff(rot.sin, mean.sin) <= 1e-12, 'zero queries: uniform attention');
    }),
    fcParams(20),
  );
});

/** Scale every layer's wq and wk by 20, so that the logits, and any error in them, move the attention (at init they barely do). */
const sharpen = (model: GPT): void => {
  model.blocks.forEach((_, i) => {
    for (const w of [mha(model, i).wq.weight.data, mha(model, i).wk.weight.data]) for (let j = 0; j < w.length; j++) w[j] = w[j]! * 20;
  });
};

/** Per KV head, W_k's rows of that head (d channels, the source layout) times m: the keys' mean for inputs of mean m. */
const keyMeansOf = (src: MultiHeadAttention, m: Tensor): Float64Array[] =>
  Array.from({ length: src.numKVHeads }, (_, g) => Float64Array.from({ length: src.headDim }, (_, ch) => {
    let sum = 0;
    for (let x = 0; x < src.dim; x++) sum += src.wk.weight.data[(g * src.headDim + ch) * src.dim + x]! * m.data[x]!;
    return sum;
  }));

test('restRotation + inputMean: full rank gives the attention whose non-elite pair terms are c̄_h·A + s̄_h·B plus the mean key\'s rotated product', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom<PairLayout>('half', 'interleaved'), pairsArb(2, 2, 4, 2), (s, layout, pairs) => {
      const model = new GPT({ ...CONFIG, dim: 32, seed: s % 1000 });
      model.setPositional(new RoPE(8, { base: 100, layout }));
      sharpen(model);
      const g = new Generator(s);
      const restRotation = [0, 1].map(() => [0, 1, 2, 3].map(() => ({ cos: Float64Array.from({ length: 4 }, () => 2 * g.random() - 1), sin: Float64Array.from({ length: 4 }, () => 2 * g.random() - 1) })));
      const inputMean = [0, 1].map(() => randn([32], { dtype: 'float64', generator: g }));
      const converted = eliteKVConvert(model, { elitePairs: pairs, rank: 24, restRotation, inputMean });
      const x = randn([2, 5, 32], { dtype: 'float64', generator: g });
      const positions = [3, 4, 5, 6, 7];
      for (let i = 0; i < 2; i++) {
        const layer = elite(converted, i);
        assert.ok(layer.keyMean !== null && layer.wqRest !== null, 'mean-key parameters');
        const got = noGrad(() => layer.forward(x, { positions: arange(3, 8, 1, { dtype: 'float64' }) })).data;
        const want = partialRopeAttention(mha(model, i), pairs[i]!, x, positions, restRotation[i]!, keyMeansOf(mha(model, i), inputMean[i]!)).data;
        assert.ok(maxDiff(got, want) <= 1e-10, `layer ${i}: ${maxDiff(got, want)}`);
      }
      // the same rotation for every head is meanRotationContext's conversion
      const mean = meanRotation((mha(model, 0).positional as RoPE).invFreq, 40);
      const perHead = eliteKVConvert(model, { elitePairs: pairs, rank: 24, restRotation: [0, 1].map(() => [0, 1, 2, 3].map(() => mean)) });
      const byContext = eliteKVConvert(model, { elitePairs: pairs, rank: 24, meanRotationContext: 40 });
      assert.equal(perHead.stateDict()['blocks.1.attn.wq.weight']!.data, byContext.stateDict()['blocks.1.attn.wq.weight']!.data);
    }),
    fcParams(8),
  );
});

test('mean keys are exact when every key\'s non-elite channels are constant: the full-rank conversion gives the original attention (and without them it does not)', () => {
  const model = tinyGPT(5);
  sharpen(model);
  const src = mha(model, 0);
  const pairs = [[[1], [0]], [[0], [1]]];
  // the non-elite pair of each KV head reads only input channel 0, which the inputs hold at 1: its key is one constant
  for (let g = 0; g < 2; g++) {
    const rest = 1 - pairs[0]![g]![0]!;
    for (const ch of [rest, rest + 2]) for (let x = 1; x < 16; x++) src.wk.weight.data[(g * 4 + ch) * 16 + x] = 0;
  }
  const x = randn([2, 6, 16], { dtype: 'float64', generator: new Generator(9) });
  for (let i = 0; i < 12; i++) x.data[i * 16] = 1;
  const inputMean = [x.reshape([12, 16]).mean(0), x.reshape([12, 16]).mean(0)];
  const want = noGrad(() => src.forward(x)).data;
  for (const rotation of [{ meanRotationContext: 30 }, {}]) {
    const converted = eliteKVConvert(model, { elitePairs: pairs, rank: 12, inputMean, ...rotation });
    const got = noGrad(() => elite(converted, 0).forward(x)).data;
    assert.ok(maxDiff(got, want) <= 1e-10, `${JSON.stringify(rotation)}: ${maxDiff(got, want)}`);
  }
  const without = eliteKVConvert(model, { elitePairs: pairs, rank: 12 });
  assert.ok(maxDiff(noGrad(() => elite(without, 0).forward(x)).data, want) > 1e-3, 'NoPE alone loses the constant key\'s rotation');
});

test('mean keys: decoding with a cache (explicit and absorbed) gives the full forward, the output depends only on relative positions, and the cache holds c + 2·r·Hkv', () => {
  for (const pairs of [[[1, 3], [0, 2]], [[0, 1, 2, 3], [3, 2, 1, 0]]]) {
    const make = (mode: 'explicit' | 'absorbed'): EliteKVAttention => {
      const layer = new EliteKVAttention(16, {
        numHeads: 4, numKVHeads: 2, headDim: 8, elitePairs: pairs, rank: 5, positional: new RoPE(8, { base: 10 }), generator: new Generator(6), dtype: 'float64', mode, meanKey: true,
      });
      if (layer.keyMean !== null) layer.keyMean.data.set(randn(layer.keyMean.shape, { dtype: 'float64', generator: new Generator(2) }).data);
      return layer;
    };
    const [layer, absorbed] = [make('explicit'), make('absorbed')];
    const r = pairs[0]!.length;
    assert.is(layer.keyMean === null, r === 4, 'no mean key when every pair is elite');
    const xs = randn([2, 9, 16], { dtype: 'float64', generator: new Generator(8) });
    const whole = noGrad(() => layer.forward(xs)).data;
    for (const l of [layer, absorbed]) {
      const cache = l.newCache();
      const steps = noGrad(() => [l.forward(xs.narrow(1, 0, 5), { cache, positions: arange(0, 5, 1, { dtype: 'float64' }) }), ...[5, 6, 7, 8].map((t) => l.forward(xs.narrow(1, t, 1), { cache }))]);
      assert.ok(maxDiff(concat(steps, 1).data, whole) <= 1e-12, `${l.mode} decoding: ${maxDiff(concat(steps, 1).data, whole)}`);
      const recorded = l.newCache(); // with gradients on, the rotated mean keys come from applyRotary instead of the angle-addition steps
      const gradSteps = [l.forward(xs.narrow(1, 0, 5), { cache: recorded }), ...[5, 6, 7, 8].map((t) => l.forward(xs.narrow(1, t, 1), { cache: recorded }))];
      assert.ok(maxDiff(concat(gradSteps, 1).data, whole) <= 1e-12, `${l.mode} decoding with gradients: ${maxDiff(concat(gradSteps, 1).data, whole)}`);
      assert.is(cache.numbersPerToken, 5 + 2 * r * 2);
      assert.is(l.cacheNumbersPerToken, 5 + 2 * r * 2);
    }
    // a sliding cache of 4 (a step attends to the 4 kept and the new one): the last step sees tokens 4…8, as a fresh call at positions 4…8 does
    const fresh = noGrad(() => layer.forward(xs.narrow(1, 4, 5), { positions: arange(4, 9, 1, { dtype: 'float64' }) }).narrow(1, 4, 1)).data;
    for (const gradients of [false, true]) {
      const sliding = layer.newCache({ maxLength: 4 });
      const decode = (): Tensor => [0, 1, 2, 3, 4, 5, 6, 7, 8].map((t) => layer.forward(xs.narrow(1, t, 1), { cache: sliding })).at(-1)!;
      const last = (gradients ? decode() : noGrad(decode)).data;
      assert.ok(maxDiff(last, fresh) <= 1e-12, `sliding cache, gradients ${gradients}: ${maxDiff(last, fresh)}`);
    }
    const shifted = noGrad(() => layer.forward(xs, { positions: arange(40, 49, 1, { dtype: 'float64' }) })).data;
    const perSequence = noGrad(() => absorbed.forward(xs, { positions: new Tensor(Float64Array.from({ length: 18 }, (_, i) => (i < 9 ? 7 : 100) + (i % 9)), [2, 9]) })).data;
    assert.ok(maxDiff(shifted, whole) <= 1e-10, `shift: ${maxDiff(shifted, whole)}`);
    assert.ok(maxDiff(perSequence, whole) <= 1e-10, `per-sequence shifts: ${maxDiff(perSequence, whole)}`);
  }
});

test('every pair elite + full rank: the converted GQA GPT gives the original logits (1e-10); the original is untouched', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e6 }), fc.constantFrom<PairLayout>('half', 'interleaved'), pairsArb(2, 2, 2, 2), (s, layout, pairs) => {
      const model = tinyGPT(s % 1000, layout);
      const before = Object.fromEntries(Object.entries(model.stateDict()).map(([name, t]) => [name, Array.from(t.data)]));
      const x = ids(12, s);
      const want = noGrad(() => model.forward(x)).data;
      const converted = eliteKVConvert(model, { elitePairs: pairs, rank: 8 }); // W_kv: [16, 2·4], rank 8
      assert.ok(converted instanceof GPT && converted !== model);
      assert.ok(converted.blocks.every((b) => b.attn instanceof EliteKVAttention));
      assert.ok(model.blocks.every((b) => b.attn instanceof MultiHeadAttention), 'the input keeps its attention');
      assert.ok(maxDiff(noGrad(() => converted.forward(x)).data, want) <= 1e-10);
      for (const [name, t] of Object.entries(model.stateDict())) assert.equal(Array.from(t.data), before[name], `${name} unchanged`);
    }),
    fcParams(10),
  );
});

test('J-LRD: kvB·kvA = W_kvᵀ exactly at c = rank(W_kv); below it, ‖W_kv − W_c‖²_F = Σ discarded s² (Eckart–Young), falling in c', () => {
  const model = tinyGPT(5);
  const pairs = [[[1], [0]], [[0], [1]]];
  const src = mha(model, 0);
  const w = jointKV(src, pairs[0]!); // [16, 12]
  const s = Array.from(svd(new Tensor(w, [16, 12])).s.data);
  let last = Infinity;
  for (let c = 1; c <= 12; c++) {
    const layer = elite(eliteKVConvert(model, { elitePairs: pairs, rank: c }), 0);
    const approx = matmul(layer.kvB.weight, layer.kvA.weight).data; // [12, 16] = W_cᵀ
    let err = 0;
    for (let i = 0; i < 16; i++) for (let j = 0; j < 12; j++) err += (approx[j * 16 + i]! - w[i * 12 + j]!) ** 2;
    const discarded = s.slice(c).reduce((a, v) => a + v * v, 0);
    assert.ok(Math.abs(err - discarded) <= 1e-10 * (1 + discarded), `c=${c}: error² ${err} vs Σ discarded s² ${discarded}`);
    assert.ok(err < last || (err <= 1e-20 && last <= 1e-20), `c=${c}: error decreases`);
    last = err;
  }
  assert.ok(last <= 1e-20, 'c = rank(W_kv) = 12 reproduces [k_nope, v] exactly');
});

test('J-LRD on inputs (inputCovariance): the rank-c map closest on the calibration inputs, never worse there than the weight SVD; Σ = I gives the reference\'s map', () => {
  const model = tinyGPT(9);
  const pairs = [[[1], [0]], [[0], [1]]];
  const src = mha(model, 0);
  const w = jointKV(src, pairs[0]!); // W_kv [16, 12]
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 11 }), fc.integer({ min: 0, max: 1e6 }), (c, seed) => {
      // anisotropic inputs: a few directions dominate, so the input-aware map differs from the weight SVD's
      const g = new Generator(seed);
      const mix = randn([16, 16], { dtype: 'float64', generator: g }).data.map((v, i) => v * (i % 16 < 3 ? 10 : 0.3));
      const X = matmul(randn([200, 16], { dtype: 'float64', generator: g }), new Tensor(mix, [16, 16])); // [N, C]
      const sigma = matmul(X, X, { transposeA: true }).mul(1 / 200); // [C, C]
      const covariance = [sigma, sigma];
      const onInputs = (layer: EliteKVAttention): number => {
        const wc = matmul(layer.kvB.weight, layer.kvA.weight).data; // [12, 16] ≈ W_kvᵀ
        let err = 0;
        for (let nIdx = 0; nIdx < 200; nIdx++) {
          for (let j = 0; j < 12; j++) {
            let e = 0;
            for (let i = 0; i < 16; i++) e += (wc[j * 16 + i]! - w[i * 12 + j]!) * X.data[nIdx * 16 + i]!;
            err += e * e;
          }
        }
        return err / 200;
      };
      const plain = onInputs(elite(eliteKVConvert(model, { elitePairs: pairs, rank: c }), 0));
      const aware = onInputs(elite(eliteKVConvert(model, { elitePairs: pairs, rank: c, inputCovariance: covariance }), 0));
      assert.ok(aware <= plain * (1 + 1e-9) + 1e-12, `c=${c}: input-aware error ${aware} > weight-SVD error ${plain}`);
      if (c <= 6) assert.ok(aware < 0.9 * plain, `c=${c}: on anisotropic inputs the input-aware map is clearly closer (${aware} vs ${plain})`);
    }),
    fcParams(20),
  );
  const eye = new Tensor(Float64Array.from({ length: 256 }, (_, i) => (i % 17 === 0 ? 1 : 0)), [16, 16]);
  for (const c of [3, 12]) {
    const ref = elite(eliteKVConvert(model, { elitePairs: pairs, rank: c }), 0);
    const withI = elite(eliteKVConvert(model, { elitePairs: pairs, rank: c, inputCovariance: [eye, eye] }), 0);
    const a = matmul(ref.kvB.weight, ref.kvA.weight).data;
    const b = matmul(withI.kvB.weight, withI.kvA.weight).data;
    assert.ok(maxDiff(a, b) <= 1e-9, `c=${c}: Σ = I gives the reference's W_c (${maxDiff(a, b)})`);
  }
  assertRefused(() => eliteKVConvert(model, { elitePairs: pairs, rank: 3, inputCovariance: [eye] }), ShapeError, 'eliteKVConvert', { arg: 'inputCovariance' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: pairs, rank: 3, inputCovariance: [eye, randn([16, 15], { dtype: 'float64' })] }), ShapeError, 'eliteKVConvert', { arg: 'inputCovariance' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: pairs, rank: 3, inputCovariance: [eye, eye.mul(-1)] }), ValueError, 'eliteKVConvert');
});

test('the converted attention depends only on relative positions: shifting every position by n changes nothing', () => {
  const model = tinyGPT(7, 'interleaved');
  const converted = eliteKVConvert(model, { elitePairs: [[[1], [0]], [[0], [1]]], rank: 5 });
  const layer = elite(converted, 1);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10000 }), fc.integer({ min: 0, max: 1e6 }), (n, s) => {
      const x = randn([2, 6, 16], { dtype: 'float64', generator: new Generator(s) });
      const at0 = noGrad(() => layer.forward(x)).data;
      const shifted = noGrad(() => layer.forward(x, { positions: arange(n, n + 6, 1, { dtype: 'float64' }) })).data;
      const batched = noGrad(() => layer.forward(x, { positions: new Tensor(Float64Array.from({ length: 12 }, (_, i) => n * (i < 6 ? 1 : 2) + (i % 6)), [2, 6]) })).data;
      assert.ok(maxDiff(shifted, at0) <= 1e-9, `shift ${n}: ${maxDiff(shifted, at0)}`);
      assert.ok(maxDiff(batched, at0) <= 1e-9, `per-sequence shifts: ${maxDiff(batched, at0)}`);
    }),
    fcParams(30),
  );
});

test('decoding with the caches (prefill, then one token at a time) gives the full forward\'s logits; generate uses them', () => {
  const model = tinyGPT(11);
  const converted = eliteKVConvert(model, { elitePairs: [[[1], [0]], [[0], [1]]], rank: 6 });
  const x = ids(20, 4);
  const full = noGrad(() => converted.forward(x)).data;
  const caches = converted.newCaches();
  assert.ok(caches.every((c) => c instanceof LatentKVCache));
  const got: number[] = [];
  noGrad(() => {
    got.push(...converted.forward(new Tensor(x.data.slice(0, 8), [1, 8]), { caches }).data);
    for (let t = 8; t < 20; t++) got.push(...converted.forward(new Tensor(x.data.slice(t, t + 1), [1, 1]), { caches }).data);
  });
  assert.ok(maxDiff(got, full) <= 1e-10, `${maxDiff(got, full)}`);
  // the layer alone: positions continue from its cache when none are given
  const layer = elite(converted, 1);
  const xs = randn([2, 9, 16], { dtype: 'float64', generator: new Generator(8) });
  const whole = noGrad(() => layer.forward(xs)).data;
  const cache = layer.newCache();
  const steps = noGrad(() => [layer.forward(xs.narrow(1, 0, 5), { cache }), ...[5, 6, 7, 8].map((t) => layer.forward(xs.narrow(1, t, 1), { cache }))]);
  const stitched = concat(steps, 1).data;
  assert.ok(maxDiff(stitched, whole) <= 1e-10, `layer decoding: ${maxDiff(stitched, whole)}`);
  assert.is(cache.position, 9);
  // greedy generation with caches = greedy argmax over full forwards
  const prompt = [1, 2, 3, 4];
  const seq = [...prompt];
  for (let i = 0; i < 6; i++) {
    const logits = noGrad(() => converted.forward(new Tensor(Float64Array.from(seq), [1, seq.length]))).data.slice(-13);
    seq.push(logits.indexOf(Math.max(...logits)));
  }
  assert.equal(generate(converted, prompt, { maxNewTokens: 6, temperature: 0 }), seq.slice(prompt.length));
});

test('absorbed mode: scoring and averaging the latents gives the explicit mode\'s output, full and decoding, with and without non-rotary channels', () => {
  for (const pairs of [[[1], [0]], [[0, 1], [1, 0]]]) {
    const layer = new EliteKVAttention(16, {
      numHeads: 4, numKVHeads: 2, headDim: 4, elitePairs: pairs, rank: 5, positional: new RoPE(4, { base: 10 }), generator: new Generator(6), dtype: 'float64',
    });
    const absorbed = new EliteKVAttention(16, {
      numHeads: 4, numKVHeads: 2, headDim: 4, elitePairs: pairs, rank: 5, positional: new RoPE(4, { base: 10 }), generator: new Generator(6), dtype: 'float64', mode: 'absorbed',
    });
    assert.is(layer.mode, 'explicit');
    assert.is(absorbed.mode, 'absorbed');
    const xs = randn([2, 9, 16], { dtype: 'float64', generator: new Generator(8) });
    const positions = new Tensor(Float64Array.from({ length: 18 }, (_, i) => (i < 9 ? i + 3 : 2 * (i - 9))), [2, 9]);
    const want = noGrad(() => layer.forward(xs, { positions })).data;
    assert.ok(maxDiff(noGrad(() => absorbed.forward(xs, { positions })).data, want) <= 1e-12, 'full forward');
    const cache = absorbed.newCache();
    const steps = noGrad(() => [absorbed.forward(xs.narrow(1, 0, 5), { cache }), ...[5, 6, 7, 8].map((t) => absorbed.forward(xs.narrow(1, t, 1), { cache }))]);
    layer.mode = 'explicit';
    assert.ok(maxDiff(concat(steps, 1).data, noGrad(() => layer.forward(xs)).data) <= 1e-12, 'absorbed decoding = explicit full forward');
    layer.mode = 'absorbed';
    assert.ok(maxDiff(noGrad(() => layer.forward(xs, { positions })).data, want) <= 1e-12, 'the setter switches the same weights');
    const x = randn([1, 3, 16], { dtype: 'float64', generator: new Generator(5), requiresGrad: true });
    gradcheck((input) => layer.forward(input!).square().sum(), [x], { atol: 1e-6, rtol: 1e-5 });
    gradcheck(() => layer.forward(x.detach()).square().sum(), layer.parameters(), { atol: 1e-6, rtol: 1e-5 });
  }
  // a converted GPT decodes the same in either mode
  const converted = eliteKVConvert(tinyGPT(11), { elitePairs: [[[1], [0]], [[0], [1]]], rank: 6 });
  const explicitTokens = generate(converted, [1, 2, 3, 4], { maxNewTokens: 6, temperature: 0 });
  converted.blocks.forEach((_, i) => (elite(converted, i).mode = 'absorbed'));
  assert.equal(generate(converted, [1, 2, 3, 4], { maxNewTokens: 6, temperature: 0 }), explicitTokens);
});

test('cache ratio: (c + 2·r·Hkv)/(2·Hkv·d) is what the caches hold per token per layer after decoding, against plain KVCaches', () => {
  const model = tinyGPT(2);
  for (const [r, c] of [[1, 3], [2, 8], [1, 12]] as const) {
    const pairs = [0, 1].map(() => [0, 1].map(() => uniformElitePairs(2, r)));
    const converted = eliteKVConvert(model, { elitePairs: pairs, rank: c });
    const caches = converted.newCaches();
    const plain = model.newCaches();
    noGrad(() => {
      converted.forward(ids(7, 1), { caches });
      model.forward(ids(7, 1), { caches: plain });
    });
    const ratio = eliteKVCacheRatio({ rank: c, elitePairs: r, numKVHeads: 2, headDim: 4 });
    assert.is(ratio, (c + 2 * r * 2) / (2 * 2 * 4));
    caches.forEach((cache, i) => {
      const lat = cache as LatentKVCache;
      const held = lat.latents!.size + lat.ropeKeys!.size;
      const plainHeld = plain[i]!.keys!.size + plain[i]!.values!.size;
      assert.is(held / 7, c + 2 * r * 2, `layer ${i}: c + 2·r·Hkv numbers per token`);
      assert.is(plainHeld / 7, 2 * 2 * 4, 'plain: 2·Hkv·d');
      assert.is(held / plainHeld, ratio);
      assert.is(lat.numbersPerToken, elite(converted, i).cacheNumbersPerToken);
    });
  }
});

test('gradcheck (float64): EliteKVAttention.forward w.r.t. its input and every parameter, with and without non-rotary channels and mean keys', () => {
  for (const [pairs, meanKey, mode] of [[[[1]], false, 'explicit'], [[[0, 1]], false, 'explicit'], [[[1]], true, 'explicit'], [[[1]], true, 'absorbed']] as const) {
    const layer = new EliteKVAttention(8, {
      numHeads: 2, numKVHeads: 1, headDim: 4, elitePairs: pairs, rank: 3, positional: new RoPE(4, { base: 10 }), generator: new Generator(4), dtype: 'float64', meanKey, mode,
    });
    if (layer.keyMean !== null) layer.keyMean.data.set([0.7, -1.2]);
    assert.is(layer.parameters().length, meanKey ? 7 : 5);
    const x = randn([2, 3, 8], { dtype: 'float64', generator: new Generator(5), requiresGrad: true });
    const positions = new Tensor(Float64Array.of(2, 3, 4, 7, 8, 9), [2, 3]);
    gradcheck((input) => layer.forward(input!, { positions }).square().sum(), [x], { atol: 1e-6, rtol: 1e-5 });
    gradcheck(() => layer.forward(x.detach()).square().sum(), layer.parameters(), { atol: 1e-6, rtol: 1e-5 });
  }
});

// ── refusals ──

test('refusals: typed errors named after the call and the argument', () => {
  const q = randn([1, 2, 3, 4], { dtype: 'float64' });
  const k = randn([1, 1, 3, 4], { dtype: 'float64' });
  const f = ropeInvFreq(4, 10);
  assertRefused(() => ropeliteSelect(q, k, f.slice(0, 1), 'half'), ShapeError, 'ropeliteSelect', { arg: 'invFreq' });
  assertRefused(() => ropeliteSelect(q, randn([1, 3, 3, 4]), f, 'half'), ShapeError, 'ropeliteSelect', { arg: 'k' });
  assertRefused(() => ropeliteSelect(q, k, f, 'half', { rounds: 3 }), ValueError, 'ropeliteSelect', { arg: 'rounds' });
  assertRefused(() => ropeliteSelect(q, k, [NaN, 1], 'half'), ValueError, 'ropeliteSelect', { arg: 'invFreq' });
  assertRefused(() => ropeliteSelect(q, k, f, 'sideways' as PairLayout), ValueError, 'ropeliteSelect', { arg: 'layout' });
  assertRefused(() => ropeliteSelect(q, k, f, 'half', { rest: 'zero' as never }), ValueError, 'ropeliteSelect', { arg: 'rest' });
  assertRefused(() => meanRotation(null as never, 4), DTypeError, 'meanRotation', { arg: 'invFreq' });
  assertRefused(() => meanRotation([1, Infinity], 4), ValueError, 'meanRotation', { arg: 'invFreq' });
  assertRefused(() => meanRotation(f, 0), ValueError, 'meanRotation', { arg: 'context' });
  assertRefused(() => meanRotation(f, 2.5), ValueError, 'meanRotation', { arg: 'context' });
  assertRefused(() => meanRotation(f, 2 ** 30), ValueError, 'meanRotation', { arg: 'context' });
  assertRefused(() => uniformElitePairs(4, 5), ValueError, 'uniformElitePairs', { arg: 'r' });
  assertRefused(() => eliteKVCacheRatio({ rank: 4, elitePairs: 1, numKVHeads: 2, headDim: 5 }), ValueError, 'eliteKVCacheRatio', { arg: 'headDim' });
  assertRefused(() => eliteKVCacheRatio({ rank: 4, elitePairs: 3, numKVHeads: 2, headDim: 4 }), ValueError, 'eliteKVCacheRatio', { arg: 'elitePairs' });

  const model = tinyGPT(1);
  assertRefused(() => eliteKVConvert(model, { elitePairs: [[[0], [1]]], rank: 4 }), ShapeError, 'eliteKVConvert', { arg: 'elitePairs', words: ['2 layers'] });
  assertRefused(() => eliteKVConvert(model, { elitePairs: [[[0], [1, 0]], [[0], [1]]], rank: 4 }), ShapeError, 'eliteKVConvert', { arg: 'elitePairs[0]' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: [[[0], [2]], [[0], [1]]], rank: 4 }), ValueError, 'eliteKVConvert', { arg: 'elitePairs[0]' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: [[[0], [1]], [[0, 1], [1, 0]]], rank: 4 }), ShapeError, 'eliteKVConvert', { arg: 'elitePairs' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: [[[0], [1]], [[0], [1]]], rank: 13 }), ValueError, 'eliteKVConvert', { arg: 'rank' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: [[[0], [1]], [[0], [1]]], rank: 4, meanRotationContext: 0 }), ValueError, 'eliteKVConvert', { arg: 'meanRotationContext' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: [[[0], [1]], [[0], [1]]], rank: 4, meanRotationContext: NaN }), ValueError, 'eliteKVConvert', { arg: 'meanRotationContext' });
  assertRefused(() => eliteKVConvert(new GPT({ ...CONFIG, positional: 'nope' }), { elitePairs: [[[0], [1]], [[0], [1]]], rank: 4 }), ValueError, 'eliteKVConvert', { arg: 'model', words: ['not a RoPE'] });
  assertRefused(() => eliteKVConvert({ blocks: [], config: {} } as never, { elitePairs: [], rank: 4 }), DTypeError, 'eliteKVConvert', { arg: 'model' });
  const converted = eliteKVConvert(model, { elitePairs: [[[0], [1]], [[0], [1]]], rank: 4 });
  assertRefused(() => eliteKVConvert(converted, { elitePairs: [[[0], [1]], [[0], [1]]], rank: 4 }), ValueError, 'eliteKVConvert', { arg: 'model', words: ['already'] });
  const biased = tinyGPT(1);
  biased.blocks[1]!.attn = new MultiHeadAttention(16, { numHeads: 4, numKVHeads: 2, bias: true, positional: new RoPE(4, { base: 100 }), dtype: 'float64' });
  assertRefused(() => eliteKVConvert(biased, { elitePairs: [[[0], [1]], [[0], [1]]], rank: 4 }), ValueError, 'eliteKVConvert', { arg: 'model', words: ['bias'] });

  // the converted model's caches and positional encodings
  assertRefused(() => converted.forward(ids(3, 1), { caches: [new KVCache(), new KVCache()] }), DTypeError, 'GPT.forward', { arg: 'caches', words: ['LatentKVCache'] });
  const caches = converted.newCaches();
  noGrad(() => converted.forward(ids(3, 1), { caches }));
  assertRefused(() => converted.forward(new Tensor(new Float64Array(6), [2, 3]), { caches }), ShapeError, 'GPT.forward', { arg: 'caches', words: ['batch of 2'] });
  assertRefused(() => converted.setPositional('rope'), ValueError, 'GPT.setPositional', { arg: 'positional', words: ['EliteKV'] });

  // the layer itself
  const layer = elite(converted, 0);
  const x = randn([1, 3, 16], { dtype: 'float64' });
  assertRefused(() => layer.forward(x, { mask: null } as never), ValueError, 'EliteKVAttention.forward', { arg: 'options.mask' });
  assertRefused(() => layer.forward(x, { positions: arange(0, 4, 1, { dtype: 'float64' }) }), ShapeError, 'EliteKVAttention.forward', { arg: 'positions' });
  assertRefused(() => layer.forward(x, { cache: new LatentKVCache({ kvLoraRank: 4, qkRopeHeadDim: 4, ropeKeyHeads: 2 }) }), ShapeError, 'EliteKVAttention.forward', { arg: 'cache' });
  assertRefused(() => layer.forward(x.cast('float32')), DTypeError, 'EliteKVAttention.forward', { arg: 'x' });
  const opts = { numHeads: 4, numKVHeads: 2, elitePairs: [[0], [1]], rank: 4, positional: new RoPE(4) };
  assertRefused(() => new EliteKVAttention(16, { ...opts, elitePairs: [[0], [1], [0]] }), ShapeError, 'EliteKVAttention', { arg: 'elitePairs' });
  assertRefused(() => new EliteKVAttention(16, { ...opts, elitePairs: [[0], [0, 1]] }), ShapeError, 'EliteKVAttention', { arg: 'elitePairs' });
  assertRefused(() => new EliteKVAttention(16, { ...opts, positional: new RoPE(4, { rotaryDim: 2 }) }), ValueError, 'EliteKVAttention', { arg: 'positional' });
  assertRefused(() => new EliteKVAttention(16, { ...opts, rank: 0 }), ValueError, 'EliteKVAttention', { arg: 'rank' });
  assertRefused(() => new EliteKVAttention(16, { ...opts, mode: 'fused' as never }), ValueError, 'EliteKVAttention', { arg: 'mode' });
  assertRefused(() => (layer.mode = 'fused' as never), ValueError, 'EliteKVAttention', { arg: 'mode' });
  assert.is(layer.mode, 'explicit', 'a refused mode leaves the layer as it was');
  assertRefused(() => new EliteKVAttention(16, { ...opts, meanKey: 1 as never }), DTypeError, 'EliteKVAttention', { arg: 'meanKey' });

  // mean keys and the rest's rotation
  const two = [[[0], [1]], [[0], [1]]];
  const mean16 = [randn([16], { dtype: 'float64' }), randn([16], { dtype: 'float64' })];
  const rot = { cos: Float64Array.of(1, 0), sin: Float64Array.of(0, 1) };
  const perHead = [0, 1].map(() => [rot, rot, rot, rot]);
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, restRotation: perHead, meanRotationContext: 8 }), ValueError, 'eliteKVConvert', { arg: 'restRotation', words: ['one of them'] });
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, restRotation: [perHead[0]!] }), ShapeError, 'eliteKVConvert', { arg: 'restRotation' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, restRotation: [[rot, rot], [rot, rot]] }), ShapeError, 'eliteKVConvert', { arg: 'restRotation', words: ['query head'] });
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, restRotation: [perHead[0]!, [rot, rot, rot, { cos: Float64Array.of(1), sin: Float64Array.of(0) }]] }), ShapeError, 'eliteKVConvert', { arg: 'restRotation', words: ['restRotation[1][3]'] });
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, restRotation: [perHead[0]!, [rot, rot, rot, { cos: Float64Array.of(1, NaN), sin: Float64Array.of(0, 0) }]] }), ValueError, 'eliteKVConvert', { arg: 'restRotation[1][3].cos' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, restRotation: [perHead[0]!, [rot, rot, rot, null as never]] }), DTypeError, 'eliteKVConvert', { arg: 'restRotation' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, inputMean: [mean16[0]!] }), ShapeError, 'eliteKVConvert', { arg: 'inputMean' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, inputMean: [mean16[0]!, randn([15], { dtype: 'float64' })] }), ShapeError, 'eliteKVConvert', { arg: 'inputMean' });
  assertRefused(() => eliteKVConvert(model, { elitePairs: two, rank: 4, inputMean: [mean16[0]!, new Tensor(new Float64Array(16).fill(Infinity), [16])] }), ValueError, 'eliteKVConvert', { arg: 'inputMean[1]' });
  const withMeanKey = elite(eliteKVConvert(model, { elitePairs: two, rank: 4, inputMean: mean16 }), 0);
  const cache = withMeanKey.newCache();
  noGrad(() => withMeanKey.forward(x, { cache }));
  assertRefused(() => withMeanKey.forward(x, { cache, positions: arange(0, 3, 1, { dtype: 'float64' }) }), ValueError, 'EliteKVAttention.forward', { arg: 'positions', words: ['continue the cache'] });
  assert.is(cache.position, 3, 'a refused call leaves the cache as it was');
  noGrad(() => withMeanKey.forward(x, { cache, positions: arange(3, 6, 1, { dtype: 'float64' }) }));
  assert.is(cache.position, 6);
  assertRefused(() => attentionMeanRotation(q, k, f.slice(0, 1), 'half'), ShapeError, 'attentionMeanRotation', { arg: 'invFreq' });
  assertRefused(() => attentionMeanRotation(q, randn([2, 1, 3, 4]), f, 'half'), ShapeError, 'attentionMeanRotation', { arg: 'k' });
  assertRefused(() => attentionMeanRotation(null as never, k, f, 'half'), DTypeError, 'attentionMeanRotation', { arg: 'q' });
  assertRefused(() => attentionMeanRotation(q, k, f, 'diagonal' as PairLayout), ValueError, 'attentionMeanRotation', { arg: 'layout' });
  const nanQ = q.mul(1);
  nanQ.data[3] = NaN;
  const infK = k.mul(1);
  infK.data[0] = Infinity;
  assertRefused(() => attentionMeanRotation(nanQ, k, f, 'half'), ValueError, 'attentionMeanRotation', { arg: 'q' });
  assertRefused(() => ropeliteSelect(q, infK, f, 'half'), ValueError, 'ropeliteSelect', { arg: 'k' });
});

test.run();
