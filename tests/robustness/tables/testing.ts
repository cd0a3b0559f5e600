/** Robustness table for ropelab/testing (the subpath entry): one entry per runtime export. */
import { RoPE } from '../../../index.js';
import * as testing from '../../../testing/index.js';
import { A, exempt, fn, type Entry } from '../harness.js';

const rope = () => new RoPE(4);
const quick = { numRuns: 2, seed: 1 };
const caseFields = {
  numRuns: A.size('numRuns'), seed: A.int('seed'), headDim: A.size('headDim', { required: true }), heads: A.size('heads'), kvHeads: A.size('kvHeads'),
  axes: A.size('axes'), maxTokens: A.size('maxTokens'), maxPosition: A.int('maxPosition'), tolerance: A.real('tolerance'),
};
export const testingEntries: readonly Entry[] = [
  exempt('HF_ARB_ROPE_TYPES', 'a constant array, not callable'),
  exempt('ROPE_SCALINGS', 'a constant array, not callable'),
  exempt('PropertyFailure', 'an Error subclass thrown by assertProperty; constructed with a result'),
  fn('tensorArb', () => [{ shape: [2, 3] }], [A.options('options', { shape: A.shape('shape', { required: true }), dtype: A.enum('dtype'), min: A.real('min'), max: A.real('max'), steps: A.size('steps'), requiresGrad: A.bool('requiresGrad') }, { optional: false })]),
  fn('positionsArb', () => [{ maxLength: 3 }], [A.options('options', { minLength: A.size('minLength'), maxLength: A.size('maxLength'), min: A.int('min'), max: A.int('max') })]),
  fn('multiAxisPositionsArb', () => [{ axes: 2 }], [A.options('options', { axes: A.size('axes', { required: true }), minLength: A.size('minLength'), maxLength: A.size('maxLength'), min: A.int('min'), max: A.int('max') }, { optional: false })]),
  fn('packedPositionsArb', () => [{ maxDocuments: 2 }], [A.options('options', { maxDocuments: A.size('maxDocuments'), maxDocumentLength: A.size('maxDocumentLength') })]),
  fn('ropeConfigArb', () => [{ headDims: [8] }], [A.options('options', { headDims: A.ints('headDims'), scalings: A.any('scalings'), layouts: A.any('layouts'), partialRotary: A.bool('partialRotary') })]),
  fn('hfRoPEConfigArb', () => [{ headDims: [8] }], [A.options('options', { ropeTypes: A.any('ropeTypes'), headDims: A.ints('headDims') })]),
  fn('assertProperty', () => [testing.checkNormPreservation(rope(), { headDim: 4, ...quick })], [A.object('result')]),
  fn('halfLayoutPermutation', () => [8, 4], [A.size('headDim'), A.size('rotaryDim', { optional: true })]),
  fn('checkRelativePositionInvariance', () => [rope(), { headDim: 4, ...quick }], [A.object('subject'), A.options('options', caseFields, { optional: false })]),
  fn('checkNormPreservation', () => [rope(), { headDim: 4, ...quick }], [A.object('subject'), A.options('options', { ...caseFields, scale: A.real('scale') }, { optional: false })]),
  fn('checkReducesToRoPE', () => [rope(), { headDim: 4, ...quick }], [A.object('subject'), A.options('options', { ...caseFields, base: A.real('base'), layout: A.enum('layout'), rotaryDim: A.size('rotaryDim') }, { optional: false })]),
  fn('checkLayoutEquivalence', () => [{ half: rope(), interleaved: new RoPE(4, { layout: 'interleaved' }) }, { headDim: 4, ...quick }], [A.object('subjects'), A.options('options', { ...caseFields, rotaryDim: A.size('rotaryDim') }, { optional: false })]),
  fn('checkHFConfigAgreement', () => [rope(), { head_dim: 4, max_position_embeddings: 64 }, quick], [A.object('subject'), A.object('config'), A.options('options', { numRuns: A.size('numRuns'), seed: A.int('seed'), layerType: A.string('layerType'), layout: A.enum('layout'), heads: A.size('heads'), kvHeads: A.size('kvHeads'), maxTokens: A.size('maxTokens'), maxPosition: A.int('maxPosition'), tolerance: A.real('tolerance') })]),
  fn('checkKVCacheDecoding', () => [rope(), { headDim: 4, ...quick }], [A.object('subject'), A.options('options', { numRuns: A.size('numRuns'), seed: A.int('seed'), headDim: A.size('headDim', { required: true }), heads: A.size('heads'), kvHeads: A.size('kvHeads'), maxTokens: A.size('maxTokens'), maxPosition: A.int('maxPosition'), tolerance: A.real('tolerance') }, { optional: false })]),
  fn('checkAngleGradients', () => [(x: testing.PropertyResult) => x, { headDim: 4, ...quick }], [A.fn('rotate'), A.options('options', { numRuns: A.size('numRuns'), seed: A.int('seed'), headDim: A.size('headDim', { required: true }), pairs: A.size('pairs'), maxTokens: A.size('maxTokens'), gradcheck: A.object('gradcheck') }, { optional: false })]),
  fn('checkFrequencyGradients', () => [(p: unknown) => p, { pairs: 2, ...quick }], [A.fn('angles'), A.options('options', { numRuns: A.size('numRuns'), seed: A.int('seed'), pairs: A.size('pairs', { required: true }), maxTokens: A.size('maxTokens'), maxPosition: A.int('maxPosition'), positionGradients: A.bool('positionGradients'), gradcheck: A.object('gradcheck') }, { optional: false })]),
  fn('rotationFromDump', () => [{ position_ids: [0, 1], basis_embed: [[[1, 0], [1, 0]], [[0, 1], [0, 1]]] }], [A.object('dump')]),
];
