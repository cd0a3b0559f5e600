/**
 * The playground's numbers, computed by ropelab (imported from source; the page bundles this file with esbuild).
 * No DOM here: docs/playground/main.ts draws what `computePlayground(knobs)` returns, and the browser test reads
 * the same object back from `window.__playground`.
 *
 * What it computes, per variant (positional/):
 * - the frequency ladder θ_i (RoFormer: θ_i = base^(−2i/d)) and the scaled one θ′_i (PI, NTK, dynamic NTK, YaRN,
 *   Llama 3, LongRoPE; p-RoPE zeroes the slow tail), each pair classed by θ′_i/θ_i: 1 → extrapolated (kept),
 *   1/s → interpolated, in between → blended (YaRN: yarnPairRegimes);
 * - the angle table φ[m, i] = pos_m·θ′_i (rotaryAngles; multi-axis variants: multiAxisAngles over the position ids
 *   of a text + image + video sequence, or the 2-D patch grid for RoPE-ViT);
 * - the long-term decay B_m/(d/2) = Σ_i cos(m·θ′_i)/(d/2) (decayCurve, Men et al. 2024), its first negative
 *   distance m0 (the context the table supports), and minimalBase(target context) (the base bound);
 * - attention scores ⟨R(0)q, R(m)k⟩/√D of seeded random q, k (and of k = q) by relative position m, rotated by
 *   applyRotary with the chosen layout, rotary dim and attention factor.
 */
import { Generator, Tensor, randn } from '../../core/index.js';
import {
  applyRotary, decayCurve, dynamicNtkInvFreq, hopeFrequencies, hopePositions, llama3InvFreq, longRopeAttentionFactor,
  longRopeInvFreq, minimalBase, mropeFrequencies, mropePositions, mropePositionsTensor, multiAxisAngles, ntkInvFreq, pRopeInvFreq, piInvFreq,
  ropeInvFreq, ropeVitAxialFrequencies, ropeVitGrid, rotaryAngles, videoRopeFrequencies, videoRopePositions, vropeFrequencies, vropePositions,
  yarnAttentionFactor, yarnInvFreq, yarnPairRegimes, type MRoPESegment, type PairLayout,
} from '../../positional/index.js';

export const VARIANTS = ['rope', 'p-rope', 'mrope', 'video-rope', 'hope', 'vrope', 'rope-vit-axial'] as const;
export type Variant = (typeof VARIANTS)[number];
export const SCALINGS = ['none', 'pi', 'ntk', 'dynamic', 'yarn', 'llama3', 'longrope'] as const;
export type Scaling = (typeof SCALINGS)[number];
export type Regime = 'extrapolated' | 'blended' | 'interpolated' | 'nope';

/** Everything the user can set. */
export interface PlaygroundKnobs {
  variant: Variant;
  /** Head dim D (a multiple of 16, so that every variant's sections fit). */
  headDim: number;
  base: number;
  /** Context-extension rule for 1-D RoPE ('rope' only; p-RoPE divides by `factor` as HF's proportional RoPE). */
  scaling: Scaling;
  /** Scaling factor s ≥ 1. */
  factor: number;
  /** L: the pre-training context of the scaling rules. */
  originalMaxPositions: number;
  layout: PairLayout;
  /** Fraction of the head that rotates (partial rotary, 'rope' only): rotaryDim = 2·round(fraction·D/2). */
  rotaryFraction: number;
  /** p of p-RoPE. */
  p: number;
  /** Patch grid of the image and video (after the 2 × 2 merge for M-RoPE-style variants; the RoPE-ViT grid). */
  gridH: number;
  gridW: number;
  /** Temporal patches of the video. */
  frames: number;
  /** Rows of the 1-D angle table / longest distance of the score plot. */
  tokens: number;
  /** Seed of the random q, k. */
  seed: number;
}

export const DEFAULT_KNOBS: PlaygroundKnobs = {
  variant: 'rope', headDim: 64, base: 10000, scaling: 'none', factor: 4, originalMaxPositions: 4096, layout: 'half', rotaryFraction: 1,
  p: 0.75, gridH: 3, gridW: 4, frames: 3, tokens: 128, seed: 0,
};

/** The text + image + video sequence of the multi-axis plots (grids before the 2 × 2 merge). */
export function playgroundSegments(k: Pick<PlaygroundKnobs, 'gridH' | 'gridW' | 'frames'>): MRoPESegment[] {
  return [
    { type: 'text', length: 4 },
    { type: 'image', grid: [1, 2 * k.gridH, 2 * k.gridW] },
    { type: 'text', length: 3 },
    { type: 'video', grid: [k.frames, 2 * k.gridH, 2 * k.gridW] },
    { type: 'text', length: 3 },
  ];
}

