/** Parameter initialisers, each drawing from an explicit Generator. */
import { Parameter, full, rand, randn, type DType, type Generator, type Module, type Shape } from '../core/index.js';

/** U(−bound, bound): PyTorch's Linear init uses bound = 1/√fanIn (kaiming_uniform with a = √5). */
export function uniformParameter(shape: Shape, bound: number, generator: Generator, dtype: DType = 'float32'): Parameter {
  return new Parameter(rand(shape, { low: -bound, high: bound, generator, dtype }).data, shape);
}

/** N(0, std²). */
export function normalParameter(shape: Shape, std: number, generator: Generator, dtype: DType = 'float32'): Parameter {
  return new Parameter(randn(shape, { std, generator, dtype }).data, shape);
}

export function constantParameter(shape: Shape, value: number, dtype: DType = 'float32'): Parameter {
  return new Parameter(full(shape, value, { dtype }).data, shape);
}

/**
 * GPT-2 init (Radford et al. 2019, §2.3) in place: every weight matrix whose dotted name matches `select` is drawn
 * from N(0, 0.02²), and those matching `residual` (projections writing into the residual stream) from
 * N(0, (0.02/√(2L))²), so the residual stream's variance does not grow with depth.
 */
export function gpt2Init(model: Module, numLayers: number, generator: Generator, select: RegExp, residual: RegExp): void {
  const residualStd = 0.02 / Math.sqrt(2 * numLayers);
  for (const [name, p] of model.namedParameters()) {
    if (p.ndim !== 2 || !select.test(name)) continue;
    const std = residual.test(name) ? residualStd : 0.02;
    for (let i = 0; i < p.size; i++) p.data[i] = std * generator.normal();
  }
}
