/** Robustness table for models/: one entry per runtime export (see harness.ts for what each argument kind gets). */
import { Generator, LlamaForCausalLM, RoPE, resolveMLALMConfig, serializeSafetensors } from '../../../index.js';
import { A, cls, fn, method, type ArgSpec, type Entry } from '../harness.js';
import { ints, t } from './fixtures.js';

const dtype = A.enum('dtype');
const ids = () => ints([1, 2, 3, 4], [1, 4]);
const targets = () => ints([2, 3, 4, 5], [1, 4]);
const idsArg = A.configTensor('ids');
const lmMethods = [
  method('forward', () => [ids()], [idsArg]),
  method('loss', () => [ids(), targets()], [idsArg, A.configTensor('targets')]),
];
const common: Record<string, ArgSpec> = {
  mlp: A.enum('mlp'), norm: A.enum('norm'), dropout: A.real('dropout'), tieEmbeddings: A.bool('tieEmbeddings'), seed: A.int('seed'), dtype,
};
const gpt = () => ({ vocabSize: 11, contextLength: 8, dim: 8, numLayers: 1, numHeads: 2, positional: 'rope', ropeBase: 10000, seed: 1 });
const mlalm = () => ({ vocabSize: 11, dim: 8, numLayers: 1, numHeads: 2, kvLoraRank: 4, qLoraRank: null, qkNopeHeadDim: 4, qkRopeHeadDim: 2, vHeadDim: 4, hidden: 16, seed: 1 });
const mlalmSpec: ArgSpec = A.options('config', {
  vocabSize: A.size('vocabSize'), dim: A.size('dim'), numLayers: A.size('numLayers'), numHeads: A.size('numHeads'), kvLoraRank: A.size('kvLoraRank'),
  qLoraRank: A.size('qLoraRank', { nullable: true }), qkNopeHeadDim: A.size('qkNopeHeadDim'), qkRopeHeadDim: A.size('qkRopeHeadDim'), vHeadDim: A.size('vHeadDim'),
  ropeBase: A.real('ropeBase'), ropeLayout: A.enum('ropeLayout'), hidden: A.size('hidden'), normEps: A.real('normEps'), tieEmbeddings: A.bool('tieEmbeddings'),
  attentionBias: A.bool('attentionBias'), initializerRange: A.real('initializerRange'), rope: A.enum('rope'), mode: A.enum('mode'), seed: A.int('seed'), dtype,
  vocab_size: A.size('vocab_size'), rope_theta: A.real('rope_theta'), rms_norm_eps: A.real('rms_norm_eps'),
}, { optional: false });
const pathlm = () => ({ vocabSize: 11, dim: 8, numLayers: 1, numHeads: 2, chunkSize: 2, seed: 1 });
const pathlmFields: Record<string, ArgSpec> = {
  vocabSize: A.size('vocabSize', { required: true }), dim: A.size('dim', { required: true }), numLayers: A.size('numLayers', { required: true }),
  numHeads: A.size('numHeads', { required: true }), numKVHeads: A.size('numKVHeads'), useForgetGate: A.bool('useForgetGate'), lowRankW: A.size('lowRankW'),
  shortConv: A.size('shortConv'), qkNorm: A.bool('qkNorm'), chunkSize: A.size('chunkSize'), ...common,
};
const vit = () => ({ imageSize: 8, patchSize: 4, channels: 1, numClasses: 3, dim: 8, depth: 1, numHeads: 2, positional: 'rope-axial', ropeTheta: 100, seed: 1 });
const memoryTransformer = () => ({ vocabSize: 11, dim: 8, numLayers: 1, numHeads: 2, segmentLength: 4, chunkSize: 2, memorySlots: 4, seed: 1 });

