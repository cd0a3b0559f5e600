/**
 * FLUX 3-axis RoPE as in diffusers (`FluxPosEmbed`, `get_1d_rotary_pos_embed(use_real=True,
 * repeat_interleave_real=True)`, `apply_rotary_emb(use_real_unbind_dim=-1)`, `FluxPipeline._prepare_latent_image_ids`;
 * multiaxis spec §9), and the positional probe of FreeFlux (Wei, Zhou, Chen, Pan, ICCV 2025; wtybest/FreeFlux
 * `probing/`).
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
import { ShapeError, Tensor, ValueError, fmtShape } from '../core/index.js';
import type { EncodedQK, Positions } from './encoding.js';
import { MultiAxisRoPE, allocateFrequencies, sectionAxes } from './multi-axis.js';
import { AngleMemo } from './mrope.js';
import { ropeInvFreq } from './rope.js';

/** FLUX.1's axes_dim (FluxTransformer2DModel `axes_dims_rope`): 16 channels for axis 0, 56 for rows, 56 for columns. */
export const FLUX_AXES_DIM: readonly number[] = [16, 56, 56];

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
  const { textLength, height, width, axis0 = 0 } = options;
  for (const [name, v] of [['textLength', textLength], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new ValueError('fluxPositions', `${name} must be a non-negative integer — ${name}=${v}`, name);
  }
  if (!Number.isFinite(axis0)) throw new ValueError('fluxPositions', `axis0 must be a finite number — axis0=${axis0}`, 'axis0');
  const n = textLength + height * width;
  const ids = new Float64Array(n * 3); // text rows stay 0
  let o = textLength * 3;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++, o += 3) {
      ids[o] = axis0;
      ids[o + 1] = r;
      ids[o + 2] = c;
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
    if (!Number.isInteger(v) || v < 1) throw new ValueError('fluxLatentGrid', `${name} must be a positive integer — ${name}=${v}`, name);
  }
  return [Math.floor(pixelHeight / (2 * vaeScaleFactor)), Math.floor(pixelWidth / (2 * vaeScaleFactor))];
}

/**
 * F [A, P], P = Σ d_a/2: axis a owns the pairs of its block, with its own ladder θ^(−2k/d_a), k < d_a/2
 * (get_1d_rotary_pos_embed per axis, concatenated by FluxPosEmbed); F is zero outside the block.
 */
export function fluxFrequencies(axesDim: readonly number[] = FLUX_AXES_DIM, theta = 10000): Tensor {
  if (!Array.isArray(axesDim) || axesDim.length === 0 || axesDim.some((d) => !Number.isInteger(d) || d <= 0 || d % 2 !== 0)) {
    throw new ValueError('fluxFrequencies', `axesDim must be positive even channel counts — axesDim=[${String(axesDim)}] (each axis rotates pairs)`, 'axesDim');
  }
  if (!(theta > 1) || !Number.isFinite(theta)) throw new ValueError('fluxFrequencies', `theta must be finite and > 1 — theta=${theta}`, 'theta');
  const ladder = axesDim.flatMap((d) => Array.from(ropeInvFreq(d, theta)));
  return allocateFrequencies(sectionAxes(axesDim.map((d) => d / 2)), ladder, axesDim.length);
}

/**
 * Image ids shifted by (0, Δh, Δw) — rows from textLength on; the text rows keep their zeros (FreeFlux
 * gen_rope_probing_dataset.py `get_rotary_emb`). ids: [n, 3].
 */
export function fluxShiftImageIds(ids: Tensor, textLength: number, shift: readonly [number, number]): Tensor {
  if (ids.ndim !== 2 || ids.shape[1] !== 3) throw new ShapeError('fluxShiftImageIds', `ids must be [n, 3] — ids=${fmtShape(ids.shape)}`, 'ids');
  if (!Number.isInteger(textLength) || textLength < 0 || textLength > ids.shape[0]!) {
    throw new ValueError('fluxShiftImageIds', `textLength must be an integer in [0, ${ids.shape[0]}] — textLength=${textLength}`, 'textLength');
  }
  const [dh, dw] = shift;
  if (!Number.isFinite(dh) || !Number.isFinite(dw)) throw new ValueError('fluxShiftImageIds', `shift must be two finite numbers — shift=[${String(shift)}]`, 'shift');
  const out = Float64Array.from(ids.data);
  for (let o = textLength * 3; o < out.length; o += 3) {
    out[o + 1] += dh;
    out[o + 2] += dw;
  }
  return new Tensor(out, [...ids.shape]);
}

/** The key manipulations of the FreeFlux probe: no RoPE on keys, and image-id shifts (Δh, Δw). */
export const FREEFLUX_PROBE_SHIFTS: readonly (readonly [number, number])[] = [[10, 10], [0, 20], [64, 0]];

export interface FluxRoPEOptions {
  /** RoPE base of every axis ladder; default 10000. */
  theta?: number;
  attentionFactor?: number;
}

/** FLUX's RoPE for joint attention: ids [n, 3] or [B, n, 3], head dim Σ axesDim, interleaved pairs. */
export class FluxRoPE extends MultiAxisRoPE {
  readonly axesDim: readonly number[];
  readonly headDim: number;
  #memo = new AngleMemo();

  constructor(axesDim: readonly number[] = FLUX_AXES_DIM, options: FluxRoPEOptions = {}) {
    super(fluxFrequencies(axesDim, options.theta ?? 10000), { layout: 'interleaved', attentionFactor: options.attentionFactor ?? 1, name: 'flux-rope' });
    this.axesDim = [...axesDim];
    this.headDim = axesDim.reduce((a, d) => a + d, 0);
  }

  /** Cached per ids tensor: q and k of joint attention (and every block sharing this encoding) build it once. */
  protected override tableFor(positions: Positions): Tensor {
    return this.#memo.get(positions, this.freqs, () => super.tableFor(positions));
  }

  protected override opName(): string {
    return 'FluxRoPE';
  }
}

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
  const qRot = rope.rotate(q, ids);
  if (options.keys === 'unrotated') return { q: qRot, k };
  return { q: qRot, k: rope.rotate(k, fluxShiftImageIds(ids, options.textLength, options.keys)) };
}
