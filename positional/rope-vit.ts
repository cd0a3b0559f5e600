/**
 * RoPE for ViT (Heo, Park, Han, Yun, "Rotary Position Embedding for Vision Transformer", ECCV 2024;
 * naver-ai/rope-vit `models/vit_rope.py`): 2-D RoPE over a grid of patches, on the multi-axis core
 * φ[n, j] = x_n·F[0, j] + y_n·F[1, j] (multi-axis.ts) and rope.ts's `applyRotary`.
 *
 * - RoPE-Axial: F is fixed; pairs j < d/4 turn with the column x, pairs j ≥ d/4 with the row y, each with the ladder
 *   ω_k = θ^(−4k/d), θ = 100 (`compute_axial_cis`).
 * - RoPE-Mixed: F is learned per head (and per layer: one `RoPEMixed` per attention layer), initialised as a randomly
 *   oriented pair of orthogonal axial ladders with θ = 10 (`init_random_2d_freqs`, `compute_mixed_cis`).
 *
 * Pairs are interleaved, (x[2j], x[2j+1]) viewed as one complex number (`apply_rotary_emb`). Coordinates are the
 * reference's `init_t_xy`: raster order, x fastest, 0-based integer column x and row y, neither centred nor
 * normalised, so a larger image simply extends the grid (the paper's resolution extrapolation). The class token (and
 * any other prefix token) is not rotated: see `prefixTokens`.
 */
import {
  DTypeError, Generator, Parameter, ShapeError, Tensor, ValueError, concat, describeValue, expectAllocatable, expectBoolean, expectFiniteValues, expectNumber, expectOptions,
  fmtShape, stack, zeros,
  expectRequiredOptions, expectSize, optionalDType, optionalGenerator, type DType,
} from '../core/index.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
import { allocate, axisAngles, sectionsOf } from './multi-axis.js';
import { rotateBy } from './rope.js';
import { AngleMemo } from './angle-cache.js';
import {
  checkBase, checkReals, checkTableSize,
} from './checks.js';

/** RoPE-Axial's default θ (`compute_axial_cis`, DeiT-III `rope_axial_*` models). */
export const ROPE_VIT_AXIAL_THETA = 100;
/** RoPE-Mixed's default θ (`init_random_2d_freqs`, DeiT-III `rope_mixed_*` models). */
export const ROPE_VIT_MIXED_THETA = 10;

/** A head dim of RoPE-ViT: a positive multiple of 4 (d/4 pairs per axis) that fits in a table. */
function checkHeadDim(op: string, dim: unknown, arg = 'dim'): number {
  const d = expectNumber(op, arg, dim, { integer: true });
  if (d < 4 || d % 4 !== 0) throw new ValueError(op, `${arg} must be a positive multiple of 4 (d/4 pairs per axis), got ${d}`, arg);
  expectAllocatable(op, arg, d);
  return d;
}

/**
 * gridW, gridH: positive integers whose grid, and the angle table of `heads` × gridW·gridH × `pairs` built from
 * it, fit in one tensor; checked before anything is allocated.
 */
function checkGrid(op: string, gridW: unknown, gridH: unknown, pairs: number, heads = 1): [number, number] {
  const w = expectSize(op, 'gridW', gridW);
  const h = expectSize(op, 'gridH', gridH);
  checkTableSize(op, 'gridW × gridH', heads, w, h, Math.max(2, pairs));
  return [w, h];
}

/** init_t_xy of a checked gridW × gridH grid: [N, 2], token n at (n mod gridW, ⌊n / gridW⌋). */
function patchGrid(gridW: number, gridH: number, dtype: DType): Tensor {
  const N = gridW * gridH;
  const data = dtype === 'float64' ? new Float64Array(2 * N) : new Float32Array(2 * N);
  for (let n = 0; n < N; n++) {
    data[2 * n] = n % gridW;
    data[2 * n + 1] = Math.floor(n / gridW);
  }
  return new Tensor(data, [N, 2]);
}

