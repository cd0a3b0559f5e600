/**
 * The fused attention of core/ops/attention.ts on WebAssembly SIMD128, float32, for one attention matrix (one
 * batch index) at a time: the same blocks of query rows, the same products (run by the SGEMM's `pack` and
 * `blocked`), with the masked softmax and its backward emitted here, so that a block's scores never leave the
 * wasm memory. O = softmax(scale · q kᵀ) v (Vaswani et al. 2017, eq. 1); per block, backward
 *   dV += Pᵀ dO,   dP = dO vᵀ,   dS = scale · P ⊙ (dP − rowsum(dO ⊙ O)),   dQ += dS k,   dK += dSᵀ q.
 * q, k, v (and dO) are copied in once per matrix and the outputs copied out. The saved probabilities P live in one of
 * two places: in the heap (`resident`: each block's scores are computed, normalized and later read back in place, so P
 * is never copied), or, when the op passes a JS buffer, copied out in the compact block layout of the JS kernel's
 * (either backward can then follow either forward).
 *
 * Rounding: scores are float32 sums (as on the wasm gemm), the scaled logits float32, exp that of core/wasm/exp.ts
 * (a few ulp), and each row's normalizer is summed in float64. Declines (returns false, having written nothing) anything but Float32Array operands and |scale| ≤ 1,
 * beyond which float32 logits could overflow where the JS kernel's float64 ones do not; masks stay on JS.
 */
import type { AttentionHead, ResidentProbabilities } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import type { WasmGemm } from './gemm.js';
import { heapMemoryImport, type WasmHeap } from './heap.js';
import { emitExp, expScratch, lanes, splat4 } from './exp.js';
import { F32, I32, ModuleWriter, V128 } from './writer.js';

/**
 * The module: imports env.memory and exports
 *   softmax(S, rows, ld, width, scale, pos0, loOff, hiOff, c0): for each row r of S (ld bytes apart, width columns
 *     padded to 4), the softmax of scale·S over the visible columns, in place, 0 elsewhere. Column c is key
 *     j = c0 + c; row r is at key position p = pos0 + r and sees p + loOff ≤ j ≤ p + hiOff.
 *   dsoftmax(dS, P, delta, rows, ld, vectors, scale): dS ← scale · P ⊙ (dS − delta[r]) over `vectors` f32x4 per row.
 */