/** [3 t-h-w] sections of a head with P = D/2 pairs in Qwen2-VL's 16:24:24 proportion ([16, 24, 24] at D = 128). */
export function playgroundSections(headDim: number): [number, number, number] {
  const P = headDim / 2;
  const t = P / 4;
  return [t, (P - t) / 2, (P - t) / 2];
}

export interface PlaygroundResult {
  knobs: PlaygroundKnobs;
  rotaryDim: number;
  /** Unscaled ladder θ_i [pairs] and the table in use θ′_i (multi-axis: the sum over axes, what text tokens see). */
  baseInvFreq: number[];
  invFreq: number[];
  regimes: Regime[];
  /** Multi-axis: the frequency matrix F [axes][pairs] and the axis names. */
  axes: string[];
  freqs: number[][];
  /** The angle table shown: rows (tokens) × pairs, and what a row is. */
  angles: number[][];
  angleRows: string;
  /** Multi-axis: the position ids [axes][tokens] of the text + image + video sequence (empty for 1-D variants). */
  positionIds: number[][];
  /** [m, B_m/(d/2)] of the table in use and of the unscaled ladder. */
  decay: Array<[number, number]>;
  baseDecay: Array<[number, number]>;
  /** First m ≥ 0 with Σ cos(m·θ′_i) < 0 (Infinity if none ≤ DECAY_LIMIT). */
  m0: number;
  /** The context the scaled model targets: s·L (L without scaling). */
  targetContext: number;
  /** minimalBase(targetContext, rotaryDim): the smallest RoPE base whose decay stays ≥ 0 up to it. */
  minimalBase: number;
  /** Multiplier on cos and sin (YaRN, LongRoPE), 1 otherwise. */
  attentionFactor: number;
  /** The random q and k [headDim] and the scores by relative position m = 0 … tokens − 1. */
  q: number[];
  k: number[];
  scoresRandom: number[];
  scoresSimilar: number[];
}

/** Distances scanned for m0. */
export const DECAY_LIMIT = 1 << 16;

/** The 1-D table and per-pair regime of 'rope' / 'p-rope' under the knobs. */
function oneDimTable(k: PlaygroundKnobs, rotaryDim: number): { table: Float64Array; regimes: Regime[]; attentionFactor: number } {
  const dim = rotaryDim;
  const base = k.base;
  const factor = k.factor;
  const L = k.originalMaxPositions;
  const theta = ropeInvFreq(dim, base);
  if (k.variant === 'p-rope') {
    const table = pRopeInvFreq(dim, k.p, { base, factor });
    return { table, regimes: classify(theta, table, factor), attentionFactor: 1 };
  }
  switch (k.scaling) {
    case 'none':
      return { table: theta, regimes: classify(theta, theta, 1), attentionFactor: 1 };
    case 'pi': {
      const table = piInvFreq({ dim, base, factor });
      return { table, regimes: classify(theta, table, factor), attentionFactor: 1 };
    }
    case 'ntk': {
      const table = ntkInvFreq({ dim, base, factor });
      return { table, regimes: classify(theta, table, factor), attentionFactor: 1 };
    }
    case 'dynamic': {
      // the table at the target length s·L (HF's dynamic_rope_update once the sequence has grown that far)
      const table = dynamicNtkInvFreq({ dim, base, factor, maxPositions: L, seqLen: Math.round(factor * L) });
      return { table, regimes: classify(theta, table, factor), attentionFactor: 1 };
    }
    case 'yarn': {
      const o = { dim, base, factor, originalMaxPositions: L };
      const table = yarnInvFreq(o);
      return { table, regimes: yarnPairRegimes(o), attentionFactor: yarnAttentionFactor({ factor }) };
    }
    case 'llama3': {
      const table = llama3InvFreq({ dim, base, factor, originalMaxPositions: L });
      return { table, regimes: classify(theta, table, factor), attentionFactor: 1 };
    }
    case 'longrope': {
      // illustrative per-pair factors (LongRoPE searches them; Phi-3 ships them): λ_i rises linearly from 1 to s
      const P = dim / 2;
      const longFactor = Array.from({ length: P }, (_, i) => 1 + ((factor - 1) * i) / Math.max(1, P - 1));
      const shortFactor = new Array<number>(P).fill(1);
      const table = longRopeInvFreq({ dim, base, shortFactor, longFactor, originalMaxPositions: L, seqLen: Math.round(factor * L) });
      return { table, regimes: classify(theta, table, factor), attentionFactor: longRopeAttentionFactor({ factor, originalMaxPositions: L }) };
    }
  }
}

