/**
 * Autoregressive sampling with a KV cache: the prompt is encoded once (prefill), then each new token costs one
 * single-position forward. Sampling is float64 on the host: temperature, top-k, top-p (nucleus), inverse CDF.
 */
import {
  DTypeError, Generator, Module, Tensor, ValueError, describeValue, expectFunction, expectInteger, expectNumber, expectOptions,
  noGrad, expectRequiredOptions, optionalGenerator,
} from '../core/index.js';
import type { KVCache } from './kv-cache.js';

/**
 * A decoder that maps ids [B, T] to logits [B, T, V], continuing from its decoding state `Caches`: per-layer KV
 * caches for GPT, PaTHLM and MLALM (models/), a MemoryStream inside MemoryTransformer.generate.
 */
export interface CausalLM<Caches = readonly KVCache[]> {
  forward(ids: Tensor, options?: { caches?: Caches }): Tensor;
  newCaches(): Caches;
}

/** Options of `sampleFromLogits`: `temperature`, `topK`, `topP`, `generator`. */
export interface SampleOptions {
  /** Softmax temperature; default 1. 0 = greedy (argmax, lowest index on ties; needs no generator). */
  temperature?: number;
  /** Keep only the k highest logits (ties broken by lower index). Default: all. */
  topK?: number;
  /** Nucleus: keep the smallest set of most probable tokens whose probability sums to ≥ topP (after topK). Default 1. */
  topP?: number;
  /** Source of randomness; required unless temperature is 0. */
  generator?: Generator;
}

/** Checked sampling settings with their defaults filled in. */
type Sampling = { temperature: number; topK: number; topP: number };

/** Options of `generate`: `maxNewTokens`, `stopToken`, `caches`. */
export interface GenerateOptions<Caches = readonly KVCache[]> extends SampleOptions {
  maxNewTokens: number;
  /** Stop after producing this token (it is included in the result). */
  stopToken?: number;
  /**
   * Makes the decoding state for this call; default `model.newCaches()`. E.g. one RetrievalKVCache per layer
   * (nn/a2ats.ts) for A²ATS retrieval attention.
   */
  caches?: () => Caches;
}

/**
 * Generate up to maxNewTokens tokens after `prompt` and return them (the prompt is not included). Runs under noGrad;
 * a Module is put in eval mode for the call (dropout off) and restored after. Deterministic for a given generator
 * state: one `generator.random()` per sampled token, none when greedy.
 */
export function generate<Caches>(model: CausalLM<Caches>, prompt: readonly number[], options: GenerateOptions<Caches>): number[] {
  const op = 'generate';
  if (model === null || typeof model !== 'object' || typeof model.forward !== 'function' || typeof model.newCaches !== 'function') {
    throw new DTypeError(op, `model must be a causal LM with forward(ids, { caches }) and newCaches(), got ${describeValue(model)}`, 'model');
  }
  checkPrompt(op, prompt, (model as { config?: { vocabSize?: unknown } }).config?.vocabSize);
  const { maxNewTokens, generator, stopToken, sample } = checkGenerateOptions(op, options);
  if (options.caches !== undefined) expectFunction(op, 'caches', options.caches);
  const newCaches = options.caches ?? ((): Caches => model.newCaches());
  if (maxNewTokens === 0) return [];

  const module = model instanceof Module ? model : null;
  const wasTraining = module?.training ?? false;
  module?.eval();
  try {
    return noGrad(() => {
      const caches = newCaches();
      const out: number[] = [];
      let logits = model.forward(ids(prompt), { caches }); // prefill: [1, P, V]
      for (;;) {
        const next = sampleToken(op, lastRow(logits), sample, generator);
        out.push(next);
        if (out.length === maxNewTokens || next === stopToken) return out;
        logits = model.forward(ids([next]), { caches }); // [1, 1, V]
      }
    });
  } finally {
    if (module !== null) module.train(wasTraining);
  }
}

/**
 * Draw one token id from a row of logits: each finite, or −∞ for a masked token (probability 0); NaN and +∞ (an
 * overflowed model, not a distribution) are refused. temperature 0 → argmax (lowest index among equal maxima).
 * Otherwise, in float64: p ∝ exp((logit − max)/T) over the tokens sorted by logit (descending, ties by index), cut
 * to the first topK, then to the shortest prefix whose probability reaches topP; u = generator.random() picks by
 * inverse CDF along that order.
 */
export function sampleFromLogits(logits: ArrayLike<number>, options: SampleOptions = {}): number {
  const op = 'sampleFromLogits';
  const o = expectOptions(op, 'options', options, ['temperature', 'topK', 'topP', 'generator']);
  const generator = optionalGenerator(op, 'generator', o.generator);
  return sampleToken(op, logits, validateSampling(op, o, generator), generator);
}

/**
 * sampleFromLogits after its options were checked; `op` (sampleFromLogits, generate, or a model's generate) names
 * what is wrong with the logits — in generate they come from the model.
 */
