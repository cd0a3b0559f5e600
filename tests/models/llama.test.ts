/**
 * models/llama.ts against Hugging Face's own LlamaForCausalLM (tests/fixtures/hf_llama.json + hf_llama/<case>/: three
 * tiny checkpoints — GQA/MHA, tied/untied head, with/without biases, default/llama3/yarn rope — with HF's logits):
 * logits equal HF's from either config form and from the safetensors bytes; token-by-token decoding gives HF's prefix
 * logits; toHF names, shapes and a bit-exact round trip; the refusals of fromHF; one AdamW step lowers the loss; a
 * float64 gradcheck through the whole model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AdamW, ShapeError, Tensor, ValueError, gradcheck, noGrad, concat } from '../../core/index.js';
import { RoPE, positionalNames } from '../../positional/index.js';
import { parseSafetensors, serializeSafetensors } from '../../nn/safetensors.js';
import { LlamaForCausalLM, loadHFModel, type LlamaHFConfig } from '../../models/llama.js';
import { randomTokens } from '../helpers/lm.js';

const DIR = join(process.cwd(), 'tests/fixtures');
interface Packed { shape: number[]; b64: string }
interface Case {
  name: string;
  config_legacy: LlamaHFConfig;
  state_dict_names: string[];
  checkpoint_names: string[];
  max_abs_logit: number;
  logits: Packed;
  prefix_last_logits: Packed;
}
const fixture = JSON.parse(readFileSync(join(DIR, 'hf_llama.json'), 'utf8')) as { input_ids: number[][]; cases: Case[] };
const unpack = (p: Packed): Float32Array => {
  const b = Buffer.from(p.b64, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const configOf = (c: Case): LlamaHFConfig => JSON.parse(readFileSync(join(DIR, 'hf_llama', c.name, 'config.json'), 'utf8')) as LlamaHFConfig;
const bytesOf = (c: Case): Uint8Array => new Uint8Array(readFileSync(join(DIR, 'hf_llama', c.name, 'model.safetensors')));
const weightsOf = (c: Case): Record<string, Tensor> => parseSafetensors(bytesOf(c)).tensors;
const ids = new Tensor(Float64Array.from(fixture.input_ids.flat()), [2, 12]);

/** max |a − b| ≤ 1e-4 · max|logit| (the fixture README's float32 tolerance). */
function assertLogits(actual: ArrayLike<number>, expected: ArrayLike<number>, scale: number, label: string): void {
  assert.is(actual.length, expected.length, `${label}: length`);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  assert.ok(worst <= 1e-4 * scale, `${label}: max |Δ| = ${worst} > ${1e-4 * scale}`);
}

test('the shipped cases cover GQA and MHA, tied and untied heads, biases or not, and default/llama3/yarn rope', () => {
  const seen = fixture.cases.map((c) => {
    const cfg = configOf(c);
    return `${(cfg.rope_parameters as { rope_type: string }).rope_type}/${cfg.num_key_value_heads! < cfg.num_attention_heads! ? 'gqa' : 'mha'}/${cfg.tie_word_embeddings ? 'tied' : 'untied'}/${cfg.attention_bias ? 'bias' : 'nobias'}`;
  });
  assert.equal(seen.sort(), ['default/gqa/untied/nobias', 'llama3/mha/tied/bias', 'yarn/gqa/untied/bias']);
});

test("logits equal HF's LlamaForCausalLM on every case, from either config form and from the safetensors bytes", () => {
  for (const c of fixture.cases) {
    const expected = unpack(c.logits);
    const forms: Array<[string, LlamaForCausalLM]> = [
      ['rope_parameters', LlamaForCausalLM.fromHF(configOf(c), weightsOf(c))],
      ['rope_scaling (4.x)', LlamaForCausalLM.fromHF(c.config_legacy, weightsOf(c))],
      ['loadHFModel', loadHFModel(configOf(c), bytesOf(c))],
    ];
    for (const [form, model] of forms) {
      const logits = noGrad(() => model.forward(ids));
      assert.equal(logits.shape, [2, 12, 61]);
      assertLogits(logits.data, expected, c.max_abs_logit, `${c.name} (${form})`);
    }
  }
});

