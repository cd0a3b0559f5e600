/**
 * Key/value cache for incremental decoding: keys are stored after the positional encoding at their own positions,
 * so a step only encodes its new tokens. `position` counts every token seen, so positions continue correctly
 * even after sliding-window eviction drops the oldest entries.
 */
import { ShapeError, ValueError, concat, fmtShape, narrow, noGrad, type Tensor } from '../core/index.js';

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
    this.maxLength = options.maxLength ?? Infinity;
    if (!(this.maxLength >= 1)) throw new ValueError('KVCache', `maxLength must be ≥ 1, got ${this.maxLength}`, 'maxLength');
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
    if (k.ndim !== 4 || v.ndim !== 4 || k.shape[2] !== v.shape[2]) {
      throw new ShapeError('KVCache.append', `need k [B,H,T,d] and v [B,H,T,dv] of equal T — k=${fmtShape(k.shape)}, v=${fmtShape(v.shape)}`, 'k');
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
