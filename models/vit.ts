/**
 * A small Vision Transformer (Dosovitskiy et al. 2021), written like models/gpt.ts: patches, class token, position
 * signal, head and loss in this file, with shapes in comments; the pre-norm blocks are nn/block.ts's. B batch, C channels, H × W image, p patch size, gh × gw patch grid
 * (gh = H/p rows, gw = W/p columns), N = gh·gw patches, T = 1 + N tokens (class token first), D model dim.
 *
 * The 2-D position signal is one of
 * - 'rope-axial': RoPE-Axial (Heo et al. 2024), one fixed `RoPEAxial` shared by every layer, θ = 100;
 * - 'rope-mixed': RoPE-Mixed, learned frequencies, one `RoPEMixed` per layer, θ = 10;
 * - 'absolute':   a learned table over the training patch grid added to the patch embeddings; at another grid it is
 *                 resampled by 2-D bilinear interpolation (torch `F.interpolate(mode='bilinear', align_corners=False)`,
 *                 as big_vision's ViT does; timm defaults to bicubic), a constant matrix times the table;
 * - 'none':       no position signal (the patches form a set).
 * RoPE coordinates are the reference's integer patch grid (column x, row y, 0-based, x fastest), built from the
 * actual image size: a larger image extends the grid (the RoPE-ViT paper's resolution extrapolation). The class
 * token is left unrotated (prefixTokens: 1) and has no absolute embedding (it is itself a learned vector).
 */
import {
  DTypeError, Generator, Module, Parameter, ShapeError, Tensor, ValueError, concat, crossEntropy, describeValue, expectAllocatable, expectNumber,
  expectOneOf, expectOptions, expectSize, expectTensor, fmtShape, matmul, optionalDType, randn, type DType,
} from '../core/index.js';
import { Block, LayerNorm, Linear, expectWeight } from '../nn/index.js';
import { NoPE, RoPEAxial, RoPEMixed, ropeVitGrid, type PositionalEncoding } from '../positional/index.js';
import { expectLayerStack, expectSeed } from './checks.js';

const DTYPES = ['float32', 'float64'] as const;

const VIT_CONFIG = [
  'imageSize', 'patchSize', 'channels', 'numClasses', 'dim', 'depth', 'numHeads', 'mlpRatio', 'positional', 'ropeTheta', 'seed', 'dtype',
] as const;

function checkConfig(config: ViTConfig): void {
  const op = 'ViT';
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new DTypeError(op, `config must be an object, got ${describeValue(config)}`, 'config');
  const c = expectOptions(op, 'config', config, VIT_CONFIG);
  const p = expectSize(op, 'patchSize', c.patchSize);
  const channels = c.channels === undefined ? 3 : expectSize(op, 'channels', c.channels);
  expectSize(op, 'numClasses', c.numClasses);
  const D = expectSize(op, 'dim', c.dim);
  const depth = expectSize(op, 'depth', c.depth);
  expectLayerStack(op, 'depth', depth, D * D);
  const H = expectSize(op, 'numHeads', c.numHeads);
  if (D % H !== 0) throw new ValueError(op, `dim=${D} must be divisible by numHeads=${H}`, 'dim');
  if (c.mlpRatio !== undefined) expectNumber(op, 'mlpRatio', c.mlpRatio, { above: 0 });
  if (Math.round((c.mlpRatio ?? 4) * D) < 1) throw new ValueError(op, `mlpRatio=${c.mlpRatio} gives an empty MLP for dim=${D}`, 'mlpRatio');
  expectWeight(op, 'mlpRatio', Math.round((c.mlpRatio ?? 4) * D), D);
  expectWeight(op, 'numClasses', c.numClasses, D);
  expectOneOf(op, 'positional', c.positional, ['rope-axial', 'rope-mixed', 'absolute', 'none'] as const);
  if (c.ropeTheta !== undefined) expectNumber(op, 'ropeTheta', c.ropeTheta, { above: 1 });
  if (c.seed !== undefined) expectSeed(op, c.seed);
  optionalDType(op, 'dtype', c.dtype);
  if (c.imageSize !== undefined) {
    const size = typeof c.imageSize === 'number' ? [c.imageSize, c.imageSize] : c.imageSize;
    if (!Array.isArray(size) || size.length !== 2) throw new DTypeError(op, `imageSize must be a number or [H, W], got ${describeValue(c.imageSize)}`, 'imageSize');
    size.forEach((v: unknown) => expectSize(op, 'imageSize', v));
  }
  expectWeight(op, 'patchEmbed.weight', D, channels * p * p);
}

