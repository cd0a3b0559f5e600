/**
 * Tensor factories. Random ones draw from `options.generator` (same seed, same numbers, everywhere) or else from the
 * process-wide default generator (`defaultGenerator()`, reseeded by `manualSeed(n)`). Every argument is checked here,
 * at the factory the user called.
 */
import {
  describeValue, expectAllocatable, expectBoolean, expectInteger, expectNumber, expectOptions, expectShape, expectTensor,
} from './args.js';
import { allocate, isDType, type DType, type TypedArray } from './dtype.js';
import { DTypeError, ShapeError, ValueError } from './errors.js';
import { checkIntRange, defaultGenerator, Generator } from './random.js';
import { fmtShape, type Shape } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';

/** Options of the tensor creators (`tensor`, `full`, `zeros`, `ones`, …): `dtype`, `requiresGrad`. */
export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

/** Options of the random creators (`rand`, `randn`, `randint`): `generator`. */
export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

const DEFAULT_DTYPE: DType = 'float32';

/**
 * Make a tensor from nested arrays, a flat array or a typed array; `shape` reshapes flat input.
 * `tensor([[1, 2], [3, 4]])`, `tensor([1, 2, 3, 4], [2, 2], { dtype: 'float64' })`, `tensor(3)`.
 * A Float64Array keeps float64 unless `dtype` says otherwise; everything else defaults to float32.
 * Values must be numbers (NaN and ±∞ are data and kept); a string, a ragged nested array or an oversized shape is
 * refused here with a typed error.
 */
export function tensor(values: NestedArray | ArrayLike<number>, shape?: Shape | TensorOptions, options?: TensorOptions): Tensor {
  const op = 'tensor';
  let opts: TensorOptions;
  let explicitShape: Shape | undefined;
  if (shape === undefined || Array.isArray(shape)) {
    explicitShape = shape as Shape | undefined;
    opts = tensorOptions(op, options);
  } else if (shape !== null && typeof shape === 'object' && !(shape instanceof Tensor) && !ArrayBuffer.isView(shape)) {
    if (options !== undefined) throw new DTypeError(op, `shape must be an array of sizes when options are passed, got ${describeValue(shape)}`, 'shape');
    opts = tensorOptions(op, shape as TensorOptions);
  } else {
    throw new DTypeError(op, `shape must be an array of sizes or an options object, got ${describeValue(shape)}`, 'shape');
  }
  const dtype = resolveDType(op, opts.dtype, values instanceof Float64Array ? 'float64' : DEFAULT_DTYPE);
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof values === 'number') {
    flat = [values];
    inferred = [];
  } else if (Array.isArray(values)) {
    if (isNumberArray(values)) {
      flat = values as number[];
      inferred = [flat.length];
    } else {
      inferred = nestedShape(values);
      flat = flattenNested(values, inferred);
    }
  } else if (ArrayBuffer.isView(values) && !(values instanceof DataView) && !(values instanceof BigInt64Array) && !(values instanceof BigUint64Array)) {
    flat = values as unknown as ArrayLike<number>;
    inferred = [flat.length];
  } else {
    const hint = values instanceof Tensor ? ' (to copy a tensor use x.clone(), to share it x.detach())' : '';
    throw new DTypeError(op, `values must be a number, a (nested) array of numbers or a numeric typed array, got ${describeValue(values)}${hint}`, 'values');
  }
  const finalShape = explicitShape ?? inferred;
  const n = expectShape(op, 'shape', finalShape);
  if (n !== flat.length) {
    throw new ShapeError(op, `${flat.length} values do not fill shape=${fmtShape(finalShape)} (${n} elements)`, 'shape');
  }
  const data = allocate(dtype, flat.length, op, 'values');
  for (let i = 0; i < flat.length; i++) data[i] = flat[i]!;
  return new Tensor(data, finalShape, opts.requiresGrad ?? false);
}

/**
 * Wrap an existing Float32Array or Float64Array without copying (the dtype follows the array). The shape must be
 * non-negative integers whose product is `data.length`.
 */
export function fromArray(data: TypedArray, shape: Shape, options?: { requiresGrad?: boolean }): Tensor {
  const op = 'fromArray';
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    throw new DTypeError(op, `data must be a Float32Array or a Float64Array, got ${describeValue(data)} (use tensor(values) to copy other arrays)`, 'data');
  }
  const n = expectShape(op, 'shape', shape);
  const opts = expectOptions(op, 'options', options, ['requiresGrad']);
  const requiresGrad = opts.requiresGrad === undefined ? false : expectBoolean(op, 'options.requiresGrad', opts.requiresGrad);
  if (n !== data.length) {
    throw new ShapeError(op, `data has ${data.length} elements but shape=${fmtShape(shape)} needs ${n}`, 'shape');
  }
  return new Tensor(data, shape, requiresGrad);
}

/** A tensor of `shape` filled with `value` (any number; NaN and ±∞ included). */
export function full(shape: Shape, value: number, options?: TensorOptions): Tensor {
  expectNumber('full', 'value', value, { nonFinite: true });
  return filled('full', shape, value, options);
}

