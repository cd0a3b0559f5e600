/**
 * A²ATS, the scoring half (He, Xing, Wang, Xu, Wu, Zhou, Liu, Xue, Li, ACL Findings 2025; junhuihe-hjh/A2ATS,
 * `vqkey/models/llama_masked.py` and `vqkey/notebooks/construct_codebooks.py`): windowed RoPE and the query-aware
 * key codebook that retrieval attention scores cached keys with.
 *
 * Windowed RoPE (WRoPE): every cached key outside the local window is scored as if it sat W positions behind the
 * query. RoPE's relative-position identity makes that one fixed rotation of the query against the pre-RoPE key:
 *   ⟨R(n + W) q, R(n) k⟩ = ⟨R(W) q, k⟩   for every position n,
 * so pre-RoPE keys can be quantized once, whatever their position (reference: `wrope_relative_pos` = 2048).
 *
 * Query-aware codebook: the quantizer minimizes the error of the scores, E_q[(qᵀ(k − c))²] = (k − c)ᵀ H (k − c) with
 * H = E[q qᵀ] over R(W)-rotated calibration queries, not ‖k − c‖. With H + 1e-6·I = L Lᵀ (H first divided by
 * √mean(H²), as the reference does), that is ‖(k − c) L‖²: k-means++ on the whitened keys k·L (max_iter 300,
 * tol 1e-4 in the reference) gives centroids c̃, a key's code is its nearest c̃, and the codebook the scores use is
 * c̃ L⁻¹, back in key space.
 *
 * `retrievalMask` is the selection (sinks and the local window exact, top-K per query head by the approximate scores,
 * the union per KV head); `RetrievalKVCache` keeps each key's code beside the rotated key and runs the selection
 * inside the models' attention, which then attends exactly to the selected tokens. Codebook shapes are per
 * (layer, KV head): queries [N, d], keys [M, d].
 */
import {
  DTypeError, ShapeError, Tensor, ValueError, cholesky, defaultGenerator, describeValue, expectFiniteValues, expectInteger, expectNumber, expectOneOf,
  expectOptions, expectTensor, fmtShape, kmeans, matmul, noGrad, optionalGenerator, type Generator,
} from '../core/index.js';
import { applyRotary, type PairLayout } from '../positional/index.js';
import { KVCache } from './kv-cache.js';

/** The reference's defaults (`LLM.__init__` in llama_masked.py; the README's top-K example; codebook size per head). */
export const A2ATS_DEFAULTS = { localWindow: 64, attentionSinks: 8, wropeDistance: 2048, topK: 0.03, codebookSize: 4096 } as const;

/** Ridge added to the normalized H before its Cholesky factor (construct_codebooks.py). */
const WHITENING_RIDGE = 1e-6;

/**
 * R(W)·q: queries q [..., T, d] rotated by the fixed distance W, every row alike: the query side of the WRoPE score
 * ⟨R(W)q, k⟩ against pre-RoPE keys. invFreq: the encoding's d/2 inverse frequencies; layout as the encoding's.
 */
export function wropeQuery(q: Tensor, invFreq: ArrayLike<number>, distance: number, layout: PairLayout): Tensor {
  const op = 'wropeQuery';
  expectTensor(op, 'q', q);
  if (!(Array.isArray(invFreq) || invFreq instanceof Float64Array || invFreq instanceof Float32Array)) {
    throw new DTypeError(op, `invFreq must be an array of numbers (d/2 inverse frequencies), got ${describeValue(invFreq)}`, 'invFreq');
  }
  expectFiniteValues(op, 'invFreq', invFreq);
  expectNumber(op, 'distance', distance, { min: 0 });
  expectOneOf(op, 'layout', layout, ['half', 'interleaved']);
  if (q.ndim < 2) throw new ShapeError(op, `q=${fmtShape(q.shape)} needs at least [T, d]`, 'q');
  const [T, d] = q.shape.slice(-2) as [number, number];
  if (invFreq.length * 2 !== d) throw new ShapeError(op, `invFreq has ${invFreq.length} frequencies, q=${fmtShape(q.shape)} has d=${d} (needs d/2)`, 'invFreq');
  const P = d / 2;
  const angles = new Float64Array(T * P);
  for (let t = 0; t < T; t++) for (let i = 0; i < P; i++) angles[t * P + i] = distance * invFreq[i]!;
  return applyRotary(q, new Tensor(angles, [T, P]), { layout });
}

