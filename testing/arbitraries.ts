/**
 * fast-check arbitraries for position-encoding tests: tensors, token positions (1-D, multi-axis, packed documents),
 * RoPE settings and Hugging Face rope configs. Every number is drawn on an integer grid and scaled (fast-check's
 * `fc.double` clusters at the ends of its range), so a shrunk case shows short values such as 0.25 or 3.
 *
 * RoPE settings follow RoFormer (Su et al. 2021, θ_i = base^(−2i/d)) and the scaling rules in positional/ (PI, NTK,
 * YaRN, Llama 3); HF configs follow transformers' `modeling_rope_utils.py` (`_validate_*_rope_parameters`) as
 * positional/hf-config.ts reads it, and real configs such as tests/fixtures/hf_configs/*.
 */
import fc from 'fast-check';
import { Tensor, ValueError, expectBoolean, expectInteger, expectNumber, expectOneOf, expectOptions, type DType } from '../core/index.js';
import {
  llama3InvFreq, ntkInvFreq, piInvFreq, ropeInvFreq, yarnAttentionFactor, yarnInvFreq, type HFRoPEConfig, type HFRoPEParameters, type PairLayout, type RoPEOptions,
} from '../positional/index.js';

/** Integers lo..hi times `step`: shrinks towards 0 (or the end nearer 0) and prints short. */
function grid(min: number, max: number, steps: number): fc.Arbitrary<number> {
  const h = (max - min) / steps;
  const lo = Math.ceil(min / h - 1e-9);
  const hi = Math.floor(max / h + 1e-9);
  return fc.integer({ min: lo, max: hi }).map((i) => Math.min(max, Math.max(min, i * h)));
}

/** Options of `tensorArb`: the shape (fixed or drawn), dtype, value range and whether the tensor requires grad. */
export interface TensorArbOptions {
  /** A fixed shape, or an arbitrary of shapes. */
  shape: readonly number[] | fc.Arbitrary<readonly number[]>;
  /** Default 'float64'. */
  dtype?: DType;
  /** Values lie in [min, max] (default [−1, 1]) on a grid of `steps` intervals (default 1000). */
  min?: number;
  max?: number;
  steps?: number;
  /** Mark the drawn tensor as requiring grad; default false. */
  requiresGrad?: boolean;
}

/** Tensors of the given shape(s), dtype and value range. */
export function tensorArb(options: TensorArbOptions): fc.Arbitrary<Tensor> {
  const op = 'tensorArb';
  const o = expectOptions(op, 'options', options, ['shape', 'dtype', 'min', 'max', 'steps', 'requiresGrad']);
  const shapes = shapeArbOf(op, o.shape);
  const dtype = o.dtype === undefined ? 'float64' : expectOneOf<DType>(op, 'options.dtype', o.dtype, ['float32', 'float64']);
  const min = o.min === undefined ? -1 : expectNumber(op, 'options.min', o.min);
  const max = o.max === undefined ? 1 : expectNumber(op, 'options.max', o.max, { min });
  const steps = o.steps === undefined ? 1000 : expectInteger(op, 'options.steps', o.steps, { min: 1 });
  const requiresGrad = o.requiresGrad === undefined ? false : expectBoolean(op, 'options.requiresGrad', o.requiresGrad);
  const value = min === max ? fc.constant(min) : grid(min, max, steps);
  return shapes.chain((shape) => {
    const size = shape.reduce((a, b) => a * b, 1);
    return fc.array(value, { minLength: size, maxLength: size }).map((v) => {
      const data = dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v);
      return new Tensor(data, [...shape], requiresGrad);
    });
  });
}

function shapeArbOf(op: string, shape: unknown): fc.Arbitrary<readonly number[]> {
  if (Array.isArray(shape)) {
    shape.forEach((n, i) => expectInteger(op, `options.shape[${i}]`, n, { min: 0, max: 1 << 20 }));
    const size = shape.reduce((a: number, b: number) => a * b, 1);
    if (size > 1 << 22) throw new ValueError(op, `options.shape=[${shape.join(', ')}] has ${size} elements, more than a property test should draw (4194304)`, 'options.shape');
    return fc.constant([...(shape as number[])]);
  }
  if (shape instanceof fc.Arbitrary) return shape as fc.Arbitrary<readonly number[]>;
  throw new ValueError(op, `options.shape must be an array of sizes or a fast-check arbitrary of shapes, got ${typeof shape}`, 'options.shape');
}

