/**
 * A recurrent memory-augmented transformer (after Kashyap 2025, arXiv 2507.00453), written like models/gpt.ts: the
 * model (segments, memory hand-over, streaming, head, loss) in this file, with shapes in comments; each layer is
 * nn/memory-block.ts's MemoryBlock (global and chunked attention, FifoMemory read, MLP), sampling is nn/generate.ts's.
 * B batch, T sequence length, S segment length, C model dim, V vocabulary size, L layers, N memory slots.
 *
 * The sequence is processed in segments of S tokens. Inside a segment every layer is a MemoryBlock (global causal
 * attention + chunked local attention + memory read); across segments information flows only through each layer's
 * gated FIFO memory, written after every segment from that layer's pooled outputs (one candidate per chunk).
 * Truncated back-propagation through time: the memory entering segment s is detached when s is a positive multiple
 * of `truncateBPTT`, so a loss reaches back through at most `truncateBPTT` segments (TBPTT(k, k)).
 *
 * Streaming (`forwardStream`, `generate`): tokens are fed in any pieces; the current segment's keys/values live in
 * per-layer KV caches and its block outputs are kept, and when the segment fills (S tokens) every layer pools them,
 * writes its memory and clears the caches. So token t always sees exactly what a full forward over ids[0..t] gives
 * it: its segment's earlier tokens by attention and the completed earlier segments through memory.
 */
import {
  DTypeError, Generator, Module, Tensor, ValueError, asPartOf, concat, crossEntropy, describeValue, expectAllocatable, expectBoolean, expectInteger,
  expectNumber, expectOptions, expectSize, matmul, optionalDType, type DType,
} from '../core/index.js';
import {
  Embedding, KVCache, LayerNorm, Linear, MemoryBlock, RMSNorm, expectWeight, generate, gpt2Init,
  type CausalLM, type FifoMemory, type FifoState, type GenerateOptions, type MemoryBlockCaches, type MemoryPool, type PathCombine,
} from '../nn/index.js';
import { RoPE } from '../positional/index.js';
import { expectLayerStack, expectTokenIds } from './checks.js';

const MEMORY_TRANSFORMER_CONFIG = [
  'vocabSize', 'dim', 'numLayers', 'numHeads', 'segmentLength', 'chunkSize', 'memorySlots', 'combine', 'truncateBPTT', 'gate', 'pool',
  'memoryInit', 'ropeBase', 'mlp', 'norm', 'dropout', 'tieEmbeddings', 'seed', 'dtype',
] as const;

/**
 * The configuration of a `MemoryTransformer`: `vocabSize`, `dim`, `numLayers`, `numHeads`, `segmentLength`,
 * `chunkSize`, `memorySlots`, `combine`, `truncateBPTT`, `gate`, `pool`, `memoryInit`, `ropeBase`, `mlp`, `norm`,
 * `dropout`, `tieEmbeddings`, `seed`, `dtype`.
 */
export interface MemoryTransformerConfig {
  vocabSize: number;
  dim: number;
  numLayers: number;
  numHeads: number;
  /** S: tokens per segment (the unit of recurrence). */
  segmentLength: number;
  /** C: tokens per local-attention chunk and per memory candidate. */
  chunkSize: number;
  /** N_mem: memory slots per layer. */
  memorySlots: number;
  /** Path combination: 'projection' (W_c over the concatenation, default) or 'weights' (learned softmax weights). */
  combine?: PathCombine;
  /** Segments a loss back-propagates through (memory detached beyond); default Infinity (the whole call). */
  truncateBPTT?: number;
  /** Memory write gate: 'learned' (default) or a constant in [0, 1]. */
  gate?: 'learned' | number;
  /** Candidate pooling; default 'chunk-mean'. */
  pool?: MemoryPool;
  /** Initial memory: 'zeros' (default) or 'learned'. */
  memoryInit?: 'zeros' | 'learned';
  /** RoPE base θ; default 10000. */
  ropeBase?: number;
  mlp?: 'gelu' | 'swiglu';
  norm?: 'layer' | 'rms';
  dropout?: number;
  /** Share the token embedding with the output head; default true. */
  tieEmbeddings?: boolean;
  seed?: number;
  dtype?: DType;
}

/** Options of `MemoryTransformer.forward`: `memory`, the memory state per layer to start from. */
export interface MemoryForwardOptions {
  /** Memory per layer to start from (from an earlier call); default initialMemory(B). */
  memory?: readonly FifoState[];
}

