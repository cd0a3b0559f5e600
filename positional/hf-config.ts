/**
 * RoPE frequencies and attention factor from a Hugging Face config.json, with transformers' semantics
 * (`standardize_rope_params`, then `ROPE_INIT_FUNCTIONS[rope_type]` in `modeling_rope_utils.py`, v5; read at
 * huggingface/transformers main, 2025–26, the version with `_compute_proportional_rope_parameters`):
 * θ_i = rope_theta^(−2i/d) with d = int(head_dim · partial_rotary_factor), then the scaling rule of the rope type.
 * - proportional (p-RoPE, Gemma-4 full-attention layers): k = int(p·h // 2), θ_i = rope_theta^(−2i/h) for i < k,
 *   θ_i = 0 for k ≤ i < h/2, all divided by factor (default 1); h = global_head_dim when the config has one
 *   (Gemma-4 passes `head_dim_key="global_head_dim"`), else head_dim. Attention factor 1.
 * - legacy spellings: Phi-3's 'su' (and its 'yarn' with short/long factors) = longrope; Qwen2-VL's 'mrope' = default.
 * - multimodal configs (Gemma-3, Llava, …) nest the text model under `text_config` (HF: `get_text_config()`): it is read
 *   when the top level has no RoPE field; both levels with differing RoPE fields are refused. Fields a model type's HF
 *   config class fills by default and its published config.json omits (gemma3_text: rope_theta 1e6,
 *   rope_local_base_freq 1e4, head_dim 256, max_position_embeddings 131072) take those defaults, each one warned.
 * - per layer type: rope_parameters keyed by layer type, or Gemma-3's rope_local_base_freq (sliding layers: plain
 *   RoPE with that base; full layers: the config's rope dict).
 * - M-RoPE (Qwen2-VL / 2.5-VL `mrope_section` [t, h, w], Qwen3-VL `mrope_interleaved`): pair j reads axis t for
 *   j < s_t, h for the next s_h, w for the last s_w; interleaved: h if j ≡ 1 (mod 3) and j < 3·s_h, w if
 *   j ≡ 2 (mod 3) and j < 3·s_w, else t (`apply_interleaved_mrope`).
 * `ropeFromHFConfig` builds the encoding: RoPE (static tables), DynamicNTKRoPE, HFLongRoPE (short/long switch by
 * length), PRoPE, MRoPE / MultiAxisRoPE (interleaved).
 */
import { DTypeError, ValueError, asPartOf, describeValue, expectBoolean, expectNumber, expectOptions, expectPositions, expectRequiredOptions, expectSize, type NumberRule, type Tensor } from '../core/index.js';
import { checkAttentionFactor, checkBase, checkContextLength, checkLayout, checkString } from './checks.js';
import { PositionalEncoding, type EncodedQK, type Positions } from './encoding.js';
import { llama3Table } from './llama3.js';
import { longRopeAttention, longRopeTable } from './longrope.js';
import { dynamicNtkTable } from './ntk.js';
import { pRopeInvFreq } from './p-rope.js';
import { piTable } from './pi.js';
import { allocateFrequencies, MultiAxisRoPE, sectionAxes } from './multi-axis.js';
import { MRoPE } from './mrope.js';
import { DynamicNTKRoPE } from './ntk.js';
import { PRoPE } from './p-rope.js';
import { invFreqLadder, RoPE, type PairLayout } from './rope.js';
import { yarnAttention, yarnTable, type YaRNOptions } from './yarn.js';

/** The rope types computed here: HF's 'default', its scaling rules and 'proportional' (p-RoPE). */
export const HF_ROPE_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope', 'proportional'] as const;
/** One of `HF_ROPE_TYPES`: a HF `rope_type` ropelab computes. */
export type HFRoPEType = (typeof HF_ROPE_TYPES)[number];

/** One rope dict as HF writes it: the legacy `rope_scaling` or the newer `rope_parameters`. */
export interface HFRoPEParameters {
  rope_type?: string | null;
  /** Legacy spelling of rope_type, read only when rope_type is absent. */
  type?: string | null;
  /** Newer configs keep the base here; it wins over the top-level rope_theta. */
  rope_theta?: number | null;
  /** Used when the config has no top-level partial_rotary_factor. */
  partial_rotary_factor?: number | null;
  /** Required by linear, dynamic, yarn, llama3; yarn with null and longrope without it use max/original. */
  factor?: number | null;
  original_max_position_embeddings?: number | null;
  /** yarn and longrope: explicit multiplier on cos and sin. */
  attention_factor?: number | null;
  /** yarn: default 32 (also for null or 0, as HF's `or 32`). */
  beta_fast?: number | null;
  /** yarn: default 1 (also for null or 0). */
  beta_slow?: number | null;
  /** yarn (DeepSeek): used only when mscale_all_dim is given too and both are non-zero. */
  mscale?: number | null;
  mscale_all_dim?: number | null;
  /** yarn: default true when absent; null counts as false (Python truthiness). */
  truncate?: boolean | null;
  /** llama3 */
  low_freq_factor?: number | null;
  /** llama3 */
  high_freq_factor?: number | null;
  /** longrope: [d/2] */
  short_factor?: readonly number[] | null;
  /** longrope: [d/2] */
  long_factor?: readonly number[] | null;
  /** M-RoPE (Qwen2-VL, Qwen2.5-VL, Qwen3-VL): pairs per axis [t, h, w], summing to rotaryDim/2. */
  mrope_section?: readonly number[] | null;
  /** Qwen3-VL: axes interleaved over the pairs instead of contiguous sections. */
  mrope_interleaved?: boolean | null;
}