/** Options of `positionsArb`: the sequence length range and the position range (1-D positions [T]). */
export interface PositionsArbOptions {
  /** Tokens per sequence: minLength..maxLength (default 1..8). */
  minLength?: number;
  maxLength?: number;
  /** Integer positions in [min, max]; default [0, 4096]. */
  min?: number;
  max?: number;
}

function lengthAndRange(op: string, o: PositionsArbOptions): { minLength: number; maxLength: number; min: number; max: number } {
  const minLength = o.minLength === undefined ? 1 : expectInteger(op, 'options.minLength', o.minLength, { min: 1, max: 4096 });
  const maxLength = o.maxLength === undefined ? Math.max(8, minLength) : expectInteger(op, 'options.maxLength', o.maxLength, { min: minLength, max: 4096 });
  const min = o.min === undefined ? 0 : expectInteger(op, 'options.min', o.min, { min: -(2 ** 40), max: 2 ** 40 });
  const max = o.max === undefined ? Math.max(4096, min) : expectInteger(op, 'options.max', o.max, { min, max: 2 ** 40 });
  return { minLength, maxLength, min, max };
}

/** 1-D token positions: a float64 Tensor [T] of integers (any order, repeats allowed, as position_ids may be). */
export function positionsArb(options: PositionsArbOptions = {}): fc.Arbitrary<Tensor> {
  const op = 'positionsArb';
  const o = expectOptions(op, 'options', options, ['minLength', 'maxLength', 'min', 'max']);
  const { minLength, maxLength, min, max } = lengthAndRange(op, o);
  return fc.array(fc.integer({ min, max }), { minLength, maxLength }).map((p) => new Tensor(Float64Array.from(p), [p.length]));
}

/** Options of `multiAxisPositionsArb`: the `positionsArb` options plus the number of axes (positions [T, A]). */
export interface MultiAxisPositionsArbOptions extends PositionsArbOptions {
  /** Position axes A (t/h/w for video: 3; an image grid: 2). */
  axes: number;
}

/** Multi-axis positions: a float64 Tensor [T, A] of integer coordinates (M-RoPE, VideoRoPE, RoPE-ViT, FLUX). */
export function multiAxisPositionsArb(options: MultiAxisPositionsArbOptions): fc.Arbitrary<Tensor> {
  const op = 'multiAxisPositionsArb';
  const o = expectOptions(op, 'options', options, ['axes', 'minLength', 'maxLength', 'min', 'max']);
  const axes = expectInteger(op, 'options.axes', o.axes, { min: 1, max: 16 });
  const { minLength, maxLength, min, max } = lengthAndRange(op, o);
  return fc
    .array(fc.array(fc.integer({ min, max }), { minLength: axes, maxLength: axes }), { minLength, maxLength })
    .map((rows) => new Tensor(Float64Array.from(rows.flat()), [rows.length, axes]));
}

/** Options of `packedPositionsArb`: how many documents are packed and how long each may be. */
export interface PackedPositionsArbOptions {
  /** Documents packed into one row: 1..maxDocuments (default 4). */
  maxDocuments?: number;
  /** Tokens per document: 1..maxDocumentLength (default 8). */
  maxDocumentLength?: number;
}

/** Several documents packed into one row, each numbered from 0 (as packed pre-training batches are). */
export interface PackedPositions {
  /** [T]: 0, 1, …, len₀−1, 0, 1, …, len₁−1, … */
  positions: Tensor;
  /** Document index of each token, [T]. */
  documentIds: number[];
  /** Tokens per document. */
  lengths: number[];
}

