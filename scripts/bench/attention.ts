/**
 * Attention and LM-training benchmark: ropelab on its 'js' backend (scalar kernels) and its 'wasm' backend (SIMD128
 * GEMM, fused float32 attention) on one thread ('wasm') and two ('wasm×2'), against TF.js (cpu backend = plain JS,
 * wasm backend = XNNPACK, SIMD, single-threaded in Node) in the same run, plus the process's peak RSS. Not a test;
 * prints tables. Without the TF.js peers it says so in one line and times ropelab's variants against each other.
 *
 *   node scripts/run.mjs scripts/bench/attention.ts
 *
 * Cases (all float32):
 *   attn T   one causal self-attention layer, x [1, T, 256], 4 heads of 64, q/k/v/o projections without bias,
 *            RoPE (half layout, base 10000) on q and k; loss = sum(out ⊙ R) for a fixed random R; forward and
 *            backward, gradients for x and all four weights.
 *   LM step  one training step of a 2-layer pre-norm GPT (dim 128, 4 heads, RoPE, GELU-tanh MLP 4×, tied
 *            embedding head, vocab 65) on a batch of 8 × 128 tokens: forward, mean cross-entropy, backward,
 *            AdamW update (lr 1e-3, decoupled weight decay 0.01).
 * The TF.js side is the same math written with tf ops and differentiated with `tf.valueAndGrads` /
 * `tf.variableGrads` (gradients are registered only by the `@tensorflow/tfjs` umbrella), in two styles (TfOps):
 * idiomatic (heads as a batch axis, transposeB), timed on cpu and wasm, and tuned for wasm (only unbatched,
 * untransposed 2-D matmuls, also in the backward pass), timed on wasm. Before timing, each variant is checked
 * against ropelab on a small case from the same weights (loss and gradients, and the LM loss after one AdamW step).
 * Projection weights are handed to TF.js as [in, out] so that its projections are untransposed matmuls. The token
 * embedding is oneHot(ids) · E in every TF.js variant: the wasm backend lacks gather's gradient
 * (UnsortedSegmentSum), and on cpu the [1024, 65]·[65, 128] product is negligible.
 *
 * ropelab wasm is checked against ropelab js before any timing (WASM_RTOL): the small references recomputed on
 * 'wasm', and the losses of the untimed steps of every timed case (each backend has its own model, same seed).
 *
 * Order: ropelab alone first (the equivalence references, every case built and run on each backend; its peak RSS),
 * then TF.js in a worker thread (its own V8 isolate, so starting the wasm backend cannot slow ropelab's typed
 * arrays; see harness.ts; ropelab's own wasm memory is shared, so it detaches nothing), peer by peer: for each
 * case, ropelab js, ropelab wasm and the peer alternate one step each per round, and each speedup is the peer's
 * median over that ropelab backend's median from the same rounds (> 1: ropelab faster), so a machine that changes
 * speed during the run affects all sides alike. TF.js times include reading back the loss and every
 * gradient. Peak RSS is process.resourceUsage().maxRSS, a process-wide high-water mark, sampled after each case.
 *
 *   node scripts/run.mjs scripts/bench/attention.ts --check   # only the equivalence checks (seconds)
 */
import { AdamW, Generator, Tensor, backendNames, randint, randn } from '../../core/index.js';
import { MultiHeadAttention } from '../../nn/index.js';
import { RoPE } from '../../positional/index.js';
import { GPT, type GPTConfig } from '../../models/index.js';
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { readFlags } from '../lib/flags.js';
import { PeerWorker, fmt, loadTfUmbrella, median, relErr, missingPeers, onRopelab, pairedMediansMs, printEnvironment, printTable, ropelabVariants, servePeer, useBackend, type PeerBackend, type RopelabVariant } from './harness.js';
import { tfRope } from './tf-rope.js';
import type { TfGradSaveFunc, TfScalar, TfTensor, TfUmbrella, TfVariable } from './tfjs-types.js';

type Tf = TfUmbrella;

const SEED = 1234;
/** The TF.js peers, timed in this order: backend and how it multiplies (see TfOps). */
type PeerId = 'cpu' | 'wasm' | 'wasmTuned';
const PEERS: readonly { id: PeerId; backend: PeerBackend; tuned: boolean; label: string }[] = [
  { id: 'cpu', backend: 'cpu', tuned: false, label: 'tfjs-cpu' },
  { id: 'wasm', backend: 'wasm', tuned: false, label: 'tfjs-wasm' },
  { id: 'wasmTuned', backend: 'wasm', tuned: true, label: 'tfjs-wasm tuned' },
];

const ATTN_DIM = 256;
const ATTN_HEADS = 4;
const ATTN_HEAD_DIM = ATTN_DIM / ATTN_HEADS;
const ATTN_T = [256, 1024] as const;
/** Sequence length of the ropelab-vs-TF.js equivalence check for attention. */
const ATTN_CHECK_T = 48;
const ROPE_BASE = 10000;

const LM: GPTConfig = { vocabSize: 65, contextLength: 128, dim: 128, numLayers: 2, numHeads: 4, positional: 'rope', seed: SEED };
const LM_BATCH = 8;
const LM_T = 128;
/** Batch and length of the LM equivalence check. */
const LM_CHECK_B = 2;
const LM_CHECK_T = 32;
const LR = 1e-3;
const WEIGHT_DECAY = 0.01;
const LN_EPS = 1e-5;

