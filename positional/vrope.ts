/**
 * VRoPE (Liu, Guo, Tang, et al., "VRoPE: Rotary Position Embedding for Video Large Language Models", EMNLP 2025;
 * reference johncaged/VRoPE `vrope.py`). Two ideas:
 * - symmetric coordinates: a frame token at (row i, col j) gets four "virtual axes", the corner-reflected sums
 *   c0 = i + j, c1 = i + (W'−1−j), c2 = (H'−1−i) + j, c3 = (H'−1−i) + (W'−1−j), and rotation pair k reads
 *   c_{k mod 4}; every direction in the frame is seen both increasing and decreasing, so RoPE's long-range decay
 *   favours no corner;
 * - continuity: frame τ occupies the index span [s + τ·L_f, s + τ·L_f + L_f − 1], L_f = H'+W'−1, so a video's
 *   ids start right after the text before it and the text after it starts right after the video's last id.
 * Text tokens get the same 1-D index on all four axes, so text-only input is plain 1-D RoPE.
 *
 * As the reference: no temporal channel (its `half_time_dim` is forced to 0), integer ids, 2-D frames only (the
 * reference's n-D generalisation uses 2^n sums; segments here are [t, h, w]). The reference emits one position per
 * pair and leaves the rotation to the backbone; here the rotation is `applyRotary` with the backbone's ladder
 * (default base 1e6 and the 'half' layout, as ropelab's M-RoPE and VideoRoPE — both configurable; the reference
 * does not say). Segments are M-RoPE's (mrope.ts), so one segment list drives M-RoPE, VideoRoPE, HoPE and VRoPE.
 */
import { ShapeError, Tensor, expectNumber, expectOptions, fmtShape, expectPositions, expectSize } from '../core/index.js';
import { MultiAxisRoPE, allocate } from './multi-axis.js';
import { countTokens, encodingOptions, llmGrid, mergeSizeOf, type MRoPEPositionOptions, type MRoPESegment } from './mrope.js';
import { checkBase, checkInvFreq, checkRotaryDim, checkTableSize } from './checks.js';
import { invFreqLadder, type PairLayout } from './rope.js';

/** Number of VRoPE virtual axes for 2-D frames (2^2 corner-reflected sums). */
export const VROPE_AXES = 4;

/** Options of `vropePositions`: `start`. */
export interface VRoPEPositionOptions extends MRoPEPositionOptions {
  /** Id of the first token (the reference's `current_index`, which carries over between calls); default 0. */
  start?: number;
}

/**
 * VRoPE's 4-axis position ids for a sequence of text and vision segments, as rows and as a tensor [L, 4], and the delta
 * decoding continues from.
 */
export interface VRoPEPositions {
  /** [4][L] rows c0, c1, c2, c3 (row a, token n = ids[a][n]); a text token has its 1-D index on all four. */
  readonly ids: readonly [Float64Array, Float64Array, Float64Array, Float64Array];
  /** The same as a tensor [L, 4] for `VRoPE` (float64). */
  readonly positions: Tensor;
  /** Decoding continues 1-D: the token at sequence index c ≥ L gets c + delta on every axis (L + delta = next id). */
  readonly delta: number;
  /** Token index at which each segment starts. */
  readonly offsets: readonly number[];
}

/**
 * VRoPE coordinates for a text/image/video sequence (vrope.py `generate_1d_positions`, `generate_nd_positions`), in
 * M-RoPE's segment format (grids merged by spatialMergeSize, default 2). Text of length L at s: s, …, s+L−1 on
 * every axis, then s += L. Vision (T, H', W') at s, L_f = H'+W'−1, frame τ, pixel (i, j), b = s + τ·L_f:
 * c0 = b+i+j, c1 = b+i+(W'−1−j), c2 = b+(H'−1−i)+j, c3 = b+(H'−1−i)+(W'−1−j) (VRoPE's symmetric coordinate
 * transform), then s += T·L_f. Tokens in t-major, then row, then column order. delta = s_final − L.
 */
export function vropePositions(segments: readonly MRoPESegment[], options: VRoPEPositionOptions = {}): VRoPEPositions {
  const op = 'vropePositions';
  const o = expectOptions(op, 'options', options, ['spatialMergeSize', 'start']);
  const m = mergeSizeOf(o, op);
  const start = o.start === undefined ? 0 : expectNumber(op, 'start', o.start, { integer: true, min: 0 }); // an id: ids are whole numbers from 0
  const L = countTokens(segments, m, op, VROPE_AXES);
  const ids: [Float64Array, Float64Array, Float64Array, Float64Array] = [new Float64Array(L), new Float64Array(L), new Float64Array(L), new Float64Array(L)];
  const [c0, c1, c2, c3] = ids;
  const offsets: number[] = [];
  let s = start;
  let n = 0;
  segments.forEach((seg, i) => {
    offsets.push(n);
    if (seg.type === 'text') {
      for (let k = 0; k < seg.length; k++, n++) c0[n] = c1[n] = c2[n] = c3[n] = s + k;
      s += seg.length;
      return;
    }
    const [T, H, W] = llmGrid(seg, i, m, op);
    const span = H + W - 1; // L_f: ids one frame uses (vrope.py nd_index_len = Σdims − n + 1)
    for (let tau = 0; tau < T; tau++) {
      const b = s + tau * span;
      for (let r = 0; r < H; r++) {
        for (let c = 0; c < W; c++, n++) {
          c0[n] = b + r + c;
          c1[n] = b + r + (W - 1 - c);
          c2[n] = b + (H - 1 - r) + c;
          c3[n] = b + (H - 1 - r) + (W - 1 - c);
        }
      }
    }
    s += T * span;
  });
  const flat = new Float64Array(L * VROPE_AXES);
  for (let k = 0; k < L; k++) for (let a = 0; a < VROPE_AXES; a++) flat[k * VROPE_AXES + a] = ids[a]![k]!;
  return { ids, positions: new Tensor(flat, [L, VROPE_AXES]), delta: s - L, offsets };
}

