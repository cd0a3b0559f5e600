/**
 * Key/value cache for incremental decoding: keys are stored after the positional encoding at their own positions,
 * so a step only encodes its new tokens. `position` counts every token seen, so positions continue correctly
 * even after sliding-window eviction drops the oldest entries.
 */
import { ShapeError, ValueError, concat, expectOptions, expectTensor, fmtShape, narrow, noGrad, type Tensor } from '../core/index.js';

export interface KVCacheOptions {
  /** Keep only the most recent maxLength keys and values (sliding-window eviction). Default: keep all. */
  maxLength?: number;
}

export class KVCache {
  /** [B, Hkv, L, d] cached keys (already position-encoded), or null before the first step. */
  keys: Tensor | null = null;
  /** [B, Hkv, L, dv] cached values. */
  values: Tensor | null = null;
  /** Tokens seen so far: the position of the next token. */
  position = 0;
  readonly maxLength: number;

  constructor(options: KVCacheOptions = {}) {
    const op = 'KVCache';
    const o = expectOptions(op, 'options', options, ['maxLength']);
    const maxLength = o.maxLength === undefined ? Infinity : o.maxLength;
    if (typeof maxLength !== 'number' || !(maxLength === Infinity || (Number.isInteger(maxLength) && maxLength >= 1))) {
      throw new ValueError(op, `options.maxLength must be an integer ≥ 1 or Infinity, got ${String(maxLength)}`, 'maxLength');
    }
    this.maxLength = maxLength;
  }

  /** Number of cached entries (≤ maxLength). */
  get length(): number {
    return this.keys === null ? 0 : this.keys.shape[2]!;
  }

  /**
   * Append new keys/values [B, Hkv, T, d]; returns the keys and values this step attends over (cached + new),
   * then keeps only the most recent maxLength of them. Cached tensors carry no graph (inference).
   */
  append(k: Tensor, v: Tensor): { keys: Tensor; values: Tensor } {
    expectTensor('KVCache.append', 'k', k);
    expectTensor('KVCache.append', 'v', v);
    if (k.ndim !== 4 || v.ndim !== 4 || k.shape[2] !== v.shape[2] || k.shape[0] !== v.shape[0]) {
      throw new ShapeError('KVCache.append', `need k [B,H,T,d] and v [B,H,T,dv] of equal B and T — k=${fmtShape(k.shape)}, v=${fmtShape(v.shape)}`, 'k');
    }
    const continues = (cached: Tensor | null, t: Tensor): boolean =>
      cached === null || (cached.shape[0] === t.shape[0] && cached.shape[1] === t.shape[1] && cached.shape[3] === t.shape[3] && cached.dtype === t.dtype);
    if (!continues(this.keys, k) || !continues(this.values, v)) {
      throw new ShapeError(
        'KVCache.append',
        `k=${fmtShape(k.shape)} ${k.dtype}, v=${fmtShape(v.shape)} ${v.dtype} do not continue the cached keys=${fmtShape(this.keys!.shape)} ${this.keys!.dtype}, values=${fmtShape(this.values!.shape)} (same B, heads, dims and dtype)`,
        'k',
      );
    }
    const step = noGrad(() => ({
      keys: this.keys === null ? k.detach() : concat([this.keys, k.detach()], 2),
      values: this.values === null ? v.detach() : concat([this.values, v.detach()], 2),
    }));
    const L = step.keys.shape[2]!;
    const keep = Math.min(L, this.maxLength);
    this.keys = keep === L ? step.keys : noGrad(() => narrow(step.keys, 2, L - keep, keep));
    this.values = keep === L ? step.values : noGrad(() => narrow(step.values, 2, L - keep, keep));
    this.position += k.shape[2]!;
    return step;
  }

  reset(): void {
    this.keys = null;
    this.values = null;
    this.position = 0;
  }
}
