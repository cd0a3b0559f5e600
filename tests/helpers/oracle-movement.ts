/**
 * Naive references for shape ops, integer indexing and N-d matmul: every output element is computed from its
 * multi-index by the textbook definition (no strides, no views), independently of core/ops and core/kernels.
 * Also the fast-check arbitraries those tests share.
 */
import fc from 'fast-check';
import { broadcastRead, naiveBroadcastShape, ravel, sizeOfShape, unravel } from './oracle.js';

/** A flat array of values together with its shape. */
export interface Naive {
  data: number[];
  shape: number[];
}

/** Build out[idx] = f(idx) over a row-major shape. */
export function tabulate(shape: readonly number[], f: (idx: number[]) => number): Naive {
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) data.push(f(unravel(i, shape)));
  return { data, shape: [...shape] };
}

/** out.shape[i] = shape[perm[i]], out[idx] = x[j] with j[perm[i]] = idx[i]. */
export function naivePermute(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Naive {
  const outShape = perm.map((p) => shape[p]!);
  return tabulate(outShape, (idx) => {
    const src = new Array<number>(shape.length);
    perm.forEach((p, i) => (src[p] = idx[i]!));
    return x[ravel(src, shape)]!;
  });
}

/**
 * Python's `list(range(n))[start:end:step]`, from the language reference: the items with index start + m·step for
 * 0 ≤ m while the index lies strictly before end in the direction of step, where a negative start/end counts from
 * the end (n + i), then start/end are clamped into the sequence (to [0, n] going up, to [-1, n-1] going down) and
 * omitted ones become the far ends. Written as a plain walk, not as a length formula.
 */
export function pySliceIndices(n: number, start: number | undefined, end: number | undefined, step = 1): number[] {
  const up = step > 0;
  const norm = (v: number | undefined, omitted: number): number => {
    if (v === undefined) return omitted;
    const w = v < 0 ? v + n : v;
    return up ? Math.min(Math.max(w, 0), n) : Math.min(Math.max(w, -1), n - 1);
  };
  const s = norm(start, up ? 0 : n - 1);
  const e = norm(end, up ? n : -1);
  const out: number[] = [];
  for (let i = s; up ? i < e : i > e; i += step) out.push(i);
  return out;
}

/** Cartesian gather: out[idx] = x[lists[0][idx[0]], lists[1][idx[1]], …]. */
export function naiveTake(x: ArrayLike<number>, shape: readonly number[], lists: readonly (readonly number[])[]): Naive {
  return tabulate(
    lists.map((l) => l.length),
    (idx) => x[ravel(idx.map((i, d) => lists[d]![i]!), shape)]!,
  );
}

/** x broadcast to `target` (NumPy rules, via oracle.ts's broadcastRead). */
export function naiveExpand(x: ArrayLike<number>, shape: readonly number[], target: readonly number[]): Naive {
  return tabulate(target, (idx) => broadcastRead(x, shape, idx));
}

/** Constant pad: out[idx] = x[idx − before] inside, `value` outside. */
export function naivePad(x: ArrayLike<number>, shape: readonly number[], before: readonly number[], after: readonly number[], value: number): Naive {
  const outShape = shape.map((d, i) => d + before[i]! + after[i]!);
  return tabulate(outShape, (idx) => {
    const src = idx.map((v, d) => v - before[d]!);
    return src.every((v, d) => v >= 0 && v < shape[d]!) ? x[ravel(src, shape)]! : value;
  });
}

/** Keep x[..., i, j] where keep(i, j), zero elsewhere. */
export function naiveTriangle(x: ArrayLike<number>, shape: readonly number[], keep: (i: number, j: number) => boolean): Naive {
  const r = shape.length;
  return tabulate(shape, (idx) => (keep(idx[r - 2]!, idx[r - 1]!) ? x[ravel(idx, shape)]! : 0));
}

/** Concatenation: find which piece the coordinate on `axis` falls in. */
export function naiveConcat(xs: readonly Naive[], axis: number): Naive {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((p, x) => p + x.shape[axis]!, 0);
  return tabulate(shape, (idx) => {
    let c = idx[axis]!;
    for (const x of xs) {
      if (c < x.shape[axis]!) {
        const own = [...idx];
        own[axis] = c;
        return x.data[ravel(own, x.shape)]!;
      }
      c -= x.shape[axis]!;
    }
    throw new Error('naiveConcat: coordinate outside every piece');
  });
}

/** torch.gather: out[idx] = x[idx with idx[axis] replaced by index[idx]]; out has index's shape. */
export function naiveGather(x: ArrayLike<number>, shape: readonly number[], axis: number, index: ArrayLike<number>, indexShape: readonly number[]): Naive {
  return tabulate(indexShape, (idx) => {
    const src = [...idx];
    src[axis] = index[ravel(idx, indexShape)]!;
    return x[ravel(src, shape)]!;
  });
}

/** torch.index_select: out[idx] = x[idx with idx[axis] replaced by index[idx[axis]]]. */
export function naiveIndexSelect(x: ArrayLike<number>, shape: readonly number[], axis: number, index: readonly number[]): Naive {
  const outShape = shape.map((d, i) => (i === axis ? index.length : d));
  return tabulate(outShape, (idx) => {
    const src = [...idx];
    src[axis] = index[idx[axis]!]!;
    return x[ravel(src, shape)]!;
  });
}

/** torch.scatter_add: out = x; for every position idx of index, out[idx with axis ← index[idx]] += src[idx]. */
export function naiveScatterAdd(
  x: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
  index: ArrayLike<number>,
  indexShape: readonly number[],
  src: ArrayLike<number>,
  srcShape: readonly number[],
): Naive {
  const data = Array.from(x);
  for (let i = 0; i < sizeOfShape(indexShape); i++) {
    const idx = unravel(i, indexShape);
    const dst = [...idx];
    dst[axis] = index[i]!;
    data[ravel(dst, shape)]! += src[ravel(idx, srcShape)]!;
  }
  return { data, shape: [...shape] };
}

/**
 * NumPy matmul, from its documentation: a 1-D first operand gets a 1 prepended to its shape and a 1-D second
 * operand a 1 appended; batch dims broadcast; the added 1s are removed from the result. Summed in float64.
 */
export function naiveMatmulNd(a: ArrayLike<number>, aShape: readonly number[], b: ArrayLike<number>, bShape: readonly number[]): Naive {
  const A = aShape.length === 1 ? [1, aShape[0]!] : [...aShape];
  const B = bShape.length === 1 ? [bShape[0]!, 1] : [...bShape];
  const M = A[A.length - 2]!;
  const K = A[A.length - 1]!;
  const N = B[B.length - 1]!;
  if (B[B.length - 2] !== K) throw new Error('naiveMatmulNd: inner dimensions differ');
  const batch = naiveBroadcastShape(A.slice(0, -2), B.slice(0, -2));
  if (batch === null) throw new Error('naiveMatmulNd: batch dims do not broadcast');
  const full = tabulate([...batch, M, N], (idx) => {
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2) as [number, number];
    let s = 0;
    for (let p = 0; p < K; p++) s += broadcastRead(a, A, [...bi, i, p]) * broadcastRead(b, B, [...bi, p, j]);
    return s;
  });
  const shape = [...batch, ...(aShape.length === 1 ? [] : [M]), ...(bShape.length === 1 ? [] : [N])];
  return { data: full.data, shape };
}

