/**
 * The Marchenko–Pastur (MP) law and what random-matrix theory says about its edges, for the spectral diagnostics of
 * attention weights (spectral-diagnostics.ts). An n × p matrix X with i.i.d. entries of variance σ² (γ = p/n) has the
 * eigenvalues of XᵀX/n filling [λ−, λ+], λ± = σ²(1 ± √γ)² as n, p → ∞ (Marchenko & Pastur 1967); a population spike
 * above √γ shows up as an outlier beyond λ+ (BBP transition, Baik, Ben Arous & Péché 2005); and at finite size the
 * largest eigenvalue fluctuates around λ+ on the Tracy–Widom scale (Johnstone 2001).
 */
import { ValueError, expectNumber } from '../core/index.js';

// ── Marchenko–Pastur law ──────────────────────────────────────────────────────────────────────────────────────────

/** The support [lower, upper] of the Marchenko–Pastur law for an aspect ratio γ and variance σ². */
export interface MarchenkoPasturEdges {
  /** λ− = σ²(1 − √γ)². */
  readonly lower: number;
  /** λ+ = σ²(1 + √γ)². */
  readonly upper: number;
}

/** Support edges of the MP law of XᵀX/n: λ± = σ²(1 ± √γ)², γ = p/n (Marchenko & Pastur 1967). */
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

export interface MpLaw {
  cdf(x: number): number;
  quantile(q: number): number;
}

/**
 * The MP law at σ² = 1 as a CDF table. Density f(x) = √((λ+ − x)(x − λ−)) / (2πγx) on [λ−, λ+] (mass min(1, 1/γ));
 * with x = m − w·cos t (m = 1 + γ, w = 2√γ) the integrand f(x)dx = w² sin²t / (2πγx) dt is smooth, even at λ− = 0.
 */
export function mpLaw(gamma: number): MpLaw {
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

// ── argument checks (shared with the diagnostics) ──

export function checkLaw(op: string, gamma: number, sigma2: number): void {
  if (!(Number.isFinite(gamma) && gamma > 0)) throw new ValueError(op, `aspect ratio is not a finite number > 0 — gamma=${gamma} (γ = p/n)`, 'gamma');
  if (!(Number.isFinite(sigma2) && sigma2 > 0)) throw new ValueError(op, `variance is not a finite number > 0 — sigma2=${sigma2} (entry variance σ²)`, 'sigma2');
}

export function checkSizes(op: string, n: number, p: number): void {
  if (!(Number.isInteger(n) && n >= 1)) throw new ValueError(op, `sample count is not a positive integer — n=${n} (rows of X)`, 'n');
  if (!(Number.isInteger(p) && p >= 1)) throw new ValueError(op, `dimension is not a positive integer — p=${p} (columns of X)`, 'p');
}
