import { Generator, expectOptions, matmul, type DType, type Tensor } from '../core/index.js';
import { expectFeatures, expectSize, expectWeight, optionalBoolean, optionalDType, generatorOrDefault } from './checks.js';
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
    const op = 'Linear';
    expectSize(op, 'inFeatures', inFeatures);
    expectSize(op, 'outFeatures', outFeatures);
    expectWeight(op, 'weight', outFeatures, inFeatures);
    const o = expectOptions(op, 'options', options, ['bias', 'generator', 'dtype']);
    const bias = optionalBoolean(op, 'bias', o.bias);
    const g = generatorOrDefault(op, 'generator', o.generator);
    const dtype = optionalDType(op, 'dtype', o.dtype);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniformParameter([outFeatures, inFeatures], bound, g, dtype);
    this.bias = bias === false ? null : uniformParameter([outFeatures], bound, g, dtype);
  }

  forward(x: Tensor): Tensor {
    expectFeatures('Linear.forward', 'x', x, this.inFeatures, this.weight.dtype);
    const y = matmul(x, this.weight, { transposeB: true });
    return this.bias === null ? y : y.add(this.bias);
  }
}
