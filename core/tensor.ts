import { runBackward, type BackwardOptions, type GradNode } from './autograd.js';
import { dtypeOf, type DType, type TypedArray } from './dtype.js';
import { describeValue } from './args.js';
import { DTypeError, ShapeError, ValueError } from './errors.js';
import * as E from './ops/elementwise.js';
import * as I from './ops/indexing.js';
import * as M from './ops/matmul.js';
import * as V from './ops/movement.js';
import * as R from './ops/reduce.js';
import * as S from './ops/softmax.js';
import { fmtShape, sizeOf, stridesOf, type Shape } from './shape.js';

/** A tensor's values as nested JS arrays (`toArray()`): a number for rank 0, arrays nested once per axis otherwise. */
export type NestedArray = number | NestedArray[];

/**
 * Storage versions, as PyTorch's `_version`: one counter per typed array, shared by every tensor over it (views,
 * `detach`). Every in-place write the library makes (optimizers, `loadStateDict`, `clipGradNorm`, `gpt2Init`, and `markModified()` for your own writes) bumps it; a
 * backward rule whose saved tensor changed version since it was recorded refuses to run (autograd.ts).
 */
const storageVersions = new WeakMap<TypedArray, number>();

/** The version of a typed array's contents (0 until something writes it in place). */
export function storageVersion(data: TypedArray): number {
  return storageVersions.get(data) ?? 0;
}
/** A tensor or a plain number (which takes the other operand's dtype). */
export type TensorLike = Tensor | number;

/**
 * A contiguous, row-major n-d array of float32 or float64 with an optional autograd record.
 * `data` is the flat buffer (mutable in place: optimizers update it); `shape` never changes.
 */
export class Tensor {
  readonly data: TypedArray;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Whether gradients flow to this tensor. Leaves set it; op outputs inherit it from their inputs. */
  requiresGrad: boolean;
  /** dL/d(this) after `backward`, accumulated across calls (leaves, and tensors that called `retainGrad`). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, if recorded for autograd (null for leaves). */
  gradNode: GradNode | null = null;
  /** Keep `.grad` on this non-leaf tensor during backward. */
  retainsGrad = false;

