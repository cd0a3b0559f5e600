/**
 * Chunked local attention (the local path of Kashyap 2025, arXiv 2507.00453): the sequence is cut into chunks of C tokens and each query attends
 * causally to the keys of its own chunk only — a block-diagonal causal mask. Computed by reshaping [..., T, d] into
 * a batch of chunks [..., T/C, C, d] (T padded up to a multiple of C) and calling the fused causal attention op on
 * that batch, so no [T, T] score matrix exists: time O(T·C·d) and saved probabilities O(T·C), not O(T²).
 * Shape letters: B batch, T length, C model dim, H heads, D head dim, n = ⌈T/chunk⌉ chunks.
 */
import {
  Generator, Module, ShapeError, Tensor, ValueError, arange, asPartOf, attention, concat, expectInteger, expectOptions, fmtShape,
  defaultGenerator, expectPositions, expectSize, optionalDType, optionalGenerator, type DType,
} from '../core/index.js';
import { RoPE, type PositionalEncoding, type Positions } from '../positional/index.js';
import { checkAttentionArgs } from './attention.js';
import {
  expectEncodingFits, expectSequence, expectWeight, optionalBoolean, optionalCache, optionalPositional,
} from './checks.js';
import { issueCheckedCall, redeemCheckedCall, type CheckedCall } from './checked-call.js';
import type { KVCache } from './kv-cache.js';
import { Linear } from './linear.js';

/** Options of `chunkedAttention`: `causal`, `scale`, `offset`. */
export interface ChunkedAttentionFnOptions {
  /** Causal inside each chunk (default true); false = every query sees its whole chunk. */
  causal?: boolean;
  /** Logit scale; default 1/√d. */
  scale?: number;
  /** Position of key 0 (chunk c holds positions [c·C, (c+1)·C)); default 0. With a KV cache: the first cached key's position. */
  offset?: number;
}

/**
 * Block-diagonal attention: O_i = Σ_{j ∈ chunk(i), j ≤ i} softmax_j(scale · q_i·k_j) v_j, chunk(p) = ⌊p / C⌋.
 * q: [..., Tq, d], k: [..., Tk, d], v: [..., Tk, dv] (batch axes broadcast) → [..., Tq, dv]. Queries are aligned
 * bottom-right as in `attention`: query i sits at key index i + Tk − Tq (Tq < Tk = decoding with cached keys).
 */
export function chunkedAttention(q: Tensor, k: Tensor, v: Tensor, chunkSize: number, options: ChunkedAttentionFnOptions = {}): Tensor {
  const op = 'chunkedAttention';
  const o = expectOptions(op, 'options', options, ['causal', 'scale', 'offset']);
  checkAttentionArgs(op, q, k, v, { scale: o.scale });
  expectInteger(op, 'chunkSize', chunkSize, { min: 1 });
  const causal = optionalBoolean(op, 'causal', o.causal) ?? true;
  const offset = o.offset === undefined ? 0 : expectInteger(op, 'offset', o.offset, { min: 0 });
  const Tq = q.shape[q.ndim - 2]!;
  const Tk = k.shape[k.ndim - 2]!;
  if (v.shape[v.ndim - 2] !== Tk) throw new ShapeError(op, `k and v lengths differ — k=${fmtShape(k.shape)}, v=${fmtShape(v.shape)} (one value per key)`, 'v');
  if (Tq > Tk) throw new ShapeError(op, `more queries than keys — q=${fmtShape(q.shape)}, k=${fmtShape(k.shape)} (self-attention: Tq ≤ Tk)`, 'q');
  const scale = o.scale ?? 1 / Math.sqrt(q.shape[q.ndim - 1]!);
  if (Tq === 0) return attention(q, k, v, { scale });
  const C = chunkSize;
  if (Tq === Tk && offset % C === 0) return chunkBatch(q, k, v, C, causal, scale);

  // Decoding (Tq < Tk) or an unaligned start: one attention call per chunk the queries touch, on that chunk's keys.
  const pieces: Tensor[] = [];
  const shift = Tk - Tq; // query i is key index i + shift
  for (let i0 = 0; i0 < Tq;) {
    const chunk = Math.floor((offset + i0 + shift) / C);
    const kStart = Math.max(0, chunk * C - offset); // keys of this chunk that exist (earlier ones were never given)
    const kEnd = Math.min(Tk, (chunk + 1) * C - offset);
    const i1 = Math.min(Tq, kEnd - shift); // queries in this chunk: [i0, i1)
    const kLast = causal ? i1 + shift : kEnd; // causal: keys up to the last query (bottom-right alignment)
    const qs = q.narrow(q.ndim - 2, i0, i1 - i0);
    const ks = k.narrow(k.ndim - 2, kStart, kLast - kStart);
    const vs = v.narrow(v.ndim - 2, kStart, kLast - kStart);
    pieces.push(attention(qs, ks, vs, { causal, scale }));
    i0 = i1;
  }
  return pieces.length === 1 ? pieces[0]! : concat(pieces, pieces[0]!.ndim - 2);
}

