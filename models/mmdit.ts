/**
 * A tiny FLUX-style MMDiT (FLUX.1, Black Forest Labs 2024; MM-DiT of Esser et al., "Scaling Rectified Flow
 * Transformers for High-Resolution Image Synthesis", ICML 2024), written like models/vit.ts, after diffusers
 * `FluxTransformer2DModel` (models/transformers/transformer_flux.py): text and image tokens, double-stream then
 * single-stream blocks (nn/mmdit-block.ts) with FLUX 3-axis RoPE (positional/flux.ts), trained by rectified-flow
 * matching and sampled with Euler steps. It works on pixels directly (no VAE): the "latent" is the image.
 *
 * Shape letters: B batch, C channels, H × W image, p patch size, gh × gw = H/p × W/p patch grid, N = gh·gw image
 * tokens, L text tokens, S = L + N, D model dim, V vocabulary.
 * - tokens: img = W_in patchify(x) [B, N, D]; txt = W_txt (E[text] + P) [B, L, D] (E token embedding, P a learned
 *   per-slot table standing in for the T5 encoder's order information); ids = [0 (L rows); (0, r, c) (N rows)].
 * - conditioning: c = MLP_t(sinusoid(1000·t)) + MLP_pool(mean_L E[text]) [B, D] (FLUX: timestep + pooled CLIP text).
 * - blocks: double-stream (img, txt separate weights, joint attention) ×doubleBlocks, then x = [txt; img] through
 *   single-stream ×singleBlocks; attention layer index ℓ counts double blocks first, then single blocks.
 * - out: v = unpatchify(W_out (LN(x_img)·(1 + scale) + shift)), (scale, shift) = W_mod silu(c) (AdaLayerNormContinuous).
 * - rectified flow: x_t = (1 − t)·x0 + t·ε, ε ~ N(0, I), t = sigmoid(n), n ~ N(0, 1) (logit-normal, SD3); the model
 *   predicts v = ε − x0, loss = mean (v_θ(x_t, t, text) − v)²; sampling: x_1 = ε, x ← x − v_θ(x, t)/steps for
 *   t = 1, 1 − 1/steps, …, 1/steps (Euler, uniform steps; FLUX shifts its schedule, not done here).
 */
import {
  DTypeError, Generator, Module, Parameter, ShapeError, Tensor, ValueError, concat, describeValue, expectFunction, expectNumber,
  expectOptions, expectRequiredOptions, expectSize, expectTensor, fmtShape, noGrad, optionalDType, optionalGenerator, randn, defaultGenerator,
  type DType,
} from '../core/index.js';
import {
  DoubleStreamBlock, Embedding, LayerNorm, Linear, SingleStreamBlock, expectJointAttentionHook, expectWeight, type JointAttentionHook,
} from '../nn/index.js';
import { FluxRoPE, fluxPositions } from '../positional/index.js';
import { expectLayerStack, expectSeed, expectTokenIds } from './checks.js';
import { patchify } from './vit.js';

const MMDIT_CONFIG = [
  'imageSize', 'patchSize', 'channels', 'vocabSize', 'textLength', 'dim', 'numHeads', 'doubleBlocks', 'singleBlocks', 'mlpRatio',
  'axesDim', 'ropeTheta', 'seed', 'dtype',
] as const;

/**
 * The configuration of an `MMDiT`: `imageSize`, `patchSize`, `channels`, `vocabSize`, `textLength`, `dim`, `numHeads`,
 * `doubleBlocks`, `singleBlocks`, `mlpRatio`, `axesDim`, `ropeTheta`, `seed`, `dtype`.
 */