/** The logits [B, T, V] and each layer's memory state after the last segment. */
export interface MemoryForwardResult {
  /** [B, T, V]. */
  logits: Tensor;
  /** Memory per layer after the last segment (also a short last one), detached: a call is the unit of back-propagation. */
  memory: FifoState[];
}

/** State of a streaming decode: memory, the current segment's caches and block outputs, and how full it is. */
export interface MemoryStream {
  memory: FifoState[];
  caches: MemoryBlockCaches[];
  /** Per layer, the block outputs [B, n, C] of the current segment so far (pooled when it fills). */
  pending: Tensor[][];
  /** Tokens of the current segment seen so far (0 ≤ filled < S). */
  filled: number;
}

/**
 * A recurrent memory-augmented transformer (after Kashyap 2025): the sequence runs in segments of S tokens through
 * `MemoryBlock` layers, and only each layer's FIFO memory carries information across segments; ids [B, T] → logits [B,
 * T, V].
 */
export class MemoryTransformer extends Module {
  readonly config: Readonly<MemoryTransformerConfig>;
  readonly truncateBPTT: number;
  readonly wte: Embedding;
  /** RoPE shared by the global and chunked paths of every layer (positions count from the segment start). */
  readonly positional: RoPE;
  readonly blocks: MemoryBlock[];
  readonly lnF: LayerNorm | RMSNorm;
  /** Untied output head [V, C] (weight lmHead.weight); null when tied to wte. */
  readonly lmHead: Linear | null;

