/**
 * HiRoPE (Zhang, Li, Zhang, Jin, "HiRoPE: Length Extrapolation for Code Models Using Hierarchical Position",
 * ACL 2024, arXiv 2403.19115). No reference code exists; this follows the paper's §3: every token gets a
 * token-level position p_tok and a unit-level position p_hi (index of its top-level function/class/block); the
 * high-frequency pairs i < s rotate with p_tok, the low-frequency pairs i ≥ s with p_hi, each pair keeping its own
 * θ_i (§3.1); tokens closer than L_window attend with plain RoPE, and beyond the window `L_window − 1` is added to
 * the unit-level distance (§3.2). docs/notes/hirope.md explains the choices below.
 *
 * The angle table is the multi-axis core (positional/multi-axis.ts) with two axes (p_tok, p_hi) and sections
 * [s, P − s]: φ = [p_tok, p_hi] · F, F[0, i] = θ_i for i < s, F[1, i] = θ_i for i ≥ s — differentiable in the
 * positions like every multi-axis table.
 *
 * Choices this file makes (each configurable unless stated):
 * - segmentation: a small lexer and a braces/indentation heuristic (positional/source-lexer.ts), not a parser;
 * - text between units ('gap'): its own unit index (default) or the previous unit's (`gaps: 'previous'`);
 * - p_tok: reset to 0 at the start of each unit index (default; the paper's §6.1 reading) or global (`tokenIndex`);
 * - whitespace-only text between units always joins the unit before it (fixed, so blank lines add no index);
 * - tokens are characters unless the caller passes its token list (tokens map to units by their first character);
 * - the window compares global positions (`position`, 0…T−1 by default), not p_tok, so it measures real distance;
 * - the `L_window − 1` shift goes on the query's p_hi (causal attention: the query is at or after the key); a
 *   window ≤ 1 shifts nothing, and window 0 is the pure hierarchical form;
 * - `HiRoPE` (one rotation of q and k) is the window-0 form; the windowed form needs `hiropeScores` (two passes).
 */
import {
  DTypeError, ShapeError, Tensor, ValueError, add, describeValue, expectInteger, expectNumber, expectOneOf,
  expectOptions, expectTensor, fmtShape, matmul, stack, where, expectPositions, expectRequiredOptions, expectSize,
} from '../core/index.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
import {
  checkAttentionFactor, checkBase, checkHead, checkInvFreq, checkLayout, checkRotaryDim, positionsTensor,
} from './checks.js';
import { allocate, axisAngles, sectionsOf } from './multi-axis.js';
import { anglesOf as rotaryAnglesOf, invFreqLadder, rotateBy, type PairLayout } from './rope.js';
import { checkSyntax, segmentsOf, type HiRoPESegment, type HiRoPESegmentsOptions } from './source-lexer.js';

/**
 * A source unit as HiRoPE numbers it: a `HiRoPESegment` (character range and kind) and the unit-level position `index`
 * its tokens get.
 */
export interface HiRoPEUnit extends HiRoPESegment {
  /** The unit-level position p_hi given to its tokens. */
  index: number;
}

// ── hierarchical positions ──

/** Options of `hiropePositions` (`tokenIndex`, `gaps`), besides those of `hiropeSegments` it extends. */
export interface HiRoPEPositionsOptions extends HiRoPESegmentsOptions {
  /** p_tok: 'reset' restarts at 0 in each unit index (default), 'global' counts from the start. */
  tokenIndex?: 'reset' | 'global';
  /** Text between units: 'own' gives it its own running unit index (default), 'previous' the unit's before it. */
  gaps?: 'own' | 'previous';
}

/** Positions of each token at three levels, all float64 of length T (the number of tokens). */
export interface HiRoPEPositions {
  /** p_tok: token-level position. */
  token: Float64Array;
  /** p_hi: unit-level position (the unit index). */
  unit: Float64Array;
  /** Global token index 0…T−1 (plain RoPE and the window use it). */
  position: Float64Array;
  /** The segmentation with each segment's unit index; it partitions the source. */
  units: HiRoPEUnit[];
}

