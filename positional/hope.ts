/**
 * HoPE, Hybrid of Position Embedding (Li, Qin, Ou, Xu, Xu, "HoPE: Hybrid of Position Embedding for Length
 * Generalization in Vision-Language Models", NeurIPS 2025; reference hrlics/HoPE `modeling_hope.py`). Not the ACL
 * 2025 "HoPE: High-frequency rotary Position Encoding" (Chen et al.).
 * - Hybrid frequency allocation (`apply_hybrid_multimodal_rotary_pos_emb`): with mrope_section [s_t, s_h, s_w],
 *   the first S = s_h + s_w pairs (highest frequencies) alternate h, w, h, w, … as in VideoRoPE, and the last s_t
 *   pairs (lowest frequencies, VideoRoPE's temporal slots) get frequency 0 — cos 1, sin 0 for every token, text
 *   included. Those pairs are position-free (NoPE), so HoPE deliberately departs from 1-D RoPE on text: text-only
 *   HoPE is RoPE with the s_t lowest frequencies zeroed (p-RoPE with p = S/P), not RoPE.
 * - Position ids (`get_dynamic_rope_index`): VideoRoPE's diagonal layout with temporal spacing γ: a vision block
 *   starting at s puts frame τ, row r, column c at t = s + γτ, h = t + r − ⌊(H'−1)/2⌋, w = t + c − ⌊(W'−1)/2⌋;
 *   every segment starts at (t-row max of the previous one) + 1. Float ids.
 * - Dynamic temporal scaling: while training, γ is drawn per vision segment from {0.5, 0.75, 1, 1.25, 1.5}; at
 *   inference the user picks γ (the reference asserts one is chosen; its V-NIAH evaluation uses 0.75).
 * Time is still encoded, through the t offset inside h and w; the t row itself never reaches a rotation.
 * Segments, results and defaults are those of ropelab's M-RoPE/VideoRoPE (mrope.ts): spatialMergeSize 2, base 1e6.
 */
import {
  Generator, ShapeError, Tensor, ValueError, describeValue, expectGenerator, expectOptions, fmtShape,
  expectPositions, expectRequiredOptions,
} from '../core/index.js';
import { MultiAxisRoPE, allocate, axisAngles } from './multi-axis.js';
import {
  ENCODING_KEYS, FREQUENCY_KEYS, checkSections, encodingOptions, mergeSizeOf, sectionInvFreq, type MRoPEOptions, type MRoPEFrequencyOptions,
  type MRoPEPositionOptions, type MRoPEPositions, type MRoPESegment,
} from './mrope.js';
import { checkReals } from './checks.js';
import { diagonalPositions } from './video-rope.js';

/** The spacings dynamic temporal scaling draws from while training (modeling_hope.py `forward`). */
export const HOPE_TRAINING_SCALES: readonly number[] = [0.5, 0.75, 1, 1.25, 1.5];

/** The spacing the reference's V-NIAH evaluation uses at inference (vision_niah/eval_vision_niah.py). */
export const HOPE_VNIAH_SCALE = 0.75;

/** What a HoPE pair reads: h, w, or nothing (a zero-frequency NoPE pair, VideoRoPE's temporal slot). */
export type HoPEAxis = 'h' | 'w' | null;

/**
 * Pair → axis map of hybrid frequency allocation (`apply_hybrid_multimodal_rotary_pos_emb`): pair j < S = s_h + s_w
 * reads h when j is even and w when odd; the last s_t pairs read nothing. Only s_t and S matter, as in the
 * reference (it regroups the sections to [s_t, s_h + s_w]).
 */
export function hopeAxisOfPair(mropeSection: readonly number[]): HoPEAxis[] {
  return axisOfPair('hopeAxisOfPair', mropeSection);
}

/** hopeAxisOfPair with `op` naming the caller. */
function axisOfPair(op: string, mropeSection: unknown): HoPEAxis[] {
  const [st, sh, sw] = checkSections(op, mropeSection);
  const spatial = sh + sw;
  return Array.from({ length: spatial + st }, (_, j): HoPEAxis => (j >= spatial ? null : j % 2 === 0 ? 'h' : 'w'));
}