/** Relative tolerance of the equivalence checks (float32 on both sides, different summation orders). */
const CHECK_RTOL = 1e-3;
/**
 * Relative tolerance of ropelab wasm against ropelab js (max |wasm − js| / max |js| per loss and gradient): the
 * same float32 tensors, but the SIMD GEMM sums in float32 lanes where the JS kernel sums in float64, so products
 * differ by ~K·2⁻²⁴ relative (K ≤ 512 here: ≤ 3e-5), a little more after softmax, layer norm and one AdamW step.
 */
const WASM_RTOL = 1e-4;

const VARIANTS = ropelabVariants();
/**
 * Targets, checked at T = 1024 and on the LM step: cpu and wasm against idiomatic TF.js (set with this bench),
 * wasmTuned against TF.js wasm tuned (issue #12, which allows both threads).
 */
const TARGET = { cpu: 6, wasm: 1.5, wasmTuned: 1.5 } as const;

type CaseId = 'attn256' | 'attn1024' | 'lm';
const CASES: readonly { id: CaseId; label: string; targeted: boolean }[] = [
  { id: 'attn256', label: 'attn fwd+bwd T=256', targeted: false },
  { id: 'attn1024', label: 'attn fwd+bwd T=1024', targeted: true },
  { id: 'lm', label: 'LM step 2L d128 8×128', targeted: true },
];

/** Warm-up and timed rounds per case and peer; a TF.js cpu step at T=1024 takes 8–16 s, so few rounds there. */
function repsFor(id: CaseId, peer: PeerId): { warmup: number; reps: number } {
  if (peer === 'cpu') return { warmup: 1, reps: 3 };
  return id === 'attn1024' ? { warmup: 1, reps: 5 } : { warmup: 1, reps: 9 };
}

// ───────────────────────────── peak RSS ─────────────────────────────

const MiB = 1024; // maxRSS is in KiB
const rssMarks: { label: string; maxRssKiB: number; rssKiB: number }[] = [];

function markRss(label: string): void {
  rssMarks.push({ label, maxRssKiB: process.resourceUsage().maxRSS, rssKiB: process.memoryUsage().rss / 1024 });
}

// ───────────────────────────── shared data ─────────────────────────────

interface AttnWeights {
  /** ropelab layout [out, in], row-major. */
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
}

interface AttnReference {
  T: number;
  x: Float32Array;
  r: Float32Array;
  weights: AttnWeights;
  loss: number;
  /** Gradients in ropelab layout: x, wq, wk, wv, wo. */
  grads: Float32Array[];
}

/** What the TF.js side needs to build the attention case: the input, the loss weights and ropelab's weights. */
type AttnData = Pick<AttnReference, 'T' | 'x' | 'r' | 'weights'>;

interface LmReference {
  ids: Int32Array;
  targets: Int32Array;
  loss0: number;
  /** Loss on the same batch after one AdamW step. */
  loss1: number;
  grads: Map<string, Float32Array>;
}

/**
 * cos/sin tables [T, D/2] for RoPE at positions 0…T−1, θ_i = base^(−2i/D), in float64 as ropelab does (written
 * out here rather than taken from positional/, so that the equivalence check covers ropelab's tables too).
 */
function ropeTables(T: number, D: number): { cos: Float32Array; sin: Float32Array } {
  const P = D / 2;
  const inv = Array.from({ length: P }, (_, i) => Math.pow(ROPE_BASE, (-2 * i) / D));
  const cos = new Float32Array(T * P);
  const sin = new Float32Array(T * P);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < P; i++) {
      cos[t * P + i] = Math.cos(t * inv[i]!);
      sin[t * P + i] = Math.sin(t * inv[i]!);
    }
  }
  return { cos, sin };
}

/** [rows, cols] row-major → [cols, rows]. */
function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

function f32(t: Tensor): Float32Array {
  return Float32Array.from(t.data);
}

// ───────────────────────────── ropelab ─────────────────────────────

interface RopelabAttention {
  step: () => number;
  mha: MultiHeadAttention;
  x: Tensor;
  r: Tensor;
}

function ropelabAttention(T: number): RopelabAttention {
  const generator = new Generator(SEED + T);
  const mha = new MultiHeadAttention(ATTN_DIM, { numHeads: ATTN_HEADS, positional: new RoPE(ATTN_HEAD_DIM), generator });
  const x = new Tensor(randn([1, T, ATTN_DIM], { generator }).data, [1, T, ATTN_DIM], true);
  const r = randn([1, T, ATTN_DIM], { generator });
  const step = (): number => {
    mha.zeroGrad();
    x.grad = null;
    const loss = mha.forward(x, { causal: true }).mul(r).sum();
    loss.backward();
    return loss.item();
  };
  return { step, mha, x, r };
}

function attentionReference(T: number): AttnReference {
  const { step, mha, x, r } = ropelabAttention(T);
  const loss = step();
  const params = [mha.wq.weight, mha.wk.weight, mha.wv.weight, mha.wo.weight];
  const grads = [x, ...params].map((p) => f32(p.grad!));
  const [wq, wk, wv, wo] = params.map(f32) as [Float32Array, Float32Array, Float32Array, Float32Array];
  return { T, x: f32(x), r: f32(r), weights: { wq, wk, wv, wo }, loss, grads };
}

function lmBatch(B: number, T: number, seed: number): { ids: Int32Array; targets: Int32Array } {
  const generator = new Generator(seed);
  const ids = Int32Array.from(randint(0, LM.vocabSize, [B, T], { generator }).data);
  const targets = Int32Array.from(randint(0, LM.vocabSize, [B, T], { generator }).data);
  return { ids, targets };
}

/** Copies of a model's parameters by name. */
function paramData(gpt: GPT): Map<string, Float32Array> {
  return new Map([...gpt.namedParameters()].map(([name, p]) => [name, f32(p)]));
}

