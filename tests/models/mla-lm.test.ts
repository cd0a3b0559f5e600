/**
 * models/mla-lm.ts: a tiny MLA language model overfits a fixed batch; absorbed and explicit logits agree; cached
 * decoding equals the full forward; DeepSeek's snake_case config fields are accepted; HF names map onto ours; it is
 * a `CausalLM` that `generate` can drive with latent caches.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ValueError, concat, noGrad } from '../../core/index.js';
import { generate, type CausalLM } from '../../nn/index.js';
import { LatentKVCache } from '../../nn/mla.js';
import { MLALM, mlaLMParameterName, resolveMLALMConfig, type MLALMConfig } from '../../models/mla-lm.js';
import { assertClose } from '../helpers/close.js';
import { greedyByFullForward, randomTokens, trainUntil } from '../helpers/lm.js';

const tinyConfig: MLALMConfig = {
  vocabSize: 13, dim: 32, numLayers: 2, numHeads: 4, kvLoraRank: 16, qLoraRank: 24, qkNopeHeadDim: 8, qkRopeHeadDim: 4, vHeadDim: 8, seed: 7,
};

test('a tiny MLALM overfits a fixed batch: loss < 0.05 within 300 AdamW steps', () => {
  const model = new MLALM(tinyConfig);
  const ids = randomTokens(1, 2, 16, 13);
  const [inp, tgt] = [ids.narrow(1, 0, 15), ids.narrow(1, 1, 15)];
  const { loss, steps } = trainUntil(model.parameters(), () => model.loss(inp, tgt), { lr: 1e-2, maxSteps: 300 });
  assert.ok(loss < 0.05, `loss ${loss} after ${steps} steps`);
});

test('absorbed and explicit logits agree (1e-10, float64), and token-by-token decoding with latent caches equals the full forward', () => {
  for (const rope of ['decoupled', 'pre-rope'] as const) {
    const model = new MLALM({ ...tinyConfig, rope, dtype: 'float64' });
    const ids = randomTokens(2, 2, 9, 13);
    const explicit = noGrad(() => model.forward(ids));
    const modes = rope === 'decoupled' ? (['explicit', 'absorbed'] as const) : (['explicit'] as const);
    for (const mode of modes) {
      model.setMode(mode);
      const full = noGrad(() => model.forward(ids));
      assertClose(full.data, explicit.data, { rtol: 1e-10, atol: 1e-10 }, `${rope}: ${mode} vs explicit`);
      const caches = model.newCaches();
      const steps = [noGrad(() => model.forward(ids.narrow(1, 0, 4), { caches }))];
      for (let t = 4; t < 9; t++) steps.push(noGrad(() => model.forward(ids.narrow(1, t, 1), { caches })));
      assertClose(concat(steps, 1).data, full.data, { rtol: 1e-10, atol: 1e-10 }, `${rope}/${mode}: cached vs full`);
      const perToken = rope === 'decoupled' ? 16 + 4 : 16 + 4 * 4;
      for (const cache of caches) {
        assert.ok(cache instanceof LatentKVCache);
        assert.is(cache.numbersPerToken, perToken);
        assert.is(cache.latents!.size + cache.ropeKeys!.size, 2 * 9 * perToken); // per layer: B·T·(kvLoraRank + qkRopeHeadDim)
      }
    }
  }
});

test('is a CausalLM: generate() decodes greedily with latent caches, matching argmax of full forwards', () => {
  const model: CausalLM = new MLALM({ ...tinyConfig, dtype: 'float64' });
  const prompt = [1, 5, 2];
  const out = generate(model, prompt, { maxNewTokens: 4, temperature: 0 });
  assert.is(out.length, 4);
  assert.equal(out, greedyByFullForward(model, prompt, 4, 13));
});

test("DeepSeek's snake_case config fields are accepted and build the same model as camelCase", () => {
  const snake: MLALMConfig = {
    vocab_size: 13, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, kv_lora_rank: 16, q_lora_rank: 24,
    qk_nope_head_dim: 8, qk_rope_head_dim: 4, v_head_dim: 8, rope_theta: 10000, rope_interleave: true, intermediate_size: 85,
    rms_norm_eps: 1e-6, tie_word_embeddings: true, attention_bias: false, seed: 7,
  };
  const fromSnake = new MLALM(snake);
  const fromCamel = new MLALM(tinyConfig);
  assert.equal(fromSnake.config, fromCamel.config);
  const ids = randomTokens(3, 1, 5, 13);
  assertClose(noGrad(() => fromSnake.forward(ids)).data, noGrad(() => fromCamel.forward(ids)).data, { rtol: 0, atol: 0 });
  // a parsed config.json carries fields this model ignores (MoE, ids, …) and q_lora_rank null (V2-Lite)
  const json = JSON.parse('{"vocab_size":11,"hidden_size":16,"num_hidden_layers":1,"num_attention_heads":2,"kv_lora_rank":8,"q_lora_rank":null,"qk_nope_head_dim":4,"qk_rope_head_dim":2,"v_head_dim":4,"n_routed_experts":64,"rope_interleave":false}') as MLALMConfig;
  const lite = resolveMLALMConfig(json);
  assert.is(lite.qLoraRank, null);
  assert.is(lite.ropeLayout, 'half');
  assert.ok(new MLALM(json).layers[0]!.selfAttn.qProj !== null);
  assert.throws(() => resolveMLALMConfig({ ...snake, kv_lora_rank: undefined }), (e: unknown) => e instanceof ValueError && /kvLoraRank=undefined \(give kvLoraRank or DeepSeek's kv_lora_rank\)/.test(e.message));
  assert.throws(() => resolveMLALMConfig({ ...snake, dim: 64 }), (e: unknown) => e instanceof ValueError && /dim=64, hidden_size=32/.test(e.message));
  assert.throws(() => resolveMLALMConfig({ ...snake, ropeLayout: 'half' }), (e: unknown) => e instanceof ValueError && /rope_interleave=true/.test(e.message));
  assert.throws(() => new MLALM({ ...tinyConfig, vocabSize: 0 }), (e: unknown) => e instanceof ValueError && /vocabSize=0/.test(e.message));
});

test('HF DeepSeek parameter names map onto MLALM names (loadStateDict by name)', () => {
  assert.is(mlaLMParameterName('model.layers.0.self_attn.kv_a_proj_with_mqa.weight'), 'layers.0.selfAttn.kvAProjWithMqa.weight');
  assert.is(mlaLMParameterName('model.layers.12.self_attn.q_a_layernorm.weight'), 'layers.12.selfAttn.qALayernorm.weight');
  assert.is(mlaLMParameterName('model.layers.1.mlp.gate_proj.weight'), 'layers.1.mlp.gate.weight');
  assert.is(mlaLMParameterName('model.layers.1.post_attention_layernorm.weight'), 'layers.1.postAttentionLayernorm.weight');
  assert.is(mlaLMParameterName('model.embed_tokens.weight'), 'embedTokens.weight');
  assert.is(mlaLMParameterName('lm_head.weight'), 'lmHead.weight');
  const model = new MLALM({ ...tinyConfig, tieEmbeddings: false });
  const hfNames = [
    'model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight',
    ...[0, 1].flatMap((i) => [
      'input_layernorm.weight', 'post_attention_layernorm.weight', 'self_attn.q_a_proj.weight', 'self_attn.q_a_layernorm.weight',
      'self_attn.q_b_proj.weight', 'self_attn.kv_a_proj_with_mqa.weight', 'self_attn.kv_a_layernorm.weight', 'self_attn.kv_b_proj.weight',
      'self_attn.o_proj.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight',
    ].map((n) => `model.layers.${i}.${n}`)),
  ];
  const ours = new Set(model.namedParameters().map(([n]) => n));
  assert.equal(new Set(hfNames.map(mlaLMParameterName)), ours);
});

test.run();
