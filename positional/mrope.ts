/**
 * M-RoPE, the multimodal rotary embedding of Qwen2-VL (Wang et al. 2024, "Qwen2-VL", §2.1 "Multimodal Rotary
 * Position Embedding"; HF transformers `models/qwen2_vl/modeling_qwen2_vl.py`). Every token carries three position
 * ids (t, h, w); the rotation pairs are split into contiguous sections (`mrope_section`, [16, 24, 24] for a 128-dim
 * head) so that the highest-frequency pairs read t, the next ones h and the lowest ones w. Text tokens get
 * t = h = w, so on text M-RoPE is plain 1-D RoPE; a vision block gets grid coordinates offset by a running start,
 * and the next segment starts at the largest id used so far + 1.
 *
 * Choices this file makes:
 * - the start of each segment follows the paper's rule (and HF transformers' token-id-based `get_rope_index`, up to
 *   the commit before PR #43972): previous maximum id over all three rows + 1. The current HF code advances by
 *   max(h, w)/merge only and ignores t, so after a video whose t extent is the largest the two differ (the text
 *   after a 4×2×2 video gets ids 3, 4 there, 6, 7 here);
 * - `delta` = max id + 1 − L, unclamped (can be negative), as the current HF code; the legacy code clamped it at 0;
 * - ids are float64 (the builders here and in video-rope.ts share the segment format and the result type).
 */
import { DTypeError, ShapeError, Tensor, ValueError, describeValue, expectNumber, expectOptions, expectSize } from '../core/index.js';
import { MultiAxisRoPE, allocate, sectionsOf } from './multi-axis.js';
import {
  checkAttentionFactor, checkBase, checkInvFreq, checkLayout, checkReals, checkRotaryDim, checkTableSize,
} from './checks.js';
import { invFreqLadder, type PairLayout } from './rope.js';

// ── segments and position ids ──

/**
 * One run of the token sequence. Text: `length` tokens (special tokens such as <|vision_start|> are text).
 * Image/video: `grid` = [t, h, w] as the vision processor reports it (Qwen2-VL's image_grid_thw / video_grid_thw):
 * t temporal patches (frames / temporal_patch_size for videos, 1 for images), h × w patches before the spatial
 * merge; it contributes t · (h/m) · (w/m) tokens, m = spatialMergeSize.
 */
export type MRoPESegment =
  | { readonly type: 'text'; readonly length: number }
  | { readonly type: 'image' | 'video'; readonly grid: readonly [number, number, number] };

/** Options of `mropePositions` and `mropeTokenCount`: `spatialMergeSize`. */
export interface MRoPEPositionOptions {
  /** m: the vision merger joins m × m patches into one LLM token; default 2 (Qwen2-VL). */
  spatialMergeSize?: number;
}

/**
 * Qwen2-VL's 3-row position ids (t, h, w) for a sequence of text and vision segments, and the delta decoding continues
 * from.
 */
export interface MRoPEPositions {
  /** [3][L] position ids, rows t, h, w (row a, token n = ids[a][n]). */
  readonly ids: readonly [Float64Array, Float64Array, Float64Array];
  /** rope_deltas: decoding continues 1-D, the token at sequence index c ≥ L gets c + delta on all three rows. */
  readonly delta: number;
  /** Token index at which each segment starts (length = number of segments). */
  readonly offsets: readonly number[];
}

/** The LLM grid [t, h/m, w/m] of an image/video segment, after validating it; `op` names the caller in errors. */
export function llmGrid(segment: MRoPESegment, index: number, spatialMergeSize: number, op: string): [number, number, number] {
  const where = `segments[${index}]`;
  if (segment === null || typeof segment !== 'object') throw new DTypeError(op, `${where} is not a segment object — got ${describeValue(segment)} ({type:'text', length} or {type:'image'|'video', grid:[t,h,w]})`, 'segments');
  if (segment.type !== 'image' && segment.type !== 'video') {
    throw new ValueError(op, `${where} has unknown type — type=${String((segment as { type: unknown }).type)} ('text', 'image' or 'video')`, 'segments');
  }
  const g = segment.grid;
  if (!Array.isArray(g) || g.length !== 3 || g.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new ValueError(op, `${where}.grid is not three positive integers — grid=[${String(g)}] ([t, h, w] before the spatial merge)`, 'segments');
  }
  const [t, h, w] = g;
  if (h % spatialMergeSize !== 0 || w % spatialMergeSize !== 0) {
    throw new ValueError(op, `${where}.grid h, w are not multiples of the merge size — grid=[${g.join(',')}], spatialMergeSize=${spatialMergeSize} (the merger joins m × m patches)`, 'segments');
  }
  return [t, h / spatialMergeSize, w / spatialMergeSize];
}

