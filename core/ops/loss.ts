/** Losses: fused cross-entropy over logits (class axis last) and mean squared error. */
import { describeValue, expectInteger, expectNumber, expectOneOf, expectOptions, expectTensor } from '../args.js';
import { isGradEnabled, recordOp } from '../autograd.js';
import { giveBuffer, takeBuffer } from '../buffer-pool.js';
import { allocate } from '../dtype.js';
import { DTypeError, IndexError, ShapeError, ValueError } from '../errors.js';
import { broadcastShapes, fmtShape, shapesEqual, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { mul, square, sub, where } from './elementwise.js';
import { reshape } from './movement.js';
import { softmax } from './softmax.js';
import { mean, sum } from './reduce.js';

/**
 * How a loss reduces its per-element values: 'mean' (over the counted elements), 'sum', or 'none' (one value per
 * element).
 */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options of `crossEntropy`: `ignoreIndex`, `labelSmoothing`, `reduction`. */
export interface CrossEntropyOptions {
  /** Targets equal to this contribute nothing and are left out of the mean. Default −100 (as PyTorch). */
  ignoreIndex?: number;
  /** ε: the target distribution is (1 − ε)·onehot + ε/C (Szegedy et al. 2016). Default 0. */
  labelSmoothing?: number;
  reduction?: Reduction;
}

/**
 * Cross-entropy between logits [..., C] and integer targets [...] (stored as numbers):
 * loss = −(1 − ε)·log p[target] − (ε/C)·Σ_c log p[c], with p = softmax(logits). Unlike torch, the class axis is last.
 * Backward: dlogits = (p − q)·scale with q the smoothed target distribution.
 */
export function crossEntropy(logits: Tensor, targets: Tensor | ArrayLike<number>, options: CrossEntropyOptions = {}): Tensor {
  expectTensor('crossEntropy', 'logits', logits);
  if (!(targets instanceof Tensor) && !Array.isArray(targets) && !ArrayBuffer.isView(targets)) {
    throw new DTypeError('crossEntropy', `targets must be a Tensor or an array of class indices, got ${describeValue(targets)}`, 'targets');
  }
  const { ignoreIndex = -100, labelSmoothing = 0, reduction = 'mean' } = expectOptions('crossEntropy', 'options', options, ['ignoreIndex', 'labelSmoothing', 'reduction']);
  expectInteger('crossEntropy', 'ignoreIndex', ignoreIndex);
  expectOneOf('crossEntropy', 'reduction', reduction, ['mean', 'sum', 'none'] as const);
  if (logits.ndim < 1) throw new ShapeError('crossEntropy', `logits need a class axis, got logits=${fmtShape(logits.shape)}`, 'logits');
  expectNumber('crossEntropy', 'labelSmoothing', labelSmoothing, { min: 0, max: 1 });
  const C = logits.shape[logits.ndim - 1]!;
  const rowShape = logits.shape.slice(0, -1);
  const rows = sizeOf(rowShape); // not logits.size / C, which is 0 rows when C = 0
  const tData = targets instanceof Tensor ? targets.data : targets;
  if (targets instanceof Tensor ? !shapesEqual(targets.shape, rowShape) : tData.length !== rows) {
    const tShape = targets instanceof Tensor ? fmtShape(targets.shape) : `[${tData.length}]`;
    throw new ShapeError('crossEntropy', `targets=${tShape} do not match logits=${fmtShape(logits.shape)} (one target per row: ${fmtShape(rowShape)})`, 'targets');
  }
  const target = new Int32Array(rows);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = tData[r]!;
    if (t === ignoreIndex) {
      target[r] = -1;
      continue;
    }
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= C) {
      throw new IndexError('crossEntropy', `targets[${r}] = ${t} is not a class in [0, ${C}) nor ignoreIndex=${ignoreIndex}`, 'targets');
    }
    target[r] = t;
    count++;
  }

  const x = logits.data;
  const probs = takeBuffer('float64', logits.size, 'crossEntropy', 'logits'); // engine-private: pooled (core/buffer-pool.ts)
  const losses = new Float64Array(rows);
  const eps = labelSmoothing;
  for (let r = 0; r < rows; r++) {
    if (target[r]! < 0) continue;
    const base = r * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (x[base + c]! > m) m = x[base + c]!;
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(x[base + c]! - m);
    const logz = Math.log(z); // log p = (x − m) − log z, not x − (m + log z): a large m would absorb log z
    let sumLogp = 0;
    for (let c = 0; c < C; c++) {
      const logp = x[base + c]! - m - logz;
      probs[base + c] = Math.exp(logp);
      sumLogp += logp;
    }
    // the smoothing term only when ε > 0: a masked logit (−∞) makes Σ log p = −∞, and 0·(−∞) would be NaN
    losses[r] = -(1 - eps) * (x[base + target[r]!]! - m - logz) - (eps > 0 ? (eps / C) * sumLogp : 0);
  }

  let out: Tensor;
  if (reduction === 'none') {
    const d = allocate(logits.dtype, rows);
    d.set(losses);
    out = new Tensor(d, rowShape);
  } else {
    let total = 0;
    for (let r = 0; r < rows; r++) total += losses[r]!;
    const d = allocate(logits.dtype, 1);
    if (reduction === 'mean' && count === 0) {
      // torch returns NaN here; a NaN out of finite logits is refused instead
      throw new ValueError('crossEntropy', `every target is ignoreIndex=${ignoreIndex}: the mean over zero targets is undefined (use reduction 'sum')`, 'targets');
    }
    d[0] = reduction === 'mean' ? total / count : total;
    out = new Tensor(d, []);
  }

  const result = recordOp('crossEntropy', out, [logits], (g) => {
    if (isGradEnabled()) {
      // createGraph: dlogits = (softmax(logits) − q)·scale in ops, q the smoothed one-hot (0 on ignored rows)
      const q = allocate(logits.dtype, logits.size);
      const weight = allocate(logits.dtype, rows);
      for (let r = 0; r < rows; r++) {
        if (target[r]! < 0) continue;
        weight[r] = reduction === 'mean' ? 1 / count : 1;
        for (let c = 0; c < C; c++) q[r * C + c] = eps / C;
        q[r * C + target[r]!] += 1 - eps;
      }
      const rowScale = mul(reshape(g, reduction === 'none' ? [...rowShape, 1] : [...rowShape.map(() => 1), 1]), new Tensor(weight, [...rowShape, 1]));
      // ignored rows are 0 by `where`, not by a 0 weight: a masked ignored row (all −∞) has NaN probabilities
      const counted = new Tensor(weight, [...rowShape, 1]).ne(0);
      return [mul(where(counted, sub(softmax(logits, -1), new Tensor(q, logits.shape)), 0), rowScale)];
    }
    const gx = allocate(logits.dtype, logits.size);
    for (let r = 0; r < rows; r++) {
      if (target[r]! < 0) continue;
      const scale = reduction === 'none' ? g.data[r]! : reduction === 'mean' ? g.data[0]! / count : g.data[0]!;
      const base = r * C;
      for (let c = 0; c < C; c++) gx[base + c] = (probs[base + c]! - eps / C) * scale;
      gx[base + target[r]!] -= (1 - eps) * scale;
    }
    return [new Tensor(gx, logits.shape)];
  }, { differentiableBackward: true, saved: [logits], release: () => giveBuffer(probs) });
  if (result.gradNode === null) giveBuffer(probs); // no graph recorded: nothing reads probs again
  return result;
}

/** Mean squared error (a − b)², reduced by mean (default), sum or none. */
export function mseLoss(a: Tensor, b: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  expectTensor('mseLoss', 'a', a);
  expectTensor('mseLoss', 'b', b);
  const { reduction = 'mean' } = expectOptions('mseLoss', 'options', options, ['reduction']);
  expectOneOf('mseLoss', 'reduction', reduction, ['mean', 'sum', 'none'] as const);
  broadcastShapes(a.shape, b.shape, 'mseLoss'); // so that a shape error names mseLoss, not the inner sub
  const sq = square(sub(a, b));
  if (reduction === 'none') return sq;
  if (reduction === 'sum') return sum(sq);
  if (sq.size === 0) throw new ValueError('mseLoss', `a=${fmtShape(a.shape)} and b=${fmtShape(b.shape)} have no elements: their mean is undefined (use reduction 'sum')`, 'a');
  return mean(sq); // 'mean', checked at the entry
}
