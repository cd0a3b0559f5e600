/**
 * Elementwise loops on flat row-major buffers. No tensors, no autograd: shapes and strides come in explicitly.
 */
import type { TypedArray } from '../dtype.js';
import type { Shape } from '../shape.js';
import { broadcastStrides } from '../shape.js';
import { describeValue } from '../args.js';
import { DTypeError } from '../errors.js';

export type UnaryFn = (x: number) => number;
export type BinaryFn = (x: number, y: number) => number;
type TernaryFn = (c: number, x: number, y: number) => number;

/**
 * A private copy of a self-contained loop `loop` (one that uses only its arguments and globals), with its own inline
 * caches. V8 keeps one set of inline caches per function literal, so a loop shared by every op calls each op's `f`
 * megamorphically (~10 ns per element instead of ~1), and a loop that sees both Float32Array and Float64Array
 * indexes them polymorphically (~1.8× slower); one copy per op (or per dtype) keeps both monomorphic. Where eval is
 * blocked (a strict Content-Security-Policy) the shared loop serves unchanged: slower, same results. Public (core's
 * index) for kernels outside core, e.g. positional/rope.ts compiles one rotation loop per dtype with it.
 * @example const rotate32 = specialize(rotateLoop), rotate64 = specialize(rotateLoop);
 */
export function specialize<F extends (...args: never[]) => unknown>(loop: F): F {
  if (typeof loop !== 'function') throw new DTypeError('specialize', `loop must be a function, got ${describeValue(loop)}`, 'loop');
  try {
    return new Function(`return (${loop.toString()});`)() as F;
  } catch {
    return loop;
  }
}

function unaryLoop(f: UnaryFn, x: TypedArray, out: TypedArray): TypedArray {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = f(x[i]!);
  return out;
}

/** out[i] = g[i] · dydx(x[i], y[i]): the backward of a unary op y = f(x). */
function derivativeLoop(dydx: BinaryFn, g: TypedArray, x: TypedArray, y: TypedArray, out: TypedArray): TypedArray {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = g[i]! * dydx(x[i]!, y[i]!);
  return out;
}

