/**
 * EliteKV (Zhou, Song, Liu, Xi, Jin, Fan, Zhang, Li, Huang 2025; repo CiaranZhou/EliteKV): a RoPE model keeps the
 * rotation only on a few "elite" rotary pairs per KV head (RoPElite, a greedy search), the other pairs become linear
 * (NoPE), and the linear keys and the values are compressed jointly into one cached latent (J-LRD), MLA-like.
 *
 *  - RoPElite round r (`ropeliteSelect`): A = (R q)(R k)ᵀ/√d over causal entries; L_S = logits with only the pairs in
 *    S_r rotated; D_j = mean |L_{S∪{j}} − A| for j ∉ S_r; S_{r+1} = S_r ∪ {argmin_j D_j}.
 *    With per-pair contributions ρ_j (rotated) and u_j (not): L_S = (Σ_j u_j + Σ_{j∈S} Δ_j)/√d, Δ_j = ρ_j − u_j, so
 *    L_{S∪{j}} − A = (Δ_j − Σ_{i∉S} Δ_i)/√d, with Δ_j(m, t) = (cos δθ_j − 1)(q_a k_a + q_b k_b) + sin δθ_j (q_a k_b − q_b k_a),
 *    δ = m − t: each candidate costs one pass over the pairs, never a full logit recomputation. With `rest: 'mean'`,
 *    u_j is the mean rotation's c̄_j·A_j + s̄_j·B_j, so (cos δθ_j − 1, sin δθ_j) become (cos δθ_j − c̄_j, sin δθ_j − s̄_j).
 *  - Split (convert.py `rank_lh_concat`): W_q → [W_q_rope | W_q_nope] per head, W_k → W_k_rope, W_k_nope.
 *  - J-LRD: W_kv = [W_k_nope(1) | W_v(1) | … | W_k_nope(Hkv) | W_v(Hkv)] (C × Hkv·((d−2r)+d)) = U S Vᵀ; keep c:
 *    kvA = U_cᵀ [c, C], kvB = V_c S_c [Hkv·((d−2r)+d), c].
 *  - Forward: q = [R(m) q_pe | q_nope], k = [R(n) W_k_rope x | k_nope], [k_nope, v] = kvB(kvA x), logits q·kᵀ/√d.
 *  - Cache per token per layer: c (latent) + 2·r·Hkv (rotated keys) numbers vs 2·Hkv·d: ratio (c + 2r·Hkv)/(2·Hkv·d).
 *  - Mean rotation (ours, not the paper's; `meanRotation`, options `rest: 'mean'` and `meanRotationContext`): a
 *    non-elite pair's contribution ρ_j = cos δθ_j·A_j + sin δθ_j·B_j (A_j = q_a k_a + q_b k_b, B_j = q_a k_b − q_b k_a)
 *    is replaced by c̄_j·A_j + s̄_j·B_j with (c̄_j, s̄_j) = E[(cos δθ_j, sin δθ_j)] over the causal entries of a
 *    T-token context, instead of by A_j (the reference's NoPE, c̄ = 1, s̄ = 0): a fast pair, whose rotation averages
 *    out, is then dropped rather than kept at its δ = 0 value; a slow one stays near NoPE. It is folded into W_q_nope
 *    (q_a ← c̄ q_a − s̄ q_b, q_b ← s̄ q_a + c̄ q_b), so the cache and the forward are unchanged.
 *  - Attention-weighted mean rotation (ours; `attentionMeanRotation`, `eliteKVConvert`'s `restRotation`): per query
 *    head, (c̄_hj, s̄_hj) = E_m Σ_{t≤m} p_mt (cos δθ_j, sin δθ_j) under the original attention p on calibration text,
 *    the least-squares constant for R(δθ_j) where the head actually looks, instead of uniformly over the context.
 *  - Mean key (ours; `meanKey`, `eliteKVConvert`'s `inputMean`): with k = μ + k̃ (μ = E[k] over calibration text),
 *    q·R(δθ)·k = q·R(δθ)·μ + q·R(δθ)·k̃ ≈ q·R(δθ)·μ + q·M·k̃ for each non-elite pair, M its replacement rotation. The
 *    first term depends on the query and δ only, so it is kept exactly at no cache cost: the mean key rotated by the
 *    key's position, R(n)μ, against the rotated non-elite query channels. q·M·k̃ = q·M·k − q·M·μ, and q·M·μ is the
 *    same for every key of a query, which softmax ignores: the latent path is unchanged. Trained keys carry most of
 *    their energy in μ (50–90 % on most pairs of the reference model), which is what this keeps.
 *
 * Adaptations and where the reference code is followed over the spec (language.md §9):
 *  - GQA: the reference is MHA-only (it views keys with num_heads). A key's rotation belongs to its KV head, so here
 *    the selection is per KV head, D_j averaged over the query heads of its group (per head for MHA, as the paper).
 *  - D_j is the reference's mean over all T×T entries of a sequence, masked ones contributing 0 (analysis.py adds the
 *    same causal bias to both logits): the causal-entry mean times T(T+1)/(2T²), so the same selections.
 *  - Round 0: the reference's starting rank file (rank_0.py) is all zeros, so its first round scores chunk 0 over and
 *    over and its first pick is whichever index its tie-breaking argsort puts first. That is a bug, not a method: here
 *    round 0 scores every candidate, as every later round does (and as the spec describes). Ties go to the lower index.
 *  - The compact rotary part lists each head's elite pairs in ascending pair order, not in selection order (the
 *    reference's boolean masks do the same), in the 'half' layout: channels [a(E_0..E_{r−1}) | b(E_0..E_{r−1})].
 *  - Uniform baseline: torch.linspace(0, P−1, r, dtype=int) on CPU (convert.py `linspace_concat`), step in double,
 *    the second half counted back from the end, truncated (`uniformElitePairs`).
 *
 * Letters: B batch, T new tokens, S attended tokens (cached + new), C model dim, H query heads, Hkv KV heads, G = H/Hkv,
 * d head dim, P = d/2 pairs, r elite pairs per KV head, dn = d − 2r non-rotary channels, c latent rank.
 */
import {
  DTypeError, Generator, Module, Parameter, ShapeError, Tensor, ValueError, arange, asPartOf, attention, concat, describeValue, expectBoolean, expectFiniteValues, expectInteger, isGradEnabled,
  expectOneOf, expectOptions, expectPositions, expectRequiredOptions, expectSize, expectTensor, fmtShape, matmul, noGrad, optionalDType, optionalGenerator, svd, cholesky,
  type DType,
} from '../core/index.js';
import { PositionalEncoding, RoPE, applyRotary, type PairLayout, type Positions } from '../positional/index.js';
import { MultiHeadAttention, type AttentionCallCheck, type AttentionCallOptions } from './attention.js';
import { Block } from './block.js';
import { expectSequence, expectWeight } from './checks.js';
import { issueCheckedCall, redeemCheckedCall } from './checked-call.js';
import type { KVCacheOptions } from './kv-cache.js';
import { Linear } from './linear.js';
import { LatentKVCache, type MLAMode } from './mla.js';

// ── RoPElite ─────────────────────────────────────────────────────────────────────────────────────────────────────

/** Options of `ropeliteSelect`: `rounds`, `rest`. */
export interface RoPEliteOptions {
  /** Greedy rounds, one pair per KV head each (default P = d/2: the full ranking). */
  rounds?: number;
  /**
   * What the pairs not (yet) selected contribute to the partial logits: 'nope' (default, the reference's) their
   * unrotated product; 'mean' (ours) their mean rotation over the calibration context (`meanRotation(invFreq, T)`),
   * the replacement `eliteKVConvert` makes with `meanRotationContext: T`.
   */
  rest?: 'nope' | 'mean';
}

/**
 * What `ropeliteSelect` returns: the elite frequency pairs chosen per KV head (`pairs`) and the `distances` they were
 * ranked by.
 */
export interface RoPEliteSelection {
  /** Per KV head, the pairs in the order they were picked (length rounds); the first r are S_r, nested by construction. */
  readonly pairs: number[][];
  /**
   * distances[r][g][j]: D_j of KV head g at round r (before its pick), averaged over sequences and the group's query
   * heads. Pairs already in S_r are no candidates and hold 0, as the reference stores them.
   */
  readonly distances: Float64Array[][];
}

/** An array of finite numbers (a Float32/64Array or a plain array). */
function expectNumbers(op: string, arg: string, x: unknown): ArrayLike<number> {
  if (!(Array.isArray(x) || x instanceof Float64Array || x instanceof Float32Array)) {
    throw new DTypeError(op, `${arg} must be an array of numbers, got ${describeValue(x)}`, arg);
  }
  for (let i = 0; i < x.length; i++) {
    if (typeof x[i] !== 'number') throw new DTypeError(op, `${arg}[${i}] must be a number, got ${describeValue(x[i])}`, arg);
  }
  expectFiniteValues(op, arg, x as ArrayLike<number>);
  return x as ArrayLike<number>;
}

