/**
 * Attention masks as 0/1 tensors (1 = may attend), broadcastable to scores [..., Tq, Tk]. Combine them with
 * `combineMasks` (elementwise product). Causal and sliding-window masks are also available as flags of
 * `scaledDotProductAttention`, which then skips the masked blocks instead of computing and discarding them.
 */
import { Tensor, ValueError, fmtShape, type IndexLike } from '../core/index.js';

function check(op: string, cond: boolean, message: () => string, arg: string): void {
  if (!cond) throw new ValueError(op, message(), arg);
}

/** [Tq, Tk]: query i (at key position i + Tk − Tq, bottom-right aligned) sees keys j ≤ its position. */
export function causalMask(Tq: number, Tk = Tq): Tensor {
  check('causalMask', Number.isInteger(Tq) && Number.isInteger(Tk) && Tq >= 0 && Tq <= Tk, () => `need integers 0 ≤ Tq ≤ Tk, got Tq=${Tq}, Tk=${Tk}`, 'Tq');
  const m = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j <= i + Tk - Tq; j++) m[i * Tk + j] = 1;
  return new Tensor(m, [Tq, Tk]);
}

/** [Tq, Tk]: causal, and at most `window` keys back: position p sees j with p − window < j ≤ p. */
export function slidingWindowMask(Tq: number, Tk: number, window: number): Tensor {
  check('slidingWindowMask', Number.isInteger(window) && window >= 1, () => `window must be a positive integer, got ${window}`, 'window');
  const m = causalMask(Tq, Tk);
  for (let i = 0; i < Tq; i++) for (let j = 0; j <= i + Tk - Tq - window; j++) m.data[i * Tk + j] = 0;
  return m;
}

/** [B, 1, 1, Tk]: key j of sequence b is real when j < lengths[b] (right padding). */
export function paddingMask(lengths: readonly number[], Tk: number): Tensor {
  const m = new Float32Array(lengths.length * Tk);
  lengths.forEach((len, b) => {
    check('paddingMask', Number.isInteger(len) && len >= 0 && len <= Tk, () => `lengths[${b}] = ${len} must be an integer in [0, ${Tk}]`, 'lengths');
    m.fill(1, b * Tk, b * Tk + len);
  });
  return new Tensor(m, [lengths.length, 1, 1, Tk]);
}

/**
 * Block-diagonal mask for packed sequences: tokens attend only within their own document.
 * docIds [T] → [T, T], or [B, T] → [B, 1, T, T]. Combine with causal for decoders.
 */
export function documentMask(docIds: Tensor | IndexLike): Tensor {
  const ids = docIds instanceof Tensor ? docIds : new Tensor(Float64Array.from(docIds), [docIds.length]);
  check('documentMask', ids.ndim === 1 || ids.ndim === 2, () => `docIds must be [T] or [B, T], got ${fmtShape(ids.shape)}`, 'docIds');
  const T = ids.shape[ids.ndim - 1]!;
  const B = ids.ndim === 2 ? ids.shape[0]! : 1;
  const m = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) m[(b * T + i) * T + j] = +(ids.data[b * T + i] === ids.data[b * T + j]);
  }
  return new Tensor(m, ids.ndim === 2 ? [B, 1, T, T] : [T, T]);
}

/** Elementwise product of masks (attend only where all allow), broadcasting their shapes. */
export function combineMasks(...masks: Tensor[]): Tensor {
  check('combineMasks', masks.length > 0, () => 'needs at least one mask', 'masks');
  return masks.reduce((acc, m) => acc.mul(m));
}