/** The ViT's position signal: RoPE-Axial, RoPE-Mixed (Heo et al. 2024), learned absolute embeddings, or none. */
export type ViTPositional = 'rope-axial' | 'rope-mixed' | 'absolute' | 'none';

/**
 * The configuration of a `ViT`: `imageSize`, `patchSize`, `channels`, `numClasses`, `dim`, `depth`, `numHeads`,
 * `mlpRatio`, `positional`, `ropeTheta`, `seed`, `dtype`.
 */
export interface ViTConfig {
  /** Training image size: H = W = imageSize, or [H, W]. Sizes the 'absolute' table (required there); forward takes any size. */
  imageSize?: number | readonly [number, number];
  patchSize: number;
  /** Image channels; default 3. */
  channels?: number;
  numClasses: number;
  dim: number;
  depth: number;
  numHeads: number;
  /** MLP hidden width = mlpRatio·dim; default 4. */
  mlpRatio?: number;
  positional: ViTPositional;
  /** RoPE θ; default 100 for 'rope-axial', 10 for 'rope-mixed' (the paper's). */
  ropeTheta?: number;
  seed?: number;
  dtype?: DType;
}

/** 1-D linear-interpolation weights [out, in] with half-pixel centres (align_corners = false, edges clamped). */
function linearResizeWeights(inSize: number, outSize: number): Float64Array {
  const w = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const frac = src - i0;
    w[o * inSize + i0] += 1 - frac;
    w[o * inSize + i1] += frac;
  }
  return w;
}

/**
 * The bilinear resampling matrix [gh·gw, gh0·gw0] from a gh0 × gw0 grid to gh × gw (both raster order, x fastest):
 * the Kronecker product of the row and column weights, so table' = M · table is F.interpolate of the table.
 */
export function bilinearResizeMatrix(gh0: number, gw0: number, gh: number, gw: number, dtype: DType = 'float64'): Tensor {
  const op = 'bilinearResizeMatrix';
  for (const [name, v] of [['gh0', gh0], ['gw0', gw0], ['gh', gh], ['gw', gw]] as const) expectSize(op, name, v);
  expectOneOf(op, 'dtype', dtype, DTYPES);
  expectWeight(op, 'the matrix', gh * gw, gh0 * gw0);
  const wy = linearResizeWeights(gh0, gh); // [gh, gh0]
  const wx = linearResizeWeights(gw0, gw); // [gw, gw0]
  const N0 = gh0 * gw0;
  const m = dtype === 'float64' ? new Float64Array(gh * gw * N0) : new Float32Array(gh * gw * N0);
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) {
      const row = (y * gw + x) * N0;
      for (let y0 = 0; y0 < gh0; y0++) {
        const a = wy[y * gh0 + y0]!;
        if (a === 0) continue;
        for (let x0 = 0; x0 < gw0; x0++) m[row + y0 * gw0 + x0] = a * wx[x * gw0 + x0]!;
      }
    }
  }
  return new Tensor(m, [gh * gw, N0]);
}

/** images [B, C, H, W] → patches [B, N, C·p·p], raster order (row-major over the grid), each flattened (c, i, j) like a conv kernel. */
export function patchify(images: Tensor, patchSize: number): Tensor {
  const op = 'patchify';
  expectTensor(op, 'images', images);
  if (images.ndim !== 4) throw new ShapeError(op, `images=${fmtShape(images.shape)} must be [B, C, H, W]`, 'images');
  const p = expectSize(op, 'patchSize', patchSize);
  const [B, C, H, W] = images.shape as [number, number, number, number];
  if (H % p !== 0 || W % p !== 0) throw new ShapeError(op, `image size ${H}×${W} must be multiples of patchSize=${p}`, 'images');
  const gh = H / p;
  const gw = W / p;
  return images
    .reshape([B, C, gh, p, gw, p]) // [B, C, gh, p, gw, p]
    .permute([0, 2, 4, 1, 3, 5]) // [B, gh, gw, C, p, p]
    .reshape([B, gh * gw, C * p * p]); // [B, N, C·p·p]
}

/** images must be a Tensor [B, …]; returns B. */
function expectTensorBatch(op: string, images: unknown): number {
  expectTensor(op, 'images', images);
  if (images.ndim !== 4) throw new ShapeError(op, `images=${fmtShape(images.shape)} must be [B, C, H, W]`, 'images');
  return images.shape[0]!;
}

