/**
 * symmetricEigenvalues (Householder tridiagonalisation + implicit QL) against a naive cyclic Jacobi routine written
 * here, the spectral invariants trace = Σλ, ‖A‖_F² = Σλ², tr(A³) = Σλ³, closed forms (diagonal, repeated, the
 * second-difference matrix), similarity invariance, extreme scales, edge sizes and the typed errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, ShapeError, Tensor, ValueError, fromArray, tensor, zeros } from '../../core/index.js';
import { symmetricEigenvalues } from '../../core/linalg.js';
import { assertClose } from '../helpers/close.js';
import { fcParams, valuesArb } from '../helpers/fc.js';
import { thrown } from '../helpers/oracle-reduce.js';

/**
 * The solver is backward stable: every eigenvalue is off by a small multiple of ε·‖A‖ (GVL §8.3.5). With ε = 2.2e-16
 * and n ≤ 128 an absolute tolerance of 1e-12·‖A‖_F leaves a margin of ~30× over n·ε·‖A‖.
 */
const REL = 1e-12;

/** A symmetric n × n float64 matrix from n·(n+1)/2 lower-triangle values. */
function symmetricFrom(n: number, lower: readonly number[]): Float64Array {
  const a = new Float64Array(n * n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      a[i * n + j] = lower[t]!;
      a[j * n + i] = lower[t]!;
      t++;
    }
  }
  return a;
}

function randomSymmetric(n: number, g: Generator): Float64Array {
  const lower: number[] = [];
  for (let t = 0; t < (n * (n + 1)) / 2; t++) lower.push(g.normal());
  return symmetricFrom(n, lower);
}

function frobenius(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

/** Naive reference: cyclic Jacobi rotations (Jacobi 1846; GVL Alg. 8.5.3) until the off-diagonal mass is ≤ 1e-30·‖A‖_F². */
function jacobiEigenvalues(n: number, src: ArrayLike<number>): number[] {
  const a = Float64Array.from(src);
  const target = 1e-30 * frobenius(a) ** 2;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = 0; q < n; q++) if (p !== q) off += a[p * n + q]! ** 2;
    if (off <= target) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // A ← Jᵀ A J with J the rotation in the (p, q) plane: columns, then rows.
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(a[i * n + i]!);
  return out.sort((x, y) => x - y);
}

/** A random orthogonal matrix: the product of n Householder reflections I − 2vvᵀ/vᵀv with Gaussian v (orthogonal to ~nε). */
function randomOrthogonal(n: number, g: Generator): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const v = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let vv = 0;
    for (let k = 0; k < n; k++) {
      v[k] = g.normal();
      vv += v[k]! * v[k]!;
    }
    for (let i = 0; i < n; i++) {
      // row i of Q ← row i of Q·(I − 2vvᵀ/vᵀv)
      let dot = 0;
      for (let k = 0; k < n; k++) dot += q[i * n + k]! * v[k]!;
      const f = (2 * dot) / vv;
      for (let k = 0; k < n; k++) q[i * n + k] -= f * v[k]!;
    }
  }
  return q;
}

/** Q·A·Qᵀ for n × n row-major matrices (naive loops). */
function conjugate(n: number, q: Float64Array, a: ArrayLike<number>): Float64Array {
  const qa = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) qa[i * n + j] += q[i * n + k]! * a[k * n + j]!;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) out[i * n + j] += qa[i * n + k]! * q[j * n + k]!;
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[j * n + i] = out[i * n + j]!; // exact symmetry after rounding
  return out;
}

function assertAscending(lam: Float64Array, label: string): void {
  for (let i = 1; i < lam.length; i++) assert.ok(lam[i - 1]! <= lam[i]!, `${label}: not ascending at ${i}: ${lam[i - 1]} > ${lam[i]}`);
}

const symmetricArb = fc.integer({ min: 1, max: 12 }).chain((n) => valuesArb((n * (n + 1)) / 2).map((lower) => ({ n, a: symmetricFrom(n, lower) })));

