/** Robustness table for nn/: one entry per runtime export (see harness.ts for what each argument kind gets). */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import {
  FifoMemory, FluxRoPE, GPT, Generator, MMDiT, fluxPositions, qkSpectrum, randn, KVCache, LatentKVCache, Linear, MLP, MultiHeadAttention, PaTHCache, RoPE, SGD, Tensor, mseLoss, serializeSafetensors,
  buildQueryAwareCodebook, ropeInvFreq,
} from '../../../index.js';
import { A, cls, exempt, fn, method, type ArgSpec, type Entry } from '../harness.js';
import { ints, t, t64, vals } from './fixtures.js';

const D = 8; // model width
const T = 4; // tokens
const x = () => t(1, T, D);
const dtype = A.enum('dtype');
const gen = A.object('generator');
const bhtd = () => t(1, 2, T, 4); // [B, H, T, d]
const unit = (v: Tensor) => v.div(v.square().sum(-1, true).sqrt()); // PaTH's w rows are unit vectors
const beta = () => vals(Array.from({ length: 2 * T }, (_, i) => 0.5 + 0.1 * (i % 3)), [1, 2, T]);
const pathArgs = () => [bhtd(), bhtd(), bhtd(), unit(bhtd()), beta(), { chunkSize: 2 }];
const pathSpec: ArgSpec[] = [
  A.tensor('q'), A.tensor('k'), A.tensor('v'), A.tensor('w'), A.tensor('beta'),
  A.options('options', { scale: A.real('scale'), chunkSize: A.size('chunkSize'), forgetGate: A.tensor('forgetGate', { nullable: true }) }),
];
const mla = () => ({ dim: D, numHeads: 2, kvLoraRank: 4, qLoraRank: null, qkNopeHeadDim: 4, qkRopeHeadDim: 2, vHeadDim: 4, generator: new Generator(1) });
const mlaDims: Record<string, ArgSpec> = {
  dim: A.size('dim', { required: true }), numHeads: A.size('numHeads', { required: true }), kvLoraRank: A.size('kvLoraRank', { required: true }),
  qLoraRank: A.size('qLoraRank', { nullable: true }), qkNopeHeadDim: A.size('qkNopeHeadDim', { required: true }), qkRopeHeadDim: A.size('qkRopeHeadDim', { required: true }),
  vHeadDim: A.size('vHeadDim', { required: true }), rope: A.enum('rope'), bias: A.bool('bias'),
};
const tinyModel = () => new Linear(2, 2, { generator: new Generator(1) });
/** One scratch file per test process, overwritten by every saveSafetensors call. */
const tmpPath = () => join(tmpdir(), `ropelab-robustness-${process.pid}.safetensors`);
/** A valid file for loadSafetensors: the state of tinyModel(), written before the call. */
const savedPath = () => {
  const path = join(tmpdir(), `ropelab-robustness-${process.pid}-load.safetensors`);
  writeFileSync(path, serializeSafetensors(tinyModel().stateDict()));
  return path;
};
const eig = () => Float64Array.from([3, 2, 1, 0.5, 0.25, 0.1]);
const ARG_CHECK = 'an argument-check helper: it throws on bad input by design, with the op name its caller passes';
const tinyGPT = () => new GPT({ vocabSize: 11, contextLength: 8, dim: D, numLayers: 1, numHeads: 2, positional: 'rope', seed: 1 });
const memState = (m: FifoMemory) => m.initial(1);

const mmRope = () => new FluxRoPE([2, 2, 4], { theta: 100 }); // head dim 8 = D with one head
const mmIds = () => fluxPositions({ textLength: 2, height: 1, width: 2 }); // [4, 3]: 2 text + 2 image tokens
const mmHook = A.options('hook', { keys: A.enum('keys'), keysValues: A.fn('keysValues') });
const mmBlockOptions = (): ArgSpec => A.options('options', {
  numHeads: A.size('numHeads', { required: true }), rope: A.object('rope', { required: true }), mlpRatio: A.real('mlpRatio'), generator: gen, dtype,
}, { optional: false });
const tinyMMDiT = () => new MMDiT({ imageSize: 4, patchSize: 2, channels: 1, vocabSize: 4, textLength: 2, dim: 6, numHeads: 1, doubleBlocks: 1, singleBlocks: 1, mlpRatio: 1, seed: 1 });