/** Length of a text segment after validation. */
function textLength(segment: { readonly length: number }, index: number, op: string): number {
  const L = segment.length;
  if (!Number.isInteger(L) || L < 0) throw new ValueError(op, `segments[${index}].length is not a non-negative integer — length=${L} (tokens in the text run)`, 'segments');
  return L;
}

/** spatialMergeSize of checked options (positive integer; undefined gives 2, null is refused). */
export function mergeSizeOf(options: MRoPEPositionOptions, op: string): number {
  const m: unknown = options.spatialMergeSize;
  if (m === undefined) return 2;
  if (typeof m !== 'number') throw new DTypeError(op, `spatialMergeSize must be a positive integer, got ${describeValue(m)}`, 'spatialMergeSize');
  if (!Number.isInteger(m) || m < 1) throw new ValueError(op, `spatialMergeSize is not a positive integer — spatialMergeSize=${m}`, 'spatialMergeSize');
  return m;
}

/** Number of LLM tokens the segments produce. */
export function mropeTokenCount(segments: readonly MRoPESegment[], options: MRoPEPositionOptions = {}): number {
  const op = 'mropeTokenCount';
  return countTokens(segments, mergeSizeOf(expectOptions(op, 'options', options, ['spatialMergeSize']), op), op);
}

/**
 * Tokens of the segments, checked (merge size m); `op` names the caller in errors. With `rows`, the id table
 * [rows][L] a builder will allocate must fit in tensors (checked before anything is allocated).
 */
export function countTokens(segments: readonly MRoPESegment[], m: number, op: string, rows?: number): number {
  if (!Array.isArray(segments)) throw new DTypeError(op, `segments is not an array — segments=${describeValue(segments)}`, 'segments');
  const L = segments.reduce((n: number, s, i) => {
    if (s !== null && typeof s === 'object' && s.type === 'text') return n + textLength(s, i, op);
    const [t, h, w] = llmGrid(s, i, m, op);
    return n + t * h * w;
  }, 0);
  if (rows !== undefined) checkTableSize(op, 'segments', L, rows);
  return L;
}

/**
 * Qwen2-VL position ids (Qwen2-VL §2.1; HF `get_rope_index`, paper rule): running start s = 0; a text run of
 * length L gets s…s+L−1 on all three rows; a vision block (T, H', W') = (t, h/m, w/m) gets (s+τ, s+r, s+c) for
 * frame τ, row r, column c, enumerated τ-major then row then column; after each segment s = (max id so far) + 1.
 * delta = (max id + 1) − L (0 for an empty sequence).
 */
export function mropePositions(segments: readonly MRoPESegment[], options: MRoPEPositionOptions = {}): MRoPEPositions {
  const op = 'mropePositions';
  const m = mergeSizeOf(expectOptions(op, 'options', options, ['spatialMergeSize']), op);
  const L = countTokens(segments, m, op, 3);
  const ids: [Float64Array, Float64Array, Float64Array] = [new Float64Array(L), new Float64Array(L), new Float64Array(L)];
  const offsets: number[] = [];
  let n = 0;
  let start = 0; // s = previous max id + 1
  segments.forEach((seg, i) => {
    offsets.push(n);
    if (seg.type === 'text') {
      for (let k = 0; k < seg.length; k++, n++) ids[0][n] = ids[1][n] = ids[2][n] = start + k; // t = h = w: 1-D RoPE
      start += seg.length;
      return;
    }
    const [T, H, W] = llmGrid(seg, i, m, op);
    for (let tau = 0; tau < T; tau++) {
      for (let r = 0; r < H; r++) {
        for (let c = 0; c < W; c++, n++) {
          ids[0][n] = start + tau; // Qwen2-VL §2.1: (t, h, w) = s + (τ, r, c)
          ids[1][n] = start + r;
          ids[2][n] = start + c;
        }
      }
    }
    start += Math.max(T, H, W); // max id of the block + 1 over all three rows (paper rule)
  });
  return { ids, delta: L === 0 ? 0 : start - L, offsets };
}