/**
 * Hierarchical positions for source code (HiRoPE, Zhang et al. 2024, §3.1): segment `source` into top-level units
 * (`hiropeSegments`) and give token t its unit index p_hi and its token index p_tok. `source` is a string (one token
 * per UTF-16 code unit) or the caller's token strings, whose concatenation is the source; a token belongs to the
 * segment holding its first character (an empty token to the one at its offset).
 */
export function hiropePositions(source: string | readonly string[], options: HiRoPEPositionsOptions = {}): HiRoPEPositions {
  const op = 'hiropePositions';
  const o = expectOptions(op, 'options', options, ['syntax', 'tokenIndex', 'gaps']);
  const syntax = checkSyntax(op, o.syntax);
  const tokenIndex = o.tokenIndex === undefined ? 'reset' : expectOneOf(op, 'tokenIndex', o.tokenIndex, ['reset', 'global']);
  const gaps = o.gaps === undefined ? 'own' : expectOneOf(op, 'gaps', o.gaps, ['own', 'previous']);
  let text: string;
  let offsets: Int32Array;
  if (typeof source === 'string') {
    text = source;
    offsets = Int32Array.from({ length: source.length }, (_, i) => i);
  } else if (Array.isArray(source)) {
    const tokens: readonly unknown[] = source;
    offsets = new Int32Array(tokens.length);
    let at = 0;
    tokens.forEach((t, j) => {
      if (typeof t !== 'string') throw new DTypeError(op, `source[${j}] must be a token string, got ${describeValue(t)}`, 'source');
      offsets[j] = at;
      at += t.length;
    });
    text = source.join('');
  } else {
    throw new DTypeError(op, `source must be a string or an array of token strings, got ${describeValue(source)}`, 'source');
  }

  const segments = segmentsOf(text, syntax);
  let counter = -1;
  const units: HiRoPEUnit[] = segments.map((s, ordinal) => {
    if (gaps === 'own') return { ...s, index: ordinal };
    if (s.kind !== 'gap') counter++;
    return { ...s, index: Math.max(counter, 0) };
  });

  const T = offsets.length;
  const token = new Float64Array(T);
  const unit = new Float64Array(T);
  const position = new Float64Array(T);
  let seg = 0;
  let runStart = 0;
  for (let t = 0; t < T; t++) {
    while (seg + 1 < units.length && offsets[t]! >= units[seg]!.end) seg++;
    const idx = units.length > 0 ? units[seg]!.index : 0;
    if (t > 0 && idx !== unit[t - 1]) runStart = t;
    unit[t] = idx;
    token[t] = tokenIndex === 'global' ? t : t - runStart;
    position[t] = t;
  }
  return { token, unit, position, units };
}

// ── angles and scores ──

/** Positions as a float64 tensor [T] or [B, T], or a plain array [T]. */
export type LevelPositions = Tensor | ArrayLike<number>;

function asPositions(x: LevelPositions, op: string, arg: string): Tensor {
  const t = positionsTensor(op, arg, x);
  if (t.ndim !== 1 && t.ndim !== 2) throw new ShapeError(op, `${arg}=${fmtShape(t.shape)} must be [T] or [B, T]`, arg);
  return t;
}

/**
 * φ[t, i] = p_tok[t]·θ_i for pairs i < split, p_hi[t]·θ_i for i ≥ split (Zhang et al. 2024, §3.1): token [T] (or
 * [B, T]) and unit of the same shape → angles [..., T, P], float64. split = P gives plain RoPE angles of `token`.
 * The multi-axis table with sections [split, P − split]; differentiable in token and unit when they are tensors.
 */
export function hiropeAngles(token: LevelPositions, unit: LevelPositions, invFreq: ArrayLike<number>, split: number): Tensor {
  const op = 'hiropeAngles';
  const theta = checkInvFreq(op, 'invFreq', invFreq);
  return levelAngles(op, token, unit, levelFrequencies(op, theta, checkSplit(op, split, theta.length)));
}

