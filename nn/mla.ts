/**
 * Multi-head Latent Attention (DeepSeek-V2 §2.1, eqs. 9–19; layer structure and names of HF `DeepseekV3Attention`).
 * Keys and values are up-projected from one small latent per token, c^KV = RMSNorm(W^DKV h) (kvLoraRank numbers),
 * so a decoding cache stores only c^KV and one rotated key k^R shared by every head (qkRopeHeadDim numbers):
 * kvLoraRank + qkRopeHeadDim numbers per token per layer instead of MHA's 2·n_h·d_h (576 vs 32768 for DeepSeek-V2).
 *
 * Head i: q_i = [q^C_i; R(m) q^R_i], k_i = [W^UK_i c^KV; R(n) k^R], v_i = W^UV_i c^KV ("decoupled RoPE"), logits
 * scaled by (qkNopeHeadDim + qkRopeHeadDim)^(−1/2). Two modes give the same numbers up to rounding:
 *  - 'explicit' materialises every head's keys and values from the latents, as HF does;
 *  - 'absorbed' folds W^UK into the query projection and W^UV into the output projection (DeepSeek-V2 §2.1.2) and
 *    attends over the latents themselves: scores q̂_i·[c; k^R] with q̂_i = [W^UKᵀ_i q^C_i; R(m) q^R_i], outputs
 *    W^O_i W^UV_i Σ_j p_ij c_j. Keys [c; k^R] and values c have one "head" that all query heads share.
 * MLA-PreRoPE (the baseline of Jha & Reagen 2025, arXiv 2507.09394, named in its abstract; this construction is
 * ours, the paper gives none): no shared rotary key; each head rotates its own up-projected rotary channels, k_i = [W^UK_i c; R(n) W^UR_i c]. R(n) then sits between the query
 * and W^UR, so absorption is impossible ('absorbed' throws) and the cache keeps every head's rotated rotary key.
 *
 * Letters: B batch, T new tokens, S attended tokens (cached + new), C model dim, H heads, dn / dR / dv the nope /
 * rope / value head dims, dc = kvLoraRank, dq = qLoraRank (or C without query compression).
 */
import {
  defaultGenerator,
  DTypeError, Generator, Module, ShapeError, Tensor, ValueError, arange, asPartOf, concat, describeValue, expectInteger, expectNumber, expectOneOf, expectOptions,
  fmtShape, matmul, noGrad,
  expectPositions, expectSize, optionalDType, optionalGenerator, type DType,
} from '../core/index.js';
import { expectSequence, expectWeight, optionalBoolean } from './checks.js';
import { RoPE, type PairLayout, type Positions } from '../positional/index.js';
import { scaledDotProductAttention } from './attention.js';
import { issueCheckedCall, redeemCheckedCall, type CheckedCall } from './checked-call.js';
import { KVCache, type KVCacheOptions } from './kv-cache.js';
import { Linear } from './linear.js';
import { RMSNorm } from './norm.js';

/** Where RoPE enters: DeepSeek's decoupled branch (shared rotary key) or MLA-PreRoPE (per-head rotated keys). */
export type MLARoPE = 'decoupled' | 'pre-rope';
/** 'explicit' materialises per-head keys/values; 'absorbed' attends over the latents with folded projections. */
export type MLAMode = 'explicit' | 'absorbed';

/** The dimensions that fix every weight shape (DeepSeek names in brackets). */
export interface MLADims {
  /** Model dim C [hidden_size]. */
  dim: number;
  /** Heads H [num_attention_heads]. */
  numHeads: number;
  /** Latent KV rank dc [kv_lora_rank]. */
  kvLoraRank: number;
  /** Latent query rank dq [q_lora_rank]; null or absent = one plain q_proj (DeepSeek-V2-Lite). */
  qLoraRank?: number | null;
  /** Per-head query/key channels without RoPE, dn [qk_nope_head_dim]. */
  qkNopeHeadDim: number;
  /** Per-head rotary query/key channels, dR [qk_rope_head_dim] (even). */
  qkRopeHeadDim: number;
  /** Per-head value dim dv [v_head_dim]. */
  vHeadDim: number;
  /** Default 'decoupled' (DeepSeek). */
  rope?: MLARoPE;
  /** Biases on q_a_proj / kv_a_proj_with_mqa / o_proj [attention_bias]; default false. */
  bias?: boolean;
}

/**
 * Options of `MultiHeadLatentAttention`: `mode`, `ropeBase`, `ropeLayout`, `rotary`, `softmaxScale`, `normEps`,
 * `generator`, `dtype`.
 */
