/**
 * fromHFConfig's newer rope types and ropeFromHFConfig. Expected numbers are computed by hand from the formulas of
 * transformers' `modeling_rope_utils.py` (main, with `_compute_proportional_rope_parameters`), Phi3Config's legacy
 * spelling rule, Gemma-3's rope_local_base_freq and Qwen3-VL's `apply_interleaved_mrope` (no python transformers here).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ValueError } from '../../core/index.js';
import { fromHFConfig, HFLongRoPE, ropeFromHFConfig, type HFRoPEConfig } from '../../positional/hf-config.js';
import { MRoPE } from '../../positional/mrope.js';
import { MultiAxisRoPE } from '../../positional/multi-axis.js';
import { DynamicNTKRoPE } from '../../positional/ntk.js';
import { PRoPE } from '../../positional/p-rope.js';
import { RoPE } from '../../positional/rope.js';

const close = (got: ArrayLike<number>, want: ArrayLike<number>, label: string): void => {
  assert.is(got.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-12 * Math.abs(want[i]!), `${label}[${i}]: ${got[i]} vs ${want[i]}`);
};

test('proportional: k = int(p·h // 2) pairs of base^(−2i/h), zeros after, divided by factor', () => {
  // h = 8, base 1e4: p=0.5 → [1, 0.1, 0, 0]; p=0.75 → [1, 0.1, 0.01, 0] (language.md §p-RoPE worked example)
  close(fromHFConfig({ head_dim: 8, rope_parameters: { rope_type: 'proportional', partial_rotary_factor: 0.5 } }).invFreq, [1, 0.1, 0, 0], 'p=0.5');
  const s = fromHFConfig({ head_dim: 8, rope_parameters: { rope_type: 'proportional', partial_rotary_factor: 0.75, factor: 2 } });
  close(s.invFreq, [0.5, 0.05, 0.005, 0], 'p=0.75 factor 2');
  assert.is(s.rotaryDim, 8);
  assert.is(s.ropeType, 'proportional');
  // Gemma-4: full layers proportional over global_head_dim 512, p 0.25, θ 1e6 → 64 kept of 256; sliding: default over head_dim 256
  const gemma4: HFRoPEConfig = {
    head_dim: 256, global_head_dim: 512,
    rope_parameters: { full_attention: { rope_type: 'proportional', partial_rotary_factor: 0.25, rope_theta: 1e6 }, sliding_attention: { rope_type: 'default', rope_theta: 1e4 } },
  };
  const full = fromHFConfig(gemma4, { layerType: 'full_attention' });
  assert.is(full.invFreq.length, 256);
  close([full.invFreq[0]!, full.invFreq[1]!, full.invFreq[63]!], [1, Math.pow(1e6, -2 / 512), Math.pow(1e6, -126 / 512)], 'gemma4 kept');
  assert.is(full.invFreq[64], 0);
  assert.is(full.invFreq.slice(64).some((v) => v !== 0), false);
  const sliding = fromHFConfig(gemma4, { layerType: 'sliding_attention' });
  assert.is(sliding.invFreq.length, 128);
  close([sliding.invFreq[1]!], [Math.pow(1e4, -2 / 256)], 'gemma4 sliding');
});

const phi3 = (type: string): HFRoPEConfig => ({
  hidden_size: 32, num_attention_heads: 4, max_position_embeddings: 64, original_max_position_embeddings: 16,
  rope_scaling: { type, short_factor: [1, 1.5, 2, 3], long_factor: [2, 3, 4, 5] },
});

test("Phi-3 legacy spellings: 'su' (and 'yarn' with short/long factors) read as longrope, with a warning", () => {
  const ref = fromHFConfig(phi3('longrope'), { seqLen: 17 });
  for (const t of ['su', 'yarn']) {
    const s = fromHFConfig(phi3(t), { seqLen: 17 });
    assert.is(s.ropeType, 'longrope', t);
    assert.equal(s.invFreq, ref.invFreq, t);
    assert.is(s.attentionFactor, ref.attentionFactor);
    assert.ok(s.warnings.some((w) => w.includes(`'${t}'`) && w.includes('longrope')), `${t}: ${s.warnings.join('; ')}`);
  }
  // long factors beyond L = 16: θ_i = 1/(λ_i · 1e4^(2i/8)); attention factor sqrt(1 + ln(64/16)/ln 16)
  close(ref.invFreq, [1 / 2, 0.1 / 3, 0.01 / 4, 0.001 / 5], 'long');
  close([ref.attentionFactor], [Math.sqrt(1 + Math.log(4) / Math.log(16))], 'attention');
  close(fromHFConfig(phi3('su'), { seqLen: 16 }).invFreq, [1, 0.1 / 1.5, 0.01 / 2, 0.001 / 3], 'short');
});

test('Gemma-3 rope_local_base_freq: sliding layers plain RoPE with it, full layers the rope dict', () => {
  const gemma3: HFRoPEConfig = { head_dim: 8, rope_theta: 1e6, rope_local_base_freq: 1e4, rope_scaling: { rope_type: 'linear', factor: 8 } };
  const sliding = fromHFConfig(gemma3, { layerType: 'sliding_attention' });
  assert.is(sliding.ropeType, 'default');
  close(sliding.invFreq, [1, 0.1, 0.01, 0.001], 'sliding');
  const full = fromHFConfig(gemma3, { layerType: 'full_attention' });
  assert.is(full.ropeType, 'linear');
  close(full.invFreq, [1 / 8, Math.pow(1e6, -0.25) / 8, Math.pow(1e6, -0.5) / 8, Math.pow(1e6, -0.75) / 8], 'full');
  assert.is(full.warnings.length, 0, 'layerType given: nothing to warn about');
  assert.equal([sliding.base, full.base], [1e4, 1e6], 'base: rope_local_base_freq for sliding layers, rope_theta for full ones');
  const unnamed = fromHFConfig(gemma3);
  assert.equal(Array.from(unnamed.invFreq), Array.from(full.invFreq), 'without layerType: the full_attention settings');
  assert.ok(unnamed.warnings.some((w) => /rope_local_base_freq=10000 .*without layerType these are the full_attention layers' settings/.test(w)), 'and a warning says so');
  close(fromHFConfig({ head_dim: 8, rope_local_base_freq: 100 }, { layerType: 'sliding_attention' }).invFreq, [1, 0.1, 0.01, 0.001].map((v) => Math.pow(v, 0.5)), 'no rope dict');
});

test('M-RoPE: Qwen2-VL mrope_section (type mrope = default) and Qwen3-VL interleaved', () => {
  const qwen2vl: HFRoPEConfig = { hidden_size: 64, num_attention_heads: 4, rope_theta: 1e6, rope_scaling: { type: 'mrope', mrope_section: [2, 3, 3] } };
  const s = fromHFConfig(qwen2vl);
  assert.is(s.ropeType, 'default');
  assert.equal(s.mropeSection, [2, 3, 3]);
  assert.is(s.mropeInterleaved, false);
  const enc = ropeFromHFConfig(qwen2vl);
  assert.instance(enc, MRoPE);
  assert.equal((enc as MRoPE).invFreq, s.invFreq);

  const qwen3vl: HFRoPEConfig = { head_dim: 16, rope_theta: 5e6, rope_scaling: { rope_type: 'default', mrope_section: [4, 2, 2], mrope_interleaved: true } };
  const inter = ropeFromHFConfig(qwen3vl);
  assert.instance(inter, MultiAxisRoPE);
  assert.not.instance(inter, MRoPE);
  // pairs 0..7: h at j ≡ 1 (mod 3), j < 6 → 1, 4; w at j ≡ 2, j < 6 → 2, 5; t elsewhere → 0, 3, 6, 7
  const F = (inter as MultiAxisRoPE).freqs;
  const axisOf = (j: number): number => [0, 1, 2].find((a) => F.data[a * 8 + j] !== 0)!;
  assert.equal([0, 1, 2, 3, 4, 5, 6, 7].map(axisOf), [0, 1, 2, 0, 1, 2, 0, 0]);
  const theta = fromHFConfig(qwen3vl).invFreq;
  for (let j = 0; j < 8; j++) assert.is(F.data[axisOf(j) * 8 + j], theta[j]);
});

test('ropeFromHFConfig: the encoding class of each rope type, with fromHFConfig\'s inverse frequencies', () => {
  const base = { head_dim: 16, max_position_embeddings: 64, rope_theta: 500 };
  const cases: Array<[HFRoPEConfig, new (...a: never[]) => object]> = [
    [base, RoPE],
    [{ ...base, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 } }, RoPE],
    [{ ...base, rope_scaling: { rope_type: 'dynamic', factor: 2 } }, DynamicNTKRoPE],
    [{ ...base, rope_parameters: { rope_type: 'proportional', partial_rotary_factor: 0.5 } }, PRoPE],
    [{ ...base, rope_scaling: { type: 'su', short_factor: [1, 1, 1, 1, 1, 1, 1, 2], long_factor: [1, 2, 3, 4, 5, 6, 7, 8], original_max_position_embeddings: 16 } }, HFLongRoPE],
  ];
  for (const [config, cls] of cases) {
    const enc = ropeFromHFConfig(config);
    assert.instance(enc, cls, JSON.stringify(config));
    const s = fromHFConfig(config);
    const inv = enc instanceof HFLongRoPE ? enc.invFreqFor(16) : (enc as RoPE).invFreq;
    assert.equal(inv, s.invFreq, JSON.stringify(config));
    if (enc instanceof RoPE) assert.is(enc.attentionFactor, s.attentionFactor);
  }
  const long = ropeFromHFConfig(cases[4]![0]) as HFLongRoPE;
  assert.equal(long.invFreqFor(17), fromHFConfig(cases[4]![0], { seqLen: 17 }).invFreq, 'long table beyond L');
  assert.not.equal(long.invFreqFor(17), long.invFreqFor(16));
});

test('unknown keys are reported (strict refuses them); refusals name the call and the field', () => {
  const s = fromHFConfig({ head_dim: 8, rope_parameters: { rope_type: 'proportional', partial_rotary_factor: 0.5, beta_fast: 4 } });
  assert.ok(s.warnings.some((w) => w.includes('beta_fast')), s.warnings.join('; '));
  assert.throws(() => ropeFromHFConfig({ head_dim: 8, rope_parameters: { rope_type: 'default', low_freq_factor: 1 } }, { strict: true }), (e: unknown) => e instanceof ValueError && /^ropeFromHFConfig: .*low_freq_factor/.test((e as Error).message));
  const refused: Array<[string, () => unknown, RegExp]> = [
    ['mrope sum', () => fromHFConfig({ head_dim: 16, rope_scaling: { type: 'mrope', mrope_section: [2, 2, 2] } }), /^fromHFConfig: mrope_section .*sum must be 8/],
    ['interleaved without section', () => fromHFConfig({ head_dim: 16, rope_scaling: { rope_type: 'default', mrope_interleaved: true } }), /^fromHFConfig: mrope_interleaved/],
    ['mrope + dynamic', () => ropeFromHFConfig({ head_dim: 16, max_position_embeddings: 8, rope_scaling: { rope_type: 'dynamic', factor: 2, mrope_section: [4, 2, 2] } }), /^ropeFromHFConfig: M-RoPE with a length-dependent/],
    ['gemma3 layer type', () => fromHFConfig({ head_dim: 8, rope_local_base_freq: 1e4 }, { layerType: 'local' }), /^fromHFConfig: .*layerType='local'/],
    ['layout', () => ropeFromHFConfig({ head_dim: 8 }, { layout: 'pairs' as never }), /^ropeFromHFConfig: .*layout/],
    ['bad config through ropeFromHFConfig', () => ropeFromHFConfig({ head_dim: 8, rope_scaling: { type: 'ntk-by-parts' } }), /^ropeFromHFConfig: .*unknown rope_type/],
  ];
  for (const [label, fn, re] of refused) assert.throws(fn, (e: unknown) => e instanceof Error && re.test(e.message), label);
  // after a refused ropeFromHFConfig call, fromHFConfig names itself again
  assert.throws(() => fromHFConfig({ head_dim: 8, rope_scaling: { type: 'ntk-by-parts' } }), (e: unknown) => /^fromHFConfig: /.test((e as Error).message));
});

test('text_config: read when the top level has no RoPE field; a duplicate is fine; differing RoPE fields are refused', () => {
  const text: HFRoPEConfig = { head_dim: 8, rope_theta: 1e4, rope_scaling: { rope_type: 'linear', factor: 2 } };
  const nested = fromHFConfig({ model_type: 'llava', vision_config: { hidden_size: 4 }, text_config: text });
  close(nested.invFreq, [0.5, 0.05, 0.005, 0.0005], 'nested');
  assert.ok(nested.warnings.some((w) => w.includes('read text_config')), nested.warnings.join('; '));
  // a text_config that only repeats the top level's fields (re-saved Qwen2-VL configs) changes nothing
  assert.equal(fromHFConfig({ ...text, text_config: { ...text } }).invFreq, fromHFConfig(text).invFreq);
  const clash = (config: HFRoPEConfig, key: string): void =>
    assert.throws(() => fromHFConfig(config), (e: unknown) => e instanceof ValueError && e.message.startsWith('fromHFConfig: config sets RoPE fields both') && e.message.includes(`— ${key}:`), key);
  clash({ ...text, text_config: { ...text, rope_theta: 100 } }, 'rope_theta'); // same field, different value
  clash({ head_dim: 8, text_config: { head_dim: 8, rope_theta: 1e4 } }, 'rope_theta'); // a field only text_config sets
  assert.throws(() => fromHFConfig({ head_dim: 8, text_config: 'x' as never }), (e: unknown) => /^fromHFConfig: text_config must be an object/.test((e as Error).message));
});

test("model_type defaults: gemma3_text fills omitted rope_theta / rope_local_base_freq / head_dim from Gemma3TextConfig; other types don't", () => {
  const gemma: HFRoPEConfig = { model_type: 'gemma3_text', hidden_size: 2560, rope_scaling: { rope_type: 'linear', factor: 8 } };
  const full = fromHFConfig(gemma, { layerType: 'full_attention' });
  assert.is(full.headDim, 256);
  close([full.invFreq[0]!, full.invFreq[1]!], [1 / 8, Math.pow(1e6, -2 / 256) / 8], 'full: θ 1e6 / 8');
  close([fromHFConfig(gemma, { layerType: 'sliding_attention' }).invFreq[1]!], [Math.pow(1e4, -2 / 256)], 'sliding: θ 1e4');
  assert.ok(full.warnings.some((w) => w.includes("rope_theta is absent; model_type 'gemma3_text'")), full.warnings.join('; '));
  // without the model type the same fields are not guessed
  assert.throws(() => fromHFConfig({ ...gemma, model_type: 'llama' }), (e: unknown) => /^fromHFConfig: the head size is missing/.test((e as Error).message));
});

test("legacy spelling warnings name the key the config used ('type' vs 'rope_type')", () => {
  const w = fromHFConfig(phi3('su'), { seqLen: 17 }).warnings.join('; ');
  assert.ok(w.includes("rope_scaling.type='su'"), w);
  const v = fromHFConfig({ ...phi3('x'), rope_scaling: { ...phi3('x').rope_scaling!, rope_type: 'su' } }, { seqLen: 17 }).warnings.join('; ');
  assert.ok(v.includes("rope_scaling.rope_type='su'"), v);
});

test("fromHFConfig reports the rule's own parameters: where the dict was read, base, factor, lengths, LongRoPE lists, p, M-RoPE axes", () => {
  const pick = (c: HFRoPEConfig, o: { layerType?: string; seqLen?: number } = {}): unknown => {
    const s = fromHFConfig(c, o);
    return { ropeDict: s.ropeDict, base: s.base, factor: s.factor, original: s.originalMaxPositions, max: s.maxPositionEmbeddings, p: s.partialRotaryFactor, axes: s.mropeAxes };
  };
  const none = { factor: undefined, original: undefined, p: undefined, axes: undefined };
  assert.equal(pick({ head_dim: 8, rope_theta: 500 }), { ...none, ropeDict: null, base: 500, max: undefined });
  assert.equal(pick({ head_dim: 8, max_position_embeddings: 64, rope_parameters: { rope_type: 'linear', factor: 2, rope_theta: 100 } }), { ...none, ropeDict: 'rope_parameters', base: 100, factor: 2, max: 64 });
  assert.equal(pick({ head_dim: 8, max_position_embeddings: 64, rope_scaling: { type: 'dynamic', factor: 3 } }), { ...none, ropeDict: 'rope_scaling', base: 1e4, factor: 3, max: 64 });
  assert.equal(pick({ head_dim: 8, max_position_embeddings: 64, rope_scaling: { rope_type: 'yarn', factor: null, original_max_position_embeddings: 16 } }), { ...none, ropeDict: 'rope_scaling', base: 1e4, factor: 4, original: 16, max: 64 }, 'yarn: s = max / original');
  assert.equal(pick({ head_dim: 8, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 } }), { ...none, ropeDict: 'rope_scaling', base: 1e4, factor: 8, original: 32, max: undefined });
  const longrope = fromHFConfig({ head_dim: 8, max_position_embeddings: 64, original_max_position_embeddings: 16, rope_scaling: { type: 'longrope', short_factor: [1, 1, 2, 2], long_factor: [1, 2, 4, 8] } });
  assert.equal([longrope.factor, longrope.originalMaxPositions, longrope.shortFactor, longrope.longFactor], [4, 16, [1, 1, 2, 2], [1, 2, 4, 8]]);
  assert.equal(pick({ head_dim: 16, rope_parameters: { rope_type: 'proportional', partial_rotary_factor: 0.25, rope_theta: 100 } }), { ...none, ropeDict: 'rope_parameters', base: 100, factor: 1, p: 0.25, max: undefined });
  const gemma: HFRoPEConfig = { head_dim: 8, rope_theta: 1e6, rope_local_base_freq: 1e4, rope_scaling: { rope_type: 'linear', factor: 8 } };
  assert.equal(pick(gemma, { layerType: 'sliding_attention' }), { ...none, ropeDict: 'rope_local_base_freq (sliding_attention)', base: 1e4, max: undefined });
  assert.equal(pick({ model_type: 'gemma3', text_config: { model_type: 'gemma3_text', rope_scaling: { rope_type: 'linear', factor: 8 } } }, { layerType: 'full_attention' }),
    { ...none, ropeDict: 'rope_scaling', base: 1e6, factor: 8, max: 131072 }, "Gemma-3's nested text_config with Gemma3TextConfig's defaults");
  assert.equal(fromHFConfig({ head_dim: 16, rope_scaling: { type: 'mrope', mrope_section: [2, 3, 3] } }).mropeAxes, [0, 0, 1, 1, 1, 2, 2, 2], 'sections: contiguous axes');
  assert.equal(fromHFConfig({ head_dim: 16, rope_parameters: { rope_type: 'default', mrope_section: [2, 3, 3], mrope_interleaved: true } }).mropeAxes, [0, 1, 2, 0, 1, 2, 0, 1], 'Qwen3-VL: interleaved t, h, w');
  assert.equal(fromHFConfig({ head_dim: 8, rope_scaling: { rope_type: 'linear', factor: 2, rope_theta: 50 } }).ropeParameters, { rope_type: 'linear', factor: 2, rope_theta: 50 });
});

test.run();