const mmdit = () => ({ imageSize: 4, patchSize: 2, channels: 1, vocabSize: 4, textLength: 2, dim: 6, numHeads: 1, doubleBlocks: 1, singleBlocks: 1, mlpRatio: 1, ropeTheta: 10, seed: 1 });
const mmText = () => ints([1, 2], [1, 2]);
const llama = () => ({
  vocab_size: 11, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, attention_bias: true,
  tie_word_embeddings: false, max_position_embeddings: 16, rope_parameters: { rope_type: 'yarn', rope_theta: 100, factor: 2, original_max_position_embeddings: 4 },
});
const llamaSpec: ArgSpec = A.options('config', {
  vocab_size: A.size('vocab_size', { required: true }), hidden_size: A.size('hidden_size', { required: true }), intermediate_size: A.size('intermediate_size', { required: true }),
  num_hidden_layers: A.size('num_hidden_layers', { required: true }), num_attention_heads: A.size('num_attention_heads', { required: true }),
  num_key_value_heads: A.size('num_key_value_heads', { nullable: true }), head_dim: A.size('head_dim', { nullable: true }), rms_norm_eps: A.real('rms_norm_eps'),
  attention_bias: A.bool('attention_bias'), mlp_bias: A.bool('mlp_bias'), tie_word_embeddings: A.bool('tie_word_embeddings'), initializer_range: A.real('initializer_range'),
  max_position_embeddings: A.size('max_position_embeddings', { nullable: true }),
  rope_theta: A.real('rope_theta'), rope_parameters: A.object('rope_parameters', { nullable: true }), rope_scaling: A.object('rope_scaling', { nullable: true }),
}, { optional: false });
const llamaOptions = A.options('options', { dtype, seed: A.int('seed'), positional: A.object('positional') });
const llamaBytes = () => serializeSafetensors(new LlamaForCausalLM(llama(), { seed: 1 }).toHF().weights, { format: 'pt' });

