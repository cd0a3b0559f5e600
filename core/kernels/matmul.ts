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
 *      for each column panel jc of C (NC wide):
 *        for each depth slab pc (KC deep):            pack op(B)[pc, jc] -> B slab (KC × NC, NR-wide strips)
 *          for each row block ic of C (MC tall):      pack op(A)[ic, pc] -> A slab (MC × KC, MR-tall strips)
 *            for each NR-wide strip jr of B:          its KC × NR part (16 KiB) stays in L1
 *              for each MR-tall strip ir of A:        its KC × MR part (12 KiB) streams from the A slab
 *                                                     (384 KiB), which stays in L2
 *                microKernel: C[ir.., jr..] (+)= A-strip · B-strip with MR × NR float64 sums in locals
 *
 *    Packing reads op(A) and op(B) through (line stride, depth stride) pairs, so transposed operands cost
 *    nothing extra: after packing every case runs the same micro-kernel on the same layout. Both slabs share
 *    one array, so the micro-kernel reads a single array, and its size is bounded by the block sizes whatever
 *    the shapes. Strips at the right and bottom edges are zero-padded to full MR / NR so the micro-kernel never
 *    branches inside its loop; only the valid part of an edge tile is stored.
 *
 * Accumulation is in float64 throughout (JS numbers, packed as doubles), and each element of C is rounded once.
 * Tiles are stored straight into C when C is float64 (the first slab overwrites unless accumulating, later slabs
 * add) or when one slab covers all of K. Otherwise (float32 C, K > KC) each PANEL_ROWS × NC panel is summed over
 * all of K in a float64 scratch and rounded on one final store.
 *
 * Block sizes and tile shape were picked by timing variants on a 2-core AMD EPYC (Zen 5) under Node 20, pinned
 * to one core (the two cores of these machines differ by up to 30% under neighbours' load, so unpinned A/B runs
 * mislead). In JS the micro-kernel is bound by instruction count, not memory: every typed-array load is an
 * index add, a sign extension, a bounds check and the load itself, and V8 schedules a step's loads before its
 * products, so 4 × 4 (16 sums + 8 operands) spills more of x64's 16 float registers than 3 × 4 (12 + 7). The
 * 3 × 4 tile beat 4 × 4 by ~10% and 4 × 3, 5 × 3, 3 × 3, 2 × 4, 2 × 6, 2 × 8, 3 × 5 and 3 × 6 by 2–40%;
 * unrolling its depth loop made it 20–25% slower; wrapping indices in `| 0` (no overflow checks) and reading
 * one array instead of two gave a few percent each. All together the product at N = 512 got ~15% faster.
 * KC = 512 beat 256 by 2–3% at N = 512 (one slab: tiles go straight to C); MC 64…128 and NC 256…1024 were flat
 * within noise. Scratch buffers are module-level and only grow, and their sizes do not depend on the shapes: `packed`
 * holds at most KC × (NC + MC) numbers and the panel PANEL_ROWS × NC float64.
 *
 * V8 note: once anything in the process detaches an ArrayBuffer (WebAssembly memory growth, a transfer), V8
 * adds a detach check to every typed-array access in optimized code (20–30% slower here). The micro-kernel reads
 * a plain array of doubles, which that check does not touch.
 */
import { kernels } from '../backend.js';
import type { TypedArray } from '../dtype.js';

/** Rows of C per register tile (accumulators c00…c23 live in locals). */
const MR = 3;
/** Columns of C per register tile. */
const NR = 4;
/** Depth of one packed slab: a KC × NR strip of B plus a KC × MR strip of A is 28 KiB of float64 (L1). */
const KC = 512;
/** Rows of A packed at a time: an MC × KC block of float64 is 384 KiB (L2). */
const MC = 96;
/** Columns of B packed at a time. */
const NC = 256;
/** Rows of a float32 C summed at a time in the float64 panel when K > KC (the panel is PANEL_ROWS × NC). */
const PANEL_ROWS = 1024;
/**
 * Up to this many elements of C (e.g. 8 × 8, 16 × 8 or 4 × 32) the direct strided loop beats packing. Measured
 * with both dtypes in use: direct is ~10–80% faster for 8 × 8 × {8…64} and 4 × 4 × 256, even at 16 × 8 × 8,
 * and ~8–30% slower from 12 × 12 × 12 and 32 × 32 × 4 up.
 */
const SMALL_OUTPUT = 128;

/**
 * Packed operands, in one array so the micro-kernel reads a single array: first the op(B) slab (NR-column strips,
 * each kc × NR, element (p, j) of a strip at p·NR + j), then the op(A) slab (MR-row strips, each kc × MR, element
 * (i, p) at p·MR + i); at most KC × (NC + MC) numbers. A plain array of doubles rather than a Float64Array: its
 * loads are as fast, and they stay fast after something in the process detaches an ArrayBuffer (see above).
 */
