/**
 * Shape ops. Tensors are always contiguous: reshape shares the buffer, every other view-like op (permute, expand,
 * slice, flip, pad) is one strided gather, and its backward scatters the gradient back through the same view.
 */
import { recordOp } from '../autograd.js';
import { allocate, promoteTypes, type TypedArray } from '../dtype.js';
import { describeValue, expectAllocatable, expectNumber, expectTensor } from '../args.js';
import { AxisError, DTypeError, ShapeError, ValueError } from '../errors.js';
import { stridedCopy, stridedScatter } from '../kernels/strided.js';
import { broadcastStrides, fmtShape, normAxes, normAxis, shapesEqual, sizeOf, stridesOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

/** A view of x: `shape` elements read from `offset` with `strides`. */
interface View {
  offset: number;
  shape: number[];
  strides: number[];
}

/**
 * Every movement rule is linear in g and made of movements, so each records its adjoint and a `createGraph`
 * backward can differentiate it again; rules read shapes only, never values (`saved: []`).
 */
const MOVEMENT_RULE = { saved: [], differentiableBackward: true } as const;

/** Materialise a view of x, recording a backward that scatters g through the same view. */
function gatherView(op: string, x: Tensor, view: View): Tensor {
  const out = gatherRaw(op, x, view);
  return recordOp(op, out, [x], (g) => [scatterView(op, g, view, x.shape)], MOVEMENT_RULE);
}

/** The adjoint of `gatherView`: g placed at the view inside zeros shaped `shape`; its own adjoint is the gather. */
function scatterView(op: string, g: Tensor, view: View, shape: readonly number[]): Tensor {
  const out = new Tensor(stridedScatter(allocate(g.dtype, sizeOf(shape), op), view.offset, view.shape, view.strides, g.data, true), shape);
  return recordOp(op, out, [g], (h) => [gatherView(op, h, view)], MOVEMENT_RULE);
}

function checkTensor(op: string, x: unknown, arg = 'x'): asserts x is Tensor {
  expectTensor(op, arg, x);
}

/** `list` must be an array (of sizes, axes, tensors, …); its entries are checked by the caller. */
function checkArray(op: string, arg: string, list: unknown, what: string): asserts list is readonly unknown[] {
  if (!Array.isArray(list)) throw new DTypeError(op, `${arg} must be an array of ${what}, got ${describeValue(list)}`, arg);
}

/** Same data, new shape (one dimension may be −1 and is inferred). Shares the buffer. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  checkTensor('reshape', x);
  const target = inferShape(x, shape);
  if (shapesEqual(target, x.shape)) return x;
  return recordOp('reshape', new Tensor(x.data, target), [x], (g) => [reshape(g, x.shape)], MOVEMENT_RULE);
}

function inferShape(x: Tensor, shape: Shape): number[] {
  checkArray('reshape', 'shape', shape, 'sizes');
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (out.some((d, i) => !Number.isInteger(d) || d < -1 || (d === -1 && i !== unknown))) {
    throw new ShapeError('reshape', `invalid target shape ${fmtShape(shape)} for x=${fmtShape(x.shape)} (non-negative integers, at most one −1)`, 'shape');
  }
  if (unknown >= 0) {
    const known = out.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError('reshape', `cannot infer −1 in ${fmtShape(shape)} for x=${fmtShape(x.shape)} (${x.size} elements)`, 'shape');
    }
    out[unknown] = x.size / known;
  }
  if (sizeOf(out) !== x.size) {
    throw new ShapeError('reshape', `cannot reshape x=${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(out)} (${sizeOf(out)} elements)`, 'shape');
  }
  return out;
}

/** Merge axes startAxis..endAxis into one. */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  checkTensor('flatten', x);
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis(startAxis, x.ndim, 'flatten', 'startAxis');
  const e = normAxis(endAxis, x.ndim, 'flatten', 'endAxis');
  if (s > e) throw new AxisError('flatten', `startAxis ${startAxis} comes after endAxis ${endAxis} for x=${fmtShape(x.shape)}`, 'startAxis');
  const merged = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return reshape(x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Reorder axes: out.shape[i] = x.shape[dims[i]]. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor('permute', x);
  checkArray('permute', 'dims', dims, 'axes');
  if (dims.length !== x.ndim) {
    throw new AxisError('permute', `dims=[${dims.join(',')}] has ${dims.length} entries for x=${fmtShape(x.shape)} (one per axis)`, 'dims');
  }
  normAxes(dims, x.ndim, 'permute', 'dims'); // range and repeats
  const perm = dims.map((d) => normAxis(d, x.ndim, 'permute', 'dims'));
  if (perm.every((d, i) => d === i)) return x;
  const xs = x.strides;
  return recordOp('permute', gatherRaw('permute', x, { offset: 0, shape: perm.map((d) => x.shape[d]!), strides: perm.map((d) => xs[d]!) }), [x], (g) => {
    const inverse = new Array<number>(perm.length);
    perm.forEach((d, i) => (inverse[d] = i));
    return [permute(g, inverse)];
  }, MOVEMENT_RULE);
}

function gatherRaw(op: string, x: Tensor, view: View): Tensor {
  return new Tensor(stridedCopy(x.data, view.offset, view.shape, view.strides, allocate(x.dtype, sizeOf(view.shape), op, 'shape')), view.shape);
}

/** Swap two axes. */
export function transpose(x: Tensor, a: number, b: number): Tensor {
  checkTensor('transpose', x);
  const dims = Array.from({ length: x.ndim }, (_, i) => i);
  const i = normAxis(a, x.ndim, 'transpose', 'a');
  const j = normAxis(b, x.ndim, 'transpose', 'b');
  [dims[i], dims[j]] = [dims[j]!, dims[i]!];
  return permute(x, dims);
}

/** Broadcast to `shape` (new axes on the left; −1 keeps a size). The backward sums the broadcast axes. */
export function expand(x: Tensor, shape: Shape): Tensor {
  checkTensor('expand', x);
  checkArray('expand', 'shape', shape, 'sizes');
  const off = shape.length - x.ndim;
  if (off < 0) throw new ShapeError('expand', `target ${fmtShape(shape)} has fewer axes than x=${fmtShape(x.shape)}`, 'shape');
  const target = shape.map((d, i) => (d === -1 && i >= off ? x.shape[i - off]! : d));
  if (target.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError('expand', `invalid target ${fmtShape(shape)} for x=${fmtShape(x.shape)} (non-negative integers; −1 only on existing axes)`, 'shape');
  }
  expectAllocatable('expand', 'shape', sizeOf(target), target);
  for (let i = 0; i < x.ndim; i++) {
    const d = x.shape[i]!;
    if (d !== 1 && d !== target[i + off]) {
      throw new ShapeError('expand', `cannot expand x=${fmtShape(x.shape)} to ${fmtShape(shape)} — dim ${i} is ${d} vs ${target[i + off]} (only size-1 axes expand)`, 'shape');
    }
  }
  if (shapesEqual(target, x.shape)) return x;
  return recordOp('expand', gatherRaw('expand', x, { offset: 0, shape: target, strides: broadcastStrides(x.shape, target) }), [x], (g) => [g], MOVEMENT_RULE);
}

/** Drop size-1 axes (all of them, or the given ones, which must have size 1). */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  checkTensor('squeeze', x);
  const axes = axis === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes(axis, x.ndim, 'squeeze');
  for (const a of axes) {
    if (x.shape[a] !== 1) throw new ShapeError('squeeze', `axis ${a} of x=${fmtShape(x.shape)} has size ${x.shape[a]} (only size-1 axes can be squeezed)`, 'axis');
  }
  return reshape(x, x.shape.filter((_, i) => !axes.includes(i)));
}

