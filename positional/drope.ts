/**
 * DRoPE — Directional RoPE (Zhao et al., "DRoPE: Directional Rotary Position Embedding for Efficient Agent
 * Interaction Modeling", arXiv 2503.15029, 2025; our choices: docs/notes/drope.md). Agents carry (x, y, heading θ).
 * RoPE with a frequency ladder ω_l ∉ ℤ cannot encode an angle: θ and θ + 2π rotate pair l by angles 2πω_l apart.
 * DRoPE's heading block rotates every pair by θ itself (the "uniform identity scalar", frequency 1), so its score
 * term is A·cos(Δθ) + B·sin(Δθ): exactly 2π-periodic and a function of the relative heading only. Combined with 2-D
 * position RoPE on (x, y) (DRoPE-RoPE, paper §IV) attention sees relative displacement and relative heading at O(N)
 * memory.
 *
 * Everything is the multi-axis kernel (positional/multi-axis.ts) with axes (x, y, heading):
 * φ[n, j] = Σ_a pos[n, a]·F[a, j], where F puts the per-axis RoPE ladder on the x and y pairs and 1 on the heading
 * pairs. Two integrations (the paper's §IV combines the two; which split it uses we have not verified), both as
 * configuration:
 *   - 'dimSplit': inside every head, positionPairs pairs carry (x, y) (first half x, second half y) and the next
 *     headingPairs pairs carry θ; pairs left over pass through (NoPE).
 *   - 'headSplit': the first numHeads − headingHeads heads are position heads (all pairs x/y), the last headingHeads
 *     heads are heading heads (all pairs θ), as per-head frequencies [H, 3, P].
 * Only q and k are rotated; values and the attention output are untouched.
 */
import {
  ShapeError, Tensor, ValueError, add, expectInteger, expectTensor, fmtShape, expectPositions, expectRequiredOptions,
  expectSize,
} from '../core/index.js';
import { checkBase, checkHead, checkLayout, checkRotaryDim, checkString } from './checks.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
import { allocateFrequencies, axisAngles, perHeadFrequencies, sectionAxes } from './multi-axis.js';
import { invFreqLadder, rotateBy, type PairLayout } from './rope.js';

/** Axis order of an agent's coordinates: positions [..., 3] = (x, y, heading in radians). */
export const DROPE_AXES = ['x', 'y', 'heading'] as const;

/** How DRoPE shares the head dimension between 2-D position RoPE and the heading block (docs/notes/drope.md). */
export type DRoPEMode = 'headSplit' | 'dimSplit';

interface DRoPECommonOptions {
  /** Channels per head (even; 2·pairs). */
  headDim: number;
  /** Base of the per-axis position ladder ω_k = base^(−2k/(2·pairsPerAxis)); default 10000 (a choice: docs/notes/drope.md). */
  base?: number;
}

/**
 * DRoPE's 'dimSplit' mode: within each head, `positionPairs` pairs rotate with the position (x, y) and `headingPairs`
 * with the heading angle.
 */
export interface DRoPEDimSplitOptions extends DRoPECommonOptions {
  mode: 'dimSplit';
  /**
   * Pairs per head carrying (x, y): even, the first half x and the second half y. Default 2·⌊P/4⌋ (about half of
   * the P = headDim/2 pairs), or P − headingPairs when only headingPairs is given.
   */
  positionPairs?: number;
  /** Pairs per head carrying the heading with frequency 1. Default P − positionPairs. */
  headingPairs?: number;
}

/**
 * DRoPE's 'headSplit' mode: of `numHeads` heads, `headingHeads` rotate with the heading angle and the others with the
 * position (x, y).
 */
export interface DRoPEHeadSplitOptions extends DRoPECommonOptions {
  mode: 'headSplit';
  /** Query heads H; the angle table is per head. */
  numHeads: number;
  /** The last headingHeads heads are heading heads, the others position heads. Default ⌊H/2⌋. */
  headingHeads?: number;
}

/** Options of `dropeAngles` / `dropeFrequencies`: one of the two integration modes. */
export type DRoPEAngleOptions = DRoPEDimSplitOptions | DRoPEHeadSplitOptions;

/** A DRoPE configuration with every default filled in and validated. */
export interface DRoPESplit {
  mode: DRoPEMode;
  headDim: number;
  /** P = headDim / 2. */
  pairs: number;
  base: number;
  /** Pairs per head on (x, y) (dimSplit), or per position head (headSplit: P). */
  positionPairs: number;
  /** Pairs per head on the heading (dimSplit), or per heading head (headSplit: P). */
  headingPairs: number;
  /** headSplit only: H and the number of heading heads (the last ones); 0 in dimSplit. */
  numHeads: number;
  headingHeads: number;
}

