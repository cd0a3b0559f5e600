/**
 * RoFormer RoPE (Su et al. 2021, eq. 13–15): rotate each channel pair of q and k by m·θ_i, θ_i = base^(−2i/d), so
 * that ⟨R(m)q, R(n)k⟩ depends only on n − m. Every variant in positional/ builds an angle table and calls the one
 * differentiable rotation here, `applyRotary`.
 */
import { DTypeError, ShapeError, Tensor, ValueError, broadcastShapes, fmtShape, record, type DType } from '../core/index.js';
import { toBFloat16 } from './bf16.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';

/** Which channels form a rotation pair: 'half' pairs (i, i + d/2) (GPT-NeoX, HF Llama); 'interleaved' pairs (2i, 2i+1) (RoFormer, Meta, DeepSeek). */
export type PairLayout = 'half' | 'interleaved';

/** θ_i = base^(−2i/dim) for i < dim/2 (RoFormer eq. 15); float64. */
export function ropeInvFreq(dim: number, base = 10000): Float64Array {
  if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0) throw new ValueError('ropeInvFreq', `dim must be a positive even integer, got ${dim}`, 'dim');
  if (!(base > 1)) throw new ValueError('ropeInvFreq', `base must be > 1, got ${base}`, 'base');
  const out = new Float64Array(dim / 2);
  for (let i = 0; i < out.length; i++) out[i] = 1 / Math.pow(base, (2 * i) / dim);
  return out;
}

/** φ[m, i] = positions[m] · invFreq[i]: positions [T] (or [B, T]) → angles [T, pairs] (or [B, T, pairs]). */
export function rotaryAngles(positions: Positions | ArrayLike<number>, invFreq: ArrayLike<number>, options: { dtype?: DType } = {}): Tensor {
  const pos = positions instanceof Tensor ? positions : new Tensor(Float64Array.from(positions), [positions.length]);
  const P = invFreq.length;
  const data = options.dtype === 'float32' ? new Float32Array(pos.size * P) : new Float64Array(pos.size * P);
  for (let t = 0; t < pos.size; t++) {
    const m = pos.data[t]!;
    for (let i = 0; i < P; i++) data[t * P + i] = m * invFreq[i]!;
  }
  return new Tensor(data, [...pos.shape, P]);
}

/** Arithmetic of the rotation: exact (float64, then stored), or emulating float32 or bfloat16 kernels. */
export type RotaryPrecision = 'float64' | 'float32' | 'bf16';

export interface ApplyRotaryOptions {
  layout: PairLayout;
  /**
   * 'float32' / 'bf16' round the angle to float32 and then cos, sin, inputs, each product and each sum to the
   * chosen format, as a low-precision kernel would; the backward treats that rounding as the identity.
   * Default 'float64'.
   */
  precision?: RotaryPrecision;
  /** Multiplier on the rotated channels (YaRN/LongRoPE attention factor); default 1. */
  scale?: number;
  /** Channels [0, rotaryDim) rotate, the rest pass through; default 2·pairs. */
  rotaryDim?: number;
}

/** cos/sin tables per angles tensor, so that q and k rotated by the same table compute them once. */
const trigCache = new WeakMap<Tensor, { cos: Float64Array; sin: Float64Array }>();

function trigOf(angles: Tensor): { cos: Float64Array; sin: Float64Array } {
  let t = trigCache.get(angles);
  if (t === undefined) {
    const cos = new Float64Array(angles.size);
    const sin = new Float64Array(angles.size);
    for (let i = 0; i < angles.size; i++) {
      cos[i] = Math.cos(angles.data[i]!);
      sin[i] = Math.sin(angles.data[i]!);
    }
    t = { cos, sin };
    if (!angles.requiresGrad) trigCache.set(angles, t); // learnable angles change between steps
  }
  return t;
}

/**
 * Rotate channel pairs of x by the given angles: y_a = s(x_a cos φ − x_b sin φ), y_b = s(x_a sin φ + x_b cos φ).
 * x: [..., T, D]; angles: [..., T, P] broadcastable to x's leading axes (e.g. [T, P] shared, [H, T, P] per head);
 * P = rotaryDim/2 pairs. Backward rotates g by −φ (∂L/∂x = s·R(−φ)g) and gives ∂L/∂φ = g_b·y_a − g_a·y_b.
 */
