/**
 * The Marchenko–Pastur diagnostic of attention weights (nn/marchenko-pastur.ts, qk-spectrum.ts, spectral-diagnostics.ts,
 * spectral-baseline.ts; after Jha & Reagen 2025, arXiv 2507.09394): MP edges, the BBP outlier location, the MP CDF and
 * median against direct quadrature, Gaussian null spectra and planted spikes, effective / stable rank, the W_Q W_Kᵀ
 * spectra against a direct svd(G)² computation, and the random-init baseline (a product of two random
 * matrices is not MP, so pure-MP thresholds flag spikes on a fresh init while the calibrated ones do not).
 *
 * Finite-size margins (stated, not tuned to a seed):
 * - top eigenvalue of a null XᵀX/n: λ+ + 4·s with s the Tracy–Widom scale (Johnstone 2001), s ≈ 0.021 at n = 1024,
 *   p = 256, so the margin is ≈ 0.085 (P(TW₁ > 4) < 1e-4); the same margin for λ−;
 * - a supercritical spike θ has √n(λ̂ − ρ) → N(0, 2(1+θ)²(1 − γ/θ²)) (Paul 2007, Thm 3): sd ≈ 0.174 at θ = 3,
 *   γ = 0.25, n = 1024, so the mean of 4 draws is within 0.35 (4 sd) of ρ = σ²(1+θ)(1+γ/θ) = 4.333.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Generator, ShapeError, Tensor, ValueError, matmul, randn, symmetricEigenvalues } from '../../core/index.js';
import {
  Linear, baselineFromSpectra, bbpLocation, effectiveRank, marchenkoPasturCdf, marchenkoPasturEdges, marchenkoPasturMedian, marchenkoPasturQuantile, qkSpectrum,
  randomInitBaseline, spectralDiagnostics, stableRank, tracyWidomScale,
} from '../../nn/index.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';
import { thrown } from '../helpers/oracle-reduce.js';

const N = 1024;
const P = 256;
const GAMMA = P / N;

/**
 * Eigenvalues of XᵀX/n for X n × p with rows N(0, σ²(I + θ e₀e₀ᵀ)): column 0 is scaled by √(1+θ) (a planted
 * population spike along e₀ in the spiked covariance model).
 */
function sampleCovarianceEigenvalues(n: number, p: number, g: Generator, theta = 0, sigma = 1): Float64Array {
  const x = new Float64Array(n * p);
  const spike = Math.sqrt(1 + theta);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) x[i * p + j] = sigma * g.normal() * (j === 0 ? spike : 1);
  const xt = new Tensor(x, [n, p]);
  const c = matmul(xt, xt, { transposeA: true }).data;
  for (let i = 0; i < p; i++) for (let j = 0; j <= i; j++) c[i * p + j] = c[j * p + i] = c[j * p + i]! / n;
  return symmetricEigenvalues(new Tensor(c, [p, p]));
}

/** MP(γ, 1) CDF by a midpoint rule in u = √x (independent of the library's angle substitution). */
function mpCdfByQuadrature(x: number, gamma: number): number {
  const lo = (1 - Math.sqrt(gamma)) ** 2;
  const hi = (1 + Math.sqrt(gamma)) ** 2;
  const atom = gamma > 1 ? 1 - 1 / gamma : 0;
  if (x <= lo) return x >= 0 ? atom : 0;
  // x = u²: f(x)dx = √((hi − u²)(u² − lo)) / (πγu) du, bounded even at lo = 0 (γ = 1)
  const [u0, u1] = [Math.sqrt(lo), Math.sqrt(Math.min(x, hi))];
  const steps = 100000;
  const h = (u1 - u0) / steps;
  let s = 0;
  for (let i = 0; i < steps; i++) {
    const u = u0 + (i + 0.5) * h;
    s += Math.sqrt(Math.max(0, (hi - u * u) * (u * u - lo))) / (Math.PI * gamma * u);
  }
  return atom + s * h;
}