test("token-by-token decoding with newCaches() gives HF's last-position logits of every prefix", () => {
  for (const c of fixture.cases) {
    const model = LlamaForCausalLM.fromHF(configOf(c), weightsOf(c));
    const caches = model.newCaches();
    const steps = noGrad(() => Array.from({ length: 12 }, (_, t) => model.forward(ids.narrow(1, t, 1), { caches })));
    assertLogits(concat(steps, 1).data, unpack(c.prefix_last_logits), c.max_abs_logit, `${c.name}: cached decoding`);
    assert.is(caches[0]!.position, 12);
  }
});

test("toHF gives HF's checkpoint names and shapes, and the round trip through it (and through safetensors bytes) is bit-exact", () => {
  for (const c of fixture.cases) {
    const given = weightsOf(c);
    const { config, weights } = LlamaForCausalLM.fromHF(configOf(c), given).toHF();
    assert.equal(config, configOf(c), `${c.name}: config`);
    assert.equal(Object.keys(weights).sort(), [...c.checkpoint_names].sort(), `${c.name}: names`);
    for (const name of c.checkpoint_names) {
      assert.equal(weights[name]!.shape, given[name]!.shape, `${c.name}: ${name} shape`);
      assert.ok(weights[name]!.data.every((v, i) => Object.is(v, given[name]!.data[i])), `${c.name}: ${name} bit-exact`);
    }
    const bytes = serializeSafetensors(weights, { format: 'pt' });
    const again = loadHFModel(config, bytes).toHF().weights;
    for (const name of c.checkpoint_names) assert.ok(again[name]!.data.every((v, i) => Object.is(v, given[name]!.data[i])), `${c.name}: ${name} via bytes`);
  }
});

test('fromHF refuses a missing tensor, a transposed down_proj, an untied model without lm_head, an unexpected tensor and a tied lm_head that differs', () => {
  const untied = fixture.cases.find((c) => c.name === 'rope_default_gqa_untied')!;
  const tied = fixture.cases.find((c) => c.name === 'rope_llama3_mha_tied_bias')!;
  const without = (w: Record<string, Tensor>, name: string): Record<string, Tensor> => Object.fromEntries(Object.entries(w).filter(([k]) => k !== name));
  const refuse = (make: () => unknown, kind: typeof ValueError | typeof ShapeError, pattern: RegExp, label: string): void => {
    try {
      make();
    } catch (e) {
      assert.instance(e, kind, label);
      assert.match((e as Error).message, /^LlamaForCausalLM\.fromHF: /, label);
      assert.match((e as Error).message, pattern, label);
      return;
    }
    assert.unreachable(`${label}: accepted`);
  };
  const w = weightsOf(untied);
  refuse(() => LlamaForCausalLM.fromHF(configOf(untied), without(w, 'model.layers.1.self_attn.k_proj.weight')), ValueError, /model\.layers\.1\.self_attn\.k_proj\.weight/, 'missing k_proj');
  const down = w['model.layers.0.mlp.down_proj.weight']!;
  refuse(() => LlamaForCausalLM.fromHF(configOf(untied), { ...w, 'model.layers.0.mlp.down_proj.weight': down.transpose(0, 1) }), ShapeError, /down_proj\.weight.*\[48,32\].*\[32,48\]/, 'transposed down_proj');
  refuse(() => LlamaForCausalLM.fromHF(configOf(untied), without(w, 'lm_head.weight')), ValueError, /lm_head\.weight.*untied/, 'untied without lm_head');
  refuse(() => LlamaForCausalLM.fromHF(configOf(untied), { ...w, 'model.layers.0.self_attn.q_proj.bias': new Tensor(new Float32Array(32), [32]) }), ValueError, /q_proj\.bias/, 'bias without attention_bias');
  const tw = weightsOf(tied);
  assert.not.ok('lm_head.weight' in tw, 'the tied checkpoint omits lm_head.weight');
  const emb = tw['model.embed_tokens.weight']!;
  const withHead = LlamaForCausalLM.fromHF(configOf(tied), { ...tw, 'lm_head.weight': emb }); // the alias may be given
  assertLogits(noGrad(() => withHead.forward(ids)).data, unpack(tied.logits), tied.max_abs_logit, 'tied with its lm_head alias');
  refuse(() => LlamaForCausalLM.fromHF(configOf(tied), { ...tw, 'lm_head.weight': emb.mul(2) }), ValueError, /differs/, 'tied lm_head that differs');
});

