/**
 * Positional encodings by name, so that models and experiments can choose one from a config string.
 * Later variants register here too; `positionalNames()` lists what exists.
 */
import { Generator, ValueError, type DType } from '../core/index.js';
import { NoPE, type PositionalEncoding } from './encoding.js';
import { LearnedAbsolute } from './learned.js';
import { RoPE } from './rope.js';

/** What a factory may need to build an encoding for one model. */
export interface PositionalSpec {
  headDim: number;
  modelDim: number;
  /** Training context: learned tables are this long; scaling rules treat it as the original length. */
  contextLength: number;
  /** RoPE base θ; default 10000. */
  base?: number;
  generator?: Generator;
  dtype?: DType;
}

export type PositionalFactory = (spec: PositionalSpec) => PositionalEncoding;

const registry = new Map<string, PositionalFactory>([
  ['nope', () => new NoPE()],
  ['learned', (s) => new LearnedAbsolute(s.contextLength, s.modelDim, { beyond: 'clamp', ...(s.generator ? { generator: s.generator } : {}), ...(s.dtype ? { dtype: s.dtype } : {}) })],
  ['rope', (s) => new RoPE(s.headDim, { base: s.base ?? 10000 })],
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