/** ids [3][L] (rows t, h, w) → positions Tensor [L, 3] for `MRoPE` / `VideoRoPE` (float64). */
export function mropePositionsTensor(ids: readonly ArrayLike<number>[]): Tensor {
  const op = 'mropePositionsTensor';
  if (!Array.isArray(ids)) throw new DTypeError(op, `ids must be three rows (t, h, w) of position ids, got ${describeValue(ids)}`, 'ids');
  const rows = ids.map((row: unknown, a) => checkReals(op, `ids[${a}]`, row));
  if (rows.length !== 3 || rows.some((row) => row.length !== rows[0]!.length)) {
    throw new ShapeError(op, `ids must be three rows (t, h, w) of equal length — got ${rows.length} rows of lengths [${rows.map((r) => r.length).join(',')}]`, 'ids');
  }
  const L = rows[0]!.length;
  checkTableSize(op, 'ids', L, 3);
  const out = new Float64Array(3 * L);
  for (let n = 0; n < L; n++) for (let a = 0; a < 3; a++) out[3 * n + a] = rows[a]![n]!;
  return new Tensor(out, [L, 3]);
}

/**
 * Positions [count] of the tokens at sequence (cache) indices start … start+count−1 during decoding: c + delta
 * (HF `prepare_inputs_for_generation` with cached rope_deltas). 1-D: `MRoPE` / `VideoRoPE` copy them to t, h, w.
 */
export function mropeDecodePositions(delta: number, start: number, count = 1): Tensor {
  const op = 'mropeDecodePositions';
  const d = expectNumber(op, 'delta', delta); // fractional for VideoRoPE / HoPE spacings (e.g. γ = 0.75)
  const s = expectNumber(op, 'start', start, { integer: true, min: 0 });
  const n = expectSize(op, 'count', count, 0);
  return new Tensor(Float64Array.from({ length: n }, (_, i) => s + i + d), [n]);
}

// ── frequencies ──

/** Options of `mropeInvFreq` and `mropeFrequencies`: `base`, `invFreq`. */
export interface MRoPEFrequencyOptions {
  /** θ; default 1e6 (Qwen2-VL's rope_theta). */
  base?: number;
  /** Precomputed inverse frequencies [headDim/2] (overrides base; e.g. a scaled table). */
  invFreq?: ArrayLike<number>;
}

/**
 * ω_j = base^(−2j/headDim), j < headDim/2 (RoFormer eq. 15), after checking that mropeSection is three
 * non-negative integers summing to headDim/2 (HF splits the cos/sin table by mrope_section·2).
 */
export function mropeInvFreq(headDim: number, mropeSection: readonly number[], options: MRoPEFrequencyOptions = {}): Float64Array {
  const op = 'mropeInvFreq';
  return sectionInvFreq(op, headDim, mropeSection, expectOptions(op, 'options', options, FREQUENCY_KEYS));
}

/** The option keys of the frequency functions. */
export const FREQUENCY_KEYS = ['base', 'invFreq'] as const;

/** A [t, h, w] section list: three non-negative integers (`op` names the caller). */
export function checkSections(op: string, mropeSection: unknown): [number, number, number] {
  if (!Array.isArray(mropeSection) || mropeSection.length !== 3 || mropeSection.some((s) => typeof s !== 'number' || !Number.isInteger(s) || s < 0)) {
    const shown = Array.isArray(mropeSection) ? `[${mropeSection.map((v) => describeValue(v)).join(',')}]` : describeValue(mropeSection);
    throw new ValueError(op, `mropeSection is not three non-negative integers — mropeSection=${shown} (pairs for t, h, w)`, 'mropeSection');
  }
  return [mropeSection[0], mropeSection[1], mropeSection[2]];
}