/** The options every DRoPE configuration may carry (dropeSplit refuses others: a misspelt option is not ignored). */
const SPLIT_KEYS = ['mode', 'headDim', 'base', 'positionPairs', 'headingPairs', 'numHeads', 'headingHeads'] as const;

/** Fill in the defaults of a DRoPE configuration and check it; throws ValueError naming the offending option. */
export function dropeSplit(options: DRoPEAngleOptions): DRoPESplit {
  return splitAs('dropeSplit', options);
}

/** dropeSplit with errors under `op`, the call the user made (dropeFrequencies, dropeAngles, DRoPE). */
function splitAs(op: string, options: DRoPEAngleOptions): DRoPESplit {
  expectRequiredOptions(op, options, SPLIT_KEYS, 'with mode and headDim');
  const { mode } = options;
  const headDim = checkRotaryDim(op, 'headDim', options.headDim); // channels rotate in pairs
  const base = options.base === undefined ? 10000 : checkBase(op, 'base', options.base);
  const P = headDim / 2;
  const has = (key: string): boolean => (options as unknown as Record<string, unknown>)[key] !== undefined;
  if (mode === 'dimSplit') {
    for (const key of ['numHeads', 'headingHeads']) {
      if (has(key)) throw new ValueError(op, `${key} is a headSplit option — mode='dimSplit' (use positionPairs / headingPairs)`, key);
    }
    let { positionPairs, headingPairs } = options;
    if (positionPairs === undefined && headingPairs === undefined) {
      if (P < 4) {
        throw new ValueError(op, `headDim is too small for the default split — headDim=${headDim}, pairs=${P} (the default needs ≥ 4 pairs: x, y and ≥ 2 heading; pass positionPairs and headingPairs)`, 'headDim');
      }
      positionPairs = 2 * Math.floor(P / 4);
    }
    if (positionPairs === undefined) {
      headingPairs = expectSize(op, 'headingPairs', headingPairs, 0);
      if (headingPairs > P) throw new ValueError(op, `too many heading pairs — headingPairs=${headingPairs} > pairs=${P} (headDim/2)`, 'headingPairs');
      positionPairs = P - headingPairs;
      if (positionPairs % 2 !== 0) {
        throw new ValueError(op, `the pairs left for (x, y) are odd — pairs=${P} − headingPairs=${headingPairs} = ${positionPairs} (x and y get half each; pass an even positionPairs, the leftover pair passes through)`, 'headingPairs');
      }
    }
    positionPairs = expectSize(op, 'positionPairs', positionPairs, 0);
    if (positionPairs % 2 !== 0) {
      throw new ValueError(op, `positionPairs must be even — positionPairs=${positionPairs}, pairs=${P} (x and y get half each)`, 'positionPairs');
    }
    headingPairs = headingPairs === undefined ? P - positionPairs : expectSize(op, 'headingPairs', headingPairs, 0);
    if (positionPairs + headingPairs > P) {
      throw new ValueError(op, `too many heading pairs — positionPairs=${positionPairs} + headingPairs=${headingPairs} > pairs=${P} (headDim/2)`, 'headingPairs');
    }
    return { mode, headDim, pairs: P, base, positionPairs, headingPairs, numHeads: 0, headingHeads: 0 };
  }
  if (mode === 'headSplit') {
    for (const key of ['positionPairs', 'headingPairs']) {
      if (has(key)) throw new ValueError(op, `${key} is a dimSplit option — mode='headSplit' (use numHeads / headingHeads)`, key);
    }
    const numHeads = expectSize(op, 'numHeads', options.numHeads); // headSplit assigns heads
    if (options.headingHeads === undefined && numHeads < 2) {
      throw new ValueError(op, `numHeads is too small for the default headingHeads — numHeads=${numHeads} (⌊H/2⌋ heading heads and at least one position head need H ≥ 2; pass headingHeads)`, 'numHeads');
    }
    const headingHeads = options.headingHeads === undefined ? Math.floor(numHeads / 2) : expectInteger(op, 'headingHeads', options.headingHeads, { min: 0, max: numHeads });
    if (headingHeads < numHeads && P % 2 !== 0) {
      throw new ValueError(op, `position heads need an even number of pairs — headDim=${headDim}, pairs=${P} (x and y get half each: headDim % 4 = 0)`, 'headDim');
    }
    return { mode, headDim, pairs: P, base, positionPairs: P, headingPairs: P, numHeads, headingHeads };
  }
  throw new ValueError(op, `unknown mode — mode='${String(mode)}' (use 'headSplit' or 'dimSplit')`, 'mode');
}

/**
 * Frequencies F over the axes (x, y, heading): [3, P] in dimSplit, [H, 3, P] in headSplit. Position pairs: per-axis
 * RoPE ladder ω_k = base^(−2k/(2·P_axis)) = ropeInvFreq(2·P_axis, base) on x then y (2-D axial RoPE);
 * heading pairs: F[heading, j] = 1 (DRoPE's uniform identity scalar, paper §III); leftover pairs: 0 (NoPE).
 */
