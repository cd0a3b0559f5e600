/**
 * RoPE for ViT (Heo, Park, Han, Yun, "Rotary Position Embedding for Vision Transformer", ECCV 2024;
 * naver-ai/rope-vit `models/vit_rope.py`): 2-D RoPE over a grid of patches, on the multi-axis core
 * φ[n, j] = x_n·F[0, j] + y_n·F[1, j] (multiaxis spec §0.1) and rope.ts's `applyRotary`.
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
  DTypeError, Generator, Parameter, ShapeError, Tensor, ValueError, concat, fmtShape, stack, zeros, type DType, describeValue, expectFiniteValues } from '../core/index.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
import { allocateFrequencies, multiAxisAngles, sectionAxes } from './multi-axis.js';
import { applyRotary } from './rope.js';

/** RoPE-Axial's default θ (`compute_axial_cis`, DeiT-III `rope_axial_*` models). */
export const ROPE_VIT_AXIAL_THETA = 100;
/** RoPE-Mixed's default θ (`init_random_2d_freqs`, DeiT-III `rope_mixed_*` models). */
export const ROPE_VIT_MIXED_THETA = 10;

function checkGridSide(op: string, name: 'gridW' | 'gridH', v: number): void {
  if (!Number.isInteger(v) || v < 1) {
    const what = name === 'gridW' ? 'patch columns = image width / patch size' : 'patch rows = image height / patch size';
    throw new ValueError(op, `${name} must be a positive integer — ${name}=${v} (${what})`, name);
  }
}

function checkHeadDim(op: string, dim: number, arg = 'dim'): void {
  if (!Number.isInteger(dim) || dim < 4 || dim % 4 !== 0) {
    throw new ValueError(op, `the head dim must be a positive multiple of 4 — ${arg}=${dim} (d/4 pairs per axis)`, arg);
  }
}

function checkTheta(op: string, theta: number): void {
  if (!(theta > 0) || !Number.isFinite(theta)) throw new ValueError(op, `theta must be finite and > 0 — theta=${theta}`, 'theta');
}

/**
 * Patch coordinates [N, 2], N = gridW·gridH, of `init_t_xy(end_x = gridW, end_y = gridH)`: token n (raster order,
 * x fastest) sits at column x = n mod gridW (axis 0) and row y = ⌊n / gridW⌋ (axis 1). 0-based integers, no class
 * token row. gridW is the image width / patch size (the reference's end_x), gridH the height / patch size (end_y).
 */
export function ropeVitGrid(gridW: number, gridH: number, dtype: DType = 'float64'): Tensor {
  checkGridSide('ropeVitGrid', 'gridW', gridW);
  checkGridSide('ropeVitGrid', 'gridH', gridH);
  const N = gridW * gridH;
  const data = dtype === 'float64' ? new Float64Array(2 * N) : new Float32Array(2 * N);
  for (let n = 0; n < N; n++) {
    data[2 * n] = n % gridW;
    data[2 * n + 1] = Math.floor(n / gridW);
  }
  return new Tensor(data, [N, 2]);
}

/** ω_k = θ^(−4k/d), k < d/4: one ladder per axis (Heo et al. 2024, RoPE-Axial; `compute_axial_cis`); float64. */
export function ropeVitInvFreq(dim: number, theta: number = ROPE_VIT_AXIAL_THETA): Float64Array {
  return ladder('ropeVitInvFreq', dim, theta);
}

function ladder(op: string, dim: number, theta: number, arg = 'dim'): Float64Array {
  checkHeadDim(op, dim, arg);
  checkTheta(op, theta);
  const out = new Float64Array(dim / 4);
  for (let k = 0; k < out.length; k++) out[k] = 1 / Math.pow(theta, (4 * k) / dim);
  return out;
}

/** Axial F [2, d/2] (RoPE-Axial): F[0, j] = ω_j, F[1, j] = 0 for j < d/4; F[0, j] = 0, F[1, j] = ω_{j−d/4} after. */
export function ropeVitAxialFrequencies(dim: number, theta: number = ROPE_VIT_AXIAL_THETA, dtype: DType = 'float64'): Tensor {
  return axialFrequencies('ropeVitAxialFrequencies', dim, theta, dtype);
}

function axialFrequencies(op: string, dim: number, theta: number, dtype: DType, arg = 'dim'): Tensor {
  const omega = ladder(op, dim, theta, arg);
  const Q = omega.length;
  const invFreq = new Float64Array(2 * Q);
  invFreq.set(omega, 0);
  invFreq.set(omega, Q);
  return allocateFrequencies(sectionAxes([Q, Q]), invFreq, 2, dtype);
}