function sampleToken(op: string, logits: ArrayLike<number>, sample: Sampling, generator: Generator | undefined): number {
  const { temperature, topK, topP } = sample;
  if (logits instanceof Tensor || logits === null || typeof logits !== 'object' || typeof logits.length !== 'number') {
    throw new DTypeError(op, `logits must be an array of numbers (a Tensor's .data row), got ${describeValue(logits)}`, 'logits');
  }
  const V = logits.length;
  if (V === 0) throw new ValueError(op, 'logits are empty', 'logits');
  let max = -Infinity;
  let argmax = -1;
  for (let i = 0; i < V; i++) {
    const l = logits[i]!;
    if (typeof l !== 'number' || Number.isNaN(l) || l === Infinity) {
      throw new ValueError(op, `logits[${i}] is ${describeValue(l)} (logits must be finite, or −∞ for a masked token)`, 'logits');
    }
    if (l > max) {
      max = l;
      argmax = i;
    }
  }
  if (argmax < 0) throw new ValueError(op, 'every logit is −∞ (nothing can be sampled)', 'logits');
  if (temperature === 0) return argmax;

  // candidates by logit, descending; ties by index (Array.prototype.sort is stable)
  let order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (topK < order.length) order = order.slice(0, topK);
  const weights = new Float64Array(order.length);
  let total = 0;
  for (let j = 0; j < order.length; j++) {
    const l = logits[order[j]!]!;
    const w = Math.exp((l - max) / temperature); // ∈ [0, 1]: max is finite, −∞ logits get 0
    weights[j] = w;
    total += w;
  }
  let n = order.length;
  if (topP < 1) {
    const target = topP * total;
    let cum = 0;
    for (let j = 0; j < order.length; j++) {
      cum += weights[j]!;
      if (cum >= target) {
        n = j + 1;
        break;
      }
    }
    total = 0;
    for (let j = 0; j < n; j++) total += weights[j]!;
  }
  const u = generator!.random() * total;
  let cum = 0;
  let lastPositive = 0;
  for (let j = 0; j < n; j++) {
    const w = weights[j]!;
    if (w === 0) continue;
    cum += w;
    lastPositive = j;
    if (u < cum) return order[j]!;
  }
  return order[lastPositive]!; // u within rounding of the total
}

/** A prompt: a non-empty array of token ids (integers ≥ 0, and < vocabSize when the model says its vocabulary size). */
function checkPrompt(op: string, prompt: unknown, vocabSize?: unknown): asserts prompt is readonly number[] {
  const V = typeof vocabSize === 'number' ? vocabSize : Infinity;
  if (!Array.isArray(prompt)) throw new DTypeError(op, `prompt must be an array of token ids, got ${describeValue(prompt)}`, 'prompt');
  if (prompt.length === 0) throw new ValueError(op, 'prompt is empty (need at least one token to condition on)', 'prompt');
  prompt.forEach((t: unknown, i) => {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= V) {
      throw new ValueError(op, `prompt[${i}]=${describeValue(t)} is not a token id (an integer in [0, ${V}))`, 'prompt');
    }
  });
}

/** generate's options checked with `op` (always generate: a model's own generate method names itself with asPartOf). */
function checkGenerateOptions<Caches>(op: string, options: GenerateOptions<Caches>): {
  maxNewTokens: number; generator: Generator | undefined; stopToken: number | undefined; sample: Sampling;
} {
  const o = expectRequiredOptions(op, options, ['maxNewTokens', 'generator', 'stopToken', 'temperature', 'topK', 'topP', 'caches'], 'with maxNewTokens');
  const maxNewTokens = expectInteger(op, 'maxNewTokens', o.maxNewTokens, { min: 0 });
  const generator = optionalGenerator(op, 'generator', o.generator);
  if (o.stopToken !== undefined) expectInteger(op, 'stopToken', o.stopToken, { min: 0 });
  return { maxNewTokens, generator, stopToken: o.stopToken, sample: validateSampling(op, o, generator) };
}

/** Validated sampling options with defaults; `generator` was checked by the caller. */
function validateSampling(op: string, options: SampleOptions, generator: Generator | undefined): Sampling {
  const { temperature = 1, topK = Infinity, topP = 1 } = options;
  expectNumber(op, 'temperature', temperature, { min: 0 });
  if (topK !== Infinity) expectInteger(op, 'topK', topK, { min: 1 });
  expectNumber(op, 'topP', topP, { above: 0, max: 1 });
  if (temperature > 0 && generator === undefined) {
    throw new ValueError(op, `sampling at temperature=${temperature} needs a generator (pass { generator: new Generator(seed) }, or temperature 0 for greedy)`, 'generator');
  }
  return { temperature, topK, topP };
}

function ids(tokens: readonly number[]): Tensor {
  return new Tensor(Float64Array.from(tokens), [1, tokens.length]);
}

/** The last position's logits of [1, T, V] (a view, no copy). */
function lastRow(logits: Tensor): ArrayLike<number> {
  if (logits.ndim !== 3 || logits.shape[0] !== 1) {
    throw new ValueError('generate', `model.forward must return logits [1, T, V], got [${logits.shape.join(', ')}]`, 'model');
  }
  const V = logits.shape[2]!;
  return logits.data.subarray(logits.size - V);
}
