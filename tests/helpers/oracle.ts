/**
 * Deliberately naive reference implementations (multi-index arithmetic, triple loops), written independently of
 * core/kernels so that the fast paths are checked against something dumb and obviously right.
 */

export function sizeOfShape(shape: readonly number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Multi-index of flat position i in a row-major shape. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

/** Flat position of a multi-index in a row-major shape. */
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let p = 0;
  for (let d = 0; d < shape.length; d++) p = p * shape[d]! + idx[d]!;
  return p;
}

/** NumPy broadcast of two shapes, or null if they do not broadcast. */
export function naiveBroadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da); // size 0 against 1 gives 0
  }
  return out;
}

/** Read the element of `shape` that a broadcast multi-index `idx` (of a larger rank) maps to. */
export function broadcastRead(data: ArrayLike<number>, shape: readonly number[], idx: readonly number[]): number {
  const off = idx.length - shape.length;
  const own = shape.map((d, k) => (d === 1 ? 0 : idx[k + off]!));
  return data[ravel(own, shape)]!;
}

export function naiveBinary(
  f: (x: number, y: number) => number,
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
): { data: number[]; shape: number[] } {
  const shape = naiveBroadcastShape(aShape, bShape)!;
  const data: number[] = [];
  for (let i = 0; i < sizeOfShape(shape); i++) {
    const idx = unravel(i, shape);
    data.push(f(broadcastRead(a, aShape, idx), broadcastRead(b, bShape, idx)));
  }
  return { data, shape };
}

/** C = A·B for A [m,k], B [k,n], triple loop. */
export function naiveMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): number[] {
  const c = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return c;
}

/** Reduce over the given axes by folding f from init; returns data and the keepDim shape. */
export function naiveReduce(
  f: (acc: number, x: number) => number,
  init: number,
  data: ArrayLike<number>,
  shape: readonly number[],
  axes: readonly number[],
): { data: number[]; keptShape: number[] } {
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = new Array<number>(sizeOfShape(keptShape)).fill(init);
  for (let i = 0; i < data.length; i++) {
    const idx = unravel(i, shape).map((v, d) => (axes.includes(d) ? 0 : v));
    const o = ravel(idx, keptShape);
    out[o] = f(out[o]!, data[i]!);
  }
  return { data: out, keptShape };
}