export interface MMDiTConfig {
  /** H = W of the training images; forward takes any multiple of patchSize. */
  imageSize: number;
  patchSize: number;
  /** Default 3 (RGB). */
  channels?: number;
  vocabSize: number;
  /** L: text tokens per prompt (the learned slot table's size). */
  textLength: number;
  dim: number;
  numHeads: number;
  doubleBlocks: number;
  singleBlocks: number;
  /** MLP hidden width = mlpRatio · dim; default 4 (FLUX). */
  mlpRatio?: number;
  /** RoPE channels per axis (axis0, row, col), Σ = dim/numHeads; default FLUX's [16, 56, 56] scaled (fluxAxesFor). */
  axesDim?: readonly number[];
  /** RoPE base of every axis; default 10000 (FLUX). */
  ropeTheta?: number;
  seed?: number;
  dtype?: DType;
}

/**
 * FLUX's axes_dim [16, 56, 56] (for head dim 128) scaled to head dim d: rows and columns get 2·⌊56d/256⌋ channels each,
 * axis 0 the rest ([4, 6, 6] for d = 16, [4, 10, 10] for d = 24).
 */
export function fluxAxesFor(headDim: number): number[] {
  const op = 'fluxAxesFor';
  const d = expectSize(op, 'headDim', headDim);
  if (d % 2 !== 0 || d < 6) throw new ValueError(op, `headDim must be even and ≥ 6 (two rotated pairs per spatial axis at least), got ${d}`, 'headDim');
  const side = 2 * Math.max(1, Math.floor((56 * d) / 256));
  return [d - 2 * side, side, side];
}

function checkConfig(config: MMDiTConfig): { channels: number; headDim: number; axesDim: number[] } {
  const op = 'MMDiT';
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new DTypeError(op, `config must be an object, got ${describeValue(config)}`, 'config');
  const c = expectOptions(op, 'config', config, MMDIT_CONFIG);
  const size = expectSize(op, 'imageSize', c.imageSize);
  const p = expectSize(op, 'patchSize', c.patchSize);
  if (size % p !== 0) throw new ValueError(op, `imageSize=${size} must be a multiple of patchSize=${p}`, 'imageSize');
  const channels = c.channels === undefined ? 3 : expectSize(op, 'channels', c.channels);
  const V = expectSize(op, 'vocabSize', c.vocabSize);
  const L = expectSize(op, 'textLength', c.textLength);
  const D = expectSize(op, 'dim', c.dim);
  const H = expectSize(op, 'numHeads', c.numHeads);
  if (D % H !== 0) throw new ValueError(op, `dim=${D} must be divisible by numHeads=${H}`, 'dim');
  const double = expectSize(op, 'doubleBlocks', c.doubleBlocks, 0);
  const single = expectSize(op, 'singleBlocks', c.singleBlocks, 0);
  expectLayerStack(op, 'doubleBlocks', double, 16 * D * D);
  expectLayerStack(op, 'singleBlocks', single, 6 * D * D);
  if (double + single === 0) throw new ValueError(op, 'doubleBlocks + singleBlocks must be ≥ 1 (no attention layer)', 'doubleBlocks');
  const ratio = c.mlpRatio === undefined ? 4 : expectNumber(op, 'mlpRatio', c.mlpRatio, { above: 0 });
  expectWeight(op, 'mlpRatio', Math.max(1, Math.round(ratio * D)), D);
  expectWeight(op, 'vocabSize', V, D);
  expectWeight(op, 'textLength', L, D);
  expectWeight(op, 'patchSize', channels * p * p, D);
  expectWeight(op, 'dim', 12 * D, D);
  const headDim = D / H;
  let axesDim: number[];
  if (c.axesDim === undefined) {
    if (headDim % 2 !== 0 || headDim < 6) throw new ValueError(op, `dim/numHeads = ${headDim} must be even and ≥ 6 for the default axesDim (or pass axesDim)`, 'numHeads');
    axesDim = fluxAxesFor(headDim);
  } else {
    if (!Array.isArray(c.axesDim)) throw new DTypeError(op, `axesDim must be an array of three even channel counts, got ${describeValue(c.axesDim)}`, 'axesDim');
    axesDim = c.axesDim.map((d: unknown, i) => expectSize(op, `axesDim[${i}]`, d));
    if (axesDim.length !== 3 || axesDim.some((d) => d % 2 !== 0)) throw new ValueError(op, `axesDim must be three even channel counts, got [${axesDim.join(',')}]`, 'axesDim');
    if (axesDim.reduce((a, b) => a + b, 0) !== headDim) throw new ValueError(op, `axesDim [${axesDim.join(',')}] must sum to dim/numHeads = ${headDim}`, 'axesDim');
  }
  if (c.ropeTheta !== undefined) expectNumber(op, 'ropeTheta', c.ropeTheta, { above: 1 });
  if (c.seed !== undefined) expectSeed(op, c.seed);
  optionalDType(op, 'dtype', c.dtype);
  return { channels, headDim, axesDim };
}

