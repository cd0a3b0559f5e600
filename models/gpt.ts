/**
 * A decoder-only transformer language model in the manner of nanoGPT: the model (config, embedding, blocks, final
 * norm, head, loss) in this file, with shapes in comments; the pre-norm block, attention and MLP are nn/'s (nn/block.ts,
 * nn/attention.ts, nn/mlp.ts). B batch, T sequence length, C model dim, V vocabulary size.
 * The positional encoding is chosen by name from positional/registry.ts.
 */
import {
  DTypeError, Generator, Module, ShapeError, Tensor, ValueError, arange, crossEntropy, describeValue, expectAllocatable,
  expectNumber, expectOptions, fmtShape, matmul,
  expectSize, type DType,
} from '../core/index.js';
import {
  Block, EliteKVAttention, Embedding, KVCache, LayerNorm, Linear, MultiHeadAttention, RMSNorm, gpt2Init,
} from '../nn/index.js';
import { PositionalEncoding, positionalNames, type PositionalSpec } from '../positional/index.js';
import { checkDecoderFields, expectTokenIds, optionalCaches } from './checks.js';
import { layerEncodings, type PositionalChoice } from './positional-choice.js';

const GPT_CONFIG = [
  'vocabSize', 'contextLength', 'dim', 'numLayers', 'numHeads', 'numKVHeads', 'positional', 'ropeBase', 'mlp', 'norm', 'dropout',
  'tieEmbeddings', 'seed', 'dtype',
] as const;

/** Every config field checked, so that nothing inside the model throws later under another name. */
function checkConfig(config: GPTConfig): void {
  const op = 'GPT';
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new DTypeError(op, `config must be an object, got ${describeValue(config)}`, 'config');
  const c = expectOptions(op, 'config', config, GPT_CONFIG);
  const V = expectSize(op, 'vocabSize', c.vocabSize);
  expectSize(op, 'contextLength', c.contextLength);
  const C = expectSize(op, 'dim', c.dim);
  expectAllocatable(op, 'numLayers', expectSize(op, 'numLayers', c.numLayers) * C * C); // each layer holds at least a [C, C] projection
  const H = expectSize(op, 'numHeads', c.numHeads);
  if (C % H !== 0) throw new ValueError(op, `dim=${C} must be divisible by numHeads=${H}`, 'dim');
  if (c.numKVHeads !== undefined) {
    const kv = expectSize(op, 'numKVHeads', c.numKVHeads);
    if (H % kv !== 0) throw new ValueError(op, `numKVHeads=${kv} must divide numHeads=${H}`, 'numKVHeads');
  }
  if (typeof c.positional !== 'string') throw new DTypeError(op, `positional must be a name (${positionalNames().join(', ')}), got ${describeValue(c.positional)}`, 'positional');
  if (!positionalNames().includes(c.positional)) {
    throw new ValueError(op, `unknown positional encoding '${c.positional}' (known: ${positionalNames().join(', ')})`, 'positional');
  }
  if (c.ropeBase !== undefined) expectNumber(op, 'ropeBase', c.ropeBase, { above: 1 });
  checkDecoderFields(op, c, V, C);
}

/**
 * The configuration of a `GPT`: `vocabSize`, `contextLength`, `dim`, `numLayers`, `numHeads`, `numKVHeads`,
 * `positional`, `ropeBase`, `mlp`, `norm`, `dropout`, `tieEmbeddings`, `seed`, `dtype`.
 */
export interface GPTConfig {
  vocabSize: number;
  /** Training context length (the learned table's size; scaling rules' original length). */
  contextLength: number;
  dim: number;
  numLayers: number;
  numHeads: number;
  /** Grouped-query attention; default numHeads. */
  numKVHeads?: number;
  /** Positional encoding name: 'nope', 'learned', 'rope', … (positionalNames() lists them). */
  positional: string;
  /** RoPE base θ; default 10000. */
  ropeBase?: number;
  /** 'gelu' (GPT-2, default) or 'swiglu' (Llama). */
  mlp?: 'gelu' | 'swiglu';
  /** 'layer' (default) or 'rms'. */
  norm?: 'layer' | 'rms';
  dropout?: number;
  /** Share the token embedding with the output head (GPT-2 does; saves V·C parameters). Default true. */
  tieEmbeddings?: boolean;
  seed?: number;
  dtype?: DType;
}

/** Options of `GPT.forward`: `caches`, one KV cache per layer, for incremental decoding. */
export interface GPTForwardOptions {
  /** One KVCache per layer (from newCaches()) for incremental decoding. */
  caches?: readonly KVCache[];
}

/**
 * A decoder-only transformer language model (nanoGPT-style): token embedding, pre-norm blocks with the chosen
 * positional encoding, final norm and head; ids [B, T] → logits [B, T, V].
 */
export class GPT extends Module {
  readonly config: Readonly<GPTConfig>;
  readonly wte: Embedding;
  /** The model-level encoding (its input embedding, if any); per-layer encodings live in blocks.i.attn. Set by setPositional. */
  positional: PositionalEncoding;
  /** What the registry builds encodings from (head dim, context length, base, the init generator, dtype). */
  private readonly spec: PositionalSpec;
  readonly blocks: Block[];
  readonly lnF: LayerNorm | RMSNorm;
  /** Untied output head [V, C] (weight lmHead.weight); null when tied to wte. */
  readonly lmHead: Linear | null;

