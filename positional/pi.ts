/**
 * Linear Position Interpolation (Chen et al. 2023, the PI rule f′(x, m) = f(x, m·L/L′)): dividing every position by s
 * equals dividing every inverse frequency by s, θ′_i = θ_i / s. HF `rope_type: 'linear'`; attention factor 1.
 */
import { ValueError } from '../core/index.js';

/** θ′_i = θ_i / factor for each pair: invFreq [pairs] → [pairs], float64. factor ≥ 1 (1 gives back invFreq). */
export function piInvFreq(invFreq: ArrayLike<number>, factor: number): Float64Array {
  if (!(Number.isFinite(factor) && factor >= 1)) {
    throw new ValueError('piInvFreq', `scaling factor is not a finite number ≥ 1 — factor=${factor} (interpolation squeezes positions by factor ≥ 1)`, 'factor');
  }
  const out = new Float64Array(invFreq.length);
  for (let i = 0; i < out.length; i++) {
    const theta = invFreq[i]!;
    if (!(Number.isFinite(theta) && theta >= 0)) {
      throw new ValueError('piInvFreq', `invFreq[${i}] is not a finite non-negative frequency — invFreq[${i}]=${theta} (inverse frequencies are ≥ 0)`, 'invFreq');
    }
    out[i] = theta / factor;
  }
  return out;
}