/** Options of `buildQueryAwareCodebook`: `size`, `generator`, `maxIter`, `tol`. */
export interface QueryAwareCodebookOptions {
  /** Codewords (default 4096, at most the number of keys). */
  size?: number;
  generator?: Generator;
  /** k-means iterations at most (default 300). */
  maxIter?: number;
  /** k-means relative inertia tolerance (default 1e-4). */
  tol?: number;
}

/**
 * A²ATS's query-aware vector-quantisation codebook for one KV head: the codewords [C, d] in key space, their whitened
 * copies and the whitening [d, d].
 */
export interface QueryAwareCodebook {
  /** [C, d] codewords in key space: the scores use ⟨R(W)q, codebook[code(k)]⟩. */
  readonly codebook: Tensor;
  /** [C, d] the same codewords whitened (codebook·L): keys are assigned to the nearest of these. */
  readonly whitened: Tensor;
  /** [d, d] lower L with L·Lᵀ = H/√mean(H²) + 1e-6·I. */
  readonly whitening: Tensor;
}

/**
 * The query-aware codebook of one (layer, KV head) from R(W)-rotated calibration queries [N, d] (those of every
 * query head that shares the KV head) and pre-RoPE keys [M, d]: whitening by H's Cholesky factor, k-means++ on k·L,
 * centroids mapped back by L⁻¹. Float64 inside, the keys' dtype out. Not differentiable.
 */
export function buildQueryAwareCodebook(queries: Tensor, keys: Tensor, options: QueryAwareCodebookOptions = {}): QueryAwareCodebook {
  const op = 'buildQueryAwareCodebook';
  expectTensor(op, 'queries', queries);
  expectTensor(op, 'keys', keys);
  if (queries.ndim !== 2 || keys.ndim !== 2 || queries.shape[1] !== keys.shape[1]) {
    throw new ShapeError(op, `needs queries [N, d] and keys [M, d] with one d — queries=${fmtShape(queries.shape)}, keys=${fmtShape(keys.shape)}`, 'queries');
  }
  const o = expectOptions(op, 'options', options, ['size', 'generator', 'maxIter', 'tol']);
  const [M, d] = keys.shape as [number, number];
  const size = o.size === undefined ? Math.min(A2ATS_DEFAULTS.codebookSize, M) : expectInteger(op, 'options.size', o.size, { min: 1 });
  if (size > M) throw new ValueError(op, `options.size=${size} exceeds the ${M} keys — keys=${fmtShape(keys.shape)}`, 'size');
  const generator = optionalGenerator(op, 'options.generator', o.generator, defaultGenerator);
  const maxIter = o.maxIter === undefined ? 300 : expectInteger(op, 'options.maxIter', o.maxIter, { min: 0 });
  const tol = o.tol === undefined ? 1e-4 : expectNumber(op, 'options.tol', o.tol, { min: 0 });
  expectFiniteValues(op, 'queries', queries.data);
  expectFiniteValues(op, 'keys', keys.data);
  return noGrad(() => {
    const whitening = whiteningOf(op, queries);
    const L = whitening.data;
    const whiteKeys = new Float64Array(M * d); // k·L, row by row
    for (let m = 0; m < M; m++) whiten(keys.data, m * d, L, d, whiteKeys, m * d);
    const { centroids } = kmeans(new Tensor(whiteKeys, [M, d]), size, { generator, maxIter, tol });
    // codebook = c̃ L⁻¹: solve c·L = c̃ for each row c (back substitution on Lᵀ, from the last column)
    const codebook = keys.dtype === 'float64' ? new Float64Array(size * d) : new Float32Array(size * d);
    const whitened = keys.dtype === 'float64' ? new Float64Array(size * d) : new Float32Array(size * d);
    const row = new Float64Array(d);
    for (let c = 0; c < size; c++) {
      for (let j = d - 1; j >= 0; j--) {
        let s = centroids.data[c * d + j]!;
        for (let i = j + 1; i < d; i++) s -= row[i]! * L[i * d + j]!;
        row[j] = s / L[j * d + j]!;
      }
      for (let j = 0; j < d; j++) {
        codebook[c * d + j] = row[j]!;
        whitened[c * d + j] = centroids.data[c * d + j]!;
      }
    }
    return { codebook: new Tensor(codebook, [size, d]), whitened: new Tensor(whitened, [size, d]), whitening };
  });
}

