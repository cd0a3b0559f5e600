/**
 * NTK-aware base scaling (bloc97 2023; YaRN, Peng et al. 2023, §3.1: b′ = b·s^{d/(d−2)}) and its dynamic form
 * (emozilla 2023; YaRN §3.3: b′ = b·(s·ℓ/L − (s−1))^{d/(d−2)}, ℓ = max(current length, L)). Raising the base keeps
 * the fastest pair (θ′_0 = θ_0) and interpolates the slowest by exactly s (θ′_{d/2−1} = θ_{d/2−1}/s); the rotation
 * itself is `applyRotary`, unchanged.
 */
import { ValueError, expectOptions, expectPositions, expectRequiredOptions, expectSize, type Tensor } from '../core/index.js';
import {
  checkBase, checkContextLength, checkFactor, checkHead, checkLayout, checkRotaryDim,
} from './checks.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
import { anglesOf, invFreqLadder, rotateBy, type PairLayout, type RoPEScalingOptions } from './rope.js';

/** dynamicNtkInvFreq's options: RoPEScalingOptions (dim ≥ 4 here: the exponent is d/(d−2)) and the lengths. */
export interface DynamicNTKOptions extends RoPEScalingOptions {
  /** L: the trained context (HF `max_position_embeddings`); up to this length the table is plain RoPE. */
  maxPositions: number;
  /** Current sequence length ℓ (HF: max position id + 1); absent means L, i.e. plain RoPE. */
  seqLen?: number;
}

/** Static NTK-aware: θ′_i = (base·s^{d/(d−2)})^{−2i/d}, d ≥ 4. Returns [d/2] in float64. */
export function ntkInvFreq(options: RoPEScalingOptions): Float64Array {
  const { dim, base, factor } = checkNtk('ntkInvFreq', options);
  return invFreqLadder(dim, base * Math.pow(factor, dim / (dim - 2)));
}

/**
 * Dynamic NTK (HF `_compute_dynamic_ntk_parameters`): ℓ = max(seqLen, L), base′ = base·(s·ℓ/L − (s−1))^{d/(d−2)},
 * θ′_i = base′^{−2i/d}. Identity while ℓ ≤ L. Returns [d/2] in float64.
 */
export function dynamicNtkInvFreq(options: DynamicNTKOptions): Float64Array {
  return dynamicNtkTable('dynamicNtkInvFreq', options);
}

/** dynamicNtkInvFreq with `op` naming the public entry in errors. */
export function dynamicNtkTable(op: string, options: DynamicNTKOptions): Float64Array {
  const { dim, base, factor } = checkNtk(op, options, ['maxPositions', 'seqLen']);
  const maxPositions = checkContextLength(op, 'maxPositions', options.maxPositions);
  const seqLen = options.seqLen === undefined ? undefined : checkContextLength(op, 'seqLen', options.seqLen);
  return dynamicNtkLadder(dim, base, factor, maxPositions, seqLen ?? maxPositions);
}

/** The dynamic NTK table for checked arguments: ℓ = max(seqLen, L), base′ = base·(s·ℓ/L − (s−1))^{d/(d−2)}. */
function dynamicNtkLadder(dim: number, base: number, factor: number, maxPositions: number, seqLen: number): Float64Array {
  const length = Math.max(seqLen, maxPositions);
  return invFreqLadder(dim, base * Math.pow((factor * length) / maxPositions - (factor - 1), dim / (dim - 2)));
}

function checkNtk(op: string, options: RoPEScalingOptions, extra: readonly string[] = []): { dim: number; base: number; factor: number } {
  const o = expectOptions(op, 'options', options, ['dim', 'base', 'factor', ...extra]);
  const dim = checkRotaryDim(op, 'dim', o.dim);
  if (dim < 4) throw new ValueError(op, `dim must be ≥ 4 (the NTK exponent is d/(d−2)), got ${dim}`, 'dim');
  const base = o.base === undefined ? 10000 : checkBase(op, 'base', o.base);
  return { dim, base, factor: checkFactor(op, 'factor', o.factor) };
}

/**
 * DynamicNTKRoPE's options: dynamicNtkInvFreq's factor, maxPositions and base (dim comes from headDim or rotaryDim,
 * seqLen from the positions of each call), and how the encoding rotates.
 */
export interface DynamicNTKRoPEOptions extends Pick<DynamicNTKOptions, 'factor' | 'maxPositions' | 'base'> {
  /** Rotated channels per head (even, ≤ headDim); default all of them. */
  rotaryDim?: number;
  /** Channel pairing; default 'half' (HF). */
  layout?: PairLayout;
}

/**
 * Dynamic NTK RoPE whose table follows the current sequence length ℓ = max position + 1, with the state machine of
 * HF's `dynamic_rope_update`: when ℓ exceeds the longest length seen (`cachedSeqLen`, initially L) the table is
 * rebuilt for ℓ; when ℓ drops below L after a growth it returns to plain RoPE; otherwise the last table stays.
 *
 * KV-cache caveat (YaRN §3.3): `encodeQK` rotates keys at their own positions before attention caches them, as HF
 * does, so keys cached while the table was built for a shorter ℓ keep that older rotation and no longer match
 * queries rotated by the grown table; the logits then depend on absolute position. To be exact, cache keys before
 * the rotation and rotate every key with the current table at each step (`rotate(k, kPositions)`).
 */
