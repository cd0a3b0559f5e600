/**
 * Property checkers for rotary position encodings: any implementation — a ropelab PositionalEncoding, the user's
 * own function of (q, k, qPositions, kPositions), or a PyTorch rotation loaded with `rotationFromDump` — is run on
 * random q, k and positions, and a failure comes back as the smallest case fast-check's shrinking finds.
 *
 * The invariants (RoFormer, Su et al. 2021, §3.4; layouts as HF `rotate_half` vs Meta/DeepSeek interleaved pairs):
 * - relative position:  ⟨f(q, m + s), f(k, n + s)⟩ = ⟨f(q, m), f(k, n)⟩ for every shift s (per axis for N-D positions)
 * - norm:               ‖f(x, m)‖ = a·‖x‖ (a: the attention factor, 1 for plain RoPE)
 * - identity:           f = RoPE(base, layout) at the setting where a variant reduces to it (factor 1, one axis, …)
 * - layout:             half(x[π])  = interleaved(x)[π], π = [0, 2, …, r−2, 1, 3, …, r−1, r, …, d−1]
 * - HF config:          f = ropeFromHFConfig(config) (transformers' semantics, positional/hf-config.ts)
 * - KV cache:           scores of a token decoded alone at its position (keys cached from earlier calls) = scores
 *                       of the full forward over the sequence
 * - gradients:          ∂/∂angles of a rotation and ∂/∂θ (and ∂/∂positions) of an angle table match central
 *                       differences (core's gradcheck, float64; PyTorch's `torch.autograd.gradcheck` contract)
 * Shapes: q [1, H, T, d], k [1, Hkv, T, d] (H a multiple of Hkv), positions [T] or [T, axes]; values on a grid in
 * [−2, 2]; integer positions in [0, maxPosition].
 */
import fc from 'fast-check';
import {
  DTypeError, GradcheckError, Tensor, ValueError, asPartOf, describeValue, expectBoolean, expectFunction, expectInteger, expectNumber, expectOneOf, expectOptions, gradcheck, type GradcheckOptions,
} from '../core/index.js';
import { PositionalEncoding, RoPE, fromHFConfig, ropeFromHFConfig, type HFRoPEConfig, type PairLayout } from '../positional/index.js';
import {
  checkCommon, checkSubject, checkTolerance, encodeWith, runProperty, type CheckOptions, type Counterexample, type Encoded, type PropertyResult, type RoPESubject,
} from './run.js';

/** The shapes and ranges of the random cases. */
export interface CaseOptions extends CheckOptions {
  /** Channels per head d of q and k. */
  headDim: number;
  /** Query heads H; default 1. */
  heads?: number;
  /** Key heads Hkv (H must be a multiple); default H. */
  kvHeads?: number;
  /** Position axes: undefined for 1-D positions [T]; A for [T, A] (M-RoPE 3, an image grid 2). */
  axes?: number;
  /** Tokens per case: 1..maxTokens (default 4). */
  maxTokens?: number;
  /** Positions (shifted ones included) lie in [0, maxPosition]; default 4096. */
  maxPosition?: number;
}

const CASE_KEYS = ['headDim', 'heads', 'kvHeads', 'axes', 'maxTokens', 'maxPosition'] as const;

interface Dims {
  d: number;
  H: number;
  Hkv: number;
  axes: number | undefined;
  maxT: number;
  maxPos: number;
}

function dimsOf(op: string, o: Partial<CaseOptions>, fixedHeadDim?: number, fixedAxes?: number): Dims {
  const d = fixedHeadDim ?? expectInteger(op, 'options.headDim', o.headDim, { min: 1, max: 1 << 16 });
  const H = o.heads === undefined ? 1 : expectInteger(op, 'options.heads', o.heads, { min: 1, max: 256 });
  const Hkv = o.kvHeads === undefined ? H : expectInteger(op, 'options.kvHeads', o.kvHeads, { min: 1, max: H });
  if (H % Hkv !== 0) throw new ValueError(op, `options.heads=${H} must be a multiple of options.kvHeads=${Hkv} (grouped-query attention)`, 'options.kvHeads');
  const axes = fixedAxes ?? (o.axes === undefined ? undefined : expectInteger(op, 'options.axes', o.axes, { min: 1, max: 16 }));
  const maxT = o.maxTokens === undefined ? 4 : expectInteger(op, 'options.maxTokens', o.maxTokens, { min: 1, max: 1024 });
  const maxPos = o.maxPosition === undefined ? 4096 : expectInteger(op, 'options.maxPosition', o.maxPosition, { min: 0, max: 2 ** 40 });
  return { d, H, Hkv, axes, maxT, maxPos };
}

/** One random case: positions rows [T][A] (A = 1 for 1-D), a shift per axis, q and k values for maxT tokens. */
interface QKCase {
  positions: number[][];
  shift: number[];
  q: number[];
  k: number[];
}

// [−2, 2] in quarters, shrinking towards 1: a shrunk case shows q = k = [1, 1, …], where every pair's error is visible
const VALUE = fc.integer({ min: -12, max: 4 }).map((i) => (i + 4) / 4);