  constructor(config: GPTConfig) {
    super();
    checkConfig(config);
    const { vocabSize: V, dim: C, numLayers: L, numHeads } = config;
    this.config = Object.freeze({ ...config });
    const g = new Generator(config.seed ?? 0);
    const { dtype } = config;
    this.wte = new Embedding(V, C, { generator: g, std: 0.02, dtype });
    this.spec = {
      headDim: C / numHeads, modelDim: C, contextLength: config.contextLength, base: config.ropeBase ?? 10000, generator: g,
      numKVHeads: config.numKVHeads ?? numHeads, dtype,
    };
    const perLayer = layerEncodings('GPT', config.positional, this.spec, L);
    this.positional = perLayer.model;
    this.blocks = Array.from({ length: L }, (_, i) => new Block(C, {
      numHeads,
      numKVHeads: config.numKVHeads,
      positional: perLayer.layers[i]!,
      mlp: config.mlp ?? 'gelu',
      norm: config.norm ?? 'layer',
      dropout: config.dropout ?? 0,
      generator: g,
      dtype,
    }));
    this.lnF = config.norm === 'rms' ? new RMSNorm(C, { dtype }) : new LayerNorm(C, { dtype });
    this.lmHead = config.tieEmbeddings === false ? new Linear(C, V, { bias: false, std: 0.02, generator: g, dtype }) : null;
    gpt2Init(this, { numLayers: L, generator: g, select: /^blocks\..*\.weight$/ }); // GPT-2 init; the projections the blocks mark residual are scaled
  }

  /** One empty KV cache per layer (a LatentKVCache for a layer that eliteKVConvert converted). */
  newCaches(): KVCache[] {
    return this.blocks.map((block) => (block.attn instanceof EliteKVAttention ? block.attn.newCache() : new KVCache()));
  }

  /** ids: [B, T] token ids → logits [B, T, V]. Positions continue from the caches when given. */
  forward(ids: Tensor, options: GPTForwardOptions = {}): Tensor {
    this.checkForward('GPT.forward', ids, options);
    const { caches } = options;
    const T = ids.shape[1]!;
    const offset = caches?.[0]?.position ?? 0;
    const positions = arange(offset, offset + T, 1, { dtype: 'float64' }); // [T]
    let x = this.wte.forward(ids); // [B, T, C]
    const absolute = this.positional.inputEmbedding(positions, this.config.dim); // [T, C] or null
    if (absolute !== null) x = x.add(absolute);
    this.blocks.forEach((block, i) => {
      x = block.forwardAs('GPT.forward', x, { positions, cache: caches?.[i] }); // [B, T, C]
    });
    x = this.lnF.forward(x);
    return this.lmHead?.forward(x) ?? matmul(x, this.wte.weight, { transposeB: true }); // [B, T, V]
  }

  /** Mean next-token cross-entropy: ids [B, T], targets [B, T]. */
  loss(ids: Tensor, targets: Tensor): Tensor {
    const op = 'GPT.loss';
    this.checkForward(op, ids, {});
    expectTokenIds(op, 'targets', targets, this.config.vocabSize);
    if (targets.shape[0] !== ids.shape[0] || targets.shape[1] !== ids.shape[1]) {
      throw new ShapeError(op, `targets=${fmtShape(targets.shape)} must have the shape of ids=${fmtShape(ids.shape)} (one next token per position)`, 'targets');
    }
    return crossEntropy(this.forward(ids), targets);
  }

  /**
   * Use another positional encoding (e.g. a context-extension rule at evaluation), honouring its `scope`:
   * - a 'model'-scoped instance serves every layer and becomes the model-level encoding (its input embedding, such
   *   as a learned absolute table, is added to the token embeddings);
   * - a 'layer'-scoped encoding (own learnable parts per layer, as PSC) cannot be one instance shared by several
   *   layers: pass a registry name (a new instance per layer, built with this model's spec, as the constructor
   *   does) or a function layer index → a new instance; the model-level encoding becomes NoPE.
   */
  setPositional(positional: PositionalChoice): void {
    const op = 'GPT.setPositional';
    const { model, layers } = layerEncodings(op, positional, { ...this.spec, dtype: this.wte.weight.dtype }, this.blocks.length);
    const converted = this.blocks.findIndex((block) => !(block.attn instanceof MultiHeadAttention));
    if (converted >= 0) throw new ValueError(op, `layer ${converted} is EliteKV-converted: its rotary frequencies belong to its elite pairs and cannot be swapped`, 'positional');
    this.positional = model;
    this.blocks.forEach((block, i) => {
      if (block.attn instanceof MultiHeadAttention) block.attn.positional = layers[i]!;
    });
  }

  /** ids [B, T] of token ids, and one KVCache per layer that this call can continue. */
  private checkForward(op: string, ids: unknown, options: GPTForwardOptions | undefined): asserts ids is Tensor {
    expectTokenIds(op, 'ids', ids, this.config.vocabSize);
    const o = expectOptions(op, 'options', options, ['caches']);
    const caches = optionalCaches(op, 'caches', o.caches, this.blocks.length, KVCache, 'use newCaches()');
    caches?.forEach((cache, i) => {
      const attn = this.blocks[i]!.attn;
      const k = cache.keyShape; // the layout, without making the keys' tensor
      if (attn instanceof EliteKVAttention) attn.checkCache(op, cache, ids.shape[0]!, attn.wq.weight.dtype, `caches[${i}]`, 'caches');
      else if (k !== null && (k[0] !== ids.shape[0] || k[1] !== attn.numKVHeads || k[3] !== attn.headDim || cache.dtype !== attn.wq.weight.dtype)) {
        throw new ShapeError(op, `caches[${i}] holds keys=${fmtShape(k)} ${cache.dtype}, which ids=${fmtShape(ids.shape)} cannot continue (same batch; use newCaches())`, 'caches');
      }
      if (cache.position !== caches[0]!.position) throw new ValueError(op, `caches[${i}].position=${cache.position} differs from caches[0]'s ${caches[0]!.position} (use newCaches())`, 'caches');
    });
  }
}