export function dropeFrequencies(options: DRoPEAngleOptions): Tensor {
  return frequenciesOf(splitAs('dropeFrequencies', options));
}

function frequenciesOf(s: DRoPESplit): Tensor {
  const P = s.pairs;
  if (s.mode === 'dimSplit') {
    const perAxis = s.positionPairs / 2;
    const ladder = perAxis > 0 ? invFreqLadder(2 * perAxis, s.base) : new Float64Array(0);
    const rest = P - s.positionPairs - s.headingPairs;
    const axisOfPair: (number | null)[] = [...sectionAxes([perAxis, perAxis, s.headingPairs]), ...new Array<null>(rest).fill(null)];
    const invFreq = [...ladder, ...ladder, ...new Array<number>(s.headingPairs).fill(1), ...new Array<number>(rest).fill(0)];
    return allocateFrequencies(axisOfPair, invFreq, 3);
  }
  const H = s.numHeads;
  const positionHeads = H - s.headingHeads;
  // P is even whenever a position head exists (checked in dropeSplit); with none, the position table is all zeros
  const ladder = positionHeads > 0 ? invFreqLadder(P, s.base) : null;
  const xy = positionHeads > 0 ? sectionAxes([P / 2, P / 2]) : [];
  const headingOnly = new Array<number>(P).fill(2);
  // F = F_position + F_heading: disjoint heads, so the sum is the per-head table [H, 3, P]
  const fPos = perHeadFrequencies(Array.from({ length: H }, (_, h) => (h < positionHeads ? xy : null)), ladder !== null ? [...ladder, ...ladder] : new Float64Array(P), 3);
  const fHead = perHeadFrequencies(Array.from({ length: H }, (_, h) => (h < positionHeads ? null : headingOnly)), new Float64Array(P).fill(1), 3);
  return add(fPos, fHead);
}

/** Agents: finite positions (checkPositions) [N, 3] or [B, N, 3] of (x, y, heading). */
function checkAgents(agents: Tensor, op: string, arg = 'agents'): void {
  expectPositions(op, arg, agents);
  if ((agents.ndim !== 2 && agents.ndim !== 3) || agents.shape[agents.ndim - 1] !== 3) {
    throw new ShapeError(op, `${arg} must be [N, 3] or [B, N, 3] — ${arg}=${fmtShape(agents.shape)} (last axis = (x, y, heading))`, arg);
  }
}

/**
 * DRoPE angle table φ = agents · F (the multi-axis table): agents [N, 3] or [B, N, 3] of (x, y, heading in radians) →
 * dimSplit [N, P] / [B, N, P] (shared by every head), headSplit [H, N, P] / [B, H, N, P]. Heading pairs hold θ_n
 * exactly (frequency 1), position pairs x·ω_k or y·ω_k, leftover pairs 0. Differentiable in the agents.
 */
export function dropeAngles(agents: Tensor, options: DRoPEAngleOptions): Tensor {
  checkAgents(agents, 'dropeAngles');
  return axisAngles('dropeAngles', agents, frequenciesOf(splitAs('dropeAngles', options)));
}

/** Options of `DRoPE`: the angle options (mode and split, frequencies) plus the pair layout and a display name. */
export type DRoPEOptions = DRoPEAngleOptions & {
  /** Pair layout of applyRotary; default 'interleaved' (pairs (2j, 2j+1): the heading block is contiguous channels). */
  layout?: PairLayout;
  name?: string;
};

/**
 * DRoPE for attention over agents: positions [N, 3] or [B, N, 3] of (x, y, heading); rotates q [B, H, Tq, d] and
 * k [B, Hkv, Tk, d] (Tq = N of qPositions, Tk = N of kPositions). In headSplit, q must have numHeads heads and k
 * Hkv heads dividing them, with every group of H/Hkv query heads sharing a kv head of one kind (position or heading).
 */
export class DRoPE extends PositionalEncoding {
  readonly name: string;
  readonly layout: PairLayout;
  readonly split: DRoPESplit;
  /** F [3, P] (dimSplit) or [H, 3, P] (headSplit). */
  readonly freqs: Tensor;
  #kvFreqs = new Map<number, Tensor>();

  constructor(options: DRoPEOptions) {
    super();
    const { layout, name, ...split } = expectRequiredOptions('DRoPE', options, [...SPLIT_KEYS, 'layout', 'name'], 'with mode and headDim');
    this.split = splitAs('DRoPE', split as DRoPEAngleOptions);
    this.layout = checkLayout('DRoPE', layout, 'interleaved');
    this.name = name === undefined ? 'drope' : checkString('DRoPE', 'name', name);
    this.freqs = frequenciesOf(this.split);
  }