// ── arbitraries ──

/** A shape with its values (float64-exact numbers in [-bound, bound]). */
export interface Sample {
  shape: number[];
  values: number[];
}

export function valuesFor(size: number, bound = 3): fc.Arbitrary<number[]> {
  return fc.array(fc.double({ min: -bound, max: bound, noNaN: true, noDefaultInfinity: true }), { minLength: size, maxLength: size });
}

export function sampleArb(shape: fc.Arbitrary<number[]>, bound = 3): fc.Arbitrary<Sample> {
  return shape.chain((s) => valuesFor(sizeOfShape(s), bound).map((values) => ({ shape: s, values })));
}

/** A permutation of 0..n-1. */
export function permutationArb(n: number): fc.Arbitrary<number[]> {
  const base = Array.from({ length: n }, (_, i) => i);
  return fc.shuffledSubarray(base, { minLength: n, maxLength: n });
}

/** An axis as given by a caller: `a` or its negative alias `a - ndim`. */
export function axisAlias(a: number, ndim: number, negative: boolean): number {
  return negative ? a - ndim : a;
}

/** Assert that fn throws an instance of `cls` whose message contains every fragment. */
export function expectThrows(
  fn: () => unknown,
  cls: new (op: string, message: string, arg?: string) => Error,
  fragments: readonly string[],
  label: string,
): void {
  let caught: unknown;
  let threw = false;
  try {
    fn();
  } catch (e) {
    [caught, threw] = [e, true];
  }
  if (!threw) throw new Error(`${label}: expected ${cls.name}, nothing was thrown`);
  if (!(caught instanceof cls)) throw new Error(`${label}: expected ${cls.name}, got ${String(caught)}`);
  for (const f of fragments) {
    if (!caught.message.includes(f)) throw new Error(`${label}: message "${caught.message}" does not name ${f}`);
  }
}

/** Shapes as error messages print them. */
export function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Like fc.ts's shapeArb, but a size-0 axis is rare (weight 1 in 10, or never) so that most cases carry data:
 * with plain integer draws about half of all rank-3 shapes are empty and a property checks nothing on them.
 */
export function denseShapeArb(maxRank = 5, maxDim = 4, zeros = true): fc.Arbitrary<number[]> {
  const dim = fc.integer({ min: 1, max: maxDim });
  const withZero = fc.oneof({ arbitrary: dim, weight: 9 }, { arbitrary: fc.constant(0), weight: 1 });
  return fc.array(zeros ? withZero : dim, { minLength: 0, maxLength: maxRank });
}
