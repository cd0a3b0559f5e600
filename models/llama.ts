/**
 * Hugging Face's Llama (Touvron et al., "LLaMA: Open and Efficient Foundation Language Models", 2023; "Llama 2",
 * 2023; Llama-3, 2024) as transformers writes it: huggingface/transformers `models/llama/modeling_llama.py`
 * (`LlamaForCausalLM`, `LlamaModel`, `LlamaDecoderLayer`, `LlamaAttention`, `LlamaMLP`, `LlamaRMSNorm`,
 * `LlamaRotaryEmbedding`), read at c49429ed (blob ceaea600). Built from a parsed `config.json` and loaded from / saved
 * to HF's exact state-dict names, so a checkpoint goes in and out unchanged. B batch, T sequence length, C
 * hidden_size, V vocab_size, H heads, Hkv key/value heads, D head_dim, F intermediate_size.
 *
 *   h₀ = embed_tokens[ids]                                                   [B, T, C]
 *   RMSNorm(x) = w ⊙ x / √(mean(x²) + rms_norm_eps)                         (LlamaRMSNorm)
 *   q, k, v = x W_qᵀ + b_q, x W_kᵀ + b_k, x W_vᵀ + b_v    (biases iff attention_bias; k, v with Hkv heads: GQA)
 *   q, k ← s · RoPE_half(q, k; θ′)   θ′, s = fromHFConfig(config) (rope_scaling or rope_parameters; s = attention_scaling)
 *   attn = softmax(q kᵀ / √D + causal) v,  o = attn W_oᵀ + b_o                (LlamaAttention, eager)
 *   h ← h + o(RMSNorm₁(h));  h ← h + W_down(silu(W_gate x) ⊙ W_up x), x = RMSNorm₂(h)   (biases iff mlp_bias)
 *   logits = RMSNorm_f(h) W_headᵀ, W_head = embed_tokens when tie_word_embeddings  [B, T, V]
 *
 * Rotation is HF's rotate_half layout ('half': channel i pairs with i + D/2), the encoding ropeFromHFConfig builds:
 * the length-dependent rope types follow HF's `dynamic_rope_update` per forward call (dynamic NTK rescales once the
 * call's positions pass max_position_embeddings; longrope switches to long_factor past the original length), with
 * HF's KV-cache behaviour (keys keep the rotation they were cached with). Any other positional encoding (a registry
 * name, an instance, one per layer) can replace it for experiments (`positional`, `setPositional`); such a model
 * trains and decodes, but toHF refuses it: transformers would rotate with the config's rope instead.
 */
import {
  DTypeError, Generator, Module, ShapeError, Tensor, ValueError, arange, asPartOf, crossEntropy, describeValue, expectOptions,
  fmtShape, matmul, optionalDType, type DType,
} from '../core/index.js';
import { Embedding, KVCache, Linear, MultiHeadAttention, RMSNorm, SwiGLU, expectWeight, parseSafetensors } from '../nn/index.js';
import { fromHFConfig, ropeFromHFConfig, type HFRoPEConfig, type PositionalEncoding, type PositionalSpec } from '../positional/index.js';
import { expectLayerStack, expectSeed, expectTokenIds, optionalCaches } from './checks.js';
import { layerEncodings, type PositionalChoice } from './positional-choice.js';

/**
 * The config.json fields LlamaForCausalLM reads (HF's names); every other field is kept (toHF writes it back) and
 * ignored. Rope settings: `rope_theta` + `rope_scaling` (transformers 4.x) or `rope_parameters` (transformers 5).
 */
export interface LlamaHFConfig extends HFRoPEConfig {
  vocab_size?: number;
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  /** Default num_attention_heads (MHA). */
  num_key_value_heads?: number | null;
  /** Default hidden_size / num_attention_heads. */
  head_dim?: number | null;
  /** Default 1e-6 (LlamaConfig's). */
  rms_norm_eps?: number;
  /** Biases on q/k/v/o_proj; default false. */
  attention_bias?: boolean;
  /** Biases on gate/up/down_proj; default false. */
  mlp_bias?: boolean;
  /** Default false (LlamaConfig's). */
  tie_word_embeddings?: boolean;
  /** Only 'silu' (Llama's SwiGLU). */
  hidden_act?: string;
  /** Std of the N(0, σ²) init of a freshly built model; default 0.02. */
  initializer_range?: number;
  /** Default 2048 (LlamaConfig's); a registry encoding given as `positional` takes it as its training context. */
  max_position_embeddings?: number | null;
  model_type?: string;
}

