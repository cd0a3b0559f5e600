/**
 * PaTH attention (Yang et al. 2025, "PaTH Attention: Position Encoding via Accumulating Householder
 * Transformations", arXiv 2505.16381; fla-org/flash-linear-attention `fla/layers/path_attn.py`,
 * `fla/ops/path_attn/naive.py`). Softmax attention without RoPE: the position signal between key j and query i is
 * the product of one data-dependent Householder-like transform per token in between,
 *   H_t = I − β_t w_t w_tᵀ  (‖w_t‖ = 1, β_t ∈ (0, 2)),   s_ij = scale · (q_iᵀ H_i H_{i−1} ⋯ H_{j+1} k_j + G_i − G_j),
 * with G = cumsum(g) an optional log-space forget gate (PaTH-FoX; fla adds it before the scale), then causal softmax.
 *
 * Three implementations that agree to rounding:
 *   - `pathAttentionDirect`: the definition, an explicit d×d product per (i, j) pair (O(T²d²), for tests);
 *   - `pathAttention`: the blockwise UT/WY algorithm from differentiable ops (the one used, with autograd);
 *   - `PaTHCache.step` / `pathAttentionRecurrent`: decoding, which multiplies every cached key by H_t per new token.
 * `PaTHAttention` is the layer: w_t from x by a low-rank projection, a short causal conv + SiLU and L2 normalisation,
 * β_t = 2σ(W_β x_t + b), g_t = logσ(W_g x_t + b).
 *
 * Shape letters: B batch, HQ query heads, H key/value heads (HQ = G·H; query head h·G + r reads kv head h, as fla),
 * T length, d head dim, dv value dim, BT chunk size, n = ⌈T/BT⌉ chunks, C model dim.
 */
import {
  defaultGenerator,
  DTypeError, Generator, Module, Parameter, ShapeError, Tensor, ValueError, concat, cumsum, defineOp, describeValue, expectInteger, expectNumber,
  expectOptions, expectTensor, eye, fmtShape, matmul, narrow, noGrad, pad, rand, sum, tril, unitLowerInverse, zeros,
  expectSize, optionalDType, optionalGenerator, type DType, type TypedArray,
} from '../core/index.js';
import { expectSequence, expectWeight, optionalBoolean } from './checks.js';
import { KVCache } from './kv-cache.js';
import { Linear } from './linear.js';
import { RMSNorm } from './norm.js';

/** Options of `pathAttention` and its direct and recurrent forms: `scale`, `chunkSize`, `forgetGate`. */
export interface PaTHOptions {
  /** Logit scale; default 1/√d. */
  scale?: number;
  /**
   * Tokens per chunk of the blockwise algorithm (default 64, as fla; clamped to T). Any size works: when it does not
   * divide T the sequence is padded at the end with q = k = w = 0, β = 0 (H = I) as fla's naive reference does, and
   * the padding is cut off the output. Ignored by the direct and recurrent forms.
   */
  chunkSize?: number;
  /** Per-token log forget gate g [B, HQ, T] (log-space, e.g. logσ(·) ≤ 0); the logits get G_i − G_j with G = cumsum(g). */
  forgetGate?: Tensor | null;
}

interface Dims {
  B: number;
  HQ: number;
  H: number;
  G: number;
  T: number;
  d: number;
  dv: number;
  scale: number;
  gate: Tensor | null;
}

/** Validate q [B, HQ, T, d], k, w [B, H, T, d], v [B, H, T, dv], beta [B, H, T], forgetGate [B, HQ, T]. */
function checkInputs(op: string, q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, options: PaTHOptions | undefined): Dims {
  const o = expectOptions(op, 'options', options, ['scale', 'chunkSize', 'forgetGate']);
  const named = [[q, 'q'], [k, 'k'], [v, 'v'], [w, 'w'], [beta, 'beta']] as const;
  for (const [t, name] of named) expectTensor(op, name, t);
  for (const [t, name] of named) {
    if (t.dtype !== q.dtype) throw new DTypeError(op, `dtypes differ — q is ${q.dtype}, ${name} is ${t.dtype} (cast one of them)`, name);
  }
  for (const [t, name] of [[q, 'q'], [k, 'k'], [v, 'v'], [w, 'w']] as const) {
    if (t.ndim !== 4) throw new ShapeError(op, `${name}=${fmtShape(t.shape)} must be [B, heads, T, dim]`, name);
  }
  const [B, HQ, T, d] = q.shape as [number, number, number, number];
  const [, H] = k.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const want = (t: Tensor, shape: readonly number[], name: string, rule: string): void => {
    if (t.ndim !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new ShapeError(op, `${name}=${fmtShape(t.shape)} does not match — expected ${fmtShape(shape)} (${rule})`, name);
    }
  };
  want(k, [B, H, T, d], 'k', 'k is [B, H, T, d] with q [B, HQ, T, d]');
  want(w, [B, H, T, d], 'w', 'w has the shape of k');
  want(v, [B, H, T, dv], 'v', 'v is [B, H, T, dv] with k [B, H, T, d]');
  want(beta, [B, H, T], 'beta', 'one β per key token and head');
  if (H === 0 || HQ % H !== 0) throw new ShapeError(op, `query heads HQ=${HQ} must be a multiple of key heads H=${H} — k=${fmtShape(k.shape)} (grouped-query attention)`, 'k');
  const gate = o.forgetGate ?? null;
  if (gate !== null) {
    if (!(gate instanceof Tensor)) throw new DTypeError(op, `forgetGate must be a Tensor or null, got ${describeValue(gate)}`, 'forgetGate');
    if (gate.dtype !== q.dtype) throw new DTypeError(op, `dtypes differ — q is ${q.dtype}, forgetGate is ${gate.dtype}`, 'forgetGate');
    want(gate, [B, HQ, T], 'forgetGate', 'one log gate per query token and head');
  }
  const scale = o.scale === undefined ? 1 / Math.sqrt(d) : expectNumber(op, 'scale', o.scale);
  if (o.chunkSize !== undefined) expectInteger(op, 'chunkSize', o.chunkSize, { min: 1 });
  return { B, HQ, H, G: HQ / H, T, d, dv, scale, gate };
}

