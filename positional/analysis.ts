/**
 * Read-outs of a RoPE frequency table for plots and reports: the wavelength of each pair (RoFormer, Su et al. 2021,
 * §3.2: θ_i = base^(−2i/d); λ_i = 2π/θ_i, the number of tokens for one full turn) and the long-term decay curve
 * B_m/(d/2) of Men et al. 2024, the similar-vs-random attention preference as a function of distance, 1 at m = 0.
 */
import { ValueError, expectAllocatable, expectInteger, expectOneOf, expectRequiredOptions } from '../core/index.js';
import { decayAt } from './base-bound.js';
import { checkInvFreq } from './checks.js';

/** λ_i = 2π/θ_i per pair; θ_i = 0 gives Infinity (a pair that never turns). */
export function pairWavelengths(invFreq: ArrayLike<number>): Float64Array {
  const theta = checkInvFreq('pairWavelengths', 'invFreq', invFreq);
  const out = new Float64Array(theta.length);
  for (let i = 0; i < out.length; i++) {
    const t = theta[i]!;
    out[i] = t === 0 ? Infinity : (2 * Math.PI) / t;
  }
  return out;
}

/** How decayCurve places its distances: log-spaced over [1, maxDistance] (after m = 0), or evenly over [0, maxDistance]. */
export type DecaySpacing = 'log' | 'linear';

/** Options of `decayCurve`: `maxDistance`, `points`, `spacing`. */
export interface DecayCurveOptions {
  /** The largest distance m (an integer ≥ 1); always the last point. */
  maxDistance: number;
  /** At most this many distances (≥ 2; distances that round to the same integer appear once); default 512. */
  points?: number;
  /** Default 'log'. */
  spacing?: DecaySpacing;
}

/**
 * [m, B_m/(d/2)] with B_m = Σ_i cos(m·θ_i) (Men et al. 2024, long-term decay) at integer distances from 0 to
 * maxDistance inclusive (both always present), at most `points` of them (default 512; distances that round to the
 * same integer appear once), increasing. 'log' (default) spaces m = 1 … maxDistance geometrically after m = 0.
 */
export function decayCurve(invFreq: ArrayLike<number>, options: DecayCurveOptions): Array<[number, number]> {
  const op = 'decayCurve';
  const theta = checkInvFreq(op, 'invFreq', invFreq);
  const { maxDistance, points = 512, spacing = 'log' } = expectRequiredOptions(op, options, ['maxDistance', 'points', 'spacing'], 'with maxDistance');
  if (theta.length === 0) throw new ValueError(op, 'no rotation pairs — invFreq.length=0 (B/(d/2) needs d/2 ≥ 1)', 'invFreq');
  expectInteger(op, 'maxDistance', maxDistance, { min: 1 }); // distances are token offsets
  expectInteger(op, 'points', points, { min: 2 }); // both endpoints are drawn
  expectAllocatable(op, 'points', points);
  expectOneOf(op, 'spacing', spacing, ['log', 'linear']);
  const distances: number[] = [0];
  if (spacing === 'linear') {
    for (let k = 1; k < points; k++) distances.push(Math.round((k * maxDistance) / (points - 1)));
  } else {
    const steps = points - 1; // m = 1 … maxDistance in `steps` geometric steps
    const logMax = Math.log(maxDistance);
    for (let k = 0; k < steps; k++) distances.push(Math.round(Math.exp(steps === 1 ? logMax : (k * logMax) / (steps - 1))));
  }
  distances[distances.length - 1] = maxDistance;
  const half = invFreq.length;
  const out: Array<[number, number]> = [];
  for (const m of distances) {
    if (out.length > 0 && m <= out[out.length - 1]![0]) continue;
    out.push([m, decayAt(m, theta) / half]);
  }
  return out;
}
