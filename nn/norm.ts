import { layerNorm, rmsNorm, type DType, type Tensor } from '../core/index.js';
import { constantParameter } from './init.js';
import { Module, type Parameter } from '../core/index.js';

export interface NormOptions {
  eps?: number;
  /** Learn a per-feature scale (and, for LayerNorm, shift). Default true. */
  affine?: boolean;
  dtype?: DType;
}

/** LayerNorm over the last axis: x [..., dim]. */
export class LayerNorm extends Module {
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly eps: number;

  constructor(readonly dim: number, options: NormOptions & { bias?: boolean } = {}) {
    super();
    const affine = options.affine ?? true;
    this.eps = options.eps ?? 1e-5;
    this.weight = affine ? constantParameter([dim], 1, options.dtype) : null;
    this.bias = affine && options.bias !== false ? constantParameter([dim], 0, options.dtype) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** RMSNorm over the last axis: x [..., dim]. */
export class RMSNorm extends Module {
  readonly weight: Parameter | null;
  readonly eps: number;

  constructor(readonly dim: number, options: NormOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-6;
    this.weight = options.affine ?? true ? constantParameter([dim], 1, options.dtype) : null;
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