function caseArb(dims: Dims, minTokens = 1): fc.Arbitrary<QKCase> {
  const A = dims.axes ?? 1;
  const pos = fc.integer({ min: 0, max: dims.maxPos });
  return fc.record({
    positions: fc.array(fc.array(pos, { minLength: A, maxLength: A }), { minLength: minTokens, maxLength: dims.maxT }),
    shift: fc.array(fc.integer({ min: -dims.maxPos, max: dims.maxPos }), { minLength: A, maxLength: A }),
    q: fc.array(VALUE, { minLength: dims.maxT * dims.H * dims.d, maxLength: dims.maxT * dims.H * dims.d }),
    k: fc.array(VALUE, { minLength: dims.maxT * dims.Hkv * dims.d, maxLength: dims.maxT * dims.Hkv * dims.d }),
  });
}

/** [1, heads, T, d] from values laid out for maxT tokens (so a shrink of T keeps the other tokens' values). */
function qkTensor(values: readonly number[], heads: number, T: number, dims: Dims, from = 0): Tensor {
  const out = new Float64Array(heads * T * dims.d);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < T; t++) for (let c = 0; c < dims.d; c++) out[(h * T + t) * dims.d + c] = values[(h * dims.maxT + from + t) * dims.d + c]!;
  }
  return new Tensor(out, [1, heads, T, dims.d]);
}

function positionsTensor(rows: readonly number[][], axes: number | undefined): Tensor {
  return axes === undefined ? new Tensor(Float64Array.from(rows, (r) => r[0]!), [rows.length]) : new Tensor(Float64Array.from(rows.flat()), [rows.length, axes]);
}

/** Shift clamped per axis so every shifted position stays in [0, maxPos]. */
function clampShift(rows: readonly number[][], shift: readonly number[], maxPos: number): number[] {
  return shift.map((s, a) => {
    const lo = Math.min(...rows.map((r) => r[a]!));
    const hi = Math.max(...rows.map((r) => r[a]!));
    return Math.max(-lo, Math.min(maxPos - hi, s));
  });
}

const row = (data: ArrayLike<number>, r: number, d: number): number[] => Array.from({ length: d }, (_, c) => data[r * d + c]!);
const norm = (v: readonly number[]): number => Math.hypot(...v);
const dot = (a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, d: number): number => {
  let s = 0;
  for (let c = 0; c < d; c++) s += a[ai * d + c]! * b[bi * d + c]!;
  return s;
};
const pos = (rows: readonly number[][], t: number, axes: number | undefined): number | number[] => (axes === undefined ? rows[t]![0]! : [...rows[t]!]);
const shiftText = (shift: readonly number[], axes: number | undefined): string => (axes === undefined ? `s = ${shift[0]}` : `s = [${shift.join(', ')}] (per axis)`);
const fmtPos = (p: number | number[]): string => (Array.isArray(p) ? `[${p.join(', ')}]` : String(p));
const sci = (x: number, digits = 6): string => (x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e6 ? String(Number(x.toPrecision(digits))) : x.toExponential(digits - 1).replace(/\.?0+e/, 'e'));
/** a and b with enough digits (6 or more) that two different numbers never print the same. */
function both(a: number, b: number): [string, string] {
  for (let digits = 6; digits < 17; digits++) if (sci(a, digits) !== sci(b, digits) || a === b) return [sci(a, digits), sci(b, digits)];
  return [sci(a, 17), sci(b, 17)];
}

/** Score of query row (h, i) with key row (g, j): q̃ᵀk̃·logitScale. */
function score(e: Encoded, h: number, i: number, g: number, j: number, T: number, Tk: number, d: number): number {
  return dot(e.q, h * T + i, e.k, g * Tk + j, d) * e.logitScale;
}

// ── relative-position invariance ──

/** Options of `checkRelativePositionInvariance`: the case options and the tolerance on the score difference. */
export interface RelativePositionOptions extends CaseOptions {
  /** Largest |score difference| / (‖q̃‖·‖k̃‖) that passes; default 1e-9 (float64; use ~1e-3 for a float32 implementation). */
  tolerance?: number;
}

/**
 * Shifting every position by s (per axis for N-D positions) must leave every score ⟨q̃_i, k̃_j⟩ unchanged. Returns the
 * smallest case that breaks it: the query and key positions, the shift, both scores and their difference.
 */
