/**
 * MuseControlLite's decoupled rotary cross-attention (Tsai, Wu, Lee, Yang, Chen, Cheng, Yang: "MuseControlLite:
 * Multifunctional Music Generation with Lightweight Conditioners", ICML 2025; reference repo
 * fundwotsai2001/MuseControlLite @ 308bec3, `MuseControlLite_setup.py`, class `StableAudioAttnProcessor2_0_rotary`:
 * `__init__`, `rotate_half`, `__call__`). A frozen backbone's attention gets a second, trainable attention branch
 * whose keys and values come from a time-varying condition c (melody, rhythm, dynamics features), IP-Adapter style;
 * RoPE in that branch places every query frame on the condition's time axis, so the branch can tell which condition
 * frame is aligned with which output step (melody accuracy 56.6% → 61.1% in the paper).
 *
 * The branch, per layer (q: [B, H, Lq, d] the host's projected queries, c: [B, Lc, condDim]):
 *   K' = c W_kᵀ, V' = c W_vᵀ                        (reference to_k_ip / to_v_ip: Linear condDim → Hkv·d, no bias)
 *   pos_q[i] = i · (Lc / Lq),  pos_k[j] = j          (query frame i placed on the condition's time axis; float)
 *   φ[n, p] = pos[n] · θ^(−2p/d),  θ = 10000        (LlamaRotaryEmbedding(dim = d), half expansion [φ ‖ φ])
 *   q̃ = R(pos_q) q,  k̃ = R(pos_k) K',  ṽ = R(pos_k) V'   (the reference rotates the values too)
 *   ip = softmax(q̃ k̃ᵀ / √d) ṽ                       (no mask; GQA: query head h reads key/value head ⌊h·Hkv/H⌋)
 *   out = apScale · merge(ip) W_oᵀ                    (reference conv_out: Conv1d(H·d, H·d, k = 1, no bias) over time
 *                                                      = one Linear per frame, zero-initialised, so the block starts
 *                                                      as the frozen backbone; weight = conv_out.weight[:, :, 0])
 * and the host adds it to its own attention output before its output projection: h = to_out(attn(x) + out).
 *
 * R is the consistent half-layout rotation (pair (p, p + d/2), HF Llama), so q̃·k̃ depends only on pos_q − pos_k.
 * `museQuirkLayout: true` instead reproduces the reference's own map bit for bit (for its released checkpoints):
 * its `rotate_half` splits the head into interleaved pairs (even, odd) but concatenates the parts, while cos/sin are
 * the half expansion, so y[p] = x[p]·cos φ_p − x[2p+1]·sin φ_p and y[p + d/2] = x[p + d/2]·cos φ_p + x[2p]·sin φ_p
 * (p < d/2) — not a rotation (norms change) and not shift-invariant. The reference computes the angles in float32;
 * here they are float64.
 *
 * Two entries: `RotaryCrossAttention` is the branch alone (forward(q, condition) on queries the caller projected), so
 * it sits beside any attention; `DecoupledRotaryAttention` wraps a host MultiHeadAttention, takes its queries from
 * host.wq and adds the branch through host.wo (by linearity, host.wo(h + out) = host(x) + out·W_oᵀ, no second bias).
 * Shape letters: B batch, Lq query frames, Lc condition frames, H query heads, Hkv key/value heads, d head dim, C model dim.
 */
import {
  DTypeError, Generator, Module, ShapeError, Tensor, ValueError, attention, describeValue, expectNumber, expectPositions,
  expectRequiredOptions, expectSize, expectTensor, fmtShape, indexSelect, matmul, optionalDType, optionalGenerator, defaultGenerator, type DType,
} from '../core/index.js';
import { RoPE, type Positions } from '../positional/index.js';
import { MultiHeadAttention, type AttentionCallOptions } from './attention.js';
import { expectSequence, expectWeight, optionalBoolean } from './checks.js';
import { Linear } from './linear.js';

/**
 * The branch's positions: queries i · (Lc / Lq) for i < Lq (float, on the condition's time axis; the ratio first, as
 * the reference multiplies `arange(Lq)` by it) and keys/values 0 … Lc − 1. Float64 tensors [Lq] and [Lc].
 * Lq = 4, Lc = 8 → query [0, 2, 4, 6]; Lq = Lc → 0 … L − 1.
 */
export function rotaryCrossPositions(queryLength: number, conditionLength: number): { query: Positions; key: Positions } {
  const op = 'rotaryCrossPositions';
  const Lq = expectSize(op, 'queryLength', queryLength, 0);
  const Lc = expectSize(op, 'conditionLength', conditionLength);
  return positionsOf(Lq, Lc);
}

