import {
  Generator, dropout, expectNumber, expectOptions, expectTensor, gelu, silu, defaultGenerator, expectSize,
  optionalDType, optionalGenerator, type DType, type Tensor,
} from '../core/index.js';
import { expectFeatures, expectWeight, optionalBoolean } from './checks.js';
import { Linear } from './linear.js';
import { Module } from '../core/index.js';

export interface DropoutModuleOptions {
  generator?: Generator;
}

/** Inverted dropout while training; identity in eval mode. */
export class Dropout extends Module {
  private readonly generator: Generator;

  constructor(readonly p: number, options: DropoutModuleOptions = {}) {
    super();
    expectNumber('Dropout', 'p', p, { min: 0, below: 1 });
    const o = expectOptions('Dropout', 'options', options, ['generator']);
    this.generator = optionalGenerator('Dropout', 'generator', o.generator, defaultGenerator);
  }

  forward(x: Tensor): Tensor {
    expectTensor('Dropout.forward', 'x', x);
    return dropout(x, this.p, { generator: this.generator, training: this.training });
  }
}

/** Options of `MLP`: `bias`, `generator`, `dtype`. */
export interface MLPOptions {
  bias?: boolean;
  generator?: Generator;
  dtype?: DType;
}

/** SwiGLU takes MLP's options (its three projections share bias, generator and dtype). */
export type SwiGLUOptions = MLPOptions;

/** Validated feed-forward sizes and options; `op` names the class the user built. */
function feedForward(op: string, dim: number, hidden: number, options: MLPOptions | undefined) {
  expectSize(op, 'dim', dim);
  expectSize(op, 'hidden', hidden);
  expectWeight(op, dim >= hidden ? 'dim' : 'hidden', hidden, dim); // each projection is [hidden, dim] or [dim, hidden]
  const o = expectOptions(op, 'options', options, ['bias', 'generator', 'dtype']);
  const dtype = optionalDType(op, 'dtype', o.dtype);
  return { bias: optionalBoolean(op, 'bias', o.bias), generator: optionalGenerator(op, 'generator', o.generator, defaultGenerator), dtype };
}

/** GPT-2 feed-forward: fc2(gelu(fc1(x))). x: [..., dim] → [..., dim]; hidden defaults to 4·dim. */
export class MLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(dim: number, hidden = 4 * dim, options: MLPOptions = {}) {
    super();
    const lin = feedForward('MLP', dim, hidden, options);
    this.fc1 = new Linear(dim, hidden, lin);
    this.fc2 = new Linear(hidden, dim, lin);
  }

  /** The projection whose output leaves the feed-forward (fc2). */
  get output(): Linear {
    return this.fc2;
  }

  forward(x: Tensor): Tensor {
    expectFeatures('MLP.forward', 'x', x, this.fc1.inFeatures, this.fc1.weight.dtype);
    return this.fc2.forward(gelu(this.fc1.forward(x), 'tanh'));
  }
}

/** SwiGLU feed-forward (Shazeer 2020, eq. 6): down(silu(gate(x)) ⊙ up(x)); no biases, as in Llama. */
export class SwiGLU extends Module {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;

  constructor(dim: number, hidden = Math.round((8 * dim) / 3), options: SwiGLUOptions = {}) {
    super();
    const { bias, ...o } = feedForward('SwiGLU', dim, hidden, options);
    const opts = { bias: bias ?? false, ...o };
    this.gate = new Linear(dim, hidden, opts);
    this.up = new Linear(dim, hidden, opts);
    this.down = new Linear(hidden, dim, opts);
  }

  /** The projection whose output leaves the feed-forward (down). */
  get output(): Linear {
    return this.down;
  }

  forward(x: Tensor): Tensor {
    expectFeatures('SwiGLU.forward', 'x', x, this.gate.inFeatures, this.gate.weight.dtype);
    return this.down.forward(silu(this.gate.forward(x)).mul(this.up.forward(x)));
  }
}