/** The config.json fields that decide RoPE; every other field is accepted and ignored. */
export interface HFRoPEConfig {
  /** Base when the rope dict has none; default 10000 (HF `default_theta`). */
  rope_theta?: number | null;
  head_dim?: number | null;
  /** With num_attention_heads, gives head_dim = hidden_size // num_attention_heads when head_dim is absent. */
  hidden_size?: number | null;
  num_attention_heads?: number | null;
  /** DeepSeek-V2/V3 (MLA): HF's configs set head_dim to this, the width of the rotated part. */
  qk_rope_head_dim?: number | null;
  /** Wins over the rope dict's partial_rotary_factor, as `standardize_rope_params` does. */
  partial_rotary_factor?: number | null;
  max_position_embeddings?: number | null;
  /** Phi-3 keeps the pre-training length here; it wins over the rope dict's value. */
  original_max_position_embeddings?: number | null;
  /** Legacy rope dict; wins over rope_parameters when non-empty. */
  rope_scaling?: HFRoPEParameters | null;
  /** Gemma-3: base of the sliding-window layers (plain RoPE); layerType 'sliding_attention' reads it. */
  rope_local_base_freq?: number | null;
  /** Gemma-4: head size of the full-attention layers, read by rope_type 'proportional'. */
  global_head_dim?: number | null;
  /** Newer rope dict, or one dict per layer type ({ full_attention: {…}, sliding_attention: {…} }). */
  rope_parameters?: HFRoPEParameters | Readonly<Record<string, HFRoPEParameters>> | null;
  /** Multimodal configs: the text model's config, read when the top level has no RoPE field. */
  text_config?: HFRoPEConfig | null;
  /** Selects HF's class defaults for fields the published config.json omits (gemma3_text). */
  model_type?: string | null;
  readonly [field: string]: unknown;
}

/** Options of `fromHFConfig`: `seqLen`, `layerType`, `strict`. */
export interface FromHFConfigOptions {
  /** Current sequence length (max position id + 1): dynamic rescales beyond max_position_embeddings; longrope switches to long_factor beyond the original length. */
  seqLen?: number;
  /** Which entry of a per-layer rope_parameters dict to use. */
  layerType?: string;
  /** Refuse keys of the rope dict that its rope type does not read (HF only warns; default false: listed in `warnings`). */
  strict?: boolean;
}

/**
 * A HF config's rope settings resolved to numbers (`fromHFConfig`): inverse frequencies [rotaryDim/2], attention
 * factor, rotary dim, rope type and the rest an encoding needs.
 */
export interface HFRoPESettings {
  /** θ′ [rotaryDim/2], float64 (transformers computes these in float32). */
  invFreq: Float64Array;
  /** Multiplier on cos and sin (HF `attention_scaling`); the logits get its square. */
  attentionFactor: number;
  /** Rotated channels per head: int(head_dim · partial_rotary_factor). */
  rotaryDim: number;
  ropeType: HFRoPEType;
  /** What transformers would warn about: keys of the rope dict that its rope type ignores, legacy spellings read. */
  warnings: string[];
  /** Channels per head of q and k (for proportional: the head the table spans; rotaryDim = headDim there). */
  headDim: number;
  /** The RoPE base b the table starts from (θ_i = b^(−2i/rotaryDim) before scaling): rope_theta, or rope_local_base_freq for Gemma-3's sliding layers. */
  base: number;
  /**
   * Where the rope settings were read: 'rope_scaling', 'rope_parameters', 'rope_parameters.<layer type>' or
   * 'rope_local_base_freq (sliding_attention)'; null when the config has no rope dict (plain RoPE from rope_theta).
   */
  ropeDict: string | null;
  /** The rope dict in force, as the config gives it ({} when none). */
  ropeParameters: Readonly<HFRoPEParameters>;
  /** max_position_embeddings of the (text) config, when it has one. */
  maxPositionEmbeddings?: number;
  /** The scaling factor s the rope type reads or derives (linear, dynamic, yarn, llama3, longrope, proportional). */
  factor?: number;
  /** The pre-training length L the rule scales from (yarn, llama3, longrope). */
  originalMaxPositions?: number;
  /** longrope: the two lists of per-pair factors, [rotaryDim/2] each. */
  shortFactor?: readonly number[];
  longFactor?: readonly number[];
  /** proportional: the rotated fraction p of the head. */
  partialRotaryFactor?: number;
  /** M-RoPE: the position axis (0 t, 1 h, 2 w) each rotated pair reads, [rotaryDim/2]. */
  mropeAxes?: number[];
  /** M-RoPE pairs per axis [t, h, w] when the rope dict has mrope_section. */
  mropeSection?: [number, number, number];
  /** Qwen3-VL's interleaved M-RoPE (true only with mropeSection). */
  mropeInterleaved?: boolean;
}

