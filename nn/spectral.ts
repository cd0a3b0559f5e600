/**
 * Random-matrix diagnostics of attention weights (spec §10, after Jha & Reagen 2025, arXiv 2507.09394): the spectrum
 * of the query–key bilinear form G = W_Q W_Kᵀ per layer and per head, compared with the Marchenko–Pastur (MP) law and,
 * because a product of two random matrices is NOT MP, with a random-init baseline of the same shape.
 *
 * Conventions. An n × p matrix X with i.i.d. entries of variance σ² (γ = p/n) has the eigenvalues of XᵀX/n filling
 * [λ−, λ+], λ± = σ²(1 ± √γ)² (Marchenko & Pastur 1967). For attention, λ = svd(G)²/n with n = d_model (spec §10).
 * Weights are taken as our `Linear` stores them, [out, in] (PyTorch layout): the logit of head i is
 * xᵀ W_{q,i}ᵀ W_{k,i} y, so with the paper's W_Q = W_qᵀ (d_model × d_head) the form is G_i = W_{q,i}ᵀ W_{k,i}
 * (d_model × d_model, rank ≤ d_head) and the layer's is G = Σ_i G_i = W_qᵀ W_k (keys repeated per group under GQA).
 *
 * Spikes. Against pure MP a spike is λ > λ+ + margin, the margin a multiple of the Tracy–Widom scale of the top
 * eigenvalue (Johnstone 2001). Against a baseline the threshold is scale-free: the largest λ_max / median(λ) seen over
 * the baseline's random draws, times (1 + margin), times the median of the spectrum under test — so an overall change
 * of weight norm during training (weight decay, growth) neither creates nor hides spikes. `randomInitBaseline` draws
 * plain i.i.d. W_q, W_k; for composite weights (MLA's W_UQ·W_DQ) pass fresh-init models' spectra to `baselineFromSpectra`.
 */
import {
  DTypeError, Generator, ShapeError, Tensor, ValueError, describeValue, expectBoolean, expectFiniteValues, expectInteger, expectNumber,
  expectOptions, expectTensor, fmtShape,
} from '../core/index.js';
import { generatorOrDefault } from './checks.js';
import { gemm } from '../core/kernels/matmul.js';
import { symmetricEigenvalues } from '../core/linalg.js';

// ── Marchenko–Pastur law ──────────────────────────────────────────────────────────────────────────────────────────

export interface MarchenkoPasturEdges {
  /** λ− = σ²(1 − √γ)². */
  readonly lower: number;
  /** λ+ = σ²(1 + √γ)². */
  readonly upper: number;
}

/** Support edges of the MP law of XᵀX/n: λ± = σ²(1 ± √γ)², γ = p/n (Marchenko & Pastur 1967; spec §10). */
export function marchenkoPasturEdges(gamma: number, sigma2 = 1): MarchenkoPasturEdges {
  checkLaw('marchenkoPasturEdges', gamma, sigma2);
  const r = Math.sqrt(gamma);
  return { lower: sigma2 * (1 - r) ** 2, upper: sigma2 * (1 + r) ** 2 };
}

/**
 * Where a population spike Σ = σ²(I + θ·uuᵀ) puts the top sample eigenvalue as n, p → ∞ with p/n = γ (BBP transition,
 * Baik, Ben Arous & Péché 2005; Baik & Silverstein 2006): σ²(1 + θ)(1 + γ/θ) if θ > √γ, else the edge λ+ (the spike is
 * invisible). Both branches agree at θ = √γ.
 */
export function bbpLocation(theta: number, gamma: number, sigma2 = 1): number {
  const op = 'bbpLocation';
  checkLaw(op, gamma, sigma2);
  if (!(Number.isFinite(theta) && theta >= 0)) throw new ValueError(op, `spike strength is not a finite number ≥ 0 — theta=${theta} (Σ = σ²(I + θuuᵀ))`, 'theta');
  const r = Math.sqrt(gamma);
  return theta > r ? sigma2 * (1 + theta) * (1 + gamma / theta) : sigma2 * (1 + r) ** 2;
}

