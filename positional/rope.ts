/**
 * RoFormer RoPE (Su et al. 2021, eq. 13–15): rotate each channel pair of q and k by m·θ_i, θ_i = base^(−2i/d), so
 * that ⟨R(m)q, R(n)k⟩ depends only on n − m. Every variant in positional/ reduces to (a) an angle table, per token
 * (and optionally per head or sequence) × per pair, and (b) a pair layout; `applyRotary` is the one differentiable
 * rotation they all call. Its backward rotates the upstream gradient by −φ and also returns ∂L/∂φ, so learnable
 * frequencies train through it.
 *
 * Repeated work stays out of a forward pass through angle-cache.ts: `RoPE` memoises its angle tables per (positions,
 * frequencies) and `applyRotary` cos/sin per angle tensor, so q and k, and every layer sharing one `RoPE`, compute the
 * trigonometry once (one staleness rule, stated there).
 */
import {
  ShapeError, Tensor, ValueError, describeValue, expectNumber, expectOneOf, expectOptions, expectTensor, fmtShape, record, specialize,
  expectPositions, expectRequiredOptions, expectSize, optionalDType, backendKernels, type DType, type TypedArray,
} from '../core/index.js';
import { AngleMemo } from './angle-cache.js';
import { toBFloat16 } from './bf16.js';
import { checkAttentionFactor, checkBase, checkHead, checkInvFreq, checkLayout, checkRotaryDim, positionsTensor } from './checks.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';

/** Which channels form a rotation pair: 'half' pairs (i, i + d/2) (GPT-NeoX, HF Llama); 'interleaved' pairs (2i, 2i+1) (RoFormer, Meta, DeepSeek). */
export type PairLayout = 'half' | 'interleaved';

/**
 * The settings every context-extension rule shares (PI, NTK, dynamic NTK, YaRN, Llama 3): the ladder θ_i =
 * base^(−2i/dim) it starts from, and the scaling factor s ≥ 1 (1 gives plain RoPE).
 */
export interface RoPEScalingOptions {
  /** Rotary dim d (even). */
  dim: number;
  /** RoPE base; default 10000. */
  base?: number;
  /** Scaling factor s ≥ 1 (1 gives plain RoPE). */
  factor: number;
}

/** θ_i = base^(−2i/dim) for i < dim/2 (RoFormer eq. 15); float64. */
export function ropeInvFreq(dim: number, base = 10000): Float64Array {
  return invFreqLadder(checkRotaryDim('ropeInvFreq', 'dim', dim), checkBase('ropeInvFreq', 'base', base));
}

/** θ_i = base^(−2i/dim) without argument checks: for callers that checked dim and base under their own name. */
export function invFreqLadder(dim: number, base: number): Float64Array {
  const out = new Float64Array(dim / 2);
  for (let i = 0; i < out.length; i++) out[i] = 1 / Math.pow(base, (2 * i) / dim);
  return out;
}

/**
 * φ[m, i] = positions[m] · invFreq[i]: positions [T] (or [B, T]) → angles [T, pairs] (or [B, T, pairs]), float64
 * unless `dtype` says otherwise. Differentiable in positions and, when `invFreq` is a tensor [pairs], in the
 * frequencies (∂φ[m, i]/∂θ_i = positions[m]), for learned frequencies.
 */
export function rotaryAngles(positions: Positions | ArrayLike<number>, invFreq: ArrayLike<number> | Tensor, options: { dtype?: DType } = {}): Tensor {
  const op = 'rotaryAngles';
  const pos = positionsTensor(op, 'positions', positions);
  const { dtype } = expectOptions(op, 'options', options, ['dtype']);
  optionalDType(op, 'options.dtype', dtype);
  if (invFreq instanceof Tensor) {
    if (invFreq.ndim !== 1) throw new ShapeError(op, `invFreq=${fmtShape(invFreq.shape)} must be 1-D [pairs]`, 'invFreq');
    checkInvFreq(op, 'invFreq', invFreq.data);
    return anglesOf(pos, invFreq, dtype);
  }
  return anglesOf(pos, checkInvFreq(op, 'invFreq', invFreq), dtype);
}