/** Calibration queries q [N, H, T, d] and keys k [N, Hkv, T, d] (before RoPE), invFreq (d/2) and layout, checked under `op`. */
function checkCalibration(op: string, q: unknown, k: unknown, invFreq: unknown, layout: unknown): { N: number; H: number; Hkv: number; T: number; d: number; P: number; theta: ArrayLike<number> } {
  expectTensor(op, 'q', q);
  expectTensor(op, 'k', k);
  expectFiniteValues(op, 'q', q.data);
  expectFiniteValues(op, 'k', k.data);
  const theta = expectNumbers(op, 'invFreq', invFreq);
  expectOneOf(op, 'layout', layout, ['half', 'interleaved'] as const);
  if (q.ndim !== 4) throw new ShapeError(op, `q=${fmtShape(q.shape)} must be [N, H, T, d]`, 'q');
  if (k.ndim !== 4) throw new ShapeError(op, `k=${fmtShape(k.shape)} must be [N, Hkv, T, d]`, 'k');
  const [N, H, T, d] = q.shape as [number, number, number, number];
  const Hkv = k.shape[1]!;
  if (k.shape[0] !== N || k.shape[2] !== T || k.shape[3] !== d) {
    throw new ShapeError(op, `q=${fmtShape(q.shape)} and k=${fmtShape(k.shape)} differ in sequences, length or head dim (k [N, Hkv, T, d])`, 'k');
  }
  if (N === 0 || H === 0 || Hkv === 0 || T === 0 || d === 0) throw new ShapeError(op, `q=${fmtShape(q.shape)}, k=${fmtShape(k.shape)} are empty (nothing to calibrate on)`, 'q');
  if (H % Hkv !== 0) throw new ShapeError(op, `k has ${Hkv} KV heads, which does not divide q's ${H} query heads`, 'k');
  if (d % 2 !== 0) throw new ShapeError(op, `head dim d=${d} is odd — q=${fmtShape(q.shape)} (rotary channels come in pairs)`, 'q');
  const P = d / 2;
  if (theta.length !== P) throw new ShapeError(op, `invFreq has ${theta.length} frequencies, the heads have d/2 = ${P} pairs`, 'invFreq');
  return { N, H, Hkv, T, d, P, theta };
}

/**
 * RoPElite's greedy selection of elite pairs for one layer, from calibration queries q [N, H, T, d] and keys
 * k [N, Hkv, T, d] taken before RoPE (N sequences at positions 0…T−1), the layer's inverse frequencies (P = d/2) and
 * pair layout. Every round adds, per KV head, the pair whose rotation brings the logits closest to the full RoPE
 * logits given the pairs already kept (see the file header). Float64 inside; not differentiable.
 */
export function ropeliteSelect(q: Tensor, k: Tensor, invFreq: ArrayLike<number>, layout: PairLayout, options: RoPEliteOptions = {}): RoPEliteSelection {
  const op = 'ropeliteSelect';
  const { N, H, Hkv, T, d, P, theta } = checkCalibration(op, q, k, invFreq, layout);
  const o = expectOptions(op, 'options', options, ['rounds', 'rest']);
  const rounds = o.rounds === undefined ? P : expectInteger(op, 'rounds', o.rounds, { min: 1, max: P });
  const rest = o.rest === undefined ? 'nope' : expectOneOf(op, 'rest', o.rest, ['nope', 'mean'] as const);
  const G = H / Hkv;
  const [aOf, bOf] = pairChannels(layout, P);

  // per distance δ and pair j: cos δθ_j − c̄_j and sin δθ_j − s̄_j, the rest's replacement being (c̄, s̄) = (1, 0) (NoPE) or the mean rotation
  const mean = rest === 'mean' ? meanRotationOf(theta, T) : null;
  const cosOff = new Float64Array(T * P);
  const sinOff = new Float64Array(T * P);
  for (let delta = 0; delta < T; delta++) {
    for (let j = 0; j < P; j++) {
      cosOff[delta * P + j] = Math.cos(delta * theta[j]!) - (mean === null ? 1 : mean.cos[j]!);
      sinOff[delta * P + j] = Math.sin(delta * theta[j]!) - (mean === null ? 0 : mean.sin[j]!);
    }
  }
  const pairsOf = (x: Tensor, heads: number, n: number, h: number): [Float64Array, Float64Array] => headPairs(x, heads, n, h, aOf, bOf);

  const chosen = Array.from({ length: Hkv }, () => new Uint8Array(P));
  const pairs: number[][] = Array.from({ length: Hkv }, () => []);
  const distances: Float64Array[][] = [];
  const delta = new Float64Array(P);
  const scale = 1 / (Math.sqrt(d) * T * T * N * G);
  for (let round = 0; round < rounds; round++) {
    const acc = Array.from({ length: Hkv }, () => new Float64Array(P));
    for (let n = 0; n < N; n++) {
      for (let g = 0; g < Hkv; g++) {
        const inS = chosen[g]!;
        const sum = acc[g]!;
        const [ka, kb] = pairsOf(k, Hkv, n, g);
        for (let h = g * G; h < (g + 1) * G; h++) {
          const [qa, qb] = pairsOf(q, H, n, h);
          for (let m = 0; m < T; m++) {
            for (let t = 0; t <= m; t++) {
              const tab = (m - t) * P;
              let rest = 0; // Σ_{i∉S} Δ_i: the kept logit's distance to A, times √d
              for (let j = 0; j < P; j++) {
                const qA = qa[m * P + j]!;
                const qB = qb[m * P + j]!;
                const kA = ka[t * P + j]!;
                const kB = kb[t * P + j]!;
                const dj = cosOff[tab + j]! * (qA * kA + qB * kB) + sinOff[tab + j]! * (qA * kB - qB * kA);
                delta[j] = dj;
                if (inS[j] === 0) rest += dj;
              }
              for (let j = 0; j < P; j++) if (inS[j] === 0) sum[j] += Math.abs(delta[j]! - rest);
            }
          }
        }
      }
    }
    distances.push(acc.map((a) => a.map((v) => v * scale)));
    for (let g = 0; g < Hkv; g++) {
      let best = -1;
      for (let j = 0; j < P; j++) if (chosen[g]![j] === 0 && (best < 0 || acc[g]![j]! < acc[g]![best]!)) best = j;
      chosen[g]![best] = 1;
      pairs[g]!.push(best);
    }
  }
  return { pairs, distances };
}

/** Sequence n, head h of x [N, heads, T, d] as its pairs' channels a and b, [T, P] each (float64). */
function headPairs(x: Tensor, heads: number, n: number, h: number, aOf: Int32Array, bOf: Int32Array): [Float64Array, Float64Array] {
  const [T, d] = [x.shape[2]!, x.shape[3]!];
  const P = d / 2;
  const a = new Float64Array(T * P);
  const b = new Float64Array(T * P);
  const base = (n * heads + h) * T * d;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < P; j++) {
      a[t * P + j] = x.data[base + t * d + aOf[j]!]!;
      b[t * P + j] = x.data[base + t * d + bOf[j]!]!;
    }
  }
  return [a, b];
}

/** Per pair, the mean of cos δθ_j and of sin δθ_j over a causal context (`meanRotation`). */
export interface MeanRotation {
  readonly cos: Float64Array;
  readonly sin: Float64Array;
}

/**
 * Each pair's mean rotation over the causal entries of a context of `context` tokens (ours, not the paper's; see the
 * file header): c̄_j = (1/T) Σ_{m<T} (1/(m+1)) Σ_{δ=0}^{m} cos δθ_j, and s̄_j the same with sin — every query m weighs
 * alike and its keys t ≤ m uniformly (δ = m − t). (c̄_j, s̄_j) is the constant that replaces pair j's rotation in the
 * logits, c̄_j·A_j + s̄_j·B_j for cos δθ_j·A_j + sin δθ_j·B_j: about (1, 0) for a pair too slow to turn in the
 * context, about (0, 0) for one that turns many times.
 */
export function meanRotation(invFreq: ArrayLike<number>, context: number): MeanRotation {
  const op = 'meanRotation';
  const theta = expectNumbers(op, 'invFreq', invFreq);
  const T = expectInteger(op, 'context', context, { min: 1, max: 1 << 24 });
  return meanRotationOf(theta, T);
}

