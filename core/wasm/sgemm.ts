/**
 * float32 matrix multiply on WebAssembly SIMD128: C[M,N] (+)= op(A)[M,K] · op(B)[K,N], the contract of the JS
 * `gemm` in core/kernels/matmul.ts (row-major, transposes, element offsets), for Float32Array operands.
 *
 * Layout (GotoBLAS, Goto & van de Geijn 2008, "Anatomy of high-performance matrix multiplication", §4): JS packs
 * op(A) and op(B) straight from the caller's arrays into the wasm memory, K cut into slabs of KC:
 *
 *   A: per slab, MR-row strips, each kc × MR (element (i, p) at p·MR + i)      — Mp × kc per slab
 *   B: per slab, NR-column strips, each kc × NR (element (p, j) at p·NR + j)    — kc × Np per slab
 *   C: Mp × Np row-major, Mp = M rounded up to MR, Np = N rounded up to NR
 *
 * Edge strips are zero-padded, so the micro-kernel never branches on edges; only C's valid M × N part is copied
 * out. Transposes and offsets only change how the packing reads, as in the JS kernel.
 *
 *   for each slab pc (KC deep):
 *     for each row block ic (MC tall):                  its MC × kc part of A (L2)
 *       for each NR-wide strip jr of B:                 its kc × NR part (L1)
 *         panel: for each MR-tall strip of the block:   micro-kernel, MR × NR sums in MR·NR/4 f32x4 locals
 *
 * The emitted `panel` function is the two inner loops; JS runs the outer ones. The first slab overwrites the C
 * tile, later ones load and add, so each element is summed over p in order, in float32 (the JS kernel sums in
 * float64 and rounds once: results agree to float32 summation error, |error| ≤ γ_K Σ_p |a_ip b_pj|).
 *
 * This slice copies operands in and C out on every call (packing is that copy) and frees the blocks after; tensors
 * that live in the wasm memory (no copy) come later, as does float64 (DGEMM with f64x2): the backend leaves float64
 * and mixed dtypes to the JS kernel.
 */
import type { TypedArray } from '../dtype.js';
import type { WasmHeap } from './heap.js';
import { I32, ModuleWriter, V128 } from './writer.js';

/** Rows of C per register tile. */
export const MR = 4;
/** Columns of C per register tile: NR / 4 f32x4 vectors per row. */
export const NR = 8;
/** Depth of a packed slab: a kc × NR strip of B is 8 KiB (L1). */
const KC = 256;
/** Rows of A per block: an MC × KC block is 128 KiB (L2). */
const MC = 128;

/**
 * The module: imports the heap's memory as env.memory and exports
 * panel(a, b, c, tiles, kc, ldc, load): for t < tiles, C-tile t (+)= A-strip t · B-strip, where A-strip t is at
 * a + t·MR·kc·4 (kc × MR floats), the B strip at b (kc × NR floats), and C-tile t at c + t·MR·ldc (MR rows of NR
 * floats, ldc bytes apart). The tile starts from C when `load` ≠ 0, from zero otherwise. kc ≥ 1.
 */
export function sgemmModule(shared: boolean, mr = MR, nr = NR): Uint8Array<ArrayBuffer> {
  const nv = nr / 4;
  const m = new ModuleWriter();
  m.importMemory('env', 'memory', shared ? { min: 1, max: 65536, shared: true } : { min: 1 });
  m.func('panel', [I32, I32, I32, I32, I32, I32, I32], [], (f) => {
    const [a, b, c, tiles, kc, ldc, load] = [0, 1, 2, 3, 4, 5, 6];
    const acc = Array.from({ length: mr * nv }, () => f.local(V128));
    const bv = Array.from({ length: nv }, () => f.local(V128));
    const av = f.local(V128);
    const pa = f.local(I32);
    const pb = f.local(I32);
    const end = f.local(I32);
    const row = f.local(I32);
    f.block().loop(); // over tiles
    f.localGet(tiles).i32Eqz().brIf(1);
    // acc = C tile (load) or 0
    f.localGet(load).if();
    f.localGet(c).localSet(row);
    for (let r = 0; r < mr; r++) {
      for (let v = 0; v < nv; v++) f.localGet(row).v128Load(16 * v).localSet(acc[r * nv + v]!);
      if (r + 1 < mr) f.localGet(row).localGet(ldc).i32Add().localSet(row);
    }
    f.else();
    for (const x of acc) f.v128Const().localSet(x);
    f.end();
    // pa, pb walk the strips; end = a + kc·MR·4
    f.localGet(a).localSet(pa).localGet(b).localSet(pb);
    f.localGet(a).localGet(kc).i32Const(mr * 4).i32Mul().i32Add().localSet(end);
    f.loop(); // over p: acc[r][v] += splat(A[p, r]) · B[p, 4v…4v+3]
    for (let v = 0; v < nv; v++) f.localGet(pb).v128Load(16 * v).localSet(bv[v]!);
    for (let r = 0; r < mr; r++) {
      f.localGet(pa).v128Load32Splat(4 * r).localSet(av);
      for (let v = 0; v < nv; v++) {
        const x = acc[r * nv + v]!;
        f.localGet(x).localGet(av).localGet(bv[v]!).f32x4Mul().f32x4Add().localSet(x);
      }
    }
    f.localGet(pb).i32Const(nr * 4).i32Add().localSet(pb);
    f.localGet(pa).i32Const(mr * 4).i32Add().localTee(pa).localGet(end).i32LtU().brIf(0);
    f.end();
    // store the tile
    f.localGet(c).localSet(row);
    for (let r = 0; r < mr; r++) {
      for (let v = 0; v < nv; v++) f.localGet(row).localGet(acc[r * nv + v]!).v128Store(16 * v);
      f.localGet(row).localGet(ldc).i32Add().localSet(row);
    }
    // next tile: a = end, c += MR rows (row already points there), tiles -= 1
    f.localGet(end).localSet(a).localGet(row).localSet(c);
    f.localGet(tiles).i32Const(1).i32Sub().localSet(tiles);
    f.br(0);
    f.end().end();
  });
  return m.bytes();
}