/** rotaryAngles without argument checks (positions a Tensor, the table checked by the caller). */
export function anglesOf(pos: Tensor, invFreq: ArrayLike<number> | Tensor, dtype?: DType): Tensor {
  const freq = invFreq instanceof Tensor ? invFreq : null;
  const theta: ArrayLike<number> = freq !== null ? freq.data : (invFreq as ArrayLike<number>);
  const P = theta.length;
  const M = pos.size;
  const data = dtype === 'float32' ? new Float32Array(M * P) : new Float64Array(M * P);
  for (let t = 0; t < M; t++) {
    const m = pos.data[t]!;
    for (let i = 0; i < P; i++) data[t * P + i] = m * theta[i]!;
  }
  const out = new Tensor(data, [...pos.shape, P]);
  return record('rotaryAngles', out, freq !== null ? [pos, freq] : [pos], (g) => {
    let gPos: Tensor | null = null;
    if (pos.requiresGrad) {
      const gp = new Float64Array(M); // ∂L/∂m = Σ_i g[m, i]·θ_i
      for (let t = 0; t < M; t++) {
        let acc = 0;
        for (let i = 0; i < P; i++) acc += g.data[t * P + i]! * theta[i]!;
        gp[t] = acc;
      }
      gPos = new Tensor(gp, pos.shape);
    }
    let gFreq: Tensor | null = null;
    if (freq !== null && freq.requiresGrad) {
      const gf = new Float64Array(P); // ∂L/∂θ_i = Σ_m g[m, i]·m
      for (let t = 0; t < M; t++) {
        const m = pos.data[t]!;
        for (let i = 0; i < P; i++) gf[i] += g.data[t * P + i]! * m;
      }
      gFreq = new Tensor(gf, freq.shape);
    }
    return freq !== null ? [gPos, gFreq] : [gPos];
  });
}

/** Arithmetic of the rotation: exact (float64, then stored), or emulating float32 or bfloat16 kernels. */
export type RotaryPrecision = 'float64' | 'float32' | 'bf16';

/** Options of `applyRotary`: `layout`, `precision`, `scale`, `rotaryDim`. */
export interface ApplyRotaryOptions {
  layout: PairLayout;
  /**
   * 'float32' / 'bf16' round the angle to float32 and then cos, sin, inputs, each product and each sum to the
   * chosen format, as a low-precision kernel would; the backward treats that rounding as the identity.
   * Default 'float64'. With 'float64', float32 x and a backend that supplies core's `rotate` kernel (setBackend
   * 'gpujs'), the rotation runs there in float32 arithmetic: within 4·2⁻²⁴·|s|·(|x_a| + |x_b|) of the JS kernel.
   */
  precision?: RotaryPrecision;
  /** Multiplier on the rotated channels (YaRN/LongRoPE attention factor); default 1. */
  scale?: number;
  /** Channels [0, rotaryDim) rotate, the rest pass through; default 2·pairs. */
  rotaryDim?: number;
}

/**
 * Rotate channel pairs of x by the given angles: y_a = s(x_a cos φ − x_b sin φ), y_b = s(x_a sin φ + x_b cos φ).
 * x: [..., T, D]; angles: [..., T, P] whose leading axes broadcast to x's (e.g. [T, P] shared by every head,
 * [H, T, P] per head, [B, 1, T, P] per sequence); P = rotaryDim/2 pairs in the first rotaryDim channels, the other
 * channels are copied. Backward: ∂L/∂x = s·R(−φ)g, ∂L/∂φ = g_b·y_a − g_a·y_b, summed over the axes that angles
 * broadcast along.
 */
