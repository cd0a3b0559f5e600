/** Learned absolute position embeddings (GPT-2): a trained vector per position, added to the token embeddings. */
import {
  Generator, ShapeError, Tensor, ValueError, expectNumber, expectTensor, expectOneOf, expectOptions, fmtShape,
  indexSelect, randn, Parameter, expectSize, optionalDType, optionalGenerator, type DType,
} from '../core/index.js';
import { checkIntegers, checkTableSize } from './checks.js';
import { PositionalEncoding, type Positions } from './encoding.js';

/** Options of `LearnedAbsolute`: `generator`, `dtype`, `std`, `beyond`. */
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

/**
 * Learned absolute position embeddings (GPT-2): a trained [maxPositions, dim] table whose row for each position is
 * added to the input x [B, T, dim]; q and k pass through unchanged.
 */
export class LearnedAbsolute extends PositionalEncoding {
  readonly name = 'learned';
  /** [maxPositions, dim] */
  readonly weight: Parameter;
  readonly beyond: 'error' | 'clamp';

  constructor(readonly maxPositions: number, readonly dim: number, options: LearnedAbsoluteOptions = {}) {
    super();
    const op = 'LearnedAbsolute';
    expectSize(op, 'maxPositions', maxPositions);
    expectSize(op, 'dim', dim);
    checkTableSize(op, 'maxPositions × dim', maxPositions, dim);
    const o = expectOptions(op, 'options', options, ['generator', 'dtype', 'std', 'beyond']);
    const std = o.std === undefined ? 0.02 : expectNumber(op, 'std', o.std, { min: 0 });
    const dtype = optionalDType(op, 'dtype', o.dtype, 'float32');
    this.beyond = o.beyond === undefined ? 'error' : expectOneOf(op, 'beyond', o.beyond, ['error', 'clamp']);
    const g = optionalGenerator(op, 'generator', o.generator, () => new Generator(0));
    this.weight = new Parameter(randn([maxPositions, dim], { std, generator: g, dtype }).data, [maxPositions, dim]);
  }

  /** positions [T] or [B, T] → [T, dim] or [B, T, dim]. */
  override inputEmbedding(positions: Positions, dim: number): Tensor {
    expectTensor('LearnedAbsolute', 'positions', positions); // ids: checkIntegers below refuses NaN and ±∞ by index
    if (dim !== this.dim) throw new ShapeError('LearnedAbsolute', `model dim ${dim} differs from the table's ${this.dim}`, 'dim');
    const ids = checkIntegers('LearnedAbsolute', 'positions', positions.data, 0).map((p) => {
      if (p >= this.maxPositions) {
        if (this.beyond === 'clamp') return this.maxPositions - 1;
        throw new ValueError('LearnedAbsolute', `position ${p} ≥ maxPositions=${this.maxPositions} — positions=${fmtShape(positions.shape)} (a learned table has no vector there; use beyond: 'clamp' to reuse the last)`, 'positions');
      }
      return p;
    });
    return indexSelect(this.weight, 0, ids).reshape([...positions.shape, dim]);
  }
}