/** Options of `MMDiT.forward`: `hooks`, joint-attention hooks per block (the control path, nn/mmdit-block.ts). */
export interface MMDiTForwardOptions {
  /** Attention layer ℓ's hook (FreeFlux's probe/edit); undefined for a normal layer. */
  hooks?: (layer: number) => JointAttentionHook | undefined;
}

/** Options of `MMDiT.loss`: the Generator, or fixed times `t` and `noise` (for tests and evaluation). */
export interface MMDiTLossOptions {
  /** Draws t and ε when they are not given; default the global generator. */
  generator?: Generator;
  /** t [B] in [0, 1]; default logit-normal draws. */
  t?: Tensor;
  /** ε [B, C, H, W]; default N(0, I) draws. */
  noise?: Tensor;
}

/** The inputs of `MMDiT.generate`: `text`, `noise`, `steps`. */
export interface MMDiTSampleInputs {
  /** Prompts: token ids [B, L]. */
  text: Tensor;
  /** x_1 = ε [B, C, H, W]: the same latents give the same image. */
  noise: Tensor;
  /** Euler steps. */
  steps: number;
}

/** Attention hooks of a whole sampling run: layer ℓ at Euler step s (0-based, s = 0 at t = 1). */
export type MMDiTControl = (layer: number, step: number) => JointAttentionHook | undefined;

/** tokens [B, N, C·p·p] (raster order, each (c, i, j)) → images [B, C, gh·p, gw·p]; the inverse of patchify. */
function unpatchify(tokens: Tensor, C: number, gh: number, gw: number, p: number): Tensor {
  const B = tokens.shape[0]!;
  return tokens
    .reshape([B, gh, gw, C, p, p])
    .permute([0, 3, 1, 4, 2, 5]) // [B, C, gh, p, gw, p]
    .reshape([B, C, gh * p, gw * p]);
}

/**
 * A tiny FLUX-style MMDiT on pixels: text and image tokens through double- then single-stream blocks with FLUX 3-axis
 * RoPE, trained by rectified-flow matching and sampled with Euler steps; x [B, C, H, W] → velocity [B, C, H, W].
 */
export class MMDiT extends Module {
  readonly config: Readonly<MMDiTConfig>;
  readonly channels: number;
  readonly rope: FluxRoPE;
  /** C·p·p → D (x_embedder). */
  readonly imgIn: Linear;
  /** [V, D] token table (the text encoder's stand-in). */
  readonly txtEmbed: Embedding;
  /** [L, D] learned per-slot vectors (the word order a T5 encoder would give). */
  readonly txtSlot: Parameter;
  /** D → D (context_embedder). */
  readonly txtIn: Linear;
  /** sinusoid(1000 t) [B, D] → D → D (timestep_embedder). */
  readonly timeIn1: Linear;
  readonly timeIn2: Linear;
  /** mean text embedding → D → D (text_embedder of the pooled projection). */
  readonly poolIn1: Linear;
  readonly poolIn2: Linear;
  readonly doubleBlocks: DoubleStreamBlock[];
  readonly singleBlocks: SingleStreamBlock[];
  readonly normOut: LayerNorm;
  /** silu(c) → (scale, shift) [B, 2D], zero at init. */
  readonly modOut: Linear;
  /** D → C·p·p, zero at init (the initial velocity is 0). */
  readonly projOut: Linear;
  /** [D/2] frequencies of the timestep sinusoid. */
  readonly #timeFreqs: Tensor;
  readonly #ids = new Map<string, Tensor>();