/**
 * Centre and scale of the largest eigenvalue of XᵀX/n for Gaussian X (n × p, variance σ²): λ_max ≈ centre + scale·TW₁
 * with centre = σ²(√(n−1) + √p)²/n and scale = σ²(√(n−1) + √p)(1/√(n−1) + 1/√p)^{1/3}/n (Johnstone 2001, Thm 1.1).
 * TW₁ has mean −1.21, sd 1.27 and P(TW₁ > 4) < 1e-4, so λ+ + 4·scale is a safe finite-size margin.
 */
export function tracyWidomScale(n: number, p: number, sigma2 = 1): { readonly center: number; readonly scale: number } {
  const op = 'tracyWidomScale';
  checkSizes(op, n, p);
  checkLaw(op, p / n, sigma2);
  const a = Math.sqrt(Math.max(n - 1, 1));
  const b = Math.sqrt(p);
  return { center: (sigma2 * (a + b) ** 2) / n, scale: (sigma2 * (a + b) * Math.cbrt(1 / a + 1 / b)) / n };
}

/** MP cumulative distribution F(x) of XᵀX/n (atom of mass 1 − 1/γ at 0 when γ > 1), by quadrature of the density. */
export function marchenkoPasturCdf(x: number, gamma: number, sigma2 = 1): number {
  const op = 'marchenkoPasturCdf';
  expectNumber(op, 'x', x);
  checkLaw(op, gamma, sigma2);
  return mpLaw(gamma).cdf(x / sigma2);
}

/** Quantile of the MP law of XᵀX/n: the smallest x with F(x) ≥ q (0 for q within the atom at 0 when γ > 1). */
export function marchenkoPasturQuantile(q: number, gamma: number, sigma2 = 1): number {
  const op = 'marchenkoPasturQuantile';
  expectNumber(op, 'q', q);
  checkLaw(op, gamma, sigma2);
  if (!(q >= 0 && q <= 1)) throw new ValueError(op, `probability is outside [0, 1] — q=${q} (a quantile level)`, 'q');
  return sigma2 * mpLaw(gamma).quantile(q);
}

/** Median of the MP law of XᵀX/n (γ < 2, so the atom at 0 holds less than half the mass). */
export function marchenkoPasturMedian(gamma: number, sigma2 = 1): number {
  const op = 'marchenkoPasturMedian';
  checkLaw(op, gamma, sigma2);
  if (gamma >= 2) throw new ValueError(op, `the median is the atom at 0 — gamma=${gamma} (needs γ < 2)`, 'gamma');
  return sigma2 * mpLaw(gamma).quantile(0.5);
}

/** Trapezoid intervals of the CDF table (in the angle t of x = (1+γ) − 2√γ·cos t); its error is far below 1/p. */
const MP_TABLE = 8192;

interface MpLaw {
  cdf(x: number): number;
  quantile(q: number): number;
}

/**
 * The MP law at σ² = 1 as a CDF table. Density f(x) = √((λ+ − x)(x − λ−)) / (2πγx) on [λ−, λ+] (mass min(1, 1/γ));
 * with x = m − w·cos t (m = 1 + γ, w = 2√γ) the integrand f(x)dx = w² sin²t / (2πγx) dt is smooth, even at λ− = 0.
 */
function mpLaw(gamma: number): MpLaw {
  const cached = mpLawCache.get(gamma);
  if (cached !== undefined) return cached;
  const law = buildMpLaw(gamma);
  if (mpLawCache.size >= MP_CACHE) mpLawCache.delete(mpLawCache.keys().next().value!); // oldest first
  mpLawCache.set(gamma, law);
  return law;
}

/** Tables kept for the most recent aspect ratios (64 KiB each): a sweep over layers reuses one γ. */
const MP_CACHE = 8;
const mpLawCache = new Map<number, MpLaw>();