export const modelsEntries: readonly Entry[] = [
  cls('GPT', () => [gpt()], [
    A.options('config', {
      vocabSize: A.size('vocabSize', { required: true }), contextLength: A.size('contextLength', { required: true }), dim: A.size('dim', { required: true }),
      numLayers: A.size('numLayers', { required: true }), numHeads: A.size('numHeads', { required: true }), numKVHeads: A.size('numKVHeads'),
      positional: A.enum('positional', { required: true }), ropeBase: A.real('ropeBase'), ...common,
    }, { optional: false }),
  ], [
    ...lmMethods,
    method('setPositional', () => [new RoPE(4)], [A.object('positional')]),
  ]),
  fn('resolveMLALMConfig', () => [mlalm()], [mlalmSpec]),
  fn('mlaLMParameterName', () => ['model.layers.0.self_attn.kv_a_proj_with_mqa.weight'], [A.string('hfName')]),
  cls('MLABlock', () => [resolveMLALMConfig(mlalm()), new Generator(1)], [A.object('c'), A.object('generator')], [
    method('forward', () => [t(1, 4, 8), {}], [A.tensor('x'), A.options('options', { cache: A.object('cache'), positions: A.configTensor('positions') })]),
  ]),
  cls('MLALM', () => [mlalm()], [mlalmSpec], [...lmMethods, method('setMode', () => ['absorbed'], [A.enum('mode')])]),
  cls('MemoryTransformer', () => [memoryTransformer()], [
    A.options('config', {
      vocabSize: A.size('vocabSize', { required: true }), dim: A.size('dim', { required: true }), numLayers: A.size('numLayers', { required: true }),
      numHeads: A.size('numHeads', { required: true }), segmentLength: A.size('segmentLength', { required: true }), chunkSize: A.size('chunkSize', { required: true }),
      memorySlots: A.size('memorySlots', { required: true }), combine: A.enum('combine'), truncateBPTT: A.size('truncateBPTT', { infinityOk: true }), gate: A.real('gate'),
      pool: A.enum('pool'), memoryInit: A.enum('memoryInit'), ropeBase: A.real('ropeBase'), ...common,
    }, { optional: false }),
  ], [
    ...lmMethods,
    method('initialMemory', () => [1], [A.size('batch')]),
    method('newStream', () => [1], [A.size('batch', { optional: true })]),
    method('generate', () => [[1, 2], { maxNewTokens: 2, generator: new Generator(1) }], [
      A.ints('prompt'), A.options('options', { maxNewTokens: A.size('maxNewTokens', { required: true, work: true }), generator: A.object('generator'), temperature: A.real('temperature'), topK: A.size('topK', { infinityOk: true }) }, { optional: false }),
    ]),
  ]),
  cls('PaTHBlock', () => [8, pathlm(), new Generator(1)], [A.size('dim'), A.options('config', pathlmFields, { optional: false }), A.object('generator')], [
    method('forward', () => [t(1, 4, 8)], [A.tensor('x'), A.object('cache', { optional: true })]),
  ]),
  cls('PaTHLM', () => [pathlm()], [A.options('config', pathlmFields, { optional: false })], lmMethods),
  cls('ViT', () => [vit()], [
    A.options('config', {
      imageSize: A.size('imageSize', { alsoArray: true }), patchSize: A.size('patchSize', { required: true }), channels: A.size('channels'), numClasses: A.size('numClasses', { required: true }),
      dim: A.size('dim', { required: true }), depth: A.size('depth', { required: true }), numHeads: A.size('numHeads', { required: true }), mlpRatio: A.real('mlpRatio'),
      positional: A.enum('positional', { required: true }), ropeTheta: A.real('ropeTheta'), seed: A.int('seed'), dtype,
    }, { optional: false }),
  ], [
    method('forward', () => [t(1, 1, 8, 8)], [A.tensor('images')]),
    method('loss', () => [t(1, 1, 8, 8), ints([2])], [A.tensor('images'), A.configTensor('labels', { arrayOk: true })]),
    method('positions', () => [2, 2], [A.size('gh'), A.size('gw')]),
  ]),
  fn('bilinearResizeMatrix', () => [2, 2, 3, 3, 'float32'], [A.size('gh0'), A.size('gw0'), A.size('gh'), A.size('gw'), A.enum('dtype', { optional: true })]),
  fn('patchify', () => [t(1, 1, 8, 8), 4], [A.tensor('images'), A.size('patchSize')]),
  cls('MMDiT', () => [mmdit()], [
    A.options('config', {
      imageSize: A.size('imageSize', { required: true }), patchSize: A.size('patchSize', { required: true }), channels: A.size('channels'),
      vocabSize: A.size('vocabSize', { required: true }), textLength: A.size('textLength', { required: true }), dim: A.size('dim', { required: true }),
      numHeads: A.size('numHeads', { required: true }), doubleBlocks: A.size('doubleBlocks', { required: true }), singleBlocks: A.size('singleBlocks', { required: true }),
      mlpRatio: A.real('mlpRatio'), axesDim: A.ints('axesDim'), ropeTheta: A.real('ropeTheta'), seed: A.int('seed'), dtype,
    }, { optional: false }),
  ], [
    method('forward', () => [t(1, 1, 4, 4), t(1), mmText(), { hooks: () => undefined }], [A.tensor('x'), A.configTensor('t'), A.configTensor('text'), A.options('options', { hooks: A.fn('hooks') })]),
    method('loss', () => [t(1, 1, 4, 4), mmText(), { generator: new Generator(1), t: t(1).abs(), noise: t(1, 1, 4, 4) }], [
      A.tensor('x0'), A.configTensor('text'), A.options('options', { generator: A.object('generator'), t: A.configTensor('t'), noise: A.tensor('noise') }),
    ]),
    method('generate', () => [{ text: mmText(), noise: t(1, 1, 4, 4), steps: 2 }, () => undefined], [
      A.options('inputs', { text: A.configTensor('text', { required: true }), noise: A.tensor('noise', { required: true }), steps: A.size('steps', { required: true, work: true }) }, { optional: false }),
      A.fn('control', { optional: true }),
    ]),
    method('positionIds', () => [2, 2], [A.size('gh'), A.size('gw')]),
  ]),
  fn('fluxAxesFor', () => [16], [A.size('headDim')]),
  cls('LlamaForCausalLM', () => [llama(), { seed: 1 }], [llamaSpec, llamaOptions], [
    ...lmMethods,
    method('newCaches', () => [], []),
    method('toHF', () => [], []),
    method('setPositional', () => [new RoPE(4)], [A.object('positional')]),
  ]),
  fn('loadHFModel', () => [llama(), llamaBytes(), { seed: 1 }], [llamaSpec, A.bytes('safetensorsBytes'), llamaOptions]),
];

