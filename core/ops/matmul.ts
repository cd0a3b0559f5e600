/** Batched matrix product with NumPy semantics (1-D operands, broadcast batch dimensions), forward and backward. */
import { expectBoolean, expectOptions, expectTensor } from '../args.js';
import { isGradEnabled, recordOp } from '../autograd.js';
import { allocate } from '../dtype.js';
import { DTypeError, ShapeError } from '../errors.js';
import { forEachRow } from '../kernels/elementwise.js';
import { gemm } from '../kernels/matmul.js';
import { broadcastShapes, broadcastStrides, fmtShape, sizeOf, type Shape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { reshape } from './movement.js';

/** Options of `matmul`: `transposeA`, `transposeB`. */
export interface MatmulOptions {
  /** Use the transpose of a's last two axes (no copy is made). */
  transposeA?: boolean;
  /** Use the transpose of b's last two axes (no copy is made). */
  transposeB?: boolean;
}

/**
 * a @ b. a: [..., M, K], b: [..., K, N] → [..., M, N], batch axes broadcast. A 1-D a is a row vector and a 1-D b
 * a column vector; their unit axis is dropped from the result (so two vectors give their dot product).
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  expectTensor('matmul', 'a', a);
  expectTensor('matmul', 'b', b);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError('matmul', `operands must have at least one axis — a=${fmtShape(a.shape)}, b=${fmtShape(b.shape)} (use mul for scalars)`, a.ndim === 0 ? 'a' : 'b');
  }
  const { transposeA = false, transposeB = false } = expectOptions('matmul', 'options', options, ['transposeA', 'transposeB']);
  expectBoolean('matmul', 'transposeA', transposeA);
  expectBoolean('matmul', 'transposeB', transposeB);
  const a2 = a.ndim === 1 ? reshape(a, transposeA ? [a.size, 1] : [1, a.size]) : a;
  const b2 = b.ndim === 1 ? reshape(b, transposeB ? [1, b.size] : [b.size, 1]) : b;
  const out = matmulCore(a2, b2, transposeA, transposeB, [a.shape, b.shape]);
  if (a.ndim > 1 && b.ndim > 1) return out;
  const shape = [...out.shape];
  if (b.ndim === 1) shape.pop();
  if (a.ndim === 1) shape.splice(shape.length - (b.ndim === 1 ? 1 : 2), 1);
  return reshape(out, shape);
}

/**
 * The rank ≥ 2 case: C[..., M, N] = op(A)[..., M, K] · op(B)[..., K, N], op = identity or transpose.
 * `shown` are the caller's shapes for error messages (1-D operands arrive here reshaped to matrices).
 */
function matmulCore(a: Tensor, b: Tensor, transA: boolean, transB: boolean, shown: readonly [Shape, Shape] = [a.shape, b.shape]): Tensor {
  if (a.dtype !== b.dtype) {
    throw new DTypeError('matmul', `dtypes differ — a is ${a.dtype}, b is ${b.dtype} (cast one of them)`, 'b');
  }
  const [ra, ca] = a.shape.slice(-2) as [number, number];
  const [rb, cb] = b.shape.slice(-2) as [number, number];
  const [M, K] = transA ? [ca, ra] : [ra, ca];
  const [Kb, N] = transB ? [cb, rb] : [rb, cb];
  if (K !== Kb) {
    throw new ShapeError('matmul', `inner dimensions differ — a=${fmtShape(shown[0])} (k=${K}), b=${fmtShape(shown[1])} (k=${Kb})${transA || transB ? ` with transposeA=${transA}, transposeB=${transB}` : ''}`);
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB, 'matmul', [`a=${fmtShape(shown[0])} batch`, `b=${fmtShape(shown[1])} batch`]);
  const out = allocate(a.dtype, sizeOf(batch) * M * N, 'matmul');
  if (batchB.length === 0 && !transA) {
    // b is one matrix for every batch: the stacked rows of a form one [batch·M, K] matrix, so one product does it
    gemm(sizeOf(batch) * M, N, K, a.data, 0, false, b.data, 0, transB, out, 0, false);
  } else {
    const sa = broadcastStrides(batchA, batch).map((s) => s * ra * ca);
    const sb = broadcastStrides(batchB, batch).map((s) => s * rb * cb);
    let c = 0;
    forEachRow(batch, [sa, sb], (_, offs, len) => {
      const incA = batch.length === 0 ? 0 : sa[sa.length - 1]!;
      const incB = batch.length === 0 ? 0 : sb[sb.length - 1]!;
      for (let j = 0; j < len; j++, c += M * N) gemm(M, N, K, a.data, offs[0]! + j * incA, transA, b.data, offs[1]! + j * incB, transB, out, c, false);
    });
  }
  const result = new Tensor(out, [...batch, M, N]);
  return recordOp('matmul', result, [a, b], (g) => [
    // dA = g·op(B)ᵀ (stored the way A is), dB = op(A)ᵀ·g (stored the way B is); the engine sums broadcast batches
    a.requiresGrad ? (transA ? matmulCore(b, g, transB, true) : matmulCore(g, b, false, !transB)) : null,
    b.requiresGrad ? (batchB.length === 0 && !transA ? sharedMatrixGrad(a, g, transB) : transB ? matmulCore(g, a, true, transA) : matmulCore(a, g, !transA, false)) : null,
  ], { differentiableBackward: true, saved: [a, b] }); // the products are recorded when createGraph turns grad mode on
}

/**
 * Gradient of a matrix b shared by every batch of a (a: [..., M, K], g: [..., M, N]): Σ_batch aᵀ·g, as one
 * product over the stacked rows ([batch·M, K]ᵀ · [batch·M, N]) instead of a product per batch and a sum. Stored
 * the way b is: [K, N], or [N, K] when b is used transposed. Called from backward, where no graph is recorded.
 */
function sharedMatrixGrad(a: Tensor, g: Tensor, transB: boolean): Tensor {
  const K = a.shape[a.ndim - 1]!;
  const N = g.shape[g.ndim - 1]!;
  const rows = K === 0 ? 0 : a.size / K;
  if (isGradEnabled()) {
    // createGraph: the same product, recorded ([rows, K]ᵀ·[rows, N], or its transpose)
    const a2 = reshape(a, [rows, K]);
    const g2 = reshape(g, [rows, N]);
    return transB ? matmulCore(g2, a2, true, false) : matmulCore(a2, g2, true, false);
  }
  const out = allocate(a.dtype, K * N);
  if (transB) gemm(N, K, rows, g.data, 0, true, a.data, 0, false, out, 0, false);
  else gemm(K, N, rows, a.data, 0, true, g.data, 0, false, out, 0, false);
  return new Tensor(out, transB ? [N, K] : [K, N]);
}