test('MP edges λ± = σ²(1 ± √γ)²: γ = 0.25 → [0.25, 2.25], γ = 1 → [0, 4σ²], width 4σ²√γ', () => {
  const e = marchenkoPasturEdges(0.25);
  assertClose([e.lower, e.upper], [0.25, 2.25], { rtol: 1e-15, atol: 0 });
  assertClose(Object.values(marchenkoPasturEdges(1, 2)), [0, 8], { rtol: 1e-15, atol: 0 });
  fc.assert(
    fc.property(fc.double({ min: 1e-3, max: 4, noNaN: true }), fc.double({ min: 1e-3, max: 100, noNaN: true }), (gamma, sigma2) => {
      const { lower, upper } = marchenkoPasturEdges(gamma, sigma2);
      assertClose([upper - lower, lower * upper], [4 * sigma2 * Math.sqrt(gamma), sigma2 ** 2 * (1 - gamma) ** 2], { rtol: 1e-12, atol: 1e-12 * sigma2 ** 2 });
    }),
    fcParams(50),
  );
});

test('BBP: outlier at σ²(1+θ)(1+γ/θ) iff θ > √γ, else the edge (θ = 3 → 4.333, θ = 1 → 2.5, θ = 0.3 → 2.25 at γ = 0.25)', () => {
  assertClose([bbpLocation(3, 0.25), bbpLocation(1, 0.25), bbpLocation(0.3, 0.25), bbpLocation(3, 0.25, 2)], [13 / 3, 2.5, 2.25, 26 / 3], { rtol: 1e-15, atol: 0 });
  fc.assert(
    fc.property(fc.double({ min: 0.01, max: 2, noNaN: true }), fc.double({ min: 0.1, max: 10, noNaN: true }), (gamma, sigma2) => {
      const r = Math.sqrt(gamma);
      const edge = marchenkoPasturEdges(gamma, sigma2).upper;
      assertClose([bbpLocation(r, gamma, sigma2), bbpLocation(r * 0.9, gamma, sigma2)], [edge, edge], { rtol: 1e-12, atol: 0 }, 'continuous at √γ, flat below');
      assert.ok(bbpLocation(r * 1.5, gamma, sigma2) > edge && bbpLocation(r * 3, gamma, sigma2) > bbpLocation(r * 1.5, gamma, sigma2), 'increasing above √γ');
    }),
    fcParams(50),
  );
});

test('MP CDF and median match a direct quadrature of the density (γ = 0.25, 1, 4); F(λ−) = atom, F(λ+) = 1', () => {
  for (const gamma of [0.25, 1, 4]) {
    const { lower, upper } = marchenkoPasturEdges(gamma);
    for (const f of [0.1, 0.3, 0.5, 0.7, 0.9]) {
      const x = lower + f * (upper - lower);
      assertClose([marchenkoPasturCdf(x, gamma)], [mpCdfByQuadrature(x, gamma)], { rtol: 0, atol: 2e-5 }, `F(${x}) at γ=${gamma}`);
      assertClose([marchenkoPasturCdf(2 * x, gamma, 2)], [marchenkoPasturCdf(x, gamma)], { rtol: 0, atol: 1e-15 }, 'σ² scales x');
    }
    assert.is(marchenkoPasturCdf(upper, gamma), 1);
    assert.is(marchenkoPasturCdf(-1, gamma), 0);
    assertClose([marchenkoPasturCdf(lower, gamma)], [gamma > 1 ? 1 - 1 / gamma : 0], { rtol: 0, atol: 1e-12 }, 'atom');
  }
  for (const gamma of [0.25, 1]) {
    const median = marchenkoPasturMedian(gamma);
    assertClose([mpCdfByQuadrature(median, gamma)], [0.5], { rtol: 0, atol: 2e-5 }, `median at γ=${gamma}`);
    assertClose([marchenkoPasturMedian(gamma, 3)], [3 * median], { rtol: 1e-12, atol: 0 });
    for (const q of [0.05, 0.5, 0.95]) assertClose([marchenkoPasturCdf(marchenkoPasturQuantile(q, gamma, 2), gamma, 2)], [q], { rtol: 0, atol: 1e-9 }, `F(F⁻¹(${q}))`);
  }
  assert.equal([marchenkoPasturQuantile(0, 0.25), marchenkoPasturQuantile(1, 0.25), marchenkoPasturQuantile(0.5, 4)], [0.25, 2.25, 0]);
  assert.ok(thrown(() => marchenkoPasturMedian(2), 'γ ≥ 2') instanceof ValueError);
});

