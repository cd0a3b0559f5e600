import { Generator, dropout, gelu, silu, type DType, type Tensor } from '../core/index.js';
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
    this.generator = options.generator ?? new Generator(0);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { generator: this.generator, training: this.training });
  }
}

export interface MLPOptions {
  bias?: boolean;
  generator?: Generator;
  dtype?: DType;
}

/** GPT-2 feed-forward: fc2(gelu(fc1(x))). x: [..., dim] → [..., dim]; hidden defaults to 4·dim. */
export class MLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(dim: number, hidden = 4 * dim, options: MLPOptions = {}) {
    super();
    const g = options.generator ?? new Generator(0);
    this.fc1 = new Linear(dim, hidden, { ...options, generator: g });
    this.fc2 = new Linear(hidden, dim, { ...options, generator: g });
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x), 'tanh'));
  }
}

/** SwiGLU feed-forward (Shazeer 2020, eq. 6): down(silu(gate(x)) ⊙ up(x)); no biases, as in Llama. */
export class SwiGLU extends Module {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;

  constructor(dim: number, hidden = Math.round((8 * dim) / 3), options: MLPOptions = {}) {
    super();
    const g = options.generator ?? new Generator(0);
    const opts = { bias: options.bias ?? false, generator: g, ...(options.dtype ? { dtype: options.dtype } : {}) };
    this.gate = new Linear(dim, hidden, opts);
    this.up = new Linear(dim, hidden, opts);
    this.down = new Linear(hidden, dim, opts);
  }

  forward(x: Tensor): Tensor {
    return this.down.forward(silu(this.gate.forward(x)).mul(this.up.forward(x)));
  }
}
