/**
 * Linear Position Interpolation (Chen et al. 2023, the PI rule f′(x, m) = f(x, m·L/L′)): dividing every position by s
 * equals dividing every inverse frequency by s, θ′_i = θ_i / s. HF `rope_type: 'linear'`; attention factor 1.
 */
import { checkFactor, checkInvFreq } from './checks.js';

/** θ′_i = θ_i / factor for each pair: invFreq [pairs] → [pairs], float64. factor ≥ 1 (1 gives back invFreq). */
export function piInvFreq(invFreq: ArrayLike<number>, factor: number): Float64Array {
  return piTable('piInvFreq', invFreq, factor);
}

/** piInvFreq with `op` naming the public entry in errors (fromHFConfig, the registry). */
export function piTable(op: string, invFreq: ArrayLike<number>, factor: number): Float64Array {
  const s = checkFactor(op, 'factor', factor);
  const out = checkInvFreq(op, 'invFreq', invFreq);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / s;
  return out;
}