/**
 * row[off … off+n) ← softmax_j(scale·s_j), as exp(scale·(s_j − s*)) / Σ_j with s* the s_j that scale·s makes largest
 * (max s for scale ≥ 0, min s for scale < 0). scale·(s_j − s*) ≤ 0 cannot overflow, so every finite scale gives
 * probabilities — 1e300 gives the argmax, the limit of softmax(scale·s) — where exp(scale·s_j − max) turns ∞ − ∞ into
 * NaN once scale·s_j leaves the float range (float32: |scale·s| > 3.4e38). Computing it right beats refusing large
 * scales: softmax(scale·s) is defined for every finite scale, and where scale·s overflows depends on the logits, so
 * no bound on scale alone would be right. Σ_j ≥ 1 (the s* term is exp(0)), never 0/0.
 */
function scaledSoftmaxRow(row: Float64Array, off: number, n: number, scale: number): void {
  if (scale === 0) {
    row.fill(1 / n, off, off + n); // softmax(0) is uniform (and 0·(s_j − s*) would be NaN if s_j − s* overflowed)
    return;
  }
  let hi = -Infinity;
  let lo = Infinity;
  for (let j = off; j < off + n; j++) {
    const v = row[j]!;
    if (v > hi) hi = v;
    if (v < lo) lo = v;
  }
  const top = scale > 0 ? hi : lo;
  let z = 0;
  for (let j = off; j < off + n; j++) z += row[j] = Math.exp(scale * (row[j]! - top));
  const inv = 1 / z;
  for (let j = off; j < off + n; j++) row[j] = row[j]! * inv;
}

/** softmax over the last axis of scale·scores (see scaledSoftmaxRow), in float64, returned in scores' dtype. No graph. */
function scaledSoftmaxLast(scores: Tensor, scale: number): Tensor {
  const L = scores.shape[scores.ndim - 1]!;
  const buf = Float64Array.from(scores.data);
  for (let off = 0; off < buf.length; off += L) scaledSoftmaxRow(buf, off, L, scale);
  return new Tensor(scores.dtype === 'float64' ? buf : Float32Array.from(buf), [...scores.shape]);
}

// ── blockwise UT/WY form (the one used) ──

/**
 * Blockwise PaTH attention (fla `fla/ops/path_attn/naive.py::naive_path_attn`, its four steps below). Per chunk of BT tokens with rows W, K, Q, B = diag(β):
 *   T = (I + strictLower(B W Wᵀ))⁻¹                         UT transform: H_b⋯H_a = I − Wᵀ T B W = P (chunk product)
 *   A_local = tril(Q Kᵀ) − tril(Q Wᵀ) · T · strictLower(B W Kᵀ)   scores inside the chunk (diagonal included)
 *   q̂ = Q − tril(Q Wᵀ) T B W,  k̂ = K − (T strictLower(B W Kᵀ))ᵀ W   queries to the chunk start, keys to its end
 * then for a query chunk c and an older key chunk c′ the scores are q̂_c P_{c−1} ⋯ P_{c′+1} k̂_{c′}ᵀ. The walk goes
 * by distance s = c − c′ so that each step is one batched matmul over all chunks; G_i − G_j, the causal mask, the
 * scale and softmax follow. q, k, w [B, HQ|H, T, d], v [B, H, T, dv], beta [B, H, T] → [B, HQ, T, dv].
 */