export function checkRelativePositionInvariance(subject: RoPESubject, options: RelativePositionOptions): PropertyResult {
  const op = 'checkRelativePositionInvariance';
  checkSubject(op, 'subject', subject);
  const { o, numRuns, seed } = checkCommon(op, options, [...CASE_KEYS, 'tolerance']);
  const dims = dimsOf(op, o);
  const tol = checkTolerance(op, o.tolerance, 1e-9);
  const property = dims.axes === undefined ? 'relative-position invariance (1-D)' : `relative-position invariance (${dims.axes} axes, per-axis shifts)`;
  return runProperty(property, caseArb(dims), (c) => {
    const T = c.positions.length;
    const shift = clampShift(c.positions, c.shift, dims.maxPos);
    const shifted = c.positions.map((r) => r.map((p, a) => p + shift[a]!));
    const q = qkTensor(c.q, dims.H, T, dims);
    const k = qkTensor(c.k, dims.Hkv, T, dims);
    const before = encodeWith(subject, q, k, positionsTensor(c.positions, dims.axes), positionsTensor(c.positions, dims.axes));
    const after = encodeWith(subject, q, k, positionsTensor(shifted, dims.axes), positionsTensor(shifted, dims.axes));
    let worst: Counterexample | null = null;
    let worstExcess = 0;
    const group = dims.H / dims.Hkv;
    for (let h = 0; h < dims.H; h++) {
      const g = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          const a = score(before, h, i, g, j, T, T, dims.d);
          const b = score(after, h, i, g, j, T, T, dims.d);
          const size = Math.max(
            norm(row(before.q, h * T + i, dims.d)) * norm(row(before.k, g * T + j, dims.d)) * Math.abs(before.logitScale),
            norm(row(after.q, h * T + i, dims.d)) * norm(row(after.k, g * T + j, dims.d)) * Math.abs(after.logitScale),
          );
          const excess = Math.abs(a - b) - tol * size;
          if (!(excess <= 0) && (worst === null || !(excess <= worstExcess))) {
            worstExcess = excess;
            const [m, n] = [pos(c.positions, i, dims.axes), pos(c.positions, j, dims.axes)];
            worst = {
              summary:
                `query ${i} at position ${fmtPos(m)} and key ${j} at position ${fmtPos(n)}${dims.H > 1 ? ` (head ${h})` : ''}: shifting every position by ` +
                `${shiftText(shift, dims.axes)} changed their score ⟨q̃, k̃⟩ from ${both(a, b).join(' to ')} — difference ${sci(Math.abs(a - b))}, ` +
                `allowed ${sci(tol * size)} (tolerance ${tol} × ‖q̃‖‖k̃‖). The encoding depends on absolute position, not only on n − m.`,
              values: {
                'query position': m, 'key position': n, shift: dims.axes === undefined ? shift[0] : shift,
                'shifted query position': pos(shifted, i, dims.axes), 'shifted key position': pos(shifted, j, dims.axes),
                q: row(q.data, h * T + i, dims.d), k: row(k.data, g * T + j, dims.d), 'score before': a, 'score after': b, difference: Math.abs(a - b),
              },
            };
          }
        }
      }
    }
    return worst;
  }, (c) => ({ positions: c.positions, shift: c.shift }), { numRuns, seed });
}

// ── norm preservation ──

/** Options of `checkNormPreservation`: the case options plus the expected scale (default the subject's attentionFactor). */
export interface NormOptions extends CaseOptions {
  /** Expected ‖f(x)‖ / ‖x‖; default the subject's `attentionFactor` when it has one (ropelab's RoPE), else 1. */
  scale?: number;
  /** Largest | ‖f(x)‖ − scale·‖x‖ | / (scale·‖x‖) that passes; default 1e-10. */
  tolerance?: number;
}

/** Every rotated q and k row must keep its length (times the attention factor): a rotation, not a stretch. */
export function checkNormPreservation(subject: RoPESubject, options: NormOptions): PropertyResult {
  const op = 'checkNormPreservation';
  checkSubject(op, 'subject', subject);
  const { o, numRuns, seed } = checkCommon(op, options, [...CASE_KEYS, 'tolerance', 'scale']);
  const dims = dimsOf(op, o);
  const tol = checkTolerance(op, o.tolerance, 1e-10);
  const own = (subject as { attentionFactor?: unknown }).attentionFactor;
  const scale = o.scale !== undefined ? expectNumber(op, 'options.scale', o.scale, { above: 0 }) : typeof own === 'number' ? own : 1;
  return runProperty('norm preservation', caseArb(dims), (c) => {
    const T = c.positions.length;
    const p = positionsTensor(c.positions, dims.axes);
    const q = qkTensor(c.q, dims.H, T, dims);
    const k = qkTensor(c.k, dims.Hkv, T, dims);
    const e = encodeWith(subject, q, k, p, p);
    let worst: Counterexample | null = null;
    let worstExcess = 0;
    for (const [name, x, y, heads] of [['query', q.data, e.q, dims.H], ['key', k.data, e.k, dims.Hkv]] as const) {
      for (let r = 0; r < heads * T; r++) {
        const before = norm(row(x, r, dims.d));
        const after = norm(row(y, r, dims.d));
        const excess = Math.abs(after - scale * before) - tol * scale * before;
        if (!(excess <= 0) && (worst === null || !(excess <= worstExcess))) {
          worstExcess = excess;
          const t = r % T;
          const h = Math.floor(r / T);
          worst = {
            summary:
              `the ${name} at position ${fmtPos(pos(c.positions, t, dims.axes))}${heads > 1 ? ` (head ${h})` : ''} has length ${sci(before)} before the ` +
              `encoding and ${sci(after)} after it (ratio ${sci(after / before)}; a rotation keeps the length${scale !== 1 ? ` times the attention factor ${sci(scale)}` : ''}).`,
            values: { position: pos(c.positions, t, dims.axes), input: row(x, r, dims.d), output: row(y, r, dims.d), 'length before': before, 'length after': after, 'expected ratio': scale },
          };
        }
      }
    }
    return worst;
  }, (c) => ({ positions: c.positions }), { numRuns, seed });
}

