/**
 * Naive references and arbitraries for the elementwise tests: n-way broadcasting by multi-index, vector–Jacobian
 * products by explicit accumulation, and the normal CDF by Simpson's rule (independent of core/kernels/special.ts).
 */
import fc from 'fast-check';
import type { DType } from '../../core/index.js';
import { Tensor } from '../../core/index.js';
import { broadcastRead, ravel, sizeOfShape, unravel } from './oracle.js';

/** An operand of a naive computation: flat row-major values and their shape. */
export interface Operand {
  data: ArrayLike<number>;
  shape: readonly number[];
}

/** NumPy broadcast of any number of shapes (a size 0 against 1 gives 0), or null if they do not broadcast. */
export function broadcastShapeN(...shapes: (readonly number[])[]): number[] | null {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let size = 1;
    for (const s of shapes) {
      const d = s[s.length - n + i] ?? 1;
      if (d === 1) continue;
      if (size !== 1 && d !== size) return null;
      size = d;
    }
    out.push(size);
  }
  return out;
}

/** out[idx] = f(x₀[idx], x₁[idx], …) with every operand read through broadcasting, one multi-index at a time. */
export function naiveMap(f: (...xs: number[]) => number, ...operands: Operand[]): { data: number[]; shape: number[] } {
  const shape = broadcastShapeN(...operands.map((o) => o.shape));
  if (shape === null) throw new Error('naiveMap: operands do not broadcast');
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const idx = unravel(i, shape);
    data.push(f(...operands.map((o) => broadcastRead(o.data, o.shape, idx))));
  }
  return { data, shape };
}

/**
 * Vector–Jacobian product of an elementwise map: grad_k[j] = Σ over output positions idx that read element j of
 * operand k of g[idx]·∂f/∂x_k. `partials` returns [∂f/∂x₀, ∂f/∂x₁, …] at one point. Also returns, per element,
 * Σ|terms| (the scale that rounding errors of a float32 computation are proportional to).
 */
export function naiveVjp(
  partials: (...xs: number[]) => number[],
  g: ArrayLike<number>,
  ...operands: Operand[]
): { grads: number[][]; scales: number[][] } {
  const shape = broadcastShapeN(...operands.map((o) => o.shape));
  if (shape === null) throw new Error('naiveVjp: operands do not broadcast');
  const grads = operands.map((o) => new Array<number>(o.data.length).fill(0));
  const scales = operands.map((o) => new Array<number>(o.data.length).fill(0));
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const idx = unravel(i, shape);
    const ps = partials(...operands.map((o) => broadcastRead(o.data, o.shape, idx)));
    operands.forEach((o, k) => {
      const off = idx.length - o.shape.length;
      const j = ravel(
        o.shape.map((d, q) => (d === 1 ? 0 : idx[q + off]!)),
        o.shape,
      );
      const term = g[i]! * ps[k]!;
      grads[k]![j]! += term;
      scales[k]![j]! += Math.abs(term);
    });
  }
  return { grads, scales };
}

/** Φ(x) = ½ + ∫₀ˣ e^(−t²/2)/√(2π) dt by composite Simpson with `intervals` (even) panels. */
export function normalCdfSimpson(x: number, intervals = 400): number {
  if (x === 0) return 0.5;
  const h = x / intervals;
  const pdf = (t: number): number => Math.exp(-0.5 * t * t) / Math.sqrt(2 * Math.PI);
  let s = pdf(0) + pdf(x);
  for (let i = 1; i < intervals; i++) s += (i % 2 === 1 ? 4 : 2) * pdf(i * h);
  return 0.5 + (s * h) / 3;
}

/** Three shapes that broadcast together: each is a suffix of one full shape with some sizes replaced by 1. */
export function broadcastTripleArb(maxRank = 4, maxDim = 3): fc.Arbitrary<[number[], number[], number[]]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { maxLength: maxRank }).chain((full) => {
    const one = fc
      .tuple(fc.integer({ min: 0, max: full.length }), fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }))
      .map(([drop, ones]) => full.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
    return fc.tuple(one, one, one);
  });
}

/** `count` doubles in [min, max] (no NaN). */
export function doublesArb(count: number, min: number, max: number): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), { minLength: count, maxLength: count });
}

/** `count` doubles k + s·m with m in [gap, bound]: at least `gap` away from the kink k (for relu, abs, …). */
export function awayFromArb(count: number, k: number, gap: number, bound: number): fc.Arbitrary<number[]> {
  const one = fc.tuple(fc.double({ min: gap, max: bound, noNaN: true }), fc.boolean()).map(([m, s]) => k + (s ? m : -m));
  return fc.array(one, { minLength: count, maxLength: count });
}

/** Values on the grid (n + offset)/8: two grids with different offsets never tie (gap ≥ |Δoffset|/8). */
export function gridArb(count: number, offset: number, bound = 3): fc.Arbitrary<number[]> {
  const one = fc.integer({ min: -8 * bound, max: 8 * bound }).map((n) => (n + offset) / 8);
  return fc.array(one, { minLength: count, maxLength: count });
}

export const dtypeArb: fc.Arbitrary<DType> = fc.constantFrom<DType>('float32', 'float64');

/** A tensor holding `values` (rounded to float32 if dtype says so). */
export function makeTensor(shape: readonly number[], values: readonly number[], dtype: DType = 'float64', requiresGrad = false): Tensor {
  const data = dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
  return new Tensor(data, shape, requiresGrad);
}

export function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