function buildMpLaw(gamma: number): MpLaw {
  const r = Math.sqrt(gamma);
  const a = (1 - r) ** 2;
  const b = (1 + r) ** 2;
  const m = 0.5 * (a + b);
  const w = 0.5 * (b - a);
  const atom = gamma > 1 ? 1 - 1 / gamma : 0;
  const mass = 1 - atom;
  const h = Math.PI / MP_TABLE;
  const integrand = (t: number): number => {
    const x = m - w * Math.cos(t);
    const s = Math.sin(t);
    if (x > 0) return (w * w * s * s) / (2 * Math.PI * gamma * x);
    return a === 0 ? w / (Math.PI * gamma) : 0; // λ− = 0 (γ = 1): the limit as t → 0
  };
  const cum = new Float64Array(MP_TABLE + 1);
  let prev = integrand(0);
  for (let i = 1; i <= MP_TABLE; i++) {
    const cur = integrand(i * h);
    cum[i] = cum[i - 1]! + 0.5 * h * (prev + cur);
    prev = cur;
  }
  const norm = mass / cum[MP_TABLE]!;
  for (let i = 1; i <= MP_TABLE; i++) cum[i] *= norm;
  return {
    cdf(x: number): number {
      if (x < 0) return 0;
      if (x < a) return atom;
      if (x >= b) return 1;
      const t = Math.acos(Math.min(1, Math.max(-1, (m - x) / w))) / h;
      const i = Math.min(MP_TABLE - 1, Math.floor(t));
      return atom + cum[i]! + (t - i) * (cum[i + 1]! - cum[i]!);
    },
    quantile(q: number): number {
      if (q <= atom) return gamma > 1 ? 0 : a;
      if (q >= 1) return b;
      const target = q - atom;
      let lo = 0;
      let hi = MP_TABLE;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (cum[mid]! <= target) lo = mid;
        else hi = mid;
      }
      const step = cum[hi]! - cum[lo]!;
      const t = (lo + (step > 0 ? (target - cum[lo]!) / step : 0)) * h;
      return m - w * Math.cos(t);
    },
  };
}

// ── rank summaries ────────────────────────────────────────────────────────────────────────────────────────────────

/** Effective rank exp(H(q)), q_i = λ_i / Σλ, H = −Σ q log q (Roy & Vetterli 2007; spec §10). 0 for an all-zero spectrum. */
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

/** Stable rank Σλ / λ_max = ‖G‖_F² / ‖G‖₂² for λ = singular values² (Rudelson & Vershynin 2007; spec §10). 0 for all zeros. */
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
  if (options === undefined) throw new DTypeError(op, 'options must be an options object with n (the sample count), got undefined', 'options');
  expectOptions(op, 'options', options, ['n', 'p', 'sigma2', 'baseline', 'edgeMargin']);
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

// ── W_Q W_Kᵀ spectra ──────────────────────────────────────────────────────────────────────────────────────────────

export interface QKSpectrumOptions {
  /** Query heads H; W_q is [H·d_head, d_model] (default 1). */
  numHeads?: number;
  /** Key heads (GQA); W_k is [numKVHeads·d_head, d_model] and query head i uses key head ⌊i·numKVHeads/H⌋ (default H). */
  numKVHeads?: number;
  /** Also return every head's spectrum (default false). */
  perHead?: boolean;
}

/** One spectrum λ = svd(G)²/n, ascending: its min(d_model, rank bound) possibly non-zero values, with n and p for the MP fit. */
export interface QKSpectrum {
  readonly eigenvalues: Float64Array;
  /** d_model (the normaliser of λ). */
  readonly n: number;
  /** eigenvalues.length = min(d_model, r), r = H·d_head for the layer and d_head for a head (the other values are 0). */
  readonly p: number;
}

export interface QKSpectra {
  /** G = W_qᵀ W_k (keys repeated per group), the layer's whole bilinear form. */
  readonly layer: QKSpectrum;
  /** G_i = W_{q,i}ᵀ W_{k,g(i)} per query head; empty unless `perHead`. */
  readonly heads: readonly QKSpectrum[];
}

/**
 * Spectra of the query–key form from the weights as `Linear` stores them: wq [H·d_head, d_model], wk [H_kv·d_head,
 * d_model] (spec §10: λ = svd(W_Q W_Kᵀ)²/n, n = d_model). The non-zero singular values of G = AᵀB (A, B with r rows)
 * are those of R_A R_Bᵀ where Aᵀ = Q_A R_A and Bᵀ = Q_B R_B (Householder QR, GVL Alg. 5.2.1), so a head costs
 * O(d_model·d_head²); when r ≥ d_model G and GᵀG are formed directly. λ are eigenvalues of the Gram matrix over n.
 */