function positionsOf(Lq: number, Lc: number): { query: Positions; key: Positions } {
  const ratio = Lc / Lq;
  const query = new Float64Array(Lq);
  for (let i = 0; i < Lq; i++) query[i] = i * ratio;
  const key = new Float64Array(Lc);
  for (let j = 0; j < Lc; j++) key[j] = j;
  return { query: new Tensor(query, [Lq]), key: new Tensor(key, [Lc]) };
}

/** What the branch is built from (RotaryCrossAttention) — and, less the head layout, what a host needs (DecoupledRotaryAttention). */
export interface RotaryBranchOptions {
  /** Feature dim of the condition sequence c [B, Lc, condDim] (the reference's cross_attention_dim, 768). */
  condDim: number;
  /** Multiplier on the branch's output (the reference's `ap_scale`); default 1. */
  apScale?: number;
  /** Rotate q, k and v; default true. false gives the same branch without positions (the ablation). */
  rope?: boolean;
  /** RoPE base θ; default 10000. */
  base?: number;
  /** The reference's rotate_half (interleaved split, concatenated halves) with half-expanded cos/sin; default false. */
  museQuirkLayout?: boolean;
  generator?: Generator;
}

/** Options of `RotaryCrossAttention`: `numHeads`, `headDim`, `numKVHeads`, `dtype`. */
export interface RotaryCrossAttentionOptions extends RotaryBranchOptions {
  /** Query heads H (of the host's queries). */
  numHeads: number;
  /** Head dim d (even when rope is on). */
  headDim: number;
  /** Key/value heads Hkv (divides numHeads); default numHeads. */
  numKVHeads?: number;
  dtype?: DType;
}

const BRANCH_KEYS = ['condDim', 'apScale', 'rope', 'base', 'museQuirkLayout', 'generator'] as const;

interface Branch {
  condDim: number;
  apScale: number;
  rope: boolean;
  quirk: boolean;
  base: number;
  generator: Generator;
}

/** Every branch option, checked under `op`; `headDim` must be even when the branch rotates. */
function checkBranch(op: string, o: RotaryBranchOptions, headDim: number): Branch {
  const condDim = expectSize(op, 'condDim', o.condDim);
  const apScale = o.apScale === undefined ? 1 : expectNumber(op, 'apScale', o.apScale);
  const rope = optionalBoolean(op, 'rope', o.rope) ?? true;
  const quirk = optionalBoolean(op, 'museQuirkLayout', o.museQuirkLayout) ?? false;
  const base = o.base === undefined ? 10000 : expectNumber(op, 'base', o.base, { above: 1 });
  const generator = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
  if (quirk && !rope) throw new ValueError(op, 'museQuirkLayout: true needs rope: true (the quirk is a way to rotate)', 'museQuirkLayout');
  if (rope && headDim % 2 !== 0) throw new ValueError(op, `headDim=${headDim} must be even to rotate channel pairs (or pass rope: false)`, 'headDim');
  return { condDim, apScale, rope, quirk, base, generator };
}

/**
 * The decoupled condition branch alone: keys and values from the condition, queries given (already projected by the
 * host's W_q), output [B, Lq, H·d] to add to the host's attention output before its output projection.
 */
export class RotaryCrossAttention extends Module {
  readonly numHeads: number;
  readonly numKVHeads: number;
  readonly headDim: number;
  readonly condDim: number;
  /** Multiplier on the output (the reference's ap_scale); may be changed between calls. */
  apScale: number;
  readonly rope: boolean;
  readonly museQuirkLayout: boolean;
  /** Reference to_k_ip: condDim → Hkv·d, no bias. */
  readonly wk: Linear;
  /** Reference to_v_ip: condDim → Hkv·d, no bias. */
  readonly wv: Linear;
  /** Reference conv_out (kernel 1): H·d → H·d, no bias, zero at construction. */
  readonly wo: Linear;
  readonly #rotary: RoPE | null;

