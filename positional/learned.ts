/** Learned absolute position embeddings (GPT-2): a trained vector per position, added to the token embeddings. */
import { Generator, ShapeError, Tensor, ValueError, fmtShape, indexSelect, randn, Parameter, type DType } from '../core/index.js';
import { PositionalEncoding, type Positions } from './encoding.js';

export interface LearnedAbsoluteOptions {
  generator?: Generator;
  dtype?: DType;
  /** Init std (GPT-2 uses 0.02). */
  std?: number;
  /**
   * Positions ≥ maxPositions have no trained vector: 'error' (default) refuses them, 'clamp' reuses the last row
   * (lets extrapolation experiments run and shows why learned tables do not extrapolate).
   */
  beyond?: 'error' | 'clamp';
}

export class LearnedAbsolute extends PositionalEncoding {
  readonly name = 'learned';
  /** [maxPositions, dim] */
  readonly weight: Parameter;
  readonly beyond: 'error' | 'clamp';

  constructor(readonly maxPositions: number, readonly dim: number, options: LearnedAbsoluteOptions = {}) {
    super();
    const g = options.generator ?? new Generator(0);
    this.weight = new Parameter(randn([maxPositions, dim], { std: options.std ?? 0.02, generator: g, dtype: options.dtype ?? 'float32' }).data, [maxPositions, dim]);
    this.beyond = options.beyond ?? 'error';
  }

  /** positions [T] or [B, T] → [T, dim] or [B, T, dim]. */
  override inputEmbedding(positions: Positions, dim: number): Tensor {
    if (dim !== this.dim) throw new ShapeError('LearnedAbsolute', `model dim ${dim} differs from the table's ${this.dim}`, 'dim');
    const ids = Array.from(positions.data, (p, i) => {
      if (!Number.isInteger(p) || p < 0) throw new ValueError('LearnedAbsolute', `positions[${i}] = ${p} is not a non-negative integer`, 'positions');
      if (p >= this.maxPositions) {
        if (this.beyond === 'clamp') return this.maxPositions - 1;
        throw new ValueError('LearnedAbsolute', `position ${p} ≥ maxPositions=${this.maxPositions} — positions=${fmtShape(positions.shape)} (a learned table has no vector there; use beyond: 'clamp' to reuse the last)`, 'positions');
      }
      return p;
    });
    return indexSelect(this.weight, 0, ids).reshape([...positions.shape, dim]);
  }
}
