/**
 * Issue 13 item 3 — A²ATS retrieval attention (He et al., ACL Findings 2025; junhuihe-hjh/A2ATS) on the shipped
 * reference model (scripts/lib/reference-model.ts: RoPE GPT, 4 layers, 4 query heads / 2 KV heads of 32, context 512).
 *
 * 1. Calibration: `--calibration` training windows of 512 characters run through the model block by block; each layer
 *    gives its pre-RoPE queries and keys (wq, wk of norm1(x)). Per (layer, KV head) and codebook size, the
 *    query-aware codebook (`buildQueryAwareCodebook`): H from the WRoPE-rotated queries R(W)q of the KV head's query
 *    group, Cholesky whitening, k-means++ (at most `--iters` Lloyd iterations; the reference runs up to 300), the
 *    codebook mapped back to key space.
 * 2. Quality, on `--windows` validation windows of the full context (the fixed windows of `referenceValLoss`), for every
 *    codebook size × top-K fraction:
 *    - val loss with retrieval attention in every layer: one teacher-forced forward with `RetrievalKVCache`s in
 *      `prefill: 'retrieval'` mode, which gives each position exactly the selection token-by-token decoding would
 *      (tests/nn/a2ats.test.ts checks this) — sinks 8 and local window 64 exact, K = ⌊topK · n⌋ retrieved per head;
 *    - per layer, on the exact forward's queries and keys: recall (the fraction of each query head's true top-K
 *      tokens — by the exact RoPE logits, among the tokens outside sinks and window — that its group's selection
 *      holds) and the relative output error ‖o_retrieval − o_exact‖ / ‖o_exact‖ of the attention output, over the
 *      positions that have candidates (n > sinks + window).
 * 3. Speed: the caches filled with T = 1k, 4k, 16k tokens (the corpus, prefilled in chunks of 512; beyond the training
 *    length the model extrapolates, which does not change the work), then per-token decode time of the whole model
 *    with plain `KVCache`s and with `RetrievalKVCache`s, alternating step by step, median over `--decode-steps`;
 *    the bytes the caches hold, and the key/value bytes a decoding step reads.
 *
 * The WRoPE distance W: the reference's 2048 is for Llama-3.1 at 128k context; the reference model has only seen
 * distances < 512, so the default here is W = 256 (--wrope; 2048 is measured too, as the reference's value).
 *
 * Writes out/kv-retrieval.svg (val loss increase vs top-K, one line per codebook size) and
 * out/kv-retrieval-speed.svg (decode ms/token vs T); `--json` prints the results as one JSON object instead of tables.
 *
 * Reproduction (issue 17, ../shared/specs/reproductions.md §15a; `reproduction` below, run by `npm run reproduce
 * kv-retrieval`): per seed (calibration windows, k-means inits; the eval windows and the model are the same for every
 * seed), four
 * ways of ranking the candidates from VQ'd keys (codebook 64) — VQ of post-RoPE keys, VQ of pre-RoPE keys (position
 * ignored), WRoPE + plain VQ, WRoPE + query-aware VQ — at top-K 3 %: softmax-mass recall of the candidates (primary)
 * and val loss with retrieval attention in every layer (secondary); the oracle (exact logits) and a random selection
 * as the positive control. Verdict by scripts/lib/stats.ts judgeOrdering.
 *
 * Usage: node scripts/run.mjs scripts/experiments/kv-retrieval.ts [--calibration N] [--windows N] [--codebooks 64,256,1024]
 *          [--topk 1,3,10] [--wrope 256,64,2048] [--iters N] [--lengths 1024,4096,16384] [--decode-steps N] [--json] [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Generator, Tensor, attention, crossEntropy, matmul, noGrad } from '../../core/index.js';
import type { Reproduction } from '../lib/reproduction.js';
import { judgeOrdering, type OrderingJudgement, type Verdict } from '../lib/stats.js';
import type { GPT } from '../../models/index.js';
import {
  A2ATS_DEFAULTS, KVCache, RetrievalKVCache, buildQueryAwareCodebook, encodeKeys, retrievalMask, wropeQuery, type QueryAwareCodebook,
} from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';
import { loadCorpus, sampleBatch } from '../lib/corpus.js';
import { integerFlag, integerListFlag, readFlags } from '../lib/flags.js';
import { layerInputs, loadReferenceModel, ropeAttentionOf, type LayerQKV } from '../lib/reference-model.js';
import { isEntryPoint } from '../lib/entry.js';
import { lineChart } from '../lib/svg.js';

// ── the model's layers ────────────────────────────────────────────────────────────────────────────────────────────

/** The RoPE of layer `i` (the reference model's layers each hold one). */
function ropeOf(model: GPT, i: number): RoPE {
  return ropeAttentionOf(model, i).positional;
}

// ── calibration ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Per layer, per KV head: the codebook of `size` codewords from the calibration layers' queries and keys. */
export function calibrate(model: GPT, calibration: readonly LayerQKV[][], size: number, wrope: number, iters: number, seed: number): QueryAwareCodebook[][] {
  return model.blocks.map((block, layer) => {
    const { numHeads: H, numKVHeads: Hkv, headDim: d } = block.attn;
    const G = H / Hkv;
    const rope = ropeOf(model, layer);
    return Array.from({ length: Hkv }, (_, kv) => {
      const queries: number[] = [];
      const keys: number[] = [];
      for (const batch of calibration) {
        const { q, k } = batch[layer]!;
        const [B, , T] = q.shape as [number, number, number, number];
        const rotated = wropeQuery(q, rope.invFreq, wrope, rope.layout).data; // [B, H, T, d]
        for (let b = 0; b < B; b++) {
          for (let r = 0; r < G; r++) for (const x of rotated.subarray(((b * H + kv * G + r) * T) * d, ((b * H + kv * G + r + 1) * T) * d)) queries.push(x);
          for (const x of k.data.subarray(((b * Hkv + kv) * T) * d, ((b * Hkv + kv + 1) * T) * d)) keys.push(x);
        }
      }
      const qT = new Tensor(Float64Array.from(queries), [queries.length / d, d]);
      const kT = new Tensor(Float32Array.from(keys), [keys.length / d, d]);
      return buildQueryAwareCodebook(qT, kT, { size, maxIter: iters, generator: new Generator(seed + 100 * layer + kv) });
    });
  });
}