  constructor(options: RotaryCrossAttentionOptions) {
    super();
    const op = 'RotaryCrossAttention';
    const o = expectRequiredOptions(op, options, ['numHeads', 'headDim', 'numKVHeads', 'dtype', ...BRANCH_KEYS], 'with numHeads, headDim and condDim');
    const numHeads = expectSize(op, 'numHeads', o.numHeads);
    const headDim = expectSize(op, 'headDim', o.headDim);
    const numKVHeads = o.numKVHeads === undefined ? numHeads : expectSize(op, 'numKVHeads', o.numKVHeads);
    if (numHeads % numKVHeads !== 0) throw new ValueError(op, `numKVHeads=${numKVHeads} must divide numHeads=${numHeads}`, 'numKVHeads');
    const b = checkBranch(op, o, headDim);
    const dtype = optionalDType(op, 'dtype', o.dtype);
    expectWeight(op, 'wk.weight', numKVHeads * headDim, b.condDim);
    expectWeight(op, 'wo.weight', numHeads * headDim, numHeads * headDim);
    this.numHeads = numHeads;
    this.numKVHeads = numKVHeads;
    this.headDim = headDim;
    this.condDim = b.condDim;
    this.apScale = b.apScale;
    this.rope = b.rope;
    this.museQuirkLayout = b.quirk;
    const lin = { bias: false, generator: b.generator, dtype };
    this.wk = new Linear(b.condDim, numKVHeads * headDim, lin);
    this.wv = new Linear(b.condDim, numKVHeads * headDim, lin);
    this.wo = new Linear(numHeads * headDim, numHeads * headDim, lin);
    this.wo.weight.data.fill(0); // zero_module(conv_out): the branch adds exactly 0 until it trains
    this.#rotary = b.rope ? new RoPE(headDim, { base: b.base, layout: 'half' }) : null;
  }

  /**
   * The branch's rotation of x [..., T, d] by positions [T]: the half-layout RoPE, the reference's quirk map
   * (museQuirkLayout), or x itself (rope: false). Queries use rotaryCrossPositions(Lq, Lc).query, keys and values .key.
   */
  rotate(x: Tensor, positions: Positions): Tensor {
    const op = 'RotaryCrossAttention.rotate';
    expectTensor(op, 'x', x);
    const d = this.headDim;
    if (x.ndim < 2 || x.shape[x.ndim - 1] !== d) throw new ShapeError(op, `x=${fmtShape(x.shape)} must be [..., T, ${d}]`, 'x');
    expectPositions(op, 'positions', positions);
    const T = x.shape[x.ndim - 2]!;
    if (positions.ndim !== 1 || positions.shape[0] !== T) {
      throw new ShapeError(op, `positions=${fmtShape(positions.shape)} must be [${T}], one per row of x=${fmtShape(x.shape)}`, 'positions');
    }
    return this.rotateChecked(x, positions);
  }

  private rotateChecked(x: Tensor, positions: Positions): Tensor {
    const rotary = this.#rotary;
    if (rotary === null) return x;
    return this.museQuirkLayout ? quirkRotate(x, rotary.angles(positions)) : rotary.rotate(x, positions);
  }

  /** q: [B, H, Lq, d] (the host's projected queries), condition: [B, Lc, condDim] → [B, Lq, H·d]. */
  forward(q: Tensor, condition: Tensor): Tensor {
    const op = 'RotaryCrossAttention.forward';
    const { numHeads: H, headDim: d } = this;
    const dtype = this.wk.weight.dtype;
    expectTensor(op, 'q', q);
    if (q.ndim !== 4 || q.shape[1] !== H || q.shape[3] !== d) throw new ShapeError(op, `q=${fmtShape(q.shape)} must be [B, ${H}, Lq, ${d}]`, 'q');
    if (q.dtype !== dtype) throw new DTypeError(op, `q is ${q.dtype} but the branch's weights are ${dtype} (cast one of them)`, 'q');
    this.checkCondition(op, condition, q.shape[0]!, dtype);
    return this.forwardChecked(q, condition);
  }

  /** @internal The condition [B, Lc ≥ 1, condDim] of the branch's dtype, for a batch of B. */
  checkCondition(op: string, condition: unknown, B: number, dtype: DType): void {
    expectSequence(op, 'condition', condition, this.condDim, dtype);
    const c = condition;
    if (c.shape[0] !== B) throw new ShapeError(op, `condition=${fmtShape(c.shape)} and the queries differ in batch (${c.shape[0]} vs ${B}; one condition per sequence)`, 'condition');
    if (c.shape[1] === 0) throw new ShapeError(op, `condition=${fmtShape(c.shape)} has no frames (the branch attends over at least one)`, 'condition');
  }