test('Tracy–Widom scale (Johnstone 2001): centre (√(n−1)+√p)²/n and scale (√(n−1)+√p)(1/√(n−1)+1/√p)^⅓/n', () => {
  const a = Math.sqrt(N - 1);
  const b = Math.sqrt(P);
  const tw = tracyWidomScale(N, P, 2);
  assertClose([tw.center, tw.scale], [(2 * (a + b) ** 2) / N, (2 * (a + b) * Math.cbrt(1 / a + 1 / b)) / N], { rtol: 1e-14, atol: 0 });
  assertClose([tracyWidomScale(N, P).scale], [0.02129], { rtol: 1e-3, atol: 0 }, 'the margin unit used below');
});

test(`Gaussian X (n=${N}, p=${P}): no eigenvalue of XᵀX/n above λ+ + 4·TW scale, min near λ−, σ² recovered by median matching`, () => {
  for (const [seed, sigma] of [[1, 1], [2, 1.5]] as const) {
    const lam = sampleCovarianceEigenvalues(N, P, new Generator(seed), 0, sigma);
    const s2 = sigma * sigma;
    const { lower, upper } = marchenkoPasturEdges(GAMMA, s2);
    const margin = 4 * tracyWidomScale(N, P, s2).scale;
    assert.ok(lam[P - 1]! <= upper + margin, `max ${lam[P - 1]} vs λ+ ${upper} + ${margin}`);
    assert.ok(Math.abs(lam[0]! - lower) <= margin, `min ${lam[0]} vs λ− ${lower} ± ${margin}`);
    const est = spectralDiagnostics(lam, { n: N });
    assert.is(est.spikes, 0);
    assert.is(est.outlierMass, 0);
    assert.ok(est.sigma2Estimated);
    assertClose([est.sigma2], [s2], { rtol: 0.02, atol: 0 }, 'σ² by median matching');
    assert.ok(est.ksDistance < 0.05, `KS distance to MP ${est.ksDistance}`);
    const known = spectralDiagnostics(lam, { n: N, p: P, sigma2: s2 });
    assert.is(known.spikes, 0);
    assert.not.ok(known.sigma2Estimated);
    assertClose([known.lambdaMinus, known.lambdaPlus, known.threshold], [lower, upper, upper + margin], { rtol: 1e-14, atol: 0 });
  }
});

test('a planted spike θ = 3 (γ = 0.25) appears near its BBP location 4.333 and is the only spike; σ² estimate unmoved', () => {
  const g = new Generator(3);
  const rho = bbpLocation(3, GAMMA);
  let sumTop = 0;
  for (let draw = 0; draw < 4; draw++) {
    const lam = sampleCovarianceEigenvalues(N, P, g, 3);
    const d = spectralDiagnostics(lam, { n: N });
    assert.is(d.spikes, 1, `draw ${draw}: spikes`);
    assertClose([d.sigma2], [1], { rtol: 0.02, atol: 0 }, 'σ² with a spike');
    assert.ok(lam[P - 2]! <= d.lambdaPlus + d.margin, `draw ${draw}: second eigenvalue ${lam[P - 2]} stays in the bulk`);
    assertClose([d.outlierMass], [lam[P - 1]! / lam.reduce((s, x) => s + x, 0)], { rtol: 1e-12, atol: 0 });
    sumTop += lam[P - 1]!;
  }
  assertClose([sumTop / 4], [rho], { rtol: 0, atol: 0.35 }, 'mean outlier vs BBP');
});

test('a spike below the BBP threshold (θ = 0.3 < √γ = 0.5) is undetectable: the top stays at the edge, no spikes', () => {
  const g = new Generator(4);
  for (let draw = 0; draw < 2; draw++) {
    const lam = sampleCovarianceEigenvalues(N, P, g, 0.3);
    const d = spectralDiagnostics(lam, { n: N });
    assert.is(d.spikes, 0, `draw ${draw}`);
    assert.ok(lam[P - 1]! <= bbpLocation(0.3, GAMMA) + d.margin, `top ${lam[P - 1]}`);
  }
});

