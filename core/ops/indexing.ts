/** Integer indexing: gather (torch.gather), indexSelect (torch.index_select) and scatterAdd (torch.scatter_add). */
import { recordOp } from '../autograd.js';
import { allocate, promoteTypes } from '../dtype.js';
import { describeValue, expectTensor } from '../args.js';
import { DTypeError, IndexError, ShapeError } from '../errors.js';
import { forEachRow } from '../kernels/elementwise.js';
import { fmtShape, normAxis, sizeOf, stridesOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Indices: a tensor holding integer values, an Int32Array, or a plain array (1-D). */
export type IndexLike = Tensor | Int32Array | readonly number[];

interface Index {
  data: Int32Array;
  shape: Shape;
}

/** Validate indices once at entry: integers in [0, bound). */
function toIndex(op: string, index: IndexLike, bound: number, arg = 'index'): Index {
  let values: ArrayLike<number>;
  let shape: Shape;
  if (index instanceof Tensor) [values, shape] = [index.data, index.shape];
  else if (index instanceof Int32Array || Array.isArray(index)) [values, shape] = [index, [index.length]];
  else throw new DTypeError(op, `${arg} must be a Tensor, Int32Array or number[], got ${describeValue(index)}`, arg);
  const data = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (typeof v !== 'number') throw new DTypeError(op, `${arg}[${i}] must be an integer, got ${describeValue(v)}`, arg);
    if (!Number.isInteger(v) || v < 0 || v >= bound) {
      throw new IndexError(op, `${arg}[${i}] = ${v} is not an integer in [0, ${bound}) (the size of the indexed axis)`, arg);
    }
    data[i] = v;
  }
  return { data, shape };
}

/** The flat offset, under `strides`, of every multi-index of `over` (row-major order). */
function offsetsOf(strides: readonly number[], over: Shape): Int32Array {
  const offsets = new Int32Array(sizeOf(over));
  const inc = over.length === 0 ? 0 : strides[strides.length - 1]!;
  forEachRow(over, [strides], (o, offs, len) => {
    for (let j = 0, p = offs[0]!; j < len; j++, p += inc) offsets[o + j] = p;
  });
  return offsets;
}

/** Offsets into x (of xShape) that gather reads: the index replaces the coordinate on `axis`. */
function gatherOffsets(xShape: Shape, axis: number, idx: Index): Int32Array {
  const xs = stridesOf(xShape);
  const offsets = offsetsOf(xs.map((s, d) => (d === axis ? 0 : s)), idx.shape);
  for (let i = 0; i < offsets.length; i++) offsets[i] += idx.data[i]! * xs[axis]!;
  return offsets;
}

function checkGatherShapes(op: string, xShape: Shape, idxShape: Shape, axis: number, what: string): void {
  if (idxShape.length !== xShape.length || idxShape.some((d, i) => i !== axis && d > xShape[i]!)) {
    throw new ShapeError(op, `index=${fmtShape(idxShape)} does not fit ${what}=${fmtShape(xShape)} off axis ${axis} (same rank, sizes ≤ ${what}'s)`, 'index');
  }
}

/** Indexing ops are linear and their rules read only the index (`saved: []`), so createGraph can record them. */
const LINEAR_RULE = { saved: [], differentiableBackward: true } as const;

/**
 * A rule's result Lᵀg for a linear op L, recorded (under createGraph) with L itself as its rule: the adjoint of the
 * adjoint, so second derivatives flow through gather, indexSelect and scatterAdd.
 */
function adjoint(op: string, value: Tensor, g: Tensor, forward: (h: Tensor) => Tensor): Tensor {
  return recordOp(op, value, [g], (h) => [forward(h)], LINEAR_RULE);
}

