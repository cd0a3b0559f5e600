/**
 * Attention: `scaledDotProductAttention` (Vaswani et al. 2017, eq. 1) and `MultiHeadAttention` with grouped-query
 * heads, cross-attention, a KV cache and a pluggable positional encoding.
 * Shape letters: B batch, T query length, S key length, C model dim, H query heads, Hkv key/value heads, D head dim.
 */
import {
  Generator, ShapeError, Tensor, ValueError, attention, fmtShape, reshape, type AttentionOptions, type DType,
} from '../core/index.js';
import { NoPE, type PositionalEncoding, type Positions } from '../positional/index.js';
import type { KVCache } from './kv-cache.js';
import { Linear } from './linear.js';
import { Module } from '../core/index.js';

export interface SDPAOptions {
  /** 0/1 tensor broadcastable to [..., Tq, Tk]; 1 = may attend. */
  mask?: Tensor | null;
  /** Causal, aligned bottom-right (the last query sees the last key), as KV-cache decoding needs. */
  causal?: boolean;
  /** Sliding window: each query sees at most this many keys (the most recent ones when causal). */
  window?: number;
  /** Logit scale; default 1/√D. */
  scale?: number;
}

/**
 * softmax(q kᵀ · scale + mask) v. q: [..., Tq, D], k: [..., Tk, D], v: [..., Tk, Dv] → [..., Tq, Dv].
 * Computed by the fused blockwise kernel of core/ops/attention.ts, which skips causal/window-masked blocks;
 * a query that may attend to nothing outputs 0 (not NaN).
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: SDPAOptions = {}): Tensor {
  const opts: AttentionOptions = {};
  if (options.mask !== undefined) opts.mask = options.mask;
  if (options.causal !== undefined) opts.causal = options.causal;
  if (options.window !== undefined) opts.window = options.window;
  if (options.scale !== undefined) opts.scale = options.scale;
  return attention(q, k, v, opts);
}

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
    const { numHeads, numKVHeads = numHeads, bias = false } = options;
    this.headDim = options.headDim ?? dim / numHeads;
    if (!Number.isInteger(this.headDim) || this.headDim <= 0) {
      throw new ValueError('MultiHeadAttention', `dim=${dim} is not divisible by numHeads=${numHeads} (or pass headDim)`, 'numHeads');
    }
    if (!Number.isInteger(numKVHeads) || numKVHeads < 1 || numHeads % numKVHeads !== 0) {
      throw new ValueError('MultiHeadAttention', `numKVHeads=${numKVHeads} must divide numHeads=${numHeads}`, 'numKVHeads');
    }
    this.numHeads = numHeads;
    this.numKVHeads = numKVHeads;
    this.window = options.window ?? Infinity;
    const g = options.generator ?? new Generator(0);
    const lin = { bias, generator: g, ...(options.dtype ? { dtype: options.dtype } : {}) };
    const kvDim = options.kvDim ?? dim;
    this.wq = new Linear(dim, numHeads * this.headDim, lin);
    this.wk = new Linear(kvDim, numKVHeads * this.headDim, lin);
    this.wv = new Linear(kvDim, numKVHeads * this.headDim, lin);
    this.wo = new Linear(numHeads * this.headDim, dim, lin);
    this.positional = options.positional ?? new NoPE();
  }

  /** x: [B, T, C] → [B, T, C]. */
  forward(x: Tensor, options: AttentionCallOptions = {}): Tensor {
    if (x.ndim !== 3 || x.shape[2] !== this.dim) throw new ShapeError('MultiHeadAttention', `x=${fmtShape(x.shape)} must be [B, T, ${this.dim}]`, 'x');
    const [B, T] = x.shape as [number, number, number];
    const { context, cache } = options;
    const cross = context !== undefined;
    const source = context ?? x;
    const S = source.shape[1]!;
    const { numHeads: H, numKVHeads: Hkv, headDim: D } = this;

    let q = this.wq.forward(x).reshape([B, T, H, D]).transpose(1, 2); // [B, H, T, D]
    let k = this.wk.forward(source).reshape([B, S, Hkv, D]).transpose(1, 2); // [B, Hkv, S, D]
    let v = this.wv.forward(source).reshape([B, S, Hkv, D]).transpose(1, 2); // [B, Hkv, S, D]

    let logitScale = 1;
    if (!cross) {
      const positions = options.positions ?? this.defaultPositions(cache?.position ?? 0, T);
      const encoded = this.positional.encodeQK(q, k, positions, positions);
      q = encoded.q;
      k = encoded.k;
      logitScale = encoded.logitScale ?? 1;
    }
    if (cache !== undefined) ({ keys: k, values: v } = cache.append(k, v)); // [B, Hkv, Tk, D]

    const causal = options.causal ?? !cross;
    const sdpa: SDPAOptions = { causal, scale: logitScale / Math.sqrt(D) };
    if (Number.isFinite(this.window)) sdpa.window = this.window;
    const G = H / Hkv;
    let out: Tensor;
    if (G === 1) {
      if (options.mask) sdpa.mask = options.mask;
      out = scaledDotProductAttention(q, k, v, sdpa); // [B, H, T, D]
    } else {
      // grouped-query: query head h reads key/value head ⌊h/G⌋, by broadcasting k, v over a group axis
      if (options.mask) sdpa.mask = groupMask(options.mask, H, Hkv);
      const qg = q.reshape([B, Hkv, G, T, D]);
      out = scaledDotProductAttention(qg, k.unsqueeze(2), v.unsqueeze(2), sdpa).reshape([B, H, T, D]);
    }
    return this.wo.forward(out.transpose(1, 2).reshape([B, T, H * D])); // [B, T, C]
  }

  private defaultPositions(offset: number, T: number): Positions {
    const p = new Float64Array(T);
    for (let i = 0; i < T; i++) p[i] = offset + i;
    return new Tensor(p, [T]);
  }
}

/** A mask broadcastable to [B, H, T, S] in the grouped layout [B, Hkv, G, T, S]. */
function groupMask(mask: Tensor, H: number, Hkv: number): Tensor {
  const m = mask.ndim >= 4 ? mask : reshape(mask, [...new Array<number>(4 - mask.ndim).fill(1), ...mask.shape]);
  const [b, h, t, s] = m.shape.slice(-4) as [number, number, number, number];
  if (m.ndim > 4) throw new ShapeError('MultiHeadAttention', `mask=${fmtShape(mask.shape)} has more than 4 axes ([B, H, T, S])`, 'mask');
  if (h === 1) return reshape(m, [b, 1, 1, t, s]);
  if (h !== H) throw new ShapeError('MultiHeadAttention', `mask=${fmtShape(mask.shape)} head axis must be 1 or ${H}`, 'mask');
  return reshape(m, [b, Hkv, H / Hkv, t, s]);
}
