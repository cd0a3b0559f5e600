/** Public surface of models/: small complete models assembled from core/, positional/ and nn/. */
export { GPT, type GPTConfig, type GPTForwardOptions } from './gpt.js';
export { MLABlock, MLALM, mlaLMParameterName, resolveMLALMConfig, type MLALMConfig, type MLALMForwardOptions, type ResolvedMLALMConfig } from './mla-lm.js';
export { MemoryTransformer, type MemoryForwardOptions, type MemoryForwardResult, type MemoryStream, type MemoryTransformerConfig } from './memory-transformer.js';
export { PaTHBlock, PaTHLM, type PaTHLMConfig, type PaTHLMForwardOptions } from './path-lm.js';
export { ViT, bilinearResizeMatrix, patchify, type ViTConfig, type ViTPositional } from './vit.js';
export { MMDiT, fluxAxesFor, type MMDiTConfig, type MMDiTControl, type MMDiTForwardOptions, type MMDiTLossOptions, type MMDiTSampleInputs } from './mmdit.js';
export { LlamaForCausalLM, loadHFModel, type LlamaForwardOptions, type LlamaHFConfig, type LlamaHFModel, type LlamaOptions } from './llama.js';
export { type LayerEncodings, type PositionalChoice } from './positional-choice.js';