/** Insert a size-1 axis at `axis` (−1 appends). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  checkTensor('unsqueeze', x);
  const a = normAxis(axis, x.ndim + 1, 'unsqueeze');
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Python-style range on one axis: [start, end, step], each optional; null keeps the whole axis. */
export type SliceRange = readonly [start?: number, end?: number, step?: number] | null;

/** x[r0, r1, …] with Python slice semantics (negative indices, clamping, negative steps) on the leading axes. */
export function slice(x: Tensor, ranges: readonly SliceRange[]): Tensor {
  checkTensor('slice', x);
  checkArray('slice', 'ranges', ranges, 'ranges ([start, end, step] or null)');
  if (ranges.length > x.ndim) {
    throw new AxisError('slice', `${ranges.length} ranges for x=${fmtShape(x.shape)} (at most one per axis)`, 'ranges');
  }
  const xs = x.strides;
  const view: View = { offset: 0, shape: [...x.shape], strides: [...xs] };
  ranges.forEach((r, axis) => {
    if (r === null) return;
    const [start, len, step] = sliceIndices(x.shape[axis]!, r, axis);
    view.offset += start * xs[axis]!;
    view.shape[axis] = len;
    view.strides[axis] = step * xs[axis]!;
  });
  if (shapesEqual(view.shape, x.shape) && view.strides.every((s, i) => s === xs[i])) return x;
  return gatherView('slice', x, view);
}