/** Packed-document positions: every document restarts at 0 (its tokens must not see the others'). */
export function packedPositionsArb(options: PackedPositionsArbOptions = {}): fc.Arbitrary<PackedPositions> {
  const op = 'packedPositionsArb';
  const o = expectOptions(op, 'options', options, ['maxDocuments', 'maxDocumentLength']);
  const maxDocuments = o.maxDocuments === undefined ? 4 : expectInteger(op, 'options.maxDocuments', o.maxDocuments, { min: 1, max: 1024 });
  const maxLength = o.maxDocumentLength === undefined ? 8 : expectInteger(op, 'options.maxDocumentLength', o.maxDocumentLength, { min: 1, max: 1 << 16 });
  return fc.array(fc.integer({ min: 1, max: maxLength }), { minLength: 1, maxLength: maxDocuments }).map((lengths) => {
    const positions = lengths.flatMap((n) => Array.from({ length: n }, (_, i) => i));
    const documentIds = lengths.flatMap((n, d) => Array.from({ length: n }, () => d));
    return { positions: new Tensor(Float64Array.from(positions), [positions.length]), documentIds, lengths };
  });
}

/** The scaling rules ropeConfigArb draws (positional/: none, pi.ts 'linear', ntk.ts, yarn.ts, llama3.ts). */
export const ROPE_SCALINGS = ['none', 'linear', 'ntk', 'yarn', 'llama3'] as const;
/** One of ROPE_SCALINGS: the scaling rule a drawn RoPE config uses (none, linear, ntk, yarn, llama3). */
export type RoPEScaling = (typeof ROPE_SCALINGS)[number];

/** One drawn RoPE setting; `new RoPE(c.headDim, c.options)` builds it. */
export interface RoPEConfigSample {
  headDim: number;
  rotaryDim: number;
  base: number;
  layout: PairLayout;
  scaling: RoPEScaling;
  /** The scaling factor s (1 for 'none'). */
  factor: number;
  /** Pre-training length L (yarn, llama3; else undefined). */
  originalMaxPositions?: number;
  /** RoPE options with the table and attention factor of the rule (invFreq, attentionFactor, rotaryDim, layout). */
  options: RoPEOptions;
}

/** Options of `ropeConfigArb`: the head sizes, scaling rules and layouts to draw from, and whether partial rotary may be drawn. */
export interface RoPEConfigArbOptions {
  /** Head sizes to draw from (even); default [8, 16, 32, 64]. */
  headDims?: readonly number[];
  /** Scaling rules to draw from; default all of ROPE_SCALINGS. */
  scalings?: readonly RoPEScaling[];
  /** Layouts to draw from; default both. */
  layouts?: readonly PairLayout[];
  /** Also draw partial rotary (rotaryDim < headDim); default false. */
  partialRotary?: boolean;
}