export function applyRotary(x: Tensor, angles: Tensor, options: ApplyRotaryOptions): Tensor {
  const { layout, scale = 1 } = options;
  if (!(x instanceof Tensor) || !(angles instanceof Tensor)) throw new DTypeError('applyRotary', 'x and angles must be Tensors', 'x');
  if (layout !== 'half' && layout !== 'interleaved') throw new ValueError('applyRotary', `layout must be 'half' or 'interleaved', got '${String(layout)}'`, 'layout');
  if (x.ndim < 2 || angles.ndim < 2) throw new ShapeError('applyRotary', `need x [..., T, D] and angles [..., T, P] — x=${fmtShape(x.shape)}, angles=${fmtShape(angles.shape)}`, 'x');
  const D = x.shape[x.ndim - 1]!;
  const T = x.shape[x.ndim - 2]!;
  const P = angles.shape[angles.ndim - 1]!;
  const R = options.rotaryDim ?? 2 * P;
  if (R !== 2 * P || R > D) {
    throw new ShapeError('applyRotary', `rotaryDim=${R} must equal 2·pairs (${2 * P}) and not exceed the head dim — x=${fmtShape(x.shape)}, angles=${fmtShape(angles.shape)}`, 'angles');
  }
  if (angles.shape[angles.ndim - 2] !== T) {
    throw new ShapeError('applyRotary', `angles=${fmtShape(angles.shape)} do not cover x=${fmtShape(x.shape)} at seq=${T} (one angle row per position)`, 'angles');
  }
  const lead = x.shape.slice(0, -1);
  const angleLead = broadcastShapes(angles.shape.slice(0, -1), lead, 'applyRotary', ['angles', 'x']);
  if (angleLead.length !== lead.length || angleLead.some((d, i) => d !== lead[i])) {
    throw new ShapeError('applyRotary', `angles=${fmtShape(angles.shape)} would enlarge x=${fmtShape(x.shape)} (angles must broadcast to x's leading axes)`, 'angles');
  }
  const rows = x.size / Math.max(D, 1);
  const angleRow = angleRowIndex(angles.shape.slice(0, -1), lead, rows);
  const geometry: RotaryGeometry = { rows, D, P, R, half: layout === 'half', angleRow };
  const precision = options.precision ?? 'float64';
  const { cos, sin } = trigOf(angles);
  const y = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
  if (precision === 'float64') rotateRows(x.data, y, cos, sin, scale, geometry);
  else rotateRowsRounded(precision === 'bf16' ? toBFloat16 : Math.fround, x.data, y, angles.data, scale, geometry);
  const out = new Tensor(y, x.shape);
  return record('applyRotary', out, [x, angles], (g) => {
    const gx = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
    rotateRows(g.data, gx, cos, sin, scale, geometry, true); // ∂L/∂x = s·R(φ)ᵀ g = s·R(−φ) g
    const gAngles = angles.requiresGrad ? angleGradient(g.data, y, geometry, [...lead, P], angles.dtype) : null;
    return [new Tensor(gx, x.shape), gAngles];
  });
}

/** Where the pairs are: rows of D channels, P pairs in the first R = 2P channels, each row's angle row. */
interface RotaryGeometry {
  rows: number;
  D: number;
  P: number;
  R: number;
  /** 'half' layout pairs (i, i + P), else (2i, 2i + 1). */
  half: boolean;
  angleRow: Int32Array;
}

/**
 * out_a = s(x_a cos φ − x_b sin φ), out_b = s(x_a sin φ + x_b cos φ) for every pair; channels ≥ R are copied.
 * With `transpose` it applies s·R(φ)ᵀ = s·R(−φ) instead (the backward), written with −sin.
 */
function rotateRows(xs: ArrayLike<number>, out: Float32Array | Float64Array, cos: Float64Array, sin: Float64Array, scale: number, geo: RotaryGeometry, transpose = false): void {
  const { rows, D, P, R, half, angleRow } = geo;
  const c0 = scale;
  const s0 = transpose ? -scale : scale;
  const step = half ? 1 : 2;
  const bOff = half ? P : 1;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const ao = angleRow[r]! * P;
    for (let i = 0, ia = o; i < P; i++, ia += step) {
      const ib = ia + bOff;
      const c = cos[ao + i]! * c0;
      const s = sin[ao + i]! * s0;
      const xa = xs[ia]!;
      const xb = xs[ib]!;
      out[ia] = xa * c - xb * s;
      out[ib] = xa * s + xb * c;
    }
    for (let j = R; j < D; j++) out[o + j] = xs[o + j]!;
  }
}