export function applyRotary(x: Tensor, angles: Tensor, options: ApplyRotaryOptions): Tensor {
  const op = 'applyRotary';
  expectTensor(op, 'x', x);
  expectTensor(op, 'angles', angles);
  expectRequiredOptions(op, options, ['layout', 'precision', 'scale', 'rotaryDim'], 'with a layout');
  if (options.precision !== undefined) expectOneOf(op, 'precision', options.precision, ['float64', 'float32', 'bf16']);
  if (options.scale !== undefined) {
    // In float32/bf16 emulation s·cos φ is rounded to float32: a larger |s| overflows to ±∞ and ∞ − ∞ gives NaN.
    const rounded = options.precision === 'float32' || options.precision === 'bf16';
    expectNumber(op, 'scale', options.scale, rounded ? { min: -FLOAT32_MAX, max: FLOAT32_MAX } : {});
  }
  if (options.rotaryDim !== undefined) expectNumber(op, 'rotaryDim', options.rotaryDim, { integer: true, min: 0 });
  return rotateBy(op, x, angles, options);
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * applyRotary for an encoding that checked its own arguments; `op` names it in the errors that remain (shapes that
 * do not fit, non-finite angles). Without `rotaryDim`, the angles must cover every channel of x.
 */
export function rotateBy(op: string, x: Tensor, angles: Tensor, options: ApplyRotaryOptions): Tensor {
  const { layout, scale = 1, precision = 'float64' } = options;
  const geo = rotaryGeometry(op, x, angles, options);
  const kernels = KERNELS[x.dtype][layout];
  const { cos, sin } = trigOf(op, angles);
  const y = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
  // the active backend's rotation (core/backend.ts RotateKernel: this kernel's contract) where it has one, else JS
  const rotate = (src: TypedArray, dst: TypedArray, sScale: number): void => {
    if (backendKernels.rotate?.(layout, src, dst, cos, sin, scale, sScale, geo.outer, geo.T, geo.D, geo.P, geo.angleOuter) !== true) {
      kernels.rotate(src, dst, cos, sin, scale, sScale, geo.outer, geo.T, geo.D, geo.P, geo.angleOuter);
    }
  };
  if (precision === 'float64') rotate(x.data, y, scale);
  else rotateRounded(precision === 'bf16' ? toBFloat16 : Math.fround, x.data, y, angles.data, scale, layout === 'half', geo);
  return record('applyRotary', new Tensor(y, x.shape), [x, angles], (g) => {
    const gx = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
    if (!angles.requiresGrad) {
      rotate(g.data, gx, -scale); // s·R(φ)ᵀ g = s·R(−φ) g
      return [new Tensor(gx, x.shape), null];
    }
    const ga = new Float64Array(angles.size); // accumulated over broadcast rows, in float64
    kernels.backward(g.data, y, gx, ga, cos, sin, scale, geo.outer, geo.T, geo.D, geo.P, geo.angleOuter);
    const gAngles = angles.dtype === 'float64' ? ga : Float32Array.from(ga);
    return [new Tensor(gx, x.shape), new Tensor(gAngles, angles.shape)];
  });
}

/**
 * How x's rows map onto the angle table. x is viewed as [outer, T, D] and angles as [outerA, T, P]; row (o, t) of
 * x uses angle row angleOuter[o]·T + t, or t when the table is shared (angleOuter null, no per-call index).
 */
interface RotaryGeometry {
  outer: number;
  T: number;
  D: number;
  P: number;
  angleOuter: Int32Array | null;
}

function rotaryGeometry(op: string, x: Tensor, angles: Tensor, options: ApplyRotaryOptions): RotaryGeometry {
  const shapes = (): string => `x=${fmtShape(x.shape)}, angles=${fmtShape(angles.shape)}`;
  const { layout } = options;
  if (layout !== 'half' && layout !== 'interleaved') {
    throw new ValueError(op, `layout must be 'half' or 'interleaved', got ${typeof layout === 'string' ? `'${layout}'` : describeValue(layout)} — ${shapes()}`, 'layout');
  }
  if (x.ndim < 2 || angles.ndim < 2) throw new ShapeError(op, `need x [..., T, D] and angles [..., T, P] — ${shapes()}`, 'x');
  const D = x.shape[x.ndim - 1]!;
  const T = x.shape[x.ndim - 2]!;
  const P = angles.shape[angles.ndim - 1]!;
  if (options.rotaryDim === undefined && 2 * P !== D) {
    throw new ShapeError(op, `the angles rotate ${2 * P} channels but x has ${D} — ${shapes()} (angles [..., T, ${D / 2}] for the whole head; to rotate only the first ${2 * P} channels pass rotaryDim: ${2 * P})`, 'angles');
  }
  const R = options.rotaryDim ?? 2 * P;
  if (!Number.isInteger(R) || R < 0 || R % 2 !== 0) {
    throw new ValueError(op, `rotaryDim=${R} is not a non-negative even integer — ${shapes()} (channels rotate in pairs)`, 'rotaryDim');
  }
  if (R !== 2 * P || R > D) {
    throw new ShapeError(op, `rotaryDim=${R} does not match the angles or the head dim — ${shapes()} (rotaryDim = 2·pairs = ${2 * P}, ≤ ${D})`, 'angles');
  }
  if (angles.shape[angles.ndim - 2] !== T) {
    throw new ShapeError(op, `angles do not cover the sequence — ${shapes()} (one angle row per position: angles [..., ${T}, ${P}])`, 'angles');
  }
  const lead = x.shape.slice(0, -2);
  const aLead = angles.shape.slice(0, -2);
  const off = lead.length - aLead.length;
  if (off < 0 || aLead.some((d, i) => d !== 1 && d !== lead[i + off])) {
    const enlarges = off < 0 || aLead.some((d, i) => d > 1 && lead[i + off] === 1);
    const what = enlarges ? 'angles would enlarge x' : 'angles do not broadcast to x';
    throw new ShapeError(op, `${what} — ${shapes()} (each leading axis of angles must be 1 or match x's)`, 'angles');
  }
  const outer = T === 0 ? 0 : x.size / (T * Math.max(D, 1));
  return { outer: D === 0 ? 0 : outer, T, D, P, angleOuter: angleOuterIndex(aLead, lead) };
}

/** For each outer row of x (shape xOuter), the outer row of the broadcast angle table; null when it is always 0. */
function angleOuterIndex(aOuter: readonly number[], xOuter: readonly number[]): Int32Array | null {
  if (aOuter.every((d) => d === 1)) return null;
  const n = xOuter.reduce((p, d) => p * d, 1);
  const out = new Int32Array(n);
  const off = xOuter.length - aOuter.length;
  for (let r = 0; r < n; r++) {
    let rem = r;
    let idx = 0;
    let stride = 1;
    for (let ax = xOuter.length - 1; ax >= off; ax--) {
      const coord = rem % xOuter[ax]!;
      rem = (rem - coord) / xOuter[ax]!;
      const size = aOuter[ax - off]!;
      if (size !== 1) idx += coord * stride;
      stride *= size;
    }
    out[r] = idx;
  }
  return out;
}

// ── cos/sin cache ──

interface Trig {
  cos: Float64Array;
  sin: Float64Array;
}

/**
 * cos/sin per angles tensor (angle-cache.ts's rule: a hit must match the angles' current values). Marked pure so
 * that a bundle using none of rope.ts's rotation (e.g. `ropeInvFreq` alone) drops the memo and what it imports.
 */
const trigMemo = /* @__PURE__ */ new AngleMemo<Trig>('trig', false);

function trigOf(op: string, angles: Tensor): Trig {
  return trigMemo.get(angles, [], () => {
    expectFiniteAngles(op, angles); // once per table, on a cache miss
    const n = angles.size;
    const a = angles.data;
    const cos = new Float64Array(n);
    const sin = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      cos[i] = Math.cos(a[i]!);
      sin[i] = Math.sin(a[i]!);
    }
    return { cos, sin };
  });
}

