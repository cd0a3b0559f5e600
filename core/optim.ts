/** Optimizers that update parameters in place from their `.grad`, gradient clipping, and learning-rate schedules. */
import { describeValue, expectBoolean, expectInteger, expectNumber, expectOptions } from './args.js';
import { DTypeError, ShapeError, ValueError } from './errors.js';
import { fmtShape, shapesEqual } from './shape.js';
import { Tensor } from './tensor.js';

/**
 * A group of parameters that an optimizer updates with its learning rate times `lrScale` (torch's parameter groups,
 * with the rate relative so that one schedule drives every group): `new AdamW([{ params: a, lrScale: 1 },
 * { params: b, lrScale: 0.2 }], { lr: 1e-3 })`.
 */
export interface ParamGroup {
  params: Iterable<Tensor>;
  /** The group's learning rate over the optimizer's `lr`: a finite number ≥ 0. */
  lrScale: number;
}

/** What optimizers take: parameters (a module's `parameters()`), or parameter groups each with its own lrScale. */
export type OptimizerParams = Iterable<Tensor> | readonly ParamGroup[];

/**
 * The optimizer `op`'s params as one flat list of distinct Tensors and each one's lrScale: a plain iterable of
 * Tensors (every scale 1), or an array of parameter groups `{ params, lrScale }`.
 */
function paramGroups(op: string, params: unknown): { list: Tensor[]; scales: number[] } {
  const isGroup = (x: unknown): boolean => x !== null && typeof x === 'object' && !(x instanceof Tensor) && 'params' in x;
  if (!Array.isArray(params) || params.length === 0 || !params.some(isGroup)) {
    const list = tensorList(op, params);
    return { list, scales: list.map(() => 1) };
  }
  const groups = params.map((group: unknown, i) => {
    if (!isGroup(group)) throw new DTypeError(op, `params[${i}] must be a parameter group { params, lrScale } like the others, got ${describeValue(group)}`, 'params');
    const g = expectOptions(op, `params[${i}]`, group as ParamGroup, ['params', 'lrScale']);
    const lrScale = expectNumber(op, `params[${i}].lrScale`, g.lrScale, { min: 0 });
    return { tensors: tensorList(op, g.params), lrScale };
  });
  const list = tensorList(op, groups.flatMap((g) => g.tensors)); // refuses a parameter in two groups
  return { list, scales: groups.flatMap((g) => g.tensors.map(() => g.lrScale)) };
}

/** `params` of the public function or class `op`: an iterable of distinct Tensors (a module's `parameters()`). */
function tensorList(op: string, params: unknown): Tensor[] {
  if (params === null || params === undefined || typeof params === 'string' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw new DTypeError(op, `params must be an iterable of Tensors (e.g. model.parameters()), got ${describeValue(params)}`, 'params');
  }
  const list = [...(params as Iterable<unknown>)];
  const seen = new Set<Tensor>();
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new DTypeError(op, `params[${i}] must be a Tensor, got ${describeValue(p)}`, 'params');
    if (seen.has(p)) throw new ValueError(op, `params[${i}] appears twice (each parameter at most once, or it is updated twice per step)`, 'params');
    seen.add(p);
  });
  return list as Tensor[];
}

/** A learning rate: a finite number ≥ 0. */
function checkLr(op: string, lr: unknown): number {
  if (lr === undefined) throw new ValueError(op, 'lr is required (pass { lr: … }), got undefined', 'lr');
  return expectNumber(op, 'lr', lr, { min: 0 });
}

/**
 * Common surface: a parameter list, a mutable learning rate, `step()` and `zeroGrad()`. Every write `step()` makes
 * to a parameter is followed by `markModified()`, so a backward through a graph recorded before the step refuses to
 * run instead of returning gradients of values that no longer exist. Parameters given in groups (`ParamGroup`) are
 * updated with lr times their group's lrScale (`lrOf`).
 */
export abstract class Optimizer {
  readonly params: readonly Tensor[];
  /** Per parameter (in `params` order), its group's lrScale; 1 for parameters not given in groups. */
  readonly lrScales: readonly number[];
  private lrValue: number;
  private readonly opName: string;

  constructor(op: string, params: OptimizerParams, lr: number) {
    this.opName = op;
    const { list, scales } = paramGroups(op, params);
    this.params = list;
    this.lrScales = scales;
    this.lrValue = checkLr(op, lr);
  }

  /** The learning rate of parameter `index` (in `params` order): lr × its lrScale. */
  protected lrOf(index: number): number {
    return this.lrValue * this.lrScales[index]!;
  }

  /** The learning rate; assigning a value that is not a finite number ≥ 0 throws a ValueError. */
  get lr(): number {
    return this.lrValue;
  }
  set lr(value: number) {
    this.lrValue = expectNumber(`${this.opName}.lr`, 'lr', value, { min: 0 });
  }

