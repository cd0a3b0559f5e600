import { Generator, Tensor, indexSelect, reshape, type DType, type IndexLike } from '../core/index.js';
import { normalParameter } from './init.js';
import { Module, type Parameter } from '../core/index.js';

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
    this.weight = normalParameter([numEmbeddings, dim], options.std ?? 1, options.generator ?? new Generator(0), options.dtype);
  }

  /** ids: a tensor of integer values (any shape) or a flat list. */
  forward(ids: IndexLike): Tensor {
    const shape = ids instanceof Tensor ? ids.shape : [ids.length];
    const flat = ids instanceof Tensor ? ids.data : ids;
    return reshape(indexSelect(this.weight, 0, flat instanceof Int32Array ? flat : Array.from(flat)), [...shape, this.dim]);
  }
}
