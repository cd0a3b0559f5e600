/**
 * core/linalg.ts `qr` (thin Householder QR): a = q·r to a small multiple of ε·‖a‖, qᵀq = I, r upper triangular
 * with diag(r) ≥ 0 — and, where a has full column rank, the same factors as a Gram–Schmidt oracle written here
 * (the thin QR is then unique). Rank-deficient and zero columns, extreme scales, float32, edge sizes, typed errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { AutogradError, DTypeError, Generator, ShapeError, Tensor, ValueError, fromArray, noGrad, qr, randn, tensor, zeros } from '../../core/index.js';
import { assertClose, assertShape } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { assertRefused } from '../helpers/refusal.js';

const EPS = 2 ** -52;

/** ‖a‖_F, scaled by max|a| so that 1e±300 entries neither overflow nor underflow. */
function frobenius(a: ArrayLike<number>): number {
  let big = 0;
  for (let i = 0; i < a.length; i++) big = Math.max(big, Math.abs(a[i]!));
  if (big === 0) return 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! / big) ** 2;
  return big * Math.sqrt(s);
}

/** Row-major [m, n] × [n, p] in float64. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, n: number, p: number): Float64Array {
  const out = new Float64Array(m * p);
  for (let i = 0; i < m; i++) for (let k = 0; k < n; k++) for (let j = 0; j < p; j++) out[i * p + j] += a[i * n + k]! * b[k * p + j]!;
  return out;
}

/** qᵀq for q [m, n] row-major. */
function gram(q: ArrayLike<number>, m: number, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < m; i++) for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) out[a * n + b] += q[i * n + a]! * q[i * n + b]!;
  return out;
}

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/** The defining properties of a thin QR of a [m, n], with tolerances scaled to ε (float64) or 2⁻²³ (float32). */
function assertQR(a: Tensor, label: string): { q: Tensor; r: Tensor } {
  const [m, n] = a.shape as [number, number];
  const { q, r } = qr(a);
  assert.is(q.dtype, a.dtype, `${label}: q dtype`);
  assert.is(r.dtype, a.dtype, `${label}: r dtype`);
  assertShape(q.shape, [m, n], `${label}: q shape`);
  assertShape(r.shape, [n, n], `${label}: r shape`);
  const eps = a.dtype === 'float64' ? EPS : 2 ** -23;
  const c = 8 * (m + n);
  assertClose(matmul(q.data, r.data, m, n, n), a.data, { rtol: 0, atol: c * eps * frobenius(a.data) + 1e-321 }, `${label}: q·r = a`); // + a few subnormal steps
  assertClose(gram(q.data, m, n), identity(n), { rtol: 0, atol: c * eps }, `${label}: qᵀq = I`);
  for (let i = 0; i < n; i++) {
    assert.ok(r.data[i * n + i]! >= 0, `${label}: r[${i}][${i}] = ${r.data[i * n + i]} ≥ 0`);
    for (let j = 0; j < i; j++) assert.is(r.data[i * n + j], 0, `${label}: r[${i}][${j}] below the diagonal`);
  }
  return { q, r };
}

/** Modified Gram–Schmidt with one reorthogonalisation pass: q, r for a full-rank a (row-major). */
function gramSchmidt(a: Float64Array, m: number, n: number): { q: Float64Array; r: Float64Array } {
  const q = new Float64Array(m * n);
  const r = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const v = new Float64Array(m);
    for (let i = 0; i < m; i++) v[i] = a[i * n + j]!;
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += q[i * n + k]! * v[i]!;
        r[k * n + j] += dot;
        for (let i = 0; i < m; i++) v[i] -= dot * q[i * n + k]!;
      }
    }
    const norm = frobenius(v);
    r[j * n + j] = norm;
    for (let i = 0; i < m; i++) q[i * n + j] = v[i]! / norm;
  }
  return { q, r };
}

test('qr: q·r = a, qᵀq = I, r upper triangular with diag ≥ 0, on random float64 shapes', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 1e6 }), (n, extra, seed) => {
      const m = n + extra;
      assertQR(randn([m, n], { dtype: 'float64', generator: new Generator(seed) }), `[${m},${n}] seed ${seed}`);
    }),
    fcParams(80),
  );
});

test('qr: the unique factors of a full-rank matrix (against Gram–Schmidt)', () => {
  const g = new Generator(11);
  for (const [m, n] of [[1, 1], [3, 3], [6, 4], [20, 7], [64, 16]] as const) {
    const a = randn([m, n], { dtype: 'float64', generator: g });
    const { q, r } = assertQR(a, `[${m},${n}]`);
    const ref = gramSchmidt(a.data as Float64Array, m, n);
    assertClose(q.data, ref.q, { rtol: 0, atol: 1e-12 }, `[${m},${n}]: q`);
    assertClose(r.data, ref.r, { rtol: 0, atol: 1e-12 * frobenius(a.data) }, `[${m},${n}]: r`);
  }
  // closed forms: a column vector is ‖a‖·(a/‖a‖); a negative 1×1 has q = −1, r = |a|
  const v = qr(tensor([[3], [-4]], { dtype: 'float64' }));
  assertClose(v.q.data, [0.6, -0.8], { rtol: 0, atol: 4e-16 });
  assertClose(v.r.data, [5], { rtol: 4e-16, atol: 0 });
  const neg = qr(tensor([[-2.5]], { dtype: 'float64' }));
  assert.equal([Array.from(neg.q.data), Array.from(neg.r.data)], [[-1], [2.5]]);
});

