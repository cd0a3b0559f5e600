/**
 * Elementwise ops with NumPy broadcasting, forward and backward side by side. Backward rules return gradients
 * shaped like the output; the engine sums broadcast axes down to each input (autograd.ts, fitGradient).
 */
import { expectBoolean, expectGenerator, expectNumber, expectOneOf, expectOptions, expectTensor } from '../args.js';
import { isGradEnabled, recordOp } from '../autograd.js';
import { allocate, isDType, promoteTypes, type DType } from '../dtype.js';
import { DTypeError, ValueError } from '../errors.js';
import {
  binaryKernel, derivativeKernel, mapTernary, unaryKernel, type BinaryFn, type BinaryKernel, type UnaryFn,
} from '../kernels/elementwise.js';
import { erf } from '../kernels/special.js';
import { kernels, type UnaryKernelName } from '../backend.js';
import { defaultGenerator, Generator } from '../random.js';
import { broadcastShapes, sizeOf } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';

// ── helpers ──

/** A plain number becomes a rank-0 tensor of `like`'s dtype. */
function asTensor(x: TensorLike, like: Tensor | null, op: string, arg: string): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x !== 'number') throw new DTypeError(op, `${arg} must be a Tensor or a number, got ${typeof x}`, arg);
  const dtype: DType = like === null ? 'float32' : like.dtype;
  const data = allocate(dtype, 1);
  data[0] = x;
  return new Tensor(data, []);
}

function operands(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  const ta = a instanceof Tensor ? a : null;
  const tb = b instanceof Tensor ? b : null;
  return [asTensor(a, tb, op, 'a'), asTensor(b, ta, op, 'b')];
}

/** Rules written in ops are differentiable again (`createGraph`); those reading no saved value say so. */
const RULE_OF_OPS = { differentiableBackward: true } as const;
const RULE_OF_OPS_READING_NOTHING = { differentiableBackward: true, saved: [] } as const;

/** A binary rule is built from these ops, so it is differentiable again (`createGraph`). */
type BinaryRule = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null];

function binary(op: string, kernel: BinaryKernel, a: TensorLike, b: TensorLike, rule: BinaryRule | null, readsValues: boolean): Tensor {
  const [x, y] = operands(op, a, b);
  const shape = broadcastShapes(x.shape, y.shape, op);
  const out = new Tensor(kernel(x.data, x.shape, y.data, y.shape, allocate(promoteTypes(x.dtype, y.dtype), sizeOf(shape), op), shape), shape);
  if (rule === null) return out;
  return recordOp(op, out, [x, y], (g) => rule(g, x, y, out), readsValues ? RULE_OF_OPS : RULE_OF_OPS_READING_NOTHING);
}

/**
 * A broadcasting binary op z = f(a, b) on its own compiled loop, with its backward rule (null: no gradient).
 * `readsValues: false` for rules that never read a, b or z (add, sub): writing them in place later is harmless.
 */
function defineBinary(op: string, f: BinaryFn, rule: BinaryRule | null, readsValues = true): (a: TensorLike, b: TensorLike) => Tensor {
  const kernel = binaryKernel(f);
  return (a, b) => binary(op, kernel, a, b, rule, readsValues);
}

/**
 * A unary op y = f(x) whose derivative dy/dx is given twice: as a scalar function of x and y (the compiled loop of
 * an ordinary backward) and as the same formula in ops (`dydxOps`, used when a `createGraph` backward records
 * the rule, so it can be differentiated again).
 */
function defineUnary(op: string, f: UnaryFn, dydx: BinaryFn, dydxOps: (x: Tensor, y: Tensor) => Tensor, backendKernel?: UnaryKernelName): (x: Tensor) => Tensor {
  const forward = unaryKernel(f);
  const derivative = derivativeKernel(dydx);
  return (x) => {
    checkTensor(op, x);
    const y = allocate(x.dtype, x.size);
    // the active backend's map where it has one for this op and takes the call (core/backend.ts), else the JS loop
    if (backendKernel === undefined || !kernels.unary?.(backendKernel, x.data, y)) forward(x.data, y);
    const out = new Tensor(y, x.shape);
    return recordOp(
      op,
      out,
      [x],
      (g) => [isGradEnabled() ? mul(g, dydxOps(x, out)) : new Tensor(derivative(g.data, x.data, out.data, allocate(x.dtype, x.size)), x.shape)],
      RULE_OF_OPS,
    );
  };
}

function checkTensor(op: string, x: unknown, arg = 'x'): asserts x is Tensor {
  expectTensor(op, arg, x);
}