test('KS distance: MP quantiles as a spectrum fit to within 1/p, a flat spectrum does not', () => {
  const p = 200;
  const n = 800;
  const lam = new Float64Array(p);
  for (let i = 0; i < p; i++) lam[i] = marchenkoPasturQuantile((i + 0.5) / p, p / n, 2); // MP(γ, σ² = 2) at (i + ½)/p
  const fit = spectralDiagnostics(lam, { n, sigma2: 2 });
  assert.ok(fit.ksDistance <= 0.5 / p + 1e-6, `KS ${fit.ksDistance}`);
  const est = spectralDiagnostics(lam, { n });
  assertClose([est.sigma2], [2], { rtol: 1e-3, atol: 0 }, 'σ² from exact quantiles');
  assert.ok(spectralDiagnostics(new Float64Array(p).fill(1), { n }).ksDistance > 0.3);
});

test('effective rank exp(H(λ/Σλ)) and stable rank Σλ/λ_max of known spectra; 1 ≤ stable ≤ effective ≤ #non-zero', () => {
  assertClose([effectiveRank([0, 3, 3, 3, 0]), stableRank([0, 3, 3, 3, 0])], [3, 3], { rtol: 1e-14, atol: 0 }, 'k equal values');
  assertClose([effectiveRank([0, 0, 5]), stableRank([0, 0, 5])], [1, 1], { rtol: 1e-14, atol: 0 }, 'one value');
  assertClose([effectiveRank([4, 1, 1, 1, 1]), stableRank([4, 1, 1, 1, 1])], [4, 2], { rtol: 1e-14, atol: 0 }, 'q = ½, ⅛ × 4: H = 2 ln 2');
  assert.equal([effectiveRank([0, 0]), stableRank([])], [0, 0]);
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 100, noNaN: true })), { minLength: 1, maxLength: 30 }), fc.double({ min: 1e-3, max: 1e3, noNaN: true }), (values, c) => {
      const nonZero = values.filter((x) => x > 0).length;
      fc.pre(nonZero > 0);
      const eff = effectiveRank(values);
      const stab = stableRank(values);
      assert.ok(1 - 1e-12 <= stab && stab <= eff * (1 + 1e-12) && eff <= nonZero * (1 + 1e-12), `stable ${stab}, effective ${eff}, non-zero ${nonZero}`);
      assertClose([effectiveRank(values.map((x) => x * c)), stableRank(values.map((x) => x * c))], [eff, stab], { rtol: 1e-10, atol: 0 }, 'scale-free');
    }),
    fcParams(60),
  );
});

/** svd(G)²/m from G = Σ_h W_{q,h}ᵀ W_{k,g(h)} (heads given) formed naively, then eig(GᵀG)/m: all m values, ascending. */
function directSpectrum(wq: Tensor, wk: Tensor, heads: number[], dh: number, numHeads: number, numKVHeads: number): Float64Array {
  const m = wq.shape[1]!;
  const g = new Float64Array(m * m);
  for (const h of heads) {
    const kh = Math.floor(h / (numHeads / numKVHeads));
    for (let c = 0; c < dh; c++) {
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) g[i * m + j] += wq.data[(h * dh + c) * m + i]! * wk.data[(kh * dh + c) * m + j]!;
    }
  }
  const s = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) for (let k = 0; k < m; k++) s[i * m + j] += g[k * m + i]! * g[k * m + j]!;
  for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) s[i * m + j] = s[j * m + i]!;
  return symmetricEigenvalues(new Tensor(s, [m, m])).map((x) => Math.max(0, x) / m);
}

