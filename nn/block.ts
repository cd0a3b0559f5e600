/** The pre-norm transformer block (GPT-2 / Llama): x + attn(norm(x)), then x + mlp(norm(x)). */
import {
  defaultGenerator, Generator, Module, ValueError, expectInteger, expectOneOf, expectOptions, expectSize,
  optionalDType, optionalGenerator, type DType, type Tensor,
} from '../core/index.js';
import type { PositionalEncoding } from '../positional/index.js';
import { MultiHeadAttention, type AttentionCallOptions } from './attention.js';
import type { EliteKVAttention } from './elitekv.js';
import { Dropout, MLP, SwiGLU } from './mlp.js';
import { LayerNorm, RMSNorm } from './norm.js';
import {
  expectEncodingFits, expectWeight, optionalBoolean, optionalPositional, optionalProbability,
} from './checks.js';

const BLOCK_OPTIONS = ['numHeads', 'numKVHeads', 'mlp', 'norm', 'hidden', 'positional', 'window', 'dropout', 'bias', 'generator', 'dtype'] as const;

/** Every Block option checked with `op` (the class the user built: Block, or a model assembling blocks) in the messages. */
export function checkBlockOptions(op: string, dim: number, options: BlockOptions, prefix = 'options'): void {
  expectSize(op, 'dim', dim);
  const o = expectOptions(op, prefix, options, BLOCK_OPTIONS);
  const numHeads = expectSize(op, 'numHeads', o.numHeads);
  if (dim % numHeads !== 0) throw new ValueError(op, `dim=${dim} is not divisible by numHeads=${numHeads}`, 'numHeads');
  if (o.numKVHeads !== undefined) {
    const kv = expectSize(op, 'numKVHeads', o.numKVHeads);
    if (numHeads % kv !== 0) throw new ValueError(op, `numKVHeads=${kv} must divide numHeads=${numHeads}`, 'numKVHeads');
  }
  if (o.mlp !== undefined) expectOneOf(op, 'mlp', o.mlp, ['gelu', 'swiglu'] as const);
  if (o.norm !== undefined) expectOneOf(op, 'norm', o.norm, ['layer', 'rms'] as const);
  if (o.hidden !== undefined) expectWeight(op, 'hidden', expectSize(op, 'hidden', o.hidden), dim); // the MLP's [hidden, dim]
  const positional = optionalPositional(op, 'positional', o.positional);
  if (positional !== undefined) expectEncodingFits(op, 'positional', positional, dim / numHeads);
  if (o.window !== undefined && o.window !== Infinity) expectInteger(op, 'window', o.window, { min: 1 });
  optionalProbability(op, 'dropout', o.dropout);
  optionalBoolean(op, 'bias', o.bias);
  optionalGenerator(op, 'generator', o.generator);
  optionalDType(op, 'dtype', o.dtype);
}

/**
 * Options of `Block`: `numHeads`, `numKVHeads`, `mlp`, `norm`, `hidden`, `positional`, `window`, `dropout`, `bias`,
 * `generator`, `dtype`.
 */
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

/**
 * The pre-norm transformer block (GPT-2 / Llama): x + attn(norm₁(x)), then x + mlp(norm₂(x)); x [B, T, C] → [B, T, C].
 */
export class Block extends Module {
  readonly norm1: LayerNorm | RMSNorm;
  /**
   * Swappable: built as a MultiHeadAttention; `eliteKVConvert` puts an EliteKVAttention here (both check a call once
   * with checkCall and run it with forwardChecked).
   */
  attn: MultiHeadAttention | EliteKVAttention;
  readonly norm2: LayerNorm | RMSNorm;
  readonly mlp: MLP | SwiGLU;
  readonly drop: Dropout;

  constructor(readonly dim: number, options: BlockOptions) {
    super();
    checkBlockOptions('Block', dim, options);
    const g = options.generator ?? defaultGenerator();
    const makeNorm = (): LayerNorm | RMSNorm => (options.norm === 'rms' ? new RMSNorm(dim, { dtype: options.dtype }) : new LayerNorm(dim, { dtype: options.dtype }));
    this.norm1 = makeNorm();
    this.attn = new MultiHeadAttention(dim, {
      numHeads: options.numHeads,
      numKVHeads: options.numKVHeads,
      positional: options.positional,
      window: options.window,
      bias: options.bias ?? false,
      generator: g,
      dtype: options.dtype,
    });
    this.norm2 = makeNorm();
    const mlpOpts = { generator: g, bias: options.bias ?? false, dtype: options.dtype };
    this.mlp = options.mlp === 'swiglu' ? new SwiGLU(dim, options.hidden, mlpOpts) : new MLP(dim, options.hidden ?? 4 * dim, mlpOpts);
    this.drop = new Dropout(options.dropout ?? 0, { generator: g.fork() });
    // both branches add into the residual stream: gpt2Init draws these two at the depth-scaled std
    this.attn.wo.residualProjection = true;
    this.mlp.output.residualProjection = true;
  }

  /** x: [B, T, C] → [B, T, C]. */
  forward(x: Tensor, options: AttentionCallOptions = {}): Tensor {
    return this.forwardAs('Block.forward', x, options);
  }

  /** forward with `op` (the method the user called: Block.forward, or a model's forward) in every error message. */
  forwardAs(op: string, x: Tensor, options: AttentionCallOptions): Tensor {
    const checked = this.attn.checkCall(op, x, options); // once: norm1(x) has x's shape and dtype
    const h = x.add(this.drop.forward(this.attn.forwardChecked(op, this.norm1.forward(x), checked)));
    return h.add(this.drop.forward(this.mlp.forward(this.norm2.forward(h))));
  }
}