export interface MultiHeadLatentAttentionOptions extends MLADims {
  /** Default 'explicit'; switch later with `mla.mode = 'absorbed'`. */
  mode?: MLAMode;
  /** RoPE base θ [rope_theta]; default 10000. */
  ropeBase?: number;
  /** Pair layout of the rotary channels; default 'interleaved' (DeepSeek's weights, HF rope_interleave=true). */
  ropeLayout?: PairLayout;
  /** A ready rotary encoding over qkRopeHeadDim channels (e.g. YaRN frequencies and attention factor); overrides ropeBase/ropeLayout. */
  rotary?: RoPE;
  /** Logit scale; default (qkNopeHeadDim + qkRopeHeadDim)^(−1/2). DeepSeek with YaRN multiplies it by yarnMscale(s, mscale_all_dim)². */
  softmaxScale?: number;
  /** ε of the latent RMSNorms (q_a_layernorm, kv_a_layernorm); default 1e-6 (HF). */
  normEps?: number;
  generator?: Generator;
  dtype?: DType;
}

/** Options of a `MultiHeadLatentAttention` call: `cache`, `positions`. */
export interface MLACallOptions {
  /** Incremental decoding: the new tokens' latents (and rotary keys) are appended, attention covers all cached. */
  cache?: LatentKVCache;
  /** Positions [T] or [B, T]; default offset…offset+T−1 with offset = cache.position (or 0). */
  positions?: Positions;
}

/** @internal What `MultiHeadLatentAttention.checkCall` returns: a single-use proof of the checked call (nn/checked-call.ts). */
export type MLACallCheck = CheckedCall<MLACallOptions>;

interface Dims {
  dim: number;
  numHeads: number;
  kvLoraRank: number;
  qLoraRank: number | null;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
  rope: MLARoPE;
  bias: boolean;
}

/** Validated dims with defaults; `op` names the caller in errors. */
function checkDims(op: string, dims: MLADims, known?: readonly string[]): Dims {
  const d = expectOptions(op, 'dims', dims, known);
  const positive = (name: keyof MLADims, v: unknown): number => expectSize(op, name, v);
  positive('dim', d.dim);
  positive('numHeads', d.numHeads);
  positive('kvLoraRank', d.kvLoraRank);
  positive('vHeadDim', d.vHeadDim);
  positive('qkNopeHeadDim', d.qkNopeHeadDim);
  positive('qkRopeHeadDim', d.qkRopeHeadDim);
  if (d.qkRopeHeadDim % 2 !== 0) throw new ValueError(op, `qkRopeHeadDim is odd — qkRopeHeadDim=${d.qkRopeHeadDim} (rotary channels come in pairs)`, 'qkRopeHeadDim');
  const qLoraRank = d.qLoraRank ?? null;
  if (qLoraRank !== null) positive('qLoraRank', qLoraRank);
  const rope = d.rope === undefined ? 'decoupled' : expectOneOf(op, 'rope', d.rope, ['decoupled', 'pre-rope'] as const);
  const bias = optionalBoolean(op, 'bias', d.bias) ?? false;
  return { ...d, qLoraRank, rope, bias };
}

/**
 * Every parameter's shape by its dotted name in `MultiHeadLatentAttention` (HF's names camelCased), computed from
 * the dims alone, so DeepSeek-size layers can be checked without allocating them. Linear weights are [out, in].
 */
export function mlaParameterShapes(dims: MLADims): Record<string, number[]> {
  const d = checkDims('mlaParameterShapes', dims);
  const { dim: C, numHeads: H, kvLoraRank: dc, qLoraRank: dq, qkNopeHeadDim: dn, qkRopeHeadDim: dR, vHeadDim: dv } = d;
  const out: Record<string, number[]> = {};
  const linear = (name: string, inFeatures: number, outFeatures: number, bias: boolean): void => {
    out[`${name}.weight`] = [outFeatures, inFeatures];
    if (bias) out[`${name}.bias`] = [outFeatures];
  };
  if (dq === null) linear('qProj', C, H * (dn + dR), false);
  else {
    linear('qAProj', C, dq, d.bias); // W^DQ (eq. 12)
    out['qALayernorm.weight'] = [dq];
    linear('qBProj', dq, H * (dn + dR), false); // [W^UQ; W^QR] per head (eqs. 13–14)
  }
  linear('kvAProjWithMqa', C, dc + (d.rope === 'decoupled' ? dR : 0), d.bias); // [W^DKV; W^KR] (eqs. 9, 15)
  out['kvALayernorm.weight'] = [dc];
  linear('kvBProj', dc, H * (dn + (d.rope === 'pre-rope' ? dR : 0) + dv), false); // [W^UK; (W^UR;) W^UV] per head (eqs. 10–11)
  linear('oProj', H * dv, C, d.bias); // W^O (eq. 19)
  return out;
}