export function pathAttention(q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, options: PaTHOptions = {}): Tensor {
  const { B, HQ, H, G, T, d, dv, scale, gate } = checkInputs('pathAttention', q, k, v, w, beta, options);
  const chunkSize = options.chunkSize ?? 64;
  if (T === 0) return zeros([B, HQ, 0, dv], { dtype: q.dtype });
  const BT = Math.min(chunkSize, T);
  const n = Math.ceil(T / BT);
  const Tp = n * BT;
  const padT = (x: Tensor): Tensor => (Tp === T ? x : pad(x, [[0, Tp - T], [0, 0]])); // zero rows after T (β = 0: H = I)
  const qc = padT(q.reshape([B, H, G, T, d])).reshape([B, H, G, n, BT, d]);
  const kc = padT(k).reshape([B, H, 1, n, BT, d]);
  const wc = padT(w).reshape([B, H, 1, n, BT, d]);
  const wb = wc.mul(padT(beta.unsqueeze(-1)).reshape([B, H, 1, n, BT, 1])); // B W

  // 1. per chunk: the UT transform T (Joffrain et al. 2006), T B W, T strictLower(B W Kᵀ), and the local scores
  const tInv = unitLowerInverse(matmul(wb, wc, { transposeB: true })); // (I + strictLower(B W Wᵀ))⁻¹
  const twb = matmul(tInv, wb); // T B W   [.., BT, d]
  const twbk = matmul(tInv, tril(matmul(wb, kc, { transposeB: true }), -1)); // T strictLower(B W Kᵀ)   [.., BT, BT]
  const qw = tril(matmul(qc, wc, { transposeB: true })); // tril(Q Wᵀ)   [B, H, G, n, BT, BT]
  const local = tril(matmul(qc, kc, { transposeB: true })).sub(matmul(qw, twbk));

  // 2. transported queries and keys, and each chunk's product P = I − Wᵀ T B W   [B, H, 1, n, d, d]
  const qHat = qc.sub(matmul(qw, twb));
  const kHat = kc.sub(matmul(twbk, wc, { transposeA: true }));
  const chunkProduct = eye(d, d, { dtype: q.dtype }).sub(matmul(wc, twb, { transposeA: true }));

  // 3. walk by chunk distance s: block (c, c − s) = Q⁽ˢ⁾_c k̂_{c−s}ᵀ with Q⁽¹⁾_c = q̂_c and Q⁽ˢ⁺¹⁾_c = Q⁽ˢ⁾_c P_{c−s}
  const blocks: Tensor[] = [local]; // blocks[s]: [B, H, G, n − s, BT, BT], entry c′ = key chunk
  let walk = n > 1 ? narrow(qHat, 3, 1, n - 1) : qHat; // Q⁽ˢ⁾ for query chunks c = s … n−1
  for (let s = 1; s < n; s++) {
    blocks.push(matmul(walk, narrow(kHat, 3, 0, n - s), { transposeB: true }));
    if (s < n - 1) walk = matmul(narrow(walk, 3, 1, n - s - 1), narrow(chunkProduct, 3, 1, n - s - 1));
  }

  // 4. G_i − G_j (before the scale, as fla), causal softmax of the scaled logits, values
  const cum = gate === null ? null : padT(cumsum(gate, -1).unsqueeze(-1)).reshape([B, H, G, Tp]); // G = cumsum(g)
  let out = blockCausalAttention(blocks, padT(v), cum, { N: B * H * G, G, n, BT, scale }); // [B, H, G, Tp, dv]
  if (Tp !== T) out = narrow(out, 3, 0, T);
  return out.reshape([B, HQ, T, dv]);
}

interface BlockLayout {
  /** Batch matrices B·H·G (score blocks and gate); v has N / G of them. */
  N: number;
  G: number;
  n: number;
  BT: number;
  scale: number;
}

interface SoftmaxSaved {
  /** Probabilities per query chunk c: P[c] is [N / G, G·BT, (c + 1)·BT] (rows (g, r) of every kv matrix). */
  P: Tensor[];
  out: TypedArray;
}

/**
 * o = softmax_j≤i(scale·(S_ij + G_i − G_j)) v, one fused op reading the logits S straight from the distance-indexed
 * blocks (block (c, c′) is blocks[c − c′] at index c′), a row block per query chunk that only visits key chunks
 * c′ ≤ c, so neither the [T, T] logits nor the masked half are ever built. Backward as in FlashAttention
 * (Dao et al. 2022, appendix B.2): dV = Pᵀ dO, dP = dO vᵀ, dS = scale·P ⊙ (dP − rowsum(dO ⊙ O)), dG_i += Σ_j dS_ij,
 * dG_j −= Σ_i dS_ij. The products are batched matmuls per query chunk, the G query heads of a kv head stacked as rows
 * [G·BT, width] so that one product covers them. blocks[s]: [..., n − s, BT, BT]; v: [N / G, n·BT, dv];
 * cum: [N, n·BT] or null → [..., n·BT, dv].
 */
