import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { AutogradError, Generator, ShapeError, Tensor, ValueError, cholesky, kmeans, matmul, noGrad, qr, randn, svd } from '../../core/index.js';
import { assertRefused } from '../helpers/refusal.js';

const seed = Number(process.env['FC_SEED'] ?? 42);
const EPS = 2 ** -52;

/** A row-major [m, n] float64 tensor from a function of (i, j). */
function matrix(m: number, n: number, f: (i: number, j: number) => number, dtype: 'float32' | 'float64' = 'float64'): Tensor {
  const data = dtype === 'float64' ? new Float64Array(m * n) : new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) data[i * n + j] = f(i, j);
  return new Tensor(data, [m, n]);
}

const maxAbs = (t: ArrayLike<number>): number => Array.from(t).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

/** max_ij |(x·yᵀ)_ij − want_ij| for row-major x [m, k], y [n, k] (scaling x's columns by s when given). */
function productError(x: Tensor, y: Tensor, want: ArrayLike<number>, s?: Tensor): number {
  const [m, k] = x.shape as [number, number];
  const n = y.shape[0]!;
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let r = 0; r < k; r++) acc += x.data[i * k + r]! * (s ? s.data[r]! : 1) * y.data[j * k + r]!;
      worst = Math.max(worst, Math.abs(acc - want[i * n + j]!));
    }
  }
  return worst;
}

/** max |QᵀQ − I| over the k columns of a row-major [m, k] q. */
function orthogonalityError(q: Tensor): number {
  const [m, k] = q.shape as [number, number];
  let worst = 0;
  for (let p = 0; p < k; p++) {
    for (let r = 0; r < k; r++) {
      let dot = 0;
      for (let i = 0; i < m; i++) dot += q.data[i * k + p]! * q.data[i * k + r]!;
      worst = Math.max(worst, Math.abs(dot - (p === r ? 1 : 0)));
    }
  }
  return worst;
}

/** A random orthogonal [n, n] matrix (q of a Gaussian matrix). */
function randomOrthogonal(n: number, g: Generator): Tensor {
  return qr(randn([n, n], { dtype: 'float64', generator: g })).q;
}

/** u·diag(sigma)·vᵀ for random orthogonal u [m, m] and v [n, n] (the first min(m, n) columns). */
function withSingularValues(m: number, n: number, sigma: readonly number[], g: Generator): Tensor {
  const u = randomOrthogonal(m, g);
  const v = randomOrthogonal(n, g);
  return matrix(m, n, (i, j) => sigma.reduce((acc, s, r) => acc + u.data[i * m + r]! * s * v.data[j * n + r]!, 0));
}

// ── cholesky ──

test('cholesky: L lower triangular with a positive diagonal and L·Lᵀ = a to n·ε·‖a‖, on random SPD matrices (float64)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 1e6 }), (n, s) => {
      const x = randn([n, n + 2], { dtype: 'float64', generator: new Generator(s) });
      const a = matmul(x, x, { transposeB: true }); // x·xᵀ: SPD (rank n + 2 ≥ n)
      const l = cholesky(a);
      for (let i = 0; i < n; i++) {
        assert.ok(l.data[i * n + i]! > 0, `diagonal ${i} positive`);
        for (let j = i + 1; j < n; j++) assert.is(l.data[i * n + j], 0, `L[${i}][${j}] above the diagonal`);
      }
      const err = productError(l, l, a.data);
      assert.ok(err <= 4 * n * EPS * maxAbs(a.data), `‖LLᵀ − a‖ = ${err} (n ${n})`);
    }),
    { seed, numRuns: 60 },
  );
});

test('cholesky: ill-conditioned (Hilbert 10×10, κ ≈ 1.6e13) reconstructs to 1e-12 relative; float32 in, float32 out', () => {
  const h = matrix(10, 10, (i, j) => 1 / (i + j + 1));
  const l = cholesky(h);
  assert.ok(productError(l, l, h.data) <= 1e-12 * maxAbs(h.data));
  const a32 = matrix(3, 3, (i, j) => (i === j ? 4 : 1), 'float32');
  const l32 = cholesky(a32);
  assert.is(l32.dtype, 'float32');
  assert.ok(productError(l32, l32, a32.data) <= 1e-6 * 4);
});