/** L with L·Lᵀ = H/√mean(H²) + 1e-6·I, H = QᵀQ over the query rows (float64). */
function whiteningOf(op: string, queries: Tensor): Tensor {
  const [N, d] = queries.shape as [number, number];
  const H = new Float64Array(d * d);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < d; i++) {
      const qi = queries.data[n * d + i]!;
      for (let j = 0; j <= i; j++) H[i * d + j] += qi * queries.data[n * d + j]!;
    }
  }
  let meanSquare = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      H[j * d + i] = H[i * d + j]!;
      meanSquare += (i === j ? 1 : 2) * H[i * d + j]! ** 2;
    }
  }
  meanSquare /= d * d;
  if (!(meanSquare > 0)) throw new ValueError(op, `the queries are all zero — queries=${fmtShape(queries.shape)} (H = QᵀQ must not vanish)`, 'queries');
  const norm = Math.sqrt(meanSquare);
  for (let i = 0; i < d * d; i++) H[i] = H[i]! / norm + (i % (d + 1) === 0 ? WHITENING_RIDGE : 0);
  return cholesky(new Tensor(H, [d, d]));
}

/** out[at…at+d) = k·L for the key row k = keys[from…from+d) and the lower triangular L [d, d] (L_ij = 0 for i < j). */
function whiten(keys: ArrayLike<number>, from: number, L: ArrayLike<number>, d: number, out: Float64Array, at: number): void {
  for (let j = 0; j < d; j++) {
    let s = 0;
    for (let i = j; i < d; i++) s += keys[from + i]! * L[i * d + j]!;
    out[at + j] = s;
  }
}

/** Code of each pre-RoPE key [M, d]: the index of the nearest whitened codeword to k·L (ties to the lower index). */
export function encodeKeys(codebook: QueryAwareCodebook, keys: Tensor): Int32Array {
  const op = 'encodeKeys';
  const book = expectOptions(op, 'codebook', codebook, ['codebook', 'whitened', 'whitening']);
  expectTensor(op, 'codebook.whitened', book.whitened);
  expectTensor(op, 'codebook.whitening', book.whitening);
  expectTensor(op, 'keys', keys);
  const [C, d] = codebook.whitened.shape as [number, number];
  if (codebook.whitened.ndim !== 2 || !(codebook.whitening.ndim === 2 && codebook.whitening.shape[0] === d && codebook.whitening.shape[1] === d)) {
    throw new ShapeError(op, `codebook.whitened=${fmtShape(codebook.whitened.shape)} and codebook.whitening=${fmtShape(codebook.whitening.shape)} must be [C, d] and [d, d]`, 'codebook');
  }
  if (keys.ndim !== 2 || keys.shape[1] !== d) throw new ShapeError(op, `keys=${fmtShape(keys.shape)} must be [M, ${d}] (the codebook's d)`, 'keys');
  expectFiniteValues(op, 'keys', keys.data);
  const M = keys.shape[0]!;
  const L = codebook.whitening.data;
  const W = codebook.whitened.data;
  const codes = new Int32Array(M);
  const white = new Float64Array(d);
  for (let m = 0; m < M; m++) {
    whiten(keys.data, m * d, L, d, white, 0);
    let best = 0;
    let bestD = Infinity;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (white[j]! - W[c * d + j]!) ** 2;
      if (s < bestD) {
        bestD = s;
        best = c;
      }
    }
    codes[m] = best;
  }
  return codes;
}

/** Options of `retrievalMask`: `topK`, `localWindow`, `attentionSinks`. */
export interface RetrievalMaskOptions {
  /** Fraction of the cache each query head retrieves: K = ⌊topK · L⌋ tokens (default 0.03). */
  topK?: number;
  /** Most recent tokens always attended exactly (default 64). */
  localWindow?: number;
  /** First tokens always attended exactly (default 8). */
  attentionSinks?: number;
}

/**
 * Which cached tokens a query attends to, A²ATS's selection (llama_masked.py): the first `attentionSinks` and the last
 * `localWindow` of the n tokens it sees always; of the others, each query head's K = ⌊topK · n⌋ best by its approximate
 * (WRoPE, codebook) scores; and per KV head the union over its query group, so every query head of a group sees the
 * same tokens (a token is kept if any head of the group chose it). Ties go to the earlier token.
 * scores [B, Hq, L] (one decoding step, n = L) → mask [B, Hq, 1, L]; or scores [B, Hq, T, L] (T queries at the
 * positions L − T … L − 1, causal as `attention`'s bottom-right alignment: row t sees n = L − T + t + 1 tokens, later
 * entries are ignored and 0) → mask [B, Hq, T, L]. numKVHeads divides Hq; the mask is 0/1 for `attention`'s mask option.
 */
