/**
 * Attention masks as 0/1 tensors (1 = may attend), broadcastable to scores [..., Tq, Tk]. Combine them with
 * `combineMasks` (elementwise product). Causal and sliding-window masks are also available as flags of
 * `scaledDotProductAttention`, which then skips the masked blocks instead of computing and discarding them.
 */
import {
  DTypeError, ShapeError, Tensor, ValueError, describeValue, expectAllocatable, expectFiniteValues, expectInteger, expectTensor, fmtShape,
  expectSize, type IndexLike,
} from '../core/index.js';

/** Tq and Tk: integers 0 ≤ Tq ≤ Tk whose [Tq, Tk] mask fits in one tensor. */
function maskSizes(op: string, Tq: unknown, Tk: unknown): [number, number] {
  const q = expectSize(op, 'Tq', Tq, 0);
  const k = expectSize(op, 'Tk', Tk, 0);
  if (q > k) throw new ValueError(op, `need Tq ≤ Tk (queries are the last Tq of the Tk keys), got Tq=${q}, Tk=${k}`, 'Tq');
  expectAllocatable(op, 'Tq·Tk', q * k, [q, k]);
  return [q, k];
}

/** The causal 0/1 mask [Tq, Tk], bottom-right aligned (sizes checked by the caller). */
function causalOnes(Tq: number, Tk: number): Tensor {
  const m = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j <= i + Tk - Tq; j++) m[i * Tk + j] = 1;
  return new Tensor(m, [Tq, Tk]);
}

/** [Tq, Tk]: query i (at key position i + Tk − Tq, bottom-right aligned) sees keys j ≤ its position. */
export function causalMask(Tq: number, Tk = Tq): Tensor {
  const [q, k] = maskSizes('causalMask', Tq, Tk);
  return causalOnes(q, k);
}

/** [Tq, Tk]: causal, and at most `window` keys back: position p sees j with p − window < j ≤ p. */
export function slidingWindowMask(Tq: number, Tk: number, window: number): Tensor {
  const op = 'slidingWindowMask';
  const [q, k] = maskSizes(op, Tq, Tk);
  expectSize(op, 'window', window);
  const m = causalOnes(q, k);
  for (let i = 0; i < q; i++) for (let j = 0; j <= i + k - q - window; j++) m.data[i * k + j] = 0;
  return m;
}

/** [B, 1, 1, Tk]: key j of sequence b is real when j < lengths[b] (right padding). */
export function paddingMask(lengths: readonly number[], Tk: number): Tensor {
  const op = 'paddingMask';
  if (!Array.isArray(lengths)) throw new DTypeError(op, `lengths must be an array of integers, got ${describeValue(lengths)}`, 'lengths');
  const k = expectSize(op, 'Tk', Tk, 0);
  lengths.forEach((len: unknown, b) => expectInteger(op, `lengths[${b}]`, len, { min: 0, max: k }));
  expectAllocatable(op, 'B·Tk', lengths.length * k, [lengths.length, 1, 1, k]);
  const m = new Float32Array(lengths.length * k);
  lengths.forEach((len, b) => m.fill(1, b * k, b * k + len));
  return new Tensor(m, [lengths.length, 1, 1, k]);
}

/**
 * Block-diagonal mask for packed sequences: tokens attend only within their own document.
 * docIds [T] → [T, T], or [B, T] → [B, 1, T, T] (finite ids, a Tensor or a flat array). Combine with causal for decoders.
 */
export function documentMask(docIds: Tensor | IndexLike): Tensor {
  const op = 'documentMask';
  let ids: Tensor;
  if (docIds instanceof Tensor) ids = docIds;
  else if (Array.isArray(docIds) || docIds instanceof Int32Array) {
    for (let i = 0; i < docIds.length; i++) {
      if (typeof docIds[i] !== 'number') throw new DTypeError(op, `docIds[${i}] must be a number, got ${describeValue(docIds[i])}`, 'docIds');
    }
    ids = new Tensor(Float64Array.from(docIds), [docIds.length]);
  } else throw new DTypeError(op, `docIds must be a Tensor or an array of document ids, got ${describeValue(docIds)}`, 'docIds');
  if (ids.ndim !== 1 && ids.ndim !== 2) throw new ValueError(op, `docIds must be [T] or [B, T], got ${fmtShape(ids.shape)}`, 'docIds');
  expectFiniteValues(op, 'docIds', ids.data);
  const T = ids.shape[ids.ndim - 1]!;
  const B = ids.ndim === 2 ? ids.shape[0]! : 1;
  expectAllocatable(op, 'docIds', B * T * T, ids.ndim === 2 ? [B, 1, T, T] : [T, T]);
  const m = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) m[(b * T + i) * T + j] = +(ids.data[b * T + i] === ids.data[b * T + j]);
  }
  return new Tensor(m, ids.ndim === 2 ? [B, 1, T, T] : [T, T]);
}

/** Elementwise product of masks (attend only where all allow), broadcasting their shapes. */
export function combineMasks(...masks: Tensor[]): Tensor {
  const op = 'combineMasks';
  if (masks.length === 0) throw new ValueError(op, 'needs at least one mask', 'masks');
  masks.forEach((m, i) => expectTensor(op, `masks[${i}]`, m));
  const shape: number[] = [];
  for (const [i, m] of masks.entries()) {
    for (let a = 1; a <= m.ndim; a++) {
      const d = m.shape[m.ndim - a]!;
      const have = shape[shape.length - a];
      if (have === undefined) shape.unshift(d);
      else if (have === 1) shape[shape.length - a] = d;
      else if (d !== 1 && d !== have) {
        throw new ShapeError(op, `masks[${i}]=${fmtShape(m.shape)} does not broadcast with the masks before it (${fmtShape(shape)})`, `masks[${i}]`);
      }
    }
  }
  return masks.reduce((acc, m) => acc.mul(m));
}