/** Python's slice.indices: returns [first index, count, step]. */
function sliceIndices(n: number, range: readonly [number?, number?, number?], axis: number): [number, number, number] {
  if (!Array.isArray(range) || range.length > 3) {
    throw new DTypeError('slice', `ranges[${axis}] must be null or [start?, end?, step?], got ${describeValue(range)}`, 'ranges');
  }
  for (const v of range) {
    if (v !== undefined && typeof v !== 'number') {
      throw new DTypeError('slice', `ranges[${axis}] must hold integers or undefined, got ${describeValue(v)}`, 'ranges');
    }
  }
  const step = range[2] ?? 1;
  if (!Number.isInteger(step) || step === 0) throw new ValueError('slice', `step must be a non-zero integer on axis ${axis}, got ${step}`, 'ranges');
  for (const v of [range[0], range[1]]) {
    if (v !== undefined && !Number.isInteger(v)) throw new ValueError('slice', `bounds must be integers on axis ${axis}, got ${v}`, 'ranges');
  }
  const clampIdx = (v: number, lo: number, hi: number): number => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
  const start = range[0] === undefined ? (step > 0 ? 0 : n - 1) : clampIdx(range[0], step > 0 ? 0 : -1, step > 0 ? n : n - 1);
  const end = range[1] === undefined ? (step > 0 ? n : -1) : clampIdx(range[1], step > 0 ? 0 : -1, step > 0 ? n : n - 1);
  const len = step > 0 ? Math.max(0, Math.ceil((end - start) / step)) : Math.max(0, Math.ceil((start - end) / -step));
  return [start, len, step];
}

/** `length` entries of `axis` from `start` (negative start counts from the end). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  checkTensor('narrow', x);
  const a = normAxis(axis, x.ndim, 'narrow');
  expectNumber('narrow', 'start', start, { nonFinite: true });
  expectNumber('narrow', 'length', length, { nonFinite: true });
  const n = x.shape[a]!;
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > n) {
    throw new ShapeError('narrow', `range start=${start}, length=${length} does not fit axis ${a} of x=${fmtShape(x.shape)} (size ${n})`, 'start');
  }
  const ranges: SliceRange[] = x.shape.map(() => null);
  ranges[a] = [s, s + length, 1];
  return slice(x, ranges);
}

/** Reverse the order of entries along the given axes. */
export function flip(x: Tensor, axes: number | readonly number[]): Tensor {
  checkTensor('flip', x);
  const list = normAxes(axes, x.ndim, 'flip');
  const view: View = { offset: 0, shape: [...x.shape], strides: x.strides };
  for (const a of list) {
    if (x.shape[a]! === 0) continue;
    view.offset += (x.shape[a]! - 1) * view.strides[a]!;
    view.strides[a] = -view.strides[a]!;
  }
  return gatherView('flip', x, view);
}

/**
 * Pad with a constant: pads[i] = [before, after] for the trailing axes (the last pads.length axes).
 * `pad(x, [[0, 0], [1, 2]])` adds one column before and two after on the last axis.
 */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[], value = 0): Tensor {
  checkTensor('pad', x);
  checkArray('pad', 'pads', pads, '[before, after] pairs');
  pads.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2) throw new DTypeError('pad', `pads[${i}] must be a [before, after] pair, got ${describeValue(p)}`, 'pads');
  });
  expectNumber('pad', 'value', value, { nonFinite: true });
  if (pads.length > x.ndim) throw new ShapeError('pad', `${pads.length} pad pairs for x=${fmtShape(x.shape)} (at most one per axis)`, 'pads');
  const off = x.ndim - pads.length;
  const before = x.shape.map((_, i) => (i < off ? 0 : pads[i - off]![0]));
  const after = x.shape.map((_, i) => (i < off ? 0 : pads[i - off]![1]));
  if ([...before, ...after].some((p) => !Number.isInteger(p) || p < 0)) {
    throw new ValueError('pad', `pads must be non-negative integers, got ${JSON.stringify(pads)} (slice to crop)`, 'pads');
  }
  const shape = x.shape.map((d, i) => d + before[i]! + after[i]!);
  expectAllocatable('pad', 'pads', sizeOf(shape), shape);
  const strides = stridesOf(shape);
  const inner: View = { offset: before.reduce((p, b, i) => p + b * strides[i]!, 0), shape: [...x.shape], strides };
  const data = allocate(x.dtype, sizeOf(shape), 'pad', 'pads');
  if (value !== 0) data.fill(value);
  stridedScatter(data, inner.offset, inner.shape, inner.strides, x.data, false);
  const out = new Tensor(data, shape);
  const crop = (g: Tensor): Tensor =>
    recordOp('pad', new Tensor(stridedCopy(g.data, inner.offset, inner.shape, inner.strides, allocate(x.dtype, x.size)), x.shape), [g], (h) => [pad(h, pads, 0)], MOVEMENT_RULE);
  return recordOp('pad', out, [x], (g) => [crop(g)], MOVEMENT_RULE);
}

