/**
 * Matrix multiply on WebAssembly SIMD128: C[M,N] (+)= op(A)[M,K] · op(B)[K,N], the contract of the JS `gemm` in
 * core/kernels/matmul.ts (row-major, transposes, element offsets), for Float32Array operands (SGEMM, f32x4
 * registers) or Float64Array operands (DGEMM, f64x2 registers): one emitter, one packing, two element types.
 *
 * Layout (GotoBLAS, Goto & van de Geijn 2008, "Anatomy of high-performance matrix multiplication", §4): A and B
 * are copied into the wasm memory as they are (one `set` each), then the module's `pack` lays out op(A) and op(B),
 * K cut into slabs of KC:
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
 *         panel: for each MR-tall strip of the block:   micro-kernel, MR × NR sums in MR·NR/lanes v128 locals
 *
 * The emitted `panel` function is the two inner loops, `blocked` the outer ones over a range of strips (threads
 * split a product by strips, core/wasm/threads.ts). When accumulating, C is copied into the padded C buffer first
 * and every slab loads and adds; otherwise the first slab overwrites the tile. Each element is summed over p in
 * order, starting from C when accumulating.
 * float32: the sums are float32 (the JS kernel sums in float64 and rounds once), so results agree to float32
 * summation error, |error| ≤ γ_{K+1} Σ_p |a_ip b_pj|. float64: both sum in float64, in different orders, each
 * within γ_{K+1} of the exact value (Higham 2002, eq. 3.5), so they agree to 2γ_{K+1} Σ_p |a_ip b_pj|.
 *
 * Tiles (measured on this 2-core Xeon under Node 20, 512³, one thread): float32 4 × 8 (8 accumulators of f32x4);
 * float64 3 × 4 (6 accumulators of f64x2) — see DGEMM_TILE for the variants timed.
 *
 * Every call copies A, B (and C when accumulating) in and C out, and frees its blocks after: tensors do not live in
 * the wasm memory. Mixed dtypes are left to the JS kernel.
 */
import type { TypedArray } from '../dtype.js';
import { heapMemoryImport, type WasmHeap } from './heap.js';
import type { ThreadPool } from './threads.js';
import { I32, ModuleWriter, V128 } from './writer.js';

/** Element types of the kernels: float32 (f32x4) and float64 (f64x2). */
export type GemmDType = 'float32' | 'float64';

interface Element {
  /** Bytes per element. */
  readonly bytes: 4 | 8;
  /** Elements per v128 register. */
  readonly lanes: 4 | 2;
}
const ELEMENT: Record<GemmDType, Element> = { float32: { bytes: 4, lanes: 4 }, float64: { bytes: 8, lanes: 2 } };

/** SGEMM register tile: MR rows × NR columns of C (NR / 4 f32x4 vectors per row). */
export const SGEMM_TILE = { mr: 4, nr: 8 } as const;
/**
 * DGEMM register tile: 3 × 4 (6 f64x2 accumulators + 2 of B + 1 splat of A). Timed at 512³ f64 on this 2-core Xeon,
 * Node 20, pinned to one core, GFLOP/s over two or three runs: 3 × 4 17.5–18.0, 2 × 8 17.3–17.6, 3 × 6 17.4,
 * 4 × 4 16.8–17.4, 2 × 6 16.6, 5 × 4 16.1, 3 × 8 15.8, 2 × 4 15.5–15.9, 4 × 6 15.1–15.8, 6 × 4 13.9–14.5,
 * 8 × 2 13.8–13.9, 4 × 2 13.6 (the JS kernel: 5.1–5.3). Within ~3% the top four tie; 3 × 4 was first in each run.
 */
export const DGEMM_TILE = { mr: 3, nr: 4 } as const;
/** Depth of a packed slab: a kc × NR strip of B is 8 KiB (L1) at either tile. */
const KC = 256;
/** Rows of A per block: an MC × KC block is 128 KiB of float32, 256 KiB of float64 (L2). */
const MC = 128;

/**
 * The module: imports the heap's memory as env.memory and exports
 * panel(a, b, c, tiles, kc, ldc, load): for t < tiles, C-tile t (+)= A-strip t · B-strip, where A-strip t is at
 * a + t·MR·kc·e (kc × MR elements of e bytes), the B strip at b (kc × NR elements), and C-tile t at c + t·MR·ldc
 * (MR rows of NR elements, ldc bytes apart). The tile starts from C when `load` ≠ 0, from zero otherwise. kc ≥ 1.
 */