/** meanRotation on checked arguments: Σ_m 1/(m+1) Σ_{δ≤m} f(δ) = Σ_δ f(δ)·(H_T − H_δ), H_n the n-th harmonic number. */
function meanRotationOf(theta: ArrayLike<number>, T: number): MeanRotation {
  const P = theta.length;
  const cos = new Float64Array(P);
  const sin = new Float64Array(P);
  let tail = 0; // Σ_{m=δ}^{T−1} 1/(m+1): the weight of distance δ
  for (let delta = T - 1; delta >= 0; delta--) {
    tail += 1 / (delta + 1);
    for (let j = 0; j < P; j++) {
      cos[j] += Math.cos(delta * theta[j]!) * tail;
      sin[j] += Math.sin(delta * theta[j]!) * tail;
    }
  }
  for (let j = 0; j < P; j++) {
    cos[j] /= T;
    sin[j] /= T;
  }
  return { cos, sin };
}

/**
 * Each pair's rotation averaged under the model's own attention (ours, not the paper's), per query head, from
 * calibration queries q [N, H, T, d] and keys k [N, Hkv, T, d] taken before RoPE: (c̄_hj, s̄_hj) =
 * (1/(N·T)) Σ_n Σ_m Σ_{t≤m} p_mt·(cos δθ_j, sin δθ_j), δ = m − t, with p_mt = softmax over t ≤ m of the full RoPE
 * logits (R(m)q_m)·(R(t)k_t)/√d of head h. It is the constant closest, in mean square under each query's attention,
 * to the rotation R(δθ_j) it replaces (`eliteKVConvert`'s `restRotation`): it weighs the distances the head attends
 * to, where `meanRotation` weighs every causal entry alike (zero queries attend uniformly and give exactly
 * meanRotation(invFreq, T)). Float64 inside; not differentiable.
 */
export function attentionMeanRotation(q: Tensor, k: Tensor, invFreq: ArrayLike<number>, layout: PairLayout): MeanRotation[] {
  const op = 'attentionMeanRotation';
  const { N, H, Hkv, T, d, P, theta } = checkCalibration(op, q, k, invFreq, layout);
  const G = H / Hkv;
  const [aOf, bOf] = pairChannels(layout, P);
  const cosTab = new Float64Array(T * P); // cos δθ_j, sin δθ_j per distance δ
  const sinTab = new Float64Array(T * P);
  for (let delta = 0; delta < T; delta++) {
    for (let j = 0; j < P; j++) {
      cosTab[delta * P + j] = Math.cos(delta * theta[j]!);
      sinTab[delta * P + j] = Math.sin(delta * theta[j]!);
    }
  }
  const scale = 1 / Math.sqrt(d);
  const p = new Float64Array(T); // one query's attention over its keys t ≤ m
  return Array.from({ length: H }, (_, h) => {
    const cos = new Float64Array(P);
    const sin = new Float64Array(P);
    for (let n = 0; n < N; n++) {
      const [qa, qb] = headPairs(q, H, n, h, aOf, bOf);
      const [ka, kb] = headPairs(k, Hkv, n, Math.floor(h / G), aOf, bOf);
      for (let m = 0; m < T; m++) {
        let top = -Infinity;
        for (let t = 0; t <= m; t++) {
          const tab = (m - t) * P;
          let logit = 0;
          for (let j = 0; j < P; j++) {
            const [qA, qB, kA, kB] = [qa[m * P + j]!, qb[m * P + j]!, ka[t * P + j]!, kb[t * P + j]!];
            logit += cosTab[tab + j]! * (qA * kA + qB * kB) + sinTab[tab + j]! * (qA * kB - qB * kA);
          }
          p[t] = logit * scale;
          if (p[t]! > top) top = p[t]!;
        }
        let z = 0;
        for (let t = 0; t <= m; t++) z += (p[t] = Math.exp(p[t]! - top));
        for (let t = 0; t <= m; t++) {
          const w = p[t]! / z;
          const tab = (m - t) * P;
          for (let j = 0; j < P; j++) {
            cos[j] += w * cosTab[tab + j]!;
            sin[j] += w * sinTab[tab + j]!;
          }
        }
      }
    }
    for (let j = 0; j < P; j++) {
      cos[j] /= N * T;
      sin[j] /= N * T;
    }
    return { cos, sin };
  });
}

/** Channel indices (a, b) of every pair j: 'half' (j, j + P), 'interleaved' (2j, 2j + 1). */
function pairChannels(layout: PairLayout, P: number): [Int32Array, Int32Array] {
  const a = new Int32Array(P);
  const b = new Int32Array(P);
  for (let j = 0; j < P; j++) {
    a[j] = layout === 'half' ? j : 2 * j;
    b[j] = layout === 'half' ? j + P : 2 * j + 1;
  }
  return [a, b];
}

/**
 * The reference's uniform baseline: the r pair indices torch.linspace(0, P − 1, r, dtype=int) gives on the CPU —
 * step = (P − 1)/(r − 1) in double, entry i = start + step·i for i < ⌊r/2⌋ and end − step·(r − 1 − i) after, each
 * truncated toward 0. The same pairs serve every KV head.
 */
export function uniformElitePairs(numPairs: number, r: number): number[] {
  const op = 'uniformElitePairs';
  const P = expectSize(op, 'numPairs', numPairs);
  expectInteger(op, 'r', r, { min: 1, max: P });
  if (r === 1) return [0];
  const step = (P - 1) / (r - 1);
  const half = Math.floor(r / 2);
  return Array.from({ length: r }, (_, i) => Math.trunc(i < half ? step * i : P - 1 - step * (r - 1 - i)));
}

/** Options of `eliteKVCacheRatio`: `rank`, `elitePairs`, `numKVHeads`, `headDim`. */
export interface EliteKVCacheRatioOptions {
  /** Latent rank c. */
  rank: number;
  /** Elite pairs r per KV head. */
  elitePairs: number;
  numKVHeads: number;
  /** Head dim d (even). */
  headDim: number;
}

/** Numbers an EliteKV layer caches per token over a plain KV cache's: (c + 2·r·Hkv) / (2·Hkv·d). */
export function eliteKVCacheRatio(options: EliteKVCacheRatioOptions): number {
  const op = 'eliteKVCacheRatio';
  const o = expectRequiredOptions(op, options, ['rank', 'elitePairs', 'numKVHeads', 'headDim'], 'with rank, elitePairs, numKVHeads and headDim');
  const c = expectSize(op, 'rank', o.rank);
  const Hkv = expectSize(op, 'numKVHeads', o.numKVHeads);
  const d = expectSize(op, 'headDim', o.headDim);
  if (d % 2 !== 0) throw new ValueError(op, `headDim=${d} is odd (rotary channels come in pairs)`, 'headDim');
  const r = expectInteger(op, 'elitePairs', o.elitePairs, { min: 1, max: d / 2 });
  return (c + 2 * r * Hkv) / (2 * Hkv * d);
}

// ── the converted attention ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Per KV head, r distinct pair indices in [0, P), the same r for every head: returned sorted ascending (the compact
 * layout's order). `arg` names the argument in errors.
 */
function checkElitePairs(op: string, arg: string, x: unknown, numKVHeads: number, numPairs: number): number[][] {
  if (!Array.isArray(x)) throw new DTypeError(op, `${arg} must be an array of ${numKVHeads} pair lists (one per KV head), got ${describeValue(x)}`, arg);
  if (x.length !== numKVHeads) throw new ShapeError(op, `${arg} has ${x.length} pair lists for ${numKVHeads} KV heads (one per KV head)`, arg);
  let r = -1;
  return x.map((list: unknown, g) => {
    if (!Array.isArray(list)) throw new DTypeError(op, `${arg}[${g}] must be an array of pair indices, got ${describeValue(list)}`, arg);
    if (list.length === 0) throw new ValueError(op, `${arg}[${g}] is empty (each KV head keeps at least one rotary pair)`, arg);
    if (r >= 0 && list.length !== r) throw new ShapeError(op, `${arg}[${g}] has ${list.length} pairs but ${arg}[0] has ${r} (every KV head keeps the same number)`, arg);
    r = list.length;
    const seen = new Set<number>();
    for (const j of list as unknown[]) {
      if (typeof j !== 'number' || !Number.isInteger(j) || j < 0 || j >= numPairs) {
        throw new ValueError(op, `${arg}[${g}] holds ${describeValue(j)}, not a pair index (integers in [0, ${numPairs}))`, arg);
      }
      if (seen.has(j)) throw new ValueError(op, `${arg}[${g}] holds pair ${j} twice`, arg);
      seen.add(j);
    }
    return [...seen].sort((p, q) => p - q);
  });
}

/** The RoPE a converted layer's frequencies come from: whole-head rotation, no attention factor. `what` names it in messages. */
function checkSourceRoPE(op: string, what: string, x: unknown, headDim: number, arg = what): RoPE {
  if (!(x instanceof PositionalEncoding)) throw new DTypeError(op, `${what} must be a RoPE, got ${describeValue(x)}`, arg);
  if (!(x instanceof RoPE)) {
    throw new ValueError(op, `${what} is '${x.name}', not a RoPE (EliteKV keeps the rotation of a RoPE's elite pairs: it needs invFreq and layout)`, arg);
  }
  if (x.headDim !== headDim || x.rotaryDim !== headDim) {
    throw new ValueError(op, `${what} rotates ${x.rotaryDim} of headDim=${x.headDim} channels; EliteKV needs a RoPE over the whole head of ${headDim}`, arg);
  }
  if (x.attentionFactor !== 1) throw new ValueError(op, `${what} has attentionFactor=${x.attentionFactor}; EliteKV supports plain RoPE (factor 1)`, arg);
  return x;
}

