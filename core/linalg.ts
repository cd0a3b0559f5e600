/**
 * Dense linear algebra in float64, for analysis rather than training (no routine records a gradient):
 *
 * `symmetricEigenvalues`: Householder tridiagonalisation (Golub & Van Loan, Matrix Computations, 4th ed.,
 * Alg. 8.3.1: Q ᵀAQ = T) followed by the implicit QL iteration with the Wilkinson-type shift taken from the
 * leading 2 × 2 block (EISPACK tql1/tql2, Bowdler, Martin, Reinsch & Wilkinson, Numer. Math. 11, 1968; as in JAMA's
 * `EigenvalueDecomposition.tql2` without the eigenvector accumulation).
 * Layout: only the lower triangle of a row-major float64 copy is read and updated, row by row: the symmetric
 * product p = A·v reads row i once (j < i) and scatters the transposed contribution into p[j], and the rank-2 update
 * A ← A − v wᵀ − w vᵀ of one step is fused with the product of the next, so each step makes a single contiguous pass
 * over the trailing triangle: (4/3)·n³ flops in all. The QL phase costs O(n²).
 * Accuracy: backward stable — the computed eigenvalues are exact for A + E with ‖E‖₂ ≈ c·n·ε·‖A‖₂ (GVL §8.3.5), so the
 * absolute error of every eigenvalue is a small multiple of ε·‖A‖ (small eigenvalues have no relative accuracy).
 *
 * `qr`: thin QR by Householder reflections (GVL Alg. 5.2.1), Q accumulated backward (GVL §5.1.6); backward stable
 * (GVL §5.2.2: Q R = A + E, ‖E‖ ≈ c·m·n·ε·‖A‖, and Q orthonormal to c·m·n·ε).
 */
import { expectFiniteValues, expectInteger, expectNumber, expectOneOf, expectOptions, expectTensor, optionalGenerator } from './args.js';
import { isGradEnabled } from './autograd.js';
import { allocate } from './dtype.js';
import { AutogradError, ShapeError, ValueError } from './errors.js';
import { defaultGenerator, type Generator } from './random.js';
import { fmtShape } from './shape.js';
import { Tensor } from './tensor.js';

/** Options of `symmetricEigenvalues`: `symmetryTolerance`. */
export interface SymmetricEigenOptions {
  /**
   * Largest accepted |a_ij − a_ji| as a fraction of max |a_ij| (default 1e-10 for float64 input, 1e-5 for float32,
   * which allows a few float32 ulps of rounding in a product such as XᵀX). The solver uses (a_ij + a_ji)/2.
   */
  symmetryTolerance?: number;
}

/**
 * The lower triangle (j ≤ i, row-major [n, n]) of (A + Aᵀ)/2 for a square `a`, after checking every entry is finite and
 * A symmetric to `tolerance`·max|a_ij| (default 1e-10 for float64, 1e-5 for float32: a few float32 ulps of a product
 * such as XᵀX); also max|a_ij|. Errors are `op`'s.
 */
function symmetricLower(op: string, a: Tensor, tolerance: number | undefined): { w: Float64Array; maxAbs: number } {
  const n = a.shape[0]!;
  const tol = tolerance ?? (a.dtype === 'float32' ? 1e-5 : 1e-10);
  if (!(tol >= 0)) throw new ValueError(op, `symmetry tolerance is not ≥ 0 — symmetryTolerance=${tol} (a fraction of max |a_ij|)`, 'symmetryTolerance');
  const src = a.data;
  const w = new Float64Array(n * n); // lower triangle (j ≤ i) of (A + Aᵀ)/2, row-major
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = 0; j <= i; j++) {
      const x = src[row + j]!;
      const y = src[j * n + i]!;
      if (!Number.isFinite(x)) {
        throw new ValueError(op, `entry (${i}, ${j}) is not finite — a[${i}][${j}]=${x}, a=${fmtShape(a.shape)} (entries must be finite)`, 'a');
      }
      if (!Number.isFinite(y)) {
        throw new ValueError(op, `entry (${j}, ${i}) is not finite — a[${j}][${i}]=${y}, a=${fmtShape(a.shape)} (entries must be finite)`, 'a');
      }
      w[row + j] = x === y ? x : 0.5 * x + 0.5 * y; // halves first: x + y may overflow
      const m = Math.max(Math.abs(x), Math.abs(y));
      if (m > maxAbs) maxAbs = m;
    }
  }
  // Second pass so the tolerance is relative to the whole matrix, not to the part scanned so far.
  const limit = tol * maxAbs;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const diff = Math.abs(src[i * n + j]! - src[j * n + i]!);
      if (diff > limit) {
        throw new ValueError(
          op,
          `matrix is not symmetric — a=${fmtShape(a.shape)}, |a[${i}][${j}] − a[${j}][${i}]|=${diff} exceeds ${tol}·max|a|=${limit} (a must equal its transpose)`,
          'a',
        );
      }
    }
  }
  return { w, maxAbs };
}