const AXIS_INDEX = { h: 1, w: 2 } as const;

/** F [3, P] of a HoPE head after checking headDim, sections and the frequency fields of `options` under `op`. */
function frequenciesOf(op: string, headDim: unknown, mropeSection: unknown, options: MRoPEFrequencyOptions): { F: Tensor; invFreq: Float64Array } {
  const invFreq = sectionInvFreq(op, headDim, mropeSection, options);
  return { F: allocate(op, axisOfPair(op, mropeSection).map((a) => (a === null ? null : AXIS_INDEX[a])), invFreq, 3), invFreq };
}

/** F [3, headDim/2] over rows (t, h, w): θ_j on row h (even spatial j) or w (odd), row t and the last s_t pairs 0. */
export function hopeFrequencies(headDim: number, mropeSection: readonly number[], options: MRoPEFrequencyOptions = {}): Tensor {
  const op = 'hopeFrequencies';
  return frequenciesOf(op, headDim, mropeSection, expectOptions(op, 'options', options, FREQUENCY_KEYS)).F;
}

/** Options of `hopeAngles`: `headDim`, `mropeSection`. */
export interface HoPEAnglesOptions extends MRoPEFrequencyOptions {
  headDim: number;
  /** [s_t, s_h, s_w], summing to headDim/2 ([16, 24, 24] for Qwen2-VL's 128-dim head). */
  mropeSection: readonly number[];
}

/**
 * φ[n, j] = h_n·θ_j (j < S even), w_n·θ_j (j < S odd), 0 (j ≥ S) (HoPE, hybrid frequency allocation). positions:
 * [N, 3] or [B, N, 3] as (t, h, w), or [N] for text (the same id on every row) → angles [N, P] / [B, N, P];
 * θ_j = base^(−2j/headDim), base default 1e6. Differentiable in positions.
 */
export function hopeAngles(positions: Tensor, options: HoPEAnglesOptions): Tensor {
  const op = 'hopeAngles';
  expectPositions(op, 'positions', positions);
  const o = expectRequiredOptions(op, options, ['headDim', 'mropeSection', ...FREQUENCY_KEYS], '{ headDim, mropeSection }');
  const { F } = frequenciesOf(op, o.headDim, o.mropeSection, o);
  if (positions.ndim === 1) return axisAngles(op, positions.unsqueeze(-1).expand([positions.shape[0]!, 3]), F);
  if ((positions.ndim !== 2 && positions.ndim !== 3) || positions.shape[positions.ndim - 1] !== 3) {
    throw new ShapeError(op, `positions are not [N], [N, 3] or [B, N, 3] (t, h, w) — positions=${fmtShape(positions.shape)}`, 'positions');
  }
  return axisAngles(op, positions, F);
}

/** Training-time dynamic temporal scaling: γ drawn uniformly from `scales` with `generator`, once per vision segment. */
export interface HoPEScaleSampling {
  generator: Generator;
  /** Default HOPE_TRAINING_SCALES = {0.5, 0.75, 1, 1.25, 1.5}. */
  scales?: readonly number[];
}

/** Options of `hopePositions`: `temporalScale`. */
export interface HoPEPositionOptions extends MRoPEPositionOptions {
  /** γ: a fixed spacing (inference: the caller chooses, e.g. HOPE_VNIAH_SCALE) or a sampler (training). */
  temporalScale: number | HoPEScaleSampling;
}

/** HoPE's position ids: `MRoPEPositions` (rows, delta, offsets) plus the temporal scale γ each vision segment used. */
export interface HoPEPositions extends MRoPEPositions {
  /** γ used by each vision segment, in order. */
  readonly temporalScales: readonly number[];
}

/** A non-empty list of finite spacings > 0 (a copy). */
function checkScales(op: string, scales: unknown): Float64Array {
  const list = checkReals(op, 'scales', scales);
  if (list.length === 0 || list.some((v) => !(v > 0))) {
    throw new ValueError(op, `scales is not a non-empty list of finite positive spacings — scales=[${Array.from(list).join(',')}]`, 'scales');
  }
  return list;
}

