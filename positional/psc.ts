/**
 * PSC — Phase Shift Calibration (Zhu, Xu, Wang, Wu, EMNLP 2024; code: WNQzhu/PSC, PSC_code/lora_llama.py class
 * `Phase`). A small learned gate rescales each pre-rotation head vector channel by channel, so that a predefined
 * frequency rule (PI, NTK, YaRN, LongRoPE, …) can be calibrated during long-context fine-tuning. It never touches
 * the frequencies: `PSCRoPE` calibrates q and k and then hands them to any base encoding, which rotates them.
 */
import {
  DTypeError, Generator, Module, asPartOf, Parameter, ShapeError, Tensor, ValueError, add, describeValue,
  expectOptions, expectTensor, fmtShape, matmul, mul, silu, tanh, expectPositions, expectRequiredOptions, expectSize,
  optionalDType, optionalGenerator, type DType,
} from '../core/index.js';
import { checkTableSize } from './checks.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';

/** Options of `PSC`, the phase-shift calibration module: `generator`, `dtype`. */
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
    const op = 'PSC';
    expectSize(op, 'numHeads', numHeads);
    expectSize(op, 'headDim', headDim);
    checkTableSize(op, 'numHeads × headDim × headDim', numHeads, headDim, headDim);
    const o = expectOptions(op, 'options', options, ['generator', 'dtype']);
    const dtype = optionalDType(op, 'dtype', o.dtype, 'float32');
    const g = optionalGenerator(op, 'generator', o.generator, () => new Generator(0));
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
    checkGateInput('PSC', 'x', x, this.up);
    return coefficientOf(x, this.up, this.down);
  }

  /** x ⊙ c(x): x [..., H, T, h] (e.g. [B, H, T, h]) → same shape; differentiable in x, U and D. */
  calibrate(x: Tensor): Tensor {
    return calibrateAs('PSC', 'x', this, x);
  }
}

/** gate.calibrate(x) with `op` and `arg` naming the public call (PSCRoPE.encodeQK's q and k) in errors. */
function calibrateAs(op: string, arg: string, gate: PSC, x: Tensor): Tensor {
  checkGateInput(op, arg, x, gate.up);
  return mul(x, coefficientOf(x, gate.up, gate.down));
}

/**
 * The head vectors a gate calibrates: x [..., H, T, h] of the gate's dtype, with U (and D) [H, h, h] or [h, h]
 * (one gate shared by every head).
 */
function checkGateInput(op: string, arg: string, x: unknown, up: Tensor): asserts x is Tensor {
  const h = up.shape[up.ndim - 1]!;
  const heads = up.ndim === 3 ? `${up.shape[0]}` : 'H';
  if (!(x instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor [..., ${heads}, T, ${h}], got ${describeValue(x)}`, arg);
  if (x.ndim < 3 || x.shape[x.ndim - 1] !== h || (up.ndim === 3 && x.shape[x.ndim - 3] !== up.shape[0])) {
    throw new ShapeError(op, `${arg}=${fmtShape(x.shape)} must be [..., ${heads}, T, ${h}] (heads on axis −3, head dim last)`, arg);
  }
  if (x.dtype !== up.dtype) {
    throw new DTypeError(op, `${arg} is ${x.dtype} but the PSC weights are ${up.dtype} — ${arg}=${fmtShape(x.shape)} (build with { dtype } or call .to(dtype))`, arg);
  }
}

/** U and D of a gate passed by hand: Tensors [H, h, h] (or [h, h]) of one shape and dtype. */
function checkGateWeights(op: string, up: unknown, down: unknown): asserts up is Tensor {
  expectTensor(op, 'up', up);
  expectTensor(op, 'down', down);
  const h = up.shape[up.ndim - 1];
  if ((up.ndim !== 2 && up.ndim !== 3) || up.shape[up.ndim - 2] !== h) {
    throw new ShapeError(op, `up=${fmtShape(up.shape)} must be [H, h, h] or [h, h]`, 'up');
  }
  if (down.ndim !== up.ndim || down.shape.some((d, i) => d !== up.shape[i])) {
    throw new ShapeError(op, `down=${fmtShape(down.shape)} must have up's shape ${fmtShape(up.shape)}`, 'down');
  }
  if (down.dtype !== up.dtype) throw new DTypeError(op, `down is ${down.dtype} but up is ${up.dtype}`, 'down');
}

/** c(x) = 1 + ½·tanh(SiLU(x U) D) (PSC `Phase.forward`): x [..., H, T, h], U and D [H, h, h] (or [h, h], shared). */
export function pscCoefficient(x: Tensor, up: Tensor, down: Tensor): Tensor {
  checkGateWeights('pscCoefficient', up, down);
  checkGateInput('pscCoefficient', 'x', x, up);
  return coefficientOf(x, up, down);
}

/** x' = x ⊙ (1 + ½·tanh(SiLU(x U) D)) (PSC `Phase.forward`), through differentiable ops. */
export function pscCalibrate(x: Tensor, up: Tensor, down: Tensor): Tensor {
  checkGateWeights('pscCalibrate', up, down);
  checkGateInput('pscCalibrate', 'x', x, up);
  return mul(x, coefficientOf(x, up, down));
}

/** pscCoefficient for checked arguments. */
function coefficientOf(x: Tensor, up: Tensor, down: Tensor): Tensor {
  return add(1, mul(0.5, tanh(matmul(silu(matmul(x, up)), down))));
}

/** Options of `PSCRoPE`: `numHeads`, `numKVHeads`, `headDim`. */
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
    const o = expectRequiredOptions(op, options, ['generator', 'dtype', 'numHeads', 'numKVHeads', 'headDim'], 'with numHeads and headDim');
    const numHeads = expectSize(op, 'numHeads', o.numHeads);
    const numKVHeads = o.numKVHeads === undefined ? numHeads : expectSize(op, 'numKVHeads', o.numKVHeads);
    const headDim = expectSize(op, 'headDim', o.headDim);
    checkTableSize(op, 'numHeads × headDim × headDim', numHeads, headDim, headDim);
    if (numHeads % numKVHeads !== 0) throw new ValueError(op, `numKVHeads=${numKVHeads} must divide numHeads=${numHeads}`, 'numKVHeads');
    const g = optionalGenerator(op, 'generator', o.generator, () => new Generator(0));
    const dtype = optionalDType(op, 'dtype', o.dtype, 'float32');
    this.qPhase = new PSC(numHeads, headDim, { generator: g, dtype });
    this.kPhase = new PSC(numKVHeads, headDim, { generator: g, dtype });
    this.name = `psc-${base.name}`;
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    const op = 'PSCRoPE';
    expectPositions(op, 'qPositions', qPositions);
    expectPositions(op, 'kPositions', kPositions);
    const qc = calibrateAs(op, 'q', this.qPhase, q);
    const kc = calibrateAs(op, 'k', this.kPhase, k);
    return asPartOf(op, () => this.base.encodeQK(qc, kc, qPositions, kPositions));
  }

  override inputEmbedding(positions: Positions, dim: number): Tensor | null {
    return this.base.inputEmbedding(positions, dim);
  }
}
