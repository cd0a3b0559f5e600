/**
 * Sampling (nn/generate.ts). sampleFromLogits against independent float64 references: argmax limits, empirical
 * frequencies vs softmax(logits/T) (bound stated below), top-k and top-p support as properties, seeded determinism.
 * generate() with a real GPT: the KV-cache path (prefill + one token per step) against a loop that re-runs the full
 * sequence without a cache, logits and tokens, greedy and sampled; stopToken, eval mode, option errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DTypeError, Generator, Tensor, ValueError, noGrad } from '../../core/index.js';
import { GPT, type GPTConfig } from '../../models/index.js';
import { generate, sampleFromLogits, type CausalLM } from '../../nn/generate.js';
import type { KVCache } from '../../nn/kv-cache.js';
import { assertClose } from '../helpers/close.js';
import { fcParams } from '../helpers/fc.js';

// ── references ──

function argmaxRef(v: readonly number[]): number {
  let b = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[b]!) b = i;
  return b;
}

/** Token ids by logit, descending, ties by lower index. */
function rankRef(v: readonly number[]): number[] {
  return v.map((x, i) => [x, i] as const).sort((a, b) => (a[0] !== b[0] ? b[0] - a[0] : a[1] - b[1])).map(([, i]) => i);
}

/** softmax(v/T) in float64. */
function softmaxRef(v: readonly number[], T: number): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp((x - m) / T));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/** The top-k set (ties by index). */
function topKSet(v: readonly number[], k: number): Set<number> {
  return new Set(rankRef(v).slice(0, k));
}

/**
 * The top-p support after top-k: the shortest rank prefix whose renormalised probability reaches p + slack. The slack
 * (1e-9) only ever widens the set, so rounding at the boundary cannot fail a correct sampler.
 */
function nucleusSet(v: readonly number[], T: number, k: number, p: number): Set<number> {
  const kept = rankRef(v).slice(0, k);
  const probs = softmaxRef(kept.map((i) => v[i]!), T);
  const out = new Set<number>();
  let cum = 0;
  for (let j = 0; j < kept.length; j++) {
    out.add(kept[j]!);
    cum += probs[j]!;
    if (cum >= p + 1e-9) break;
  }
  return out;
}

const logitsArb = (maxV = 8, bound = 3, integer = false): fc.Arbitrary<number[]> =>
  fc.array(integer ? fc.integer({ min: -bound, max: bound }) : fc.double({ min: -bound, max: bound, noNaN: true }), { minLength: 1, maxLength: maxV });

// ── sampleFromLogits ──

test('temperature 0 is argmax (lowest index among ties) and draws nothing from the generator', () => {
  fc.assert(
    fc.property(logitsArb(10, 3, true), (v) => {
      const g = new Generator(5);
      assert.is(sampleFromLogits(v, { temperature: 0, generator: g }), argmaxRef(v));
      assert.is(sampleFromLogits(v, { temperature: 0 }), argmaxRef(v)); // no generator needed
      assert.is(g.random(), new Generator(5).random(), 'greedy must not advance the generator');
    }),
    fcParams(100),
  );
});

test('topK = 1 and a tiny topP are argmax at any temperature', () => {
  fc.assert(
    fc.property(logitsArb(10, 3, true), fc.constantFrom(0.3, 1, 5), fc.integer({ min: 0, max: 1e6 }), (v, T, seed) => {
      const g = new Generator(seed);
      for (let r = 0; r < 10; r++) {
        assert.is(sampleFromLogits(v, { temperature: T, topK: 1, generator: g }), argmaxRef(v), 'topK=1');
        assert.is(sampleFromLogits(v, { temperature: T, topP: 1e-12, generator: g }), argmaxRef(v), 'topP=1e-12');
      }
    }),
    fcParams(60),
  );
});

test('empirical frequencies match softmax(logits/T): |f − p| ≤ 5·√(p(1−p)/N) + 1/N per token, N = 20000', () => {
  const cases: Array<[number[], number]> = [
    [[0, 1, 2, 3], 1],
    [[0.5, -1, 2, 2, 0], 0.7],
    [[3, 1, -2, 0.1, 0.2, -5], 2.5],
    [[1, 1, 1], 1],
  ];
  const N = 20000;
  cases.forEach(([v, T], c) => {
    const g = new Generator(1000 + c);
    const counts = new Array<number>(v.length).fill(0);
    for (let n = 0; n < N; n++) counts[sampleFromLogits(v, { temperature: T, generator: g })]!++;
    const p = softmaxRef(v, T);
    p.forEach((pi, i) => {
      const f = counts[i]! / N;
      const bound = 5 * Math.sqrt((pi * (1 - pi)) / N) + 1 / N;
      assert.ok(Math.abs(f - pi) <= bound, `case ${c}, token ${i}: frequency ${f} vs p=${pi} (bound ${bound})`);
    });
  });
});

