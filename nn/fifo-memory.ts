/**
 * Gated FIFO memory bank (Kashyap 2025, arXiv 2507.00453; the paper describes it in its abstract only, so the rules
 * below are this library's concretisation): N memory slots of
 * width C carried across segments. Write: pool the segment into K candidates, then each candidate u takes the place
 * of the oldest slot m_old (the one FIFO evicts) as m = g ⊙ u + (1 − g) ⊙ m_old, g = σ(W_g [m_old; u] + b_g).
 * Read: multi-head attention from the segment's queries to keys/values of the slots, with no positions and no mask.
 *
 * The bank is a ring buffer: `slots` keeps physical order and `head` points at the oldest slot, so a write with
 * gate 0 leaves the slots tensor bit-for-bit unchanged (only `head` advances) and gate 1 is plain FIFO replacement;
 * `ordered(state)` gives the slots oldest first. Reads are invariant to slot order, so the order never reaches them.
 * Shape letters: B batch, S segment length, N slots, K candidates, C model dim, H heads, D head dim.
 */
import {
  defaultGenerator,
  DTypeError, Generator, Module, Parameter, ShapeError, Tensor, ValueError, attention, concat, describeValue, expectAllocatable, expectInteger, expectNumber,
  expectOneOf, expectOptions, expectTensor, fmtShape, randn, zeros,
  expectSize, optionalDType, optionalGenerator, type DType,
} from '../core/index.js';
import { expectWeight, optionalBoolean } from './checks.js';
import { Linear } from './linear.js';

/** How a segment [B, S, C] becomes write candidates: one per chunk of `poolSize` tokens (the last chunk may be short). */
export type MemoryPool = 'chunk-mean' | 'chunk-last';

/** A memory bank: slots [B, N, C] in physical (ring) order and the index of the oldest slot. */
export interface FifoState {
  readonly slots: Tensor;
  readonly head: number;
}

/** Options of `FifoMemory`: `numHeads`, `pool`, `poolSize`, `gate`, `init`, `bias`, `generator`, `dtype`. */
export interface FifoMemoryOptions {
  /** Heads of the read attention (divides dim); default 1. */
  numHeads?: number;
  /** Pooling of write candidates; default 'chunk-mean' (mean over each chunk). */
  pool?: MemoryPool;
  /** Tokens per candidate; default 1 (every token is a candidate). */
  poolSize?: number;
  /** 'learned': g = σ(W_g [m_old; u] + b_g) per channel (default); a number in [0, 1]: that constant gate. */
  gate?: 'learned' | number;
  /** Initial slots: 'zeros' (default) or 'learned' (a parameter [N, C], the same for every sequence). */
  init?: 'zeros' | 'learned';
  /** Biases on the read projections; default false. */
  bias?: boolean;
  generator?: Generator;
  dtype?: DType;
}

/**
 * Gated FIFO memory bank (Kashyap 2025): N slots of width C carried across segments; a write pools the segment into
 * candidates that each replace the oldest slot through a gate, a read is attention from the segment's queries to the
 * slots.
 */
export class FifoMemory extends Module {
  readonly numHeads: number;
  readonly headDim: number;
  readonly pool: MemoryPool;
  readonly poolSize: number;
  /** The constant gate, or null when learned. */
  readonly constantGate: number | null;
  /** W_g: [m_old; u] (2C) → gate logits (C), with bias b_g; null for a constant gate. */
  readonly gateProj: Linear | null;
  /** Learned initial slots [N, C], or null for zeros. */
  readonly init: Parameter | null;
  readonly wq: Linear;
  readonly wk: Linear;
  readonly wv: Linear;
  readonly wo: Linear;