/** The config with every field LlamaForCausalLM uses resolved. */
interface ResolvedLlama {
  vocabSize: number;
  dim: number;
  hidden: number;
  numLayers: number;
  numHeads: number;
  numKVHeads: number;
  headDim: number;
  eps: number;
  attentionBias: boolean;
  mlpBias: boolean;
  tied: boolean;
  initializerRange: number;
  maxPositions: number;
}

/** Options of `loadHFModel` and `LlamaForCausalLM`: `dtype` of the weights and `seed` of any random initialisation. */
export interface LlamaOptions {
  /** Parameter dtype; default 'float32' (HF's checkpoints here are float32). */
  dtype?: DType;
  /** Seed of a freshly built model's init (fromHF overwrites every parameter); default 0. */
  seed?: number;
  /**
   * Use this encoding instead of the config's rope settings: a registry name (built with head_dim, hidden_size, the
   * config's rope_theta and max_position_embeddings as the training context), an instance, or a function layer →
   * encoding (GPT's rules).
   * Default: the config's rope (HF's). toHF refuses a model that does not use the config's rope.
   */
  positional?: PositionalChoice;
}

/** Options of `LlamaForCausalLM.forward`: `caches`, one KV cache per layer, for incremental decoding. */
export interface LlamaForwardOptions {
  /** One KVCache per layer (from newCaches()) for token-by-token decoding; positions continue from them. */
  caches?: readonly KVCache[];
}

/** What toHF returns and fromHF takes: config.json's object and the tensors under HF's state-dict names. */
export interface LlamaHFModel {
  config: LlamaHFConfig;
  weights: Record<string, Tensor>;
}

/** HF state-dict name → this model's parameter name (inverse of `hfName`). */
const TO_OURS: ReadonlyArray<[RegExp, string]> = [
  [/^model\.embed_tokens\.weight$/, 'embedTokens.weight'],
  [/^model\.layers\.(\d+)\.self_attn\.([qkvo])_proj\.(weight|bias)$/, 'layers.$1.selfAttn.w$2.$3'],
  [/^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.(weight|bias)$/, 'layers.$1.mlp.$2.$3'],
  [/^model\.layers\.(\d+)\.input_layernorm\.weight$/, 'layers.$1.inputLayernorm.weight'],
  [/^model\.layers\.(\d+)\.post_attention_layernorm\.weight$/, 'layers.$1.postAttentionLayernorm.weight'],
  [/^model\.norm\.weight$/, 'norm.weight'],
  [/^lm_head\.weight$/, 'lmHead.weight'],
];