export function qkSpectrum(wq: Tensor, wk: Tensor, options: QKSpectrumOptions = {}): QKSpectra {
  const op = 'qkSpectrum';
  expectTensor(op, 'wq', wq);
  expectTensor(op, 'wk', wk);
  const o = expectOptions(op, 'options', options, ['numHeads', 'numKVHeads', 'perHead']);
  headOptions(op, o);
  expectFiniteValues(op, 'wq', wq.data);
  expectFiniteValues(op, 'wk', wk.data);
  const w = expandedQK(op, wq, wk, o);
  return { layer: productSpectrum(w.q, w.k, w.q.length / w.m, w.m), heads: o.perHead === true ? headSpectra(w) : [] };
}

/** W_q and W_k as float64 rows of length m = d_model, W_k's heads repeated so row i·d_head + c pairs with W_q's. */
interface ExpandedQK {
  readonly q: Float64Array;
  readonly k: Float64Array;
  readonly m: number;
  readonly headDim: number;
  readonly numHeads: number;
}

/** qkSpectrum's (and randomInitBaseline's) head options: numHeads/numKVHeads integers ≥ 1, perHead a boolean. */
function headOptions(op: string, o: { numHeads?: unknown; numKVHeads?: unknown; perHead?: unknown }): void {
  if (o.numHeads !== undefined) expectInteger(op, 'numHeads', o.numHeads, { min: 1 });
  if (o.numKVHeads !== undefined) expectInteger(op, 'numKVHeads', o.numKVHeads, { min: 1 });
  if (o.perHead !== undefined) expectBoolean(op, 'perHead', o.perHead);
}

function expandedQK(op: string, wq: Tensor, wk: Tensor, options: QKSpectrumOptions): ExpandedQK {
  const { numHeads = 1 } = options;
  const numKVHeads = options.numKVHeads ?? numHeads;
  if (wq.ndim !== 2) throw new ShapeError(op, `query weight is not a matrix — wq=${fmtShape(wq.shape)} (Linear's [H·d_head, d_model])`, 'wq');
  if (wk.ndim !== 2) throw new ShapeError(op, `key weight is not a matrix — wk=${fmtShape(wk.shape)} (Linear's [H_kv·d_head, d_model])`, 'wk');
  const [rq, m] = wq.shape as [number, number];
  if (rq === 0 || m === 0) throw new ShapeError(op, `query weight is empty — wq=${fmtShape(wq.shape)} (sizes ≥ 1)`, 'wq');
  if (wk.shape[1] !== m) throw new ShapeError(op, `query and key weights read different inputs — wq=${fmtShape(wq.shape)}, wk=${fmtShape(wk.shape)} (both [·, d_model])`, 'wk');
  if (!(Number.isInteger(numHeads) && numHeads >= 1 && rq % numHeads === 0)) {
    throw new ValueError(op, `numHeads=${numHeads} does not split wq=${fmtShape(wq.shape)} (H ≥ 1 must divide the output size)`, 'numHeads');
  }
  const dh = rq / numHeads;
  if (!(Number.isInteger(numKVHeads) && numKVHeads >= 1 && numHeads % numKVHeads === 0)) {
    throw new ValueError(op, `numKVHeads=${numKVHeads} does not divide numHeads=${numHeads} (GQA groups are equal)`, 'numKVHeads');
  }
  if (wk.shape[0] !== numKVHeads * dh) {
    throw new ShapeError(op, `key weight does not hold numKVHeads=${numKVHeads} heads of d_head=${dh} — wk=${fmtShape(wk.shape)}, wq=${fmtShape(wq.shape)} (needs [${numKVHeads * dh},${m}])`, 'wk');
  }
  const q = Float64Array.from(wq.data);
  const kSrc = wk.data;
  const group = numHeads / numKVHeads;
  const span = dh * m;
  const k = new Float64Array(rq * m);
  for (let h = 0; h < numHeads; h++) {
    const from = Math.floor(h / group) * span;
    for (let t = 0; t < span; t++) k[h * span + t] = kSrc[from + t]!;
  }
  return { q, k, m, headDim: dh, numHeads };
}

function headSpectra(w: ExpandedQK): QKSpectrum[] {
  const span = w.headDim * w.m;
  const out: QKSpectrum[] = [];
  for (let h = 0; h < w.numHeads; h++) {
    out.push(productSpectrum(w.q.subarray(h * span, (h + 1) * span), w.k.subarray(h * span, (h + 1) * span), w.headDim, w.m));
  }
  return out;
}