/** One draw of dynamic temporal scaling: scales[u], u uniform over the indices (the reference's random.choice). */
export function hopeTemporalScale(generator: Generator, scales: readonly number[] = HOPE_TRAINING_SCALES): number {
  const op = 'hopeTemporalScale';
  expectGenerator(op, 'generator', generator);
  const list = checkScales(op, scales);
  return list[generator.int(0, list.length)]!;
}

/**
 * HoPE position ids (modeling_hope.py `get_dynamic_rope_index`), the result shaped as M-RoPE's. Running base = 0;
 * text of length L gets (text so far + k) + base on all three rows; a vision block (T, H', W') = (t, h/m, w/m)
 * with spacing γ gets t = (γτ + text so far) + base, h = t + r − ⌊(H'−1)/2⌋, w = t + c − ⌊(W'−1)/2⌋ (dynamic
 * temporal scaling on VideoRoPE's diagonal layout), then base = t-row max + 1 (trailing text may overlap the last
 * frame's h/w ids, as the reference intends). delta = (t-row max + 1) − L (0 for an empty sequence).
 */
export function hopePositions(segments: readonly MRoPESegment[], options: HoPEPositionOptions): HoPEPositions {
  const op = 'hopePositions';
  const o = expectRequiredOptions(op, options, ['spatialMergeSize', 'temporalScale'], '{ temporalScale }');
  const scale: unknown = o.temporalScale;
  let sample: () => number;
  if (typeof scale === 'number') {
    if (!(scale > 0) || !Number.isFinite(scale)) {
      throw new ValueError(op, `temporalScale is not a finite positive spacing — temporalScale=${scale} (the reference asserts γ > 0 at inference)`, 'temporalScale');
    }
    sample = () => scale;
  } else if (scale === null || typeof scale !== 'object' || !((scale as HoPEScaleSampling).generator instanceof Generator)) {
    throw new ValueError(op, `temporalScale is neither a spacing γ nor { generator, scales? } — temporalScale=${describeValue(scale)}`, 'temporalScale');
  } else {
    const sampler = expectOptions(op, 'temporalScale', scale as HoPEScaleSampling, ['generator', 'scales']);
    const scales = checkScales(op, sampler.scales === undefined ? HOPE_TRAINING_SCALES : sampler.scales);
    sample = () => scales[sampler.generator.int(0, scales.length)]!;
  }
  const temporalScales: number[] = [];
  const positions = diagonalPositions(segments, mergeSizeOf(o, op), op, () => {
    const gamma = sample();
    temporalScales.push(gamma);
    return gamma; // dynamic temporal scaling: t = s + γ·τ on VideoRoPE's diagonal layout
  });
  return { ...positions, temporalScales };
}

/** Options of `HoPE`: the same as `MRoPE`'s. */
export type HoPEOptions = MRoPEOptions;

/**
 * HoPE for attention: positions [T, 3] (`mropePositionsTensor(hopePositions(…).ids)`), [B, T, 3], or 1-D [T]
 * (text / decoding: the same id on every row). Rotate-half layout by default, θ = 1e6 by default; the t row never
 * reaches a rotation and the last s_t pairs pass through unrotated.
 */
export class HoPE extends MultiAxisRoPE {
  readonly mropeSection: readonly [number, number, number];
  readonly invFreq: Float64Array;
  readonly axisOfPair: readonly HoPEAxis[];
  /** s_t: the lowest-frequency pairs, zero frequency for every token. */
  readonly temporalPairs: number;

  constructor(readonly headDim: number, mropeSection: readonly number[], options: HoPEOptions = {}) {
    const op = 'HoPE';
    const o = expectOptions(op, 'options', options, ENCODING_KEYS);
    const { F, invFreq } = frequenciesOf(op, headDim, mropeSection, o);
    super(F, { ...encodingOptions(op, o), name: 'hope', headDim });
    this.mropeSection = [mropeSection[0]!, mropeSection[1]!, mropeSection[2]!];
    this.invFreq = invFreq;
    this.axisOfPair = axisOfPair(op, mropeSection);
    this.temporalPairs = mropeSection[0]!;
  }

  protected override opName(): string {
    return 'HoPE';
  }
}