export class DynamicNTKRoPE extends PositionalEncoding {
  readonly name: string = 'dynamic-ntk';
  readonly layout: PairLayout;
  readonly rotaryDim: number;
  readonly base: number;
  readonly factor: number;
  readonly maxPositions: number;
  /** Plain RoPE θ_i = base^(−2i/d), [rotaryDim/2]: the table whenever ℓ fits the trained context. */
  readonly originalInvFreq: Float64Array;
  private table: Float64Array;
  private longest: number;

  constructor(readonly headDim: number, options: DynamicNTKRoPEOptions) {
    super();
    const op = 'DynamicNTKRoPE';
    expectSize(op, 'headDim', headDim);
    const o = expectRequiredOptions(op, options, ['factor', 'maxPositions', 'rotaryDim', 'base', 'layout'], 'with factor and maxPositions');
    this.rotaryDim = o.rotaryDim === undefined ? checkRotaryDim(op, 'headDim', headDim) : checkRotaryDim(op, 'rotaryDim', o.rotaryDim, headDim);
    this.layout = checkLayout(op, o.layout);
    this.base = o.base === undefined ? 10000 : checkBase(op, 'base', o.base);
    this.factor = checkFactor(op, 'factor', o.factor);
    this.maxPositions = checkContextLength(op, 'maxPositions', o.maxPositions);
    this.originalInvFreq = dynamicNtkTable(op, { dim: this.rotaryDim, base: this.base, factor: this.factor, maxPositions: this.maxPositions });
    this.table = this.originalInvFreq;
    this.longest = this.maxPositions;
  }

  /** The table in use now, [rotaryDim/2] (do not mutate). */
  get invFreq(): Float64Array {
    return this.table;
  }

  /** Longest length the current table has been grown for (HF `max_seq_len_cached`); L until the first growth. */
  get cachedSeqLen(): number {
    return this.longest;
  }

  /** Apply HF's update rule for a forward pass whose positions reach seqLen − 1; returns the table now in use. */
  updateFor(seqLen: number): Float64Array {
    return this.commit(this.stateFor(checkContextLength('DynamicNTKRoPE.updateFor', 'seqLen', seqLen)));
  }

  /**
   * HF's update rule for a length from checked positions (max position + 1, which may be fractional or ≤ 0), without
   * changing anything: the table and longest length a call of that length would leave.
   */
  private stateFor(seqLen: number): { table: Float64Array; longest: number } {
    let table = this.table;
    let longest = this.longest;
    if (seqLen > longest) {
      table = dynamicNtkLadder(this.rotaryDim, this.base, this.factor, this.maxPositions, seqLen);
      longest = seqLen;
    }
    if (seqLen < this.maxPositions && this.longest > this.maxPositions) {
      table = this.originalInvFreq;
      longest = this.maxPositions;
    }
    return { table, longest };
  }

  private commit(state: { table: Float64Array; longest: number }): Float64Array {
    this.table = state.table;
    this.longest = state.longest;
    return state.table;
  }

  /** Angles [T, pairs] (or [B, 1, T, pairs] for positions [B, T]) with the current table; no update. */
  angles(positions: Positions): Tensor {
    expectPositions('DynamicNTKRoPE', 'positions', positions);
    return anglesFor(positions, this.table);
  }

  /** Rotate x [..., T, headDim] by positions [T] (or [B, T] with x [B, H, T, headDim]) with the current table. */
  rotate(x: Tensor, positions: Positions): Tensor {
    const op = 'DynamicNTKRoPE';
    checkHead(op, 'x', x, this.headDim);
    expectPositions(op, 'positions', positions);
    return this.rotateWith(x, positions, this.table);
  }

  /**
   * Update the table for ℓ = max(q and k positions) + 1 (no update without positions), then rotate q and k with it.
   * Both rotations run with the new table before it is kept: a call that fails (positions that miss the sequence)
   * leaves the state as it was.
   */
  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    const op = 'DynamicNTKRoPE';
    checkHead(op, 'q', q, this.headDim);
    checkHead(op, 'k', k, this.headDim);
    expectPositions(op, 'qPositions', qPositions);
    expectPositions(op, 'kPositions', kPositions);
    const last = Math.max(maxOf(qPositions), maxOf(kPositions));
    const next = last > -Infinity ? this.stateFor(last + 1) : { table: this.table, longest: this.longest };
    const encoded = { q: this.rotateWith(q, qPositions, next.table), k: this.rotateWith(k, kPositions, next.table) };
    this.commit(next);
    return encoded;
  }

  /** Rotate checked x by checked positions with `table`; rotateBy refuses positions that miss x's sequence. */
  private rotateWith(x: Tensor, positions: Positions, table: Float64Array): Tensor {
    return rotateBy('DynamicNTKRoPE', x, anglesFor(positions, table), { layout: this.layout, rotaryDim: this.rotaryDim });
  }
}

/** Angles [T, pairs], or [B, 1, T, pairs] for positions [B, T], of checked positions with `table`. */
function anglesFor(positions: Positions, table: Float64Array): Tensor {
  const a = anglesOf(positions, table);
  return positions.ndim === 2 ? a.reshape([positions.shape[0]!, 1, positions.shape[1]!, table.length]) : a;
}

function maxOf(positions: Positions): number {
  let m = -Infinity;
  for (let i = 0; i < positions.size; i++) m = Math.max(m, positions.data[i]!);
  return m;
}
