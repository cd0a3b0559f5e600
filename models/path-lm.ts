/**
 * A decoder-only language model with PaTH attention (Yang et al. 2025, arXiv 2505.16381; fla-org
 * `fla/models/path_attn`), written like models/gpt.ts: pre-norm blocks x + attn(norm(x)), x + mlp(norm(x)), with
 * nn/path-attention.ts's PaTHAttention in place of multi-head attention and no positional encoding anywhere: position
 * enters only through the data-dependent Householder transforms. The block, model, head and loss are in this file.
 * B batch, T sequence length, C model dim, V vocabulary size.
 */
import {
  DTypeError, Generator, Module, ShapeError, Tensor, ValueError, asPartOf, crossEntropy, describeValue, expectOptions, fmtShape, matmul,
  expectSize, type DType,
  expectGenerator,
} from '../core/index.js';
import {
  Dropout, Embedding, LayerNorm, Linear, MLP, PaTHAttention, PaTHCache, RMSNorm, SwiGLU, gpt2Init, type KVCache, type PaTHAttentionOptions,
} from '../nn/index.js';
import { checkDecoderFields, expectLayerStack, expectTokenIds, optionalCaches } from './checks.js';

const PATH_LM_CONFIG = [
  'vocabSize', 'dim', 'numLayers', 'numHeads', 'numKVHeads', 'useForgetGate', 'lowRankW', 'shortConv', 'qkNorm', 'chunkSize', 'mlp', 'norm',
  'dropout', 'tieEmbeddings', 'seed', 'dtype',
] as const;

/**
 * The config's model fields, checked under `op` (PaTHLM, or PaTHBlock built on its own); the attention fields
 * (numHeads, numKVHeads, useForgetGate, lowRankW, shortConv, qkNorm, chunkSize) are checked by PaTHAttention when
 * each block builds it, under `op` too (asPartOf).
 */
function checkConfig(op: string, config: PaTHLMConfig): void {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new DTypeError(op, `config must be an object, got ${describeValue(config)}`, 'config');
  const c = expectOptions(op, 'config', config, PATH_LM_CONFIG);
  const V = expectSize(op, 'vocabSize', c.vocabSize);
  const L = expectSize(op, 'numLayers', c.numLayers);
  const dim = expectSize(op, 'dim', c.dim);
  checkDecoderFields(op, c, V, dim);
  expectLayerStack(op, 'numLayers', L, dim * dim);
}

/**
 * The configuration of a `PaTHLM`: `vocabSize`, `dim`, `numLayers`, `numHeads`, `numKVHeads`, `useForgetGate`,
 * `lowRankW`, `shortConv`, `qkNorm`, `chunkSize`, `mlp`, `norm`, `dropout`, `tieEmbeddings`, `seed`, `dtype`.
 */
export interface PaTHLMConfig {
  vocabSize: number;
  dim: number;
  numLayers: number;
  numHeads: number;
  /** Grouped-query attention; default numHeads. */
  numKVHeads?: number;
  /** PaTH-FoX forget gate; default false (fla's `use_forget_gate`). */
  useForgetGate?: boolean;
  /** Rank of the w projection, or false for a full one; default 32 (fla). */
  lowRankW?: number | false;
  /** Short-conv kernel on w, or false; default 3 (fla). */
  shortConv?: number | false;
  /** RMSNorm on q and k; default false. */
  qkNorm?: boolean;
  /** Chunk size of the blockwise algorithm; default 64. */
  chunkSize?: number;
  /** 'swiglu' (default, fla's GatedMLP) or 'gelu' (GPT-2). */
  mlp?: 'gelu' | 'swiglu';
  /** 'rms' (default, as fla) or 'layer'. */
  norm?: 'layer' | 'rms';
  dropout?: number;
  /** Share the token embedding with the output head. Default true (as GPT here; fla defaults to false). */
  tieEmbeddings?: boolean;
  seed?: number;
  dtype?: DType;
}

/** Options of `PaTHLM.forward`: `caches`, one PaTH cache per layer, for incremental decoding. */
export interface PaTHLMForwardOptions {
  /** One PaTHCache per layer (from newCaches()) for incremental decoding. */
  caches?: readonly KVCache[];
}

/** Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)). x: [B, T, C] → [B, T, C]. */
export class PaTHBlock extends Module {
  readonly norm1: LayerNorm | RMSNorm;
  readonly attn: PaTHAttention;
  readonly norm2: LayerNorm | RMSNorm;
  readonly mlp: MLP | SwiGLU;
  readonly drop: Dropout;

  /** dim: the model width (config.dim); config: the PaTHLM config the block is one layer of; generator: its init draws. */
  constructor(readonly dim: number, config: PaTHLMConfig, generator: Generator) {
    super();
    const op = 'PaTHBlock';
    expectSize(op, 'dim', dim);
    checkConfig(op, config);
    if (config.dim !== dim) throw new ValueError(op, `dim=${dim} differs from config.dim=${config.dim}`, 'dim');
    expectGenerator(op, 'generator', generator);
    const { dtype } = config;
    const makeNorm = (): LayerNorm | RMSNorm => (config.norm === 'layer' ? new LayerNorm(dim, { dtype }) : new RMSNorm(dim, { dtype }));
    const attn: PaTHAttentionOptions = {
      numHeads: config.numHeads, numKVHeads: config.numKVHeads, useForgetGate: config.useForgetGate, lowRankW: config.lowRankW,
      shortConv: config.shortConv, qkNorm: config.qkNorm, chunkSize: config.chunkSize, generator, dtype,
    };
    this.norm1 = makeNorm();
    this.attn = asPartOf(op, () => new PaTHAttention(dim, attn));
    this.norm2 = makeNorm();
    const mlpOpts = { generator, bias: false, dtype };
    this.mlp = config.mlp === 'gelu' ? new MLP(dim, 4 * dim, mlpOpts) : new SwiGLU(dim, undefined, mlpOpts);
    this.drop = new Dropout(config.dropout ?? 0, { generator: generator.fork() });
    // both branches add into the residual stream: gpt2Init draws these two at the depth-scaled std
    this.attn.wo.residualProjection = true;
    this.mlp.output.residualProjection = true;
  }

