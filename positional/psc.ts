/**
 * PSC — Phase Shift Calibration (Zhu, Xu, Wang, Wu, EMNLP 2024; code: WNQzhu/PSC, PSC_code/lora_llama.py class
 * `Phase`). A small learned gate rescales each pre-rotation head vector channel by channel, so that a predefined
 * frequency rule (PI, NTK, YaRN, LongRoPE, …) can be calibrated during long-context fine-tuning. It never touches
 * the frequencies: `PSCRoPE` calibrates q and k and then hands them to any base encoding, which rotates them.
 */
import { DTypeError, Generator, Module, Parameter, ShapeError, Tensor, ValueError, add, describeValue, expectOneOf, fmtShape, matmul, mul, silu, tanh, type DType } from '../core/index.js';
import { checkOptions, checkPositions, checkSize } from './checks.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';

export interface PSCOptions {
  /** Draws the D init; default `new Generator(0)`. */
  generator?: Generator;
  /** Parameter dtype (must match the head vectors'); default 'float32'. */
  dtype?: DType;
}

/**
 * Per-head calibration gate: x' = x ⊙ c(x), c(x) = 1 + ½·tanh(SiLU(x U_n) D_n) (PSC, lora_llama.py `Phase.forward`;
 * row-vector convention, n the head), so every channel is rescaled by a data-dependent factor in (0.5, 1.5)
 * (in float64 the ends are reached once |SiLU(xU)D| ≳ 19, where tanh rounds to ±1).
 *
 * Init as the reference: U ("up_phase", [H, h, h]) is zero, so c ≡ 1 and x' = x bit for bit; D ("down_phase",
 * [H, h, h]) is PyTorch's kaiming_uniform_(a=√5) on the whole (H, h, h) tensor. PyTorch's fan-in of a 3-D tensor
 * is size(1)·∏size(2:) = h·h, gain √(2/(1+a²)) = √(1/3), bound = gain·√(3/fan_in) = 1/h: D ~ U(−1/h, 1/h).
 */
export class PSC extends Module {
  /** U_n per head, [numHeads, headDim, headDim], zero at init. */
  readonly up: Parameter;
  /** D_n per head, [numHeads, headDim, headDim], U(−1/h, 1/h) at init. */
  readonly down: Parameter;

  constructor(readonly numHeads: number, readonly headDim: number, options: PSCOptions = {}) {
    super();
    checkSize('PSC', 'numHeads', numHeads);
    checkSize('PSC', 'headDim', headDim);
    const o = checkOptions('PSC', options, ['generator', 'dtype']);
    const dtype = o.dtype === undefined ? 'float32' : expectOneOf('PSC', 'dtype', o.dtype, ['float32', 'float64']);
    const g = o.generator ?? new Generator(0);
    const n = numHeads * headDim * headDim;
    const shape = [numHeads, headDim, headDim];
    this.up = new Parameter(dtype === 'float64' ? new Float64Array(n) : new Float32Array(n), shape);
    const bound = 1 / headDim;
    const d = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = -bound + 2 * bound * g.random();
    this.down = new Parameter(d, shape);
  }

  /** c(x) = 1 + ½·tanh(SiLU(x U) D) for x [..., H, T, h] (per-head matmuls broadcast over the leading axes). */
  coefficient(x: Tensor): Tensor {
    this.check(x);
    return pscCoefficient(x, this.up, this.down);
  }

  /** x ⊙ c(x): x [..., H, T, h] (e.g. [B, H, T, h]) → same shape; differentiable in x, U and D. */
  calibrate(x: Tensor): Tensor {
    this.check(x);
    return pscCalibrate(x, this.up, this.down);
  }

  private check(x: Tensor): void {
    if (!(x instanceof Tensor)) throw new DTypeError('PSC', `x must be a Tensor [..., ${this.numHeads}, T, ${this.headDim}], got ${describeValue(x)}`, 'x');
    if (x.ndim < 3 || x.shape[x.ndim - 3] !== this.numHeads || x.shape[x.ndim - 1] !== this.headDim) {
      throw new ShapeError('PSC', `x=${fmtShape(x.shape)} must be [..., ${this.numHeads}, T, ${this.headDim}] (heads on axis −3, head dim last)`, 'x');
    }
    if (x.dtype !== this.up.dtype) {
      throw new DTypeError('PSC', `x is ${x.dtype} but the PSC weights are ${this.up.dtype} — x=${fmtShape(x.shape)} (build with { dtype } or call .to(dtype))`, 'x');
    }
  }
}