function blockCausalAttention(blocks: readonly Tensor[], v: Tensor, cum: Tensor | null, layout: BlockLayout): Tensor {
  const { N, G, n, BT, scale } = layout;
  const Tp = n * BT;
  const dv = v.shape[v.ndim - 1]!;
  const bb = BT * BT;
  const KV = N / G; // kv matrices
  const rows = G * BT; // query rows of one kv matrix in a chunk
  const vKV = v.reshape([KV, Tp, dv]);
  const vPrefix = (width: number): Tensor => narrow(vKV, 1, 0, width); // keys 0 … width − 1   [KV, width, dv]
  const S = new Float64Array(Tp); // one row of logits, softmax in float64 whatever the dtype
  const op = defineOp<SoftmaxSaved>({
    name: 'pathAttention.softmax',
    forward: (...inputs) => {
      const dtype = inputs[0]!.dtype;
      const P: Tensor[] = [];
      const out = zeros([N * Tp * dv], { dtype }).data;
      for (let c = 0; c < n; c++) {
        const width = (c + 1) * BT;
        const pc = zeros([KV, rows, width], { dtype });
        for (let m = 0; m < N; m++) {
          for (let r = 0; r < BT; r++) {
            for (let cp = 0; cp <= c; cp++) {
              const src = blocks[c - cp]!.data;
              const base = (m * (n - c + cp) + cp) * bb + r * BT;
              for (let j = 0; j < BT; j++) S[cp * BT + j] = src[base + j]!;
            }
            const i = c * BT + r; // global query index: sees key columns 0 … i
            if (cum !== null) {
              const gi = cum.data[m * Tp + i]!;
              for (let j = 0; j <= i; j++) S[j] += gi - cum.data[m * Tp + j]!; // s_ij + G_i − G_j
            }
            scaledSoftmaxRow(S, 0, i + 1, scale);
            const row = (m * BT + r) * width; // m = kv·G + g: row (g, r) of kv matrix kv
            for (let j = 0; j <= i; j++) pc.data[row + j] = S[j]!; // columns j > i stay 0
          }
        }
        const oc = matmul(pc, vPrefix(width)).data; // [KV, G·BT, dv]
        for (let m = 0; m < N; m++) out.set(oc.subarray(m * BT * dv, (m + 1) * BT * dv), (m * Tp + c * BT) * dv);
        P.push(pc);
      }
      return { output: new Tensor(out, [...blocks[0]!.shape.slice(0, -3), Tp, dv]), saved: { P, out } };
    },
    backward: (g, { P, out }, needs) => {
      const dBlocks = blocks.map((b) => zeros([b.size], { dtype: b.dtype }).data);
      const dV = zeros([v.size], { dtype: v.dtype }).data;
      const dCum = cum === null ? null : zeros([cum.size], { dtype: cum.dtype }).data;
      const delta = new Float64Array(BT);
      for (let c = 0; c < n; c++) {
        const width = (c + 1) * BT;
        const pc = P[c]!;
        const gc = zeros([KV, rows, dv], { dtype: g.dtype });
        for (let m = 0; m < N; m++) gc.data.set(g.data.subarray((m * Tp + c * BT) * dv, (m * Tp + c * BT + BT) * dv), m * BT * dv);
        const dVc = matmul(pc, gc, { transposeA: true }).data; // Pᵀ dO   [KV, width, dv]
        for (let kv = 0; kv < KV; kv++) {
          const to = kv * Tp * dv;
          const from = kv * width * dv;
          for (let e = 0; e < width * dv; e++) dV[to + e] += dVc[from + e]!;
        }
        const dP = matmul(gc, vPrefix(width), { transposeB: true }).data; // dO vᵀ   [KV, G·BT, width]
        for (let m = 0; m < N; m++) {
          const gOff = (m * Tp + c * BT) * dv;
          for (let r = 0; r < BT; r++) {
            let dot = 0;
            for (let e = 0; e < dv; e++) dot += g.data[gOff + r * dv + e]! * out[gOff + r * dv + e]!;
            delta[r] = dot; // rowsum(dO ⊙ O) = rowsum(dP ⊙ P)
          }
          for (let r = 0; r < BT; r++) {
            const i = c * BT + r;
            const row = (m * BT + r) * width;
            let rowSum = 0;
            for (let j = 0; j <= i; j++) {
              const ds = scale * pc.data[row + j]! * (dP[row + j]! - delta[r]!);
              S[j] = ds;
              rowSum += ds;
              if (dCum !== null) dCum[m * Tp + j] -= ds;
            }
            for (let j = i + 1; j < width; j++) S[j] = 0;
            if (dCum !== null) dCum[m * Tp + i] += rowSum;
            for (let cp = 0; cp <= c; cp++) {
              const dst = dBlocks[c - cp]!;
              const base = (m * (n - c + cp) + cp) * bb + r * BT;
              for (let j = 0; j < BT; j++) dst[base + j] = S[cp * BT + j]!;
            }
          }
        }
      }
      const grads: Array<Tensor | null> = blocks.map((b, s) => (needs[s] ? new Tensor(dBlocks[s]!, b.shape) : null));
      grads.push(needs[blocks.length] ? new Tensor(dV, v.shape) : null);
      if (cum !== null && dCum !== null) grads.push(new Tensor(dCum, cum.shape));
      return grads;
    },
  });
  return op(...blocks, v, ...(cum === null ? [] : [cum]));
}

// ── direct definition (readable reference) ──

/**
 * PaTH attention by its definition (Yang et al. 2025: s_ij = scale·q_iᵀ H_i H_{i−1} ⋯ H_{j+1} k_j, the header's
 * formula): for each query i, walk j = i, i−1, …, 0 keeping the explicit d×d product M = H_i H_{i−1} ⋯ H_{j+1}
 * (M = I at j = i; then M ← M H_j, a rank-one update), s_ij = scale·(q_iᵀ M k_j + G_i − G_j), softmax over j ≤ i.
 * O(T²d²) per head, float64 throughout; no autograd. Same arguments as pathAttention.
 */