  constructor(config: MMDiTConfig) {
    super();
    const { channels, headDim, axesDim } = checkConfig(config);
    this.config = Object.freeze({ ...config, axesDim: [...axesDim] });
    this.channels = channels;
    const { dim: D, numHeads, patchSize: p, dtype } = config;
    const g = new Generator(config.seed ?? 0);
    this.rope = new FluxRoPE(axesDim, { theta: config.ropeTheta ?? 10000 });
    if (this.rope.headDim !== headDim) throw new ValueError('MMDiT', `axesDim sums to ${this.rope.headDim}, not dim/numHeads = ${headDim}`, 'axesDim');
    this.imgIn = new Linear(channels * p * p, D, { generator: g, dtype });
    this.txtEmbed = new Embedding(config.vocabSize, D, { generator: g, dtype });
    this.txtSlot = new Parameter(randn([config.textLength, D], { std: 0.5, generator: g, dtype }).data, [config.textLength, D]);
    this.txtIn = new Linear(D, D, { generator: g, dtype });
    this.timeIn1 = new Linear(D, D, { generator: g, dtype });
    this.timeIn2 = new Linear(D, D, { generator: g, dtype });
    this.poolIn1 = new Linear(D, D, { generator: g, dtype });
    this.poolIn2 = new Linear(D, D, { generator: g, dtype });
    const blockOptions = { numHeads, rope: this.rope, mlpRatio: config.mlpRatio ?? 4, generator: g, dtype };
    this.doubleBlocks = Array.from({ length: config.doubleBlocks }, () => new DoubleStreamBlock(D, blockOptions));
    this.singleBlocks = Array.from({ length: config.singleBlocks }, () => new SingleStreamBlock(D, blockOptions));
    this.normOut = new LayerNorm(D, { affine: false, eps: 1e-6, dtype });
    this.modOut = new Linear(D, 2 * D, { std: 0, dtype });
    this.projOut = new Linear(D, channels * p * p, { std: 0, dtype });
    const half = Math.ceil(D / 2);
    const freqs = Float64Array.from({ length: half }, (_, k) => Math.exp((-Math.log(10000) * k) / half));
    this.#timeFreqs = new Tensor(dtype === 'float64' ? freqs : Float32Array.from(freqs), [half]);
  }

  /** Joint attention layers: double-stream blocks first, then single-stream blocks. */
  get numAttentionLayers(): number {
    return this.doubleBlocks.length + this.singleBlocks.length;
  }

  /** ids [L + gh·gw, 3]: text (0, 0, 0), image (0, r, c) in raster order (fluxPositions), one tensor per grid. */
  positionIds(gh: number, gw: number): Tensor {
    const op = 'MMDiT.positionIds';
    expectSize(op, 'gh', gh);
    expectSize(op, 'gw', gw);
    expectWeight(op, gh >= gw ? 'gh' : 'gw', gh * gw, 3);
    const key = `${gh}x${gw}`;
    let ids = this.#ids.get(key);
    if (ids === undefined) {
      ids = fluxPositions({ textLength: this.config.textLength, height: gh, width: gw });
      this.#ids.set(key, ids);
    }
    return ids;
  }