/** c(x) = 1 + ½·tanh(SiLU(x U) D) (PSC `Phase.forward`): x [..., H, T, h], U and D [H, h, h] (or [h, h], shared). */
export function pscCoefficient(x: Tensor, up: Tensor, down: Tensor): Tensor {
  return add(1, mul(0.5, tanh(matmul(silu(matmul(x, up)), down))));
}

/** x' = x ⊙ (1 + ½·tanh(SiLU(x U) D)) (PSC `Phase.forward`), through differentiable ops. */
export function pscCalibrate(x: Tensor, up: Tensor, down: Tensor): Tensor {
  return mul(x, pscCoefficient(x, up, down));
}

export interface PSCRoPEOptions extends PSCOptions {
  numHeads: number;
  /** Key/value heads (grouped-query attention); default numHeads. */
  numKVHeads?: number;
  headDim: number;
}

/**
 * PSC composed with a rotating encoding: q' = PSC_q(q), k' = PSC_k(k), then the base method rotates them
 * (lora_llama.py `apply_rotary_pos_emb`: `q_phase(q)`, `k_phase(k)` before the cos/sin product). The base is any
 * PositionalEncoding — RoPE with default, PI, NTK, YaRN or LongRoPE frequencies, p-RoPE, … — and its logitScale
 * is passed on. The gate depends only on each token's own vector, so a base with RoPE's relative property keeps it.
 * With U = 0 (the init) the result is the base method's, bit for bit.
 */
export class PSCRoPE extends PositionalEncoding {
  readonly name: string;
  /** The reference has one q/k gate pair per attention layer. */
  override readonly scope = 'layer';
  /** Query gate, numHeads heads. */
  readonly qPhase: PSC;
  /** Key gate, numKVHeads heads. */
  readonly kPhase: PSC;

  constructor(readonly base: PositionalEncoding, options: PSCRoPEOptions) {
    super();
    const op = 'PSCRoPE';
    if (!(base instanceof PositionalEncoding)) throw new DTypeError(op, `base must be a PositionalEncoding, got ${describeValue(base)}`, 'base');
    if (options === undefined) throw new DTypeError(op, 'options must be an options object with numHeads and headDim, got undefined', 'options');
    const o = checkOptions(op, options, ['generator', 'dtype', 'numHeads', 'numKVHeads', 'headDim']);
    const numHeads = checkSize(op, 'numHeads', o.numHeads);
    const numKVHeads = o.numKVHeads === undefined ? numHeads : checkSize(op, 'numKVHeads', o.numKVHeads);
    const headDim = checkSize(op, 'headDim', o.headDim);
    if (numHeads % numKVHeads !== 0) throw new ValueError(op, `numKVHeads=${numKVHeads} must divide numHeads=${numHeads}`, 'numKVHeads');
    const g = o.generator ?? new Generator(0);
    const dtype = o.dtype === undefined ? 'float32' : expectOneOf(op, 'dtype', o.dtype, ['float32', 'float64']);
    this.qPhase = new PSC(numHeads, headDim, { generator: g, dtype });
    this.kPhase = new PSC(numKVHeads, headDim, { generator: g, dtype });
    this.name = `psc-${base.name}`;
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    checkPositions('PSCRoPE', 'qPositions', qPositions);
    checkPositions('PSCRoPE', 'kPositions', kPositions);
    return this.base.encodeQK(this.qPhase.calibrate(q), this.kPhase.calibrate(k), qPositions, kPositions);
  }

  override inputEmbedding(positions: Positions, dim: number): Tensor | null {
    return this.base.inputEmbedding(positions, dim);
  }
}

/** `new PSCRoPE(base, options)`: add PSC gates in front of a rotating encoding. */
export function withPSC(base: PositionalEncoding, options: PSCRoPEOptions): PSCRoPE {
  return new PSCRoPE(base, options);
}
