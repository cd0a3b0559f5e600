/**
 * Elementwise loops on flat row-major buffers. No tensors, no autograd: shapes and strides come in explicitly.
 */
import type { TypedArray } from '../dtype.js';
import type { Shape } from '../shape.js';
import { broadcastStrides, shapesEqual } from '../shape.js';

export type UnaryFn = (x: number) => number;
export type BinaryFn = (x: number, y: number) => number;
export type TernaryFn = (c: number, x: number, y: number) => number;

export function mapUnary(f: UnaryFn, x: TypedArray, out: TypedArray): TypedArray {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = f(x[i]!);
  return out;
}

/** out[i] = f(a[i], b[i]) where a and b are broadcast to outShape. */
export function mapBinary(
  f: BinaryFn,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  out: TypedArray,
  outShape: Shape,
): TypedArray {
  const n = out.length;
  if (n === 0) return out;
  if (shapesEqual(aShape, outShape) && shapesEqual(bShape, outShape)) {
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, b[i]!);
    return out;
  }
  if (b.length === 1 && shapesEqual(aShape, outShape)) {
    const y = b[0]!;
    for (let i = 0; i < n; i++) out[i] = f(a[i]!, y);
    return out;
  }
  if (a.length === 1 && shapesEqual(bShape, outShape)) {
    const x = a[0]!;
    for (let i = 0; i < n; i++) out[i] = f(x, b[i]!);
    return out;
  }
  const as = broadcastStrides(aShape, outShape);
  const bs = broadcastStrides(bShape, outShape);
  forEachRow(outShape, [as, bs], (o, offs, len) => {
    const aInc = as[as.length - 1]!;
    const bInc = bs[bs.length - 1]!;
    let ia = offs[0]!;
    let ib = offs[1]!;
    for (let j = 0; j < len; j++, ia += aInc, ib += bInc) out[o + j] = f(a[ia]!, b[ib]!);
  });
  return out;
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
