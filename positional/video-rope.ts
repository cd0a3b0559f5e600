/**
 * VideoRoPE (Wei, Liu, et al., "VideoRoPE: What Makes for Good Video Rotary Position Embedding?", ICML 2025),
 * read from the reference code Wiselnn570/VideoRoPE `videorope-transformer/modeling_videorope.py`
 * (`apply_m_modify_multimodal_rotary_pos_emb`, `get_t_scale_rope_index`). Three changes to M-RoPE:
 * - LTA, low-frequency temporal allocation: the first s_h + s_w pairs (highest frequencies) alternate h, w, h, w, …
 *   and the last s_t pairs (lowest frequencies) read t, so temporal similarity does not oscillate over frames;
 * - DL, diagonal layout: a frame's spatial ids are centred on its temporal id, so frames advance along t = h = w;
 * - ATS, adjustable temporal spacing: frame τ sits at δ·τ from the block start (δ = 2 in the reference's training
 *   and generation paths).
 *
 * Segments and the result are those of M-RoPE (mrope.ts). Differences from M-RoPE's builder, all from the reference
 * code: each segment starts at the previous segment's **t-row** maximum + 1 (the last frame's h/w ids may reach
 * past it, which the reference intends: "next text near last t"); delta = (t-row max + 1) − L; ids may be
 * fractional (δ is a float) and negative (centring in a first segment). The reference forms ids in float32; here
 * they are float64, equal whenever δ·τ and the ids are exact in float32 (any dyadic δ at moderate lengths).
 */
import { DTypeError, Tensor, ValueError, describeValue, expectOptions } from '../core/index.js';
import { MultiAxisRoPE, allocate } from './multi-axis.js';
import {
  ENCODING_KEYS, FREQUENCY_KEYS, checkSections, countTokens, encodingOptions, llmGrid, mergeSizeOf, sectionInvFreq, type MRoPEOptions,
  type MRoPEFrequencyOptions, type MRoPEPositionOptions, type MRoPEPositions, type MRoPESegment,
} from './mrope.js';

/** Options of `videoRopePositions`: `temporalSpacing`. */
export interface VideoRoPEPositionOptions extends MRoPEPositionOptions {
  /** δ: temporal id step between consecutive frames (temporal patches); default 2 (the reference's value). */
  temporalSpacing?: number;
}

/**
 * VideoRoPE position ids (DL + ATS, VideoRoPE §3 / `get_t_scale_rope_index`): running start s = 0; text of length
 * L gets s…s+L−1 on all rows, then s += L; a vision block (T, H', W') = (t, h/m, w/m) gets, for frame τ, row r,
 * column c: t = s + δτ, h = s + δτ + r − ⌊(H'−1)/2⌋, w = s + δτ + c − ⌊(W'−1)/2⌋, then s = s + δ(T−1) + 1
 * (t-row max + 1). delta = (t-row max + 1) − L (0 for an empty sequence).
 */
export function videoRopePositions(segments: readonly MRoPESegment[], options: VideoRoPEPositionOptions = {}): MRoPEPositions {
  const op = 'videoRopePositions';
  const o = expectOptions(op, 'options', options, ['spatialMergeSize', 'temporalSpacing']);
  const m = mergeSizeOf(o, op);
  const spacing: unknown = o.temporalSpacing === undefined ? 2 : o.temporalSpacing;
  if (typeof spacing !== 'number') throw new DTypeError(op, `temporalSpacing must be a finite number ≥ 0, got ${describeValue(spacing)}`, 'temporalSpacing');
  if (!Number.isFinite(spacing) || spacing < 0) throw new ValueError(op, `temporalSpacing is not a finite number ≥ 0 — temporalSpacing=${spacing} (δ, the frame step)`, 'temporalSpacing');
  return diagonalPositions(segments, m, op, () => spacing);
}

/**
 * The diagonal-layout ids shared by VideoRoPE and HoPE: `spacingOf(i)` gives vision segment i's frame step (called
 * once per vision segment, in order). Text ids are (text index) + base; frame τ sits at t = (δτ + text) + base, with
 * h and w centred on t; after a block, base = t-row max + 1 (same order of operations as the references).
 */
