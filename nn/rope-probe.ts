/**
 * FreeFlux's positional-dependency probe (Wei, Zhou, Chen, Pan, "FreeFlux: Understanding and Exploiting Layer-Specific
 * Roles in RoPE-Based MMDiT for Versatile Image Editing", ICCV 2025; wtybest/FreeFlux `probing/gen_rope_probing_dataset.py`,
 * `probing/probing_attn_utils.py`, `probing/positional_dependency_eval.py`).
 *
 * For each attention layer ℓ and manipulation m, regenerate with the same inputs (prompt, latents, steps) while in
 * layer ℓ only, at every step, the queries rotate normally and the keys are
 * - m = 'none':     not rotated at all;
 * - m = (Δh, Δw):   rotated at image ids (0, r + Δh, c + Δw), text ids staying 0;
 * values untouched, every other layer normal. Then
 *   PSNR(ℓ, m) = 10·log10(range² / mean((x_ℓ,m − x)²))   (x the unmodified output; +∞ when identical),
 *   score(ℓ) = mean_m PSNR(ℓ, m); layers sorted by score ascending: low PSNR = the layer depends on position.
 * The model is any generator satisfying `RopeProbeModel` (models/mmdit.ts's MMDiT does): its `generate(inputs,
 * control)` must be deterministic in `inputs` and apply `control(ℓ, step)`'s JointAttentionHook in layer ℓ.
 */
import {
  DTypeError, Tensor, ValueError, asPartOf, describeValue, expectFiniteValues, expectFunction, expectNumber, expectOptions,
  expectSize, fmtShape, ShapeError,
} from '../core/index.js';
import type { JointAttentionHook } from './mmdit-block.js';

/** A probe manipulation of the keys' RoPE: 'none' (keys unrotated) or an image-id shift [Δh, Δw]. */
export type RopeManipulation = 'none' | readonly [number, number];

/** What the probe needs of a model: its attention layers and a deterministic generator with per-layer hooks. */
export interface RopeProbeModel<I> {
  /** Attention layers, indexed 0 … numAttentionLayers − 1 (FLUX: double-stream blocks first). */
  readonly numAttentionLayers: number;
  /** The output (e.g. images) for `inputs`; `control(ℓ, step)` is layer ℓ's hook at sampling step `step`. */
  generate(inputs: I, control?: (layer: number, step: number) => JointAttentionHook | undefined): Tensor;
}

/** Options of `probeRopeDependency`: `layers`, `manipulations`, `range`. */
export interface RopeProbeOptions {
  /** Layers to probe; default all. */
  layers?: readonly number[];
  /** Default ['none', [10, 10], [0, 20], [64, 0]] (FreeFlux's, for a 64 × 64 latent grid; scale them to yours). */
  manipulations?: readonly RopeManipulation[];
  /** Peak-to-peak range of the output for PSNR; default 2 (images in [−1, 1]). */
  range?: number;
}

/**
 * What `probeRopeDependency` returns: the layers and manipulations probed, the unmodified output, the PSNR of each
 * (layer, manipulation) against it, and each layer's score and the ranking.
 */
export interface RopeProbeResult {
  layers: number[];
  manipulations: RopeManipulation[];
  /** The unmodified output. */
  baseline: Tensor;
  /** psnr[i][j]: layer layers[i] under manipulations[j], in dB (+∞: output unchanged). */
  psnr: number[][];
  /** Per probed layer (same order as `layers`): mean PSNR over the manipulations. */
  score: number[];
  /** The probed layers sorted by score ascending: most position-dependent first (ties keep layer order). */
  ranking: number[];
}

const DEFAULT_MANIPULATIONS: readonly RopeManipulation[] = ['none', [10, 10], [0, 20], [64, 0]];

/** PSNR in dB of `a` against `b` (same size) for a peak-to-peak `range`; +∞ when they are equal. */
function psnrOf(a: ArrayLike<number>, b: ArrayLike<number>, range: number): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((range * range) / mse);
}