const idTensor = (a: Int32Array, B: number, T: number): Tensor => new Tensor(Float64Array.from(a), [B, T]);

/** One AdamW training step on a fresh GPT; returns the step and the model's initial parameters (by name). */
function ropelabLm(): { step: () => number; init: Map<string, Float32Array> } {
  const gpt = new GPT(LM);
  const init = paramData(gpt);
  const opt = new AdamW(gpt.parameters(), { lr: LR, weightDecay: WEIGHT_DECAY });
  const { ids, targets } = lmBatch(LM_BATCH, LM_T, SEED);
  const idsT = idTensor(ids, LM_BATCH, LM_T);
  const targetsT = idTensor(targets, LM_BATCH, LM_T);
  const step = (): number => {
    opt.zeroGrad();
    const loss = gpt.loss(idsT, targetsT);
    loss.backward();
    opt.step();
    return loss.item();
  };
  return { step, init };
}

function lmReference(): LmReference {
  const gpt = new GPT(LM);
  const opt = new AdamW(gpt.parameters(), { lr: LR, weightDecay: WEIGHT_DECAY });
  const { ids, targets } = lmBatch(LM_CHECK_B, LM_CHECK_T, SEED + 1);
  const idsT = idTensor(ids, LM_CHECK_B, LM_CHECK_T);
  const targetsT = idTensor(targets, LM_CHECK_B, LM_CHECK_T);
  const loss = gpt.loss(idsT, targetsT);
  loss.backward();
  const grads = new Map([...gpt.namedParameters()].map(([name, p]) => [name, f32(p.grad!)]));
  opt.step();
  const loss1 = gpt.loss(idsT, targetsT).item();
  return { ids, targets, loss0: loss.item(), loss1, grads };
}

// ───────────────────────────── TF.js ─────────────────────────────

/** Additive causal mask [T, T]: 0 on and below the diagonal, −1e9 above. */
function tfCausalMask(tf: Tf, T: number): TfTensor {
  return tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));
}

/**
 * How the TF.js side multiplies. 'idiomatic': tf.matMul, heads as a batch axis [B, H, T, D] and q·kᵀ through
 * transposeB, as one writes it for any backend. 'tuned': every product an unbatched, untransposed 2-D tf.matMul,
 * forward and backward (a customGrad whose gradients transpose explicitly), heads and sequences sliced out one by
 * one — the only shape XNNPACK runs fast in tfjs-backend-wasm (transposed or batched products there are 10–50×
 * slower); on the cpu backend the explicit transposes cost more than they save.
 */
interface TfOps {
  tuned: boolean;
  /** a [m, k] · b [k, n]. */
  mm: (a: TfTensor, b: TfTensor) => TfTensor;
  /** a [m, k] · bᵀ for b [n, k]. */
  mmT: (a: TfTensor, b: TfTensor) => TfTensor;
}

function tfOps(tf: Tf, tuned: boolean): TfOps {
  if (!tuned) return { tuned, mm: (a, b) => tf.matMul(a, b), mmT: (a, b) => tf.matMul(a, b, false, true) };
  const plain = tf.customGrad((...args: (TfTensor | TfGradSaveFunc)[]) => {
    const [a, b, save] = args as [TfTensor, TfTensor, TfGradSaveFunc];
    save([a, b]);
    const gradFunc = (dy: TfTensor, saved: TfTensor[]): TfTensor[] => {
      const [sa, sb] = saved as [TfTensor, TfTensor];
      return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)];
    };
    return { value: tf.matMul(a, b), gradFunc };
  });
  const mm = (a: TfTensor, b: TfTensor): TfTensor => plain(a, b);
  return { tuned, mm, mmT: (a, b) => mm(a, tf.transpose(b)) };
}

/**
 * Causal multi-head self-attention on h [B·T, C] with weights [in, out]: project, split heads, RoPE on q and k,
 * softmax(q kᵀ/√D + mask) v, merge heads, output projection → [B·T, C].
 */
function tfSelfAttention(
  tf: Tf, ops: TfOps, h: TfTensor, w: { wq: TfTensor; wk: TfTensor; wv: TfTensor; wo: TfTensor },
  ctx: { B: number; T: number; H: number; D: number; cos: TfTensor; sin: TfTensor; mask: TfTensor },
): TfTensor {
  const { B, T, H, D, cos, sin, mask } = ctx;
  const scale = 1 / Math.sqrt(D);
  if (!ops.tuned) {
    const heads = (t: TfTensor): TfTensor => tf.transpose(tf.reshape(t, [B, T, H, D]), [0, 2, 1, 3]); // [B, H, T, D]
    const q = tf.mul(tfRope(tf, heads(tf.matMul(h, w.wq)), cos, sin), scale);
    const k = tfRope(tf, heads(tf.matMul(h, w.wk)), cos, sin);
    const v = heads(tf.matMul(h, w.wv));
    const p = tf.softmax(tf.add(tf.matMul(q, k, false, true), mask)); // [B, H, T, T]
    const o = tf.reshape(tf.transpose(tf.matMul(p, v), [0, 2, 1, 3]), [B * T, H * D]);
    return tf.matMul(o, w.wo);
  }
  const q = ops.mm(h, w.wq); // [B·T, H·D]
  const k = ops.mm(h, w.wk);
  const v = ops.mm(h, w.wv);
  const rows: TfTensor[] = [];
  for (let b = 0; b < B; b++) {
    const heads: TfTensor[] = [];
    for (let hh = 0; hh < H; hh++) {
      const at = (t: TfTensor): TfTensor => tf.slice(t, [b * T, hh * D], [T, D]); // [T, D]
      const qh = tf.mul(tfRope(tf, at(q), cos, sin), scale);
      const kh = tfRope(tf, at(k), cos, sin);
      const p = tf.softmax(tf.add(ops.mmT(qh, kh), mask)); // [T, T]
      heads.push(ops.mm(p, at(v)));
    }
    rows.push(tf.concat(heads, 1)); // [T, H·D]
  }
  return ops.mm(tf.concat(rows, 0), w.wo);
}

