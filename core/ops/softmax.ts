/**
 * Numerically stable softmax and log-softmax along one axis, fused forward and backward kernels. softmax's forward
 * over a last axis (inner = 1) goes to the active backend's `softmax` slot when it has one (core/backend.ts: the
 * 'gpujs' backend, float32), else the JS lines below.
 */
import { expectTensor } from '../args.js';
import { kernels } from '../backend.js';
import { isGradEnabled, recordOp } from '../autograd.js';
import { exp, mul, sub } from './elementwise.js';
import { sum } from './reduce.js';
import { allocate, type TypedArray } from '../dtype.js';
import { splitAt } from '../kernels/reduce.js';
import { normAxis } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Visit each line along the axis: `visit(start, stride)` addresses elements start + k·stride, k < n. */
function forEachLine(outer: number, n: number, inner: number, visit: (start: number, stride: number) => void): void {
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) visit(o * n * inner + i, inner);
}

function softmaxLines(x: TypedArray, y: TypedArray, outer: number, n: number, inner: number, log: boolean): void {
  const e = new Float64Array(n); // exp(x − m) of one line, kept so that exp runs once per element
  forEachLine(outer, n, inner, (s, st) => {
    let m = -Infinity;
    for (let k = 0, p = s; k < n; k++, p += st) if (x[p]! > m) m = x[p]!;
    if (m === -Infinity) m = 0; // all −∞: z = 0, so the row is NaN (0·∞ and −∞ − −∞), as in torch
    let z = 0;
    for (let k = 0, p = s; k < n; k++, p += st) z += e[k] = Math.exp(x[p]! - m);
    if (log) {
      const lz = Math.log(z); // (x − m) − log z, not x − (m + log z): a large m would absorb log z
      for (let k = 0, p = s; k < n; k++, p += st) y[p] = x[p]! - m - lz;
    } else {
      const inv = 1 / z;
      for (let k = 0, p = s; k < n; k++, p += st) y[p] = e[k]! * inv;
    }
  });
}

/** softmax(x)_i = exp(x_i − max x) / Σ_j exp(x_j − max x); backward gx = y ⊙ (g − Σ g ⊙ y). */
export function softmax(x: Tensor, axis = -1): Tensor {
  expectTensor('softmax', 'x', x);
  const ax = normAxis(axis, x.ndim, 'softmax');
  const [outer, n, inner] = splitAt(x.shape, ax);
  const y = allocate(x.dtype, x.size);
  if (inner !== 1 || !kernels.softmax?.(x.data, y, outer, n)) softmaxLines(x.data, y, outer, n, inner, false);
  const out = new Tensor(y, x.shape);
  return recordOp('softmax', out, [x], (g) => {
    if (isGradEnabled()) return [mul(out, sub(g, sum(mul(g, out), ax, true)))]; // createGraph: the same rule in ops
    const gx = allocate(x.dtype, x.size);
    const gs = g.data;
    forEachLine(outer, n, inner, (s, st) => {
      let dot = 0;
      for (let k = 0, p = s; k < n; k++, p += st) dot += gs[p]! * y[p]!;
      for (let k = 0, p = s; k < n; k++, p += st) gx[p] = y[p]! * (gs[p]! - dot);
    });
    return [new Tensor(gx, x.shape)];
  }, { differentiableBackward: true, saved: [out] });
}

/** logSoftmax(x) = x − logsumexp(x); backward gx = g − softmax(x) · Σ g. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  expectTensor('logSoftmax', 'x', x);
  const ax = normAxis(axis, x.ndim, 'logSoftmax');
  const [outer, n, inner] = splitAt(x.shape, ax);
  const y = allocate(x.dtype, x.size);
  softmaxLines(x.data, y, outer, n, inner, true);
  const out = new Tensor(y, x.shape);
  return recordOp('logSoftmax', out, [x], (g) => {
    if (isGradEnabled()) return [sub(g, mul(exp(out), sum(g, ax, true)))]; // createGraph: the same rule in ops
    const gx = allocate(x.dtype, x.size);
    const gs = g.data;
    forEachLine(outer, n, inner, (s, st) => {
      let total = 0;
      for (let k = 0, p = s; k < n; k++, p += st) total += gs[p]!;
      for (let k = 0, p = s; k < n; k++, p += st) gx[p] = gs[p]! - Math.exp(y[p]!) * total;
    });
    return [new Tensor(gx, x.shape)];
  }, { differentiableBackward: true, saved: [out] });
}