/**
 * mropeInvFreq of options whose keys the caller checked (they may hold its own options too): headDim, the sections
 * and the base / invFreq fields are checked under `op`.
 */
export function sectionInvFreq(op: string, headDim: unknown, mropeSection: unknown, options: MRoPEFrequencyOptions): Float64Array {
  const d = checkRotaryDim(op, 'headDim', headDim);
  const sections = checkSections(op, mropeSection);
  const total = sections[0] + sections[1] + sections[2];
  if (total !== d / 2) {
    throw new ValueError(op, `mropeSection sums to ${total} — mropeSection=[${sections.join(',')}], headDim=${d} (sum must be headDim/2 = ${d / 2})`, 'mropeSection');
  }
  if (options.invFreq !== undefined) return checkInvFreq(op, 'invFreq', options.invFreq, d / 2);
  return invFreqLadder(d, options.base === undefined ? 1e6 : checkBase(op, 'base', options.base));
}

/** F [3, headDim/2]: pair j reads axis t for j < s_t, h for the next s_h pairs, w for the last s_w (HF
 * `apply_multimodal_rotary_pos_emb`, which splits cos/sin into chunks by mrope_section). */
export function mropeFrequencies(headDim: number, mropeSection: readonly number[], options: MRoPEFrequencyOptions = {}): Tensor {
  const op = 'mropeFrequencies';
  const invFreq = sectionInvFreq(op, headDim, mropeSection, expectOptions(op, 'options', options, FREQUENCY_KEYS));
  return allocate(op, sectionsOf(op, mropeSection), invFreq, 3);
}

/**
 * The options a MultiAxisRoPE subclass (MRoPE, VideoRoPE, HoPE) passes on, checked under `op`: undefined keeps the
 * default, null and wrong values are refused.
 */
export function encodingOptions(op: string, options: MRoPEOptions): { layout: PairLayout; attentionFactor: number } {
  return { layout: checkLayout(op, options.layout), attentionFactor: checkAttentionFactor(op, options.attentionFactor) };
}

/** The option keys of MRoPE, VideoRoPE and HoPE. */
export const ENCODING_KEYS = [...FREQUENCY_KEYS, 'layout', 'attentionFactor'] as const;

// ── encoding ──

/** Options of `MRoPE`: `layout` and `attentionFactor`, besides the frequency options it extends. */
export interface MRoPEOptions extends MRoPEFrequencyOptions {
  /** Pair layout; default 'half' (rotate-half, as Qwen2-VL). */
  layout?: PairLayout;
  /** Multiplier on rotated q and k (HF attention_scaling); default 1. */
  attentionFactor?: number;
}

/**
 * M-RoPE for attention: positions [T, 3] (`mropePositionsTensor(mropePositions(…).ids)`), [B, T, 3], or 1-D
 * [T] (text / decoding: the same id on t, h, w). Pair j rotates by pos[axis(j)]·ω_j (`multiAxisAngles` with
 * `mropeFrequencies`; HF `apply_multimodal_rotary_pos_emb`).
 */
export class MRoPE extends MultiAxisRoPE {
  readonly mropeSection: readonly [number, number, number];
  readonly invFreq: Float64Array;

  constructor(readonly headDim: number, mropeSection: readonly number[], options: MRoPEOptions = {}) {
    const op = 'MRoPE';
    const o = expectOptions(op, 'options', options, ENCODING_KEYS);
    const invFreq = sectionInvFreq(op, headDim, mropeSection, o);
    super(allocate(op, sectionsOf(op, mropeSection), invFreq, 3), { ...encodingOptions(op, o), name: 'mrope', headDim });
    this.mropeSection = [mropeSection[0]!, mropeSection[1]!, mropeSection[2]!];
    this.invFreq = invFreq;
  }

  protected override opName(): string {
    return 'MRoPE';
  }
}