/**
 * Options of `EliteKVAttention`: `numHeads`, `numKVHeads`, `headDim`, `elitePairs`, `rank`, `positional`, `generator`,
 * `dtype`, `mode`.
 */
export interface EliteKVAttentionOptions {
  numHeads: number;
  /** Key/value heads (divides numHeads); default numHeads. */
  numKVHeads?: number;
  /** Per-head dim d (even); default dim / numHeads. */
  headDim?: number;
  /** Per KV head, the r pairs that keep their rotation (indices into positional's pairs); every head the same r. */
  elitePairs: ReadonlyArray<ReadonlyArray<number>>;
  /** Latent rank c (kvA: [c, C]). */
  rank: number;
  /** The RoPE the layer comes from; its invFreq at each head's elite pairs rotates q_pe and k_pe (whole head, factor 1). */
  positional: RoPE;
  generator?: Generator;
  dtype?: DType;
  /**
   * 'explicit' (default) expands every cached latent into its keys and values each call; 'absorbed' scores and averages
   * the latents themselves (MLA's absorption), which a decoding step with a long cache needs. Same result, either way.
   */
  mode?: MLAMode;
  /**
   * Ours, not the paper's (default false): each KV head's non-elite pairs keep a constant key, the mean key μ, rotated
   * by each cached token's position: the logits gain q_restᵀ R((m − n)θ) μ for query m and key n, where q_rest is the
   * query's non-elite channels (their own rows, `wqRest`). That term needs no cache (a function of the query and the
   * distance), so the cache stays c + 2·r·Hkv numbers per token; it gives back the part of each dropped pair's
   * rotation that does not depend on the key's content. Adds `wqRest` [H·2(P − r), C] and `keyMean` [Hkv, 2(P − r)]
   * (each head's pairs in the compact 'half' layout, ascending) when some pair is not elite. With a cache, positions
   * must continue it (the cached tokens' positions are 0…S−1; they are not stored).
   */
  meanKey?: boolean;
}

/**
 * One EliteKV attention layer (causal self-attention). Parameters, all without bias (Linear layout [out, in]):
 *  - wq [H·d, C]: the query rows of each head reordered to [pe (2r) | nope (d − 2r)]: pe = the elite pairs' channels
 *    in the compact 'half' layout [a(E_0..E_{r−1}) | b(E_0..E_{r−1})], nope = the other pairs' a then b channels;
 *    one matrix (not W_q_rope and W_q_nope apart) so queries cost one product;
 *  - wkRope [Hkv·2r, C]: the elite key channels, same compact layout;
 *  - kvA [c, C]: the latent down-projection, whose output is cached;
 *  - kvB [Hkv·(dn + d), c]: per KV head its non-rotary key channels (dn, in wq's nope order) and its value (d);
 *  - wo [C, H·d].
 *  - with `meanKey` (ours): wqRest [H·2(P − r), C], each head's non-elite query channels as the original wq has them
 *    (compact 'half' layout), and keyMean [Hkv, 2(P − r)], each KV head's mean key on those pairs.
 * Query head h reads KV head ⌊h/G⌋ and is rotated by that KV head's frequencies. Decoding caches are
 * `LatentKVCache`s (nn/mla.ts) holding the latent (c) and every KV head's rotated key (Hkv·2r) per token.
 */
