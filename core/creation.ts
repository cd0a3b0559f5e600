/** Tensor factories. Random ones take an explicit `Generator`: same seed, same numbers, everywhere. */
import { allocate, isDType, type DType, type TypedArray } from './dtype.js';
import { DTypeError, ShapeError, ValueError } from './errors.js';
import { Generator } from './random.js';
import { checkShape, fmtShape, sizeOf, type Shape } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

const DEFAULT_DTYPE: DType = 'float32';

/**
 * Make a tensor from nested arrays, a flat array or a typed array; `shape` reshapes flat input.
 * `tensor([[1, 2], [3, 4]])`, `tensor([1, 2, 3, 4], [2, 2], { dtype: 'float64' })`, `tensor(3)`.
 * A Float64Array keeps float64 unless `dtype` says otherwise; everything else defaults to float32.
 */
export function tensor(values: NestedArray | ArrayLike<number>, shape?: Shape | TensorOptions, options: TensorOptions = {}): Tensor {
  let opts = options;
  let explicitShape: Shape | undefined;
  if (shape !== undefined && !Array.isArray(shape)) opts = shape as TensorOptions;
  else explicitShape = shape as Shape | undefined;
  const dtype = resolveDType('tensor', opts.dtype, values instanceof Float64Array ? 'float64' : DEFAULT_DTYPE);
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof values === 'number') {
    flat = [values];
    inferred = [];
  } else if (ArrayBuffer.isView(values) || !Array.isArray(values) || values.every((v) => typeof v === 'number')) {
    flat = values as ArrayLike<number>;
    inferred = [flat.length];
  } else {
    inferred = nestedShape(values);
    flat = flattenNested(values, inferred);
  }
  const finalShape = explicitShape ?? inferred;
  checkShape('tensor', finalShape);
  if (sizeOf(finalShape) !== flat.length) {
    throw new ShapeError('tensor', `${flat.length} values do not fill shape=${fmtShape(finalShape)} (${sizeOf(finalShape)} elements)`, 'shape');
  }
  const data = allocate(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) data[i] = flat[i]!;
  return new Tensor(data, finalShape, opts.requiresGrad ?? false);
}

/** Wrap an existing typed array without copying. */
export function fromArray(data: TypedArray, shape: Shape, options: { requiresGrad?: boolean } = {}): Tensor {
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  return filled('full', shape, value, options);
}

export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  return filled('zeros', shape, 0, options);
}

export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return filled('ones', shape, 1, options);
}

export function zerosLike(x: Tensor, options: TensorOptions = {}): Tensor {
  return filled('zerosLike', x.shape, 0, { dtype: x.dtype, ...options });
}

export function onesLike(x: Tensor, options: TensorOptions = {}): Tensor {
  return filled('onesLike', x.shape, 1, { dtype: x.dtype, ...options });
}

/** `full` under the name of the factory the caller used (errors name that one). */
function filled(op: string, shape: Shape, value: number, options: TensorOptions): Tensor {
  checkShape(op, shape);
  const data = allocate(resolveDType(op, options.dtype), sizeOf(shape));
  if (value !== 0) data.fill(value);
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

/**
 * Values start, start+step, … < end (like `torch.arange`); `arange(5)` is 0..4. As in torch the length is
 * ⌈(end − start)/step⌉, and a step whose sign points away from end is an error, not an empty tensor.
 */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  const [lo, hi] = end === undefined ? [0, start] : [start, end];
  if (step === 0 || !Number.isFinite(step)) throw new ValueError('arange', `step must be finite and non-zero, got step=${step}`, 'step');
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new ValueError('arange', `start and end must be finite, got start=${lo}, end=${hi}`, 'end');
  if ((step > 0 && hi < lo) || (step < 0 && hi > lo)) {
    throw new ValueError('arange', `step=${step} points away from end — start=${lo}, end=${hi} (the sign of step must match end − start)`, 'step');
  }
  const n = Math.max(0, Math.ceil((hi - lo) / step)); // max: ⌈−0⌉ is −0
  const data = allocate(resolveDType('arange', options.dtype), n);
  for (let i = 0; i < n; i++) data[i] = lo + i * step;
  return new Tensor(data, [n], options.requiresGrad ?? false);
}

/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new ValueError('linspace', `steps must be a non-negative integer, got steps=${steps}`, 'steps');
  const data = allocate(resolveDType('linspace', options.dtype), steps);
  const delta = steps > 1 ? (end - start) / (steps - 1) : 0;
  for (let i = 0; i < steps; i++) data[i] = i === steps - 1 && steps > 1 ? end : start + i * delta;
  return new Tensor(data, [steps], options.requiresGrad ?? false);
}

/** Identity matrix [n, m] (m defaults to n). */
export function eye(n: number, m = n, options: TensorOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const data = allocate(resolveDType('eye', options.dtype), n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return new Tensor(data, [n, m], options.requiresGrad ?? false);
}

/** Uniform on [low, high). */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const { low = 0, high = 1 } = options;
  return fillWith('rand', shape, options, (g) => low + (high - low) * g.random());
}

/** Normal with the given mean and std (standard normal by default). */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const { mean = 0, std = 1 } = options;
  return fillWith('randn', shape, options, (g) => mean + std * g.normal());
}

/** Uniform integers in [low, high), stored as floats. */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new ValueError('randint', `need integers low < high, got low=${low}, high=${high}`, 'high');
  }
  return fillWith('randint', shape, options, (g) => g.int(low, high));
}

function fillWith(op: string, shape: Shape, options: RandomOptions, draw: (g: Generator) => number): Tensor {
  checkShape(op, shape);
  const g = options.generator ?? new Generator(0);
  const data = allocate(resolveDType(op, options.dtype), sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(g);
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

function resolveDType(op: string, dtype: DType | undefined, fallback: DType = DEFAULT_DTYPE): DType {
  if (dtype === undefined) return fallback;
  if (!isDType(dtype)) throw new DTypeError(op, `unknown dtype '${String(dtype)}' (use 'float32' or 'float64')`, 'dtype');
  return dtype;
}

function nestedShape(values: NestedArray[]): number[] {
  const shape: number[] = [];
  let level: NestedArray = values;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0]!;
  }
  return shape;
}

function flattenNested(values: NestedArray[], shape: number[]): number[] {
  const out: number[] = [];
  const walk = (v: NestedArray, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number') {
        const got = Array.isArray(v) ? 'an array' : `a ${typeof v}`;
        throw new ShapeError('tensor', `ragged nested array: values${path} is ${got}, expected a number (all rows must have equal length)`, 'values');
      }
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new ShapeError('tensor', `ragged nested array: values${path} has ${Array.isArray(v) ? `length ${v.length}` : 'a number'}, expected length ${shape[depth]} (all rows must have equal length)`, 'values');
    }
    for (let i = 0; i < v.length; i++) walk(v[i]!, depth + 1, `${path}[${i}]`);
  };
  walk(values, 0, '');
  return out;
}