/** QL sweeps allowed per eigenvalue before giving up (EISPACK uses 30; convergence is cubic in practice). */
const MAX_SWEEPS = 60;

/**
 * Eigenvalues of a symmetric [n, n] matrix, ascending, as a Float64Array (n = 0 gives an empty array).
 * Householder tridiagonalisation + implicit shifted QL (GVL Alg. 8.3.1; EISPACK tql1).
 */
export function symmetricEigenvalues(a: Tensor, options?: SymmetricEigenOptions): Float64Array {
  const op = 'symmetricEigenvalues';
  expectTensor(op, 'a', a);
  const opts = expectOptions(op, 'options', options, ['symmetryTolerance']);
  if (opts.symmetryTolerance !== undefined) expectNumber(op, 'symmetryTolerance', opts.symmetryTolerance, { min: 0 });
  if (a.ndim !== 2 || a.shape[0] !== a.shape[1]) {
    throw new ShapeError(op, `matrix is not square — a=${fmtShape(a.shape)} (needs shape [n, n])`, 'a');
  }
  const n = a.shape[0]!;
  const { w, maxAbs } = symmetricLower(op, a, opts.symmetryTolerance);
  const d = new Float64Array(n);
  if (maxAbs === 0) return d;
  // Far from 1, scale by a power of two so max |a_ij| ∈ [1, 2): no overflow in squares and the QL deflation test
  // ε·‖T‖ cannot underflow. Only then, because scaling down rounds subnormal entries. Two factors: 2^±1074 overflows.
  const exponent = Math.floor(Math.log2(maxAbs));
  const e1 = Math.abs(exponent) > 400 ? Math.trunc(-exponent / 2) : 0;
  const f1 = 2 ** e1;
  const f2 = Math.abs(exponent) > 400 ? 2 ** (-exponent - e1) : 1;
  if (f1 !== 1 || f2 !== 1) for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) w[i * n + j] = w[i * n + j]! * f1 * f2;
  const e = new Float64Array(n);
  tridiagonalize(w, n, d, e);
  tridiagonalQL(d, e, n, op);
  for (let i = 0; i < n; i++) d[i] = d[i]! / f1 / f2;
  return d.sort();
}

/**
 * Householder reduction of the symmetric matrix whose lower triangle is in `w` (row-major n × n, destroyed) to
 * tridiagonal form: d = diagonal, e[i] = T[i+1][i] (e[n−1] = 0). GVL Alg. 8.3.1: for column k, H = I − β v vᵀ zeroes
 * A[k+2:, k]; with p = β A₂₂ v and w = p − (β pᵀv / 2) v the trailing block becomes A₂₂ − v wᵀ − w vᵀ.
 *
 * One pass over the trailing triangle per step: column k+1 is updated first, which gives the next reflector v′, and
 * then each row i is updated and immediately multiplied into p′ = β′A₂₂′v′ (row i adds A[i][j]·v′[j] to p′[i] and
 * A[i][j]·v′[i] to p′[j]). Same arithmetic as the two-pass form, ~35% less time at n = 512.
 */