export class EliteKVAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly numKVHeads: number;
  readonly headDim: number;
  /** Latent rank c. */
  readonly rank: number;
  /** Elite pairs r per KV head. */
  readonly ropePairs: number;
  /** Per KV head, its elite pairs in ascending order (the compact layout's order). */
  readonly elitePairs: readonly (readonly number[])[];
  /** The RoPE the layer was converted from (not swappable: the elite pairs were chosen for its frequencies). */
  readonly positional: RoPE;
  readonly wq: Linear;
  readonly wkRope: Linear;
  readonly kvA: Linear;
  readonly kvB: Linear;
  readonly wo: Linear;
  /** With `meanKey` (and a non-elite pair): the non-elite query channels' own rows; else null. */
  readonly wqRest: Linear | null;
  /** With `meanKey` (and a non-elite pair): each KV head's mean key on its non-elite pairs, [Hkv, 2(P − r)]; else null. */
  readonly keyMean: Parameter | null;
  /** Per KV head, its non-elite pairs in ascending order (keyMean's and wqRest's order). */
  readonly restPairs: readonly (readonly number[])[];

  constructor(dim: number, options: EliteKVAttentionOptions) {
    super();
    const op = 'EliteKVAttention';
    const C = expectSize(op, 'dim', dim);
    const o = expectRequiredOptions(op, options, ['numHeads', 'numKVHeads', 'headDim', 'elitePairs', 'rank', 'positional', 'generator', 'dtype', 'mode', 'meanKey'], 'with numHeads, elitePairs, rank and positional');
    const H = expectSize(op, 'numHeads', o.numHeads);
    const Hkv = o.numKVHeads === undefined ? H : expectSize(op, 'numKVHeads', o.numKVHeads);
    if (H % Hkv !== 0) throw new ValueError(op, `numKVHeads=${Hkv} must divide numHeads=${H}`, 'numKVHeads');
    if (o.headDim === undefined && C % H !== 0) throw new ValueError(op, `dim=${C} is not divisible by numHeads=${H} (or pass headDim)`, 'numHeads');
    const d = o.headDim === undefined ? C / H : expectSize(op, 'headDim', o.headDim);
    if (d % 2 !== 0) throw new ValueError(op, `headDim=${d} is odd (rotary channels come in pairs)`, 'headDim');
    const pairs = checkElitePairs(op, 'elitePairs', o.elitePairs, Hkv, d / 2);
    const r = pairs[0]!.length;
    const dn = d - 2 * r;
    expectWeight(op, 'kvB.weight', Hkv * (dn + d), 1);
    const c = expectSize(op, 'rank', o.rank);
    this.positional = checkSourceRoPE(op, 'positional', o.positional, d);
    const g = optionalGenerator(op, 'generator', o.generator, () => new Generator(0)); // never the global stream: conversion overwrites these
    const dtype = optionalDType(op, 'dtype', o.dtype);
    const meanKey = o.meanKey === undefined ? false : expectBoolean(op, 'meanKey', o.meanKey);
    expectWeight(op, 'wq.weight', H * d, C);
    expectWeight(op, 'kvA.weight', c, C);
    expectWeight(op, 'kvB.weight', Hkv * (dn + d), c);
    const lin = { bias: false, generator: g, dtype };
    this.dim = C;
    this.numHeads = H;
    this.numKVHeads = Hkv;
    this.headDim = d;
    this.rank = c;
    this.ropePairs = r;
    this.elitePairs = pairs;
    this.wq = new Linear(C, H * d, lin);
    this.wkRope = new Linear(C, Hkv * 2 * r, lin);
    this.kvA = new Linear(C, c, lin);
    this.kvB = new Linear(c, Hkv * (dn + d), lin);
    this.wo = new Linear(H * d, C, lin);
    this.restPairs = pairs.map((elite) => Array.from({ length: d / 2 }, (_, j) => j).filter((j) => !elite.includes(j)));
    const withMeanKey = meanKey && dn > 0;
    if (withMeanKey) expectWeight(op, 'wqRest.weight', H * dn, C);
    this.wqRest = withMeanKey ? new Linear(C, H * dn, lin) : null;
    this.keyMean = withMeanKey ? new Parameter(dtype === 'float64' ? new Float64Array(Hkv * dn) : new Float32Array(Hkv * dn), [Hkv, dn]) : null;
    this.mode = o.mode ?? 'explicit';
  }

  /** 'explicit' expands the cached latents into keys and values each call; 'absorbed' scores and averages them directly. */
  get mode(): MLAMode {
    return this.#mode;
  }

  /** Switch between 'explicit' and 'absorbed' at any time (same weights, same result up to rounding). */
  set mode(mode: MLAMode) {
    expectOneOf('EliteKVAttention', 'mode', mode, ['explicit', 'absorbed'] as const);
    this.#mode = mode;
  }

  #mode: MLAMode = 'explicit';

  /** Numbers this layer caches per token: c + 2·r·Hkv. */
  get cacheNumbersPerToken(): number {
    return this.rank + 2 * this.ropePairs * this.numKVHeads;
  }

  /** An empty decoding cache for this layer: a LatentKVCache of c latent numbers and Hkv rotated keys of 2r per token. */
  newCache(options: KVCacheOptions = {}): LatentKVCache {
    const op = 'EliteKVAttention.newCache';
    const o = expectOptions(op, 'options', options, ['maxLength']);
    if (o.maxLength !== undefined && o.maxLength !== Infinity) expectInteger(op, 'maxLength', o.maxLength, { min: 1 });
    return new LatentKVCache({ ...o, kvLoraRank: this.rank, qkRopeHeadDim: 2 * this.ropePairs, ropeKeyHeads: this.numKVHeads });
  }

  /** x: [B, T, C] → [B, T, C]. Causal; positions default to offset…offset+T−1 with offset = cache.position (or 0). */
  forward(x: Tensor, options: AttentionCallOptions = {}): Tensor {
    const op = 'EliteKVAttention.forward';
    return this.forwardChecked(op, x, this.checkCall(op, x, options));
  }

  /**
   * @internal Check x [B, T, C] and the options (positions [T] or [B, T], cache) before anything runs; the same
   * protocol as MultiHeadAttention's, so a Block holds either. Causal self-attention only: context, mask and causal
   * are refused as unknown options. Returns the single-use proof `forwardChecked` needs (nn/checked-call.ts).
   */
  checkCall(op: string, x: unknown, options: AttentionCallOptions | undefined): AttentionCallCheck {
    expectSequence(op, 'x', x, this.dim, this.wq.weight.dtype);
    const o = expectOptions(op, 'options', options, ['positions', 'cache']);
    const [B, T] = x.shape as [number, number, number];
    if (o.positions !== undefined) {
      expectPositions(op, 'positions', o.positions);
      const p = o.positions.shape;
      if (!((p.length === 1 && p[0] === T) || (p.length === 2 && p[0] === B && p[1] === T))) {
        throw new ShapeError(op, `options.positions=${fmtShape(p)} does not fit x=${fmtShape(x.shape)} (positions [${T}] or [${B}, ${T}])`, 'positions');
      }
    }
    if (o.cache !== undefined) this.checkCache(op, o.cache, B, x.dtype);
    if (this.keyMean !== null && o.cache !== undefined && o.positions !== undefined) {
      const start = (o.cache as LatentKVCache).position;
      const p = o.positions.data;
      for (let i = 0; i < p.length; i++) {
        if (p[i] !== start + (i % T)) {
          throw new ValueError(op, `options.positions must continue the cache (${start}…${start + T - 1} for each sequence), got ${p[i]} at index ${i}: a layer with mean keys rotates them by the cached tokens' positions, which are 0…S−1 (not stored)`, 'positions');
        }
      }
    }
    return issueCheckedCall(this, x, { causal: true, mask: null, context: undefined, positions: o.positions, cache: o.cache });
  }

  /**
   * @internal A cache this layer can continue, checked under `op` (the call the user made): a LatentKVCache of this
   * layer's layout (c, 2r, Hkv) that is empty or holds `batch` sequences of `dtype`. `name` is how the message calls
   * it, `arg` the argument at fault (a model passes 'caches[i]' and 'caches').
   */
  checkCache(op: string, cache: unknown, batch: number, dtype: DType, name = 'cache', arg = 'cache'): void {
    if (!(cache instanceof LatentKVCache)) {
      throw new DTypeError(op, `${name} must be a LatentKVCache (an EliteKV layer caches latents and rotated keys: use newCache()), got ${describeValue(cache)}`, arg);
    }
    const { rank: c, ropePairs: r, numKVHeads: Hkv } = this;
    if (cache.kvLoraRank !== c || cache.qkRopeHeadDim !== 2 * r || cache.ropeKeyHeads !== Hkv) {
      throw new ShapeError(
        op,
        `${name} has kvLoraRank=${cache.kvLoraRank}, qkRopeHeadDim=${cache.qkRopeHeadDim}, ropeKeyHeads=${cache.ropeKeyHeads}; this layer needs ${c}, ${2 * r}, ${Hkv} (use newCache())`,
        arg,
      );
    }
    const keys = cache.keyShape; // the rotated keys' layout, without making their tensor
    if (keys !== null && (keys[0] !== batch || cache.dtype !== dtype)) {
      throw new ShapeError(op, `${name} holds rotated keys=${fmtShape(keys)} ${cache.dtype}, which a batch of ${batch} ${dtype} sequences cannot continue (use newCache())`, arg);
    }
  }

  /**
   * @internal forward for a call `checkCall(op, …)` accepted (a Block checks x once and runs this on norm(x));
   * `checked` is used up.
   */
  forwardChecked(op: string, x: Tensor, checked: AttentionCallCheck): Tensor {
    const call = redeemCheckedCall(op, this, checked, x);
    const cache = call.cache as LatentKVCache | undefined; // checkCall accepted only LatentKVCaches
    const [B, T] = x.shape as [number, number, number];
    const { numHeads: H, numKVHeads: Hkv, headDim: d, ropePairs: r } = this;
    const G = H / Hkv;
    const dn = d - 2 * r;
    const start = cache?.position ?? 0;
    const positions = call.positions ?? arange(start, start + T, 1, { dtype: 'float64' });
    const angles = this.anglesAt(positions, this.elitePairs); // [(B,) Hkv, T, r]
    const rotate = (t: Tensor, a: Tensor): Tensor => asPartOf(op, () => applyRotary(t, a, { layout: 'half' }));

    const q = this.wq.forward(x).reshape([B, T, Hkv, G, d]).permute([0, 2, 3, 1, 4]); // [B, Hkv, G, T, d], each head [pe | nope]
    const kPe = rotate(this.wkRope.forward(x).reshape([B, T, Hkv, 2 * r]).transpose(1, 2), angles); // R(n) k_pe: [B, Hkv, T, 2r]
    const latent = this.kvA.forward(x).unsqueeze(1); // [B, 1, T, c]
    const { latents, ropeKeys } = cache === undefined ? { latents: latent, ropeKeys: kPe } : cache.appendLatent(latent, kPe); // [B, 1, S, c], [B, Hkv, S, 2r]
    const S = latents.shape[2]!;
    const groupAngles = angles.unsqueeze(angles.ndim - 2); // [(B,) Hkv, 1, T, r]
    const keys = cache === undefined ? positions : start + T - S; // the attended tokens' positions, or the first of S in a row (a sliding cache dropped the oldest)
    const rest = this.meanKeyTerm(x, positions, keys, S, rotate); // R(m) q_rest and R(n) μ, or null
    if (this.mode === 'absorbed') {
      // MLA's absorption (DeepSeek-V2 §2.1.2) per KV head g: q_nopeᵀ(W_k,g c) = (W_k,gᵀ q_nope)ᵀ c and Σ p·(W_v,g c) = W_v,g Σ p·c
      const [wk, wv] = this.kvB.weight.reshape([Hkv, dn + d, this.rank]).split([dn, d], 1); // [Hkv, dn, c], [Hkv, d, c]
      const [qPe, qNope] = dn === 0 ? [q, null] : q.split([2 * r, dn], 4);
      const qRope = rotate(qPe!, groupAngles); // [B, Hkv, G, T, 2r]
      const qLatent = qNope === null ? null : matmul(qNope, wk!.unsqueeze(1)); // W_k,gᵀ q_nope: [B, Hkv, G, T, c]
      const qh = concat([qRope, ...(qLatent === null ? [] : [qLatent]), ...(rest === null ? [] : [rest.q])], 4); // [B, Hkv, G, T, 2r (+ c) (+ dn)]
      const kh = concat([ropeKeys, ...(qLatent === null ? [] : [latents.expand([B, Hkv, S, this.rank])]), ...(rest === null ? [] : [rest.k])], 3); // [B, Hkv, S, 2r (+ c) (+ dn)]
      const outLatent = attention(qh, kh.unsqueeze(2), latents.unsqueeze(2), { causal: true, scale: 1 / Math.sqrt(d) }); // Σ_t p_t c_t: [B, Hkv, G, T, c]
      const out = matmul(outLatent, wv!.unsqueeze(1), { transposeB: true }); // W_v,g Σ p·c: [B, Hkv, G, T, d]
      return this.wo.forward(out.permute([0, 3, 1, 2, 4]).reshape([B, T, H * d])); // [B, T, C]
    }
    const kv = this.kvB.forward(latents.squeeze(1)).reshape([B, S, Hkv, dn + d]).transpose(1, 2); // [B, Hkv, S, dn + d]
    let qh: Tensor;
    let kh: Tensor;
    let v: Tensor;
    if (dn === 0) {
      qh = rotate(q, groupAngles);
      kh = ropeKeys;
      v = kv;
    } else {
      const [qPe, qNope] = q.split([2 * r, dn], 4);
      const [kNope, values] = kv.split([dn, d], 3);
      qh = concat([rotate(qPe!, groupAngles), qNope!, ...(rest === null ? [] : [rest.q])], 4); // [B, Hkv, G, T, d (+ dn)]
      kh = concat([ropeKeys, kNope!, ...(rest === null ? [] : [rest.k])], 3); // [B, Hkv, S, d (+ dn)]
      v = values!;
    }
    const out = attention(qh, kh.unsqueeze(2), v.unsqueeze(2), { causal: true, scale: 1 / Math.sqrt(d) }); // [B, Hkv, G, T, d]
    return this.wo.forward(out.permute([0, 3, 1, 2, 4]).reshape([B, T, H * d])); // [B, T, C]
  }

  /**
   * The mean-key term's two sides (null without mean keys): the queries' non-elite channels rotated at the query
   * positions, q [B, Hkv, G, T, dn], and the mean keys rotated at the key positions, k [B, Hkv, S, dn]; their product
   * is q_restᵀ R((m − n)θ) μ.
   */
  private meanKeyTerm(x: Tensor, queryPositions: Positions, keys: Positions | number, S: number, rotate: (t: Tensor, a: Tensor) => Tensor): { q: Tensor; k: Tensor } | null {
    if (this.wqRest === null || this.keyMean === null) return null;
    const [B, T] = x.shape as [number, number, number];
    const { numKVHeads: Hkv, numHeads: H } = this;
    const dn = this.keyMean.shape[1]!;
    const qRest = this.wqRest.forward(x).reshape([B, T, Hkv, H / Hkv, dn]).permute([0, 2, 3, 1, 4]); // [B, Hkv, G, T, dn]
    const q = rotate(qRest, this.anglesAt(queryPositions, this.restPairs).unsqueeze(-3)); // R(m) q_rest
    let k: Tensor;
    if (typeof keys === 'number' && !isGradEnabled()) {
      k = this.rotatedMeanKeys(keys, S); // decoding: no trigonometry per cached token
    } else {
      const at = typeof keys === 'number' ? arange(keys, keys + S, 1, { dtype: 'float64' }) : keys;
      const mean = this.keyMean.unsqueeze(1).expand([Hkv, S, dn]);
      k = rotate(at.ndim === 2 ? mean.unsqueeze(0).expand([B, Hkv, S, dn]) : mean, this.anglesAt(at, this.restPairs)); // R(n) μ
    }
    return { q, k: k.ndim === 4 ? k : k.unsqueeze(0).expand([B, Hkv, S, dn]) }; // k: [B, Hkv, S, dn]
  }

  /**
   * R(n)μ for positions n = first…first+count−1, [Hkv, count, 2(P − r)] in the layer's dtype, without a graph (for
   * decoding): each KV head's mean key rotated to `first` by cos/sin, then on by one position at a time with the
   * angle-addition step (c, s) ← (c·cos θ − s·sin θ, s·cos θ + c·sin θ) in float64, so a step computes no
   * trigonometry per cached token and keeps no table (drift ~count·2⁻⁵³, far below float32's rounding).
   */
  private rotatedMeanKeys(first: number, count: number): Tensor {
    const Hkv = this.numKVHeads;
    const nr = this.restPairs[0]!.length;
    const theta = this.positional.invFreq;
    const mu = this.keyMean!.data; // [Hkv, 2nr]: a's then b's
    const out = this.wq.weight.dtype === 'float64' ? new Float64Array(Hkv * count * 2 * nr) : new Float32Array(Hkv * count * 2 * nr);
    for (let g = 0; g < Hkv; g++) {
      for (let j = 0; j < nr; j++) {
        const step = theta[this.restPairs[g]![j]!]!;
        const [cosStep, sinStep] = [Math.cos(step), Math.sin(step)];
        let [c, s] = [Math.cos(first * step), Math.sin(first * step)];
        const [a, b] = [mu[g * 2 * nr + j]!, mu[g * 2 * nr + nr + j]!];
        for (let i = 0; i < count; i++) {
          const at = (g * count + i) * 2 * nr;
          out[at + j] = a * c - b * s;
          out[at + nr + j] = a * s + b * c;
          [c, s] = [c * cosStep - s * sinStep, s * cosStep + c * sinStep];
        }
      }
    }
    return new Tensor(out, [Hkv, count, 2 * nr]);
  }

  /** φ = position × θ at each KV head's `pairs`: [Hkv, T, n] for positions [T], [B, Hkv, T, n] for [B, T] (n pairs per head). */
  private anglesAt(positions: Positions, pairs: readonly (readonly number[])[]): Tensor {
    const Hkv = this.numKVHeads;
    const n = pairs[0]!.length;
    const theta = this.positional.invFreq;
    const T = positions.shape.at(-1)!;
    const Bp = positions.ndim === 2 ? positions.shape[0]! : 1;
    const data = new Float64Array(Bp * Hkv * T * n);
    for (let b = 0; b < Bp; b++) {
      for (let g = 0; g < Hkv; g++) {
        const own = pairs[g]!;
        for (let t = 0; t < T; t++) {
          const m = positions.data[b * T + t]!;
          for (let j = 0; j < n; j++) data[((b * Hkv + g) * T + t) * n + j] = m * theta[own[j]!]!;
        }
      }
    }
    return new Tensor(data, positions.ndim === 2 ? [Bp, Hkv, T, n] : [Hkv, T, n]);
  }
}