/** out = f(a, b) over a row-major `shape`, operands read through strides (0 on broadcast axes); rank ≥ 1. */
function binaryLoop(f: BinaryFn, a: TypedArray, b: TypedArray, out: TypedArray, shape: readonly number[], as: readonly number[], bs: readonly number[]): TypedArray {
  const nd = shape.length;
  const len = shape[nd - 1]!;
  const aInc = as[nd - 1]!;
  const bInc = bs[nd - 1]!;
  const rows = len === 0 ? 0 : out.length / len;
  const idx = new Int32Array(nd);
  let ia = 0;
  let ib = 0;
  for (let r = 0, o = 0; r < rows; r++, o += len) {
    if (aInc === 1 && bInc === 1) for (let j = 0; j < len; j++) out[o + j] = f(a[ia + j]!, b[ib + j]!);
    else if (bInc === 0) {
      const y = b[ib]!;
      for (let j = 0, p = ia; j < len; j++, p += aInc) out[o + j] = f(a[p]!, y);
    } else if (aInc === 0) {
      const x = a[ia]!;
      for (let j = 0, p = ib; j < len; j++, p += bInc) out[o + j] = f(x, b[p]!);
    } else for (let j = 0; j < len; j++) out[o + j] = f(a[ia + j * aInc]!, b[ib + j * bInc]!);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]!++;
      ia += as[d]!;
      ib += bs[d]!;
      if (idx[d]! < shape[d]!) break;
      ia -= as[d]! * shape[d]!;
      ib -= bs[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * The broadcast of operand shapes onto outShape with size-1 axes dropped and adjacent axes merged wherever every
 * operand steps through them contiguously: same-shape operands become one long row, a bias add becomes rows.
 */
function collapseBroadcast(outShape: Shape, operandShapes: readonly Shape[]): { shape: number[]; strides: number[][] } {
  const full = operandShapes.map((s) => broadcastStrides(s, outShape));
  const shape: number[] = [];
  const strides: number[][] = full.map(() => []);
  for (let d = 0; d < outShape.length; d++) {
    const n = outShape[d]!;
    if (n === 1) continue;
    const last = shape.length - 1;
    const mergeable = last >= 0 && full.every((st, k) => strides[k]![last] === st[d]! * n);
    if (mergeable) {
      shape[last] = shape[last]! * n;
      full.forEach((st, k) => (strides[k]![last] = st[d]!));
    } else {
      shape.push(n);
      full.forEach((st, k) => strides[k]!.push(st[d]!));
    }
  }
  if (shape.length === 0) {
    shape.push(1);
    strides.forEach((st) => st.push(0));
  }
  return { shape, strides };
}

type UnaryKernel = (x: TypedArray, out: TypedArray) => TypedArray;
type DerivativeKernel = (g: TypedArray, x: TypedArray, y: TypedArray, out: TypedArray) => TypedArray;
export type BinaryKernel = (a: TypedArray, aShape: Shape, b: TypedArray, bShape: Shape, out: TypedArray, outShape: Shape) => TypedArray;

/** out[i] = f(x[i]) for one fixed f, on its own compiled loop. */
export function unaryKernel(f: UnaryFn): UnaryKernel {
  const loop = specialize(unaryLoop);
  return (x, out) => loop(f, x, out);
}

/** out = g · dydx(x, y) for one fixed derivative, on its own compiled loop. */
export function derivativeKernel(dydx: BinaryFn): DerivativeKernel {
  const loop = specialize(derivativeLoop);
  return (g, x, y, out) => loop(dydx, g, x, y, out);
}

/** out = f(a, b) with a and b broadcast to outShape, for one fixed f, on its own compiled loop. */
export function binaryKernel(f: BinaryFn): BinaryKernel {
  const loop = specialize(binaryLoop);
  return (a, aShape, b, bShape, out, outShape) => {
    if (out.length === 0) return out;
    const { shape, strides } = collapseBroadcast(outShape, [aShape, bShape]);
    return loop(f, a, b, out, shape, strides[0]!, strides[1]!);
  };
}

/** out[i] = f(c[i], a[i], b[i]) with all three broadcast to outShape. */
export function mapTernary(
  f: TernaryFn,
  c: TypedArray,
  cShape: Shape,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  out: TypedArray,
  outShape: Shape,
): TypedArray {
  if (out.length === 0) return out;
  const cs = broadcastStrides(cShape, outShape);
  const as = broadcastStrides(aShape, outShape);
  const bs = broadcastStrides(bShape, outShape);
  const last = outShape.length - 1;
  forEachRow(outShape, [cs, as, bs], (o, offs, len) => {
    const cInc = last >= 0 ? cs[last]! : 0;
    const aInc = last >= 0 ? as[last]! : 0;
    const bInc = last >= 0 ? bs[last]! : 0;
    let ic = offs[0]!;
    let ia = offs[1]!;
    let ib = offs[2]!;
    for (let j = 0; j < len; j++, ic += cInc, ia += aInc, ib += bInc) out[o + j] = f(c[ic]!, a[ia]!, b[ib]!);
  });
  return out;
}

/**
 * Visit the rows (last dimension) of a row-major `shape`, with the matching start offsets in operands of the
 * given strides: `visit(outOffset, operandOffsets, rowLength)`. A rank-0 shape is one row of length 1.
 */
export function forEachRow(
  shape: Shape,
  operandStrides: readonly (readonly number[])[],
  visit: (outOffset: number, offsets: number[], rowLength: number) => void,
): void {
  const nd = shape.length;
  const k = operandStrides.length;
  const offs = new Array<number>(k).fill(0);
  if (nd === 0) {
    visit(0, offs, 1);
    return;
  }
  const len = shape[nd - 1]!;
  let rows = 1;
  for (let d = 0; d < nd - 1; d++) rows *= shape[d]!;
  if (rows === 0 || len === 0) return;
  const idx = new Array<number>(nd).fill(0);
  for (let r = 0; r < rows; r++) {
    visit(r * len, offs, len);
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]!++;
      for (let q = 0; q < k; q++) offs[q]! += operandStrides[q]![d]!;
      if (idx[d]! < shape[d]!) break;
      for (let q = 0; q < k; q++) offs[q]! -= operandStrides[q]![d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}
