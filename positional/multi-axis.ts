/**
 * The multi-axis core: every image/video/agent variant builds an angle table φ[n, j] = Σ_a pos[n, a]·F[a, j]
 * (RoFormer eq. 13–15, the angle m·θ_j summed over axes) from per-token coordinates on A axes and a frequency matrix
 * F [A, P], then rotates with applyRotary. Sections, interleaving, zero-frequency (NoPE) pairs and per-head
 * allocations are just ways to build F.
 */
import {
  DTypeError, ShapeError, Tensor, ValueError, describeValue, expectFiniteValues, expectOptions, fmtShape, matmul,
  expectPositions, expectSize, optionalDType, type DType,
} from '../core/index.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
import {
  checkAttentionFactor, checkHead, checkIntegers, checkInvFreq, checkLayout, checkRotaryDim, checkTableSize,
} from './checks.js';
import { rotateBy, type PairLayout } from './rope.js';
import { AngleMemo } from './angle-cache.js';

/**
 * φ = pos · F. positions: [N, A] or [B, N, A] (fractional and negative allowed); freqs: [A, P] shared or [H, A, P]
 * per head → angles [N, P], [B, N, P], [H, N, P] or [B, H, N, P]. Differentiable in both (RoPE-Mixed learns F).
 */
export function multiAxisAngles(positions: Tensor, freqs: Tensor): Tensor {
  const op = 'multiAxisAngles';
  expectPositions(op, 'positions', positions);
  checkFreqs(op, freqs);
  return axisAngles(op, positions, freqs);
}

/** A frequency matrix: a Tensor [axes, pairs] or [heads, axes, pairs] of finite values (O(H·A·P), once per call). */
export function checkFreqs(op: string, freqs: unknown, arg = 'freqs'): asserts freqs is Tensor {
  if (!(freqs instanceof Tensor)) throw new DTypeError(op, `${arg} must be a Tensor [axes, pairs] or [heads, axes, pairs], got ${describeValue(freqs)}`, arg);
  if (freqs.ndim < 2 || freqs.ndim > 3) throw new ShapeError(op, `${arg} must be [axes, pairs] or [heads, axes, pairs], got ${fmtShape(freqs.shape)}`, arg);
  expectFiniteValues(op, arg, freqs.data);
}

/** multiAxisAngles without argument checks beyond shapes (positions and freqs checked by the caller, `op`). */
export function axisAngles(op: string, positions: Tensor, freqs: Tensor): Tensor {
  if (positions.ndim < 2 || positions.ndim > 3) {
    throw new ShapeError(op, `positions must be [N, axes] or [B, N, axes], got ${fmtShape(positions.shape)}`, 'positions');
  }
  if (freqs.ndim < 2 || freqs.ndim > 3 || freqs.shape[freqs.ndim - 2] !== positions.shape[positions.ndim - 1]) {
    throw new ShapeError(
      op,
      `freqs=${fmtShape(freqs.shape)} must be [axes, pairs] or [heads, axes, pairs] with axes = ${positions.shape[positions.ndim - 1]} — positions=${fmtShape(positions.shape)}`,
      'freqs',
    );
  }
  const pos = freqs.ndim === 3 && positions.ndim === 3 ? positions.unsqueeze(1) : positions; // [B, 1, N, A] against [H, A, P]
  return matmul(pos.cast(freqs.dtype), freqs);
}

/**
 * F [A, P] from a pair → axis assignment: F[a, j] = invFreq[j] where axisOfPair[j] = a; null marks a NoPE pair
 * (zero frequency on every axis: the pair passes through unrotated).
 */
export function allocateFrequencies(axisOfPair: readonly (number | null)[], invFreq: ArrayLike<number>, numAxes: number, dtype: DType = 'float64'): Tensor {
  return allocate('allocateFrequencies', axisOfPair, invFreq, numAxes, dtype);
}

/** allocateFrequencies with `op` naming the public call in errors; checks every argument (O(P)). */
export function allocate(op: string, axisOfPair: unknown, invFreq: unknown, numAxes: unknown, dtype: unknown = 'float64'): Tensor {
  const theta = checkInvFreq(op, 'invFreq', invFreq);
  const A = expectSize(op, 'numAxes', numAxes);
  const type = optionalDType(op, 'dtype', dtype, 'float64');
  checkTableSize(op, 'numAxes × pairs', A, theta.length);
  const F = type === 'float64' ? new Float64Array(A * theta.length) : new Float32Array(A * theta.length);
  fillAllocation(op, 'axisOfPair', axisOfPair, theta, A, F, 0);
  return new Tensor(F, [A, theta.length]);
}