const packed: number[] = [];
/** float64 sums of one PANEL_ROWS × NC panel of a float32 C when K spans several slabs, rounded once at the end. */
let panelC: Float64Array = new Float64Array(0);
/** Partial sums for the axpy form of matrix-vector products. */
let rowSums: Float64Array = new Float64Array(0);
/** One MR × NR tile, for edge tiles that only partly overlap C. */
const edgeTile = new Float64Array(MR * NR);

function ensure(buf: Float64Array, length: number): Float64Array {
  return buf.length >= length ? buf : new Float64Array(Math.max(length, 2 * buf.length));
}

/** Grows `packed` to `length` numbers. It is filled with a fraction so V8 keeps it as unboxed doubles. */
function ensurePacked(length: number): void {
  while (packed.length < length) packed.push(0.5);
}

/**
 * C[M,N] = op(A)·op(B) (or += when accumulate), one matrix, on the active backend (core/backend.ts): its gemm
 * kernel when it has one and takes the call, else the JS kernel `gemmJs`. Same arguments and contract as gemmJs.
 */
export function gemm(M: number, N: number, K: number, a: TypedArray, aOff: number, transA: boolean, b: TypedArray, bOff: number, transB: boolean, c: TypedArray, cOff: number, accumulate: boolean): void {
  const kernel = kernels.gemm;
  if (kernel !== undefined && kernel(M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate)) return;
  gemmJs(M, N, K, a, aOff, transA, b, bOff, transB, c, cOff, accumulate);
}

/**
 * The scalar reference: C[M,N] = op(A)·op(B) (or += when accumulate), one matrix. op(A) is A stored row-major as [M,K] (transA=false)
 * or as [K,M] (transA=true, i.e. A is read transposed); op(B) is B stored [K,N] (transB=false) or [N,K] (transB=true).
 * aOff/bOff/cOff are element offsets into the buffers (batched callers step them). C is row-major [M,N].
 * C must not overlap A or B. K = 0 gives C = 0 (unchanged when accumulating).
 */
export function gemmJs(
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
  // Tiles go straight into C when that rounds each element once: C is float64, or one slab covers all of K.
  // Otherwise rows are done PANEL_ROWS at a time, so the float64 panel stays small however tall C is.
  const viaPanel = K > KC && !(c instanceof Float64Array);
  const rowsPerPass = viaPanel ? PANEL_ROWS : M;
  if (viaPanel) panelC = ensure(panelC, Math.min(PANEL_ROWS, M) * Math.min(NC, N));
  const aStart = Math.ceil(Math.min(NC, N) / NR) * NR * Math.min(KC, K); // the op(A) slab follows the op(B) slab
  ensurePacked(aStart + Math.ceil(Math.min(MC, M) / MR) * MR * Math.min(KC, K));
  const aLine = transA ? 1 : K; // op(A)[i, p] = a[aOff + i·aLine + p·aDepth]
  const aDepth = transA ? M : 1;
  const bLine = transB ? K : 1; // op(B)[p, j] = b[bOff + j·bLine + p·bDepth]
  const bDepth = transB ? 1 : N;
  for (let r0 = 0; r0 < M; r0 += rowsPerPass) {
    const m = Math.min(rowsPerPass, M - r0);
    for (let j0 = 0; j0 < N; j0 += NC) {
      const nc = Math.min(NC, N - j0);
      const dst = viaPanel ? panelC : c;
      const dOff = viaPanel ? 0 : cOff + r0 * N + j0;
      const ldd = viaPanel ? nc : N;
      for (let p0 = 0; p0 < K; p0 += KC) {
        const kc = Math.min(KC, K - p0);
        const add = p0 > 0 || (accumulate && !viaPanel);
        packStrips(0, b, bOff + j0 * bLine + p0 * bDepth, bLine, bDepth, kc, nc, NR);
        for (let i0 = 0; i0 < m; i0 += MC) {
          const mc = Math.min(MC, m - i0);
          packStrips(aStart, a, aOff + (r0 + i0) * aLine + p0 * aDepth, aLine, aDepth, kc, mc, MR);
          multiplySlab(mc, nc, kc, aStart, dst, dOff + i0 * ldd, ldd, add);
        }
      }
      if (viaPanel) storePanel(m, nc, c, cOff + r0 * N + j0, N, accumulate);
    }
  }
}

/**
 * Packs `count` lines of an operand, `depth` deep, into strips of `width` lines at packed[at…], zero-padded at
 * the edge: element (line l, depth p) is src[off + l·lineStride + p·depthStride] and lands at p·width + (l mod
 * width) of its strip. op(A) is packed by its rows (MR-row strips), op(B) by its columns (NR-column strips).
 */
