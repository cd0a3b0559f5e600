/**
 * fromHFConfig / ropeFromHFConfig on real published config.json files (tests/fixtures/hf_configs/, provenance in its
 * README): Llama-3.1-8B (llama3), Qwen2.5-7B-Instruct with its model card's YaRN block, Phi-3-mini-128k-instruct in
 * both published revisions ('su' and 'longrope', 48 real short/long factors), Gemma-3-4b-it (text model nested under
 * text_config, rope fields left to Gemma3TextConfig's defaults) and Qwen2.5-VL-7B-Instruct (M-RoPE [16, 24, 24]).
 * Expected values: expected.json, written by make_expected.py (numpy, float32 as transformers computes).
 *
 * Tolerance: inv_freq relative error ≤ 1e-6. transformers rounds 2i/d, each power and each quotient to float32, while
 * ropelab computes in float64, so the two sit a few float32 ulps apart (seen here: ≤ 3.4e-7; fixtures README: 3.5e-7);
 * 1e-6 is ~8 ulps: a 2e-6 change to one stored entry fails the test, a 5e-7 change passes. Attention factors are
 * float64 on both sides: 1e-12 relative.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ones, tensor } from '../../core/index.js';
import { fromHFConfig, HFLongRoPE, ropeFromHFConfig, type FromHFConfigOptions, type HFRoPEConfig } from '../../positional/hf-config.js';
import { MRoPE } from '../../positional/mrope.js';
import { RoPE } from '../../positional/rope.js';

interface ExpectedCase {
  name: string;
  config: string;
  options: FromHFConfigOptions;
  rope_type: string;
  head_dim: number;
  rotary_dim: number;
  attention_scaling: number;
  inv_freq: number[];
  original_max_position_embeddings?: number;
  layer_types?: string[];
  mrope_section?: number[];
  pair_axis?: number[];
  inv_freq_per_axis?: Record<'t' | 'h' | 'w', number[]>;
}

const DIR = join(process.cwd(), 'tests/fixtures/hf_configs');
const expected = (JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { cases: ExpectedCase[] }).cases;
const load = (path: string): HFRoPEConfig => JSON.parse(readFileSync(join(DIR, path), 'utf8')) as HFRoPEConfig;
const byName = (name: string): ExpectedCase => expected.find((c) => c.name === name)!;

const RTOL = 1e-6;
const near = (got: ArrayLike<number>, want: readonly number[], label: string): void => {
  assert.is(got.length, want.length, `${label}: length`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.abs(want[i]!));
  assert.ok(worst <= RTOL, `${label}: max relative error ${worst.toExponential(2)} > ${RTOL}`);
};
const nearScalar = (got: number, want: number, label: string): void => assert.ok(Math.abs(got - want) <= 1e-12 * Math.abs(want), `${label}: ${got} vs ${want}`);

test('the fixture set is complete: nine cases over six real configs', () => {
  assert.equal(expected.map((c) => c.name), [
    'llama-3.1-8b', 'qwen2.5-7b-instruct-yarn',
    'phi-3-mini-128k-instruct-su/short', 'phi-3-mini-128k-instruct-su/long',
    'phi-3-mini-128k-instruct-longrope/short', 'phi-3-mini-128k-instruct-longrope/long',
    'gemma-3-4b-it/full_attention', 'gemma-3-4b-it/sliding_attention', 'qwen2.5-vl-7b-instruct',
  ]);
});

for (const c of expected) {
  test(`fromHFConfig(${c.name}) equals transformers' float32 table`, () => {
    const s = fromHFConfig(load(c.config), c.options);
    assert.is(s.ropeType, c.rope_type);
    assert.is(s.headDim, c.head_dim);
    assert.is(s.rotaryDim, c.rotary_dim);
    near(s.invFreq, c.inv_freq, c.name);
    nearScalar(s.attentionFactor, c.attention_scaling, `${c.name} attention factor`);
  });
}

test('ropeFromHFConfig: static tables (Llama-3.1, Qwen2.5 YaRN, both Gemma-3 layer types) are RoPE with the expected table and factor', () => {
  for (const name of ['llama-3.1-8b', 'qwen2.5-7b-instruct-yarn', 'gemma-3-4b-it/full_attention', 'gemma-3-4b-it/sliding_attention']) {
    const c = byName(name);
    const layerType = c.options.layerType;
    const enc = ropeFromHFConfig(load(c.config), layerType === undefined ? {} : { layerType });
    assert.instance(enc, RoPE, name);
    const rope = enc as RoPE;
    assert.is(rope.headDim, c.head_dim, name);
    assert.is(rope.rotaryDim, c.rotary_dim, name);
    near(rope.invFreq, c.inv_freq, name);
    nearScalar(rope.attentionFactor, c.attention_scaling, `${name} attention factor`);
  }
  // YaRN's attention factor is the one non-trivial factor here: 0.1·ln 4 + 1
  nearScalar(byName('qwen2.5-7b-instruct-yarn').attention_scaling, 0.1 * Math.log(4) + 1, 'yarn mscale');
});

test('ropeFromHFConfig: Phi-3 (both revisions) is an HFLongRoPE that switches from short to long factors past 4096', () => {
  for (const name of ['phi-3-mini-128k-instruct-su', 'phi-3-mini-128k-instruct-longrope']) {
    const short = byName(`${name}/short`);
    const long = byName(`${name}/long`);
    const enc = ropeFromHFConfig(load(short.config));
    assert.instance(enc, HFLongRoPE, name);
    const phi = enc as HFLongRoPE;
    assert.is(phi.originalMaxPositions, 4096);
    near(phi.invFreqFor(4096), short.inv_freq, `${name} short at ℓ = 4096`);
    near(phi.invFreqFor(4097), long.inv_freq, `${name} long at ℓ = 4097`);
    near(phi.shortInvFreq, short.inv_freq, `${name} shortInvFreq`);
    near(phi.longInvFreq, long.inv_freq, `${name} longInvFreq`);
    // the call's own positions pick the table: max position 4095 → ℓ = 4096 → short; 4096 → long
    const A = phi.angles(tensor([0, 4095]));
    const B = phi.angles(tensor([0, 4096]));
    const pairs = short.inv_freq.length;
    assert.ok(Math.abs(A.data[pairs + 1]! - 4095 * short.inv_freq[1]!) <= 1e-6 * 4095 * short.inv_freq[1]!, `${name}: short angle`);
    assert.ok(Math.abs(B.data[pairs + 1]! - 4096 * long.inv_freq[1]!) <= 1e-6 * 4096 * long.inv_freq[1]!, `${name}: long angle`);
    // the attention factor sqrt(1 + ln 32 / ln 4096) scales cos and sin: position 0 multiplies x by it
    nearScalar(short.attention_scaling, Math.sqrt(1 + Math.log(131072 / 4096) / Math.log(4096)), 'longrope attention factor');
    const y = phi.rotate(ones([1, 96]), tensor([0]));
    for (let i = 0; i < 96; i++) assert.ok(Math.abs(y.data[i]! - short.attention_scaling) <= 1e-6, `${name}: rotate at position 0, channel ${i}`);
  }
});

test('ropeFromHFConfig: Qwen2.5-VL is M-RoPE with section [16, 24, 24]: pairs 0-15 read t, 16-39 h, 40-63 w', () => {
  const c = byName('qwen2.5-vl-7b-instruct');
  const s = fromHFConfig(load(c.config));
  assert.equal(s.mropeSection, [16, 24, 24]);
  assert.is(s.mropeInterleaved, false);
  const enc = ropeFromHFConfig(load(c.config));
  assert.instance(enc, MRoPE);
  const m = enc as MRoPE;
  assert.equal(m.mropeSection, [16, 24, 24]);
  near(m.invFreq, c.inv_freq, 'mrope invFreq');
  const P = c.inv_freq.length;
  assert.equal(m.freqs.shape, [3, P]);
  const axes = ['t', 'h', 'w'] as const;
  for (let a = 0; a < 3; a++) {
    const kept: number[] = [];
    for (let j = 0; j < P; j++) {
      const f = m.freqs.data[a * P + j]!;
      assert.is(f !== 0, c.pair_axis![j] === a, `axis ${axes[a]} pair ${j}`);
      if (f !== 0) kept.push(f);
    }
    near(kept, c.inv_freq_per_axis![axes[a]], `axis ${axes[a]}`);
  }
});

test('Gemma-3-4b-it: text_config is read, and the omitted fields take Gemma3TextConfig defaults (with warnings)', () => {
  const whole = load('gemma-3-4b-it/config.json');
  for (const layerType of ['full_attention', 'sliding_attention']) {
    const s = fromHFConfig(whole, { layerType });
    assert.ok(s.warnings.some((w) => w.includes('text_config')), s.warnings.join('; '));
    for (const k of ['rope_theta', 'rope_local_base_freq', 'head_dim']) assert.ok(s.warnings.some((w) => w.includes(`text_config.${k} is absent`)), `${layerType}: ${k}`);
    // the nested dict on its own gives the same table
    assert.equal(fromHFConfig(whole.text_config!, { layerType }).invFreq, s.invFreq);
  }
  // the layer pattern transformers derives (sliding_window_pattern 6): full attention at layers 5, 11, 17, 23, 29
  const types = byName('gemma-3-4b-it/full_attention').layer_types!;
  assert.equal(types.flatMap((t, i) => (t === 'full_attention' ? [i] : [])), [5, 11, 17, 23, 29]);
  // a value the file does give wins over the default
  const own = fromHFConfig({ ...whole, text_config: { ...whole.text_config!, rope_theta: 5e5 } }, { layerType: 'full_attention' });
  nearScalar(own.invFreq[1]!, Math.pow(5e5, -2 / 256) / 8, 'explicit rope_theta');
  assert.not.ok(own.warnings.some((w) => w.includes('rope_theta is absent')));
});

test('Qwen2.5-7B-Instruct as published (no rope_scaling) is plain RoPE; the model card block turns on YaRN', () => {
  const { rope_scaling: _yarn, ...published } = load('qwen2.5-7b-instruct-yarn/config.json');
  const plain = fromHFConfig(published);
  assert.is(plain.ropeType, 'default');
  assert.is(plain.attentionFactor, 1);
  const yarn = byName('qwen2.5-7b-instruct-yarn').inv_freq;
  assert.ok(Math.abs(plain.invFreq[0]! - yarn[0]!) <= 1e-7, 'highest frequency untouched by YaRN');
  assert.ok(plain.invFreq[63]! / yarn[63]! > 3.9, 'lowest frequency divided by ~factor 4 under YaRN');
});

test.run();
