/**
 * The unified block of the recurrent memory-augmented transformer (after Kashyap 2025):
 * pre-norm residual, h = norm₁(x), three paths read h —
 *   global causal self-attention over the segment (RoPE per head),
 *   chunked local attention (block-diagonal causal, chunk size C, RoPE per head),
 *   a read of the gated FIFO memory (attention to the slots, no positions) —
 * combined as a = W_c [o_g; o_c; o_m] ('projection') or a = Σ_p softmax(β)_p o_p ('weights'), then
 * x' = x + a, y = x' + mlp(norm₂(x')). The block also pools y into the candidates for the next memory write.
 * Shape letters: B batch, S segment length, C model dim, K candidates.
 */
import {
  defaultGenerator,
  Generator, Module, Parameter, ShapeError, Tensor, ValueError, arange, concat, expectNumber, expectOneOf, expectOptions, fmtShape, zeros,
  expectPositions, expectSize, optionalDType, optionalGenerator, type DType,
} from '../core/index.js';
import {
  expectEncodingFits, expectSequence, expectWeight, optionalBoolean, optionalCache, optionalPositional, optionalProbability,
} from './checks.js';
import { RoPE, type PositionalEncoding, type Positions } from '../positional/index.js';
import { MultiHeadAttention } from './attention.js';
import { issueCheckedCall } from './checked-call.js';
import { ChunkedAttention } from './chunked-attention.js';
import { FifoMemory, type FifoState, type MemoryPool } from './fifo-memory.js';
import type { KVCache } from './kv-cache.js';
import { Linear } from './linear.js';
import { Dropout, MLP, SwiGLU } from './mlp.js';
import { LayerNorm, RMSNorm } from './norm.js';

/** How the three path outputs merge: W_c over their concatenation, or a learned convex combination. */
export type PathCombine = 'projection' | 'weights';

/**
 * Options of `MemoryBlock`: `numHeads`, `chunkSize`, `memorySlots`, `combine`, `positional`, `gate`, `pool`,
 * `memoryInit`, `mlp`, `norm`, `hidden`, `dropout`, `bias`, `generator`, `dtype`.
 */
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

/** Options of a `MemoryBlock` call: `positions`, `caches`. */
export interface MemoryBlockCallOptions {
  /** Positions of x's tokens for RoPE; default offset…offset+S−1, offset = caches.global.position (or 0). */
  positions?: Positions;
  /** Incremental decoding within a segment. */
  caches?: MemoryBlockCaches;
}

/** What a `MemoryBlock` call returns: the output y [B, S, C] and the pooled candidates for the memory write. */
export interface MemoryBlockOutput {
  /** [B, S, C] the block's output. */
  y: Tensor;
  /** [B, ⌈S/chunkSize⌉, C] pooled from y: the candidates of the memory write after this segment. */
  candidates: Tensor;
}

const MEMORY_BLOCK_OPTIONS = [
  'numHeads', 'chunkSize', 'memorySlots', 'combine', 'positional', 'gate', 'pool', 'memoryInit', 'mlp', 'norm', 'hidden', 'dropout', 'bias',
  'generator', 'dtype',
] as const;

/** Every MemoryBlock option, checked before anything is built. */
function checkMemoryBlockOptions(op: string, dim: number, options: MemoryBlockOptions): void {
  expectSize(op, 'dim', dim);
  const o = expectOptions(op, 'options', options, MEMORY_BLOCK_OPTIONS);
  const numHeads = expectSize(op, 'numHeads', o.numHeads);
  if (dim % numHeads !== 0) throw new ValueError(op, `dim=${dim} is not divisible by numHeads=${numHeads}`, 'numHeads');
  expectWeight(op, 'dim', dim, dim); // every path projects [dim, dim]
  expectSize(op, 'chunkSize', o.chunkSize);
  expectWeight(op, 'memorySlots', expectSize(op, 'memorySlots', o.memorySlots), dim); // the slots [memorySlots, dim]
  if (o.combine !== undefined) expectOneOf(op, 'combine', o.combine, ['projection', 'weights'] as const);
  const positional = optionalPositional(op, 'positional', o.positional);
  if (positional !== undefined) expectEncodingFits(op, 'positional', positional, dim / numHeads);
  if (o.gate !== undefined && o.gate !== 'learned') expectNumber(op, 'gate', o.gate, { min: 0, max: 1 });
  if (o.pool !== undefined) expectOneOf(op, 'pool', o.pool, ['chunk-mean', 'chunk-last'] as const);
  if (o.memoryInit !== undefined) expectOneOf(op, 'memoryInit', o.memoryInit, ['zeros', 'learned'] as const);
  if (o.mlp !== undefined) expectOneOf(op, 'mlp', o.mlp, ['gelu', 'swiglu'] as const);
  if (o.norm !== undefined) expectOneOf(op, 'norm', o.norm, ['layer', 'rms'] as const);
  if (o.hidden !== undefined) expectWeight(op, 'hidden', expectSize(op, 'hidden', o.hidden), dim); // the MLP's [hidden, dim]
  optionalProbability(op, 'dropout', o.dropout);
  optionalBoolean(op, 'bias', o.bias);
  optionalGenerator(op, 'generator', o.generator);
  optionalDType(op, 'dtype', o.dtype);
}