/** Tq = Tk, chunks aligned at 0: [..., T, d] → pad to n·C → [..., n, C, d] → attention per chunk → [..., T, dv]. */
function chunkBatch(q: Tensor, k: Tensor, v: Tensor, C: number, causal: boolean, scale: number): Tensor {
  const T = q.shape[q.ndim - 2]!;
  // one chunk holds the whole sequence: plain (causal) attention, with no padding up to C (C may be far larger than T)
  if (T <= C) return attention(q, k, v, { causal, scale });
  const n = Math.ceil(T / C);
  const padRows = n * C - T;
  // padding rows sit after every real token, so the causal mask already hides them from real queries
  const toChunks = (x: Tensor): Tensor => {
    const padded = padRows === 0 ? x : x.pad([[0, padRows], [0, 0]]);
    return padded.reshape([...x.shape.slice(0, -2), n, C, x.shape[x.ndim - 1]!]); // [..., n, C, d]
  };
  let mask: Tensor | null = null;
  if (!causal && padRows > 0) {
    const m = new Float64Array(n * C).fill(1); // [n, 1, C]: 0 on the padding keys of the last chunk
    m.fill(0, n * C - padRows);
    mask = new Tensor(q.dtype === 'float64' ? m : Float32Array.from(m), [n, 1, C]);
  }
  const out = attention(toChunks(q), toChunks(k), toChunks(v), { causal, scale, mask }); // [..., n, C, dv]
  const dv = out.shape[out.ndim - 1]!;
  const flat = out.reshape([...out.shape.slice(0, -3), n * C, dv]); // [..., n·C, dv]
  return padRows === 0 ? flat : flat.narrow(flat.ndim - 2, 0, T);
}

/** Options of `ChunkedAttention`: `positional`, `bias`, `generator`, `dtype`. */
export interface ChunkedAttentionOptions {
  /** Positional encoding of q and k; default RoPE(headDim) (positions from the start of the sequence/segment). */
  positional?: PositionalEncoding;
  /** Biases on the q/k/v/o projections; default false. */
  bias?: boolean;
  generator?: Generator;
  dtype?: DType;
}

/** Options of a `ChunkedAttention` call: `positions`, `cache`. */
export interface ChunkedAttentionCallOptions {
  /** Query positions [T] or [B, T] for the encoding; default offset…offset+T−1, offset = cache.position (or 0). */
  positions?: Positions;
  /** Incremental decoding: new keys/values are appended; chunk boundaries count from the cache's first token. */
  cache?: KVCache;
}

/** @internal What `ChunkedAttention.checkCall` returns: a single-use proof of the checked call (nn/checked-call.ts). */
export type ChunkedAttentionCallCheck = CheckedCall<{ positions: Positions | undefined; cache: KVCache | undefined }>;

/** Multi-head chunked local attention with RoPE (per head) and its own q/k/v/o projections. x: [B, T, C] → [B, T, C]. */
export class ChunkedAttention extends Module {
  readonly headDim: number;
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  readonly wo: Linear;
  positional: PositionalEncoding;