test('random symmetric matrices n = 1..12: the eigenvalues match cyclic Jacobi, ascending, to 1e-12·‖A‖_F', () => {
  fc.assert(
    fc.property(symmetricArb, ({ n, a }) => {
      const lam = symmetricEigenvalues(fromArray(a, [n, n]));
      assert.ok(lam instanceof Float64Array);
      assert.is(lam.length, n);
      assertAscending(lam, `n=${n}`);
      assertClose(lam, jacobiEigenvalues(n, a), { rtol: 0, atol: REL * Math.max(1, frobenius(a)) }, `n=${n}`);
    }),
    fcParams(100),
  );
});

test('trace = Σλ and ‖A‖_F² = Σλ² on random symmetric matrices', () => {
  fc.assert(
    fc.property(symmetricArb, ({ n, a }) => {
      const lam = symmetricEigenvalues(fromArray(a, [n, n]));
      let trace = 0;
      for (let i = 0; i < n; i++) trace += a[i * n + i]!;
      const f = frobenius(a);
      const s1 = lam.reduce((s, x) => s + x, 0);
      const s2 = lam.reduce((s, x) => s + x * x, 0);
      assertClose([s1], [trace], { rtol: 0, atol: REL * n * Math.max(1, f) }, 'trace');
      assertClose([s2], [f * f], { rtol: 1e-12, atol: 1e-12 }, 'Frobenius²');
    }),
    fcParams(100),
  );
});

test('a diagonal matrix gives its sorted diagonal exactly (no reflection, no QL sweep)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10 }).chain((n) => valuesArb(n, 100)), (diag) => {
      const n = diag.length;
      const a = new Float64Array(n * n);
      diag.forEach((x, i) => (a[i * n + i] = x));
      const lam = symmetricEigenvalues(fromArray(a, [n, n]));
      assert.equal(Array.from(lam), [...diag].sort((x, y) => x - y));
    }),
    fcParams(60),
  );
});

test('block-diagonal and sparse matrices (reflectors that vanish mid-reduction): the union of the blocks\' spectra; Jacobi', () => {
  fc.assert(
    fc.property(symmetricArb, symmetricArb, ({ n: n1, a: a1 }, { n: n2, a: a2 }) => {
      const n = n1 + n2;
      const a = new Float64Array(n * n);
      for (let i = 0; i < n1; i++) for (let j = 0; j < n1; j++) a[i * n + j] = a1[i * n1 + j]!;
      for (let i = 0; i < n2; i++) for (let j = 0; j < n2; j++) a[(n1 + i) * n + n1 + j] = a2[i * n2 + j]!;
      const union = [...symmetricEigenvalues(fromArray(a1, [n1, n1])), ...symmetricEigenvalues(fromArray(a2, [n2, n2]))].sort((x, y) => x - y);
      assertClose(symmetricEigenvalues(fromArray(a, [n, n])), union, { rtol: 0, atol: REL * Math.max(1, frobenius(a)) }, `blocks ${n1}+${n2}`);
    }),
    fcParams(60),
  );
  const sparseArb = fc.integer({ min: 2, max: 10 }).chain((n) =>
    fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.double({ min: -3, max: 3, noNaN: true })), { minLength: (n * (n + 1)) / 2, maxLength: (n * (n + 1)) / 2 }).map((lower) => ({ n, a: symmetricFrom(n, lower) })),
  );
  fc.assert(
    fc.property(sparseArb, ({ n, a }) => {
      assertClose(symmetricEigenvalues(fromArray(a, [n, n])), jacobiEigenvalues(n, a), { rtol: 0, atol: REL * Math.max(1, frobenius(a)) }, `sparse n=${n}`);
    }),
    fcParams(100),
  );
});

test('repeated eigenvalues: Q·diag(−3, −3, 1, 1, 1, 2, 2, 5)·Qᵀ for random orthogonal Q', () => {
  const spectrum = [-3, -3, 1, 1, 1, 2, 2, 5];
  const n = spectrum.length;
  const d = new Float64Array(n * n);
  spectrum.forEach((x, i) => (d[i * n + i] = x));
  for (const seed of [1, 2, 3, 4, 5]) {
    const lam = symmetricEigenvalues(fromArray(conjugate(n, randomOrthogonal(n, new Generator(seed)), d), [n, n]));
    assertClose(lam, spectrum, { rtol: 0, atol: 1e-13 * 8 }, `seed ${seed}`);
  }
  // all equal: c·I in a rotated basis
  const lam = symmetricEigenvalues(fromArray(conjugate(6, randomOrthogonal(6, new Generator(9)), symmetricFrom(6, [7, 0, 7, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 7])), [6, 6]));
  assertClose(lam, [7, 7, 7, 7, 7, 7], { rtol: 0, atol: 1e-13 }, 'c·I');
});

