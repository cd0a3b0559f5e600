import {
  DTypeError, Generator, IndexError, Tensor, describeValue, expectNumber, expectOptions, indexSelect, reshape,
  defaultGenerator, expectSize, optionalDType, optionalGenerator, type DType, type IndexLike,
} from '../core/index.js';
import { expectWeight } from './checks.js';
import { normalParameter } from './init.js';
import { Module, type Parameter } from '../core/index.js';

/** Options of `Embedding`: `generator`, `dtype`, `std`. */
export interface EmbeddingOptions {
  generator?: Generator;
  dtype?: DType;
  /** Standard deviation of the N(0, std²) init (PyTorch uses 1; GPT-2 uses 0.02). */
  std?: number;
}

/** A lookup table: ids [...] → vectors [..., dim]. weight: [numEmbeddings, dim]. */
export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(readonly numEmbeddings: number, readonly dim: number, options: EmbeddingOptions = {}) {
    super();
    const op = 'Embedding';
    expectSize(op, 'numEmbeddings', numEmbeddings);
    expectSize(op, 'dim', dim);
    expectWeight(op, 'weight', numEmbeddings, dim);
    const o = expectOptions(op, 'options', options, ['generator', 'dtype', 'std']);
    const std = o.std === undefined ? 1 : expectNumber(op, 'std', o.std, { min: 0 });
    this.weight = normalParameter([numEmbeddings, dim], { std, generator: optionalGenerator(op, 'generator', o.generator, defaultGenerator), dtype: optionalDType(op, 'dtype', o.dtype) });
  }

  /** ids: a tensor of integer values (any shape) or a flat list, each in [0, numEmbeddings). */
  forward(ids: IndexLike): Tensor {
    const op = 'Embedding.forward';
    const isTensor = ids instanceof Tensor;
    if (!isTensor && !Array.isArray(ids) && !(ids instanceof Int32Array)) {
      throw new DTypeError(op, `ids must be a Tensor or an array of integer ids, got ${describeValue(ids)}`, 'ids');
    }
    const flat: ArrayLike<unknown> = isTensor ? ids.data : ids;
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= this.numEmbeddings) {
        throw new IndexError(op, `ids must be integers in [0, ${this.numEmbeddings}), got ${describeValue(v)} at flat index ${i}`, 'ids');
      }
    }
    const shape = isTensor ? ids.shape : [ids.length];
    const data = isTensor ? ids.data : ids;
    return reshape(indexSelect(this.weight, 0, data instanceof Int32Array ? data : Array.from(data)), [...shape, this.dim]);
  }
}