/**
 * Patch coordinates [N, 2], N = gridW·gridH, of `init_t_xy(end_x = gridW, end_y = gridH)`: token n (raster order,
 * x fastest) sits at column x = n mod gridW (axis 0) and row y = ⌊n / gridW⌋ (axis 1). 0-based integers, no class
 * token row. gridW is the image width / patch size (the reference's end_x), gridH the height / patch size (end_y).
 */
export function ropeVitGrid(gridW: number, gridH: number, dtype: DType = 'float64'): Tensor {
  const op = 'ropeVitGrid';
  const type = optionalDType(op, 'dtype', dtype, 'float64');
  const [w, h] = checkGrid(op, gridW, gridH, 2);
  return patchGrid(w, h, type);
}

/** ω_k = θ^(−4k/d), k < d/4: one ladder per axis (Heo et al. 2024, RoPE-Axial; `compute_axial_cis`); float64. */
export function ropeVitInvFreq(dim: number, theta: number = ROPE_VIT_AXIAL_THETA): Float64Array {
  return ladder('ropeVitInvFreq', dim, theta);
}

/** ω_k = θ^(−4k/d) after checking d (a multiple of 4) and θ (finite, > 1) under `op`. */
function ladder(op: string, dim: unknown, theta: unknown, arg = 'dim'): Float64Array {
  const d = checkHeadDim(op, dim, arg);
  const base = checkBase(op, 'theta', theta);
  const out = new Float64Array(d / 4);
  for (let k = 0; k < out.length; k++) out[k] = 1 / Math.pow(base, (4 * k) / d);
  return out;
}

/** Axial F [2, d/2] (RoPE-Axial): F[0, j] = ω_j, F[1, j] = 0 for j < d/4; F[0, j] = 0, F[1, j] = ω_{j−d/4} after. */
export function ropeVitAxialFrequencies(dim: number, theta: number = ROPE_VIT_AXIAL_THETA, dtype: DType = 'float64'): Tensor {
  const op = 'ropeVitAxialFrequencies';
  return axialFrequencies(op, dim, theta, optionalDType(op, 'dtype', dtype, 'float64'));
}

function axialFrequencies(op: string, dim: unknown, theta: unknown, dtype: DType, arg = 'dim'): Tensor {
  const omega = ladder(op, dim, theta, arg);
  const Q = omega.length;
  const invFreq = new Float64Array(2 * Q);
  invFreq.set(omega, 0);
  invFreq.set(omega, Q);
  return allocate(op, sectionsOf(op, [Q, Q]), invFreq, 2, dtype);
}

/** Options of `ropeVitAxialAngles`: `dim`, `gridW`, `gridH`, `theta`, `dtype`. */
export interface RoPEViTAxialAnglesOptions {
  /** Head dim d (a multiple of 4). */
  dim: number;
  /** Patch columns (image width / patch size). */
  gridW: number;
  /** Patch rows (image height / patch size). */
  gridH: number;
  /** Default 100. */
  theta?: number;
  /** Default 'float64'; 'float32' forms x·ω in float32 as the reference does. */
  dtype?: DType;
}

/**
 * RoPE-Axial angles [N, d/2] over the gridW × gridH patch grid (`compute_axial_cis`): φ[n, j] = x_n·ω_j for j < d/4,
 * y_n·ω_{j−d/4} after. cos/sin of this table are the reference's freqs_cis.
 */
export function ropeVitAxialAngles(options: RoPEViTAxialAnglesOptions): Tensor {
  const op = 'ropeVitAxialAngles';
  const o = expectRequiredOptions(op, options, ['dim', 'gridW', 'gridH', 'theta', 'dtype'], '{ dim, gridW, gridH }');
  const dtype = optionalDType(op, 'dtype', o.dtype, 'float64');
  const F = axialFrequencies(op, o.dim, o.theta === undefined ? ROPE_VIT_AXIAL_THETA : o.theta, dtype);
  const [w, h] = checkGrid(op, o.gridW, o.gridH, F.shape[1]!);
  return axisAngles(op, patchGrid(w, h, dtype), F);
}