export function pathAttentionDirect(q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, options: PaTHOptions = {}): Tensor {
  const { B, HQ, H, G, T, d, dv, scale, gate } = checkInputs('pathAttentionDirect', q, k, v, w, beta, options);
  const out = zeros([B, HQ, T, dv], { dtype: q.dtype });
  const M = new Float64Array(d * d);
  const Mw = new Float64Array(d);
  const s = new Float64Array(T);
  const cum = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let hq = 0; hq < HQ; hq++) {
      const h = Math.floor(hq / G);
      const qOff = (b * HQ + hq) * T * d;
      const kOff = (b * H + h) * T * d; // k and w
      const vOff = (b * H + h) * T * dv;
      const bOff = (b * H + h) * T;
      let acc = 0;
      for (let t = 0; t < T; t++) cum[t] = acc += gate === null ? 0 : gate.data[(b * HQ + hq) * T + t]!;
      for (let i = 0; i < T; i++) {
        M.fill(0);
        for (let r = 0; r < d; r++) M[r * d + r] = 1;
        for (let j = i; j >= 0; j--) {
          let dot = 0; // q_iᵀ M k_j
          for (let r = 0; r < d; r++) {
            let mk = 0;
            for (let c = 0; c < d; c++) mk += M[r * d + c]! * k.data[kOff + j * d + c]!;
            dot += q.data[qOff + i * d + r]! * mk;
          }
          s[j] = dot + cum[i]! - cum[j]!;
          // M ← M H_j = M − β_j (M w_j) w_jᵀ
          const bj = beta.data[bOff + j]!;
          for (let r = 0; r < d; r++) {
            let mw = 0;
            for (let c = 0; c < d; c++) mw += M[r * d + c]! * w.data[kOff + j * d + c]!;
            Mw[r] = mw;
          }
          for (let r = 0; r < d; r++) for (let c = 0; c < d; c++) M[r * d + c] -= bj * Mw[r]! * w.data[kOff + j * d + c]!;
        }
        scaledSoftmaxRow(s, 0, i + 1, scale);
        const oRow = ((b * HQ + hq) * T + i) * dv;
        for (let j = 0; j <= i; j++) {
          const p = s[j]!;
          for (let c = 0; c < dv; c++) out.data[oRow + c] += p * v.data[vOff + j * dv + c]!;
        }
      }
    }
  }
  return out;
}

// ── recurrent decoding ──

/**
 * Decoding state for PaTH attention. `keys` [B, H, L, d] holds every cached key already multiplied by the transforms
 * of all later tokens (k_j ← H_t k_j at each new token t, fla `rank_one_update`), `values` [B, H, L, dv] the raw
 * values, `gates` [B, HQ, L] the cumulative gate G_j of each cached token (null without a gate), `convState` the
 * last inputs of PaTHAttention's short convolution. Inference only: nothing cached carries a graph.
 */
export class PaTHCache extends KVCache {
  gates: Tensor | null = null;
  /** Last kernel−1 pre-convolution w features [B, kernel − 1, H·d] (PaTHAttention's short conv), or null. */
  convState: Tensor | null = null;

  /** No sliding-window eviction (KVCache's maxLength): every token stays cached. */
  constructor() {
    super();
  }

  /**
   * Attend T new tokens one at a time (q [B, HQ, T, d], k, w [B, H, T, d], v [B, H, T, dv], beta [B, H, T],
   * forgetGate [B, HQ, T]) → [B, HQ, T, dv]. Per token t: k_j ← k_j − β_t (k_j·w_t) w_t for every cached j (= H_t k_j),
   * append raw k_t, v_t and G_t, then softmax(scale·(q_t·k_j + G_t − G_j)) over the cache. Runs without a graph.
   */
  step(q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, options: PaTHOptions = {}): Tensor {
    return stepAs('PaTHCache.step', this, q, k, v, w, beta, options);
  }

  override reset(): void {
    super.reset();
    this.gates = null;
    this.convState = null;
  }
}

/** PaTH attention by recurrent decoding from an empty cache (see PaTHCache.step); same arguments as pathAttention. */
export function pathAttentionRecurrent(q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, options: PaTHOptions = {}): Tensor {
  return stepAs('pathAttentionRecurrent', new PaTHCache(), q, k, v, w, beta, options);
}