// ── agreement with a reference encoding (identity reduction, HF configs) ──

interface AgreementSetup {
  property: string;
  referenceName: string;
  reference: () => PositionalEncoding;
  /** Positions as the subject takes them from the case's rows (the reference takes `refAxes`). */
  subjectAxes: number | undefined;
  refAxes: number | undefined;
  repeatAxes: boolean;
}

function agreement(subject: RoPESubject, dims: Dims, tol: number, setup: AgreementSetup, numRuns: number, seed: number | undefined): PropertyResult {
  const arbDims = { ...dims, axes: setup.repeatAxes ? undefined : dims.axes };
  return runProperty(setup.property, caseArb(arbDims), (c) => {
    const T = c.positions.length;
    const q = qkTensor(c.q, dims.H, T, dims);
    const k = qkTensor(c.k, dims.Hkv, T, dims);
    const subjectRows = setup.repeatAxes ? c.positions.map((r) => Array.from({ length: dims.axes! }, () => r[0]!)) : c.positions;
    const ps = positionsTensor(subjectRows, setup.subjectAxes);
    const pr = positionsTensor(c.positions, setup.refAxes);
    const mine = encodeWith(subject, q, k, ps, ps);
    const ref = encodeWith(setup.reference(), q, k, pr, pr);
    if (!(Math.abs(mine.logitScale - ref.logitScale) <= tol)) {
      return { summary: `the logit multiplier is ${sci(mine.logitScale)}; ${setup.referenceName} uses ${sci(ref.logitScale)}.`, values: { 'yours': mine.logitScale, reference: ref.logitScale } };
    }
    let worst: Counterexample | null = null;
    let worstExcess = 0;
    for (const [name, x, a, b, heads] of [['query', q.data, mine.q, ref.q, dims.H], ['key', k.data, mine.k, ref.k, dims.Hkv]] as const) {
      for (let r = 0; r < heads * T; r++) {
        const bound = tol * Math.max(1, norm(row(x, r, dims.d)));
        for (let ch = 0; ch < dims.d; ch++) {
          const excess = Math.abs(a[r * dims.d + ch]! - b[r * dims.d + ch]!) - bound;
          if (!(excess <= 0) && (worst === null || !(excess <= worstExcess))) {
            worstExcess = excess;
            const t = r % T;
            const h = Math.floor(r / T);
            const p = pos(subjectRows, t, setup.subjectAxes);
            worst = {
              summary:
                `the ${name} at position ${fmtPos(p)}${heads > 1 ? ` (head ${h})` : ''}, channel ${ch}: yours is ${sci(a[r * dims.d + ch]!)}, ` +
                `${setup.referenceName} gives ${sci(b[r * dims.d + ch]!)} (difference ${sci(Math.abs(a[r * dims.d + ch]! - b[r * dims.d + ch]!))}, allowed ${sci(bound)}).`,
              values: { position: p, channel: ch, input: row(x, r, dims.d), yours: row(a, r, dims.d), reference: row(b, r, dims.d) },
            };
          }
        }
      }
    }
    return worst;
  }, (c) => ({ positions: c.positions }), { numRuns, seed });
}

/** Options of `checkReducesToRoPE`: the plain RoPE (base, layout, rotaryDim) the subject must equal at its identity setting, and the tolerance. */
export interface ReducesToRoPEOptions extends CaseOptions {
  /** Plain RoPE's base; default 10000. */
  base?: number;
  /** Plain RoPE's pair layout; default 'half'. */
  layout?: PairLayout;
  /** Rotated channels (the rest pass through); default headDim. */
  rotaryDim?: number;
  /** Largest |yours − RoPE| per channel, relative to max(1, ‖x‖); default 1e-9. */
  tolerance?: number;
}

/**
 * At its identity setting (scaling factor 1, one position axis, a gate at zero, …) a variant must equal plain RoPE:
 * θ_i = base^(−2i/rotaryDim), the given layout. With `axes`, the subject gets positions [T, axes] with the same
 * position on every axis (text tokens in M-RoPE) and must equal 1-D RoPE at that position.
 */
export function checkReducesToRoPE(subject: RoPESubject, options: ReducesToRoPEOptions): PropertyResult {
  const op = 'checkReducesToRoPE';
  checkSubject(op, 'subject', subject);
  const { o, numRuns, seed } = checkCommon(op, options, [...CASE_KEYS, 'base', 'layout', 'rotaryDim', 'tolerance']);
  const dims = dimsOf(op, o);
  const tol = checkTolerance(op, o.tolerance, 1e-9);
  const base = o.base === undefined ? 10000 : expectNumber(op, 'options.base', o.base, { above: 1 });
  const layout = o.layout === undefined ? 'half' : expectOneOf<PairLayout>(op, 'options.layout', o.layout, ['half', 'interleaved']);
  const rotaryDim = o.rotaryDim === undefined ? dims.d : expectInteger(op, 'options.rotaryDim', o.rotaryDim, { min: 2, max: dims.d });
  const reference = asPartOf(op, () => new RoPE(dims.d, { base, layout, rotaryDim }));
  return agreement(subject, dims, tol, {
    property: 'reduction to plain RoPE', referenceName: `plain RoPE (base ${base}, ${layout} layout${rotaryDim !== dims.d ? `, rotaryDim ${rotaryDim}` : ''})`,
    reference: () => reference, subjectAxes: dims.axes, refAxes: undefined, repeatAxes: dims.axes !== undefined,
  }, numRuns, seed);
}