  constructor(readonly dim: number, readonly numHeads: number, readonly chunkSize: number, options: ChunkedAttentionOptions = {}) {
    super();
    const op = 'ChunkedAttention';
    expectSize(op, 'dim', dim);
    expectSize(op, 'numHeads', numHeads);
    if (dim % numHeads !== 0) throw new ValueError(op, `dim=${dim} is not divisible by numHeads=${numHeads} (head dim = dim / numHeads)`, 'numHeads');
    expectSize(op, 'chunkSize', chunkSize);
    this.headDim = dim / numHeads;
    const o = expectOptions(op, 'options', options, ['positional', 'bias', 'generator', 'dtype']);
    const positional = optionalPositional(op, 'positional', o.positional);
    if (positional !== undefined) expectEncodingFits(op, 'positional', positional, this.headDim);
    const dtype = optionalDType(op, 'dtype', o.dtype);
    expectWeight(op, 'wq.weight', dim, dim);
    const g = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
    const lin = { bias: optionalBoolean(op, 'bias', o.bias) ?? false, generator: g, dtype };
    this.wq = new Linear(dim, dim, lin);
    this.wk = new Linear(dim, dim, lin);
    this.wv = new Linear(dim, dim, lin);
    this.wo = new Linear(dim, dim, lin);
    this.positional = positional ?? new RoPE(this.headDim);
  }

  /**
   * @internal Check a forward call's x [B, T, C] and options before anything runs; `op` is the method the user
   * called. Returns the proof that `forwardChecked` needs (nn/checked-call.ts).
   */
  checkCall(op: string, x: unknown, options: ChunkedAttentionCallOptions | undefined): ChunkedAttentionCallCheck {
    expectSequence(op, 'x', x, this.dim, this.wq.weight.dtype);
    const o = expectOptions(op, 'options', options, ['positions', 'cache']);
    if (o.positions !== undefined) expectPositions(op, 'positions', o.positions);
    const cache = optionalCache(op, 'cache', o.cache);
    if (cache !== undefined && cache.maxLength < this.chunkSize) {
      throw new ValueError(op, `cache.maxLength=${cache.maxLength} < chunkSize=${this.chunkSize} (a query needs up to chunkSize − 1 earlier keys)`, 'cache');
    }
    if (cache !== undefined && cache.keyShape !== null) {
      const [b, h, , d] = cache.keyShape;
      if (b !== x.shape[0] || h !== this.numHeads || d !== this.headDim || cache.dtype !== x.dtype) {
        throw new ShapeError(op, `options.cache holds keys=${fmtShape(cache.keyShape)} ${cache.dtype}, which this call cannot continue (needs [${x.shape[0]}, ${this.numHeads}, ·, ${this.headDim}] ${x.dtype})`, 'cache');
      }
    }
    return issueCheckedCall(this, x, { positions: o.positions, cache });
  }

  /** x: [B, T, C] → [B, T, C]. */
  forward(x: Tensor, options: ChunkedAttentionCallOptions = {}): Tensor {
    const op = 'ChunkedAttention.forward';
    return this.forwardChecked(op, x, this.checkCall(op, x, options));
  }

  /**
   * @internal forward for a call that `checkCall(op, …)` accepted (MemoryBlock checks its input once): the options
   * are those checked, held by `checked`, which is used up; what the positional encoding refuses is reported under
   * `op`, the method the user called.
   */
  forwardChecked(op: string, x: Tensor, checked: ChunkedAttentionCallCheck): Tensor {
    const { positions: given, cache } = redeemCheckedCall(op, this, checked, x);
    const [B, T] = x.shape as [number, number, number];
    const { numHeads: H, headDim: D } = this;
    const start = cache?.position ?? 0;
    let q = this.wq.forward(x).reshape([B, T, H, D]).transpose(1, 2); // [B, H, T, D]
    let k = this.wk.forward(x).reshape([B, T, H, D]).transpose(1, 2); // [B, H, T, D]
    let v = this.wv.forward(x).reshape([B, T, H, D]).transpose(1, 2); // [B, H, T, D]
    const positions = given ?? arange(start, start + T, 1, { dtype: 'float64' }); // [T]
    const encoded = asPartOf(op, () => this.positional.encodeQK(q, k, positions, positions));
    q = encoded.q;
    k = encoded.k;
    if (cache !== undefined) ({ keys: k, values: v } = cache.append(k, v)); // [B, H, Tk, D]
    const offset = start + T - k.shape[2]!; // position of the first key we hold
    const out = chunkedAttention(q, k, v, this.chunkSize, { offset, scale: (encoded.logitScale ?? 1) / Math.sqrt(D) }); // [B, H, T, D]
    return this.wo.forward(out.transpose(1, 2).reshape([B, T, H * D])); // [B, T, C]
  }
}
