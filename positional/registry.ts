/**
 * Positional encodings by name, so that models and experiments can choose one from a config string (GPT's
 * `positional`). A name is registered when the encoding works on what a GPT gives it, 1-D token positions, and builds
 * a table no other name builds: NoPE, learned absolute, RoPE and its context-extension tables (PI, NTK, dynamic NTK,
 * YaRN, Llama 3), p-RoPE at three fractions, and PSC over RoPE. `positionalNames()` lists them; `registerPositional`
 * adds more. Left out, and why:
 * - M-RoPE, VideoRoPE, VRoPE: on 1-D positions (text) their logits are RoPE's; HoPE's are p-RoPE's (its temporal
 *   pairs are position-free) — tests/positional/registry.test.ts pins both;
 * - HiRoPE needs two-level positions [T, 2] (token, hierarchy) from segmented source code; RoPEAxial and RoPEMixed
 *   need (x, y) patch grids (models/vit.ts uses them); DRoPE needs (x, y, heading) agents; FluxRoPE's per-axis
 *   ladders are for (t, h, w) image latents, and FLUX gives its text tokens id 0 (no position);
 * - LongRoPE needs per-pair rescale factors found by search for one checkpoint (build it with fromHFConfig);
 * - AnchorAttention is a packing mask and position ids over plain RoPE (anchor.ts), not an encoding of its own.
 */
import {
  DTypeError, Generator, ValueError, asPartOf, describeValue, expectFunction, expectSize,
  expectRequiredOptions, optionalDType, optionalGenerator, type DType,
} from '../core/index.js';
import { checkBase, checkContextLength, checkFactor } from './checks.js';
import { NoPE, type PositionalEncoding } from './encoding.js';
import { LearnedAbsolute } from './learned.js';
import { llama3InvFreq } from './llama3.js';
import { DynamicNTKRoPE, ntkInvFreq } from './ntk.js';
import { PRoPE } from './p-rope.js';
import { piInvFreq } from './pi.js';
import { PSCRoPE } from './psc.js';
import { RoPE } from './rope.js';
import { yarnAttentionFactor, yarnInvFreq, type YaRNOptions } from './yarn.js';

/** What a factory may need to build an encoding for one model. */
export interface PositionalSpec {
  headDim: number;
  modelDim: number;
  /** Training context: learned tables are this long; scaling rules treat it as the original length. */
  contextLength: number;
  /** RoPE base θ; default 10000. */
  base?: number;
  /** Context-extension factor s for the scaling rules ('pi', 'ntk', 'yarn', …); default 4. */
  scalingFactor?: number;
  /** Key/value heads (for per-head modules such as PSC's key gate); default modelDim / headDim. */
  numKVHeads?: number;
  generator?: Generator;
  dtype?: DType;
}

/**
 * Builds an encoding for a model's `PositionalSpec` (head dim, model dim, context length, …); registered by name with
 * `registerPositional`.
 */
export type PositionalFactory = (spec: PositionalSpec) => PositionalEncoding;

const registry = new Map<string, PositionalFactory>([
  ['nope', () => new NoPE()],
  ['learned', (s) => new LearnedAbsolute(s.contextLength, s.modelDim, { beyond: 'clamp', generator: s.generator, dtype: s.dtype })],
  ['rope', (s) => new RoPE(s.headDim, { base: s.base ?? 10000 })],
  ['pi', (s) => new RoPE(s.headDim, { invFreq: piInvFreq({ dim: s.headDim, base: s.base ?? 10000, factor: s.scalingFactor ?? 4 }) })],
  ['ntk', (s) => new RoPE(s.headDim, { invFreq: ntkInvFreq({ dim: s.headDim, base: s.base ?? 10000, factor: s.scalingFactor ?? 4 }) })],
  ['dynamic-ntk', (s) => new DynamicNTKRoPE(s.headDim, { base: s.base ?? 10000, factor: s.scalingFactor ?? 4, maxPositions: s.contextLength })],
  ['yarn', (s) => {
    const o: YaRNOptions = { dim: s.headDim, base: s.base ?? 10000, factor: s.scalingFactor ?? 4, originalMaxPositions: s.contextLength };
    return new RoPE(s.headDim, { invFreq: yarnInvFreq(o), attentionFactor: yarnAttentionFactor(o) });
  }],
  ['p-rope-0.25', (s) => new PRoPE(s.headDim, 0.25, { base: s.base ?? 10000 })],
  ['p-rope-0.5', (s) => new PRoPE(s.headDim, 0.5, { base: s.base ?? 10000 })],
  ['p-rope-0.75', (s) => new PRoPE(s.headDim, 0.75, { base: s.base ?? 10000 })],
  ['psc-rope', (s) => new PSCRoPE(new RoPE(s.headDim, { base: s.base ?? 10000 }), {
    numHeads: s.modelDim / s.headDim,
    numKVHeads: s.numKVHeads ?? s.modelDim / s.headDim,
    headDim: s.headDim,
    generator: s.generator,
    dtype: s.dtype,
  })],
  ['llama3', (s) => new RoPE(s.headDim, {
    invFreq: llama3InvFreq({ dim: s.headDim, base: s.base ?? 10000, factor: s.scalingFactor ?? 4, originalMaxPositions: s.contextLength }),
  })],
]);

/** Add (or replace) a named encoding. */
export function registerPositional(name: string, factory: PositionalFactory): void {
  const op = 'registerPositional';
  if (typeof name !== 'string' || name === '') throw new DTypeError(op, `name must be a non-empty string, got ${describeValue(name)}`, 'name');
  expectFunction(op, 'factory', factory);
  registry.set(name, factory);
}

const SPEC_KEYS = ['headDim', 'modelDim', 'contextLength', 'base', 'scalingFactor', 'numKVHeads', 'generator', 'dtype'];

/** The whole spec, checked once here, so that every factory (also a registered one) gets valid fields. */
function checkSpec(op: string, spec: unknown): PositionalSpec {
  const s = expectRequiredOptions(op, spec as PositionalSpec, SPEC_KEYS, 'with headDim, modelDim and contextLength', 'spec');
  expectSize(op, 'spec.headDim', s.headDim);
  expectSize(op, 'spec.modelDim', s.modelDim);
  checkContextLength(op, 'spec.contextLength', s.contextLength);
  if (s.base !== undefined) checkBase(op, 'spec.base', s.base);
  if (s.scalingFactor !== undefined) checkFactor(op, 'spec.scalingFactor', s.scalingFactor);
  if (s.numKVHeads !== undefined) expectSize(op, 'spec.numKVHeads', s.numKVHeads);
  optionalGenerator(op, 'spec.generator', s.generator);
  optionalDType(op, 'spec.dtype', s.dtype);
  return s;
}

/**
 * The names `createPositional` accepts: the built-in encodings and any added with `registerPositional`, in registration
 * order.
 */
export function positionalNames(): string[] {
  return [...registry.keys()];
}

/**
 * Build the encoding registered as `name` for `spec`. The spec is checked here; what a factory still refuses (a
 * head dim that is odd for RoPE, heads that do not divide for PSC) is reported as `createPositional: …`.
 */
export function createPositional(name: string, spec: PositionalSpec): PositionalEncoding {
  const op = 'createPositional';
  if (typeof name !== 'string') throw new DTypeError(op, `name must be a string, got ${describeValue(name)}`, 'name');
  const factory = registry.get(name);
  if (factory === undefined) {
    throw new ValueError(op, `unknown positional encoding '${name}' (known: ${positionalNames().join(', ')})`, 'name');
  }
  const checked = checkSpec(op, spec);
  return asPartOf(op, () => factory(checked));
}