function tridiagonalize(w: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  let v = new Float64Array(n);
  let vNext = new Float64Array(n);
  let p = new Float64Array(n);
  let pNext = new Float64Array(n);
  let beta = n > 2 ? reflector(w, n, 0, v, e) : 0;
  if (beta !== 0) symmetricProduct(w, n, 1, v, p, beta);
  for (let k = 0; k < n - 2; k++) {
    const k1 = k + 1;
    const k2 = k + 2;
    d[k] = w[k * n + k]!;
    let betaNext = 0;
    if (beta === 0) {
      // H = I: nothing to update; the next step needs its own product.
      if (k1 < n - 2) {
        betaNext = reflector(w, n, k1, vNext, e);
        if (betaNext !== 0) symmetricProduct(w, n, k2, vNext, pNext, betaNext);
      }
    } else {
      let pv = 0;
      for (let i = k1; i < n; i++) pv += p[i]! * v[i]!;
      const half = 0.5 * beta * pv;
      for (let i = k1; i < n; i++) p[i] -= half * v[i]!; // p now holds w = p − (β pᵀv / 2)·v
      // A₂₂ ← A₂₂ − v wᵀ − w vᵀ: column k+1 (with its diagonal) first, then the rows below it.
      const vk = v[k1]!;
      const wk = p[k1]!;
      for (let i = k1; i < n; i++) w[i * n + k1] -= v[i]! * wk + p[i]! * vk;
      if (k1 < n - 2) betaNext = reflector(w, n, k1, vNext, e);
      if (betaNext !== 0) {
        pNext.fill(0, k2, n);
        for (let i = k2; i < n; i++) {
          const row = i * n;
          const vi = v[i]!;
          const wi = p[i]!;
          const ui = vNext[i]!;
          let s = 0;
          for (let j = k2; j < i; j++) {
            const a = w[row + j]! - (vi * p[j]! + wi * v[j]!);
            w[row + j] = a;
            s += a * vNext[j]!;
            pNext[j] += a * ui;
          }
          const a = w[row + i]! - (vi * p[i]! + wi * v[i]!);
          w[row + i] = a;
          pNext[i] += s + a * ui;
        }
        for (let i = k2; i < n; i++) pNext[i] *= betaNext;
      } else {
        for (let i = k2; i < n; i++) {
          const row = i * n;
          const vi = v[i]!;
          const wi = p[i]!;
          for (let j = k2; j <= i; j++) w[row + j] -= vi * p[j]! + wi * v[j]!;
        }
      }
    }
    [v, vNext] = [vNext, v];
    [p, pNext] = [pNext, p];
    beta = betaNext;
  }
  if (n >= 2) {
    d[n - 2] = w[(n - 2) * n + n - 2]!;
    e[n - 2] = w[(n - 1) * n + n - 2]!;
  }
  if (n >= 1) {
    d[n - 1] = w[(n - 1) * n + n - 1]!;
    e[n - 1] = 0;
  }
}

/**
 * Householder vector for column k: v[k+1:] with H = I − β v vᵀ mapping x = A[k+1:, k] to e[k]·e₁, e[k] = −sign(x₀)‖x‖.
 * x is scaled by max |x_i| so ‖x‖ neither overflows nor underflows. Returns β = 2 / vᵀv, or 0 (and e[k] = 0) if x = 0.
 */
function reflector(w: Float64Array, n: number, k: number, v: Float64Array, e: Float64Array): number {
  let scale = 0;
  for (let i = k + 1; i < n; i++) {
    const x = Math.abs(w[i * n + k]!);
    if (x > scale) scale = x;
  }
  if (scale === 0) {
    e[k] = 0;
    return 0;
  }
  let ss = 0;
  for (let i = k + 1; i < n; i++) {
    const x = w[i * n + k]! / scale;
    v[i] = x;
    ss += x * x;
  }
  const sigma = Math.sqrt(ss);
  const x0 = v[k + 1]!;
  const sign = x0 < 0 ? -1 : 1;
  v[k + 1] = x0 + sign * sigma; // v = x/scale + sign(x₀)·‖x/scale‖·e₁
  e[k] = -sign * sigma * scale;
  return 1 / (sigma * (sigma + Math.abs(x0))); // vᵀv = 2σ(σ + |x₀|)
}

/** p[from:] = β·A[from:, from:]·v[from:] from the lower triangle (row i adds A[i][j]v[j] to p[i], A[i][j]v[i] to p[j]). */
function symmetricProduct(w: Float64Array, n: number, from: number, v: Float64Array, p: Float64Array, beta: number): void {
  p.fill(0, from, n);
  for (let i = from; i < n; i++) {
    const row = i * n;
    const vi = v[i]!;
    let s = 0;
    for (let j = from; j < i; j++) {
      const a = w[row + j]!;
      s += a * v[j]!;
      p[j] += a * vi;
    }
    p[i] += s + w[row + i]! * vi;
  }
  for (let i = from; i < n; i++) p[i] *= beta;
}

/**
 * Eigenvalues of the symmetric tridiagonal (d, e) in place into d (unsorted), e destroyed: implicit QL with the shift
 * from the leading 2 × 2 block of each unreduced block (EISPACK tql1; JAMA tql2 without vectors). A subdiagonal counts
 * as zero once |e[m]| ≤ ε·‖T‖ with ‖T‖ = max_l(|d[l]| + |e[l]|) over the whole matrix (JAMA takes the running max
 * over l ≤ m, which lets a block of tiny entries iterate on an underflowed tolerance of 0 and overflow the shift).
 */