/** Options of `checkHFConfigAgreement`: the layer type and layout to read the config with, the head counts and sizes of the drawn cases, and the tolerance. */
export interface HFConfigAgreementOptions extends CheckOptions {
  /** Which entry of a per-layer rope dict (as fromHFConfig). */
  layerType?: string;
  /** Pair layout of the reference; default 'half' (HF's rotate_half). */
  layout?: PairLayout;
  heads?: number;
  kvHeads?: number;
  maxTokens?: number;
  /** Positions lie in [0, maxPosition]; default max_position_embeddings − 1 (else 8191). */
  maxPosition?: number;
  /** Largest |yours − reference| per channel, relative to max(1, ‖x‖); default 1e-9. */
  tolerance?: number;
}

/**
 * The subject must rotate q and k as transformers does for this config.json (ropelab's reference:
 * `ropeFromHFConfig`, built afresh for every case so length-dependent types — dynamic, longrope — start from their
 * initial state). M-RoPE configs (mrope_section) get positions [T, 3].
 */
export function checkHFConfigAgreement(subject: RoPESubject, config: HFRoPEConfig, options: HFConfigAgreementOptions = {}): PropertyResult {
  const op = 'checkHFConfigAgreement';
  checkSubject(op, 'subject', subject);
  const { o, numRuns, seed } = checkCommon(op, options, ['layerType', 'layout', 'heads', 'kvHeads', 'maxTokens', 'maxPosition', 'tolerance']);
  const layout = o.layout === undefined ? 'half' : expectOneOf<PairLayout>(op, 'options.layout', o.layout, ['half', 'interleaved']);
  const layer = o.layerType !== undefined ? { layerType: o.layerType } : {};
  const settings = asPartOf(op, () => fromHFConfig(config, layer));
  asPartOf(op, () => ropeFromHFConfig(config, { ...layer, layout })); // refuses what the reference cannot build, now
  const axes = settings.mropeSection !== undefined ? 3 : undefined;
  const maxPosition = o.maxPosition !== undefined ? o.maxPosition : settings.maxPositionEmbeddings !== undefined ? settings.maxPositionEmbeddings - 1 : 8191;
  const dims = dimsOf(op, { ...o, maxPosition }, settings.headDim, axes);
  const tol = checkTolerance(op, o.tolerance, 1e-9);
  return agreement(subject, dims, tol, {
    property: `agreement with ropelab's reference for the HF config (rope_type '${settings.ropeType}')`,
    referenceName: `ropelab's reference (${settings.ropeType}, ${layout} layout)`,
    reference: () => ropeFromHFConfig(config, { ...layer, layout }), subjectAxes: axes, refAxes: axes, repeatAxes: false,
  }, numRuns, seed);
}

// ── layout equivalence ──

/** Options of `checkLayoutEquivalence`: the rotated channels and the tolerance (0 asks for bit-identical results). */
export interface LayoutEquivalenceOptions extends CaseOptions {
  /** Rotated channels r (the permutation moves channels < r only); default headDim. */
  rotaryDim?: number;
  /** Largest |half − interleaved| per channel, relative to max(1, ‖x‖); default 1e-12. */
  tolerance?: number;
}

/** π = [0, 2, …, r−2, 1, 3, …, r−1, r, …, d−1]: half-layout channel j holds interleaved channel π[j]. */
export function halfLayoutPermutation(headDim: number, rotaryDim = headDim): number[] {
  const op = 'halfLayoutPermutation';
  expectInteger(op, 'headDim', headDim, { min: 2, max: 1 << 20 });
  expectInteger(op, 'rotaryDim', rotaryDim, { min: 2, max: headDim });
  if (rotaryDim % 2 !== 0) throw new ValueError(op, `rotaryDim=${rotaryDim} must be even (channels rotate in pairs)`, 'rotaryDim');
  const half = rotaryDim / 2;
  return [...Array.from({ length: half }, (_, i) => 2 * i), ...Array.from({ length: half }, (_, i) => 2 * i + 1), ...Array.from({ length: headDim - rotaryDim }, (_, i) => rotaryDim + i)];
}

function permuteRows(data: ArrayLike<number>, perm: readonly number[]): Float64Array {
  const d = perm.length;
  const out = new Float64Array(data.length);
  for (let r = 0; r < data.length / d; r++) for (let j = 0; j < d; j++) out[r * d + j] = data[r * d + perm[j]!]!;
  return out;
}

