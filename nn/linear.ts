import {
  Generator, Module, expectNumber, expectOptions, matmul, defaultGenerator, expectSize, optionalDType,
  optionalGenerator, type DType, type Parameter, type Tensor,
} from '../core/index.js';
import { expectFeatures, expectWeight, optionalBoolean } from './checks.js';
import { constantParameter, normalParameter, uniformParameter } from './init.js';

/** Options of `Linear`: `bias`, `generator`, `dtype`, `std`. */
export interface LinearOptions {
  bias?: boolean;
  generator?: Generator;
  dtype?: DType;
  /**
   * Draw the weight from N(0, std²), biases 0 (GPT-2's init; an untied output head uses std 0.02), instead of
   * PyTorch's default U(±1/√inFeatures) for both.
   */
  std?: number;
}

/** y = x Wᵀ + b. weight: [out, in] (PyTorch's layout, so checkpoints interoperate); x: [..., in] → [..., out]. */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  /**
   * Set by the block that adds this projection's output to the residual stream (attention's output projection,
   * the feed-forward's last one): `gpt2Init` draws such weights with the depth-scaled std. forward ignores it.
   */
  residualProjection = false;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    const op = 'Linear';
    expectSize(op, 'inFeatures', inFeatures);
    expectSize(op, 'outFeatures', outFeatures);
    expectWeight(op, 'weight', outFeatures, inFeatures);
    const o = expectOptions(op, 'options', options, ['bias', 'generator', 'dtype', 'std']);
    const bias = optionalBoolean(op, 'bias', o.bias);
    const g = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
    const dtype = optionalDType(op, 'dtype', o.dtype);
    if (o.std !== undefined) {
      const std = expectNumber(op, 'std', o.std, { min: 0 });
      this.weight = normalParameter([outFeatures, inFeatures], { std, generator: g, dtype });
      this.bias = bias === false ? null : constantParameter([outFeatures], 0, dtype);
      return;
    }
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniformParameter([outFeatures, inFeatures], { bound, generator: g, dtype });
    this.bias = bias === false ? null : uniformParameter([outFeatures], { bound, generator: g, dtype });
  }

  forward(x: Tensor): Tensor {
    expectFeatures('Linear.forward', 'x', x, this.inFeatures, this.weight.dtype);
    const y = matmul(x, this.weight, { transposeB: true });
    return this.bias === null ? y : y.add(this.bias);
  }
}