/** This model's parameter name → HF's state-dict name. */
function hfName(ours: string): string {
  return ours
    .replace(/^embedTokens\./, 'model.embed_tokens.')
    .replace(/^layers\.(\d+)\.selfAttn\.w([qkvo])\./, 'model.layers.$1.self_attn.$2_proj.')
    .replace(/^layers\.(\d+)\.mlp\.(gate|up|down)\./, 'model.layers.$1.mlp.$2_proj.')
    .replace(/^layers\.(\d+)\.inputLayernorm\./, 'model.layers.$1.input_layernorm.')
    .replace(/^layers\.(\d+)\.postAttentionLayernorm\./, 'model.layers.$1.post_attention_layernorm.')
    .replace(/^norm\./, 'model.norm.')
    .replace(/^lmHead\./, 'lm_head.');
}

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every field LlamaForCausalLM reads, checked with `op` (the entry the user called) in the messages. */
function resolveConfig(op: string, config: unknown): ResolvedLlama {
  if (!isRecord(config)) throw new DTypeError(op, `config must be an object (the parsed config.json), got ${describeValue(config)}`, 'config');
  const c = config;
  const size = (key: string, fallback?: number): number => {
    const v = c[key];
    if ((v === undefined || v === null) && fallback !== undefined) return fallback;
    if (v === undefined || v === null) throw new ValueError(op, `config.${key} is missing (a LlamaConfig field)`, key);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValueError(op, `config.${key} must be a positive integer, got ${describeValue(v)}`, key);
    return v;
  };
  // a flag or number given as null is refused (HF would fail on it), not read as "use the default"
  const flag = (key: string, fallback: boolean): boolean => {
    const v = c[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new ValueError(op, `config.${key} must be true or false, got ${describeValue(v)}`, key);
    return v;
  };
  const real = (key: string, fallback: number, min: number): number => {
    const v = c[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new ValueError(op, `config.${key} must be a finite number ≥ ${min}, got ${describeValue(v)}`, key);
    return v;
  };
  if (c['model_type'] !== undefined && c['model_type'] !== 'llama') {
    throw new ValueError(op, `config.model_type must be 'llama', got ${describeValue(c['model_type'])}`, 'model_type');
  }
  if (c['hidden_act'] !== undefined && c['hidden_act'] !== 'silu') {
    throw new ValueError(op, `config.hidden_act must be 'silu' (Llama's SwiGLU MLP), got ${describeValue(c['hidden_act'])}`, 'hidden_act');
  }
  const vocabSize = size('vocab_size');
  const dim = size('hidden_size');
  const hidden = size('intermediate_size');
  const numLayers = size('num_hidden_layers');
  const numHeads = size('num_attention_heads');
  const numKVHeads = size('num_key_value_heads', numHeads);
  if (numHeads % numKVHeads !== 0) throw new ValueError(op, `config.num_key_value_heads=${numKVHeads} must divide num_attention_heads=${numHeads}`, 'num_key_value_heads');
  if ((c['head_dim'] === undefined || c['head_dim'] === null) && dim % numHeads !== 0) {
    throw new ValueError(op, `config.hidden_size=${dim} is not divisible by num_attention_heads=${numHeads} (give head_dim)`, 'hidden_size');
  }
  const headDim = size('head_dim', dim / numHeads);
  if (headDim % 2 !== 0) throw new ValueError(op, `config.head_dim=${headDim} must be even (RoPE rotates pairs)`, 'head_dim');
  const r: ResolvedLlama = {
    vocabSize, dim, hidden, numLayers, numHeads, numKVHeads, headDim,
    eps: real('rms_norm_eps', 1e-6, 0),
    attentionBias: flag('attention_bias', false),
    mlpBias: flag('mlp_bias', false),
    tied: flag('tie_word_embeddings', false),
    initializerRange: real('initializer_range', 0.02, 0),
    maxPositions: size('max_position_embeddings', 2048),
  };
  expectWeight(op, 'embed_tokens.weight', vocabSize, dim);
  expectWeight(op, 'q_proj.weight', numHeads * headDim, dim);
  expectWeight(op, 'gate_proj.weight', hidden, dim);
  expectLayerStack(op, 'num_hidden_layers', numLayers, dim * dim);
  return r;
}

/** dtype (default float32), seed (default 0) and positional (default: the config's rope) of LlamaOptions. */
function resolveOptions(op: string, options: unknown): { dtype: DType; seed: number; positional?: PositionalChoice } {
  const o = expectOptions(op, 'options', options as LlamaOptions | undefined, ['dtype', 'seed', 'positional']);
  return {
    dtype: optionalDType(op, 'dtype', o.dtype) ?? 'float32',
    seed: o.seed === undefined ? 0 : expectSeed(op, o.seed),
    ...(o.positional !== undefined ? { positional: o.positional } : {}),
  };
}

/** A deep copy of config.json's object (what toHF writes back); a config JSON cannot hold is refused. */
function jsonCopy(op: string, config: LlamaHFConfig): LlamaHFConfig {
  try {
    return JSON.parse(JSON.stringify(config)) as LlamaHFConfig;
  } catch (e) {
    throw new ValueError(op, `config must be JSON data (a parsed config.json) — ${e instanceof Error ? e.message : String(e)}`, 'config');
  }
}

/**
 * The encoding the config's rope settings give, as transformers' Llama builds it (ropeFromHFConfig, rotate_half
 * layout): RoPE with the static table, DynamicNTKRoPE, HFLongRoPE or PRoPE. Refused: what fromHFConfig refuses,
 * partial rotary (Llama rotates the whole head) and M-RoPE sections (not Llama's).
 */
function ropeOf(op: string, config: LlamaHFConfig, headDim: number): { rope: PositionalEncoding; base: number } {
  let settings: ReturnType<typeof fromHFConfig>;
  let rope: PositionalEncoding;
  try {
    settings = fromHFConfig(config);
    rope = ropeFromHFConfig(config);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new ValueError(op, `config's rope settings are refused — ${message}`, 'rope_parameters');
  }
  if (settings.mropeSection !== undefined) {
    throw new ValueError(op, `mrope_section=[${settings.mropeSection.join(', ')}] is multimodal RoPE (Qwen2-VL), not Llama's 1-D positions`, 'mrope_section');
  }
  if (settings.rotaryDim !== headDim) {
    throw new ValueError(op, `partial rotary is not Llama's — int(head_dim · partial_rotary_factor) = ${settings.rotaryDim}, head_dim=${headDim} (Llama rotates the whole head)`, 'partial_rotary_factor');
  }
  return { rope, base: settings.base };
}

/** One pre-norm decoder layer (HF `LlamaDecoderLayer`): x [B, T, C] → [B, T, C]. */
class LlamaDecoderLayer extends Module {
  readonly inputLayernorm: RMSNorm;
  readonly selfAttn: MultiHeadAttention;
  readonly postAttentionLayernorm: RMSNorm;
  readonly mlp: SwiGLU;

  constructor(r: ResolvedLlama, positional: PositionalEncoding, generator: Generator, dtype: DType) {
    super();
    this.inputLayernorm = new RMSNorm(r.dim, { eps: r.eps, dtype });
    this.selfAttn = new MultiHeadAttention(r.dim, {
      numHeads: r.numHeads, numKVHeads: r.numKVHeads, headDim: r.headDim, bias: r.attentionBias, positional, generator, dtype,
    });
    this.postAttentionLayernorm = new RMSNorm(r.dim, { eps: r.eps, dtype });
    this.mlp = new SwiGLU(r.dim, r.hidden, { bias: r.mlpBias, generator, dtype });
  }
}

/** Satisfies nn/generate.ts's `CausalLM` (forward with caches, newCaches). */
export class LlamaForCausalLM extends Module {
  /** The config.json object it was built from (a frozen deep copy); toHF writes it back. */
  readonly config: Readonly<LlamaHFConfig>;
  readonly embedTokens: Embedding;
  readonly layers: LlamaDecoderLayer[];
  readonly norm: RMSNorm;
  /** Untied output head [V, C]; null when tie_word_embeddings (the head is embedTokens.weight). */
  readonly lmHead: Linear | null;
  /** The encoding the config's rope settings give (HF's); the layers use it unless `positional` replaced it. */
  readonly rope: PositionalEncoding;
  /** The model-level encoding in use: `rope`, or a replacement's (its input embedding is added to the tokens). */
  positional: PositionalEncoding;
  private readonly resolved: ResolvedLlama;
  /** What a registry name given as `positional` is built with. */
  private readonly spec: PositionalSpec;

  /** A freshly initialised model (HF `_init_weights`: weights ~ N(0, initializer_range²), biases 0, norms 1). */
  constructor(config: LlamaHFConfig, options: LlamaOptions = {}) {
    super();
    const op = 'LlamaForCausalLM';
    const r = resolveConfig(op, config);
    const { dtype, seed, positional } = resolveOptions(op, options);
    const { rope, base } = ropeOf(op, config, r.headDim);
    this.rope = rope;
    this.config = Object.freeze(jsonCopy(op, config));
    this.resolved = r;
    const g = new Generator(seed);
    this.spec = { headDim: r.headDim, modelDim: r.dim, contextLength: r.maxPositions, base, numKVHeads: r.numKVHeads, generator: g, dtype };
    const chosen = positional === undefined ? { model: this.rope, layers: new Array<PositionalEncoding>(r.numLayers).fill(this.rope) } : layerEncodings(op, positional, this.spec, r.numLayers);
    this.positional = chosen.model;
    this.embedTokens = new Embedding(r.vocabSize, r.dim, { generator: g, std: r.initializerRange, dtype });
    this.layers = chosen.layers.map((p) => new LlamaDecoderLayer(r, p, g, dtype));
    this.norm = new RMSNorm(r.dim, { eps: r.eps, dtype });
    this.lmHead = r.tied ? null : new Linear(r.dim, r.vocabSize, { bias: false, std: r.initializerRange, generator: g, dtype });
    for (const [name, p] of this.namedParameters()) {
      if (name.endsWith('.bias')) p.data.fill(0);
      else if (p.ndim === 2) for (let i = 0; i < p.size; i++) p.data[i] = r.initializerRange * g.normal();
    }
  }

  /**
   * Build from a parsed config.json and its checkpoint: tensors under HF's state-dict names, or the bytes of a
   * model.safetensors. A tied model's checkpoint may omit lm_head.weight (save_pretrained does). Refused, before
   * anything is built: a missing or unexpected tensor, a mis-shaped one, an untied model without lm_head.weight.
   */
  static fromHF(config: LlamaHFConfig, weights: Readonly<Record<string, Tensor>> | ArrayBufferView | ArrayBuffer, options: LlamaOptions = {}): LlamaForCausalLM {
    return fromHFAs('LlamaForCausalLM.fromHF', config, weights, options);
  }

  /**
   * config.json's object and the weights under HF's state-dict names (copies; what save_pretrained writes: a tied
   * model has no lm_head.weight), so transformers' LlamaForCausalLM loads them; the config gains model_type 'llama'
   * and architectures ['LlamaForCausalLM'] when it lacks them. fromHF(toHF()) is bit-exact. Refused when a layer
   * does not use the config's rope (`positional` / setPositional replaced it).
   */
  toHF(): LlamaHFModel {
    const op = 'LlamaForCausalLM.toHF';
    const other = this.layers.findIndex((layer) => layer.selfAttn.positional !== this.rope);
    if (other >= 0) {
      throw new ValueError(op, `layer ${other} uses positional encoding '${this.layers[other]!.selfAttn.positional.name}', not the config's rope settings: transformers would rotate with the config's rope and give other logits (setPositional(model.rope) restores it)`, 'positional');
    }
    const weights: Record<string, Tensor> = {};
    for (const [name, p] of this.namedParameters()) weights[hfName(name)] = new Tensor(p.data.slice(), p.shape);
    // what transformers' Auto classes read to pick the architecture, when the config did not say
    const config = { model_type: 'llama', architectures: ['LlamaForCausalLM'], ...(JSON.parse(JSON.stringify(this.config)) as LlamaHFConfig) };
    return { config, weights };
  }

  /** One empty KV cache per layer. */
  newCaches(): KVCache[] {
    return this.layers.map(() => new KVCache());
  }

  /** ids: [B, T] token ids → logits [B, T, V]. Positions continue from the caches when given. */
  forward(ids: Tensor, options: LlamaForwardOptions = {}): Tensor {
    const op = 'LlamaForCausalLM.forward';
    const caches = this.checkForward(op, ids, options);
    const T = ids.shape[1]!;
    const offset = caches?.[0]?.position ?? 0;
    const positions = arange(offset, offset + T, 1, { dtype: 'float64' }); // [T]
    let x = this.embedTokens.forward(ids); // [B, T, C]
    const absolute = this.positional.inputEmbedding(positions, this.resolved.dim); // [T, C] or null (RoPE: null)
    if (absolute !== null) x = x.add(absolute);
    // every layer's input has x's shape and dtype: all are checked (caches included) before any cache grows
    const checked = this.layers.map((layer, i) => layer.selfAttn.checkCall(op, x, { positions, cache: caches?.[i] }));
    this.layers.forEach((layer, i) => {
      const h = x.add(layer.selfAttn.forwardChecked(op, layer.inputLayernorm.forward(x), checked[i]!)); // [B, T, C]
      x = h.add(layer.mlp.forward(layer.postAttentionLayernorm.forward(h))); // [B, T, C]
    });
    x = this.norm.forward(x);
    return this.lmHead?.forward(x) ?? matmul(x, this.embedTokens.weight, { transposeB: true }); // [B, T, V]
  }

  /** Mean next-token cross-entropy: ids [B, T], targets [B, T]. */
  loss(ids: Tensor, targets: Tensor): Tensor {
    const op = 'LlamaForCausalLM.loss';
    this.checkForward(op, ids, {});
    expectTokenIds(op, 'targets', targets, this.resolved.vocabSize);
    if (targets.shape[0] !== ids.shape[0] || targets.shape[1] !== ids.shape[1]) {
      throw new ShapeError(op, `targets=${fmtShape(targets.shape)} must have the shape of ids=${fmtShape(ids.shape)} (one next token per position)`, 'targets');
    }
    return crossEntropy(this.forward(ids), targets);
  }

  /**
   * Use another positional encoding (GPT.setPositional's rules: a registry name, an instance, a function layer →
   * encoding), e.g. a context-extension rule at evaluation; `setPositional(model.rope)` restores the config's.
   */
  setPositional(positional: PositionalChoice): void {
    const op = 'LlamaForCausalLM.setPositional';
    const { model, layers } = positional === this.rope
      ? { model: this.rope, layers: new Array<PositionalEncoding>(this.layers.length).fill(this.rope) }
      : layerEncodings(op, positional, { ...this.spec, dtype: this.embedTokens.weight.dtype }, this.layers.length);
    this.positional = model;
    this.layers.forEach((layer, i) => (layer.selfAttn.positional = layers[i]!));
  }

  /** ids [B, T] of token ids, and one KVCache per layer at one position. */
  private checkForward(op: string, ids: unknown, options: LlamaForwardOptions | undefined): readonly KVCache[] | undefined {
    expectTokenIds(op, 'ids', ids, this.resolved.vocabSize);
    const o = expectOptions(op, 'options', options, ['caches']);
    const caches = optionalCaches(op, 'caches', o.caches, this.layers.length, KVCache, 'use newCaches()');
    caches?.forEach((cache, i) => {
      if (cache.position !== caches[0]!.position) throw new ValueError(op, `caches[${i}].position=${cache.position} differs from caches[0]'s ${caches[0]!.position} (use newCaches())`, 'caches');
    });
    return caches;
  }
}

/** fromHF with `op` (the entry the user called) in the messages. */
function fromHFAs(op: string, config: LlamaHFConfig, weights: unknown, options: LlamaOptions): LlamaForCausalLM {
  const r = resolveConfig(op, config);
  ropeOf(op, config, r.headDim);
  jsonCopy(op, config);
  resolveOptions(op, options);
  let tensors: Readonly<Record<string, unknown>>;
  if (ArrayBuffer.isView(weights) || weights instanceof ArrayBuffer) {
    try {
      tensors = parseSafetensors(weights).tensors;
    } catch (e) {
      throw new ValueError(op, `weights are not a readable safetensors file — ${e instanceof Error ? e.message : String(e)}`, 'weights');
    }
  } else if (isRecord(weights) && !(weights instanceof Tensor)) {
    tensors = weights;
  } else {
    throw new DTypeError(op, `weights must be a Record<string, Tensor> under HF's state-dict names or safetensors bytes, got ${describeValue(weights)}`, 'weights');
  }
  // what HF's state dict holds for this config, with shapes: checked before anything is built
  const { vocabSize: V, dim: C, hidden: F, numHeads: H, numKVHeads: Hkv, headDim: D } = r;
  const expected = new Map<string, number[]>([['model.embed_tokens.weight', [V, C]]]);
  for (let i = 0; i < r.numLayers; i++) {
    const p = `model.layers.${i}.`;
    const proj: Array<[string, number, number, boolean]> = [
      ['self_attn.q_proj', H * D, C, r.attentionBias], ['self_attn.k_proj', Hkv * D, C, r.attentionBias], ['self_attn.v_proj', Hkv * D, C, r.attentionBias],
      ['self_attn.o_proj', C, H * D, r.attentionBias], ['mlp.gate_proj', F, C, r.mlpBias], ['mlp.up_proj', F, C, r.mlpBias], ['mlp.down_proj', C, F, r.mlpBias],
    ];
    for (const [name, out, inp, bias] of proj) {
      expected.set(`${p}${name}.weight`, [out, inp]);
      if (bias) expected.set(`${p}${name}.bias`, [out]);
    }
    expected.set(`${p}input_layernorm.weight`, [C]);
    expected.set(`${p}post_attention_layernorm.weight`, [C]);
  }
  expected.set('model.norm.weight', [C]);
  expected.set('lm_head.weight', [V, C]);
  const missing = [...expected.keys()].filter((k) => !Object.hasOwn(tensors, k) && !(k === 'lm_head.weight' && r.tied));
  if (missing.length > 0) {
    const why = missing.includes('lm_head.weight') ? ' (tie_word_embeddings is false: an untied model needs lm_head.weight)' : '';
    throw new ValueError(op, `weights lack ${missing.length} tensor(s) the config needs: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}${why}`, 'weights');
  }
  const unexpected = Object.keys(tensors).filter((k) => !expected.has(k) && !/\.rotary_emb\.inv_freq$/.test(k)); // old checkpoints saved the rope buffer
  if (unexpected.length > 0) {
    throw new ValueError(op, `weights hold ${unexpected.length} tensor(s) this config has no place for: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', …' : ''} (check attention_bias, mlp_bias, num_hidden_layers)`, 'weights');
  }
  const state: Record<string, Tensor> = {};
  for (const [name, shape] of expected) {
    if (!Object.hasOwn(tensors, name)) continue;
    const t = tensors[name];
    if (!(t instanceof Tensor)) throw new DTypeError(op, `weights['${name}'] must be a Tensor, got ${describeValue(t)}`, 'weights');
    if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new DTypeError(op, `weights['${name}'] is ${t.dtype}; float32 or float64 expected`, 'weights');
    if (t.ndim !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
      throw new ShapeError(op, `weights['${name}']=${fmtShape(t.shape)} but the config needs ${fmtShape(shape)} (HF Linear weights are [out, in])`, 'weights');
    }
    if (!t.data.every(Number.isFinite)) throw new ValueError(op, `weights['${name}'] holds a non-finite value`, 'weights');
    const ours = TO_OURS.reduce((n, [re, to]) => n.replace(re, to), name);
    if (ours === 'lmHead.weight' && r.tied) {
      const e = tensors['model.embed_tokens.weight'] as Tensor;
      if (!t.data.every((v, j) => v === e.data[j])) {
        throw new ValueError(op, "weights['lm_head.weight'] differs from model.embed_tokens.weight, but tie_word_embeddings is true (they are one tensor)", 'weights');
      }
      continue;
    }
    state[ours] = t;
  }
  const model = asPartOf(op, () => new LlamaForCausalLM(config, options)); // what remains to refuse is `positional`
  // the checkpoint fills every parameter but a replacement encoding's own (a learned table, PSC's gates keep their init)
  const unfilled = [...model.namedParameters()].map(([name]) => name).filter((name) => !Object.hasOwn(state, name) && !/(^|\.)positional\./.test(name));
  if (unfilled.length > 0) throw new Error(`${op}: internal error — no checkpoint tensor maps to ${unfilled.join(', ')}`);
  model.loadStateDict(state, { strict: false });
  return model;
}

/** A LlamaForCausalLM from a parsed config.json and the bytes of its model.safetensors. */
export function loadHFModel(config: LlamaHFConfig, safetensorsBytes: ArrayBufferView | ArrayBuffer, options: LlamaOptions = {}): LlamaForCausalLM {
  const op = 'loadHFModel';
  if (!ArrayBuffer.isView(safetensorsBytes) && !(safetensorsBytes instanceof ArrayBuffer)) {
    throw new DTypeError(op, `safetensorsBytes must be the bytes of a model.safetensors (Uint8Array or ArrayBuffer), got ${describeValue(safetensorsBytes)}`, 'safetensorsBytes');
  }
  return fromHFAs(op, config, safetensorsBytes, options);
}
