/**
 * The argument checks of positional/, one rule per concept, so that every entry point refuses the same inputs with
 * the same words: rotary dim, base, scaling factor, context length, inverse-frequency tables, positions, pair
 * layout, and the head dim of the tensors an encoding rotates. Each check takes `op`, the public function or class
 * the user called, so the message starts with it (`RoPE: base must be a finite number > 1, got 1`). They build on
 * core's argument checks and run once at an entry, never inside a kernel's loop.
 */
import {
  DTypeError, ShapeError, Tensor, ValueError, describeValue, expectAllocatable, expectFiniteValues, expectNumber, expectOneOf, expectPositions, fmtShape,
  type NumberRule,
} from '../core/index.js';
import type { PairLayout } from './rope.js';

/** A rotary dim (channels that rotate): a positive even integer, at most `headDim` when given, that fits in a table. */
export function checkRotaryDim(op: string, arg: string, dim: unknown, headDim?: number): number {
  const d = expectNumber(op, arg, dim, { integer: true, above: 0, ...(headDim !== undefined ? { max: headDim } : {}) });
  if (d % 2 !== 0) throw new ValueError(op, `${arg} must be even (channels rotate in pairs), got ${d}`, arg);
  expectAllocatable(op, arg, d);
  return d;
}

/**
 * An optional number: `undefined` gives `fallback`; anything else (null included: an option set to null is a
 * mistake, not a request for the default) must obey `rule`.
 */
export function optionalNumber(op: string, arg: string, x: unknown, fallback: number, rule: NumberRule = {}): number {
  return x === undefined ? fallback : expectNumber(op, arg, x, rule);
}

/** An array of integers (sections, axis sizes, ids) each ≥ `min`; returns a plain copy. */
export function checkIntegers(op: string, arg: string, list: unknown, min = -Infinity): number[] {
  if (!(Array.isArray(list) || (ArrayBuffer.isView(list) && !(list instanceof DataView)))) {
    throw new DTypeError(op, `${arg} must be an array of integers, got ${describeValue(list)}`, arg);
  }
  const a = list as ArrayLike<unknown>;
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number') throw new DTypeError(op, `${arg}[${i}] must be an integer, got ${describeValue(v)}`, arg);
    if (!Number.isInteger(v) || v < min) throw new ValueError(op, `${arg}[${i}] must be an integer${min > -Infinity ? ` ≥ ${min}` : ''}, got ${v}`, arg);
    out[i] = v;
  }
  return out;
}

/** The total element count of a table with these sizes must fit in one tensor (2**20 × 2**20 is refused). */
export function checkTableSize(op: string, arg: string, ...sizes: number[]): void {
  expectAllocatable(op, arg, sizes.reduce((p, d) => p * d, 1), sizes);
}

/** A RoPE base θ (θ_i = base^(−2i/d)): finite and > 1, so that the frequencies fall from 1 towards 0. */
export function checkBase(op: string, arg: string, base: unknown): number {
  return expectNumber(op, arg, base, { above: 1 });
}

/** A context-extension factor s: finite and ≥ `min` (1 for interpolation rules: 1 gives plain RoPE). */
export function checkFactor(op: string, arg: string, factor: unknown, min = 1): number {
  return expectNumber(op, arg, factor, { min });
}

/** A context length (trained, original or current sequence length): a whole number of tokens, > 0. */
export function checkContextLength(op: string, arg: string, length: unknown): number {
  return expectNumber(op, arg, length, { integer: true, above: 0 });
}

/**
 * An inverse-frequency table θ [pairs]: an array (or typed array) of finite numbers ≥ 0 (0 is a NoPE pair), of
 * `pairs` entries when given. Returns a float64 copy, so later changes to the caller's array change nothing.
 */
export function checkInvFreq(op: string, arg: string, invFreq: unknown, pairs?: number): Float64Array {
  if (!(Array.isArray(invFreq) || (ArrayBuffer.isView(invFreq) && !(invFreq instanceof DataView)))) {
    throw new DTypeError(op, `${arg} must be an array of inverse frequencies, got ${describeValue(invFreq)}`, arg);
  }
  const list = invFreq as ArrayLike<unknown>;
  if (pairs !== undefined && list.length !== pairs) {
    throw new ShapeError(op, `${arg} has ${list.length} entries, expected ${pairs} (one per rotated pair)`, arg);
  }
  const out = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (typeof v !== 'number' && typeof v !== 'bigint') throw new DTypeError(op, `${arg}[${i}] must be a number, got ${describeValue(v)}`, arg);
    const x = Number(v);
    if (!(Number.isFinite(x) && x >= 0)) throw new ValueError(op, `${arg}[${i}] must be a finite frequency ≥ 0, got ${x}`, arg);
    out[i] = x;
  }
  return out;
}

