/**
 * Llama 3.1 frequency scaling (Meta `apply_scaling` in llama-models; HF `_compute_llama3_parameters`): with
 * λ_i = 2π/θ_i, keep θ_i where λ_i < L/high_freq_factor, use θ_i/s where λ_i > L/low_freq_factor, and in between
 * θ′_i = (1 − γ)·θ_i/s + γ·θ_i with γ = (L/λ_i − low_freq_factor)/(high_freq_factor − low_freq_factor).
 * Attention factor 1.
 */
import { ValueError, expectOptions } from '../core/index.js';
import { checkBase, checkContextLength, checkFactor, checkRotaryDim } from './checks.js';
import { invFreqLadder, type RoPEScalingOptions } from './rope.js';

/** llama3InvFreq's options: RoPEScalingOptions (Llama 3.1: base 500000, factor 8) and the wavelength band. */
export interface Llama3Options extends RoPEScalingOptions {
  /** L: the pre-training context (HF `original_max_position_embeddings`; Llama 3.1: 8192). */
  originalMaxPositions: number;
  /** Wavelengths longer than L/lowFreqFactor are divided by s; default 1. */
  lowFreqFactor?: number;
  /** Wavelengths shorter than L/highFreqFactor are kept; default 4 (must exceed lowFreqFactor). */
  highFreqFactor?: number;
}

/** θ′ [d/2] in float64: kept, smoothed or divided by s per pair as above. */
export function llama3InvFreq(options: Llama3Options): Float64Array {
  return llama3Table('llama3InvFreq', options);
}

/** llama3InvFreq with `op` naming the public entry in errors (fromHFConfig, the registry). */
export function llama3Table(op: string, options: Llama3Options): Float64Array {
  const o = expectOptions(op, 'options', options, ['dim', 'base', 'factor', 'originalMaxPositions', 'lowFreqFactor', 'highFreqFactor']);
  const { lowFreqFactor = 1, highFreqFactor = 4 } = o;
  const dim = checkRotaryDim(op, 'dim', o.dim);
  const base = o.base === undefined ? 10000 : checkBase(op, 'base', o.base);
  const factor = checkFactor(op, 'factor', o.factor);
  const originalMaxPositions = checkContextLength(op, 'originalMaxPositions', o.originalMaxPositions);
  if (!(Number.isFinite(lowFreqFactor) && lowFreqFactor > 0 && Number.isFinite(highFreqFactor) && highFreqFactor > lowFreqFactor)) {
    throw new ValueError(op, `frequency band is empty or inverted — lowFreqFactor=${lowFreqFactor}, highFreqFactor=${highFreqFactor} (0 < lowFreqFactor < highFreqFactor)`, 'highFreqFactor');
  }
  const longestKept = originalMaxPositions / highFreqFactor;
  const shortestDivided = originalMaxPositions / lowFreqFactor;
  const theta = invFreqLadder(dim, base);
  const out = new Float64Array(theta.length);
  for (let i = 0; i < out.length; i++) {
    const t = theta[i]!;
    const wavelength = (2 * Math.PI) / t;
    if (wavelength < longestKept) out[i] = t;
    else if (wavelength > shortestDivided) out[i] = t / factor;
    else {
      const smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
      out[i] = ((1 - smooth) * t) / factor + smooth * t;
    }
  }
  return out;
}
