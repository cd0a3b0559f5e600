/**
 * Key/value cache for incremental decoding: keys are stored after the positional encoding at their own positions,
 * so a step only encodes its new tokens. `position` counts every token seen, so positions continue correctly
 * even after sliding-window eviction drops the oldest entries.
 *
 * Storage grows by doubling (a step writes only its new rows, amortized O(T)); `keys` and `values` are tensors
 * [B, H, L, d] made from it when read and kept until the cache changes, so a step that reads them costs one copy,
 * as concatenating would, and a subclass that never needs every token at once (nn/a2ats.ts) can read rows directly.
 */
import { ShapeError, Tensor, ValueError, expectOptions, expectTensor, fmtShape, type DType } from '../core/index.js';

/** Options of `KVCache`: `maxLength`. */
export interface KVCacheOptions {
  /** Keep only the most recent maxLength keys and values (sliding-window eviction). Default: keep all. */
  maxLength?: number;
}

/** Rows [B, H, capacity, d] of which the first `length` of each (b, h) block are cached; `view` is the [B, H, length, d] tensor once made. */
export interface CacheRows {
  data: Float32Array | Float64Array;
  B: number;
  H: number;
  capacity: number;
  d: number;
  length: number;
  view: Tensor | null;
}

/**
 * Key/value cache for incremental decoding: `append(k, v)` stores k and v [B, H, T, d] (keys already position-encoded)
 * and returns every cached key and value [B, H, L, d]; `position` counts all tokens seen, so positions stay right after
 * a sliding window evicts the oldest.
 */
export class KVCache {
  /** Tokens seen so far: the position of the next token. */
  position = 0;
  readonly maxLength: number;
  /** @internal The cached keys and values as growable rows (null before the first step). */
  protected keyRows: CacheRows | null = null;
  protected valueRows: CacheRows | null = null;

  constructor(options: KVCacheOptions = {}) {
    const op = 'KVCache';
    const o = expectOptions(op, 'options', options, ['maxLength']);
    const maxLength = o.maxLength === undefined ? Infinity : o.maxLength;
    if (typeof maxLength !== 'number' || !(maxLength === Infinity || (Number.isInteger(maxLength) && maxLength >= 1))) {
      throw new ValueError(op, `options.maxLength must be an integer ≥ 1 or Infinity, got ${String(maxLength)}`, 'maxLength');
    }
    this.maxLength = maxLength;
  }

  /** [B, Hkv, L, d] cached keys (already position-encoded), or null before the first step. Setting one replaces them. */
  get keys(): Tensor | null {
    return viewOf(this.keyRows);
  }

  set keys(t: Tensor | null) {
    this.keyRows = rowsOf(t);
  }

  /** [B, Hkv, L, dv] cached values, or null before the first step. Setting one replaces them. */
  get values(): Tensor | null {
    return viewOf(this.valueRows);
  }

  set values(t: Tensor | null) {
    this.valueRows = rowsOf(t);
  }

  /** [B, Hkv, L, d] of the cached keys without making the tensor (for checks), or null before the first step. */
  get keyShape(): readonly number[] | null {
    const rows = this.keyRows;
    return rows === null ? null : [rows.B, rows.H, rows.length, rows.d];
  }

  /** The cached keys' and values' dtype, or null before the first step. */
  get dtype(): DType | null {
    return this.keyRows === null ? null : this.keyRows.data instanceof Float64Array ? 'float64' : 'float32';
  }

  /** Number of cached entries (≤ maxLength). */
  get length(): number {
    return this.keyRows?.length ?? 0;
  }

  /**
   * Append new keys/values [B, Hkv, T, d]; returns the keys and values this step attends over (cached + new),
   * then keeps only the most recent maxLength of them. Cached tensors carry no graph (inference).
   */
  append(k: Tensor, v: Tensor): { keys: Tensor; values: Tensor } {
    this.appendRows('KVCache.append', k, v);
    const step = { keys: this.keys!, values: this.values! };
    const L = this.keyRows!.length;
    if (L > this.maxLength) {
      evictOldest(this.keyRows!, L - this.maxLength);
      evictOldest(this.valueRows!, L - this.maxLength);
    }
    return step;
  }

