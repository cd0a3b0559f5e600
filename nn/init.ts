/** Parameter initialisers, each drawing from an explicit Generator. */
import { full, rand, randn, type DType, type Generator, type Shape } from '../core/index.js';
import { Parameter } from '../core/index.js';

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