/** Writes F[a, j] = θ_j for axisOfPair[j] = a (null: a NoPE pair) into F from `offset`. */
function fillAllocation(op: string, arg: string, axisOfPair: unknown, theta: Float64Array, numAxes: number, F: Float32Array | Float64Array, offset: number): void {
  if (!Array.isArray(axisOfPair)) throw new DTypeError(op, `${arg} must be an array of axis indices (or null), got ${describeValue(axisOfPair)}`, arg);
  const P = theta.length;
  if (axisOfPair.length !== P) throw new ShapeError(op, `${arg} has ${axisOfPair.length} pair assignments for ${P} frequencies (one per pair)`, arg);
  axisOfPair.forEach((a: unknown, j) => {
    if (a === null) return;
    if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a >= numAxes) {
      throw new ValueError(op, `${arg}[${j}] = ${describeValue(a)} is not an axis in [0, ${numAxes}) nor null (NoPE)`, arg);
    }
    F[offset + a * P + j] = theta[j]!;
  });
}

/** Contiguous sections: the first sections[0] pairs read axis 0, the next sections[1] axis 1, … (M-RoPE's mrope_section). */
export function sectionAxes(sections: readonly number[]): number[] {
  return sectionsOf('sectionAxes', sections);
}

/** sectionAxes with `op` naming the public call in errors. */
export function sectionsOf(op: string, sections: unknown, arg = 'sections'): number[] {
  const list = checkIntegers(op, arg, sections, 0);
  checkTableSize(op, arg, list.reduce((p, d) => p + d, 0));
  return list.flatMap((s, a) => new Array<number>(s).fill(a));
}

/** Interleaved allocation: pair j reads axis j mod numAxes (spreads every axis over all frequency bands). */
export function interleavedAxes(pairs: number, numAxes: number): number[] {
  const op = 'interleavedAxes';
  const n = expectSize(op, 'pairs', pairs, 0);
  const A = expectSize(op, 'numAxes', numAxes);
  return Array.from({ length: n }, (_, j) => j % A);
}

/**
 * Per-head allocation [H, A, P]: head h uses its own pair → axis map (null entries are NoPE pairs), and a head
 * given as null is a NoPE head (all pairs unrotated). Some heads can attend by time, some by space, some not at all.
 */
export function perHeadFrequencies(heads: readonly (readonly (number | null)[] | null)[], invFreq: ArrayLike<number>, numAxes: number, dtype: DType = 'float64'): Tensor {
  return perHead('perHeadFrequencies', heads, invFreq, numAxes, dtype);
}

/** perHeadFrequencies with `op` naming the public call in errors; checks every argument. */
export function perHead(op: string, heads: unknown, invFreq: unknown, numAxes: unknown, dtype: unknown = 'float64'): Tensor {
  if (!Array.isArray(heads)) throw new DTypeError(op, `heads must be an array of per-head assignments (or null), got ${describeValue(heads)}`, 'heads');
  const theta = checkInvFreq(op, 'invFreq', invFreq);
  const A = expectSize(op, 'numAxes', numAxes);
  const type = optionalDType(op, 'dtype', dtype, 'float64');
  const P = theta.length;
  checkTableSize(op, 'heads × numAxes × pairs', heads.length, A, P);
  const F = type === 'float64' ? new Float64Array(heads.length * A * P) : new Float32Array(heads.length * A * P);
  heads.forEach((assignment: unknown, h) => {
    if (assignment !== null) fillAllocation(op, `heads[${h}]`, assignment, theta, A, F, h * A * P);
  });
  return new Tensor(F, [heads.length, A, P]);
}

/** Options of `MultiAxisRoPE`: `layout`, `rotaryDim`, `attentionFactor`, `name`, `headDim`. */
export interface MultiAxisRoPEOptions {
  layout?: PairLayout;
  /** Rotated channels per head (2·pairs); the rest pass through. Default 2·P. */
  rotaryDim?: number;
  /** Multiplier on rotated q and k (the logit gets its square). */
  attentionFactor?: number;
  name?: string;
  /** Channels per head of the q and k it rotates; default rotaryDim (a wider head is refused, not partly rotated). */
  headDim?: number;
}

/**
 * RoPE over several axes for attention: positions [T, A] or [B, T, A] (1-D positions [T] mean the same index on
 * every axis, as text tokens in M-RoPE), frequencies [A, P] or per head [H, A, P] (then q and k need H heads).
 */
