/**
 * Argument checks of nn/'s entries, built on core's (core/args.ts: expectSize, expectPositions, optionalDType,
 * optionalGenerator, expectRequiredOptions, … live there, once for the whole library): each runs once at the class or
 * function the user called, never inside a loop, and throws a typed error whose message starts with that name.
 * nn/index.ts exports the two that models built on nn/ need (expectWeight, expectEncodingFits); the rest are internal.
 */
import {
  DTypeError, Module, ShapeError, Tensor, describeValue, expectAllocatable, expectFunction, expectNumber, expectTensor, fmtShape, type DType,
} from '../core/index.js';
import { PositionalEncoding } from '../positional/index.js';
import { KVCache } from './kv-cache.js';

/** A weight [rows, cols] must fit in one tensor. */
export function expectWeight(op: string, arg: string, rows: number, cols: number): void {
  expectAllocatable(op, arg, rows * cols, [rows, cols]);
}

/** An optional boolean option. */
export function optionalBoolean(op: string, arg: string, x: unknown): boolean | undefined {
  if (x === undefined) return undefined;
  if (typeof x !== 'boolean') throw new DTypeError(op, `${arg} must be true or false, got ${describeValue(x)}`, arg);
  return x;
}

/** An optional dropout probability in [0, 1). */
export function optionalProbability(op: string, arg: string, x: unknown): number | undefined {
  return x === undefined ? undefined : expectNumber(op, arg, x, { min: 0, below: 1 });
}

/** An optional positional encoding (a PositionalEncoding instance). */
export function optionalPositional(op: string, arg: string, x: unknown): PositionalEncoding | undefined {
  if (x === undefined) return undefined;
  if (!(x instanceof PositionalEncoding)) throw new DTypeError(op, `${arg} must be a PositionalEncoding, got ${describeValue(x)}`, arg);
  return x;
}

/** An optional KV cache (a KVCache or subclass). */
export function optionalCache(op: string, arg: string, x: unknown): KVCache | undefined {
  if (x === undefined) return undefined;
  if (!(x instanceof KVCache)) throw new DTypeError(op, `${arg} must be a KVCache, got ${describeValue(x)}`, arg);
  return x;
}

/** x must be a Tensor [..., dim] (with `dtype`, the layer's weights' dtype, when given). */
export function expectFeatures(op: string, arg: string, x: unknown, dim: number, dtype?: DType): asserts x is Tensor {
  expectTensor(op, arg, x);
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== dim) throw new ShapeError(op, `${arg}=${fmtShape(x.shape)} must end in ${dim} features ([..., ${dim}])`, arg);
  expectDTypeOf(op, arg, x, dtype);
}

/** x must be a Tensor [B, T, dim] (with `dtype`, the layer's weights' dtype, when given). */
export function expectSequence(op: string, arg: string, x: unknown, dim: number, dtype?: DType): asserts x is Tensor {
  expectTensor(op, arg, x);
  if (x.ndim !== 3 || x.shape[2] !== dim) throw new ShapeError(op, `${arg}=${fmtShape(x.shape)} must be [B, T, ${dim}]`, arg);
  expectDTypeOf(op, arg, x, dtype);
}

/** A tensor's dtype must be the layer's (its weights'): mixing float32 and float64 is refused, not cast silently. */
function expectDTypeOf(op: string, arg: string, x: Tensor, dtype: DType | undefined): void {
  if (dtype !== undefined && x.dtype !== dtype) {
    throw new DTypeError(op, `${arg} is ${x.dtype} but the layer's weights are ${dtype} (cast one: x.cast('${dtype}') or module.to('${x.dtype}'))`, arg);
  }
}

/**
 * An encoding built for another head size (`headDim` differs) is refused when the layer is built, not at its
 * first forward inside the encoding.
 */
export function expectEncodingFits(op: string, arg: string, positional: PositionalEncoding, headDim: number): void {
  const own = (positional as { headDim?: unknown }).headDim;
  if (typeof own === 'number' && own !== headDim) {
    throw new ShapeError(op, `${arg} '${positional.name}' was built for headDim=${own}, but this layer's heads have headDim=${headDim}`, arg);
  }
}

/** `x` must be a Module. */
export function expectModule(op: string, arg: string, x: unknown): asserts x is Module {
  if (!(x instanceof Module)) throw new DTypeError(op, `${arg} must be a Module, got ${describeValue(x)}`, arg);
}


/** An optional function. */
export function optionalFunction(op: string, arg: string, x: unknown): void {
  if (x !== undefined) expectFunction(op, arg, x);
}
