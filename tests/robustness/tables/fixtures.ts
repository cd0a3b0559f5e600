/** Small valid inputs for the robustness tables: deterministic, finite, fresh on every call. */
import { Tensor } from '../../../core/index.js';

/** A float32 tensor of `shape` with finite values in (−1, 1). */
export function t(...shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + 0.7)), shape);
}

/** A float64 tensor of `shape` with finite values in (−1, 1), optionally requiring grad. */
export function t64(shape: number[], requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float64Array.from({ length: n }, (_, i) => Math.cos(0.9 * i + 0.2)), shape, requiresGrad);
}

/** A float32 tensor holding exactly `values` with `shape` (positions, ids, targets as numbers). */
export function vals(values: number[], shape: number[] = [values.length]): Tensor {
  return new Tensor(Float32Array.from(values), shape);
}

/** Integer values (indices, token ids, targets) stored as a float32 tensor, as ropelab stores them. */
export function ints(values: number[], shape: number[] = [values.length]): Tensor {
  return vals(values, shape);
}

/** Positions 0..n−1 as a float32 tensor. */
export function pos(n: number): Tensor {
  return vals(Array.from({ length: n }, (_, i) => i));
}

/** A symmetric positive matrix [n, n]. */
export function sym(n: number): Tensor {
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) d[i * n + j] = i === j ? 2 + i : 1 / (1 + i + j);
  return new Tensor(d, [n, n]);
}