/** svd(AᵀB)²/m ascending for A, B stored as r rows of length m: min(r, m) values. */
function productSpectrum(a: Float64Array, b: Float64Array, r: number, m: number): QKSpectrum {
  let gram: Float64Array;
  let k: number;
  if (r >= m) {
    k = m;
    const g = new Float64Array(m * m);
    gemm(m, m, r, a, 0, true, b, 0, false, g, 0, false); // G = AᵀB
    gram = new Float64Array(m * m);
    gemm(m, m, m, g, 0, true, g, 0, false, gram, 0, false); // GᵀG
  } else {
    k = r;
    const ra = rFactor(a, r, m);
    const rb = rFactor(b, r, m);
    const c = new Float64Array(r * r);
    gemm(r, r, r, ra, 0, false, rb, 0, true, c, 0, false); // C = R_A R_Bᵀ
    gram = new Float64Array(r * r);
    gemm(r, r, r, c, 0, true, c, 0, false, gram, 0, false); // CᵀC
  }
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < i; j++) {
      const s = 0.5 * (gram[i * k + j]! + gram[j * k + i]!); // exact symmetry for the solver
      gram[i * k + j] = s;
      gram[j * k + i] = s;
    }
  }
  const lam = symmetricEigenvalues(new Tensor(gram, [k, k]));
  for (let i = 0; i < k; i++) lam[i] = Math.max(0, lam[i]!) / m; // a PSD Gram matrix: clip −O(ε‖G‖²) rounding
  return { eigenvalues: lam, n: m, p: k };
}

/**
 * R (r × r, upper triangular, row-major) of the thin QR of X = rowsᵀ (m × r, r ≤ m) by Householder reflections
 * (GVL Alg. 5.2.1). Column j of X is row j of `rows`, so every reflection walks contiguous memory.
 */
function rFactor(rows: Float64Array, r: number, m: number): Float64Array {
  const x = rows.slice();
  const out = new Float64Array(r * r);
  for (let k = 0; k < r; k++) {
    const ck = k * m;
    let scale = 0;
    for (let i = k; i < m; i++) scale = Math.max(scale, Math.abs(x[ck + i]!));
    if (scale === 0) {
      for (let j = k + 1; j < r; j++) out[k * r + j] = x[j * m + k]!; // nothing to reflect: R's row k is X's row k
      continue;
    }
    let ss = 0;
    for (let i = k; i < m; i++) ss += (x[ck + i]! / scale) ** 2;
    const sigma = scale * Math.sqrt(ss);
    const x0 = x[ck + k]!;
    const sign = x0 < 0 ? -1 : 1;
    x[ck + k] = x0 + sign * sigma; // v = x + sign(x₀)‖x‖e₁, vᵀv = 2‖x‖(‖x‖ + |x₀|)
    const beta = 1 / (sigma * (sigma + Math.abs(x0)));
    out[k * r + k] = -sign * sigma;
    for (let j = k + 1; j < r; j++) {
      const cj = j * m;
      let dot = 0;
      for (let i = k; i < m; i++) dot += x[ck + i]! * x[cj + i]!;
      const f = beta * dot;
      for (let i = k; i < m; i++) x[cj + i] -= f * x[ck + i]!;
      out[k * r + j] = x[cj + k]!;
    }
  }
  return out;
}

// ── random-init baseline ──────────────────────────────────────────────────────────────────────────────────────────

/**
 * How the baseline draws W_q and W_k: 'linear' is `Linear`'s U(−1/√d_model, 1/√d_model); or i.i.d. normal / uniform.
 * The baseline's thresholds are ratios to the median, so only the shape of the entry law matters, not its scale.
 */
export type BaselineInit = 'linear' | { readonly kind: 'normal'; readonly std: number } | { readonly kind: 'uniform'; readonly bound: number };

export interface RandomInitBaselineOptions {
  numHeads?: number;
  numKVHeads?: number;
  /** Calibrate per-head spectra G_i (heads of a draw pool together) instead of the layer's G (default false). */
  perHead?: boolean;
  /** Independent draws of (W_q, W_k) (default 4). */
  samples?: number;
  generator?: Generator;
  /** Relative headroom over the largest λ_max / median seen (default 0.25). */
  margin?: number;
}

/** Quantiles of λ / median(λ) reported by a baseline. */
export const BASELINE_QUANTILES: readonly number[] = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];