export function retrievalMask(scores: Tensor, numKVHeads: number, options: RetrievalMaskOptions = {}): Tensor {
  const op = 'retrievalMask';
  expectTensor(op, 'scores', scores);
  if (scores.ndim !== 3 && scores.ndim !== 4) throw new ShapeError(op, `scores=${fmtShape(scores.shape)} must be [B, Hq, L] or [B, Hq, T, L]`, 'scores');
  const [B, Hq] = scores.shape as [number, number];
  const T = scores.ndim === 4 ? scores.shape[2]! : 1;
  const L = scores.shape[scores.ndim - 1]!;
  if (T > L) throw new ShapeError(op, `scores=${fmtShape(scores.shape)} has more queries (${T}) than tokens (${L}) (causal: row t sees L − T + t + 1 tokens)`, 'scores');
  expectInteger(op, 'numKVHeads', numKVHeads, { min: 1 });
  if (Hq % numKVHeads !== 0) throw new ShapeError(op, `numKVHeads=${numKVHeads} must divide the ${Hq} query heads of scores=${fmtShape(scores.shape)}`, 'numKVHeads');
  const o = expectOptions(op, 'options', options, ['topK', 'localWindow', 'attentionSinks']);
  const selection = {
    topK: o.topK === undefined ? A2ATS_DEFAULTS.topK : expectNumber(op, 'options.topK', o.topK, { min: 0, max: 1 }),
    localWindow: o.localWindow === undefined ? A2ATS_DEFAULTS.localWindow : expectInteger(op, 'options.localWindow', o.localWindow, { min: 0 }),
    attentionSinks: o.attentionSinks === undefined ? A2ATS_DEFAULTS.attentionSinks : expectInteger(op, 'options.attentionSinks', o.attentionSinks, { min: 0 }),
  };
  expectFiniteValues(op, 'scores', scores.data);
  return new Tensor(selectTokens(scores.data, B, Hq, T, L, numKVHeads, selection), [B, Hq, T, L]);
}

/** retrievalMask's selection on checked arguments: scores [B, Hq, T, L] (row-major) → the 0/1 mask, same layout. */
function selectTokens(
  scores: ArrayLike<number>, B: number, Hq: number, T: number, L: number, numKVHeads: number,
  { topK, localWindow, attentionSinks }: Required<RetrievalMaskOptions>,
): Float32Array {
  const G = Hq / numKVHeads;
  const mask = new Float32Array(B * Hq * T * L);
  const best = new Int32Array(Math.floor(topK * L)); // reused by every row: the K best candidates
  const work = new Float64Array(L);
  const keep = new Float32Array(L); // the mask's type: copying a row into it is a plain memory copy
  for (let b = 0; b < B; b++) {
    for (let kv = 0; kv < numKVHeads; kv++) {
      for (let t = 0; t < T; t++) {
        const n = L - T + t + 1; // tokens this query sees
        const K = Math.floor(topK * n);
        const windowStart = Math.max(0, n - localWindow);
        keep.fill(0);
        keep.fill(1, 0, Math.min(attentionSinks, n));
        keep.fill(1, windowStart, n);
        for (let r = 0; r < G; r++) {
          const found = bestTokens(scores, ((b * Hq + kv * G + r) * T + t) * L, attentionSinks, windowStart, best.subarray(0, K), work);
          for (let i = 0; i < found; i++) keep[best[i]!] = 1;
        }
        for (let r = 0; r < G; r++) mask.set(keep, ((b * Hq + kv * G + r) * T + t) * L);
      }
    }
  }
  return mask;
}

/**
 * The K = out.length best tokens t ∈ [from, to) of the score row at `row` (higher score first, then the earlier
 * token), written to `out` in token order; returns how many (fewer when the range is shorter). O(to − from) expected:
 * the K-th largest score by quickselect on a copy (`work`), then one pass for the tokens above it and one for ties.
 */
function bestTokens(scores: ArrayLike<number>, row: number, from: number, to: number, out: Int32Array, work: Float64Array): number {
  const n = Math.max(0, to - from);
  const K = Math.min(out.length, n);
  if (K === 0) return 0;
  for (let i = 0; i < n; i++) work[i] = scores[row + from + i]!;
  const kth = kthLargest(work, n, K);
  let count = 0;
  for (let t = from; t < to; t++) if (scores[row + t]! > kth) out[count++] = t;
  for (let t = from; t < to && count < K; t++) if (scores[row + t] === kth) out[count++] = t; // ties: the earliest
  return count;
}

