/**
 * Matrix multiply on flat row-major buffers: C[M,N] (+)= op(A)[M,K] · op(B)[K,N].
 *
 * Three paths, picked by shape:
 *
 * 1. Matrix-vector (M = 1 or N = 1): one pass over the matrix operand, no packing. When the matrix is read
 *    along its rows it is a set of dot products; when it is read across rows it is a sum of scaled rows
 *    (axpy) into a float64 scratch row, so memory is always walked contiguously.
 * 2. Small outputs (M·N ≤ SMALL_OUTPUT): a direct strided loop, four dot products at a time. Packing costs more
 *    than it saves here, and batched attention calls many tiny products.
 * 3. Everything else: a GotoBLAS-style blocked product.
 *
 *      for each column panel jc of C (NC wide):       pack op(B)[:, jc]   -> B panel  (K × NC, NR-wide strips)
 *        for each row block ic of C (MC tall):        pack op(A)[ic, :]   -> A block  (MC × K, MR-tall strips)
 *          for each depth slab pc (KC deep):
 *            for each NR-wide strip jr of the panel:  its KC × NR slab (8 KiB) stays in L1
 *              for each MR-tall strip ir of the block: its KC × MR slab (6 KiB) streams from the MC × KC
 *                                                     block (192 KiB), which stays in L2
 *                microKernel: C[ir.., jr..] += A-slab · B-slab with MR × NR float64 sums in locals
 *
 *    Packing reads op(A) and op(B) through (row stride, column stride) pairs, so transposed operands cost
 *    nothing extra: after packing every case runs the same micro-kernel on the same layout. Both packed
 *    operands share one Float64Array, so the micro-kernel reads a single array. Strips at the right and bottom
 *    edges are zero-padded to full MR / NR so the micro-kernel never branches inside its loop; only the valid
 *    part of an edge tile is added to C.
 *
 * Accumulation is in float64 throughout (JS numbers; packed panels are Float64Array). A float64 C is zeroed
 * first (unless accumulating) and then updated in place slab by slab. A float32 C gets each MC × NC block summed
 * over all of K in a zeroed float64 scratch and is rounded exactly once on the final store.
 *
 * Block sizes and tile shape were picked by timing variants on a 2-core AMD EPYC (Zen 5) under Node 20, pinned
 * to one core (the two cores of these machines differ by up to 30% under neighbours' load, so unpinned A/B runs
 * mislead). In JS the micro-kernel is bound by instruction count, not memory: every typed-array load is an
 * index add, a sign extension, a bounds check and the load itself, and x64 has 16 float registers. The 3 × 4
 * tile (12 sums + 3 A values + 1 B value fit in registers) beat 4 × 4 by ~10% and 4 × 3, 5 × 3, 2 × 4, 2 × 6,
 * 2 × 8, 3 × 5 and 3 × 6 by 10–40%; wrapping indices in `| 0` (no overflow checks) and reading one array
 * instead of two gave a few percent each; all together the product at N = 512 got ~15% faster. N = 512…1024 throughput was flat within noise for KC from 256 to unblocked, MC
 * 64…128 and NC 256…1024. Scratch buffers are module-level and only grow: `packed` holds K × NC + MC × K
 * float64.
 *
 * V8 note: once anything in the process detaches an ArrayBuffer (WebAssembly memory growth, a transfer), V8
 * adds a detach check to every typed-array access in optimized code and this kernel loses ~10–15%.
 */
import type { TypedArray } from '../dtype.js';

/** Rows of C per register tile (accumulators c00…c23 live in locals). */
const MR = 3;
/** Columns of C per register tile. */
const NR = 4;
/** Depth of one packed slab: a KC × NR strip of B plus a KC × MR strip of A is 16 KiB of float64 (L1). */
const KC = 256;
/** Rows of A packed at a time: an MC × KC block of float64 is 128 KiB (L2). */
const MC = 96;
/** Columns of B packed at a time. */
const NC = 256;
/**
 * Up to this many elements of C (e.g. 8 × 8, 16 × 8 or 4 × 32) the direct strided loop beats packing. Measured
 * with both dtypes in use: direct is ~10–80% faster for 8 × 8 × {8…64} and 4 × 4 × 256, even at 16 × 8 × 8,
 * and ~8–30% slower from 12 × 12 × 12 and 32 × 32 × 4 up.
 */