/**
 * Numbers a `LatentKVCache` holds per token per layer: kvLoraRank + qkRopeHeadDim for decoupled RoPE (the latent
 * and the shared rotated key), kvLoraRank + numHeads·qkRopeHeadDim for MLA-PreRoPE (every head's rotated key).
 */
export function mlaCacheNumbersPerToken(dims: MLADims): number {
  const d = checkDims('mlaCacheNumbersPerToken', dims);
  return d.kvLoraRank + (d.rope === 'decoupled' ? 1 : d.numHeads) * d.qkRopeHeadDim;
}

/** Options of `LatentKVCache`: `kvLoraRank`, `qkRopeHeadDim`, `ropeKeyHeads`. */
export interface LatentKVCacheOptions extends KVCacheOptions {
  kvLoraRank: number;
  qkRopeHeadDim: number;
  /** Rotated keys stored per token: 1 (decoupled RoPE's shared key, default) or numHeads (MLA-PreRoPE). */
  ropeKeyHeads?: number;
}

/**
 * The MLA decoding cache: per token only the normalised latent c^KV (kvLoraRank numbers) and the rotated rotary key
 * (qkRopeHeadDim numbers, or numHeads·qkRopeHeadDim for MLA-PreRoPE), rotated once at its own position. It is a
 * KVCache whose single key "head" is the rotary key and whose single value "head" is the latent, so it plugs into
 * `CausalLM` decoding and keeps KVCache's position counting and sliding-window eviction.
 */
export class LatentKVCache extends KVCache {
  readonly kvLoraRank: number;
  readonly qkRopeHeadDim: number;
  readonly ropeKeyHeads: number;
  /** kvLoraRank + ropeKeyHeads·qkRopeHeadDim: the numbers stored for each token of each sequence. */
  readonly numbersPerToken: number;

  constructor(options: LatentKVCacheOptions) {
    const op = 'LatentKVCache';
    const o = expectOptions(op, 'options', options, ['maxLength', 'kvLoraRank', 'qkRopeHeadDim', 'ropeKeyHeads']);
    if (o.maxLength !== undefined && o.maxLength !== Infinity) expectInteger(op, 'maxLength', o.maxLength, { min: 1 });
    super({ maxLength: o.maxLength });
    const kvLoraRank = expectSize(op, 'kvLoraRank', o.kvLoraRank);
    const qkRopeHeadDim = expectSize(op, 'qkRopeHeadDim', o.qkRopeHeadDim);
    const ropeKeyHeads = o.ropeKeyHeads === undefined ? 1 : expectSize(op, 'ropeKeyHeads', o.ropeKeyHeads);
    this.kvLoraRank = kvLoraRank;
    this.qkRopeHeadDim = qkRopeHeadDim;
    this.ropeKeyHeads = ropeKeyHeads;
    this.numbersPerToken = kvLoraRank + ropeKeyHeads * qkRopeHeadDim;
  }

  /** Cached latents c^KV [B, 1, L, kvLoraRank], or null before the first step. */
  get latents(): Tensor | null {
    return this.values;
  }

  /** Cached rotated rotary keys [B, ropeKeyHeads, L, qkRopeHeadDim], or null before the first step. */
  get ropeKeys(): Tensor | null {
    return this.keys;
  }

  /** KVCache.append with the latent layout enforced: k = rotary keys [B, ropeKeyHeads, T, dR], v = latents [B, 1, T, dc]. */
  override append(k: Tensor, v: Tensor): { keys: Tensor; values: Tensor } {
    return this.appendChecked('LatentKVCache.append', k, v);
  }

  /** Append one step's latents [B, 1, T, dc] and rotated keys [B, ropeKeyHeads, T, dR]; returns everything cached. */
  appendLatent(latent: Tensor, ropeKey: Tensor): { latents: Tensor; ropeKeys: Tensor } {
    const step = this.appendChecked('LatentKVCache.appendLatent', ropeKey, latent);
    return { latents: step.values, ropeKeys: step.keys };
  }