function triangle(op: 'tril' | 'triu', x: Tensor, k: number): Tensor {
  checkTensor(op, x);
  if (x.ndim < 2) throw new ShapeError(op, `needs a matrix or a batch of matrices, got x=${fmtShape(x.shape)}`, 'x');
  expectNumber(op, 'k', k, { nonFinite: true });
  if (!Number.isInteger(k)) throw new ValueError(op, `diagonal offset k must be an integer, got ${k}`, 'k');
  const rows = x.shape[x.ndim - 2]!;
  const cols = x.shape[x.ndim - 1]!;
  const keep = op === 'tril' ? (i: number, j: number) => j - i <= k : (i: number, j: number) => j - i >= k;
  const mask = (src: TypedArray): TypedArray => {
    const out = allocate(x.dtype, src.length);
    for (let b = 0; b < src.length; b += rows * cols) {
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) if (keep(i, j)) out[b + i * cols + j] = src[b + i * cols + j]!;
    }
    return out;
  };
  return recordOp(op, new Tensor(mask(x.data), x.shape), [x], (g) => [triangle(op, g, k)], MOVEMENT_RULE); // the mask is its own adjoint
}

/** Lower triangle of the last two axes: keep entries with j − i ≤ k. */
export const tril = (x: Tensor, k = 0): Tensor => triangle('tril', x, k);
/** Upper triangle of the last two axes: keep entries with j − i ≥ k. */
export const triu = (x: Tensor, k = 0): Tensor => triangle('triu', x, k);

/** Join tensors along an existing axis; all other sizes must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  checkArray('concat', 'xs', xs, 'Tensors');
  if (xs.length === 0) throw new ValueError('concat', 'needs at least one tensor', 'xs');
  xs.forEach((x, i) => checkTensor('concat', x, `xs[${i}]`));
  const first = xs[0]!;
  const a = normAxis(axis, first.ndim, 'concat');
  for (let i = 1; i < xs.length; i++) {
    const s = xs[i]!.shape;
    if (s.length !== first.ndim || s.some((d, j) => j !== a && d !== first.shape[j])) {
      throw new ShapeError('concat', `xs[${i}]=${fmtShape(s)} does not match xs[0]=${fmtShape(first.shape)} off axis ${a} (all sizes but the concat axis must agree)`, `xs[${i}]`);
    }
  }
  const shape = [...first.shape];
  shape[a] = xs.reduce((p, x) => p + x.shape[a]!, 0);
  const dtype = xs.reduce((d, x) => promoteTypes(d, x.dtype), first.dtype);
  const outer = first.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const rowOut = sizeOf(shape.slice(a));
  const data = allocate(dtype, sizeOf(shape), 'concat', 'xs');
  let col = 0;
  for (const x of xs) {
    const row = sizeOf(x.shape.slice(a));
    for (let o = 0; o < outer; o++) data.set(x.data.subarray(o * row, (o + 1) * row), o * rowOut + col);
    col += row;
  }
  return recordOp('concat', new Tensor(data, shape), xs, (g) => {
    let start = 0;
    return xs.map((x) => {
      const part = narrow(g, a, start, x.shape[a]!);
      start += x.shape[a]!;
      return part;
    });
  }, MOVEMENT_RULE);
}

/** Join tensors of equal shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  checkArray('stack', 'xs', xs, 'Tensors');
  if (xs.length === 0) throw new ValueError('stack', 'needs at least one tensor', 'xs');
  xs.forEach((x, i) => {
    checkTensor('stack', x, `xs[${i}]`);
    if (!shapesEqual(x.shape, xs[0]!.shape)) {
      throw new ShapeError('stack', `xs[${i}]=${fmtShape(x.shape)} differs from xs[0]=${fmtShape(xs[0]!.shape)} (stacked tensors must have equal shapes)`, `xs[${i}]`);
    }
  });
  const a = normAxis(axis, xs[0]!.ndim + 1, 'stack');
  return concat(xs.map((x) => unsqueeze(x, a)), a);
}

/** Split along `axis` into chunks of `sizes` entries (the last may be smaller), or into the listed section sizes. */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  checkTensor('split', x);
  const a = normAxis(axis, x.ndim, 'split');
  const n = x.shape[a]!;
  let sections: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) throw new ValueError('split', `chunk size must be a positive integer, got ${sizes}`, 'sizes');
    sections = [];
    for (let s = 0; s < n; s += sizes) sections.push(Math.min(sizes, n - s));
    if (n === 0) sections.push(0); // as torch: an empty axis still gives one (empty) chunk, so concat(split(x)) is x
  } else {
    checkArray('split', 'sizes', sizes, 'section sizes (or one chunk size)');
    sections = [...sizes];
    const total = sections.reduce((p, s) => p + s, 0);
    if (total !== n || sections.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new ShapeError('split', `sections [${sections.join(',')}] sum to ${total}, but axis ${a} of x=${fmtShape(x.shape)} has ${n}`, 'sizes');
    }
  }
  let start = 0;
  return sections.map((len) => {
    const part = narrow(x, a, start, len);
    start += len;
    return part;
  });
}