/**
 * The half layout (pairs (i, i + r/2), HF `rotate_half`) and the interleaved layout (pairs (2i, 2i+1), RoFormer,
 * Meta, DeepSeek) are one rotation seen through the channel permutation π: half(x[π]) = interleaved(x)[π].
 */
export function checkLayoutEquivalence(subjects: { half: RoPESubject; interleaved: RoPESubject }, options: LayoutEquivalenceOptions): PropertyResult {
  const op = 'checkLayoutEquivalence';
  if (typeof subjects !== 'object' || subjects === null) throw new DTypeError(op, `subjects must be { half, interleaved }, got ${describeValue(subjects)}`, 'subjects');
  checkSubject(op, 'subjects.half', subjects.half);
  checkSubject(op, 'subjects.interleaved', subjects.interleaved);
  const { o, numRuns, seed } = checkCommon(op, options, [...CASE_KEYS, 'rotaryDim', 'tolerance']);
  const dims = dimsOf(op, o);
  const tol = checkTolerance(op, o.tolerance, 1e-12);
  const perm = asPartOf(op, () => halfLayoutPermutation(dims.d, o.rotaryDim !== undefined ? o.rotaryDim : dims.d));
  return runProperty('layout equivalence (half vs interleaved under the channel permutation)', caseArb(dims), (c) => {
    const T = c.positions.length;
    const p = positionsTensor(c.positions, dims.axes);
    const q = qkTensor(c.q, dims.H, T, dims);
    const k = qkTensor(c.k, dims.Hkv, T, dims);
    const permuted = (x: Tensor): Tensor => new Tensor(permuteRows(x.data, perm), x.shape);
    const h = encodeWith(subjects.half, permuted(q), permuted(k), p, p);
    const i = encodeWith(subjects.interleaved, q, k, p, p);
    let worst: Counterexample | null = null;
    let worstExcess = 0;
    for (const [name, x, a, b0] of [['query', q.data, h.q, i.q], ['key', k.data, h.k, i.k]] as const) {
      const b = permuteRows(b0, perm);
      for (let r = 0; r < x.length / dims.d; r++) {
        const bound = tol * Math.max(1, norm(row(x, r, dims.d)));
        for (let ch = 0; ch < dims.d; ch++) {
          const excess = Math.abs(a[r * dims.d + ch]! - b[r * dims.d + ch]!) - bound;
          if (!(excess <= 0) && (worst === null || !(excess <= worstExcess))) {
            worstExcess = excess;
            const t = r % T;
            worst = {
              summary:
                `the ${name} at position ${fmtPos(pos(c.positions, t, dims.axes))}: half-layout channel ${ch} (interleaved channel ${perm[ch]}) is ` +
                `${sci(a[r * dims.d + ch]!)} from the half-layout encoding of x[π] but ${sci(b[r * dims.d + ch]!)} from the interleaved encoding of x, permuted ` +
                `(difference ${sci(Math.abs(a[r * dims.d + ch]! - b[r * dims.d + ch]!))}). One of the two pairs the wrong channels.`,
              values: { position: pos(c.positions, t, dims.axes), x: row(x, r, dims.d), 'half(x[π])': row(a, r, dims.d), 'interleaved(x)[π]': row(b, r, dims.d), 'π': perm },
            };
          }
        }
      }
    }
    return worst;
  }, (c) => ({ positions: c.positions }), { numRuns, seed });
}

// ── KV-cache decoding ──

/** Options of `checkKVCacheDecoding`: the case options and the score tolerance. */
export interface KVCacheOptions extends Omit<CaseOptions, 'axes'> {
  /** Largest |score difference| / (‖q̃‖·‖k̃‖) that passes; default 1e-9. */
  tolerance?: number;
}

/**
 * Decoding with a KV cache must give the scores of the full forward: a prompt of P tokens is encoded in one call,
 * then each later token alone (q and k of length 1 at their own position), its key appended to the cache. The
 * scores of every decoded query with every cached key (causal: keys at or before it) must equal those of encoding
 * all T tokens at once. Positions are contiguous, start..start + T − 1, as in generation.
 */