/** θ′/θ = 1 → extrapolated, = 1/s → interpolated, θ′ = 0 → nope, else blended (relative tolerance 1e-12). */
export function classify(theta: ArrayLike<number>, scaled: ArrayLike<number>, factor: number): Regime[] {
  return Array.from(theta, (t, i): Regime => {
    const s = scaled[i]!;
    if (s === 0) return 'nope';
    const r = s / t;
    if (Math.abs(r - 1) <= 1e-12) return 'extrapolated';
    if (factor > 1 && Math.abs(r * factor - 1) <= 1e-12) return 'interpolated';
    return 'blended';
  });
}

/** First m in [0, limit] with Σ_i cos(m·θ_i) < 0 (summed in pair order, as longTermDecay), else Infinity. */
export function firstNegative(table: ArrayLike<number>, limit = DECAY_LIMIT): number {
  for (let m = 0; m <= limit; m++) {
    let s = 0;
    for (let i = 0; i < table.length; i++) s += Math.cos(m * table[i]!);
    if (s < 0) return m;
  }
  return Infinity;
}

function rows(t: Tensor): number[][] {
  const [n, p] = [t.shape[0]!, t.shape[1]!];
  return Array.from({ length: n }, (_, r) => Array.from(t.data.subarray(r * p, (r + 1) * p)));
}

/** Multi-axis variants: F [axes, P], the position ids and the angle table over the sequence. */
function multiAxis(k: PlaygroundKnobs): { axes: string[]; F: Tensor; ids: Tensor; positionIds: number[][]; rowLabel: string } {
  const D = k.headDim;
  const sections = playgroundSections(D);
  const segments = playgroundSegments(k);
  switch (k.variant) {
    case 'mrope': {
      const pos = mropePositions(segments);
      return { axes: ['t', 'h', 'w'], F: mropeFrequencies(D, sections, { base: k.base }), ids: mropePositionsTensor(pos.ids), positionIds: pos.ids.map((r) => Array.from(r)), rowLabel: 'token of text+image+video' };
    }
    case 'video-rope': {
      const pos = videoRopePositions(segments);
      return { axes: ['t', 'h', 'w'], F: videoRopeFrequencies(D, sections, { base: k.base }), ids: mropePositionsTensor(pos.ids), positionIds: pos.ids.map((r) => Array.from(r)), rowLabel: 'token of text+image+video' };
    }
    case 'hope': {
      const pos = hopePositions(segments, { temporalScale: 0.75 });
      return { axes: ['t', 'h', 'w'], F: hopeFrequencies(D, sections, { base: k.base }), ids: mropePositionsTensor(pos.ids), positionIds: pos.ids.map((r) => Array.from(r)), rowLabel: 'token of text+image+video' };
    }
    case 'vrope': {
      const pos = vropePositions(segments);
      return { axes: ['c0', 'c1', 'c2', 'c3'], F: vropeFrequencies(ropeInvFreq(D, k.base)), ids: pos.positions, positionIds: pos.ids.map((r) => Array.from(r)), rowLabel: 'token of text+image+video' };
    }
    case 'rope-vit-axial': {
      const ids = ropeVitGrid(k.gridW, k.gridH);
      const positionIds = [0, 1].map((a) => Array.from({ length: ids.shape[0]! }, (_, n) => ids.data[n * 2 + a]!));
      return { axes: ['x', 'y'], F: ropeVitAxialFrequencies(D, k.base), ids, positionIds, rowLabel: 'patch (raster order)' };
    }
    default:
      throw new Error(`computePlayground: ${k.variant} is not a multi-axis variant`);
  }
}

