import { describeValue, expectShape } from './args.js';
import { AxisError, DTypeError, ShapeError } from './errors.js';

/** A tensor shape: sizes of each dimension, outermost first (row-major). */
export type Shape = readonly number[];

/** `[2,3]` for a shape; anything else (in an error message about a bad argument) is described instead. */
export function fmtShape(shape: Shape): string {
  return Array.isArray(shape) ? `[${shape.join(',')}]` : describeValue(shape);
}

/** A shape argument of the public utility `op` must be an array (entries are checked by the caller). */
function checkShapeArray(op: string, shape: unknown, arg = 'shape'): asserts shape is Shape {
  if (!Array.isArray(shape)) throw new DTypeError(op, `${arg} must be an array of sizes, got ${describeValue(shape)}`, arg);
}

/** Number of elements of `shape` (the product of its sizes; 1 for a scalar []). Unchecked: for shapes already valid. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** Row-major (C-order) strides of a contiguous tensor. Unchecked: for shapes already valid. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// The package's `fmtShape`, `sizeOf` and `stridesOf` (core/index.ts): the same, with the argument checked.

/**
 * `fmtShape` as exported: `[2,3]` for any array of numbers — an invalid shape too, since showing one in a message is
 * what it is for; not an array, or a non-number entry → DTypeError.
 */
export function checkedFmtShape(shape: Shape): string {
  checkShapeArray('fmtShape', shape);
  const bad = shape.findIndex((d) => typeof d !== 'number');
  if (bad >= 0) throw new DTypeError('fmtShape', `shape[${bad}] must be a number, got ${describeValue(shape[bad])}`, 'shape');
  return fmtShape(shape);
}

/** `sizeOf` as exported: the element count of a valid shape (non-negative integers, at most 2³¹ − 1 elements). */
export function checkedSizeOf(shape: Shape): number {
  return expectShape('sizeOf', 'shape', shape);
}

/** `stridesOf` as exported: row-major strides of a valid shape. */
export function checkedStridesOf(shape: Shape): number[] {
  expectShape('stridesOf', 'shape', shape);
  return stridesOf(shape);
}

/**
 * NumPy broadcasting of two shapes: align from the right; sizes must match or be 1.
 * Throws `op: cannot broadcast a=[2,3] with b=[4,3] — dim -2 is 2 vs 4 (sizes must match or be 1)`.
 */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcastShapes', names: [string, string] = ['a', 'b']): number[] {
  checkShapeArray(op, a, names[0]);
  checkShapeArray(op, b, names[1]);
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 1; i <= n; i++) {
    const da = i <= a.length ? a[a.length - i]! : 1;
    const db = i <= b.length ? b[b.length - i]! : 1;
    if (!(da >= 0 && db >= 0 && Number.isInteger(da) && Number.isInteger(db))) {
      throw new ShapeError(op, `invalid shape ${names[0]}=${fmtShape(a)} or ${names[1]}=${fmtShape(b)} (sizes must be non-negative integers)`, da >= 0 && Number.isInteger(da) ? names[1] : names[0]);
    }
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        op,
        `cannot broadcast ${names[0]}=${fmtShape(a)} with ${names[1]}=${fmtShape(b)} — dim -${i} is ${da} vs ${db} (sizes must match or be 1)`,
      );
    }
    out[n - i] = da === 1 ? db : da;
  }
  return out;
}

/** True if `from` broadcasts to exactly `to`. */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  const off = to.length - from.length;
  for (let i = 0; i < from.length; i++) {
    const d = from[i]!;
    if (d !== 1 && d !== to[i + off]) return false;
  }
  return true;
}

/** Strides of `shape` viewed as broadcast to `target` (0 along broadcast dims). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const strides = stridesOf(shape);
  const off = target.length - shape.length;
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) out[i + off] = shape[i] === 1 ? 0 : strides[i]!;
  return out;
}

/** Normalise a possibly negative axis; throws `AxisError` naming the valid range. */
export function normAxis(axis: number, ndim: number, op: string, arg = 'axis'): number {
  if (typeof axis !== 'number') throw new DTypeError(op, `${arg} must be an integer, got ${describeValue(axis)}`, arg);
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    const valid = ndim === 0 ? 'none: x is a scalar' : `valid: ${-ndim}..${ndim - 1}`;
    throw new AxisError(op, `${arg} ${axis} out of range for a tensor of rank ${ndim} (${valid})`, arg);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** Normalise a list of axes (undefined = all), sorted and without repeats. */
export function normAxes(axes: number | readonly number[] | undefined, ndim: number, op: string, arg = 'axis'): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  if (typeof axes !== 'number' && !Array.isArray(axes)) {
    throw new DTypeError(op, `${arg} must be an integer or an array of integers, got ${describeValue(axes)}`, arg);
  }
  const list: readonly number[] = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normAxis(a, ndim, op, arg));
  const sorted = [...out].sort((x, y) => x - y);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      throw new AxisError(op, `${arg} ${sorted[i]} repeated in [${list.join(',')}] (each axis at most once)`, arg);
    }
  }
  return sorted;
}