  /** @internal forward on checked q [B, H, Lq, d] and condition [B, Lc, condDim]. */
  forwardChecked(q: Tensor, condition: Tensor): Tensor {
    const { numHeads: H, numKVHeads: Hkv, headDim: d } = this;
    const [B, , Lq] = q.shape as [number, number, number, number];
    const Lc = condition.shape[1]!;
    const pos = positionsOf(Lq, Lc);
    const qr = this.rotateChecked(q, pos.query);
    const k = this.rotateChecked(this.wk.forward(condition).reshape([B, Lc, Hkv, d]).transpose(1, 2), pos.key); // [B, Hkv, Lc, d]
    const v = this.rotateChecked(this.wv.forward(condition).reshape([B, Lc, Hkv, d]).transpose(1, 2), pos.key); // [B, Hkv, Lc, d]
    const G = H / Hkv;
    const scale = 1 / Math.sqrt(d);
    const ip = G === 1
      ? attention(qr, k, v, { scale }) // [B, H, Lq, d]
      : attention(qr.reshape([B, Hkv, G, Lq, d]), k.unsqueeze(2), v.unsqueeze(2), { scale }).reshape([B, H, Lq, d]);
    const out = this.wo.forward(ip.transpose(1, 2).reshape([B, Lq, H * d])); // [B, Lq, H·d]
    return this.apScale === 1 ? out : out.mul(this.apScale);
  }
}

/**
 * The reference's map: y = x ⊙ [cos φ ‖ cos φ] + [−x_odd ‖ x_even] ⊙ [sin φ ‖ sin φ], with x_even = x[0::2],
 * x_odd = x[1::2]. x: [..., T, d]; angles: [T, d/2]. Built from differentiable core ops (indexSelect, mul, add).
 */
function quirkRotate(x: Tensor, angles: Tensor): Tensor {
  const [T, P] = angles.shape as [number, number];
  const d = 2 * P;
  const f64 = x.dtype === 'float64';
  const cosT = f64 ? new Float64Array(T * d) : new Float32Array(T * d);
  const sinT = f64 ? new Float64Array(T * d) : new Float32Array(T * d); // the sign of −x_odd folded in
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) {
      const a = angles.data[t * P + p]!;
      const c = Math.cos(a);
      const s = Math.sin(a);
      cosT[t * d + p] = c;
      cosT[t * d + P + p] = c;
      sinT[t * d + p] = -s;
      sinT[t * d + P + p] = s;
    }
  }
  const split = Int32Array.from({ length: d }, (_, i) => (i < P ? 2 * i + 1 : 2 * (i - P))); // [x_odd ‖ x_even]
  return x.mul(new Tensor(cosT, [T, d])).add(indexSelect(x, -1, split).mul(new Tensor(sinT, [T, d])));
}

/**
 * A host MultiHeadAttention with MuseControlLite's condition branch beside it: forward(x, condition) =
 * host(x) + branch(host.wq(x), condition)·host.wo.weightᵀ. The branch reads the host's projected queries before any
 * positional encoding of the host (the reference's host is a cross-attention without RoPE) and uses the host's
 * heads (H, Hkv, d). Train `branch.parameters()` with the host frozen; at construction the output equals the host's.
 * Costs one extra query projection per call (the host's forward is reused as it is).
 */
export class DecoupledRotaryAttention extends Module {
  readonly branch: RotaryCrossAttention;

  constructor(readonly host: MultiHeadAttention, options: RotaryBranchOptions) {
    super();
    const op = 'DecoupledRotaryAttention';
    if (!(host instanceof MultiHeadAttention)) throw new DTypeError(op, `host must be a MultiHeadAttention, got ${describeValue(host)}`, 'host');
    const o = expectRequiredOptions(op, options, BRANCH_KEYS, 'with condDim');
    checkBranch(op, o, host.headDim); // under this class's name; the branch below then accepts them
    this.branch = new RotaryCrossAttention({
      ...o, numHeads: host.numHeads, numKVHeads: host.numKVHeads, headDim: host.headDim, dtype: host.wq.weight.dtype,
    });
  }

  /** x: [B, T, C], condition: [B, Lc, condDim] → [B, T, C]; `options` are the host's (mask, causal, positions, cache, context). */
  forward(x: Tensor, condition: Tensor, options: AttentionCallOptions = {}): Tensor {
    const op = 'DecoupledRotaryAttention.forward';
    const { host, branch } = this;
    const checked = host.checkCall(op, x, options);
    const [B, T] = x.shape as [number, number, number];
    branch.checkCondition(op, condition, B, host.wq.weight.dtype);
    const main = host.forwardChecked(op, x, checked); // [B, T, C]
    const q = host.wq.forward(x).reshape([B, T, host.numHeads, host.headDim]).transpose(1, 2); // [B, H, T, d]
    const added = branch.forwardChecked(q, condition); // [B, T, H·d]
    return main.add(matmul(added, host.wo.weight, { transposeB: true }));
  }
}