function packStrips(at: number, src: TypedArray, off: number, lineStride: number, depthStride: number, depth: number, count: number, width: number): void {
  const dst = packed;
  let o = at;
  for (let l0 = 0; l0 < count; l0 += width) {
    const lines = Math.min(width, count - l0);
    const start = off + l0 * lineStride;
    if (lines === 4) {
      // full NR strip, unrolled: the common case for op(B)
      for (let p = 0, s = start; p < depth; p++, s += depthStride, o += 4) {
        dst[o] = src[s]!;
        dst[o + 1] = src[s + lineStride]!;
        dst[o + 2] = src[s + 2 * lineStride]!;
        dst[o + 3] = src[s + 3 * lineStride]!;
      }
    } else if (lines === 3 && width === 3) {
      // full MR strip, unrolled: the common case for op(A)
      for (let p = 0, s = start; p < depth; p++, s += depthStride, o += 3) {
        dst[o] = src[s]!;
        dst[o + 1] = src[s + lineStride]!;
        dst[o + 2] = src[s + 2 * lineStride]!;
      }
    } else {
      for (let p = 0; p < depth; p++) {
        let s = start + p * depthStride;
        for (let i = 0; i < lines; i++, s += lineStride) dst[o + i] = src[s]!;
        for (let i = lines; i < width; i++) dst[o + i] = 0;
        o += width;
      }
    }
  }
}

/**
 * dst[mc, nc] (+)= A-slab[mc, kc] · B-slab[kc, nc], both read from `packed` (the B slab at 0, the A slab at
 * aStart). dst has row stride ldd and starts at dOff; the products overwrite it unless `add`.
 */
function multiplySlab(mc: number, nc: number, kc: number, aStart: number, dst: TypedArray, dOff: number, ldd: number, add: boolean): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = Math.min(NR, nc - jr);
    const ib = jr * kc;
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = Math.min(MR, mc - ir);
      const ia = aStart + ir * kc;
      const at = dOff + ir * ldd + jr;
      if (mr === MR && nr === NR) {
        microKernel(kc, packed, ia, ib, dst, at, ldd, add);
      } else {
        microKernel(kc, packed, ia, ib, edgeTile, 0, NR, false);
        storeEdge(mr, nr, dst, at, ldd, add);
      }
    }
  }
}

/** Writes (or adds, when `add`) the valid mr × nr corner of edgeTile into dst at dOff (row stride ldc). */
function storeEdge(mr: number, nr: number, dst: TypedArray, dOff: number, ldc: number, add: boolean): void {
  for (let i = 0; i < mr; i++) {
    for (let j = 0; j < nr; j++) {
      const at = dOff + i * ldc + j;
      dst[at] = add ? dst[at]! + edgeTile[i * NR + j]! : edgeTile[i * NR + j]!;
    }
  }
}

/** Rounds panelC[m, nc] into C at cOff (row stride ldc), adding to C's contents when accumulate. */
function storePanel(m: number, nc: number, c: TypedArray, cOff: number, ldc: number, accumulate: boolean): void {
  const src = panelC;
  for (let i = 0; i < m; i++) {
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
 * The 3 × 4 register tile: dst[3,4] at dOff (row stride ldc) (+)= Σ_{p<kc} A-strip[p, 0:3] ⊗ B-strip[p, 0:4],
 * the strips read from `buf` at ia (A, 3 per step) and ib (B, 4 per step); the sums overwrite dst unless `add`.
 * The twelve sums live in float64 locals. Indices are wrapped with `| 0` so V8 emits plain 32-bit adds instead
 * of overflow-checked ones.
 */
function microKernel(kc: number, buf: readonly number[], ia: number, ib: number, dst: TypedArray, dOff: number, ldc: number, add: boolean): void {
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
  if (add) {
    c00 += dst[r0]!; c01 += dst[r0 + 1]!; c02 += dst[r0 + 2]!; c03 += dst[r0 + 3]!;
    c10 += dst[r1]!; c11 += dst[r1 + 1]!; c12 += dst[r1 + 2]!; c13 += dst[r1 + 3]!;
    c20 += dst[r2]!; c21 += dst[r2 + 1]!; c22 += dst[r2 + 2]!; c23 += dst[r2 + 3]!;
  }
  dst[r0] = c00; dst[r0 + 1] = c01; dst[r0 + 2] = c02; dst[r0 + 3] = c03;
  dst[r1] = c10; dst[r1 + 1] = c11; dst[r1 + 2] = c12; dst[r1 + 3] = c13;
  dst[r2] = c20; dst[r2 + 1] = c21; dst[r2 + 2] = c22; dst[r2 + 3] = c23;
}