  constructor(config: MemoryTransformerConfig) {
    super();
    const op = 'MemoryTransformer';
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new DTypeError(op, `config must be an object, got ${describeValue(config)}`, 'config');
    const raw = expectOptions(op, 'config', config, MEMORY_TRANSFORMER_CONFIG);
    const { vocabSize: V, dim: C, numLayers: L, numHeads, chunkSize, memorySlots } = config;
    expectSize(op, 'vocabSize', raw.vocabSize);
    expectLayerStack(op, 'numLayers', expectSize(op, 'numLayers', raw.numLayers), expectSize(op, 'dim', raw.dim) ** 2);
    expectSize(op, 'segmentLength', raw.segmentLength);
    const H = expectSize(op, 'numHeads', raw.numHeads);
    if (C % H !== 0) throw new ValueError(op, `dim=${C} is not divisible by numHeads=${H}`, 'numHeads'); // the RoPE below is per head
    if (raw.ropeBase !== undefined) expectNumber(op, 'ropeBase', raw.ropeBase, { above: 1 });
    if (raw.tieEmbeddings !== undefined) expectBoolean(op, 'tieEmbeddings', raw.tieEmbeddings);
    if (raw.seed !== undefined) expectInteger(op, 'seed', raw.seed, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
    optionalDType(op, 'dtype', raw.dtype);
    if (raw.truncateBPTT !== undefined && raw.truncateBPTT !== Infinity) expectSize(op, 'truncateBPTT', raw.truncateBPTT); // Infinity: full BPTT (the default)
    expectWeight(op, 'wte.weight', V, C);
    this.truncateBPTT = config.truncateBPTT ?? Infinity;
    if (typeof this.truncateBPTT !== 'number' || !(this.truncateBPTT >= 1) || (this.truncateBPTT !== Infinity && !Number.isInteger(this.truncateBPTT))) {
      throw new ValueError('MemoryTransformer', `truncateBPTT must be an integer ≥ 1 or Infinity, got truncateBPTT=${this.truncateBPTT}`, 'truncateBPTT');
    }
    this.config = Object.freeze({ ...config });
    const g = new Generator(config.seed ?? 0);
    const { dtype } = config;
    this.wte = new Embedding(V, C, { generator: g, std: 0.02, dtype });
    this.positional = asPartOf(op, () => new RoPE(C / numHeads, { base: config.ropeBase ?? 10000 }));
    // the block options (chunkSize, memorySlots, combine, gate, pool, …) are checked by MemoryBlock, named as this call
    this.blocks = asPartOf(op, () => Array.from({ length: L }, () => new MemoryBlock(C, {
      numHeads, chunkSize, memorySlots, positional: this.positional, generator: g,
      combine: config.combine,
      mlp: config.mlp,
      norm: config.norm,
      dropout: config.dropout,
      gate: config.gate,
      pool: config.pool,
      memoryInit: config.memoryInit,
      dtype,
    })));
    this.lnF = config.norm === 'rms' ? new RMSNorm(C, { dtype }) : new LayerNorm(C, { dtype });
    this.lmHead = config.tieEmbeddings === false ? new Linear(C, V, { bias: false, std: 0.02, generator: g, dtype }) : null;
    gpt2Init(this, { numLayers: config.numLayers, generator: g, select: /^blocks\..*\.weight$/ }); // GPT-2 init; the projections each MemoryBlock marks residual are scaled
  }

  /** Each layer's initial memory for a batch of B. */
  initialMemory(batch: number): FifoState[] {
    this.checkBatch('MemoryTransformer.initialMemory', batch);
    return this.blocks.map((b) => b.memory.initial(batch));
  }

  /** ids: [B, T] → logits [B, T, V], segment by segment. */
  forward(ids: Tensor, options: MemoryForwardOptions = {}): Tensor {
    return this.forwardWithMemory(ids, options).logits;
  }

  /** ids: [B, T] → logits [B, T, V] and the memory after the last segment. */
  forwardWithMemory(ids: Tensor, options: MemoryForwardOptions = {}): MemoryForwardResult {
    const op = 'MemoryTransformer.forward';
    this.checkIds(op, ids);
    const [B, T] = ids.shape as [number, number];
    const S = this.config.segmentLength;
    const o = expectOptions(op, 'options', options, ['memory']);
    if (o.memory !== undefined) {
      if (!Array.isArray(o.memory)) throw new DTypeError(op, `memory must be an array of FifoStates (use initialMemory(B)), got ${describeValue(o.memory)}`, 'memory');
      if (o.memory.length !== this.blocks.length) {
        throw new ValueError(op, `got memory for ${o.memory.length} layers, the model has ${this.blocks.length} (use initialMemory(B))`, 'memory');
      }
      o.memory.forEach((m, l) => {
        this.blocks[l]!.memory.checkState(op, m);
        if (m.slots.shape[0] !== B) throw new ValueError(op, `memory[${l}] is for a batch of ${m.slots.shape[0]}, ids have ${B} (use initialMemory(B))`, 'memory');
      });
    }
    let memory = o.memory ? [...o.memory] : this.initialMemory(B);
    const x = this.wte.forward(ids); // [B, T, C]
    const outs: Tensor[] = [];
    for (let s = 0, t0 = 0; t0 < T; s++, t0 += S) {
      if (s > 0 && s % this.truncateBPTT === 0) memory = memory.map((m, l) => this.blocks[l]!.memory.detach(m)); // TBPTT cut
      let h = T <= S ? x : x.narrow(1, t0, Math.min(S, T - t0)); // [B, S, C]
      const next: FifoState[] = [];
      this.blocks.forEach((block, l) => {
        const { y, candidates } = block.forwardAs(op, h, memory[l]!, {}); // [B, S, C], [B, ⌈S/chunk⌉, C]
        next.push(block.memory.write(memory[l]!, candidates));
        h = y;
      });
      outs.push(h);
      memory = next;
    }
    const hidden = outs.length === 1 ? outs[0]! : concat(outs, 1); // [B, T, C]
    return { logits: this.head(hidden), memory: memory.map((m, l) => this.blocks[l]!.memory.detach(m)) };
  }

  /** Mean next-token cross-entropy: ids [B, T], targets [B, T]. */
  loss(ids: Tensor, targets: Tensor): Tensor {
    this.checkIds('MemoryTransformer.loss', ids);
    expectTokenIds('MemoryTransformer.loss', 'targets', targets, this.config.vocabSize);
    if (targets.shape[0] !== ids.shape[0] || targets.shape[1] !== ids.shape[1]) {
      throw new ValueError('MemoryTransformer.loss', `targets=[${targets.shape.join(',')}] must have the shape of ids=[${ids.shape.join(',')}]`, 'targets');
    }
    return crossEntropy(this.forward(ids), targets);
  }

  /** An empty stream (initial memory, empty caches) for a batch of B. */
  newStream(batch = 1): MemoryStream {
    this.checkBatch('MemoryTransformer.newStream', batch);
    return {
      memory: this.initialMemory(batch).map((m, l) => this.blocks[l]!.memory.detach(m)),
      caches: this.blocks.map(() => ({ global: new KVCache(), local: new KVCache() })),
      pending: this.blocks.map(() => []),
      filled: 0,
    };
  }

  /**
   * Feed ids [B, n] (continuing the stream) → logits [B, n, V]; equal to the matching rows of a full forward over
   * everything fed so far. Memory is written (and detached) whenever a segment fills. Meant for inference (noGrad).
   */
  forwardStream(ids: Tensor, stream: MemoryStream): Tensor {
    const op = 'MemoryTransformer.forwardStream';
    this.checkIds(op, ids);
    this.checkStream(op, stream, ids.shape[0]!);
    const T = ids.shape[1]!;
    const S = this.config.segmentLength;
    const outs: Tensor[] = [];
    for (let t = 0; t < T;) {
      const n = Math.min(T - t, S - stream.filled); // stop at the segment's end
      let h = this.wte.forward(n === T ? ids : ids.narrow(1, t, n)); // [B, n, C]
      this.blocks.forEach((block, l) => {
        h = block.forwardAs(op, h, stream.memory[l]!, { caches: stream.caches[l]! }).y; // [B, n, C]
        stream.pending[l]!.push(h);
      });
      outs.push(h);
      stream.filled += n;
      t += n;
      if (stream.filled === S) this.endSegment(stream);
    }
    return this.head(outs.length === 1 ? outs[0]! : concat(outs, 1)); // [B, T, V]
  }

  /**
   * Stream `prompt` then up to maxNewTokens sampled tokens (returned without the prompt): nn/generate.ts's loop, with
   * a MemoryStream as its decoding state, so one token per step with the segment's KV caches, and memory written
   * when a segment fills. Errors are named `MemoryTransformer.generate`.
   */
  generate(prompt: readonly number[], options: Omit<GenerateOptions, 'caches'>): number[] {
    if (options !== null && typeof options === 'object' && 'caches' in options) {
      throw new ValueError('MemoryTransformer.generate', 'options.caches is not taken: the decoding state is the model\'s own MemoryStream', 'caches');
    }
    const decoder: CausalLM<MemoryStream> & { config: { vocabSize: number } } = {
      config: this.config,
      newCaches: () => this.newStream(1),
      forward: (ids, o) => this.forwardStream(ids, o?.caches ?? this.newStream(ids.shape[0])),
    };
    const wasTraining = this.training;
    this.eval();
    try {
      return asPartOf('MemoryTransformer.generate', () => generate(decoder, prompt, options));
    } finally {
      this.train(wasTraining);
    }
  }

  /** The current segment is full: each layer writes its pooled outputs into memory; caches start afresh. */
  private endSegment(stream: MemoryStream): void {
    this.blocks.forEach((block, l) => {
      const pieces = stream.pending[l]!;
      const segment = pieces.length === 1 ? pieces[0]! : concat(pieces, 1); // [B, S, C]
      const memory: FifoMemory = block.memory;
      stream.memory[l] = memory.detach(memory.write(stream.memory[l]!, memory.poolCandidates(segment)));
      stream.caches[l]!.global.reset();
      stream.caches[l]!.local.reset();
      stream.pending[l] = [];
    });
    stream.filled = 0;
  }

  /** Final norm and output head: [B, T, C] → [B, T, V]. */
  private head(h: Tensor): Tensor {
    const x = this.lnF.forward(h);
    return this.lmHead?.forward(x) ?? matmul(x, this.wte.weight, { transposeB: true });
  }

  /** A batch size whose memory (each layer's slots [batch, memorySlots, dim]) can be allocated. */
  private checkBatch(op: string, batch: number): void {
    expectInteger(op, 'batch', batch, { min: 1 });
    const shape = [batch, this.config.memorySlots, this.config.dim];
    expectAllocatable(op, 'batch', batch * this.config.memorySlots * this.config.dim, shape);
  }

  private checkIds(op: string, ids: Tensor): void {
    expectTokenIds(op, 'ids', ids, this.config.vocabSize);
  }

  /** A stream from newStream(B) for this model and batch. */
  private checkStream(op: string, stream: MemoryStream, batch: number): void {
    const L = this.blocks.length;
    const ok = stream !== null && typeof stream === 'object' && Array.isArray(stream.memory) && Array.isArray(stream.caches) && Array.isArray(stream.pending)
      && stream.memory.length === L && stream.caches.length === L && stream.pending.length === L && Number.isInteger(stream.filled)
      && stream.filled >= 0 && stream.filled < this.config.segmentLength;
    if (!ok) throw new DTypeError(op, `stream must be a MemoryStream of this model (use newStream(B)), got ${describeValue(stream)}`, 'stream');
    stream.memory.forEach((m, l) => {
      this.blocks[l]!.memory.checkState(op, m);
      if (m.slots.shape[0] !== batch) throw new ValueError(op, `stream is for a batch of ${m.slots.shape[0]}, ids have ${batch} (use newStream(B))`, 'stream');
    });
  }
}