/** A tensor of the values of `kernel` on x, outside the graph (masks and signs whose own derivative is 0). */
function constantOf(x: Tensor, value: (v: number) => number): Tensor {
  const out = allocate(x.dtype, x.size);
  for (let i = 0; i < out.length; i++) out[i] = value(x.data[i]!);
  return new Tensor(out, x.shape);
}

// ── binary arithmetic ──

/** a + b elementwise, broadcast; a or b may be a number. The output has the broadcast shape and dtype of the inputs. */
export const add = defineBinary('add', (x, y) => x + y, (g) => [g, g], false);

/** a − b elementwise, broadcast; a or b may be a number. The output has the broadcast shape and dtype of the inputs. */
export const sub = defineBinary('sub', (x, y) => x - y, (g) => [g, neg(g)], false);

/** a · b elementwise, broadcast; a or b may be a number. The output has the broadcast shape and dtype of the inputs. */
export const mul = defineBinary('mul', (x, y) => x * y, (g, x, y) => [
  x.requiresGrad ? mul(g, y) : null,
  y.requiresGrad ? mul(g, x) : null,
]);

/** x / y; d/dx = 1/y, d/dy = −x/y² = −out/y. */
export const div = defineBinary('div', (x, y) => x / y, (g, x, y, out) => [
  x.requiresGrad ? div(g, y) : null,
  y.requiresGrad ? neg(mul(g, div(out, y))) : null,
]);

/**
 * x^y elementwise; d/dx = y·x^(y−1), d/dy = x^y·ln x. As torch: d/dx = 0 where y = 0 (x⁰ ≡ 1, even at x = 0) and
 * d/dy = 0 where x = 0 and y ≥ 0 (0^y ≡ 0 for y > 0), instead of 0·∞ = NaN.
 */
export const pow = defineBinary('pow', Math.pow, (g, x, y, out) => [
  x.requiresGrad ? mul(g, where(eq(y, 0), 0, mul(y, pow(x, sub(y, 1))))) : null,
  y.requiresGrad ? mul(g, where(mul(eq(x, 0), ge(y, 0)), 0, mul(out, log(x)))) : null,
]);

/** The share of the gradient that goes to a: 1 where a wins, ½ on ties, 0 where b wins. */
const maximumShare = defineBinary('maximum', (p, q) => (p > q ? 1 : p === q ? 0.5 : 0), null);
const minimumShare = defineBinary('minimum', (p, q) => (p < q ? 1 : p === q ? 0.5 : 0), null);

/** Elementwise max; NaN propagates; ties send half the gradient to each side (as torch.maximum). */
export const maximum = defineBinary('maximum', (x, y) => (x > y || x !== x ? x : y), (g, x, y) => {
  const share = maximumShare(x, y);
  return [x.requiresGrad ? mul(g, share) : null, y.requiresGrad ? mul(g, sub(1, share)) : null];
});

/** Elementwise min; NaN propagates; ties send half the gradient to each side (as torch.minimum). */
export const minimum = defineBinary('minimum', (x, y) => (x < y || x !== x ? x : y), (g, x, y) => {
  const share = minimumShare(x, y);
  return [x.requiresGrad ? mul(g, share) : null, y.requiresGrad ? mul(g, sub(1, share)) : null];
});

// ── comparisons (0/1 results, no gradient) ──

/** 1 where a = b, else 0, elementwise with broadcasting (not differentiable). */
export const eq = defineBinary('eq', (x, y) => +(x === y), null);
/** 1 where a ≠ b, else 0, elementwise with broadcasting (not differentiable). */
export const ne = defineBinary('ne', (x, y) => +(x !== y), null);
/** 1 where a < b, else 0, elementwise with broadcasting (not differentiable). */
export const lt = defineBinary('lt', (x, y) => +(x < y), null);
/** 1 where a ≤ b, else 0, elementwise with broadcasting (not differentiable). */
export const le = defineBinary('le', (x, y) => +(x <= y), null);
/** 1 where a > b, else 0, elementwise with broadcasting (not differentiable). */
export const gt = defineBinary('gt', (x, y) => +(x > y), null);
/** 1 where a ≥ b, else 0, elementwise with broadcasting (not differentiable). */
export const ge = defineBinary('ge', (x, y) => +(x >= y), null);

