/**
 * Attention: `scaledDotProductAttention` (Vaswani et al. 2017, eq. 1) and `MultiHeadAttention` with grouped-query
 * heads, cross-attention, a KV cache and a pluggable positional encoding.
 * Shape letters: B batch, T query length, S key length, C model dim, H query heads, Hkv key/value heads, D head dim.
 */
import {
  DTypeError, Generator, ShapeError, Tensor, ValueError, arange, asPartOf, attention, broadcastShapes, describeValue, expectInteger, expectNumber,
  expectOptions, expectTensor, fmtShape, mul, reshape,
  defaultGenerator, expectPositions, expectSize, optionalDType, optionalGenerator, type AttentionOptions, type DType,
} from '../core/index.js';
import { NoPE, type PositionalEncoding, type Positions } from '../positional/index.js';
import {
  expectEncodingFits, expectSequence, expectWeight, optionalBoolean, optionalCache, optionalPositional,
} from './checks.js';
import { issueCheckedCall, redeemCheckedCall, type CheckedCall } from './checked-call.js';
import type { KVCache } from './kv-cache.js';
import { RetrievalKVCache } from './a2ats.js';
import { Linear } from './linear.js';
import { Module } from '../core/index.js';

/**
 * softmax(q kᵀ · scale + mask) v. q: [..., Tq, D], k: [..., Tk, D], v: [..., Tk, Dv] → [..., Tq, Dv].
 * Computed by the fused blockwise kernel of core/ops/attention.ts (core's `attention`, with its options: mask,
 * causal aligned bottom-right as KV-cache decoding needs, window, scale), which skips causal/window-masked blocks;
 * a query that may attend to nothing outputs 0 (not NaN). This entry checks its arguments under its own name.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  checkAttentionArgs('scaledDotProductAttention', q, k, v, options);
  return attention(q, k, v, options);
}

/**
 * What the fused attention op checks, with `op` (the function the user called) in the messages: q [..., Tq, D],
 * k [..., Tk, D], v [..., Tk, Dv] of one dtype with broadcasting batch axes, and the options.
 */
export function checkAttentionArgs(op: string, q: unknown, k: unknown, v: unknown, options: AttentionOptions | undefined): void {
  const o = expectOptions(op, 'options', options, ['mask', 'causal', 'window', 'scale']);
  for (const [t, name] of [[q, 'q'], [k, 'k'], [v, 'v']] as const) {
    expectTensor(op, name, t);
    if (t.ndim < 2) throw new ShapeError(op, `${name}=${fmtShape(t.shape)} needs at least [seq, dim]`, name);
  }
  const [qt, kt, vt] = [q as Tensor, k as Tensor, v as Tensor];
  for (const [t, name] of [[kt, 'k'], [vt, 'v']] as const) {
    if (t.dtype !== qt.dtype) throw new DTypeError(op, `dtypes differ — q is ${qt.dtype}, ${name} is ${t.dtype} (cast one of them)`, name);
  }
  const [Tq, d] = qt.shape.slice(-2) as [number, number];
  const [Tk, dk] = kt.shape.slice(-2) as [number, number];
  if (dk !== d) throw new ShapeError(op, `q and k head dims differ — q=${fmtShape(qt.shape)}, k=${fmtShape(kt.shape)}`, 'k');
  if (vt.shape[vt.ndim - 2] !== Tk) throw new ShapeError(op, `k and v lengths differ — k=${fmtShape(kt.shape)}, v=${fmtShape(vt.shape)} (one value per key)`, 'v');
  const batch = broadcastShapes(broadcastShapes(qt.shape.slice(0, -2), kt.shape.slice(0, -2), op, ['q', 'k']), vt.shape.slice(0, -2), op, ['q·k', 'v']);
  const causal = optionalBoolean(op, 'causal', o.causal) ?? false;
  if (causal && Tq > Tk) throw new ShapeError(op, `causal attention needs Tq ≤ Tk — q=${fmtShape(qt.shape)}, k=${fmtShape(kt.shape)}`, 'q');
  if (o.window !== undefined && o.window !== Infinity) expectInteger(op, 'window', o.window, { min: 1 });
  if (o.scale !== undefined) expectNumber(op, 'scale', o.scale);
  if (o.mask !== undefined && o.mask !== null) checkMask(op, 'mask', o.mask, [...batch, Tq, Tk]);
}