function expectFiniteAngles(op: string, angles: Tensor): void {
  const a = angles.data;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) throw new ValueError(op, `angles must be finite, got ${a[i]} at flat index ${i} — angles=${fmtShape(angles.shape)} (a non-finite position or frequency)`, 'angles');
  }
}

// ── kernels ──
// Self-contained loops (arguments and globals only): `specialize` compiles one private copy per dtype so that every
// typed-array access stays monomorphic (a shared loop that sees both Float32Array and Float64Array runs ~1.8× slower).
// Row (o, t) of x starts at (o·T + t)·D; its angles start at j = (angleOuter[o]·T + t)·P and run over P pairs.

type RotateKernel = (
  x: TypedArray, out: TypedArray, cos: Float64Array, sin: Float64Array, cScale: number, sScale: number,
  outer: number, T: number, D: number, P: number, angleOuter: Int32Array | null,
) => void;
type BackwardKernel = (
  g: TypedArray, y: TypedArray, gx: TypedArray, ga: Float64Array, cos: Float64Array, sin: Float64Array, scale: number,
  outer: number, T: number, D: number, P: number, angleOuter: Int32Array | null,
) => void;

/** out_a = x_a·c − x_b·s, out_b = x_a·s + x_b·c with c = cScale·cos φ, s = sScale·sin φ; pair i = (i, i + P). */
function rotateHalf(x: TypedArray, out: TypedArray, cos: Float64Array, sin: Float64Array, cScale: number, sScale: number, outer: number, T: number, D: number, P: number, angleOuter: Int32Array | null): void {
  let o = 0;
  for (let b = 0; b < outer; b++) {
    let j = angleOuter === null ? 0 : angleOuter[b]! * T * P;
    for (let t = 0; t < T; t++, o += D) {
      for (let ia = o, ib = o + P, end = o + P; ia < end; ia++, ib++, j++) {
        const c = cos[j]! * cScale;
        const s = sin[j]! * sScale;
        const xa = x[ia]!;
        const xb = x[ib]!;
        out[ia] = xa * c - xb * s;
        out[ib] = xa * s + xb * c;
      }
      for (let k = o + 2 * P, end = o + D; k < end; k++) out[k] = x[k]!;
    }
  }
}