  /** x: [B, T, C] → [B, T, C]; with a cache (a PaTHCache), continues from the tokens it holds. */
  forward(x: Tensor, cache?: PaTHCache): Tensor {
    this.attn.checkCall('PaTHBlock.forward', x, cache === undefined ? {} : { cache });
    return this.run(x, cache);
  }

  /** forward without the checks: PaTHLM checks ids and caches once at its own entry. */
  run(x: Tensor, cache?: PaTHCache): Tensor {
    const h = x.add(this.drop.forward(this.attn.forward(this.norm1.forward(x), cache === undefined ? {} : { cache })));
    return h.add(this.drop.forward(this.mlp.forward(this.norm2.forward(h))));
  }
}

/**
 * A decoder-only language model with PaTH attention (Yang et al. 2025) and no positional encoding: position enters only
 * through data-dependent Householder transforms; ids [B, T] → logits [B, T, V].
 */
export class PaTHLM extends Module {
  readonly config: Readonly<PaTHLMConfig>;
  readonly wte: Embedding;
  readonly blocks: PaTHBlock[];
  readonly lnF: LayerNorm | RMSNorm;
  /** Untied output head [V, C] (weight lmHead.weight); null when tied to wte. */
  readonly lmHead: Linear | null;

  constructor(config: PaTHLMConfig) {
    super();
    checkConfig('PaTHLM', config);
    const { vocabSize: V, dim: C, numLayers: L } = config;
    this.config = Object.freeze({ ...config });
    const g = new Generator(config.seed ?? 0);
    const { dtype } = config;
    this.wte = new Embedding(V, C, { generator: g, std: 0.02, dtype });
    this.blocks = asPartOf('PaTHLM', () => Array.from({ length: L }, () => new PaTHBlock(C, config, g)));
    this.lnF = config.norm === 'layer' ? new LayerNorm(C, { dtype }) : new RMSNorm(C, { dtype });
    this.lmHead = config.tieEmbeddings === false ? new Linear(C, V, { bias: false, std: 0.02, generator: g, dtype }) : null;
    // GPT-2 init of q, k, v, o and the MLP, the marked residual projections scaled; the w path, β and gate keep the
    // layer defaults: at 0.02 a small model's w falls below fla's L2 eps
    gpt2Init(this, { numLayers: config.numLayers, generator: g, select: /^blocks\.\d+\.(attn\.(wq|wk|wv|wo)|mlp\.\w+)\.weight$/ });
  }

  /** One empty PaTH cache per layer. */
  newCaches(): PaTHCache[] {
    return this.blocks.map(() => new PaTHCache());
  }

  /** ids: [B, T] token ids → logits [B, T, V]; with caches, continues from the tokens they hold. */
  forward(ids: Tensor, options: PaTHLMForwardOptions = {}): Tensor {
    this.checkForward('PaTHLM.forward', ids, options);
    const { caches } = options;
    let x = this.wte.forward(ids); // [B, T, C]
    this.blocks.forEach((block, i) => {
      x = block.run(x, caches?.[i] as PaTHCache | undefined); // [B, T, C]
    });
    x = this.lnF.forward(x);
    return this.lmHead?.forward(x) ?? matmul(x, this.wte.weight, { transposeB: true }); // [B, T, V]
  }

  /** Mean next-token cross-entropy: ids [B, T], targets [B, T]. */
  loss(ids: Tensor, targets: Tensor): Tensor {
    const op = 'PaTHLM.loss';
    this.checkForward(op, ids, {});
    expectTokenIds(op, 'targets', targets, this.config.vocabSize);
    if (targets.shape[0] !== ids.shape[0] || targets.shape[1] !== ids.shape[1]) {
      throw new ShapeError(op, `targets=${fmtShape(targets.shape)} must have the shape of ids=${fmtShape(ids.shape)}`, 'targets');
    }
    return crossEntropy(this.forward(ids), targets);
  }

  /** ids [B, T] of token ids, and one PaTHCache per layer that this call can continue. */
  private checkForward(op: string, ids: unknown, options: PaTHLMForwardOptions | undefined): asserts ids is Tensor {
    expectTokenIds(op, 'ids', ids, this.config.vocabSize);
    const o = expectOptions(op, 'options', options, ['caches']);
    const caches = optionalCaches(op, 'caches', o.caches, this.blocks.length, PaTHCache, 'use newCaches()');
    const x = new Tensor(new Float64Array(0), [ids.shape[0]!, 0, this.config.dim]).cast(this.wte.weight.dtype);
    caches?.forEach((cache, i) => this.blocks[i]!.attn.checkCall(op, x, { cache }));
  }
}
