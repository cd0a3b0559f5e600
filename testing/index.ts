/**
 * Public surface of `ropelab/testing`: fast-check arbitraries and property checkers for anyone testing a rotary
 * position encoding — a ropelab encoding, their own JavaScript function, or a PyTorch rotation dumped to
 * safetensors/JSON. Needs fast-check (an optional peer dependency of this entry only). Guide: docs/testing.md.
 */
export {
  HF_ARB_ROPE_TYPES, ROPE_SCALINGS, hfRoPEConfigArb, multiAxisPositionsArb, packedPositionsArb, positionsArb, ropeConfigArb, tensorArb,
  type HFArbRoPEType, type HFRoPEConfigArbOptions, type MultiAxisPositionsArbOptions, type PackedPositions, type PackedPositionsArbOptions,
  type PositionsArbOptions, type RoPEConfigArbOptions, type RoPEConfigSample, type RoPEScaling, type TensorArbOptions,
} from './arbitraries.js';
export {
  PropertyFailure, assertProperty, type CheckOptions, type Counterexample, type PropertyResult, type QKFunction, type RoPESubject,
} from './run.js';
export {
  checkAngleGradients, checkFrequencyGradients, checkHFConfigAgreement, checkKVCacheDecoding, checkLayoutEquivalence, checkNormPreservation,
  checkReducesToRoPE, checkRelativePositionInvariance, halfLayoutPermutation,
  type AngleGradientOptions, type CaseOptions, type FrequencyGradientOptions, type HFConfigAgreementOptions, type KVCacheOptions,
  type LayoutEquivalenceOptions, type NormOptions, type ReducesToRoPEOptions, type RelativePositionOptions,
} from './properties.js';
export { rotationFromDump, type DumpedRotation } from './dump.js';
