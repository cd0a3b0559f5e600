/**
 * The reference model of the KV-cache experiments (issue #13): its config, the validation loss it is judged by, and a
 * loader for the shipped checkpoint (scripts/train-reference.ts trains and writes it).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Generator, Tensor, noGrad } from '../../core/index.js';
import { GPT, type GPTConfig } from '../../models/index.js';
import { MultiHeadAttention, parseSafetensors } from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';
import { sampleBatch } from './corpus.js';

/** Where the shipped checkpoint lives, from the package root. */
export const REFERENCE_CHECKPOINT = 'data/reference/rope-gpt-512.safetensors';
/** The same model with 4 KV heads (MHA, the paper setting of EliteKV), trained the same way (`--kv-heads 4`). */
export const REFERENCE_MHA_CHECKPOINT = 'data/reference/rope-gpt-512-mha.safetensors';

/**
 * The architecture: the demo's RoPE GPT, 4 layers of dim 128, 4 heads of 32 with 2 KV heads (`numKVHeads`; 4 is
 * the MHA variant), context 512, RoPE base 1730 (λ_max = 2π·1730^(30/32) ≈ 6.8k = 512 / 0.075, the LLaMA-2 regime of reproductions.md G4).
 */
export function referenceConfig(vocabSize: number, numKVHeads = 2): GPTConfig {
  return { vocabSize, contextLength: 512, dim: 128, numLayers: 4, numHeads: 4, numKVHeads, positional: 'rope', ropeBase: 1730, seed: 0 };
}

/** Mean next-character loss over `windows` validation windows of the full context (fixed windows: seed 11). */
export function referenceValLoss(model: GPT, val: Int32Array, windows: number): number {
  const g = new Generator(11);
  const B = 4;
  let total = 0;
  let batches = 0;
  for (let i = 0; i < windows; i += B) {
    const { x, y } = sampleBatch(val, Math.min(B, windows - i), model.config.contextLength, g);
    total += noGrad(() => model.loss(x, y).item());
    batches++;
  }
  return total / batches;
}

export interface ReferenceModel {
  model: GPT;
  vocab: string[];
  /** The training record written with the checkpoint (steps, tokens, seconds, trainLoss, valLoss, trainedWith). */
  record: Record<string, string>;
}

/** Loads the checkpoint at `path` (default the shipped one): the model with its weights, vocabulary and record. */
export function loadReferenceModel(path = resolve(REFERENCE_CHECKPOINT)): ReferenceModel {
  const { tensors, metadata } = parseSafetensors(readFileSync(path));
  const config = JSON.parse(metadata['config']!) as GPTConfig;
  const model = new GPT(config);
  model.loadStateDict(tensors);
  const { config: _config, vocab, ...record } = metadata;
  return { model, vocab: JSON.parse(vocab!) as string[], record };
}

/** Layer `i`'s attention: the reference model's are MultiHeadAttention with RoPE (a converted model's are refused). */
export function ropeAttentionOf(model: GPT, i: number): MultiHeadAttention & { positional: RoPE } {
  const attn = model.blocks[i]!.attn;
  if (!(attn instanceof MultiHeadAttention) || !(attn.positional instanceof RoPE)) throw new Error(`layer ${i} is not a RoPE MultiHeadAttention`);
  return attn as MultiHeadAttention & { positional: RoPE };
}

/** One layer's attention inputs for a batch: x = norm1's output [B, T, C], pre-RoPE q [B, Hq, T, d], k [B, Hkv, T, d], v [B, Hkv, T, d]. */
export interface LayerQKV {
  x: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
}

/**
 * Runs ids [B, T] (positions 0…T−1) through `model` exactly, block by block, returning every layer's attention input
 * (norm1's output), its queries and keys before RoPE and its values (wq, wk, wv of it); no gradients. What the KV-cache experiments calibrate on.
 */
export function layerInputs(model: GPT, ids: Tensor): LayerQKV[] {
  return noGrad(() => {
    const [B, T] = ids.shape as [number, number];
    const positions = new Tensor(Float64Array.from({ length: T }, (_, t) => t), [T]);
    let x = model.wte.forward(ids);
    const absolute = model.positional.inputEmbedding(positions, model.config.dim);
    if (absolute !== null) x = x.add(absolute);
    return model.blocks.map((block, i) => {
      const attn = ropeAttentionOf(model, i);
      const { numHeads: H, numKVHeads: Hkv, headDim: D } = attn;
      const h = block.norm1.forward(x);
      const split = (t: Tensor, heads: number): Tensor => t.reshape([B, T, heads, D]).transpose(1, 2);
      const out = { x: h, q: split(attn.wq.forward(h), H), k: split(attn.wk.forward(h), Hkv), v: split(attn.wv.forward(h), Hkv) };
      x = block.forward(x);
      return out;
    });
  });
}