test('fromHF refuses partial rotary and M-RoPE configs, and a non-Llama activation, naming the field', () => {
  const c = configOf(fixture.cases[0]!);
  const w = weightsOf(fixture.cases[0]!);
  const cases: Array<[LlamaHFConfig, RegExp]> = [
    [{ ...c, rope_parameters: { rope_type: 'default', rope_theta: 1e4, mrope_section: [2, 1, 1] } }, /mrope_section/],
    [{ ...c, partial_rotary_factor: 0.5 }, /partial rotary/],
    [{ ...c, hidden_act: 'gelu' }, /hidden_act/],
    [{ ...c, rope_parameters: { rope_type: 'nope' } }, /rope_type/],
  ];
  for (const [cfg, pattern] of cases) {
    assert.throws(() => LlamaForCausalLM.fromHF(cfg, w), (e: Error) => e instanceof ValueError && /^LlamaForCausalLM\.fromHF: /.test(e.message) && pattern.test(e.message));
  }
});

/** A model of case 0's checkpoint whose layers rotate with `invFreq` (half layout) and attention factor `s`. */
function withTable(invFreq: Float64Array, s: number): LlamaForCausalLM {
  return LlamaForCausalLM.fromHF(configOf(fixture.cases[0]!), weightsOf(fixture.cases[0]!), { positional: new RoPE(8, { layout: 'half', invFreq, attentionFactor: s }) });
}

test("dynamic NTK follows HF's dynamic_rope_update per call: plain within max_position_embeddings, NTK base for the call's length beyond, plain again below it", () => {
  const c = fixture.cases[0]!;
  const w = weightsOf(c);
  const D = 8;
  const plain = (base: number): Float64Array => Float64Array.from({ length: D / 2 }, (_, i) => base ** (-2 * i / D));
  const dynamic = LlamaForCausalLM.fromHF({ ...configOf(c), max_position_embeddings: 8, rope_parameters: { rope_type: 'dynamic', rope_theta: 1e4, factor: 2 } }, w);
  // HF _compute_dynamic_ntk_parameters at seq_len 12: base · (factor·12/8 − (factor − 1))^(D/(D−2))
  const grownBase = 1e4 * (2 * 12 / 8 - 1) ** (D / (D - 2));
  assertLogits(noGrad(() => dynamic.forward(ids)).data, noGrad(() => withTable(plain(grownBase), 1).forward(ids)).data, c.max_abs_logit, 'dynamic, 12 > 8 positions');
  // HF resets to the plain table only when seq_len < max_position_embeddings (strictly): 7 positions
  const short = ids.narrow(1, 0, 7);
  const fixed = noGrad(() => withTable(plain(1e4), 1).forward(short)).data;
  assertLogits(noGrad(() => dynamic.forward(short)).data, fixed, c.max_abs_logit, 'dynamic, back within 7 < 8 positions');
  const different = noGrad(() => withTable(plain(grownBase), 1).forward(short)).data;
  assert.ok(fixed.some((v, i) => Math.abs(v - different[i]!) > 1e-3), 'the two tables give different logits (the test can tell them apart)');
});

test('longrope uses short_factor while the call reaches at most original_max_position_embeddings and long_factor beyond, with √(1 + ln s / ln L)', () => {
  const c = fixture.cases[0]!;
  const shortFactor = [1, 1.1, 1.3, 1.6];
  const longFactor = [1, 2, 4, 8];
  const model = LlamaForCausalLM.fromHF({ ...configOf(c), max_position_embeddings: 32, rope_parameters: { rope_type: 'longrope', rope_theta: 1e4, short_factor: shortFactor, long_factor: longFactor, original_max_position_embeddings: 8 } }, weightsOf(c));
  const table = (ext: number[]): Float64Array => Float64Array.from(ext, (e, i) => 1 / (e * 1e4 ** (2 * i / 8)));
  const s = Math.sqrt(1 + Math.log(32 / 8) / Math.log(8));
  const short = ids.narrow(1, 0, 8);
  assertLogits(noGrad(() => model.forward(short)).data, noGrad(() => withTable(table(shortFactor), s).forward(short)).data, c.max_abs_logit, 'longrope, 8 positions: short');
  assertLogits(noGrad(() => model.forward(ids)).data, noGrad(() => withTable(table(longFactor), s).forward(ids)).data, c.max_abs_logit, 'longrope, 12 positions: long');
});

