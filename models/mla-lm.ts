/**
 * A decoder-only language model with Multi-head Latent Attention (DeepSeek-V2/V3's attention, nn/mla.ts), written
 * like models/gpt.ts: the config, block, model, head and loss in this file, with shapes in comments; the attention
 * is nn/mla.ts's MultiHeadLatentAttention, the norms and SwiGLU nn/'s. Each layer is pre-norm:
 * x + MLA(RMSNorm(x)), then + SwiGLU(RMSNorm(·)) — DeepSeek's dense layers; its MoE layers are not modelled.
 * Parameter names are HF `DeepseekV3ForCausalLM`'s camelCased without the `model.` prefix, so checkpoints map by
 * name (`mlaLMParameterName`). Decoding caches are `LatentKVCache`s: kvLoraRank + qkRopeHeadDim numbers per token
 * per layer. B batch, T sequence length, C model dim, V vocabulary size.
 */
import {
  DTypeError, Generator, Module, ShapeError, Tensor, ValueError, arange, crossEntropy, describeValue, expectInteger, expectNumber, expectOneOf, fmtShape, matmul,
  expectGenerator, expectPositions, expectSize, optionalDType, type DType,
} from '../core/index.js';
import {
  Embedding, LatentKVCache, Linear, MultiHeadLatentAttention, RMSNorm, SwiGLU, expectWeight,
  type KVCache, type MLACallOptions, type MLAMode, type MLARoPE,
} from '../nn/index.js';
import type { PairLayout, Positions } from '../positional/index.js';
import { expectLayerStack, expectTokenIds, optionalCaches } from './checks.js';

const DTYPES = ['float32', 'float64'] as const;

/**
 * Every field may be given in camelCase or in DeepSeek's / HF's snake_case (shown second), so a parsed
 * `config.json` can be passed as it is (unknown fields such as MoE settings are ignored). Giving both spellings
 * with different values is an error.
 */
export interface MLALMConfig {
  vocabSize?: number;
  vocab_size?: number;
  /** Model dim C. */
  dim?: number;
  hidden_size?: number;
  numLayers?: number;
  num_hidden_layers?: number;
  numHeads?: number;
  num_attention_heads?: number;
  kvLoraRank?: number;
  kv_lora_rank?: number;
  /** null or absent: a plain q_proj (no query compression). */
  qLoraRank?: number | null;
  q_lora_rank?: number | null;
  qkNopeHeadDim?: number;
  qk_nope_head_dim?: number;
  qkRopeHeadDim?: number;
  qk_rope_head_dim?: number;
  vHeadDim?: number;
  v_head_dim?: number;
  /** RoPE base; default 10000. */
  ropeBase?: number;
  rope_theta?: number;
  /** Default 'interleaved' (DeepSeek's weights); rope_interleave: true = 'interleaved', false = 'half'. */
  ropeLayout?: PairLayout;
  rope_interleave?: boolean;
  /** SwiGLU hidden size; default round(8C/3). */
  hidden?: number;
  intermediate_size?: number;
  /** ε of every RMSNorm; default 1e-6. */
  normEps?: number;
  rms_norm_eps?: number;
  /** Output head = token embedding (default true). */
  tieEmbeddings?: boolean;
  tie_word_embeddings?: boolean;
  /** Biases on q_a_proj, kv_a_proj_with_mqa and o_proj; default false. */
  attentionBias?: boolean;
  attention_bias?: boolean;
  /** Std of the N(0, σ²) init of every weight matrix and the embedding; default 0.02 (HF). */
  initializerRange?: number;
  initializer_range?: number;
  /** 'decoupled' (DeepSeek, default) or 'pre-rope' (MLA-PreRoPE). */
  rope?: MLARoPE;
  /** 'explicit' (default) or 'absorbed'; switch later with setMode. */
  mode?: MLAMode;
  seed?: number;
  dtype?: DType;
}