export function attentionModule(shared: boolean): Uint8Array<ArrayBuffer> {
  const m = new ModuleWriter();
  m.importMemory('env', 'memory', heapMemoryImport(shared));

  m.func('softmax', [I32, I32, I32, I32, F32, I32, I32, I32, I32], [], (f) => {
    const [S, rows, ld, width, scale, pos0, loOff, hiOff, c0] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const r = f.local(I32);
    const row = f.local(I32);
    const end = f.local(I32);
    const p = f.local(I32);
    const lo = f.local(I32);
    const hi = f.local(I32);
    const other = f.local(I32);
    const x = f.local(V128);
    const visible = f.local(V128);
    const j = f.local(V128);
    const acc = f.local(V128);
    const scaleV = f.local(V128);
    const loV = f.local(V128);
    const hiV = f.local(V128);
    const rowMax = f.local(F32);
    const sum = f.local(V128); // f64x2

    // x = scale·S[p…p+3], hidden lanes −∞; `visible` = their mask; j (the lanes' keys) advances by 4
    const scaledLogits = (): void => {
      f.localGet(p).v128Load().localGet(scaleV).f32x4Mul().localSet(x);
      f.localGet(j).localGet(loV).i32x4GeS().localGet(j).localGet(hiV).i32x4LeS().v128And().localSet(visible);
      f.localGet(x).v128Const(splat4(-Infinity)).localGet(visible).v128Bitselect().localSet(x);
      f.localGet(j).v128Const(lanes([4, 4, 4, 4], 'i32')).i32x4Add().localSet(j);
    };
    const overRow = (body: () => void): void => {
      f.localGet(c0).i32x4Splat().v128Const(lanes([0, 1, 2, 3], 'i32')).i32x4Add().localSet(j);
      f.localGet(row).localSet(p);
      f.block().loop();
      f.localGet(p).localGet(end).i32GeU().brIf(1);
      body();
      f.localGet(p).i32Const(16).i32Add().localSet(p).br(0);
      f.end().end();
    };
    const scratch = expScratch(f);

    f.localGet(scale).f32x4Splat().localSet(scaleV);
    f.i32Const(0).localSet(r);
    f.localGet(S).localSet(row);
    f.block().loop(); // over rows
    f.localGet(r).localGet(rows).i32GeU().brIf(1);
    // end = row + 16·ceil(width / 4); lo = max(p + loOff, c0); hi = min(p + hiOff, c0 + width − 1)
    f.localGet(row).localGet(width).i32Const(3).i32Add().i32Const(4).i32DivU().i32Const(16).i32Mul().i32Add().localSet(end);
    f.localGet(pos0).localGet(r).i32Add().localGet(loOff).i32Add().localSet(lo);
    f.localGet(lo).localGet(c0).localGet(lo).localGet(c0).i32GtS().select().localSet(lo);
    f.localGet(pos0).localGet(r).i32Add().localGet(hiOff).i32Add().localSet(hi);
    f.localGet(c0).localGet(width).i32Add().i32Const(1).i32Sub().localSet(other);
    f.localGet(hi).localGet(other).localGet(hi).localGet(other).i32LtS().select().localSet(hi);
    f.localGet(lo).i32x4Splat().localSet(loV);
    f.localGet(hi).i32x4Splat().localSet(hiV);
    f.localGet(lo).localGet(hi).i32GtS().if();
    overRow(() => f.localGet(p).v128Const().v128Store()); // sees no key: a row of zeros (output 0, not NaN)
    f.else();
    // pass 1: the row's largest visible logit
    f.v128Const(splat4(-Infinity)).localSet(acc);
    overRow(() => {
      scaledLogits();
      f.localGet(acc).localGet(x).f32x4Max().localSet(acc);
    });
    f.localGet(acc).f32x4ExtractLane(0).localGet(acc).f32x4ExtractLane(1).f32Max();
    f.localGet(acc).f32x4ExtractLane(2).localGet(acc).f32x4ExtractLane(3).f32Max().f32Max().localSet(rowMax);
    // pass 2: e = exp(x − max) on visible lanes, 0 on hidden ones; Σ e in float64
    f.v128Const().localSet(sum);
    overRow(() => {
      scaledLogits();
      f.localGet(x).localGet(rowMax).f32x4Splat().f32x4Sub().localSet(x);
      emitExp(f, x, scratch);
      f.localGet(x).v128Const().localGet(visible).v128Bitselect().localSet(x);
      f.localGet(p).localGet(x).v128Store();
      f.localGet(sum).localGet(x).f64x2PromoteLowF32x4().f64x2Add();
      f.localGet(x).localGet(x).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]).f64x2PromoteLowF32x4().f64x2Add().localSet(sum);
    });
    // pass 3: divide by the sum (as 1/sum rounded to float32, then a product)
    f.f64Const(1).localGet(sum).f64x2ExtractLane(0).localGet(sum).f64x2ExtractLane(1).f64Add().f64Div().f32DemoteF64().f32x4Splat().localSet(acc);
    overRow(() => f.localGet(p).localGet(p).v128Load().localGet(acc).f32x4Mul().v128Store());
    f.end();
    f.localGet(row).localGet(ld).i32Add().localSet(row);
    f.localGet(r).i32Const(1).i32Add().localSet(r).br(0);
    f.end().end();
  });

  m.func('dsoftmax', [I32, I32, I32, I32, I32, I32, F32], [], (f) => {
    const [dS, P, delta, rows, ld, vectors, scale] = [0, 1, 2, 3, 4, 5, 6];
    const r = f.local(I32);
    const c = f.local(I32);
    const offset = f.local(I32);
    const deltaV = f.local(V128);
    const scaleV = f.local(V128);
    f.localGet(scale).f32x4Splat().localSet(scaleV);
    f.i32Const(0).localSet(r);
    f.block().loop(); // over rows
    f.localGet(r).localGet(rows).i32GeU().brIf(1);
    f.localGet(delta).localGet(r).i32Const(4).i32Mul().i32Add().v128Load32Splat().localSet(deltaV);
    f.i32Const(0).localSet(c);
    f.block().loop(); // over the row's vectors: dS ← (P ⊙ (dS − δ)) · scale
    f.localGet(c).localGet(vectors).i32GeU().brIf(1);
    f.localGet(r).localGet(ld).i32Mul().localGet(c).i32Const(16).i32Mul().i32Add().localSet(offset);
    f.localGet(dS).localGet(offset).i32Add();
    f.localGet(P).localGet(offset).i32Add().v128Load();
    f.localGet(dS).localGet(offset).i32Add().v128Load().localGet(deltaV).f32x4Sub().f32x4Mul();
    f.localGet(scaleV).f32x4Mul().v128Store();
    f.localGet(c).i32Const(1).i32Add().localSet(c).br(0);
    f.end().end();
    f.localGet(r).i32Const(1).i32Add().localSet(r).br(0);
    f.end().end();
  });
  return m.bytes();
}

