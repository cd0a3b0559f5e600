/**
 * Reductions over one or several axes, with keepDim. Composite ones (mean, var, logsumexp) reuse sum and max.
 * And the prefix sum `cumsum`, a reduction that keeps every partial result.
 */
import { expectBoolean, expectNumber, expectOptions, expectTensor } from '../args.js';
import { recordOp } from '../autograd.js';
import { allocate } from '../dtype.js';
import { ValueError } from '../errors.js';
import { reduceAxis, scanAxis, splitAt, type ReduceKind } from '../kernels/reduce.js';
import { normAxes, normAxis } from '../shape.js';
import { Tensor } from '../tensor.js';
import { add, div, eq, exp, log, mul, square, sub } from './elementwise.js';
import { expand, reshape } from './movement.js';

/** One axis, several axes, or undefined for all of them. */
export type Axes = number | readonly number[] | undefined;

interface Reduced {
  out: Tensor;
  /** The output shape with reduced axes kept as size 1 (what backward broadcasts against). */
  keptShape: number[];
}

/** `emptyOk`: an empty axis reduces to the kind's identity (0 for sum, −∞ for max) instead of throwing. */
function reduceRaw(op: string, kind: ReduceKind, x: Tensor, axis: Axes, keepDim: boolean, emptyOk = kind === 'sum'): Reduced {
  checkReduction(op, x, keepDim);
  const axes = normAxes(axis, x.ndim, op);
  let data = axes.length === 0 ? x.data.slice() : x.data; // nothing to reduce: still a fresh buffer, never x's own
  const shape = [...x.shape];
  for (const ax of axes) {
    const [outer, n, inner] = splitAt(shape, ax);
    if (n === 0 && !emptyOk) {
      throw new ValueError(op, `cannot reduce an empty axis ${ax} of x=[${x.shape.join(',')}] (${kind} of nothing is undefined)`, 'x');
    }
    data = reduceAxis(kind, data, outer, n, inner, allocate(x.dtype, outer * inner));
    shape[ax] = 1;
  }
  const outShape = keepDim ? shape : shape.filter((_, d) => !axes.includes(d));
  return { out: new Tensor(data, outShape), keptShape: shape };
}

/** The entry check of every reduction: x a Tensor, keepDim a boolean (axes are checked by normAxes). */
function checkReduction(op: string, x: unknown, keepDim: unknown): asserts x is Tensor {
  expectTensor(op, 'x', x);
  expectBoolean(op, 'keepDim', keepDim);
}

/** Σ over axes. */
export function sum(x: Tensor, axis?: Axes, keepDim = false): Tensor {
  const { out, keptShape } = reduceRaw('sum', 'sum', x, axis, keepDim);
  return recordOp('sum', out, [x], (g) => [expand(reshape(g, keptShape), x.shape)], { differentiableBackward: true, saved: [] });
}

/** Arithmetic mean over axes. */
export function mean(x: Tensor, axis?: Axes, keepDim = false): Tensor {
  checkReduction('mean', x, keepDim);
  const axes = normAxes(axis, x.ndim, 'mean');
  let count = 1;
  for (const a of axes) count *= x.shape[a]!;
  const outputs = x.shape.reduce((n, d, i) => (axes.includes(i) ? n : n * d), 1);
  if (count === 0 && outputs > 0) {
    // every output element would average nothing: 0/0, a NaN out of finite inputs
    throw new ValueError('mean', `cannot average over an empty axis — x=[${x.shape.join(',')}], axes [${axes.join(',')}] (the mean of nothing is undefined; use sum)`, 'x');
  }
  return div(sum(x, axes, keepDim), count);
}

function extremum(op: 'max' | 'min', x: Tensor, axis: Axes, keepDim: boolean): Tensor {
  const { out, keptShape } = reduceRaw(op, op, x, axis, keepDim);
  return recordOp(op, out, [x], (g) => {
    // gradient is shared evenly among tied extrema (as torch.amax / torch.amin)
    const hit = eq(x, reshape(out, keptShape));
    const share = div(hit, sum(hit, axis, true));
    return [mul(share, reshape(g, keptShape))];
  }, { differentiableBackward: true });
}

/** Largest value over axes (values only; see argmax for indices). */
export function max(x: Tensor, axis?: Axes, keepDim = false): Tensor {
  return extremum('max', x, axis, keepDim);
}

/** Smallest value over axes. */
export function min(x: Tensor, axis?: Axes, keepDim = false): Tensor {
  return extremum('min', x, axis, keepDim);
}

/** Options of `variance` (and `Tensor.var`): `keepDim`, `correction`. */
export interface VarOptions {
  keepDim?: boolean;
  /** Subtracted from the count in the denominator: 1 = unbiased (default, as torch.var), 0 = population. */
  correction?: number;
}