  constructor(readonly numSlots: number, readonly dim: number, options: FifoMemoryOptions = {}) {
    super();
    const op = 'FifoMemory';
    expectSize(op, 'numSlots', numSlots);
    expectSize(op, 'dim', dim);
    const o = expectOptions(op, 'options', options, ['numHeads', 'pool', 'poolSize', 'gate', 'init', 'bias', 'generator', 'dtype']);
    this.numHeads = o.numHeads === undefined ? 1 : expectSize(op, 'numHeads', o.numHeads);
    if (dim % this.numHeads !== 0) throw new ValueError(op, `dim=${dim} is not divisible by numHeads=${this.numHeads}`, 'numHeads');
    this.headDim = dim / this.numHeads;
    this.pool = o.pool === undefined ? 'chunk-mean' : expectOneOf(op, 'pool', o.pool, ['chunk-mean', 'chunk-last'] as const);
    this.poolSize = o.poolSize === undefined ? 1 : expectSize(op, 'poolSize', o.poolSize);
    const gate = o.gate === undefined ? 'learned' : o.gate;
    if (gate !== 'learned') expectNumber(op, 'gate', gate, { min: 0, max: 1 });
    const init = o.init === undefined ? 'zeros' : expectOneOf(op, 'init', o.init, ['zeros', 'learned'] as const);
    optionalBoolean(op, 'bias', o.bias);
    optionalGenerator(op, 'generator', o.generator);
    optionalDType(op, 'dtype', o.dtype);
    expectWeight(op, 'gateProj.weight', dim, 2 * dim);
    expectWeight(op, 'init', numSlots, dim);
    const g = options.generator ?? defaultGenerator();
    const { dtype } = options;
    this.constantGate = gate === 'learned' ? null : gate;
    this.gateProj = gate === 'learned' ? new Linear(2 * dim, dim, { bias: true, generator: g, dtype }) : null;
    this.init = init === 'learned' ? Parameter.from(randn([numSlots, dim], { std: 0.02, generator: g, dtype })) : null;
    const lin = { bias: options.bias ?? false, generator: g, dtype };
    this.wq = new Linear(dim, dim, lin);
    this.wk = new Linear(dim, dim, lin);
    this.wv = new Linear(dim, dim, lin);
    this.wo = new Linear(dim, dim, lin);
  }

  /** The empty bank for a batch of B: zeros, or the learned slots broadcast over the batch; head 0. */
  initial(batch: number): FifoState {
    expectInteger('FifoMemory.initial', 'batch', batch, { min: 1 });
    const shape = [batch, this.numSlots, this.dim];
    expectAllocatable('FifoMemory.initial', 'batch', batch * this.numSlots * this.dim, shape);
    const slots = this.init === null ? zeros(shape, { dtype: this.wq.weight.dtype }) : this.init.unsqueeze(0).expand(shape); // [B, N, C]
    return { slots, head: 0 };
  }

  /** h: [B, S, C] → candidates [B, ⌈S/poolSize⌉, C]: chunk k = tokens [k·P, (k+1)·P) of the segment, mean or last. */
  poolCandidates(h: Tensor): Tensor {
    this.checkRows('FifoMemory.poolCandidates', h, 'h');
    const [B, S, C] = h.shape as [number, number, number];
    if (S === 0) throw new ShapeError('FifoMemory.poolCandidates', `h=${fmtShape(h.shape)} has no tokens to pool (S ≥ 1)`, 'h');
    const P = this.poolSize;
    const full = Math.floor(S / P);
    const rest = S - full * P;
    const parts: Tensor[] = [];
    if (full > 0) {
      const chunks = (rest === 0 ? h : h.narrow(1, 0, full * P)).reshape([B, full, P, C]); // [B, S/P, P, C]
      parts.push(this.pool === 'chunk-mean' ? chunks.mean(2) : chunks.narrow(2, P - 1, 1).reshape([B, full, C]));
    }
    if (rest > 0) {
      const tail = h.narrow(1, full * P, rest); // [B, rest, C]
      parts.push(this.pool === 'chunk-mean' ? tail.mean(1, true) : tail.narrow(1, rest - 1, 1));
    }
    return parts.length === 1 ? parts[0]! : concat(parts, 1); // [B, K, C]
  }

  /** Gate g [B, K, C] for candidates u replacing slots old (both [B, K, C]): σ(W_g [old; u] + b_g) or the constant. */
  gate(old: Tensor, u: Tensor): Tensor {
    const op = 'FifoMemory.gate';
    this.checkRows(op, old, 'old');
    this.checkRows(op, u, 'u');
    if (old.shape[0] !== u.shape[0] || old.shape[1] !== u.shape[1] || old.dtype !== u.dtype) {
      throw new ShapeError(op, `old=${fmtShape(old.shape)} ${old.dtype} and u=${fmtShape(u.shape)} ${u.dtype} must have one shape [B, K, ${this.dim}] and dtype`, 'u');
    }
    if (this.gateProj === null) return new Tensor(new Float64Array([this.constantGate!]), [1]).cast(u.dtype);
    return this.gateProj.forward(concat([old, u], 2)).sigmoid(); // [B, K, C]
  }

