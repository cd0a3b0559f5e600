/** Public surface of positional/: position encodings for attention, built on core/ only. */
export { NoPE, PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
export { LearnedAbsolute, type LearnedAbsoluteOptions } from './learned.js';
export {
  RoPE, applyRotary, ropeInvFreq, rotaryAngles, type ApplyRotaryOptions, type PairLayout, type RoPEOptions, type RotaryPrecision,
} from './rope.js';
export { toBFloat16 } from './bf16.js';
export {
  anchorAttentionMask, flashAnchorMask, flashAnchorPositions, packFlashAnchor, packWithAnchor,
  type PackFlashOptions, type PackWithAnchorOptions, type PackedWindow,
} from './anchor.js';
export { createPositional, positionalNames, registerPositional, type PositionalFactory, type PositionalSpec } from './registry.js';