export function diagonalPositions(segments: readonly MRoPESegment[], m: number, op: string, spacingOf: (segment: number) => number): MRoPEPositions {
  const L = countTokens(segments, m, op, 3);
  const ids: [Float64Array, Float64Array, Float64Array] = [new Float64Array(L), new Float64Array(L), new Float64Array(L)];
  const offsets: number[] = [];
  let n = 0;
  let base = 0;
  let text = 0;
  segments.forEach((seg, i) => {
    offsets.push(n);
    if (seg.type === 'text') {
      for (let k = 0; k < seg.length; k++, n++) ids[0][n] = ids[1][n] = ids[2][n] = text + k + base;
      text += seg.length;
      return;
    }
    const [T, H, W] = llmGrid(seg, i, m, op);
    const spacing = spacingOf(i);
    const rowCentre = Math.floor((H - 1) / 2);
    const colCentre = Math.floor((W - 1) / 2);
    for (let tau = 0; tau < T; tau++) {
      const t = spacing * tau + text + base; // ATS: t = s + δ·τ
      for (let r = 0; r < H; r++) {
        for (let c = 0; c < W; c++, n++) {
          ids[0][n] = t;
          ids[1][n] = r - rowCentre + t; // DL: spatial ids centred on the frame's t
          ids[2][n] = c - colCentre + t;
        }
      }
    }
    base = spacing * (T - 1) + text + base + 1; // the last frame's t (δ ≥ 0) + 1
    text = 0;
  });
  let tMax = -Infinity;
  for (let k = 0; k < L; k++) tMax = Math.max(tMax, ids[0][k]!);
  return { ids, delta: L === 0 ? 0 : tMax + 1 - L, offsets };
}

/** Which position row a rotation pair reads. */
export type VideoRoPEAxis = 't' | 'h' | 'w';

/**
 * LTA pair → axis map for mrope_section [s_t, s_h, s_w] (`apply_m_modify_multimodal_rotary_pos_emb`): pair j reads
 * h if j < s_h + s_w and j is even, w if j < s_h + s_w and j is odd, t for the last s_t pairs (the lowest
 * frequencies). Only the totals matter: [16, 24, 24] gives 24 h, 24 w, 16 t.
 */
export function videoRopeAxisOfPair(mropeSection: readonly number[]): VideoRoPEAxis[] {
  return axisOfPair('videoRopeAxisOfPair', mropeSection);
}

/** videoRopeAxisOfPair with `op` naming the caller. */
function axisOfPair(op: string, mropeSection: unknown): VideoRoPEAxis[] {
  const [st, sh, sw] = checkSections(op, mropeSection);
  const spatial = sh + sw;
  return Array.from({ length: spatial + st }, (_, j): VideoRoPEAxis => (j >= spatial ? 't' : j % 2 === 0 ? 'h' : 'w'));
}

const AXIS_INDEX: Record<VideoRoPEAxis, number> = { t: 0, h: 1, w: 2 };

/** F [3, headDim/2] (rows t, h, w) with the LTA allocation; ω_j = base^(−2j/headDim), base default 1e6. */
export function videoRopeFrequencies(headDim: number, mropeSection: readonly number[], options: MRoPEFrequencyOptions = {}): Tensor {
  const op = 'videoRopeFrequencies';
  const invFreq = sectionInvFreq(op, headDim, mropeSection, expectOptions(op, 'options', options, FREQUENCY_KEYS));
  return allocate(op, axisOfPair(op, mropeSection).map((a) => AXIS_INDEX[a]), invFreq, 3);
}

/** Options of `VideoRoPE`: the same as `MRoPE`'s. */
export type VideoRoPEOptions = MRoPEOptions;

/**
 * VideoRoPE for attention: positions [T, 3] (`mropePositionsTensor(videoRopePositions(…).ids)`), [B, T, 3], or 1-D
 * [T] (text / decoding). Pair j rotates by pos[axis(j)]·ω_j with the LTA axis map (VideoRoPE §3, reference
 * `apply_m_modify_multimodal_rotary_pos_emb`), rotate-half layout.
 */
export class VideoRoPE extends MultiAxisRoPE {
  readonly mropeSection: readonly [number, number, number];
  readonly invFreq: Float64Array;
  readonly axisOfPair: readonly VideoRoPEAxis[];

  constructor(readonly headDim: number, mropeSection: readonly number[], options: VideoRoPEOptions = {}) {
    const op = 'VideoRoPE';
    const o = expectOptions(op, 'options', options, ENCODING_KEYS);
    const invFreq = sectionInvFreq(op, headDim, mropeSection, o);
    const axes = axisOfPair(op, mropeSection);
    super(allocate(op, axes.map((a) => AXIS_INDEX[a]), invFreq, 3), { ...encodingOptions(op, o), name: 'video-rope', headDim });
    this.mropeSection = [mropeSection[0]!, mropeSection[1]!, mropeSection[2]!];
    this.invFreq = invFreq;
    this.axisOfPair = axes;
  }

  protected override opName(): string {
    return 'VideoRoPE';
  }
}