/**
 * The memory transformer's block: pre-norm global causal attention, chunked local attention and a FIFO-memory read
 * combined, then an MLP; x [B, S, C] → y [B, S, C], plus the candidates for the next memory write.
 */
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
    checkMemoryBlockOptions('MemoryBlock', dim, options);
    const { numHeads, chunkSize, memorySlots } = options;
    this.combine = options.combine ?? 'projection';
    const g = options.generator ?? defaultGenerator();
    const { dtype } = options;
    const bias = options.bias ?? false;
    const positional = options.positional ?? new RoPE(dim / numHeads);
    const makeNorm = (): LayerNorm | RMSNorm => (options.norm === 'rms' ? new RMSNorm(dim, { dtype }) : new LayerNorm(dim, { dtype }));
    this.norm1 = makeNorm();
    this.global = new MultiHeadAttention(dim, { numHeads, positional, bias, generator: g, dtype });
    this.local = new ChunkedAttention(dim, numHeads, chunkSize, { positional, bias, generator: g, dtype });
    this.memory = new FifoMemory(memorySlots, dim, {
      numHeads, poolSize: chunkSize, bias, generator: g, dtype, gate: options.gate, pool: options.pool, init: options.memoryInit,
    });
    this.mix = this.combine === 'projection' ? new Linear(3 * dim, dim, { bias, generator: g, dtype }) : null;
    this.pathLogits = this.combine === 'weights' ? Parameter.from(zeros([3], { dtype })) : null; // α = 1/3 each at init
    this.norm2 = makeNorm();
    const mlpOpts = { generator: g, bias, dtype };
    this.mlp = options.mlp === 'swiglu' ? new SwiGLU(dim, options.hidden, mlpOpts) : new MLP(dim, options.hidden ?? 4 * dim, mlpOpts);
    this.drop = new Dropout(options.dropout ?? 0, { generator: g.fork() });
    // what adds into the residual stream (gpt2Init draws it at the depth-scaled std): W_c, or with 'weights' each
    // path's output projection; and the feed-forward's last projection
    const residual = this.mix !== null ? [this.mix] : [this.global.wo, this.local.wo, this.memory.wo];
    for (const linear of [...residual, this.mlp.output]) linear.residualProjection = true;
  }

  /** @internal Check a forward call (x [B, S, C], the memory, options) before anything runs; `op` is the method the user called. */
  checkCall(op: string, x: unknown, memory: FifoState, options: MemoryBlockCallOptions | undefined): void {
    expectSequence(op, 'x', x, this.dim, this.norm1.weight?.dtype ?? this.global.wq.weight.dtype);
    const o = expectOptions(op, 'options', options, ['positions', 'caches']);
    if (o.positions !== undefined) expectPositions(op, 'positions', o.positions);
    this.memory.checkState(op, memory);
    if (memory.slots.shape[0] !== x.shape[0]) {
      throw new ShapeError(op, `x=${fmtShape(x.shape)} and memory slots=${fmtShape(memory.slots.shape)} differ in batch`, 'memory');
    }
    if (o.caches !== undefined) {
      if (o.caches === null || typeof o.caches !== 'object') throw new ValueError(op, 'options.caches must be { global: KVCache, local: KVCache }', 'caches');
      const global = optionalCache(op, 'caches.global', o.caches.global);
      const local = optionalCache(op, 'caches.local', o.caches.local);
      if (global === undefined || local === undefined) throw new ValueError(op, 'options.caches must be { global: KVCache, local: KVCache }', 'caches');
      this.global.checkCall(op, x, { cache: global });
      this.local.checkCall(op, x, { cache: local });
    }
  }

  /** Mixing weights α = softmax(β) [3] (global, local, memory) for 'weights'; null for 'projection'. */
  pathWeights(): Tensor | null {
    return this.pathLogits === null ? null : this.pathLogits.softmax(0);
  }

  /** x: [B, S, C] with the memory carried in from earlier segments → y [B, S, C] and the write candidates. */
  forward(x: Tensor, memory: FifoState, options: MemoryBlockCallOptions = {}): MemoryBlockOutput {
    return this.forwardAs('MemoryBlock.forward', x, memory, options);
  }

  /**
   * @internal forward with `op` (the method the user called: MemoryBlock.forward, or a model's) in every error
   * message; it checks its arguments as forward does.
   */
  forwardAs(op: string, x: Tensor, memory: FifoState, options: MemoryBlockCallOptions): MemoryBlockOutput {
    this.checkCall(op, x, memory, options);
    const { caches } = options;
    const S = x.shape[1]!;
    const start = caches?.global.position ?? 0;
    const positions = options.positions ?? arange(start, start + S, 1, { dtype: 'float64' });
    const h = this.norm1.forward(x); // [B, S, C]
    // checkCall covered both paths' inputs (x, positions, caches): each runs on the proof of that check, its
    // refusals named `op`
    const global = issueCheckedCall(this.global, h, { causal: true, mask: null, context: undefined, positions, cache: caches?.global });
    const oGlobal = this.global.forwardChecked(op, h, global); // [B, S, C]
    const oLocal = this.local.forwardChecked(op, h, issueCheckedCall(this.local, h, { positions, cache: caches?.local })); // [B, S, C]
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