/** cache.step with `op` (the method or function the user called) in the error messages. */
function stepAs(op: string, cache: PaTHCache, q: Tensor, k: Tensor, v: Tensor, w: Tensor, beta: Tensor, options: PaTHOptions = {}): Tensor {
  const { B, HQ, H, G, T, d, dv, scale, gate } = checkInputs(op, q, k, v, w, beta, options);
  checkContinues(op, cache, { B, H, d, dv, dtype: q.dtype, gated: gate !== null });
  if (T === 0) return zeros([B, HQ, 0, dv], { dtype: q.dtype });
  return noGrad(() => {
    const outs: Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const wt = narrow(w, 2, t, 1); // [B, H, 1, d]
      const bt = narrow(beta, 2, t, 1).unsqueeze(-1); // [B, H, 1, 1]
      if (cache.keys !== null) {
        cache.keys = cache.keys.sub(matmul(matmul(cache.keys, wt, { transposeB: true }).mul(bt), wt)); // H_t k_j
      }
      cache.keys = cache.keys === null ? narrow(k, 2, t, 1) : concat([cache.keys, narrow(k, 2, t, 1)], 2);
      cache.values = cache.values === null ? narrow(v, 2, t, 1) : concat([cache.values, narrow(v, 2, t, 1)], 2);
      const L = cache.keys.shape[2]!;
      let scores = matmul(narrow(q, 2, t, 1).reshape([B, H, G, 1, d]), cache.keys.unsqueeze(2), { transposeB: true }); // [B, H, G, 1, L]
      if (gate !== null) {
        const prev = cache.gates === null ? zeros([B, HQ, 1], { dtype: q.dtype }) : narrow(cache.gates, 2, L - 2, 1);
        const gt = prev.add(narrow(gate, 2, t, 1)); // G_t = G_{t−1} + g_t
        cache.gates = cache.gates === null ? gt : concat([cache.gates, gt], 2);
        scores = scores.add(gt.reshape([B, H, G, 1, 1])).sub(cache.gates.reshape([B, H, G, 1, L])); // + G_t − G_j
      }
      const probs = scaledSoftmaxLast(scores, scale); // [B, H, G, 1, L]
      outs.push(matmul(probs, cache.values.unsqueeze(2))); // [B, H, G, 1, dv]
    }
    cache.position += T;
    return (T === 1 ? outs[0]! : concat(outs, 3)).reshape([B, HQ, T, dv]);
  });
}

/** The cache can take tokens of batch B, H key heads of dims d / dv in dtype, with or without a forget gate; `op` is the caller. */
function checkContinues(op: string, cache: PaTHCache, next: { B: number; H: number; d: number; dv: number; dtype: DType; gated: boolean }): void {
  if (cache.keys === null) return;
  const [b0, h0, , d0] = cache.keys.shape;
  if (b0 !== next.B || h0 !== next.H || d0 !== next.d || cache.values!.shape[3] !== next.dv || cache.keys.dtype !== next.dtype) {
    throw new ShapeError(op, `the new tokens [B=${next.B}, H=${next.H}, d=${next.d}, dv=${next.dv}] ${next.dtype} do not continue cached keys=${fmtShape(cache.keys.shape)} ${cache.keys.dtype} (same B, H, d, dv, dtype)`, 'cache');
  }
  if (next.gated !== (cache.gates !== null)) {
    throw new ValueError(op, `forgetGate is ${next.gated ? 'given' : 'missing'} but the cache was filled ${cache.gates === null ? 'without' : 'with'} one (be consistent)`, 'forgetGate');
  }
}

// ── the layer ──

/** Options of `ShortConvolution`: `generator`, `dtype`. */
export interface ShortConvolutionOptions {
  generator?: Generator;
  /** Default 'float32'. */
  dtype?: DType;
}

/**
 * Depthwise causal convolution over time followed by SiLU (fla `ShortConvolution`, no bias):
 * y_t = SiLU(Σ_κ W[:, κ] ⊙ u_{t−K+1+κ}), with zeros, or the previous call's last K − 1 inputs, before the first token.
 */
export class ShortConvolution extends Module {
  /** [channels, kernel]; tap kernel − 1 multiplies the current token (fla's [channels, 1, kernel] without the 1). */
  readonly weight: Parameter;

  constructor(readonly channels: number, readonly kernel: number, options: ShortConvolutionOptions = {}) {
    super();
    const op = 'ShortConvolution';
    expectSize(op, 'channels', channels);
    expectSize(op, 'kernel', kernel);
    expectWeight(op, 'weight', channels, kernel);
    const o = expectOptions(op, 'options', options, ['generator', 'dtype']);
    optionalGenerator(op, 'generator', o.generator);
    optionalDType(op, 'dtype', o.dtype);
    const bound = 1 / Math.sqrt(kernel); // PyTorch's Conv1d init U(±1/√fanIn), fanIn = kernel when depthwise
    this.weight = Parameter.from(rand([channels, kernel], { low: -bound, high: bound, generator: options.generator ?? defaultGenerator(), dtype: options.dtype ?? 'float32' }));
  }

  /** u [B, T, channels] and state [B, kernel − 1, channels] (or null), checked with `op` (the method the user called). */
  checkCall(op: string, u: unknown, state: unknown, arg = 'u'): void {
    expectSequence(op, arg, u, this.channels, this.weight.dtype);
    if (state === null || state === undefined) return;
    expectTensor(op, 'state', state);
    const [B, K, C] = [u.shape[0]!, this.kernel, this.channels];
    if (state.ndim !== 3 || state.shape[0] !== B || state.shape[1] !== K - 1 || state.shape[2] !== C || state.dtype !== u.dtype) {
      throw new ShapeError(op, `state=${fmtShape(state.shape)} ${state.dtype} must be [${B}, ${K - 1}, ${C}] ${u.dtype} (the last kernel − 1 inputs)`, 'state');
    }
  }