interface TfAttention {
  /** Loss and gradients (x, wq, wk, wv, wo; weights as [in, out]), read back. */
  step: () => Promise<{ loss: number; grads: Float32Array[] }>;
  dispose: () => void;
}

function tfAttention(tf: Tf, ops: TfOps, ref: AttnData): TfAttention {
  const { T } = ref;
  const C = ATTN_DIM;
  const { cos, sin } = ropeTables(T, ATTN_HEAD_DIM);
  const ctx = {
    B: 1, T, H: ATTN_HEADS, D: ATTN_HEAD_DIM,
    cos: tf.tensor2d(cos, [T, ATTN_HEAD_DIM / 2]), sin: tf.tensor2d(sin, [T, ATTN_HEAD_DIM / 2]), mask: tfCausalMask(tf, T),
  };
  const x = tf.tensor2d(ref.x, [T, C]);
  const r = tf.tensor2d(ref.r, [T, C]);
  const W = ref.weights;
  const inOut = (a: Float32Array): TfTensor => tf.tensor2d(transposed(a, C, C), [C, C]);
  const weights = [inOut(W.wq), inOut(W.wk), inOut(W.wv), inOut(W.wo)];
  const f = (...args: TfTensor[]): TfTensor => {
    const [xx, wq, wk, wv, wo] = args as [TfTensor, TfTensor, TfTensor, TfTensor, TfTensor];
    return tf.sum(tf.mul(tfSelfAttention(tf, ops, xx, { wq, wk, wv, wo }, ctx), r));
  };
  const gradsOf = tf.valueAndGrads(f);
  const step = async (): Promise<{ loss: number; grads: Float32Array[] }> => {
    const out = tf.tidy(() => {
      const { value, grads } = gradsOf([x, ...weights]);
      return [value, ...grads];
    });
    const data = await Promise.all(out.map((t) => t.data<'float32'>()));
    tf.dispose(out);
    return { loss: data[0]![0]!, grads: data.slice(1) };
  };
  const dispose = (): void => tf.dispose([x, r, ...weights, ctx.cos, ctx.sin, ctx.mask]);
  return { step, dispose };
}

interface TfLm {
  /** One training step on the batch: returns the loss before the update. */
  step: () => Promise<number>;
  /** Loss and gradients (ropelab names and layout) without updating. */
  lossAndGrads: () => Promise<{ loss: number; grads: Map<string, Float32Array> }>;
  loss: () => Promise<number>;
  dispose: () => void;
}

/**
 * The same GPT in TF.js: variables from ropelab's initial parameters (Linear weights transposed to [in, out]),
 * Adam from tf.train plus AdamW's decoupled decay p ← p − lr·λ·p before it, as ropelab's AdamW.
 */
function tfLm(tf: Tf, ops: TfOps, init: Map<string, Float32Array>, ids: Int32Array, targets: Int32Array, B: number, T: number): TfLm {
  const { vocabSize: V, dim: C, numHeads: H, numLayers: L } = LM;
  const D = C / H;
  const N = B * T;
  const vars = new Map<string, TfVariable>();
  for (const [name, data] of init) {
    const isLinear = /\.(wq|wk|wv|wo|fc1|fc2)\.weight$/.test(name);
    let value: TfTensor;
    if (name === 'wte.weight') value = tf.tensor2d(data, [V, C]);
    else if (isLinear) {
      const [out, inp] = name.endsWith('fc1.weight') ? [4 * C, C] : name.endsWith('fc2.weight') ? [C, 4 * C] : [C, C];
      value = tf.tensor2d(transposed(data, out, inp), [inp, out]);
    } else value = tf.tensor1d(data);
    vars.set(name, tf.variable(value, true, `lm/${name}`));
    value.dispose();
  }
  const v = (name: string): TfVariable => vars.get(name)!;
  const { cos, sin } = ropeTables(T, D);
  const ctx = { B, T, H, D, cos: tf.tensor2d(cos, [T, D / 2]), sin: tf.tensor2d(sin, [T, D / 2]), mask: tfCausalMask(tf, T) };
  const idsOneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(ids, 'int32'), V), 'float32'));
  const targetsOneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(targets, 'int32'), V), 'float32'));

  const layerNorm = (x: TfTensor, prefix: string): TfTensor => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPS))), v(`${prefix}.weight`)), v(`${prefix}.bias`));
  };
  const geluTanh = (x: TfTensor): TfTensor =>
    tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
  const lossFn = (): TfScalar => {
    let x = ops.mm(idsOneHot, v('wte.weight')); // [N, C]
    for (let l = 0; l < L; l++) {
      const p = `blocks.${l}`;
      const a = tfSelfAttention(tf, ops, layerNorm(x, `${p}.norm1`), {
        wq: v(`${p}.attn.wq.weight`), wk: v(`${p}.attn.wk.weight`), wv: v(`${p}.attn.wv.weight`), wo: v(`${p}.attn.wo.weight`),
      }, ctx);
      x = tf.add(x, a);
      x = tf.add(x, ops.mm(geluTanh(ops.mm(layerNorm(x, `${p}.norm2`), v(`${p}.mlp.fc1.weight`))), v(`${p}.mlp.fc2.weight`)));
    }
    const logits = ops.mmT(layerNorm(x, 'lnF'), v('wte.weight')); // [N, V], tied head
    return tf.neg(tf.div(tf.sum(tf.mul(targetsOneHot, tf.logSoftmax(logits))), N));
  };

  const names = [...vars.keys()];
  const varList = names.map(v);
  const opt = tf.train.adam(LR, 0.9, 0.999, 1e-8);
  const step = async (): Promise<number> => {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(lossFn, varList);
      for (const p of varList) p.assign(tf.mul(p, 1 - LR * WEIGHT_DECAY));
      opt.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
      return value;
    });
    const out = (await loss.data())[0]!;
    loss.dispose();
    await varList[varList.length - 1]!.data(); // the update has run
    return out;
  };
  const lossAndGrads = async (): Promise<{ loss: number; grads: Map<string, Float32Array> }> => {
    const { value, grads } = tf.variableGrads(lossFn, varList);
    const loss = (await value.data())[0]!;
    const out = new Map<string, Float32Array>();
    for (const [i, name] of names.entries()) {
      const g = grads[varList[i]!.name]!;
      const data = (await g.data()) as Float32Array;
      const isLinear = /\.(wq|wk|wv|wo|fc1|fc2)\.weight$/.test(name);
      out.set(name, isLinear ? transposed(data, g.shape[0]!, g.shape[1]!) : data);
    }
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, grads: out };
  };
  const loss = async (): Promise<number> => {
    const t = tf.tidy(lossFn);
    const out = (await t.data())[0]!;
    t.dispose();
    return out;
  };
  const dispose = (): void => {
    tf.dispose([...varList, ctx.cos, ctx.sin, ctx.mask, idsOneHot, targetsOneHot]);
    opt.dispose();
  };
  return { step, lossAndGrads, loss, dispose };
}