export function checkKVCacheDecoding(subject: RoPESubject, options: KVCacheOptions): PropertyResult {
  const op = 'checkKVCacheDecoding';
  checkSubject(op, 'subject', subject);
  const { o, numRuns, seed } = checkCommon(op, options, ['headDim', 'heads', 'kvHeads', 'maxTokens', 'maxPosition', 'tolerance']);
  const dims = dimsOf(op, { ...o, maxTokens: o.maxTokens !== undefined ? o.maxTokens : 5 });
  if (dims.maxT < 2) throw new ValueError(op, `options.maxTokens=${dims.maxT} must be ≥ 2 (a prompt and one decoded token)`, 'options.maxTokens');
  if (dims.maxPos + 1 < dims.maxT) throw new ValueError(op, `options.maxPosition=${dims.maxPos} leaves no room for ${dims.maxT} tokens`, 'options.maxPosition');
  const tol = checkTolerance(op, o.tolerance, 1e-9);
  const arb = fc.record({
    T: fc.integer({ min: 2, max: dims.maxT }),
    start: fc.integer({ min: 0, max: dims.maxPos }),
    prompt: fc.integer({ min: 0, max: dims.maxT - 1 }),
    q: fc.array(VALUE, { minLength: dims.maxT * dims.H * dims.d, maxLength: dims.maxT * dims.H * dims.d }),
    k: fc.array(VALUE, { minLength: dims.maxT * dims.Hkv * dims.d, maxLength: dims.maxT * dims.Hkv * dims.d }),
  });
  return runProperty('KV-cache decoding equals the full forward', arb, (c) => {
    const T = c.T;
    const start = Math.min(c.start, dims.maxPos + 1 - T);
    const P = Math.min(c.prompt, T - 1);
    const range = (from: number, n: number): Tensor => new Tensor(Float64Array.from({ length: n }, (_, i) => start + from + i), [n]);
    const full = encodeWith(subject, qkTensor(c.q, dims.H, T, dims), qkTensor(c.k, dims.Hkv, T, dims), range(0, T), range(0, T));
    // the cache: key rows per head, appended call by call; the queries of each call
    const cacheK: number[][][] = Array.from({ length: dims.Hkv }, () => []);
    const decodedQ: number[][][] = Array.from({ length: dims.H }, () => []);
    const steps = P > 0 ? [[0, P], ...Array.from({ length: T - P }, (_, i) => [P + i, 1])] : Array.from({ length: T }, (_, i) => [i, 1]);
    for (const [from, n] of steps as [number, number][]) {
      const e = encodeWith(subject, qkTensor(c.q, dims.H, n, dims, from), qkTensor(c.k, dims.Hkv, n, dims, from), range(from, n), range(from, n));
      for (let g = 0; g < dims.Hkv; g++) for (let t = 0; t < n; t++) cacheK[g]!.push(row(e.k, g * n + t, dims.d));
      for (let h = 0; h < dims.H; h++) for (let t = 0; t < n; t++) decodedQ[h]!.push(row(e.q, h * n + t, dims.d).map((v) => v * e.logitScale));
    }
    let worst: Counterexample | null = null;
    let worstExcess = 0;
    const group = dims.H / dims.Hkv;
    for (let h = 0; h < dims.H; h++) {
      const g = Math.floor(h / group);
      for (let t = P; t < T; t++) {
        for (let j = 0; j <= t; j++) {
          const a = dot(decodedQ[h]![t]!, 0, cacheK[g]![j]!, 0, dims.d);
          const b = score(full, h, t, g, j, T, T, dims.d);
          const size = Math.max(norm(decodedQ[h]![t]!) * norm(cacheK[g]![j]!), norm(row(full.q, h * T + t, dims.d)) * norm(row(full.k, g * T + j, dims.d)) * Math.abs(full.logitScale));
          const excess = Math.abs(a - b) - tol * size;
          if (!(excess <= 0) && (worst === null || !(excess <= worstExcess))) {
            worstExcess = excess;
            worst = {
              summary:
                `decoding token ${t} (position ${start + t}) in a call of its own, ${P > 0 ? `after a ${P}-token prompt encoded in one call` : 'every earlier token also decoded alone'}: ` +
                `its score with the cached key ${j} (position ${start + j}) is ${both(a, b)[0]}, the full forward gives ${both(a, b)[1]} (difference ${sci(Math.abs(a - b))}). ` +
                `A rotation that numbers tokens within its call (arange) instead of by the positions given breaks the cache.`,
              values: { 'query position': start + t, 'key position': start + j, 'prompt length': P, 'tokens': T, 'cached score': a, 'full-forward score': b, difference: Math.abs(a - b) },
            };
          }
        }
      }
    }
    return worst;
  }, (c) => ({ tokens: c.T, start: c.start, prompt: c.prompt }), { numRuns, seed });
}

// ── gradients ──

/** Options of `checkAngleGradients`: head size, pairs, tokens per case and the gradcheck options. */
export interface AngleGradientOptions extends CheckOptions {
  headDim: number;
  /** Angle columns per token; default headDim / 2. */
  pairs?: number;
  /** Tokens per case: 1..maxTokens (default 3). */
  maxTokens?: number;
  /** core gradcheck's eps, atol, rtol. */
  gradcheck?: GradcheckOptions;
}

/** options.gradcheck, checked at the checker's entry (gradcheck's own refusal inside a case would read as a failed property). */
function gradcheckOptionsOf(op: string, g: unknown): GradcheckOptions | undefined {
  if (g === undefined) return undefined;
  const o = expectOptions(op, 'options.gradcheck', g as GradcheckOptions, ['eps', 'atol', 'rtol']);
  for (const k of ['eps', 'atol', 'rtol'] as const) if (o[k] !== undefined) expectNumber(op, `options.gradcheck.${k}`, o[k], { min: 0 });
  return o;
}