/** Scale-free statistics of a set of reference spectra (all with the same n and p), used to calibrate spikes. */
export interface SpectralBaseline {
  /** Spectra pooled. */
  readonly spectra: number;
  /** n and p of each spectrum, as `qkSpectrum` gives them. */
  readonly n: number;
  readonly count: number;
  /** λ_max / median(λ) over the pooled spectra. */
  readonly topRatio: { readonly mean: number; readonly max: number };
  readonly margin: number;
  /** Spike threshold as a multiple of a spectrum's median: topRatio.max × (1 + margin). */
  readonly threshold: number;
  /** Mean over spectra of the q-quantile of λ / median(λ), q in BASELINE_QUANTILES. */
  readonly quantiles: ReadonlyArray<{ readonly q: number; readonly ratio: number }>;
  readonly effectiveRank: { readonly mean: number; readonly min: number };
  readonly stableRank: { readonly mean: number; readonly min: number };
  /** Every spectrum's λ / median(λ), pooled and sorted (for `baselineKsDistance`). */
  readonly pooled: Float64Array;
}

/** A baseline drawn by `randomInitBaseline`, with what it was drawn for. */
export interface RandomInitBaseline extends SpectralBaseline {
  /** W_q's shape [H·d_head, d_model] as `Linear` stores it. */
  readonly shape: readonly [number, number];
  readonly numHeads: number;
  readonly numKVHeads: number;
  readonly perHead: boolean;
  readonly init: BaselineInit;
}

/**
 * A baseline from reference spectra computed elsewhere — e.g. `qkSpectrum` of freshly initialised models of the same
 * architecture with other seeds, when the weights are not plain i.i.d. matrices (MLA's W_UQ·W_DQ products, tied or
 * structured inits). Spikes are then λ > topRatio.max·(1 + margin)·median(λ) (margin default 0.25).
 */
export function baselineFromSpectra(spectra: readonly QKSpectrum[], options: { margin?: number } = {}): SpectralBaseline {
  const op = 'baselineFromSpectra';
  if (!Array.isArray(spectra)) throw new DTypeError(op, `spectra must be an array of QKSpectrum ({ eigenvalues, n, p }), got ${describeValue(spectra)}`, 'spectra');
  spectra.forEach((sp: unknown, i) => checkSpectrumRecord(op, `spectra[${i}]`, sp));
  const o = expectOptions(op, 'options', options, ['margin']);
  if (o.margin !== undefined) expectNumber(op, 'margin', o.margin, { nonFinite: true });
  return summarizeBaseline(op, spectra, o.margin ?? 0.25);
}

/**
 * The spectrum of W_Q W_Kᵀ at random init for weights of this shape (spec §10 caveat: a product of two random matrices
 * is not MP — top/median ≈ 21 at 256 × 256 — so thresholds come from draws of the same shape, not from λ+).
 */