test('similarity invariance: eig(Q A Qᵀ) = eig(A) for random orthogonal Q', () => {
  fc.assert(
    fc.property(symmetricArb, fc.integer({ min: 0, max: 1e6 }), ({ n, a }, seed) => {
      const rotated = conjugate(n, randomOrthogonal(n, new Generator(seed)), a);
      const f = Math.max(1, frobenius(a));
      assertClose(symmetricEigenvalues(fromArray(rotated, [n, n])), symmetricEigenvalues(fromArray(a, [n, n])), { rtol: 0, atol: REL * f * 4 }, `n=${n}`);
    }),
    fcParams(60),
  );
});

test('the second-difference matrix tridiag(−1, 2, −1) of order 50 has eigenvalues 2 − 2cos(kπ/51)', () => {
  const n = 50;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = 2;
    if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
  }
  const expected = Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)));
  assertClose(symmetricEigenvalues(fromArray(a, [n, n])), expected, { rtol: 0, atol: 1e-13 });
  // the same matrix permuted (not tridiagonal any more) keeps its spectrum
  const perm = Array.from({ length: n }, (_, i) => (i * 7) % n);
  const b = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) b[i * n + j] = a[perm[i]! * n + perm[j]!]!;
  assertClose(symmetricEigenvalues(fromArray(b, [n, n])), expected, { rtol: 0, atol: 1e-13 });
});

test('0 × 0 gives an empty array, 1 × 1 its entry, 2 × 2 the closed form; float32 input is read in float64', () => {
  assert.is(symmetricEigenvalues(zeros([0, 0])).length, 0);
  assert.equal(Array.from(symmetricEigenvalues(tensor([[-2.5]], { dtype: 'float64' }))), [-2.5]);
  const [p, q, r] = [1.5, -0.25, 3];
  const mid = (p + r) / 2;
  const rad = Math.hypot((p - r) / 2, q);
  assertClose(symmetricEigenvalues(tensor([[p, q], [q, r]], { dtype: 'float64' })), [mid - rad, mid + rad], { rtol: 0, atol: 1e-15 });
  const a32 = tensor([[1, 0.1, 0], [0.1, 2, 0.3], [0, 0.3, 3]], { dtype: 'float32' });
  const a64 = Float64Array.from(a32.data); // the float32-rounded entries
  assertClose(symmetricEigenvalues(a32), jacobiEigenvalues(3, a64), { rtol: 0, atol: 1e-14 }, 'float32');
});

test('extreme scales do not overflow or underflow: eig(c·A) = c·eig(A) for c = 1e±150, 1e±300; subnormal entries', () => {
  const n = 9;
  const a = randomSymmetric(n, new Generator(4));
  const base = symmetricEigenvalues(fromArray(a, [n, n]));
  for (const c of [1e150, 1e-150, 1e300, 1e-300]) {
    const lam = symmetricEigenvalues(fromArray(a.map((x) => x * c), [n, n]));
    assertClose(lam.map((x) => x / c), base, { rtol: 0, atol: REL * frobenius(a) }, `c=${c}`);
  }
  // [[8, 2], [2, 8]]·2⁻¹⁰⁷⁴ (all subnormal) has eigenvalues 6·2⁻¹⁰⁷⁴ and 10·2⁻¹⁰⁷⁴, exactly representable
  const t = 2 ** -1074;
  assert.equal(Array.from(symmetricEigenvalues(tensor([[8 * t, 2 * t], [2 * t, 8 * t]], { dtype: 'float64' }))), [6 * t, 10 * t]);
  // a matrix whose tiny block sits beside an O(1) one (the QL tolerance must come from the whole matrix)
  const mixed = symmetricEigenvalues(tensor([[-6e-323, 2.5e-323, 3e-323], [2.5e-323, 3, 4e-167], [3e-323, 4e-167, -5e-49]], { dtype: 'float64' }));
  assert.ok(mixed.every(Number.isFinite));
  assertClose(mixed, [-5e-49, 0, 3], { rtol: 0, atol: 1e-14 });
});