/** Equivalence: the TF.js computation from ropelab's weights must reproduce ropelab's numbers. */
async function checkTf(tf: Tf, ops: TfOps, attnRef: AttnReference, lmRef: LmReference, lmInit: Map<string, Float32Array>): Promise<CheckResult> {
  const attn = tfAttention(tf, ops, attnRef);
  const a = await attn.step();
  attn.dispose();
  const C = ATTN_DIM;
  const tfGrads = [a.grads[0]!, ...a.grads.slice(1).map((g) => transposed(g, C, C))]; // back to [out, in]
  const attnLossErr = Math.abs(a.loss - attnRef.loss) / Math.abs(attnRef.loss);
  const attnGradErr = Math.max(...tfGrads.map((g, i) => relErr(g, attnRef.grads[i]!)));

  const lm = tfLm(tf, ops, lmInit, lmRef.ids, lmRef.targets, LM_CHECK_B, LM_CHECK_T);
  const { loss: l0, grads } = await lm.lossAndGrads();
  await lm.step();
  const l1 = await lm.loss();
  lm.dispose();
  const lmGradErr = Math.max(...[...lmRef.grads].map(([name, g]) => relErr(grads.get(name)!, g)));
  const lm0Err = Math.abs(l0 - lmRef.loss0) / lmRef.loss0;
  const lm1Err = Math.abs(l1 - lmRef.loss1) / lmRef.loss1;

  const ok = Math.max(attnLossErr, attnGradErr, lm0Err, lm1Err, lmGradErr) <= CHECK_RTOL;
  const e = (x: number): string => x.toExponential(1);
  const summary =
    `attn T=${attnRef.T} loss ${e(attnLossErr)} grads ${e(attnGradErr)}; ` +
    `LM ${LM_CHECK_B}×${LM_CHECK_T} loss ${e(lm0Err)} grads ${e(lmGradErr)}, after 1 AdamW step ${e(lm1Err)} ${ok ? 'ok' : `MISMATCH (tol ${CHECK_RTOL})`}`;
  return { ok, summary };
}

interface CheckResult {
  ok: boolean;
  summary: string;
}

// ───────────────────────────── TF.js worker ─────────────────────────────

/** workerData.role of the worker thread that runs TF.js. */
const TF_WORKER = 'tfjs-peer';

/** What the main thread asks of the TF.js worker; each request gets one reply, in order. */
type TfRequest =
  | { kind: 'backend'; backend: PeerBackend }
  | { kind: 'check'; tuned: boolean; attnRef: AttnReference; lmRef: LmReference; lmInit: Map<string, Float32Array> }
  | { kind: 'attention'; tuned: boolean; data: AttnData }
  | { kind: 'lm'; tuned: boolean; init: Map<string, Float32Array>; ids: Int32Array; targets: Int32Array }
  | { kind: 'step' }
  | { kind: 'release' }
  | { kind: 'env' };

/** Worker side: loads TF.js, says 'ready', then serves requests one at a time; a prepared case is kept for 'step'. */
async function serveTf(port: MessagePort): Promise<void> {
  const tf = await loadTfUmbrella();
  let current: { step: () => Promise<unknown>; dispose: () => void } | null = null;
  const release = (): void => {
    current?.dispose();
    current = null;
  };
  const handle = async (req: TfRequest): Promise<unknown> => {
    switch (req.kind) {
      case 'backend':
        return tf.getBackend() === req.backend || (await useBackend(tf, req.backend));
      case 'check':
        return checkTf(tf, tfOps(tf, req.tuned), req.attnRef, req.lmRef, req.lmInit);
      case 'attention':
        release();
        current = tfAttention(tf, tfOps(tf, req.tuned), req.data);
        return null;
      case 'lm':
        release();
        current = tfLm(tf, tfOps(tf, req.tuned), req.init, req.ids, req.targets, LM_BATCH, LM_T);
        return null;
      case 'step':
        if (current === null) throw new Error('step before a case was prepared');
        await current.step();
        return null;
      case 'release':
        release();
        return null;
      case 'env':
        return `TF.js ${tf.version.tfjs}; wasm SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}, threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}`;
    }
  };
  servePeer(port, handle);
}