// ── conversion ──────────────────────────────────────────────────────────────────────────────────────────────────

/** A GPT-like model: a Module with blocks and a config it can be rebuilt from (`new model.constructor(model.config)`). */
export type EliteKVConvertible = Module & { readonly blocks: readonly Block[]; readonly config: object };

/** Options of `eliteKVConvert`: `elitePairs`, `rank`, `inputCovariance`, `meanRotationContext`. */
export interface EliteKVConvertOptions {
  /** Per layer, per KV head, the elite pair indices (all lists of one length r): from ropeliteSelect or uniformElitePairs. */
  elitePairs: ReadonlyArray<ReadonlyArray<ReadonlyArray<number>>>;
  /** Latent rank c of the joint key/value compression, ≤ min(C, Hkv·(2d − 2r)). */
  rank: number;
  /**
   * Not in the paper (an addition of ours): per layer, Σ = E[x xᵀ] [C, C] of the attention's input x (norm1's output
   * on calibration text). Given, J-LRD keeps the rank-c map closest on those inputs, min E‖(W_kvᵀ − B A) x‖², instead
   * of the closest in weights ‖W_kv − W_c‖_F (the reference's): with Σ + εI = L Lᵀ, the SVD of Lᵀ W_kv = U S Vᵀ gives
   * kvB = V_c S_c, kvA = U_cᵀ L⁻¹. Σ = I gives the reference's factors.
   */
  inputCovariance?: readonly Tensor[];
  /**
   * Not in the paper (ours): given T, each non-elite pair's rotation is replaced by its mean over the causal entries
   * of a T-token context (`meanRotation(invFreq, T)`, folded into the query weights) instead of by the identity (the
   * reference's NoPE). Pass the context the model serves, e.g. its training length.
   */
  meanRotationContext?: number;
  /**
   * Ours, not the paper's: per layer, per query head, the (c̄_j, s̄_j) that replace each non-elite pair's rotation,
   * e.g. `attentionMeanRotation` of the layer's calibration queries and keys (the rotation averaged where the head
   * attends); folded into the query weights as `meanRotationContext`'s, which it replaces (give one of the two).
   */
  restRotation?: ReadonlyArray<ReadonlyArray<MeanRotation>>;
  /**
   * Ours, not the paper's: per layer, E[x] [C] of the attention's input (norm1's output on calibration text). Given,
   * the converted layers have mean keys (`EliteKVAttention`'s `meanKey`): each KV head's non-elite pairs keep the key
   * μ = W_k,rest·E[x] rotated by position, so the logits keep q_restᵀ R(δθ) μ, the content-free part of the dropped
   * rotation, at no cache cost. The content part, q·M·k with M the rest's replacement rotation, is what the latent
   * carries, so q·R(δθ)·k is approximated by q·R(δθ)·μ + q·M·(k − μ) up to a per-query constant, which softmax ignores.
   */
  inputMean?: readonly Tensor[];
}

/** The converted weights of one layer (float64, Linear layout), by parameter name of EliteKVAttention. */
type LayerWeights = Partial<Record<'wqRest.weight' | 'keyMean', Tensor>> & Record<'wq.weight' | 'wkRope.weight' | 'kvA.weight' | 'kvB.weight' | 'wo.weight', Tensor>;