/** Keys each rope type reads from its dict, as HF's `_validate_*_rope_parameters` list them. */
const ROPE_KEYS: Record<HFRoPEType, { required: readonly string[]; optional: readonly string[] }> = {
  default: { required: [], optional: ['rope_theta', 'partial_rotary_factor'] },
  linear: { required: ['factor'], optional: ['rope_theta', 'partial_rotary_factor'] },
  dynamic: { required: ['factor'], optional: ['rope_theta', 'partial_rotary_factor'] },
  yarn: {
    required: ['factor', 'original_max_position_embeddings'],
    optional: ['rope_theta', 'partial_rotary_factor', 'attention_factor', 'beta_fast', 'beta_slow', 'mscale', 'mscale_all_dim', 'truncate'],
  },
  llama3: { required: ['factor', 'original_max_position_embeddings', 'low_freq_factor', 'high_freq_factor'], optional: ['rope_theta', 'partial_rotary_factor'] },
  longrope: { required: ['short_factor', 'long_factor', 'original_max_position_embeddings'], optional: ['rope_theta', 'partial_rotary_factor', 'factor', 'attention_factor'] },
  proportional: { required: [], optional: ['rope_theta', 'partial_rotary_factor', 'factor'] },
};

/** Keys any rope type may carry (HF lists them in the models' ignore_keys_at_rope_validation). */
const MROPE_KEYS = ['mrope_section', 'mrope_interleaved'] as const;

/** The public function whose call is running (fromHFConfig or ropeFromHFConfig): it starts every error message. */
const OP = 'fromHFConfig';

/** The scaling rule's own parameters, as fromHFConfig reports them. */
type ScalingFields = Pick<HFRoPESettings, 'factor' | 'originalMaxPositions' | 'shortFactor' | 'longFactor' | 'partialRotaryFactor'>;

/**
 * θ′, attention factor and rotary dim for the config's rope type, as transformers computes them. The rope dict is
 * `rope_scaling` when non-empty, else `rope_parameters` (else plain RoPE); its rope_type falls back to `type`, then
 * 'default'. original_max_position_embeddings comes from the top level, else the dict, else max_position_embeddings.
 */
export function fromHFConfig(config: HFRoPEConfig, options: FromHFConfigOptions = {}): HFRoPESettings {
  return resolve(config, options);
}