// ───────────────────────────── main ─────────────────────────────

/** A timed case on the ropelab side (one model per backend, built alike), and how the worker builds it from the same data. */
interface BenchCase {
  steps: Record<RopelabVariant, () => number>;
  request: (tuned: boolean) => TfRequest;
}

/** Losses of the two untimed steps of every case, per backend (the bench-size part of the wasm-vs-js check). */
type WarmLosses = Record<CaseId, Partial<Record<RopelabVariant, number[]>>>;

/**
 * ropelab alone first: the equivalence references, then every case built and run twice on every backend (peak RSS
 * without TF.js). Each backend gets its own model from the same seed, so their first steps compute the same math.
 */
function prepareRopelab(): { cases: Map<CaseId, BenchCase>; attnRef: AttnReference; lmRef: LmReference; lmInit: Map<string, Float32Array>; warm: WarmLosses } {
  const attnRef = attentionReference(ATTN_CHECK_T);
  const lmRef = lmReference();
  markRss('ropelab: equivalence references');
  const cases = new Map<CaseId, BenchCase>();
  const warm: WarmLosses = { attn256: {}, attn1024: {}, lm: {} };
  const stepsOn = (id: CaseId, build: () => () => number): Record<RopelabVariant, () => number> => {
    const steps: Partial<Record<RopelabVariant, () => number>> = {};
    for (const backend of VARIANTS) {
      const step = onRopelab(backend, build);
      const timed = (): number => onRopelab(backend, step);
      warm[id][backend] = [timed(), timed()];
      steps[backend] = timed;
    }
    return steps as Record<RopelabVariant, () => number>;
  };
  for (const T of ATTN_T) {
    const id: CaseId = T === 256 ? 'attn256' : 'attn1024';
    const attn = ropelabAttention(T);
    const { mha, x, r } = attn;
    const data: AttnData = {
      T, x: f32(x), r: f32(r),
      weights: { wq: f32(mha.wq.weight), wk: f32(mha.wk.weight), wv: f32(mha.wv.weight), wo: f32(mha.wo.weight) },
    };
    let first = true;
    const steps = stepsOn(id, () => {
      if (!first) return ropelabAttention(T).step;
      first = false;
      return attn.step;
    });
    cases.set(id, { steps, request: (tuned) => ({ kind: 'attention', tuned, data }) });
    markRss(`ropelab: attn T=${T}`);
  }
  const lm = ropelabLm();
  const { ids, targets } = lmBatch(LM_BATCH, LM_T, SEED);
  let first = true;
  const steps = stepsOn('lm', () => {
    if (!first) return ropelabLm().step;
    first = false;
    return lm.step;
  });
  cases.set('lm', { steps, request: (tuned) => ({ kind: 'lm', tuned, init: lm.init, ids, targets }) });
  markRss('ropelab: LM step');
  return { cases, attnRef, lmRef, lmInit: lm.init, warm };
}

/**
 * ropelab wasm against ropelab js, before any timing: the small references (attention loss and the gradients of x
 * and the four weights; LM loss, every parameter's gradient and the loss after one AdamW step) recomputed on
 * 'wasm', and the losses of the two untimed steps of every timed case (the second after an update for the LM).
 */
function checkWasm(attnRef: AttnReference, lmRef: LmReference, warm: WarmLosses | null): CheckResult {
  const attn = onRopelab('wasm', () => attentionReference(ATTN_CHECK_T));
  const lm = onRopelab('wasm', lmReference);
  const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);
  const attnLossErr = rel(attn.loss, attnRef.loss);
  const attnGradErr = Math.max(...attn.grads.map((g, i) => relErr(g, attnRef.grads[i]!)));
  const lm0Err = rel(lm.loss0, lmRef.loss0);
  const lm1Err = rel(lm.loss1, lmRef.loss1);
  const lmGradErr = Math.max(...[...lmRef.grads].map(([name, g]) => relErr(lm.grads.get(name)!, g)));
  // the timed cases' losses on every wasm variant (two threads give one thread's numbers bit for bit)
  const wasmVariants = VARIANTS.filter((v) => v !== 'js');
  const benchErr = warm === null ? 0 : Math.max(...CASES.flatMap(({ id }) => wasmVariants.map((v) => relErr(warm[id][v]!, warm[id].js!))));
  const ok = Math.max(attnLossErr, attnGradErr, lm0Err, lm1Err, lmGradErr, benchErr) <= WASM_RTOL;
  const e = (x: number): string => x.toExponential(1);
  const summary =
    `attn T=${ATTN_CHECK_T} loss ${e(attnLossErr)} grads ${e(attnGradErr)}; ` +
    `LM ${LM_CHECK_B}×${LM_CHECK_T} loss ${e(lm0Err)} grads ${e(lmGradErr)}, after 1 AdamW step ${e(lm1Err)}` +
    (warm === null ? '' : `; timed cases, losses of 2 steps ${e(benchErr)}`) +
    ` ${ok ? 'ok' : 'MISMATCH'} (tol ${WASM_RTOL})`;
  return { ok, summary };
}

/** Medians of ropelab's backends and one peer (the same alternating rounds). */
interface Pairing {
  ropelab: Partial<Record<RopelabVariant, number>>;
  peer: number;
}