  private appendChecked(op: string, k: Tensor, v: Tensor): { keys: Tensor; values: Tensor } {
    if (!(k instanceof Tensor)) throw new DTypeError(op, `rotary keys must be a Tensor, got ${describeValue(k)}`, 'k');
    if (!(v instanceof Tensor)) throw new DTypeError(op, `latents must be a Tensor, got ${describeValue(v)}`, 'v');
    const okK = k.ndim === 4 && k.shape[1] === this.ropeKeyHeads && k.shape[3] === this.qkRopeHeadDim;
    const okV = v.ndim === 4 && v.shape[1] === 1 && v.shape[3] === this.kvLoraRank;
    if (!okK || !okV) {
      throw new ShapeError(
        op,
        `rotary keys or latents have the wrong shape — k=${fmtShape(k.shape)}, v=${fmtShape(v.shape)} (k [B, ${this.ropeKeyHeads}, T, ${this.qkRopeHeadDim}], v [B, 1, T, ${this.kvLoraRank}])`,
        okK ? 'v' : 'k',
      );
    }
    if (k.shape[0] !== v.shape[0] || k.shape[2] !== v.shape[2] || k.dtype !== v.dtype) {
      throw new ShapeError(op, `rotary keys k=${fmtShape(k.shape)} ${k.dtype} and latents v=${fmtShape(v.shape)} ${v.dtype} differ in batch, length or dtype`, 'v');
    }
    const cached = this.keyShape;
    if (cached !== null && (cached[0] !== k.shape[0] || this.dtype !== k.dtype)) {
      throw new ShapeError(op, `k=${fmtShape(k.shape)} ${k.dtype} does not continue the cache's ${fmtShape(cached)} ${this.dtype} (same batch and dtype)`, 'k');
    }
    return super.append(k, v);
  }
}

/** What the fused attention op receives: q [B, H, T, ·], k [B, H or 1, S, ·], v [B, H or 1, S, ·]. */
interface AttentionInputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
}

/**
 * Multi-head Latent Attention (DeepSeek-V2): keys and values up-projected from one compressed latent per token, with a
 * decoupled RoPE key shared by the heads, so a cache stores kvLoraRank + qkRopeHeadDim numbers per token; x [B, T, dim]
 * → [B, T, dim].
 */
