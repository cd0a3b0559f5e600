/** Robustness table for positional/: one entry per runtime export (see harness.ts for what each argument kind gets). */
import {
  DRoPE, FluxRoPE, Generator, HiRoPE, MultiAxisRoPE, NoPE, PositionalEncoding, RoPE, Tensor, fluxPositions, fromHFConfig, hiropePositions, ropeInvFreq,
} from '../../../index.js';
import { A, cls, exempt, fn, method, opt, type ArgSpec, type Entry, type MethodEntry } from '../harness.js';
import { pos, t, vals } from './fixtures.js';

const HD = 8; // head dim of every encoding here
const T = 3; // sequence length
const qk = () => t(1, 2, T, HD); // [B, H, T, D]
const layout = A.enum('layout');
const dtype = A.enum('dtype');
const invFreq = (n = HD / 2) => ropeInvFreq(n * 2, 10000);

/** angles / rotate / encodeQK of an encoding whose positions `positions()` builds. */
function encodingMethods(positions: () => Tensor, which: { angles?: boolean; rotate?: boolean } = {}): MethodEntry[] {
  const P = (name: string) => A.configTensor(name);
  return [
    ...(which.angles === false ? [] : [method('angles', () => [positions()], [P('positions')])]),
    ...(which.rotate === false ? [] : [method('rotate', () => [qk(), positions()], [A.tensor('x'), P('positions')])]),
    method('encodeQK', () => [qk(), qk(), positions(), positions()], [A.tensor('q'), A.tensor('k'), P('qPositions'), P('kPositions')]),
  ];
}
const tPos = () => pos(T);
/** [3, T] t/h/w positions (MRoPE, VideoRoPE, HoPE, Flux ids are [T, 3]). */
const axes3 = () => vals([0, 1, 2, 0, 1, 1, 0, 0, 1], [3, T]);
const axes4 = () => vals([0, 1, 2, 0, 1, 1, 0, 0, 1, 1, 1, 0], [T, 4]);
const grid2 = () => vals([0, 0, 0, 1, 1, 0], [T, 2]);
const agents = () => vals([0, 0, 0.1, 1, 2, 0.5, -1, 3, 2], [T, 3]);
const segments = () => [{ type: 'text', length: 2 }, { type: 'image', grid: [1, 4, 4] }, { type: 'text', length: 1 }];
const yarn = () => ({ dim: HD, base: 10000, factor: 4, originalMaxPositions: 32, betaFast: 32, betaSlow: 1, truncate: true, mscale: 1, mscaleAllDim: 0 });
const yarnFields: Record<string, ArgSpec> = {
  dim: A.size('dim', { required: true }), base: A.real('base'), factor: A.real('factor', { required: true }),
  originalMaxPositions: A.size('originalMaxPositions', { required: true }), betaFast: A.real('betaFast'), betaSlow: A.real('betaSlow'),
  truncate: A.bool('truncate'), mscale: A.real('mscale'), mscaleAllDim: A.real('mscaleAllDim'), attentionFactor: A.real('attentionFactor'),
};
const mropeFreqOpts: ArgSpec = A.options('options', { base: A.real('base'), invFreq: A.reals('invFreq') });
const mropeEncOpts: ArgSpec = A.options('options', { base: A.real('base'), invFreq: A.reals('invFreq'), layout, attentionFactor: A.real('attentionFactor') });
const segArgs: ArgSpec[] = [A.object('segments'), A.options('options', { spatialMergeSize: A.size('spatialMergeSize') })];
const levels = () => ({ token: [0, 1, 2], unit: [0, 0, 1] });
const hiScoreOpts = () => ({ invFreq: invFreq(), split: 2, window: 2, layout: 'half', attentionFactor: 1 });
const hiScoreSpec: ArgSpec = A.options('options', {
  invFreq: A.reals('invFreq', { required: true }), split: A.size('split', { required: true }), window: A.real('window', { required: true, infinityOk: true }), // 0: none, ∞: all; fractional with fractional positions
  layout, attentionFactor: A.real('attentionFactor'),
}, { optional: false });
const drope = () => ({ mode: 'dimSplit', headDim: HD, base: 100 });
const dropeSpec: ArgSpec = A.options('options', {
  mode: A.enum('mode', { required: true }), headDim: A.size('headDim', { required: true }), base: A.real('base'),
  positionPairs: A.size('positionPairs'), headingPairs: A.size('headingPairs'),
}, { optional: false });
const posSpec = () => ({ headDim: HD, modelDim: 16, contextLength: 32, base: 10000, scalingFactor: 2 });
const posSpecArg: ArgSpec = A.options('spec', {
  headDim: A.size('headDim', { required: true }), modelDim: A.size('modelDim', { required: true }), contextLength: A.size('contextLength', { required: true }),
  base: A.real('base'), scalingFactor: A.real('scalingFactor'), numKVHeads: A.size('numKVHeads'), generator: A.object('generator'), dtype,
}, { optional: false });
const hfConfig = () => ({ rope_theta: 10000, head_dim: HD, max_position_embeddings: 64, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16 } });