test('qkSpectrum = svd(W_qᵀ W_k)²/d_model per layer and per head (QR route r < d_model, direct route r ≥ d_model, GQA, float32)', () => {
  const cases = [
    { m: 16, numHeads: 2, numKVHeads: 2, dh: 4 }, // layer r = 8 < m, heads r = 4
    { m: 8, numHeads: 2, numKVHeads: 2, dh: 8 }, // layer r = 16 ≥ m, heads r = 8 = m
    { m: 12, numHeads: 4, numKVHeads: 2, dh: 2 }, // GQA: query heads 0,1 share key head 0
    { m: 10, numHeads: 3, numKVHeads: 1, dh: 5 }, // MQA, layer r = 15 ≥ m
  ];
  cases.forEach(({ m, numHeads, numKVHeads, dh }, ci) => {
    for (const dtype of ['float64', 'float32'] as const) {
      const g = new Generator(100 + ci);
      const wq = randn([numHeads * dh, m], { generator: g, dtype });
      const wk = randn([numKVHeads * dh, m], { generator: g, dtype });
      const s = qkSpectrum(wq, wk, { numHeads, numKVHeads, perHead: true });
      const label = `case ${ci} ${dtype}`;
      const all = Array.from({ length: numHeads }, (_, h) => h);
      const p = Math.min(m, numHeads * dh);
      assert.equal([s.layer.n, s.layer.p, s.layer.eigenvalues.length], [m, p, p], `${label} layer n, p`);
      const direct = directSpectrum(wq, wk, all, dh, numHeads, numKVHeads);
      const scale = direct[m - 1]!;
      assertClose(s.layer.eigenvalues, direct.subarray(m - p), { rtol: 0, atol: 1e-11 * scale }, `${label} layer`);
      for (let i = 0; i < m - p; i++) assert.ok(direct[i]! <= 1e-11 * scale, `${label}: structural zero ${direct[i]}`);
      assert.is(s.heads.length, numHeads);
      s.heads.forEach((head, h) => {
        const ph = Math.min(m, dh);
        const dHead = directSpectrum(wq, wk, [h], dh, numHeads, numKVHeads);
        assert.equal([head.n, head.p], [m, ph]);
        assertClose(head.eigenvalues, dHead.subarray(m - ph), { rtol: 0, atol: 1e-11 * dHead[m - 1]! }, `${label} head ${h}`);
      });
    }
  });
  assert.is(qkSpectrum(randn([4, 6]), randn([4, 6])).heads.length, 0, 'heads only on request');
});

test('random-init baseline: top/median ≈ 20 for a square layer (not MP: pure MP flags ~10 spikes on a fresh init, the calibrated threshold none)', () => {
  const m = 64;
  const base = randomInitBaseline([m, m], 'linear', { samples: 4, generator: new Generator(1) });
  assert.equal([base.n, base.count, base.spectra, base.numHeads, base.perHead], [m, m, 4, 1, false]);
  assert.ok(base.topRatio.mean > 15 && base.topRatio.mean < 25, `top/median ${base.topRatio.mean} (≈ 21 at 256 × 256)`);
  assertClose([base.threshold], [base.topRatio.max * 1.25], { rtol: 1e-15, atol: 0 });
  assert.is(base.pooled.length, 4 * m);
  assertClose([base.quantiles.find((q) => q.q === 0.5)!.ratio], [1], { rtol: 1e-12, atol: 0 }, 'median ratio');
  // MP at γ = 1 would put λ+/median at 4/0.6528 ≈ 6.1; a product of two random matrices reaches ≈ 20
  assert.ok(4 / marchenkoPasturMedian(1) < base.quantiles.find((q) => q.q === 0.9)!.ratio, 'a tenth of the init spectrum lies above the MP edge');
  for (let seed = 10; seed < 14; seed++) {
    const g = new Generator(seed);
    const wq = new Linear(m, m, { bias: false, generator: g }).weight;
    const wk = new Linear(m, m, { bias: false, generator: g }).weight;
    const { layer } = qkSpectrum(wq, wk);
    const calibrated = spectralDiagnostics(layer.eigenvalues, { n: layer.n, baseline: base });
    const pure = spectralDiagnostics(layer.eigenvalues, { n: layer.n });
    assert.ok(calibrated.calibrated && !pure.calibrated);
    assert.is(calibrated.spikes, 0, `seed ${seed}: calibrated spikes`);
    assert.ok(pure.spikes >= 5, `seed ${seed}: pure-MP spikes ${pure.spikes}`);
    assert.ok(calibrated.baselineKsDistance! < 0.15, `seed ${seed}: KS to baseline ${calibrated.baselineKsDistance}`);
    assert.is(pure.baselineKsDistance, null);

    // a planted rank-1 term s·u vᵀ in W_q and s·u v′ᵀ in W_k (unit-scale u, v, v′) adds s²·v v′ᵀ to G: one spike
    const u = randn([m, 1], { generator: g, dtype: 'float64', std: 1 / Math.sqrt(m) }).data;
    const v = randn([m], { generator: g, dtype: 'float64', std: 1 / Math.sqrt(m) }).data;
    const v2 = randn([m], { generator: g, dtype: 'float64', std: 1 / Math.sqrt(m) }).data;
    const q2 = Float64Array.from(wq.data);
    const k2 = Float64Array.from(wk.data);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        q2[i * m + j] += 2 * u[i]! * v[j]!;
        k2[i * m + j] += 2 * u[i]! * v2[j]!;
      }
    }
    const planted = qkSpectrum(new Tensor(q2, [m, m]), new Tensor(k2, [m, m])).layer;
    const d = spectralDiagnostics(planted.eigenvalues, { n: m, baseline: base });
    assert.is(d.spikes, 1, `seed ${seed}: planted spike`);
    assert.ok(d.outlierMass > 0.3 && d.effectiveRank < calibrated.effectiveRank, `seed ${seed}: mass ${d.outlierMass}, rank ${d.effectiveRank} vs ${calibrated.effectiveRank}`);
  }
});