test('cholesky refuses what has no Cholesky factor: not positive definite (naming the pivot), not symmetric, not square, requires grad', () => {
  assertRefused(() => cholesky(matrix(2, 2, (i, j) => (i === j ? 1 : 2))), ValueError, 'cholesky', { arg: 'a', words: ['not positive definite', 'pivot 1', '-3'] });
  assertRefused(() => cholesky(matrix(3, 3, () => 0)), ValueError, 'cholesky', { words: ['pivot 0'] });
  assertRefused(() => cholesky(matrix(2, 2, (i, j) => (i === j ? 2 : i - j))), ValueError, 'cholesky', { words: ['not symmetric'] });
  assertRefused(() => cholesky(matrix(2, 3, () => 1)), ShapeError, 'cholesky', { arg: 'a', words: ['square'] });
  const g = matrix(2, 2, (i, j) => (i === j ? 2 : 1));
  g.requiresGrad = true;
  assertRefused(() => cholesky(g), AutogradError, 'cholesky', { arg: 'a', words: ['noGrad'] });
  assert.is(noGrad(() => cholesky(g)).shape.join(), '2,2', 'allowed under noGrad');
});

// ── svd ──

test('svd: a = u·diag(s)·vᵀ and uᵀu = vᵀv = I to a small multiple of max(m, n)·ε, s descending ≥ 0 (float64, tall and wide)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 1e6 }), (m, n, s) => {
      const a = randn([m, n], { dtype: 'float64', generator: new Generator(s) });
      const { u, s: sv, v } = svd(a);
      const k = Math.min(m, n);
      assert.equal([u.shape, sv.shape, v.shape], [[m, k], [k], [n, k]]);
      const scale = Math.max(m, n) * EPS;
      assert.ok(productError(u, v, a.data, sv) <= 20 * scale * maxAbs(a.data) * Math.sqrt(k), 'reconstruction');
      assert.ok(orthogonalityError(u) <= 20 * scale && orthogonalityError(v) <= 20 * scale, 'orthonormal columns');
      for (let r = 0; r < k; r++) {
        assert.ok(sv.data[r]! >= 0, 's ≥ 0');
        if (r > 0) assert.ok(sv.data[r]! <= sv.data[r - 1]!, 's descending');
      }
    }),
    { seed, numRuns: 60 },
  );
});

test('svd at 256×256: reconstruction and orthogonality to 1e-12 relative', () => {
  const a = randn([256, 256], { dtype: 'float64', generator: new Generator(7) });
  const { u, s, v } = svd(a);
  assert.ok(productError(u, v, a.data, s) <= 1e-12 * maxAbs(a.data));
  assert.ok(orthogonalityError(u) <= 1e-12 && orthogonalityError(v) <= 1e-12);
});

test('svd: ill-conditioned (σ from 1 to 1e-12) and rank-deficient inputs — σ to ε·σ₁, u and v still orthonormal', () => {
  const g = new Generator(11);
  const sigma = Array.from({ length: 13 }, (_, r) => 10 ** -r);
  const a = withSingularValues(20, 13, sigma, g);
  const { u, s, v } = svd(a);
  sigma.forEach((want, r) => assert.ok(Math.abs(s.data[r]! - want) <= 100 * EPS, `σ_${r} = ${s.data[r]}, want ${want}`));
  assert.ok(productError(u, v, a.data, s) <= 1e-13);
  // rank 3 of 8: x [12, 3] · y [3, 8]; the five zero singular values get orthonormal completions in u
  const x = randn([12, 3], { dtype: 'float64', generator: g });
  const y = randn([3, 8], { dtype: 'float64', generator: g });
  const low = matmul(x, y);
  const d = svd(low);
  for (let r = 3; r < 8; r++) assert.ok(d.s.data[r]! <= 1e-13 * d.s.data[0]!, `σ_${r} = ${d.s.data[r]} ≈ 0`);
  assert.ok(orthogonalityError(d.u) <= 1e-12 && orthogonalityError(d.v) <= 1e-12, 'orthonormal with zero singular values');
  assert.ok(productError(d.u, d.v, low.data, d.s) <= 1e-12 * maxAbs(low.data));
  const zero = svd(matrix(3, 2, () => 0));
  assert.equal(Array.from(zero.s.data), [0, 0]);
  assert.ok(orthogonalityError(zero.u) <= 1e-15 && orthogonalityError(zero.v) <= 1e-15);
});

test('svd: Eckart–Young — the best rank-c approximation leaves ‖a − a_c‖²_F = Σ of the discarded s²', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 20 }), fc.integer({ min: 2, max: 20 }), fc.integer({ min: 0, max: 1e6 }), (m, n, s) => {
      const a = randn([m, n], { dtype: 'float64', generator: new Generator(s) });
      const { u, s: sv, v } = svd(a);
      const k = Math.min(m, n);
      const c = Math.floor(k / 2);
      let residual = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let r = 0; r < c; r++) acc += u.data[i * k + r]! * sv.data[r]! * v.data[j * k + r]!;
          residual += (a.data[i * n + j]! - acc) ** 2;
        }
      }
      let discarded = 0;
      for (let r = c; r < k; r++) discarded += sv.data[r]! ** 2;
      assert.ok(Math.abs(residual - discarded) <= 1e-10 * Math.max(1, discarded), `rank ${c}: ${residual} vs ${discarded}`);
    }),
    { seed, numRuns: 40 },
  );
});