/** The forward rotation with every intermediate rounded by `round` (float32 or bf16 emulation). */
function rotateRowsRounded(round: (v: number) => number, xs: ArrayLike<number>, out: Float32Array | Float64Array, angles: ArrayLike<number>, scale: number, geo: RotaryGeometry): void {
  const { rows, D, P, R, half, angleRow } = geo;
  const step = half ? 1 : 2;
  const bOff = half ? P : 1;
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const ao = angleRow[r]! * P;
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
    for (let j = R; j < D; j++) out[o + j] = xs[o + j]!;
  }
}

/** ∂L/∂φ = g_b·y_a − g_a·y_b per pair and row (y the rotated output): [...lead, P]. */
function angleGradient(gs: ArrayLike<number>, y: ArrayLike<number>, geo: RotaryGeometry, shape: number[], dtype: DType): Tensor {
  const { rows, D, P, half } = geo;
  const ga = dtype === 'float64' ? new Float64Array(rows * P) : new Float32Array(rows * P);
  const step = half ? 1 : 2;
  const bOff = half ? P : 1;
  for (let r = 0; r < rows; r++) {
    for (let i = 0, ia = r * D; i < P; i++, ia += step) ga[r * P + i] = gs[ia + bOff]! * y[ia]! - gs[ia]! * y[ia + bOff]!;
  }
  return new Tensor(ga, shape);
}

/** For each row of x's leading shape `lead`, the row of the (broadcast) angle table it uses. */
function angleRowIndex(angleLead: readonly number[], lead: readonly number[], rows: number): Int32Array {
  const out = new Int32Array(rows);
  const off = lead.length - angleLead.length;
  for (let r = 0; r < rows; r++) {
    let rem = r;
    let idx = 0;
    let stride = 1;
    for (let ax = lead.length - 1; ax >= 0; ax--) {
      const coord = rem % lead[ax]!;
      rem = Math.floor(rem / lead[ax]!);
      const a = ax - off;
      if (a >= 0) {
        if (angleLead[a] !== 1) idx += coord * stride;
        stride *= angleLead[a]!;
      }
    }
    out[r] = idx;
  }
  return out;
}

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

  constructor(readonly headDim: number, options: RoPEOptions = {}) {
    super();
    this.rotaryDim = options.rotaryDim ?? headDim;
    if (this.rotaryDim > headDim || this.rotaryDim % 2 !== 0) {
      throw new ValueError('RoPE', `rotaryDim must be even and ≤ headDim=${headDim}, got ${this.rotaryDim}`, 'rotaryDim');
    }
    this.layout = options.layout ?? 'half';
    this.invFreq = options.invFreq ? Float64Array.from(options.invFreq) : ropeInvFreq(this.rotaryDim, options.base ?? 10000);
    if (this.invFreq.length !== this.rotaryDim / 2) {
      throw new ShapeError('RoPE', `invFreq has ${this.invFreq.length} entries, expected rotaryDim/2 = ${this.rotaryDim / 2}`, 'invFreq');
    }
    this.attentionFactor = options.attentionFactor ?? 1;
  }

  /** Angles [T, pairs] (or [B, 1, T, pairs] for per-sequence positions [B, T]) in float64. */
  angles(positions: Positions): Tensor {
    const a = rotaryAngles(positions, this.invFreq);
    return positions.ndim === 2 ? a.reshape([positions.shape[0]!, 1, positions.shape[1]!, this.invFreq.length]) : a;
  }

  /** Rotate x [..., T, headDim] by positions [T] (or [B, T] with x [B, H, T, headDim]). */
  rotate(x: Tensor, positions: Positions): Tensor {
    return applyRotary(x, this.angles(positions), { layout: this.layout, scale: this.attentionFactor, rotaryDim: this.rotaryDim });
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    return { q: this.rotate(q, qPositions), k: this.rotate(k, kPositions) };
  }
}