/**
 * A small Vision Transformer (Dosovitskiy et al. 2021) with a choice of 2-D position signal: images [B, C, H, W] →
 * class logits [B, classes].
 */
export class ViT extends Module {
  readonly config: Readonly<ViTConfig>;
  /** Linear patch embedding (a stride-p convolution): C·p·p → D. */
  readonly patchEmbed: Linear;
  /** [1, 1, D] */
  readonly clsToken: Parameter;
  /** 'absolute' only: [gh0·gw0, D] over the training grid (raster order). */
  readonly posEmbed: Parameter | null;
  readonly blocks: Block[];
  readonly norm: LayerNorm;
  readonly head: Linear;
  /** Training grid (rows, columns); null when no imageSize was given. */
  readonly trainGrid: readonly [number, number] | null;
  #resize = new Map<string, Tensor>();
  #grids = new Map<string, Tensor>();

  constructor(config: ViTConfig) {
    super();
    checkConfig(config);
    const { patchSize: p, dim: D, depth, numHeads, numClasses, positional } = config;
    const channels = config.channels ?? 3;
    const headDim = D / numHeads;
    if (!Number.isInteger(headDim)) throw new ValueError('ViT', `dim=${D} must be divisible by numHeads=${numHeads}`, 'dim');
    if (positional.startsWith('rope') && headDim % 4 !== 0) {
      throw new ValueError('ViT', `2-D RoPE needs a head dim divisible by 4 — dim/numHeads = ${headDim}`, 'numHeads');
    }
    if (!['rope-axial', 'rope-mixed', 'absolute', 'none'].includes(positional)) {
      throw new ValueError('ViT', `unknown positional '${positional}' (rope-axial, rope-mixed, absolute, none)`, 'positional');
    }
    if (!Number.isInteger(p) || p < 1) throw new ValueError('ViT', `patchSize must be a positive integer, got ${p}`, 'patchSize');
    this.config = Object.freeze({ ...config });
    const g = new Generator(config.seed ?? 0);
    const { dtype } = config;

    if (config.imageSize !== undefined) {
      const [H, W] = typeof config.imageSize === 'number' ? [config.imageSize, config.imageSize] : config.imageSize;
      if (!(H % p === 0 && W % p === 0 && H > 0 && W > 0)) {
        throw new ValueError('ViT', `imageSize ${H}×${W} must be positive multiples of patchSize=${p}`, 'imageSize');
      }
      this.trainGrid = [H / p, W / p];
    } else {
      this.trainGrid = null;
    }
    if (positional === 'absolute' && this.trainGrid === null) {
      throw new ValueError('ViT', "positional 'absolute' needs imageSize (the learned table covers the training grid)", 'imageSize');
    }

    this.patchEmbed = new Linear(channels * p * p, D, { generator: g, dtype });
    this.clsToken = new Parameter(randn([1, 1, D], { std: 0.02, generator: g, dtype }).data, [1, 1, D]);
    const N0 = this.trainGrid === null ? 0 : this.trainGrid[0] * this.trainGrid[1];
    this.posEmbed = positional === 'absolute' ? new Parameter(randn([N0, D], { std: 0.02, generator: g, dtype }).data, [N0, D]) : null;

    // RoPE-Axial has no parameters and serves every layer; RoPE-Mixed learns frequencies per layer
    const axial = positional === 'rope-axial' ? new RoPEAxial(headDim, { prefixTokens: 1, theta: config.ropeTheta ?? 100 }) : null;
    const makePositional = (): PositionalEncoding => {
      if (axial !== null) return axial;
      if (positional === 'rope-mixed') {
        return new RoPEMixed(numHeads, headDim, { prefixTokens: 1, theta: config.ropeTheta ?? 10, generator: g, dtype });
      }
      return new NoPE();
    };
    const hidden = Math.round((config.mlpRatio ?? 4) * D);
    this.blocks = Array.from({ length: depth }, () => new Block(D, { numHeads, hidden, positional: makePositional(), bias: true, generator: g, dtype }));
    this.norm = new LayerNorm(D, { dtype });
    this.head = new Linear(D, numClasses, { generator: g, dtype });
  }

  /** Patch coordinates [N, 2] (x, y) of a gh × gw grid, for RoPE (ropeVitGrid). */
  positions(gh: number, gw: number): Tensor {
    expectSize('ViT.positions', 'gh', gh);
    expectSize('ViT.positions', 'gw', gw);
    expectAllocatable('ViT.positions', gh >= gw ? 'gh' : 'gw', gh * gw * 2, [gh * gw, 2]); // the grid [gh·gw, 2]
    const key = `${gh}x${gw}`;
    let grid = this.#grids.get(key);
    if (grid === undefined) {
      grid = ropeVitGrid(gw, gh); // one tensor per grid, so RoPEAxial's angle cache hits across calls
      this.#grids.set(key, grid);
    }
    return grid;
  }

