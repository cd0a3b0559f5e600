/** Public surface of nn/: layers, attention and training utilities built on core/ and positional/. */
export { Module, Parameter, type LoadStateDictOptions, type LoadStateDictResult } from '../core/index.js';
export {
  constantParameter, gpt2Init, normalParameter, uniformParameter, type GPT2InitOptions, type NormalParameterOptions, type UniformParameterOptions,
} from './init.js';
/** Argument checks for layers and models built on nn/: each throws a typed error whose message starts with `op`, the call the user made. */
export { expectEncodingFits, expectWeight } from './checks.js';
export { Linear, type LinearOptions } from './linear.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { LayerNorm, RMSNorm, type LayerNormOptions, type RMSNormOptions } from './norm.js';
export { Dropout, MLP, SwiGLU, type MLPOptions, type SwiGLUOptions } from './mlp.js';
export { causalMask, combineMasks, documentMask, paddingMask, slidingWindowMask } from './mask.js';
export { KVCache, type KVCacheOptions } from './kv-cache.js';
export {
  A2ATS_DEFAULTS, RetrievalKVCache, buildQueryAwareCodebook, encodeKeys, retrievalMask, wropeQuery,
  type QueryAwareCodebook, type QueryAwareCodebookOptions, type RetrievalKVCacheOptions, type RetrievalMaskOptions,
} from './a2ats.js';
export {
  MultiHeadAttention, scaledDotProductAttention, type AttentionCallCheck, type AttentionCallOptions, type MultiHeadAttentionOptions,
} from './attention.js';
export { Block, type BlockOptions } from './block.js';
export { SAFETENSORS_MAX_HEADER_BYTES, parseSafetensors, serializeSafetensors } from './safetensors.js';
export { loadSafetensors, saveSafetensors, type LoadSafetensorsOptions, type LoadSafetensorsResult } from './safetensors-node.js';
export { formatProgress, train, type ProgressOutput, type TrainOptions, type TrainProgress, type TrainResult } from './train.js';
export { generate, sampleFromLogits, type CausalLM, type GenerateOptions, type SampleOptions } from './generate.js';
export {
  LatentKVCache, MultiHeadLatentAttention, mlaCacheNumbersPerToken, mlaParameterShapes,
  type LatentKVCacheOptions, type MLACallOptions, type MLADims, type MLAMode, type MLARoPE, type MultiHeadLatentAttentionOptions,
} from './mla.js';
export { ChunkedAttention, chunkedAttention, type ChunkedAttentionCallOptions, type ChunkedAttentionFnOptions, type ChunkedAttentionOptions } from './chunked-attention.js';
export { FifoMemory, type FifoMemoryOptions, type FifoState, type MemoryPool } from './fifo-memory.js';
export { MemoryBlock, type MemoryBlockCallOptions, type MemoryBlockCaches, type MemoryBlockOptions, type MemoryBlockOutput, type PathCombine } from './memory-block.js';
export {
  bbpLocation, marchenkoPasturCdf, marchenkoPasturEdges, marchenkoPasturMedian, marchenkoPasturQuantile, tracyWidomScale, type MarchenkoPasturEdges,
} from './marchenko-pastur.js';
export { qkSpectrum, type QKSpectra, type QKSpectrum, type QKSpectrumOptions } from './qk-spectrum.js';
export { effectiveRank, spectralDiagnostics, stableRank, type SpectralDiagnostics, type SpectralDiagnosticsOptions } from './spectral-diagnostics.js';
export {
  BASELINE_QUANTILES, baselineFromSpectra, randomInitBaseline, type BaselineInit, type RandomInitBaseline, type RandomInitBaselineOptions,
  type SpectralBaseline,
} from './spectral-baseline.js';
export {
  PaTHAttention, PaTHCache, ShortConvolution, pathAttention, pathAttentionDirect, pathAttentionRecurrent,
  type PaTHAttentionOptions, type PaTHCallOptions, type PaTHOptions, type ShortConvolutionOptions,
} from './path-attention.js';
export {
  EliteKVAttention, attentionMeanRotation, eliteKVCacheRatio, eliteKVConvert, meanRotation, ropeliteSelect, uniformElitePairs,
  type EliteKVAttentionOptions, type MeanRotation, type EliteKVCacheRatioOptions, type EliteKVConvertOptions, type EliteKVConvertible, type RoPEliteOptions, type RoPEliteSelection,
} from './elitekv.js';
export {
  ROAD_BASE, RoAdLinear, applyRoAd, roadMatrix, wrapWithRoAd,
  type ApplyRoAdOptions, type RoAdAdapterOptions, type RoAdAdapterState, type RoAdForwardOptions, type RoAdLinearOptions,
  type RoAdVariant, type WrapWithRoAdOptions,
} from './road.js';
export { LoRALinear, wrapWithLoRA, type LoRALinearOptions, type WrapWithLoRAOptions } from './lora.js';
export {
  DecoupledRotaryAttention, RotaryCrossAttention, rotaryCrossPositions,
  type RotaryBranchOptions, type RotaryCrossAttentionOptions,
} from './rotary-cross-attention.js';
export {
  DoubleStreamBlock, JointAttention, SingleStreamBlock, expectJointAttentionHook, type JointAttentionHook, type KeyRoPE, type MMDiTBlockOptions,
} from './mmdit-block.js';
export { probeRopeDependency, type RopeManipulation, type RopeProbeModel, type RopeProbeOptions, type RopeProbeResult } from './rope-probe.js';