/** Variance Σ(x − mean)² / (N − correction). */
export function variance(x: Tensor, axis?: Axes, options: VarOptions = {}): Tensor {
  expectTensor('variance', 'x', x);
  const { keepDim = false, correction = 1 } = expectOptions('variance', 'options', options, ['keepDim', 'correction']);
  expectBoolean('variance', 'keepDim', keepDim);
  expectNumber('variance', 'correction', correction);
  const axes = normAxes(axis, x.ndim, 'variance');
  let count = 1;
  for (const a of axes) count *= x.shape[a]!;
  if (count - correction <= 0 && x.shape.reduce((n, d, i) => (axes.includes(i) ? n : n * d), 1) > 0) {
    // Σ(x − μ)²/(N − correction) with N − correction ≤ 0 is 0/0 or x/0: torch returns NaN or ∞, we refuse
    throw new ValueError('variance', `needs more than correction=${correction} values per output — x=[${x.shape.join(',')}] reduces ${count} (N − correction must be > 0)`, 'x');
  }
  const centered = sub(x, mean(x, axes, true));
  return div(sum(square(centered), axes, keepDim), count - correction);
}

/** log Σ exp(x) over axes, stabilised by the (constant) maximum: m + log Σ exp(x − m). Empty axes give log 0 = −∞. */
export function logsumexp(x: Tensor, axis: Axes, keepDim = false): Tensor {
  checkReduction('logsumexp', x, keepDim);
  const m = reduceRaw('logsumexp', 'max', x, axis, true, true).out; // not recorded: the gradient does not depend on m
  for (let i = 0; i < m.size; i++) if (!Number.isFinite(m.data[i]!)) m.data[i] = 0; // shift by 0 where max is ±∞/NaN
  const lse = add(log(sum(exp(sub(x, m)), axis, true)), m);
  if (keepDim) return lse;
  const axes = normAxes(axis, x.ndim, 'logsumexp');
  return reshape(lse, x.shape.filter((_, d) => !axes.includes(d)));
}

function argExtremum(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepDim: boolean): Tensor {
  checkReduction(op, x, keepDim);
  const flat = axis === undefined;
  const src = flat ? reshape(x, [x.size]) : x;
  const ax = flat ? 0 : normAxis(axis, x.ndim, op);
  const [outer, n, inner] = splitAt(src.shape, ax);
  if (n === 0) throw new ValueError(op, `cannot take ${op} of an empty axis — x=[${x.shape.join(',')}]`, 'x');
  const out = new Float64Array(outer * inner);
  const better = op === 'argmax' ? (v: number, b: number) => v > b : (v: number, b: number) => v < b;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = src.data[o * n * inner + i]!;
      let at = 0;
      for (let k = 1; k < n && best === best; k++) {
        const v = src.data[(o * n + k) * inner + i]!;
        if (better(v, best) || v !== v) {
          best = v;
          at = k;
        }
      }
      out[o * inner + i] = at;
    }
  }
  const shape = flat ? (keepDim ? x.shape.map(() => 1) : []) : x.shape.map((d, k) => (k === ax ? 1 : d)).filter((_, k) => keepDim || k !== ax);
  return new Tensor(out, shape);
}

/** Index of the first maximum along `axis` (of the flattened tensor if omitted), as float64; NaN wins. */
export function argmax(x: Tensor, axis?: number, keepDim = false): Tensor {
  return argExtremum('argmax', x, axis, keepDim);
}

/** Index of the first minimum along `axis` (of the flattened tensor if omitted), as float64; NaN wins. */
export function argmin(x: Tensor, axis?: number, keepDim = false): Tensor {
  return argExtremum('argmin', x, axis, keepDim);
}

/** Options of `cumsum`: `reverse`. */
export interface CumsumOptions {
  /** Sum from the end instead: out_t = Σ_{s ≥ t} x_s (default false). */
  reverse?: boolean;
}

/**
 * Prefix sums along one axis (torch.cumsum): out_t = Σ_{s ≤ t} x_s, or Σ_{s ≥ t} x_s with `reverse`; same shape as
 * x, accumulated in float64. Backward: ∂L/∂x_s = Σ_{t ≥ s} g_t, the cumsum of g in the other direction — itself a
 * cumsum, so second derivatives flow through. x [..., n, ...] → [..., n, ...].
 * @example cumsum(tensor([1, 2, 3]), 0) // [1, 3, 6]; with { reverse: true }: [6, 5, 3]
 */
export function cumsum(x: Tensor, axis: number, options: CumsumOptions = {}): Tensor {
  const op = 'cumsum';
  expectTensor(op, 'x', x);
  const ax = normAxis(axis, x.ndim, op);
  const { reverse = false } = expectOptions(op, 'options', options, ['reverse']);
  expectBoolean(op, 'options.reverse', reverse);
  const [outer, n, inner] = splitAt(x.shape, ax);
  const out = new Tensor(scanAxis(x.data, outer, n, inner, reverse, allocate(x.dtype, x.size)), x.shape);
  return recordOp(op, out, [x], (g) => [cumsum(g, ax, { reverse: !reverse })], { differentiableBackward: true, saved: [] });
}