  /** The absolute table at a gh × gw grid: [gh·gw, D], bilinearly resampled from the training grid (exact there). */
  absoluteEmbedding(gh: number, gw: number): Tensor {
    if (this.posEmbed === null || this.trainGrid === null) throw new ValueError('ViT.absoluteEmbedding', "needs positional 'absolute'", 'positional');
    expectSize('ViT.absoluteEmbedding', 'gh', gh);
    expectSize('ViT.absoluteEmbedding', 'gw', gw);
    const [gh0, gw0] = this.trainGrid;
    if (gh === gh0 && gw === gw0) return this.posEmbed; // [N0, D]
    const key = `${gh}x${gw}:${this.posEmbed.dtype}`;
    let m = this.#resize.get(key);
    if (m === undefined) {
      m = bilinearResizeMatrix(gh0, gw0, gh, gw, this.posEmbed.dtype); // [N, N0]
      this.#resize.set(key, m);
    }
    return matmul(m, this.posEmbed); // [N, D]
  }

  /** images: [B, C, H, W] with H, W multiples of patchSize → logits [B, numClasses]. */
  forward(images: Tensor): Tensor {
    return this.forwardAs('ViT.forward', images);
  }

  private forwardAs(op: string, images: Tensor): Tensor {
    const p = this.config.patchSize;
    const C = this.patchEmbed.inFeatures / (p * p);
    expectTensor(op, 'images', images);
    if (images.ndim !== 4 || images.shape[1] !== C) {
      throw new ShapeError(op, `images=${fmtShape(images.shape)} must be [B, ${C}, H, W]`, 'images');
    }
    if (images.dtype !== this.patchEmbed.weight.dtype) {
      throw new DTypeError(op, `images are ${images.dtype} but the model's weights are ${this.patchEmbed.weight.dtype} (cast one of them)`, 'images');
    }
    const [B, , H, W] = images.shape as [number, number, number, number];
    if (H % p !== 0 || W % p !== 0 || H === 0 || W === 0) {
      throw new ShapeError(op, `image size ${H}×${W} must be positive multiples of patchSize=${p} — images=${fmtShape(images.shape)}`, 'images');
    }
    const gh = H / p;
    const gw = W / p;
    const D = this.config.dim;

    let x = this.patchEmbed.forward(patchify(images, p)); // [B, N, D]
    if (this.posEmbed !== null) x = x.add(this.absoluteEmbedding(gh, gw)); // + [N, D]
    x = concat([this.clsToken.expand([B, 1, D]), x], 1); // [B, T, D]
    const positions = this.positions(gh, gw); // [N, 2]; RoPE skips the class token (prefixTokens: 1), NoPE ignores it
    for (const block of this.blocks) x = block.forwardAs(op, x, { positions, causal: false }); // [B, T, D]
    x = this.norm.forward(x.narrow(1, 0, 1).reshape([B, D])); // class token [B, D]
    return this.head.forward(x); // [B, numClasses]
  }

  /** Mean cross-entropy of the logits against integer labels [B]. */
  loss(images: Tensor, labels: Tensor | ArrayLike<number>): Tensor {
    const op = 'ViT.loss';
    const list: ArrayLike<unknown> | null = labels instanceof Tensor ? labels.data : Array.isArray(labels) || ArrayBuffer.isView(labels) ? labels as ArrayLike<unknown> : null;
    if (list === null) throw new DTypeError(op, `labels must be a Tensor or an array of class ids, got ${describeValue(labels)}`, 'labels');
    const B = expectTensorBatch(op, images);
    if (labels instanceof Tensor && labels.ndim !== 1) throw new ShapeError(op, `labels=${fmtShape(labels.shape)} must be [B], one class id per image`, 'labels');
    if (list.length !== B) throw new ShapeError(op, `got ${list.length} labels for ${B} images`, 'labels');
    for (let i = 0; i < list.length; i++) {
      const v = list[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= this.config.numClasses) {
        throw new ValueError(op, `labels[${i}]=${describeValue(v)} is not a class id (an integer in [0, ${this.config.numClasses}))`, 'labels');
      }
    }
    return crossEntropy(this.forwardAs(op, images), labels);
  }
}