function resolve(given: HFRoPEConfig, options: FromHFConfigOptions): HFRoPESettings {
  if (!isRecord(given)) throw new DTypeError(OP, `config must be an object (the parsed config.json), got ${describeValue(given)}`, 'config');
  const o = expectOptions(OP, 'options', options, ['seqLen', 'layerType', 'strict']);
  const { config, notes } = textConfigOf(given);
  const seqLen = o.seqLen === undefined ? undefined : checkContextLength(OP, 'seqLen', o.seqLen);
  if (o.layerType !== undefined) checkString(OP, 'layerType', o.layerType);
  const strict = o.strict === undefined ? false : expectBoolean(OP, 'strict', o.strict);
  checkTopFields(config);
  const { params, where, perLayer, local } = ropeDict(config, o.layerType);
  const { ropeType, alias } = ropeTypeOf(params, where);
  const read = new FieldReader(params, where, ropeType);
  const warnings = [...notes, ...alias, ...unknownKeys(params, where, ropeType, strict)];
  const localBase = topNumber(config, 'rope_local_base_freq');
  if (o.layerType === undefined && localBase !== undefined) {
    warnings.push(`${OP}: rope_local_base_freq=${localBase} gives the sliding_attention layers plain RoPE with that base; without layerType these are the full_attention layers' settings`);
  }

  const ropeDictName = local !== undefined || Object.keys(params).length > 0 || (where === 'rope_parameters' && isRecord(config.rope_parameters)) ? where : null;
  const ropeParameters = { ...params } as HFRoPEParameters;
  const maxPositionEmbeddings = topNumber(config, 'max_position_embeddings');
  const common = { ropeType, warnings, ropeDict: ropeDictName, ropeParameters, ...optional('maxPositionEmbeddings', maxPositionEmbeddings) };
  const base = local !== undefined ? local : checkBase(OP, 'rope_theta', read.number('rope_theta') ?? topNumber(config, 'rope_theta') ?? 10000); // θ_i = rope_theta^(−2i/d)
  const partial = expectNumber(OP, 'partial_rotary_factor', topNumber(config, 'partial_rotary_factor') ?? read.number('partial_rotary_factor') ?? 1, TOP_FIELDS.partial_rotary_factor!); // the rotated fraction of each head
  if (ropeType === 'proportional') {
    // p-RoPE: the table spans the whole head (global_head_dim on Gemma-4); the dropped pairs get frequency 0
    const global = topNumber(config, 'global_head_dim');
    const headDim = global !== undefined ? expectSize(OP, 'global_head_dim', global) : headDimOf(config);
    if (headDim % 2 !== 0) throw new ValueError(OP, `rope_type 'proportional' needs an even head size — head_dim=${headDim} (channels rotate in pairs)`, 'head_dim');
    const factor = read.number('factor') ?? 1;
    const invFreq = pRopeInvFreq(headDim, partial, { base, factor });
    return { invFreq, attentionFactor: 1, rotaryDim: headDim, headDim, base, ...common, factor, partialRotaryFactor: partial, ...mropeOf(read, headDim) };
  }
  const headDim = headDimOf(config);
  const rotaryDim = Math.trunc(headDim * partial);
  const done = (invFreq: Float64Array, attentionFactor: number, scaling: ScalingFields = {}): HFRoPESettings => ({
    invFreq, attentionFactor, rotaryDim, headDim, base, ...common, ...scaling, ...mropeOf(read, rotaryDim),
  });
  if (!(rotaryDim > 0 && rotaryDim % 2 === 0)) {
    throw new ValueError(OP, `rotary dim is not a positive even integer — int(head_dim · partial_rotary_factor) = int(${headDim} · ${partial}) = ${rotaryDim} (channels rotate in pairs)`, 'partial_rotary_factor');
  }
  const maxPositions = (why: string): number => {
    const m = topNumber(config, 'max_position_embeddings');
    if (m === undefined) {
      throw new ValueError(OP, `rope_type '${ropeType}' is missing max_position_embeddings — config has no max_position_embeddings (${why})`, 'max_position_embeddings');
    }
    return m; // an integer > 0: checkTopFields checked it
  };
  const originalMaxPositions = (): number => {
    const original = (perLayer ? undefined : topNumber(config, 'original_max_position_embeddings')) ?? read.number('original_max_position_embeddings');
    if (original !== undefined) return original;
    if (topNumber(config, 'max_position_embeddings') === undefined) read.missing('original_max_position_embeddings', `${where} and in the config (nor is there a max_position_embeddings to default to)`);
    return maxPositions('the default of original_max_position_embeddings');
  };

  const plain = (): Float64Array => invFreqLadder(rotaryDim, base);
  switch (ropeType) {
    case 'default':
      return done(plain(), 1);
    case 'linear': {
      const factor = read.required('factor');
      return done(piTable(OP, { dim: rotaryDim, base, factor }), 1, { factor });
    }
    case 'dynamic': {
      const factor = read.required('factor');
      const trained = maxPositions('dynamic rescales beyond this trained length');
      const invFreq = dynamicNtkTable(OP, { dim: rotaryDim, base, factor, maxPositions: trained, ...(seqLen !== undefined ? { seqLen } : {}) });
      return done(invFreq, 1, { factor });
    }
    case 'yarn': {
      if (!read.has('factor')) read.missing('factor', where);
      const original = originalMaxPositions();
      const factor = read.number('factor') ?? maxPositions('factor null means max_position_embeddings / original') / original; // HF: factor None → max / original
      const yarn: YaRNOptions = {
        dim: rotaryDim,
        base,
        factor,
        originalMaxPositions: original,
        betaFast: read.number('beta_fast') || 32, // HF: `beta_fast or 32`
        betaSlow: read.number('beta_slow') || 1,
        truncate: read.has('truncate') ? read.flag('truncate') : true,
        ...optional('mscale', read.number('mscale')),
        ...optional('mscaleAllDim', read.number('mscale_all_dim')),
        ...optional('attentionFactor', read.number('attention_factor')),
      };
      return done(yarnTable(OP, yarn), yarnAttention(OP, yarn), { factor, originalMaxPositions: original });
    }
    case 'llama3': {
      const factor = read.required('factor');
      const original = originalMaxPositions();
      const invFreq = llama3Table(OP, {
        dim: rotaryDim,
        base,
        factor,
        originalMaxPositions: original,
        lowFreqFactor: read.required('low_freq_factor'),
        highFreqFactor: read.required('high_freq_factor'),
      });
      return done(invFreq, 1, { factor, originalMaxPositions: original });
    }
    case 'longrope': {
      const shortFactor = read.list('short_factor');
      const longFactor = read.list('long_factor');
      const original = originalMaxPositions();
      const factor = read.number('factor') ?? maxPositions('without factor, s = max_position_embeddings / original') / original; // HF: Phi-3 derives s from the two lengths
      const invFreq = longRopeTable(OP, { dim: rotaryDim, base, shortFactor, longFactor, originalMaxPositions: original, ...(seqLen !== undefined ? { seqLen } : {}) });
      const attentionFactor = longRopeAttention(OP, { factor, originalMaxPositions: original, ...optional('attentionFactor', read.number('attention_factor')) });
      return done(invFreq, attentionFactor, { factor, originalMaxPositions: original, shortFactor, longFactor });
    }
  }
}

/** Options of `ropeFromHFConfig`: `layerType`, `layout`, `strict`. */
export interface RoPEFromHFConfigOptions {
  /** Which entry of a per-layer rope dict to use ('full_attention' / 'sliding_attention'; Gemma-3's rope_local_base_freq). */
  layerType?: string;
  /** Channel pairing of q and k; default 'half' (HF's rotate_half). */
  layout?: PairLayout;
  /** As fromHFConfig: refuse keys the rope type does not read. */
  strict?: boolean;
}

/**
 * The positional encoding a transformers model builds from this config, ready for attention: RoPE with the static
 * table (default, linear, yarn, llama3; attention factor included), DynamicNTKRoPE (HF's `dynamic_rope_update` state
 * machine), HFLongRoPE (short factors up to original_max_position_embeddings, long ones beyond), PRoPE (proportional)
 * or, with mrope_section, MRoPE / a MultiAxisRoPE with Qwen3-VL's interleaved axes. Its inverse frequencies equal
 * `fromHFConfig(config, { layerType })`'s (for dynamic and longrope: at lengths within the trained context).
 * M-RoPE with a length-dependent rope type (dynamic, longrope) is refused.
 */
