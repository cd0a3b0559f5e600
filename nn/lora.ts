/**
 * LoRA — low-rank adaptation (Hu, Shen, Wallis, Allen-Zhu, Li, Wang, Wang, Chen, "LoRA: Low-Rank Adaptation of Large
 * Language Models", ICLR 2022; arXiv 2106.09685, Eq. 3). Reference code: huggingface/peft src/peft/tuners/lora/layer.py
 * (`LoraLayer.update_layer`, `reset_lora_parameters`, `Linear.forward`, `get_delta_weight`); rsLoRA scaling from
 * Kalajdzievski 2023 (arXiv 2312.03732), PEFT's `use_rslora`.
 *
 * A frozen linear layer h = W x + b gets a trainable low-rank update:
 *   y = x Wᵀ + b + γ · (x Aᵀ) Bᵀ,   A: [rank, in], B: [out, rank],   γ = alpha / rank (rsLoRA: alpha / √rank)   (Eq. 3)
 * Init as PEFT's default: A ~ U(±1/√in) (kaiming_uniform with a = √5), B = 0, so the wrapped layer starts as the base
 * layer exactly. The update never becomes a dense [out, in] matrix in the forward pass; `deltaWeight()` forms
 * γ·B A for merging into a checkpoint.
 *
 * Frozen weights as in nn/road.ts: the base Linear's weight and bias get `requiresGrad = false` (optimizers skip
 * parameters without a gradient) and stay in `parameters()` / `stateDict()` as `base.weight`, `base.bias`.
 * Shapes: x [..., in] → [..., out].
 */
import {
  DTypeError, Module, ValueError, defaultGenerator, describeValue, expectInteger, expectNumber, expectOptions, matmul,
  optionalGenerator, type Generator, type Parameter, type Tensor,
} from '../core/index.js';
import { expectFeatures, expectModule, optionalBoolean } from './checks.js';
import { constantParameter, uniformParameter } from './init.js';
import { Linear } from './linear.js';

/** Options of `LoRALinear`: `rank`, `alpha`, `rsLoRA`, `generator`. */
export interface LoRALinearOptions {
  /** r: the update's rank, 1 ≤ r ≤ min(in, out). */
  rank: number;
  /** α in γ = α / r (default 8, PEFT's lora_alpha). */
  alpha?: number;
  /** γ = α / √r instead (rsLoRA; PEFT's use_rslora). Default false. */
  rsLoRA?: boolean;
  /** Draws A (default: the shared default generator). */
  generator?: Generator;
}

/** The checked options of a LoRA layer. */
function parseLoRAOptions(op: string, options: LoRALinearOptions, inFeatures: number, outFeatures: number): { rank: number; scale: number; generator: Generator } {
  const o = expectOptions(op, 'options', options, ['rank', 'alpha', 'rsLoRA', 'generator']);
  if (o.rank === undefined) throw new ValueError(op, 'options.rank is required (the update\'s rank r)', 'rank');
  const rank = expectInteger(op, 'rank', o.rank, { min: 1, max: Math.min(inFeatures, outFeatures) });
  const alpha = o.alpha === undefined ? 8 : expectNumber(op, 'alpha', o.alpha);
  const rs = optionalBoolean(op, 'rsLoRA', o.rsLoRA) ?? false;
  const generator = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
  return { rank, scale: rs ? alpha / Math.sqrt(rank) : alpha / rank, generator };
}

/** A frozen Linear plus the low-rank update γ·B A. It has Linear's surface, so it can stand where a Linear stands. */
export class LoRALinear extends Module {
  /** A: [rank, in]. */
  readonly loraA: Parameter;
  /** B: [out, rank], zero at init. */
  readonly loraB: Parameter;
  readonly rank: number;
  /** γ = α / r (or α / √r with rsLoRA). */
  readonly scale: number;

