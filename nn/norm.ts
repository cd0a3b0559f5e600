import { expectAllocatable, expectNumber, expectOptions, layerNorm, rmsNorm, expectSize, optionalDType, type DType, type Tensor } from '../core/index.js';
import { expectFeatures, optionalBoolean } from './checks.js';
import { constantParameter } from './init.js';
import { Module, type Parameter } from '../core/index.js';

/** Options of `LayerNorm`: `eps`, `affine`, `bias`, `dtype`. */
export interface LayerNormOptions {
  /** Added to the variance; default 1e-5 (LayerNorm), 1e-6 (RMSNorm). */
  eps?: number;
  /** Learn a per-feature scale (and, for LayerNorm, shift). Default true. */
  affine?: boolean;
  /** With affine: learn the shift too; default true. */
  bias?: boolean;
  dtype?: DType;
}

/** RMSNorm has no shift: LayerNorm's options less bias. */
export type RMSNormOptions = Omit<LayerNormOptions, 'bias'>;

/** Validated norm options: dim an integer ≥ 1, eps finite ≥ 0, affine/bias booleans, dtype a known name. */
function normOptions(op: string, dim: number, options: LayerNormOptions | undefined, known: readonly string[], eps: number) {
  expectAllocatable(op, 'dim', expectSize(op, 'dim', dim)); // the scale (and shift) [dim]
  const o = expectOptions(op, 'options', options, known);
  return {
    eps: o.eps === undefined ? eps : expectNumber(op, 'eps', o.eps, { min: 0 }),
    affine: optionalBoolean(op, 'affine', o.affine) ?? true,
    bias: optionalBoolean(op, 'bias', o.bias) ?? true,
    dtype: optionalDType(op, 'dtype', o.dtype),
  };
}

/** LayerNorm over the last axis: x [..., dim]. */
export class LayerNorm extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly eps: number;

  constructor(readonly dim: number, options: LayerNormOptions = {}) {
    super();
    const o = normOptions('LayerNorm', dim, options, ['eps', 'affine', 'dtype', 'bias'], 1e-5);
    this.eps = o.eps;
    this.weight = o.affine ? constantParameter([dim], 1, o.dtype) : null;
    this.bias = o.affine && o.bias ? constantParameter([dim], 0, o.dtype) : null;
  }

  forward(x: Tensor): Tensor {
    expectFeatures('LayerNorm.forward', 'x', x, this.dim, this.weight?.dtype);
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** RMSNorm over the last axis: x [..., dim]. */
export class RMSNorm extends Module {
  readonly weight: Parameter | null;
  readonly eps: number;

  constructor(readonly dim: number, options: RMSNormOptions = {}) {
    super();
    const o = normOptions('RMSNorm', dim, options, ['eps', 'affine', 'dtype'], 1e-6);
    this.eps = o.eps;
    this.weight = o.affine ? constantParameter([dim], 1, o.dtype) : null;
  }

  forward(x: Tensor): Tensor {
    expectFeatures('RMSNorm.forward', 'x', x, this.dim, this.weight?.dtype);
    return rmsNorm(x, this.weight, this.eps);
  }
}
