/**
 * Seeded models initialise to the same numbers, bit for bit, as before the init plumbing was shared (residual
 * projections marked on their Linear, one untied-head constructor): a hash of every parameter's values, pinned.
 * Names and order are left out of the hash (a parameter's own bytes are hashed, the per-parameter hashes sorted),
 * so only a changed number fails it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Module } from '../../core/index.js';
import { GPT, MLALM, MemoryTransformer, PaTHLM, ViT } from '../../models/index.js';

/** FNV-1a (32-bit) over the bytes of one parameter's float64 values. */
function fnv(values: ArrayLike<number>): number {
  const bytes = new Uint8Array(Float64Array.from(values).buffer);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** One hash for a model's parameter values: per-parameter hashes, sorted, hashed again. */
function valueHash(model: Module): string {
  const each = model.parameters().map((p) => fnv(p.data)).sort((a, b) => a - b);
  return `${each.length}:${fnv(each).toString(16)}`;
}

const gpt = { vocabSize: 13, contextLength: 16, dim: 16, numLayers: 2, numHeads: 4, seed: 7 } as const;
const mem = { vocabSize: 11, dim: 16, numLayers: 2, numHeads: 2, segmentLength: 4, chunkSize: 2, memorySlots: 3, seed: 5 } as const;
const path = { vocabSize: 11, dim: 16, numLayers: 2, numHeads: 2, lowRankW: 4, seed: 3 } as const;
const mla = { vocabSize: 11, dim: 16, numLayers: 2, numHeads: 2, kvLoraRank: 8, qkNopeHeadDim: 4, qkRopeHeadDim: 4, vHeadDim: 4, seed: 2 } as const;

const CASES: Array<[string, () => Module, string]> = [
  ['GPT rope', () => new GPT({ ...gpt, positional: 'rope' }), '23:a32e4494'],
  ['GPT learned, untied head', () => new GPT({ ...gpt, positional: 'learned', tieEmbeddings: false }), '25:e2b0cd0f'],
  ['GPT swiglu rms GQA psc-rope', () => new GPT({ ...gpt, positional: 'psc-rope', mlp: 'swiglu', norm: 'rms', numKVHeads: 2 }), '28:33e1dd97'],
  ['GPT float64, 3 layers', () => new GPT({ ...gpt, numLayers: 3, positional: 'nope', dtype: 'float64' }), '33:33fa67c7'],
  ['MemoryTransformer projection', () => new MemoryTransformer({ ...mem }), '45:9fc5068a'],
  ['MemoryTransformer weights, untied, learned memory', () => new MemoryTransformer({ ...mem, combine: 'weights', tieEmbeddings: false, memoryInit: 'learned', gate: 0.5 }), '44:f67e511'],
  ['MemoryTransformer swiglu', () => new MemoryTransformer({ ...mem, mlp: 'swiglu', pool: 'chunk-last' }), '47:4a7f136c'],
  ['PaTHLM', () => new PaTHLM({ ...path }), '30:58270c25'],
  ['PaTHLM gelu layer norm, untied', () => new PaTHLM({ ...path, mlp: 'gelu', norm: 'layer', tieEmbeddings: false, useForgetGate: true }), '38:adf86e87'],
  ['MLALM untied', () => new MLALM({ ...mla, tieEmbeddings: false, qLoraRank: 8 }), '27:3d8811e7'],
  ['ViT rope-mixed', () => new ViT({ patchSize: 2, numClasses: 3, dim: 16, depth: 2, numHeads: 2, positional: 'rope-mixed', seed: 4 }), '43:43314ba4'],
];

test('seeded models initialise to the pinned values (bit-identical init)', () => {
  const got = CASES.map(([name, build]) => `${name} → ${valueHash(build())}`);
  const want = CASES.map(([name, , hash]) => `${name} → ${hash}`);
  assert.equal(got, want);
});

test.run();
