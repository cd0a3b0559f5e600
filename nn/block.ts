/** The pre-norm transformer block (GPT-2 / Llama): x + attn(norm(x)), then x + mlp(norm(x)). */
import { Generator, Module, type DType, type Tensor } from '../core/index.js';
import type { PositionalEncoding } from '../positional/index.js';
import { MultiHeadAttention, type AttentionCallOptions } from './attention.js';
import { Dropout, MLP, SwiGLU } from './mlp.js';
import { LayerNorm, RMSNorm } from './norm.js';

export interface BlockOptions {
  numHeads: number;
  numKVHeads?: number;
  /** 'gelu' = GPT-2 MLP (4·dim hidden), 'swiglu' = Llama feed-forward. Default 'gelu'. */
  mlp?: 'gelu' | 'swiglu';
  /** Default 'layer' (LayerNorm); 'rms' for RMSNorm. */
  norm?: 'layer' | 'rms';
  hidden?: number;
  positional?: PositionalEncoding;
  window?: number;
  dropout?: number;
  bias?: boolean;
  generator?: Generator;
  dtype?: DType;
}

export class Block extends Module {
  readonly norm1: LayerNorm | RMSNorm;
  readonly attn: MultiHeadAttention;
  readonly norm2: LayerNorm | RMSNorm;
  readonly mlp: MLP | SwiGLU;
  readonly drop: Dropout;

  constructor(readonly dim: number, options: BlockOptions) {
    super();
    const g = options.generator ?? new Generator(0);
    const dtype = options.dtype ? { dtype: options.dtype } : {};
    const makeNorm = (): LayerNorm | RMSNorm => (options.norm === 'rms' ? new RMSNorm(dim, dtype) : new LayerNorm(dim, dtype));
    this.norm1 = makeNorm();
    this.attn = new MultiHeadAttention(dim, {
      numHeads: options.numHeads,
      generator: g,
      bias: options.bias ?? false,
      ...(options.numKVHeads !== undefined ? { numKVHeads: options.numKVHeads } : {}),
      ...(options.positional ? { positional: options.positional } : {}),
      ...(options.window !== undefined ? { window: options.window } : {}),
      ...dtype,
    });
    this.norm2 = makeNorm();
    const mlpOpts = { generator: g, bias: options.bias ?? false, ...dtype };
    this.mlp = options.mlp === 'swiglu' ? new SwiGLU(dim, options.hidden, mlpOpts) : new MLP(dim, options.hidden ?? 4 * dim, mlpOpts);
    this.drop = new Dropout(options.dropout ?? 0, { generator: g.fork() });
  }

  /** x: [B, T, C] → [B, T, C]. */
  forward(x: Tensor, options: AttentionCallOptions = {}): Tensor {
    const h = x.add(this.drop.forward(this.attn.forward(this.norm1.forward(x), options)));
    return h.add(this.drop.forward(this.mlp.forward(this.norm2.forward(h))));
  }
}
