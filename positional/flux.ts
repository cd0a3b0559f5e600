/**
 * FLUX 3-axis RoPE as in diffusers (`FluxPosEmbed`, `get_1d_rotary_pos_embed(use_real=True,
 * repeat_interleave_real=True)`, `apply_rotary_emb(use_real_unbind_dim=-1)`, `FluxPipeline._prepare_latent_image_ids`),
 * and the positional probe of FreeFlux (Wei, Zhou, Chen, Pan, ICCV 2025; wtybest/FreeFlux `probing/`).
 * - ids [n, 3]: the joint sequence is [text; image]; text tokens (T5) are all zeros, image tokens of the packed
 *   latent grid (H/16 × W/16 for an H × W image) are (axis0, row, col) in raster order, axis0 = 0 (FLUX Kontext gives
 *   its reference-image tokens axis0 = 1).
 * - each axis a has its own width d_a (axes_dim, [16, 56, 56] in FLUX.1) and ladder θ^(−2k/d_a), k < d_a/2; the
 *   pairs of the head are the axes' pairs concatenated in axis order, interleaved (channels 2i, 2i+1).
 * - zero ids give angle 0: text tokens are unrotated, exactly as an image token at (0, 0, 0).
 * FreeFlux probes one layer at a time: queries rotate normally, keys are either unrotated or rotated with every
 * image id shifted by (0, Δh, Δw) (text key ids stay 0), and the change of the generated image measures how much
 * that layer depends on position.
 */
import {
  DTypeError, ShapeError, Tensor, ValueError, asPartOf, describeValue, expectNumber, expectOptions, fmtShape,
  expectPositions, expectRequiredOptions, expectSize,
} from '../core/index.js';
import type { EncodedQK } from './encoding.js';
import { MultiAxisRoPE, allocate, sectionsOf } from './multi-axis.js';
import { invFreqLadder } from './rope.js';
import {
  checkAttentionFactor, checkBase, checkHead, checkIntegers, checkReals, checkRotaryDim, checkTableSize, optionalNumber,
} from './checks.js';

/** FLUX.1's axes_dim (FluxTransformer2DModel `axes_dims_rope`): 16 channels for axis 0, 56 for rows, 56 for columns. */
export const FLUX_AXES_DIM: readonly number[] = [16, 56, 56];

/** Options of `fluxPositions`: `textLength`, `height`, `width`, `axis0`. */
export interface FluxPositionsOptions {
  /** Text tokens before the image (T5 sequence length, 512 for FLUX.1-dev); ids all zero. */
  textLength: number;
  /** Rows and columns of the packed latent grid (H/16 and W/16 for an H × W image; see `fluxLatentGrid`). */
  height: number;
  width: number;
  /** Axis-0 id of the image tokens; default 0 (FLUX Kontext's reference image: 1). */
  axis0?: number;
}

/**
 * ids [textLength + height·width, 3] float64: textLength rows of (0, 0, 0), then (axis0, r, c) for r < height,
 * c < width in raster order (diffusers `_prepare_latent_image_ids`, concatenated after `text_ids` as in
 * `FluxTransformer2DModel.forward`).
 */
export function fluxPositions(options: FluxPositionsOptions): Tensor {
  const op = 'fluxPositions';
  const o = expectRequiredOptions(op, options, ['textLength', 'height', 'width', 'axis0'], '{ textLength, height, width }');
  const textLength = expectSize(op, 'textLength', o.textLength, 0);
  const height = expectSize(op, 'height', o.height, 0);
  const width = expectSize(op, 'width', o.width, 0);
  const axis0 = optionalNumber(op, 'axis0', o.axis0, 0);
  const n = textLength + height * width;
  checkTableSize(op, 'textLength + height × width', n, 3);
  const ids = new Float64Array(n * 3); // text rows stay 0
  let at = textLength * 3;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++, at += 3) {
      ids[at] = axis0;
      ids[at + 1] = r;
      ids[at + 2] = c;
    }
  }
  return new Tensor(ids, [n, 3]);
}

/**
 * Packed latent grid of an H × W image: [⌊H/(2·vae)⌋, ⌊W/(2·vae)⌋] (the VAE downsamples by vaeScaleFactor = 8,
 * then 2 × 2 patches are packed into one token: FluxPipeline.prepare_latents).
 */
export function fluxLatentGrid(pixelHeight: number, pixelWidth: number, vaeScaleFactor = 8): [number, number] {
  for (const [name, v] of [['pixelHeight', pixelHeight], ['pixelWidth', pixelWidth], ['vaeScaleFactor', vaeScaleFactor]] as const) {
    expectNumber('fluxLatentGrid', name, v, { integer: true, above: 0 });
  }
  return [Math.floor(pixelHeight / (2 * vaeScaleFactor)), Math.floor(pixelWidth / (2 * vaeScaleFactor))];
}

/**
 * F [A, P], P = Σ d_a/2: axis a owns the pairs of its block, with its own ladder θ^(−2k/d_a), k < d_a/2
 * (get_1d_rotary_pos_embed per axis, concatenated by FluxPosEmbed); F is zero outside the block.
 */
export function fluxFrequencies(axesDim: readonly number[] = FLUX_AXES_DIM, theta = 10000): Tensor {
  return frequencies('fluxFrequencies', axesDim, theta);
}

