/** Normalisation over the last axis, fused forward and backward (per-row statistics saved for backward). */
import { expectNumber, expectTensor } from '../args.js';
import { recordOp } from '../autograd.js';
import { giveBuffer, takeBuffer } from '../buffer-pool.js';
import { allocate } from '../dtype.js';
import { ShapeError, ValueError } from '../errors.js';
import { fmtShape } from '../shape.js';
import { Tensor } from '../tensor.js';

function checkAffine(op: string, x: Tensor, t: Tensor | null, arg: string): void {
  if (t !== null) expectTensor(op, arg, t);
  const d = x.shape[x.ndim - 1];
  if (t !== null && (t.ndim !== 1 || t.shape[0] !== d)) {
    throw new ShapeError(op, `${arg}=${fmtShape(t.shape)} must be [${d}] for x=${fmtShape(x.shape)} (one per feature of the last axis)`, arg);
  }
}

function checkInput(op: string, x: Tensor, eps: number): void {
  expectTensor(op, 'x', x);
  expectNumber(op, 'eps', eps, { min: 0 });
  if (x.ndim === 0) throw new ShapeError(op, `x needs a feature axis, got x=${fmtShape(x.shape)}`, 'x');
  if (!(eps >= 0)) throw new ValueError(op, `eps must be ≥ 0, got ${eps}`, 'eps');
}

/**
 * LayerNorm (Ba et al. 2016): y = (x − μ)/√(σ² + ε) ⊙ w + b over the last axis, σ² biased.
 * Backward: dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)) with ĝ = g ⊙ w, r = 1/√(σ² + ε).
 */
export function layerNorm(x: Tensor, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  return normalizeLastAxis('layerNorm', x, weight, bias, eps, true);
}

/**
 * RMSNorm (Zhang & Sennrich 2019): y = x/√(mean(x²) + ε) ⊙ w over the last axis.
 * Backward: dx = r·(ĝ − x̂·mean(ĝ ⊙ x̂)) with ĝ = g ⊙ w, r = 1/√(mean(x²) + ε).
 */
export function rmsNorm(x: Tensor, weight: Tensor | null = null, eps = 1e-6): Tensor {
  return normalizeLastAxis('rmsNorm', x, weight, null, eps, false);
}

/** Both norms: x̂ = (x − μ)·r with μ the row mean when `centered` (LayerNorm), else 0 (RMSNorm); y = x̂ ⊙ w + b. */
function normalizeLastAxis(op: string, x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number, centered: boolean): Tensor {
  checkInput(op, x, eps);
  checkAffine(op, x, weight, 'weight');
  checkAffine(op, x, bias, 'bias');
  const D = x.shape[x.ndim - 1]!;
  const rows = D === 0 ? 0 : x.size / D;
  const xhat = takeBuffer('float64', x.size, op, 'x') as Float64Array; // engine-private: pooled (core/buffer-pool.ts)
  const rstd = new Float64Array(rows);
  const y = allocate(x.dtype, x.size);
  const w = weight?.data;
  const b = bias?.data;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    let mu = 0;
    if (centered) {
      for (let j = 0; j < D; j++) mu += x.data[o + j]!;
      mu /= D;
    }
    let v = 0;
    for (let j = 0; j < D; j++) v += (x.data[o + j]! - mu) ** 2;
    const rs = 1 / Math.sqrt(v / D + eps);
    rstd[r] = rs;
    for (let j = 0; j < D; j++) {
      const h = (x.data[o + j]! - mu) * rs;
      xhat[o + j] = h;
      y[o + j] = (w ? h * w[j]! : h) + (b ? b[j]! : 0);
    }
  }
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  const result = recordOp(op, new Tensor(y, x.shape), inputs, (g) => {
    const { dx, dw, db } = normBackward(g, xhat, rstd, w, D, centered);
    const grads: Tensor[] = [new Tensor(dx(x.dtype), x.shape)];
    if (weight !== null) grads.push(new Tensor(dw(weight.dtype), weight.shape));
    if (bias !== null) grads.push(new Tensor(db(bias.dtype), bias.shape));
    return grads;
  }, { release: () => giveBuffer(xhat) });
  if (result.gradNode === null) giveBuffer(xhat); // no graph recorded: nothing reads x̂ again
  return result;
}

/** Shared backward of the two norms; `centered` adds LayerNorm's −mean(ĝ) term. Buffers are built on demand. */
function normBackward(g: Tensor, xhat: Float64Array, rstd: Float64Array, w: Float32Array | Float64Array | undefined, D: number, centered: boolean) {
  const rows = rstd.length;
  const gs = g.data;
  return {
    dx: (dtype: 'float32' | 'float64') => {
      const dx = allocate(dtype, xhat.length);
      for (let r = 0; r < rows; r++) {
        const o = r * D;
        let sumG = 0;
        let sumGX = 0;
        for (let j = 0; j < D; j++) {
          const gh = w ? gs[o + j]! * w[j]! : gs[o + j]!;
          sumG += gh;
          sumGX += gh * xhat[o + j]!;
        }
        const meanG = centered ? sumG / D : 0;
        const meanGX = sumGX / D;
        for (let j = 0; j < D; j++) {
          const gh = w ? gs[o + j]! * w[j]! : gs[o + j]!;
          dx[o + j] = rstd[r]! * (gh - meanG - xhat[o + j]! * meanGX);
        }
      }
      return dx;
    },
    // dw and db sum over every row: accumulate in float64 and round once (as the reduction kernels do)
    dw: (dtype: 'float32' | 'float64') => {
      const dw = new Float64Array(D);
      for (let i = 0; i < xhat.length; i++) dw[i % D] += gs[i]! * xhat[i]!;
      return toDType(dw, dtype);
    },
    db: (dtype: 'float32' | 'float64') => {
      const db = new Float64Array(D);
      for (let i = 0; i < gs.length; i++) db[i % D] += gs[i]!;
      return toDType(db, dtype);
    },
  };
}

function toDType(sums: Float64Array, dtype: 'float32' | 'float64'): Float32Array | Float64Array {
  return dtype === 'float64' ? sums : Float32Array.from(sums);
}
