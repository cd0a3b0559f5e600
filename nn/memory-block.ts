/**
 * The unified block of the recurrent memory-augmented transformer (spec language.md §12, after Kashyap 2025):
 * pre-norm residual, h = norm₁(x), three paths read h —
 *   global causal self-attention over the segment (RoPE per head),
 *   chunked local attention (block-diagonal causal, chunk size C, RoPE per head),
 *   a read of the gated FIFO memory (attention to the slots, no positions) —
 * combined as a = W_c [o_g; o_c; o_m] ('projection') or a = Σ_p softmax(β)_p o_p ('weights'), then
 * x' = x + a, y = x' + mlp(norm₂(x')). The block also pools y into the candidates for the next memory write.
 * Shape letters: B batch, S segment length, C model dim, K candidates.
 */
import { Generator, Module, Parameter, ShapeError, Tensor, ValueError, concat, fmtShape, zeros, type DType } from '../core/index.js';
import { RoPE, type PositionalEncoding, type Positions } from '../positional/index.js';
import { MultiHeadAttention } from './attention.js';
import { ChunkedAttention } from './chunked-attention.js';
import { FifoMemory, type FifoState, type MemoryPool } from './fifo-memory.js';
import type { KVCache } from './kv-cache.js';
import { Linear } from './linear.js';
import { Dropout, MLP, SwiGLU } from './mlp.js';
import { LayerNorm, RMSNorm } from './norm.js';

/** How the three path outputs merge: W_c over their concatenation, or a learned convex combination. */
export type PathCombine = 'projection' | 'weights';

export interface MemoryBlockOptions {
  numHeads: number;
  /** Tokens per local-attention chunk; also the pooling size of memory candidates (one candidate per chunk). */
  chunkSize: number;
  /** N_mem: memory slots. */
  memorySlots: number;
  /** Default 'projection'. */
  combine?: PathCombine;
  /** Encoding of the global and chunked paths (shared); default RoPE(dim / numHeads). The memory path has none. */
  positional?: PositionalEncoding;
  /** Memory write gate: 'learned' (default) or a constant in [0, 1]. */
  gate?: 'learned' | number;
  /** Candidate pooling per chunk; default 'chunk-mean'. */
  pool?: MemoryPool;
  /** Initial memory; default 'zeros'. */
  memoryInit?: 'zeros' | 'learned';
  /** 'gelu' (default, 4·dim hidden) or 'swiglu'. */
  mlp?: 'gelu' | 'swiglu';
  /** 'layer' (default) or 'rms'. */
  norm?: 'layer' | 'rms';
  hidden?: number;
  dropout?: number;
  bias?: boolean;
  generator?: Generator;
  dtype?: DType;
}

/** Per-layer caches for streaming: one for the global path, one for the chunked path (both reset at each segment). */
export interface MemoryBlockCaches {
  global: KVCache;
  local: KVCache;
}

export interface MemoryBlockCallOptions {
  /** Positions of x's tokens for RoPE; default offset…offset+S−1, offset = caches.global.position (or 0). */
  positions?: Positions;
  /** Incremental decoding within a segment. */
  caches?: MemoryBlockCaches;
}

export interface MemoryBlockOutput {
  /** [B, S, C] the block's output. */
  y: Tensor;
  /** [B, ⌈S/chunkSize⌉, C] pooled from y: the candidates of the memory write after this segment. */
  candidates: Tensor;
}

export class MemoryBlock extends Module {
  readonly combine: PathCombine;
  readonly norm1: LayerNorm | RMSNorm;
  readonly global: MultiHeadAttention;
  readonly local: ChunkedAttention;
  readonly memory: FifoMemory;
  /** 'projection': W_c [3C → C]; null otherwise. */
  readonly mix: Linear | null;
  /** 'weights': β [3] (α = softmax(β), order global, local, memory); null otherwise. */
  readonly pathLogits: Parameter | null;
  readonly norm2: LayerNorm | RMSNorm;
  readonly mlp: MLP | SwiGLU;
  readonly drop: Dropout;