/** fluxFrequencies with `op` naming the caller; axesDim and theta checked here. */
function frequencies(op: string, axesDim: unknown, theta: unknown): Tensor {
  const dims = checkIntegers(op, 'axesDim', axesDim);
  if (dims.length === 0) throw new ValueError(op, `axesDim must be positive even channel counts, one per axis — axesDim=[] (each axis rotates pairs)`, 'axesDim');
  dims.forEach((d, a) => checkRotaryDim(op, `axesDim[${a}]`, d));
  const base = checkBase(op, 'theta', theta);
  const P = dims.reduce((p, d) => p + d / 2, 0);
  checkTableSize(op, 'axes × pairs of axesDim', dims.length, P);
  const ladder = dims.flatMap((d) => Array.from(invFreqLadder(d, base)));
  return allocate(op, sectionsOf(op, dims.map((d) => d / 2)), ladder, dims.length);
}

/**
 * Image ids shifted by (0, Δh, Δw) — rows from textLength on; the text rows keep their zeros (FreeFlux
 * gen_rope_probing_dataset.py `get_rotary_emb`). ids: [n, 3].
 */
export function fluxShiftImageIds(ids: Tensor, textLength: number, shift: readonly [number, number]): Tensor {
  return shiftIds('fluxShiftImageIds', ids, textLength, shift, 'textLength', 'shift');
}

/** A shift (Δh, Δw): two finite numbers. */
function checkShift(op: string, arg: string, shift: unknown): [number, number] {
  const s = checkReals(op, arg, shift);
  if (s.length !== 2) throw new ValueError(op, `${arg} must be two finite numbers (Δh, Δw) — ${arg}=[${Array.from(s).join(',')}]`, arg);
  return [s[0]!, s[1]!];
}

/** fluxShiftImageIds with `op` naming the caller and the names its arguments have there. */
function shiftIds(op: string, ids: unknown, textLength: unknown, shift: unknown, textArg: string, shiftArg: string): Tensor {
  expectPositions(op, 'ids', ids);
  if (ids.ndim !== 2 || ids.shape[1] !== 3) throw new ShapeError(op, `ids must be [n, 3] — ids=${fmtShape(ids.shape)}`, 'ids');
  const text = expectNumber(op, textArg, textLength, { integer: true, min: 0, max: ids.shape[0]! });
  const [dh, dw] = checkShift(op, shiftArg, shift);
  const out = Float64Array.from(ids.data);
  for (let o = text * 3; o < out.length; o += 3) {
    out[o + 1] += dh;
    out[o + 2] += dw;
  }
  return new Tensor(out, [...ids.shape]);
}

/** The key manipulations of the FreeFlux probe: no RoPE on keys, and image-id shifts (Δh, Δw). */
export const FREEFLUX_PROBE_SHIFTS: readonly (readonly [number, number])[] = [[10, 10], [0, 20], [64, 0]];

/** Options of `FluxRoPE`: `theta`, `attentionFactor`. */
export interface FluxRoPEOptions {
  /** RoPE base of every axis ladder; default 10000. */
  theta?: number;
  attentionFactor?: number;
}

/** FLUX's RoPE for joint attention: ids [n, 3] or [B, n, 3], head dim Σ axesDim, interleaved pairs. */
export class FluxRoPE extends MultiAxisRoPE {
  readonly axesDim: readonly number[];
  readonly headDim: number;

  constructor(axesDim: readonly number[] = FLUX_AXES_DIM, options: FluxRoPEOptions = {}) {
    const op = 'FluxRoPE';
    const o = expectOptions(op, 'options', options, ['theta', 'attentionFactor']);
    const F = frequencies(op, axesDim, o.theta === undefined ? 10000 : o.theta);
    super(F, { layout: 'interleaved', attentionFactor: checkAttentionFactor(op, o.attentionFactor), name: 'flux-rope' });
    this.axesDim = [...axesDim];
    this.headDim = axesDim.reduce((a, d) => a + d, 0);
  }

  protected override opName(): string {
    return 'FluxRoPE';
  }
}

/** Options of `freeFluxProbe`: `textLength`, `keys`. */
export interface FreeFluxProbeOptions {
  /** Text tokens at the start of the joint sequence (their key ids stay 0). */
  textLength: number;
  /** 'unrotated': keys get no RoPE; [Δh, Δw]: keys rotate with image ids shifted by (0, Δh, Δw). */
  keys: 'unrotated' | readonly [number, number];
}

/**
 * One probed layer of FreeFlux (probing_attn_utils.py `FluxAttnProcessor2_0_Probing.attn_forward`): q rotates
 * by its ids; k is left unrotated or rotated by the shifted ids. q, k: [B, H, n, Σ axesDim]; ids [n, 3].
 */
export function freeFluxProbe(rope: FluxRoPE, q: Tensor, k: Tensor, ids: Tensor, options: FreeFluxProbeOptions): EncodedQK {
  const op = 'freeFluxProbe';
  if (!(rope instanceof FluxRoPE)) throw new DTypeError(op, `rope must be a FluxRoPE, got ${describeValue(rope)}`, 'rope');
  checkHead(op, 'q', q, rope.headDim);
  checkHead(op, 'k', k, rope.headDim);
  expectPositions(op, 'ids', ids);
  if (ids.ndim !== 2 || ids.shape[1] !== 3) throw new ShapeError(op, `ids must be [n, 3] — ids=${fmtShape(ids.shape)}`, 'ids');
  const o = expectRequiredOptions(op, options, ['textLength', 'keys'], '{ textLength, keys }');
  expectNumber(op, 'textLength', o.textLength, { integer: true, min: 0, max: ids.shape[0]! });
  const keys: unknown = o.keys;
  if (keys !== 'unrotated' && !Array.isArray(keys)) throw new DTypeError(op, `keys must be 'unrotated' or a shift [Δh, Δw], got ${describeValue(keys)}`, 'keys');
  const kIds = keys === 'unrotated' ? null : shiftIds(op, ids, o.textLength, keys, 'textLength', 'keys');
  return asPartOf(op, () => ({ q: rope.rotate(q, ids), k: kIds === null ? k : rope.rotate(k, kIds) }));
}