test('per-head baseline: a fresh init has no head spikes; a head with a planted rank-1 coupling is flagged, the others not', () => {
  const m = 64;
  const H = 4;
  const dh = m / H;
  const base = randomInitBaseline([m, m], 'linear', { numHeads: H, perHead: true, samples: 4, generator: new Generator(2) });
  assert.equal([base.count, base.spectra, base.perHead], [dh, 4 * H, true]);
  const g = new Generator(20);
  const wq = new Linear(m, m, { bias: false, generator: g }).weight;
  const wk = new Linear(m, m, { bias: false, generator: g }).weight;
  for (const h of qkSpectrum(wq, wk, { numHeads: H, perHead: true }).heads) assert.is(spectralDiagnostics(h.eigenvalues, { n: m, baseline: base }).spikes, 0);
  const q2 = Float64Array.from(wq.data);
  const k2 = Float64Array.from(wk.data);
  const target = 2;
  for (let c = 0; c < dh; c++) {
    for (let j = 0; j < m; j++) {
      q2[(target * dh + c) * m + j] += (c === 0 ? 1 : 0) * (j === 5 ? 1 : 0); // e_c0 ⊗ e_5 in head 2's query map
      k2[(target * dh + c) * m + j] += (c === 0 ? 1 : 0) * (j === 9 ? 1 : 0); // e_c0 ⊗ e_9 in head 2's key map
    }
  }
  const heads = qkSpectrum(new Tensor(q2, [m, m]), new Tensor(k2, [m, m]), { numHeads: H, perHead: true }).heads;
  assert.equal(heads.map((h) => spectralDiagnostics(h.eigenvalues, { n: m, baseline: base }).spikes), [0, 0, 1, 0]);
});

test('baselineFromSpectra: spectra of freshly initialised modules give the same calibration as randomInitBaseline', () => {
  const m = 64;
  const spectra = [];
  for (let seed = 30; seed < 34; seed++) {
    const g = new Generator(seed);
    spectra.push(qkSpectrum(new Linear(m, m, { bias: false, generator: g }).weight, new Linear(m, m, { bias: false, generator: g }).weight).layer);
  }
  const fromModules = baselineFromSpectra(spectra);
  const drawn = randomInitBaseline([m, m], 'linear', { samples: 4, generator: new Generator(1) });
  assert.equal([fromModules.n, fromModules.count, fromModules.spectra, fromModules.margin], [m, m, 4, 0.25]);
  assertClose([fromModules.topRatio.mean], [drawn.topRatio.mean], { rtol: 0.15, atol: 0 }, 'same law');
  assertClose([fromModules.threshold], [fromModules.topRatio.max * 1.25], { rtol: 1e-15, atol: 0 });
  const g = new Generator(40);
  const { layer } = qkSpectrum(new Linear(m, m, { bias: false, generator: g }).weight, new Linear(m, m, { bias: false, generator: g }).weight);
  assert.is(spectralDiagnostics(layer.eigenvalues, { n: m, baseline: fromModules }).spikes, 0);
  assert.is(baselineFromSpectra(spectra, { margin: 0 }).threshold, fromModules.topRatio.max);
});