/** F [4, P]: pair k rotates by c_{k mod 4}·θ_k (vrope.py channel allocation `i % 2^n`), the ladder kept per pair. */
export function vropeFrequencies(invFreq: ArrayLike<number>): Tensor {
  return frequenciesOf('vropeFrequencies', invFreq);
}

/** vropeFrequencies with `op` naming the caller (invFreq checked here). */
function frequenciesOf(op: string, invFreq: unknown): Tensor {
  const theta = checkInvFreq(op, 'invFreq', invFreq);
  return allocate(op, Array.from({ length: theta.length }, (_, k) => k % VROPE_AXES), theta, VROPE_AXES);
}

/**
 * The reference's own output: one position per rotation pair, [..., L, pairs] with column k = c_{k mod 4}
 * (vrope.py returns this [seq_len, half_head_dim] matrix; angle = column·θ_k).
 */
export function vropePairPositions(positions: Tensor, pairs: number): Tensor {
  const op = 'vropePairPositions';
  expectPositions(op, 'positions', positions);
  if (positions.ndim < 2 || positions.shape[positions.ndim - 1] !== VROPE_AXES) {
    throw new ShapeError(op, `positions must be [..., L, 4] — positions=${fmtShape(positions.shape)}`, 'positions');
  }
  expectSize(op, 'pairs', pairs);
  const rows = positions.size / VROPE_AXES;
  checkTableSize(op, 'positions rows × pairs', rows, pairs);
  const out = new Float64Array(rows * pairs);
  for (let r = 0; r < rows; r++) for (let k = 0; k < pairs; k++) out[r * pairs + k] = positions.data[r * VROPE_AXES + (k % VROPE_AXES)]!;
  return new Tensor(out, [...positions.shape.slice(0, -1), pairs]);
}

/** Options of `VRoPE`: `rotaryDim`, `base`, `invFreq`, `layout`, `attentionFactor`. */
export interface VRoPEOptions {
  /** Rotated channels per head (even, ≤ headDim); default headDim. */
  rotaryDim?: number;
  /** RoPE base of the backbone ladder θ_k = base^(−2k/rotaryDim); default 1e6 (Qwen2-VL's, as M-RoPE/VideoRoPE). */
  base?: number;
  /** Precomputed ladder (overrides base), e.g. a context-extension table. */
  invFreq?: ArrayLike<number>;
  /** Pair layout of the backbone; default 'half' (HF Qwen2 / Llama). */
  layout?: PairLayout;
  /** Multiplier on rotated q and k. */
  attentionFactor?: number;
}

/** The ladder of a VRoPE head: `invFreq` if given, else base^(−2k/rotaryDim); checked against headDim. */
function backboneInvFreq(op: string, headDim: unknown, options: VRoPEOptions): Float64Array {
  const d = expectSize(op, 'headDim', headDim);
  const rotaryDim = options.rotaryDim === undefined ? checkRotaryDim(op, 'headDim', d) : checkRotaryDim(op, 'rotaryDim', options.rotaryDim, d);
  if (options.invFreq === undefined) return invFreqLadder(rotaryDim, options.base === undefined ? 1e6 : checkBase(op, 'base', options.base));
  return checkInvFreq(op, 'invFreq', options.invFreq, rotaryDim / 2);
}

/**
 * VRoPE for attention: positions [T, 4] or [B, T, 4] from `vropePositions` (1-D positions [T] mean text: the same
 * index on all four axes, so decoding continues as 1-D RoPE at cache index + delta).
 */
export class VRoPE extends MultiAxisRoPE {
  readonly invFreq: Float64Array;

  constructor(readonly headDim: number, options: VRoPEOptions = {}) {
    const op = 'VRoPE';
    const o = expectOptions(op, 'options', options, ['rotaryDim', 'base', 'invFreq', 'layout', 'attentionFactor']);
    const invFreq = backboneInvFreq(op, headDim, o);
    super(frequenciesOf(op, invFreq), { ...encodingOptions(op, o), rotaryDim: 2 * invFreq.length, name: 'vrope', headDim });
    this.invFreq = invFreq;
  }

  protected override opName(): string {
    return 'VRoPE';
  }
}