/** A tensor of `shape` filled with 0 (float32 unless `options.dtype` says otherwise). */
export function zeros(shape: Shape, options?: TensorOptions): Tensor {
  return filled('zeros', shape, 0, options);
}

/** A tensor of `shape` filled with 1 (float32 unless `options.dtype` says otherwise). */
export function ones(shape: Shape, options?: TensorOptions): Tensor {
  return filled('ones', shape, 1, options);
}

/** Zeros with x's shape and (unless `options.dtype` says otherwise) dtype. */
export function zerosLike(x: Tensor, options?: TensorOptions): Tensor {
  expectTensor('zerosLike', 'x', x);
  return filled('zerosLike', x.shape, 0, { dtype: x.dtype, ...tensorOptions('zerosLike', options) });
}

/** Ones with x's shape and (unless `options.dtype` says otherwise) dtype. */
export function onesLike(x: Tensor, options?: TensorOptions): Tensor {
  expectTensor('onesLike', 'x', x);
  return filled('onesLike', x.shape, 1, { dtype: x.dtype, ...tensorOptions('onesLike', options) });
}

/** `full` under the name of the factory the caller used (errors name that one). */
function filled(op: string, shape: Shape, value: number, options: TensorOptions | undefined): Tensor {
  const n = expectShape(op, 'shape', shape);
  const opts = tensorOptions(op, options);
  const data = allocate(resolveDType(op, opts.dtype), n, op, 'shape');
  if (value !== 0) data.fill(value);
  return new Tensor(data, shape, opts.requiresGrad ?? false);
}

/**
 * Values start, start+step, … < end (like `torch.arange`); `arange(5)` is 0..4. As in torch the length is
 * ⌈(end − start)/step⌉, and a step whose sign points away from end is an error, not an empty tensor.
 */
export function arange(start: number, end?: number, step = 1, options?: TensorOptions): Tensor {
  const op = 'arange';
  expectNumber(op, 'start', start);
  if (end !== undefined) expectNumber(op, 'end', end);
  expectNumber(op, 'step', step);
  if (step === 0) throw new ValueError(op, `step must be finite and non-zero, got step=${step}`, 'step');
  const opts = tensorOptions(op, options);
  const [lo, hi] = end === undefined ? [0, start] : [start, end];
  if ((step > 0 && hi < lo) || (step < 0 && hi > lo)) {
    throw new ValueError(op, `step=${step} points away from end — start=${lo}, end=${hi} (the sign of step must match end − start)`, 'step');
  }
  const n = Math.max(0, Math.ceil((hi - lo) / step)); // max: ⌈−0⌉ is −0
  expectAllocatable(op, 'end', n);
  const data = allocate(resolveDType(op, opts.dtype), n, op, 'end');
  for (let i = 0; i < n; i++) data[i] = lo + i * step;
  return new Tensor(data, [n], opts.requiresGrad ?? false);
}

/** `steps` evenly spaced values from start to end inclusive (start and end finite). */
export function linspace(start: number, end: number, steps: number, options?: TensorOptions): Tensor {
  const op = 'linspace';
  expectNumber(op, 'start', start);
  expectNumber(op, 'end', end);
  expectInteger(op, 'steps', steps, { min: 0 });
  expectAllocatable(op, 'steps', steps);
  const opts = tensorOptions(op, options);
  const data = allocate(resolveDType(op, opts.dtype), steps, op, 'steps');
  const delta = steps > 1 ? (end - start) / (steps - 1) : 0;
  if (Number.isFinite(delta)) {
    for (let i = 0; i < steps; i++) data[i] = i === steps - 1 && steps > 1 ? end : start + i * delta;
  } else {
    // end − start overflows (finite endpoints near ±1.8e308): interpolate start·(1 − t) + end·t instead
    for (let i = 0; i < steps; i++) data[i] = i === steps - 1 ? end : start * (1 - i / (steps - 1)) + end * (i / (steps - 1));
  }
  return new Tensor(data, [steps], opts.requiresGrad ?? false);
}

/** Identity matrix [n, m] (m defaults to n). */
export function eye(n: number, m = n, options?: TensorOptions): Tensor {
  const op = 'eye';
  for (const [arg, d] of [['n', n], ['m', m]] as const) {
    expectNumber(op, arg, d, { nonFinite: true });
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `${arg} must be a non-negative integer (a matrix size), got ${arg}=${d}`, arg);
  }
  const size = expectShape(op, 'n', [n, m]);
  const opts = tensorOptions(op, options);
  const data = allocate(resolveDType(op, opts.dtype), size, op, 'n');
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return new Tensor(data, [n, m], opts.requiresGrad ?? false);
}

/**
 * Uniform on [low, high) (default [0, 1)); low ≤ high, both finite. Draws from `options.generator`, else from the
 * default generator (`defaultGenerator()`, which advances; `manualSeed(n)` reseeds it).
 */
