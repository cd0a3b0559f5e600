/**
 * The RoPE scaling family (PI, NTK, dynamic NTK, YaRN, Llama-3, LongRoPE) and fromHFConfig: every case of
 * tests/fixtures/rope_scaling.json (HF transformers' own numbers, p-RoPE / Gemma-4 included) in both config formats, identity reductions, the
 * worked numbers of each rule on small tables (computed from the formulas in HF `modeling_rope_utils.py` and the
 * papers cited in positional/{pi,ntk,yarn,llama3,longrope}.ts), ordering and ramp properties, relative-position invariance with each
 * scaled table, DynamicNTKRoPE's update rule, and the errors for bad configs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ShapeError, Tensor, ValueError } from '../../core/index.js';
import { fromHFConfig, HF_ROPE_TYPES, ropeFromHFConfig, type HFRoPEConfig, type HFRoPEParameters } from '../../positional/hf-config.js';
import { PRoPE } from '../../positional/p-rope.js';
import { llama3InvFreq } from '../../positional/llama3.js';
import { longRopeAttentionFactor, longRopeInvFreq } from '../../positional/longrope.js';
import { DynamicNTKRoPE, dynamicNtkInvFreq, ntkInvFreq } from '../../positional/ntk.js';
import { piInvFreq } from '../../positional/pi.js';
import { RoPE, applyRotary, ropeInvFreq, rotaryAngles, type PairLayout } from '../../positional/rope.js';
import { yarnAttentionFactor, yarnInvFreq, yarnMscale, yarnPairRegimes, yarnRamp, type YaRNOptions } from '../../positional/yarn.js';
import { assertClose } from '../helpers/close.js';
import { FC_SEED, fcParams } from '../helpers/fc.js';
import { checkRelativePositionInvariance } from '../../testing/index.js';

interface FixtureCase {
  name: string;
  rope_type: string;
  inputs: {
    head_dim: number;
    hidden_size: number;
    num_attention_heads: number;
    max_position_embeddings: number;
    seq_len: number | null;
    /** Gemma-4 style cases: head size of the full-attention layers, the layer type read, one type per layer. */
    global_head_dim?: number;
    layer_type?: string;
    layer_types?: string[];
    /** One dict, or (with layer_type) one dict per layer type. */
    rope_parameters_after_standardize: HFRoPEParameters & { rope_theta: number };
  };
  inv_freq_len: number;
  inv_freq: number[];
  attention_factor: number;
}

const fixture = JSON.parse(readFileSync(join(process.cwd(), 'tests/fixtures/rope_scaling.json'), 'utf8')) as { cases: FixtureCase[] };

/** The config HF's functions saw (README: head_dim, heads 4, hidden 4·head_dim, max positions, rope_parameters). */
function newFormat(c: FixtureCase): HFRoPEConfig {
  const { head_dim, hidden_size, num_attention_heads, max_position_embeddings, rope_parameters_after_standardize, global_head_dim, layer_types } = c.inputs;
  return {
    head_dim, hidden_size, num_attention_heads, max_position_embeddings, rope_parameters: structuredClone(rope_parameters_after_standardize),
    ...(global_head_dim !== undefined ? { global_head_dim } : {}), ...(layer_types !== undefined ? { layer_types } : {}),
  };
}

/** The same config as an older config.json writes it: rope_theta and partial_rotary_factor on top, `type` in rope_scaling. */
function legacyFormat(c: FixtureCase): HFRoPEConfig {
  const { rope_type, rope_theta, partial_rotary_factor, ...rest } = c.inputs.rope_parameters_after_standardize;
  const { hidden_size, num_attention_heads, max_position_embeddings } = c.inputs;
  const rope_scaling = rope_type === 'default' ? null : { type: rope_type ?? 'default', ...rest };
  return { hidden_size, num_attention_heads, max_position_embeddings, rope_theta, rope_scaling, ...(partial_rotary_factor != null ? { partial_rotary_factor } : {}), vocab_size: 32000 };
}

const seqLenOf = (c: FixtureCase): { seqLen?: number } => (c.inputs.seq_len === null ? {} : { seqLen: c.inputs.seq_len });
const layerTypeOf = (c: FixtureCase): { layerType?: string } => (c.inputs.layer_type === undefined ? {} : { layerType: c.inputs.layer_type });
/** Per-layer-type rope dicts (Gemma-4) have no legacy rope_scaling spelling: transformers reads them in the new format only. */
const forms = (c: FixtureCase): (readonly [string, HFRoPEConfig])[] =>
  c.inputs.layer_type === undefined ? [['rope_parameters', newFormat(c)], ['rope_scaling', legacyFormat(c)]] : [['rope_parameters', newFormat(c)]];

