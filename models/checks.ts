/**
 * Argument checks of the language models (GPT, MemoryTransformer, PaTHLM, MLALM, ViT): token ids, per-layer cache
 * arrays and layer stacks. Each runs once at the model method the user called and throws a typed error whose message
 * starts with that name. Internal: not exported from models/index.ts. The layers' own checks (sizes, weights,
 * generators, positions) are nn/'s, imported from nn/index.ts; the rest are core's.
 */
import {
  DTypeError, MAX_TENSOR_ELEMENTS, ShapeError, ValueError, describeValue, expectBoolean, expectInteger, expectNumber, expectOneOf, expectTensor, fmtShape,
  optionalDType, type Tensor,
} from '../core/index.js';
import { expectWeight, type KVCache } from '../nn/index.js';

/**
 * A stack of `numLayers` layers, each holding at least `perLayer` parameters (a lower bound the caller gives, e.g.
 * dim² for an attention projection): refused when the stack could not be allocated (more than 2³¹ − 1 numbers in
 * all, 8 GiB of float32), so `numLayers: 2 ** 40` is a typed error, not a RangeError from building 2⁴⁰ layers.
 */
export function expectLayerStack(op: string, arg: string, numLayers: number, perLayer: number): void {
  if (numLayers * perLayer > MAX_TENSOR_ELEMENTS) {
    throw new ValueError(op, `${arg}=${numLayers} layers of at least ${perLayer} parameters each is more than can be allocated (at most 2³¹ − 1 in all)`, arg);
  }
}

/** Token ids [B, T]: a Tensor of integers in [0, vocabSize). One pass over the ids at the model's entry. */
export function expectTokenIds(op: string, arg: string, x: unknown, vocabSize: number): asserts x is Tensor {
  expectTensor(op, arg, x);
  if (x.ndim !== 2) throw new ShapeError(op, `${arg} must be [B, T], got ${fmtShape(x.shape)}`, arg);
  const d = x.data;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < vocabSize)) {
      throw new ValueError(op, `${arg} must hold token ids (integers in [0, ${vocabSize})), got ${v} at flat index ${i}`, arg);
    }
  }
}

/** An optional array of per-layer caches, each an instance of `kind`, one per layer. */
export function optionalCaches<C extends KVCache>(
  op: string, arg: string, x: unknown, layers: number, kind: abstract new (...args: never[]) => C, hint: string,
): readonly C[] | undefined {
  if (x === undefined) return undefined;
  if (!Array.isArray(x)) throw new DTypeError(op, `${arg} must be an array of caches (${hint}), got ${describeValue(x)}`, arg);
  if (x.length !== layers) throw new ValueError(op, `got ${x.length} caches for ${layers} layers (${hint})`, arg);
  x.forEach((c: unknown, i) => {
    if (!(c instanceof kind)) throw new DTypeError(op, `${arg}[${i}] must be a ${kind.name}, got ${describeValue(c)} (${hint})`, arg);
  });
  return x as readonly C[];
}


/** The config fields GPT and PaTHLM share, each optional (their own config types document them). */
type DecoderFields = Partial<Record<'mlp' | 'norm' | 'dropout' | 'tieEmbeddings' | 'seed' | 'dtype', unknown>>;

/** Check the shared decoder fields, and that the token embedding [V, dim] and a 4·dim MLP can be allocated. */
export function checkDecoderFields(op: string, c: DecoderFields, vocabSize: number, dim: number): void {
  if (c.mlp !== undefined) expectOneOf(op, 'mlp', c.mlp, ['gelu', 'swiglu'] as const);
  if (c.norm !== undefined) expectOneOf(op, 'norm', c.norm, ['layer', 'rms'] as const);
  if (c.dropout !== undefined) expectNumber(op, 'dropout', c.dropout, { min: 0, below: 1 });
  if (c.tieEmbeddings !== undefined) expectBoolean(op, 'tieEmbeddings', c.tieEmbeddings);
  if (c.seed !== undefined) expectSeed(op, c.seed);
  optionalDType(op, 'dtype', c.dtype);
  expectWeight(op, 'wte.weight', vocabSize, dim);
  expectWeight(op, 'mlp weight', 4 * dim, dim);
}

/** A model seed: any safe integer. */
export function expectSeed(op: string, seed: unknown): number {
  return expectInteger(op, 'seed', seed, { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
}
