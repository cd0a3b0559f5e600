/**
 * Positional encodings by name, so that models and experiments can choose one from a config string.
 * Later variants register here too; `positionalNames()` lists what exists.
 */
import { Generator, ValueError, type DType } from '../core/index.js';
import { NoPE, type PositionalEncoding } from './encoding.js';
import { LearnedAbsolute } from './learned.js';
import { llama3InvFreq } from './llama3.js';
import { DynamicNTKRoPE, ntkInvFreq } from './ntk.js';
import { PRoPE } from './p-rope.js';
import { piInvFreq } from './pi.js';
import { PSCRoPE } from './psc.js';
import { RoPE, ropeInvFreq } from './rope.js';
import { yarnAttentionFactor, yarnInvFreq, type YarnOptions } from './yarn.js';

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

export type PositionalFactory = (spec: PositionalSpec) => PositionalEncoding;

const registry = new Map<string, PositionalFactory>([
  ['nope', () => new NoPE()],
  ['learned', (s) => new LearnedAbsolute(s.contextLength, s.modelDim, { beyond: 'clamp', ...(s.generator ? { generator: s.generator } : {}), ...(s.dtype ? { dtype: s.dtype } : {}) })],
  ['rope', (s) => new RoPE(s.headDim, { base: s.base ?? 10000 })],
  ['pi', (s) => new RoPE(s.headDim, { invFreq: piInvFreq(ropeInvFreq(s.headDim, s.base ?? 10000), s.scalingFactor ?? 4) })],
  ['ntk', (s) => new RoPE(s.headDim, { invFreq: ntkInvFreq({ dim: s.headDim, base: s.base ?? 10000, factor: s.scalingFactor ?? 4 }) })],
  ['dynamic-ntk', (s) => new DynamicNTKRoPE(s.headDim, { base: s.base ?? 10000, factor: s.scalingFactor ?? 4, maxPositions: s.contextLength })],
  ['yarn', (s) => {
    const o: YarnOptions = { dim: s.headDim, base: s.base ?? 10000, factor: s.scalingFactor ?? 4, originalMaxPositions: s.contextLength };
    return new RoPE(s.headDim, { invFreq: yarnInvFreq(o), attentionFactor: yarnAttentionFactor(o) });
  }],
  ['p-rope-0.25', (s) => new PRoPE(s.headDim, 0.25, { base: s.base ?? 10000 })],
  ['p-rope-0.5', (s) => new PRoPE(s.headDim, 0.5, { base: s.base ?? 10000 })],
  ['p-rope-0.75', (s) => new PRoPE(s.headDim, 0.75, { base: s.base ?? 10000 })],
  ['psc-rope', (s) => new PSCRoPE(new RoPE(s.headDim, { base: s.base ?? 10000 }), {
    numHeads: s.modelDim / s.headDim,
    numKVHeads: s.numKVHeads ?? s.modelDim / s.headDim,
    headDim: s.headDim,
    ...(s.generator ? { generator: s.generator } : {}),
    ...(s.dtype ? { dtype: s.dtype } : {}),
  })],
  ['llama3', (s) => new RoPE(s.headDim, {
    invFreq: llama3InvFreq({ dim: s.headDim, base: s.base ?? 10000, factor: s.scalingFactor ?? 4, originalMaxPositions: s.contextLength }),
  })],
]);

/** Add (or replace) a named encoding. */
export function registerPositional(name: string, factory: PositionalFactory): void {
  registry.set(name, factory);
}

export function positionalNames(): string[] {
  return [...registry.keys()];
}

export function createPositional(name: string, spec: PositionalSpec): PositionalEncoding {
  const factory = registry.get(name);
  if (factory === undefined) {
    throw new ValueError('createPositional', `unknown positional encoding '${name}' (known: ${positionalNames().join(', ')})`, 'name');
  }
  return factory(spec);
}