export function ropeFromHFConfig(config: HFRoPEConfig, options: RoPEFromHFConfigOptions = {}): PositionalEncoding {
  const op = 'ropeFromHFConfig';
  const o = expectOptions(op, 'options', options, ['layerType', 'layout', 'strict']);
  const layout = checkLayout(op, o.layout);
  // the config is read and the encoding built as fromHFConfig does; what they refuse is reported as this call's error
  return asPartOf(op, () => {
    const s = resolve(config, { ...(o.layerType !== undefined ? { layerType: o.layerType } : {}), ...(o.strict !== undefined ? { strict: o.strict } : {}) });
    if (s.mropeSection !== undefined) {
      if (s.ropeType === 'dynamic' || s.ropeType === 'longrope') {
        throw new ValueError(op, `M-RoPE with a length-dependent rope_type is not supported — rope_type='${s.ropeType}', mrope_section=[${s.mropeSection.join(', ')}] (use a static rope type)`, 'rope_type');
      }
      const axes = s.mropeAxes!;
      if (!s.mropeInterleaved && s.rotaryDim === s.headDim) return new MRoPE(s.headDim, s.mropeSection, { invFreq: s.invFreq, attentionFactor: s.attentionFactor, layout });
      return new MultiAxisRoPE(allocateFrequencies(axes, s.invFreq, 3), {
        layout, attentionFactor: s.attentionFactor, rotaryDim: s.rotaryDim, headDim: s.headDim, name: s.mropeInterleaved ? 'mrope-interleaved' : 'mrope',
      });
    }
    switch (s.ropeType) {
      case 'dynamic':
        return new DynamicNTKRoPE(s.headDim, { factor: s.factor!, maxPositions: s.maxPositionEmbeddings!, base: s.base, rotaryDim: s.rotaryDim, layout });
      case 'longrope':
        return new HFLongRoPE(s.headDim, {
          rotaryDim: s.rotaryDim, base: s.base, shortFactor: s.shortFactor!, longFactor: s.longFactor!, originalMaxPositions: s.originalMaxPositions!, attentionFactor: s.attentionFactor, layout,
        });
      case 'proportional':
        return new PRoPE(s.headDim, s.partialRotaryFactor!, { base: s.base, factor: s.factor!, layout });
      default:
        return new RoPE(s.headDim, { rotaryDim: s.rotaryDim, invFreq: s.invFreq, attentionFactor: s.attentionFactor, layout });
    }
  });
}

/** Qwen3-VL `apply_interleaved_mrope`: pair j reads h if j ≡ 1 (mod 3) and j < 3·s_h, w if j ≡ 2 (mod 3) and j < 3·s_w, else t. */
function interleavedMRoPEAxes(section: readonly [number, number, number]): number[] {
  const pairs = section[0] + section[1] + section[2];
  return Array.from({ length: pairs }, (_, j) => (j % 3 === 1 && j < 3 * section[1] ? 1 : j % 3 === 2 && j < 3 * section[2] ? 2 : 0));
}

/**
 * Options of `HFLongRoPE`: `shortFactor`, `longFactor`, `originalMaxPositions`, `base`, `rotaryDim`, `attentionFactor`,
 * `layout`.
 */
export interface HFLongRoPEOptions {
  shortFactor: readonly number[];
  longFactor: readonly number[];
  /** L: the pre-training length; longFactor applies once ℓ = max position + 1 exceeds it. */
  originalMaxPositions: number;
  base?: number;
  rotaryDim?: number;
  /** Multiplier on cos and sin (HF attention_scaling, longRopeAttentionFactor); default 1. */
  attentionFactor?: number;
  layout?: PairLayout;
}

/**
 * LongRoPE as transformers runs it (Phi-3, `longrope_frequency_update`): each call uses the short-factor table while
 * ℓ = max(q, k positions) + 1 ≤ L and the long-factor table beyond; the attention factor is the same for both.
 * Stateless: the choice depends only on the positions of the call. KV-cache caveat: keys cached while ℓ ≤ L were
 * rotated with the short table; once ℓ exceeds L the queries use the long table, so those cached keys no longer match
 * (HF behaves the same; rebuild the cache — re-rotate the keys with `rotate(k, kPositions, ℓ)` — when crossing L).
 */
export class HFLongRoPE extends PositionalEncoding {
  readonly name: string = 'longrope';
  readonly originalMaxPositions: number;
  /** Short-factor table, [rotaryDim/2]. */
  readonly shortInvFreq: Float64Array;
  /** Long-factor table, [rotaryDim/2]. */
  readonly longInvFreq: Float64Array;
  readonly #short: LongRoPETable;
  readonly #long: LongRoPETable;

  constructor(readonly headDim: number, options: HFLongRoPEOptions) {
    super();
    const op = 'HFLongRoPE';
    expectSize(op, 'headDim', headDim);
    const o = expectRequiredOptions(op, options, ['shortFactor', 'longFactor', 'originalMaxPositions', 'base', 'rotaryDim', 'attentionFactor', 'layout'], 'with shortFactor, longFactor and originalMaxPositions');
    const rotaryDim = o.rotaryDim === undefined ? headDim : o.rotaryDim;
    const base = o.base === undefined ? 10000 : o.base;
    this.originalMaxPositions = checkContextLength(op, 'originalMaxPositions', o.originalMaxPositions);
    const table = { dim: rotaryDim, base, shortFactor: o.shortFactor, longFactor: o.longFactor, originalMaxPositions: this.originalMaxPositions };
    this.shortInvFreq = longRopeTable(op, { ...table, seqLen: this.originalMaxPositions });
    this.longInvFreq = longRopeTable(op, { ...table, seqLen: this.originalMaxPositions + 1 });
    const rope = { rotaryDim, layout: checkLayout(op, o.layout), attentionFactor: checkAttentionFactor(op, o.attentionFactor) };
    this.#short = new LongRoPETable(headDim, { ...rope, invFreq: this.shortInvFreq });
    this.#long = new LongRoPETable(headDim, { ...rope, invFreq: this.longInvFreq });
  }