function gradcheckCase(op: string, fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], names: readonly string[], g: GradcheckOptions | undefined): Counterexample | null {
  try {
    gradcheck(fn, inputs, g);
    return null;
  } catch (e) {
    if (!(e instanceof GradcheckError)) throw e;
    const values: Record<string, unknown> = {};
    inputs.forEach((x, i) => (values[names[i]!] = Array.from(x.data)));
    return { summary: `the gradient with respect to ${names[e.inputIndex] ?? `input ${e.inputIndex}`} is wrong — ${e.message.replace(/^gradcheck: /, '')} (${op})`, values };
  }
}

/**
 * ∂/∂x and ∂/∂angles of the user's rotation (x [T, headDim], angles [T, pairs] → rotated x) must match central
 * differences in float64 (core's gradcheck). For learned angles or an implementation with its own backward.
 */
export function checkAngleGradients(rotate: (x: Tensor, angles: Tensor) => Tensor, options: AngleGradientOptions): PropertyResult {
  const op = 'checkAngleGradients';
  expectFunction(op, 'rotate', rotate);
  const { o, numRuns, seed } = checkCommon(op, options, ['headDim', 'pairs', 'maxTokens', 'gradcheck']);
  const d = expectInteger(op, 'options.headDim', o.headDim, { min: 2, max: 4096 });
  const pairs = o.pairs === undefined ? Math.floor(d / 2) : expectInteger(op, 'options.pairs', o.pairs, { min: 1, max: Math.floor(d / 2) });
  const maxT = o.maxTokens === undefined ? 3 : expectInteger(op, 'options.maxTokens', o.maxTokens, { min: 1, max: 64 });
  const gradcheckOptions = gradcheckOptionsOf(op, o.gradcheck);
  const arb = fc.integer({ min: 1, max: maxT }).chain((T) => fc.record({
    T: fc.constant(T),
    x: fc.array(VALUE, { minLength: T * d, maxLength: T * d }),
    angles: fc.array(fc.integer({ min: -12, max: 12 }).map((i) => i / 4), { minLength: T * pairs, maxLength: T * pairs }),
  }));
  return runProperty('gradients of the rotation with respect to x and the angles', arb, (c) => {
    const x = new Tensor(Float64Array.from(c.x), [c.T, d], true);
    const a = new Tensor(Float64Array.from(c.angles), [c.T, pairs], true);
    return gradcheckCase(op, rotate, [x, a], ['x', 'angles'], gradcheckOptions);
  }, (c) => ({ x: c.x, angles: c.angles }), { numRuns: o.numRuns === undefined ? 20 : numRuns, seed });
}

/** Options of `checkFrequencyGradients`: pairs, tokens and positions per case, whether positions get gradients too, and the gradcheck options. */
export interface FrequencyGradientOptions extends CheckOptions {
  /** Frequencies θ per table. */
  pairs: number;
  /** Tokens per case: 1..maxTokens (default 3). */
  maxTokens?: number;
  /** Positions in [0, maxPosition]; default 64. */
  maxPosition?: number;
  /** Also check ∂/∂positions (fractional, learned positions); default false. */
  positionGradients?: boolean;
  gradcheck?: GradcheckOptions;
}

/**
 * ∂/∂θ (and optionally ∂/∂positions) of the user's angle table (positions [T], invFreq [pairs] → angles) must match
 * central differences in float64: for learnable frequencies (RoPE-Mixed, VideoRoPE-style learned tables).
 */
export function checkFrequencyGradients(angles: (positions: Tensor, invFreq: Tensor) => Tensor, options: FrequencyGradientOptions): PropertyResult {
  const op = 'checkFrequencyGradients';
  expectFunction(op, 'angles', angles);
  const { o, numRuns, seed } = checkCommon(op, options, ['pairs', 'maxTokens', 'maxPosition', 'positionGradients', 'gradcheck']);
  const pairs = expectInteger(op, 'options.pairs', o.pairs, { min: 1, max: 4096 });
  const maxT = o.maxTokens === undefined ? 3 : expectInteger(op, 'options.maxTokens', o.maxTokens, { min: 1, max: 64 });
  const maxPos = o.maxPosition === undefined ? 64 : expectInteger(op, 'options.maxPosition', o.maxPosition, { min: 0, max: 1 << 20 });
  const withPositions = o.positionGradients === undefined ? false : expectBoolean(op, 'options.positionGradients', o.positionGradients);
  const gradcheckOptions = gradcheckOptionsOf(op, o.gradcheck);
  const arb = fc.record({
    positions: fc.array(fc.integer({ min: 0, max: maxPos }), { minLength: 1, maxLength: maxT }),
    invFreq: fc.array(fc.integer({ min: 1, max: 100 }).map((i) => i / 100), { minLength: pairs, maxLength: pairs }),
  });
  return runProperty(`gradients of the angle table with respect to the frequencies${withPositions ? ' and positions' : ''}`, arb, (c) => {
    const p = new Tensor(Float64Array.from(c.positions), [c.positions.length], withPositions);
    const f = new Tensor(Float64Array.from(c.invFreq), [pairs], true);
    return gradcheckCase(op, angles, [p, f], ['positions', 'invFreq'], gradcheckOptions);
  }, (c) => ({ positions: c.positions, invFreq: c.invFreq }), { numRuns: o.numRuns === undefined ? 20 : numRuns, seed });
}