test('svd: float32 in, float32 out; refuses non-matrices, non-finite entries and inputs that require grad', () => {
  const a = matrix(4, 3, (i, j) => i + 2 * j + (i === j ? 1 : 0), 'float32');
  const { u, s, v } = svd(a);
  assert.equal([u.dtype, s.dtype, v.dtype], ['float32', 'float32', 'float32']);
  assert.ok(productError(u, v, a.data, s) <= 1e-5 * maxAbs(a.data));
  assertRefused(() => svd(new Tensor(new Float64Array(4), [4])), ShapeError, 'svd', { arg: 'a' });
  assertRefused(() => svd(matrix(2, 2, (i) => (i === 0 ? NaN : 1))), ValueError, 'svd', { arg: 'a' });
  const g = matrix(2, 2, () => 1);
  g.requiresGrad = true;
  assertRefused(() => svd(g), AutogradError, 'svd', { arg: 'a' });
});

// ── kmeans ──

test('kmeans: the inertia never increases across Lloyd iterations and the same seed gives the same clustering', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 1e6 }), (n, d, kRaw, s) => {
      const k = Math.min(kRaw, n);
      const x = randn([n, d], { dtype: 'float64', generator: new Generator(s) });
      let previous = Infinity;
      for (let it = 0; it <= 6; it++) {
        const r = kmeans(x, k, { generator: new Generator(s + 1), maxIter: it, tol: 0 });
        assert.ok(r.inertia <= previous * (1 + 1e-12), `iteration ${it}: inertia ${r.inertia} > ${previous}`);
        previous = r.inertia;
      }
      const a = kmeans(x, k, { generator: new Generator(s + 1) });
      const b = kmeans(x, k, { generator: new Generator(s + 1) });
      assert.equal(Array.from(a.assignments), Array.from(b.assignments));
      assert.equal(Array.from(a.centroids.data), Array.from(b.centroids.data));
    }),
    { seed, numRuns: 40 },
  );
});

test('kmeans: at convergence each point sits with its nearest centroid and each centroid is its points\' mean; k = n gives 0', () => {
  const g = new Generator(5);
  // three well-separated blobs in 2-D
  const centres = [[0, 0], [10, 0], [0, 10]];
  const x = matrix(60, 2, (i, j) => centres[i % 3]![j]! + 0.3 * g.normal());
  const { centroids, assignments, inertia, iterations } = kmeans(x, 3, { generator: new Generator(1), tol: 0 });
  assert.ok(iterations >= 1);
  let total = 0;
  for (let i = 0; i < 60; i++) {
    const dist = [0, 1, 2].map((c) => (x.data[2 * i]! - centroids.data[2 * c]!) ** 2 + (x.data[2 * i + 1]! - centroids.data[2 * c + 1]!) ** 2);
    assert.is(assignments[i], dist.indexOf(Math.min(...dist)), `point ${i} with its nearest centroid`);
    total += Math.min(...dist);
    assert.is(assignments[i], assignments[i % 3], 'the blobs are recovered');
  }
  assert.ok(Math.abs(total - inertia) <= 1e-9 * total, 'inertia = Σ squared distances');
  for (let c = 0; c < 3; c++) {
    const members = Array.from(assignments).map((a, i) => (a === c ? i : -1)).filter((i) => i >= 0);
    for (let t = 0; t < 2; t++) {
      const mean = members.reduce((acc, i) => acc + x.data[2 * i + t]!, 0) / members.length;
      assert.ok(Math.abs(mean - centroids.data[2 * c + t]!) <= 1e-12, `centroid ${c} is its points' mean`);
    }
  }
  const all = kmeans(x, 60, { generator: new Generator(2) });
  assert.is(all.inertia, 0, 'k = n: every point is a centre (k-means++ draws only uncovered points)');
});

test('kmeans refuses k out of range, bad options, non-finite points and points that require grad', () => {
  const x = matrix(5, 2, (i, j) => i + j);
  assertRefused(() => kmeans(x, 6), ValueError, 'kmeans', { arg: 'k', words: ['n=5'] });
  assertRefused(() => kmeans(x, 0), ValueError, 'kmeans', { arg: 'k' });
  assertRefused(() => kmeans(x, 2, { maxIter: -1 }), ValueError, 'kmeans');
  assertRefused(() => kmeans(new Tensor(new Float64Array(3), [3]), 1), ShapeError, 'kmeans', { arg: 'x' });
  assertRefused(() => kmeans(matrix(2, 2, () => Infinity), 1), ValueError, 'kmeans', { arg: 'x' });
  const g = matrix(3, 2, () => 1);
  g.requiresGrad = true;
  assertRefused(() => kmeans(g, 1), AutogradError, 'kmeans', { arg: 'x' });
});

test.run();