  get headDim(): number {
    return this.split.headDim;
  }

  /**
   * Angles broadcastable to x [B, heads, T, d] for agents [T, 3] or [B, T, 3]: dimSplit [T, P] or [B, 1, T, P];
   * headSplit [heads, T, P] or [B, heads, T, P]. `heads` (headSplit) defaults to numHeads; a divisor Hkv of it gives
   * the table of the kv heads (query heads g·G … g·G + G − 1 share kv head g, G = H/Hkv).
   */
  angles(positions: Positions, heads?: number): Tensor {
    checkAgents(positions, 'DRoPE', 'positions');
    if (heads !== undefined && this.split.mode === 'headSplit') expectSize('DRoPE', 'heads', heads);
    return this.anglesChecked(positions, heads ?? this.split.numHeads);
  }

  /** angles for checked agents and head count. */
  private anglesChecked(positions: Positions, heads: number): Tensor {
    const phi = axisAngles('DRoPE', positions, this.freqsFor(heads));
    return positions.ndim === 3 && this.split.mode === 'dimSplit' ? phi.unsqueeze(1) : phi;
  }

  /** Rotate x [B, heads, T, headDim] (or [T, headDim] in dimSplit) by agents [T, 3] / [B, T, 3]. */
  rotate(x: Tensor, positions: Positions): Tensor {
    return this.rotateAs('x', x, 'positions', positions);
  }

  private rotateAs(arg: string, x: Tensor, positionsArg: string, positions: Positions): Tensor {
    checkHead('DRoPE', arg, x, this.split.headDim);
    checkAgents(positions, 'DRoPE', positionsArg); // checkHead: x [..., T, headDim]
    const T = positions.shape[positions.ndim - 2]!;
    if (x.shape[x.ndim - 2] !== T) {
      throw new ShapeError('DRoPE', `one agent per token — x=${fmtShape(x.shape)}, positions=${fmtShape(positions.shape)} (x [..., ${T}, ${this.split.headDim}])`, 'positions');
    }
    let heads = this.split.numHeads;
    if (this.split.mode === 'headSplit') {
      if (x.ndim !== 4) throw new ShapeError('DRoPE', `headSplit needs x [B, heads, T, d] — x=${fmtShape(x.shape)}`, 'x');
      heads = expectSize('DRoPE', 'heads', x.shape[1]!);
    }
    return rotateBy('DRoPE', x, this.anglesChecked(positions, heads), { layout: this.layout });
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    expectTensor('DRoPE', 'q', q);
    expectTensor('DRoPE', 'k', k);
    if (q.ndim !== 4 || k.ndim !== 4) throw new ShapeError('DRoPE', `need q [B, H, Tq, d] and k [B, Hkv, Tk, d] — q=${fmtShape(q.shape)}, k=${fmtShape(k.shape)}`, 'q');
    if (this.split.mode === 'headSplit' && q.shape[1] !== this.split.numHeads) {
      throw new ShapeError('DRoPE', `q has ${q.shape[1]} heads, the headSplit table ${this.split.numHeads} — q=${fmtShape(q.shape)} (numHeads = q's heads)`, 'q');
    }
    if (q.shape[1]! % k.shape[1]! !== 0) {
      throw new ShapeError('DRoPE', `kv heads do not divide query heads — q=${fmtShape(q.shape)}, k=${fmtShape(k.shape)} (H % Hkv = 0)`, 'k');
    }
    return { q: this.rotateAs('q', q, 'qPositions', qPositions), k: this.rotateAs('k', k, 'kPositions', kPositions) };
  }

  /** F for `heads` heads: the full table, or (headSplit) the kv-head table of a divisor of numHeads. */
  private freqsFor(heads: number): Tensor {
    const { mode, numHeads, headingHeads } = this.split;
    if (mode === 'dimSplit' || heads === numHeads) return this.freqs;
    if (!(heads > 0) || numHeads % heads !== 0) {
      throw new ShapeError('DRoPE', `${heads} heads do not divide numHeads=${numHeads} (kv heads must divide query heads)`, 'k');
    }
    const G = numHeads / heads;
    if (headingHeads % G !== 0) {
      throw new ValueError('DRoPE', `a kv head would serve both position and heading query heads — numHeads=${numHeads}, kv heads=${heads}, headingHeads=${headingHeads} (headingHeads must be a multiple of H/Hkv = ${G})`, 'headingHeads');
    }
    let f = this.#kvFreqs.get(heads);
    if (f === undefined) {
      f = frequenciesOf({ ...this.split, numHeads: heads, headingHeads: headingHeads / G });
      this.#kvFreqs.set(heads, f);
    }
    return f;
  }
}