/** The K-th largest of values[0…n) (1 ≤ K ≤ n), reordering them: iterative quickselect, median-of-three pivots. */
function kthLargest(values: Float64Array, n: number, K: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = K - 1; // index in descending order
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const [a, b, c] = [values[lo]!, values[mid]!, values[hi]!];
    const pivot = a > b ? (b > c ? b : a > c ? c : a) : a > c ? a : b > c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) { // descending: larger values to the left
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const tmp = values[i]!;
        values[i++] = values[j]!;
        values[j--] = tmp;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return values[target]!;
  }
  return values[target]!;
}

/**
 * Options of `RetrievalKVCache`: `codebooks`, `invFreq`, `layout`, `wropeDistance`, `topK`, `localWindow`,
 * `attentionSinks`, `prefill`.
 */
export interface RetrievalKVCacheOptions {
  /** One query-aware codebook per KV head of the layer (buildQueryAwareCodebook on that head's calibration data). */
  codebooks: readonly QueryAwareCodebook[];
  /** The layer's RoPE inverse frequencies (d/2) and pair layout, for R(W)·q. */
  invFreq: ArrayLike<number>;
  layout: PairLayout;
  /** WRoPE distance W (default 2048). */
  wropeDistance?: number;
  /** As retrievalMask (defaults 0.03, 64, 8). */
  topK?: number;
  localWindow?: number;
  attentionSinks?: number;
  /**
   * A step of several tokens: 'exact' (default, as the reference) attends to everything causally; 'retrieval' gives
   * every query its own selection over the tokens it sees, exactly what decoding those tokens one at a time would
   * select (teacher-forced evaluation of retrieval attention in one forward pass).
   */
  prefill?: 'exact' | 'retrieval';
}

/**
 * A²ATS retrieval KV cache for one attention layer: a `KVCache` (every rotated key and value is kept exactly) that
 * also keeps each key's code, from its pre-RoPE key, in its KV head's query-aware codebook. Before each append the
 * layer asks it to `retrieve`: the approximate WRoPE scores ⟨R(W)q, codeword⟩ of every cached token for each query
 * head, then the selection of `retrievalMask` (sinks, local window and top-K per head, the union per KV head); at a
 * one-token step the layer then appends with `appendSelected`, which returns only the selected keys and values, and
 * runs exact attention over those, with their true rotated keys (the cache is never copied whole at such a step). Pass one per layer in place of the model's `newCaches()`; no
 * sliding-window eviction (every token stays retrievable).
 */
export class RetrievalKVCache extends KVCache {
  readonly codebooks: readonly QueryAwareCodebook[];
  readonly invFreq: Float64Array;
  readonly layout: PairLayout;
  readonly wropeDistance: number;
  readonly topK: number;
  readonly localWindow: number;
  readonly attentionSinks: number;
  readonly prefill: 'exact' | 'retrieval';
  /** Mean tokens per (sequence, KV head) that the last `appendSelected` kept (0 before any). */
  lastGathered = 0;
  /** Codes of the cached keys, per (batch, KV head), in cache order: the first `codeCount` of each buffer. */
  private codes: Int32Array[] = [];
  private codeCount = 0;