  constructor(data: TypedArray, shape: Shape, requiresGrad = false) {
    if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
      throw new DTypeError('Tensor', `data must be a Float32Array or a Float64Array, got ${describeValue(data)}`, 'data');
    }
    if (!Array.isArray(shape)) throw new DTypeError('Tensor', `shape must be an array of sizes, got ${describeValue(shape)}`, 'shape');
    if (typeof requiresGrad !== 'boolean') throw new DTypeError('Tensor', `requiresGrad must be true or false, got ${describeValue(requiresGrad)}`, 'requiresGrad');
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError('Tensor', `invalid shape=${fmtShape(shape)} (sizes must be non-negative integers)`, 'shape');
    }
    if (sizeOf(shape) !== data.length) {
      throw new ShapeError('Tensor', `data has ${data.length} elements but shape=${fmtShape(shape)} needs ${sizeOf(shape)}`, 'shape');
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtypeOf(data);
    this.requiresGrad = requiresGrad;
  }

  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.data.length;
  }
  get strides(): number[] {
    return stridesOf(this.shape);
  }
  /** How many in-place writes the library has made to this tensor's storage (shared with views of it). */
  get version(): number {
    return storageVersion(this.data);
  }

  /**
   * Declare that `data` was written in place (call it after `t.data.set(…)` or any direct write): backward passes
   * through graphs that saved this tensor before the write then throw instead of returning wrong gradients.
   */
  markModified(): this {
    storageVersions.set(this.data, storageVersion(this.data) + 1);
    return this;
  }

  /** True if no op made this tensor (user-created, or detached). */
  get isLeaf(): boolean {
    return this.gradNode === null;
  }

  /** Backpropagate from this tensor; `grad` defaults to 1 for single-element tensors. */
  backward(grad?: Tensor, options?: BackwardOptions): void {
    runBackward(this, grad, options);
  }

  retainGrad(): this {
    this.retainsGrad = true;
    return this;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ValueError('item', `only one-element tensors have an item — x=${fmtShape(this.shape)}`, 'x');
    return this.data[0]!;
  }

  /** Nested JS arrays (a number for rank 0). */
  toArray(): NestedArray {
    if (this.ndim === 0) return this.data[0]!;
    const build = (dim: number, offset: number, strides: number[]): NestedArray[] => {
      const n = this.shape[dim]!;
      const out: NestedArray[] = new Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = dim === this.ndim - 1 ? this.data[offset + i]! : build(dim + 1, offset + i * strides[dim]!, strides);
      }
      return out;
    };
    return build(0, 0, this.strides);
  }

  /** A new tensor sharing this data, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** A copy of the data, differentiable. */
  clone(): Tensor {
    return E.clone(this);
  }

  toString(): string {
    // String(v), not JSON: JSON prints NaN and ±∞ as null
    const show = (a: NestedArray): string => (typeof a === 'number' ? String(a) : `[${a.map(show).join(',')}]`);
    const body = this.size <= 64 ? show(this.toArray()) : `[${Array.from(this.data.subarray(0, 8)).join(', ')}, …]`;
    return `Tensor(${body}, shape=${fmtShape(this.shape)}, dtype=${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ── elementwise ──
  add(other: TensorLike): Tensor { return E.add(this, other); }
  sub(other: TensorLike): Tensor { return E.sub(this, other); }
  mul(other: TensorLike): Tensor { return E.mul(this, other); }
  div(other: TensorLike): Tensor { return E.div(this, other); }
  pow(exponent: TensorLike): Tensor { return E.pow(this, exponent); }
  maximum(other: TensorLike): Tensor { return E.maximum(this, other); }
  minimum(other: TensorLike): Tensor { return E.minimum(this, other); }
  neg(): Tensor { return E.neg(this); }
  exp(): Tensor { return E.exp(this); }
  log(): Tensor { return E.log(this); }
  sqrt(): Tensor { return E.sqrt(this); }
  rsqrt(): Tensor { return E.rsqrt(this); }
  reciprocal(): Tensor { return E.reciprocal(this); }
  abs(): Tensor { return E.abs(this); }
  sin(): Tensor { return E.sin(this); }
  cos(): Tensor { return E.cos(this); }
  tanh(): Tensor { return E.tanh(this); }
  sigmoid(): Tensor { return E.sigmoid(this); }
  relu(): Tensor { return E.relu(this); }
  gelu(approximate: E.GeluApproximation = 'none'): Tensor { return E.gelu(this, approximate); }
  silu(): Tensor { return E.silu(this); }
  softplus(): Tensor { return E.softplus(this); }
  square(): Tensor { return E.square(this); }
  clamp(min?: number, max?: number): Tensor { return E.clamp(this, min, max); }
  eq(other: TensorLike): Tensor { return E.eq(this, other); }
  ne(other: TensorLike): Tensor { return E.ne(this, other); }
  lt(other: TensorLike): Tensor { return E.lt(this, other); }
  le(other: TensorLike): Tensor { return E.le(this, other); }
  gt(other: TensorLike): Tensor { return E.gt(this, other); }
  ge(other: TensorLike): Tensor { return E.ge(this, other); }
  cast(dtype: DType): Tensor { return E.cast(this, dtype); }

  // ── reductions ──
  sum(axis?: R.Axes, keepDim = false): Tensor { return R.sum(this, axis, keepDim); }
  mean(axis?: R.Axes, keepDim = false): Tensor { return R.mean(this, axis, keepDim); }
  max(axis?: R.Axes, keepDim = false): Tensor { return R.max(this, axis, keepDim); }
  min(axis?: R.Axes, keepDim = false): Tensor { return R.min(this, axis, keepDim); }
  var(axis?: R.Axes, options?: R.VarOptions): Tensor { return R.variance(this, axis, options); }
  logsumexp(axis: R.Axes, keepDim = false): Tensor { return R.logsumexp(this, axis, keepDim); }
  argmax(axis?: number, keepDim = false): Tensor { return R.argmax(this, axis, keepDim); }
  argmin(axis?: number, keepDim = false): Tensor { return R.argmin(this, axis, keepDim); }
  softmax(axis = -1): Tensor { return S.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return S.logSoftmax(this, axis); }

  // ── linear algebra ──
  matmul(other: Tensor): Tensor { return M.matmul(this, other); }

  // ── shape ──
  reshape(shape: Shape): Tensor { return V.reshape(this, shape); }
  flatten(startAxis = 0, endAxis = -1): Tensor { return V.flatten(this, startAxis, endAxis); }
  permute(dims: readonly number[]): Tensor { return V.permute(this, dims); }
  transpose(a: number, b: number): Tensor { return V.transpose(this, a, b); }
  expand(shape: Shape): Tensor { return V.expand(this, shape); }
  squeeze(axis?: number | readonly number[]): Tensor { return V.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return V.unsqueeze(this, axis); }
  slice(ranges: readonly V.SliceRange[]): Tensor { return V.slice(this, ranges); }
  narrow(axis: number, start: number, length: number): Tensor { return V.narrow(this, axis, start, length); }
  flip(axes: number | readonly number[]): Tensor { return V.flip(this, axes); }
  tril(k = 0): Tensor { return V.tril(this, k); }
  triu(k = 0): Tensor { return V.triu(this, k); }
  pad(pads: readonly (readonly [number, number])[], value = 0): Tensor { return V.pad(this, pads, value); }
  split(sizes: number | readonly number[], axis = 0): Tensor[] { return V.split(this, sizes, axis); }

  // ── indexing ──
  gather(axis: number, index: I.IndexLike): Tensor { return I.gather(this, axis, index); }
  indexSelect(axis: number, index: I.IndexLike): Tensor { return I.indexSelect(this, axis, index); }
  scatterAdd(axis: number, index: I.IndexLike, src: Tensor): Tensor { return I.scatterAdd(this, axis, index, src); }
}
