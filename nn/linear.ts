import { Generator, ShapeError, fmtShape, matmul, type DType, type Tensor } from '../core/index.js';
import { uniformParameter } from './init.js';
import { Module, type Parameter } from '../core/index.js';

export interface LinearOptions {
  bias?: boolean;
  generator?: Generator;
  dtype?: DType;
}

/** y = x Wᵀ + b. weight: [out, in] (PyTorch's layout, so checkpoints interoperate); x: [..., in] → [..., out]. */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    const g = options.generator ?? new Generator(0);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniformParameter([outFeatures, inFeatures], bound, g, options.dtype);
    this.bias = options.bias === false ? null : uniformParameter([outFeatures], bound, g, options.dtype);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new ShapeError('Linear', `x=${fmtShape(x.shape)} must end in inFeatures=${this.inFeatures}`, 'x');
    }
    const y = matmul(x, this.weight, { transposeB: true });
    return this.bias === null ? y : y.add(this.bias);
  }
}