test('rope_scaling.json: every HF case through fromHFConfig, new and legacy formats, to float32 precision', () => {
  assert.is(fixture.cases.length, 29);
  for (const c of fixture.cases) {
    for (const [form, config] of forms(c)) {
      const got = fromHFConfig(config, { ...seqLenOf(c), ...layerTypeOf(c) });
      const label = `${c.name} (${form})`;
      assert.is(got.ropeType, c.rope_type, label);
      assert.is(got.rotaryDim, 2 * c.inv_freq_len, label);
      // HF rounds 2i/d, each power and quotient to float32, so exact values sit up to 3.5e-7 away (fixtures README)
      assertClose(got.invFreq, c.inv_freq, { rtol: 1e-6, atol: 0 }, `${label} inv_freq`);
      assertClose([got.attentionFactor], [c.attention_factor], { rtol: 1e-15, atol: 0 }, `${label} attention factor`);
    }
  }
});

test('rope_scaling.json: the proportional (p-RoPE) cases through ropeFromHFConfig give a PRoPE with HF\'s table', () => {
  const cases = fixture.cases.filter((c) => c.rope_type === 'proportional');
  assert.is(cases.length, 11);
  for (const c of cases) {
    for (const [form, config] of forms(c)) {
      const label = `${c.name} (${form})`;
      const rope = ropeFromHFConfig(config, layerTypeOf(c));
      assert.instance(rope, PRoPE, label);
      const p = rope as PRoPE;
      assert.is(p.invFreq.length, c.inv_freq_len, label);
      assert.is(p.keptPairs, c.inv_freq.filter((x) => x !== 0).length, `${label} kept pairs`);
      assertClose(p.invFreq, c.inv_freq, { rtol: 1e-6, atol: 0 }, `${label} inv_freq`);
    }
  }
});

test('identity reductions: factor 1 (PI, NTK, YaRN, Llama-3), dynamic within the trained length, all-ones LongRoPE', () => {
  for (const [dim, base] of [[8, 1e4], [64, 5e5], [128, 1e4], [96, 1e6]] as const) {
    const plain = ropeInvFreq(dim, base);
    assert.equal(piInvFreq({ dim, base, factor: 1 }), plain, 'pi');
    assert.equal(ntkInvFreq({ dim, base, factor: 1 }), plain, 'ntk');
    for (const seqLen of [undefined, 1, 2048, 4096]) {
      assert.equal(dynamicNtkInvFreq({ dim, base, factor: 8, maxPositions: 4096, ...(seqLen ? { seqLen } : {}) }), plain, `dynamic seqLen=${seqLen}`);
    }
    for (const truncate of [true, false]) {
      const opts: YaRNOptions = { dim, base, factor: 1, originalMaxPositions: 4096, truncate };
      assertClose(yarnInvFreq(opts), plain, { rtol: 1e-15, atol: 0 }, 'yarn');
      assert.is(yarnAttentionFactor(opts), 1);
    }
    assertClose(llama3InvFreq({ dim, base, factor: 1, originalMaxPositions: 8192 }), plain, { rtol: 1e-15, atol: 0 }, 'llama3');
    const ones = new Array<number>(dim / 2).fill(1);
    for (const seqLen of [undefined, 100, 10000]) {
      assert.equal(longRopeInvFreq({ dim, base, shortFactor: ones, longFactor: ones, originalMaxPositions: 4096, ...(seqLen ? { seqLen } : {}) }), plain, 'longrope');
    }
    assert.is(longRopeAttentionFactor({ factor: 1, originalMaxPositions: 4096 }), 1);
  }
  // dynamic NTK with factor 1 is NOT the identity beyond L: s·ℓ/L − (s − 1) = ℓ/L still raises the base (HF formula)
  const grown = dynamicNtkInvFreq({ dim: 8, factor: 1, maxPositions: 2048, seqLen: 4096 });
  assertClose([grown[1]! ** -4], [1e4 * 2 ** (8 / 6)], { rtol: 1e-12 }, 'dynamic factor 1 at 2L');
});

test('PI (Chen et al. 2023) and NTK-aware (bloc97; YaRN §3.1) worked numbers (d=8, s=4)', () => {
  assertClose(piInvFreq({ dim: 8, factor: 4 }), [0.25, 0.025, 0.0025, 0.00025], { rtol: 1e-14 }, 'PI');
  const ntk = ntkInvFreq({ dim: 8, base: 1e4, factor: 4 });
  assertClose([ntk[1]! ** -4], [63496.0421], { rtol: 1e-9 }, "NTK base'");
  assertClose(ntk, [1, 0.0629961, 0.0039685, 0.00025], { rtol: 0, atol: 5e-8 }, 'NTK inv_freq (7 decimals)');
  assertClose([ntk[3]!], [0.001 / 4], { rtol: 1e-14 }, 'slowest pair interpolated by exactly s');
  assert.is(ntk[0], 1, 'fastest pair kept');
});