  /** The table a call reaching length seqLen uses: short while seqLen ≤ originalMaxPositions, else long. */
  invFreqFor(seqLen: number): Float64Array {
    return this.#for(checkContextLength('HFLongRoPE.invFreqFor', 'seqLen', seqLen)).invFreq;
  }

  /** Angles [T, pairs] (or [B, 1, T, pairs]) with the table for ℓ = max position + 1. */
  angles(positions: Positions): Tensor {
    expectPositions('HFLongRoPE', 'positions', positions);
    return this.#for(maxOf(positions) + 1).angles(positions);
  }

  /** Rotate x [..., T, headDim] by positions with the table for ℓ = seqLen (default: max position + 1). */
  rotate(x: Tensor, positions: Positions, seqLen?: number): Tensor {
    expectPositions('HFLongRoPE', 'positions', positions);
    const l = seqLen === undefined ? maxOf(positions) + 1 : checkContextLength('HFLongRoPE', 'seqLen', seqLen);
    return this.#for(l).rotate(x, positions);
  }

  override encodeQK(q: Tensor, k: Tensor, qPositions: Positions, kPositions: Positions): EncodedQK {
    expectPositions('HFLongRoPE', 'qPositions', qPositions);
    expectPositions('HFLongRoPE', 'kPositions', kPositions);
    return this.#for(Math.max(maxOf(qPositions), maxOf(kPositions)) + 1).encodeQK(q, k, qPositions, kPositions);
  }

  #for(seqLen: number): LongRoPETable {
    return seqLen > this.originalMaxPositions ? this.#long : this.#short;
  }
}

/** One of HFLongRoPE's two tables as a RoPE whose errors name HFLongRoPE. */
class LongRoPETable extends RoPE {
  protected override opName(): string {
    return 'HFLongRoPE';
  }
}

function maxOf(positions: Positions): number {
  let m = -Infinity;
  for (let i = 0; i < positions.size; i++) m = Math.max(m, positions.data[i]!);
  return m;
}

/** mrope_section / mrope_interleaved of the rope dict, checked against the rotated pairs. */
function mropeOf(read: FieldReader, rotaryDim: number): Pick<HFRoPESettings, 'mropeSection' | 'mropeInterleaved' | 'mropeAxes'> {
  const interleaved = read.has('mrope_interleaved') ? read.flag('mrope_interleaved') : false;
  if (!read.has('mrope_section') || read.raw('mrope_section') === null) {
    if (interleaved) throw new ValueError(OP, `mrope_interleaved is true but ${read.where} has no mrope_section (give the pairs per axis [t, h, w])`, 'mrope_section');
    return {};
  }
  const s = read.list('mrope_section');
  if (s.length !== 3 || s.some((v) => !Number.isInteger(v) || v < 0) || s[0]! + s[1]! + s[2]! !== rotaryDim / 2) {
    throw new ValueError(OP, `mrope_section is not three non-negative integers summing to the rotated pairs — mrope_section=[${s.join(', ')}], rotary dim ${rotaryDim} (sum must be ${rotaryDim / 2})`, 'mrope_section');
  }
  const section: [number, number, number] = [s[0]!, s[1]!, s[2]!];
  return { mropeSection: section, mropeInterleaved: interleaved, mropeAxes: interleaved ? interleavedMRoPEAxes(section) : sectionAxes(section) };
}

/** Top-level fields that decide RoPE: where one is set, the top level describes the text model itself. */
const ROPE_FIELDS = [
  'rope_theta', 'rope_scaling', 'rope_parameters', 'head_dim', 'hidden_size', 'num_attention_heads', 'qk_rope_head_dim', 'partial_rotary_factor',
  'max_position_embeddings', 'original_max_position_embeddings', 'rope_local_base_freq', 'global_head_dim',
] as const;

/**
 * HF config-class defaults of the RoPE fields that published config.json files leave out, by model_type
 * (transformers `Gemma3TextConfig`: rope_theta 1e6, rope_local_base_freq 1e4, head_dim 256, max_position_embeddings
 * 131072 — google/gemma-3-4b-it's text_config names none of them).
 */
const MODEL_TYPE_DEFAULTS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  gemma3_text: { rope_theta: 1_000_000, rope_local_base_freq: 10_000, head_dim: 256, max_position_embeddings: 131_072 },
};

/**
 * The text model's config, as transformers' `get_text_config()` finds it: `text_config` when the top level sets no RoPE
 * field, else the top level (a text_config that only repeats the top level's RoPE fields is fine; one that differs, or
 * adds RoPE fields the top level lacks, is refused as ambiguous). Then the model type's HF defaults for omitted fields.
 */