  /** u: [B, T, channels] → output [B, T, channels], and the last K − 1 inputs [B, K − 1, channels] to continue from. */
  forward(u: Tensor, state: Tensor | null = null): { output: Tensor; state: Tensor } {
    this.checkCall('ShortConvolution.forward', u, state);
    const [B, T, C] = u.shape as [number, number, number];
    const K = this.kernel;
    const prefix = state ?? zeros([B, K - 1, C], { dtype: u.dtype });
    const padded = K === 1 ? u : concat([prefix, u], 1); // [B, T + K − 1, C]
    let y: Tensor | null = null;
    for (let kappa = 0; kappa < K; kappa++) {
      const tap = narrow(padded, 1, kappa, T).mul(narrow(this.weight, 1, kappa, 1).reshape([C]));
      y = y === null ? tap : y.add(tap);
    }
    return { output: y!.silu(), state: noGrad(() => narrow(padded, 1, T, K - 1)).detach() };
  }
}

/**
 * Options of `PaTHAttention`: `numHeads`, `numKVHeads`, `useForgetGate`, `lowRankW`, `shortConv`, `qkNorm`,
 * `chunkSize`, `generator`, `dtype`.
 */
export interface PaTHAttentionOptions {
  numHeads: number;
  /** Key/value heads (grouped-query attention; divides numHeads); default numHeads. w and β are per key/value head. */
  numKVHeads?: number;
  /** PaTH-FoX forget gate g_t = logσ(W_g x_t + b), one per query head; default false (fla). */
  useForgetGate?: boolean;
  /** Rank of the factored w projection C → r → H·d (fla's `use_low_rank_w`, r = 32); false = one C → H·d linear. Default 32. */
  lowRankW?: number | false;
  /** Kernel size of the depthwise causal short convolution (+ SiLU) on w (fla's `w_conv1d`, no bias); false = none. Default 3. */
  shortConv?: number | false;
  /** RMSNorm on q and k before the heads are split (fla's `use_qk_norm`: over all heads together, eps 1e-5). Default false. */
  qkNorm?: boolean;
  /** Chunk size of the blockwise algorithm; default 64. */
  chunkSize?: number;
  generator?: Generator;
  dtype?: DType;
}

/** Options of a `PaTHAttention` call: `cache`. */
export interface PaTHCallOptions {
  /** Decoding state: the new tokens are attended recurrently (PaTHCache.step), without a graph. */
  cache?: PaTHCache;
}

const PATH_ATTENTION_OPTIONS = ['numHeads', 'numKVHeads', 'useForgetGate', 'lowRankW', 'shortConv', 'qkNorm', 'chunkSize', 'generator', 'dtype'] as const;

/** Every PaTHAttention option checked with `op` (PaTHAttention, or a model building it) in the messages. */
export function checkPaTHOptions(op: string, dim: number, options: PaTHAttentionOptions, known: readonly string[]): void {
  expectSize(op, 'dim', dim);
  const o = expectOptions(op, 'options', options, known);
  const numHeads = expectSize(op, 'numHeads', o.numHeads);
  if (dim % numHeads !== 0) throw new ValueError(op, `dim=${dim} must be divisible by numHeads=${numHeads}`, 'numHeads');
  const numKVHeads = o.numKVHeads === undefined ? numHeads : expectSize(op, 'numKVHeads', o.numKVHeads);
  if (numHeads % numKVHeads !== 0) throw new ValueError(op, `numKVHeads=${numKVHeads} must divide numHeads=${numHeads}`, 'numKVHeads');
  optionalBoolean(op, 'useForgetGate', o.useForgetGate);
  if (o.lowRankW !== undefined && o.lowRankW !== false) expectWeight(op, 'lowRankW', expectSize(op, 'lowRankW', o.lowRankW), dim);
  if (o.shortConv !== undefined && o.shortConv !== false) expectWeight(op, 'shortConv', dim, expectSize(op, 'shortConv', o.shortConv));
  optionalBoolean(op, 'qkNorm', o.qkNorm);
  if (o.chunkSize !== undefined) expectSize(op, 'chunkSize', o.chunkSize);
  optionalGenerator(op, 'generator', o.generator);
  optionalDType(op, 'dtype', o.dtype);
  expectWeight(op, 'wq.weight', dim, dim);
}

/** fla's `l2_norm`: x / √(Σx² + 1e-6) over the last axis. */
const L2_EPS = 1e-6;

/**
 * The PaTH attention layer (fla `PaTHAttention`): q, k, v projections without bias, w_t = L2norm(SiLU(conv(W_up W_down x)))
 * per key head, β_t = 2σ(W_β x_t + b) ∈ (0, 2) per key head (negative eigenvalues allowed), optional forget gate, no
 * positional encoding. x [B, T, C] → [B, T, C].
 */
export class PaTHAttention extends Module {
  readonly numHeads: number;
  readonly numKVHeads: number;
  readonly headDim: number;
  readonly chunkSize: number;
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  /** C → r of the low-rank w projection (null when lowRankW is false). */
  readonly wDown: Linear | null;
  /** r (or C) → H·d of the w projection. */
  readonly wUp: Linear;
  /** Short causal conv (+ SiLU) on the w features, or null. */
  readonly wConv: ShortConvolution | null;
  readonly betaProj: Linear;
  readonly gateProj: Linear | null;
  readonly qNorm: RMSNorm | null;
  readonly kNorm: RMSNorm | null;
  readonly wo: Linear;