test('dynamic NTK (HF _compute_dynamic_ntk_parameters) worked numbers (d=8, s=4, L=2048, ℓ=4096)', () => {
  const dyn = dynamicNtkInvFreq({ dim: 8, base: 1e4, factor: 4, maxPositions: 2048, seqLen: 4096 });
  assertClose([dyn[1]! ** -4], [85498.7973], { rtol: 1e-9 }, "dynamic base'");
  assertClose(dyn, [1, 0.0584804, 0.00342, 0.0002], { rtol: 0, atol: 5e-8 }, 'dynamic inv_freq (7 decimals)');
  assertClose([dyn[3]!], [0.001 / 5], { rtol: 1e-14 }, 'slowest pair divided by s·ℓ/L − (s − 1) = 5');
});

test('YaRN (Peng et al. 2023; HF _compute_yarn_parameters) worked numbers: d=8 toy (truncate true and false), Llama-2-like and DeepSeek ranges, mscale', () => {
  const toy: YaRNOptions = { dim: 8, base: 1e4, factor: 4, originalMaxPositions: 2048, betaFast: 32, betaSlow: 1 };
  const raw = yarnRamp({ ...toy, truncate: false });
  assertClose([raw.low, raw.high], [1.008, 2.51315], { rtol: 2e-6 }, 'corr_dim(32), corr_dim(1)');
  const cut = yarnRamp(toy);
  assert.equal([cut.low, cut.high], [1, 3]);
  assert.equal(Array.from(cut.ramp), [0, 0, 0.5, 1]);
  assertClose(yarnInvFreq(toy), [1, 0.1, 0.00625, 0.00025], { rtol: 1e-14 }, 'truncated inv_freq');
  assertClose(Array.from(raw.ramp), [0, 0, 0.65907, 1], { atol: 1e-6 }, 'untruncated ramp');
  assertClose(yarnInvFreq({ ...toy, truncate: false }), [1, 0.1, 0.005057, 0.00025], { rtol: 1e-5 }, 'untruncated inv_freq');
  assert.equal(yarnPairRegimes(toy), ['extrapolated', 'extrapolated', 'blended', 'interpolated']);
  const af = yarnAttentionFactor(toy);
  assertClose([af, af * af], [1.1386294, 1.296477], { rtol: 1e-7 }, 'attention factor and logit multiplier');

  const llama2: YaRNOptions = { dim: 128, base: 1e4, factor: 16, originalMaxPositions: 4096 };
  const llama2Raw = yarnRamp({ ...llama2, truncate: false });
  assertClose([llama2Raw.low, llama2Raw.high], [20.944, 45.027], { rtol: 5e-5 }, 'Llama-2 raw range');
  const llama2Range = yarnRamp(llama2);
  assert.equal([llama2Range.low, llama2Range.high], [20, 46]);
  const regimes = yarnPairRegimes(llama2);
  const count = (r: string): number => regimes.filter((x) => x === r).length;
  assert.equal([count('extrapolated'), count('interpolated'), count('blended')], [21, 18, 25]);
  assert.ok(regimes.slice(0, 21).every((r) => r === 'extrapolated') && regimes.slice(46).every((r) => r === 'interpolated'));

  const deepseek = yarnRamp({ dim: 64, base: 1e4, factor: 40, originalMaxPositions: 4096 });
  assert.equal([deepseek.low, deepseek.high], [10, 23]);
  for (const [mscale, multiplier, scale] of [[0.707, 1.589626, 0.114721], [1, 1.873854, 0.135234]] as const) {
    assert.is(yarnAttentionFactor({ factor: 40, mscale, mscaleAllDim: mscale }), 1, `cos/sin factor for mscale ${mscale}`);
    const m = yarnMscale(40, mscale) ** 2;
    assertClose([m, m / Math.sqrt(192)], [multiplier, scale], { rtol: 0, atol: 5e-7 }, `DeepSeek softmax multiplier and scale for mscale ${mscale} (6 decimals)`);
  }
  assertClose([1 / Math.sqrt(192)], [0.072169], { rtol: 0, atol: 5e-7 }, 'unscaled softmax scale');
  assert.is(yarnAttentionFactor({ factor: 40, mscale: 0.707 }), yarnMscale(40), 'mscale without mscaleAllDim is ignored');
  assert.is(yarnAttentionFactor({ factor: 40, attentionFactor: 0.5, mscale: 1, mscaleAllDim: 2 }), 0.5, 'explicit factor wins');
});

