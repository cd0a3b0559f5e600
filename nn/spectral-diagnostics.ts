/**
 * Random-matrix diagnostics of attention weights (after Jha & Reagen 2025, "A Random Matrix Theory Perspective on the
 * Learning Dynamics of Multi-head Latent Attention", arXiv 2507.09394, who track Marchenko–Pastur spikes of the W_Q W_Kᵀ Gram matrix through training): the
 * spectrum of the query–key bilinear form G = W_Q W_Kᵀ per layer and per head, compared with the Marchenko–Pastur (MP)
 * law and, because a product of two random matrices is NOT MP, with a random-init baseline of the same shape.
 * The topics live in four files:
 *   - marchenko-pastur.ts: the MP law (edges, CDF, quantiles), the BBP outlier location, the Tracy–Widom scale;
 *   - qk-spectrum.ts: λ = svd(G)²/n from the weights as `Linear` stores them (per layer, per head, GQA);
 *   - spectral-baseline.ts: the random-init (or fresh-model) baseline that calibrates the spike threshold;
 *   - this file: the read-outs of one spectrum — `spectralDiagnostics`, `effectiveRank`, `stableRank`.
 *
 * Conventions. For attention, λ = svd(G)²/n with n = d_model: the eigenvalues of GᵀG/n, read as XᵀX/n with γ = p/n
 * (marchenko-pastur.ts). Weights are taken as our `Linear` stores them, [out, in] (PyTorch layout): the logit of
 * head i is xᵀ W_{q,i}ᵀ W_{k,i} y, so with the paper's W_Q = W_qᵀ (d_model × d_head) the form is G_i = W_{q,i}ᵀ W_{k,i}
 * (d_model × d_model, rank ≤ d_head) and the layer's is G = Σ_i G_i = W_qᵀ W_k (keys repeated per group under GQA).
 *
 * Spikes. Against pure MP a spike is λ > λ+ + margin, the margin a multiple of the Tracy–Widom scale of the top
 * eigenvalue (Johnstone 2001). Against a baseline the threshold is scale-free: the largest λ_max / median(λ) seen over
 * the baseline's random draws, times (1 + margin), times the median of the spectrum under test — so an overall change
 * of weight norm during training (weight decay, growth) neither creates nor hides spikes. `randomInitBaseline` draws
 * plain i.i.d. W_q, W_k; for composite weights (MLA's W_UQ·W_DQ) pass fresh-init models' spectra to `baselineFromSpectra`.
 */
import { DTypeError, ShapeError, ValueError, describeValue, expectInteger, expectNumber, expectRequiredOptions } from '../core/index.js';
import { checkLaw, checkSizes, mpLaw, tracyWidomScale } from './marchenko-pastur.js';
import type { SpectralBaseline } from './spectral-baseline.js';

// ── rank summaries ────────────────────────────────────────────────────────────────────────────────────────────────

/** Effective rank exp(H(q)), q_i = λ_i / Σλ, H = −Σ q log q (Roy & Vetterli 2007). 0 for an all-zero spectrum. */
export function effectiveRank(eigenvalues: ArrayLike<number>): number {
  const lam = checkedSpectrum('effectiveRank', eigenvalues);
  let total = 0;
  for (let i = 0; i < lam.length; i++) total += lam[i]!;
  if (total === 0) return 0;
  let entropy = 0;
  for (let i = 0; i < lam.length; i++) {
    const q = lam[i]! / total;
    if (q > 0) entropy -= q * Math.log(q);
  }
  return Math.exp(entropy);
}

/** Stable rank Σλ / λ_max = ‖G‖_F² / ‖G‖₂² for λ = singular values² (Rudelson & Vershynin 2007). 0 for all zeros. */
export function stableRank(eigenvalues: ArrayLike<number>): number {
  const lam = checkedSpectrum('stableRank', eigenvalues);
  let total = 0;
  let top = 0;
  for (let i = 0; i < lam.length; i++) {
    total += lam[i]!;
    if (lam[i]! > top) top = lam[i]!;
  }
  return top === 0 ? 0 : total / top;
}

// ── per-spectrum diagnostics ──────────────────────────────────────────────────────────────────────────────────────

/** Options of `spectralDiagnostics`: `n`, `p`, `sigma2`, `baseline`, `edgeMargin`. */
export interface SpectralDiagnosticsOptions {
  /** Samples (rows) n of the n × p matrix whose XᵀX/n gave the eigenvalues; for W_Q W_Kᵀ, `qkSpectrum`'s n. */
  n: number;
  /** Dimension p (= eigenvalues.length, the default); needs p ≤ n. */
  p?: number;
  /** Known entry variance σ²; by default it is estimated from the bulk by median matching (see `sigma2`). */
  sigma2?: number;
  /** Random-init baseline of the same shape: spikes are then counted against its scale-free threshold. */
  baseline?: SpectralBaseline;
  /** Finite-size margin above λ+ for uncalibrated spikes, in Tracy–Widom scales (default 4, see `tracyWidomScale`). */
  edgeMargin?: number;
}

