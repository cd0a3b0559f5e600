/** Reduction loops on flat buffers viewed as [outer, n, inner] (the reduced axis in the middle). */
import { allocate, dtypeOf, type TypedArray } from '../dtype.js';
import { broadcastStrides, sizeOf, type Shape } from '../shape.js';
import { stridedScatter } from './strided.js';

export type ReduceKind = 'sum' | 'max' | 'min';

/** out[o, i] = reduce_k x[o, k, i] for a buffer viewed as [outer, n, inner]. */
export function reduceAxis(kind: ReduceKind, x: TypedArray, outer: number, n: number, inner: number, out: TypedArray): TypedArray {
  const init = kind === 'sum' ? 0 : kind === 'max' ? -Infinity : Infinity;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * n;
      let acc = init;
      if (kind === 'sum') for (let k = 0; k < n; k++) acc += x[base + k]!;
      else if (kind === 'max') for (let k = 0; k < n; k++) { const v = x[base + k]!; if (v > acc || v !== v) acc = v; }
      else for (let k = 0; k < n; k++) { const v = x[base + k]!; if (v < acc || v !== v) acc = v; }
      out[o] = acc;
    }
    return out;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(init);
    for (let k = 0; k < n; k++) {
      const base = (o * n + k) * inner;
      if (kind === 'sum') for (let i = 0; i < inner; i++) acc[i] += x[base + i]!;
      else if (kind === 'max') for (let i = 0; i < inner; i++) { const v = x[base + i]!; if (v > acc[i]! || v !== v) acc[i] = v; }
      else for (let i = 0; i < inner; i++) { const v = x[base + i]!; if (v < acc[i]! || v !== v) acc[i] = v; }
    }
    out.set(acc, o * inner);
  }
  return out;
}

/** Split `shape` around `axis` into [outer, n, inner]. */
export function splitAt(shape: Shape, axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  return [outer, shape[axis]!, inner];
}

/** Sum g (of shape gShape) down to `target`, a shape that broadcasts to gShape. */
export function sumToShape(g: TypedArray, gShape: Shape, target: Shape): TypedArray {
  const out = allocate(dtypeOf(g), sizeOf(target));
  return stridedScatter(out, 0, gShape, broadcastStrides(target, gShape), g, true);
}

/**
 * out[o, k, i] = Σ_{k′ ≤ k} x[o, k′, i] (or Σ_{k′ ≥ k} when `reverse`) for a buffer viewed as [outer, n, inner]:
 * prefix sums along the middle axis, accumulated in float64 and rounded once per element into `out`.
 */
export function scanAxis(x: TypedArray, outer: number, n: number, inner: number, reverse: boolean, out: TypedArray): TypedArray {
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    for (let t = 0; t < n; t++) {
      const base = (o * n + (reverse ? n - 1 - t : t)) * inner;
      for (let i = 0; i < inner; i++) out[base + i] = acc[i] += x[base + i]!;
    }
  }
  return out;
}

/** A new buffer a + b (same length, a's dtype). */
export function addNew(a: TypedArray, b: TypedArray): TypedArray {
  const out = allocate(dtypeOf(a), a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}