export class MultiAxisRoPE extends PositionalEncoding {
  readonly name: string;
  readonly layout: PairLayout;
  readonly rotaryDim: number;
  readonly attentionFactor: number;

  readonly #headDim: number;
  readonly #memo = new AngleMemo();

  constructor(readonly freqs: Tensor, options: MultiAxisRoPEOptions = {}) {
    super();
    const op = this.opName();
    checkFreqs(op, freqs);
    const o = expectOptions(op, 'options', options, ['layout', 'rotaryDim', 'attentionFactor', 'name', 'headDim']);
    if (o.name !== undefined && typeof o.name !== 'string') throw new DTypeError(op, `name must be a string, got ${describeValue(o.name)}`, 'name');
    this.name = o.name ?? 'multi-axis-rope';
    this.layout = checkLayout(op, o.layout);
    const pairs = 2 * freqs.shape[freqs.ndim - 1]!;
    this.rotaryDim = o.rotaryDim === undefined ? pairs : checkRotaryDim(op, 'rotaryDim', o.rotaryDim);
    if (this.rotaryDim !== pairs) throw new ShapeError(op, `rotaryDim=${this.rotaryDim} must be 2·pairs = ${pairs} of freqs=${fmtShape(freqs.shape)}`, 'rotaryDim');
    this.#headDim = o.headDim === undefined ? this.rotaryDim : checkRotaryDim(op, 'headDim', o.headDim);
    if (this.#headDim < this.rotaryDim) throw new ShapeError(op, `headDim=${this.#headDim} is smaller than rotaryDim=${this.rotaryDim}`, 'headDim');
    this.attentionFactor = checkAttentionFactor(op, o.attentionFactor);
  }

  /** The class name that starts this encoding's error messages (subclasses name themselves). */
  protected opName(): string {
    return 'MultiAxisRoPE';
  }

  get numAxes(): number {
    return this.freqs.shape[this.freqs.ndim - 2]!;
  }

  /** Coordinates [T, A] or [B, T, A]; 1-D positions [T] are copied to every axis (text tokens in M-RoPE). */
  coordinates(positions: Positions): Tensor {
    expectPositions(this.opName(), 'positions', positions);
    return this.coordinatesOf(positions);
  }

  /** coordinates of checked positions. */
  protected coordinatesOf(positions: Positions): Tensor {
    const A = this.numAxes;
    if (positions.ndim === 1) return positions.unsqueeze(-1).expand([positions.shape[0]!, A]);
    if ((positions.ndim === 2 || positions.ndim === 3) && positions.shape[positions.ndim - 1] === A) return positions;
    throw new ShapeError(this.opName(), `positions must be [T], [T, ${A}] or [B, T, ${A}], got ${fmtShape(positions.shape)}`, 'positions');
  }

  /** Angles broadcastable to q/k [B, H, T, ·]: [T, P], [H, T, P], [B, 1, T, P] or [B, H, T, P]. */
  angles(positions: Positions): Tensor {
    expectPositions(this.opName(), 'positions', positions);
    return this.tableFor(positions);
  }

  /**
   * The angle table of checked positions, memoised per (positions, freqs) values (angle-cache.ts), so q and k, and
   * every layer sharing this encoding, build it once; learned frequencies (requiring grad) get a fresh table.
   */
  protected tableFor(positions: Positions): Tensor {
    return this.#memo.get(positions, [this.freqs], () => {
      const coords = this.coordinatesOf(positions);
      const phi = axisAngles(this.opName(), coords, this.freqs);
      return coords.ndim === 3 && this.freqs.ndim === 2 ? phi.unsqueeze(1) : phi;
    });
  }

  rotate(x: Tensor, positions: Positions): Tensor {
    const op = this.opName();
    checkHead(op, 'x', x, this.#headDim);
    expectPositions(op, 'positions', positions);
    return this.rotateChecked(op, x, positions);
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    const op = this.opName();
    checkHead(op, 'k', k, this.#headDim); // k first: a wrong k is refused before q is rotated
    checkHead(op, 'q', q, this.#headDim);
    expectPositions(op, 'qPositions', qPositions);
    expectPositions(op, 'kPositions', kPositions);
    return { q: this.rotateChecked(op, q, qPositions), k: this.rotateChecked(op, k, kPositions) };
  }

  /** Rotate checked x by checked positions; rotateBy refuses, under `op`, positions that miss x's sequence. */
  private rotateChecked(op: string, x: Tensor, positions: Positions): Tensor {
    return rotateBy(op, x, this.tableFor(positions), { layout: this.layout, scale: this.attentionFactor, rotaryDim: this.rotaryDim });
  }
}
