/**
 * AnchorAttention (Wang et al. 2025, "When Precision Meets Position: BFloat16 Breaks Down RoPE in Long-Context
 * Training", §4; reference haonan3/AnchorContext `train.py`): documents packed into one window share a single anchor
 * token at index 0 with rotary position 0 — exact in any float format, since cos 0 = 1 and sin 0 = 0 — which every
 * token may attend to, while documents cannot see each other. Rotary positions stay global (no per-document reset).
 *
 * Two constructions, as in the reference:
 * - flex engine (the paper's method): `packWithAnchor` strips each document's leading BOS, prepends one anchor (doc
 *   id 0) and numbers the documents 1, 2, …; `anchorAttentionMask` is the mask.
 * - flash engine (varlen approximation): every document keeps its own BOS, whose rotary id is 0 while other tokens
 *   keep their global index (`flashAnchorPositions`), under block-diagonal causal attention (`flashAnchorMask`).
 *   A BOS at position 0 that sees only itself yields the same key/value as the shared anchor, so the two agree on
 *   every non-BOS token that has the same rotary position in both.
 * Masks are 0/1 float32 tensors (1 = may attend) that combine with the nn/ masks by elementwise product.
 */
import { DTypeError, ShapeError, Tensor, ValueError, describeValue, expectInteger, fmtShape, expectRequiredOptions } from '../core/index.js';
import { checkIntegers, checkTableSize } from './checks.js';

/** Options of `packWithAnchor`: `windowLength`, `anchorToken`, `bosToken`. */
export interface PackWithAnchorOptions {
  /** Tokens in the packed window, the anchor included (the reference's `seq_length`). */
  windowLength: number;
  /** Token id of the shared anchor (the reference uses the BOS id, or EOS if the tokenizer has no BOS). */
  anchorToken: number;
  /** A leading token with this id is stripped from every document; default `anchorToken`. */
  bosToken?: number;
}

/** One packed training window (AnchorAttention): its tokens, document ids and rotary positions, each of length T. */
export interface PackedWindow {
  /** [T] token ids: the anchor, then the documents in order, truncated to the window. */
  tokens: number[];
  /** [T] document ids: 0 for the anchor, 1, 2, … for the documents in order. */
  docIds: number[];
  /** [T] rotary positions: the global index 0 … T−1 (the anchor at 0, no per-document reset). */
  positions: Float64Array;
}

/**
 * Flex-engine packing (AnchorContext `process_tokenized_data` → `add_source_doc_ids` → `add_anchor_token_to_inputs`):
 * drop each document's leading BOS, concatenate, prepend one anchor, cut at `windowLength` (the last document is
 * truncated, later ones dropped). Documents left empty after the BOS is stripped get no id (the reference also drops
 * segments of ≤ 2 tokens, a data-cleaning filter not reproduced here). The anchor may not occur inside a document.
 */
export function packWithAnchor(documents: readonly (readonly number[])[], options: PackWithAnchorOptions): PackedWindow {
  const op = 'packWithAnchor';
  const o = expectRequiredOptions(op, options, ['windowLength', 'anchorToken', 'bosToken'], 'with windowLength and anchorToken');
  const windowLength = expectInteger(op, 'windowLength', o.windowLength, { min: 1 }); // the anchor plus document tokens
  const anchorToken = expectInteger(op, 'anchorToken', o.anchorToken);
  const bosToken = o.bosToken === undefined ? anchorToken : expectInteger(op, 'bosToken', o.bosToken);
  checkDocuments(op, documents);

  const tokens: number[] = [anchorToken];
  const docIds: number[] = [0];
  let nextId = 1;
  for (let d = 0; d < documents.length && tokens.length < windowLength; d++) {
    const doc = documents[d]!;
    checkIntegers(op, `documents[${d}]`, doc); // token ids
    const start = doc.length > 0 && doc[0] === bosToken ? 1 : 0;
    for (let j = start; j < doc.length; j++) {
      if (doc[j] === anchorToken) {
        throw new ValueError(op, `documents[${d}][${j}] is the anchor token ${anchorToken} — documents (the anchor appears once, at index 0; only a leading BOS is stripped)`, 'documents');
      }
    }
    if (doc.length === start) continue; // nothing left to pack: no id
    const take = Math.min(doc.length - start, windowLength - tokens.length);
    for (let j = start; j < start + take; j++) {
      tokens.push(doc[j]!);
      docIds.push(nextId);
    }
    nextId++;
  }
  const positions = new Float64Array(tokens.length);
  for (let i = 0; i < positions.length; i++) positions[i] = i;
  return { tokens, docIds, positions };
}

/** documents: an array of token arrays (the ids themselves are checked while packing, only as far as the window). */
function checkDocuments(op: string, documents: unknown): void {
  if (!Array.isArray(documents)) throw new DTypeError(op, `documents must be an array of token arrays (one number[] per document), got ${describeValue(documents)}`, 'documents');
  documents.forEach((doc, d) => {
    if (!Array.isArray(doc)) throw new DTypeError(op, `documents[${d}] must be an array of token ids, got ${describeValue(doc)}`, 'documents');
  });
}

/** Options of `packFlashAnchor`: `windowLength`, `bosToken`. */
export interface PackFlashOptions {
  /** Tokens in the packed window, every document's BOS included. */
  windowLength: number;
  /** Token id every document starts with (prepended where missing). */
  bosToken: number;
}

/**
 * Flash-engine packing (AnchorContext `process_tokenized_data`, `attn_engine == 'flash'`): every document starts with
 * its own BOS (prepended where missing), documents are concatenated and cut at `windowLength`. docIds are 1, 2, … per
 * document; positions are `flashAnchorPositions(docIds)` (each BOS at 0, other tokens global). Documents with no
 * token besides the BOS are skipped, as in `packWithAnchor`.
 */