  /** @internal append's checks and writes, without making the tensors or evicting: `op` is the method the user called. */
  protected appendRows(op: string, k: Tensor, v: Tensor): void {
    expectTensor(op, 'k', k);
    expectTensor(op, 'v', v);
    if (k.ndim !== 4 || v.ndim !== 4 || k.shape[2] !== v.shape[2] || k.shape[0] !== v.shape[0]) {
      throw new ShapeError(op, `need k [B,H,T,d] and v [B,H,T,dv] of equal B and T — k=${fmtShape(k.shape)}, v=${fmtShape(v.shape)}`, 'k');
    }
    const continues = (rows: CacheRows | null, t: Tensor): boolean =>
      rows === null || (rows.B === t.shape[0] && rows.H === t.shape[1] && rows.d === t.shape[3] && rows.data instanceof (t.dtype === 'float64' ? Float64Array : Float32Array));
    if (!continues(this.keyRows, k) || !continues(this.valueRows, v)) {
      const [keys, values] = [this.keys!, this.values!];
      throw new ShapeError(
        op,
        `k=${fmtShape(k.shape)} ${k.dtype}, v=${fmtShape(v.shape)} ${v.dtype} do not continue the cached keys=${fmtShape(keys.shape)} ${keys.dtype}, values=${fmtShape(values.shape)} (same B, heads, dims and dtype)`,
        'k',
      );
    }
    this.keyRows = appendTo(this.keyRows, k);
    this.valueRows = appendTo(this.valueRows, v);
    this.position += k.shape[2]!;
  }

  reset(): void {
    this.keyRows = null;
    this.valueRows = null;
    this.position = 0;
  }
}

/** The [B, H, length, d] tensor of `rows` (made once, kept until they change). */
function viewOf(rows: CacheRows | null): Tensor | null {
  if (rows === null) return null;
  if (rows.view === null) {
    const { B, H, capacity, d, length } = rows;
    const out = rows.data instanceof Float64Array ? new Float64Array(B * H * length * d) : new Float32Array(B * H * length * d);
    for (let i = 0; i < B * H; i++) out.set(rows.data.subarray(i * capacity * d, (i * capacity + length) * d), i * length * d);
    rows.view = new Tensor(out, [B, H, length, d]);
  }
  return rows.view;
}

/** Rows holding exactly the tensor t [B, H, L, d] (its data is shared, not copied), or null. */
function rowsOf(t: Tensor | null): CacheRows | null {
  if (t === null) return null;
  const [B, H, L, d] = t.shape as [number, number, number, number];
  return { data: t.data as Float32Array | Float64Array, B, H, capacity: L, d, length: L, view: t };
}

/** `rows` with t [B, H, T, d] written after the cached rows, the storage doubled when full. */
function appendTo(rows: CacheRows | null, t: Tensor): CacheRows {
  const [B, H, T, d] = t.shape as [number, number, number, number];
  const length = rows?.length ?? 0;
  let target = rows;
  if (target === null || length + T > target.capacity) {
    const capacity = Math.max(length + T, 2 * (target?.capacity ?? 0));
    const data = t.dtype === 'float64' ? new Float64Array(B * H * capacity * d) : new Float32Array(B * H * capacity * d);
    if (target !== null) for (let i = 0; i < B * H; i++) data.set(target.data.subarray(i * target.capacity * d, (i * target.capacity + length) * d), i * capacity * d);
    target = { data, B, H, capacity, d, length, view: null };
  }
  for (let i = 0; i < B * H; i++) target.data.set(t.data.subarray(i * T * d, (i + 1) * T * d), (i * target.capacity + length) * d);
  target.length = length + T;
  target.view = null;
  return target;
}

/** Drops the `count` oldest rows of every (b, h) block. */
function evictOldest(rows: CacheRows, count: number): void {
  const { B, H, capacity, d } = rows;
  rows.length -= count;
  for (let i = 0; i < B * H; i++) rows.data.copyWithin(i * capacity * d, (i * capacity + count) * d, (i * capacity + count + rows.length) * d);
  rows.view = null;
}