/** One RetrievalKVCache per layer with these codebooks and selection. */
export function retrievalCaches(model: GPT, codebooks: QueryAwareCodebook[][], topK: number, wrope: number, prefill: 'exact' | 'retrieval'): RetrievalKVCache[] {
  return model.blocks.map((_, layer) => {
    const rope = ropeOf(model, layer);
    return new RetrievalKVCache({ codebooks: codebooks[layer]!, invFreq: rope.invFreq, layout: rope.layout, wropeDistance: wrope, topK, prefill });
  });
}

// ── quality ───────────────────────────────────────────────────────────────────────────────────────────────────────

/** The validation windows of `referenceValLoss` (seed 11, batches of 4). */
export function validationBatches(val: Int32Array, windows: number, T: number): Array<{ x: Tensor; y: Tensor }> {
  const g = new Generator(11);
  const out: Array<{ x: Tensor; y: Tensor }> = [];
  for (let i = 0; i < windows; i += 4) out.push(sampleBatch(val, Math.min(4, windows - i), T, g));
  return out;
}

/** Mean loss over the batches, exact (no caches) or with fresh caches from `caches()` for each batch. */
export function meanLoss(model: GPT, batches: ReadonlyArray<{ x: Tensor; y: Tensor }>, caches?: () => KVCache[]): number {
  let total = 0;
  for (const { x, y } of batches) total += noGrad(() => crossEntropy(model.forward(x, caches === undefined ? {} : { caches: caches() }), y).item());
  return total / batches.length;
}

export interface SelectionQuality {
  /** Mean over layers, heads and positions with candidates. */
  recall: number;
  outputError: number;
  /** Per layer. */
  recallByLayer: number[];
  outputErrorByLayer: number[];
}

/**
 * What ranks the candidates: per layer and KV head a codebook (A²ATS), 'exact-keys' (WRoPE against the unquantized
 * pre-RoPE keys: WRoPE's own error) or 'oracle' (the exact RoPE logits: what top-K alone costs).
 */
export type Scorer = QueryAwareCodebook[][] | 'exact-keys' | 'oracle';

/** ⟨R(W)q, c(k)⟩ [B, H, T, T] for q [B, H, T, d] and pre-RoPE k [B, Hkv, T, d] with one codebook per KV head (causal part). */
function codebookScores(q: Tensor, k: Tensor, books: readonly QueryAwareCodebook[], rope: RoPE, wrope: number, G: number): Float64Array {
  const [B, H, T, d] = q.shape as [number, number, number, number];
  const Hkv = H / G;
  const rotated = wropeQuery(q, rope.invFreq, wrope, rope.layout).data;
  const scores = new Float64Array(B * H * T * T);
  for (let b = 0; b < B; b++) {
    for (let kv = 0; kv < Hkv; kv++) {
      const book = books[kv]!;
      const codes = encodeKeys(book, new Tensor(k.data.slice(((b * Hkv + kv) * T) * d, ((b * Hkv + kv + 1) * T) * d), [T, d]));
      // every query against every codeword in one product, then one gather per (query, key)
      const rows = new Tensor(rotated.slice(((b * H + kv * G) * T) * d, ((b * H + (kv + 1) * G) * T) * d), [G * T, d]);
      const perCode = matmul(rows, book.codebook.dtype === rows.dtype ? book.codebook : book.codebook.cast(rows.dtype), { transposeB: true }).data; // [G·T, C]
      const C = book.codebook.shape[0]!;
      for (let r = 0; r < G; r++) {
        for (let t = 0; t < T; t++) {
          const row = ((b * H + kv * G + r) * T + t) * T;
          const at = (r * T + t) * C;
          for (let s = 0; s <= t; s++) scores[row + s] = perCode[at + codes[s]!]!;
        }
      }
    }
  }
  return scores;
}

/**
 * Recall of the true top-K and the relative attention-output error of the selection, per layer, on the exact forward's
 * queries and keys (`inputs`: per batch, per layer).
 */
export function selectionQuality(model: GPT, inputs: readonly LayerQKV[][], scorer: Scorer, topK: number, wrope: number): SelectionQuality {
  const sinks = A2ATS_DEFAULTS.attentionSinks;
  const window = A2ATS_DEFAULTS.localWindow;
  const recallByLayer: number[] = [];
  const outputErrorByLayer: number[] = [];
  model.blocks.forEach((block, layer) => {
    const { numHeads: H, numKVHeads: Hkv, headDim: d } = block.attn;
    const G = H / Hkv;
    const rope = ropeOf(model, layer);
    let recallSum = 0;
    let recallCount = 0;
    let errorSum = 0;
    let errorCount = 0;
    for (const batch of inputs) {
      noGrad(() => {
        const { q, k, v } = batch[layer]!;
        const [B, , T] = q.shape as [number, number, number, number];
        const positions = Float64Array.from({ length: T }, (_, t) => t);
        const enc = rope.encodeQK(q, k, new Tensor(positions, [T]), new Tensor(positions, [T]));
        const kx = expandHeads(enc.k, G);
        const vx = expandHeads(v, G);
        const logits = matmul(enc.q, kx, { transposeB: true }).data; // [B, H, T, T] exact RoPE logits
        // the scores the selection ranks by: ⟨R(W)q, c(k)⟩, or ⟨R(W)q, k⟩ (no quantization), or the exact logits
        let approx: Float64Array | Float32Array;
        if (scorer === 'oracle') approx = logits;
        else if (scorer === 'exact-keys') approx = matmul(wropeQuery(q, rope.invFreq, wrope, rope.layout), expandHeads(k, G), { transposeB: true }).data;
        else approx = codebookScores(q, k, scorer[layer]!, rope, wrope, G);
        const mask = retrievalMask(new Tensor(approx, [B, H, T, T]), Hkv, { topK, localWindow: window, attentionSinks: sinks });
        // true top-K per head among the candidates, and the attention outputs with and without selection
        const exact = attention(enc.q, kx, vx, { causal: true, scale: 1 / Math.sqrt(d) }).data;
        const retrieved = attention(enc.q, kx, vx, { causal: true, scale: 1 / Math.sqrt(d), mask }).data;
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            for (let t = 0; t < T; t++) {
              const n = t + 1;
              const end = n - window;
              if (end <= sinks) continue; // no candidates: the step is exact
              const row = ((b * H + h) * T + t) * T;
              const K = Math.floor(topK * n);
              if (K > 0) {
                const candidates = Array.from({ length: end - sinks }, (_, i) => sinks + i).sort((x, y) => logits[row + y]! - logits[row + x]! || x - y);
                let hit = 0;
                for (const s of candidates.slice(0, K)) hit += mask.data[row + s]!;
                recallSum += hit / Math.min(K, candidates.length);
                recallCount++;
              }
              let diff = 0;
              let norm = 0;
              for (let j = 0; j < d; j++) {
                const i = ((b * H + h) * T + t) * d + j;
                diff += (retrieved[i]! - exact[i]!) ** 2;
                norm += exact[i]! ** 2;
              }
              errorSum += Math.sqrt(diff / Math.max(norm, 1e-30));
              errorCount++;
            }
          }
        }
      });
    }
    recallByLayer.push(recallCount === 0 ? 1 : recallSum / recallCount);
    outputErrorByLayer.push(errorCount === 0 ? 0 : errorSum / errorCount);
  });
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { recall: mean(recallByLayer), outputError: mean(outputErrorByLayer), recallByLayer, outputErrorByLayer };
}