export class MultiHeadLatentAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly kvLoraRank: number;
  readonly qLoraRank: number | null;
  readonly qkNopeHeadDim: number;
  readonly qkRopeHeadDim: number;
  readonly vHeadDim: number;
  readonly rope: MLARoPE;
  readonly softmaxScale: number;
  /** Without query compression: W^Q [H·(dn+dR), C]. */
  readonly qProj: Linear | null;
  /** W^DQ [dq, C] (eq. 12). */
  readonly qAProj: Linear | null;
  readonly qALayernorm: RMSNorm | null;
  /** [W^UQ_i; W^QR_i] per head: [H·(dn+dR), dq] (eqs. 13–14). */
  readonly qBProj: Linear | null;
  /** [W^DKV; W^KR]: [dc + dR, C] (eqs. 9, 15); PreRoPE: W^DKV [dc, C]. */
  readonly kvAProjWithMqa: Linear;
  readonly kvALayernorm: RMSNorm;
  /** [W^UK_i; W^UV_i] per head: [H·(dn+dv), dc] (eqs. 10–11); PreRoPE: [W^UK_i; W^UR_i; W^UV_i], [H·(dn+dR+dv), dc]. */
  readonly kvBProj: Linear;
  /** W^O [C, H·dv] (eq. 19). */
  readonly oProj: Linear;
  /** RoPE over the qkRopeHeadDim rotary channels. */
  readonly rotary: RoPE;
  #mode: MLAMode = 'explicit';

  constructor(options: MultiHeadLatentAttentionOptions) {
    super();
    const op = 'MultiHeadLatentAttention';
    const d = checkDims(op, options, [
      'dim', 'numHeads', 'kvLoraRank', 'qLoraRank', 'qkNopeHeadDim', 'qkRopeHeadDim', 'vHeadDim', 'rope', 'bias', 'mode', 'ropeBase', 'ropeLayout',
      'rotary', 'softmaxScale', 'normEps', 'generator', 'dtype',
    ]);
    if (options.mode !== undefined) expectOneOf(op, 'mode', options.mode, ['explicit', 'absorbed'] as const);
    if (options.ropeBase !== undefined) expectNumber(op, 'ropeBase', options.ropeBase, { above: 1 });
    if (options.ropeLayout !== undefined) expectOneOf(op, 'ropeLayout', options.ropeLayout, ['interleaved', 'half'] as const);
    if (options.rotary !== undefined && !(options.rotary instanceof RoPE)) {
      throw new DTypeError(op, `rotary must be a RoPE, got ${describeValue(options.rotary)}`, 'rotary');
    }
    if (options.softmaxScale !== undefined) expectNumber(op, 'softmaxScale', options.softmaxScale, { above: 0 });
    if (options.normEps !== undefined) expectNumber(op, 'normEps', options.normEps, { min: 0 });
    optionalGenerator(op, 'generator', options.generator);
    optionalDType(op, 'dtype', options.dtype);
    const qOut = d.numHeads * (d.qkNopeHeadDim + d.qkRopeHeadDim);
    expectWeight(op, 'qProj.weight', qOut, d.qLoraRank ?? d.dim);
    expectWeight(op, 'kvBProj.weight', d.numHeads * (d.qkNopeHeadDim + d.qkRopeHeadDim + d.vHeadDim), d.kvLoraRank);
    expectWeight(op, 'oProj.weight', d.dim, d.numHeads * d.vHeadDim);
    const { dim: C, numHeads: H, kvLoraRank: dc, qLoraRank: dq, qkNopeHeadDim: dn, qkRopeHeadDim: dR, vHeadDim: dv } = d;
    this.dim = C;
    this.numHeads = H;
    this.kvLoraRank = dc;
    this.qLoraRank = dq;
    this.qkNopeHeadDim = dn;
    this.qkRopeHeadDim = dR;
    this.vHeadDim = dv;
    this.rope = d.rope;
    this.softmaxScale = options.softmaxScale ?? 1 / Math.sqrt(dn + dR);
    if (!(Number.isFinite(this.softmaxScale) && this.softmaxScale > 0)) {
      throw new ValueError(op, `softmaxScale is not a positive finite number — softmaxScale=${this.softmaxScale}`, 'softmaxScale');
    }
    const g = options.generator ?? defaultGenerator();
    const { dtype } = options;
    const eps = options.normEps ?? 1e-6;
    const linear = (inFeatures: number, outFeatures: number, bias: boolean): Linear => new Linear(inFeatures, outFeatures, { bias, generator: g, dtype });
    this.qProj = dq === null ? linear(C, H * (dn + dR), false) : null;
    this.qAProj = dq === null ? null : linear(C, dq, d.bias);
    this.qALayernorm = dq === null ? null : new RMSNorm(dq, { eps, dtype });
    this.qBProj = dq === null ? null : linear(dq, H * (dn + dR), false);
    this.kvAProjWithMqa = linear(C, dc + (d.rope === 'decoupled' ? dR : 0), d.bias);
    this.kvALayernorm = new RMSNorm(dc, { eps, dtype });
    this.kvBProj = linear(dc, H * (dn + (d.rope === 'pre-rope' ? dR : 0) + dv), false);
    this.oProj = linear(H * dv, C, d.bias);
    this.rotary = options.rotary ?? new RoPE(dR, { layout: options.ropeLayout ?? 'interleaved', base: options.ropeBase ?? 10000 });
    if (this.rotary.headDim !== dR || this.rotary.rotaryDim !== dR) {
      throw new ShapeError(op, `rotary encoding does not cover the rotary channels — rotary.headDim=${this.rotary.headDim}, rotaryDim=${this.rotary.rotaryDim} (both must equal qkRopeHeadDim=${dR})`, 'rotary');
    }
    this.mode = options.mode ?? 'explicit';
  }

  get mode(): MLAMode {
    return this.#mode;
  }

  /** Switch between 'explicit' and 'absorbed' at any time (same weights); MLA-PreRoPE cannot be absorbed. */
  set mode(mode: MLAMode) {
    expectOneOf('MultiHeadLatentAttention', 'mode', mode, ['explicit', 'absorbed'] as const);
    if (mode === 'absorbed' && this.rope === 'pre-rope') throw preRopeAbsorptionError('mode');
    this.#mode = mode;
  }

  /** An empty cache laid out for this layer (latent + shared rotary key, or + every head's rotary key for PreRoPE). */
  newCache(options: KVCacheOptions = {}): LatentKVCache {
    const op = 'MultiHeadLatentAttention.newCache';
    const o = expectOptions(op, 'options', options, ['maxLength']);
    if (o.maxLength !== undefined && o.maxLength !== Infinity) expectInteger(op, 'maxLength', o.maxLength, { min: 1 });
    return new LatentKVCache({
      ...options, kvLoraRank: this.kvLoraRank, qkRopeHeadDim: this.qkRopeHeadDim, ropeKeyHeads: this.rope === 'decoupled' ? 1 : this.numHeads,
    });
  }

  /** x: [B, T, C] → [B, T, C]. Causal (bottom-right aligned, so it continues a cache). */
  forward(x: Tensor, options: MLACallOptions = {}): Tensor {
    const op = 'MultiHeadLatentAttention.forward';
    return this.forwardChecked(op, x, this.checkCall(op, x, options));
  }

  /**
   * @internal forward for a call that `checkCall(op, …)` accepted (MLABlock checks its input once, then runs this on
   * norm(x)): the options are those checked, held by `checked`, which is used up; what the rotary encoding refuses
   * is reported under `op`.
   */
  forwardChecked(op: string, x: Tensor, checked: MLACallCheck): Tensor {
    const { q, k, v } = this.attentionInputs(op, x, redeemCheckedCall(op, this, checked, x));
    const o = scaledDotProductAttention(q, k, v, { causal: true, scale: this.softmaxScale }); // [B, H, T, dv] explicit, [B, H, T, dc] absorbed
    return this.outputProjection(o); // [B, T, C]
  }

  /**
   * The full pre-softmax logits [B, H, T, S] = softmaxScale·⟨q_i, k_i⟩ (no causal mask), computed the way the
   * current mode computes them. With a cache, the new tokens are appended exactly as in forward.
   */
  logits(x: Tensor, options: MLACallOptions = {}): Tensor {
    const op = 'MultiHeadLatentAttention.logits';
    this.checkCall(op, x, options);
    const { q, k } = this.attentionInputs(op, x, options);
    return matmul(q, k, { transposeB: true }).mul(this.softmaxScale);
  }

  /**
   * The matrices absorbed mode uses, folded from the current weights (differentiable):
   * query [H, dc, dq] = W^UKᵀ_i W^UQ_i, queryRope [H, dR, dq] = W^QR_i, output [C, H·dc] = [W^O_1 W^UV_1, …, W^O_H W^UV_H].
   */
  absorbedWeights(): { query: Tensor; queryRope: Tensor; output: Tensor } {
    if (this.rope === 'pre-rope') throw preRopeAbsorptionError('rope');
    const { numHeads: H, dim: C, kvLoraRank: dc, vHeadDim: dv } = this;
    const up = this.upWeights();
    const q = this.queryUpWeights();
    const query = matmul(up.key, q.nope, { transposeA: true }); // W^UKᵀ_i W^UQ_i: [H, dc, dq]
    const oHeads = this.oProj.weight.reshape([C, H, dv]).transpose(0, 1); // W^O_i: [H, C, dv]
    const output = matmul(oHeads, up.value).transpose(0, 1).reshape([C, H * dc]); // W^O_i W^UV_i: [C, H·dc]
    return { query, queryRope: q.rope, output };
  }

  /**
   * For spectral diagnostics: each head's effective query and key maps from the layer input, [H, dn+dR, C] each,
   * so that at equal positions the logit is softmaxScale·(Q_i x_m)·(K_i x_n) = softmaxScale·x_mᵀ (Q_iᵀ K_i) x_n.
   * Built without grad in float64 from: Q_i = [W^UQ_i; W^QR_i]·diag(γ_q)·W^DQ (or q_proj's rows for head i);
   * decoupled K_i = [W^UK_i·diag(γ_kv)·W^DKV; W^KR] (W^KR is the same for every head); PreRoPE
   * K_i = [W^UK_i; W^UR_i]·diag(γ_kv)·W^DKV. The RMSNorms' per-token 1/rms factors are activations, not weights,
   * and are left out (they scale c^Q and c^KV, i.e. every query row and the nope key rows, per token).
   */
  queryKeyMaps(): { query: Tensor; key: Tensor } {
    return noGrad(() => {
      const f64 = (t: Tensor): Tensor => t.cast('float64');
      const { numHeads: H, dim: C, kvLoraRank: dc, qkRopeHeadDim: dR } = this;
      const q = this.queryUpWeights();
      const qHeads = concat([f64(q.nope), f64(q.rope)], 1); // [H, dn+dR, dq]
      const qDown = this.qAProj === null ? null : gained(f64(this.qAProj.weight), this.qALayernorm); // diag(γ_q) W^DQ: [dq, C]
      const query = qDown === null ? qHeads : matmul(qHeads, qDown); // [H, dn+dR, C]
      const kva = f64(this.kvAProjWithMqa.weight);
      const kvDown = gained(kva.narrow(0, 0, dc), this.kvALayernorm); // diag(γ_kv) W^DKV: [dc, C]
      const up = this.upWeights();
      const key = this.rope === 'decoupled'
        ? concat([matmul(f64(up.key), kvDown), kva.narrow(0, dc, dR).unsqueeze(0).expand([H, dR, C])], 1)
        : matmul(concat([f64(up.key), f64(up.rope!)], 1), kvDown); // [H, dn+dR, C]
      return { query, key };
    });
  }

  // ── the two modes ──

  /** Project x, extend the cache, and build the fused attention op's q, k, v for the current mode. */
  /**
   * @internal Check x [B, T, C] and the call's options before anything runs (a wrong call leaves the cache
   * untouched). Returns the proof that `forwardChecked` needs (nn/checked-call.ts).
   */
  checkCall(op: string, x: unknown, options: MLACallOptions | undefined): MLACallCheck {
    expectSequence(op, 'x', x, this.dim, this.oProj.weight.dtype);
    const o = expectOptions(op, 'options', options, ['cache', 'positions']);
    if (o.positions !== undefined) expectPositions(op, 'positions', o.positions);
    if (o.cache !== undefined) this.checkCache(op, o.cache, x);
    return issueCheckedCall(this, x, { positions: o.positions, cache: o.cache });
  }

  /** `op`: the method the user called, named by what the rotary encoding refuses (positions that miss the sequence). */
  private attentionInputs(op: string, x: Tensor, options: MLACallOptions): AttentionInputs {
    const { cache } = options;
    const start = cache?.position ?? 0;
    const positions = options.positions ?? arange(start, start + x.shape[1]!, 1, { dtype: 'float64' }); // [T]
    const fresh = this.compressKV(op, x, positions);
    const { latents, ropeKeys } = cache === undefined ? { latents: fresh.latent, ropeKeys: fresh.ropeKey } : cache.appendLatent(fresh.latent, fresh.ropeKey);
    const cQ = this.qAProj !== null && this.qALayernorm !== null ? this.qALayernorm.forward(this.qAProj.forward(x)) : x; // c^Q (eq. 12): [B, T, dq]
    return this.mode === 'absorbed' ? this.absorbedInputs(op, cQ, positions, latents, ropeKeys) : this.explicitInputs(op, cQ, positions, latents, ropeKeys);
  }

  /**
   * The per-token cache entries of the new tokens: latent c^KV = RMSNorm(W^DKV h) [B, 1, T, dc] (eq. 9) and the
   * rotated key: decoupled k^R = RoPE(W^KR h) [B, 1, T, dR] (eq. 15), PreRoPE R(n) W^UR_i c^KV [B, H, T, dR].
   */
  private compressKV(op: string, x: Tensor, positions: Positions): { latent: Tensor; ropeKey: Tensor } {
    const { kvLoraRank: dc, qkRopeHeadDim: dR } = this;
    const kva = this.kvAProjWithMqa.forward(x); // [B, T, dc (+ dR)]
    if (this.rope === 'decoupled') {
      const [compressed, keyRope] = kva.split([dc, dR], 2);
      const latent = this.kvALayernorm.forward(compressed!).unsqueeze(1); // [B, 1, T, dc]
      return { latent, ropeKey: this.rotate(op, keyRope!.unsqueeze(1), positions) }; // [B, 1, T, dR]
    }
    const latent = this.kvALayernorm.forward(kva).unsqueeze(1); // [B, 1, T, dc]
    const keyRope = matmul(latent, this.upWeights().rope!, { transposeB: true }); // W^UR_i c: [B, H, T, dR]
    return { latent, ropeKey: this.rotate(op, keyRope, positions) };
  }

  /** HF's computation: every head's q, k, v materialised. q/k: [B, H, ·, dn+dR], v: [B, H, S, dv]. */
  private explicitInputs(op: string, cQ: Tensor, positions: Positions, latents: Tensor, ropeKeys: Tensor): AttentionInputs {
    const { numHeads: H, qkNopeHeadDim: dn, qkRopeHeadDim: dR, vHeadDim: dv } = this;
    const [B, T] = cQ.shape as [number, number, number];
    const S = latents.shape[2]!;
    const q = (this.qBProj ?? this.qProj)!.forward(cQ).reshape([B, T, H, dn + dR]).transpose(1, 2); // [B, H, T, dn+dR] (eqs. 13–14)
    const [qNope, qRope] = q.split([dn, dR], 3);
    const preRope = this.rope === 'pre-rope';
    // [B, H, S, dn (+ dR) + dv] (eqs. 10–11); PreRoPE's rotary channels come rotated from the cache, these are unused
    const kv = this.kvBProj.forward(latents.squeeze(1)).reshape([B, S, H, dn + (preRope ? dR : 0) + dv]).transpose(1, 2);
    const parts = kv.split(preRope ? [dn, dR, dv] : [dn, dv], 3);
    const kNope = parts[0]!;
    const v = parts[parts.length - 1]!;
    return {
      q: concat([qNope!, this.rotate(op, qRope!, positions)], 3), // q_i = [q^C_i; R(m) q^R_i] (eq. 16)
      k: concat([kNope, ropeKeys.expand([B, H, S, dR])], 3), // k_i = [k^C_i; k^R] (eq. 17): [B, H, S, dn+dR]
      v, // v^C_i: [B, H, S, dv]
    };
  }

  /** Scores against the latents: q̂ [B, H, T, dc+dR], keys [c; k^R] [B, 1, S, dc+dR], values c [B, 1, S, dc]. */
  private absorbedInputs(op: string, cQ: Tensor, positions: Positions, latents: Tensor, ropeKeys: Tensor): AttentionInputs {
    const w = this.absorbedWeights();
    const c = cQ.unsqueeze(1); // [B, 1, T, dq]
    const qLatent = matmul(c, w.query, { transposeB: true }); // W^UKᵀ_i q^C_i: [B, H, T, dc]
    const qRope = this.rotate(op, matmul(c, w.queryRope, { transposeB: true }), positions); // R(m) q^R_i: [B, H, T, dR]
    return { q: concat([qLatent, qRope], 3), k: concat([latents, ropeKeys], 3), v: latents };
  }

  /** R(m) x by the rotary encoding; what it refuses (positions that do not cover x's sequence) is named `op`. */
  private rotate(op: string, x: Tensor, positions: Positions): Tensor {
    return asPartOf(op, () => this.rotary.rotate(x, positions));
  }

  /** Heads → model dim: W^O [o_1; …] (eq. 19); absorbed mode applies W^O_i W^UV_i to the latent outputs. */
  private outputProjection(o: Tensor): Tensor {
    const [B, H, T, d] = o.shape as [number, number, number, number];
    const merged = o.transpose(1, 2).reshape([B, T, H * d]); // [B, T, H·d]
    if (this.mode === 'explicit') return this.oProj.forward(merged);
    const y = matmul(merged, this.absorbedWeights().output, { transposeB: true }); // [B, T, C]
    return this.oProj.bias === null ? y : y.add(this.oProj.bias);
  }

  // ── weight views ──

  /** kv_b_proj per head: key W^UK [H, dn, dc], rope W^UR [H, dR, dc] (PreRoPE only, else null), value W^UV [H, dv, dc]. */
  private upWeights(): { key: Tensor; rope: Tensor | null; value: Tensor } {
    const { numHeads: H, kvLoraRank: dc, qkNopeHeadDim: dn, qkRopeHeadDim: dR, vHeadDim: dv } = this;
    if (this.rope === 'decoupled') {
      const [key, value] = this.kvBProj.weight.reshape([H, dn + dv, dc]).split([dn, dv], 1);
      return { key: key!, rope: null, value: value! };
    }
    const [key, rope, value] = this.kvBProj.weight.reshape([H, dn + dR + dv, dc]).split([dn, dR, dv], 1);
    return { key: key!, rope: rope!, value: value! };
  }

  /** q_b_proj (or q_proj) per head: nope W^UQ [H, dn, dq], rope W^QR [H, dR, dq]. */
  private queryUpWeights(): { nope: Tensor; rope: Tensor } {
    const { numHeads: H, qkNopeHeadDim: dn, qkRopeHeadDim: dR } = this;
    const w = (this.qBProj ?? this.qProj)!.weight;
    const [nope, rope] = w.reshape([H, dn + dR, w.shape[1]!]).split([dn, dR], 1);
    return { nope: nope!, rope: rope! };
  }

  private checkCache(op: string, cache: KVCache, x: Tensor): void {
    if (!(cache instanceof LatentKVCache)) {
      throw new DTypeError(op, `cache is not a LatentKVCache — cache=${cache?.constructor?.name ?? String(cache)} (MLA caches latents: use mla.newCache())`, 'cache');
    }
    const heads = this.rope === 'decoupled' ? 1 : this.numHeads;
    if (cache.kvLoraRank !== this.kvLoraRank || cache.qkRopeHeadDim !== this.qkRopeHeadDim || cache.ropeKeyHeads !== heads) {
      throw new ShapeError(
        op,
        `cache layout does not match the layer — cache kvLoraRank=${cache.kvLoraRank}, qkRopeHeadDim=${cache.qkRopeHeadDim}, ropeKeyHeads=${cache.ropeKeyHeads} (layer: ${this.kvLoraRank}, ${this.qkRopeHeadDim}, ${heads}; use mla.newCache())`,
        'cache',
      );
    }
    if (cache.keyShape !== null && (cache.keyShape[0] !== x.shape[0] || cache.dtype !== x.dtype)) {
      throw new ShapeError(op, `cache holds ${fmtShape(cache.keyShape)} ${cache.dtype} rotary keys, which x=${fmtShape(x.shape)} ${x.dtype} cannot continue (same batch and dtype)`, 'cache');
    }
  }
}

function preRopeAbsorptionError(arg: string): ValueError {
  return new ValueError(
    'MultiHeadLatentAttention',
    "MLA-PreRoPE cannot be absorbed — mode='absorbed' with rope='pre-rope' (each key's rotary channels are R(n)·W^UR_i·c, and the position-dependent R(n) between the query and W^UR_i cannot be folded into the query projection; use mode 'explicit')",
    arg,
  );
}

/** diag(γ) W for an RMSNorm with gains γ (identity when it has none): W [n, C] → [n, C] in W's dtype. */
function gained(w: Tensor, norm: RMSNorm | null): Tensor {
  const gain = norm?.weight ?? null;
  return gain === null ? w : w.mul(gain.cast(w.dtype).unsqueeze(1));
}