function textConfigOf(config: HFRoPEConfig): { config: HFRoPEConfig; notes: string[] } {
  const text: unknown = config.text_config;
  const notes: string[] = [];
  let chosen = config;
  let prefix = '';
  if (text !== undefined && text !== null) {
    if (!isRecord(text)) throw new DTypeError(OP, `text_config must be an object, got ${describeValue(text)}`, 'text_config');
    const set = (c: Readonly<Record<string, unknown>>): string[] => ROPE_FIELDS.filter((k) => c[k] !== undefined && c[k] !== null);
    const top = set(config);
    const inner = set(text);
    if (top.length === 0) {
      chosen = text as HFRoPEConfig;
      prefix = 'text_config.';
      if (inner.length > 0 || text['model_type'] !== undefined) notes.push(`${OP}: the top level has no RoPE field; read text_config (the text model's config, as transformers' get_text_config() does)`);
    } else if (inner.length > 0) {
      const clash = inner.filter((k) => !top.includes(k) || JSON.stringify(text[k]) !== JSON.stringify(config[k]));
      if (clash.length > 0) {
        const k = clash[0]!;
        throw new ValueError(
          OP,
          `config sets RoPE fields both at the top level and in text_config, and they differ — ${k}: top level ${describe(config[k])}, text_config ${describe(text[k])} (keep one of them, or pass config.text_config)`,
          `text_config.${k}`,
        );
      }
    }
  }
  const modelType = chosen['model_type'];
  const defaults = typeof modelType === 'string' ? MODEL_TYPE_DEFAULTS[modelType] : undefined;
  if (defaults === undefined) return { config: chosen, notes };
  const filled: Record<string, unknown> = { ...chosen };
  for (const [k, v] of Object.entries(defaults)) {
    if (chosen[k] !== undefined) continue;
    filled[k] = v;
    notes.push(`${OP}: ${prefix}${k} is absent; model_type '${String(modelType)}' takes transformers' default ${v}`);
  }
  return { config: filled as HFRoPEConfig, notes };
}

/** The rope dict in use and how to name it in messages; per-layer dicts are resolved by layerType. */
function ropeDict(config: HFRoPEConfig, layerType: string | undefined): { params: Readonly<Record<string, unknown>>; where: string; perLayer: boolean; local?: number } {
  const legacy: unknown = config.rope_scaling;
  if (legacy !== undefined && legacy !== null && !isRecord(legacy)) {
    throw new DTypeError(OP, `rope_scaling must be an object, got ${describeValue(legacy)}`, 'rope_scaling');
  }
  const useLegacy = isRecord(legacy) && Object.keys(legacy).length > 0;
  const where = useLegacy ? 'rope_scaling' : 'rope_parameters';
  const raw: unknown = useLegacy ? legacy : config.rope_parameters;
  if (raw === undefined || raw === null) {
    if (layerType !== undefined && topNumber(config, 'rope_local_base_freq') !== undefined) return ropeDict({ ...config, rope_parameters: {} }, layerType);
    return { params: {}, where, perLayer: false };
  }
  if (!isRecord(raw)) throw new DTypeError(OP, `${where} must be an object, got ${describeValue(raw)}`, where);
  const values = Object.values(raw);
  const perLayer = values.length > 0 && values.every(isRecord);
  if (!perLayer) {
    const localBase = topNumber(config, 'rope_local_base_freq');
    if (layerType !== undefined && localBase !== undefined) {
      // Gemma-3: sliding layers use plain RoPE with rope_local_base_freq, full layers the config's rope dict
      if (layerType === 'sliding_attention') return { params: { rope_type: 'default' }, where: 'rope_local_base_freq (sliding_attention)', perLayer: true, local: checkBase(OP, 'rope_local_base_freq', localBase) };
      if (layerType !== 'full_attention') {
        throw new ValueError(OP, `config has rope_local_base_freq (Gemma-3 style) — layerType='${layerType}' (one of: full_attention, sliding_attention)`, 'layerType');
      }
      return { params: raw, where, perLayer: false };
    }
    if (layerType !== undefined) {
      throw new ValueError(OP, `layerType was given but ${where} is one dict for all layers — layerType='${layerType}' (omit layerType)`, 'layerType');
    }
    return { params: raw, where, perLayer };
  }
  const layers = Object.keys(raw);
  if (layerType === undefined || !Object.prototype.hasOwnProperty.call(raw, layerType) || !isRecord(raw[layerType])) {
    throw new ValueError(OP, `${where} holds one dict per layer type — layerType=${layerType === undefined ? 'undefined' : `'${layerType}'`} (pass options.layerType, one of: ${layers.join(', ')})`, 'layerType');
  }
  return { params: raw[layerType], where: `${where}.${layerType}`, perLayer };
}

/** Keys of the rope dict that its rope type does not read: warnings (as HF logs them), or an error when strict. */
function unknownKeys(params: Readonly<Record<string, unknown>>, where: string, ropeType: HFRoPEType, strict: boolean): string[] {
  const { required, optional } = ROPE_KEYS[ropeType];
  const known = new Set(['rope_type', 'type', ...required, ...optional, ...MROPE_KEYS]);
  const unknown = Object.keys(params).filter((k) => !known.has(k));
  if (unknown.length === 0) return [];
  const message = `${where} has keys that rope_type '${ropeType}' does not read: ${unknown.join(', ')} (it reads: ${[...required, ...optional].join(', ')})`;
  if (strict) throw new ValueError(OP, `${message}; strict refuses them`, `${where}.${unknown[0]}`);
  return [`${OP}: ${message}`];
}

/**
 * The rope type, with the legacy spellings transformers' model configs rewrite: Phi-3's 'su' (and 'yarn' when the
 * dict has short_factor and long_factor, as Phi3Config does) → 'longrope'; Qwen2-VL's 'mrope' → 'default'.
 */
