/**
 * LongRoPE (Ding et al. 2024, rescaled frequencies θ′_i = θ_i/λ_i with searched per-pair factors λ; Phi-3): HF
 * `_compute_longrope_parameters` uses `long_factor` once the sequence outgrows the pre-training context L and
 * `short_factor` otherwise, and scales cos and sin by √(1 + ln s / ln L).
 */
import { ValueError, expectOptions, expectSize } from '../core/index.js';
import { checkAttentionFactor, checkBase, checkContextLength, checkInvFreq, checkRotaryDim, checkScale } from './checks.js';
import { invFreqLadder } from './rope.js';

/** Options of `longRopeInvFreq`: `dim`, `base`, `shortFactor`, `longFactor`, `originalMaxPositions`, `seqLen`. */
export interface LongRoPEOptions {
  /** Rotary dim d (even). */
  dim: number;
  /** RoPE base; default 10000. */
  base?: number;
  /** Per-pair rescale factors λ [d/2] used while seqLen ≤ L (or seqLen absent). */
  shortFactor: ArrayLike<number>;
  /** Per-pair rescale factors λ [d/2] used once seqLen > L. */
  longFactor: ArrayLike<number>;
  /** L: the pre-training context (HF `original_max_position_embeddings`). */
  originalMaxPositions: number;
  /** Current sequence length (max position id + 1); absent means short. */
  seqLen?: number;
}

/** Options of `longRopeAttentionFactor`: `factor`, `originalMaxPositions`, `attentionFactor`. */
export interface LongRoPEAttentionOptions {
  /** s = max_position_embeddings / L in Phi-3 (HF derives it so when the config has no factor); > 0. */
  factor: number;
  /** L: the pre-training context. */
  originalMaxPositions: number;
  /** Explicit multiplier on cos and sin; overrides the computed one. */
  attentionFactor?: number;
}

/** θ′_i = 1/(λ_i · base^{2i/d}) with λ = longFactor if seqLen > L else shortFactor: [d/2] in float64. */
export function longRopeInvFreq(options: LongRoPEOptions): Float64Array {
  return longRopeTable('longRopeInvFreq', options);
}

/** longRopeInvFreq with `op` naming the public entry in errors (fromHFConfig). */
export function longRopeTable(op: string, options: LongRoPEOptions): Float64Array {
  const o = expectOptions(op, 'options', options, ['dim', 'base', 'shortFactor', 'longFactor', 'originalMaxPositions', 'seqLen']);
  const { shortFactor, longFactor, seqLen } = o;
  const dim = checkRotaryDim(op, 'dim', o.dim);
  const base = o.base === undefined ? 10000 : checkBase(op, 'base', o.base);
  const originalMaxPositions = checkContextLength(op, 'originalMaxPositions', o.originalMaxPositions);
  if (seqLen !== undefined) expectSize(op, 'seqLen', seqLen, 0); // max position id + 1
  for (const [name, list] of [['shortFactor', shortFactor], ['longFactor', longFactor]] as const) {
    const factors = checkInvFreq(op, name, list, dim / 2); // finite numbers, one per pair
    for (let i = 0; i < factors.length; i++) {
      if (!(factors[i]! > 0)) throw new ValueError(op, `${name}[${i}] is not a positive finite factor — ${name}[${i}]=${factors[i]} (θ′_i = θ_i/λ_i)`, name);
    }
  }
  const rescale = seqLen !== undefined && seqLen > originalMaxPositions ? longFactor : shortFactor;
  const theta = invFreqLadder(dim, base);
  for (let i = 0; i < theta.length; i++) theta[i] = theta[i]! / rescale[i]!;
  return theta;
}

/** attentionFactor if given; else 1 for s ≤ 1, otherwise √(1 + ln s / ln L) (Phi-3). */
export function longRopeAttentionFactor(options: LongRoPEAttentionOptions): number {
  return longRopeAttention('longRopeAttentionFactor', options);
}

/** longRopeAttentionFactor with `op` naming the public entry in errors. */
export function longRopeAttention(op: string, options: LongRoPEAttentionOptions): number {
  const { factor, originalMaxPositions, attentionFactor } = expectOptions(op, 'options', options, ['factor', 'originalMaxPositions', 'attentionFactor']);
  if (attentionFactor !== undefined) return checkAttentionFactor(op, attentionFactor);
  checkScale(op, 'factor', factor); // s = max_position_embeddings / L
  checkContextLength(op, 'originalMaxPositions', originalMaxPositions);
  if (originalMaxPositions < 2) throw new ValueError(op, `originalMaxPositions must be ≥ 2 (the factor divides by ln L), got ${originalMaxPositions}`, 'originalMaxPositions');
  return factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(originalMaxPositions));
}
