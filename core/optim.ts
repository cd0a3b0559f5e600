/** Optimizers that update parameters in place from their `.grad`, gradient clipping, and learning-rate schedules. */
import { ValueError } from './errors.js';
import type { Tensor } from './tensor.js';

/** Common surface: a parameter list, a mutable learning rate, `step()` and `zeroGrad()`. */
export abstract class Optimizer {
  readonly params: readonly Tensor[];
  lr: number;

  constructor(op: string, params: Iterable<Tensor>, lr: number) {
    this.params = [...params];
    if (!(lr >= 0)) throw new ValueError(op, `lr must be ≥ 0, got lr=${lr}`, 'lr');
    this.lr = lr;
  }

  /** Apply one update to every parameter that has a gradient. */
  step(): void {
    this.params.forEach((p, i) => {
      if (p.grad !== null) this.update(p, p.grad.data, i);
    });
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  protected abstract update(p: Tensor, g: Float32Array | Float64Array, index: number): void;

  /** Per-parameter state buffer (float64, zero on first use). */
  protected stateOf(store: Map<number, Float64Array>, index: number, size: number): Float64Array {
    let s = store.get(index);
    if (s === undefined) store.set(index, (s = new Float64Array(size)));
    return s;
  }
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
}

/** SGD with momentum as torch.optim.SGD: b ← μb + (1 − τ)g; p ← p − lr·(nesterov ? g + μb : b). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  private readonly buffers = new Map<number, Float64Array>();

  constructor(params: Iterable<Tensor>, options: SGDOptions) {
    super('SGD', params, options.lr);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.momentum >= 0)) throw new ValueError('SGD', `momentum must be ≥ 0, got momentum=${this.momentum}`, 'momentum');
    if (!(this.weightDecay >= 0)) throw new ValueError('SGD', `weightDecay must be ≥ 0, got weightDecay=${this.weightDecay}`, 'weightDecay');
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new ValueError('SGD', `nesterov needs momentum > 0 and dampening = 0, got momentum=${this.momentum}, dampening=${this.dampening}`, 'nesterov');
    }
  }

  protected update(p: Tensor, g: Float32Array | Float64Array, index: number): void {
    const { momentum: mu, dampening, nesterov, weightDecay: wd, lr } = this;
    const w = p.data;
    const first = !this.buffers.has(index);
    const buf = mu !== 0 ? this.stateOf(this.buffers, index, w.length) : null;
    for (let i = 0; i < w.length; i++) {
      let d = g[i]! + wd * w[i]!;
      if (buf !== null) {
        buf[i] = first ? d : mu * buf[i]! + (1 - dampening) * d;
        d = nesterov ? d + mu * buf[i]! : buf[i]!;
      }
      w[i] = w[i]! - lr * d;
    }
  }
}

export interface AdamOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

/**
 * Adam (Kingma & Ba 2015, Alg. 1): m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², p ← p − lr·m̂/(√v̂ + ε).
 * `weightDecay` here is an L2 term added to g (torch.optim.Adam); AdamW decouples it.
 */
export class Adam extends Optimizer {
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean = false;
  private readonly m = new Map<number, Float64Array>();
  private readonly v = new Map<number, Float64Array>();
  private readonly steps = new Map<number, number>();

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}, name = 'Adam') {
    super(name, params, options.lr ?? 1e-3);
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    for (const b of this.betas) {
      if (!(b >= 0 && b < 1)) throw new ValueError(name, `betas must lie in [0, 1), got betas=[${this.betas.join(', ')}]`, 'betas');
    }
    if (!(this.eps >= 0)) throw new ValueError(name, `eps must be ≥ 0, got eps=${this.eps}`, 'eps');
    if (!(this.weightDecay >= 0)) throw new ValueError(name, `weightDecay must be ≥ 0, got weightDecay=${this.weightDecay}`, 'weightDecay');
  }

  protected update(p: Tensor, g: Float32Array | Float64Array, index: number): void {
    const [b1, b2] = this.betas;
    const { lr, eps, weightDecay: wd, decoupled } = this;
    const w = p.data;
    const m = this.stateOf(this.m, index, w.length);
    const v = this.stateOf(this.v, index, w.length);
    const t = (this.steps.get(index) ?? 0) + 1;
    this.steps.set(index, t);
    const c1 = 1 - Math.pow(b1, t);
    const c2 = 1 - Math.pow(b2, t);
    for (let i = 0; i < w.length; i++) {
      let wi = w[i]!;
      let gi = g[i]!;
      if (decoupled) wi -= lr * wd * wi;
      else gi += wd * wi;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      w[i] = wi - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
    }
  }
}

/** AdamW (Loshchilov & Hutter 2019): decoupled weight decay p ← p − lr·λ·p before the Adam step; λ defaults to 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled = true;

  constructor(params: Iterable<Tensor>, options: AdamOptions = {}) {
    super(params, { weightDecay: 0.01, ...options }, 'AdamW');
  }
}

/**
 * Scale all gradients together so that their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_).
 * Returns the norm before clipping.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new ValueError('clipGradNorm', `maxNorm must be > 0, got ${maxNorm}`, 'maxNorm');
  const list = [...params].filter((p) => p.grad !== null);
  let sq = 0;
  for (const p of list) for (const v of p.grad!.data) sq += v * v;
  const norm = Math.sqrt(sq);
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) for (const p of list) { const d = p.grad!.data; for (let i = 0; i < d.length; i++) d[i] = d[i]! * scale; }
  return norm;
}

export interface WarmupCosineOptions {
  /** Peak learning rate, reached at the end of warmup. */
  maxLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** Floor of the cosine decay. Default 0. */
  minLr?: number;
}

/**
 * Linear warmup maxLr·(step + 1)/warmupSteps (reaching maxLr at step warmupSteps − 1, as in llm.c), then cosine
 * decay from maxLr at step warmupSteps to minLr at totalSteps (held after).
 */
export function warmupCosineLr(step: number, options: WarmupCosineOptions): number {
  const { maxLr, warmupSteps, totalSteps, minLr = 0 } = options;
  if (!(step >= 0)) throw new ValueError('warmupCosineLr', `step must be ≥ 0, got step=${step}`, 'step');
  if (!(totalSteps > 0) || !(warmupSteps >= 0 && warmupSteps <= totalSteps)) {
    throw new ValueError('warmupCosineLr', `need 0 ≤ warmupSteps ≤ totalSteps, totalSteps > 0 — got warmupSteps=${warmupSteps}, totalSteps=${totalSteps}`, 'warmupSteps');
  }
  if (step < warmupSteps) return (maxLr * (step + 1)) / warmupSteps;
  if (step >= totalSteps) return minLr;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * progress));
}