function ropeTypeOf(params: Readonly<Record<string, unknown>>, where: string): { ropeType: HFRoPEType; alias: string[] } {
  const key = params['rope_type'] !== undefined && params['rope_type'] !== null ? 'rope_type' : 'type';
  const given = params['rope_type'] ?? params['type'] ?? 'default';
  const phi3Yarn = given === 'yarn' && params['short_factor'] !== undefined && params['long_factor'] !== undefined;
  const aliased = given === 'su' || phi3Yarn ? 'longrope' : given === 'mrope' ? 'default' : undefined;
  if (aliased !== undefined) return { ropeType: aliased, alias: [`${OP}: ${where}.${key}='${String(given)}' is a legacy spelling, read as '${aliased}' (as transformers does)`] };
  const known: readonly string[] = HF_ROPE_TYPES;
  if (typeof given !== 'string' || !known.includes(given)) {
    throw new ValueError(OP, `unknown rope_type — ${where}.rope_type=${describe(given)} (accepted: ${HF_ROPE_TYPES.join(', ')}; legacy: su, mrope)`, 'rope_type');
  }
  return { ropeType: given as HFRoPEType, alias: [] };
}

/**
 * The config's top-level numeric fields that this reader knows, checked whenever present — also when the rope type
 * at hand does not read them — so that a null, a string or a fractional size is refused rather than ignored.
 * (head_dim and qk_rope_head_dim may be null: HF configs write null for "derive it from hidden_size".)
 */
const TOP_FIELDS: Readonly<Record<string, NumberRule>> = {
  rope_theta: { above: 1 },
  hidden_size: { integer: true, above: 0 },
  num_attention_heads: { integer: true, above: 0 },
  max_position_embeddings: { integer: true, above: 0 },
  partial_rotary_factor: { above: 0, max: 1 },
  rope_local_base_freq: { above: 1 },
  global_head_dim: { integer: true, above: 0 },
};

function checkTopFields(config: HFRoPEConfig): void {
  for (const [key, rule] of Object.entries(TOP_FIELDS)) {
    if (config[key] !== undefined) expectNumber(OP, key, config[key], rule);
  }
}

/** head_dim as HF's configs resolve it: qk_rope_head_dim (DeepSeek), else head_dim, else hidden_size // num_attention_heads. */
function headDimOf(config: HFRoPEConfig): number {
  const explicit = topNumber(config, 'qk_rope_head_dim') || topNumber(config, 'head_dim');
  if (explicit !== undefined) {
    return expectSize(OP, 'head_dim', explicit); // channels per head
  }
  const hidden = topNumber(config, 'hidden_size');
  const heads = topNumber(config, 'num_attention_heads');
  if (hidden === undefined || heads === undefined) {
    throw new ValueError(OP, `the head size is missing — head_dim=undefined, hidden_size=${hidden}, num_attention_heads=${heads} (give head_dim, or hidden_size and num_attention_heads)`, 'head_dim');
  }
  return Math.floor(hidden / heads); // both integers > 0: checkTopFields checked them
}

/** Reads typed fields of one rope dict; a missing required field names the rope type's keys. */
class FieldReader {
  constructor(
    private readonly params: Readonly<Record<string, unknown>>,
    readonly where: string,
    private readonly ropeType: HFRoPEType,
  ) {}

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.params, key);
  }

  raw(key: string): unknown {
    return this.params[key];
  }

  /** A finite number, or undefined when absent or null. */
  number(key: string): number | undefined {
    const v = this.params[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(OP, `${this.where}.${key} is not a finite number — ${key}=${describe(v)} (rope_type '${this.ropeType}' reads it as a number)`, key);
    return v;
  }

  required(key: string): number {
    const v = this.number(key);
    if (v === undefined) this.missing(key, this.where);
    return v;
  }

  flag(key: string): boolean {
    const v = this.params[key];
    if (v === null) return false;
    if (typeof v !== 'boolean') throw new ValueError(OP, `${this.where}.${key} is not a boolean — ${key}=${describe(v)} (rope_type '${this.ropeType}' reads it as true/false)`, key);
    return v;
  }

  list(key: string): readonly number[] {
    const v = this.params[key];
    if (v === undefined || v === null) this.missing(key, this.where);
    if (!Array.isArray(v) || !v.every((x): x is number => typeof x === 'number')) {
      throw new ValueError(OP, `${this.where}.${key} is not a list of numbers — ${key}=${describe(v)} (rope_type '${this.ropeType}' needs one factor per pair)`, key);
    }
    return v;
  }

  missing(key: string, place: string): never {
    const { required, optional } = ROPE_KEYS[this.ropeType];
    const given = Object.keys(this.params);
    throw new ValueError(
      OP,
      `rope_type '${this.ropeType}' is missing ${key} in ${place} — ${this.where} has {${given.join(', ')}} (${this.ropeType} requires: ${required.join(', ') || 'nothing'}; optional: ${optional.join(', ')})`,
      key,
    );
  }
}

function topNumber(config: HFRoPEConfig, key: string): number | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValueError(OP, `config.${key} is not a finite number — ${key}=${describe(v)} (config.json field)`, key);
  return v;
}

function optional<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.length} items]`;
  if (typeof v === 'object' && v !== null) return '{…}';
  return String(v);
}
