import { expectAllocatable, MAX_TENSOR_ELEMENTS } from './args.js';
import { ValueError } from './errors.js';

/** Floating-point storage types: every tensor is a contiguous Float32Array or Float64Array. */
export type DType = 'float32' | 'float64';
/** The storage of a tensor's `data`: Float32Array for 'float32', Float64Array for 'float64'. */
export type TypedArray = Float32Array | Float64Array;

export const DTYPES: readonly DType[] = ['float32', 'float64'];

export function isDType(x: unknown): x is DType {
  return x === 'float32' || x === 'float64';
}

/**
 * A zeroed buffer of `length` elements. `op` names the public function that asked (errors start with it) and `arg`
 * the argument whose shape set the size: a length that is not a non-negative integer, or more than one tensor may
 * hold (`MAX_TENSOR_ELEMENTS`), is a `ValueError` from `op`, never the engine's RangeError.
 */
export function allocate(dtype: DType, length: number, op = 'allocate', arg = 'length'): TypedArray {
  if (!(length >= 0 && length <= MAX_TENSOR_ELEMENTS && Number.isInteger(length))) {
    if (!(length >= 0 && Number.isInteger(length))) {
      throw new ValueError(op, `${arg} needs ${length} elements (a length must be a non-negative integer)`, arg);
    }
    expectAllocatable(op, arg, length);
  }
  return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
}

export function dtypeOf(data: TypedArray): DType {
  return data instanceof Float64Array ? 'float64' : 'float32';
}

/** PyTorch's promotion among floating types: float64 wins. */
export function promoteTypes(a: DType, b: DType): DType {
  return a === 'float64' || b === 'float64' ? 'float64' : 'float32';
}