  constructor(readonly dim: number, options: MemoryBlockOptions) {
    super();
    const { numHeads, chunkSize, memorySlots } = options;
    if (!Number.isInteger(numHeads) || numHeads < 1 || dim % numHeads !== 0) {
      throw new ValueError('MemoryBlock', `dim=${dim} is not divisible by numHeads=${numHeads}`, 'numHeads');
    }
    this.combine = options.combine ?? 'projection';
    if (this.combine !== 'projection' && this.combine !== 'weights') {
      throw new ValueError('MemoryBlock', `combine must be 'projection' or 'weights', got combine='${String(this.combine)}'`, 'combine');
    }
    const g = options.generator ?? new Generator(0);
    const dtype = options.dtype ? { dtype: options.dtype } : {};
    const bias = options.bias ?? false;
    const positional = options.positional ?? new RoPE(dim / numHeads);
    const makeNorm = (): LayerNorm | RMSNorm => (options.norm === 'rms' ? new RMSNorm(dim, dtype) : new LayerNorm(dim, dtype));
    this.norm1 = makeNorm();
    this.global = new MultiHeadAttention(dim, { numHeads, positional, bias, generator: g, ...dtype });
    this.local = new ChunkedAttention(dim, numHeads, chunkSize, { positional, bias, generator: g, ...dtype });
    this.memory = new FifoMemory(memorySlots, dim, {
      numHeads, poolSize: chunkSize, bias, generator: g, ...dtype,
      ...(options.gate !== undefined ? { gate: options.gate } : {}),
      ...(options.pool !== undefined ? { pool: options.pool } : {}),
      ...(options.memoryInit !== undefined ? { init: options.memoryInit } : {}),
    });
    this.mix = this.combine === 'projection' ? new Linear(3 * dim, dim, { bias, generator: g, ...dtype }) : null;
    this.pathLogits = this.combine === 'weights' ? Parameter.from(zeros([3], dtype)) : null; // α = 1/3 each at init
    this.norm2 = makeNorm();
    const mlpOpts = { generator: g, bias, ...dtype };
    this.mlp = options.mlp === 'swiglu' ? new SwiGLU(dim, options.hidden, mlpOpts) : new MLP(dim, options.hidden ?? 4 * dim, mlpOpts);
    this.drop = new Dropout(options.dropout ?? 0, { generator: g.fork() });
  }

  /** Mixing weights α = softmax(β) [3] (global, local, memory) for 'weights'; null for 'projection'. */
  pathWeights(): Tensor | null {
    return this.pathLogits === null ? null : this.pathLogits.softmax(0);
  }

  /** x: [B, S, C] with the memory carried in from earlier segments → y [B, S, C] and the write candidates. */
  forward(x: Tensor, memory: FifoState, options: MemoryBlockCallOptions = {}): MemoryBlockOutput {
    if (x.ndim !== 3 || x.shape[2] !== this.dim) throw new ShapeError('MemoryBlock', `x=${fmtShape(x.shape)} must be [B, S, ${this.dim}]`, 'x');
    const { caches } = options;
    const S = x.shape[1]!;
    const start = caches?.global.position ?? 0;
    const positions = options.positions ?? new Tensor(Float64Array.from({ length: S }, (_, i) => start + i), [S]);
    const h = this.norm1.forward(x); // [B, S, C]
    const oGlobal = this.global.forward(h, { positions, ...(caches ? { cache: caches.global } : {}) }); // [B, S, C]
    const oLocal = this.local.forward(h, { positions, ...(caches ? { cache: caches.local } : {}) }); // [B, S, C]
    const oMemory = this.memory.read(h, memory); // [B, S, C]
    let a: Tensor;
    if (this.mix !== null) a = this.mix.forward(concat([oGlobal, oLocal, oMemory], 2)); // W_c [o_g; o_c; o_m]
    else {
      const alpha = this.pathWeights()!; // [3]
      a = oGlobal.mul(alpha.narrow(0, 0, 1)).add(oLocal.mul(alpha.narrow(0, 1, 1))).add(oMemory.mul(alpha.narrow(0, 2, 1)));
    }
    const x1 = x.add(this.drop.forward(a)); // [B, S, C]
    const y = x1.add(this.drop.forward(this.mlp.forward(this.norm2.forward(x1)))); // [B, S, C]
    return { y, candidates: this.memory.poolCandidates(y) };
  }
}