/** RoPE settings: head size, base, layout, partial rotary and a scaling rule with valid parameters. */
export function ropeConfigArb(options: RoPEConfigArbOptions = {}): fc.Arbitrary<RoPEConfigSample> {
  const op = 'ropeConfigArb';
  const o = expectOptions(op, 'options', options, ['headDims', 'scalings', 'layouts', 'partialRotary']);
  const headDims = nonEmptyList(op, 'options.headDims', o.headDims === undefined ? [8, 16, 32, 64] : o.headDims, (v, arg) => {
    const d = expectInteger(op, arg, v, { min: 2, max: 1 << 16 });
    if (d % 2 !== 0) throw new ValueError(op, `${arg}=${d} must be even (channels rotate in pairs)`, arg);
    return d;
  });
  const scalings = nonEmptyList(op, 'options.scalings', o.scalings ?? ROPE_SCALINGS, (v, arg) => expectOneOf(op, arg, v, ROPE_SCALINGS));
  const layouts = nonEmptyList(op, 'options.layouts', o.layouts ?? ['half', 'interleaved'], (v, arg) => expectOneOf<PairLayout>(op, arg, v, ['half', 'interleaved']));
  const partial = o.partialRotary === undefined ? false : expectBoolean(op, 'options.partialRotary', o.partialRotary);
  return fc
    .record({
      headDim: fc.constantFrom(...headDims),
      pairFraction: partial ? fc.integer({ min: 1, max: 4 }) : fc.constant(4),
      base: fc.constantFrom(10000, 500000, 1000000, 100, 2),
      layout: fc.constantFrom(...layouts),
      scaling: fc.constantFrom(...scalings),
      factorTimes2: fc.integer({ min: 2, max: 64 }),
      original: fc.constantFrom(64, 512, 2048, 8192),
    })
    .map(({ headDim, pairFraction, base, layout, scaling, factorTimes2, original }) => {
      const rotaryDim = 2 * Math.max(1, Math.round(((headDim / 2) * pairFraction) / 4));
      const factor = scaling === 'none' ? 1 : factorTimes2 / 2;
      const dim = rotaryDim;
      let invFreq: Float64Array;
      let attentionFactor = 1;
      switch (scaling) {
        case 'none': invFreq = ropeInvFreq(dim, base); break;
        case 'linear': invFreq = piInvFreq({ dim, base, factor }); break;
        case 'ntk': invFreq = ntkInvFreq({ dim, base, factor }); break;
        case 'yarn':
          invFreq = yarnInvFreq({ dim, base, factor, originalMaxPositions: original });
          attentionFactor = yarnAttentionFactor({ factor });
          break;
        case 'llama3': invFreq = llama3InvFreq({ dim, base, factor, originalMaxPositions: original }); break;
      }
      const usesOriginal = scaling === 'yarn' || scaling === 'llama3';
      return {
        headDim, rotaryDim, base, layout, scaling, factor, ...(usesOriginal ? { originalMaxPositions: original } : {}),
        options: { rotaryDim, layout, invFreq, attentionFactor },
      };
    });
}

/** The rope types hfRoPEConfigArb draws (transformers' ROPE_INIT_FUNCTIONS that positional/hf-config.ts reads). */
export const HF_ARB_ROPE_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'] as const;
/** One of HF_ARB_ROPE_TYPES: a transformers rope_type that hfRoPEConfigArb can draw. */
export type HFArbRoPEType = (typeof HF_ARB_ROPE_TYPES)[number];

/** Options of `hfRoPEConfigArb`: the rope types and head sizes to draw from. */
export interface HFRoPEConfigArbOptions {
  /** rope_type values to draw; default all of HF_ARB_ROPE_TYPES. */
  ropeTypes?: readonly HFArbRoPEType[];
  /** head_dim values to draw (even); default [8, 16, 32, 64, 128]. */
  headDims?: readonly number[];
}

/**
 * HF config.json RoPE fields (the top level and a `rope_scaling` dict) that transformers accepts, with valid
 * parameters: factor ≥ 1, llama3 low_freq_factor < high_freq_factor, yarn beta_fast > beta_slow, longrope factor
 * lists of rotaryDim/2 entries ≥ 1 and max_position_embeddings > original_max_position_embeddings, and sometimes a
 * partial_rotary_factor, head_dim given as hidden_size / num_attention_heads, or a rope_theta inside the dict.
 */