/** Positions given as a Tensor or a plain array of numbers, checked as core's `expectPositions`; returns a Tensor. */
export function positionsTensor(op: string, arg: string, positions: unknown): Tensor {
  if (positions instanceof Tensor) {
    expectPositions(op, arg, positions);
    return positions;
  }
  if (!(Array.isArray(positions) || (ArrayBuffer.isView(positions) && !(positions instanceof DataView)))) {
    throw new DTypeError(op, `${arg} must be a Tensor or an array of positions, got ${describeValue(positions)}`, arg);
  }
  const list = positions as ArrayLike<unknown>;
  const data = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (typeof v !== 'number') throw new DTypeError(op, `${arg}[${i}] must be a number, got ${describeValue(v)}`, arg);
    data[i] = v;
  }
  expectFiniteValues(op, arg, data);
  return new Tensor(data, [data.length]);
}

/** A pair layout: 'half' (GPT-NeoX, HF Llama) or 'interleaved' (RoFormer, Meta). */
export function checkLayout(op: string, layout: unknown, fallback: PairLayout = 'half'): PairLayout {
  return layout === undefined ? fallback : expectOneOf<PairLayout>(op, 'layout', layout, ['half', 'interleaved']);
}

/**
 * An optional multiplier s on rotated q and k (HF attention_scaling), > 0; default 1. The logits get s², so s is
 * at most √(float32 max) ≈ 1.8e19: beyond it s² overflows a float32 logit to ∞ (and ∞ − ∞ to NaN).
 */
export function checkAttentionFactor(op: string, factor: unknown): number {
  return factor === undefined ? 1 : expectNumber(op, 'attentionFactor', factor, { above: 0, max: MAX_ATTENTION_FACTOR });
}
const MAX_ATTENTION_FACTOR = 1.8e19;

/** An array (or typed array) of finite numbers of any sign (angles, offsets); returns a float64 copy. */
export function checkReals(op: string, arg: string, list: unknown): Float64Array {
  if (!(Array.isArray(list) || (ArrayBuffer.isView(list) && !(list instanceof DataView)))) {
    throw new DTypeError(op, `${arg} must be an array of finite numbers, got ${describeValue(list)}`, arg);
  }
  const a = list as ArrayLike<unknown>;
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'number') throw new DTypeError(op, `${arg}[${i}] must be a finite number, got ${describeValue(v)}`, arg);
    if (!Number.isFinite(v)) throw new ValueError(op, `${arg}[${i}] must be a finite number, got ${v}`, arg);
    out[i] = v;
  }
  return out;
}

/**
 * The tensor an encoding rotates: a Tensor [..., T, headDim] whose last axis is the encoding's head dim. A wider
 * head is refused rather than partly rotated: partial rotation is asked for with `rotaryDim`, never implied.
 */
export function checkHead(op: string, arg: string, x: unknown, headDim: number): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor [..., T, ${headDim}], got ${describeValue(x)}`, arg);
  const d = x.ndim === 0 ? undefined : x.shape[x.ndim - 1];
  if (x.ndim < 2 || d !== headDim) {
    throw new ShapeError(
      op,
      `${arg}=${fmtShape(x.shape)} has head dim ${d ?? 'none'}, but this encoding's head dim is ${headDim} (build it for ${d ?? 'that'} channels; rotate only some of them with the rotaryDim option)`,
      arg,
    );
  }
}


/** A string argument (a source text, a name, a layer type). */
export function checkString(op: string, arg: string, x: unknown): string {
  if (typeof x !== 'string') throw new DTypeError(op, `${arg} must be a string, got ${describeValue(x)}`, arg);
  return x;
}

/**
 * A positive scale that may be below 1 (p-RoPE's divisor of θ, LongRoPE's max_position_embeddings / L): finite
 * and > 0. Interpolation factors, which are ≥ 1, use `checkFactor`.
 */
export function checkScale(op: string, arg: string, scale: unknown): number {
  return expectNumber(op, arg, scale, { above: 0 });
}