test('errors: typed, naming the argument', () => {
  const lam = new Float64Array([1, 2, 3]);
  const cases: Array<[() => unknown, typeof ShapeError | typeof ValueError, string, RegExp]> = [
    [() => marchenkoPasturEdges(0), ValueError, 'gamma', /aspect ratio is not a finite number > 0 — gamma=0/],
    [() => marchenkoPasturEdges(0.5, -1), ValueError, 'sigma2', /variance/],
    [() => bbpLocation(-1, 0.5), ValueError, 'theta', /spike strength/],
    [() => marchenkoPasturQuantile(1.5, 0.5), ValueError, 'q', /outside \[0, 1\] — q=1.5/],
    [() => tracyWidomScale(10.5, 3), ValueError, 'n', /sample count/],
    [() => spectralDiagnostics(new Float64Array(0), { n: 4 }), ShapeError, 'eigenvalues', /no eigenvalues/],
    [() => spectralDiagnostics(lam, { n: 4, p: 4 }), ShapeError, 'p', /p=4, eigenvalues.length=3/],
    [() => spectralDiagnostics(lam, { n: 2 }), ValueError, 'p', /more dimensions than samples — p=3, n=2/],
    [() => spectralDiagnostics([1, -1, 2], { n: 4 }), ValueError, 'eigenvalues', /eigenvalue 1 is negative/],
    [() => spectralDiagnostics([1, NaN, 2], { n: 4 }), ValueError, 'eigenvalues', /not finite/],
    [() => spectralDiagnostics([0, 0, 2], { n: 4 }), ValueError, 'eigenvalues', /median eigenvalue is 0/],
    [() => spectralDiagnostics(lam, { n: 4, edgeMargin: -1 }), ValueError, 'edgeMargin', /edge margin/],
    [() => spectralDiagnostics(lam, { n: 4, baseline: randomInitBaseline([4, 4], 'linear', { samples: 1 }) }), ShapeError, 'baseline', /another shape/],
    [() => qkSpectrum(randn([4]), randn([4, 4])), ShapeError, 'wq', /wq=\[4\]/],
    [() => qkSpectrum(randn([4, 4]), randn([4, 5])), ShapeError, 'wk', /different inputs — wq=\[4,4\], wk=\[4,5\]/],
    [() => qkSpectrum(randn([6, 4]), randn([6, 4]), { numHeads: 4 }), ValueError, 'numHeads', /numHeads=4 does not split wq=\[6,4\]/],
    [() => qkSpectrum(randn([8, 4]), randn([8, 4]), { numHeads: 4, numKVHeads: 3 }), ValueError, 'numKVHeads', /does not divide/],
    [() => qkSpectrum(randn([8, 4]), randn([8, 4]), { numHeads: 4, numKVHeads: 2 }), ShapeError, 'wk', /needs \[4,4\]/],
    [() => randomInitBaseline([4, 4], { kind: 'normal', std: 0 }), ValueError, 'init', /unknown or degenerate init/],
    [() => randomInitBaseline([4, 4], 'linear', { samples: 0 }), ValueError, 'samples', /samples must be an integer ≥ 1, got 0/],
    [() => randomInitBaseline([4, 0] as unknown as [number, number]), ShapeError, 'shape', /shape=\[4,0\]/],
    [() => baselineFromSpectra([]), ShapeError, 'spectra', /no reference spectra/],
    [() => baselineFromSpectra([qkSpectrum(randn([4, 4]), randn([4, 4])).layer, qkSpectrum(randn([2, 4]), randn([2, 4])).layer]), ShapeError, 'spectra', /spectra\[1\] has n=4, p=2/],
    [() => baselineFromSpectra([qkSpectrum(randn([4, 4]), randn([4, 4])).layer], { margin: -0.1 }), ValueError, 'margin', /margin=-0.1/],
  ];
  cases.forEach(([fn, Ctor, arg, pattern], i) => {
    const e = thrown(fn, `case ${i}`) as Error & { arg?: string };
    assert.ok(e instanceof Ctor, `case ${i}: ${e}`);
    assert.is(e.arg, arg, `case ${i}: arg`);
    assert.match(e.message, pattern, `case ${i}`);
  });
});

test.run();