/** As rotateHalf with pair i = (2i, 2i + 1). */
function rotateInterleaved(x: TypedArray, out: TypedArray, cos: Float64Array, sin: Float64Array, cScale: number, sScale: number, outer: number, T: number, D: number, P: number, angleOuter: Int32Array | null): void {
  let o = 0;
  for (let b = 0; b < outer; b++) {
    let j = angleOuter === null ? 0 : angleOuter[b]! * T * P;
    for (let t = 0; t < T; t++, o += D) {
      for (let ia = o, end = o + 2 * P; ia < end; ia += 2, j++) {
        const c = cos[j]! * cScale;
        const s = sin[j]! * sScale;
        const xa = x[ia]!;
        const xb = x[ia + 1]!;
        out[ia] = xa * c - xb * s;
        out[ia + 1] = xa * s + xb * c;
      }
      for (let k = o + 2 * P, end = o + D; k < end; k++) out[k] = x[k]!;
    }
  }
}

/** gx = s·R(−φ)g and ga[j] += g_b·y_a − g_a·y_b (y the forward output) in one pass; half layout. */
function backwardHalf(g: TypedArray, y: TypedArray, gx: TypedArray, ga: Float64Array, cos: Float64Array, sin: Float64Array, scale: number, outer: number, T: number, D: number, P: number, angleOuter: Int32Array | null): void {
  let o = 0;
  for (let b = 0; b < outer; b++) {
    let j = angleOuter === null ? 0 : angleOuter[b]! * T * P;
    for (let t = 0; t < T; t++, o += D) {
      for (let ia = o, ib = o + P, end = o + P; ia < end; ia++, ib++, j++) {
        const c = cos[j]! * scale;
        const s = sin[j]! * scale;
        const gA = g[ia]!;
        const gB = g[ib]!;
        gx[ia] = gA * c + gB * s;
        gx[ib] = gB * c - gA * s;
        ga[j] += gB * y[ia]! - gA * y[ib]!;
      }
      for (let k = o + 2 * P, end = o + D; k < end; k++) gx[k] = g[k]!;
    }
  }
}

/** As backwardHalf with pair i = (2i, 2i + 1). */
function backwardInterleaved(g: TypedArray, y: TypedArray, gx: TypedArray, ga: Float64Array, cos: Float64Array, sin: Float64Array, scale: number, outer: number, T: number, D: number, P: number, angleOuter: Int32Array | null): void {
  let o = 0;
  for (let b = 0; b < outer; b++) {
    let j = angleOuter === null ? 0 : angleOuter[b]! * T * P;
    for (let t = 0; t < T; t++, o += D) {
      for (let ia = o, end = o + 2 * P; ia < end; ia += 2, j++) {
        const c = cos[j]! * scale;
        const s = sin[j]! * scale;
        const gA = g[ia]!;
        const gB = g[ia + 1]!;
        gx[ia] = gA * c + gB * s;
        gx[ia + 1] = gB * c - gA * s;
        ga[j] += gB * y[ia]! - gA * y[ia + 1]!;
      }
      for (let k = o + 2 * P, end = o + D; k < end; k++) gx[k] = g[k]!;
    }
  }
}

interface LayoutKernels {
  rotate: RotateKernel;
  backward: BackwardKernel;
}

const kernelsFor = (): Record<PairLayout, LayoutKernels> => ({
  half: { rotate: specialize(rotateHalf), backward: specialize(backwardHalf) },
  interleaved: { rotate: specialize(rotateInterleaved), backward: specialize(backwardInterleaved) },
});
const KERNELS: Record<DType, Record<PairLayout, LayoutKernels>> = { float32: kernelsFor(), float64: kernelsFor() };

/** The forward rotation with every intermediate rounded by `round` (float32 or bf16 emulation); a reference path. */
function rotateRounded(round: (v: number) => number, xs: ArrayLike<number>, out: TypedArray, angles: ArrayLike<number>, scale: number, half: boolean, geo: RotaryGeometry): void {
  const { outer, T, D, P, angleOuter } = geo;
  const step = half ? 1 : 2;
  const bOff = half ? P : 1;
  for (let b = 0; b < outer; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * D;
      const ao = ((angleOuter === null ? 0 : angleOuter[b]! * T) + t) * P;
      for (let i = 0, ia = o; i < P; i++, ia += step) {
        const ib = ia + bOff;
        const phi = Math.fround(angles[ao + i]!);
        const c = round(round(Math.cos(phi)) * scale);
        const s = round(round(Math.sin(phi)) * scale);
        const xa = round(xs[ia]!);
        const xb = round(xs[ib]!);
        out[ia] = round(round(xa * c) - round(xb * s));
        out[ib] = round(round(xa * s) + round(xb * c));
      }
      for (let k = o + 2 * P; k < o + D; k++) out[k] = xs[k]!;
    }
  }
}

