/**
 * Fused scaled dot-product attention, O = softmax(scale · q kᵀ + mask) v (Vaswani et al. 2017, eq. 1), computed
 * in blocks of query rows so that causal and sliding-window attention only touch the key columns a block can
 * see (about half the work for causal). Backward (per block, with P the saved probabilities):
 *   dV += Pᵀ dO,   dP = dO vᵀ,   dS = P ⊙ (dP − rowsum(dO ⊙ O)),   dQ += scale · dS k,   dK += scale · dSᵀ q.
 * Each matrix of the batch goes to the active backend's fused kernels when it has them and takes the call (the wasm
 * backend: float32 without a mask, core/wasm/attention.ts), in the same block layout; otherwise the loops below run.
 * The wasm backend keeps P in its own memory instead (up to a bound): never copied, and read by that backend's
 * backward even if another backend is active by the time it runs.
 */
import { expectBoolean, expectNumber, expectOptions, expectTensor } from '../args.js';
import { recordOp } from '../autograd.js';
import { allocate, type TypedArray } from '../dtype.js';
import { giveBuffer, takeBuffer } from '../buffer-pool.js';
import { DTypeError, ShapeError, ValueError } from '../errors.js';
import { gemm } from '../kernels/matmul.js';
import { kernels, type AttentionBlock, type AttentionHead, type ResidentProbabilities } from '../backend.js';
import { broadcastShapes, broadcastStrides, fmtShape, shapesEqual, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';

/** Options of the fused `attention` op: `mask`, `causal`, `window`, `scale`. */
export interface AttentionOptions {
  /** 0/1 tensor broadcastable to [..., Tq, Tk]; non-zero = may attend. */
  mask?: Tensor | null;
  /** Causal, aligned bottom-right: query i sits at key position i + (Tk − Tq) and sees keys up to it. */
  causal?: boolean;
  /** Sliding window (an integer ≥ 1): a query sees only keys less than `window` positions away (to its left when causal). */
  window?: number;
  /** Logit scale; default 1/√d. */
  scale?: number;
}

/**
 * Frees a backend's saved probabilities when their graph is collected without a backward (a forward recorded for
 * gradients that never came): a backstop only — a backward frees them at once, and a backend holds a bounded amount.
 */
const unreachableGraphs = new FinalizationRegistry<ResidentProbabilities>((saved) => saved.release());

/** Query rows per block: small enough that the causal diagonal wastes little, large enough for gemm. */
const ROW_BLOCK = 32;

type Block = AttentionBlock;

/** Row blocks with the key range each can see, given causal/window limits, and the size of their saved P. */
function planBlocks(Tq: number, Tk: number, causal: boolean, window: number): { blocks: Block[]; pSize: number } {
  const shift = Tk - Tq; // query i is at key position i + shift
  const lo = (i: number): number => Math.max(0, Number.isFinite(window) ? i + shift - window + 1 : 0);
  const hi = (i: number): number => Math.min(Tk, causal ? i + shift + 1 : Number.isFinite(window) ? i + shift + window : Tk);
  const blocks: Block[] = [];
  let pOffset = 0;
  for (let i0 = 0; i0 < Tq; i0 += ROW_BLOCK) {
    const i1 = Math.min(Tq, i0 + ROW_BLOCK);
    const c0 = lo(i0);
    const c1 = Math.max(c0, hi(i1 - 1));
    blocks.push({ i0, i1, c0, c1, pOffset });
    pOffset += (i1 - i0) * (c1 - c0);
  }
  return { blocks, pSize: pOffset };
}

/** Scaled dot-product attention. q: [..., Tq, d], k: [..., Tk, d], v: [..., Tk, dv] (batch axes broadcast) → [..., Tq, dv]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  for (const [t, name] of [[q, 'q'], [k, 'k'], [v, 'v']] as const) {
    expectTensor('attention', name, t);
    if (t.ndim < 2) throw new ShapeError('attention', `${name}=${fmtShape(t.shape)} needs at least [seq, dim]`, name);
    if (t.dtype !== q.dtype) throw new DTypeError('attention', `dtypes differ — q is ${q.dtype}, ${name} is ${t.dtype}`, name);
  }
  const [Tq, d] = q.shape.slice(-2) as [number, number];
  const [Tk, dk] = k.shape.slice(-2) as [number, number];
  const [Tv, dv] = v.shape.slice(-2) as [number, number];
  if (dk !== d) throw new ShapeError('attention', `q and k head dims differ — q=${fmtShape(q.shape)}, k=${fmtShape(k.shape)}`, 'k');
  if (Tv !== Tk) throw new ShapeError('attention', `k and v lengths differ — k=${fmtShape(k.shape)}, v=${fmtShape(v.shape)}`, 'v');
  const { mask = null, causal = false, window = Infinity, scale = 1 / Math.sqrt(d) } = expectOptions('attention', 'options', options, ['mask', 'causal', 'window', 'scale']);
  if (mask !== null) expectTensor('attention', 'mask', mask);
  expectBoolean('attention', 'causal', causal);
  expectNumber('attention', 'window', window, { nonFinite: true });
  expectNumber('attention', 'scale', scale);
  if (causal && Tq > Tk) throw new ShapeError('attention', `causal attention needs Tq ≤ Tk — q=${fmtShape(q.shape)}, k=${fmtShape(k.shape)}`, 'q');
  // an integer (or Infinity): block column ranges are computed from it and must be whole positions
  if (!(window >= 1) || !(Number.isInteger(window) || window === Infinity)) {
    throw new ValueError('attention', `window must be an integer ≥ 1 (or Infinity), got ${window}`, 'window');
  }
  if (!Number.isFinite(scale)) throw new ValueError('attention', `scale must be finite, got ${scale}`, 'scale');

  const batch = broadcastShapes(broadcastShapes(q.shape.slice(0, -2), k.shape.slice(0, -2), 'attention', ['q', 'k']), v.shape.slice(0, -2), 'attention', ['q·k', 'v']);
  const offsets = batchOffsets(batch, [q, k, v]);
  let maskView: { data: TypedArray; offsets: Int32Array; rowStride: number; colStride: number } | null = null;
  if (mask !== null) {
    const scores = [...batch, Tq, Tk];
    if (!shapesEqual(broadcastShapes(mask.shape, scores, 'attention', ['mask', 'scores']), scores)) {
      throw new ShapeError('attention', `mask=${fmtShape(mask.shape)} would enlarge scores=${fmtShape(scores)} (it must broadcast to them)`, 'mask');
    }
    const ms = broadcastStrides(mask.shape, scores);
    maskView = { data: mask.data, offsets: stridedBatchOffsets(batch, ms.slice(0, batch.length)), rowStride: ms[batch.length]!, colStride: ms[batch.length + 1]! };
  }

  const { blocks, pSize } = planBlocks(Tq, Tk, causal, window);
  const nb = sizeOf(batch);
  const out = allocate(q.dtype, nb * Tq * dv, 'attention');

  // one matrix of the batch, as the backend kernels take it (core/backend.ts); a mask keeps the JS kernel
  const head = (b: number): AttentionHead => ({
    Tq, Tk, d, dv, blocks, causal, window, scale,
    q: q.data, qOff: offsets[0]![b]! * Tq * d,
    k: k.data, kOff: offsets[1]![b]! * Tk * d,
    v: v.data, vOff: offsets[2]![b]! * Tk * dv,
  });

  // P in the backend's own memory when it offers room (wasm, float32, no mask): its kernels then run every matrix
  const resident = maskView === null && nb > 0 ? kernels.attentionResident?.(head(0), nb) ?? null : null;
  if (resident !== null) {
    try {
      for (let b = 0; b < nb; b++) resident.forward(b, head(b), out, b * Tq * dv);
    } catch (e) {
      resident.release();
      throw e;
    }
    const result = recordOp('attention', new Tensor(out, [...batch, Tq, dv]), [q, k, v], (g) => {
      const grads = [allocate(q.dtype, q.size), allocate(k.dtype, k.size), allocate(v.dtype, v.size)] as const;
      for (let b = 0; b < nb; b++) resident.backward(b, head(b), out, g.data, b * Tq * dv, ...grads);
      return [new Tensor(grads[0], q.shape), new Tensor(grads[1], k.shape), new Tensor(grads[2], v.shape)];
    }, {
      release: () => {
        unreachableGraphs.unregister(resident);
        resident.release();
      },
    });
    if (result.gradNode === null) resident.release(); // no graph recorded: nothing reads P again
    else unreachableGraphs.register(result.gradNode, resident, resident);
    return result;
  }

  // saved probabilities, block by block: engine-private, so pooled (back when the backward has run; core/buffer-pool.ts)
  const P = takeBuffer(q.dtype, nb * pSize, 'attention', 'q');
  const S = takeBuffer(q.dtype, ROW_BLOCK * Tk, 'attention', 'k'); // q's dtype: every block product then runs on one backend kernel

  for (let b = 0; b < nb; b++) {
    const qOff = offsets[0]![b]! * Tq * d;
    const kOff = offsets[1]![b]! * Tk * d;
    const vOff = offsets[2]![b]! * Tk * dv;
    if (maskView === null && kernels.attentionForward?.(head(b), P, b * pSize, out, b * Tq * dv)) continue;
    for (const blk of blocks) {
      const rows = blk.i1 - blk.i0;
      const width = blk.c1 - blk.c0;
      if (width === 0) continue; // no visible keys: output rows stay 0
      const pOff = b * pSize + blk.pOffset;
      gemm(rows, width, d, q.data, qOff + blk.i0 * d, false, k.data, kOff + blk.c0 * d, true, S, 0, false);
      for (let r = 0; r < rows; r++) {
        const i = blk.i0 + r;
        const pos = i + Tk - Tq;
        const lo = Number.isFinite(window) ? pos - window + 1 : -Infinity;
        const hi = causal ? pos : Number.isFinite(window) ? pos + window - 1 : Infinity;
        const mRow = maskView === null ? -1 : maskView.offsets[b]! + i * maskView.rowStride;
        // the scaled logits stay in float64 locals (a large scale overflows float32); S keeps −∞ where hidden
        let m = -Infinity;
        for (let c = 0; c < width; c++) {
          const j = blk.c0 + c;
          const visible = j >= lo && j <= hi && (maskView === null || maskView.data[mRow + j * maskView.colStride]! !== 0);
          if (!visible) S[r * width + c] = -Infinity;
          else if (S[r * width + c]! * scale > m) m = S[r * width + c]! * scale;
        }
        let z = 0;
        for (let c = 0; c < width; c++) {
          const logit = S[r * width + c]!;
          const e = m === -Infinity || logit === -Infinity ? 0 : Math.exp(logit * scale - m);
          S[r * width + c] = e;
          z += e;
        }
        const inv = z > 0 ? 1 / z : 0; // a row that sees nothing attends to nothing (output 0), not NaN
        for (let c = 0; c < width; c++) P[pOff + r * width + c] = S[r * width + c]! * inv;
      }
      gemm(rows, dv, width, P, pOff, false, v.data, vOff + blk.c0 * dv, false, out, (b * Tq + blk.i0) * dv, false);
    }
  }
  giveBuffer(S);

  const result = recordOp('attention', new Tensor(out, [...batch, Tq, dv]), [q, k, v], (g) => {
    const dq = allocate(q.dtype, q.size);
    const dkBuf = allocate(k.dtype, k.size);
    const dvBuf = allocate(v.dtype, v.size);
    const dS = takeBuffer(q.dtype, ROW_BLOCK * Tk, 'attention', 'k');
    const delta = new Float64Array(ROW_BLOCK);
    for (let b = 0; b < nb; b++) {
      const qOff = offsets[0]![b]! * Tq * d;
      const kOff = offsets[1]![b]! * Tk * d;
      const vOff = offsets[2]![b]! * Tk * dv;
      const oOff = b * Tq * dv;
      if (maskView === null && kernels.attentionBackward?.(head(b), P, b * pSize, out, g.data, oOff, dq, dkBuf, dvBuf)) continue;
      for (const blk of blocks) {
        const rows = blk.i1 - blk.i0;
        const width = blk.c1 - blk.c0;
        if (width === 0) continue;
        const pOff = b * pSize + blk.pOffset;
        const gOff = oOff + blk.i0 * dv;
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let c = 0; c < dv; c++) s += g.data[gOff + r * dv + c]! * out[gOff + r * dv + c]!;
          delta[r] = s; // rowsum(dO ⊙ O) = rowsum(dP ⊙ P)
        }
        gemm(width, dv, rows, P, pOff, true, g.data, gOff, false, dvBuf, vOff + blk.c0 * dv, true); // dV += Pᵀ dO
        gemm(rows, width, dv, g.data, gOff, false, v.data, vOff + blk.c0 * dv, true, dS, 0, false); // dP = dO vᵀ
        for (let r = 0; r < rows; r++) {
          for (let c = 0; c < width; c++) {
            const idx = r * width + c;
            dS[idx] = P[pOff + idx]! * (dS[idx]! - delta[r]!) * scale;
          }
        }
        gemm(rows, d, width, dS, 0, false, k.data, kOff + blk.c0 * d, false, dq, qOff + blk.i0 * d, true); // dQ += dS k
        gemm(width, d, rows, dS, 0, true, q.data, qOff + blk.i0 * d, false, dkBuf, kOff + blk.c0 * d, true); // dK += dSᵀ q
      }
    }
    giveBuffer(dS);
    return [new Tensor(dq, q.shape), new Tensor(dkBuf, k.shape), new Tensor(dvBuf, v.shape)];
  }, { release: () => giveBuffer(P) });
  if (result.gradNode === null) giveBuffer(P); // no graph recorded: nothing reads P again
  return result;
}

/** For each batch index of `batch`, the index of the matrix each operand (broadcast) reads. */
function batchOffsets(batch: Shape, operands: readonly Tensor[]): Int32Array[] {
  return operands.map((t) => stridedBatchOffsets(batch, broadcastStrides(t.shape.slice(0, -2), batch)));
}

/** Offsets (in units of the given strides) of every multi-index of `batch`, row-major. */
function stridedBatchOffsets(batch: Shape, strides: readonly number[]): Int32Array {
  const n = sizeOf(batch);
  const out = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    let rem = b;
    let off = 0;
    for (let ax = batch.length - 1; ax >= 0; ax--) {
      off += (rem % batch[ax]!) * strides[ax]!;
      rem = Math.floor(rem / batch[ax]!);
    }
    out[b] = off;
  }
  return out;
}
