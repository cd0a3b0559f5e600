/**
 * One gather loop serves every view-like op: a view is (offset, shape, strides) into a flat buffer. Slice with
 * steps, permute, flip (negative strides), expand (zero strides) and diagonal reads are all `stridedCopy`;
 * their backward passes scatter the gradient back through the same view (`stridedScatter`).
 */
import type { TypedArray } from '../dtype.js';
import type { Shape } from '../shape.js';
import { forEachRow } from './elementwise.js';

/** dst (contiguous, row-major over `shape`) ← src viewed at (offset, shape, strides). */
export function stridedCopy(src: TypedArray, offset: number, shape: Shape, strides: readonly number[], dst: TypedArray): TypedArray {
  const inc = shape.length === 0 ? 0 : strides[strides.length - 1]!;
  forEachRow(shape, [strides], (o, offs, len) => {
    let s = offset + offs[0]!;
    if (inc === 1) {
      for (let j = 0; j < len; j++) dst[o + j] = src[s + j]!;
    } else {
      for (let j = 0; j < len; j++, s += inc) dst[o + j] = src[s]!;
    }
  });
  return dst;
}

/** dst viewed at (offset, shape, strides) ← src (or += src when accumulating); src is contiguous over `shape`. */
export function stridedScatter(
  dst: TypedArray,
  offset: number,
  shape: Shape,
  strides: readonly number[],
  src: TypedArray,
  accumulate: boolean,
): TypedArray {
  const inc = shape.length === 0 ? 0 : strides[strides.length - 1]!;
  forEachRow(shape, [strides], (o, offs, len) => {
    let d = offset + offs[0]!;
    if (accumulate) for (let j = 0; j < len; j++, d += inc) dst[d] += src[o + j]!;
    else for (let j = 0; j < len; j++, d += inc) dst[d] = src[o + j]!;
  });
  return dst;
}