  /** x_t [B, C, H, W], t [B], text ids [B, L] → predicted velocity v [B, C, H, W]. */
  forward(x: Tensor, t: Tensor, text: Tensor, options: MMDiTForwardOptions = {}): Tensor {
    const op = 'MMDiT.forward';
    this.checkInputs(op, x, text);
    this.checkTime(op, t, x.shape[0]!);
    const o = expectOptions(op, 'options', options, ['hooks']);
    if (o.hooks !== undefined) expectFunction(op, 'hooks', o.hooks);
    return this.forwardChecked(op, x, t, text, o.hooks);
  }

  private forwardChecked(op: string, x: Tensor, t: Tensor, text: Tensor, hooks: ((layer: number) => JointAttentionHook | undefined) | undefined): Tensor {
    const { patchSize: p, dim: D, textLength: L } = this.config;
    const [B, C, Hpx, Wpx] = x.shape as [number, number, number, number];
    const gh = Hpx / p;
    const gw = Wpx / p;
    const N = gh * gw;
    const ids = this.positionIds(gh, gw); // [S, 3]

    let img = this.imgIn.forward(patchify(x, p)); // [B, N, D]
    const words = this.txtEmbed.forward(text); // [B, L, D]
    let txt = this.txtIn.forward(words.add(this.txtSlot)); // [B, L, D]
    const angles = t.reshape([B, 1]).mul(1000).mul(this.#timeFreqs); // [B, D/2]
    const sinusoid = concat([angles.cos(), angles.sin()], 1).narrow(1, 0, D); // [B, D]
    const c = this.timeIn2.forward(this.timeIn1.forward(sinusoid).silu())
      .add(this.poolIn2.forward(this.poolIn1.forward(words.mean(1)).silu())); // [B, D]

    let layer = 0;
    const hookOf = (): JointAttentionHook | undefined => {
      const h: unknown = hooks?.(layer++);
      return expectJointAttentionHook(op, 'hooks', h);
    };
    for (const block of this.doubleBlocks) ({ img, txt } = block.forwardChecked(op, img, txt, c, ids, hookOf()));
    let joint = concat([txt, img], 1); // [B, S, D]
    for (const block of this.singleBlocks) joint = block.forwardChecked(op, joint, c, ids, L, hookOf());
    img = joint.narrow(1, L, N); // [B, N, D]

    const m = this.modOut.forward(c.silu()); // [B, 2D]: scale, shift
    const out = this.normOut.forward(img).mul(m.narrow(1, 0, D).add(1).unsqueeze(1)).add(m.narrow(1, D, D).unsqueeze(1));
    return unpatchify(this.projOut.forward(out), C, gh, gw, p); // [B, C, H, W]
  }

  /**
   * Rectified-flow loss of clean images x0 [B, C, H, W] with prompts text [B, L]: mean (v_θ(x_t, t) − (ε − x0))²,
   * x_t = (1 − t)·x0 + t·ε.
   */
  loss(x0: Tensor, text: Tensor, options: MMDiTLossOptions = {}): Tensor {
    const op = 'MMDiT.loss';
    this.checkInputs(op, x0, text, 'x0');
    const o = expectOptions(op, 'options', options, ['generator', 't', 'noise']);
    const g = optionalGenerator(op, 'generator', o.generator, defaultGenerator);
    const [B, C, H, W] = x0.shape as [number, number, number, number];
    const dtype = x0.dtype;
    if (o.t !== undefined) this.checkTime(op, o.t, B);
    if (o.noise !== undefined) {
      expectTensor(op, 'noise', o.noise);
      if (!sameShape(o.noise.shape, x0.shape) || o.noise.dtype !== dtype) {
        throw new ShapeError(op, `noise=${fmtShape(o.noise.shape)} ${o.noise.dtype} must match x0=${fmtShape(x0.shape)} ${dtype}`, 'noise');
      }
    }
    const t = o.t ?? randn([B], { generator: g, dtype }).sigmoid(); // logit-normal t
    const eps = o.noise ?? randn([B, C, H, W], { generator: g, dtype });
    const tb = t.reshape([B, 1, 1, 1]);
    const xt = x0.mul(tb.neg().add(1)).add(eps.mul(tb)); // (1 − t)·x0 + t·ε
    const target = eps.sub(x0); // v = ε − x0
    return this.forwardChecked(op, xt, t, text, undefined).sub(target).square().mean();
  }

  /**
   * Euler sampling from x_1 = noise to x_0 in `steps` uniform steps (no gradients). `control(ℓ, s)` gives attention
   * layer ℓ's hook at step s (FreeFlux's probe and edit). Deterministic: the same inputs give the same images.
   */
  generate(inputs: MMDiTSampleInputs, control?: MMDiTControl): Tensor {
    const op = 'MMDiT.generate';
    const o = expectRequiredOptions(op, inputs, ['text', 'noise', 'steps'], '{ text, noise, steps }', 'inputs');
    this.checkInputs(op, o.noise, o.text, 'noise');
    const steps = expectSize(op, 'steps', o.steps);
    if (control !== undefined) expectFunction(op, 'control', control);
    const { text, noise } = o;
    const B = noise.shape[0]!;
    return noGrad(() => {
      let x = noise;
      for (let s = 0; s < steps; s++) {
        const t = new Tensor(noise.dtype === 'float64' ? new Float64Array(B).fill(1 - s / steps) : new Float32Array(B).fill(1 - s / steps), [B]);
        const v = this.forwardChecked(op, x, t, text, control === undefined ? undefined : (layer) => control(layer, s));
        x = x.sub(v.mul(1 / steps));
      }
      return x;
    });
  }

  /** x [B, C, H, W] of the model's dtype with H, W multiples of patchSize; text ids [B, L]. */
  private checkInputs(op: string, x: unknown, text: unknown, arg = 'x'): asserts x is Tensor {
    const { patchSize: p, textLength: L, vocabSize: V } = this.config;
    expectTensor(op, arg, x);
    if (x.ndim !== 4 || x.shape[1] !== this.channels) throw new ShapeError(op, `${arg}=${fmtShape(x.shape)} must be [B, ${this.channels}, H, W]`, arg);
    const [B, , H, W] = x.shape as [number, number, number, number];
    if (H % p !== 0 || W % p !== 0 || H === 0 || W === 0 || B === 0) {
      throw new ShapeError(op, `${arg}=${fmtShape(x.shape)} needs B ≥ 1 and H, W positive multiples of patchSize=${p}`, arg);
    }
    expectWeight(op, arg, (L + (H / p) * (W / p)) ** 2, B * this.config.numHeads); // the attention scores [B, H, S, S]
    const dtype = this.imgIn.weight.dtype;
    if (x.dtype !== dtype) throw new DTypeError(op, `${arg} is ${x.dtype} but the model's weights are ${dtype}`, arg);
    expectTokenIds(op, 'text', text, V);
    if (text.shape[0] !== B || text.shape[1] !== L) throw new ShapeError(op, `text=${fmtShape(text.shape)} must be [${B}, ${L}] (one prompt of textLength tokens per image)`, 'text');
  }

  /** t [B] of finite times, the model's dtype. */
  private checkTime(op: string, t: unknown, B: number): asserts t is Tensor {
    expectTensor(op, 't', t);
    if (t.ndim !== 1 || t.shape[0] !== B) throw new ShapeError(op, `t=${fmtShape(t.shape)} must be [${B}] (one time per image)`, 't');
    if (t.dtype !== this.imgIn.weight.dtype) throw new DTypeError(op, `t is ${t.dtype} but the model's weights are ${this.imgIn.weight.dtype}`, 't');
    for (let i = 0; i < t.size; i++) {
      if (!Number.isFinite(t.data[i]!)) throw new ValueError(op, `t must be finite, got ${t.data[i]} at ${i}`, 't');
    }
  }
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((s, i) => s === b[i]);