/** out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (any axis likewise); out has index's shape. */
export function gather(x: Tensor, axis: number, index: IndexLike): Tensor {
  expectTensor('gather', 'x', x);
  const a = normAxis(axis, x.ndim, 'gather');
  const idx = toIndex('gather', index, x.shape[a]!);
  checkGatherShapes('gather', x.shape, idx.shape, a, 'x');
  const offsets = gatherOffsets(x.shape, a, idx);
  const out = allocate(x.dtype, offsets.length);
  for (let i = 0; i < offsets.length; i++) out[i] = x.data[offsets[i]!]!;
  return recordOp('gather', new Tensor(out, idx.shape), [x], (g) => {
    const gx = allocate(x.dtype, x.size);
    for (let i = 0; i < offsets.length; i++) gx[offsets[i]!] += g.data[i]!;
    return [adjoint('gather', new Tensor(gx, x.shape), g, (h) => gather(h, axis, index))];
  }, LINEAR_RULE);
}

/** Select entries `index` (1-D) of `axis`: out.shape[axis] = index.length. Rows may repeat. */
export function indexSelect(x: Tensor, axis: number, index: IndexLike): Tensor {
  expectTensor('indexSelect', 'x', x);
  const a = normAxis(axis, x.ndim, 'indexSelect');
  const idx = toIndex('indexSelect', index, x.shape[a]!);
  if (idx.shape.length !== 1) throw new ShapeError('indexSelect', `index must be 1-D, got index=${fmtShape(idx.shape)}`, 'index');
  const outer = sizeOf(x.shape.slice(0, a));
  const n = x.shape[a]!;
  const inner = sizeOf(x.shape.slice(a + 1));
  const m = idx.data.length;
  const shape = x.shape.map((d, i) => (i === a ? m : d));
  const out = allocate(x.dtype, outer * m * inner, 'indexSelect', 'index');
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const src = (o * n + idx.data[j]!) * inner;
      out.set(x.data.subarray(src, src + inner), (o * m + j) * inner);
    }
  }
  return recordOp('indexSelect', new Tensor(out, shape), [x], (g) => {
    const gx = allocate(x.dtype, x.size);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        const dst = (o * n + idx.data[j]!) * inner;
        const src = (o * m + j) * inner;
        for (let i = 0; i < inner; i++) gx[dst + i] += g.data[src + i]!;
      }
    }
    return [adjoint('indexSelect', new Tensor(gx, x.shape), g, (h) => indexSelect(h, axis, index))];
  }, LINEAR_RULE);
}

/** out = x, then out[i][index[i][j][k]][k] += src[i][j][k] (axis 1; any axis likewise). */
export function scatterAdd(x: Tensor, axis: number, index: IndexLike, src: Tensor): Tensor {
  expectTensor('scatterAdd', 'x', x);
  expectTensor('scatterAdd', 'src', src);
  const a = normAxis(axis, x.ndim, 'scatterAdd');
  const idx = toIndex('scatterAdd', index, x.shape[a]!);
  checkGatherShapes('scatterAdd', x.shape, idx.shape, a, 'x');
  // torch: index.size(d) ≤ src.size(d) for every d, the scatter axis included (src is read at index's coordinates)
  if (src.ndim !== idx.shape.length || idx.shape.some((d, i) => d > src.shape[i]!)) {
    throw new ShapeError('scatterAdd', `index=${fmtShape(idx.shape)} does not fit src=${fmtShape(src.shape)} (same rank, sizes ≤ src's on every axis)`, 'index');
  }
  const offsets = gatherOffsets(x.shape, a, idx);
  const srcOffsets = offsetsOf(stridesOf(src.shape), idx.shape);
  const out = allocate(promoteTypes(x.dtype, src.dtype), x.size);
  out.set(x.data);
  for (let i = 0; i < offsets.length; i++) out[offsets[i]!] += src.data[srcOffsets[i]!]!;
  return recordOp('scatterAdd', new Tensor(out, x.shape), [x, src], (g) => {
    const gsrc = allocate(src.dtype, src.size);
    for (let i = 0; i < offsets.length; i++) gsrc[srcOffsets[i]!] = g.data[offsets[i]!]!;
    const scatterInto = (h: Tensor): Tensor => scatterAdd(new Tensor(allocate(h.dtype, x.size), x.shape), axis, index, h);
    return [g, adjoint('scatterAdd', new Tensor(gsrc, src.shape), g, scatterInto)];
  }, LINEAR_RULE);
}