  /** Apply one update to every parameter that has a gradient (a gradient of another shape is refused first). */
  step(): void {
    this.params.forEach((p, i) => {
      const g: unknown = p.grad;
      if (g === null) return;
      if (!(g instanceof Tensor)) throw new DTypeError(`${this.opName}.step`, `params[${i}].grad must be a Tensor or null, got ${describeValue(g)}`, 'params');
      if (!shapesEqual(g.shape, p.shape)) {
        throw new ShapeError(`${this.opName}.step`, `params[${i}].grad=${fmtShape(g.shape)} does not match the parameter's ${fmtShape(p.shape)}`, 'params');
      }
    });
    this.params.forEach((p, i) => {
      if (p.grad !== null) {
        this.update(p, p.grad.data, i);
        p.markModified();
      }
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

/** Options of `SGD`: `lr`, `momentum`, `dampening`, `nesterov`, `weightDecay`. */
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

  /** `new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 })`; `lr` is required. */
  constructor(params: OptimizerParams, options: SGDOptions) {
    if (options === undefined) throw new ValueError('SGD', 'options are required: new SGD(params, { lr, momentum?, dampening?, nesterov?, weightDecay? })', 'options');
    const opts = expectOptions('SGD', 'options', options, ['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay']);
    super('SGD', params, opts.lr);
    this.momentum = opts.momentum === undefined ? 0 : expectNumber('SGD', 'momentum', opts.momentum, { min: 0 });
    this.dampening = opts.dampening === undefined ? 0 : expectNumber('SGD', 'dampening', opts.dampening);
    this.nesterov = opts.nesterov === undefined ? false : expectBoolean('SGD', 'nesterov', opts.nesterov);
    this.weightDecay = opts.weightDecay === undefined ? 0 : expectNumber('SGD', 'weightDecay', opts.weightDecay, { min: 0 });
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new ValueError('SGD', `nesterov needs momentum > 0 and dampening = 0, got momentum=${this.momentum}, dampening=${this.dampening}`, 'nesterov');
    }
  }

  protected update(p: Tensor, g: Float32Array | Float64Array, index: number): void {
    const { momentum: mu, dampening, nesterov, weightDecay: wd } = this;
    const lr = this.lrOf(index);
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

/** Options of `Adam` and `AdamW`: `lr`, `betas`, `eps`, `weightDecay`. */
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

  /** `new Adam(model.parameters(), { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 })` (all optional). */
  constructor(params: OptimizerParams, options?: AdamOptions, name = 'Adam') {
    const opts = expectOptions(name, 'options', options, ['lr', 'betas', 'eps', 'weightDecay']);
    super(name, params, opts.lr === undefined ? 1e-3 : opts.lr);
    const betas = opts.betas === undefined ? [0.9, 0.999] : opts.betas;
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new DTypeError(name, `betas must be a pair [β₁, β₂], got ${describeValue(betas)}`, 'betas');
    }
    for (const b of betas) {
      if (typeof b !== 'number') throw new DTypeError(name, `betas must be numbers in [0, 1), got ${describeValue(b)}`, 'betas');
      if (!(b >= 0 && b < 1)) throw new ValueError(name, `betas must lie in [0, 1), got betas=[${betas.join(', ')}]`, 'betas');
    }
    this.betas = [betas[0], betas[1]];
    this.eps = opts.eps === undefined ? 1e-8 : expectNumber(name, 'eps', opts.eps, { above: 0 });
    this.weightDecay = opts.weightDecay === undefined ? 0 : expectNumber(name, 'weightDecay', opts.weightDecay, { min: 0 });
  }

  protected update(p: Tensor, g: Float32Array | Float64Array, index: number): void {
    const [b1, b2] = this.betas;
    const { eps, weightDecay: wd, decoupled } = this;
    const lr = this.lrOf(index);
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

  constructor(params: OptimizerParams, options?: AdamOptions) {
    super(params, { weightDecay: 0.01, ...expectOptions('AdamW', 'options', options, ['lr', 'betas', 'eps', 'weightDecay']) }, 'AdamW');
  }
}

/**
 * Scale all gradients together so that their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_).
 * Returns the norm before clipping.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const list = tensorList('clipGradNorm', params).filter((p) => p.grad !== null);
  expectNumber('clipGradNorm', 'maxNorm', maxNorm, { above: 0 });
  let sq = 0;
  for (const p of list) for (const v of p.grad!.data) sq += v * v;
  const norm = Math.sqrt(sq);
  const scale = maxNorm / (norm + 1e-6);
  if (scale < 1) {
    for (const p of list) {
      const d = p.grad!.data;
      for (let i = 0; i < d.length; i++) d[i] = d[i]! * scale;
      p.grad!.markModified();
    }
  }
  return norm;
}

/** Options of `warmupCosineLr`: `maxLr`, `warmupSteps`, `totalSteps`, `minLr`. */
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
  const op = 'warmupCosineLr';
  expectInteger(op, 'step', step, { min: 0 });
  if (options === undefined) throw new ValueError(op, 'options are required: { maxLr, warmupSteps, totalSteps, minLr? }', 'options');
  const { maxLr, warmupSteps, totalSteps, minLr = 0 } = expectOptions(op, 'options', options, ['maxLr', 'warmupSteps', 'totalSteps', 'minLr']);
  expectNumber(op, 'maxLr', maxLr, { min: 0 });
  expectNumber(op, 'minLr', minLr, { min: 0 });
  expectInteger(op, 'totalSteps', totalSteps, { min: 1 });
  expectInteger(op, 'warmupSteps', warmupSteps, { min: 0 });
  if (warmupSteps > totalSteps) {
    throw new ValueError(op, `need 0 ≤ warmupSteps ≤ totalSteps — got warmupSteps=${warmupSteps}, totalSteps=${totalSteps}`, 'warmupSteps');
  }
  if (step < warmupSteps) return (maxLr * (step + 1)) / warmupSteps;
  if (step >= totalSteps) return minLr;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return minLr + 0.5 * (maxLr - minLr) * (1 + Math.cos(Math.PI * progress));
}