test('every registered positional encoding replaces the config rope: the model trains (finite grads everywhere), decodes with caches as the full forward, and toHF refuses it until setPositional(model.rope)', () => {
  const config: LlamaHFConfig = { ...tinyConfig, max_position_embeddings: 16 };
  const batch = randomTokens(7, 2, 7, 11);
  const [inp, tgt] = [batch.narrow(1, 0, 6), batch.narrow(1, 1, 6)];
  for (const name of positionalNames()) {
    const model = new LlamaForCausalLM(config, { positional: name, seed: 5, dtype: 'float64' });
    assert.ok(model.layers.every((layer) => layer.selfAttn.positional !== model.rope), `${name}: the layers use the replacement`);
    const loss = model.loss(inp, tgt);
    loss.backward();
    for (const [pname, p] of model.namedParameters()) assert.ok(p.grad !== null && p.grad.data.every(Number.isFinite), `${name}: ${pname} has a finite gradient`);
    const full = noGrad(() => model.forward(inp));
    const caches = model.newCaches();
    for (let t = 0; t < 6; t++) {
      const step = noGrad(() => model.forward(inp.narrow(1, t, 1), { caches }));
      for (let b = 0; b < 2; b++) {
        for (let v = 0; v < 11; v++) {
          const want = full.data[(b * 6 + t) * 11 + v]!;
          assert.ok(Math.abs(step.data[b * 11 + v]! - want) < 1e-9, `${name}: decoding step ${t} equals the full forward`);
        }
      }
    }
    assert.throws(() => model.toHF(), (e: Error) => e instanceof ValueError && /^LlamaForCausalLM\.toHF: .*not the config's rope/.test(e.message), `${name}: toHF refuses`);
  }
  const plainRope = new LlamaForCausalLM(config, { positional: 'rope' }).layers[0]!.selfAttn.positional as RoPE;
  assert.ok(Math.abs(plainRope.invFreq[1]! - 100 ** -0.5) < 1e-15, `a registry encoding starts from the config's rope_theta (100): θ_1 = ${plainRope.invFreq[1]}`);
  const model = new LlamaForCausalLM(config, { positional: 'learned', seed: 5 });
  model.setPositional(model.rope);
  const saved = model.toHF();
  const back = LlamaForCausalLM.fromHF(saved.config, saved.weights);
  assert.equal(Array.from(noGrad(() => back.forward(inp)).data), Array.from(noGrad(() => model.forward(inp)).data), 'restored: the saved model gives its logits');
  assert.throws(() => new LlamaForCausalLM(config, { positional: 'no-such' }), (e: Error) => e instanceof ValueError && /^LlamaForCausalLM: unknown positional encoding 'no-such'/.test(e.message));
  assert.throws(() => model.setPositional(42 as never), (e: Error) => /^LlamaForCausalLM\.setPositional: positional must be/.test(e.message));
});

const tinyConfig: LlamaHFConfig = {
  vocab_size: 11, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1,
  rms_norm_eps: 1e-5, attention_bias: true, tie_word_embeddings: true, rope_theta: 100, rope_scaling: { rope_type: 'yarn', factor: 2, original_max_position_embeddings: 4 },
};

test('it trains: one AdamW step lowers the loss of a fresh tiny model', () => {
  const model = new LlamaForCausalLM(tinyConfig, { seed: 3 });
  const batch = randomTokens(5, 2, 9, 11);
  const [inp, tgt] = [batch.narrow(1, 0, 8), batch.narrow(1, 1, 8)];
  const opt = new AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0 });
  const before = model.loss(inp, tgt);
  opt.zeroGrad();
  before.backward();
  opt.step();
  const after = noGrad(() => model.loss(inp, tgt)).item();
  assert.ok(after < before.item() - 1e-3, `loss ${before.item()} → ${after}`);
});

test('float64 gradcheck through the whole model: norms, GQA attention with biases and yarn rope, SwiGLU, tied head', () => {
  const model = new LlamaForCausalLM(tinyConfig, { seed: 4, dtype: 'float64' });
  const batch = randomTokens(6, 1, 5, 11);
  const [inp, tgt] = [batch.narrow(1, 0, 4), batch.narrow(1, 1, 4)];
  const layer = model.layers[1]!;
  const params = [model.norm.weight!, layer.inputLayernorm.weight!, layer.selfAttn.wq.bias!, layer.selfAttn.wk.weight, layer.mlp.down.weight, model.embedTokens.weight];
  for (const p of params) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! + 0.3 * Math.sin(i + 1); // off the init (zero biases, unit norms)
  params.forEach((p) => p.markModified());
  assert.ok(gradcheck(() => model.loss(inp, tgt), params, { atol: 1e-6, rtol: 1e-4 }));
});

test.run();