/** A split pair index: an integer in [0, pairs]. */
function checkSplit(op: string, split: unknown, pairs: number): number {
  return expectInteger(op, 'split', split, { min: 0, max: pairs });
}

/** F [2, P]: axis 0 (p_tok) drives pairs i < split, axis 1 (p_hi) pairs i ≥ split, each with its own θ_i. */
function levelFrequencies(op: string, invFreq: Float64Array, split: number): Tensor {
  return allocate(op, sectionsOf(op, [split, invFreq.length - split]), invFreq, 2);
}

/** Coordinates [..., T, 2] = (p_tok, p_hi + unitShift) of the levels, float64; the levels are checked here, under `op`. */
function levelCoordinates(op: string, token: unknown, unit: unknown, prefix = '', unitShift = 0): Tensor {
  const tok = asPositions(token as LevelPositions, op, `${prefix}token`);
  const hi = asPositions(unit as LevelPositions, op, `${prefix}unit`);
  if (tok.shape.length !== hi.shape.length || tok.shape.some((d, i) => d !== hi.shape[i])) {
    throw new ShapeError(op, `${prefix}token=${fmtShape(tok.shape)} and ${prefix}unit=${fmtShape(hi.shape)} differ (one of each per token)`, `${prefix}unit`);
  }
  const shifted = unitShift === 0 ? hi : add(hi, unitShift);
  return stack([tok.cast('float64'), shifted.cast('float64')], -1);
}

/** Hierarchical angles [..., T, P] of the levels through the frequency matrix F [2, P]. */
function levelAngles(op: string, token: unknown, unit: unknown, freqs: Tensor, prefix = '', unitShift = 0): Tensor {
  return axisAngles(op, levelCoordinates(op, token, unit, prefix, unitShift), freqs);
}

/** Per-token hierarchical positions; `position` (global index, for plain RoPE and the window) defaults to 0…T−1. */
export interface HiRoPELevels {
  token: LevelPositions;
  unit: LevelPositions;
  position?: LevelPositions;
}

/** Options of `hiropeScores`: `invFreq`, `split`, `window`, `layout`, `attentionFactor`. */
export interface HiRoPEScoreOptions {
  invFreq: ArrayLike<number>;
  /** Pairs i < split rotate with p_tok, i ≥ split with p_hi. */
  split: number;
  /**
   * L_window: |m − n| < window (global positions) uses plain RoPE logits; others the hierarchical ones with
   * window − 1 added to the query's p_hi (Zhang et al. 2024, §3.2). 0: none (no shift); ∞: all.
   */
  window: number;
  /** Default 'half'. */
  layout?: PairLayout;
  /** Multiplier on rotated q and k (the logit gets its square); default 1. */
  attentionFactor?: number;
}

/** Angles [..., T, P] for x [B, H, T, d]: per-sequence positions [B, T] get a head axis, [B, 1, T, P]. */
function forHeads(angles: Tensor): Tensor {
  return angles.ndim === 3 ? angles.reshape([angles.shape[0]!, 1, angles.shape[1]!, angles.shape[2]!]) : angles;
}

/**
 * HiRoPE attention logits ⟨q̃_m, k̃_n⟩ (Zhang et al. 2024, §3.2; merged as ReRoPE merges its two passes): plain
 * RoPE with global positions where |m − n| < window, else hierarchical angles with the unit-level distance
 * p_hi(m) − p_hi(n) + window − 1 — all through differentiable ops (applyRotary, matmul, where). q [..., Tq, d],
 * k [..., Tk, d] with the same heads (repeat grouped KV heads first); positions one HiRoPELevels for both
 * (self-attention) or { q, k }. Returns raw dot products [..., Tq, Tk]: the caller applies 1/√d, the causal mask
 * and softmax. A pass that the mask never selects is skipped.
 * The windowed form cannot be one rotation of q and k: a pair's angle would have to depend on the other token.
 */