export function rand(shape: Shape, options?: RandomOptions & { low?: number; high?: number }): Tensor {
  const op = 'rand';
  const opts = randomOptions(op, options, ['low', 'high']);
  const low = opts.low === undefined ? 0 : expectNumber(op, 'options.low', opts.low);
  const high = opts.high === undefined ? 1 : expectNumber(op, 'options.high', opts.high);
  if (!(low <= high) || !Number.isFinite(high - low)) {
    throw new ValueError(op, `need low ≤ high with a finite width high − low, got low=${low}, high=${high}`, 'options.high');
  }
  return fillWith(op, shape, opts, (g) => low + (high - low) * g.random());
}

/**
 * Normal with the given mean and std (standard normal by default); mean finite, std finite and ≥ 0. Draws from
 * `options.generator`, else from the default generator (which advances; `manualSeed(n)` reseeds it).
 */
export function randn(shape: Shape, options?: RandomOptions & { mean?: number; std?: number }): Tensor {
  const op = 'randn';
  const opts = randomOptions(op, options, ['mean', 'std']);
  const mean = opts.mean === undefined ? 0 : expectNumber(op, 'options.mean', opts.mean);
  const std = opts.std === undefined ? 1 : expectNumber(op, 'options.std', opts.std, { min: 0 });
  return fillWith(op, shape, opts, (g) => mean + std * g.normal());
}

/**
 * Uniform integers in [low, high), stored as floats; low < high, integers of magnitude < 2⁵³. Draws from
 * `options.generator`, else from the default generator (which advances; `manualSeed(n)` reseeds it).
 */
export function randint(low: number, high: number, shape: Shape, options?: RandomOptions): Tensor {
  const op = 'randint';
  checkIntRange(op, low, high);
  const width = high - low;
  // the draw of Generator.int without its per-call check (the bounds were checked once, above)
  return fillWith(op, shape, randomOptions(op, options, []), (g) => low + Math.floor(g.random() * width));
}

const TENSOR_OPTION_KEYS = ['dtype', 'requiresGrad'] as const;

/** The options argument of a factory: a plain object with known keys; `requiresGrad` a boolean. */
function tensorOptions<T extends TensorOptions>(op: string, options: T | undefined, extra: readonly string[] = []): T {
  const opts = expectOptions(op, 'options', options, [...TENSOR_OPTION_KEYS, ...extra]);
  if (opts.requiresGrad !== undefined) expectBoolean(op, 'options.requiresGrad', opts.requiresGrad);
  return opts;
}

function randomOptions<T extends RandomOptions>(op: string, options: T | undefined, extra: readonly string[]): T {
  const opts = tensorOptions(op, options, ['generator', ...extra]);
  if (opts.generator !== undefined && !(opts.generator instanceof Generator)) {
    throw new DTypeError(op, `options.generator must be a Generator, got ${describeValue(opts.generator)}`, 'options.generator');
  }
  return opts;
}

function fillWith(op: string, shape: Shape, options: RandomOptions, draw: (g: Generator) => number): Tensor {
  const n = expectShape(op, 'shape', shape);
  const dtype = resolveDType(op, options.dtype);
  const g = options.generator ?? defaultGenerator();
  const data = allocate(dtype, n, op, 'shape');
  for (let i = 0; i < data.length; i++) data[i] = draw(g);
  return new Tensor(data, shape, options.requiresGrad ?? false);
}

function resolveDType(op: string, dtype: DType | undefined, fallback: DType = DEFAULT_DTYPE): DType {
  if (dtype === undefined) return fallback;
  if (!isDType(dtype)) {
    const got = typeof dtype === 'string' ? `'${dtype}'` : describeValue(dtype);
    throw new DTypeError(op, `unknown dtype ${got} (use 'float32' or 'float64')`, 'dtype');
  }
  return dtype;
}

/** True if every entry of `values` (holes included) is a number. */
function isNumberArray(values: readonly unknown[]): values is number[] {
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'number') return false;
  return true;
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

/** Flatten a nested array of `shape` (from its first entries); a ragged row is a ShapeError, a non-number a DTypeError. */
function flattenNested(values: NestedArray[], shape: number[]): number[] {
  const out: number[] = [];
  const walk = (v: unknown, depth: number, path: string): void => {
    if (typeof v !== 'number' && !Array.isArray(v)) {
      throw new DTypeError('tensor', `values${path} is ${describeValue(v)}, expected a number or an array of numbers`, 'values');
    }
    if (depth === shape.length) {
      if (typeof v !== 'number') {
        throw new ShapeError('tensor', `ragged nested array: values${path} is an array, expected a number (all rows must have equal length)`, 'values');
      }
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new ShapeError('tensor', `ragged nested array: values${path} has ${Array.isArray(v) ? `length ${v.length}` : 'a number'}, expected length ${shape[depth]} (all rows must have equal length)`, 'values');
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, `${path}[${i}]`);
  };
  walk(values, 0, '');
  return out;
}
