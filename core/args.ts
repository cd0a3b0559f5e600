/**
 * Argument checks for public entries, one set for the whole library. Each check runs once, at the function the
 * user called, and throws one of the typed errors with a message that starts with that function's name and names
 * the argument: `RoPE: base must be a finite number > 1, got NaN`. Never call these inside a kernel's loop.
 *
 * Which error: a value of the wrong JavaScript type (null, a string for a number, a plain array for a Tensor) is a
 * `DTypeError` (a TypeError); a value of the right type outside its range is a `ValueError`; a shape that does not
 * fit is a `ShapeError`; a size too large to allocate is a `ValueError`.
 */
import type { DType } from './dtype.js';
import { AxisError, DTypeError, IndexError, ShapeError, ValueError } from './errors.js';
import { Generator } from './random.js';
import { Tensor } from './tensor.js';

/**
 * The most elements one tensor may hold: 2³¹ − 1. V8 caps a typed array at 2³² elements, and a float32 tensor of
 * 2³¹ elements is already 8 GiB; past this a shape is refused with a typed error instead of a RangeError.
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/**
 * A tensor by its shape, without `instanceof Tensor`: the checks of numbers and options must not import the Tensor
 * class, so that `import { ropeInvFreq }` bundles without the whole engine (tree-shaking).
 */
function looksLikeTensor(x: object): x is { shape: readonly number[]; dtype: string } {
  return 'shape' in x && 'dtype' in x && 'data' in x && Array.isArray((x as { shape: unknown }).shape);
}

/** A short description of any value, for error messages: `null`, `a string 'abc'`, `NaN`, `Tensor [2,3] float32`. */
export function describeValue(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'object' && looksLikeTensor(x)) return `Tensor [${x.shape.join(',')}] ${x.dtype}`;
  switch (typeof x) {
    case 'number':
      return String(x);
    case 'string':
      return `a string '${x.length > 24 ? `${x.slice(0, 24)}…` : x}'`;
    case 'boolean':
      return String(x);
    case 'bigint':
      return `a bigint ${x}n`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      if (Array.isArray(x)) return `an array of length ${x.length}`;
      if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
      return `an object (${Object.prototype.toString.call(x).slice(8, -1)})`;
  }
}