  constructor(readonly dim: number, options: PaTHAttentionOptions) {
    super();
    checkPaTHOptions('PaTHAttention', dim, options, [...PATH_ATTENTION_OPTIONS]);
    const { numHeads, numKVHeads = numHeads, lowRankW = 32, shortConv = 3 } = options;
    this.numHeads = numHeads;
    this.numKVHeads = numKVHeads;
    this.headDim = dim / numHeads;
    this.chunkSize = options.chunkSize ?? 64;
    const g = options.generator ?? defaultGenerator();
    const dtype = options.dtype ? { dtype: options.dtype } : {};
    const kvDim = numKVHeads * this.headDim;
    const lin = { bias: false, generator: g, ...dtype };
    this.wq = new Linear(dim, dim, lin);
    this.wk = new Linear(dim, kvDim, lin);
    this.wv = new Linear(dim, kvDim, lin);
    this.wDown = lowRankW === false ? null : new Linear(dim, lowRankW, lin);
    this.wUp = new Linear(lowRankW === false ? dim : lowRankW, kvDim, lin);
    this.wConv = shortConv === false ? null : new ShortConvolution(kvDim, shortConv, { generator: g, ...dtype });
    this.betaProj = new Linear(dim, numKVHeads, { bias: true, generator: g, ...dtype });
    this.gateProj = options.useForgetGate ? new Linear(dim, numHeads, { bias: true, generator: g, ...dtype }) : null;
    this.qNorm = options.qkNorm ? new RMSNorm(dim, { eps: 1e-5, ...dtype }) : null;
    this.kNorm = options.qkNorm ? new RMSNorm(kvDim, { eps: 1e-5, ...dtype }) : null;
    this.wo = new Linear(dim, dim, lin);
  }

  /** Check x [B, T, C] and the options before anything runs (a wrong call leaves the cache untouched); `op` is the caller. */
  checkCall(op: string, x: unknown, options: PaTHCallOptions | undefined): void {
    expectSequence(op, 'x', x, this.dim, this.wq.weight.dtype);
    const o = expectOptions(op, 'options', options, ['cache']);
    const cache = o.cache;
    if (cache === undefined) return;
    if (!(cache instanceof PaTHCache)) {
      throw new DTypeError(op, `cache must be a PaTHCache (PaTH transforms cached keys; a plain KVCache cannot), got ${describeValue(cache)}`, 'cache');
    }
    const d = this.headDim;
    checkContinues(op, cache, { B: x.shape[0]!, H: this.numKVHeads, d, dv: d, dtype: x.dtype, gated: this.gateProj !== null });
    if (this.wConv !== null) this.wConv.checkCall(op, new Tensor(new Float64Array(0), [x.shape[0]!, 0, this.wConv.channels]).cast(x.dtype), cache.convState);
  }

  /** x: [B, T, C] → [B, T, C]; with a cache, continues from the tokens it holds. */
  forward(x: Tensor, options: PaTHCallOptions = {}): Tensor {
    this.checkCall('PaTHAttention.forward', x, options);
    const { cache } = options;
    const [B, T] = x.shape as [number, number, number];
    const { numHeads: HQ, numKVHeads: H, headDim: d } = this;
    let q = this.wq.forward(x);
    let k = this.wk.forward(x);
    if (this.qNorm !== null && this.kNorm !== null) {
      q = this.qNorm.forward(q);
      k = this.kNorm.forward(k);
    }
    const v = this.wv.forward(x);
    let w = this.wUp.forward(this.wDown === null ? x : this.wDown.forward(x)); // [B, T, H·d]
    if (this.wConv !== null) {
      const conv = this.wConv.forward(w, cache?.convState ?? null);
      w = conv.output;
      if (cache !== undefined) cache.convState = conv.state;
    }
    w = w.reshape([B, T, H, d]);
    w = w.mul(sum(w.square(), -1, true).add(L2_EPS).rsqrt()); // unit rows (fla l2_norm)
    const beta = this.betaProj.forward(x).sigmoid().mul(2); // [B, T, H], β ∈ (0, 2)
    const gate = this.gateProj === null ? null : this.gateProj.forward(x).neg().softplus().neg(); // logσ(z) = −softplus(−z)

    const heads = (t: Tensor, n: number): Tensor => t.reshape([B, T, n, d]).transpose(1, 2); // [B, n, T, d]
    const args = [heads(q, HQ), heads(k, H), heads(v, H), w.transpose(1, 2), beta.transpose(1, 2)] as const;
    const opts: PaTHOptions = { chunkSize: this.chunkSize, forgetGate: gate === null ? null : gate.transpose(1, 2) };
    const out = cache === undefined ? pathAttention(...args, opts) : cache.step(...args, opts); // [B, HQ, T, d]
    return this.wo.forward(out.transpose(1, 2).reshape([B, T, HQ * d]));
  }
}