/** One line when the TF.js peers are missing, saying what runs without them (`doing`); null when they are installed. */
function peersMissingLine(doing: string): string | null {
  const missing = missingPeers();
  if (missing.length === 0) return null;
  return `TF.js peers not installed (${missing.join(', ')}): ${doing} — \`npm run peers:install\` adds TF.js`;
}

/** `--check`: only the equivalence checks, ropelab wasm vs js and every TF.js variant vs ropelab (seconds). */
async function checkOnly(): Promise<void> {
  const attnRef = attentionReference(ATTN_CHECK_T);
  const lmRef = lmReference();
  let ok = true;
  if (VARIANTS.includes('wasm')) {
    const check = checkWasm(attnRef, lmRef, null);
    console.log(`check ropelab wasm vs ropelab js (rel. err): ${check.summary}`);
    ok &&= check.ok;
  } else console.log(`ropelab wasm backend unavailable here (${backendNames().join(', ')} only): no wasm check`);
  const missingLine = peersMissingLine('ropelab checks only');
  if (missingLine !== null) console.log(missingLine);
  else {
    const worker = await PeerWorker.start<TfRequest>(new URL(import.meta.url), TF_WORKER);
    for (const peer of PEERS) {
      if (!(await worker.call<boolean>({ kind: 'backend', backend: peer.backend }))) continue;
      const check = await worker.call<CheckResult>({ kind: 'check', tuned: peer.tuned, attnRef, lmRef, lmInit: paramData(new GPT(LM)) });
      console.log(`check ${peer.label} vs ropelab (rel. err): ${check.summary}`);
      ok &&= check.ok;
    }
    await worker.stop();
  }
  process.exitCode = ok ? 0 : 1;
}

function targetCell(targeted: boolean, s: number, goal: number): string {
  if (!targeted) return '—';
  if (Number.isNaN(s)) return 'n/a';
  return `${s >= goal ? 'met' : 'MISSED'} (≥${goal}×)`;
}