/** The config with one spelling (camelCase) and every default filled in. */
export interface ResolvedMLALMConfig {
  vocabSize: number;
  dim: number;
  numLayers: number;
  numHeads: number;
  kvLoraRank: number;
  qLoraRank: number | null;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
  ropeBase: number;
  ropeLayout: PairLayout;
  hidden: number;
  normEps: number;
  tieEmbeddings: boolean;
  attentionBias: boolean;
  initializerRange: number;
  rope: MLARoPE;
  mode: MLAMode;
  seed: number;
  dtype: DType;
}

/** Normalise an MLALMConfig: one spelling per field, defaults filled, clear errors for missing or conflicting fields. */
export function resolveMLALMConfig(config: MLALMConfig): ResolvedMLALMConfig {
  return resolveAs('resolveMLALMConfig', config);
}

/** resolveMLALMConfig with `op` (the function or class the user called) in the error messages. */
function resolveAs(op: string, config: MLALMConfig): ResolvedMLALMConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new DTypeError(op, `config must be an object, got ${describeValue(config)}`, 'config');
  const raw = config as Readonly<Record<string, unknown>>;
  const either = (camel: string, snake: string | null): unknown => {
    const a = raw[camel];
    const b = snake === null ? undefined : raw[snake];
    if (a !== undefined && b !== undefined && a !== b) {
      throw new ValueError(op, `config fields disagree — ${camel}=${String(a)}, ${snake}=${String(b)} (give one spelling, or equal values)`, camel);
    }
    return a !== undefined ? a : b;
  };
  const number = (camel: string, snake: string | null, fallback?: number): number => {
    const v = either(camel, snake);
    if (v === undefined && fallback !== undefined) return fallback;
    const names = snake === null ? camel : `${camel} or DeepSeek's ${snake}`;
    if (v === undefined) throw new ValueError(op, `config field is missing — ${camel}=undefined (give ${names})`, camel);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(op, `config field is not a finite number — ${camel}=${String(v)} (give ${names})`, camel);
    return v;
  };
  const flag = (camel: string, snake: string, fallback: boolean): boolean => {
    const v = either(camel, snake);
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new ValueError(op, `config field is not a boolean — ${camel}=${String(v)} (true or false)`, camel);
    return v;
  };

  // an enum field given as null is refused, not read as "use the default"
  if (raw['ropeLayout'] !== undefined) expectOneOf(op, 'ropeLayout', raw['ropeLayout'], ['interleaved', 'half'] as const);
  if (raw['rope'] !== undefined) expectOneOf(op, 'rope', raw['rope'], ['decoupled', 'pre-rope'] as const);
  if (raw['mode'] !== undefined) expectOneOf(op, 'mode', raw['mode'], ['explicit', 'absorbed'] as const);
  optionalDType(op, 'dtype', raw['dtype']);
  const dim = number('dim', 'hidden_size');
  const qLora = either('qLoraRank', 'q_lora_rank');
  const qLoraRank = qLora === undefined || qLora === null ? null : number('qLoraRank', 'q_lora_rank');
  const interleave = raw['rope_interleave'];
  if (interleave !== undefined && typeof interleave !== 'boolean') {
    throw new ValueError(op, `config field is not a boolean — rope_interleave=${String(interleave)} (true = interleaved pairs, false = half)`, 'rope_interleave');
  }
  const layoutFromSnake: PairLayout | undefined = interleave === undefined ? undefined : interleave ? 'interleaved' : 'half';
  if (config.ropeLayout !== undefined && layoutFromSnake !== undefined && config.ropeLayout !== layoutFromSnake) {
    throw new ValueError(op, `config fields disagree — ropeLayout='${config.ropeLayout}', rope_interleave=${String(interleave)} (give one, or matching values)`, 'ropeLayout');
  }
  const vocabSize = number('vocabSize', 'vocab_size');
  const numLayers = number('numLayers', 'num_hidden_layers');
  for (const [name, v] of [['vocabSize', vocabSize], ['numLayers', numLayers]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new ValueError(op, `config field is not a positive integer — ${name}=${v}`, name);
  }
  const resolved: ResolvedMLALMConfig = {
    vocabSize,
    dim,
    numLayers,
    numHeads: number('numHeads', 'num_attention_heads'),
    kvLoraRank: number('kvLoraRank', 'kv_lora_rank'),
    qLoraRank,
    qkNopeHeadDim: number('qkNopeHeadDim', 'qk_nope_head_dim'),
    qkRopeHeadDim: number('qkRopeHeadDim', 'qk_rope_head_dim'),
    vHeadDim: number('vHeadDim', 'v_head_dim'),
    ropeBase: number('ropeBase', 'rope_theta', 10000),
    ropeLayout: config.ropeLayout ?? layoutFromSnake ?? 'interleaved',
    hidden: number('hidden', 'intermediate_size', Math.round((8 * dim) / 3)),
    normEps: number('normEps', 'rms_norm_eps', 1e-6),
    tieEmbeddings: flag('tieEmbeddings', 'tie_word_embeddings', true),
    attentionBias: flag('attentionBias', 'attention_bias', false),
    initializerRange: number('initializerRange', 'initializer_range', 0.02),
    rope: config.rope ?? 'decoupled',
    mode: config.mode ?? 'explicit',
    seed: number('seed', null, 0),
    dtype: config.dtype ?? 'float32',
  };
  // every field in range here, so the layers built from it never throw under their own names
  const c = resolved;
  for (const name of ['dim', 'numHeads', 'kvLoraRank', 'qkNopeHeadDim', 'qkRopeHeadDim', 'vHeadDim', 'hidden'] as const) expectSize(op, name, c[name]);
  if (c.qLoraRank !== null) expectSize(op, 'qLoraRank', c.qLoraRank);
  if (c.qkRopeHeadDim % 2 !== 0) throw new ValueError(op, `qkRopeHeadDim=${c.qkRopeHeadDim} must be even (rotary channels come in pairs)`, 'qkRopeHeadDim');
  expectNumber(op, 'ropeBase', c.ropeBase, { above: 1 });
  expectNumber(op, 'normEps', c.normEps, { min: 0 });
  expectNumber(op, 'initializerRange', c.initializerRange, { min: 0 });
  expectOneOf(op, 'ropeLayout', c.ropeLayout, ['interleaved', 'half'] as const);
  expectOneOf(op, 'rope', c.rope, ['decoupled', 'pre-rope'] as const);
  expectOneOf(op, 'mode', c.mode, ['explicit', 'absorbed'] as const);
  if (c.rope === 'pre-rope' && c.mode === 'absorbed') throw new ValueError(op, "mode 'absorbed' is impossible with rope 'pre-rope' (use 'explicit')", 'mode');
  expectOneOf(op, 'dtype', c.dtype, DTYPES);
  expectInteger(op, 'seed', c.seed, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
  expectWeight(op, 'embedTokens.weight', c.vocabSize, c.dim);
  if (c.qLoraRank !== null) expectWeight(op, 'qLoraRank', c.numHeads * (c.qkNopeHeadDim + c.qkRopeHeadDim), c.qLoraRank);
  expectWeight(op, 'hidden', c.hidden, c.dim);
  expectLayerStack(op, 'numLayers', c.numLayers, c.dim * c.dim);
  expectWeight(op, 'kvBProj.weight', c.numHeads * (c.qkNopeHeadDim + c.qkRopeHeadDim + c.vHeadDim), c.kvLoraRank);
  return resolved;
}

/**
 * HF DeepSeek parameter name → this model's: drop `model.`, camelCase each segment, and name the dense MLP's
 * projections as SwiGLU does (`gate_proj` → `gate`). `model.layers.0.self_attn.kv_a_proj_with_mqa.weight` →
 * `layers.0.selfAttn.kvAProjWithMqa.weight`. MoE experts have no counterpart (loadStateDict reports them).
 */
export function mlaLMParameterName(hfName: string): string {
  if (typeof hfName !== 'string') throw new DTypeError('mlaLMParameterName', `hfName must be a string, got ${describeValue(hfName)}`, 'hfName');
  return hfName
    .replace(/^model\./, '')
    .replace(/\.mlp\.(gate|up|down)_proj\./, '.mlp.$1.')
    .replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Options of `MLALM.forward`: `caches`, one latent KV cache per layer, for incremental decoding, and `positions`. */
export interface MLALMForwardOptions {
  /** One LatentKVCache per layer (from newCaches()) for incremental decoding. */
  caches?: readonly KVCache[];
  /** Positions [T] or [B, T]; default continues from the caches (0 without). */
  positions?: Positions;
}

/** Pre-norm decoder layer (HF `DeepseekV3DecoderLayer` with a dense MLP): x [B, T, C] → [B, T, C]. */
export class MLABlock extends Module {
  readonly inputLayernorm: RMSNorm;
  readonly selfAttn: MultiHeadLatentAttention;
  readonly postAttentionLayernorm: RMSNorm;
  readonly mlp: SwiGLU;

  /** c: a config (resolved by resolveMLALMConfig, or raw: it is resolved and checked here); generator: the init draws. */
  constructor(config: ResolvedMLALMConfig, generator: Generator) {
    super();
    const c = resolveAs('MLABlock', config);
    expectGenerator('MLABlock', 'generator', generator);
    const dtype = { dtype: c.dtype };
    this.inputLayernorm = new RMSNorm(c.dim, { eps: c.normEps, ...dtype });
    this.selfAttn = new MultiHeadLatentAttention({
      dim: c.dim, numHeads: c.numHeads, kvLoraRank: c.kvLoraRank, qLoraRank: c.qLoraRank, qkNopeHeadDim: c.qkNopeHeadDim,
      qkRopeHeadDim: c.qkRopeHeadDim, vHeadDim: c.vHeadDim, rope: c.rope, mode: c.mode, ropeBase: c.ropeBase, ropeLayout: c.ropeLayout,
      bias: c.attentionBias, normEps: c.normEps, generator, ...dtype,
    });
    this.postAttentionLayernorm = new RMSNorm(c.dim, { eps: c.normEps, ...dtype });
    this.mlp = new SwiGLU(c.dim, c.hidden, { generator, ...dtype });
  }

  /** x: [B, T, C] → [B, T, C]; options: a LatentKVCache and positions, as MultiHeadLatentAttention.forward. */
  forward(x: Tensor, options: MLACallOptions = {}): Tensor {
    const op = 'MLABlock.forward';
    return runBlock(this, x, this.selfAttn.checkCall(op, x, options), op);
  }
}

/**
 * The block on x whose call its attention's checkCall accepted (`checked`, the proof, used up here); `op` (the
 * method the user called) names what the rotary encoding refuses. File-private: every caller holds a proof.
 */
function runBlock(block: MLABlock, x: Tensor, checked: ReturnType<MultiHeadLatentAttention['checkCall']>, op: string): Tensor {
  const h = x.add(block.selfAttn.forwardChecked(op, block.inputLayernorm.forward(x), checked)); // [B, T, C]
  return h.add(block.mlp.forward(block.postAttentionLayernorm.forward(h))); // [B, T, C]
}

/** Satisfies nn/generate.ts's `CausalLM`: `generate(model, prompt, …)` decodes with latent caches. */
export class MLALM extends Module {
  readonly config: Readonly<ResolvedMLALMConfig>;
  readonly embedTokens: Embedding;
  readonly layers: MLABlock[];
  readonly norm: RMSNorm;
  /** Untied output head [V, C]; null when tied to embedTokens. */
  readonly lmHead: Linear | null;

  constructor(config: MLALMConfig) {
    super();
    const c = resolveAs('MLALM', config);
    this.config = Object.freeze(c);
    const g = new Generator(c.seed);
    const dtype = { dtype: c.dtype };
    this.embedTokens = new Embedding(c.vocabSize, c.dim, { generator: g, std: c.initializerRange, ...dtype });
    this.layers = Array.from({ length: c.numLayers }, () => new MLABlock(c, g));
    this.norm = new RMSNorm(c.dim, { eps: c.normEps, ...dtype });
    this.lmHead = c.tieEmbeddings ? null : new Linear(c.dim, c.vocabSize, { bias: false, generator: g, ...dtype });
    // HF DeepseekV3PreTrainedModel._init_weights: every Linear weight ~ N(0, initializer_range²), biases 0
    for (const [name, p] of this.namedParameters()) {
      if (name.endsWith('.bias')) p.data.fill(0);
      else if (p.ndim === 2) for (let i = 0; i < p.size; i++) p.data[i] = c.initializerRange * g.normal();
    }
  }

  /** One empty LatentKVCache per layer. */
  newCaches(): LatentKVCache[] {
    return this.layers.map((layer) => layer.selfAttn.newCache());
  }

  /** Run every layer's attention explicitly or absorbed (the logits agree up to rounding). */
  setMode(mode: MLAMode): void {
    expectOneOf('MLALM.setMode', 'mode', mode, ['explicit', 'absorbed'] as const);
    if (mode === 'absorbed' && this.config.rope === 'pre-rope') throw new ValueError('MLALM.setMode', "MLA-PreRoPE cannot be absorbed (use 'explicit')", 'mode');
    for (const layer of this.layers) layer.selfAttn.mode = mode;
  }

  /** ids: [B, T] token ids → logits [B, T, V]. Positions continue from the caches when given. */
  forward(ids: Tensor, options: MLALMForwardOptions = {}): Tensor {
    const op = 'MLALM.forward';
    this.checkForward(op, ids, options);
    const { caches } = options;
    const T = ids.shape[1]!;
    const offset = caches?.[0]?.position ?? 0;
    const positions = options.positions ?? arange(offset, offset + T, 1, { dtype: 'float64' }); // [T]
    let x = this.embedTokens.forward(ids); // [B, T, C]
    // every layer's input has x's shape and dtype: all layers are checked (caches included) before any cache grows
    const checked = this.layers.map((layer, i) => layer.selfAttn.checkCall(op, x, { positions, cache: caches?.[i] as LatentKVCache | undefined }));
    this.layers.forEach((layer, i) => {
      x = runBlock(layer, x, checked[i]!, op); // [B, T, C]
    });
    x = this.norm.forward(x);
    return this.lmHead?.forward(x) ?? matmul(x, this.embedTokens.weight, { transposeB: true }); // [B, T, V]
  }

  /** Mean next-token cross-entropy: ids [B, T], targets [B, T]. */
  loss(ids: Tensor, targets: Tensor): Tensor {
    const op = 'MLALM.loss';
    this.checkForward(op, ids, {});
    expectTokenIds(op, 'targets', targets, this.config.vocabSize);
    if (targets.shape[0] !== ids.shape[0] || targets.shape[1] !== ids.shape[1]) {
      throw new ShapeError(op, `targets=${fmtShape(targets.shape)} must have the shape of ids=${fmtShape(ids.shape)}`, 'targets');
    }
    return crossEntropy(this.forward(ids), targets);
  }

  /** ids [B, T] of token ids, positions, and one LatentKVCache per layer (forward checks that each layer can continue its cache). */
  private checkForward(op: string, ids: unknown, options: MLALMForwardOptions | undefined): asserts ids is Tensor {
    expectTokenIds(op, 'ids', ids, this.config.vocabSize);
    if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new DTypeError(op, `options must be an options object, got ${describeValue(options)}`, 'options');
    if (options.positions !== undefined) expectPositions(op, 'positions', options.positions);
    optionalCaches(op, 'caches', options.caches, this.layers.length, LatentKVCache, 'MLA caches latents: use newCaches()');
  }
}
