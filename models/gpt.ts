/**
 * A decoder-only transformer language model, written like nanoGPT: all of it in this file, in dependency order,
 * with shapes in comments. B batch, T sequence length, C model dim, V vocabulary size.
 * The positional encoding is chosen by name from positional/registry.ts.
 */
import { Generator, Module, Parameter, Tensor, ValueError, crossEntropy, fmtShape, matmul, randn, type DType } from '../core/index.js';
import { Block, Embedding, KVCache, LayerNorm, RMSNorm, gpt2Init } from '../nn/index.js';
import { NoPE, createPositional, type PositionalEncoding, type PositionalSpec } from '../positional/index.js';

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

export interface GPTForwardOptions {
  /** One KVCache per layer (from newCaches()) for incremental decoding. */
  caches?: readonly KVCache[];
}

export class GPT extends Module {
  readonly config: Readonly<GPTConfig>;
  readonly wte: Embedding;
  /** The model-level encoding (its input embedding, if any); per-layer encodings live in blocks.i.attn. */
  readonly positional: PositionalEncoding;
  readonly blocks: Block[];
  readonly lnF: LayerNorm | RMSNorm;
  readonly lmHead: Parameter | null;

  constructor(config: GPTConfig) {
    super();
    const { vocabSize: V, dim: C, numLayers: L, numHeads } = config;
    if (C % numHeads !== 0) throw new ValueError('GPT', `dim=${C} must be divisible by numHeads=${numHeads}`, 'dim');
    this.config = Object.freeze({ ...config });
    const g = new Generator(config.seed ?? 0);
    const dtype = config.dtype ? { dtype: config.dtype } : {};
    this.wte = new Embedding(V, C, { generator: g, std: 0.02, ...dtype });
    const spec: PositionalSpec = {
      headDim: C / numHeads, modelDim: C, contextLength: config.contextLength, base: config.ropeBase ?? 10000, generator: g,
      numKVHeads: config.numKVHeads ?? numHeads, ...dtype,
    };
    const shared = createPositional(config.positional, spec);
    // one instance for all layers, unless the encoding has per-layer parts (then each block builds its own)
    this.positional = shared.scope === 'model' ? shared : new NoPE();
    this.blocks = Array.from({ length: L }, (_, i) => new Block(C, {
      numHeads,
      positional: shared.scope === 'model' ? shared : i === 0 ? shared : createPositional(config.positional, spec),
      mlp: config.mlp ?? 'gelu',
      norm: config.norm ?? 'layer',
      dropout: config.dropout ?? 0,
      generator: g,
      ...(config.numKVHeads !== undefined ? { numKVHeads: config.numKVHeads } : {}),
      ...dtype,
    }));
    this.lnF = config.norm === 'rms' ? new RMSNorm(C, dtype) : new LayerNorm(C, dtype);
    this.lmHead = config.tieEmbeddings === false ? new Parameter(randn([V, C], { std: 0.02, generator: g, ...dtype }).data, [V, C]) : null;
    gpt2Init(this, L, g, /^blocks\..*\.weight$/, /\.(wo|fc2|down)\.weight$/); // GPT-2 init, residual outputs scaled
  }

  /** One empty KV cache per layer. */
  newCaches(): KVCache[] {
    return this.blocks.map(() => new KVCache());
  }

  /** ids: [B, T] token ids → logits [B, T, V]. Positions continue from the caches when given. */
  forward(ids: Tensor, options: GPTForwardOptions = {}): Tensor {
    if (ids.ndim !== 2) throw new ValueError('GPT', `ids must be [B, T], got ${fmtShape(ids.shape)}`, 'ids');
    const { caches } = options;
    if (caches !== undefined && caches.length !== this.blocks.length) {
      throw new ValueError('GPT', `got ${caches.length} caches for ${this.blocks.length} layers (use newCaches())`, 'caches');
    }
    const T = ids.shape[1]!;
    const offset = caches?.[0]?.position ?? 0;
    const positions = new Tensor(Float64Array.from({ length: T }, (_, i) => offset + i), [T]);
    let x = this.wte.forward(ids); // [B, T, C]
    const absolute = this.positional.inputEmbedding(positions, this.config.dim); // [T, C] or null
    if (absolute !== null) x = x.add(absolute);
    this.blocks.forEach((block, i) => {
      x = block.forward(x, { positions, ...(caches ? { cache: caches[i]! } : {}) }); // [B, T, C]
    });
    x = this.lnF.forward(x);
    return matmul(x, this.lmHead ?? this.wte.weight, { transposeB: true }); // [B, T, V]
  }

  /** Mean next-token cross-entropy: ids [B, T], targets [B, T]. */
  loss(ids: Tensor, targets: Tensor): Tensor {
    return crossEntropy(this.forward(ids), targets);
  }

  /** Use another positional encoding in every layer (e.g. a context-extension rule at evaluation). */
  setPositional(positional: PositionalEncoding): void {
    for (const block of this.blocks) block.attn.positional = positional;
  }
}