async function main(): Promise<void> {
  printEnvironment('attention fwd+bwd and LM training step: ropelab js, wasm and wasm×2 (threads) vs TF.js cpu (plain JS) and wasm (XNNPACK, SIMD, one thread)');
  console.log(`ropelab backends timed: ${VARIANTS.join(', ')}${VARIANTS.includes('wasm') ? '' : ' (no WebAssembly SIMD here: wasm columns n/a)'}`);
  const missingLine = peersMissingLine("timing ropelab's backends only");
  if (missingLine !== null) console.log(missingLine);
  markRss('start');
  const { cases, attnRef, lmRef, lmInit, warm } = prepareRopelab();
  const mismatched: string[] = [];
  if (VARIANTS.includes('wasm')) {
    const check = checkWasm(attnRef, lmRef, warm);
    console.log(`check ropelab wasm vs ropelab js (rel. err): ${check.summary}`);
    if (!check.ok) mismatched.push('ropelab wasm');
  }

  const pairings: Record<CaseId, Partial<Record<PeerId, Pairing>>> = { attn256: {}, attn1024: {}, lm: {} };
  /** ropelab's backends alone, alternating (when no peer ran). */
  const alone: Partial<Record<CaseId, Partial<Record<RopelabVariant, number>>>> = {};
  const timeRopelab = (c: BenchCase): (() => number)[] => VARIANTS.map((b) => c.steps[b]);
  const byBackend = (ms: readonly number[]): Partial<Record<RopelabVariant, number>> =>
    Object.fromEntries(VARIANTS.map((b, i) => [b, ms[i]!]));
  let env: string | null = null;
  if (missingLine === null) {
    const worker = await PeerWorker.start<TfRequest>(new URL(import.meta.url), TF_WORKER);
    markRss('TF.js worker started');
    for (const peer of PEERS) {
      if (!(await worker.call<boolean>({ kind: 'backend', backend: peer.backend }))) continue;
      const check = await worker.call<CheckResult>({ kind: 'check', tuned: peer.tuned, attnRef, lmRef, lmInit });
      console.log(`check ${peer.label} vs ropelab (rel. err): ${check.summary}`);
      if (!check.ok) mismatched.push(peer.label);
      for (const { id, label } of CASES) {
        const c = cases.get(id)!;
        await worker.call(c.request(peer.tuned));
        const { warmup, reps } = repsFor(id, peer.id);
        const ms = await pairedMediansMs([...timeRopelab(c), () => worker.call({ kind: 'step' })], reps, warmup);
        await worker.call({ kind: 'release' });
        pairings[id][peer.id] = { ropelab: byBackend(ms), peer: ms.at(-1)! };
        markRss(`${peer.label}: ${label}`);
      }
    }
    env = await worker.call<string>({ kind: 'env' });
    await worker.stop();
  }
  for (const { id, label } of CASES) {
    if (Object.keys(pairings[id]).length > 0) continue;
    const { warmup, reps } = repsFor(id, 'wasm');
    alone[id] = byBackend(await pairedMediansMs(timeRopelab(cases.get(id)!), reps, warmup));
    markRss(`ropelab alone: ${label}`);
  }

  console.log(
    (env === null ? '' : `\n${env}, in a worker thread. tfjs-cpu and tfjs-wasm: idiomatic tf code (batched heads, transposeB); tfjs-wasm tuned: only\n` +
    'unbatched untransposed 2-D matmuls, forward and backward (wasm\'s fast path). Tokens are embedded as oneHot·E in every TF.js variant.\n') +
    (env === null
      ? '\nEach time is a median over rounds in which ropelab js, wasm and wasm×2 (two threads) alternate one step each; "wasm ÷ js" =\njs ms / wasm ms (> 1: wasm faster).\n'
      : '\nEach time is a median over rounds in which ropelab js, wasm, wasm×2 (two threads) and one peer alternate one step each; a ropelab\n' +
        'column is the median over the pairings (its three peers), "wasm ÷ js" the median of js ms / wasm ms over the same pairings.\n'),
  );
  if (mismatched.length > 0) console.log(`WARNING: ${mismatched.join(', ')} did not reproduce ropelab js's numbers; those timings compare different math\n`);

  const ms = (x: number | undefined): string => fmt(x ?? NaN, 1);
  /** Per-round medians of one ropelab backend: one per pairing, or the ropelab-only run. */
  const samples = (id: CaseId, b: RopelabVariant): number[] => {
    const fromPairs = Object.values(pairings[id]).map((p) => p.ropelab[b]).filter((x): x is number => x !== undefined);
    const a = alone[id]?.[b];
    return a === undefined ? fromPairs : [...fromPairs, a];
  };
  /** Median over the same rounds of js ms / `variant` ms (> 1: the variant is faster). */
  const overJs = (id: CaseId, variant: RopelabVariant): number => {
    const ratios = [...Object.values(pairings[id]).map((p) => p.ropelab), ...(alone[id] ? [alone[id]] : [])]
      .filter((r) => r.js !== undefined && r[variant] !== undefined).map((r) => r.js! / r[variant]!);
    return ratios.length > 0 ? median(ratios) : NaN;
  };
  const medianOr = (xs: number[]): number | undefined => (xs.length > 0 ? median(xs) : undefined);
  printTable(
    ['case', 'ropelab js ms', 'wasm ms', 'wasm×2 ms', 'wasm ÷ js', 'wasm×2 ÷ js', 'tfjs-cpu ms', 'tfjs-wasm ms', 'wasm tuned ms'],
    CASES.map(({ id, label }) => {
      const p = pairings[id];
      return [
        label, ms(medianOr(samples(id, 'js'))), ms(medianOr(samples(id, 'wasm'))), ms(medianOr(samples(id, 'wasm×2'))),
        fmt(overJs(id, 'wasm')), fmt(overJs(id, 'wasm×2')),
        ms(p.cpu?.peer), ms(p.wasm?.peer), ms(p.wasmTuned?.peer),
      ];
    }),
  );

  if (env !== null) {
    console.log(
      'Speedups = peer ms / ropelab ms from the same rounds (> 1: ropelab faster). Targets: ×cpu ≥ 6 and ×wasm ≥ 1.5 (idiomatic\n' +
      'TF.js, set with this bench); ×wasm tuned ≥ 1.5 (issue #12, which allows both threads: the wasm×2 rows). TF.js wasm runs one thread.\n',
    );
    const speedup = (p: Pairing | undefined, b: RopelabVariant): number => (p?.ropelab[b] === undefined ? NaN : p.peer / p.ropelab[b]!);
    printTable(
      ['case', 'ropelab', '× cpu', '× wasm', '× wasm tuned', 'target cpu', 'target wasm', 'target wasm tuned'],
      CASES.flatMap(({ id, label, targeted }) =>
        VARIANTS.map((b) => {
          const p = pairings[id];
          return [
            label, b, fmt(speedup(p.cpu, b)), fmt(speedup(p.wasm, b)), fmt(speedup(p.wasmTuned, b)),
            targetCell(targeted, speedup(p.cpu, b), TARGET.cpu), targetCell(targeted, speedup(p.wasm, b), TARGET.wasm),
            targetCell(targeted, speedup(p.wasmTuned, b), TARGET.wasmTuned),
          ];
        }),
      ),
    );
  }

  console.log('peak RSS = process.resourceUsage().maxRSS, a process-wide high-water mark (never falls; the TF.js worker counts too); rss = current RSS at the mark');
  printTable(
    ['after', 'peak RSS MiB', 'peak +MiB', 'rss MiB'],
    rssMarks.map((m, i) => [
      m.label, fmt(m.maxRssKiB / MiB, 1), i === 0 ? '' : fmt((m.maxRssKiB - rssMarks[i - 1]!.maxRssKiB) / MiB, 1), fmt(m.rssKiB / MiB, 1),
    ]),
  );
  const ropelabPeak = rssMarks.filter((m) => m.label.startsWith('ropelab:')).at(-1)!.maxRssKiB;
  const total = rssMarks.at(-1)!.maxRssKiB;
  console.log(`peak RSS: ropelab alone ${fmt(ropelabPeak / MiB, 1)} MiB (every case on ${VARIANTS.join(' and ')}, before any TF.js); whole process${env === null ? '' : ' incl. TF.js'} ${fmt(total / MiB, 1)} MiB`);
  if (mismatched.length > 0) process.exitCode = 1;
}

const HELP = `usage: npm run bench:attention [-- --check]

Times one attention layer (fwd+bwd) and a GPT training step on ropelab's js and wasm backends, alternating with
TF.js cpu and wasm (in a worker thread), after checking that all compute the same numbers. Without the benchmark
peers (npm run peers:install) it says so in one line and times ropelab's backends only.

  --check   only the equivalence checks: ropelab wasm vs js, TF.js vs ropelab (seconds)
  --help    this text`;

if (!isMainThread && (workerData as { role?: string } | null)?.role === TF_WORKER) await serveTf(parentPort!);
else {
  const flags = readFlags('bench:attention', HELP, { check: false }, { values: {}, switches: { check: (f) => (f.check = true) } });
  if (flags.check) await checkOnly();
  else await main();
}