  constructor(readonly base: Linear, options: LoRALinearOptions) {
    super();
    const op = 'LoRALinear';
    if (!(base instanceof Linear)) throw new DTypeError(op, `base must be a Linear, got ${describeValue(base)}`, 'base');
    const { rank, scale, generator } = parseLoRAOptions(op, options, base.inFeatures, base.outFeatures);
    const dtype = base.weight.dtype;
    this.rank = rank;
    this.scale = scale;
    this.loraA = uniformParameter([rank, base.inFeatures], { bound: 1 / Math.sqrt(base.inFeatures), generator, dtype });
    this.loraB = constantParameter([base.outFeatures, rank], 0, dtype);
    base.weight.requiresGrad = false;
    if (base.bias !== null) base.bias.requiresGrad = false;
  }

  get weight(): Parameter {
    return this.base.weight;
  }
  get bias(): Parameter | null {
    return this.base.bias;
  }
  get inFeatures(): number {
    return this.base.inFeatures;
  }
  get outFeatures(): number {
    return this.base.outFeatures;
  }
  get residualProjection(): boolean {
    return this.base.residualProjection;
  }

  /** x: [..., in] → [..., out]: x Wᵀ + b + γ·(x Aᵀ) Bᵀ. */
  forward(x: Tensor): Tensor {
    expectFeatures('LoRALinear.forward', 'x', x, this.inFeatures, this.weight.dtype);
    const update = matmul(matmul(x, this.loraA, { transposeB: true }), this.loraB, { transposeB: true });
    return this.base.forward(x).add(update.mul(this.scale));
  }

  /** γ·B A: [out, in], what merging adds to the base weight (PEFT's get_delta_weight). */
  deltaWeight(): Tensor {
    return matmul(this.loraB, this.loraA).mul(this.scale);
  }
}

/** Options of `wrapWithLoRA`: `select`. */
export interface WrapWithLoRAOptions extends LoRALinearOptions {
  /** Which Linears to wrap, by dotted module name (`blocks.0.attn.wq`): e.g. /attn\.w[qkvo]$/. */
  select: RegExp;
}

/**
 * Put a LoRALinear around every Linear of `model` whose dotted module name matches `select`, and freeze every other
 * parameter (requiresGrad = false: PEFT's get_peft_model), so only the A and B matrices train. Checks everything (at
 * least one match, the rank fits every match) before changing anything. One generator draws every A, in module order.
 * Returns the wrapped layers by name.
 */
export function wrapWithLoRA(model: Module, options: WrapWithLoRAOptions): Array<[string, LoRALinear]> {
  const op = 'wrapWithLoRA';
  expectModule(op, 'model', model);
  const o = expectOptions(op, 'options', options, ['select', 'rank', 'alpha', 'rsLoRA', 'generator']);
  if (!(o.select instanceof RegExp)) throw new DTypeError(op, `select must be a RegExp over dotted module names, got ${describeValue(o.select)}`, 'select');
  const targets: Array<{ parent: Module; key: string; name: string; linear: Linear }> = [];
  const walk = (m: Module, path: string): void => {
    for (const [key, value] of Object.entries(m)) {
      if (value instanceof Linear && o.select.test(path + key)) targets.push({ parent: m, key, name: path + key, linear: value });
    }
    for (const [name, child] of m.namedChildren()) if (!(child instanceof LoRALinear)) walk(child, `${path}${name}.`);
  };
  walk(model, '');
  if (targets.length === 0) throw new ValueError(op, `select ${String(o.select)} matches no Linear of the model`, 'select');
  const { select: _select, ...layerOptions } = o;
  for (const t of targets) {
    try {
      parseLoRAOptions(op, { ...layerOptions, generator: undefined }, t.linear.inFeatures, t.linear.outFeatures);
    } catch (e) {
      if (e instanceof ValueError && e.arg === 'rank') throw new ValueError(op, `${e.message.slice(op.length + 2)} (layer ${t.name})`, 'rank');
      throw e;
    }
  }
  const generator = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
  for (const p of model.parameters()) p.requiresGrad = false;
  const wrapped = targets.map((t) => new LoRALinear(t.linear, { ...layerOptions, generator }));
  targets.forEach((t, i) => {
    (t.parent as unknown as Record<string, unknown>)[t.key] = wrapped[i];
  });
  return targets.map((t, i) => [t.name, wrapped[i]!]);
}