export function gemmModule(dtype: GemmDType, shared: boolean, mr: number, nr: number): Uint8Array<ArrayBuffer> {
  const { bytes: eb, lanes } = ELEMENT[dtype];
  if (!Number.isInteger(mr) || mr < 1 || !Number.isInteger(nr) || nr < lanes || nr % lanes !== 0) throw new RangeError(`gemmModule: tile ${mr} × ${nr} does not fit ${dtype} registers`);
  const nv = nr / lanes;
  const f64 = dtype === 'float64';
  const m = new ModuleWriter();
  m.importMemory('env', 'memory', heapMemoryImport(shared));
  const panel = m.func('panel', [I32, I32, I32, I32, I32, I32, I32], [], (f) => {
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
    // pa, pb walk the strips; end = a + kc·MR·e
    f.localGet(a).localSet(pa).localGet(b).localSet(pb);
    f.localGet(a).localGet(kc).i32Const(mr * eb).i32Mul().i32Add().localSet(end);
    f.loop(); // over p: acc[r][v] += splat(A[p, r]) · B[p, lanes·v…lanes·v+lanes-1]
    for (let v = 0; v < nv; v++) f.localGet(pb).v128Load(16 * v).localSet(bv[v]!);
    for (let r = 0; r < mr; r++) {
      if (f64) f.localGet(pa).v128Load64Splat(eb * r).localSet(av);
      else f.localGet(pa).v128Load32Splat(eb * r).localSet(av);
      for (let v = 0; v < nv; v++) {
        const x = acc[r * nv + v]!;
        f.localGet(x).localGet(av).localGet(bv[v]!);
        if (f64) f.f64x2Mul().f64x2Add();
        else f.f32x4Mul().f32x4Add();
        f.localSet(x);
      }
    }
    f.localGet(pb).i32Const(nr * eb).i32Add().localSet(pb);
    f.localGet(pa).i32Const(mr * eb).i32Add().localTee(pa).localGet(end).i32LtU().brIf(0);
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
  m.func('blocked', [I32, I32, I32, I32, I32, I32, I32, I32, I32], [], (f) => {
    const [a, b, c, Mp, Np, K, s0, s1, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const p0 = f.local(I32);
    const kc = f.local(I32);
    const i0 = f.local(I32);
    const rows = f.local(I32);
    const j = f.local(I32);
    const aBlock = f.local(I32);
    const mc = MC - (MC % mr); // whole strips per block
    f.i32Const(0).localSet(p0);
    f.block().loop(); // over slabs: kc = min(KC, K − p0)
    f.localGet(p0).localGet(K).i32GeU().brIf(1);
    f.i32Const(KC).localGet(K).localGet(p0).i32Sub().localTee(kc).localGet(kc).i32Const(KC).i32GtU().select().localSet(kc);
    f.i32Const(0).localSet(i0);
    f.block().loop(); // over row blocks: rows = min(mc, Mp − i0), aBlock = a + e·(p0·Mp + i0·kc)
    f.localGet(i0).localGet(Mp).i32GeU().brIf(1);
    f.i32Const(mc).localGet(Mp).localGet(i0).i32Sub().localTee(rows).localGet(rows).i32Const(mc).i32GtU().select().localSet(rows);
    f.localGet(a).localGet(p0).localGet(Mp).i32Mul().localGet(i0).localGet(kc).i32Mul().i32Add().i32Const(eb).i32Mul().i32Add().localSet(aBlock);
    f.localGet(s0).localSet(j);
    f.block().loop(); // over this call's strips j of B and C
    f.localGet(j).localGet(s1).i32GeU().brIf(1);
    f.localGet(aBlock);
    f.localGet(b).localGet(p0).localGet(Np).i32Mul().localGet(j).i32Const(nr).i32Mul().localGet(kc).i32Mul().i32Add().i32Const(eb).i32Mul().i32Add();
    f.localGet(c).localGet(i0).localGet(Np).i32Mul().localGet(j).i32Const(nr).i32Mul().i32Add().i32Const(eb).i32Mul().i32Add();
    f.localGet(rows).i32Const(mr).i32DivU();
    f.localGet(kc).localGet(Np).i32Const(eb).i32Mul().localGet(p0).localGet(accumulate).i32Or(); // load C but at a fresh first slab
    f.call(panel);
    f.localGet(j).i32Const(1).i32Add().localSet(j).br(0);
    f.end().end();
    f.localGet(i0).i32Const(mc).i32Add().localSet(i0).br(0);
    f.end().end();
    f.localGet(p0).i32Const(KC).i32Add().localSet(p0).br(0);
    f.end().end();
  });
  m.func('pack', [I32, I32, I32, I32, I32, I32, I32], [], (f) => {
    const [dst, src, lineStride, depthStride, count, depth, width] = [0, 1, 2, 3, 4, 5, 6]; // strides in bytes
    const p0 = f.local(I32);
    const kc = f.local(I32);
    const l0 = f.local(I32);
    const lines = f.local(I32);
    const p = f.local(I32);
    const s = f.local(I32);
    const i = f.local(I32);
    const vector = f.local(I32);
    f.i32Const(0).localSet(p0);
    f.block().loop(); // over slabs: kc = min(KC, depth − p0)
    f.localGet(p0).localGet(depth).i32GeU().brIf(1);
    f.i32Const(KC).localGet(depth).localGet(p0).i32Sub().localTee(kc).localGet(kc).i32Const(KC).i32GtU().select().localSet(kc);
    f.i32Const(0).localSet(l0);
    f.block().loop(); // over strips of `width` lines: lines = min(width, count − l0)
    f.localGet(l0).localGet(count).i32GeU().brIf(1);
    f.localGet(width).localGet(count).localGet(l0).i32Sub().localTee(lines).localGet(lines).localGet(width).i32GtU().select().localSet(lines);
    // vector = lines are neighbours (lineStride = e), the strip is full, and its width·e bytes are whole v128s
    f.localGet(lineStride).i32Const(eb).i32Eq().localGet(lines).localGet(width).i32Eq().i32And();
    f.localGet(width).i32Const(eb).i32Mul().i32Const(15).i32And().i32Eqz().i32And().localSet(vector);
    f.i32Const(0).localSet(p);
    f.block().loop(); // over the slab's depth
    f.localGet(p).localGet(kc).i32GeU().brIf(1);
    f.localGet(src).localGet(l0).localGet(lineStride).i32Mul().i32Add().localGet(p0).localGet(p).i32Add().localGet(depthStride).i32Mul().i32Add().localSet(s);
    f.i32Const(0).localSet(i);
    f.localGet(vector).if(); // a full strip of neighbouring lines: copy its width·e bytes as v128s
    f.block().loop();
    f.localGet(i).localGet(width).i32Const(eb).i32Mul().i32GeU().brIf(1);
    f.localGet(dst).localGet(i).i32Add().localGet(s).localGet(i).i32Add().v128Load().v128Store();
    f.localGet(i).i32Const(16).i32Add().localSet(i).br(0);
    f.end().end();
    f.localGet(dst).localGet(width).i32Const(eb).i32Mul().i32Add().localSet(dst);
    f.else();
    f.block().loop(); // the strip's lines: dst ← src element (line l0 + i, depth p0 + p)
    f.localGet(i).localGet(lines).i32GeU().brIf(1);
    f.localGet(dst).localGet(s);
    if (f64) f.f64Load().f64Store();
    else f.f32Load().f32Store();
    f.localGet(dst).i32Const(eb).i32Add().localSet(dst);
    f.localGet(s).localGet(lineStride).i32Add().localSet(s);
    f.localGet(i).i32Const(1).i32Add().localSet(i).br(0);
    f.end().end();
    f.block().loop(); // zero padding past `count`
    f.localGet(i).localGet(width).i32GeU().brIf(1);
    f.localGet(dst);
    if (f64) f.f64Const(0).f64Store();
    else f.f32Const(0).f32Store();
    f.localGet(dst).i32Const(eb).i32Add().localSet(dst);
    f.localGet(i).i32Const(1).i32Add().localSet(i).br(0);
    f.end().end();
    f.end();
    f.localGet(p).i32Const(1).i32Add().localSet(p).br(0);
    f.end().end();
    f.localGet(l0).localGet(width).i32Add().localSet(l0).br(0);
    f.end().end();
    f.localGet(p0).i32Const(KC).i32Add().localSet(p0).br(0);
    f.end().end();
  });
  return m.bytes();
}

/**
 * C strips [s0, s1) (each NR columns) of the packed product: for each slab and row block, `panel` over those strips.
 * Threads split a product by strips: disjoint parts of C, each element summed in the same order as on one thread.
 */
export type Blocked = (a: number, b: number, c: number, Mp: number, Np: number, K: number, s0: number, s1: number, accumulate: number) => void;
/** Packs `count` lines, `depth` deep, into strips of `width` lines per KC slab (see the module's doc); strides in bytes. */
export type Pack = (dst: number, src: number, lineStride: number, depthStride: number, count: number, depth: number, width: number) => void;

/** A GEMM kernel of one element type instantiated on one heap. */
export class WasmGemm {
  readonly module: WebAssembly.Module;
  /** The module's exports on this heap (core/wasm/attention.ts drives them per block). */
  readonly blocked: Blocked;
  readonly pack: Pack;
  readonly mr: number;
  readonly nr: number;
  /** Threads that share products of at least `threadMinWork` multiply-adds (set by the backend); null = this thread. */
  threads: { pool: ThreadPool; minWork: number } | null = null;

  constructor(private readonly heap: WasmHeap, readonly dtype: GemmDType, tile: { mr: number; nr: number } = dtype === 'float32' ? SGEMM_TILE : DGEMM_TILE) {
    this.mr = tile.mr;
    this.nr = tile.nr;
    this.module = new WebAssembly.Module(gemmModule(dtype, heap.shared, this.mr, this.nr));
    const instance = new WebAssembly.Instance(this.module, { env: { memory: heap.memory } });
    this.blocked = instance.exports['blocked'] as Blocked;
    this.pack = instance.exports['pack'] as Pack;
  }

  /**
   * C = op(A)·op(B) (or += when accumulate) when all three operands are of this kernel's dtype (Float32Array or
   * Float64Array), as the JS `gemm` (same arguments); returns false, doing nothing, for any other dtype (the caller
   * runs the JS kernel). C must not overlap A or B.
   */
  gemm(
    M: number, N: number, K: number,
    a: TypedArray, aOff: number, transA: boolean,
    b: TypedArray, bOff: number, transB: boolean,
    c: TypedArray, cOff: number, accumulate: boolean,
  ): boolean {
    const Arr = this.dtype === 'float32' ? Float32Array : Float64Array;
    if (!(a instanceof Arr && b instanceof Arr && c instanceof Arr)) return false;
    if (M === 0 || N === 0) return true;
    if (K === 0) {
      if (!accumulate) c.fill(0, cOff, cOff + M * N);
      return true;
    }
    const { mr, nr, heap } = this;
    const eb = ELEMENT[this.dtype].bytes;
    const Mp = Math.ceil(M / mr) * mr;
    const Np = Math.ceil(N / nr) * nr;
    const [aSrc, bSrc, aPtr, bPtr, cPtr] = heap.allocRegions([eb * M * K, eb * K * N, eb * Mp * K, eb * K * Np, eb * Mp * Np]) as [number, number, number, number, number];
    try {
      const mem = this.dtype === 'float32' ? heap.f32 : heap.f64; // read after the allocations: growth renews the views
      mem.set(a.subarray(aOff, aOff + M * K), aSrc / eb);
      mem.set(b.subarray(bOff, bOff + K * N), bSrc / eb);
      this.pack(aPtr, aSrc, eb * (transA ? 1 : K), eb * (transA ? M : 1), M, K, mr);
      this.pack(bPtr, bSrc, eb * (transB ? K : 1), eb * (transB ? 1 : N), N, K, nr);
      const c0 = cPtr / eb;
      if (accumulate) for (let i = 0; i < M; i++) mem.set(c.subarray(cOff + i * N, cOff + (i + 1) * N), c0 + i * Np);
      const threads = this.threads;
      const acc = accumulate ? 1 : 0;
      if (threads !== null && threads.pool.size > 1 && M * N * K >= threads.minWork) threads.pool.run(this.module, this.blocked, aPtr, bPtr, cPtr, Mp, Np, K, Np / nr, acc);
      else this.blocked(aPtr, bPtr, cPtr, Mp, Np, K, 0, Np / nr, acc);
      if (Np === N) c.set(mem.subarray(c0, c0 + M * N), cOff);
      else for (let i = 0; i < M; i++) c.set(mem.subarray(c0 + i * Np, c0 + i * Np + N), cOff + i * N);
    } finally {
      heap.release(aSrc);
    }
    return true;
  }
}