// ── RoPE ──

/** Options of `RoPE`: `rotaryDim`, `base`, `layout`, `invFreq`, `attentionFactor`. */
export interface RoPEOptions {
  /** Rotated channels per head (even, ≤ headDim); default all of them. */
  rotaryDim?: number;
  base?: number;
  layout?: PairLayout;
  /** Precomputed inverse frequencies (overrides base); scaling rules supply these. */
  invFreq?: ArrayLike<number>;
  /** Multiplier on rotated q and k (the logit gets its square), as HF's attention_scaling. */
  attentionFactor?: number;
}

/** Plain RoPE for attention: rotates q and k by their positions; V is never rotated. */
export class RoPE extends PositionalEncoding {
  readonly name: string = 'rope';
  readonly layout: PairLayout;
  readonly rotaryDim: number;
  readonly invFreq: Float64Array;
  readonly attentionFactor: number;
  readonly #memo = new AngleMemo();

  constructor(readonly headDim: number, options: RoPEOptions = {}) {
    super();
    const op = this.opName();
    expectSize(op, 'headDim', headDim);
    const o = expectOptions(op, 'options', options, ['rotaryDim', 'base', 'layout', 'invFreq', 'attentionFactor']);
    this.rotaryDim = o.rotaryDim === undefined ? headDim : checkRotaryDim(op, 'rotaryDim', o.rotaryDim, headDim);
    if (this.rotaryDim % 2 !== 0) checkRotaryDim(op, 'headDim', headDim); // the default rotaryDim is the whole head
    this.layout = checkLayout(op, o.layout);
    this.invFreq = o.invFreq !== undefined
      ? checkInvFreq(op, 'invFreq', o.invFreq, this.rotaryDim / 2)
      : invFreqLadder(this.rotaryDim, o.base === undefined ? 10000 : checkBase(op, 'base', o.base));
    this.attentionFactor = checkAttentionFactor(op, o.attentionFactor);
  }

  /** The class name that starts this encoding's error messages (subclasses name themselves). */
  protected opName(): string {
    return 'RoPE';
  }

  /**
   * Angles [T, pairs] (or [B, 1, T, pairs] for per-sequence positions [B, T]) in float64. Cached per (positions,
   * invFreq) values (angle-cache.ts): the table returned may be shared with other calls, so treat it as read-only.
   * Positions that require grad get a fresh, differentiable table.
   */
  angles(positions: Positions): Tensor {
    expectPositions(this.opName(), 'positions', positions);
    return this.cachedAngles(positions);
  }

  private cachedAngles(positions: Positions): Tensor {
    return this.#memo.get(positions, [this.invFreq], () => this.computeAngles(positions));
  }

  /** Rotate x [..., T, headDim] by positions [T] (or [B, T] with x [B, H, T, headDim]). */
  rotate(x: Tensor, positions: Positions): Tensor {
    const op = this.opName();
    checkHead(op, 'x', x, this.headDim);
    expectPositions(op, 'positions', positions);
    return this.rotateChecked(op, x, positions);
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    const op = this.opName();
    checkHead(op, 'k', k, this.headDim); // k first: a wrong k is refused before q is rotated
    checkHead(op, 'q', q, this.headDim);
    expectPositions(op, 'qPositions', qPositions);
    expectPositions(op, 'kPositions', kPositions);
    return { q: this.rotateChecked(op, q, qPositions), k: this.rotateChecked(op, k, kPositions) };
  }

  /** Rotate checked x by checked positions; rotateBy refuses, under `op`, positions that miss x's sequence. */
  private rotateChecked(op: string, x: Tensor, positions: Positions): Tensor {
    return rotateBy(op, x, this.cachedAngles(positions), { layout: this.layout, scale: this.attentionFactor, rotaryDim: this.rotaryDim });
  }

  private computeAngles(positions: Positions): Tensor {
    const a = anglesOf(positions, this.invFreq);
    if (positions.ndim !== 2) return a;
    const shape = [positions.shape[0]!, 1, positions.shape[1]!, this.invFreq.length];
    return a.requiresGrad ? a.reshape(shape) : new Tensor(a.data, shape);
  }
}
