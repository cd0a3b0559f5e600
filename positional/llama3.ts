/**
 * Llama 3.1 frequency scaling (Meta `apply_scaling` in llama-models; HF `_compute_llama3_parameters`): with
 * λ_i = 2π/θ_i, keep θ_i where λ_i < L/high_freq_factor, use θ_i/s where λ_i > L/low_freq_factor, and in between
 * θ′_i = (1 − γ)·θ_i/s + γ·θ_i with γ = (L/λ_i − low_freq_factor)/(high_freq_factor − low_freq_factor).
 * Attention factor 1.
 */
import { ValueError } from '../core/index.js';
import { ropeInvFreq } from './rope.js';

export interface Llama3Options {
  /** Rotary dim d (even). */
  dim: number;
  /** RoPE base; default 10000 (Llama 3 uses 500000). */
  base?: number;
  /** Scaling factor s ≥ 1 (Llama 3.1: 8). */
  factor: number;
  /** L: the pre-training context (HF `original_max_position_embeddings`; Llama 3.1: 8192). */
  originalMaxPositions: number;
  /** Wavelengths longer than L/lowFreqFactor are divided by s; default 1. */
  lowFreqFactor?: number;
  /** Wavelengths shorter than L/highFreqFactor are kept; default 4 (must exceed lowFreqFactor). */
  highFreqFactor?: number;
}

/** θ′ [d/2] in float64: kept, smoothed or divided by s per pair as above. */
export function llama3InvFreq(options: Llama3Options): Float64Array {
  const op = 'llama3InvFreq';
  const { dim, base = 10000, factor, originalMaxPositions, lowFreqFactor = 1, highFreqFactor = 4 } = options;
  if (!(Number.isInteger(dim) && dim > 0 && dim % 2 === 0)) throw new ValueError(op, `rotary dim is not a positive even integer — dim=${dim} (pairs of channels)`, 'dim');
  if (!(Number.isFinite(base) && base > 1)) throw new ValueError(op, `RoPE base is not a finite number > 1 — base=${base} (θ_i = base^(−2i/d))`, 'base');
  if (!(Number.isFinite(factor) && factor >= 1)) throw new ValueError(op, `scaling factor is not a finite number ≥ 1 — factor=${factor} (1 is plain RoPE)`, 'factor');
  if (!(Number.isFinite(originalMaxPositions) && originalMaxPositions > 0)) {
    throw new ValueError(op, `pre-training context is not a positive finite length — originalMaxPositions=${originalMaxPositions} (HF original_max_position_embeddings)`, 'originalMaxPositions');
  }
  if (!(Number.isFinite(lowFreqFactor) && lowFreqFactor > 0 && Number.isFinite(highFreqFactor) && highFreqFactor > lowFreqFactor)) {
    throw new ValueError(op, `frequency band is empty or inverted — lowFreqFactor=${lowFreqFactor}, highFreqFactor=${highFreqFactor} (0 < lowFreqFactor < highFreqFactor)`, 'highFreqFactor');
  }
  const longestKept = originalMaxPositions / highFreqFactor;
  const shortestDivided = originalMaxPositions / lowFreqFactor;
  const theta = ropeInvFreq(dim, base);
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