type Softmax = (S: number, rows: number, ld: number, width: number, scale: number, pos0: number, loOff: number, hiOff: number, c0: number) => void;
type DSoftmax = (dS: number, P: number, delta: number, rows: number, ld: number, vectors: number, scale: number) => void;

/** Offsets of the visible key range from a query's key position: j ∈ [p + lo, p + hi]; ±2³⁰ stands for unbounded. */
function visibleRange(causal: boolean, window: number): { lo: number; hi: number } {
  const unbounded = 2 ** 30;
  const finite = Number.isFinite(window);
  return { lo: finite ? 1 - window : -unbounded, hi: causal ? 0 : finite ? window - 1 : unbounded };
}

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/**
 * Where one matrix's probabilities are saved: a JS buffer in the compact block layout of core/ops/attention.ts (P from
 * pOff), or the heap (block i's scores at `address` + 4·offsets[i], Mp × Np as the block product writes them).
 */
type SavedAt = { readonly P: TypedArray; readonly pOff: number } | { readonly address: number; readonly offsets: readonly number[] };

/** By default at most this many bytes of saved probabilities live in the heap at once; beyond it P goes to JS buffers. */
const RESIDENT_LIMIT = 256 * 1024 * 1024;

/**
 * The saved probabilities of `count` matrices in one heap block: matrix b at address + 4·b·perMatrix, its block i
 * `offsets[i]` elements further. Freed once, by `release`.
 */
class HeapProbabilities implements ResidentProbabilities {
  private address: number | null;

  constructor(
    private readonly owner: WasmAttention,
    address: number,
    private readonly perMatrix: number,
    private readonly offsets: readonly number[],
    private readonly bytes: number,
  ) {
    this.address = address;
  }

  private at(b: number): SavedAt {
    if (this.address === null) throw new Error('HeapProbabilities: used after release (an engine bug)');
    return { address: this.address + 4 * b * this.perMatrix, offsets: this.offsets };
  }

  forward(b: number, h: AttentionHead, out: TypedArray, oOff: number): void {
    this.owner.runForward(h, this.at(b), out, oOff);
  }

  backward(b: number, h: AttentionHead, o: TypedArray, g: TypedArray, oOff: number, dq: TypedArray, dk: TypedArray, dv: TypedArray): void {
    this.owner.runBackward(h, this.at(b), o, g, oOff, dq, dk, dv);
  }

  release(): void {
    if (this.address === null) return;
    this.owner.freeResident(this.address, this.bytes);
    this.address = null;
  }
}

/** The fused float32 attention kernels on one heap, driving `gemm`'s pack and blocked per block. */
export class WasmAttention {
  private readonly softmax: Softmax;
  private readonly dsoftmax: DSoftmax;

  /** Bytes of saved probabilities the heap may hold at once (`resident` returns null beyond it). */
  residentLimit = RESIDENT_LIMIT;
  /** Bytes of saved probabilities in the heap now. */
  residentBytes = 0;