export function hiropeScores(q: Tensor, k: Tensor, positions: HiRoPELevels | { q: HiRoPELevels; k: HiRoPELevels }, options: HiRoPEScoreOptions): Tensor {
  const op = 'hiropeScores';
  const o = expectRequiredOptions(op, options, ['invFreq', 'split', 'window', 'layout', 'attentionFactor'], 'with invFreq, split and window');
  const invFreq = checkInvFreq(op, 'invFreq', o.invFreq);
  const split = checkSplit(op, o.split, invFreq.length);
  const settings: ScoreSettings = {
    invFreq,
    freqs: levelFrequencies(op, invFreq, split),
    window: checkWindow(op, o.window),
    layout: checkLayout(op, o.layout),
    attentionFactor: checkAttentionFactor(op, o.attentionFactor),
  };
  return scoresOf(op, q, k, positions, settings);
}

/** A window L: a number ≥ 0, Infinity allowed (every pair inside: plain RoPE). */
function checkWindow(op: string, window: unknown): number {
  return expectNumber(op, 'window', window, { min: 0, nonFinite: true });
}

/** The shift on the query's p_hi beyond the window: L_window − 1 (Zhang et al. 2024, §3.2), none for a window ≤ 1. */
function unitShiftOf(window: number): number {
  return Math.max(window - 1, 0);
}

/** hiropeScores' options, checked. */
interface ScoreSettings {
  invFreq: Float64Array;
  /** The hierarchical frequency matrix [2, P] (levelFrequencies). */
  freqs: Tensor;
  window: number;
  layout: PairLayout;
  attentionFactor: number;
}

/** One HiRoPELevels argument: an object with token and unit (and optionally position). */
function checkLevels(op: string, arg: string, levels: unknown): HiRoPELevels {
  if (levels === null || typeof levels !== 'object' || Array.isArray(levels) || levels instanceof Tensor) {
    throw new DTypeError(op, `${arg} must be an object { token, unit, position? }, got ${describeValue(levels)}`, arg);
  }
  return levels as HiRoPELevels;
}

/** hiropeScores with checked settings; q, k and positions are checked here, under `op`. */
function scoresOf(op: string, q: unknown, k: unknown, positions: unknown, settings: ScoreSettings): Tensor {
  const { invFreq, freqs, window, layout, attentionFactor } = settings;
  expectTensor(op, 'q', q);
  expectTensor(op, 'k', k);
  const R = 2 * invFreq.length;
  const d = q.shape[q.ndim - 1];
  if (q.ndim < 2 || k.ndim < 2 || k.shape[k.ndim - 1] !== d || d! < R || q.ndim !== k.ndim || q.shape.slice(0, -2).some((n, i) => n !== k.shape[i])) {
    throw new ShapeError(op, `need q [..., Tq, d] and k [..., Tk, d] with the same leading axes and d ≥ 2·pairs = ${R} — q=${fmtShape(q.shape)}, k=${fmtShape(k.shape)}`, 'q');
  }
  const pair = checkLevels(op, 'positions', positions) as HiRoPELevels | { q: HiRoPELevels; k: HiRoPELevels };
  const split2 = 'q' in pair || 'k' in pair;
  const qLevels = split2 ? checkLevels(op, 'positions.q', (pair as { q: unknown }).q) : (pair as HiRoPELevels);
  const kLevels = split2 ? checkLevels(op, 'positions.k', (pair as { k: unknown }).k) : (pair as HiRoPELevels);
  const qArg = split2 ? 'positions.q.' : 'positions.';
  const kArg = split2 ? 'positions.k.' : 'positions.';
  const Tq = q.shape[q.ndim - 2]!;
  const Tk = k.shape[k.ndim - 2]!;
  const qPos = qLevels.position === undefined ? arangePositions(Tq) : asPositions(qLevels.position, op, `${qArg}position`);
  const kPos = kLevels.position === undefined ? arangePositions(Tk) : asPositions(kLevels.position, op, `${kArg}position`);
  const shift = Number.isFinite(window) ? unitShiftOf(window) : 0; // window ∞: no token is beyond it
  const qHier = levelAngles(op, qLevels.token, qLevels.unit, freqs, qArg, shift);
  const kHier = levelAngles(op, kLevels.token, kLevels.unit, freqs, kArg);
  const mask = windowMask(op, qPos, kPos, Tq, Tk, window);
  const rot = { layout, scale: attentionFactor, rotaryDim: R };
  const logits = (qa: Tensor, ka: Tensor): Tensor => matmul(rotateBy(op, q, forHeads(qa), rot), rotateBy(op, k, forHeads(ka), rot), { transposeB: true });
  const plain = mask.any ? logits(rotaryAnglesOf(qPos, invFreq), rotaryAnglesOf(kPos, invFreq)) : null;
  const hier = mask.all ? null : logits(qHier, kHier);
  if (hier === null) return plain!;
  if (plain === null) return hier;
  return where(mask.tensor, plain, hier);
}