  constructor(options: RetrievalKVCacheOptions) {
    super();
    const op = 'RetrievalKVCache';
    const o = expectOptions(op, 'options', options, ['codebooks', 'invFreq', 'layout', 'wropeDistance', 'topK', 'localWindow', 'attentionSinks', 'prefill']);
    if (!Array.isArray(o.codebooks) || o.codebooks.length === 0) throw new DTypeError(op, `options.codebooks must be a non-empty array (one codebook per KV head), got ${describeValue(o.codebooks)}`, 'codebooks');
    o.codebooks.forEach((cb, i) => {
      const book = expectOptions(op, `options.codebooks[${i}]`, cb, ['codebook', 'whitened', 'whitening']);
      for (const field of ['codebook', 'whitened', 'whitening'] as const) expectTensor(op, `options.codebooks[${i}].${field}`, book[field]);
    });
    if (!(Array.isArray(o.invFreq) || o.invFreq instanceof Float64Array || o.invFreq instanceof Float32Array)) {
      throw new DTypeError(op, `options.invFreq must be an array of numbers, got ${describeValue(o.invFreq)}`, 'invFreq');
    }
    expectFiniteValues(op, 'options.invFreq', o.invFreq);
    const d = 2 * o.invFreq.length;
    o.codebooks.forEach((cb, i) => {
      if (cb.codebook.ndim !== 2 || cb.codebook.shape[1] !== d) throw new ShapeError(op, `options.codebooks[${i}].codebook=${fmtShape(cb.codebook.shape)} must be [C, ${d}] (d = 2·invFreq.length)`, 'codebooks');
    });
    this.codebooks = o.codebooks;
    this.invFreq = Float64Array.from(o.invFreq);
    this.layout = expectOneOf(op, 'options.layout', o.layout, ['half', 'interleaved']);
    this.wropeDistance = o.wropeDistance === undefined ? A2ATS_DEFAULTS.wropeDistance : expectNumber(op, 'options.wropeDistance', o.wropeDistance, { min: 0 });
    this.topK = o.topK === undefined ? A2ATS_DEFAULTS.topK : expectNumber(op, 'options.topK', o.topK, { min: 0, max: 1 });
    this.localWindow = o.localWindow === undefined ? A2ATS_DEFAULTS.localWindow : expectInteger(op, 'options.localWindow', o.localWindow, { min: 0 });
    this.attentionSinks = o.attentionSinks === undefined ? A2ATS_DEFAULTS.attentionSinks : expectInteger(op, 'options.attentionSinks', o.attentionSinks, { min: 0 });
    this.prefill = o.prefill === undefined ? 'exact' : expectOneOf(op, 'options.prefill', o.prefill, ['exact', 'retrieval']);
  }

  /**
   * Called by the attention layer just before `append`, with the same step's pre-RoPE queries [B, Hq, T, d] and keys
   * [B, Hkv, T, d]: codes the new keys and returns the mask [B, Hq, T, L] (L = the cache's length after the append)
   * of the tokens each query attends to — or null for a step of several tokens with `prefill: 'exact'` (attend to
   * all). Everything is checked before the codes change.
   */
  retrieve(queries: Tensor, keys: Tensor): Tensor | null {
    const op = 'RetrievalKVCache.retrieve';
    expectTensor(op, 'queries', queries);
    expectTensor(op, 'keys', keys);
    const [B, Hkv, T, d] = keys.shape as [number, number, number, number];
    if (
      keys.ndim !== 4 || Hkv !== this.codebooks.length || d !== 2 * this.invFreq.length ||
      queries.ndim !== 4 || queries.shape[0] !== B || queries.shape[1]! % Hkv !== 0 || queries.shape[2] !== T || queries.shape[3] !== d
    ) {
      throw new ShapeError(op, `needs queries [B, Hq, T, ${2 * this.invFreq.length}] and keys [B, ${this.codebooks.length}, T, ${2 * this.invFreq.length}] (one codebook per KV head) — queries=${fmtShape(queries.shape)}, keys=${fmtShape(keys.shape)}`, 'keys');
    }
    // the codes must stay in step with the cached keys: retrieve runs before each append (MultiHeadAttention does so)
    if (this.codes.length > 0 && (this.codes.length !== B * Hkv || this.codeCount !== this.length)) {
      throw new ValueError(op, `the cache holds ${this.length} keys for batch ${this.codes.length / Hkv} but ${this.codeCount} codes, and keys=${fmtShape(keys.shape)} (call retrieve with each step's keys before append, same batch)`, 'keys');
    }
    expectFiniteValues(op, 'queries', queries.data);
    expectFiniteValues(op, 'keys', keys.data);
    const before = this.codeCount;
    const L = before + T;
    const codes = Array.from({ length: B * Hkv }, (_, i) => {
      const grown = growTo(this.codes[i] ?? new Int32Array(0), L);
      const rows = noGrad(() => keys.narrow(0, Math.floor(i / Hkv), 1).narrow(1, i % Hkv, 1).reshape([T, d]));
      grown.set(encodeKeys(this.codebooks[i % Hkv]!, rows), before);
      return grown;
    });
    let mask: Tensor | null = null;
    if (T === 1 || this.prefill === 'retrieval') {
      const Hq = queries.shape[1]!;
      const G = Hq / Hkv;
      const rotated = noGrad(() => wropeQuery(queries.reshape([B * Hq, T, d]), this.invFreq, this.wropeDistance, this.layout)); // [B·Hq, T, d]
      // ⟨R(W)q, c⟩ for every query of a KV head's group and every codeword, in one product [G·T, C] per (b, kv)
      const perCodeOf = (b: number, kv: number): ArrayLike<number> => noGrad(() => {
        const book = this.codebooks[kv]!.codebook;
        const groupRows = rotated.narrow(0, b * Hq + kv * G, G).reshape([G * T, d]);
        return matmul(groupRows, book.dtype === groupRows.dtype ? book : book.cast(groupRows.dtype), { transposeB: true }).data;
      });
      const selection = { topK: this.topK, localWindow: this.localWindow, attentionSinks: this.attentionSinks };
      if (T === 1) {
        mask = new Tensor(selectStepByCodes(perCodeOf, codes, B, Hq, Hkv, L, this.codebooks.map((c) => c.codebook.shape[0]!), selection), [B, Hq, 1, L]);
      } else {
        const scores = new Float64Array(B * Hq * T * L); // row (b, h, t) holds its n = before + t + 1 visible tokens
        for (let b = 0; b < B; b++) {
          for (let kv = 0; kv < Hkv; kv++) {
            const perCode = perCodeOf(b, kv);
            const C = this.codebooks[kv]!.codebook.shape[0]!;
            const tokenCodes = codes[b * Hkv + kv]!;
            for (let r = 0; r < G; r++) {
              for (let t = 0; t < T; t++) {
                const row = ((b * Hq + kv * G + r) * T + t) * L;
                const at = (r * T + t) * C;
                for (let s = 0, n = before + t + 1; s < n; s++) scores[row + s] = perCode[at + tokenCodes[s]!]!;
              }
            }
          }
        }
        mask = new Tensor(selectTokens(scores, B, Hq, T, L, Hkv, selection), [B, Hq, T, L]);
      }
    }
    this.codes = codes;
    this.codeCount = L;
    return mask;
  }

