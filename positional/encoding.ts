/**
 * The positional-encoding interface that attention layers call. Every variant (NoPE, learned absolute, RoPE and
 * its relatives) is a Module implementing it, so its learnable parts are found by `parameters()`.
 *
 * Which base class an encoding extends: `PositionalEncoding` ← `RoPE` (rope.ts) for a rotary encoding with one 1-D
 * angle table, positions × inverse frequencies (PRoPE); ← `MultiAxisRoPE` (multi-axis.ts) when the pairs read several
 * position axes through a frequency matrix F [A, P] or [H, A, P] (MRoPE, VideoRoPE, VRoPE, HoPE, FluxRoPE). The rest
 * extend `PositionalEncoding` directly: no rotation (NoPE, LearnedAbsolute), a wrapper around another encoding
 * (PSCRoPE), a table that follows the sequence length (DynamicNTKRoPE), or a form MultiAxisRoPE does not express yet:
 * kv-head tables in head-split GQA (DRoPE), unrotated prefix tokens and learnable per-head frequencies (RoPEAxial,
 * RoPEMixed), a windowed two-pass score (HiRoPE).
 */
import { Module, expectTensor, expectPositions, expectSize, type Tensor } from '../core/index.js';

/**
 * Token positions: a float64 tensor [T] shared by the batch, or [B, T] per sequence; multi-axis variants use
 * [T, axes] or [B, T, axes] coordinates. Values may be fractional.
 */
export type Positions = Tensor;

/**
 * What `PositionalEncoding.encodeQK` returns: q [B, H, Tq, d] and k [B, Hkv, Tk, d] after the encoding, and an optional
 * multiplier on the attention logits.
 */
export interface EncodedQK {
  /** q: [B, H, Tq, d] after the encoding. */
  q: Tensor;
  /** k: [B, Hkv, Tk, d] after the encoding. */
  k: Tensor;
  /** Extra multiplier on the attention logits (1 when absent). */
  logitScale?: number;
}

/**
 * The base of every position encoding: `encodeQK` takes q [B, H, Tq, d] and k [B, Hkv, Tk, d] with their positions and
 * returns them encoded (rotated, for RoPE variants) with an optional logit scale; `encodeInput` adds an absolute signal
 * to x [B, T, C] where the encoding has one.
 */
export abstract class PositionalEncoding extends Module {
  /** Short name used in tables and configs ('nope', 'learned', 'rope', …). */
  abstract readonly name: string;

  /**
   * 'model': one instance serves every layer (parameter-free encodings, learned absolute tables);
   * 'layer': each attention layer needs its own instance (per-layer learned parts, as PSC's gates).
   */
  readonly scope: 'model' | 'layer' = 'model';

  /**
   * Transform q [B, H, Tq, d] and k [B, Hkv, Tk, d] given their positions. The default passes them through.
   * With a KV cache, keys are encoded once at their own positions before they are cached.
   */
  encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    checkPassThrough('PositionalEncoding', q, k, qPositions, kPositions);
    return { q, k };
  }

  /** Additive embedding for the residual stream at the given positions ([T] or [B, T] → [..., dim]), or null. */
  inputEmbedding(positions: Positions, dim: number): Tensor | null {
    const op = 'PositionalEncoding';
    expectPositions(op, 'positions', positions);
    expectSize(op, 'dim', dim);
    return null;
  }
}

/** The arguments of an encodeQK that returns q and k unchanged: still Tensors, with finite positions. */
function checkPassThrough(op: string, q: unknown, k: unknown, qPositions: unknown, kPositions: unknown): void {
  expectTensor(op, 'q', q);
  expectTensor(op, 'k', k);
  expectPositions(op, 'qPositions', qPositions);
  expectPositions(op, 'kPositions', kPositions);
}

/** NoPE: no positional signal at all; causal masking alone tells tokens apart (Kazemnejad et al. 2023). */
export class NoPE extends PositionalEncoding {
  readonly name = 'nope';

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    checkPassThrough('NoPE', q, k, qPositions, kPositions);
    return { q, k };
  }
}