/** `x` must be a Tensor (not null, not a nested array). */
export function expectTensor(op: string, arg: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor, got ${describeValue(x)}`, arg);
}

/** `x` must be a Tensor or a plain finite-or-not number (broadcast operands of elementwise ops). */
export function expectTensorLike(op: string, arg: string, x: unknown): asserts x is Tensor | number {
  if (!(x instanceof Tensor) && typeof x !== 'number') {
    throw new DTypeError(op, `${arg} must be a Tensor or a number, got ${describeValue(x)}`, arg);
  }
}

/** The range a number must lie in; every bound is optional. `finite` defaults to true. */
export interface NumberRule {
  /** Must be an integer (implies finite). */
  integer?: boolean;
  /** Allow NaN and ±∞ (default false). */
  nonFinite?: boolean;
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive upper bound. */
  below?: number;
}

function ruleText(rule: NumberRule): string {
  const parts: string[] = [];
  parts.push(rule.integer ? 'an integer' : rule.nonFinite ? 'a number' : 'a finite number');
  if (rule.min !== undefined) parts.push(`≥ ${rule.min}`);
  if (rule.above !== undefined) parts.push(`> ${rule.above}`);
  if (rule.max !== undefined) parts.push(`≤ ${rule.max}`);
  if (rule.below !== undefined) parts.push(`< ${rule.below}`);
  return parts.join(' ');
}

/** `x` must be a number obeying `rule` (finite by default); returns it. */
export function expectNumber(op: string, arg: string, x: unknown, rule: NumberRule = {}): number {
  if (typeof x !== 'number') throw new DTypeError(op, `${arg} must be ${ruleText(rule)}, got ${describeValue(x)}`, arg);
  const ok =
    (rule.integer ? Number.isInteger(x) : rule.nonFinite ? true : Number.isFinite(x)) &&
    (rule.min === undefined || x >= rule.min) &&
    (rule.above === undefined || x > rule.above) &&
    (rule.max === undefined || x <= rule.max) &&
    (rule.below === undefined || x < rule.below);
  if (!ok) throw new ValueError(op, `${arg} must be ${ruleText(rule)}, got ${describeValue(x)}`, arg);
  return x;
}

/** `x` must be an integer obeying `rule`; returns it. */
export function expectInteger(op: string, arg: string, x: unknown, rule: Omit<NumberRule, 'integer' | 'nonFinite'> = {}): number {
  return expectNumber(op, arg, x, { ...rule, integer: true });
}

/** `x` must be a function (a callback, a loss, a rule). */
export function expectFunction(op: string, arg: string, x: unknown): asserts x is (...args: never[]) => unknown {
  if (typeof x !== 'function') throw new DTypeError(op, `${arg} must be a function, got ${describeValue(x)}`, arg);
}

/** `x` must be a `Generator` (callers substitute `defaultGenerator()` for undefined before calling this). */
export function expectGenerator(op: string, arg: string, x: unknown): Generator {
  if (!(x instanceof Generator)) throw new DTypeError(op, `${arg} must be a Generator, got ${describeValue(x)}`, arg);
  return x;
}

/** `x` must be `true` or `false`. */
export function expectBoolean(op: string, arg: string, x: unknown): boolean {
  if (typeof x !== 'boolean') throw new DTypeError(op, `${arg} must be true or false, got ${describeValue(x)}`, arg);
  return x;
}

/** `x` must be one of `choices` (strings or other primitives); returns it. */
export function expectOneOf<T extends string | number | boolean>(op: string, arg: string, x: unknown, choices: readonly T[]): T {
  if (!choices.includes(x as T)) {
    const list = choices.map((c) => (typeof c === 'string' ? `'${c}'` : String(c))).join(', ');
    throw new ValueError(op, `${arg} must be one of ${list}, got ${typeof x === 'string' ? `'${x}'` : describeValue(x)}`, arg);
  }
  return x as T;
}

/**
 * An options argument: `undefined` becomes `{}`; anything but a plain object (null, a number, an array, a Tensor)
 * is refused. With `known`, a key outside it is refused too (a misspelt option must not be ignored silently).
 */
export function expectOptions<T extends object>(op: string, arg: string, x: T | undefined, known?: readonly string[]): T {
  if (x === undefined) return {} as T;
  if (x === null || typeof x !== 'object' || Array.isArray(x) || looksLikeTensor(x)) {
    throw new DTypeError(op, `${arg} must be an options object, got ${describeValue(x)}`, arg);
  }
  if (known !== undefined) {
    for (const key of Object.keys(x)) {
      if (!known.includes(key)) {
        throw new ValueError(op, `${arg} has an unknown option '${key}' (known: ${known.join(', ')})`, `${arg}.${key}`);
      }
    }
  }
  return x;
}

/**
 * An options argument that must be given (its fields are required): `undefined`, null, a primitive or an array is
 * refused with `needs`, what it must hold (`'with factor and maxPositions'`), named in the message; otherwise as
 * `expectOptions` with `known`.
 */
export function expectRequiredOptions<T extends object>(op: string, x: T | undefined, known: readonly string[], needs: string, arg = 'options'): T {
  if (x === undefined || x === null || typeof x !== 'object' || Array.isArray(x)) {
    throw new DTypeError(op, `${arg} must be an options object ${needs}, got ${describeValue(x)}`, arg);
  }
  return expectOptions(op, arg, x, known);
}

/** An optional dtype name, 'float32' or 'float64'; `undefined` gives `fallback` (itself `undefined` when not given). */
export function optionalDType(op: string, arg: string, x: unknown): DType | undefined;
export function optionalDType(op: string, arg: string, x: unknown, fallback: DType): DType;
export function optionalDType(op: string, arg: string, x: unknown, fallback?: DType): DType | undefined {
  return x === undefined ? fallback : expectOneOf<DType>(op, arg, x, ['float32', 'float64']);
}

/**
 * An optional Generator: `undefined` gives `fallback()` (`undefined` without one; pass `defaultGenerator` for the
 * global generator); null, numbers and other objects are refused.
 */
export function optionalGenerator(op: string, arg: string, x: unknown): Generator | undefined;
export function optionalGenerator(op: string, arg: string, x: unknown, fallback: () => Generator): Generator;
export function optionalGenerator(op: string, arg: string, x: unknown, fallback?: () => Generator): Generator | undefined {
  return x === undefined ? fallback?.() : expectGenerator(op, arg, x);
}

/** An element count must fit in one typed array (at most `MAX_TENSOR_ELEMENTS`). */
export function expectAllocatable(op: string, arg: string, elements: number, shape?: readonly number[]): void {
  if (!(elements <= MAX_TENSOR_ELEMENTS)) {
    const what = shape === undefined ? `${elements} elements` : `shape [${shape.join(',')}] (${elements} elements)`;
    throw new ValueError(op, `${arg} needs ${what}, more than one tensor can hold (at most 2³¹ − 1)`, arg);
  }
}

/**
 * A size (a layer width, a head count, a sequence length; `min = 0` for a count that may be empty): an integer ≥ `min`
 * small enough to allocate (2**40 is refused with a ValueError, not left to a RangeError). Returns it.
 */
export function expectSize(op: string, arg: string, x: unknown, min = 1): number {
  const n = expectInteger(op, arg, x, { min });
  expectAllocatable(op, arg, n);
  return n;
}

/**
 * A shape: an array of non-negative integers whose product fits in one tensor. Returns the element count.
 * `zeros([2, -3])`, `zeros([1.5, 2])` and `zeros([2 ** 20, 2 ** 20])` are all refused here.
 */
export function expectShape(op: string, arg: string, shape: unknown): number {
  if (!Array.isArray(shape)) throw new DTypeError(op, `${arg} must be an array of sizes, got ${describeValue(shape)}`, arg);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new ShapeError(op, `invalid shape ${arg}=[${shape.map(String).join(',')}] (sizes must be non-negative integers)`, arg);
    }
    n *= d;
  }
  expectAllocatable(op, arg, n, shape as number[]);
  return n;
}

/** Every element of `data` must be finite (positions, frequencies, tables); `what` names the argument. */
export function expectFiniteValues(op: string, arg: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isFinite(v)) throw new ValueError(op, `${arg} must hold finite numbers, got ${v} at flat index ${i}`, arg);
  }
}

/**
 * Positions: a Tensor with a sequence axis ([T], [B, T], or an encoding's [T, axes]) of finite values (a NaN or ±∞
 * position would give NaN rows of q and k). A 0-d tensor is one number, not a sequence, and is refused.
 */
export function expectPositions(op: string, arg: string, x: unknown): asserts x is Tensor {
  expectTensor(op, arg, x);
  if (x.ndim === 0) throw new ShapeError(op, `${arg}=[${x.shape.join(',')}] must have a sequence axis ([T] or [B, T])`, arg);
  expectFiniteValues(op, arg, x.data);
}

/**
 * Run `call` — work that `op` hands to a part the user supplied or built (a positional encoding inside an
 * attention layer, a base encoding inside PSCRoPE) — so that a typed argument error it throws still starts with
 * `op`, the call the user made: `MultiHeadAttention.forward: RoPE: angles do not cover the sequence …`.
 * Other errors pass through unchanged.
 */
export function asPartOf<T>(op: string, call: () => T): T {
  if (typeof op !== 'string' || op === '') throw new DTypeError('asPartOf', `op must be the name of the call, got ${describeValue(op)}`, 'op');
  expectFunction('asPartOf', 'call', call);
  try {
    return call();
  } catch (e) {
    for (const E of [ShapeError, DTypeError, ValueError, AxisError, IndexError]) {
      if (e instanceof E && !e.message.startsWith(`${op}:`)) throw new E(op, e.message, e.arg);
    }
    throw e;
  }
}