test('top-k and top-p frequencies match the renormalised truncated softmax (same bound)', () => {
  const v = [2, 0.5, 1.5, -1, 1, 0];
  const N = 20000;
  const check = (opts: { temperature: number; topK?: number; topP?: number }, support: number[], seed: number): void => {
    const g = new Generator(seed);
    const counts = new Map<number, number>();
    for (let n = 0; n < N; n++) {
      const t = sampleFromLogits(v, { ...opts, generator: g });
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    const p = softmaxRef(support.map((i) => v[i]!), opts.temperature);
    for (const t of counts.keys()) assert.ok(support.includes(t), `token ${t} outside ${JSON.stringify(support)}`);
    support.forEach((tok, j) => {
      const f = (counts.get(tok) ?? 0) / N;
      const bound = 5 * Math.sqrt((p[j]! * (1 - p[j]!)) / N) + 1 / N;
      assert.ok(Math.abs(f - p[j]!) <= bound, `${JSON.stringify(opts)} token ${tok}: ${f} vs ${p[j]} (bound ${bound})`);
    });
  };
  check({ temperature: 1, topK: 3 }, [0, 2, 4], 1);
  // softmax(v): p(0)≈0.420, p(2)≈0.255, p(4)≈0.154 → cumulative 0.674, 0.828: topP 0.7 keeps three tokens
  check({ temperature: 1, topP: 0.7 }, [0, 2, 4], 2);
  // T 0.8, top 4: p ≈ 0.506, 0.271, 0.145, 0.078 → topP 0.6 keeps two tokens
  check({ temperature: 0.8, topK: 4, topP: 0.6 }, [0, 2], 3);
});

test('top-k never returns a token outside the k largest logits (ties by index) — property', () => {
  fc.assert(
    fc.property(logitsArb(8, 2, true), fc.integer({ min: 1, max: 10 }), fc.constantFrom(0.5, 1, 3), fc.integer({ min: 0, max: 1e6 }), (v, k, T, seed) => {
      const allowed = topKSet(v, k);
      const g = new Generator(seed);
      for (let r = 0; r < 30; r++) {
        const t = sampleFromLogits(v, { temperature: T, topK: k, generator: g });
        assert.ok(allowed.has(t), `topK=${k} returned ${t} for logits ${JSON.stringify(v)}`);
      }
    }),
    fcParams(150),
  );
});

test('top-p never returns a token outside the nucleus (after top-k) — property', () => {
  fc.assert(
    fc.property(
      fc.oneof(logitsArb(8, 3, false), logitsArb(8, 2, true)),
      fc.double({ min: 0.01, max: 1, noNaN: true }),
      fc.option(fc.integer({ min: 1, max: 8 })),
      fc.constantFrom(0.5, 1, 2),
      fc.integer({ min: 0, max: 1e6 }),
      (v, p, k, T, seed) => {
        const allowed = nucleusSet(v, T, k ?? v.length, p);
        const g = new Generator(seed);
        for (let r = 0; r < 30; r++) {
          const t = sampleFromLogits(v, { temperature: T, topP: p, ...(k !== null ? { topK: k } : {}), generator: g });
          assert.ok(allowed.has(t), `topP=${p} topK=${k} returned ${t} ∉ {${[...allowed]}} for ${JSON.stringify(v)}`);
        }
      },
    ),
    fcParams(150),
  );
});

test('−∞ logits (masked) are never drawn; NaN, +∞ and all −∞ are errors naming sampleFromLogits', () => {
  const g = new Generator(3);
  for (let r = 0; r < 200; r++) assert.ok(sampleFromLogits([-Infinity, 0, -Infinity, 1], { generator: g }) % 2 === 1);
  const refused = (e: unknown): boolean => e instanceof ValueError && e.arg === 'logits' && e.message.startsWith('sampleFromLogits: logits[1]');
  assert.throws(() => sampleFromLogits([0, NaN], { generator: g }), (e: unknown) => refused(e) && /NaN/.test((e as Error).message));
  // +∞ is an overflowed model, not a distribution: refused at every temperature (greedy included)
  assert.throws(() => sampleFromLogits([0, Infinity, 5, Infinity], { generator: g }), (e: unknown) => refused(e) && /Infinity/.test((e as Error).message));
  assert.throws(() => sampleFromLogits([0, Infinity], { temperature: 0 }), refused);
  assert.throws(() => sampleFromLogits([-Infinity, -Infinity], { generator: g }), (e: unknown) => e instanceof ValueError && e.arg === 'logits');
  assert.throws(() => sampleFromLogits([], { generator: g }), (e: unknown) => e instanceof ValueError && e.arg === 'logits');
});

test('sampling is deterministic for a seed (and a float32 row samples like its float64 copy)', () => {
  const v = [0.3, -0.2, 1.1, 0.9, 0, -1, 0.4];
  const draw = (seed: number, row: ArrayLike<number>): number[] => {
    const g = new Generator(seed);
    return Array.from({ length: 200 }, () => sampleFromLogits(row, { temperature: 0.9, topK: 5, topP: 0.9, generator: g }));
  };
  assert.equal(draw(42, v), draw(42, v));
  assert.equal(draw(42, Float32Array.from(v)), draw(42, Float32Array.from(v).map(Number)));
  assert.not.equal(draw(42, v), draw(43, v));
});

test('sampleFromLogits option errors are ValueErrors naming the option', () => {
  const g = new Generator(0);
  const bad: Array<[Record<string, number>, string]> = [
    [{ temperature: -0.1 }, 'temperature'],
    [{ temperature: NaN }, 'temperature'],
    [{ temperature: Infinity }, 'temperature'],
    [{ topK: 0 }, 'topK'],
    [{ topK: 2.5 }, 'topK'],
    [{ topP: 0 }, 'topP'],
    [{ topP: 1.01 }, 'topP'],
    [{ topP: NaN }, 'topP'],
  ];
  for (const [opts, arg] of bad) {
    assert.throws(() => sampleFromLogits([1, 2], { ...opts, generator: g }), (e: unknown) => e instanceof ValueError && e.arg === arg, JSON.stringify(opts));
  }
  assert.throws(() => sampleFromLogits([1, 2], { temperature: 1 }), (e: unknown) => e instanceof ValueError && e.arg === 'generator');
});

// ── generate with a real GPT ──

const CONFIG: GPTConfig = { vocabSize: 7, contextLength: 16, dim: 16, numLayers: 1, numHeads: 2, positional: 'rope', seed: 1 };

/** The test GPT, with weights redrawn at N(0, 0.5²) so that greedy decoding is not one repeated token. */
function makeModel(config: Partial<GPTConfig> = {}): GPT {
  const model = new GPT({ ...CONFIG, ...config });
  const g = new Generator(99);
  for (const p of model.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = 0.5 * g.normal();
  return model;
}

/** Wraps a model and records the last-position logits of every forward. */
function recording(model: GPT): CausalLM & { rows: number[][]; calls: number[] } {
  const rows: number[][] = [];
  const calls: number[] = [];
  return {
    rows,
    calls,
    newCaches: () => model.newCaches(),
    forward(ids: Tensor, options?: { caches?: readonly KVCache[] }): Tensor {
      const out = model.forward(ids, options);
      calls.push(ids.shape[1]!);
      rows.push(Array.from(out.data.subarray(out.size - out.shape[2]!)));
      return out;
    },
  };
}

/** No cache: re-run the whole sequence each step and sample from its last row. */
function uncachedLoop(model: GPT, prompt: number[], n: number, pick: (row: number[]) => number): { tokens: number[]; rows: number[][] } {
  const seq = [...prompt];
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const out = noGrad(() => model.forward(new Tensor(Float64Array.from(seq), [1, seq.length])));
    const row = Array.from(out.data.subarray(out.size - out.shape[2]!));
    rows.push(row);
    seq.push(pick(row));
  }
  return { tokens: seq.slice(prompt.length), rows };
}

test('generate (greedy, KV cache) equals the greedy loop that re-runs the full forward: tokens and logits', () => {
  const model = makeModel();
  const prompt = [1, 4, 2];
  const n = 12; // prompt + 12 = 15 ≤ contextLength 16
  const rec = recording(model);
  const got = generate(rec, prompt, { maxNewTokens: n, temperature: 0 });
  const want = uncachedLoop(model, prompt, n, argmaxRef);
  assert.equal(got, want.tokens);
  assert.ok(new Set(got).size > 1, `greedy output should vary for this model: ${got}`);
  assert.equal(rec.calls, [prompt.length, ...new Array<number>(n - 1).fill(1)], 'one prefill, then one token per forward');
  rec.rows.forEach((row, i) => assertClose(row, want.rows[i]!, { rtol: 1e-4, atol: 1e-5 }, `logits at new token ${i}`));
});

test('generate (sampled, seeded) equals the uncached loop drawing from the same generator', () => {
  const model = makeModel();
  const prompt = [0, 6];
  const opts = { temperature: 0.9, topK: 5, topP: 0.95 };
  const got = generate(model, prompt, { maxNewTokens: 10, ...opts, generator: new Generator(7) });
  const g = new Generator(7);
  const want = uncachedLoop(model, prompt, 10, (row) => sampleFromLogits(row, { ...opts, generator: g }));
  assert.equal(got, want.tokens);
  assert.equal(generate(model, prompt, { maxNewTokens: 10, ...opts, generator: new Generator(7) }), got, 'same seed, same tokens');
});

test('generate stops after stopToken (included), returns [] for maxNewTokens 0, and restores training mode', () => {
  const model = makeModel({ dropout: 0.5 });
  assert.ok(model.training);
  const full = generate(model, [3], { maxNewTokens: 8, temperature: 0 });
  assert.ok(model.training, 'training mode restored');
  model.eval();
  const evalGreedy = uncachedLoop(model, [3], 8, argmaxRef).tokens;
  model.train();
  assert.equal(full, evalGreedy, 'dropout is off during generate');
  const stop = full[2]!;
  const cut = generate(model, [3], { maxNewTokens: 8, temperature: 0, stopToken: stop });
  assert.equal(cut, full.slice(0, full.indexOf(stop) + 1));
  assert.equal(generate(model, [3], { maxNewTokens: 0, temperature: 0 }), []);
});

test('generate option errors are ValueErrors naming the option', () => {
  const model = makeModel();
  const g = new Generator(0);
  const cases: Array<[() => unknown, string]> = [
    [() => generate(model, [], { maxNewTokens: 3, temperature: 0 }), 'prompt'],
    [() => generate(model, [1, 2.5], { maxNewTokens: 3, temperature: 0 }), 'prompt'],
    [() => generate(model, [1], { maxNewTokens: 3 }), 'generator'],
    [() => generate(model, [1], { maxNewTokens: 3, temperature: -1, generator: g }), 'temperature'],
    [() => generate(model, [1], { maxNewTokens: 3, topK: 0, generator: g }), 'topK'],
    [() => generate(model, [1], { maxNewTokens: 3, topP: 0, generator: g }), 'topP'],
    [() => generate(model, [1], { maxNewTokens: 3, topP: 2, generator: g }), 'topP'],
    [() => generate(model, [1], { maxNewTokens: -1, temperature: 0 }), 'maxNewTokens'],
  ];
  cases.forEach(([fn, arg], i) => assert.throws(fn, (e: unknown) => e instanceof ValueError && e.arg === arg && e.op === 'generate', `case ${i} (${arg})`));
});

test('generate checks its generator once per call, as sampleFromLogits does (a Proxy counts instanceof tests)', () => {
  const counted = (): { g: Generator; count: () => number } => {
    let n = 0;
    const g = new Proxy(new Generator(5), {
      getPrototypeOf(target) {
        n++;
        return Reflect.getPrototypeOf(target);
      },
    });
    return { g, count: () => n };
  };
  const V = 4;
  const model: CausalLM<null> = {
    forward: (ids) => new Tensor(Float64Array.from({ length: ids.shape[1]! * V }, (_, i) => Math.sin(i)), [1, ids.shape[1]!, V]),
    newCaches: () => null,
  };
  const viaSample = counted();
  sampleFromLogits([0.1, 0.2, 0.3, 0.4], { generator: viaSample.g });
  const viaGenerate = counted();
  generate(model, [1, 2], { maxNewTokens: 1, generator: viaGenerate.g });
  assert.ok(viaSample.count() > 0, 'the counter sees the check');
  assert.is(viaGenerate.count(), viaSample.count());
});

test('options.caches makes the decoding state (once per call); anything but a function is refused', () => {
  const model = new GPT({ ...CONFIG, seed: 5 });
  let made = 0;
  const tokens = generate(model, [1, 2, 3], { maxNewTokens: 4, temperature: 0, caches: () => (made++, model.newCaches()) });
  assert.is(made, 1, 'the factory made the caches of the call');
  assert.equal(tokens, generate(model, [1, 2, 3], { maxNewTokens: 4, temperature: 0 }));
  assert.throws(() => generate(model, [1], { maxNewTokens: 1, temperature: 0, caches: model.newCaches() as never }), (e: unknown) => e instanceof DTypeError && /^generate: caches must be a function/.test((e as Error).message));
});

test.run();