function tridiagonalQL(d: Float64Array, e: Float64Array, n: number, op: string): void {
  const eps = 2 ** -52;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
  for (let l = 0; l < n; l++) {
    let m = l;
    while (m < n - 1 && Math.abs(e[m]!) > eps * tst1) m++;
    if (m > l) {
      let sweeps = 0;
      do {
        if (++sweeps > MAX_SWEEPS) {
          throw new ValueError(op, `QL iteration did not converge for eigenvalue ${l} of n=${n} after ${MAX_SWEEPS} sweeps — e[${l}]=${e[l]} (input must be finite and well scaled)`, 'a');
        }
        // Shift: the eigenvalue of the leading 2 × 2 block [d_l e_l; e_l d_{l+1}] nearer d_l.
        let g = d[l]!;
        let pp = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(pp, 1);
        if (pp < 0) r = -r;
        d[l] = e[l]! / (pp + r);
        d[l + 1] = e[l]! * (pp + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        // Implicit QL sweep: Givens rotations chase the bulge from row m up to row l.
        pp = d[m]!;
        let c = 1;
        let c2 = 1;
        let c3 = 1;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * pp;
          r = Math.hypot(pp, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = pp / r;
          pp = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
        }
        pp = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * pp;
        d[l] = c * pp;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
}

// ── thin QR ──────────────────────────────────────────────────────────────────────────────────────────────────────

/** The thin QR factors of an [m, n] matrix (m ≥ n): a = q·r. */
export interface QR {
  /** [m, n] with orthonormal columns: qᵀq = I. */
  readonly q: Tensor;
  /** [n, n] upper triangular with diag(r) ≥ 0. */
  readonly r: Tensor;
}

/** Options of `qr`: `mode`. */
export interface QROptions {
  /**
   * 'reduced' (default): q and r. 'r': r alone (NumPy's mode='r'), about half the work — enough for singular values,
   * norms and Gram matrices (aᵀa = rᵀr).
   */
  mode?: 'reduced' | 'r';
}

/**
 * Thin QR of a [m, n] matrix with m ≥ n: q [m, n] with orthonormal columns and r [n, n] upper triangular with a
 * non-negative diagonal, so that a = q·r (unique when a has full column rank). Householder reflections in float64
 * (GVL Alg. 5.2.1), q accumulated backward (GVL §5.1.6); q and r come back in a's dtype. A column that is already
 * zero below the diagonal gets no reflection, so a rank-deficient a still gives a = q·r with qᵀq = I.
 * Not differentiable: a tensor that requires grad is refused while gradients are recorded (use noGrad or detach).
 * @example const { q, r } = qr(randn([5, 3], { dtype: 'float64' })); // q [5, 3], r [3, 3]
 */
export function qr(a: Tensor, options?: { mode?: 'reduced' }): QR;
export function qr(a: Tensor, options: { mode: 'r' }): { readonly r: Tensor };
export function qr(a: Tensor, options?: QROptions): QR | { readonly r: Tensor };
export function qr(a: Tensor, options?: QROptions): QR | { readonly r: Tensor } {
  const op = 'qr';
  expectTensor(op, 'a', a);
  const { mode = 'reduced' } = expectOptions(op, 'options', options, ['mode']);
  expectOneOf(op, 'options.mode', mode, ['reduced', 'r']);
  if (a.ndim !== 2) throw new ShapeError(op, `a=${fmtShape(a.shape)} is not a matrix (needs shape [m, n] with m ≥ n)`, 'a');
  const [m, n] = a.shape as [number, number];
  if (m < n) throw new ShapeError(op, `a=${fmtShape(a.shape)} has fewer rows than columns — m=${m} < n=${n} (thin QR needs m ≥ n; factor the transpose)`, 'a');
  if (a.requiresGrad && isGradEnabled()) {
    throw new AutogradError(op, `a=${fmtShape(a.shape)} requires grad, but qr has no gradient (call it under noGrad, or on a.detach())`, 'a');
  }
  expectFiniteValues(op, 'a', a.data);
  const wantQ = mode === 'reduced';
  const qOut = wantQ ? allocate(a.dtype, m * n, op, 'a') : null;
  const rOut = allocate(a.dtype, n * n, op, 'a');
  const { q, r } = householderQR(a.data, m, n, wantQ);
  rOut.set(r);
  if (qOut === null || q === null) return { r: new Tensor(rOut, [n, n]) };
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) qOut[i * n + j] = q[j * m + i]!;
  return { q: new Tensor(qOut, [m, n]), r: new Tensor(rOut, [n, n]) };
}

/**
 * Householder thin QR of a row-major [m, n] array (m ≥ n, finite): q column-major (column j at j·m; null unless
 * wantQ), r row-major [n, n]. The matrix is first divided by a power of two near max|a| (exact), so no square or dot
 * product overflows.
 */
function householderQR(a: ArrayLike<number>, m: number, n: number, wantQ: boolean): { q: Float64Array | null; r: Float64Array } {
  let maxAbs = 0;
  for (let i = 0; i < m * n; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
  const unit = maxAbs > 0 ? 2 ** Math.floor(Math.log2(maxAbs)) : 1;
  const x = new Float64Array(m * n); // column-major: every reflection walks contiguous memory
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) x[j * m + i] = a[i * n + j]! / unit;
  const r = new Float64Array(n * n);
  const beta = new Float64Array(n); // H_k = I − β_k v_k v_kᵀ, v_k = x[k·m + k … k·m + m); β_k = 0: no reflection
  for (let k = 0; k < n; k++) {
    const ck = k * m;
    let scale = 0;
    for (let i = k; i < m; i++) scale = Math.max(scale, Math.abs(x[ck + i]!));
    if (scale === 0) {
      for (let j = k + 1; j < n; j++) r[k * n + j] = x[j * m + k]!; // nothing to reflect: R's row k is X's row k
      continue;
    }
    let ss = 0;
    for (let i = k; i < m; i++) ss += (x[ck + i]! / scale) ** 2;
    const sigma = scale * Math.sqrt(ss);
    const x0 = x[ck + k]!;
    const sign = x0 < 0 ? -1 : 1;
    x[ck + k] = x0 + sign * sigma; // v = x + sign(x₀)‖x‖e₁, vᵀv = 2‖x‖(‖x‖ + |x₀|)
    const b = 1 / (sigma * (sigma + Math.abs(x0)));
    beta[k] = b;
    r[k * n + k] = -sign * sigma;
    for (let j = k + 1; j < n; j++) {
      const cj = j * m;
      let dot = 0;
      for (let i = k; i < m; i++) dot += x[ck + i]! * x[cj + i]!;
      const f = b * dot;
      for (let i = k; i < m; i++) x[cj + i] -= f * x[ck + i]!;
      r[k * n + j] = x[cj + k]!;
    }
  }
  // Q = H_0 H_1 ⋯ H_{n−1} [I_n; 0], applied right to left: H_k only touches rows ≥ k, columns j < k are still e_j.
  const q = wantQ ? new Float64Array(m * n) : null;
  for (let j = 0; q !== null && j < n; j++) q[j * m + j] = 1;
  for (let k = n - 1; q !== null && k >= 0; k--) {
    const b = beta[k]!;
    if (b === 0) continue;
    const ck = k * m;
    for (let j = k; j < n; j++) {
      const cj = j * m;
      let dot = 0;
      for (let i = k; i < m; i++) dot += x[ck + i]! * q[cj + i]!;
      const f = b * dot;
      for (let i = k; i < m; i++) q[cj + i] -= f * x[ck + i]!;
    }
  }
  // diag(R) ≥ 0 (the unique thin QR of a full-rank a): flip row k of R and column k of Q together. Undo the scaling.
  for (let k = 0; k < n; k++) {
    const flip = r[k * n + k]! < 0 ? -1 : 1;
    for (let j = k; j < n; j++) r[k * n + j] = flip * unit * r[k * n + j]!;
    if (flip < 0 && q !== null) for (let i = 0; i < m; i++) q[k * m + i] = -q[k * m + i]!;
  }
  return { q, r };
}

/** The checks every factorization here shares: a tensor, a matrix, no gradient requested (these record none). */
function expectMatrixWithoutGrad(op: string, a: unknown): asserts a is Tensor {
  expectTensor(op, 'a', a);
  if (a.ndim !== 2) throw new ShapeError(op, `a=${fmtShape(a.shape)} is not a matrix (needs shape [m, n])`, 'a');
  if (a.requiresGrad && isGradEnabled()) {
    throw new AutogradError(op, `a=${fmtShape(a.shape)} requires grad, but ${op} has no gradient (call it under noGrad, or on a.detach())`, 'a');
  }
}

/** Options of `cholesky`: `symmetryTolerance`. */
export interface CholeskyOptions {
  /** As symmetricEigenvalues: largest accepted |a_ij − a_ji| as a fraction of max |a_ij| (default 1e-10; float32 1e-5). */
  symmetryTolerance?: number;
}

/**
 * Cholesky factor of a symmetric positive definite [n, n] matrix: lower triangular L with a positive diagonal and
 * a = L·Lᵀ, in a's dtype (Cholesky–Banachiewicz in float64, GVL Alg. 4.2.1; backward stable: L·Lᵀ = a + E with
 * |E| ≤ c·n·ε·|L|·|Lᵀ|, GVL §4.2.7). Reads (a + aᵀ)/2 after checking symmetry; throws a ValueError naming the first
 * pivot a_jj − Σ_k L_jk² that is not positive (a is not positive definite). Not differentiable (as qr).
 * @example const l = cholesky(tensor([[4, 2], [2, 3]], { dtype: 'float64' })); // [[2, 0], [1, √2]]
 */
export function cholesky(a: Tensor, options?: CholeskyOptions): Tensor {
  const op = 'cholesky';
  expectMatrixWithoutGrad(op, a);
  const opts = expectOptions(op, 'options', options, ['symmetryTolerance']);
  if (opts.symmetryTolerance !== undefined) expectNumber(op, 'symmetryTolerance', opts.symmetryTolerance, { min: 0 });
  if (a.shape[0] !== a.shape[1]) throw new ShapeError(op, `matrix is not square — a=${fmtShape(a.shape)} (needs shape [n, n])`, 'a');
  const n = a.shape[0]!;
  const out = allocate(a.dtype, n * n, op, 'a');
  const { w } = symmetricLower(op, a, opts.symmetryTolerance);
  // w's lower triangle becomes L in place: L_ij = (w_ij − Σ_{k<j} L_ik L_jk) / L_jj, L_jj = √(w_jj − Σ_k L_jk²)
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = w[ri + j]!;
      for (let k = 0; k < j; k++) s -= w[ri + k]! * w[rj + k]!;
      if (i === j) {
        if (!(s > 0)) {
          throw new ValueError(op, `a is not positive definite: pivot ${j} is ${s} (a_jj − Σ_k L_jk² must be > 0) — a=${fmtShape(a.shape)}`, 'a');
        }
        w[ri + j] = Math.sqrt(s);
      } else w[ri + j] = s / w[rj + j]!;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) out[i * n + j] = w[i * n + j]!;
  return new Tensor(out, [n, n]);
}

/**
 * A thin singular value decomposition a = u·diag(s)·vᵀ of a [m, n] matrix, k = min(m, n): u [m, k], s [k], v [n, k].
 */
export interface SVD {
  /** [m, k] with orthonormal columns, k = min(m, n). */
  readonly u: Tensor;
  /** [k] singular values, descending, ≥ 0. */
  readonly s: Tensor;
  /** [n, k] with orthonormal columns: a = u·diag(s)·vᵀ. */
  readonly v: Tensor;
}

/** Jacobi sweeps allowed before giving up (convergence is quadratic; 256×256 random matrices take 8–10). */
const MAX_JACOBI_SWEEPS = 60;

/**
 * Thin singular value decomposition of a [m, n] matrix: a = u·diag(s)·vᵀ with k = min(m, n), s descending. One-sided
 * Jacobi (Hestenes 1958; Demmel & Veselić 1992, "Jacobi's method is more accurate than QR"): plane rotations
 * orthogonalize the columns of a (of aᵀ when m < n) until every pair has |cᵢᵀcⱼ| ≤ m·ε·‖cᵢ‖‖cⱼ‖; then s_j = ‖c_j‖ and
 * u_j = c_j / s_j, and v accumulates the rotations. Float64 throughout, results in a's dtype; a is first divided by a
 * power of two near max|a_ij| (exact), so no square overflows. Columns of u whose singular value is 0 are completed
 * to an orthonormal set. Reconstruction and orthogonality hold to a small multiple of n·ε (tests/core/linalg-decomp).
 * Not differentiable (as qr).
 * @example const { u, s, v } = svd(randn([6, 4], { dtype: 'float64' })); // u [6, 4], s [4], v [4, 4]
 */
export function svd(a: Tensor): SVD {
  const op = 'svd';
  expectMatrixWithoutGrad(op, a);
  const [m0, n0] = a.shape as [number, number];
  expectFiniteValues(op, 'a', a.data);
  const wide = m0 < n0; // factor aᵀ = v·diag(s)·uᵀ instead
  const m = wide ? n0 : m0;
  const n = wide ? m0 : n0;
  const uOut = allocate(a.dtype, m0 * Math.min(m0, n0), op, 'a');
  const vOut = allocate(a.dtype, n0 * Math.min(m0, n0), op, 'a');
  const sOut = allocate(a.dtype, Math.min(m0, n0), op, 'a');
  let maxAbs = 0;
  for (let i = 0; i < a.size; i++) maxAbs = Math.max(maxAbs, Math.abs(a.data[i]!));
  const unit = maxAbs > 0 ? 2 ** Math.floor(Math.log2(maxAbs)) : 1;
  // c: the m × n working matrix column-major (column j at j·m), v: n × n column-major, starting at I
  const c = new Float64Array(m * n);
  for (let i = 0; i < m0; i++) {
    for (let j = 0; j < n0; j++) {
      const x = a.data[i * n0 + j]! / unit;
      if (wide) c[i * m + j] = x;
      else c[j * m + i] = x;
    }
  }
  const v = new Float64Array(n * n);
  for (let j = 0; j < n; j++) v[j * n + j] = 1;
  // a pair counts as orthogonal when |cₚᵀc_q| ≤ m·ε·‖cₚ‖‖c_q‖ (rounding in the m-term dot products makes a tighter
  // test unreachable for some pairs: they would rotate for ever by angles of order ε)
  const eps = 2 ** -53;
  const orthogonal = m * eps;
  let converged = n < 2;
  for (let sweep = 0; sweep < MAX_JACOBI_SWEEPS && !converged; sweep++) {
    converged = true;
    for (let p = 0; p < n - 1; p++) {
      const cp = p * m;
      for (let q = p + 1; q < n; q++) {
        const cq = q * m;
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const x = c[cp + i]!;
          const y = c[cq + i]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= orthogonal * Math.sqrt(alpha * beta)) continue;
        converged = false;
        // the rotation that zeroes the (p, q) entry of cᵀc (Rutishauser's formulas: |t| ≤ 1, stable)
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const cs = 1 / Math.sqrt(1 + t * t);
        const sn = cs * t;
        rotatePair(c, cp, cq, m, cs, sn);
        rotatePair(v, p * n, q * n, n, cs, sn);
      }
    }
  }
  if (!converged) throw new ValueError(op, `one-sided Jacobi did not converge in ${MAX_JACOBI_SWEEPS} sweeps — a=${fmtShape(a.shape)}`, 'a');
  // s_j = ‖c_j‖, descending; u_j = c_j / s_j, with zero columns completed below
  const norms = Array.from({ length: n }, (_, j) => {
    let ss = 0;
    for (let i = 0; i < m; i++) ss += c[j * m + i]! ** 2;
    return Math.sqrt(ss);
  });
  const order = norms.map((_, j) => j).sort((x, y) => norms[y]! - norms[x]! || x - y);
  const u = new Float64Array(m * n); // column-major, in the sorted order
  const tiny = n * eps * (norms[order[0]!] ?? 0); // below this a column is numerically zero: its direction is noise
  let filled = 0;
  for (const j of order) {
    if (!(norms[j]! > tiny)) break;
    for (let i = 0; i < m; i++) u[filled * m + i] = c[j * m + i]! / norms[j]!;
    filled++;
  }
  completeOrthonormal(u, m, filled, n);
  for (let r = 0; r < n; r++) {
    const j = order[r]!;
    sOut[r] = r < filled ? norms[j]! * unit : 0;
    for (let i = 0; i < m; i++) {
      const ui = u[r * m + i]!;
      if (wide) vOut[i * n + r] = ui;
      else uOut[i * n + r] = ui;
    }
    for (let i = 0; i < n; i++) {
      const vi = v[j * n + i]!;
      if (wide) uOut[i * n + r] = vi;
      else vOut[i * n + r] = vi;
    }
  }
  const k = Math.min(m0, n0);
  return { u: new Tensor(uOut, [m0, k]), s: new Tensor(sOut, [k]), v: new Tensor(vOut, [n0, k]) };
}

/** One plane rotation of two length-`len` runs of `a` (at xAt and yAt): x ← cs·x − sn·y, y ← sn·x + cs·y. */
function rotatePair(a: Float64Array, xAt: number, yAt: number, len: number, cs: number, sn: number): void {
  for (let i = 0; i < len; i++) {
    const x = a[xAt + i]!;
    const y = a[yAt + i]!;
    a[xAt + i] = cs * x - sn * y;
    a[yAt + i] = sn * x + cs * y;
  }
}

/**
 * Columns filled…count−1 of the column-major m × count matrix u, given orthonormal columns 0…filled−1: orthonormal
 * completions, from the unit vectors e_0, e_1, … by Gram–Schmidt applied twice ("twice is enough", Giraud et al. 2005),
 * skipping those nearly in the span so far.
 */
function completeOrthonormal(u: Float64Array, m: number, filled: number, count: number): void {
  const w = new Float64Array(m);
  for (let e = 0; filled < count && e < m; e++) {
    w.fill(0);
    w[e] = 1;
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < filled; j++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += u[j * m + i]! * w[i]!;
        for (let i = 0; i < m; i++) w[i] = w[i]! - dot * u[j * m + i]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += w[i]! * w[i]!;
    norm = Math.sqrt(norm);
    if (norm < 0.5) continue; // e is mostly in the span already: a later unit vector completes better
    for (let i = 0; i < m; i++) u[filled * m + i] = w[i]! / norm;
    filled++;
  }
}

/** Options of `kmeans`: `generator`, `maxIter`, `tol`. */
export interface KMeansOptions {
  /** Stream for the k-means++ seeding (default: the process-wide default generator). */
  generator?: Generator;
  /** Lloyd iterations at most (default 100). */
  maxIter?: number;
  /** Stop when an iteration lowers the inertia by at most tol × inertia (default 1e-6). */
  tol?: number;
}

/** What `kmeans` returns: the centres [k, d], each point's cluster, the inertia and the iterations run. */
export interface KMeansResult {
  /** [k, d] cluster centres, in x's dtype. */
  readonly centroids: Tensor;
  /** Cluster of each of the n points (ties go to the lower index). */
  readonly assignments: Int32Array;
  /** Σ over points of the squared distance to their centre (float64), after the last assignment. */
  readonly inertia: number;
  /** Lloyd iterations run. */
  readonly iterations: number;
}

/**
 * k-means of n points x [n, d] into k clusters: k-means++ seeding (Arthur & Vassilvitskii 2007: the first centre a
 * uniform point, each next one a point drawn with probability ∝ its squared distance to the nearest centre so far),
 * then Lloyd iterations (assign each point to its nearest centre, move each centre to its points' mean; a centre
 * that loses every point stays where it was). Each iteration never raises the inertia. Deterministic for a given
 * generator state; distances in float64. Not differentiable (refuses x that requires grad, as qr).
 * @example const { centroids, assignments } = kmeans(points, 16, { generator: new Generator(0) });
 */
export function kmeans(x: Tensor, k: number, options?: KMeansOptions): KMeansResult {
  const op = 'kmeans';
  expectTensor(op, 'x', x);
  if (x.ndim !== 2) throw new ShapeError(op, `x=${fmtShape(x.shape)} is not a matrix of points (needs shape [n, d])`, 'x');
  if (x.requiresGrad && isGradEnabled()) {
    throw new AutogradError(op, `x=${fmtShape(x.shape)} requires grad, but kmeans has no gradient (call it under noGrad, or on x.detach())`, 'x');
  }
  const [n, d] = x.shape as [number, number];
  expectInteger(op, 'k', k, { min: 1 });
  if (k > n) throw new ValueError(op, `k=${k} exceeds the number of points n=${n} — x=${fmtShape(x.shape)}`, 'k');
  const o = expectOptions(op, 'options', options, ['generator', 'maxIter', 'tol']);
  const generator = optionalGenerator(op, 'options.generator', o.generator, defaultGenerator);
  const maxIter = o.maxIter === undefined ? 100 : expectInteger(op, 'options.maxIter', o.maxIter, { min: 0 });
  const tol = o.tol === undefined ? 1e-6 : expectNumber(op, 'options.tol', o.tol, { min: 0 });
  expectFiniteValues(op, 'x', x.data);
  const out = allocate(x.dtype, k * d, op, 'k');
  const data = x.data;
  const centres = new Float64Array(k * d);
  const dist2 = (i: number, c: number): number => {
    let s = 0;
    for (let t = 0; t < d; t++) s += (data[i * d + t]! - centres[c * d + t]!) ** 2;
    return s;
  };
  // k-means++ seeding; `nearest` holds each point's squared distance to its nearest centre so far
  const first = generator.int(0, n);
  for (let t = 0; t < d; t++) centres[t] = data[first * d + t]!;
  const nearest = new Float64Array(n);
  for (let i = 0; i < n; i++) nearest[i] = dist2(i, 0);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += nearest[i]!;
    let pick = n - 1;
    if (total > 0) {
      let target = generator.random() * total;
      for (let i = 0; i < n; i++) {
        target -= nearest[i]!;
        if (target < 0) {
          pick = i;
          break;
        }
      }
    } else pick = generator.int(0, n); // every point sits on a centre: any point will do
    for (let t = 0; t < d; t++) centres[c * d + t] = data[pick * d + t]!;
    for (let i = 0; i < n; i++) nearest[i] = Math.min(nearest[i]!, dist2(i, c));
  }
  // Lloyd
  const assignments = new Int32Array(n);
  const assign = (): number => {
    let inertia = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = dist2(i, 0);
      for (let c = 1; c < k; c++) {
        const dc = dist2(i, c);
        if (dc < bestD) {
          bestD = dc;
          best = c;
        }
      }
      assignments[i] = best;
      inertia += bestD;
    }
    return inertia;
  };
  let inertia = assign();
  let iterations = 0;
  const sums = new Float64Array(k * d);
  const counts = new Int32Array(k);
  while (iterations < maxIter) {
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignments[i]!;
      counts[c]!++;
      for (let t = 0; t < d; t++) sums[c * d + t] += data[i * d + t]!;
    }
    for (let c = 0; c < k; c++) if (counts[c]! > 0) for (let t = 0; t < d; t++) centres[c * d + t] = sums[c * d + t]! / counts[c]!;
    iterations++;
    const next = assign();
    const gain = inertia - next;
    inertia = next;
    if (!(gain > tol * inertia)) break;
  }
  for (let i = 0; i < k * d; i++) out[i] = centres[i]!;
  return { centroids: new Tensor(out, [k, d]), assignments, inertia, iterations };
}