function arangePositions(T: number): Tensor {
  return new Tensor(Float64Array.from({ length: T }, (_, i) => i), [T]);
}

/** 1 where |m − n| < window: [Tq, Tk] for shared positions, [B, 1, Tq, Tk] for per-sequence ones. */
function windowMask(op: string, qPos: Tensor, kPos: Tensor, Tq: number, Tk: number, window: number): { tensor: Tensor; any: boolean; all: boolean } {
  const check = (p: Tensor, T: number, arg: string): number => {
    if (p.shape[p.ndim - 1] !== T) throw new ShapeError(op, `${arg}=${fmtShape(p.shape)} does not cover ${T} tokens (one position per token)`, arg);
    return p.ndim === 2 ? p.shape[0]! : 1;
  };
  const Bq = check(qPos, Tq, 'positions.q.position');
  const Bk = check(kPos, Tk, 'positions.k.position');
  if (Bq !== Bk && Bq !== 1 && Bk !== 1) throw new ShapeError(op, `query positions=${fmtShape(qPos.shape)} and key positions=${fmtShape(kPos.shape)} have different batches`, 'positions');
  const B = Math.max(Bq, Bk);
  const data = new Float64Array(B * Tq * Tk);
  let count = 0;
  for (let b = 0; b < B; b++) {
    const qo = (Bq === 1 ? 0 : b) * Tq;
    const ko = (Bk === 1 ? 0 : b) * Tk;
    for (let m = 0; m < Tq; m++) {
      for (let n = 0; n < Tk; n++) {
        const inside = Math.abs(qPos.data[qo + m]! - kPos.data[ko + n]!) < window;
        if (inside) count++;
        data[(b * Tq + m) * Tk + n] = inside ? 1 : 0;
      }
    }
  }
  const shape = qPos.ndim === 1 && kPos.ndim === 1 ? [Tq, Tk] : [B, 1, Tq, Tk];
  return { tensor: new Tensor(data, shape), any: count > 0, all: count === data.length };
}

/** HiRoPELevels (or plain arrays) → the [T, 2] positions tensor HiRoPE.encodeQK takes: [..., 0] p_tok, [..., 1] p_hi. */
export function hiropePositionsTensor(levels: HiRoPELevels): Tensor {
  const op = 'hiropePositionsTensor';
  checkLevels(op, 'levels', levels);
  const coords = levelCoordinates(op, levels.token, levels.unit);
  if (levels.position !== undefined) asPositions(levels.position, op, 'position'); // not stored, but a bad one is a mistake
  return coords;
}

/** Options of `HiRoPE`: `split`, `base`, `invFreq`, `rotaryDim`, `layout`, `window`, `attentionFactor`. */
export interface HiRoPEOptions {
  /** Token-level pairs s (pairs i < s use p_tok); default ⌊pairs/2⌋. */
  split?: number;
  base?: number;
  /** Precomputed inverse frequencies (overrides base; e.g. a scaled table). */
  invFreq?: ArrayLike<number>;
  /** Rotated channels (even, ≤ headDim); default headDim. */
  rotaryDim?: number;
  layout?: PairLayout;
  /** L_window for `scores`; default 0 (pure hierarchical, the only form encodeQK can express). */
  window?: number;
  attentionFactor?: number;
}