/**
 * Convert a RoPE GPT-like model to EliteKV (convert.py `rank_lh_concat`, with J-LRD by thin SVD): returns a new
 * model — `new model.constructor(model.config)` with the input's state loaded, so the model's class must be
 * constructible from its config alone (GPT is) — whose every block's attention is an `EliteKVAttention` keeping
 * `elitePairs[layer][kvHead]` rotated and the keys' other channels and the values in a rank-`rank` latent. The input
 * is not modified. Every argument is checked before anything is built: each layer must be self-attention with a
 * plain RoPE over the whole head (positional/'s RoPE: invFreq, layout), no sliding window and unbiased projections.
 */
export function eliteKVConvert<M extends EliteKVConvertible>(model: M, options: EliteKVConvertOptions): M {
  const op = 'eliteKVConvert';
  const layers = checkConvertible(op, model);
  const o = expectRequiredOptions(op, options, ['elitePairs', 'rank', 'inputCovariance', 'meanRotationContext', 'restRotation', 'inputMean'], 'with elitePairs and rank');
  if (!Array.isArray(o.elitePairs)) throw new DTypeError(op, `elitePairs must be an array with one entry per layer, got ${describeValue(o.elitePairs)}`, 'elitePairs');
  if (o.elitePairs.length !== layers.length) throw new ShapeError(op, `elitePairs has ${o.elitePairs.length} entries for ${layers.length} layers (one per layer)`, 'elitePairs');
  const pairs = layers.map((attn, i) => checkElitePairs(op, `elitePairs[${i}]`, o.elitePairs[i], attn.numKVHeads, attn.headDim / 2));
  const r = pairs[0]![0]!.length;
  pairs.forEach((p, i) => {
    if (p[0]!.length !== r) throw new ShapeError(op, `elitePairs[${i}] keeps ${p[0]!.length} pairs per KV head, elitePairs[0] keeps ${r} (one r for the model)`, 'elitePairs');
  });
  const c = expectSize(op, 'rank', o.rank);
  layers.forEach((attn, i) => {
    const { numKVHeads: Hkv, headDim: d, dim: C } = attn;
    const most = Math.min(C, Hkv * (2 * d - 2 * r));
    if (c > most) throw new ValueError(op, `rank=${c} is more than layer ${i}'s W_kv [${C}, ${Hkv * (2 * d - 2 * r)}] has singular values (at most ${most})`, 'rank');
  });

  const covariance = o.inputCovariance === undefined ? undefined : checkCovariances(op, o.inputCovariance, layers);
  const meanContext = o.meanRotationContext === undefined ? undefined : expectInteger(op, 'meanRotationContext', o.meanRotationContext, { min: 1, max: 1 << 24 });
  if (meanContext !== undefined && o.restRotation !== undefined) {
    throw new ValueError(op, 'meanRotationContext and restRotation both replace the non-elite pairs\' rotation: give one of them', 'restRotation');
  }
  const restRotation = o.restRotation === undefined ? undefined : checkRestRotations(op, o.restRotation, layers);
  const inputMean = o.inputMean === undefined ? undefined : checkInputMeans(op, o.inputMean, layers);
  const weights = noGrad(() => layers.map((attn, i) => asPartOf(op, () => {
    const uniform = meanContext === undefined ? undefined : meanRotationOf((attn.positional as RoPE).invFreq, meanContext);
    const rotations = restRotation?.[i] ?? (uniform === undefined ? undefined : Array.from({ length: attn.numHeads }, () => uniform));
    return convertLayer(attn, pairs[i]!, c, covariance?.[i], rotations, inputMean?.[i]);
  })));
  const make = model.constructor as new (config: object) => M;
  const copy = asPartOf(op, () => {
    const m = new make(model.config);
    m.loadStateDict(model.stateDict());
    return m;
  });
  if (!Array.isArray(copy.blocks) || copy.blocks.length !== layers.length || !copy.blocks.every((b) => b instanceof Block)) {
    throw new ValueError(op, `new model.constructor(model.config) did not rebuild the model's ${layers.length} blocks (the class must be constructible from its config)`, 'model');
  }
  copy.blocks.forEach((block, i) => {
    const src = layers[i]!;
    const rope = src.positional as RoPE;
    const attn = new EliteKVAttention(src.dim, {
      numHeads: src.numHeads, numKVHeads: src.numKVHeads, headDim: src.headDim, elitePairs: pairs[i]!, rank: c,
      positional: new RoPE(src.headDim, { invFreq: rope.invFreq, layout: rope.layout }), dtype: src.wq.weight.dtype, meanKey: inputMean !== undefined,
    });
    attn.loadStateDict(weights[i]!);
    attn.wo.residualProjection = true;
    block.attn = attn;
  });
  copy.train(model.training);
  return copy;
}

/** One finite, symmetric [C, C] input covariance per layer, factored as Σ + εI = L·Lᵀ (ε = 1e-6·mean diag Σ): the L's. */
function checkCovariances(op: string, x: unknown, layers: readonly MultiHeadAttention[]): Tensor[] {
  if (!Array.isArray(x)) throw new DTypeError(op, `inputCovariance must be an array of [C, C] tensors (one per layer), got ${describeValue(x)}`, 'inputCovariance');
  if (x.length !== layers.length) throw new ShapeError(op, `inputCovariance has ${x.length} entries for ${layers.length} layers (one per layer)`, 'inputCovariance');
  return x.map((sigma: unknown, i) => {
    expectTensor(op, `inputCovariance[${i}]`, sigma);
    const C = layers[i]!.dim;
    if (sigma.ndim !== 2 || sigma.shape[0] !== C || sigma.shape[1] !== C) {
      throw new ShapeError(op, `inputCovariance[${i}]=${fmtShape(sigma.shape)} must be [${C}, ${C}] (the layer's input dim)`, 'inputCovariance');
    }
    expectFiniteValues(op, `inputCovariance[${i}]`, sigma.data);
    let trace = 0;
    for (let j = 0; j < C; j++) trace += sigma.data[j * C + j]!;
    const ridge = 1e-6 * Math.max(trace / C, Number.MIN_VALUE);
    const regular = new Float64Array(C * C);
    for (let j = 0; j < C * C; j++) regular[j] = sigma.data[j]! + (j % (C + 1) === 0 ? ridge : 0);
    return asPartOf(op, () => cholesky(new Tensor(regular, [C, C])));
  });
}

/** Per layer, per query head, a MeanRotation of the layer's P pairs (finite cos and sin). */
function checkRestRotations(op: string, x: unknown, layers: readonly MultiHeadAttention[]): MeanRotation[][] {
  if (!Array.isArray(x)) throw new DTypeError(op, `restRotation must be an array (per layer, per query head, { cos, sin }), got ${describeValue(x)}`, 'restRotation');
  if (x.length !== layers.length) throw new ShapeError(op, `restRotation has ${x.length} entries for ${layers.length} layers (one per layer)`, 'restRotation');
  return x.map((heads: unknown, i) => {
    const { numHeads: H, headDim: d } = layers[i]!;
    if (!Array.isArray(heads) || heads.length !== H) {
      throw new ShapeError(op, `restRotation[${i}] must hold one { cos, sin } per query head (${H}), got ${describeValue(heads)}`, 'restRotation');
    }
    return heads.map((rot: unknown, h) => {
      const at = `restRotation[${i}][${h}]`;
      if (rot === null || typeof rot !== 'object') throw new DTypeError(op, `${at} must be { cos, sin }, got ${describeValue(rot)}`, 'restRotation');
      const { cos, sin } = rot as { cos?: unknown; sin?: unknown };
      const [c, s] = [expectNumbers(op, `${at}.cos`, cos), expectNumbers(op, `${at}.sin`, sin)];
      if (c.length !== d / 2 || s.length !== d / 2) throw new ShapeError(op, `${at} has ${c.length} cos and ${s.length} sin for the ${d / 2} pairs of a head`, 'restRotation');
      return { cos: Float64Array.from(c), sin: Float64Array.from(s) };
    });
  });
}

/** Per layer, a finite [C] mean of the attention's input. */
function checkInputMeans(op: string, x: unknown, layers: readonly MultiHeadAttention[]): Tensor[] {
  if (!Array.isArray(x)) throw new DTypeError(op, `inputMean must be an array of [C] tensors (one per layer), got ${describeValue(x)}`, 'inputMean');
  if (x.length !== layers.length) throw new ShapeError(op, `inputMean has ${x.length} entries for ${layers.length} layers (one per layer)`, 'inputMean');
  return x.map((mean: unknown, i) => {
    expectTensor(op, `inputMean[${i}]`, mean);
    const C = layers[i]!.dim;
    if (mean.ndim !== 1 || mean.shape[0] !== C) throw new ShapeError(op, `inputMean[${i}]=${fmtShape(mean.shape)} must be [${C}] (the layer's input dim)`, 'inputMean');
    expectFiniteValues(op, `inputMean[${i}]`, mean.data);
    return mean;
  });
}