/**
 * What `spectralDiagnostics` reads from one spectrum: the Marchenko–Pastur fit, the eigenvalues beyond its edge
 * (spikes), effective and stable rank.
 */
export interface SpectralDiagnostics {
  /** Number of eigenvalues p. */
  readonly count: number;
  /** γ = p/n. */
  readonly gamma: number;
  /**
   * Bulk variance: `options.sigma2`, or median(λ) / median(MP(γ, 1)) — the σ² whose MP law has the sample's median.
   * The median ignores up to half of the spectrum, so a few spikes move it by O(k/p) of the bulk width.
   */
  readonly sigma2: number;
  readonly sigma2Estimated: boolean;
  /** MP edges at σ²: λ± = σ²(1 ± √γ)². */
  readonly lambdaMinus: number;
  readonly lambdaPlus: number;
  /** edgeMargin × the Tracy–Widom scale of λ_max at (n, p, σ²). */
  readonly margin: number;
  /** The spike threshold used: baseline.threshold × median(λ) if calibrated, else λ+ + margin. */
  readonly threshold: number;
  readonly calibrated: boolean;
  /** #{λ > threshold}. */
  readonly spikes: number;
  /** Σ_{λ > threshold} λ / Σλ. */
  readonly outlierMass: number;
  readonly maxEigenvalue: number;
  readonly medianEigenvalue: number;
  /** Kolmogorov–Smirnov distance sup_x |F_sample(x) − F_MP(γ, σ²)(x)| (the bulk-fit error). */
  readonly ksDistance: number;
  /** Two-sample KS distance between λ / median(λ) and the baseline's pooled λ / median(λ); null without a baseline. */
  readonly baselineKsDistance: number | null;
  readonly effectiveRank: number;
  readonly stableRank: number;
}

/** MP / spiked-model read-out of one spectrum λ (eigenvalues of XᵀX/n, any order), calibrated by a baseline if given. */
export function spectralDiagnostics(eigenvalues: ArrayLike<number>, options: SpectralDiagnosticsOptions): SpectralDiagnostics {
  const op = 'spectralDiagnostics';
  const lam = checkedSpectrum(op, eigenvalues).sort();
  const count = lam.length;
  if (count === 0) throw new ShapeError(op, 'no eigenvalues — eigenvalues.length=0 (needs p ≥ 1)', 'eigenvalues');
  expectRequiredOptions(op, options, ['n', 'p', 'sigma2', 'baseline', 'edgeMargin'], 'with n (the sample count)');
  const { n, p = count, edgeMargin = 4, baseline } = options;
  expectNumber(op, 'n', n, { nonFinite: true });
  expectNumber(op, 'p', p, { nonFinite: true });
  expectNumber(op, 'edgeMargin', edgeMargin, { nonFinite: true });
  if (options.sigma2 !== undefined) expectNumber(op, 'sigma2', options.sigma2, { nonFinite: true });
  if (baseline !== undefined) checkBaseline(op, baseline);
  checkSizes(op, n, p);
  if (p !== count) throw new ShapeError(op, `p does not match the spectrum — p=${p}, eigenvalues.length=${count} (one eigenvalue per dimension)`, 'p');
  if (p > n) throw new ValueError(op, `more dimensions than samples — p=${p}, n=${n} (the MP fit needs γ = p/n ≤ 1; use the smaller side)`, 'p');
  if (!(Number.isFinite(edgeMargin) && edgeMargin >= 0)) throw new ValueError(op, `edge margin is not a finite number ≥ 0 — edgeMargin=${edgeMargin} (Tracy–Widom scales)`, 'edgeMargin');
  const gamma = p / n;
  const law = mpLaw(gamma);
  const median = medianSorted(lam);
  let sigma2: number;
  if (options.sigma2 !== undefined) {
    sigma2 = options.sigma2;
    checkLaw(op, gamma, sigma2);
  } else {
    if (median === 0) throw new ValueError(op, `median eigenvalue is 0, so σ² cannot be matched — eigenvalues.length=${count} (pass sigma2, or drop structural zeros)`, 'eigenvalues');
    sigma2 = median / law.quantile(0.5); // median matching: MP(γ, σ²) has median σ²·median(MP(γ, 1))
  }
  const r = Math.sqrt(gamma);
  const lambdaMinus = sigma2 * (1 - r) ** 2;
  const lambdaPlus = sigma2 * (1 + r) ** 2;
  const margin = edgeMargin * tracyWidomScale(n, p, sigma2).scale;
  let threshold = lambdaPlus + margin;
  if (baseline !== undefined) {
    if (baseline.count !== count || baseline.n !== n) {
      throw new ShapeError(
        op,
        `baseline has another shape — baseline (n=${baseline.n}, count=${baseline.count}) vs n=${n}, eigenvalues.length=${count} (calibrate on the same shape)`,
        'baseline',
      );
    }
    threshold = baseline.threshold * median;
  }
  let total = 0;
  let outliers = 0;
  let spikes = 0;
  for (let i = 0; i < count; i++) {
    total += lam[i]!;
    if (lam[i]! > threshold) {
      spikes++;
      outliers += lam[i]!;
    }
  }
  let ks = 0;
  for (let i = 0; i < count; i++) {
    const f = law.cdf(lam[i]! / sigma2);
    ks = Math.max(ks, (i + 1) / count - f, f - i / count);
  }
  return {
    count,
    gamma,
    sigma2,
    sigma2Estimated: options.sigma2 === undefined,
    lambdaMinus,
    lambdaPlus,
    margin,
    threshold,
    calibrated: baseline !== undefined,
    spikes,
    outlierMass: total > 0 ? outliers / total : 0,
    maxEigenvalue: lam[count - 1]!,
    medianEigenvalue: median,
    ksDistance: ks,
    baselineKsDistance: baseline === undefined ? null : twoSampleKs(normalizeByMedian(lam, median), baseline.pooled),
    effectiveRank: effectiveRank(lam),
    stableRank: stableRank(lam),
  };
}