/** Regenerate with one layer's key RoPE corrupted at a time; rank the layers by PSNR against the unmodified output. */
export function probeRopeDependency<I>(model: RopeProbeModel<I>, inputs: I, options: RopeProbeOptions = {}): RopeProbeResult {
  const op = 'probeRopeDependency';
  if (model === null || typeof model !== 'object') throw new DTypeError(op, `model must be an object with numAttentionLayers and generate, got ${describeValue(model)}`, 'model');
  const layerCount = expectSize(op, 'model.numAttentionLayers', model.numAttentionLayers);
  expectFunction(op, 'model.generate', model.generate);
  const o = expectOptions(op, 'options', options, ['layers', 'manipulations', 'range']);
  let layers: number[];
  if (o.layers === undefined) layers = Array.from({ length: layerCount }, (_, i) => i);
  else {
    if (!Array.isArray(o.layers)) throw new DTypeError(op, `layers must be an array of layer indices, got ${describeValue(o.layers)}`, 'layers');
    layers = o.layers.map((l: unknown, i) => expectNumber(op, `layers[${i}]`, l, { integer: true, min: 0, max: layerCount - 1 }));
    if (new Set(layers).size !== layers.length) throw new ValueError(op, `layers must not repeat, got [${layers.join(',')}]`, 'layers');
  }
  let manipulations: RopeManipulation[];
  if (o.manipulations === undefined) manipulations = [...DEFAULT_MANIPULATIONS];
  else {
    if (!Array.isArray(o.manipulations)) throw new DTypeError(op, `manipulations must be an array of 'none' or [Δh, Δw], got ${describeValue(o.manipulations)}`, 'manipulations');
    manipulations = o.manipulations.map((m: unknown, i): RopeManipulation => {
      if (m === 'none') return 'none';
      if (!Array.isArray(m) || m.length !== 2) throw new DTypeError(op, `manipulations[${i}] must be 'none' or [Δh, Δw], got ${describeValue(m)}`, 'manipulations');
      return [expectNumber(op, `manipulations[${i}][0]`, m[0]), expectNumber(op, `manipulations[${i}][1]`, m[1])];
    });
  }
  if (layers.length === 0 || manipulations.length === 0) throw new ValueError(op, 'layers and manipulations must not be empty (nothing to probe)', layers.length === 0 ? 'layers' : 'manipulations');
  const range = o.range === undefined ? 2 : expectNumber(op, 'range', o.range, { above: 0 });

  const run = (control?: (layer: number, step: number) => JointAttentionHook | undefined): Tensor => {
    const out: unknown = asPartOf(op, () => model.generate(inputs, control));
    if (!(out instanceof Tensor)) throw new DTypeError(op, `model.generate must return a Tensor, got ${describeValue(out)}`, 'model');
    return out;
  };
  const baseline = run();
  expectFiniteValues(op, 'the unmodified output', baseline.data);
  const psnr = layers.map((layer) => manipulations.map((m) => {
    const hook: JointAttentionHook = { keys: m === 'none' ? 'unrotated' : m };
    const out = run((l) => (l === layer ? hook : undefined));
    if (out.size !== baseline.size) {
      throw new ShapeError(op, `model.generate returned ${fmtShape(out.shape)} with layer ${layer} probed, but ${fmtShape(baseline.shape)} unmodified (it must be deterministic in inputs)`, 'model');
    }
    return psnrOf(out.data, baseline.data, range);
  }));
  const score = psnr.map((row) => row.reduce((a, b) => a + b, 0) / row.length);
  const order = layers.map((_, i) => i).sort((a, b) => (score[a]! === score[b]! ? a - b : score[a]! < score[b]! ? -1 : 1));
  return { layers, manipulations, baseline, psnr, score, ranking: order.map((i) => layers[i]!) };
}