  constructor(private readonly heap: WasmHeap, private readonly gemm: WasmGemm) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(attentionModule(heap.shared)), { env: { memory: heap.memory } });
    this.softmax = instance.exports['softmax'] as Softmax;
    this.dsoftmax = instance.exports['dsoftmax'] as DSoftmax;
  }

  private declines(h: AttentionHead): boolean {
    return !(h.q instanceof Float32Array && h.k instanceof Float32Array && h.v instanceof Float32Array) || !(Math.abs(h.scale) <= 1);
  }

  /** Scratch sizes (elements) for the block products: packed A and B, and one block's scores. */
  private scratch(h: AttentionHead): { aPack: number; bPack: number; scores: number } {
    const { mr, nr } = this.gemm;
    let rows = 0;
    let width = 0;
    for (const b of h.blocks) {
      rows = Math.max(rows, b.i1 - b.i0);
      width = Math.max(width, b.c1 - b.c0);
    }
    const depth = Math.max(h.d, h.dv, rows, width);
    return {
      aPack: Math.max(roundUp(rows, mr), roundUp(width, mr)) * depth,
      bPack: depth * roundUp(Math.max(width, h.d, h.dv), nr),
      scores: roundUp(rows, mr) * roundUp(width, nr),
    };
  }

  /** Copies `count` elements of `src` from `at` into the heap at byte address `ptr`. */
  private copyIn(ptr: number, src: TypedArray, at: number, count: number): void {
    this.heap.f32.set(src.subarray(at, at + count), ptr / 4);
  }

  /**
   * Room in the heap for the probabilities of `count` matrices shaped like `h`, for the op to save P without copies
   * (its forward and backward then always run here); null when these kernels decline `h` or the heap already holds
   * `residentLimit` bytes of them (the op then keeps P in a JS buffer).
   */
  resident(h: AttentionHead, count: number): ResidentProbabilities | null {
    if (this.declines(h)) return null;
    const { mr, nr } = this.gemm;
    const offsets: number[] = [];
    let perMatrix = 0;
    for (const b of h.blocks) {
      offsets.push(perMatrix);
      perMatrix += roundUp(b.i1 - b.i0, mr) * roundUp(b.c1 - b.c0, nr);
    }
    const bytes = 4 * perMatrix * count;
    if (this.residentBytes + bytes > this.residentLimit) return null;
    let address: number;
    try {
      address = this.heap.alloc(bytes);
    } catch {
      return null; // the 4 GiB a wasm memory addresses are taken: P goes to a JS buffer, whose size the op checks
    }
    this.residentBytes += bytes;
    return new HeapProbabilities(this, address, perMatrix, offsets, bytes);
  }

  /** Frees a block of saved probabilities (HeapProbabilities.release). */
  freeResident(address: number, bytes: number): void {
    this.heap.release(address);
    this.residentBytes -= bytes;
  }

  /**
   * Forward of one matrix: out[oOff…] (Tq × dv) and the saved probabilities P[pOff…] in the block layout. Returns
   * false, writing nothing, when it declines.
   */
  forward(h: AttentionHead, P: TypedArray, pOff: number, out: TypedArray, oOff: number): boolean {
    if (this.declines(h)) return false;
    this.runForward(h, { P, pOff }, out, oOff);
    return true;
  }

  /** The forward of a matrix these kernels take, P saved where `saved` says. */
  runForward(h: AttentionHead, saved: SavedAt, out: TypedArray, oOff: number): void {
    const { heap, gemm } = this;
    const { Tq, Tk, d, dv } = h;
    const { mr, nr } = gemm;
    const dvP = roundUp(dv, nr);
    const size = this.scratch(h);
    const inHeap = 'address' in saved;
    const [qH, kH, vH, aPack, bPack, S, O] = heap.allocRegions([
      4 * Tq * d, 4 * Tk * d, 4 * Tk * dv, 4 * size.aPack, 4 * size.bPack, inHeap ? 0 : 4 * size.scores, 4 * (Tq + mr) * dvP,
    ]) as [number, number, number, number, number, number, number];
    try {
      this.copyIn(qH, h.q, h.qOff, Tq * d);
      this.copyIn(kH, h.k, h.kOff, Tk * d);
      this.copyIn(vH, h.v, h.vOff, Tk * dv);
      const range = visibleRange(h.causal, h.window);
      h.blocks.forEach((blk, i) => {
        const rows = blk.i1 - blk.i0;
        const width = blk.c1 - blk.c0;
        if (width === 0) return; // no visible keys: the rows of `out` stay 0
        const Mp = roundUp(rows, mr);
        const Np = roundUp(width, nr);
        const scores = inHeap ? saved.address + 4 * saved.offsets[i]! : S; // P in place when it lives in the heap
        gemm.pack(aPack, qH + 4 * blk.i0 * d, 4 * d, 4, rows, d, mr);
        gemm.pack(bPack, kH + 4 * blk.c0 * d, 4 * d, 4, width, d, nr);
        gemm.blocked(aPack, bPack, scores, Mp, Np, d, 0, Np / nr, 0);
        this.softmax(scores, rows, 4 * Np, width, h.scale, blk.i0 + Tk - Tq, range.lo, range.hi, blk.c0);
        const f32 = heap.f32;
        if (!inHeap) {
          for (let r = 0; r < rows; r++) saved.P.set(f32.subarray(S / 4 + r * Np, S / 4 + r * Np + width), saved.pOff + blk.pOffset + r * width);
        }
        gemm.pack(aPack, scores, 4 * Np, 4, rows, width, mr);
        gemm.pack(bPack, vH + 4 * blk.c0 * dv, 4, 4 * dv, dv, width, nr);
        gemm.blocked(aPack, bPack, O + 4 * blk.i0 * dvP, Mp, dvP, width, 0, dvP / nr, 0);
        for (let r = blk.i0; r < blk.i1; r++) out.set(f32.subarray(O / 4 + r * dvP, O / 4 + r * dvP + dv), oOff + r * dv);
      });
    } finally {
      heap.release(qH);
    }
  }

  /**
   * Backward of one matrix: adds its gradients into dq[qOff…], dk[kOff…], dv[vOff…] (buffers laid out as q, k, v),
   * from the saved P, the output o[oOff…] and its gradient g[oOff…]. Returns false, writing nothing, when it declines.
   */
  backward(h: AttentionHead, P: TypedArray, pOff: number, o: TypedArray, g: TypedArray, oOff: number, dq: TypedArray, dk: TypedArray, dvOut: TypedArray): boolean {
    if (this.declines(h) || !(g instanceof Float32Array)) return false;
    this.runBackward(h, { P, pOff }, o, g, oOff, dq, dk, dvOut);
    return true;
  }

  /** The backward of a matrix these kernels take, from P saved where `saved` says. */
  runBackward(h: AttentionHead, saved: SavedAt, o: TypedArray, g: TypedArray, oOff: number, dq: TypedArray, dk: TypedArray, dvOut: TypedArray): void {
    const { heap, gemm } = this;
    const { Tq, Tk, d, dv } = h;
    const { mr, nr } = gemm;
    const dP = roundUp(d, nr);
    const dvP = roundUp(dv, nr);
    const size = this.scratch(h);
    const inHeap = 'address' in saved;
    const [qH, kH, vH, gH, delta, aPack, bPack, S, dS, dQ, dK, dV] = heap.allocRegions([
      4 * Tq * d, 4 * Tk * d, 4 * Tk * dv, 4 * Tq * dv, 4 * Tq, 4 * size.aPack, 4 * size.bPack, inHeap ? 0 : 4 * size.scores, 4 * size.scores,
      4 * (Tq + mr) * dP, 4 * (Tk + mr) * dP, 4 * (Tk + mr) * dvP,
    ]) as [number, number, number, number, number, number, number, number, number, number, number, number];
    try {
      this.copyIn(qH, h.q, h.qOff, Tq * d);
      this.copyIn(kH, h.k, h.kOff, Tk * d);
      this.copyIn(vH, h.v, h.vOff, Tk * dv);
      this.copyIn(gH, g, oOff, Tq * dv);
      let f32 = heap.f32;
      for (let i = 0; i < Tq; i++) {
        let s = 0;
        for (let c = 0; c < dv; c++) s += g[oOff + i * dv + c]! * o[oOff + i * dv + c]!;
        f32[delta / 4 + i] = s; // rowsum(dO ⊙ O) = rowsum(dP ⊙ P)
      }
      // the accumulators start from what the buffers hold (a k or v broadcast over the batch gathers every matrix's part)
      const load = (ptr: number, ld: number, src: TypedArray, at: number, rows: number, cols: number): void => {
        for (let r = 0; r < rows; r++) f32.set(src.subarray(at + r * cols, at + (r + 1) * cols), ptr / 4 + r * ld);
      };
      load(dQ, dP, dq, h.qOff, Tq, d);
      load(dK, dP, dk, h.kOff, Tk, d);
      load(dV, dvP, dvOut, h.vOff, Tk, dv);
      h.blocks.forEach((blk, i) => {
        const rows = blk.i1 - blk.i0;
        const width = blk.c1 - blk.c0;
        if (width === 0) return;
        const Mp = roundUp(rows, mr);
        const Mw = roundUp(width, mr);
        const Np = roundUp(width, nr);
        const probs = inHeap ? saved.address + 4 * saved.offsets[i]! : S; // read in place when P lives in the heap
        if (!inHeap) {
          const { P, pOff } = saved;
          for (let r = 0; r < rows; r++) f32.set(P.subarray(pOff + blk.pOffset + r * width, pOff + blk.pOffset + (r + 1) * width), S / 4 + r * Np);
        }
        // dV[c0…] += Pᵀ dO
        gemm.pack(aPack, probs, 4, 4 * Np, width, rows, mr);
        gemm.pack(bPack, gH + 4 * blk.i0 * dv, 4, 4 * dv, dv, rows, nr);
        gemm.blocked(aPack, bPack, dV + 4 * blk.c0 * dvP, Mw, dvP, rows, 0, dvP / nr, 1);
        // dP = dO vᵀ, then dS = scale · P ⊙ (dP − δ)
        gemm.pack(aPack, gH + 4 * blk.i0 * dv, 4 * dv, 4, rows, dv, mr);
        gemm.pack(bPack, vH + 4 * blk.c0 * dv, 4 * dv, 4, width, dv, nr);
        gemm.blocked(aPack, bPack, dS, Mp, Np, dv, 0, Np / nr, 0);
        this.dsoftmax(dS, probs, delta + 4 * blk.i0, rows, 4 * Np, Math.ceil(width / 4), h.scale);
        // dQ[i0…] += dS k
        gemm.pack(aPack, dS, 4 * Np, 4, rows, width, mr);
        gemm.pack(bPack, kH + 4 * blk.c0 * d, 4, 4 * d, d, width, nr);
        gemm.blocked(aPack, bPack, dQ + 4 * blk.i0 * dP, Mp, dP, width, 0, dP / nr, 1);
        // dK[c0…] += dSᵀ q
        gemm.pack(aPack, dS, 4, 4 * Np, width, rows, mr);
        gemm.pack(bPack, qH + 4 * blk.i0 * d, 4, 4 * d, d, rows, nr);
        gemm.blocked(aPack, bPack, dK + 4 * blk.c0 * dP, Mw, dP, rows, 0, dP / nr, 1);
      });
      f32 = heap.f32;
      const store = (dst: TypedArray, at: number, ptr: number, ld: number, rows: number, cols: number): void => {
        for (let r = 0; r < rows; r++) dst.set(f32.subarray(ptr / 4 + r * ld, ptr / 4 + r * ld + cols), at + r * cols);
      };
      store(dq, h.qOff, dQ, dP, Tq, d);
      store(dk, h.kOff, dK, dP, Tk, d);
      store(dvOut, h.vOff, dV, dvP, Tk, dv);
    } finally {
      heap.release(qH);
    }
  }
}
