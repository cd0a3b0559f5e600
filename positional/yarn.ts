/**
 * YaRN (Peng et al. 2023, eqs. 17–22): NTK-by-parts frequencies, θ′_i = (1 − γ_i)·θ_i + γ_i·θ_i/s with a ramp γ
 * over the pairs that turn between β_fast and β_slow times within the trained context L, plus the attention
 * temperature √(1/t) = 0.1·ln s + 1 that multiplies cos and sin. Semantics follow HF `_compute_yarn_parameters`.
 */
import { ValueError, expectBoolean, expectNumber, expectOptions } from '../core/index.js';
import { checkAttentionFactor, checkBase, checkContextLength, checkFactor, checkRotaryDim } from './checks.js';
import { invFreqLadder, type RoPEScalingOptions } from './rope.js';

/** yarnInvFreq's options: RoPEScalingOptions (the ramp covers the d/2 pairs) and YaRN's own. */
export interface YaRNOptions extends RoPEScalingOptions {
  /** L: the pre-training context (HF `original_max_position_embeddings`), used by the correction range. */
  originalMaxPositions: number;
  /** Pairs turning at least this often within L are kept (extrapolated); default 32. */
  betaFast?: number;
  /** Pairs turning at most this often within L are divided by s (interpolated); default 1. */
  betaSlow?: number;
  /** Round the correction range outward to whole pairs (floor low, ceil high); default true (HF). */
  truncate?: boolean;
  /** DeepSeek numerator μ of the attention factor; used only together with a non-zero mscaleAllDim. */
  mscale?: number;
  /** DeepSeek denominator μ_all of the attention factor; used only together with a non-zero mscale. */
  mscaleAllDim?: number;
  /** Explicit multiplier on cos and sin; overrides the computed one. */
  attentionFactor?: number;
}

/** How a pair is treated: kept as trained, divided by s, or a blend of the two. */
export type YaRNPairRegime = 'extrapolated' | 'blended' | 'interpolated';

/** HF `get_mscale`: 1 for s ≤ 1, else 0.1·μ·ln s + 1 (YaRN eq. 22 with μ = 1; DeepSeek-V2 uses μ = 0.707). */
export function yarnMscale(factor: number, mscale = 1): number {
  expectNumber('yarnMscale', 'factor', factor);
  expectNumber('yarnMscale', 'mscale', mscale);
  return factor <= 1 ? 1 : 0.1 * mscale * Math.log(factor) + 1;
}

/**
 * The correction range and the ramp γ [d/2]. corr(β) = d·ln(L/(2π·β)) / (2·ln base) is the fractional pair whose
 * wavelength fits β times into L; low = corr(β_fast), high = corr(β_slow), floored/ceiled when truncating, then
 * clamped to low ≥ 0 and high ≤ d − 1 (HF clamps to d − 1, not d/2 − 1). γ_i = clamp((i − low)/(high − low), 0, 1),
 * with high − low taken as 0.001 when they are equal. `low` and `high` are returned as clamped, without that 0.001.
 */
export function yarnRamp(options: YaRNOptions): { low: number; high: number; ramp: Float64Array } {
  return rampOf('yarnRamp', options);
}

/** Per pair [d/2]: γ = 0 → 'extrapolated' (θ kept), γ = 1 → 'interpolated' (θ/s), otherwise 'blended'. */
export function yarnPairRegimes(options: YaRNOptions): Array<YaRNPairRegime> {
  return Array.from(rampOf('yarnPairRegimes', options).ramp, (g) => (g === 0 ? 'extrapolated' : g === 1 ? 'interpolated' : 'blended'));
}

/** θ′_i = (θ_i/s)·(1 − e_i) + θ_i·e_i with e_i = 1 − γ_i (HF's order of operations): [d/2], float64. */
export function yarnInvFreq(options: YaRNOptions): Float64Array {
  return yarnTable('yarnInvFreq', options);
}

/** yarnInvFreq with `op` naming the public entry in errors (fromHFConfig, the registry). */
export function yarnTable(op: string, options: YaRNOptions): Float64Array {
  const { ramp } = rampOf(op, options);
  const { factor, base = 10000, dim } = options;
  const theta = invFreqLadder(dim, base);
  const out = new Float64Array(theta.length);
  for (let i = 0; i < out.length; i++) {
    const keep = 1 - ramp[i]!;
    out[i] = (theta[i]! / factor) * (1 - keep) + theta[i]! * keep;
  }
  return out;
}