test('Llama-3 (HF _compute_llama3_parameters): toy bands and the real Llama 3.1 bands (kept 0–28, smoothed 29–34, divided 35–63)', () => {
  const toy = llama3InvFreq({ dim: 8, base: 1e4, factor: 4, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 });
  assertClose(toy, [1, 0.0254648, 0.0025, 0.00025], { rtol: 2e-6 }, 'toy');
  const theta = ropeInvFreq(128, 5e5);
  const real = llama3InvFreq({ dim: 128, base: 5e5, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
  for (let i = 0; i < 64; i++) {
    if (i <= 28) assert.is(real[i], theta[i], `pair ${i} kept`);
    else if (i >= 35) assert.is(real[i], theta[i]! / 8, `pair ${i} divided`);
    else assert.ok(real[i]! > theta[i]! / 8 && real[i]! < theta[i]!, `pair ${i} smoothed strictly between`);
  }
  assertClose([theta[29]!, real[29]!], [2.616099e-3, 2.166571e-3], { rtol: 5e-7 }, 'pair 29');
});

test('LongRoPE (HF _compute_longrope_parameters): short up to L, long from exactly L + 1, attention factor √(17/12) for s = 32, L = 4096', () => {
  const dim = 8;
  const shortFactor = [1, 1.5, 2, 2.5];
  const longFactor = [1, 3, 5, 7];
  const theta = ropeInvFreq(dim);
  const at = (seqLen?: number): Float64Array => longRopeInvFreq({ dim, shortFactor, longFactor, originalMaxPositions: 4096, ...(seqLen !== undefined ? { seqLen } : {}) });
  const short = theta.map((t, i) => t / shortFactor[i]!);
  const long = theta.map((t, i) => t / longFactor[i]!);
  assert.equal(at(), short);
  assert.equal(at(1), short);
  assert.equal(at(4096), short);
  assert.equal(at(4097), long);
  assert.equal(at(131072), long);
  const af = longRopeAttentionFactor({ factor: 131072 / 4096, originalMaxPositions: 4096 });
  assertClose([af], [Math.sqrt(17 / 12)], { rtol: 1e-15 }, 'Phi-3 factor');
  assertClose([af], [1.1902381], { rtol: 1e-7 }, '√(1 + ln 32 / ln 4096)');
});

test('properties: θ/s ≤ θ′ ≤ θ for YaRN and Llama-3, YaRN ramp non-decreasing in [0, 1] with exact end regimes', () => {
  const yarnArb = fc.record({
    dim: fc.integer({ min: 1, max: 96 }).map((h) => 2 * h),
    base: fc.double({ min: 50, max: 1e7, noNaN: true }),
    factor: fc.double({ min: 1, max: 128, noNaN: true }),
    originalMaxPositions: fc.integer({ min: 16, max: 1 << 20 }),
    betaSlow: fc.double({ min: 0.25, max: 4, noNaN: true }),
    betaGap: fc.double({ min: 0, max: 64, noNaN: true }),
    truncate: fc.boolean(),
  });
  fc.assert(
    fc.property(yarnArb, ({ betaGap, ...o }) => {
      const opts: YaRNOptions = { ...o, betaFast: o.betaSlow + betaGap };
      const theta = ropeInvFreq(o.dim, o.base);
      const scaled = yarnInvFreq(opts);
      const { ramp } = yarnRamp(opts);
      const regimes = yarnPairRegimes(opts);
      for (let i = 0; i < scaled.length; i++) {
        const lo = theta[i]! / o.factor;
        assert.ok(scaled[i]! >= lo * (1 - 1e-15) && scaled[i]! <= theta[i]! * (1 + 1e-15), `pair ${i}: ${scaled[i]} outside [${lo}, ${theta[i]}]`);
        assert.ok(ramp[i]! >= 0 && ramp[i]! <= 1 && (i === 0 || ramp[i]! >= ramp[i - 1]!), `ramp[${i}] = ${ramp[i]}`);
        if (ramp[i] === 0) assert.is(scaled[i], theta[i], `extrapolated pair ${i} is θ exactly`);
        if (ramp[i] === 1) assert.is(scaled[i], lo, `interpolated pair ${i} is θ/s exactly`);
        assert.is(regimes[i], ramp[i] === 0 ? 'extrapolated' : ramp[i] === 1 ? 'interpolated' : 'blended');
      }
    }),
    fcParams(150),
  );
  const llamaArb = fc.record({
    dim: fc.integer({ min: 1, max: 96 }).map((h) => 2 * h),
    base: fc.double({ min: 50, max: 1e7, noNaN: true }),
    factor: fc.double({ min: 1, max: 128, noNaN: true }),
    originalMaxPositions: fc.integer({ min: 16, max: 1 << 20 }),
    lowFreqFactor: fc.double({ min: 0.25, max: 4, noNaN: true }),
    bandWidth: fc.double({ min: 0.01, max: 16, noNaN: true }),
  });
  fc.assert(
    fc.property(llamaArb, ({ bandWidth, ...o }) => {
      const theta = ropeInvFreq(o.dim, o.base);
      const scaled = llama3InvFreq({ ...o, highFreqFactor: o.lowFreqFactor + bandWidth });
      for (let i = 0; i < scaled.length; i++) {
        const lo = theta[i]! / o.factor;
        assert.ok(scaled[i]! >= lo * (1 - 1e-15) && scaled[i]! <= theta[i]! * (1 + 1e-15), `pair ${i}: ${scaled[i]} outside [${lo}, ${theta[i]}]`);
        if (i > 0) assert.ok(scaled[i]! <= scaled[i - 1]!, 'frequencies stay ordered');
      }
    }),
    fcParams(150),
  );
});

/** ⟨R(m)q, R(n)k⟩ through applyRotary in float64 with a given table (half layout or interleaved). */
function score(invFreq: ArrayLike<number>, q: number[], k: number[], m: number, n: number, layout: PairLayout): number {
  const D = q.length;
  const rq = applyRotary(new Tensor(Float64Array.from(q), [1, D]), rotaryAngles([m], invFreq), { layout });
  const rk = applyRotary(new Tensor(Float64Array.from(k), [1, D]), rotaryAngles([n], invFreq), { layout });
  let dot = 0;
  for (let c = 0; c < D; c++) dot += rq.data[c]! * rk.data[c]!;
  return dot;
}

test('relative-position invariance ⟨R(m)q, R(n)k⟩ = ⟨R(m+t)q, R(n+t)k⟩ with every scaled table (ropelab/testing\'s checker)', () => {
  const dim = 16;
  const tables: Array<[string, Float64Array]> = [
    ['pi', piInvFreq({ dim, factor: 4 })],
    ['ntk', ntkInvFreq({ dim, factor: 4 })],
    ['dynamic', dynamicNtkInvFreq({ dim, factor: 4, maxPositions: 512, seqLen: 3000 })],
    ['yarn', yarnInvFreq({ dim, factor: 16, originalMaxPositions: 512, truncate: false })],
    ['llama3', llama3InvFreq({ dim, base: 5e5, factor: 8, originalMaxPositions: 256 })],
    ['longrope', longRopeInvFreq({ dim, shortFactor: [1, 1, 2, 2, 3, 3, 4, 4], longFactor: [1, 2, 4, 8, 16, 32, 64, 64], originalMaxPositions: 512, seqLen: 600 })],
  ];
  for (const [name, table] of tables) {
    for (const layout of ['half', 'interleaved'] as const) {
      const result = checkRelativePositionInvariance(new RoPE(dim, { invFreq: table, layout }), { headDim: dim, maxPosition: 8192, tolerance: 1e-10, numRuns: 10, seed: FC_SEED });
      assert.ok(result.pass, `${name}, ${layout}: ${result.message}`);
    }
  }
});

test('attention factor: RoPE with a YaRN table scales every logit by attention_factor²', () => {
  const cfg = fromHFConfig({ head_dim: 16, max_position_embeddings: 32768, rope_scaling: { rope_type: 'yarn', factor: 8, original_max_position_embeddings: 4096 } });
  const scaled = new RoPE(16, { invFreq: cfg.invFreq, attentionFactor: cfg.attentionFactor });
  const unscaled = new RoPE(16, { invFreq: cfg.invFreq });
  const q = new Tensor(Float64Array.from({ length: 48 }, (_, i) => Math.cos(0.29 * i)), [1, 1, 3, 16]);
  const k = new Tensor(Float64Array.from({ length: 48 }, (_, i) => Math.sin(0.53 * i)), [1, 1, 3, 16]);
  const pos = new Tensor(Float64Array.from([5, 700, 9000]), [3]);
  const logits = (r: RoPE): number[] => {
    const { q: rq, k: rk } = r.encodeQK(q, k, pos, pos);
    const out: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) out.push(Array.from({ length: 16 }, (_, c) => rq.data[i * 16 + c]! * rk.data[j * 16 + c]!).reduce((a, b) => a + b));
    return out;
  };
  assertClose(logits(scaled), logits(unscaled).map((v) => v * cfg.attentionFactor ** 2), { rtol: 1e-12, atol: 1e-12 }, 'logits');
});

test('DynamicNTKRoPE follows HF dynamic_rope_update: grow past the longest length, keep, reset below L', () => {
  const rope = new DynamicNTKRoPE(8, { factor: 2, maxPositions: 16 });
  const plain = ropeInvFreq(8);
  const grownFor = (seqLen: number): Float64Array => dynamicNtkInvFreq({ dim: 8, factor: 2, maxPositions: 16, seqLen });
  const positions = (T: number): Tensor => new Tensor(Float64Array.from({ length: T }, (_, i) => i), [T]);
  const x = (T: number): Tensor => new Tensor(Float64Array.from({ length: T * 8 }, (_, i) => Math.cos(0.29 * i)), [1, 1, T, 8]);
  const step = (T: number): Tensor => rope.encodeQK(x(T), x(T), positions(T), positions(T)).q;

  assert.equal(rope.invFreq, plain);
  step(10);
  assert.equal([rope.invFreq, rope.cachedSeqLen], [plain, 16], 'within L: plain');
  const q24 = step(24);
  assert.equal([rope.invFreq, rope.cachedSeqLen], [grownFor(24), 24], 'growth to 24');
  assertClose(q24.data, applyRotary(x(24), rotaryAngles(positions(24), grownFor(24)), { layout: 'half' }).data, {}, 'rotation uses the grown table');
  step(20);
  assert.equal([rope.invFreq, rope.cachedSeqLen], [grownFor(24), 24], 'shorter than the longest but beyond L: keep');
  step(16);
  assert.equal(rope.invFreq, grownFor(24), 'exactly L: HF resets only strictly below L');
  step(15);
  assert.equal([rope.invFreq, rope.cachedSeqLen], [plain, 16], 'below L after growth: reset');
  rope.updateFor(30);
  assert.equal([rope.invFreq, rope.cachedSeqLen], [grownFor(30), 30], 'updateFor applies the same rule');

  // the KV-cache caveat: a key rotated under the plain table no longer matches a query rotated under the grown one
  const q = [1, 0.5, -0.25, 2, 0.3, -1, 0.7, 0.1];
  const k = [0.2, -0.4, 1, 0.6, -0.8, 0.5, 0.9, -0.3];
  const exact = score(grownFor(30), q, k, 29, 3, 'half');
  const rq = applyRotary(new Tensor(Float64Array.from(q), [1, 8]), rotaryAngles([29], grownFor(30)), { layout: 'half' });
  const staleK = applyRotary(new Tensor(Float64Array.from(k), [1, 8]), rotaryAngles([3], plain), { layout: 'half' });
  const stale = Array.from(rq.data, (v, c) => v * staleK.data[c]!).reduce((a, b) => a + b);
  assert.ok(Math.abs(stale - exact) > 1e-3, `stale cached key changes the logit (${stale} vs ${exact})`);
});

test('DynamicNTKRoPE.encodeQK: a refused call leaves the table as it was (positions checked before the table grows)', () => {
  const rope = new DynamicNTKRoPE(8, { factor: 2, maxPositions: 16 });
  const positions = (T: number): Tensor => new Tensor(Float64Array.from({ length: T }, (_, i) => i), [T]);
  const x = (T: number): Tensor => new Tensor(Float64Array.from({ length: T * 8 }, (_, i) => Math.sin(0.37 * i)), [1, 1, T, 8]);
  // 40 positions for a sequence of 4: refused, and the table must not have grown for ℓ = 40
  assert.throws(() => rope.encodeQK(x(4), x(4), positions(40), positions(40)), (e: unknown) => e instanceof ShapeError && /^DynamicNTKRoPE/.test((e as Error).message));
  assert.is(rope.cachedSeqLen, 16, 'cachedSeqLen unchanged by the refused call');
  assert.equal(rope.invFreq, ropeInvFreq(8), 'table unchanged by the refused call');
  // a valid call with ℓ = 24 ∈ (16, 40) then rotates with the ℓ = 24 table, as a fresh encoding does
  const fresh = new DynamicNTKRoPE(8, { factor: 2, maxPositions: 16 });
  assert.equal(rope.encodeQK(x(24), x(24), positions(24), positions(24)).q.data, fresh.encodeQK(x(24), x(24), positions(24), positions(24)).q.data);
  assert.is(rope.cachedSeqLen, 24);
});

test('fromHFConfig: HF config semantics (precedence, defaults, aliases, real configs)', () => {
  const theta1e4 = ropeInvFreq(64, 1e4);
  // rope_theta inside rope_parameters wins over the top level; default base 10000; rope_scaling wins over rope_parameters
  assert.equal(fromHFConfig({ head_dim: 64, rope_theta: 5e5, rope_parameters: { rope_type: 'default', rope_theta: 1e4 } }).invFreq, theta1e4);
  assert.equal(fromHFConfig({ hidden_size: 256, num_attention_heads: 4 }).invFreq, theta1e4);
  assert.equal(fromHFConfig({ head_dim: 64, rope_scaling: {}, rope_parameters: { rope_type: 'linear', factor: 2 } }).invFreq, piInvFreq({ dim: 64, base: 1e4, factor: 2 }), 'empty rope_scaling is ignored');
  assert.equal(fromHFConfig({ head_dim: 64, rope_scaling: { type: 'linear', factor: 4 }, rope_parameters: { rope_type: 'linear', factor: 2 } }).invFreq, piInvFreq({ dim: 64, base: 1e4, factor: 4 }));
  assert.is(fromHFConfig({ head_dim: 64, rope_scaling: { rope_type: 'linear', type: 'dynamic', factor: 2 } }).ropeType, 'linear', 'rope_type wins over type');
  // head_dim // heads with truncation, partial rotary int(head_dim · factor), top-level partial factor wins
  const partial = fromHFConfig({ hidden_size: 300, num_attention_heads: 3, partial_rotary_factor: 0.4, rope_parameters: { rope_type: 'default', partial_rotary_factor: 1 } });
  assert.is(partial.rotaryDim, 40);
  assert.equal(partial.invFreq, ropeInvFreq(40));
  // yarn: factor null → max/original; beta 0/null → 32/1; truncate null → false (Python truthiness); one mscale alone is ignored
  const yarnBase: HFRoPEConfig = { head_dim: 128, max_position_embeddings: 32768 };
  const yarnOf = (p: HFRoPEParameters): ReturnType<typeof fromHFConfig> => fromHFConfig({ ...yarnBase, rope_parameters: { rope_type: 'yarn', original_max_position_embeddings: 4096, ...p } });
  const table = (s: ReturnType<typeof fromHFConfig>): unknown => [Array.from(s.invFreq), s.attentionFactor, s.factor, s.originalMaxPositions];
  assert.equal(table(yarnOf({ factor: null })), table(yarnOf({ factor: 8 })));
  assert.equal(table(yarnOf({ factor: 8, beta_fast: 0, beta_slow: null })), table(yarnOf({ factor: 8, beta_fast: 32, beta_slow: 1 })));
  assert.equal(yarnOf({ factor: 8, truncate: null }).invFreq, yarnInvFreq({ dim: 128, factor: 8, originalMaxPositions: 4096, truncate: false }));
  assert.is(yarnOf({ factor: 8, mscale: 0.707 }).attentionFactor, yarnMscale(8));
  assert.is(yarnOf({ factor: 8, mscale: 0.707, mscale_all_dim: 0 }).attentionFactor, yarnMscale(8), 'mscale_all_dim 0 counts as absent');
  assert.is(yarnOf({ factor: 8, attention_factor: 1.5 }).attentionFactor, 1.5);
  // DeepSeek-V3 config.json: the rotary part is qk_rope_head_dim = 64, range (10, 23), cos/sin factor 1
  const v3 = fromHFConfig({
    hidden_size: 7168, num_attention_heads: 128, qk_rope_head_dim: 64, qk_nope_head_dim: 128, max_position_embeddings: 163840, rope_theta: 10000,
    rope_scaling: { beta_fast: 32, beta_slow: 1, factor: 40, mscale: 1.0, mscale_all_dim: 1.0, original_max_position_embeddings: 4096, type: 'yarn' },
  });
  assert.equal([v3.rotaryDim, v3.attentionFactor], [64, 1]);
  assert.equal(v3.invFreq, yarnInvFreq({ dim: 64, factor: 40, originalMaxPositions: 4096 }));
  // Llama-3.1-8B config.json
  const l31 = fromHFConfig({
    hidden_size: 4096, num_attention_heads: 32, max_position_embeddings: 131072, rope_theta: 500000.0,
    rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  });
  assert.equal(l31.invFreq, llama3InvFreq({ dim: 128, base: 5e5, factor: 8, originalMaxPositions: 8192 }));
  // Phi-3 (longrope): original on the top level wins, s = max/original = 32 → √(17/12); long list from seqLen > 4096
  const phi3: HFRoPEConfig = {
    hidden_size: 3072, num_attention_heads: 32, max_position_embeddings: 131072, original_max_position_embeddings: 4096, rope_theta: 10000.0,
    rope_scaling: { type: 'longrope', short_factor: new Array<number>(48).fill(1.05), long_factor: new Array<number>(48).fill(2), original_max_position_embeddings: 2048 },
  };
  assertClose([fromHFConfig(phi3).attentionFactor], [Math.sqrt(17 / 12)], { rtol: 1e-15 }, 'Phi-3 attention factor');
  assertClose(fromHFConfig(phi3, { seqLen: 4096 }).invFreq, ropeInvFreq(96).map((t) => t / 1.05), { rtol: 1e-15 }, 'short at 4096');
  assertClose(fromHFConfig(phi3, { seqLen: 4097 }).invFreq, ropeInvFreq(96).map((t) => t / 2), { rtol: 1e-15 }, 'long at 4097');
  // original_max_position_embeddings defaults to max_position_embeddings (so an implicit yarn factor of 1 is identity)
  assertClose(fromHFConfig({ head_dim: 64, max_position_embeddings: 4096, rope_parameters: { rope_type: 'yarn', factor: null } }).invFreq, theta1e4, { rtol: 1e-15, atol: 0 }, 'implicit factor 1');
  // per-layer rope_parameters (Gemma-3 style) resolved by layerType
  const perLayer: HFRoPEConfig = {
    head_dim: 64, max_position_embeddings: 8192, layer_types: ['sliding_attention', 'full_attention'],
    rope_parameters: { sliding_attention: { rope_type: 'default', rope_theta: 10000 }, full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 } },
  };
  assert.equal(fromHFConfig(perLayer, { layerType: 'full_attention' }).invFreq, piInvFreq({ dim: 64, base: 1e6, factor: 8 }));
  assert.equal(fromHFConfig(perLayer, { layerType: 'sliding_attention' }).invFreq, theta1e4);
});