test('qr: rank-deficient and zero columns still give a = q·r with orthonormal q', () => {
  const g = new Generator(5);
  const b = randn([7, 2], { dtype: 'float64', generator: g }).data;
  const dup = new Float64Array(7 * 4); // columns: b0, b1, b0 + b1, 0
  for (let i = 0; i < 7; i++) {
    dup[i * 4] = b[i * 2]!;
    dup[i * 4 + 1] = b[i * 2 + 1]!;
    dup[i * 4 + 2] = b[i * 2]! + b[i * 2 + 1]!;
  }
  const { r } = assertQR(fromArray(dup, [7, 4]), 'rank 2 of 4');
  assert.ok(Math.abs(r.data[2 * 4 + 2]!) < 1e-14 && r.data[3 * 4 + 3] === 0, 'dependent columns have r_kk ≈ 0');
  assertQR(zeros([5, 3], { dtype: 'float64' }), 'all zeros');
  assertQR(tensor([[0, 1], [0, 2], [0, 3]], { dtype: 'float64' }), 'first column zero');
});

test('qr: float32 in, float32 out; extreme scales neither overflow nor underflow', () => {
  const a = randn([9, 5], { dtype: 'float32', generator: new Generator(3) });
  assertQR(a, 'float32');
  const a64 = qr(a.cast('float64'));
  assertClose(qr(a).r.data, a64.r.data, { rtol: 0, atol: 1e-5 }, 'float32 r vs float64');
  const base = randn([6, 4], { dtype: 'float64', generator: new Generator(4) });
  const ref = qr(base);
  for (const s of [1e300, 1e-300, 2 ** -1060]) {
    const { q, r } = assertQR(base.mul(s), `scale ${s}`);
    assertClose(q.data, ref.q.data, { rtol: 0, atol: s < 1e-300 ? 1e-3 : 1e-13 }, `scale ${s}: q`); // subnormal a keeps ~16 bits
    assertClose(Array.from(r.data, (x) => x / s), ref.r.data, { rtol: 0, atol: s < 1e-300 ? 1e-3 : 1e-13 }, `scale ${s}: r / s`);
  }
});

test("qr mode 'r': the same r as the full factorisation, bit for bit, and no q", () => {
  const g = new Generator(21);
  for (const [m, n] of [[1, 1], [5, 5], [12, 4], [3, 0]] as const) {
    for (const dtype of ['float64', 'float32'] as const) {
      const a = randn([m, n], { dtype, generator: g });
      const only = qr(a, { mode: 'r' });
      assert.equal(Object.keys(only), ['r'], `[${m},${n}] ${dtype}: only r`);
      assert.is(only.r.dtype, dtype);
      assert.equal(Array.from(only.r.data), Array.from(qr(a, { mode: 'reduced' }).r.data), `[${m},${n}] ${dtype}: r`);
    }
  }
});

test('qr: edge sizes [m, 0], [0, 0], [1, 1]', () => {
  const e = qr(zeros([3, 0], { dtype: 'float64' }));
  assertShape(e.q.shape, [3, 0]);
  assertShape(e.r.shape, [0, 0]);
  const z = qr(zeros([0, 0]));
  assertShape(z.q.shape, [0, 0]);
  assert.equal(Array.from(qr(tensor([[0]])).r.data), [0]);
});

test('qr: refuses non-matrices, m < n, non-finite entries and a tensor recording gradients, under its name', () => {
  assertRefused(() => qr(null as unknown as Tensor), DTypeError, 'qr', { arg: 'a' });
  assertRefused(() => qr([[1, 2], [3, 4]] as unknown as Tensor), DTypeError, 'qr', { arg: 'a' });
  assertRefused(() => qr(zeros([4])), ShapeError, 'qr', { arg: 'a', words: ['[m, n]'] });
  assertRefused(() => qr(zeros([2, 3, 3])), ShapeError, 'qr', { arg: 'a' });
  assertRefused(() => qr(zeros([2, 3])), ShapeError, 'qr', { arg: 'a', words: ['m ≥ n'] });
  assertRefused(() => qr(tensor([[1, NaN], [0, 1]])), ValueError, 'qr', { arg: 'a', words: ['finite'] });
  assertRefused(() => qr(tensor([[1], [Infinity]])), ValueError, 'qr', { arg: 'a' });
  assertRefused(() => qr(zeros([2, 2]), { mode: 'complete' } as unknown as { mode: 'r' }), ValueError, 'qr', { arg: 'options.mode' });
  assertRefused(() => qr(zeros([2, 2]), { pivoting: true } as unknown as { mode: 'r' }), ValueError, 'qr', { words: ['pivoting'] });
  const p = randn([3, 2], { requiresGrad: true, generator: new Generator(1) });
  assertRefused(() => qr(p), AutogradError, 'qr', { arg: 'a', words: ['noGrad'] });
  assertQR(noGrad(() => p.detach()), 'detached');
  const { q } = noGrad(() => qr(p));
  assert.is(q.requiresGrad, false);
});

test.run();