/** The smallest PositionalEncoding subclass: PositionalEncoding's own encodeQK (identity) and inputEmbedding. */
class PlainEncoding extends PositionalEncoding {
  readonly name = 'plain';
}

const CONSTANT = 'a constant (frozen data), not callable';

export const positionalEntries: readonly Entry[] = [
  exempt('DROPE_AXES', CONSTANT),
  exempt('FLUX_AXES_DIM', CONSTANT),
  exempt('FREEFLUX_PROBE_SHIFTS', CONSTANT),
  exempt('HF_ROPE_TYPES', CONSTANT),
  exempt('HOPE_TRAINING_SCALES', CONSTANT),
  exempt('HOPE_VNIAH_SCALE', CONSTANT),
  exempt('ROPE_VIT_AXIAL_THETA', CONSTANT),
  exempt('ROPE_VIT_MIXED_THETA', CONSTANT),
  exempt('VROPE_AXES', CONSTANT),

  // base classes and RoPE
  cls('PositionalEncoding', () => [], [], [
    method('encodeQK', () => [qk(), qk(), tPos(), tPos()], [A.tensor('q'), A.tensor('k'), A.configTensor('qPositions'), A.configTensor('kPositions')]),
    method('inputEmbedding', () => [tPos(), 4], [A.configTensor('positions'), A.size('dim')]),
  ], PlainEncoding),
  cls('NoPE', () => [], [], [
    method('encodeQK', () => [qk(), qk(), tPos(), tPos()], [A.tensor('q'), A.tensor('k'), A.configTensor('qPositions'), A.configTensor('kPositions')]),
  ]),
  cls('LearnedAbsolute', () => [16, 4, { generator: new Generator(1), std: 0.02, beyond: 'error' }], [
    A.size('maxPositions'), A.size('dim'), A.options('options', { generator: A.object('generator'), dtype, std: A.real('std'), beyond: A.enum('beyond') }),
  ], [method('inputEmbedding', () => [tPos(), 4], [A.configTensor('positions'), A.size('dim')])]),
  cls('RoPE', () => [HD, { base: 10000, layout: 'half', attentionFactor: 1 }], [
    A.size('headDim'), A.options('options', { rotaryDim: A.size('rotaryDim'), base: A.real('base'), layout, invFreq: A.reals('invFreq'), attentionFactor: A.real('attentionFactor') }),
  ], encodingMethods(tPos)),
  fn('ropeInvFreq', () => [HD, 10000], [A.size('dim'), A.real('base', { optional: true })]),
  fn('rotaryAngles', () => [tPos(), invFreq(), { dtype: 'float32' }], [A.configTensor('positions', { arrayOk: true }), A.reals('invFreq'), A.options('options', { dtype })]),
  fn('applyRotary', () => [qk(), t(T, HD / 2), { layout: 'half', precision: 'float32', scale: 1 }], [
    A.tensor('x'), A.configTensor('angles'),
    A.options('options', { layout: A.enum('layout', { required: true }), precision: A.enum('precision'), scale: A.real('scale'), rotaryDim: A.size('rotaryDim') }, { optional: false }),
  ]),
  fn('toBFloat16', () => [t(2, 3)], [A.tensorLike('x')]),

  // scaled frequencies
  fn('piInvFreq', () => [{ dim: HD, base: 10000, factor: 4 }], [A.options('options', { dim: A.size('dim', { required: true }), base: A.real('base'), factor: A.real('factor', { required: true }) }, { optional: false })]),
  cls('DynamicNTKRoPE', () => [HD, { factor: 2, maxPositions: 16, base: 10000, layout: 'half' }], [
    A.size('headDim'),
    A.options('options', { factor: A.real('factor', { required: true }), maxPositions: A.size('maxPositions', { required: true }), rotaryDim: A.size('rotaryDim'), base: A.real('base'), layout }, { optional: false }),
  ], [...encodingMethods(tPos), method('updateFor', () => [40], [A.size('seqLen')])]),
  fn('ntkInvFreq', () => [{ dim: HD, base: 10000, factor: 4 }], [A.options('options', { dim: A.size('dim', { required: true }), base: A.real('base'), factor: A.real('factor', { required: true }) }, { optional: false })]),
  fn('dynamicNtkInvFreq', () => [{ dim: HD, base: 10000, factor: 2, maxPositions: 16, seqLen: 40 }], [
    A.options('options', { dim: A.size('dim', { required: true }), base: A.real('base'), factor: A.real('factor', { required: true }), maxPositions: A.size('maxPositions', { required: true }), seqLen: A.size('seqLen') }, { optional: false }),
  ]),
  fn('yarnInvFreq', () => [yarn()], [A.options('options', yarnFields, { optional: false })]),
  fn('yarnRamp', () => [yarn()], [A.options('options', yarnFields, { optional: false })]),
  fn('yarnPairRegimes', () => [yarn()], [A.options('options', yarnFields, { optional: false })]),
  fn('yarnMscale', () => [4, 1], [A.real('factor'), A.real('mscale', { optional: true })]),
  fn('yarnAttentionFactor', () => [{ factor: 4, mscale: 1, mscaleAllDim: 0 }], [
    A.options('options', { factor: A.real('factor', { required: true }), mscale: A.real('mscale'), mscaleAllDim: A.real('mscaleAllDim'), attentionFactor: A.real('attentionFactor') }, { optional: false }),
  ]),
  fn('llama3InvFreq', () => [{ dim: HD, base: 10000, factor: 8, originalMaxPositions: 64, lowFreqFactor: 1, highFreqFactor: 4 }], [
    A.options('options', {
      dim: A.size('dim', { required: true }), base: A.real('base'), factor: A.real('factor', { required: true }), originalMaxPositions: A.size('originalMaxPositions', { required: true }),
      lowFreqFactor: A.real('lowFreqFactor'), highFreqFactor: A.real('highFreqFactor'),
    }, { optional: false }),
  ]),
  fn('longRopeInvFreq', () => [{ dim: HD, base: 10000, shortFactor: [1, 1, 1, 1], longFactor: [1, 2, 3, 4], originalMaxPositions: 16, seqLen: 32 }], [
    A.options('options', {
      dim: A.size('dim', { required: true }), base: A.real('base'), shortFactor: A.reals('shortFactor', { required: true }), longFactor: A.reals('longFactor', { required: true }),
      originalMaxPositions: A.size('originalMaxPositions', { required: true }), seqLen: A.size('seqLen'),
    }, { optional: false }),
  ]),
  fn('longRopeAttentionFactor', () => [{ factor: 4, originalMaxPositions: 16 }], [
    A.options('options', { factor: A.real('factor', { required: true }), originalMaxPositions: A.size('originalMaxPositions', { required: true }), attentionFactor: A.real('attentionFactor') }, { optional: false }),
  ]),
  fn('fromHFConfig', () => [hfConfig(), { seqLen: 32 }], [
    A.options('config', {
      rope_theta: A.real('rope_theta'), head_dim: A.size('head_dim'), hidden_size: A.size('hidden_size'), num_attention_heads: A.size('num_attention_heads'),
      partial_rotary_factor: A.real('partial_rotary_factor'), max_position_embeddings: A.size('max_position_embeddings'),
      rope_scaling: A.options('rope_scaling', { rope_type: A.enum('rope_type'), factor: A.real('factor'), original_max_position_embeddings: A.size('original_max_position_embeddings') }, { nullable: true }),
    }, { optional: false }),
    A.options('options', { seqLen: A.size('seqLen'), layerType: A.string('layerType') }),
  ]),
  cls('HFLongRoPE', () => [HD, { shortFactor: [1, 1, 1, 1], longFactor: [1, 2, 3, 4], originalMaxPositions: 16, base: 10000, layout: 'half' }], [
    A.size('headDim'),
    A.options('options', {
      shortFactor: A.reals('shortFactor', { required: true }), longFactor: A.reals('longFactor', { required: true }), originalMaxPositions: A.size('originalMaxPositions', { required: true }),
      rotaryDim: A.size('rotaryDim'), base: A.real('base'), attentionFactor: A.real('attentionFactor'), layout,
    }, { optional: false }),
  ], [...encodingMethods(tPos), method('invFreqFor', () => [40], [A.size('seqLen')])]),
  fn('verifyRoPEDump', () => [hfConfig(), { inv_freq: new Tensor(fromHFConfig(hfConfig()).invFreq, [HD / 2]), cos: vals(Array.from({ length: 2 * HD }, () => 0.5), [2, HD]) }, { layout: 'half', tolerance: 1e-5 }], [
    A.options('config', {
      rope_theta: A.real('rope_theta'), head_dim: A.size('head_dim'), max_position_embeddings: A.size('max_position_embeddings'),
      rope_scaling: A.options('rope_scaling', { rope_type: A.enum('rope_type'), factor: A.real('factor'), original_max_position_embeddings: A.size('original_max_position_embeddings') }, { nullable: true }),
    }, { optional: false }),
    A.object('dump'),
    A.options('options', { layerType: A.string('layerType'), layout, tolerance: A.real('tolerance') }),
  ]),
  exempt('ROPE_BUG_CLASSES', CONSTANT),
  exempt('ROPE_DUMP_NAMES', CONSTANT),
  fn('ropeFromHFConfig', () => [hfConfig(), { layout: 'half' }], [
    A.options('config', {
      rope_theta: A.real('rope_theta'), head_dim: A.size('head_dim'), max_position_embeddings: A.size('max_position_embeddings'),
      rope_scaling: A.options('rope_scaling', { rope_type: A.enum('rope_type'), factor: A.real('factor'), original_max_position_embeddings: A.size('original_max_position_embeddings') }, { nullable: true }),
    }, { optional: false }),
    A.options('options', { layerType: A.string('layerType'), layout }),
  ]),
  cls('PRoPE', () => [HD, 0.5, { base: 10000, factor: 1, layout: 'half' }], [A.size('headDim'), A.real('p'), A.options('options', { base: A.real('base'), factor: A.real('factor'), layout })], encodingMethods(tPos)),
  fn('pRopeInvFreq', () => [HD, 0.5, { base: 10000, factor: 1 }], [A.size('headDim'), A.real('p'), A.options('options', { base: A.real('base'), factor: A.real('factor') })]),

  // anchors and packing
  fn('packWithAnchor', () => [[[5, 6, 7], [8, 9]], { windowLength: 8, anchorToken: 1, bosToken: 2 }], [
    A.object('documents'), A.options('options', { windowLength: A.size('windowLength', { required: true }), anchorToken: A.int('anchorToken', { required: true }), bosToken: A.int('bosToken') }, { optional: false }),
  ]),
  fn('packFlashAnchor', () => [[[5, 6, 7], [8, 9]], { windowLength: 8, bosToken: 2 }], [
    A.object('documents'), A.options('options', { windowLength: A.size('windowLength', { required: true }), bosToken: A.int('bosToken', { required: true }) }, { optional: false }),
  ]),
  fn('anchorAttentionMask', () => [[0, 0, 1, 1]], [A.ints('docIds')]),
  fn('flashAnchorPositions', () => [[0, 0, 1, 1]], [A.ints('docIds')]),
  fn('flashAnchorMask', () => [[0, 0, 1, 1]], [A.ints('docIds')]),

  // PSC
  cls('PSC', () => [2, HD, { generator: new Generator(1) }], [A.size('numHeads'), A.size('headDim'), A.options('options', { generator: A.object('generator'), dtype })], [
    method('coefficient', () => [t(1, 2, T, HD)], [A.tensor('x')]),
    method('calibrate', () => [t(1, 2, T, HD)], [A.tensor('x')]),
  ]),
  fn('pscCoefficient', () => [t(1, 2, T, HD), t(2, HD, HD), t(2, HD, HD)], [A.tensor('x'), A.tensor('up'), A.tensor('down')]),
  fn('pscCalibrate', () => [t(1, 2, T, HD), t(2, HD, HD), t(2, HD, HD)], [A.tensor('x'), A.tensor('up'), A.tensor('down')]),
  cls('PSCRoPE', () => [new RoPE(HD), { numHeads: 2, headDim: HD, generator: new Generator(1) }], [
    A.object('base'), A.options('options', { numHeads: A.size('numHeads', { required: true }), numKVHeads: A.size('numKVHeads'), headDim: A.size('headDim', { required: true }), generator: A.object('generator'), dtype }, { optional: false }),
  ], encodingMethods(tPos, { angles: false, rotate: false })),

  // HiRoPE
  fn('hiropeSegments', () => ['function f() {\n  return 1;\n}\nclass A {}\n', { syntax: 'auto' }], [A.string('source'), A.options('options', { syntax: A.enum('syntax') })]),
  fn('hiropePositions', () => ['function f() {\n  return 1;\n}\n', { syntax: 'braces', tokenIndex: 'reset', gaps: 'own' }], [
    A.string('source'), A.options('options', { syntax: A.enum('syntax'), tokenIndex: A.enum('tokenIndex'), gaps: A.enum('gaps') }),
  ]),
  fn('hiropeAngles', () => [[0, 1, 2], [0, 0, 1], invFreq(), 2], [A.reals('token'), A.reals('unit'), A.reals('invFreq'), A.size('split')]),
  fn('hiropeScores', () => [qk(), qk(), levels(), hiScoreOpts()], [A.tensor('q'), A.tensor('k'), A.options('positions', { token: A.reals('token', { required: true }), unit: A.reals('unit', { required: true }) }, { optional: false }), hiScoreSpec]),
  fn('hiropePositionsTensor', () => [levels()], [A.options('levels', { token: A.reals('token', { required: true }), unit: A.reals('unit', { required: true }), position: A.reals('position') }, { optional: false })]),
  cls('HiRoPE', () => [HD, { split: 2, base: 10000, layout: 'half', window: 0, attentionFactor: 1 }], [
    A.size('headDim'),
    A.options('options', { split: A.size('split'), base: A.real('base'), invFreq: A.reals('invFreq'), rotaryDim: A.size('rotaryDim'), layout, window: A.real('window', { infinityOk: true }), attentionFactor: A.real('attentionFactor') }),
  ], [
    method('angles', () => [hiropePositionTensor3()], [A.configTensor('positions')]),
    method('encodeQK', () => [qk(), qk(), hiropePositionTensor3(), hiropePositionTensor3()], [A.tensor('q'), A.tensor('k'), A.configTensor('qPositions'), A.configTensor('kPositions')]),
    method('scores', () => [qk(), qk(), levels()], [A.tensor('q'), A.tensor('k'), A.options('positions', { token: A.reals('token', { required: true }), unit: A.reals('unit', { required: true }) }, { optional: false })]),
  ]),

  // base bound and analysis
  fn('longTermDecay', () => [5, invFreq()], [A.real('m'), A.reals('invFreq')]),
  fn('firstNegativeDistance', () => [10000, HD, { limit: 1000 }], [A.real('base'), A.size('dim'), A.options('options', { limit: A.size('limit') })]),
  fn('minimalBase', () => [64, HD, { method: 'first-hit' }], [A.size('contextLength'), A.size('dim'), A.options('options', { method: A.enum('method'), start: A.real('start'), top: A.real('top'), ratio: A.real('ratio') })]),
  fn('pairWavelengths', () => [invFreq()], [A.reals('invFreq')]),
  fn('decayCurve', () => [invFreq(), { maxDistance: 64, points: 8, spacing: 'log' }], [A.reals('invFreq'), A.options('options', { maxDistance: A.real('maxDistance', { required: true }), points: A.size('points'), spacing: A.enum('spacing') }, { optional: false })]),

  // registry
  fn('createPositional', () => ['rope', posSpec()], [A.string('name'), posSpecArg]),
  fn('positionalNames', () => [], []),
  fn('registerPositional', () => ['robustness-test-encoding', () => new NoPE()], [A.string('name'), A.fn('factory')]),

  // multi-axis
  cls('MultiAxisRoPE', () => [t(2, HD / 2), { layout: 'half', attentionFactor: 1 }], [
    A.configTensor('freqs'), A.options('options', { layout, rotaryDim: A.size('rotaryDim'), attentionFactor: A.real('attentionFactor'), name: A.string('name') }),
  ], [...encodingMethods(grid2), method('coordinates', () => [grid2()], [A.configTensor('positions')])]),
  fn('multiAxisAngles', () => [grid2(), t(2, HD / 2)], [A.configTensor('positions'), A.configTensor('freqs')]),
  fn('allocateFrequencies', () => [[0, 1, 0, 1], invFreq(), 2, 'float32'], [A.ints('axisOfPair'), A.reals('invFreq'), A.size('numAxes'), A.enum('dtype', { optional: true })]),
  fn('sectionAxes', () => [[1, 2, 1]], [A.ints('sections')]),
  fn('interleavedAxes', () => [4, 2], [A.size('pairs'), A.size('numAxes')]),
  fn('perHeadFrequencies', () => [[[0, 1, 0, 1], [1, 0, 1, 0]], invFreq(), 2, 'float32'], [A.object('heads'), A.reals('invFreq'), A.size('numAxes'), A.enum('dtype', { optional: true })]),

  // DRoPE
  cls('DRoPE', () => [{ ...drope(), layout: 'half' }], [dropeSpec], [
    method('angles', () => [agents()], [A.configTensor('positions')]),
    method('rotate', () => [qk(), agents()], [A.tensor('x'), A.configTensor('positions')]),
    method('encodeQK', () => [qk(), qk(), agents(), agents()], [A.tensor('q'), A.tensor('k'), A.configTensor('qPositions'), A.configTensor('kPositions')]),
  ]),
  fn('dropeAngles', () => [agents(), drope()], [A.configTensor('agents'), dropeSpec]),
  fn('dropeFrequencies', () => [drope()], [dropeSpec]),
  fn('dropeSplit', () => [drope()], [dropeSpec]),

  // RoPE-ViT
  fn('ropeVitGrid', () => [3, 2, 'float32'], [A.size('gridW'), A.size('gridH'), A.enum('dtype', { optional: true })]),
  fn('ropeVitInvFreq', () => [HD, 100], [A.size('dim'), A.real('theta', { optional: true })]),
  fn('ropeVitAxialFrequencies', () => [HD, 100, 'float32'], [A.size('dim'), A.real('theta', { optional: true }), A.enum('dtype', { optional: true })]),
  fn('ropeVitAxialAngles', () => [{ dim: HD, gridW: 3, gridH: 2, theta: 100 }], [
    A.options('options', { dim: A.size('dim', { required: true }), gridW: A.size('gridW', { required: true }), gridH: A.size('gridH', { required: true }), theta: A.real('theta'), dtype }, { optional: false }),
  ]),
  fn('ropeVitMixedAngles', () => [{ freqsX: t(2, HD / 2), freqsY: t(2, HD / 2), gridW: 3, gridH: 2 }], [
    A.options('options', { freqsX: A.configTensor('freqsX', { required: true }), freqsY: A.configTensor('freqsY', { required: true }), gridW: A.size('gridW', { required: true }), gridH: A.size('gridH', { required: true }) }, { optional: false }),
  ]),
  fn('ropeVitMixedFrequencies', () => [2, HD, { theta: 10, rotate: true, generator: new Generator(1) }], [
    A.size('numHeads'), A.size('headDim'), A.options('options', { theta: A.real('theta'), rotate: A.bool('rotate'), orientations: A.reals('orientations'), generator: A.object('generator'), dtype }),
  ]),
  cls('RoPEAxial', () => [HD, { theta: 100, prefixTokens: 0 }], [A.size('headDim'), A.options('options', { theta: A.real('theta'), prefixTokens: A.size('prefixTokens'), dtype })], [
    method('angles', () => [3, 2], [A.size('gridW'), A.size('gridH')]),
    method('anglesAt', () => [grid2()], [A.configTensor('positions')]),
    ...encodingMethods(grid2, { angles: false }),
  ]),
  cls('RoPEMixed', () => [2, HD, { theta: 10, prefixTokens: 0, generator: new Generator(1) }], [
    A.size('numHeads'), A.size('headDim'), A.options('options', { theta: A.real('theta'), rotate: A.bool('rotate'), orientations: A.reals('orientations'), generator: A.object('generator'), dtype, prefixTokens: A.size('prefixTokens') }),
  ], [
    method('angles', () => [3, 2], [A.size('gridW'), A.size('gridH')]),
    method('anglesAt', () => [grid2()], [A.configTensor('positions')]),
    ...encodingMethods(grid2, { angles: false }),
  ]),

  // MRoPE family
  cls('MRoPE', () => [HD, [1, 2, 1], { base: 10000 }], [A.size('headDim'), A.ints('mropeSection'), mropeEncOpts], encodingMethods(axes3)),
  fn('mropePositions', () => [segments(), { spatialMergeSize: 2 }], segArgs),
  fn('mropeTokenCount', () => [segments(), { spatialMergeSize: 2 }], segArgs),
  fn('mropePositionsTensor', () => [[[0, 1, 2], [0, 1, 1], [0, 0, 1]]], [A.object('ids')]),
  fn('mropeDecodePositions', () => [-2, 5, 3], [A.real('delta'), A.size('start'), A.size('count', { optional: true })]),
  fn('mropeFrequencies', () => [HD, [1, 2, 1], { base: 10000 }], [A.size('headDim'), A.ints('mropeSection'), mropeFreqOpts]),
  fn('mropeInvFreq', () => [HD, [1, 2, 1], { base: 10000 }], [A.size('headDim'), A.ints('mropeSection'), mropeFreqOpts]),
  cls('VideoRoPE', () => [HD, [2, 1, 1], { base: 10000 }], [A.size('headDim'), A.ints('mropeSection'), mropeEncOpts], encodingMethods(axes3)),
  fn('videoRopePositions', () => [segments(), { spatialMergeSize: 2, temporalSpacing: 2 }], [A.object('segments'), A.options('options', { spatialMergeSize: A.size('spatialMergeSize'), temporalSpacing: A.real('temporalSpacing') })]),
  fn('videoRopeAxisOfPair', () => [[2, 1, 1]], [A.ints('mropeSection')]),
  fn('videoRopeFrequencies', () => [HD, [2, 1, 1], { base: 10000 }], [A.size('headDim'), A.ints('mropeSection'), mropeFreqOpts]),
  cls('VRoPE', () => [HD, { base: 10000, layout: 'half' }], [A.size('headDim'), A.options('options', { rotaryDim: A.size('rotaryDim'), base: A.real('base'), invFreq: A.reals('invFreq'), layout, attentionFactor: A.real('attentionFactor') })], encodingMethods(axes4)),
  fn('vropePositions', () => [segments(), { spatialMergeSize: 2, start: 0 }], [A.object('segments'), A.options('options', { spatialMergeSize: A.size('spatialMergeSize'), start: A.size('start') })]),
  fn('vropeFrequencies', () => [invFreq()], [A.reals('invFreq')]),
  fn('vropePairPositions', () => [axes4(), HD / 2], [A.configTensor('positions'), A.size('pairs')]),
  cls('HoPE', () => [HD, [2, 1, 1], { base: 10000 }], [A.size('headDim'), A.ints('mropeSection'), mropeEncOpts], encodingMethods(axes3)),
  fn('hopeAngles', () => [axes3(), { headDim: HD, mropeSection: [2, 1, 1], base: 10000 }], [
    A.configTensor('positions'), A.options('options', { headDim: A.size('headDim', { required: true }), mropeSection: A.ints('mropeSection', { required: true }), base: A.real('base'), invFreq: A.reals('invFreq') }, { optional: false }),
  ]),
  fn('hopeAxisOfPair', () => [[2, 1, 1]], [A.ints('mropeSection')]),
  fn('hopeFrequencies', () => [HD, [2, 1, 1], { base: 10000 }], [A.size('headDim'), A.ints('mropeSection'), mropeFreqOpts]),
  fn('hopePositions', () => [segments(), { spatialMergeSize: 2, temporalScale: 0.75 }], [
    A.object('segments'), A.options('options', { spatialMergeSize: A.size('spatialMergeSize'), temporalScale: A.real('temporalScale', { required: true }) }, { optional: false }),
  ]),
  fn('hopeTemporalScale', () => [new Generator(1), [0.5, 0.75, 1]], [A.object('generator'), opt(A.reals('scales'))]),

  // FLUX
  cls('FluxRoPE', () => [[2, 2, 4], { theta: 10000, attentionFactor: 1 }], [opt(A.ints('axesDim')), A.options('options', { theta: A.real('theta'), attentionFactor: A.real('attentionFactor') })], encodingMethods(fluxIds)),
  fn('fluxPositions', () => [{ textLength: 1, height: 1, width: 2 }], [
    A.options('options', { textLength: A.size('textLength', { required: true }), height: A.size('height', { required: true }), width: A.size('width', { required: true }), axis0: A.real('axis0') }, { optional: false }),
  ]),
  fn('fluxLatentGrid', () => [64, 32, 8], [A.size('pixelHeight'), A.size('pixelWidth'), A.size('vaeScaleFactor', { optional: true })]),
  fn('fluxFrequencies', () => [[2, 2, 4], 10000], [opt(A.ints('axesDim')), A.real('theta', { optional: true })]),
  fn('fluxShiftImageIds', () => [fluxIds(), 1, [1, -1]], [A.configTensor('ids'), A.size('textLength'), A.ints('shift')]),
  fn('freeFluxProbe', () => [new FluxRoPE([2, 2, 4]), qk(), qk(), fluxIds(), { textLength: 1, keys: [1, 1] }], [
    A.object('rope'), A.tensor('q'), A.tensor('k'), A.configTensor('ids'),
    A.options('options', { textLength: A.size('textLength', { required: true }), keys: A.ints('keys', { required: true }) }, { optional: false }),
  ]),
];

function fluxIds(): Tensor {
  return fluxPositions({ textLength: 1, height: 1, width: 2 });
}
function hiropePositionTensor3(): Tensor {
  const p = hiropePositions('a\nb\nc');
  const flat: number[] = [];
  for (let i = 0; i < T; i++) flat.push(p.token[i] ?? i, p.unit[i] ?? 0);
  return new Tensor(Float32Array.from(flat), [T, 2]);
}

void DRoPE;
void HiRoPE;
void MultiAxisRoPE;