const SMALL_OUTPUT = 128;

/**
 * Packed operands, in one buffer so the micro-kernel reads a single array: first the op(B) panel (NR-column
 * strips, each K × NR, element (p, j) of a strip at p·NR + j), then the op(A) block (MR-row strips, each K × MR,
 * element (i, p) at p·MR + i).
 */
let packed: Float64Array = new Float64Array(0);
/** float64 sums of one MC × NC block of a float32 C, rounded once when the block is done. */
let blockC: Float64Array = new Float64Array(0);
/** Partial sums for the axpy form of matrix-vector products. */
let rowSums: Float64Array = new Float64Array(0);
/** One MR × NR tile, for edge tiles that only partly overlap C. */
const edgeTile = new Float64Array(MR * NR);

function ensure(buf: Float64Array, length: number): Float64Array {
  return buf.length >= length ? buf : new Float64Array(Math.max(length, 2 * buf.length));
}

/**
 * C[M,N] = op(A)·op(B) (or += when accumulate), one matrix. op(A) is A stored row-major as [M,K] (transA=false)
 * or as [K,M] (transA=true, i.e. A is read transposed); op(B) is B stored [K,N] (transB=false) or [N,K] (transB=true).
 * aOff/bOff/cOff are element offsets into the buffers (batched callers step them). C is row-major [M,N].
 * C must not overlap A or B. K = 0 gives C = 0 (unchanged when accumulating).
 */
export function gemm(
  M: number,
  N: number,
  K: number,
  a: TypedArray,
  aOff: number,
  transA: boolean,
  b: TypedArray,
  bOff: number,
  transB: boolean,
  c: TypedArray,
  cOff: number,
  accumulate: boolean,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0) {
    if (!accumulate) c.fill(0, cOff, cOff + M * N);
    return;
  }
  if (M === 1 && !transB) {
    gemvAxpy(N, K, a, aOff, b, bOff, c, cOff, accumulate);
  } else if (N === 1 && transA) {
    gemvAxpy(M, K, b, bOff, a, aOff, c, cOff, accumulate);
  } else if (M === 1 || N === 1 || M * N <= SMALL_OUTPUT) {
    gemmDirect(M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate);
  } else {
    gemmBlocked(M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate);
  }
}

/**
 * Direct strided loop: C[i,j] (+)= Σ_p op(A)[i,p]·op(B)[p,j] as float64 dot products, row by row.
 * op(A)[i,p] = a[aOff + i·aRow + p·aCol], op(B)[p,j] = b[bOff + p·bRow + j·bCol].
 */
function gemmDirect(
  M: number,
  N: number,
  K: number,
  a: TypedArray,
  aOff: number,
  transA: boolean,
  b: TypedArray,
  bOff: number,
  transB: boolean,
  c: TypedArray,
  cOff: number,
  accumulate: boolean,
): void {
  const aRow = transA ? 1 : K;
  const aCol = transA ? M : 1;
  const bRow = transB ? 1 : N;
  const bCol = transB ? K : 1;
  for (let i = 0; i < M; i++) {
    directRow(N, K, a, aOff + i * aRow, aCol, b, bOff, bRow, bCol, c, cOff + i * N, accumulate);
  }
}

/**
 * One row of the direct loop: c[cRow + j] (+)= Σ_p a[aStart + p·aCol]·b[bOff + p·bRow + j·bCol] for j < N,
 * four columns at a time so each element of the A row is loaded once per four products.
 */
