/**
 * Linear Position Interpolation (Chen et al. 2023, the PI rule f′(x, m) = f(x, m·L/L′)): dividing every position by s
 * equals dividing every inverse frequency by s, θ′_i = θ_i / s. HF `rope_type: 'linear'`; attention factor 1.
 */
import { expectOptions } from '../core/index.js';
import { checkBase, checkFactor, checkRotaryDim } from './checks.js';
import { invFreqLadder, type RoPEScalingOptions } from './rope.js';

/** θ′_i = base^(−2i/d) / factor for i < d/2: [d/2] in float64. factor ≥ 1 (1 gives plain RoPE). */
export function piInvFreq(options: RoPEScalingOptions): Float64Array {
  return piTable('piInvFreq', options);
}

/** piInvFreq with `op` naming the public entry in errors (fromHFConfig, the registry). */
export function piTable(op: string, options: RoPEScalingOptions): Float64Array {
  const o = expectOptions(op, 'options', options, ['dim', 'base', 'factor']);
  const dim = checkRotaryDim(op, 'dim', o.dim);
  const base = o.base === undefined ? 10000 : checkBase(op, 'base', o.base);
  const s = checkFactor(op, 'factor', o.factor);
  const out = invFreqLadder(dim, base);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / s;
  return out;
}