test('n = 128 runs: ascending, Σλ^k = tr(A^k) for k = 1, 2, 3', () => {
  const n = 128;
  const a = randomSymmetric(n, new Generator(128));
  const lam = symmetricEigenvalues(fromArray(a, [n, n]));
  assert.is(lam.length, n);
  assertAscending(lam, 'n=128');
  const a2 = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) a2[i * n + j] += a[i * n + k]! * a[k * n + j]!;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  for (let i = 0; i < n; i++) {
    t1 += a[i * n + i]!;
    t2 += a2[i * n + i]!;
    for (let k = 0; k < n; k++) t3 += a2[i * n + k]! * a[k * n + i]!;
  }
  const f = frobenius(a); // ≈ 128; |λ| ≤ ~2√n·1 ≈ 23
  assertClose([lam.reduce((s, x) => s + x, 0)], [t1], { rtol: 0, atol: REL * n * f }, 'Σλ');
  assertClose([lam.reduce((s, x) => s + x * x, 0)], [t2], { rtol: 1e-12, atol: 0 }, 'Σλ²');
  assertClose([lam.reduce((s, x) => s + x ** 3, 0)], [t3], { rtol: 0, atol: 1e-9 * f ** 3 }, 'Σλ³');
});

test('errors: not a square matrix (ShapeError), not symmetric or not finite (ValueError), bad tolerance', () => {
  const notSquare = thrown(() => symmetricEigenvalues(zeros([2, 3])), 'non-square') as ShapeError;
  assert.ok(notSquare instanceof ShapeError);
  assert.is(notSquare.op, 'symmetricEigenvalues');
  assert.is(notSquare.arg, 'a');
  assert.match(notSquare.message, /^symmetricEigenvalues: matrix is not square — a=\[2,3\] \(needs shape \[n, n\]\)$/);
  assert.ok(thrown(() => symmetricEigenvalues(zeros([4])), 'rank 1') instanceof ShapeError);
  assert.ok(thrown(() => symmetricEigenvalues(zeros([2, 2, 2])), 'rank 3') instanceof ShapeError);

  const asym = thrown(() => symmetricEigenvalues(tensor([[1, 2], [2.001, 1]], { dtype: 'float64' })), 'asymmetric') as ValueError;
  assert.ok(asym instanceof ValueError);
  assert.is(asym.arg, 'a');
  assert.match(asym.message, /not symmetric — a=\[2,2\], \|a\[1\]\[0\] − a\[0\]\[1\]\|=/);
  // the tolerance is relative to max |a|: a 1e-12 relative mismatch passes, and a looser tolerance accepts more
  const big = 1e6;
  symmetricEigenvalues(tensor([[big, 1], [1 + big * 1e-12, big]], { dtype: 'float64' }));
  assertClose(symmetricEigenvalues(tensor([[1, 2], [2.001, 1]], { dtype: 'float64' }), { symmetryTolerance: 1e-3 }), [1 - 2.0005, 1 + 2.0005], { rtol: 0, atol: 1e-12 });

  const nan = thrown(() => symmetricEigenvalues(tensor([[1, NaN], [NaN, 1]], { dtype: 'float64' })), 'NaN') as ValueError;
  assert.ok(nan instanceof ValueError);
  assert.match(nan.message, /is not finite/);
  assert.ok(thrown(() => symmetricEigenvalues(tensor([[Infinity]], { dtype: 'float64' })), 'Infinity') instanceof ValueError);
  assert.ok(thrown(() => symmetricEigenvalues(zeros([2, 2]), { symmetryTolerance: -1 }), 'tolerance') instanceof ValueError);
  assert.ok(thrown(() => symmetricEigenvalues(new Tensor(new Float64Array(4), [2, 2]), { symmetryTolerance: NaN }), 'NaN tolerance') instanceof ValueError);
});

test.run();