export const nnEntries: readonly Entry[] = [
  exempt('BASELINE_QUANTILES', 'a constant array, not callable'),
  exempt('SAFETENSORS_MAX_HEADER_BYTES', 'a constant number, not callable'),
  exempt('A2ATS_DEFAULTS', 'a constant object, not callable'),
  fn('wropeQuery', () => [t64([3, 4]), ropeInvFreq(4, 100), 8, 'half'], [A.tensor('q'), A.reals('invFreq'), A.real('distance'), A.enum('layout')]),
  fn('buildQueryAwareCodebook', () => [t64([6, 4]), t64([5, 4]), { size: 2, generator: new Generator(1), maxIter: 5, tol: 1e-4 }], [
    A.tensor('queries'), A.tensor('keys'),
    A.options('options', { size: A.size('size', { work: true }), generator: A.object('generator'), maxIter: A.size('maxIter', { work: true }), tol: A.real('tol') }),
  ]),
  fn('retrievalMask', () => [t64([1, 2, 12]), 1, { topK: 0.25, localWindow: 2, attentionSinks: 1 }], [
    A.tensor('scores'), A.size('numKVHeads'),
    A.options('options', { topK: A.real('topK'), localWindow: A.size('localWindow', { work: true }), attentionSinks: A.size('attentionSinks', { work: true }) }),
  ]),
  fn('encodeKeys', () => [buildQueryAwareCodebook(t64([6, 4]), t64([5, 4]), { size: 2, generator: new Generator(1) }), t64([3, 4])], [A.object('codebook'), A.tensor('keys')]),
  // argument checks for layers and models built on nn/ (as core's expect* helpers)
  exempt('expectEncodingFits', ARG_CHECK),
  exempt('expectWeight', ARG_CHECK),
  // Module and Parameter are re-exports of core's (the same objects): their entries live in core.test.ts.

  // init
  fn('uniformParameter', () => [[2, 3], { bound: 0.1, generator: new Generator(1), dtype: 'float32' }], [A.shape('shape'), A.options('options', { bound: A.real('bound', { required: true }), generator: gen, dtype: A.enum('dtype') }, { optional: false })]),
  fn('normalParameter', () => [[2, 3], { std: 0.02, generator: new Generator(1), dtype: 'float32' }], [A.shape('shape'), A.options('options', { std: A.real('std', { required: true }), generator: gen, dtype: A.enum('dtype') }, { optional: false })]),
  fn('constantParameter', () => [[2, 3], 1, 'float32'], [A.shape('shape'), A.data('value'), A.enum('dtype', { optional: true })]),
  fn('gpt2Init', () => [new MLP(D, 16, { generator: new Generator(1) }), { numLayers: 2, generator: new Generator(1), select: /weight/ }], [A.object('model'), A.options('options', { numLayers: A.size('numLayers', { required: true }), generator: gen, select: A.object('select') }, { optional: false })]),

  // layers
  cls('Linear', () => [D, 4, { bias: true, generator: new Generator(1) }], [A.size('inFeatures'), A.size('outFeatures'), A.options('options', { bias: A.bool('bias'), generator: gen, dtype, std: A.real('std') })], [
    method('forward', () => [x()], [A.tensor('x')]),
  ]),
  cls('Embedding', () => [11, D, { generator: new Generator(1), std: 0.02 }], [A.size('numEmbeddings'), A.size('dim'), A.options('options', { generator: gen, dtype, std: A.real('std') })], [
    method('forward', () => [ints([1, 2, 10], [1, 3])], [A.configTensor('ids', { arrayOk: true })]),
  ]),
  cls('LayerNorm', () => [D, { eps: 1e-5, affine: true, bias: true }], [A.size('dim'), A.options('options', { eps: A.real('eps'), affine: A.bool('affine'), dtype, bias: A.bool('bias') })], [
    method('forward', () => [x()], [A.tensor('x')]),
  ]),
  cls('RMSNorm', () => [D, { eps: 1e-5, affine: true }], [A.size('dim'), A.options('options', { eps: A.real('eps'), affine: A.bool('affine'), dtype })], [
    method('forward', () => [x()], [A.tensor('x')]),
  ]),
  cls('Dropout', () => [0.5, { generator: new Generator(1) }], [A.real('p'), A.options('options', { generator: gen })], [method('forward', () => [x()], [A.tensor('x')])]),
  cls('MLP', () => [D, 16, { generator: new Generator(1) }], [A.size('dim'), A.size('hidden', { optional: true }), A.options('options', { bias: A.bool('bias'), generator: gen, dtype })], [
    method('forward', () => [x()], [A.tensor('x')]),
  ]),
  cls('SwiGLU', () => [D, 16, { generator: new Generator(1) }], [A.size('dim'), A.size('hidden', { optional: true }), A.options('options', { bias: A.bool('bias'), generator: gen, dtype })], [
    method('forward', () => [x()], [A.tensor('x')]),
  ]),

  // masks
  fn('causalMask', () => [3, 4], [A.size('Tq'), A.size('Tk', { optional: true })]),
  fn('slidingWindowMask', () => [3, 4, 2], [A.size('Tq'), A.size('Tk'), A.size('window')]),
  fn('paddingMask', () => [[2, 3], 4], [A.ints('lengths'), A.size('Tk')]),
  fn('documentMask', () => [ints([0, 0, 1, 1])], [A.configTensor('docIds', { arrayOk: true })]),
  fn('combineMasks', () => [vals([1, 0, 1, 1], [2, 2]), vals([1, 1, 0, 1], [2, 2])], [A.tensor('masks[0]'), A.tensor('masks[1]')]),

  // caches and attention
  cls('KVCache', () => [{ maxLength: 16 }], [A.options('options', { maxLength: A.size('maxLength', { infinityOk: true }) })], [
    method('append', () => [t(1, 2, 1, 4), t(1, 2, 1, 4)], [A.tensor('k'), A.tensor('v')]),
  ]),
  cls('RetrievalKVCache', () => [{
    codebooks: [buildQueryAwareCodebook(t64([6, 4]), t64([5, 4]), { size: 2, generator: new Generator(1) })],
    invFreq: ropeInvFreq(4, 100), layout: 'half', wropeDistance: 64, topK: 0.5, localWindow: 1, attentionSinks: 1,
  }], [A.options('options', {
    codebooks: A.object('codebooks'), invFreq: A.reals('invFreq'), layout: A.enum('layout'), wropeDistance: A.real('wropeDistance'),
    topK: A.real('topK'), localWindow: A.size('localWindow', { work: true }), attentionSinks: A.size('attentionSinks', { work: true }),
    prefill: A.enum('prefill'),
  }, { optional: false })], [
    method('retrieve', () => [t64([1, 2, 1, 4]), t64([1, 1, 1, 4])], [A.tensor('queries'), A.tensor('keys')]),
    method('appendSelected', () => [t64([1, 1, 1, 4]), t64([1, 1, 1, 4]), vals([1], [1, 1, 1, 1])], [A.tensor('k'), A.tensor('v'), A.tensor('mask')]),
  ]),
  fn('scaledDotProductAttention', () => [bhtd(), bhtd(), bhtd(), { causal: true, scale: 0.5 }], [
    A.tensor('q'), A.tensor('k'), A.tensor('v'),
    A.options('options', { mask: A.tensor('mask', { nullable: true }), causal: A.bool('causal'), window: A.size('window', { infinityOk: true }), scale: A.real('scale') }),
  ]),
  cls('MultiHeadAttention', () => [D, { numHeads: 2, positional: new RoPE(4), generator: new Generator(1) }], [
    A.size('dim'),
    A.options('options', {
      numHeads: A.size('numHeads', { required: true }), numKVHeads: A.size('numKVHeads'), headDim: A.size('headDim'), kvDim: A.size('kvDim'), bias: A.bool('bias'),
      positional: A.object('positional'), window: A.size('window', { infinityOk: true }), generator: gen, dtype,
    }, { optional: false }),
  ], [
    method('forward', () => [x(), { causal: true, positions: vals([0, 1, 2, 3]) }], [
      A.tensor('x'),
      A.options('options', { context: A.tensor('context'), mask: A.tensor('mask', { nullable: true }), causal: A.bool('causal'), positions: A.configTensor('positions'), cache: A.object('cache') }),
    ]),
  ]),
  cls('Block', () => [D, { numHeads: 2, mlp: 'gelu', norm: 'layer', hidden: 16, positional: new RoPE(4), generator: new Generator(1) }], [
    A.size('dim'),
    A.options('options', {
      numHeads: A.size('numHeads', { required: true }), numKVHeads: A.size('numKVHeads'), mlp: A.enum('mlp'), norm: A.enum('norm'), hidden: A.size('hidden'),
      positional: A.object('positional'), window: A.size('window', { infinityOk: true }), dropout: A.real('dropout'), bias: A.bool('bias'), generator: gen, dtype,
    }, { optional: false }),
  ], [
    method('forward', () => [x(), { causal: true }], [A.tensor('x'), A.options('options', { mask: A.tensor('mask', { nullable: true }), causal: A.bool('causal'), positions: A.configTensor('positions'), cache: A.object('cache') })]),
  ]),
  fn('chunkedAttention', () => [bhtd(), bhtd(), bhtd(), 2, { causal: true, scale: 0.5, offset: 0 }], [
    A.tensor('q'), A.tensor('k'), A.tensor('v'), A.size('chunkSize'), A.options('options', { causal: A.bool('causal'), scale: A.real('scale'), offset: A.size('offset') }),
  ]),
  cls('ChunkedAttention', () => [D, 2, 2, { generator: new Generator(1) }], [
    A.size('dim'), A.size('numHeads'), A.size('chunkSize'), A.options('options', { positional: A.object('positional'), bias: A.bool('bias'), generator: gen, dtype }),
  ], [method('forward', () => [x(), {}], [A.tensor('x'), A.options('options', { positions: A.configTensor('positions'), cache: A.object('cache') })])]),
  cls('FifoMemory', () => [4, D, { numHeads: 2, pool: 'chunk-mean', poolSize: 2, gate: 0.5, init: 'zeros', generator: new Generator(1) }], [
    A.size('numSlots'), A.size('dim'),
    A.options('options', { numHeads: A.size('numHeads'), pool: A.enum('pool'), poolSize: A.size('poolSize'), gate: A.real('gate'), init: A.enum('init'), bias: A.bool('bias'), generator: gen, dtype }),
  ], [
    method('initial', () => [1], [A.size('batch')]),
    method('poolCandidates', () => [x()], [A.tensor('h')]),
    method('read', (m: FifoMemory) => [x(), memState(m)], [A.tensor('x'), A.object('state')]),
    method('write', (m: FifoMemory) => [memState(m), t(1, 2, D)], [A.object('state'), A.tensor('candidates')]),
    method('ordered', (m: FifoMemory) => [memState(m)], [A.object('state')]),
  ]),
  cls('MemoryBlock', () => [D, { numHeads: 2, chunkSize: 2, memorySlots: 4, generator: new Generator(1) }], [
    A.size('dim'),
    A.options('options', {
      numHeads: A.size('numHeads', { required: true }), chunkSize: A.size('chunkSize', { required: true }), memorySlots: A.size('memorySlots', { required: true }),
      combine: A.enum('combine'), gate: A.real('gate'), pool: A.enum('pool'), memoryInit: A.enum('memoryInit'), mlp: A.enum('mlp'), norm: A.enum('norm'),
      hidden: A.size('hidden'), dropout: A.real('dropout'), bias: A.bool('bias'), generator: gen, dtype,
    }, { optional: false }),
  ], [
    method('forward', (m: { memory: FifoMemory }) => [x(), m.memory.initial(1), {}], [A.tensor('x'), A.object('memory'), A.options('options', { positions: A.configTensor('positions'), caches: A.object('caches') })]),
  ]),

  // MLA
  fn('mlaParameterShapes', () => [mla()], [A.options('dims', mlaDims, { optional: false })]),
  fn('mlaCacheNumbersPerToken', () => [mla()], [A.options('dims', mlaDims, { optional: false })]),
  cls('LatentKVCache', () => [{ kvLoraRank: 4, qkRopeHeadDim: 2, maxLength: 16 }], [
    A.options('options', { kvLoraRank: A.size('kvLoraRank', { required: true }), qkRopeHeadDim: A.size('qkRopeHeadDim', { required: true }), ropeKeyHeads: A.size('ropeKeyHeads'), maxLength: A.size('maxLength', { infinityOk: true }) }, { optional: false }),
  ], [method('appendLatent', () => [t(1, 1, 1, 4), t(1, 1, 1, 2)], [A.tensor('latent'), A.tensor('ropeKey')])]),
  cls('MultiHeadLatentAttention', () => [{ ...mla(), mode: 'explicit', ropeBase: 10000, ropeLayout: 'half', normEps: 1e-6 }], [
    A.options('options', {
      ...mlaDims, mode: A.enum('mode'), ropeBase: A.real('ropeBase'), ropeLayout: A.enum('ropeLayout'), rotary: A.object('rotary'), softmaxScale: A.real('softmaxScale'),
      normEps: A.real('normEps'), generator: gen, dtype,
    }, { optional: false }),
  ], [
    method('forward', () => [x(), {}], [A.tensor('x'), A.options('options', { cache: A.object('cache'), positions: A.configTensor('positions') })]),
    method('logits', () => [x(), {}], [A.tensor('x'), A.options('options', { cache: A.object('cache'), positions: A.configTensor('positions') })]),
    method('newCache', () => [{ maxLength: 16 }], [A.options('options', { maxLength: A.size('maxLength', { infinityOk: true }) })]),
  ]),

  // EliteKV
  fn('ropeliteSelect', () => [t64([1, 2, 3, 4]), t64([1, 1, 3, 4]), ropeInvFreq(4, 10), 'half', { rounds: 2, rest: 'mean' }], [
    A.tensor('q'), A.tensor('k'), A.reals('invFreq'), A.enum('layout'), A.options('options', { rounds: A.size('rounds'), rest: A.enum('rest') }),
  ]),
  fn('meanRotation', () => [ropeInvFreq(4, 10), 8], [A.reals('invFreq'), A.size('context')]),
  fn('attentionMeanRotation', () => [t64([1, 2, 3, 4]), t64([1, 1, 3, 4]), ropeInvFreq(4, 10), 'half'], [A.tensor('q'), A.tensor('k'), A.reals('invFreq'), A.enum('layout')]),
  fn('uniformElitePairs', () => [16, 4], [A.size('numPairs'), A.size('r')]),
  fn('eliteKVCacheRatio', () => [{ rank: 8, elitePairs: 2, numKVHeads: 2, headDim: 8 }], [
    A.options('options', {
      rank: A.size('rank', { required: true }), elitePairs: A.size('elitePairs', { required: true }), numKVHeads: A.size('numKVHeads', { required: true }),
      headDim: A.size('headDim', { required: true }),
    }, { optional: false }),
  ]),
  // meanRotationContext, which excludes restRotation, is refused in tests/nn/elitekv.test.ts
  fn('eliteKVConvert', () => [tinyGPT(), {
    elitePairs: [[[0], [1]]], rank: 4, inputMean: [t64([D])],
    restRotation: [[0, 1].map(() => ({ cos: Float64Array.of(0.5, 1), sin: Float64Array.of(0.5, 0) }))],
  }], [
    A.object('model'), A.options('options', {
      elitePairs: A.object('elitePairs', { required: true }), rank: A.size('rank', { required: true }), inputMean: A.tensors('inputMean'),
      restRotation: A.object('restRotation'),
    }, { optional: false }),
  ]),
  cls('EliteKVAttention', () => [D, { numHeads: 2, numKVHeads: 1, headDim: 4, elitePairs: [[1]], rank: 3, positional: new RoPE(4), generator: new Generator(1), dtype: 'float32', meanKey: true }], [
    A.size('dim'),
    A.options('options', {
      numHeads: A.size('numHeads', { required: true }), numKVHeads: A.size('numKVHeads'), headDim: A.size('headDim'), elitePairs: A.object('elitePairs', { required: true }),
      rank: A.size('rank', { required: true }), positional: A.object('positional', { required: true }), generator: gen, dtype, meanKey: A.bool('meanKey'),
    }, { optional: false }),
  ], [
    method('forward', () => [x(), { positions: vals([0, 1, 2, 3]) }], [A.tensor('x'), A.options('options', { positions: A.configTensor('positions'), cache: A.object('cache') })]),
    method('newCache', () => [{ maxLength: 16 }], [A.options('options', { maxLength: A.size('maxLength', { infinityOk: true }) })]),
  ]),

  // RoAd
  exempt('ROAD_BASE', 'a constant string, not callable'),
  fn('applyRoAd', () => [t64([2, 8]), { variant: 'road_1', groupSize: 4, theta: t64([4]), alpha: t64([4]) }], [
    A.tensor('x'),
    A.options('options', {
      variant: A.enum('variant', { required: true }), groupSize: A.size('groupSize', { required: true }),
      theta: A.configTensor('theta', { required: true }), alpha: A.configTensor('alpha', { required: true }),
    }, { optional: false }),
  ]),
  fn('roadMatrix', () => [{ variant: 'road_4', groupSize: 4, theta: t64([16]), alpha: t64([16]), outFeatures: 8 }], [
    A.options('options', {
      variant: A.enum('variant', { required: true }), groupSize: A.size('groupSize', { required: true }),
      theta: A.configTensor('theta', { required: true }), alpha: A.configTensor('alpha', { required: true }), outFeatures: A.size('outFeatures', { required: true }),
    }, { optional: false }),
  ]),
  cls('RoAdLinear', () => [new Linear(3, 8, { dtype: 'float64', generator: new Generator(1) }), { adapterName: 'a', variant: 'road_2', groupSize: 4, initWeights: false, generator: new Generator(2) }], [
    A.object('base'),
    A.options('options', { adapterName: A.string('adapterName'), variant: A.enum('variant'), groupSize: A.size('groupSize'), initWeights: A.bool('initWeights'), generator: gen }),
  ], [
    method('forward', () => [t64([2, 3]), { adapterNames: ['a', '__base__'] }], [A.tensor('x'), A.options('options', { adapterNames: A.object('adapterNames') })]),
    method('addAdapter', () => ['b', { variant: 'road_4', groupSize: 8, initWeights: true, generator: new Generator(3) }], [
      A.string('name'), A.options('options', { variant: A.enum('variant'), groupSize: A.size('groupSize'), initWeights: A.bool('initWeights'), generator: gen }),
    ]),
    method('setActiveAdapter', () => ['a'], [A.string('name')]),
    method('getAdapter', () => ['a'], [A.string('name')]),
    method('merge', () => [], []),
    method('unmerge', (m: { merge(): void }) => (m.merge(), []), []),
  ]),
  fn('wrapWithRoAd', () => [tinyGPT(), { select: /attn\.w[qkvo]$/, adapterName: 'a', variant: 'road_1', groupSize: 4, initWeights: false, generator: new Generator(1) }], [
    A.object('model'),
    A.options('options', {
      select: A.object('select', { required: true }), adapterName: A.string('adapterName'), variant: A.enum('variant'), groupSize: A.size('groupSize'),
      initWeights: A.bool('initWeights'), generator: gen,
    }, { optional: false }),
  ]),

  // LoRA: the low-rank update around a frozen Linear
  cls('LoRALinear', () => [new Linear(3, 8, { dtype: 'float64', generator: new Generator(1) }), { rank: 2, alpha: 4, rsLoRA: false, generator: new Generator(2) }], [
    A.object('base'),
    A.options('options', { rank: A.size('rank', { required: true }), alpha: A.real('alpha'), rsLoRA: A.bool('rsLoRA'), generator: gen }, { optional: false }),
  ], [
    method('forward', () => [t64([2, 3])], [A.tensor('x')]),
    method('deltaWeight', () => [], []),
  ]),
  fn('wrapWithLoRA', () => [tinyGPT(), { select: /attn\.w[qkvo]$/, rank: 2, alpha: 4, rsLoRA: true, generator: new Generator(1) }], [
    A.object('model'),
    A.options('options', { select: A.object('select', { required: true }), rank: A.size('rank', { required: true }), alpha: A.real('alpha'), rsLoRA: A.bool('rsLoRA'), generator: gen }, { optional: false }),
  ]),

  // MuseControlLite: the rotary condition branch and its host wrapper
  fn('rotaryCrossPositions', () => [4, 8], [A.size('queryLength'), A.size('conditionLength')]),
  cls('RotaryCrossAttention', () => [{ numHeads: 2, numKVHeads: 1, headDim: 4, condDim: 3, apScale: 1, rope: true, base: 10000, museQuirkLayout: false, generator: new Generator(1), dtype: 'float32' }], [
    A.options('options', {
      numHeads: A.size('numHeads', { required: true }), headDim: A.size('headDim', { required: true }), condDim: A.size('condDim', { required: true }),
      numKVHeads: A.size('numKVHeads'), apScale: A.real('apScale'), rope: A.bool('rope'), base: A.real('base'), museQuirkLayout: A.bool('museQuirkLayout'), generator: gen, dtype,
    }, { optional: false }),
  ], [
    method('forward', () => [t(1, 2, T, 4), t(1, 3, 3)], [A.tensor('q'), A.tensor('condition')]),
    method('rotate', () => [t(1, 2, T, 4), vals([0, 0.5, 1, 1.5])], [A.tensor('x'), A.configTensor('positions')]),
  ]),
  cls('DecoupledRotaryAttention', () => [new MultiHeadAttention(D, { numHeads: 2, generator: new Generator(1) }), { condDim: 3, apScale: 1, rope: true, base: 10000, museQuirkLayout: true, generator: new Generator(2) }], [
    A.object('host'),
    A.options('options', {
      condDim: A.size('condDim', { required: true }), apScale: A.real('apScale'), rope: A.bool('rope'), base: A.real('base'), museQuirkLayout: A.bool('museQuirkLayout'), generator: gen,
    }, { optional: false }),
  ], [
    method('forward', () => [x(), t(1, 3, 3), { causal: false }], [
      A.tensor('x'), A.tensor('condition'),
      A.options('options', { context: A.tensor('context'), mask: A.tensor('mask', { nullable: true }), causal: A.bool('causal'), positions: A.configTensor('positions'), cache: A.object('cache') }),
    ]),
  ]),

  // MMDiT (FLUX-shaped joint attention) and the FreeFlux RoPE probe
  cls('JointAttention', () => [D, { numHeads: 1, rope: mmRope(), generator: new Generator(1) }], [A.size('dim'), mmBlockOptions()], [
    method('forward', () => [t(1, 2, D), t(1, 2, D), mmIds(), { keys: [1, 0] }], [A.tensor('img'), A.tensor('txt'), A.configTensor('ids'), mmHook]),
  ]),
  cls('DoubleStreamBlock', () => [D, { numHeads: 1, rope: mmRope(), mlpRatio: 2, generator: new Generator(1) }], [A.size('dim'), mmBlockOptions()], [
    method('forward', () => [t(1, 2, D), t(1, 2, D), t(1, D), mmIds(), { keys: 'unrotated' }], [A.tensor('img'), A.tensor('txt'), A.tensor('c'), A.configTensor('ids'), mmHook]),
  ]),
  cls('SingleStreamBlock', () => [D, { numHeads: 1, rope: mmRope(), mlpRatio: 2, generator: new Generator(1) }], [A.size('dim'), mmBlockOptions()], [
    method('forward', () => [t(1, 4, D), t(1, D), mmIds(), 2, { keys: [0.5, 0.5] }], [A.tensor('x'), A.tensor('c'), A.configTensor('ids'), A.size('textLength'), mmHook]),
  ]),
  exempt('expectJointAttentionHook', ARG_CHECK),
  fn('probeRopeDependency', () => [tinyMMDiT(), { text: ints([1, 2], [1, 2]), noise: t(1, 1, 4, 4), steps: 1 }, { layers: [0, 1], manipulations: ['none', [1, 0]], range: 2 }], [
    A.object('model'), A.any('inputs'),
    A.options('options', { layers: A.ints('layers'), manipulations: A.any('manipulations'), range: A.real('range') }),
  ]),

  // PaTH
  fn('pathAttention', pathArgs, pathSpec),
  fn('pathAttentionDirect', pathArgs, pathSpec),
  fn('pathAttentionRecurrent', pathArgs, pathSpec),
  cls('PaTHCache', () => [], [], [
    method('step', () => [t(1, 2, 1, 4), t(1, 2, 1, 4), t(1, 2, 1, 4), unit(t(1, 2, 1, 4)), vals([0.5, 0.6], [1, 2, 1]), {}], pathSpec),
  ]),
  cls('ShortConvolution', () => [D, 3, { generator: new Generator(1) }], [A.size('channels'), A.size('kernel'), A.options('options', { generator: gen, dtype })], [
    method('forward', () => [x(), null], [A.tensor('u'), A.tensor('state', { optional: true, nullable: true })]),
  ]),
  cls('PaTHAttention', () => [D, { numHeads: 2, chunkSize: 2, generator: new Generator(1) }], [
    A.size('dim'),
    A.options('options', {
      numHeads: A.size('numHeads', { required: true }), numKVHeads: A.size('numKVHeads'), useForgetGate: A.bool('useForgetGate'), lowRankW: A.size('lowRankW'),
      shortConv: A.size('shortConv'), qkNorm: A.bool('qkNorm'), chunkSize: A.size('chunkSize'), generator: gen, dtype,
    }, { optional: false }),
  ], [method('forward', () => [x(), {}], [A.tensor('x'), A.options('options', { cache: A.object('cache') })])]),

  // safetensors
  fn('serializeSafetensors', () => [{ w: t(2, 2) }, { format: 'pt' }], [A.object('tensors'), A.object('metadata', { optional: true })]),
  fn('parseSafetensors', () => [serializeSafetensors({ w: t(2, 2) })], [A.bytes('bytes')]),
  fn('saveSafetensors', () => [tinyModel(), tmpPath(), { format: 'pt' }], [A.object('module'), A.path('path'), A.object('metadata', { optional: true })]),
  fn('loadSafetensors', () => [tinyModel(), savedPath(), { strict: true }], [
    A.object('module'), A.path('path'), A.options('options', { strict: A.bool('strict') }),
  ]),

  // training and generation
  fn('train', () => {
    const m = tinyModel();
    const target = t(3, 2);
    return [m, () => mseLoss(m.forward(t(3, 2)), target), { steps: 2, optimizer: new SGD(m.parameters(), { lr: 0.01 }), output: null, clipGradNorm: 1 }];
  }, [
    A.object('params'), A.fn('lossFn'),
    A.options('options', {
      steps: A.size('steps', { required: true, work: true }), optimizer: A.object('optimizer', { required: true }), clipGradNorm: A.real('clipGradNorm'), schedule: A.fn('schedule'),
      tokensPerStep: A.size('tokensPerStep'), evaluate: A.fn('evaluate'), evalEvery: A.size('evalEvery', { work: true }), logEvery: A.size('logEvery', { work: true }), output: A.object('output', { nullable: true }), onStep: A.fn('onStep'),
    }, { optional: false }),
  ]),
  fn('formatProgress', () => [{ step: 1, steps: 10, loss: 2.5, lr: 1e-3, tokensPerSecond: 100, etaSeconds: 5 }, 0.1], [
    A.options('p', {
      step: A.size('step', { required: true }), steps: A.size('steps', { required: true }), loss: A.data('loss', { required: true }), lr: A.real('lr', { required: true }),
      tokensPerSecond: A.real('tokensPerSecond', { required: true }), etaSeconds: A.real('etaSeconds', { required: true }), valLoss: A.data('valLoss'),
      valStep: A.size('valStep'),
    }, { optional: false }),
    A.real('secondsPerStep', { optional: true }),
  ]),
  fn('generate', () => [tinyGPT(), [1, 2, 3], { maxNewTokens: 2, generator: new Generator(1), temperature: 1, topK: 5, topP: 0.9 }], [
    A.object('model'), A.ints('prompt'),
    A.options('options', {
      maxNewTokens: A.size('maxNewTokens', { required: true, work: true }), generator: gen, stopToken: A.int('stopToken'), temperature: A.real('temperature'), topK: A.size('topK', { infinityOk: true }), topP: A.real('topP'),
    }, { optional: false }),
  ]),
  fn('sampleFromLogits', () => [[0.1, 2, -1, 0.5], { temperature: 1, topK: 2, topP: 0.9, generator: new Generator(1) }], [
    A.reals('logits'), A.options('options', { temperature: A.real('temperature'), topK: A.size('topK', { infinityOk: true }), topP: A.real('topP'), generator: gen }),
  ]),

  // spectral diagnostics
  fn('marchenkoPasturEdges', () => [0.5, 1], [A.real('gamma'), A.real('sigma2', { optional: true })]),
  fn('bbpLocation', () => [2, 0.5, 1], [A.real('theta'), A.real('gamma'), A.real('sigma2', { optional: true })]),
  fn('tracyWidomScale', () => [100, 50, 1], [A.size('n'), A.size('p'), A.real('sigma2', { optional: true })]),
  fn('marchenkoPasturCdf', () => [1, 0.5, 1], [A.real('x'), A.real('gamma'), A.real('sigma2', { optional: true })]),
  fn('marchenkoPasturQuantile', () => [0.5, 0.5, 1], [A.real('q'), A.real('gamma'), A.real('sigma2', { optional: true })]),
  fn('marchenkoPasturMedian', () => [0.5, 1], [A.real('gamma'), A.real('sigma2', { optional: true })]),
  fn('effectiveRank', () => [eig()], [A.reals('eigenvalues')]),
  fn('stableRank', () => [eig()], [A.reals('eigenvalues')]),
  fn('spectralDiagnostics', () => [eig(), { n: 64, p: 6, sigma2: 1, edgeMargin: 0.1 }], [
    A.reals('eigenvalues'),
    A.options('options', { n: A.size('n', { required: true }), p: A.size('p'), sigma2: A.real('sigma2'), baseline: A.object('baseline'), edgeMargin: A.real('edgeMargin') }, { optional: false }),
  ]),
  fn('qkSpectrum', () => [t(D, D), t(D, D), { numHeads: 2, numKVHeads: 2, perHead: true }], [
    A.tensor('wq'), A.tensor('wk'), A.options('options', { numHeads: A.size('numHeads'), numKVHeads: A.size('numKVHeads'), perHead: A.bool('perHead') }),
  ]),
  fn('baselineFromSpectra', () => [[1, 2].map((s) => qkSpectrum(randn([D, D], { generator: new Generator(s) }), randn([D, D], { generator: new Generator(s + 9) })).layer), { margin: 0.1 }], [A.object('spectra'), A.options('options', { margin: A.real('margin') })]),
  fn('randomInitBaseline', () => [[D, D], 'linear', { numHeads: 2, samples: 2, generator: new Generator(1), margin: 0.1 }], [
    A.ints('shape'), A.object('init', { optional: true }),
    A.options('options', { numHeads: A.size('numHeads'), numKVHeads: A.size('numKVHeads'), perHead: A.bool('perHead'), samples: A.size('samples', { work: true }), generator: gen, margin: A.real('margin') }),
  ]),
];

void KVCache;
void LatentKVCache;
void PaTHCache;