/** [B, Hkv, T, d] → [B, Hkv·G, T, d]: each KV head repeated for the G query heads of its group. */
function expandHeads(t: Tensor, G: number): Tensor {
  const [B, Hkv, T, d] = t.shape as [number, number, number, number];
  return t.unsqueeze(2).expand([B, Hkv, G, T, d]).reshape([B, Hkv * G, T, d]);
}

// ── speed ─────────────────────────────────────────────────────────────────────────────────────────────────────────

export interface SpeedRow {
  length: number;
  plainMs: number;
  retrievalMs: number;
  ratio: number;
  /** Bytes held: the plain cache's keys and values; the retrieval cache's keys, values and codes (codebooks apart). */
  plainBytes: number;
  retrievalBytes: number;
  codebookBytes: number;
  /** Key/value bytes one decoding step reads (all layers): every cached token vs the gathered ones, plus the codes. */
  plainReadBytes: number;
  retrievalReadBytes: number;
  /** Mean tokens a KV head attends to per step (sinks, window, retrieved). */
  attended: number;
}

/** Decode time per token at each cache length, plain vs retrieval, alternating step by step. */
export function decodeSpeed(model: GPT, text: Int32Array, codebooks: QueryAwareCodebook[][], topK: number, wrope: number, lengths: readonly number[], steps: number): SpeedRow[] {
  const chunk = model.config.contextLength;
  return lengths.map((length) => {
    const retrieval = retrievalCaches(model, codebooks, topK, wrope, 'exact');
    noGrad(() => {
      for (let start = 0; start < length; start += chunk) {
        const n = Math.min(chunk, length - start);
        model.forward(new Tensor(Float32Array.from(text.subarray(start, start + n)), [1, n]), { caches: retrieval });
      }
    });
    const plain = retrieval.map((c) => {
      const p = new KVCache();
      p.keys = c.keys;
      p.values = c.values;
      p.position = c.position;
      return p;
    });
    const times = { plain: [] as number[], retrieval: [] as number[] };
    let attended = 0;
    for (let s = 0; s < steps; s++) {
      const token = new Tensor(Float32Array.of(text[length + s]!), [1, 1]);
      for (const [name, caches] of (s % 2 === 0 ? [['plain', plain], ['retrieval', retrieval]] : [['retrieval', retrieval], ['plain', plain]]) as Array<['plain' | 'retrieval', KVCache[]]>) {
        const t0 = performance.now();
        noGrad(() => model.forward(token, { caches }));
        times[name].push(performance.now() - t0);
      }
      attended += retrieval.reduce((sum, c) => sum + c.lastGathered, 0) / retrieval.length;
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const bytes = (t: Tensor | null): number => (t === null ? 0 : t.data.byteLength);
    const plainBytes = plain.reduce((s, c) => s + bytes(c.keys) + bytes(c.values), 0);
    const codeBytes = retrieval.reduce((s, c) => s + 4 * c.length * c.codebooks.length, 0);
    const codebookBytes = codebooks.flat().reduce((s, b) => s + b.codebook.data.byteLength + b.whitened.data.byteLength + b.whitening.data.byteLength, 0);
    const perToken = plainBytes / plain[0]!.length; // key + value bytes of one token, all layers and KV heads
    const plainMs = median(times.plain);
    const retrievalMs = median(times.retrieval);
    return {
      length, plainMs, retrievalMs, ratio: retrievalMs / plainMs, plainBytes, retrievalBytes: plainBytes + codeBytes, codebookBytes,
      plainReadBytes: plainBytes, retrievalReadBytes: (attended / steps) * perToken + codeBytes, attended: attended / steps,
    };
  });
}

// ── reproduction (issue 17, ../shared/specs/reproductions.md §15a) ──────────────────────────────────────────────────

/**
 * The four ways of ranking the candidates from vector-quantised keys (one codebook per layer and KV head):
 *   post-rope  k-means on post-RoPE keys (rotated at their calibration positions); score ⟨R_t q, c(R_s k)⟩ — a naive
 *              shared codebook over position-specific keys;
 *   pre-rope   k-means on pre-RoPE keys, position ignored; score ⟨q, c(k)⟩;
 *   wrope      the same plain codebook, scored by WRoPE: ⟨R(W) q, c(k)⟩;
 *   wrope+qa   WRoPE + A²ATS's query-aware codebook (k-means in the metric whitened by the rotated queries' H).
 * Plain k-means is buildQueryAwareCodebook with the identity as the "queries" (H ∝ I: the whitening is a scale).
 */
export type VqArm = 'post-rope' | 'pre-rope' | 'wrope' | 'wrope+qa';
export const VQ_ARMS: readonly VqArm[] = ['post-rope', 'pre-rope', 'wrope', 'wrope+qa'];
/** The reference selections: the exact RoPE logits (oracle) and random scores (chance), for the positive control. */
export type RecallArm = VqArm | 'oracle' | 'random';
export const RECALL_ARMS: readonly RecallArm[] = [...VQ_ARMS, 'oracle', 'random'];

export interface VqSettings {
  seeds: number;
  /** Calibration windows of `context` characters (training split), drawn per seed. */
  calibration: number;
  /** Evaluation windows (validation split), the same for every seed. */
  windows: number;
  context: number;
  codebook: number;
  topK: number;
  wrope: number;
  iters: number;
}

/** The full run: codebook 64 (spec), top-K 3 %, W = 256 (this experiment's default for a 512-context model). */
export const VQ_FULL: VqSettings = { seeds: 3, calibration: 8, windows: 4, context: 512, codebook: 64, topK: 0.03, wrope: 256, iters: 25 };
export const VQ_QUICK: VqSettings = { seeds: 3, calibration: 1, windows: 1, context: 128, codebook: 8, topK: 0.03, wrope: 256, iters: 2 };

/** Per layer and KV head, a plain (Euclidean) k-means codebook of the calibration keys, pre-RoPE or post-RoPE. */
export function plainCodebooks(model: GPT, calibration: readonly LayerQKV[][], size: number, iters: number, seed: number, post: boolean): QueryAwareCodebook[][] {
  return model.blocks.map((block, layer) => {
    const { numKVHeads: Hkv, headDim: d } = block.attn;
    const rope = ropeOf(model, layer);
    return Array.from({ length: Hkv }, (_, kv) => {
      const keys: number[] = [];
      for (const batch of calibration) {
        const { q, k } = batch[layer]!;
        const T = k.shape[2]!;
        const positions = new Tensor(Float64Array.from({ length: T }, (_, t) => t), [T]);
        const source = post ? noGrad(() => rope.encodeQK(q, k, positions, positions).k) : k;
        for (let b = 0; b < k.shape[0]!; b++) for (const x of source.data.subarray(((b * Hkv + kv) * T) * d, ((b * Hkv + kv + 1) * T) * d)) keys.push(x);
      }
      const identity = new Tensor(Float64Array.from({ length: d * d }, (_, i) => (i % (d + 1) === 0 ? 1 : 0)), [d, d]);
      return buildQueryAwareCodebook(identity, new Tensor(Float32Array.from(keys), [keys.length / d, d]), { size, maxIter: iters, generator: new Generator(seed + 100 * layer + kv) });
    });
  });
}

/**
 * Softmax-mass recall of a selection: per query head and position with candidates (n > sinks + window), the exact
 * attention probability mass of the candidates the selection keeps over that of all candidates; mean over them.
 * logits: exact RoPE logits [B, H, T, T] (already scaled), mask from retrievalMask [B, H, T, T].
 */
export function massRecall(logits: ArrayLike<number>, mask: ArrayLike<number>, B: number, H: number, T: number, sinks: number, window: number): number {
  let sum = 0;
  let count = 0;
  for (let r = 0; r < B * H; r++) {
    for (let t = 0; t < T; t++) {
      const n = t + 1;
      const end = n - window;
      if (end <= sinks) continue;
      const row = (r * T + t) * T;
      let max = -Infinity;
      for (let s = 0; s < n; s++) max = Math.max(max, logits[row + s]!);
      let candidates = 0;
      let kept = 0;
      for (let s = sinks; s < end; s++) {
        const p = Math.exp(logits[row + s]! - max);
        candidates += p;
        if (mask[row + s]! > 0) kept += p;
      }
      sum += candidates > 0 ? kept / candidates : 1;
      count++;
    }
  }
  return count === 0 ? 1 : sum / count;
}

interface LayerState {
  q: Tensor;
  k: Tensor;
  encQ: Tensor;
  encK: Tensor;
}

/**
 * The model block by block on ids x [B, T] with targets y: at each layer `observe` sees the pre- and post-RoPE queries
 * and keys and `select` may return a 0/1 mask [B, H, T, T] that this layer's attention then applies (retrieval
 * attention in every layer); returns the mean next-character loss.
 */
export function maskedForward(model: GPT, x: Tensor, y: Tensor, select: (layer: number, s: LayerState) => Tensor | null, observe: (layer: number, s: LayerState) => void = () => {}): number {
  return noGrad(() => {
    const [B, T] = x.shape as [number, number];
    const positions = new Tensor(Float64Array.from({ length: T }, (_, t) => t), [T]);
    let h = model.wte.forward(x);
    model.blocks.forEach((block, layer) => {
      const attn = ropeAttentionOf(model, layer);
      const { numHeads: H, numKVHeads: Hkv, headDim: D } = attn;
      const n1 = block.norm1.forward(h);
      const q = attn.wq.forward(n1).reshape([B, T, H, D]).transpose(1, 2);
      const k = attn.wk.forward(n1).reshape([B, T, Hkv, D]).transpose(1, 2);
      const enc = attn.positional.encodeQK(q, k, positions, positions);
      const state = { q, k, encQ: enc.q, encK: enc.k };
      observe(layer, state);
      const mask = select(layer, state);
      h = mask === null ? block.forward(h) : block.forward(h, { mask });
    });
    const logits = model.lnF.forward(h);
    const out = model.lmHead?.forward(logits) ?? matmul(logits, model.wte.weight, { transposeB: true });
    return crossEntropy(out, y).item();
  });
}

export interface VqSeedRun {
  seed: number;
  /** Mean softmax-mass recall over layers, per arm (on the exact forward's queries and keys). */
  recall: Record<RecallArm, number>;
  recallByLayer: Record<RecallArm, number[]>;
  /** Val loss with retrieval attention in every layer, per arm; and exact, and sinks + window only. */
  loss: Record<RecallArm | 'exact' | 'window-only', number>;
}

/**
 * One seed: calibration windows and k-means inits (seed); the evaluation windows and the model are the same for every
 * seed, so the seed range measures what the seed varies, not window-to-window variance shared by every arm.
 */
export function runVqSeed(model: GPT, corpus: { train: Int32Array; val: Int32Array }, s: VqSettings, seed: number): VqSeedRun {
  const T = s.context;
  const sinks = A2ATS_DEFAULTS.attentionSinks;
  const window = A2ATS_DEFAULTS.localWindow;
  const g = new Generator(1000 + seed);
  const calibration = Array.from({ length: Math.ceil(s.calibration / 4) }, (_, i) => layerInputs(model, sampleBatch(corpus.train, Math.min(4, s.calibration - 4 * i), T, g).x));
  const books = {
    post: plainCodebooks(model, calibration, s.codebook, s.iters, 7 * seed, true),
    plain: plainCodebooks(model, calibration, s.codebook, s.iters, 7 * seed, false),
    qa: calibrate(model, calibration, s.codebook, s.wrope, s.iters, 7 * seed),
  };
  const evalG = new Generator(2000);
  const batches = Array.from({ length: Math.ceil(s.windows / 4) }, (_, i) => sampleBatch(corpus.val, Math.min(4, s.windows - 4 * i), T, evalG));
  const scores = (arm: RecallArm, layer: number, st: LayerState, noise: Generator): Tensor => {
    const { numHeads: H, numKVHeads: Hkv, headDim: d } = model.blocks[layer]!.attn;
    const G = H / Hkv;
    const rope = ropeOf(model, layer);
    const [B, , Tq] = st.q.shape as [number, number, number, number];
    const shape = [B, H, Tq, Tq];
    switch (arm) {
      case 'post-rope': return new Tensor(codebookScores(st.encQ, st.encK, books.post[layer]!, rope, 0, G), shape);
      case 'pre-rope': return new Tensor(codebookScores(st.q, st.k, books.plain[layer]!, rope, 0, G), shape);
      case 'wrope': return new Tensor(codebookScores(st.q, st.k, books.plain[layer]!, rope, s.wrope, G), shape);
      case 'wrope+qa': return new Tensor(codebookScores(st.q, st.k, books.qa[layer]!, rope, s.wrope, G), shape);
      case 'oracle': return matmul(st.encQ, expandHeads(st.encK, G), { transposeB: true }).mul(1 / Math.sqrt(d));
      case 'random': return new Tensor(Float64Array.from({ length: B * H * Tq * Tq }, () => noise.random()), shape);
    }
  };
  const maskOf = (arm: RecallArm, layer: number, st: LayerState, noise: Generator, topK = s.topK): Tensor =>
    retrievalMask(scores(arm, layer, st, noise), model.blocks[layer]!.attn.numKVHeads, { topK, localWindow: window, attentionSinks: sinks });
  const sums = Object.fromEntries(RECALL_ARMS.map((a) => [a, model.blocks.map(() => 0)])) as Record<RecallArm, number[]>;
  const loss = Object.fromEntries([...RECALL_ARMS, 'exact', 'window-only'].map((a) => [a, 0])) as VqSeedRun['loss'];
  for (const { x, y } of batches) {
    const noise = new Generator(3000 + seed);
    loss.exact += maskedForward(model, x, y, () => null, (layer, st) => {
      const { numHeads: H, numKVHeads: Hkv, headDim: d } = model.blocks[layer]!.attn;
      const logits = matmul(st.encQ, expandHeads(st.encK, H / Hkv), { transposeB: true }).mul(1 / Math.sqrt(d)).data;
      const [B, , Tq] = st.q.shape as [number, number, number];
      for (const arm of RECALL_ARMS) sums[arm][layer]! += massRecall(logits, maskOf(arm, layer, st, noise).data, B, H, Tq, sinks, window);
    }) / batches.length;
    for (const arm of RECALL_ARMS) {
      const armNoise = new Generator(4000 + seed);
      loss[arm] += maskedForward(model, x, y, (layer, st) => maskOf(arm, layer, st, armNoise)) / batches.length;
    }
    loss['window-only'] += maskedForward(model, x, y, (layer, st) => maskOf('oracle', layer, st, noise, 0)) / batches.length;
  }
  const recallByLayer = Object.fromEntries(RECALL_ARMS.map((a) => [a, sums[a].map((v) => v / batches.length)])) as Record<RecallArm, number[]>;
  const recall = Object.fromEntries(RECALL_ARMS.map((a) => [a, recallByLayer[a].reduce((p, v) => p + v, 0) / recallByLayer[a].length])) as Record<RecallArm, number>;
  return { seed, recall, recallByLayer, loss };
}

export interface VqJudgement {
  verdict: Verdict;
  reason: string;
  /** Primary: mass recall, wrope+qa > wrope > the better of post-rope and pre-rope (per seed). */
  claim: OrderingJudgement;
  /** Secondary (reported, not in the verdict): val loss in the same order, lower is better. */
  task: OrderingJudgement;
  /** Positive controls: oracle > random on mass recall; exact < sinks + window only on val loss. */
  concentrated: OrderingJudgement;
  retrievalMatters: OrderingJudgement;
}

export function judgeVq(runs: readonly VqSeedRun[]): VqJudgement {
  const recall = (a: RecallArm): number[] => runs.map((r) => r.recall[a]);
  const loss = (a: RecallArm | 'exact' | 'window-only'): number[] => runs.map((r) => r.loss[a]);
  const order = ['wrope+qa', 'wrope', 'best naive'];
  const claim = judgeOrdering({ 'wrope+qa': recall('wrope+qa'), wrope: recall('wrope'), 'best naive': runs.map((r) => Math.max(r.recall['post-rope'], r.recall['pre-rope'])) }, order, 'higher');
  const task = judgeOrdering({ 'wrope+qa': loss('wrope+qa'), wrope: loss('wrope'), 'best naive': runs.map((r) => Math.min(r.loss['post-rope'], r.loss['pre-rope'])) }, order, 'lower');
  const concentrated = judgeOrdering({ oracle: recall('oracle'), random: recall('random') }, ['oracle', 'random'], 'higher');
  const retrievalMatters = judgeOrdering({ exact: loss('exact'), 'window-only': loss('window-only') }, ['exact', 'window-only'], 'lower');
  const secondary = `secondary (val loss, same order): ${task.verdict} — ${task.reason}`;
  if (concentrated.verdict !== 'reproduced' || retrievalMatters.verdict !== 'reproduced') {
    const failed = concentrated.verdict !== 'reproduced' ? `oracle top-K vs random selection on mass recall: ${concentrated.reason}` : `exact vs sinks + window only on val loss: ${retrievalMatters.reason}`;
    return { verdict: 'not reproduced', reason: `positive control failed (${failed}), so the toy cannot rank selections; mass recall: ${claim.verdict} — ${claim.reason}; ${secondary}`, claim, task, concentrated, retrievalMatters };
  }
  return { verdict: claim.verdict, reason: `mass recall, wrope+qa > wrope > best of (post-rope, pre-rope): ${claim.reason}; ${secondary}; positive controls passed`, claim, task, concentrated, retrievalMatters };
}

export function formatVq(runs: readonly VqSeedRun[], s: VqSettings, j: VqJudgement): string {
  const stat = (xs: number[], f: (v: number) => string): string => `${f(xs.reduce((a, b) => a + b, 0) / xs.length)} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
  const r3 = (v: number): string => v.toFixed(3);
  const lines = [
    `reference model (4 layers, 4 q / 2 KV heads of 32, context 512); windows of ${s.context}; codebook ${s.codebook} per (layer, KV head), k-means ≤ ${s.iters} iterations on ${s.calibration} calibration windows; top-K ${(100 * s.topK).toFixed(0)} %, sinks ${A2ATS_DEFAULTS.attentionSinks} + window ${A2ATS_DEFAULTS.localWindow} exact, W = ${s.wrope}; ${s.windows} eval windows (the same for every seed)`,
    '',
    `| selection | mass recall ${runs.map((r) => `s${r.seed}`).join(' / ')} | mean (min–max) | val loss ${runs.map((r) => `s${r.seed}`).join(' / ')} | mean (min–max) |`,
    '|---|---|---:|---|---:|',
    ...RECALL_ARMS.map((a) => `| ${a} | ${runs.map((r) => r3(r.recall[a])).join(' / ')} | ${stat(runs.map((r) => r.recall[a]), r3)} | ${runs.map((r) => r.loss[a].toFixed(4)).join(' / ')} | ${stat(runs.map((r) => r.loss[a]), (v) => v.toFixed(4))} |`),
    ...(['exact', 'window-only'] as const).map((a) => `| ${a === 'exact' ? 'exact attention' : 'sinks + window only'} | — | — | ${runs.map((r) => r.loss[a].toFixed(4)).join(' / ')} | ${stat(runs.map((r) => r.loss[a]), (v) => v.toFixed(4))} |`),
    '',
  ];
  const gaps = (o: OrderingJudgement): string => o.gaps.map((g) => `${g.better} − ${g.worse} = ${fmtGap(g.gap)} (margin ${fmtGap(g.margin)})`).join('; ') + `, seeds in order: ${o.seedsInOrder.map((ok) => (ok ? 'yes' : 'no')).join('/')}`;
  lines.push(`criterion — mass recall wrope+qa > wrope > best naive: ${gaps(j.claim)} → ${j.claim.verdict}`);
  lines.push(`secondary — val loss in the same order (lower): ${gaps(j.task)} → ${j.task.verdict}`);
  lines.push(`positive control — oracle > random mass recall: ${gaps(j.concentrated)} → ${j.concentrated.verdict === 'reproduced' ? 'passed' : 'FAILED'}; exact < sinks + window only: ${gaps(j.retrievalMatters)} → ${j.retrievalMatters.verdict === 'reproduced' ? 'passed' : 'FAILED'}`);
  lines.push(`verdict: ${j.verdict} — ${j.reason}`);
  return lines.join('\n');
}

function fmtGap(x: number): string {
  return Math.abs(x) >= 0.001 || x === 0 ? x.toFixed(4) : x.toExponential(2);
}

export const reproduction: Reproduction = {
  name: 'kv-retrieval',
  paper: 'He, Xing, Wang, Xu, Wu, Zhou, Liu, Xue, Li: A²ATS: Retrieval-Based KV Cache Reduction via Windowed Rotary Position Embedding and Query-Aware Vector Quantization (ACL Findings 2025; arXiv 2502.12665)',
  claim:
    'Windowed RoPE decouples the positional dependency from query and key states after position embedding, so keys can be vector-quantised with shared codebooks; query-aware VQ optimises the attention-score approximation directly; the top-K tokens (topk = 0.03) are retrieved and attended exactly — lower performance degradation than other retrieval methods with similar or lower overhead, up to 2.7× throughput (Llama-3.1-8B).',
  setup:
    `Shipped reference char-LM (4 layers, context 512); per seed ${VQ_FULL.calibration} calibration windows, and ${VQ_FULL.windows} eval windows of 512 shared by all seeds; codebook ${VQ_FULL.codebook}/KV head; candidates ranked by VQ of post-RoPE keys, VQ of pre-RoPE keys, WRoPE (W = ${VQ_FULL.wrope}) + plain VQ, WRoPE + query-aware VQ; top-K 3 %; softmax-mass recall and val loss; 3 seeds (calibration data, k-means init; one pretrained model, the same eval windows).`,
  criterion:
    'Primary metric: softmax-mass recall (the exact attention mass of the retained candidates over that of all candidates, mean over heads, positions with candidates and layers). Predicted order (higher better): wrope+qa > wrope > best naive, where best naive is per seed the better of post-rope and pre-rope (the spec predicts (4) > (3) > (2), (1), no order between the two naive arms); judged by judgeOrdering — every seed in order and each mean gap above twice the larger seed range → reproduced; means in order only → partly. Secondary, reported but not in the verdict: val loss with retrieval attention in every layer, same order (lower better). Seed i shares calibration windows, k-means inits and eval windows across arms. Positive controls (both must be reproduced by judgeOrdering): the oracle top-K (exact logits) beats a random selection on mass recall (attention is concentrated enough for selection to matter) and exact attention beats sinks + window only on val loss (the retrieved tokens matter); if either fails the verdict is not reproduced. Seeds do not vary the pretrained model: model-to-model variance is not covered.',
  falsifier: 'With the positive controls passing, WRoPE + query-aware VQ does not recall more softmax mass than WRoPE with plain VQ, or WRoPE does not beat VQ of post-/pre-RoPE keys.',
  minutes: 2,
  history: [
    '2026-12-07, first run (each seed drew its own 4 evaluation windows; 136 s): not reproduced — the positive control failed: exact ' +
    'attention beat sinks + window only by 2.13e-3 nats in every seed, but the val loss\u2019s seed range (0.239 nats, 1.46–1.58 over ' +
    'the seeds\u2019 windows) was window-to-window variance shared by every arm, not noise between arms. Mass recall: post-RoPE 0.247, ' +
    'pre-RoPE 0.093, WRoPE 0.127, WRoPE + query-aware 0.131 (oracle 0.568, random 0.099): the means not in the predicted order (WRoPE ' +
    'vs best naive: gap −0.120). Changed before this rerun, as that run\u2019s examination named: the evaluation windows are the same ' +
    'for every seed, so the seeds vary the calibration windows and k-means inits only. Nothing else.',
  ],
  examination:
    'Why (our reading of the rerun): the shipped character model does not use tokens beyond its local window. On the same 4 windows ' +
    'for every seed, exact attention is 0.0014 nats worse than sinks + window only (1.4665 against 1.4652), and a random top-3 % ' +
    'selection is as good as any arm (1.4655); in the first run, on each seed\u2019s own windows, exact was 0.002 nats better. So the far ' +
    'tokens move the loss by about ±0.002 nats, with a sign that depends on the windows: no selection can matter on val loss, and the ' +
    'control now fails for that reason rather than for the first run\u2019s seed-range artefact. The primary metric does not depend on it ' +
    'and stands as a measured negative: the model\u2019s far attention is mostly positional, so the selection that keeps position, VQ of ' +
    'post-RoPE keys, recovers the most softmax mass (0.248), while the rules that drop position for far keys do not. Pre-RoPE VQ is below ' +
    'random (0.091 against 0.098), and WRoPE is barely above it (0.121). Query-aware VQ adds 0.003 in every seed, less than twice its ' +
    'seed range. A²ATS targets LLMs whose far attention retrieves content. What would settle it: a model whose far tokens matter (a ' +
    'retrieval-trained toy at a context where retrieval spans hundreds of tokens; base-bound-retrieval\u2019s models retrieve across ' +
    'only 64), evaluated on windows fixed across seeds, as now.',
  async run({ quick, progress }) {
    const s = quick ? VQ_QUICK : VQ_FULL;
    const corpus = loadCorpus();
    const { model } = loadReferenceModel();
    const runs: VqSeedRun[] = [];
    progress(0, s.seeds, 'seed 1');
    for (let i = 0; i < s.seeds; i++) {
      runs.push(runVqSeed(model, corpus, s, i + 1));
      progress(i + 1, s.seeds, `seed ${i + 1} done`);
    }
    const j = judgeVq(runs);
    const mean = (a: RecallArm): number => runs.reduce((p, r) => p + r.recall[a], 0) / runs.length;
    const statOf = (a: RecallArm): string => `${mean(a).toFixed(3)} (${Math.min(...runs.map((r) => r.recall[a])).toFixed(3)}–${Math.max(...runs.map((r) => r.recall[a])).toFixed(3)})`;
    const svg = lineChart({
      title: `A²ATS: softmax-mass recall per layer (top-K ${(100 * s.topK).toFixed(0)} %, ${s.seeds} seeds)`,
      xLabel: 'layer', yLabel: 'softmax-mass recall of the candidates',
      series: RECALL_ARMS.map((a) => ({ name: a, points: model.blocks.map((_, l) => [l, runs.reduce((p, r) => p + r.recallByLayer[a][l]!, 0) / runs.length] as const) })),
    });
    return {
      verdict: j.verdict,
      summary: `softmax-mass recall at top-K 3 %: ${VQ_ARMS.map((a) => `${a} ${statOf(a)}`).join(', ')}; oracle ${statOf('oracle')}, random ${statOf('random')}`,
      reason: j.reason,
      table: formatVq(runs, s, j),
      svg,
      data: { settings: s, runs, judgement: j },
    };
  },
};

// ── the experiment ────────────────────────────────────────────────────────────────────────────────────────────────

interface Flags {
  calibration: number;
  windows: number;
  codebooks: number[];
  topk: number[];
  wrope: number[];
  iters: number;
  lengths: number[];
  decodeSteps: number;
  json: boolean;
}

const HELP = `usage: node scripts/run.mjs scripts/experiments/kv-retrieval.ts [flags]

A²ATS retrieval attention on the reference model: codebook calibration, quality (val loss, recall, output error)
vs codebook size and top-K, and decode speed vs the plain KV cache.

  --calibration N   training windows of 512 for the codebooks (default 16: 8192 keys per KV head)
  --windows N       validation windows of 512 (default 16)
  --codebooks LIST  codebook sizes (default 64,256,1024)
  --topk LIST       top-K in percent of the context (default 1,3,10)
  --wrope LIST      WRoPE distances W; the first drives the sweep, the others are measured at the largest codebook
                    and 3% (default 256,64,2048)
  --iters N         k-means iterations at most (default 50)
  --lengths LIST    cache lengths for the speed table (default 1024,4096,16384)
  --decode-steps N  decoding steps per length and cache (default 16)
  --json            print the results as JSON
  --help            this text`;

export interface QualityRow {
  codebook: number;
  topK: number;
  wrope: number;
  valLoss: number;
  increase: number;
  recall: number;
  outputError: number;
  recallByLayer: number[];
  outputErrorByLayer: number[];
}

function main(): void {
  const flags = readFlags<Flags>('kv-retrieval', HELP, {
    calibration: 16, windows: 16, codebooks: [64, 256, 1024], topk: [1, 3, 10], wrope: [256, 64, 2048], iters: 50, lengths: [1024, 4096, 16384], decodeSteps: 16, json: false,
  }, {
    values: {
      calibration: (f, v) => (f.calibration = integerFlag(v, 1)),
      windows: (f, v) => (f.windows = integerFlag(v, 1)),
      codebooks: (f, v) => (f.codebooks = integerListFlag(v, 1)),
      topk: (f, v) => (f.topk = integerListFlag(v, 0)),
      wrope: (f, v) => (f.wrope = integerListFlag(v, 0)),
      iters: (f, v) => (f.iters = integerFlag(v, 0)),
      lengths: (f, v) => (f.lengths = integerListFlag(v, 1)),
      'decode-steps': (f, v) => (f.decodeSteps = integerFlag(v, 1)),
    },
    switches: { json: (f) => (f.json = true) },
  });
  const log = (s: string): void => {
    if (!flags.json) console.log(s);
  };
  const started = performance.now();
  const corpus = loadCorpus();
  const { model } = loadReferenceModel();
  const T = model.config.contextLength;
  const g = new Generator(5);
  const calibration = Array.from({ length: Math.ceil(flags.calibration / 4) }, (_, i) => layerInputs(model, sampleBatch(corpus.train, Math.min(4, flags.calibration - 4 * i), T, g).x));
  const batches = validationBatches(corpus.val, flags.windows, T);
  const exactInputs = batches.map(({ x }) => layerInputs(model, x));
  const exactLoss = meanLoss(model, batches);
  log(`reference model, context ${T}; exact val loss ${exactLoss.toFixed(4)} on ${flags.windows} windows; calibration ${flags.calibration} windows (${flags.calibration * T} keys per KV head)`);
  log(`sinks ${A2ATS_DEFAULTS.attentionSinks}, local window ${A2ATS_DEFAULTS.localWindow}, k-means ≤ ${flags.iters} iterations\n`);

  const quality: QualityRow[] = [];
  const books = new Map<string, QueryAwareCodebook[][]>();
  const runs: Array<{ codebook: number; wrope: number; topks: number[] }> = [
    ...flags.codebooks.map((codebook) => ({ codebook, wrope: flags.wrope[0]!, topks: flags.topk })),
    ...flags.wrope.slice(1).map((wrope) => ({ codebook: Math.max(...flags.codebooks), wrope, topks: [3] })),
  ];
  for (const { codebook, wrope, topks } of runs) {
    const t0 = performance.now();
    const cb = calibrate(model, calibration, codebook, wrope, flags.iters, 7);
    books.set(`${codebook}/${wrope}`, cb);
    log(`codebooks of ${codebook} (W = ${wrope}): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const percent of topks) {
      const topK = percent / 100;
      const valLoss = meanLoss(model, batches, () => retrievalCaches(model, cb, topK, wrope, 'retrieval'));
      const q = selectionQuality(model, exactInputs, cb, topK, wrope);
      quality.push({ codebook, topK, wrope, valLoss, increase: valLoss / exactLoss - 1, ...q });
    }
  }
  // the two error sources apart, at the first W: WRoPE without quantization, and top-K selection by the exact logits
  const bounds = flags.topk.flatMap((percent) => (['exact-keys', 'oracle'] as const).map((scorer) => ({ scorer, topK: percent / 100, ...selectionQuality(model, exactInputs, scorer, percent / 100, flags.wrope[0]!) })));
  // what retrieval adds at all: sinks and the local window alone (top-K 0)
  const windowOnlyLoss = meanLoss(model, batches, () => retrievalCaches(model, books.values().next().value!, 0, flags.wrope[0]!, 'retrieval'));
  log('\nquality at the training context (T = 512): val loss with retrieval attention in every layer');
  log('| codebook | W | top-K | val loss | increase | recall of true top-K | output error | recall by layer |');
  log('|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of quality) {
    log(`| ${r.codebook} | ${r.wrope} | ${(100 * r.topK).toFixed(0)}% | ${r.valLoss.toFixed(4)} | ${(100 * r.increase).toFixed(2)}% | ${r.recall.toFixed(3)} | ${r.outputError.toFixed(4)} | ${r.recallByLayer.map((x) => x.toFixed(2)).join(' ')} |`);
  }
  for (const r of bounds) {
    log(`| ${r.scorer === 'oracle' ? 'oracle: exact logits' : 'none: exact keys'} | ${r.scorer === 'oracle' ? '—' : flags.wrope[0]} | ${(100 * r.topK).toFixed(0)}% | — | — | ${r.recall.toFixed(3)} | ${r.outputError.toFixed(4)} | ${r.recallByLayer.map((x) => x.toFixed(2)).join(' ')} |`);
  }
  log(`| none: sinks + window only | — | 0% | ${windowOnlyLoss.toFixed(4)} | ${(100 * (windowOnlyLoss / exactLoss - 1)).toFixed(2)}% | — | — | — |`);
  const largest = Math.max(...flags.codebooks);
  const target = quality.find((r) => r.codebook === largest && r.wrope === flags.wrope[0] && Math.abs(r.topK - 0.03) < 1e-12);
  const speedBooks = books.get(`${largest}/${flags.wrope[0]}`)!;
  log(`\ndecode speed (codebook ${largest}, top-K 3%, W = ${flags.wrope[0]}; median of ${flags.decodeSteps} steps each, alternating)`);
  const speed = decodeSpeed(model, corpus.train, speedBooks, 0.03, flags.wrope[0]!, flags.lengths, flags.decodeSteps);
  log('| T | plain ms/token | retrieval ms/token | ratio | tokens attended per KV head | plain cache MB | retrieval cache MB (+ codes) | K/V MB read per step: plain | retrieval (+ codes) |');
  log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const MB = (b: number): string => (b / 2 ** 20).toFixed(2);
  for (const r of speed) {
    log(`| ${r.length} | ${r.plainMs.toFixed(2)} | ${r.retrievalMs.toFixed(2)} | ${r.ratio.toFixed(2)} | ${r.attended.toFixed(0)} | ${MB(r.plainBytes)} | ${MB(r.retrievalBytes)} | ${MB(r.plainReadBytes)} | ${MB(r.retrievalReadBytes)} |`);
  }
  log(`codebooks: ${MB(speed[0]?.codebookBytes ?? 0)} MB for all layers and KV heads`);
  const longest = speed.reduce<SpeedRow | undefined>((a, r) => (a === undefined || r.length > a.length ? r : a), undefined);
  const qualityMet = target !== undefined && target.increase <= 0.02;
  const speedMet = longest !== undefined && longest.length >= 16384 && longest.ratio <= 0.5;
  log('\ntargets (issue 13):');
  log(`  quality — T = ${T}, top-K 3%: val loss increase ≤ 2%: ${target === undefined ? 'not measured (needs 3 in --topk)' : `${(100 * target.increase).toFixed(2)}% with codebook ${largest} — ${qualityMet ? 'MET' : 'NOT MET'}`}`);
  log(`  speed   — T = 16k: decode time ≤ 0.5× plain: ${longest === undefined || longest.length < 16384 ? 'not measured (needs 16384 in --lengths)' : `${longest.ratio.toFixed(2)}× — ${speedMet ? 'MET' : 'NOT MET'}`}`);

  mkdirSync('out', { recursive: true });
  writeFileSync('out/kv-retrieval.svg', lineChart({
    title: `A²ATS at T = ${T}, W = ${flags.wrope[0]}: val loss increase vs top-K`,
    xLabel: 'top-K (% of the context)', yLabel: 'val loss increase over exact attention (%)',
    series: flags.codebooks.map((codebook) => ({
      name: `codebook ${codebook}`,
      points: quality.filter((r) => r.codebook === codebook && r.wrope === flags.wrope[0]).map((r) => [100 * r.topK, 100 * r.increase] as const),
    })),
  }));
  writeFileSync('out/kv-retrieval-speed.svg', lineChart({
    title: 'Decode time per token vs cached tokens (one sequence)', xLabel: 'cached tokens T', yLabel: 'ms per token', logX: true, logY: true,
    series: [
      { name: 'plain KVCache', points: speed.map((r) => [r.length, r.plainMs] as const) },
      { name: `retrieval (3%, C ${largest})`, points: speed.map((r) => [r.length, r.retrievalMs] as const) },
    ],
  }));
  log(`\nwrote out/kv-retrieval.svg, out/kv-retrieval-speed.svg (${((performance.now() - started) / 1000).toFixed(0)} s in all)`);
  if (flags.json) console.log(JSON.stringify({ contextLength: T, exactLoss, windowOnlyLoss, windows: flags.windows, calibration: flags.calibration, quality, bounds, speed, targets: { qualityMet, speedMet } }));
}

if (isEntryPoint(import.meta.url, 'kv-retrieval')) main();