export function randomInitBaseline(shape: readonly [number, number], init: BaselineInit = 'linear', options: RandomInitBaselineOptions = {}): RandomInitBaseline {
  const op = 'randomInitBaseline';
  if (!Array.isArray(shape)) throw new DTypeError(op, `shape must be [out, in], got ${describeValue(shape)}`, 'shape');
  const o = expectOptions(op, 'options', options, ['numHeads', 'numKVHeads', 'perHead', 'samples', 'generator', 'margin']);
  headOptions(op, o);
  if (o.samples !== undefined) expectInteger(op, 'samples', o.samples, { min: 1 });
  if (o.margin !== undefined) expectNumber(op, 'margin', o.margin, { nonFinite: true });
  const { numHeads = 1, perHead = false, samples = 4, margin = 0.25 } = o;
  const numKVHeads = o.numKVHeads ?? numHeads;
  const generator = generatorOrDefault(op, 'generator', o.generator);
  if (shape.length !== 2 || !shape.every((d) => typeof d === 'number')) {
    throw new ShapeError(op, `weight shape is not [out, in] with positive sizes — shape=[${shape.map((d) => describeValue(d)).join(',')}] (Linear's [H·d_head, d_model])`, 'shape');
  }
  if (shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ShapeError(op, `weight shape is not [out, in] with positive sizes — shape=${fmtShape(shape)} (Linear's [H·d_head, d_model])`, 'shape');
  }
  if (!(Number.isInteger(samples) && samples >= 1)) throw new ValueError(op, `sample count is not a positive integer — samples=${samples} (independent draws)`, 'samples');
  checkMargin(op, margin);
  const draw = entrySampler(op, init, shape[1]);
  if (!(Number.isInteger(numHeads) && numHeads >= 1 && shape[0] % numHeads === 0)) {
    throw new ValueError(op, `numHeads=${numHeads} does not split shape=${fmtShape(shape)} (H ≥ 1 must divide the output size)`, 'numHeads');
  }
  if (!(Number.isInteger(numKVHeads) && numKVHeads >= 1 && numHeads % numKVHeads === 0)) {
    throw new ValueError(op, `numKVHeads=${numKVHeads} does not divide numHeads=${numHeads} (GQA groups are equal)`, 'numKVHeads');
  }
  const [out, inFeatures] = shape;
  const kShape = [(out / numHeads) * numKVHeads, inFeatures];
  const spectra: QKSpectrum[] = [];
  for (let s = 0; s < samples; s++) {
    const wq = new Tensor(fill(out * inFeatures, draw, generator), shape);
    const wk = new Tensor(fill(kShape[0]! * inFeatures, draw, generator), kShape);
    const w = expandedQK(op, wq, wk, { numHeads, numKVHeads });
    if (perHead) spectra.push(...headSpectra(w));
    else spectra.push(productSpectrum(w.q, w.k, out, inFeatures));
  }
  return { ...summarizeBaseline(op, spectra, margin), shape: [out, inFeatures], numHeads, numKVHeads, perHead, init };
}

function summarizeBaseline(op: string, spectra: readonly QKSpectrum[], margin: number): SpectralBaseline {
  checkMargin(op, margin);
  if (spectra.length === 0) throw new ShapeError(op, 'no reference spectra — spectra.length=0 (needs at least one)', 'spectra');
  const { n, p: count } = spectra[0]!;
  const pooled = new Float64Array(spectra.length * count);
  const ratios: number[] = [];
  const quantileSums = new Float64Array(BASELINE_QUANTILES.length);
  const eff: number[] = [];
  const stab: number[] = [];
  spectra.forEach((spectrum, si) => {
    if (spectrum.n !== n || spectrum.p !== count || spectrum.eigenvalues.length !== count) {
      throw new ShapeError(
        op,
        `reference spectra differ in shape — spectra[${si}] has n=${spectrum.n}, p=${spectrum.p} (${spectrum.eigenvalues.length} values), spectra[0] n=${n}, p=${count} (one shape per baseline)`,
        'spectra',
      );
    }
    const lam = checkedSpectrum(op, spectrum.eigenvalues).sort();
    const median = medianSorted(lam);
    if (!(median > 0)) {
      throw new ValueError(op, `reference spectrum ${si} has median eigenvalue 0 — n=${n}, p=${count} (a degenerate init or structural zeros)`, 'spectra');
    }
    const scaled = normalizeByMedian(lam, median);
    pooled.set(scaled, si * count);
    ratios.push(scaled[count - 1]!);
    BASELINE_QUANTILES.forEach((q, qi) => (quantileSums[qi] += quantileSorted(scaled, q)));
    eff.push(effectiveRank(lam));
    stab.push(stableRank(lam));
  });
  pooled.sort();
  const topMax = Math.max(...ratios);
  return {
    spectra: spectra.length,
    n,
    count,
    topRatio: { mean: meanOf(ratios), max: topMax },
    margin,
    threshold: topMax * (1 + margin),
    quantiles: BASELINE_QUANTILES.map((q, qi) => ({ q, ratio: quantileSums[qi]! / spectra.length })),
    effectiveRank: { mean: meanOf(eff), min: Math.min(...eff) },
    stableRank: { mean: meanOf(stab), min: Math.min(...stab) },
    pooled,
  };
}

function checkMargin(op: string, margin: number): void {
  if (!(Number.isFinite(margin) && margin >= 0)) throw new ValueError(op, `margin is not a finite number ≥ 0 — margin=${margin} (relative headroom)`, 'margin');
}

