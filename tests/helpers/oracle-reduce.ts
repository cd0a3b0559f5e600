/**
 * Naive references for reductions, softmax and losses, written with multi-index loops (oracle.ts) rather than the
 * [outer, n, inner] views of core/kernels, plus the arbitraries that generate axes for them.
 */
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import type { Axes, DType } from '../../core/index.js';
import { ravel, sizeOfShape, unravel } from './oracle.js';

export const dtypeArb: fc.Arbitrary<DType> = fc.constantFrom<DType>('float32', 'float64');

/** Valid axes (assumed in range, no repeats) as sorted non-negative dims; undefined means every dim. */
export function naiveAxes(axis: Axes, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : [...axis];
  return list.map((a) => (a < 0 ? a + rank : a)).sort((p, q) => p - q);
}

/** The output shape of a reduction over `axes` (sorted, non-negative). */
export function reducedShape(shape: readonly number[], axes: readonly number[], keepDim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDim) out.push(1);
  });
  return out;
}

/**
 * The values that land on each output element of a reduction over `axes`: groups[o] lists them in input order,
 * with o the row-major position in the kept shape (the same order with or without keepDim).
 */
export function naiveGroups(data: ArrayLike<number>, shape: readonly number[], axes: readonly number[]): number[][] {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: sizeOfShape(kept) }, () => []);
  groupIndex(shape, axes).forEach((o, i) => groups[o]!.push(data[i]!));
  return groups;
}

/** For each flat input position, the output element (row-major in the kept shape) it reduces into. */
export function groupIndex(shape: readonly number[], axes: readonly number[]): number[] {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) out.push(ravel(unravel(i, shape).map((v, d) => (axes.includes(d) ? 0 : v)), kept));
  return out;
}

/** Flat positions of every line along `axis` (non-negative): lines[l][k] is the k-th element of line l. */
export function naiveLines(shape: readonly number[], axis: number): number[][] {
  const lines: number[][] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const idx = unravel(i, shape);
    if (idx[axis] !== 0) continue;
    const line: number[] = [];
    for (let k = 0; k < shape[axis]!; k++) line.push(ravel(idx.map((v, d) => (d === axis ? k : v)), shape));
    lines.push(line);
  }
  return lines;
}

/** Σ of a list, left to right. */
export function naiveSum(v: readonly number[]): number {
  let s = 0;
  for (const x of v) s += x;
  return s;
}

/** log Σ exp, shifted by the finite maximum; −∞ for an empty or all −∞ list, +∞ if any entry is +∞. */
export function naiveLogSumExp(v: readonly number[]): number {
  if (v.some((x) => x === Infinity)) return Infinity;
  const finite = v.filter((x) => x !== -Infinity);
  if (finite.length === 0) return -Infinity;
  let m = finite[0]!;
  for (const x of finite) if (x > m) m = x;
  let z = 0;
  for (const x of finite) z += Math.exp(x - m);
  return m + Math.log(z);
}

/**
 * Any valid axes argument for a tensor of `rank`: undefined, one axis (maybe negative), or a list of distinct
 * axes in any order, each maybe written negatively (the empty list included).
 */
export function axesArb(rank: number): fc.Arbitrary<Axes> {
  const dims = Array.from({ length: rank }, (_, i) => i);
  const list = fc
    .shuffledSubarray(dims)
    .chain((sub) => fc.array(fc.boolean(), { minLength: sub.length, maxLength: sub.length }).map((neg) => sub.map((a, i) => (neg[i] ? a - rank : a))));
  if (rank === 0) return fc.oneof(fc.constant(undefined), list);
  return fc.oneof(fc.constant(undefined), fc.integer({ min: -rank, max: rank - 1 }), list);
}

/** An integer axis outside −rank..rank−1. */
export function badAxisArb(rank: number): fc.Arbitrary<number> {
  return fc.oneof(fc.integer({ min: rank, max: rank + 6 }), fc.integer({ min: -rank - 6, max: -rank - 1 }));
}

/** Distinct values (spaced at least 0.01 apart) in [-bound, bound], so extrema never tie within finite differences. */
export function distinctValuesArb(size: number, bound = 3): fc.Arbitrary<number[]> {
  const n = Math.round(bound * 100);
  return fc.uniqueArray(fc.integer({ min: -n, max: n }), { minLength: size, maxLength: size }).map((v) => v.map((k) => k / 100));
}

/**
 * |actual − expected| ≤ rel·scale + abs elementwise (scale: the size of the terms that made each element, e.g. Σ|x|),
 * NaN matching NaN and infinities matching exactly. Names the first element at fault.
 */
export function assertCloseScaled(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  scale: ArrayLike<number>,
  rel: number,
  label: string,
  abs = 0,
): void {
  assert.is(actual.length, expected.length, `${label}: length ${actual.length} vs expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) ? Number.isNaN(a) : a === e) continue;
    const tol = rel * scale[i]! + abs;
    if (!(Math.abs(a - e) <= tol)) {
      assert.unreachable(`${label}: element ${i} is ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > ${tol} = ${rel} × scale ${scale[i]} + ${abs})`);
    }
  }
}

/** The error `fn` throws; fails the test if it returns normally. */
export function thrown(fn: () => unknown, label: string): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return assert.unreachable(`${label}: expected an error, but the call returned`);
}