function directRow(
  N: number,
  K: number,
  a: TypedArray,
  aStart: number,
  aCol: number,
  b: TypedArray,
  bOff: number,
  bRow: number,
  bCol: number,
  c: TypedArray,
  cRow: number,
  accumulate: boolean,
): void {
  const N4 = N - (N % 4);
  for (let j = 0; j < N4; j += 4) {
    let ia = aStart;
    let ib = bOff + j * bCol;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let p = 0; p < K; p++, ia += aCol, ib += bRow) {
      const x = a[ia]!;
      s0 += x * b[ib]!;
      s1 += x * b[ib + bCol]!;
      s2 += x * b[ib + 2 * bCol]!;
      s3 += x * b[ib + 3 * bCol]!;
    }
    const at = cRow + j;
    if (accumulate) {
      s0 += c[at]!;
      s1 += c[at + 1]!;
      s2 += c[at + 2]!;
      s3 += c[at + 3]!;
    }
    c[at] = s0;
    c[at + 1] = s1;
    c[at + 2] = s2;
    c[at + 3] = s3;
  }
  for (let j = N4; j < N; j++) {
    let ia = aStart;
    let ib = bOff + j * bCol;
    let s = 0;
    for (let p = 0; p < K; p++, ia += aCol, ib += bRow) s += a[ia]! * b[ib]!;
    c[cRow + j] = accumulate ? c[cRow + j]! + s : s;
  }
}

/**
 * Matrix-vector product as a sum of scaled rows: out[j] (+)= Σ_p v[vOff + p]·m[mOff + p·len + j] for j < len.
 * The matrix m is [K, len] row-major; out is contiguous at c[cOff…]. Sums are kept in float64.
 */
function gemvAxpy(
  len: number,
  K: number,
  v: TypedArray,
  vOff: number,
  m: TypedArray,
  mOff: number,
  c: TypedArray,
  cOff: number,
  accumulate: boolean,
): void {
  rowSums = ensure(rowSums, len);
  const sums = rowSums;
  sums.fill(0, 0, len);
  for (let p = 0; p < K; p++) {
    const x = v[vOff + p]!;
    const row = mOff + p * len;
    for (let j = 0; j < len; j++) sums[j] = sums[j]! + x * m[row + j]!;
  }
  for (let j = 0; j < len; j++) c[cOff + j] = accumulate ? c[cOff + j]! + sums[j]! : sums[j]!;
}

/** The blocked product described at the top of the file. */
function gemmBlocked(
  M: number,
  N: number,
  K: number,
  a: TypedArray,
  aOff: number,
  transA: boolean,
  b: TypedArray,
  bOff: number,
  transB: boolean,
  c: TypedArray,
  cOff: number,
  accumulate: boolean,
): void {
  const direct = c instanceof Float64Array;
  if (direct && !accumulate) c.fill(0, cOff, cOff + M * N);
  const ncMax = Math.min(NC, N);
  const aStart = Math.ceil(ncMax / NR) * NR * K; // packed op(A) follows the packed op(B) panel
  packed = ensure(packed, aStart + Math.ceil(Math.min(MC, M) / MR) * MR * K);
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = Math.min(NC, N - j0);
    packStrips(packed, 0, b, bOff, transB ? K : 1, transB ? 1 : N, K, j0, nc, NR); // op(B)[p, j]: column j is a line
    for (let i0 = 0; i0 < M; i0 += MC) {
      const mc = Math.min(MC, M - i0);
      packStrips(packed, aStart, a, aOff, transA ? 1 : K, transA ? M : 1, K, i0, mc, MR); // op(A)[i, p]: row i is a line
      if (direct) {
        multiplyBlock(mc, nc, K, aStart, c, cOff + i0 * N + j0, N);
      } else {
        blockC = ensure(blockC, mc * nc);
        blockC.fill(0, 0, mc * nc);
        multiplyBlock(mc, nc, K, aStart, blockC, 0, nc);
        storeBlock(mc, nc, c, cOff + i0 * N + j0, N, accumulate);
      }
    }
  }
}

/**
 * Packs `count` lines of an operand, from line `first`, into strips of `width` lines at dst[at…], zero-padded at
 * the edge: element (line l, depth p) is src[off + l·lineStride + p·depthStride] and lands at p·width + (l mod
 * width) of its strip. op(A) is packed by its rows (MR-row strips), op(B) by its columns (NR-column strips).
 */
function packStrips(
  dst: Float64Array,
  at: number,
  src: TypedArray,
  off: number,
  lineStride: number,
  depthStride: number,
  K: number,
  first: number,
  count: number,
  width: number,
): void {
  let o = at;
  for (let l0 = 0; l0 < count; l0 += width) {
    const lines = Math.min(width, count - l0);
    const start = off + (first + l0) * lineStride;
    for (let p = 0; p < K; p++) {
      let s = start + p * depthStride;
      for (let i = 0; i < lines; i++, s += lineStride) dst[o + i] = src[s]!;
      for (let i = lines; i < width; i++) dst[o + i] = 0;
      o += width;
    }
  }
}