  /**
   * A one-token step's append, and the keys and values it attends to, compacted: appends k [B, Hkv, 1, d] and
   * v [B, Hkv, 1, dv] as `append` does (without making the whole cache's tensors), then with the step's mask
   * [B, Hq, 1, L] (from `retrieve`, possibly times the caller's; L = the length after the append) returns keys
   * [B, Hkv, S, d] and values [B, Hkv, S, dv] of the tokens some query head of each KV head's group selected, in order,
   * and the mask [B, Hq, 1, S] at those tokens (0 on the padding of groups that selected fewer than S). Attention over
   * these equals attention over every cached token with the mask, at the cost of S tokens instead of L.
   */
  appendSelected(k: Tensor, v: Tensor, mask: Tensor): { keys: Tensor; values: Tensor; mask: Tensor } {
    const op = 'RetrievalKVCache.appendSelected';
    expectTensor(op, 'k', k);
    expectTensor(op, 'v', v);
    expectTensor(op, 'mask', mask);
    const [B, Hkv, T] = k.shape as [number, number, number, number];
    const L = this.length + T;
    const Hq = mask.shape[1]!;
    if (k.ndim !== 4 || T !== 1 || mask.ndim !== 4 || mask.shape[0] !== B || Hq % Hkv !== 0 || mask.shape[2] !== 1 || mask.shape[3] !== L) {
      throw new ShapeError(op, `needs k [B, Hkv, 1, d] (one token) and mask [B, Hq, 1, L] with L = ${L} (the cache's length after the append) — k=${fmtShape(k.shape)}, mask=${fmtShape(mask.shape)}`, 'mask');
    }
    this.appendRows(op, k, v);
    const keys = this.keyRows!;
    const values = this.valueRows!;
    const { d, capacity } = keys;
    const dv = values.d;
    const G = Hq / Hkv;
    const selected: Int32Array[] = [];
    let S = 0;
    const tokens = new Int32Array(L);
    for (let b = 0; b < B; b++) {
      for (let kv = 0; kv < Hkv; kv++) {
        let count = 0;
        const first = (b * Hq + kv * G) * L;
        for (let s = 0; s < L; s++) {
          let any = mask.data[first + s] !== 0;
          for (let r = 1; r < G && !any; r++) any = mask.data[first + r * L + s] !== 0;
          if (any) tokens[count++] = s;
        }
        selected.push(tokens.slice(0, count));
        S = Math.max(S, count);
      }
    }
    const make = (n: number): Float32Array | Float64Array => (keys.data instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));
    const kOut = make(B * Hkv * S * d);
    const vOut = make(B * Hkv * S * dv);
    const m = new Float32Array(B * Hq * S);
    const [kIn, vIn, mIn] = [keys.data, values.data, mask.data];
    for (let i = 0; i < selected.length; i++) {
      const rows = selected[i]!;
      const [b, kv] = [Math.floor(i / Hkv), i % Hkv];
      for (let j = 0; j < rows.length; j++) {
        const s = rows[j]!;
        for (let c = 0, from = (i * capacity + s) * d, to = (i * S + j) * d; c < d; c++) kOut[to + c] = kIn[from + c]!;
        for (let c = 0, from = (i * values.capacity + s) * dv, to = (i * S + j) * dv; c < dv; c++) vOut[to + c] = vIn[from + c]!;
        for (let r = 0; r < G; r++) m[(b * Hq + kv * G + r) * S + j] = mIn[(b * Hq + kv * G + r) * L + s]!;
      }
    }
    this.lastGathered = selected.reduce((sum, rows) => sum + rows.length, 0) / selected.length;
    return { keys: new Tensor(kOut, [B, Hkv, S, d]), values: new Tensor(vOut, [B, Hkv, S, dv]), mask: new Tensor(m, [B, Hq, 1, S]) };
  }

  override reset(): void {
    super.reset();
    this.codes = [];
    this.codeCount = 0;
    this.lastGathered = 0;
  }
}

