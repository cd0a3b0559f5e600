/**
 * Spectra of the query–key bilinear form of attention weights (spectral-diagnostics.ts has the method and the
 * conventions): G = W_qᵀ W_k for a layer and G_i = W_{q,i}ᵀ W_{k,g(i)} per head, from the weights as `Linear` stores
 * them, as λ = svd(G)²/n with n = d_model — the eigenvalues the MP read-outs take.
 */
import { ShapeError, Tensor, ValueError, expectBoolean, expectFiniteValues, expectInteger, expectOptions, expectTensor, fmtShape, matmul, qr, symmetricEigenvalues } from '../core/index.js';

// ── W_Q W_Kᵀ spectra ──────────────────────────────────────────────────────────────────────────────────────────────

/** Options of `qkSpectrum`: `numHeads`, `numKVHeads`, `perHead`. */
export interface QKSpectrumOptions {
  /** Query heads H; W_q is [H·d_head, d_model] (default 1). */
  numHeads?: number;
  /** Key heads (GQA); W_k is [numKVHeads·d_head, d_model] and query head i uses key head ⌊i·numKVHeads/H⌋ (default H). */
  numKVHeads?: number;
  /** Also return every head's spectrum (default false). */
  perHead?: boolean;
}

/** One spectrum λ = svd(G)²/n, ascending: its min(d_model, rank bound) possibly non-zero values, with n and p for the MP fit. */
export interface QKSpectrum {
  readonly eigenvalues: Float64Array;
  /** d_model (the normaliser of λ). */
  readonly n: number;
  /** eigenvalues.length = min(d_model, r), r = H·d_head for the layer and d_head for a head (the other values are 0). */
  readonly p: number;
}

/** What `qkSpectrum` returns: the spectrum of the layer's W_Q W_Kᵀ and of each head's. */
export interface QKSpectra {
  /** G = W_qᵀ W_k (keys repeated per group), the layer's whole bilinear form. */
  readonly layer: QKSpectrum;
  /** G_i = W_{q,i}ᵀ W_{k,g(i)} per query head; empty unless `perHead`. */
  readonly heads: readonly QKSpectrum[];
}

/**
 * Spectra of the query–key form from the weights as `Linear` stores them: wq [H·d_head, d_model], wk [H_kv·d_head,
 * d_model]; λ = svd(W_Q W_Kᵀ)²/n with n = d_model (Jha & Reagen 2025's W_Q W_Kᵀ Gram matrix, over n so that
 * i.i.d. weights meet the MP law of XᵀX/n). The non-zero singular values of G = AᵀB (A, B with r rows) are those of
 * R_A R_Bᵀ where Aᵀ = Q_A R_A and Bᵀ = Q_B R_B (core's `qr`), so a head costs O(d_model·d_head²); when r ≥ d_model
 * G and GᵀG are formed directly. λ are eigenvalues of the Gram matrix over n.
 */
export function qkSpectrum(wq: Tensor, wk: Tensor, options: QKSpectrumOptions = {}): QKSpectra {
  const op = 'qkSpectrum';
  expectTensor(op, 'wq', wq);
  expectTensor(op, 'wk', wk);
  const o = expectOptions(op, 'options', options, ['numHeads', 'numKVHeads', 'perHead']);
  headOptions(op, o);
  expectFiniteValues(op, 'wq', wq.data);
  expectFiniteValues(op, 'wk', wk.data);
  const w = expandedQK(op, wq, wk, o);
  return { layer: productSpectrum(w.q, w.k, w.q.length / w.m, w.m), heads: o.perHead === true ? headSpectra(w) : [] };
}

/** W_q and W_k as float64 rows of length m = d_model, W_k's heads repeated so row i·d_head + c pairs with W_q's. */
export interface ExpandedQK {
  readonly q: Float64Array;
  readonly k: Float64Array;
  readonly m: number;
  readonly headDim: number;
  readonly numHeads: number;
}

/** qkSpectrum's (and randomInitBaseline's) head options: numHeads/numKVHeads integers ≥ 1, perHead a boolean. */
export function headOptions(op: string, o: { numHeads?: unknown; numKVHeads?: unknown; perHead?: unknown }): void {
  if (o.numHeads !== undefined) expectInteger(op, 'numHeads', o.numHeads, { min: 1 });
  if (o.numKVHeads !== undefined) expectInteger(op, 'numKVHeads', o.numKVHeads, { min: 1 });
  if (o.perHead !== undefined) expectBoolean(op, 'perHead', o.perHead);
}