/**
 * dst[mc, nc] += A-block[mc, K] · B-panel[K, nc], slab by slab along K; both operands are read from `packed`
 * (the B panel at 0, the A block at aStart). dst is float64, row stride ldc, starting at dOff.
 */
function multiplyBlock(mc: number, nc: number, K: number, aStart: number, dst: Float64Array, dOff: number, ldc: number): void {
  for (let p0 = 0; p0 < K; p0 += KC) {
    const kc = Math.min(KC, K - p0);
    for (let jr = 0; jr < nc; jr += NR) {
      const nr = Math.min(NR, nc - jr);
      const ib = jr * K + p0 * NR;
      for (let ir = 0; ir < mc; ir += MR) {
        const mr = Math.min(MR, mc - ir);
        const ia = aStart + ir * K + p0 * MR;
        const at = dOff + ir * ldc + jr;
        if (mr === MR && nr === NR) {
          microKernel(kc, packed, ia, ib, dst, at, ldc);
        } else {
          edgeTile.fill(0);
          microKernel(kc, packed, ia, ib, edgeTile, 0, NR);
          addEdge(mr, nr, dst, at, ldc);
        }
      }
    }
  }
}

/** Adds the valid mr × nr corner of edgeTile into dst at dOff (row stride ldc). */
function addEdge(mr: number, nr: number, dst: Float64Array, dOff: number, ldc: number): void {
  for (let i = 0; i < mr; i++) {
    for (let j = 0; j < nr; j++) dst[dOff + i * ldc + j] += edgeTile[i * NR + j]!;
  }
}

/** Rounds blockC[mc, nc] into C at cOff (row stride ldc), adding to C's contents when accumulate. */
function storeBlock(mc: number, nc: number, c: TypedArray, cOff: number, ldc: number, accumulate: boolean): void {
  const src = blockC;
  for (let i = 0; i < mc; i++) {
    const row = cOff + i * ldc;
    const from = i * nc;
    if (accumulate) {
      for (let j = 0; j < nc; j++) c[row + j] = c[row + j]! + src[from + j]!;
    } else {
      for (let j = 0; j < nc; j++) c[row + j] = src[from + j]!;
    }
  }
}

/**
 * The 3 × 4 register tile: dst[3,4] at dOff (row stride ldc) += Σ_{p<kc} A-strip[p, 0:3] ⊗ B-strip[p, 0:4], the
 * strips read from `buf` at ia (A, 3 per step) and ib (B, 4 per step). The twelve sums live in float64 locals.
 * Indices are wrapped with `| 0` so V8 emits plain 32-bit adds instead of overflow-checked ones; each B value is
 * loaded right before its column's four products, which keeps every live value in a register.
 */
function microKernel(kc: number, buf: Float64Array, ia: number, ib: number, dst: Float64Array, dOff: number, ldc: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  const end = (ia + MR * kc) | 0;
  for (; ia < end; ia = (ia + MR) | 0, ib = (ib + NR) | 0) {
    const a0 = buf[ia]!, a1 = buf[(ia + 1) | 0]!, a2 = buf[(ia + 2) | 0]!;
    let b = buf[ib]!;
    c00 += a0 * b; c10 += a1 * b; c20 += a2 * b;
    b = buf[(ib + 1) | 0]!;
    c01 += a0 * b; c11 += a1 * b; c21 += a2 * b;
    b = buf[(ib + 2) | 0]!;
    c02 += a0 * b; c12 += a1 * b; c22 += a2 * b;
    b = buf[(ib + 3) | 0]!;
    c03 += a0 * b; c13 += a1 * b; c23 += a2 * b;
  }
  const r0 = dOff, r1 = r0 + ldc, r2 = r1 + ldc;
  dst[r0] += c00; dst[r0 + 1] += c01; dst[r0 + 2] += c02; dst[r0 + 3] += c03;
  dst[r1] += c10; dst[r1 + 1] += c11; dst[r1 + 2] += c12; dst[r1 + 3] += c13;
  dst[r2] += c20; dst[r2 + 1] += c21; dst[r2 + 2] += c22; dst[r2 + 3] += c23;
}