export function hfRoPEConfigArb(options: HFRoPEConfigArbOptions = {}): fc.Arbitrary<HFRoPEConfig> {
  const op = 'hfRoPEConfigArb';
  const o = expectOptions(op, 'options', options, ['ropeTypes', 'headDims']);
  const types = nonEmptyList(op, 'options.ropeTypes', o.ropeTypes ?? HF_ARB_ROPE_TYPES, (v, arg) => expectOneOf(op, arg, v, HF_ARB_ROPE_TYPES));
  const headDims = nonEmptyList(op, 'options.headDims', o.headDims === undefined ? [8, 16, 32, 64, 128] : o.headDims, (v, arg) => {
    const d = expectInteger(op, arg, v, { min: 4, max: 1 << 16 });
    if (d % 4 !== 0) throw new ValueError(op, `${arg}=${d} must be a multiple of 4 (a partial_rotary_factor of 0.5 must leave whole pairs)`, arg);
    return d;
  });
  const maxPairs = Math.max(...headDims) / 2;
  return fc
    .record({
      type: fc.constantFrom(...types),
      headDim: fc.constantFrom(...headDims),
      heads: fc.integer({ min: 1, max: 8 }),
      headDimAsHidden: fc.boolean(),
      partial: fc.constantFrom(1, 1, 0.5),
      theta: fc.constantFrom(10000, 500000, 1000000),
      thetaInDict: fc.boolean(),
      original: fc.constantFrom(256, 2048, 4096, 8192),
      factorTimes4: fc.integer({ min: 4, max: 64 }),
      lowFreq: fc.integer({ min: 1, max: 2 }),
      highFreqPlus: fc.integer({ min: 1, max: 4 }),
      betaFast: fc.integer({ min: 8, max: 64 }),
      betaSlow: fc.integer({ min: 1, max: 4 }),
      yarnExtra: fc.constantFrom('none', 'attention_factor', 'mscale'),
      longFactors: fc.array(fc.integer({ min: 4, max: 400 }), { minLength: maxPairs, maxLength: maxPairs }),
      shortFactors: fc.array(fc.integer({ min: 4, max: 16 }), { minLength: maxPairs, maxLength: maxPairs }),
    })
    .map((r): HFRoPEConfig => {
      const factor = r.factorTimes4 / 4;
      const rotaryPairs = (r.headDim * r.partial) / 2;
      const head: Record<string, number> = r.headDimAsHidden ? { hidden_size: r.headDim * r.heads, num_attention_heads: r.heads } : { head_dim: r.headDim };
      const top: Record<string, unknown> = { ...head, ...(r.thetaInDict ? {} : { rope_theta: r.theta }), ...(r.partial !== 1 ? { partial_rotary_factor: r.partial } : {}) };
      const theta = r.thetaInDict ? { rope_theta: r.theta } : {};
      let scaling: HFRoPEParameters | null;
      let maxPositions: number = r.original;
      switch (r.type) {
        case 'default':
          scaling = r.thetaInDict ? { rope_type: 'default', ...theta } : null;
          if (scaling === null) top['rope_theta'] = r.theta;
          break;
        case 'linear':
        case 'dynamic':
          scaling = { rope_type: r.type, factor, ...theta };
          break;
        case 'yarn':
          maxPositions = Math.round(r.original * factor);
          scaling = {
            rope_type: 'yarn', factor, original_max_position_embeddings: r.original, beta_fast: r.betaFast, beta_slow: r.betaSlow, ...theta,
            ...(r.yarnExtra === 'attention_factor' ? { attention_factor: 1 + r.betaSlow / 10 } : r.yarnExtra === 'mscale' ? { mscale: 0.707, mscale_all_dim: 0.707 + r.betaSlow / 10 } : {}),
          };
          break;
        case 'llama3':
          maxPositions = Math.round(r.original * factor);
          scaling = { rope_type: 'llama3', factor, original_max_position_embeddings: r.original, low_freq_factor: r.lowFreq, high_freq_factor: r.lowFreq + r.highFreqPlus, ...theta };
          break;
        case 'longrope':
          maxPositions = Math.round(r.original * Math.max(factor, 1.25));
          scaling = {
            rope_type: 'longrope', original_max_position_embeddings: r.original, ...theta,
            short_factor: r.shortFactors.slice(0, rotaryPairs).map((v) => v / 4),
            long_factor: r.longFactors.slice(0, rotaryPairs).map((v) => v / 4),
          };
          break;
      }
      return { ...top, max_position_embeddings: maxPositions, ...(scaling !== null ? { rope_scaling: scaling } : {}) } as HFRoPEConfig;
    });
}

function nonEmptyList<T>(op: string, arg: string, list: unknown, each: (v: unknown, arg: string) => T): T[] {
  if (!Array.isArray(list) || list.length === 0) throw new ValueError(op, `${arg} must be a non-empty array, got ${Array.isArray(list) ? '[]' : typeof list}`, arg);
  return list.map((v, i) => each(v, `${arg}[${i}]`));
}