/** The model's layers' attentions, each convertible; refused (under `op`, on 'model') otherwise. */
function checkConvertible(op: string, model: unknown): MultiHeadAttention[] {
  if (!(model instanceof Module)) throw new DTypeError(op, `model must be a Module (a GPT-like model with blocks and a config), got ${describeValue(model)}`, 'model');
  const m = model as Module & { blocks?: unknown; config?: unknown };
  if (!Array.isArray(m.blocks) || m.blocks.length === 0 || !m.blocks.every((b) => b instanceof Block)) {
    throw new ValueError(op, `model.blocks must be a non-empty array of Blocks, got ${describeValue(m.blocks)}`, 'model');
  }
  if (m.config === null || typeof m.config !== 'object') throw new ValueError(op, `model.config must be the object the model is built from, got ${describeValue(m.config)}`, 'model');
  return (m.blocks as Block[]).map((block, i) => {
    const attn = block.attn;
    const at = `model.blocks[${i}].attn`;
    if (!(attn instanceof MultiHeadAttention)) throw new ValueError(op, `${at} is already an ${attn.constructor.name} (convert the original model)`, 'model');
    if (attn.wk.inFeatures !== attn.dim) throw new ValueError(op, `${at} is a cross-attention layer (kvDim ${attn.wk.inFeatures} ≠ dim ${attn.dim}); EliteKV converts self-attention`, 'model');
    if (attn.wk.bias !== null || attn.wv.bias !== null || attn.wq.bias !== null || attn.wo.bias !== null) {
      throw new ValueError(op, `${at} has biased projections; EliteKV converts bias-free q/k/v/o (a key bias would not survive the latent)`, 'model');
    }
    if (Number.isFinite(attn.window)) throw new ValueError(op, `${at} has a sliding window of ${attn.window}; EliteKVAttention attends to every cached token`, 'model');
    if (attn.headDim % 2 !== 0) throw new ValueError(op, `${at} has an odd headDim=${attn.headDim} (rotary channels come in pairs)`, 'model');
    checkSourceRoPE(op, `${at}.positional`, attn.positional, attn.headDim, 'model');
    return attn;
  });
}

/**
 * One layer's EliteKV weights from a MultiHeadAttention with RoPE (float64): rows of wq and wk reordered per head,
 * W_kv assembled and factored by thin SVD, kept to rank c; with `rotations` (per query head), each non-elite query
 * pair multiplied by its replacement rotation (q_a ← c̄ q_a − s̄ q_b, q_b ← s̄ q_a + c̄ q_b); with `inputMean`, the
 * mean-key weights: the non-elite query rows as they are, and each KV head's mean key W_k,rest·E[x].
 */
function convertLayer(attn: MultiHeadAttention, pairs: readonly (readonly number[])[], c: number, whitening?: Tensor, rotations?: readonly MeanRotation[], inputMean?: Tensor): LayerWeights {
  const { numHeads: H, numKVHeads: Hkv, headDim: d, dim: C } = attn;
  const rope = attn.positional as RoPE;
  const P = d / 2;
  const G = H / Hkv;
  const r = pairs[0]!.length;
  const dn = d - 2 * r;
  const [aOf, bOf] = pairChannels(rope.layout, P);
  /** Per KV head: the channels of its elite pairs (a then b) and of the other pairs (a then b). */
  const order = pairs.map((elite) => {
    const kept = new Set(elite);
    const rest = Array.from({ length: P }, (_, j) => j).filter((j) => !kept.has(j));
    const pick = (js: readonly number[]): number[] => [...js.map((j) => aOf[j]!), ...js.map((j) => bOf[j]!)];
    return { pe: pick(elite), nope: pick(rest), rest };
  });
  const wq = attn.wq.weight.data;
  const wk = attn.wk.weight.data;
  const wv = attn.wv.weight.data;
  const rows = (src: ArrayLike<number>, picks: readonly number[]): Float64Array => {
    const out = new Float64Array(picks.length * C);
    picks.forEach((row, i) => {
      for (let j = 0; j < C; j++) out[i * C + j] = src[row * C + j]!;
    });
    return out;
  };
  const qRows: number[] = [];
  for (let h = 0; h < H; h++) {
    const { pe, nope } = order[Math.floor(h / G)]!;
    for (const ch of [...pe, ...nope]) qRows.push(h * d + ch);
  }
  const wqConverted = rows(wq, qRows); // [H·d, C], each head [pe (2r) | nope a's (P − r) | nope b's (P − r)]
  const wqRest = inputMean === undefined || dn === 0 ? undefined : rows(wqConverted, Array.from({ length: H * dn }, (_, i) => Math.floor(i / dn) * d + 2 * r + (i % dn))); // before the fold
  if (rotations !== undefined) {
    for (let h = 0; h < H; h++) {
      const { rest } = order[Math.floor(h / G)]!;
      const mean = rotations[h]!;
      rest.forEach((j, i) => {
        const a = (h * d + 2 * r + i) * C;
        const b = (h * d + 2 * r + rest.length + i) * C;
        const [cj, sj] = [mean.cos[j]!, mean.sin[j]!];
        for (let x = 0; x < C; x++) {
          const [qa, qb] = [wqConverted[a + x]!, wqConverted[b + x]!];
          wqConverted[a + x] = cj * qa - sj * qb;
          wqConverted[b + x] = sj * qa + cj * qb;
        }
      });
    }
  }
  const kRopeRows = order.flatMap(({ pe }, g) => pe.map((ch) => g * d + ch));
  // W_kvᵀ [n, C], n = Hkv·(dn + d): per KV head its non-rotary key rows, then its value rows
  const n = Hkv * (dn + d);
  const kvT = new Float64Array(n * C);
  for (let g = 0; g < Hkv; g++) {
    const base = g * (dn + d);
    kvT.set(rows(wk, order[g]!.nope.map((ch) => g * d + ch)), base * C);
    kvT.set(rows(wv, Array.from({ length: d }, (_, i) => g * d + i)), (base + dn) * C);
  }
  const wkv = new Float64Array(C * n); // W_kv [C, n]
  for (let i = 0; i < n; i++) for (let j = 0; j < C; j++) wkv[j * n + i] = kvT[i * C + j]!;
  const L = whitening?.data; // lower [C, C], Σ + εI = L·Lᵀ, or none (the reference's weight-space SVD)
  const factored = new Float64Array(C * n); // Lᵀ W_kv, or W_kv
  if (L === undefined) factored.set(wkv);
  else for (let a = 0; a < C; a++) for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let b = a; b < C; b++) sum += L[b * C + a]! * wkv[b * n + i]!;
    factored[a * n + i] = sum;
  }
  const { u, s, v } = svd(new Tensor(factored, [C, n])); // u [C, k], s [k], v [n, k]
  const k = s.shape[0]!;
  const kvA = new Float64Array(c * C); // U_cᵀ, or U_cᵀ L⁻¹ (row i: a = u_iᵀ L⁻¹, by back substitution)
  for (let i = 0; i < c; i++) {
    if (L === undefined) {
      for (let j = 0; j < C; j++) kvA[i * C + j] = u.data[j * k + i]!;
      continue;
    }
    for (let j = C - 1; j >= 0; j--) { // a·L = u_i: a_j = (u_ij − Σ_{m>j} a_m L_mj) / L_jj
      let sum = u.data[j * k + i]!;
      for (let m = j + 1; m < C; m++) sum -= kvA[i * C + m]! * L[m * C + j]!;
      kvA[i * C + j] = sum / L[j * C + j]!;
    }
  }
  const kvB = new Float64Array(n * c); // V_c S_c
  for (let i = 0; i < n; i++) for (let j = 0; j < c; j++) kvB[i * c + j] = v.data[i * k + j]! * s.data[j]!;
  const meanKey: Partial<LayerWeights> = {};
  if (wqRest !== undefined && inputMean !== undefined) {
    const keyMean = new Float64Array(Hkv * dn); // per KV head W_k,rest·E[x], its nope channels' order
    for (let g = 0; g < Hkv; g++) {
      order[g]!.nope.forEach((ch, i) => {
        let sum = 0;
        for (let x = 0; x < C; x++) sum += wk[(g * d + ch) * C + x]! * inputMean.data[x]!;
        keyMean[g * dn + i] = sum;
      });
    }
    meanKey['wqRest.weight'] = new Tensor(wqRest, [H * dn, C]);
    meanKey.keyMean = new Tensor(keyMean, [Hkv, dn]);
  }
  return {
    ...meanKey,
    'wq.weight': new Tensor(wqConverted, [H * d, C]),
    'wkRope.weight': new Tensor(rows(wk, kRopeRows), [Hkv * 2 * r, C]),
    'kvA.weight': new Tensor(kvA, [c, C]),
    'kvB.weight': new Tensor(kvB, [n, c]),
    'wo.weight': new Tensor(Float64Array.from(attn.wo.weight.data), attn.wo.weight.shape.slice()),
  };
}