/**
 * HiRoPE as a positional encoding. encodeQK rotates q and k by hierarchical angles — the window-0 form (no
 * token is inside a window of 0), which a single rotation of q and k can express; positions are [T, 2] or
 * [B, T, 2] (p_tok, p_hi), see `hiropePositionsTensor`: the multi-axis coordinates of the two levels. The windowed
 * form needs two score passes: `scores()` / `hiropeScores`. (window = ∞ would be plain RoPE with global positions.)
 */
export class HiRoPE extends PositionalEncoding {
  readonly name: string = 'hirope';
  readonly invFreq: Float64Array;
  readonly split: number;
  readonly rotaryDim: number;
  readonly layout: PairLayout;
  readonly window: number;
  readonly attentionFactor: number;
  /** The frequency matrix F [2, P] of the two levels (sections [split, P − split]). */
  readonly #freqs: Tensor;

  constructor(readonly headDim: number, options: HiRoPEOptions = {}) {
    super();
    const op = 'HiRoPE';
    expectSize(op, 'headDim', headDim);
    const o = expectOptions(op, 'options', options, ['split', 'base', 'invFreq', 'rotaryDim', 'layout', 'window', 'attentionFactor']);
    this.rotaryDim = o.rotaryDim === undefined ? checkRotaryDim(op, 'headDim', headDim) : checkRotaryDim(op, 'rotaryDim', o.rotaryDim, headDim);
    const P = this.rotaryDim / 2;
    this.invFreq = o.invFreq !== undefined
      ? checkInvFreq(op, 'invFreq', o.invFreq, P)
      : invFreqLadder(this.rotaryDim, o.base === undefined ? 10000 : checkBase(op, 'base', o.base));
    this.split = o.split === undefined ? Math.floor(P / 2) : checkSplit(op, o.split, P);
    this.layout = checkLayout(op, o.layout);
    this.window = o.window === undefined ? 0 : checkWindow(op, o.window);
    this.attentionFactor = checkAttentionFactor(op, o.attentionFactor);
    this.#freqs = levelFrequencies(op, this.invFreq, this.split);
  }

  /** Hierarchical angles [T, P] (or [B, 1, T, P]) from positions [T, 2] (or [B, T, 2]). */
  angles(positions: Positions): Tensor {
    return this.anglesAs('positions', positions);
  }

  private anglesAs(arg: string, positions: Positions): Tensor {
    expectPositions('HiRoPE', arg, positions);
    if ((positions.ndim !== 2 && positions.ndim !== 3) || positions.shape[positions.ndim - 1] !== 2) {
      throw new ShapeError('HiRoPE', `${arg}=${fmtShape(positions.shape)} must be [T, 2] or [B, T, 2] (p_tok, p_hi; see hiropePositionsTensor)`, arg);
    }
    return forHeads(axisAngles('HiRoPE', positions, this.#freqs));
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    if (this.window > 0) {
      throw new ValueError('HiRoPE.encodeQK', `a window needs two score passes — window=${this.window} (one rotation of q and k is the window-0 form; use scores() / hiropeScores)`, 'window');
    }
    checkHead('HiRoPE', 'q', q, this.headDim);
    checkHead('HiRoPE', 'k', k, this.headDim);
    const rot = { layout: this.layout, scale: this.attentionFactor, rotaryDim: this.rotaryDim };
    return { q: rotateBy('HiRoPE', q, this.anglesAs('qPositions', qPositions), rot), k: rotateBy('HiRoPE', k, this.anglesAs('kPositions', kPositions), rot) };
  }

  /** Windowed HiRoPE logits with this encoding's table, split and window (see hiropeScores). */
  scores(q: Tensor, k: Tensor, positions: HiRoPELevels | { q: HiRoPELevels; k: HiRoPELevels }): Tensor {
    checkHead('HiRoPE', 'q', q, this.headDim);
    checkHead('HiRoPE', 'k', k, this.headDim);
    return scoresOf('HiRoPE', q, k, positions, { invFreq: this.invFreq, freqs: this.#freqs, window: this.window, layout: this.layout, attentionFactor: this.attentionFactor });
  }
}
