/**
 * Elementwise ops with NumPy broadcasting, forward and backward side by side. Backward rules return gradients
 * shaped like the output; the engine sums broadcast axes down to each input (autograd.ts, fitGradient).
 */
import { record } from '../autograd.js';
import { allocate, isDType, promoteTypes, type DType } from '../dtype.js';
import { DTypeError, ValueError } from '../errors.js';
import { mapBinary, mapTernary, mapUnary, type BinaryFn, type UnaryFn } from '../kernels/elementwise.js';
import { erf } from '../kernels/special.js';
import type { Generator } from '../random.js';
import { broadcastShapes, sizeOf } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';

// ── helpers ──

/** A plain number becomes a rank-0 tensor of `like`'s dtype. */
export function asTensor(x: TensorLike, like: Tensor | null, op: string, arg: string): Tensor {
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

type BinaryRule = (g: Tensor, a: Tensor, b: Tensor, out: Tensor) => [Tensor | null, Tensor | null];

function binary(op: string, f: BinaryFn, a: TensorLike, b: TensorLike, rule: BinaryRule | null): Tensor {
  const [x, y] = operands(op, a, b);
  const shape = broadcastShapes(x.shape, y.shape, op);
  const out = new Tensor(
    mapBinary(f, x.data, x.shape, y.data, y.shape, allocate(promoteTypes(x.dtype, y.dtype), sizeOf(shape)), shape),
    shape,
  );
  if (rule === null) return out;
  return record(op, out, [x, y], (g) => rule(g, x, y, out));
}

/** Unary op y = f(x) with derivative dy/dx given as a function of x and y. */
function unary(op: string, x: Tensor, f: UnaryFn, dydx: (x: number, y: number) => number): Tensor {
  checkTensor(op, x);
  const out = new Tensor(mapUnary(f, x.data, allocate(x.dtype, x.size)), x.shape);
  return record(op, out, [x], (g) => {
    const gx = allocate(x.dtype, x.size);
    const xs = x.data;
    const ys = out.data;
    const gs = g.data;
    for (let i = 0; i < gx.length; i++) gx[i] = gs[i]! * dydx(xs[i]!, ys[i]!);
    return [new Tensor(gx, x.shape)];
  });
}

function checkTensor(op: string, x: unknown, arg = 'x'): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor, got ${x === null ? 'null' : typeof x}`, arg);
}

// ── binary arithmetic ──

export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary('add', (x, y) => x + y, a, b, (g) => [g, g]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary('sub', (x, y) => x - y, a, b, (g) => [g, neg(g)]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary('mul', (x, y) => x * y, a, b, (g, x, y) => [
    x.requiresGrad ? mul(g, y) : null,
    y.requiresGrad ? mul(g, x) : null,
  ]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  // d(x/y)/dx = 1/y, d(x/y)/dy = −x/y² = −out/y
  return binary('div', (x, y) => x / y, a, b, (g, x, y, out) => [
    x.requiresGrad ? div(g, y) : null,
    y.requiresGrad ? neg(mul(g, div(out, y))) : null,
  ]);
}

/**
 * x^y elementwise; d/dx = y·x^(y−1), d/dy = x^y·ln x. As torch: d/dx = 0 where y = 0 (x⁰ ≡ 1, even at x = 0) and
 * d/dy = 0 where x = 0 and y ≥ 0 (0^y ≡ 0 for y > 0), instead of 0·∞ = NaN.
 */
export function pow(a: TensorLike, exponent: TensorLike): Tensor {
  return binary('pow', Math.pow, a, exponent, (g, x, y, out) => [
    x.requiresGrad ? mul(g, where(eq(y, 0), 0, mul(y, pow(x, sub(y, 1))))) : null,
    y.requiresGrad ? mul(g, where(mul(eq(x, 0), ge(y, 0)), 0, mul(out, log(x)))) : null,
  ]);
}

/** Elementwise max; ties send half the gradient to each side (as torch.maximum). */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary('maximum', (x, y) => (x > y || x !== x ? x : y), a, b, (g, x, y) => {
    const share = binary('maximum', (p, q) => (p > q ? 1 : p === q ? 0.5 : 0), x, y, null);
    return [x.requiresGrad ? mul(g, share) : null, y.requiresGrad ? mul(g, sub(1, share)) : null];
  });
}

/** Elementwise min; ties send half the gradient to each side (as torch.minimum). */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary('minimum', (x, y) => (x < y || x !== x ? x : y), a, b, (g, x, y) => {
    const share = binary('minimum', (p, q) => (p < q ? 1 : p === q ? 0.5 : 0), x, y, null);
    return [x.requiresGrad ? mul(g, share) : null, y.requiresGrad ? mul(g, sub(1, share)) : null];
  });
}

// ── comparisons (0/1 results, no gradient) ──

export const eq = (a: TensorLike, b: TensorLike): Tensor => binary('eq', (x, y) => +(x === y), a, b, null);
export const ne = (a: TensorLike, b: TensorLike): Tensor => binary('ne', (x, y) => +(x !== y), a, b, null);
export const lt = (a: TensorLike, b: TensorLike): Tensor => binary('lt', (x, y) => +(x < y), a, b, null);
export const le = (a: TensorLike, b: TensorLike): Tensor => binary('le', (x, y) => +(x <= y), a, b, null);
export const gt = (a: TensorLike, b: TensorLike): Tensor => binary('gt', (x, y) => +(x > y), a, b, null);
export const ge = (a: TensorLike, b: TensorLike): Tensor => binary('ge', (x, y) => +(x >= y), a, b, null);

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
  return record('where', out, [x, y], (g) => [x.requiresGrad ? where(cond, g, 0) : null, y.requiresGrad ? where(cond, 0, g) : null]);
}

// ── unary ──

export const neg = (x: Tensor): Tensor => unary('neg', x, (v) => -v, () => -1);
export const exp = (x: Tensor): Tensor => unary('exp', x, Math.exp, (_, y) => y);
export const log = (x: Tensor): Tensor => unary('log', x, Math.log, (v) => 1 / v);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x, Math.sqrt, (_, y) => 0.5 / y);
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x, (v) => 1 / Math.sqrt(v), (_, y) => -0.5 * y * y * y);
export const reciprocal = (x: Tensor): Tensor => unary('reciprocal', x, (v) => 1 / v, (_, y) => -y * y);
export const abs = (x: Tensor): Tensor => unary('abs', x, Math.abs, (v) => Math.sign(v));
export const sin = (x: Tensor): Tensor => unary('sin', x, Math.sin, Math.cos);
export const cos = (x: Tensor): Tensor => unary('cos', x, Math.cos, (v) => -Math.sin(v));
export const tanh = (x: Tensor): Tensor => unary('tanh', x, Math.tanh, (_, y) => 1 - y * y);
export const square = (x: Tensor): Tensor => unary('square', x, (v) => v * v, (v) => 2 * v);
/** max(x, 0); NaN propagates (as torch.relu). */
export const relu = (x: Tensor): Tensor => unary('relu', x, (v) => (v > 0 || Number.isNaN(v) ? v : 0), (v) => (v > 0 ? 1 : 0));

function sigmoidScalar(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x, sigmoidScalar, (_, y) => y * (1 - y));

/** SiLU / swish: x·σ(x); derivative σ(x)·(1 + x·(1 − σ(x))). */
export const silu = (x: Tensor): Tensor =>
  unary('silu', x, (v) => v * sigmoidScalar(v), (v) => {
    const s = sigmoidScalar(v);
    return s * (1 + v * (1 - s));
  });

/** softplus(x) = ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^−|x|); derivative σ(x). */
export const softplus = (x: Tensor): Tensor =>
  unary('softplus', x, (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))), sigmoidScalar);

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
  if (approximate === 'tanh') {
    return unary('gelu', x, (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v))), (v) => {
      const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
    });
  }
  if (approximate !== 'none') throw new ValueError('gelu', `approximate must be 'none' or 'tanh', got '${String(approximate)}'`, 'approximate');
  return unary('gelu', x, (v) => 0.5 * v * (1 + erf(v * INV_SQRT_2)), (v) => 0.5 * (1 + erf(v * INV_SQRT_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
}

/** Clamp into [min, max]; the gradient passes where min ≤ x ≤ max. */
export function clamp(x: Tensor, min = -Infinity, max = Infinity): Tensor {
  if (min > max) throw new ValueError('clamp', `min must not exceed max, got min=${min}, max=${max}`, 'min');
  return unary('clamp', x, (v) => (v < min ? min : v > max ? max : v), (v) => (v >= min && v <= max ? 1 : 0));
}

/** Convert to another dtype; the gradient converts back. */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor('cast', x);
  if (!isDType(dtype)) throw new DTypeError('cast', `unknown dtype '${String(dtype)}' (use 'float32' or 'float64')`, 'dtype');
  if (dtype === x.dtype) return x;
  const out = new Tensor(dtype === 'float64' ? Float64Array.from(x.data) : Float32Array.from(x.data), x.shape);
  return record('cast', out, [x], (g) => [g]);
}

/** A copy of x (new buffer), differentiable. */
export function clone(x: Tensor): Tensor {
  checkTensor('clone', x);
  return record('clone', new Tensor(x.data.slice(), x.shape), [x], (g) => [g]);
}

export interface DropoutOptions {
  generator: Generator;
  /** When false (evaluation), dropout is the identity. Default true. */
  training?: boolean;
}

/** Inverted dropout (Srivastava et al. 2014): zero each element with probability p, scale the rest by 1/(1 − p). */
export function dropout(x: Tensor, p: number, options: DropoutOptions): Tensor {
  checkTensor('dropout', x);
  if (!(p >= 0 && p < 1)) throw new ValueError('dropout', `p must be in [0, 1), got p=${p}`, 'p');
  if (options.training === false || p === 0) return x;
  const mask = allocate(x.dtype, x.size);
  const keep = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = options.generator.random() < p ? 0 : keep;
  return mul(x, new Tensor(mask, x.shape));
}
