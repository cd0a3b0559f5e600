/**
 * How a language model (GPT, LlamaForCausalLM) takes the positional encoding a user chooses, in one place: a
 * registry name (positional/registry.ts), one PositionalEncoding instance, or a function layer index → encoding.
 * An encoding's `scope` decides how it is placed:
 * - 'model' scope: one instance serves every layer and is also the model-level encoding, whose input embedding
 *   (a learned absolute table) the model adds to the token embeddings;
 * - 'layer' scope (own learnable parts per layer, as PSC): one instance per layer — a registry name builds a new one
 *   for each layer, a function must return distinct ones; one instance cannot be shared — and the model level is NoPE.
 */
import { DTypeError, ValueError, describeValue } from '../core/index.js';
import { expectEncodingFits } from '../nn/index.js';
import { NoPE, PositionalEncoding, createPositional, positionalNames, type PositionalSpec } from '../positional/index.js';

/** What a model's `positional` option or `setPositional` takes. */
export type PositionalChoice = PositionalEncoding | string | ((layer: number) => PositionalEncoding);

/** The model-level encoding and one encoding per layer. */
export interface LayerEncodings {
  model: PositionalEncoding;
  layers: PositionalEncoding[];
}

/** Registry encoding `name` built for `spec`; what it refuses is reported as `op`'s error on `positional`. */
function buildPositional(op: string, name: string, spec: PositionalSpec): PositionalEncoding {
  try {
    return createPositional(name, spec);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new ValueError(op, `positional encoding '${name}' cannot be built for headDim=${spec.headDim}, dim=${spec.modelDim} — ${message}`, 'positional');
  }
}

/**
 * The encodings of `positional` for `numLayers` layers of head size spec.headDim, checked (with `op`, the entry the
 * user called, in the messages) before anything is returned.
 */
export function layerEncodings(op: string, positional: unknown, spec: PositionalSpec, numLayers: number): LayerEncodings {
  let model: PositionalEncoding;
  let layers: PositionalEncoding[];
  if (typeof positional === 'string') {
    if (!positionalNames().includes(positional)) {
      throw new ValueError(op, `unknown positional encoding '${positional}' (known: ${positionalNames().join(', ')})`, 'positional');
    }
    const first = buildPositional(op, positional, spec);
    if (first.scope === 'model') return { model: first, layers: new Array<PositionalEncoding>(numLayers).fill(first) };
    return { model: new NoPE(), layers: Array.from({ length: numLayers }, (_, i) => (i === 0 ? first : buildPositional(op, positional, spec))) };
  } else if (positional instanceof PositionalEncoding) {
    if (positional.scope === 'layer' && numLayers > 1) {
      throw new ValueError(op, `'${positional.name}' is 'layer'-scoped (per-layer learnable parts) and cannot be shared by ${numLayers} layers — pass its registry name or a function (layer) => new encoding`, 'positional');
    }
    model = positional.scope === 'model' ? positional : new NoPE();
    layers = new Array<PositionalEncoding>(numLayers).fill(positional);
  } else if (typeof positional === 'function') {
    layers = Array.from({ length: numLayers }, (_, i) => {
      const p: unknown = (positional as (layer: number) => unknown)(i);
      if (!(p instanceof PositionalEncoding)) throw new DTypeError(op, `positional(${i}) returned ${describeValue(p)}, not a PositionalEncoding`, 'positional');
      return p;
    });
    if (layers.some((p, i) => p.scope === 'layer' && layers.indexOf(p) !== i)) {
      throw new ValueError(op, "the function returned one 'layer'-scoped encoding for several layers (each layer needs its own instance)", 'positional');
    }
    const shared = layers.every((p) => p === layers[0]);
    model = shared && layers[0]!.scope === 'model' ? layers[0]! : new NoPE();
  } else {
    throw new DTypeError(op, `positional must be a PositionalEncoding, a registry name or a function (layer) => encoding, got ${describeValue(positional)}`, 'positional');
  }
  for (const p of layers) expectEncodingFits(op, 'positional', p, spec.headDim);
  return { model, layers };
}