/** Run fn, require a ValueError whose message starts with `op: ` and names the argument at fault, and return it. */
function valueError(fn: () => unknown, label: string): ValueError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ValueError, label);
    const err = e as ValueError;
    assert.match(err.message, /^[\w.]+: .+/s, `${label}: format of "${err.message}"`);
    if (err.arg !== undefined) assert.ok(err.message.includes(err.arg.split('.').pop()!), `${label}: "${err.message}" names ${err.arg}`);
    return err;
  }
  assert.unreachable(`${label}: expected a ValueError`);
  throw new Error('unreachable');
}

test('errors: unknown rope_type lists the accepted ones; missing and mistyped fields are named', () => {
  const unknown = valueError(() => fromHFConfig({ head_dim: 64, rope_scaling: { type: 'ntk-by-parts', factor: 2 } }), 'unknown type');
  for (const name of HF_ROPE_TYPES) assert.ok(unknown.message.includes(name), `lists ${name}: ${unknown.message}`);
  assert.ok(unknown.message.includes("'ntk-by-parts'"));
  assert.is(unknown.arg, 'rope_type');

  const missing: Array<[string, HFRoPEConfig, string]> = [
    ['linear factor', { head_dim: 64, rope_scaling: { type: 'linear' } }, 'factor'],
    ['dynamic factor', { head_dim: 64, max_position_embeddings: 2048, rope_parameters: { rope_type: 'dynamic' } }, 'factor'],
    ['dynamic max', { head_dim: 64, rope_parameters: { rope_type: 'dynamic', factor: 2 } }, 'max_position_embeddings'],
    ['yarn factor', { head_dim: 64, max_position_embeddings: 2048, rope_parameters: { rope_type: 'yarn' } }, 'factor'],
    ['yarn original', { head_dim: 64, rope_parameters: { rope_type: 'yarn', factor: 4 } }, 'original_max_position_embeddings'],
    ['llama3 low', { head_dim: 64, max_position_embeddings: 2048, rope_scaling: { rope_type: 'llama3', factor: 8, high_freq_factor: 4 } }, 'low_freq_factor'],
    ['longrope short', { head_dim: 8, max_position_embeddings: 2048, rope_scaling: { type: 'longrope', long_factor: [1, 1, 1, 1] } }, 'short_factor'],
    ['head size', { rope_theta: 1e4 }, 'head_dim'],
  ];
  for (const [label, config, field] of missing) {
    const err = valueError(() => fromHFConfig(config), label);
    assert.ok(err.message.includes(field), `${label}: names ${field} in "${err.message}"`);
    assert.is(err.arg, field, label);
  }
  const listed = valueError(() => fromHFConfig({ head_dim: 64, max_position_embeddings: 2048, rope_parameters: { rope_type: 'yarn' } }), 'yarn keys');
  for (const key of ['original_max_position_embeddings', 'beta_fast', 'mscale_all_dim', 'truncate']) assert.ok(listed.message.includes(key), `lists ${key}`);

  const bad: Array<[string, () => unknown, string]> = [
    ['factor string', () => fromHFConfig(JSON.parse('{"head_dim": 64, "rope_scaling": {"type": "linear", "factor": "8"}}') as HFRoPEConfig), 'factor'],
    ['list of strings', () => fromHFConfig(JSON.parse('{"head_dim": 4, "max_position_embeddings": 9, "rope_scaling": {"type": "longrope", "short_factor": ["1", 1], "long_factor": [1, 1]}}') as HFRoPEConfig), 'short_factor'],
    ['odd rotary dim', () => fromHFConfig({ head_dim: 10, partial_rotary_factor: 0.5 }), 'partial_rotary_factor'],
    ['per-layer without layerType', () => fromHFConfig({ head_dim: 8, rope_parameters: { full_attention: { rope_type: 'default' } } }), 'layerType'],
    ['pi factor < 1', () => piInvFreq({ dim: 4, factor: 0.5 }), 'factor'],
    ['ntk dim 2', () => ntkInvFreq({ dim: 2, factor: 2 }), 'dim'],
    ['yarn betas inverted', () => yarnInvFreq({ dim: 8, factor: 4, originalMaxPositions: 2048, betaFast: 1, betaSlow: 32 }), 'betaFast'],
    ['llama3 empty band', () => llama3InvFreq({ dim: 8, factor: 4, originalMaxPositions: 64, lowFreqFactor: 4, highFreqFactor: 4 }), 'highFreqFactor'],
    ['seqLen', () => fromHFConfig({ head_dim: 8 }, { seqLen: -1 }), 'seqLen'],
  ];
  for (const [label, fn, arg] of bad) assert.is(valueError(fn, label).arg, arg, label);
  // a factor list of the wrong length is a shape error (one factor per pair), as for invFreq
  assert.throws(() => longRopeInvFreq({ dim: 8, shortFactor: [1, 1, 1], longFactor: [1, 1, 1, 1], originalMaxPositions: 64 }), (e: unknown) => e instanceof ShapeError && /^longRopeInvFreq: shortFactor has 3 entries, expected 4/.test((e as Error).message));
  const perLayer = valueError(() => fromHFConfig({ head_dim: 8, rope_parameters: { full_attention: { rope_type: 'default' }, sliding_attention: {} } }), 'per-layer');
  assert.ok(perLayer.message.includes('full_attention, sliding_attention'), perLayer.message);
});

test.run();
