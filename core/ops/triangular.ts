/**
 * Inverse of a unit lower-triangular matrix, the "UT transform" of the WY representation (Joffrain et al. 2006;
 * PaTH, Yang et al. 2025, §3.2): T = (I + strictLower(A))⁻¹ for a batch of square matrices A [..., n, n]. Only the
 * strictly lower part of A is read; the diagonal of I + strictLower(A) is 1, so the inverse always exists.
 *   forward: forward substitution, row by row: T_i = e_i − Σ_{m<i} A_im T_m (T_m is zero right of m).
 *   backward: dT = −T dL T, so dA = strictLower(−Tᵀ G Tᵀ) for the upstream gradient G.
 */
import { expectTensor } from '../args.js';
import { recordOp } from '../autograd.js';
import { allocate } from '../dtype.js';
import { ShapeError } from '../errors.js';
import { gemm } from '../kernels/matmul.js';
import { fmtShape } from '../shape.js';
import { Tensor } from '../tensor.js';

/** (I + strictLower(a))⁻¹ for a [..., n, n] → [..., n, n], unit lower triangular; a's diagonal and upper part are ignored. */
export function unitLowerInverse(a: Tensor): Tensor {
  expectTensor('unitLowerInverse', 'a', a);
  if (a.ndim < 2 || a.shape[a.ndim - 1] !== a.shape[a.ndim - 2]) {
    throw new ShapeError('unitLowerInverse', `a=${fmtShape(a.shape)} must be a square matrix or a batch of them ([..., n, n])`, 'a');
  }
  const n = a.shape[a.ndim - 1]!;
  const nn = n * n;
  const count = n === 0 ? 0 : a.size / nn;
  const out = allocate(a.dtype, a.size);
  const row = new Float64Array(n); // the row being solved, in float64 whatever the dtype
  for (let b = 0; b < count; b++) {
    const off = b * nn;
    for (let i = 0; i < n; i++) {
      row.fill(0);
      row[i] = 1;
      for (let m = 0; m < i; m++) {
        const aim = a.data[off + i * n + m]!;
        if (aim === 0) continue;
        const tm = off + m * n;
        for (let j = 0; j <= m; j++) row[j]! -= aim * out[tm + j]!; // T_i −= A_im T_m (T_m ends at column m)
      }
      for (let j = 0; j <= i; j++) out[off + i * n + j] = row[j]!;
    }
  }
  const result = new Tensor(out, a.shape);
  return recordOp('unitLowerInverse', result, [a], (g) => {
    const tg = new Float64Array(nn); // Tᵀ G for one matrix
    const da = allocate(a.dtype, a.size);
    const tmp = allocate(a.dtype, nn);
    for (let b = 0; b < count; b++) {
      const off = b * nn;
      gemm(n, n, n, out, off, true, g.data, off, false, tg, 0, false); // Tᵀ G
      gemm(n, n, n, tg, 0, false, out, off, true, tmp, 0, false); // (Tᵀ G) Tᵀ
      for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) da[off + i * n + j] = -tmp[i * n + j]!; // −(…), strict lower only
    }
    return [new Tensor(da, a.shape)];
  });
}