type Panel = (a: number, b: number, c: number, tiles: number, kc: number, ldc: number, load: number) => void;

/** The SGEMM kernel instantiated on one heap. */
export class WasmSgemm {
  private readonly panel: Panel;

  constructor(private readonly heap: WasmHeap, readonly mr = MR, readonly nr = NR) {
    const module = new WebAssembly.Module(sgemmModule(heap.shared, mr, nr));
    const instance = new WebAssembly.Instance(module, { env: { memory: heap.memory } });
    this.panel = instance.exports['panel'] as Panel;
  }

  /**
   * C = op(A)·op(B) (or += when accumulate) for Float32Array operands, as the JS `gemm` (same arguments); returns
   * false, doing nothing, for any other dtype (the caller runs the JS kernel). C must not overlap A or B.
   */
  gemm(
    M: number, N: number, K: number,
    a: TypedArray, aOff: number, transA: boolean,
    b: TypedArray, bOff: number, transB: boolean,
    c: TypedArray, cOff: number, accumulate: boolean,
  ): boolean {
    if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) return false;
    if (M === 0 || N === 0) return true;
    if (K === 0) {
      if (!accumulate) c.fill(0, cOff, cOff + M * N);
      return true;
    }
    const { mr, nr, heap } = this;
    const Mp = Math.ceil(M / mr) * mr;
    const Np = Math.ceil(N / nr) * nr;
    const aPtr = heap.alloc(4 * Mp * K);
    const bPtr = heap.alloc(4 * K * Np);
    const cPtr = heap.alloc(4 * Mp * Np);
    try {
      const mem = heap.f32; // read after the allocations: growth renews the view
      packStrips(mem, aPtr / 4, a, aOff, transA ? 1 : K, transA ? M : 1, M, K, mr);
      packStrips(mem, bPtr / 4, b, bOff, transB ? K : 1, transB ? 1 : N, N, K, nr);
      for (let p0 = 0; p0 < K; p0 += KC) {
        const kc = Math.min(KC, K - p0);
        for (let i0 = 0; i0 < Mp; i0 += MC) {
          const rows = Math.min(MC, Mp - i0);
          const aBlock = aPtr + 4 * (p0 * Mp + i0 * kc);
          for (let j0 = 0; j0 < Np; j0 += nr) {
            this.panel(aBlock, bPtr + 4 * (p0 * Np + j0 * kc), cPtr + 4 * (i0 * Np + j0), rows / mr, kc, 4 * Np, p0 > 0 ? 1 : 0);
          }
        }
      }
      copyOut(mem, cPtr / 4, Np, M, N, c, cOff, accumulate);
    } finally {
      heap.release(cPtr);
      heap.release(bPtr);
      heap.release(aPtr);
    }
    return true;
  }
}

/**
 * Packs `count` lines of an operand, `depth` (= K) deep, into the slab/strip layout at dst[at…]: element (line l,
 * depth p) is src[off + l·lineStride + p·depthStride]; per KC slab, strips of `width` lines, kc × width each,
 * zero-padded past `count`.
 */
function packStrips(dst: Float32Array, at: number, src: Float32Array, off: number, lineStride: number, depthStride: number, count: number, depth: number, width: number): void {
  let o = at;
  for (let p0 = 0; p0 < depth; p0 += KC) {
    const kc = Math.min(KC, depth - p0);
    for (let l0 = 0; l0 < count; l0 += width) {
      const lines = Math.min(width, count - l0);
      const start = off + l0 * lineStride + p0 * depthStride;
      if (lineStride === 1 && lines === width) {
        // the lines are contiguous: each depth step copies `width` neighbours
        for (let p = 0, s = start; p < kc; p++, s += depthStride, o += width) {
          for (let i = 0; i < width; i++) dst[o + i] = src[s + i]!;
        }
      } else {
        for (let p = 0, s0 = start; p < kc; p++, s0 += depthStride, o += width) {
          let s = s0;
          for (let i = 0; i < lines; i++, s += lineStride) dst[o + i] = src[s]!;
          for (let i = lines; i < width; i++) dst[o + i] = 0;
        }
      }
    }
    // strips of a slab: ceil(count / width) of them, kc·width each; `o` has advanced exactly that far
  }
}

/** C[i, j] (+)= mem[from + i·Np + j] for i < M, j < N. */
function copyOut(mem: Float32Array, from: number, Np: number, M: number, N: number, c: Float32Array, cOff: number, accumulate: boolean): void {
  if (!accumulate && Np === N) {
    c.set(mem.subarray(from, from + M * N), cOff);
    return;
  }
  for (let i = 0; i < M; i++) {
    const src = from + i * Np;
    const dst = cOff + i * N;
    if (accumulate) for (let j = 0; j < N; j++) c[dst + j] = c[dst + j]! + mem[src + j]!;
    else c.set(mem.subarray(src, src + N), dst);
  }
}