/** [H, 2, P] = stack(freqsX, freqsY) after checking both are finite [heads, d/2] tensors of one dtype. */
function mixedFrequencyMatrix(op: string, freqsX: unknown, freqsY: unknown): Tensor {
  for (const [arg, f] of [['freqsX', freqsX], ['freqsY', freqsY]] as const) {
    if (!(f instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor [heads, d/2], got ${describeValue(f)}`, arg);
  }
  const fx = freqsX as Tensor;
  const fy = freqsY as Tensor;
  const shapes = `freqsX=${fmtShape(fx.shape)}, freqsY=${fmtShape(fy.shape)}`;
  if (fx.ndim !== 2 || fy.ndim !== 2 || fx.shape[0] !== fy.shape[0] || fx.shape[1] !== fy.shape[1]) {
    throw new ShapeError(op, `freqsX and freqsY must both be [heads, d/2] — ${shapes} (one frequency per head and pair on each axis)`, 'freqsY');
  }
  if (fx.dtype !== fy.dtype) throw new DTypeError(op, `freqsX is ${fx.dtype} but freqsY is ${fy.dtype} — ${shapes} (use one dtype)`, 'freqsY');
  expectFiniteValues(op, 'freqsX', fx.data);
  expectFiniteValues(op, 'freqsY', fy.data);
  return stack([fx, fy], 1);
}

/** RoPE-Mixed angles [H, N, P] of the gridW × gridH grid, every argument checked under `op`. */
function mixedAngles(op: string, freqsX: unknown, freqsY: unknown, gridW: unknown, gridH: unknown): Tensor {
  const F = mixedFrequencyMatrix(op, freqsX, freqsY);
  const [w, h] = checkGrid(op, gridW, gridH, F.shape[2]!, F.shape[0]!);
  return axisAngles(op, patchGrid(w, h, F.dtype), F);
}

/** Options of `ropeVitMixedAngles`: `freqsX`, `freqsY`, `gridW`, `gridH`. */
export interface RoPEViTMixedAnglesOptions {
  /** Column frequencies [heads, d/2] (the reference's freqs[0] for one layer, viewed [heads, d/2]). */
  freqsX: Tensor;
  /** Row frequencies [heads, d/2] (freqs[1]). */
  freqsY: Tensor;
  gridW: number;
  gridH: number;
}

/**
 * RoPE-Mixed angles [H, N, d/2]: φ[h, n, j] = x_n·freqsX[h, j] + y_n·freqsY[h, j] (Heo et al. 2024, RoPE-Mixed;
 * `compute_mixed_cis` for one layer). Differentiable in freqsX and freqsY (∂φ[h, n, j]/∂freqsX[h, j] = x_n); the
 * dtype is the frequencies'.
 */
export function ropeVitMixedAngles(options: RoPEViTMixedAnglesOptions): Tensor {
  const op = 'ropeVitMixedAngles';
  const o = expectRequiredOptions(op, options, ['freqsX', 'freqsY', 'gridW', 'gridH'], '{ freqsX, freqsY, gridW, gridH }');
  return mixedAngles(op, o.freqsX, o.freqsY, o.gridW, o.gridH);
}

/** Options of `ropeVitMixedFrequencies`: `theta`, `rotate`, `orientations`, `generator`, `dtype`. */
export interface RoPEViTMixedInitOptions {
  /** Magnitude ladder base: |F[:, j]| = θ^(−4k/d). Default 10. */
  theta?: number;
  /** false: every head axis-aligned (orientation 0), which is RoPE-Axial with this θ. Default true. */
  rotate?: boolean;
  /** Explicit orientation a_h (radians) per head instead of random ones; no draws are made. */
  orientations?: ArrayLike<number>;
  /** Source of the random orientations, one draw per head in head order; default new Generator(0). */
  generator?: Generator;
  /** Default 'float32'. */
  dtype?: DType;
}

const MIXED_INIT_KEYS = ['theta', 'rotate', 'orientations', 'generator', 'dtype'] as const;

/**
 * `init_random_2d_freqs`: for head h draw a_h ~ U[0, 2π) (0 when rotate is false); with mag_k = θ^(−4k/d), k < d/4,
 * freqsX[h] = [mag·cos a_h ‖ −mag·sin a_h], freqsY[h] = [mag·sin a_h ‖ mag·cos a_h]. The first d/4 pairs point
 * along (cos a_h, sin a_h), the last d/4 along the perpendicular (−sin a_h, cos a_h). The reference writes the second
 * half as cos(a + π/2), sin(a + π/2), the same in exact arithmetic; its float32 cos(π/2) ≈ −4.4e-8 residue is not
 * reproduced. Returns [heads, d/2] tensors and the orientations used.
 */
export function ropeVitMixedFrequencies(numHeads: number, headDim: number, options: RoPEViTMixedInitOptions = {}): RoPEViTMixedFrequencies {
  const op = 'ropeVitMixedFrequencies';
  return mixedInit(op, numHeads, headDim, expectOptions(op, 'options', options, MIXED_INIT_KEYS));
}

/**
 * RoPE-Mixed's initial learned frequencies: per head, magnitudes along a random orientation a_h, split into x and y
 * parts [heads, d/2].
 */
export interface RoPEViTMixedFrequencies {
  /** [heads, d/2] */
  freqsX: Tensor;
  /** [heads, d/2] */
  freqsY: Tensor;
  /** a_h per head (radians). */
  orientations: Float64Array;
}

/** init_random_2d_freqs with every field of `options` (an object whose keys the caller checked) checked under `op`. */
function mixedInit(op: string, numHeads: unknown, headDim: unknown, options: RoPEViTMixedInitOptions): RoPEViTMixedFrequencies {
  const H = expectSize(op, 'numHeads', numHeads);
  const mag = ladder(op, headDim, options.theta === undefined ? ROPE_VIT_MIXED_THETA : options.theta, 'headDim');
  const rotate = options.rotate === undefined ? true : expectBoolean(op, 'rotate', options.rotate);
  const given = options.orientations === undefined ? undefined : checkReals(op, 'orientations', options.orientations);
  if (given !== undefined && given.length !== H) {
    throw new ShapeError(op, `${given.length} orientations for ${H} heads — orientations (one angle a_h per head)`, 'orientations');
  }
  const g = optionalGenerator(op, 'generator', options.generator, () => new Generator(0));
  const dtype = optionalDType(op, 'dtype', options.dtype, 'float32');
  const Q = mag.length;
  const P = 2 * Q;
  checkTableSize(op, 'numHeads × headDim/2', H, P);
  const fx = dtype === 'float64' ? new Float64Array(H * P) : new Float32Array(H * P);
  const fy = dtype === 'float64' ? new Float64Array(H * P) : new Float32Array(H * P);
  const orientations = new Float64Array(H);
  for (let h = 0; h < H; h++) {
    const a = given !== undefined ? given[h]! : rotate ? g.random() * 2 * Math.PI : 0;
    orientations[h] = a;
    const c = Math.cos(a);
    const s = Math.sin(a);
    for (let k = 0; k < Q; k++) {
      fx[h * P + k] = mag[k]! * c;
      fy[h * P + k] = mag[k]! * s;
      fx[h * P + Q + k] = -mag[k]! * s; // mag·cos(a + π/2)
      fy[h * P + Q + k] = mag[k]! * c; // mag·sin(a + π/2)
    }
  }
  return { freqsX: new Tensor(fx, [H, P]), freqsY: new Tensor(fy, [H, P]), orientations };
}

// ── shared by the two modules ──

/** Positions must be a Tensor [N, 2] or [B, N, 2] (x, y) per patch token; finite values checked when `finite`. */
function checkPatchPositions(op: string, arg: string, positions: unknown, finite = true): asserts positions is Tensor {
  if (!(positions instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor [N, 2] or [B, N, 2], got ${describeValue(positions)}`, arg);
  if (finite) expectFiniteValues(op, arg, positions.data);
  if ((positions.ndim !== 2 && positions.ndim !== 3) || positions.shape[positions.ndim - 1] !== 2) {
    throw new ShapeError(op, `${arg} must be [N, 2] or [B, N, 2] — ${arg}=${fmtShape(positions.shape)} (column 0 = x, column 1 = y)`, arg);
  }
}

/**
 * The patch rows of checked positions for a sequence of T tokens whose first `prefix` tokens are unrotated:
 * positions either cover the patches only (N = T − prefix rows) or every token (T rows; the prefix rows are
 * ignored, whatever they hold). The patch rows must be finite.
 */
function patchPositions(op: string, arg: string, positions: Tensor, T: number, prefix: number): Tensor {
  const rows = positions.shape[positions.ndim - 2]!;
  let patches: Tensor;
  if (rows === T - prefix) patches = positions;
  else if (rows === T && prefix > 0) patches = positions.narrow(-2, prefix, T - prefix);
  else {
    const hint = prefix > 0 ? `${T - prefix} patch rows or ${T} rows with the first ${prefix} ignored` : `${T} rows (pass { prefixTokens } to leave a class token unrotated)`;
    throw new ShapeError(op, `${arg} do not cover the ${T} tokens — ${arg}=${fmtShape(positions.shape)} (${hint})`, arg);
  }
  expectFiniteValues(op, arg, patches.data);
  return patches;
}

/** φ for the patches preceded by `prefix` rows of zero angles (cos 1, sin 0: those tokens pass through bit for bit). */
function withPrefix(phi: Tensor, prefix: number): Tensor {
  if (prefix === 0) return phi;
  const lead = phi.shape.slice(0, -2);
  return concat([zeros([...lead, prefix, phi.shape[phi.ndim - 1]!], { dtype: phi.dtype }), phi], -2);
}

function checkHeadVectors(op: string, arg: string, x: unknown, headDim: number): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor [..., T, ${headDim}], got ${describeValue(x)}`, arg);
  if (x.ndim < 2 || x.shape[x.ndim - 1] !== headDim) {
    throw new ShapeError(op, `${arg} must be [..., T, ${headDim}] — ${arg}=${fmtShape(x.shape)} (the last axis is the head dim)`, arg);
  }
}

/** Options of `RoPEAxial`: `theta`, `prefixTokens`, `dtype`. */
export interface RoPEAxialOptions {
  /** Default 100. */
  theta?: number;
  /** Leading tokens left unrotated (1 for a ViT's class token); default 0. */
  prefixTokens?: number;
  /** Angle dtype; default 'float64'. */
  dtype?: DType;
}

/**
 * RoPE-Axial for attention (`rope_axial_*` models). One instance serves every layer. q, k: [B, H, T, headDim] with
 * T = prefixTokens + N; positions [N, 2] (patches only, e.g. `ropeVitGrid(gridW, gridH)`), [T, 2] (prefix rows
 * ignored), or per image [B, N, 2] / [B, T, 2].
 */
export class RoPEAxial extends PositionalEncoding {
  readonly name = 'rope-axial';
  readonly theta: number;
  readonly prefixTokens: number;
  /** F [2, headDim/2] (fixed; read-only). */
  readonly freqs: Tensor;
  readonly #memo = new AngleMemo();

  constructor(readonly headDim: number, options: RoPEAxialOptions = {}) {
    super();
    const op = 'RoPEAxial';
    const o = expectOptions(op, 'options', options, ['theta', 'prefixTokens', 'dtype']);
    const theta = o.theta === undefined ? ROPE_VIT_AXIAL_THETA : o.theta;
    this.prefixTokens = o.prefixTokens === undefined ? 0 : expectSize(op, 'prefixTokens', o.prefixTokens, 0);
    this.freqs = axialFrequencies(op, headDim, theta, optionalDType(op, 'dtype', o.dtype, 'float64'), 'headDim');
    this.theta = theta;
  }

  /** The angle table [N, headDim/2] of the gridW × gridH patch grid (no prefix rows). */
  angles(gridW: number, gridH: number): Tensor {
    const [w, h] = checkGrid('RoPEAxial', gridW, gridH, this.freqs.shape[1]!);
    return this.#angles(patchGrid(w, h, this.freqs.dtype));
  }

  /** Angles of patch positions: [N, 2] → [N, P]; [B, N, 2] → [B, 1, N, P] (broadcast over heads). */
  anglesAt(positions: Positions): Tensor {
    checkPatchPositions('RoPEAxial', 'positions', positions);
    return this.#angles(positions);
  }

  #angles(positions: Tensor): Tensor {
    const phi = axisAngles('RoPEAxial', positions, this.freqs);
    return positions.ndim === 3 ? phi.unsqueeze(1) : phi;
  }

  /** Rotate x [..., T, headDim]; the first prefixTokens rows are returned unchanged. */
  rotate(x: Tensor, positions: Positions): Tensor {
    checkHeadVectors('RoPEAxial', 'x', x, this.headDim);
    return this.#rotate(x, 'positions', positions);
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    checkHeadVectors('RoPEAxial', 'q', q, this.headDim);
    checkHeadVectors('RoPEAxial', 'k', k, this.headDim);
    return { q: this.#rotate(q, 'qPositions', qPositions), k: this.#rotate(k, 'kPositions', kPositions) };
  }

  #rotate(x: Tensor, arg: string, positions: unknown): Tensor {
    checkPatchPositions('RoPEAxial', arg, positions, false);
    return rotateBy('RoPEAxial', x, this.tokenAngles(arg, positions, x.shape[x.ndim - 2]!), { layout: 'interleaved' });
  }

  /**
   * [..., T, P] with zero rows for the prefix, memoised per (positions, freqs, T, prefixTokens) values
   * (angle-cache.ts), so q, k and every layer share one table.
   */
  private tokenAngles(arg: string, positions: Tensor, T: number): Tensor {
    const prefix = this.prefixTokens;
    return this.#memo.get(positions, [this.freqs, [T, prefix]], () => withPrefix(this.#angles(patchPositions('RoPEAxial', arg, positions, T, prefix)), prefix));
  }
}

/** Options of `RoPEMixed`: `prefixTokens`. */
export interface RoPEMixedOptions extends RoPEViTMixedInitOptions {
  /** Leading tokens left unrotated (1 for a ViT's class token); default 0. */
  prefixTokens?: number;
}

/**
 * RoPE-Mixed for attention (`rope_mixed_*` models): learnable frequencies freqsX, freqsY [numHeads, headDim/2],
 * initialised by `ropeVitMixedFrequencies` (θ = 10, random orientation per head). Per layer: build one instance per
 * attention layer. The reference's parameter freqs [2, depth, heads·d/2] maps to layer i as
 * freqsX = freqs[0, i].view(heads, d/2), freqsY = freqs[1, i].view(heads, d/2). q, k: [B, numHeads, T, headDim];
 * positions as for `RoPEAxial`.
 */
export class RoPEMixed extends PositionalEncoding {
  readonly name = 'rope-mixed';
  override readonly scope = 'layer';
  readonly theta: number;
  readonly prefixTokens: number;
  /** [numHeads, headDim/2]: column (x) frequencies. */
  readonly freqsX: Parameter;
  /** [numHeads, headDim/2]: row (y) frequencies. */
  readonly freqsY: Parameter;
  readonly #memo = new AngleMemo();

  constructor(readonly numHeads: number, readonly headDim: number, options: RoPEMixedOptions = {}) {
    super();
    const op = 'RoPEMixed';
    const o = expectOptions(op, 'options', options, [...MIXED_INIT_KEYS, 'prefixTokens']);
    this.prefixTokens = o.prefixTokens === undefined ? 0 : expectSize(op, 'prefixTokens', o.prefixTokens, 0);
    const { freqsX, freqsY } = mixedInit(op, numHeads, headDim, o);
    this.theta = o.theta === undefined ? ROPE_VIT_MIXED_THETA : o.theta;
    this.freqsX = new Parameter(freqsX.data, freqsX.shape);
    this.freqsY = new Parameter(freqsY.data, freqsY.shape);
  }

  /** The angle table [numHeads, N, headDim/2] of the gridW × gridH patch grid (no prefix rows); differentiable. */
  angles(gridW: number, gridH: number): Tensor {
    return mixedAngles('RoPEMixed', this.freqsX, this.freqsY, gridW, gridH);
  }

  /** Angles of patch positions: [N, 2] → [H, N, P]; [B, N, 2] → [B, H, N, P]. */
  anglesAt(positions: Positions): Tensor {
    checkPatchPositions('RoPEMixed', 'positions', positions);
    return this.#angles(positions);
  }

  #angles(positions: Tensor): Tensor {
    return axisAngles('RoPEMixed', positions, mixedFrequencyMatrix('RoPEMixed', this.freqsX, this.freqsY));
  }

  /** Rotate x [B, numHeads, T, headDim] (or [numHeads, T, headDim]); the first prefixTokens rows are unchanged. */
  rotate(x: Tensor, positions: Positions): Tensor {
    this.checkHeads('x', x);
    checkPatchPositions('RoPEMixed', 'positions', positions, false);
    return rotateBy('RoPEMixed', x, this.tokenAngles('positions', positions, x.shape[x.ndim - 2]!), { layout: 'interleaved' });
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    this.checkHeads('q', q);
    this.checkHeads('k', k);
    checkPatchPositions('RoPEMixed', 'qPositions', qPositions, false);
    checkPatchPositions('RoPEMixed', 'kPositions', kPositions, false);
    const Tq = q.shape[q.ndim - 2]!;
    const Tk = k.shape[k.ndim - 2]!;
    const qPhi = this.tokenAngles('qPositions', qPositions, Tq);
    const kPhi = qPositions === kPositions && Tq === Tk ? qPhi : this.tokenAngles('kPositions', kPositions, Tk); // self-attention: one table
    return { q: rotateBy('RoPEMixed', q, qPhi, { layout: 'interleaved' }), k: rotateBy('RoPEMixed', k, kPhi, { layout: 'interleaved' }) };
  }

  /**
   * [..., T, P] with zero rows for the prefix; memoised like RoPEAxial's (angle-cache.ts), which applies only to
   * frozen frequencies: trainable ones (requiring grad) get a fresh, differentiable table each call.
   */
  private tokenAngles(arg: string, positions: Tensor, T: number): Tensor {
    const prefix = this.prefixTokens;
    const build = (): Tensor => withPrefix(this.#angles(patchPositions('RoPEMixed', arg, positions, T, prefix)), prefix);
    return this.#memo.get(positions, [this.freqsX, this.freqsY, [T, prefix]], build);
  }

  private checkHeads(arg: string, x: unknown): asserts x is Tensor {
    checkHeadVectors('RoPEMixed', arg, x, this.headDim);
    if (x.ndim < 3 || x.shape[x.ndim - 3] !== this.numHeads) {
      throw new ShapeError('RoPEMixed', `${arg} must have ${this.numHeads} heads — ${arg}=${fmtShape(x.shape)} (one frequency set per head: ${arg} [B, ${this.numHeads}, T, ${this.headDim}])`, arg);
    }
  }
}