/** Everything the page shows, for one setting of the knobs. */
export function computePlayground(knobs: PlaygroundKnobs): PlaygroundResult {
  const k = { ...knobs };
  const D = k.headDim;
  const oneDim = k.variant === 'rope' || k.variant === 'p-rope';
  const rotaryDim = k.variant === 'rope' ? 2 * Math.max(1, Math.round((k.rotaryFraction * D) / 2)) : D;
  let table: Float64Array;
  let baseTable: Float64Array;
  let regimes: Regime[];
  let attentionFactor = 1;
  let axes: string[] = [];
  let freqs: number[][] = [];
  let angles: number[][];
  let angleRows: string;
  let positionIds: number[][] = [];
  const positions = Array.from({ length: k.tokens }, (_, m) => m);
  if (oneDim) {
    const t = oneDimTable(k, rotaryDim);
    table = t.table;
    regimes = t.regimes;
    attentionFactor = t.attentionFactor;
    baseTable = ropeInvFreq(rotaryDim, k.base);
    angles = rows(rotaryAngles(positions, table));
    angleRows = 'position m';
  } else {
    const m = multiAxis(k);
    axes = m.axes;
    freqs = rows(m.F);
    const P = m.F.shape[1]!;
    // what text sees (the same id on every axis): θ_j summed over axes
    table = new Float64Array(P);
    for (const row of freqs) row.forEach((v, j) => (table[j] = table[j]! + v));
    baseTable = k.variant === 'rope-vit-axial' ? table : ropeInvFreq(D, k.base);
    regimes = Array.from(table, (v): Regime => (v === 0 ? 'nope' : 'extrapolated'));
    angles = rows(multiAxisAngles(m.ids, m.F));
    angleRows = m.rowLabel;
    positionIds = m.positionIds;
  }
  const scaled = k.variant === 'rope' && k.scaling !== 'none';
  const targetContext = Math.round((scaled ? k.factor : 1) * k.originalMaxPositions);
  const maxDistance = Math.max(2 * targetContext, 1024); // the decay plot runs to twice the target context
  const decay = decayCurve(table, { maxDistance, points: 200 });
  const baseDecay = decayCurve(baseTable, { maxDistance, points: 200 });
  const m0 = firstNegative(table);
  const bound = minimalBase(targetContext, rotaryDim);

  // scores ⟨R(0)q, R(m)k⟩/√D (text positions: multi-axis variants give every axis the same id, the summed table)
  const g = new Generator(k.seed);
  const q = randn([D], { generator: g });
  const kv = randn([D], { generator: g });
  const options = { layout: k.layout, rotaryDim: 2 * table.length, scale: attentionFactor };
  const rotateAt = (x: Tensor, at: number[]): Float64Array => {
    const tiled = new Float64Array(at.length * D);
    for (let r = 0; r < at.length; r++) tiled.set(x.data, r * D);
    return applyRotary(new Tensor(tiled, [at.length, D]), rotaryAngles(at, table), options).data as Float64Array;
  };
  const scores = (a: Tensor, b: Tensor): number[] => {
    const qr = rotateAt(a, [0]);
    const kr = rotateAt(b, positions);
    return positions.map((m) => {
      let s = 0;
      for (let c = 0; c < D; c++) s += qr[c]! * kr[m * D + c]!;
      return s / Math.sqrt(D);
    });
  };
  return {
    knobs: k,
    rotaryDim,
    baseInvFreq: Array.from(baseTable),
    invFreq: Array.from(table),
    regimes,
    axes,
    freqs,
    angles,
    angleRows,
    positionIds,
    decay,
    baseDecay,
    m0,
    targetContext,
    minimalBase: bound,
    attentionFactor,
    q: Array.from(q.data),
    k: Array.from(kv.data),
    scoresRandom: scores(q, kv),
    scoresSimilar: scores(q, q),
  };
}

/** Reads knobs from a plain record (URL query, form values), falling back to the defaults; invalid values throw. */
export function knobsFrom(values: Record<string, string>): PlaygroundKnobs {
  const k: PlaygroundKnobs = { ...DEFAULT_KNOBS };
  const num = (key: keyof PlaygroundKnobs): number | undefined => (values[key] === undefined || values[key] === '' ? undefined : Number(values[key]));
  if (values['variant'] !== undefined) k.variant = oneOf('variant', values['variant'], VARIANTS);
  if (values['scaling'] !== undefined) k.scaling = oneOf('scaling', values['scaling'], SCALINGS);
  if (values['layout'] !== undefined) k.layout = oneOf('layout', values['layout'], ['half', 'interleaved'] as const);
  for (const key of ['headDim', 'base', 'factor', 'originalMaxPositions', 'rotaryFraction', 'p', 'gridH', 'gridW', 'frames', 'tokens', 'seed'] as const) {
    const v = num(key);
    if (v === undefined) continue;
    if (!Number.isFinite(v)) throw new Error(`knobs: ${key} is not a number — got '${values[key]}'`);
    k[key] = v;
  }
  return k;
}

function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`knobs: ${key} must be one of ${allowed.join(', ')} — got '${value}'`);
  return value as T;
}