/** where(cond, a, b): a where cond ≠ 0, else b; all three broadcast together. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  checkTensor('where', cond, 'cond');
  const [x, y] = operands('where', a, b);
  const shape = broadcastShapes(broadcastShapes(cond.shape, x.shape, 'where', ['cond', 'a']), y.shape, 'where', ['cond·a', 'b']);
  const select = (c: number, p: number, q: number): number => (c !== 0 ? p : q);
  const out = new Tensor(
    mapTernary(select, cond.data, cond.shape, x.data, x.shape, y.data, y.shape, allocate(promoteTypes(x.dtype, y.dtype), sizeOf(shape)), shape),
    shape,
  );
  return recordOp('where', out, [x, y], (g) => [x.requiresGrad ? where(cond, g, 0) : null, y.requiresGrad ? where(cond, 0, g) : null], {
    differentiableBackward: true,
    saved: [cond],
  });
}

// ── unary ──

/** −x elementwise. */
export const neg = defineUnary('neg', (v) => -v, () => -1, (x) => constantOf(x, () => -1));
/** eˣ elementwise. */
export const exp = defineUnary('exp', Math.exp, (_, y) => y, (_, y) => y, 'exp');
/** The natural logarithm ln x elementwise (−∞ at 0, NaN below). */
export const log = defineUnary('log', Math.log, (v) => 1 / v, (x) => reciprocal(x));
/** √x elementwise. */
export const sqrt = defineUnary('sqrt', Math.sqrt, (_, y) => 0.5 / y, (_, y) => div(0.5, y));
/** 1/√x elementwise. */
export const rsqrt = defineUnary('rsqrt', (v) => 1 / Math.sqrt(v), (_, y) => -0.5 * y * y * y, (_, y) => mul(-0.5, mul(y, square(y))));
/** 1/x elementwise. */
export const reciprocal = defineUnary('reciprocal', (v) => 1 / v, (_, y) => -y * y, (_, y) => neg(square(y)));
/** |x| elementwise (its gradient is sign(x), 0 at 0). */
export const abs = defineUnary('abs', Math.abs, (v) => Math.sign(v), (x) => constantOf(x, Math.sign));
/** sin x elementwise (radians). */
export const sin = defineUnary('sin', Math.sin, Math.cos, (x) => cos(x));
/** cos x elementwise (radians). */
export const cos = defineUnary('cos', Math.cos, (v) => -Math.sin(v), (x) => neg(sin(x)));
/** tanh x elementwise. */
export const tanh = defineUnary('tanh', Math.tanh, (_, y) => 1 - y * y, (_, y) => sub(1, square(y)));
/** x² elementwise. */
export const square = defineUnary('square', (v) => v * v, (v) => 2 * v, (x) => mul(2, x));
/** max(x, 0); NaN propagates (as torch.relu). */
export const relu = defineUnary('relu', (v) => (v > 0 || Number.isNaN(v) ? v : 0), (v) => (v > 0 ? 1 : 0), (x) => constantOf(x, (v) => (v > 0 ? 1 : 0)));

function sigmoidScalar(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

/** σ(x) = 1/(1 + e⁻ˣ) elementwise. */
export const sigmoid = defineUnary('sigmoid', sigmoidScalar, (_, y) => y * (1 - y), (_, y) => mul(y, sub(1, y)), 'sigmoid');

/** SiLU / swish: x·σ(x); derivative σ(x)·(1 + x·(1 − σ(x))). */
export const silu = defineUnary(
  'silu',
  (v) => v * sigmoidScalar(v),
  (v) => {
    const s = sigmoidScalar(v);
    return s * (1 + v * (1 - s));
  },
  (x) => {
    const s = sigmoid(x);
    return mul(s, add(1, mul(x, sub(1, s))));
  },
  'silu',
);

/** softplus(x) = ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^−|x|); derivative σ(x). */
export const softplus = defineUnary('softplus', (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))), sigmoidScalar, (x) => sigmoid(x));

/** How `gelu` is computed: 'none' the exact x·Φ(x) with the normal CDF, 'tanh' the tanh approximation of GPT-2. */
export type GeluApproximation = 'none' | 'tanh';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_C = 0.044715;

/**
 * GELU (Hendrycks & Gimpel 2016): 'none' is x·Φ(x) with the exact erf; 'tanh' is
 * ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as torch.nn.functional.gelu(approximate='tanh').
 */
export function gelu(x: Tensor, approximate: GeluApproximation = 'none'): Tensor {
  checkTensor('gelu', x);
  return expectOneOf('gelu', 'approximate', approximate, ['none', 'tanh'] as const) === 'tanh' ? geluTanh(x) : geluErf(x);
}

/** Standard normal density φ(x) = e^(−x²/2)/√(2π), in ops. */
const normalPdf = (x: Tensor): Tensor => mul(INV_SQRT_2PI, exp(mul(-0.5, square(x))));

/** Standard normal CDF Φ(x) = ½(1 + erf(x/√2)); dΦ/dx = φ(x). Private: the derivative of GELU in ops. */
const normalCdf = defineUnary('gelu', (v) => 0.5 * (1 + erf(v * INV_SQRT_2)), (v) => INV_SQRT_2PI * Math.exp(-0.5 * v * v), normalPdf);