/** mask must be a Tensor broadcasting to `scores` without enlarging them. */
export function checkMask(op: string, arg: string, mask: unknown, scores: readonly number[]): void {
  if (!(mask instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor or null, got ${describeValue(mask)}`, arg);
  const ok = mask.ndim <= scores.length && mask.shape.every((s, i) => s === 1 || s === scores[scores.length - mask.ndim + i]);
  if (!ok) throw new ShapeError(op, `${arg}=${fmtShape(mask.shape)} must broadcast to scores=${fmtShape(scores)} (sizes 1 or equal, at most ${scores.length} axes)`, arg);
}

/**
 * Options of `MultiHeadAttention`: `numHeads`, `numKVHeads`, `headDim`, `kvDim`, `bias`, `positional`, `window`,
 * `generator`, `dtype`.
 */
export interface MultiHeadAttentionOptions {
  numHeads: number;
  /** Key/value heads for grouped-query attention (divides numHeads); default numHeads (MHA); 1 = MQA. */
  numKVHeads?: number;
  /** Per-head dim; default dim / numHeads. */
  headDim?: number;
  /** Feature dim of the key/value source for cross-attention; default dim. */
  kvDim?: number;
  /** Biases on the q/k/v/o projections; default false. */
  bias?: boolean;
  /** How positions enter attention; default NoPE. Applied in self-attention only. */
  positional?: PositionalEncoding;
  /** Sliding-window attention span (causal); default unlimited. */
  window?: number;
  generator?: Generator;
  dtype?: DType;
}

/** Options of a `MultiHeadAttention` call: `context`, `mask`, `causal`, `positions`, `cache`. */
export interface AttentionCallOptions {
  /** Key/value source [B, S, kvDim] for cross-attention; default x itself (self-attention). */
  context?: Tensor;
  /** Extra 0/1 mask broadcastable to [B, H, T, S]. */
  mask?: Tensor | null;
  /** Default true for self-attention, false for cross-attention. */
  causal?: boolean;
  /** Query positions [T] or [B, T]; default offset…offset+T−1 with offset = cache.position (or 0). */
  positions?: Positions;
  /** Incremental decoding: new keys/values are appended and attention covers everything cached. */
  cache?: KVCache;
}

/** The values `MultiHeadAttention.checkCall` resolved for one call. */
interface AttentionCall {
  causal: boolean;
  mask: Tensor | null;
  context: Tensor | undefined;
  positions: Positions | undefined;
  cache: KVCache | undefined;
}

/**
 * @internal What `MultiHeadAttention.checkCall` returns: an opaque, single-use proof of the checked call
 * (nn/checked-call.ts), which `forwardChecked` alone reads. It cannot be built outside nn/.
 */
export type AttentionCallCheck = CheckedCall<AttentionCall>;

/**
 * Multi-head attention with grouped-query heads, its q/k/v/o projections, a pluggable positional encoding, optional KV
 * cache and cross-attention: x [B, T, C] → [B, T, C].
 */
export class MultiHeadAttention extends Module {
  readonly numHeads: number;
  readonly numKVHeads: number;
  readonly headDim: number;
  readonly window: number;
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  readonly wo: Linear;
  /** Swappable, e.g. to evaluate a RoPE-trained model with a context-extension rule. */
  positional: PositionalEncoding;

  constructor(readonly dim: number, options: MultiHeadAttentionOptions) {
    super();
    const op = 'MultiHeadAttention';
    expectSize(op, 'dim', dim);
    const o = expectOptions(op, 'options', options, ['numHeads', 'numKVHeads', 'headDim', 'kvDim', 'bias', 'positional', 'window', 'generator', 'dtype']);
    const numHeads = expectSize(op, 'numHeads', o.numHeads);
    const numKVHeads = o.numKVHeads === undefined ? numHeads : expectSize(op, 'numKVHeads', o.numKVHeads);
    if (numHeads % numKVHeads !== 0) throw new ValueError(op, `numKVHeads=${numKVHeads} must divide numHeads=${numHeads}`, 'numKVHeads');
    if (o.headDim === undefined && dim % numHeads !== 0) {
      throw new ValueError(op, `dim=${dim} is not divisible by numHeads=${numHeads} (or pass headDim)`, 'numHeads');
    }
    this.headDim = o.headDim === undefined ? dim / numHeads : expectSize(op, 'headDim', o.headDim);
    const kvDim = o.kvDim === undefined ? dim : expectSize(op, 'kvDim', o.kvDim);
    const bias = optionalBoolean(op, 'bias', o.bias) ?? false;
    this.window = o.window === undefined || o.window === Infinity ? Infinity : expectInteger(op, 'window', o.window, { min: 1 });
    const positional = optionalPositional(op, 'positional', o.positional);
    if (positional !== undefined) expectEncodingFits(op, 'positional', positional, this.headDim);
    const g = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
    const dtype = optionalDType(op, 'dtype', o.dtype);
    expectWeight(op, 'wq.weight', numHeads * this.headDim, dim);
    expectWeight(op, 'wk.weight', numKVHeads * this.headDim, kvDim);
    this.numHeads = numHeads;
    this.numKVHeads = numKVHeads;
    const lin = { bias, generator: g, dtype };
    this.wq = new Linear(dim, numHeads * this.headDim, lin);
    this.wk = new Linear(kvDim, numKVHeads * this.headDim, lin);
    this.wv = new Linear(kvDim, numKVHeads * this.headDim, lin);
    this.wo = new Linear(numHeads * this.headDim, dim, lin);
    this.positional = positional ?? new NoPE();
  }

  /**
   * @internal Check a forward call's x [B, T, C] and options before anything runs (a KV cache is not touched when
   * they are wrong); `op` is the method the user called (this layer's forward, or a block's). Returns the proof that
   * `forwardChecked` needs.
   */
  checkCall(op: string, x: unknown, options: AttentionCallOptions | undefined): AttentionCallCheck {
    expectSequence(op, 'x', x, this.dim, this.wq.weight.dtype);
    const o = expectOptions(op, 'options', options, ['context', 'mask', 'causal', 'positions', 'cache']);
    const [B, T] = x.shape as [number, number, number];
    const { context } = o;
    const cache = optionalCache(op, 'cache', o.cache);
    const cross = context !== undefined;
    const { numHeads: H, numKVHeads: Hkv, headDim: D } = this;
    if (cross) {
      expectSequence(op, 'context', context, this.wk.inFeatures, this.wq.weight.dtype);
      if (context.shape[0] !== B) {
        throw new ShapeError(op, `options.context=${fmtShape(context.shape)} and x=${fmtShape(x.shape)} differ in batch (one context per sequence)`, 'context');
      }
    } else if (this.wk.inFeatures !== this.dim) {
      throw new ShapeError(op, `self-attention needs kvDim = dim, but kvDim=${this.wk.inFeatures}, dim=${this.dim} (pass options.context for cross-attention)`, 'context');
    }
    const S = (context ?? x).shape[1]!;
    if (o.positions !== undefined) expectPositions(op, 'positions', o.positions);
    if (cache !== undefined && cache.keyShape !== null) {
      const [b, h, , d] = cache.keyShape;
      if (b !== B || h !== Hkv || d !== D || cache.dtype !== x.dtype) {
        throw new ShapeError(op, `options.cache holds keys=${fmtShape(cache.keyShape)} ${cache.dtype}, which this call cannot continue (needs [${B}, ${Hkv}, ·, ${D}] ${x.dtype})`, 'cache');
      }
    }
    const Tk = (cache?.length ?? 0) + S;
    const causal = optionalBoolean(op, 'causal', o.causal) ?? !cross;
    if (causal && T > Tk) throw new ShapeError(op, `causal attention needs no more queries than keys — x=${fmtShape(x.shape)}, ${Tk} keys`, 'x');
    const mask = o.mask ?? null;
    if (mask !== null) checkMask(op, 'mask', mask, [B, H, T, Tk]);
    return issueCheckedCall(this, x, { causal, mask, context, positions: o.positions, cache });
  }

  /** x: [B, T, C] → [B, T, C]. */
  forward(x: Tensor, options: AttentionCallOptions = {}): Tensor {
    const op = 'MultiHeadAttention.forward';
    return this.forwardChecked(op, x, this.checkCall(op, x, options));
  }

  /**
   * @internal forward for a call that `checkCall(op, …)` accepted (a block checks its input once, then runs its
   * attention on norm(x), of the same shape and dtype): the options are those checked, held by `checked`, which is
   * used up; what the positional encoding refuses (e.g. positions that do not cover the sequence) is reported under
   * `op`, the method the user called.
   */
  forwardChecked(op: string, x: Tensor, checked: AttentionCallCheck): Tensor {
    const call = redeemCheckedCall(op, this, checked, x);
    const { causal, context, positions: given, cache } = call;
    let mask = call.mask;
    const [B, T] = x.shape as [number, number, number];
    const cross = context !== undefined;
    const source = context ?? x;
    const S = source.shape[1]!;
    const { numHeads: H, numKVHeads: Hkv, headDim: D } = this;

    let q = this.wq.forward(x).reshape([B, T, H, D]).transpose(1, 2); // [B, H, T, D]
    let k = this.wk.forward(source).reshape([B, S, Hkv, D]).transpose(1, 2); // [B, Hkv, S, D]
    let v = this.wv.forward(source).reshape([B, S, Hkv, D]).transpose(1, 2); // [B, Hkv, S, D]

    const preRoPE = { q, k }; // what an A²ATS retrieval cache codes and scores (nn/a2ats.ts)
    let logitScale = 1;
    if (!cross) {
      const start = cache?.position ?? 0;
      const positions = given ?? arange(start, start + T, 1, { dtype: 'float64' }); // [T]
      const encoded = asPartOf(op, () => this.positional.encodeQK(q, k, positions, positions));
      q = encoded.q;
      k = encoded.k;
      logitScale = encoded.logitScale ?? 1;
    }
    // a retrieval cache codes the new keys and selects the tokens each query attends to ([B, H, T, Tk], combined with
    // the caller's mask); it runs before the append, so a call it refuses leaves the cache as it was
    const retrieval = !cross && cache instanceof RetrievalKVCache ? cache : null;
    const retrieved = retrieval === null ? null : asPartOf(op, () => retrieval.retrieve(preRoPE.q, preRoPE.k));
    if (retrieved !== null) mask = mask === null ? retrieved : mul(mask, retrieved);
    if (retrieval !== null && retrieved !== null && T === 1 && !Number.isFinite(this.window)) {
      // a one-token retrieval step attends to the selected tokens only, gathered (a sliding window needs them all)
      ({ keys: k, values: v, mask } = retrieval.appendSelected(k, v, mask!)); // [B, Hkv, S, D], mask [B, H, 1, S]
    } else if (cache !== undefined) {
      ({ keys: k, values: v } = cache.append(k, v)); // [B, Hkv, Tk, D]
    }

    const sdpa: AttentionOptions = { causal, scale: logitScale / Math.sqrt(D) };
    if (Number.isFinite(this.window)) sdpa.window = this.window;
    const G = H / Hkv;
    let out: Tensor;
    if (G === 1) {
      if (mask !== null) sdpa.mask = mask;
      out = attention(q, k, v, sdpa); // [B, H, T, D]
    } else {
      // grouped-query: query head h reads key/value head ⌊h/G⌋, by broadcasting k, v over a group axis
      if (mask !== null) sdpa.mask = groupMask(mask, H, Hkv);
      const qg = q.reshape([B, Hkv, G, T, D]);
      out = attention(qg, k.unsqueeze(2), v.unsqueeze(2), sdpa).reshape([B, H, T, D]);
    }
    return this.wo.forward(out.transpose(1, 2).reshape([B, T, H * D])); // [B, T, C]
  }
}

/** A mask broadcastable to [B, H, T, S] (checked by the caller) in the grouped layout [B, Hkv, G, T, S]. */
function groupMask(mask: Tensor, H: number, Hkv: number): Tensor {
  const m = mask.ndim >= 4 ? mask : reshape(mask, [...new Array<number>(4 - mask.ndim).fill(1), ...mask.shape]);
  const [b, h, t, s] = m.shape.slice(-4) as [number, number, number, number];
  if (h === 1) return reshape(m, [b, 1, 1, t, s]);
  return reshape(m, [b, Hkv, H / Hkv, t, s]);
}