// ── helpers (shared with the baseline) ──

/** A SpectralBaseline record (from baselineFromSpectra or randomInitBaseline). */
export function checkBaseline(op: string, x: unknown): void {
  const fields = ['n', 'count', 'threshold', 'pooled'];
  if (x === null || typeof x !== 'object' || !fields.every((f) => f in x) || !((x as { pooled: unknown }).pooled instanceof Float64Array)) {
    throw new DTypeError(op, `baseline must be a SpectralBaseline (from baselineFromSpectra or randomInitBaseline), got ${describeValue(x)}`, 'baseline');
  }
  const b = x as SpectralBaseline;
  expectInteger(op, 'baseline.n', b.n, { min: 1 });
  expectInteger(op, 'baseline.count', b.count, { min: 1 });
  expectNumber(op, 'baseline.threshold', b.threshold, { above: 0 });
}

/** A float64 copy; rejects non-finite values and negatives beyond rounding (−1e-9·max|λ|), clipping the rest to 0. */
export function checkedSpectrum(op: string, eigenvalues: ArrayLike<number>): Float64Array {
  const ok = Array.isArray(eigenvalues) || (ArrayBuffer.isView(eigenvalues) && !(eigenvalues instanceof DataView));
  if (!ok) throw new DTypeError(op, `eigenvalues must be an array or typed array of numbers, got ${describeValue(eigenvalues)}`, 'eigenvalues');
  for (let i = 0; i < eigenvalues.length; i++) {
    const v: unknown = eigenvalues[i];
    if (typeof v !== 'number') throw new DTypeError(op, `eigenvalues[${i}] must be a number, got ${describeValue(v)}`, 'eigenvalues');
  }
  const lam = Float64Array.from(eigenvalues);
  let maxAbs = 0;
  for (let i = 0; i < lam.length; i++) {
    const x = lam[i]!;
    if (!Number.isFinite(x)) throw new ValueError(op, `eigenvalue ${i} is not finite — eigenvalues[${i}]=${x} (a Gram spectrum is finite)`, 'eigenvalues');
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  for (let i = 0; i < lam.length; i++) {
    if (lam[i]! < -1e-9 * maxAbs) {
      throw new ValueError(op, `eigenvalue ${i} is negative — eigenvalues[${i}]=${lam[i]} (eigenvalues of XᵀX/n are ≥ 0)`, 'eigenvalues');
    }
    if (lam[i]! < 0) lam[i] = 0;
  }
  return lam;
}

export function medianSorted(sorted: ArrayLike<number>): number {
  const k = sorted.length;
  return k % 2 === 1 ? sorted[(k - 1) / 2]! : 0.5 * (sorted[k / 2 - 1]! + sorted[k / 2]!);
}

/** Linear-interpolation quantile of a sorted sample (numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  return i + 1 < sorted.length ? sorted[i]! + (pos - i) * (sorted[i + 1]! - sorted[i]!) : sorted[i]!;
}

export function normalizeByMedian(sorted: Float64Array, median: number): Float64Array {
  const out = new Float64Array(sorted.length);
  for (let i = 0; i < out.length; i++) out[i] = sorted[i]! / median;
  return out;
}

/** sup_x |F_a(x) − F_b(x)| of two sorted samples (two-sample Kolmogorov–Smirnov statistic). */
export function twoSampleKs(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length && j < b.length) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < a.length && a[i]! <= x) i++;
    while (j < b.length && b[j]! <= x) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}