export function packFlashAnchor(documents: readonly (readonly number[])[], options: PackFlashOptions): PackedWindow {
  const op = 'packFlashAnchor';
  const o = expectRequiredOptions(op, options, ['windowLength', 'bosToken'], 'with windowLength and bosToken');
  const windowLength = expectInteger(op, 'windowLength', o.windowLength, { min: 1 }); // every document's BOS and tokens
  const bosToken = expectInteger(op, 'bosToken', o.bosToken);
  checkDocuments(op, documents);
  const tokens: number[] = [];
  const docIds: number[] = [];
  let nextId = 1;
  for (let d = 0; d < documents.length && tokens.length < windowLength; d++) {
    const doc = documents[d]!;
    checkIntegers(op, `documents[${d}]`, doc); // token ids
    const body = doc.length > 0 && doc[0] === bosToken ? doc.slice(1) : doc;
    if (body.length === 0) continue;
    const seq = [bosToken, ...body].slice(0, windowLength - tokens.length);
    for (const t of seq) {
      tokens.push(t);
      docIds.push(nextId);
    }
    nextId++;
  }
  return { tokens, docIds, positions: Float64Array.from(flashAnchorPositions(docIds).data) };
}

/** Document ids as a [T] or [B, T] tensor, validated. */
function docIdTensor(op: string, docIds: readonly number[] | Tensor, mask: boolean): Tensor {
  if (!(docIds instanceof Tensor) && !Array.isArray(docIds)) {
    throw new DTypeError(op, `docIds must be an array or a Tensor [T] / [B, T] of document ids, got ${describeValue(docIds)}`, 'docIds');
  }
  const ids = docIds instanceof Tensor ? docIds : new Tensor(Float64Array.from(checkIntegers(op, 'docIds', docIds)), [docIds.length]);
  if (ids.ndim !== 1 && ids.ndim !== 2) throw new ShapeError(op, `docIds must be [T] or [B, T] — docIds=${fmtShape(ids.shape)} (one id per token)`, 'docIds');
  if (docIds instanceof Tensor) checkIntegers(op, 'docIds', ids.data); // document ids are whole numbers
  const T = ids.shape[ids.ndim - 1]!;
  if (mask) checkTableSize(op, 'docIds', ids.size / Math.max(T, 1), T, T); // the mask is [B, T, T]
  return ids;
}

/** A causal 0/1 mask from allowed(o, q, k) (o = b·T, the row's offset in the ids), shaped [T, T] for [T] ids or [B, 1, T, T] for [B, T]. */
function buildMask(ids: Tensor, allowed: (row: number, q: number, k: number) => boolean): Tensor {
  const T = ids.shape[ids.ndim - 1]!;
  const B = ids.ndim === 2 ? ids.shape[0]! : 1;
  const m = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < T; q++) for (let k = 0; k <= q; k++) if (allowed(b * T, q, k)) m[(b * T + q) * T + k] = 1;
  }
  return new Tensor(m, ids.ndim === 2 ? [B, 1, T, T] : [T, T]);
}

/**
 * AnchorAttention mask (AnchorContext `generate_doc_mask_mod` → `anchor_attn_mod`):
 * allowed(q, k) = q ≥ k ∧ (doc[q] = doc[k] ∨ doc[k] = 0). docIds [T] → [T, T], or [B, T] → [B, 1, T, T].
 */
export function anchorAttentionMask(docIds: readonly number[] | Tensor): Tensor {
  const ids = docIdTensor('anchorAttentionMask', docIds, true);
  const d = ids.data;
  return buildMask(ids, (o, q, k) => d[o + k] === 0 || d[o + q] === d[o + k]);
}

/** Run index of each token in one [T] row: it increases wherever the id changes (a flash-packed document's BOS). */
function runIndex(d: ArrayLike<number>, o: number, T: number): Int32Array {
  const run = new Int32Array(T);
  for (let i = 1; i < T; i++) run[i] = run[i - 1]! + (d[o + i] !== d[o + i - 1] ? 1 : 0);
  return run;
}

/**
 * Flash-engine rotary positions (AnchorContext training loop, `attn_engine == 'flash'`): the global index, except that
 * the first token of every document (its BOS, where the id changes) gets position 0. docIds [T] or [B, T] (documents
 * are contiguous runs of equal ids) → float64 positions of the same shape.
 */
export function flashAnchorPositions(docIds: readonly number[] | Tensor): Tensor {
  const ids = docIdTensor('flashAnchorPositions', docIds, false);
  const T = ids.shape[ids.ndim - 1]!;
  const out = new Float64Array(ids.size);
  for (let o = 0; o < ids.size; o += T) {
    for (let i = 0; i < T; i++) out[o + i] = i === 0 || ids.data[o + i] !== ids.data[o + i - 1] ? 0 : i;
  }
  return new Tensor(out, ids.shape);
}

/**
 * Flash-engine mask: causal and block-diagonal over contiguous document runs (varlen attention, cu_seqlens at the
 * documents' starts): allowed(q, k) = q ≥ k ∧ run(q) = run(k). docIds [T] → [T, T], or [B, T] → [B, 1, T, T].
 */
export function flashAnchorMask(docIds: readonly number[] | Tensor): Tensor {
  const ids = docIdTensor('flashAnchorMask', docIds, true);
  const T = ids.shape[ids.ndim - 1]!;
  const runs = new Int32Array(ids.size);
  for (let o = 0; o < ids.size; o += T) runs.set(runIndex(ids.data, o, T), o);
  return buildMask(ids, (o, q, k) => runs[o + q] === runs[o + k]);
}