  /**
   * Gated FIFO write of candidates [B, K, C] in order: candidate j overwrites the j-th oldest slot m_old (the one
   * FIFO evicts) with g ⊙ u_j + (1 − g) ⊙ m_old and becomes the newest. Equal to K writes of one candidate each;
   * K > N wraps around (later candidates are gated against earlier ones of the same write). Differentiable.
   */
  write(state: FifoState, candidates: Tensor): FifoState {
    const op = 'FifoMemory.write';
    this.checkState(op, state);
    this.checkRows(op, candidates, 'candidates');
    const [B, N] = state.slots.shape as [number, number, number];
    if (candidates.shape[0] !== B) {
      throw new ShapeError(op, `candidates=${fmtShape(candidates.shape)} and slots=${fmtShape(state.slots.shape)} differ in batch (one candidate set per sequence)`, 'candidates');
    }
    if (candidates.dtype !== state.slots.dtype) throw new DTypeError(op, `candidates are ${candidates.dtype}, slots are ${state.slots.dtype} (dtypes must agree)`, 'candidates');
    const K = candidates.shape[1]!;
    let { slots, head } = state;
    for (let k0 = 0; k0 < K; k0 += N) { // each round overwrites distinct physical slots
      const n = Math.min(N, K - k0);
      const u = n === K ? candidates : candidates.narrow(1, k0, n); // [B, n, C]
      const targets = Array.from({ length: n }, (_, j) => (head + j) % N); // physical slots, oldest first
      const old = slots.indexSelect(1, targets); // [B, n, C]
      const g = this.gate(old, u);
      const written = g.mul(u).add(g.neg().add(1).mul(old)); // m = g ⊙ u + (1 − g) ⊙ m_old
      // physical slot i keeps slots[i] unless it is target j, which takes written[j] (index N + j of the concat)
      const source = Array.from({ length: N }, (_, i) => i);
      targets.forEach((t, j) => (source[t] = N + j));
      slots = concat([slots, written], 1).indexSelect(1, source); // [B, N, C]
      head = (head + n) % N;
    }
    return { slots, head };
  }

  /** Slots oldest first: [B, N, C]. */
  ordered(state: FifoState): Tensor {
    this.checkState('FifoMemory.ordered', state);
    const N = this.numSlots;
    return state.head === 0 ? state.slots : state.slots.indexSelect(1, Array.from({ length: N }, (_, i) => (state.head + i) % N));
  }

  /** The same bank cut from the autograd graph (truncated back-propagation). */
  detach(state: FifoState): FifoState {
    this.checkState('FifoMemory.detach', state);
    return { slots: state.slots.detach(), head: state.head };
  }

  /** Read: softmax(q kᵀ/√D) v per head, q = x W_q, k = M W_k, v = M W_v, over every slot, no positions. x: [B, T, C] → [B, T, C]. */
  read(x: Tensor, state: FifoState): Tensor {
    const op = 'FifoMemory.read';
    this.checkRows(op, x, 'x');
    this.checkState(op, state);
    const [B, T] = x.shape as [number, number, number];
    if (state.slots.shape[0] !== B) throw new ShapeError(op, `x=${fmtShape(x.shape)} and slots=${fmtShape(state.slots.shape)} differ in batch`, 'x');
    const { numHeads: H, headDim: D, numSlots: N } = this;
    const q = this.wq.forward(x).reshape([B, T, H, D]).transpose(1, 2); // [B, H, T, D]
    const k = this.wk.forward(state.slots).reshape([B, N, H, D]).transpose(1, 2); // [B, H, N, D]
    const v = this.wv.forward(state.slots).reshape([B, N, H, D]).transpose(1, 2); // [B, H, N, D]
    const out = attention(q, k, v); // [B, H, T, D]
    return this.wo.forward(out.transpose(1, 2).reshape([B, T, H * D])); // [B, T, C]
  }

  private checkRows(op: string, t: Tensor, arg: string): void {
    expectTensor(op, arg, t);
    if (t.ndim !== 3 || t.shape[2] !== this.dim) throw new ShapeError(op, `${arg}=${fmtShape(t.shape)} must be [B, rows, ${this.dim}]`, arg);
    if (t.dtype !== this.wq.weight.dtype) {
      throw new DTypeError(op, `${arg} is ${t.dtype} but the layer's weights are ${this.wq.weight.dtype} (cast one of them)`, arg);
    }
  }

  /** A FifoState of this bank ({ slots [B, N, C], head }), checked once at the method the user called. */
  checkState(op: string, state: FifoState): void {
    if (state === null || typeof state !== 'object') throw new DTypeError(op, `state must be a FifoState { slots, head } (use initial(B)), got ${describeValue(state)}`, 'state');
    const s: unknown = state.slots;
    if (!(s instanceof Tensor)) throw new DTypeError(op, `state.slots must be a Tensor (use initial(B)), got ${describeValue(s)}`, 'state');
    if (s.ndim !== 3 || s.shape[1] !== this.numSlots || s.shape[2] !== this.dim) {
      throw new ShapeError(op, `slots=${fmtShape(s.shape)} must be [B, ${this.numSlots}, ${this.dim}] (use initial(B))`, 'state');
    }
    if (!Number.isInteger(state.head) || state.head < 0 || state.head >= this.numSlots) {
      throw new ValueError(op, `head=${state.head} must be an integer in [0, ${this.numSlots}) (the oldest slot)`, 'state');
    }
  }
}