function entrySampler(op: string, init: BaselineInit, inFeatures: number): (g: Generator) => number {
  if (init === 'linear') {
    const bound = 1 / Math.sqrt(inFeatures);
    return (g) => bound * (2 * g.random() - 1);
  }
  if (typeof init === 'object' && init !== null && init.kind === 'normal' && Number.isFinite(init.std) && init.std > 0) {
    const std = init.std;
    return (g) => std * g.normal();
  }
  if (typeof init === 'object' && init !== null && init.kind === 'uniform' && Number.isFinite(init.bound) && init.bound > 0) {
    const bound = init.bound;
    return (g) => bound * (2 * g.random() - 1);
  }
  throw new ValueError(op, `unknown or degenerate init — init=${JSON.stringify(init)} ('linear', {kind:'normal', std>0} or {kind:'uniform', bound>0})`, 'init');
}

function fill(length: number, draw: (g: Generator) => number, g: Generator): Float64Array {
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = draw(g);
  return out;
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────────────────────────

/** A QKSpectrum record: { eigenvalues (numbers), n, p }. */
function checkSpectrumRecord(op: string, arg: string, x: unknown): void {
  if (x === null || typeof x !== 'object' || !('eigenvalues' in x) || !('n' in x) || !('p' in x)) {
    throw new DTypeError(op, `${arg} must be a QKSpectrum ({ eigenvalues, n, p }), got ${describeValue(x)}`, arg);
  }
  expectInteger(op, `${arg}.n`, x.n, { min: 1 });
  expectInteger(op, `${arg}.p`, x.p, { min: 1 });
  checkedSpectrum(op, x.eigenvalues as ArrayLike<number>);
}

/** A SpectralBaseline record (from baselineFromSpectra or randomInitBaseline). */
function checkBaseline(op: string, x: unknown): void {
  const fields = ['n', 'count', 'threshold', 'pooled'];
  if (x === null || typeof x !== 'object' || !fields.every((f) => f in x) || !((x as { pooled: unknown }).pooled instanceof Float64Array)) {
    throw new DTypeError(op, `baseline must be a SpectralBaseline (from baselineFromSpectra or randomInitBaseline), got ${describeValue(x)}`, 'baseline');
  }
  const b = x as SpectralBaseline;
  expectInteger(op, 'baseline.n', b.n, { min: 1 });
  expectInteger(op, 'baseline.count', b.count, { min: 1 });
  expectNumber(op, 'baseline.threshold', b.threshold, { above: 0 });
}

function checkLaw(op: string, gamma: number, sigma2: number): void {
  if (!(Number.isFinite(gamma) && gamma > 0)) throw new ValueError(op, `aspect ratio is not a finite number > 0 — gamma=${gamma} (γ = p/n)`, 'gamma');
  if (!(Number.isFinite(sigma2) && sigma2 > 0)) throw new ValueError(op, `variance is not a finite number > 0 — sigma2=${sigma2} (entry variance σ²)`, 'sigma2');
}

function checkSizes(op: string, n: number, p: number): void {
  if (!(Number.isInteger(n) && n >= 1)) throw new ValueError(op, `sample count is not a positive integer — n=${n} (rows of X)`, 'n');
  if (!(Number.isInteger(p) && p >= 1)) throw new ValueError(op, `dimension is not a positive integer — p=${p} (columns of X)`, 'p');
}

/** A float64 copy; rejects non-finite values and negatives beyond rounding (−1e-9·max|λ|), clipping the rest to 0. */
function checkedSpectrum(op: string, eigenvalues: ArrayLike<number>): Float64Array {
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

function medianSorted(sorted: ArrayLike<number>): number {
  const k = sorted.length;
  return k % 2 === 1 ? sorted[(k - 1) / 2]! : 0.5 * (sorted[k / 2 - 1]! + sorted[k / 2]!);
}

/** Linear-interpolation quantile of a sorted sample (numpy's default). */
function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos);
  return i + 1 < sorted.length ? sorted[i]! + (pos - i) * (sorted[i + 1]! - sorted[i]!) : sorted[i]!;
}

function normalizeByMedian(sorted: Float64Array, median: number): Float64Array {
  const out = new Float64Array(sorted.length);
  for (let i = 0; i < out.length; i++) out[i] = sorted[i]! / median;
  return out;
}

/** sup_x |F_a(x) − F_b(x)| of two sorted samples (two-sample Kolmogorov–Smirnov statistic). */
function twoSampleKs(a: Float64Array, b: Float64Array): number {
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

function meanOf(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}