/**
 * retrievalMask's selection for one decoding step (T = 1, every query sees all L tokens), straight from the codes: a
 * token's score is its code's, so per KV head one pass counts the candidates of each code, and per query head the
 * K-th best score is found among the C codewords (sorted, then a binary search on the count of candidates scoring at
 * least a value) instead of among the L tokens; one pass then keeps the tokens above it and the earliest ties. The
 * same selection as selectTokens on the gathered scores, in O(L + C log C) per head. → mask data [B, Hq, 1, L].
 */
function selectStepByCodes(
  perCodeOf: (b: number, kv: number) => ArrayLike<number>, codes: readonly Int32Array[], B: number, Hq: number, Hkv: number, L: number,
  sizes: readonly number[], { topK, localWindow, attentionSinks }: Required<RetrievalMaskOptions>,
): Float32Array {
  const G = Hq / Hkv;
  const mask = new Float32Array(B * Hq * L);
  const K = Math.floor(topK * L);
  const windowStart = Math.max(0, L - localWindow);
  const from = attentionSinks;
  for (let b = 0; b < B; b++) {
    for (let kv = 0; kv < Hkv; kv++) {
      const C = sizes[kv]!;
      const perCode = perCodeOf(b, kv); // [G, C]
      const tokenCodes = codes[b * Hkv + kv]!;
      const keep = mask.subarray((b * Hq + kv * G) * L, (b * Hq + kv * G + 1) * L); // the group's first row
      keep.fill(1, 0, Math.min(attentionSinks, L));
      keep.fill(1, windowStart, L);
      const candidates = Math.max(0, windowStart - from);
      if (K > 0 && candidates > 0) {
        const counts = new Int32Array(C);
        for (let s = from; s < windowStart; s++) counts[tokenCodes[s]!]!++;
        const sorted = new Float64Array(C);
        for (let r = 0; r < G; r++) {
          const at = r * C;
          if (K >= candidates) {
            keep.fill(1, from, windowStart);
            break;
          }
          const atLeast = (x: number): number => {
            let n = 0;
            for (let c = 0; c < C; c++) if (perCode[at + c]! >= x) n += counts[c]!;
            return n;
          };
          for (let c = 0; c < C; c++) sorted[c] = perCode[at + c]!;
          sorted.sort(); // ascending: atLeast(sorted[i]) does not increase with i; the K-th best is the last i where it is ≥ K
          let lo = 0;
          let hi = C - 1;
          while (lo < hi) {
            const mid = (lo + hi + 1) >> 1;
            if (atLeast(sorted[mid]!) >= K) lo = mid;
            else hi = mid - 1;
          }
          const kth = sorted[lo]!;
          let ties = K;
          for (let c = 0; c < C; c++) if (perCode[at + c]! > kth) ties -= counts[c]!;
          for (let s = from; s < windowStart; s++) {
            const score = perCode[at + tokenCodes[s]!]!;
            if (score > kth) keep[s] = 1;
            else if (score === kth && ties > 0) {
              keep[s] = 1;
              ties--;
            }
          }
        }
      }
      for (let r = 1; r < G; r++) mask.set(keep, (b * Hq + kv * G + r) * L);
    }
  }
  return mask;
}

/** `codes` if it holds n entries, else a copy with room for at least n (capacity doubles: appends are amortized O(1)). */
function growTo(codes: Int32Array, n: number): Int32Array {
  if (codes.length >= n) return codes;
  const grown = new Int32Array(Math.max(n, 2 * codes.length, 64));
  grown.set(codes);
  return grown;
}
