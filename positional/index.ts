/** Public surface of positional/: position encodings for attention, built on core/ only. */
export { NoPE, PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
export { LearnedAbsolute, type LearnedAbsoluteOptions } from './learned.js';
export {
  RoPE, applyRotary, ropeInvFreq, rotaryAngles, type ApplyRotaryOptions, type PairLayout, type RoPEOptions, type RoPEScalingOptions, type RotaryPrecision,
} from './rope.js';
export { toBFloat16 } from './bf16.js';
export { piInvFreq } from './pi.js';
export { DynamicNTKRoPE, dynamicNtkInvFreq, ntkInvFreq, type DynamicNTKRoPEOptions, type DynamicNTKOptions } from './ntk.js';
export { yarnAttentionFactor, yarnInvFreq, yarnMscale, yarnPairRegimes, yarnRamp, type YaRNOptions, type YaRNPairRegime } from './yarn.js';
export { llama3InvFreq, type Llama3Options } from './llama3.js';
export { longRopeAttentionFactor, longRopeInvFreq, type LongRoPEAttentionOptions, type LongRoPEOptions } from './longrope.js';
export {
  HF_ROPE_TYPES, HFLongRoPE, fromHFConfig, ropeFromHFConfig, type FromHFConfigOptions, type HFLongRoPEOptions, type HFRoPEConfig, type HFRoPEParameters,
  type HFRoPESettings, type HFRoPEType, type RoPEFromHFConfigOptions,
} from './hf-config.js';
export {
  anchorAttentionMask, flashAnchorMask, flashAnchorPositions, packFlashAnchor, packWithAnchor,
  type PackFlashOptions, type PackWithAnchorOptions, type PackedWindow,
} from './anchor.js';
export {
  ROPE_BUG_CLASSES, ROPE_DUMP_NAMES, verifyRoPEDump, type RoPEBugClass, type RoPEDiagnosis, type RoPEDumpCheck, type RoPEVerifyCandidate,
  type RoPEVerifyReport, type VerifyRoPEOptions,
} from './conformance.js';
export { PRoPE, pRopeInvFreq, type PRoPEOptions, type PRoPEInvFreqOptions } from './p-rope.js';
export { PSC, PSCRoPE, pscCalibrate, pscCoefficient, type PSCOptions, type PSCRoPEOptions } from './psc.js';
export {
  HiRoPE, hiropeAngles, hiropePositionsTensor, hiropePositions, hiropeScores, type HiRoPEOptions, type HiRoPELevels, type HiRoPEPositions,
  type HiRoPEPositionsOptions, type HiRoPEScoreOptions, type HiRoPEUnit, type LevelPositions,
} from './hirope.js';
export { hiropeSegments, type HiRoPESegment, type HiRoPESyntax, type HiRoPEUnitKind, type HiRoPESegmentsOptions } from './source-lexer.js';
export { firstNegativeDistance, longTermDecay, minimalBase, type BaseBoundMethod, type FirstNegativeOptions, type MinimalBaseOptions } from './base-bound.js';
export { decayCurve, pairWavelengths, type DecayCurveOptions, type DecaySpacing } from './analysis.js';
export { createPositional, positionalNames, registerPositional, type PositionalFactory, type PositionalSpec } from './registry.js';
export {
  MultiAxisRoPE, allocateFrequencies, interleavedAxes, multiAxisAngles, perHeadFrequencies, sectionAxes, type MultiAxisRoPEOptions,
} from './multi-axis.js';
export {
  DROPE_AXES, DRoPE, dropeAngles, dropeFrequencies, dropeSplit,
  type DRoPEAngleOptions, type DRoPEDimSplitOptions, type DRoPEHeadSplitOptions, type DRoPEMode, type DRoPEOptions, type DRoPESplit,
} from './drope.js';
export {
  ROPE_VIT_AXIAL_THETA, ROPE_VIT_MIXED_THETA, RoPEAxial, RoPEMixed, ropeVitAxialAngles, ropeVitAxialFrequencies, ropeVitGrid,
  ropeVitInvFreq, ropeVitMixedAngles, ropeVitMixedFrequencies, type RoPEAxialOptions, type RoPEMixedOptions,
  type RoPEViTAxialAnglesOptions, type RoPEViTMixedAnglesOptions, type RoPEViTMixedFrequencies, type RoPEViTMixedInitOptions,
} from './rope-vit.js';
export {
  MRoPE, mropePositions, mropeDecodePositions, mropeFrequencies, mropeInvFreq, mropePositionsTensor, mropeTokenCount,
  type MRoPEOptions, type MRoPEFrequencyOptions, type MRoPEPositionOptions, type MRoPEPositions, type MRoPESegment,
} from './mrope.js';
export {
  VideoRoPE, videoRopeAxisOfPair, videoRopeFrequencies, videoRopePositions,
  type VideoRoPEOptions, type VideoRoPEAxis, type VideoRoPEPositionOptions,
} from './video-rope.js';
export {
  VROPE_AXES, VRoPE, vropeFrequencies, vropePairPositions, vropePositions,
  type VRoPEOptions, type VRoPEPositionOptions, type VRoPEPositions,
} from './vrope.js';
export {
  HOPE_TRAINING_SCALES, HOPE_VNIAH_SCALE, HoPE, hopeAngles, hopeAxisOfPair, hopeFrequencies, hopePositions, hopeTemporalScale,
  type HoPEOptions, type HoPEAnglesOptions, type HoPEAxis, type HoPEPositionOptions, type HoPEPositions, type HoPEScaleSampling,
} from './hope.js';
export {
  FLUX_AXES_DIM, FREEFLUX_PROBE_SHIFTS, FluxRoPE, fluxFrequencies, fluxLatentGrid, fluxPositions, fluxShiftImageIds, freeFluxProbe,
  type FluxPositionsOptions, type FluxRoPEOptions, type FreeFluxProbeOptions,
} from './flux.js';