const geluErf = defineUnary(
  'gelu',
  (v) => 0.5 * v * (1 + erf(v * INV_SQRT_2)),
  (v) => 0.5 * (1 + erf(v * INV_SQRT_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v),
  (x) => add(normalCdf(x), mul(x, normalPdf(x))), // GELU′ = Φ(x) + x·φ(x)
);

// ½(1 + tanh u) = σ(2u), so the tanh form is x·σ(2u): one exp (Math.tanh is ~2× slower in V8), no cancellation.
// The derivative σ(2u) + 2x·σ(2u)(1 − σ(2u))·u' reads σ(2u) back from the output as y/x instead of a second exp;
// for |x| ≤ 1e-30, σ(2u) is ½ to double precision (and y/x would lose digits to underflow).
const geluTanh = defineUnary(
  'gelu',
  (v) => v * sigmoidScalar(2 * SQRT_2_OVER_PI * (v + GELU_C * v * v * v)),
  (v, y) => {
    const s = Math.abs(v) > 1e-30 ? y / v : 0.5;
    return s + 2 * v * s * (1 - s) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
  },
  (x) => {
    const x2 = square(x);
    const s = sigmoid(mul(2 * SQRT_2_OVER_PI, mul(x, add(1, mul(GELU_C, x2))))); // σ(2u), u = √(2/π)(x + 0.044715x³)
    return add(s, mul(mul(mul(2 * SQRT_2_OVER_PI, x), mul(s, sub(1, s))), add(1, mul(3 * GELU_C, x2))));
  },
  'geluTanh',
);

/** Clamp into [min, max]; the gradient passes where min ≤ x ≤ max. */
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  checkTensor('clamp', x);
  expectNumber('clamp', 'min', min, { nonFinite: true });
  expectNumber('clamp', 'max', max, { nonFinite: true });
  if (Number.isNaN(min) || Number.isNaN(max)) throw new ValueError('clamp', `min and max must not be NaN, got min=${min}, max=${max}`, Number.isNaN(min) ? 'min' : 'max');
  if (min > max) throw new ValueError('clamp', `min must not exceed max, got min=${min}, max=${max}`, 'min');
  const y = allocate(x.dtype, x.size);
  for (let i = 0; i < y.length; i++) {
    const v = x.data[i]!;
    y[i] = v < min ? min : v > max ? max : v;
  }
  const passes = (v: number): number => (v >= min && v <= max ? 1 : 0);
  return recordOp('clamp', new Tensor(y, x.shape), [x], (g) => {
    if (isGradEnabled()) return [mul(g, constantOf(x, passes))];
    const gx = allocate(x.dtype, x.size);
    for (let i = 0; i < gx.length; i++) gx[i] = passes(x.data[i]!) * g.data[i]!;
    return [new Tensor(gx, x.shape)];
  }, { differentiableBackward: true, saved: [x] });
}

/** Convert to another dtype; the gradient converts back. */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor('cast', x);
  if (!isDType(dtype)) throw new DTypeError('cast', `unknown dtype '${String(dtype)}' (use 'float32' or 'float64')`, 'dtype');
  if (dtype === x.dtype) return x;
  const out = new Tensor(dtype === 'float64' ? Float64Array.from(x.data) : Float32Array.from(x.data), x.shape);
  return recordOp('cast', out, [x], (g) => [g], { differentiableBackward: true, saved: [] });
}

/** A copy of x (new buffer), differentiable. */
export function clone(x: Tensor): Tensor {
  checkTensor('clone', x);
  return recordOp('clone', new Tensor(x.data.slice(), x.shape), [x], (g) => [g], { differentiableBackward: true, saved: [] });
}

/** Options of `dropout`: `generator`, `training`. */
export interface DropoutOptions {
  /** Where the mask is drawn from; default the process-wide generator (`defaultGenerator()`, `manualSeed`). */
  generator?: Generator;
  /** When false (evaluation), dropout is the identity. Default true. */
  training?: boolean;
}

/** Inverted dropout (Srivastava et al. 2014): zero each element with probability p, scale the rest by 1/(1 − p). */
export function dropout(x: Tensor, p: number, options: DropoutOptions = {}): Tensor {
  checkTensor('dropout', x);
  expectNumber('dropout', 'p', p, { min: 0, below: 1 });
  const { generator = defaultGenerator(), training = true } = expectOptions('dropout', 'options', options, ['generator', 'training']);
  expectGenerator('dropout', 'generator', generator);
  expectBoolean('dropout', 'training', training);
  if (!training || p === 0) return x;
  const mask = allocate(x.dtype, x.size);
  const keep = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = generator.random() < p ? 0 : keep;
  return mul(x, new Tensor(mask, x.shape));
}