function rampOf(op: string, options: YaRNOptions): { low: number; high: number; ramp: Float64Array } {
  const o = checkYarn(op, options);
  const correctionDim = (turns: number): number => (o.dim * Math.log(o.originalMaxPositions / (turns * 2 * Math.PI))) / (2 * Math.log(o.base));
  let low = correctionDim(o.betaFast);
  let high = correctionDim(o.betaSlow);
  if (o.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, o.dim - 1);
  const span = high === low ? 0.001 : high - low;
  const ramp = new Float64Array(o.dim / 2);
  for (let i = 0; i < ramp.length; i++) ramp[i] = Math.min(Math.max((i - low) / span, 0), 1);
  return { low, high, ramp };
}

/**
 * Multiplier on cos and sin (so the logits get its square): attentionFactor if given; else, when mscale and
 * mscaleAllDim are both given and non-zero, yarnMscale(s, mscale)/yarnMscale(s, mscaleAllDim) (DeepSeek); else
 * yarnMscale(s) = 0.1·ln s + 1. DeepSeek-V2/V3 additionally multiply the softmax scale by yarnMscale(s, mscaleAllDim)².
 */
export function yarnAttentionFactor(options: Pick<YaRNOptions, 'factor' | 'mscale' | 'mscaleAllDim' | 'attentionFactor'>): number {
  return yarnAttention('yarnAttentionFactor', options);
}

/** yarnAttentionFactor with `op` naming the public entry in errors. */
export function yarnAttention(op: string, options: Pick<YaRNOptions, 'factor' | 'mscale' | 'mscaleAllDim' | 'attentionFactor'>): number {
  const o = expectOptions(op, 'options', options, YARN_KEYS);
  const { factor, mscale, mscaleAllDim, attentionFactor } = o;
  checkFactor(op, 'factor', factor);
  checkYarnScaling(op, o);
  if (attentionFactor !== undefined) return attentionFactor;
  if (mscale && mscaleAllDim) return yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim);
  return yarnMscale(factor);
}

/** The optional attention-factor fields: finite mscale and mscaleAllDim, an attentionFactor > 0 (null is refused). */
function checkYarnScaling(op: string, o: Pick<YaRNOptions, 'mscale' | 'mscaleAllDim' | 'attentionFactor'>): void {
  if (o.mscale !== undefined) expectNumber(op, 'mscale', o.mscale);
  if (o.mscaleAllDim !== undefined) expectNumber(op, 'mscaleAllDim', o.mscaleAllDim);
  checkAttentionFactor(op, o.attentionFactor);
}

interface CheckedYaRN {
  dim: number;
  base: number;
  originalMaxPositions: number;
  betaFast: number;
  betaSlow: number;
  truncate: boolean;
}

const YARN_KEYS = ['dim', 'base', 'factor', 'originalMaxPositions', 'betaFast', 'betaSlow', 'truncate', 'mscale', 'mscaleAllDim', 'attentionFactor'];

function checkYarn(op: string, options: YaRNOptions): CheckedYaRN {
  const { dim: d, base: b = 10000, factor, originalMaxPositions: L, betaFast = 32, betaSlow = 1, truncate = true } = expectOptions(op, 'options', options, YARN_KEYS);
  const dim = checkRotaryDim(op, 'dim', d);
  const base = checkBase(op, 'base', b);
  checkFactor(op, 'factor', factor);
  const originalMaxPositions = checkContextLength(op, 'originalMaxPositions', L);
  if (!(Number.isFinite(betaFast) && betaFast > 0 && Number.isFinite(betaSlow) && betaSlow > 0 && betaFast >= betaSlow)) {
    throw new ValueError(op, `rotation counts are out of order — betaFast=${betaFast}, betaSlow=${betaSlow} (finite, > 0, betaFast ≥ betaSlow)`, 'betaFast');
  }
  expectBoolean(op, 'truncate', truncate); // round the correction range to whole pairs or not
  checkYarnScaling(op, options);
  return { dim, base, originalMaxPositions, betaFast, betaSlow, truncate };
}