export interface RopeVitAxialAnglesOptions {
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
export function ropeVitAxialAngles(options: RopeVitAxialAnglesOptions): Tensor {
  const { dim, gridW, gridH, theta = ROPE_VIT_AXIAL_THETA, dtype = 'float64' } = options;
  const F = axialFrequencies('ropeVitAxialAngles', dim, theta, dtype);
  return multiAxisAngles(ropeVitGrid(gridW, gridH, dtype), F);
}

/** [H, 2, P] = stack(freqsX, freqsY) after checking both are [heads, d/2] of one dtype. */
function mixedFrequencyMatrix(op: string, freqsX: Tensor, freqsY: Tensor): Tensor {
  if (!(freqsX instanceof Tensor) || !(freqsY instanceof Tensor)) throw new DTypeError(op, 'freqsX and freqsY must be Tensors', 'freqsX');
  const shapes = `freqsX=${fmtShape(freqsX.shape)}, freqsY=${fmtShape(freqsY.shape)}`;
  if (freqsX.ndim !== 2 || freqsY.ndim !== 2 || freqsX.shape[0] !== freqsY.shape[0] || freqsX.shape[1] !== freqsY.shape[1]) {
    throw new ShapeError(op, `freqsX and freqsY must both be [heads, d/2] — ${shapes} (one frequency per head and pair on each axis)`, 'freqsY');
  }
  if (freqsX.dtype !== freqsY.dtype) throw new DTypeError(op, `freqsX is ${freqsX.dtype} but freqsY is ${freqsY.dtype} — ${shapes} (use one dtype)`, 'freqsY');
  return stack([freqsX, freqsY], 1);
}

export interface RopeVitMixedAnglesOptions {
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
export function ropeVitMixedAngles(options: RopeVitMixedAnglesOptions): Tensor {
  const { freqsX, freqsY, gridW, gridH } = options;
  const F = mixedFrequencyMatrix('ropeVitMixedAngles', freqsX, freqsY);
  return multiAxisAngles(ropeVitGrid(gridW, gridH, F.dtype), F);
}

export interface RopeVitMixedInitOptions {
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

/**
 * `init_random_2d_freqs`: for head h draw a_h ~ U[0, 2π) (0 when rotate is false); with mag_k = θ^(−4k/d), k < d/4,
 * freqsX[h] = [mag·cos a_h ‖ −mag·sin a_h], freqsY[h] = [mag·sin a_h ‖ mag·cos a_h]. The first d/4 pairs point
 * along (cos a_h, sin a_h), the last d/4 along the perpendicular (−sin a_h, cos a_h). The reference writes the second
 * half as cos(a + π/2), sin(a + π/2), the same in exact arithmetic; its float32 cos(π/2) ≈ −4.4e-8 residue is not
 * reproduced. Returns [heads, d/2] tensors and the orientations used.
 */
export function ropeVitMixedFrequencies(numHeads: number, headDim: number, options: RopeVitMixedInitOptions = {}): RopeVitMixedFrequencies {
  return mixedInit('ropeVitMixedFrequencies', numHeads, headDim, options);
}

export interface RopeVitMixedFrequencies {
  /** [heads, d/2] */
  freqsX: Tensor;
  /** [heads, d/2] */
  freqsY: Tensor;
  /** a_h per head (radians). */
  orientations: Float64Array;
}

function mixedInit(op: string, numHeads: number, headDim: number, options: RopeVitMixedInitOptions): RopeVitMixedFrequencies {
  const { theta = ROPE_VIT_MIXED_THETA, rotate = true, dtype = 'float32' } = options;
  if (!Number.isInteger(numHeads) || numHeads < 1) throw new ValueError(op, `numHeads must be a positive integer — numHeads=${numHeads}`, 'numHeads');
  if (options.orientations !== undefined && options.orientations.length !== numHeads) {
    throw new ShapeError(op, `${options.orientations.length} orientations for ${numHeads} heads — orientations (one angle a_h per head)`, 'orientations');
  }
  const g = options.generator ?? new Generator(0);
  const mag = ladder(op, headDim, theta, 'headDim');
  const Q = mag.length;
  const P = 2 * Q;
  const fx = dtype === 'float64' ? new Float64Array(numHeads * P) : new Float32Array(numHeads * P);
  const fy = dtype === 'float64' ? new Float64Array(numHeads * P) : new Float32Array(numHeads * P);
  const orientations = new Float64Array(numHeads);
  for (let h = 0; h < numHeads; h++) {
    const a = options.orientations !== undefined ? options.orientations[h]! : rotate ? g.random() * 2 * Math.PI : 0;
    if (!Number.isFinite(a)) throw new ValueError(op, `orientations[${h}] = ${a} is not a finite angle`, 'orientations');
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
  return { freqsX: new Tensor(fx, [numHeads, P]), freqsY: new Tensor(fy, [numHeads, P]), orientations };
}

// ── shared by the two modules ──

function checkPrefix(op: string, prefixTokens: number): void {
  if (!Number.isInteger(prefixTokens) || prefixTokens < 0) {
    throw new ValueError(op, `prefixTokens must be a non-negative integer — prefixTokens=${prefixTokens} (leading tokens left unrotated, 1 for a class token)`, 'prefixTokens');
  }
}

/** Positions must be [N, 2] or [B, N, 2] (x, y) per patch token. */
function checkPositions(op: string, positions: Positions, finite = true): void {
  if (!(positions instanceof Tensor)) throw new DTypeError(op, `positions must be a Tensor [N, 2] or [B, N, 2], got ${describeValue(positions)}`, 'positions');
  if (finite) expectFiniteValues(op, 'positions', positions.data);
  if ((positions.ndim !== 2 && positions.ndim !== 3) || positions.shape[positions.ndim - 1] !== 2) {
    throw new ShapeError(op, `positions must be [N, 2] or [B, N, 2] — positions=${fmtShape(positions.shape)} (column 0 = x, column 1 = y)`, 'positions');
  }
}

/**
 * The patch rows of positions for a sequence of T tokens whose first `prefix` tokens are unrotated: positions either
 * cover the patches only (N = T − prefix rows) or every token (T rows; the prefix rows are ignored).
 */
function patchPositions(op: string, positions: Positions, T: number, prefix: number): Tensor {
  checkPositions(op, positions, false); // rows of prefix tokens are ignored, whatever they hold; anglesAt checks the patch rows
  const rows = positions.shape[positions.ndim - 2]!;
  if (rows === T - prefix) return positions;
  if (rows === T && prefix > 0) return positions.narrow(-2, prefix, T - prefix);
  const hint = prefix > 0 ? `${T - prefix} patch rows or ${T} rows with the first ${prefix} ignored` : `${T} rows (pass { prefixTokens } to leave a class token unrotated)`;
  throw new ShapeError(op, `positions do not cover the ${T} tokens — positions=${fmtShape(positions.shape)} (${hint})`, 'positions');
}

/** φ for the patches preceded by `prefix` rows of zero angles (cos 1, sin 0: those tokens pass through bit for bit). */
function withPrefix(phi: Tensor, prefix: number): Tensor {
  if (prefix === 0) return phi;
  const lead = phi.shape.slice(0, -2);
  return concat([zeros([...lead, prefix, phi.shape[phi.ndim - 1]!], { dtype: phi.dtype }), phi], -2);
}

function checkHeadVectors(op: string, x: Tensor, headDim: number): void {
  if (!(x instanceof Tensor)) throw new DTypeError(op, 'x must be a Tensor [..., T, headDim]', 'x');
  if (x.ndim < 2 || x.shape[x.ndim - 1] !== headDim) {
    throw new ShapeError(op, `x must be [..., T, ${headDim}] — x=${fmtShape(x.shape)} (the last axis is the head dim)`, 'x');
  }
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

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
  #cache = new WeakMap<Tensor, { positions: Float64Array; freqs: Float64Array; T: number; angles: Tensor }>();

  constructor(readonly headDim: number, options: RoPEAxialOptions = {}) {
    super();
    this.theta = options.theta ?? ROPE_VIT_AXIAL_THETA;
    this.prefixTokens = options.prefixTokens ?? 0;
    checkPrefix('RoPEAxial', this.prefixTokens);
    this.freqs = axialFrequencies('RoPEAxial', headDim, this.theta, options.dtype ?? 'float64', 'headDim');
  }

  /** The angle table [N, headDim/2] of the gridW × gridH patch grid (no prefix rows). */
  angles(gridW: number, gridH: number): Tensor {
    return this.anglesAt(ropeVitGrid(gridW, gridH, this.freqs.dtype));
  }

  /** Angles of patch positions: [N, 2] → [N, P]; [B, N, 2] → [B, 1, N, P] (broadcast over heads). */
  anglesAt(positions: Positions): Tensor {
    checkPositions('RoPEAxial', positions);
    const phi = multiAxisAngles(positions, this.freqs);
    return positions.ndim === 3 ? phi.unsqueeze(1) : phi;
  }

  /** Rotate x [..., T, headDim]; the first prefixTokens rows are returned unchanged. */
  rotate(x: Tensor, positions: Positions): Tensor {
    checkHeadVectors('RoPEAxial', x, this.headDim);
    return applyRotary(x, this.tokenAngles(positions, x.shape[x.ndim - 2]!), { layout: 'interleaved' });
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    return { q: this.rotate(q, qPositions), k: this.rotate(k, kPositions) };
  }

  /** [..., T, P] with zero rows for the prefix, cached per positions tensor so q, k and every layer share one table. */
  private tokenAngles(positions: Positions, T: number): Tensor {
    const build = (): Tensor => withPrefix(this.anglesAt(patchPositions('RoPEAxial', positions, T, this.prefixTokens)), this.prefixTokens);
    if (positions.requiresGrad) return build();
    const hit = this.#cache.get(positions);
    if (hit !== undefined && hit.T === T && sameValues(hit.positions, positions.data) && sameValues(hit.freqs, this.freqs.data)) return hit.angles;
    const angles = build();
    this.#cache.set(positions, { positions: Float64Array.from(positions.data), freqs: Float64Array.from(this.freqs.data), T, angles });
    return angles;
  }
}

export interface RoPEMixedOptions extends RopeVitMixedInitOptions {
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

  constructor(readonly numHeads: number, readonly headDim: number, options: RoPEMixedOptions = {}) {
    super();
    this.theta = options.theta ?? ROPE_VIT_MIXED_THETA;
    this.prefixTokens = options.prefixTokens ?? 0;
    checkPrefix('RoPEMixed', this.prefixTokens);
    const { freqsX, freqsY } = mixedInit('RoPEMixed', numHeads, headDim, options);
    this.freqsX = new Parameter(freqsX.data, freqsX.shape);
    this.freqsY = new Parameter(freqsY.data, freqsY.shape);
  }

  /** The angle table [numHeads, N, headDim/2] of the gridW × gridH patch grid (no prefix rows); differentiable. */
  angles(gridW: number, gridH: number): Tensor {
    return ropeVitMixedAngles({ freqsX: this.freqsX, freqsY: this.freqsY, gridW, gridH });
  }

  /** Angles of patch positions: [N, 2] → [H, N, P]; [B, N, 2] → [B, H, N, P]. */
  anglesAt(positions: Positions): Tensor {
    checkPositions('RoPEMixed', positions);
    return multiAxisAngles(positions, mixedFrequencyMatrix('RoPEMixed', this.freqsX, this.freqsY));
  }

  /** Rotate x [B, numHeads, T, headDim] (or [numHeads, T, headDim]); the first prefixTokens rows are unchanged. */
  rotate(x: Tensor, positions: Positions): Tensor {
    this.checkHeads(x);
    return applyRotary(x, this.tokenAngles(positions, x.shape[x.ndim - 2]!), { layout: 'interleaved' });
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    this.checkHeads(q);
    this.checkHeads(k);
    const Tq = q.shape[q.ndim - 2]!;
    const Tk = k.shape[k.ndim - 2]!;
    const qPhi = this.tokenAngles(qPositions, Tq);
    const kPhi = qPositions === kPositions && Tq === Tk ? qPhi : this.tokenAngles(kPositions, Tk); // self-attention: one table
    return { q: applyRotary(q, qPhi, { layout: 'interleaved' }), k: applyRotary(k, kPhi, { layout: 'interleaved' }) };
  }

  private tokenAngles(positions: Positions, T: number): Tensor {
    return withPrefix(this.anglesAt(patchPositions('RoPEMixed', positions, T, this.prefixTokens)), this.prefixTokens);
  }

  private checkHeads(x: Tensor): void {
    checkHeadVectors('RoPEMixed', x, this.headDim);
    if (x.ndim < 3 || x.shape[x.ndim - 3] !== this.numHeads) {
      throw new ShapeError('RoPEMixed', `x must have ${this.numHeads} heads — x=${fmtShape(x.shape)} (one frequency set per head: x [B, ${this.numHeads}, T, ${this.headDim}])`, 'x');
    }
  }
}
