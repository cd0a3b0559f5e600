/**
 * The baseline that calibrates spikes (spectral-diagnostics.ts has the method): a product of two random matrices is
 * not MP — λ_max / median(λ) ≈ 21 for W_qᵀ W_k at 256 × 256 under `Linear`'s init, where MP(γ = 1) would give
 * 4 / 0.65 ≈ 6 — so pure-MP thresholds flag spikes on a fresh init. The threshold therefore comes from draws of the
 * same shape (`randomInitBaseline`) or from the spectra of freshly initialised models (`baselineFromSpectra`), as a
 * scale-free multiple of the median.
 */
import {
  DTypeError, Generator, ShapeError, Tensor, ValueError, describeValue, expectInteger, expectNumber, expectOptions,
  fmtShape, defaultGenerator, optionalGenerator,
} from '../core/index.js';
import { expandedQK, headOptions, headSpectra, productSpectrum, type QKSpectrum } from './qk-spectrum.js';
import { checkedSpectrum, effectiveRank, medianSorted, normalizeByMedian, quantileSorted, stableRank } from './spectral-diagnostics.js';

/**
 * How the baseline draws W_q and W_k: 'linear' is `Linear`'s U(−1/√d_model, 1/√d_model); or i.i.d. normal / uniform.
 * The baseline's thresholds are ratios to the median, so only the shape of the entry law matters, not its scale.
 */
export type BaselineInit = 'linear' | { readonly kind: 'normal'; readonly std: number } | { readonly kind: 'uniform'; readonly bound: number };

/** Options of `randomInitBaseline`: `numHeads`, `numKVHeads`, `perHead`, `samples`, `generator`, `margin`. */
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
 * The spectrum of W_Q W_Kᵀ at random init for weights of this shape: a product of two random matrices is not MP
 * (top/median ≈ 21 at 256 × 256), so thresholds come from draws of the same shape, not from λ+.
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
  const generator = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
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

// ── helpers ──

/** A QKSpectrum record: { eigenvalues (numbers), n, p }. */
function checkSpectrumRecord(op: string, arg: string, x: unknown): void {
  if (x === null || typeof x !== 'object' || !('eigenvalues' in x) || !('n' in x) || !('p' in x)) {
    throw new DTypeError(op, `${arg} must be a QKSpectrum ({ eigenvalues, n, p }), got ${describeValue(x)}`, arg);
  }
  expectInteger(op, `${arg}.n`, x.n, { min: 1 });
  expectInteger(op, `${arg}.p`, x.p, { min: 1 });
  checkedSpectrum(op, x.eigenvalues as ArrayLike<number>);
}

function meanOf(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}