export function expandedQK(op: string, wq: Tensor, wk: Tensor, options: QKSpectrumOptions): ExpandedQK {
  const { numHeads = 1 } = options;
  const numKVHeads = options.numKVHeads ?? numHeads;
  if (wq.ndim !== 2) throw new ShapeError(op, `query weight is not a matrix — wq=${fmtShape(wq.shape)} (Linear's [H·d_head, d_model])`, 'wq');
  if (wk.ndim !== 2) throw new ShapeError(op, `key weight is not a matrix — wk=${fmtShape(wk.shape)} (Linear's [H_kv·d_head, d_model])`, 'wk');
  const [rq, m] = wq.shape as [number, number];
  if (rq === 0 || m === 0) throw new ShapeError(op, `query weight is empty — wq=${fmtShape(wq.shape)} (sizes ≥ 1)`, 'wq');
  if (wk.shape[1] !== m) throw new ShapeError(op, `query and key weights read different inputs — wq=${fmtShape(wq.shape)}, wk=${fmtShape(wk.shape)} (both [·, d_model])`, 'wk');
  if (!(Number.isInteger(numHeads) && numHeads >= 1 && rq % numHeads === 0)) {
    throw new ValueError(op, `numHeads=${numHeads} does not split wq=${fmtShape(wq.shape)} (H ≥ 1 must divide the output size)`, 'numHeads');
  }
  const dh = rq / numHeads;
  if (!(Number.isInteger(numKVHeads) && numKVHeads >= 1 && numHeads % numKVHeads === 0)) {
    throw new ValueError(op, `numKVHeads=${numKVHeads} does not divide numHeads=${numHeads} (GQA groups are equal)`, 'numKVHeads');
  }
  if (wk.shape[0] !== numKVHeads * dh) {
    throw new ShapeError(op, `key weight does not hold numKVHeads=${numKVHeads} heads of d_head=${dh} — wk=${fmtShape(wk.shape)}, wq=${fmtShape(wq.shape)} (needs [${numKVHeads * dh},${m}])`, 'wk');
  }
  const q = Float64Array.from(wq.data);
  const kSrc = wk.data;
  const group = numHeads / numKVHeads;
  const span = dh * m;
  const k = new Float64Array(rq * m);
  for (let h = 0; h < numHeads; h++) {
    const from = Math.floor(h / group) * span;
    for (let t = 0; t < span; t++) k[h * span + t] = kSrc[from + t]!;
  }
  return { q, k, m, headDim: dh, numHeads };
}

export function headSpectra(w: ExpandedQK): QKSpectrum[] {
  const span = w.headDim * w.m;
  const out: QKSpectrum[] = [];
  for (let h = 0; h < w.numHeads; h++) {
    out.push(productSpectrum(w.q.subarray(h * span, (h + 1) * span), w.k.subarray(h * span, (h + 1) * span), w.headDim, w.m));
  }
  return out;
}

/**
 * svd(AᵀB)²/m ascending for A, B stored as r rows of length m: min(r, m) values. For r < m the non-zero singular
 * values of AᵀB are those of R_A R_Bᵀ, Aᵀ = Q_A R_A and Bᵀ = Q_B R_B (core's thin `qr`), an r × r problem.
 */
export function productSpectrum(a: Float64Array, b: Float64Array, r: number, m: number): QKSpectrum {
  const A = new Tensor(a, [r, m]);
  const B = new Tensor(b, [r, m]);
  let c: Tensor; // a matrix with the singular values of G = AᵀB (the non-zero ones)
  if (r >= m) c = matmul(A, B, { transposeA: true }); // G itself, m × m
  else c = matmul(qr(A.transpose(0, 1), { mode: 'r' }).r, qr(B.transpose(0, 1), { mode: 'r' }).r, { transposeB: true }); // C = R_A R_Bᵀ, r × r
  const k = c.shape[0]!;
  const gram = matmul(c, c, { transposeA: true }).data; // CᵀC
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < i; j++) {
      const s = 0.5 * (gram[i * k + j]! + gram[j * k + i]!); // exact symmetry for the solver
      gram[i * k + j] = s;
      gram[j * k + i] = s;
    }
  }
  const lam = symmetricEigenvalues(new Tensor(gram, [k, k]));
  for (let i = 0; i < k; i++) lam[i] = Math.max(0, lam[i]!) / m; // a PSD Gram matrix: clip −O(ε‖G‖²) rounding
  return { eigenvalues: lam, n: m, p: k };
}
