/**
 * RoPE frequencies and attention factor from a Hugging Face config.json, with transformers' semantics
 * (`standardize_rope_params`, then `ROPE_INIT_FUNCTIONS[rope_type]` in `modeling_rope_utils.py`, v5):
 * θ_i = rope_theta^(−2i/d) with d = int(head_dim · partial_rotary_factor), then the scaling rule of the rope type.
 */
import { DTypeError, ValueError, describeValue, expectBoolean, expectNumber, expectOptions, expectSize, type NumberRule } from '../core/index.js';
import { checkBase, checkContextLength, checkString } from './checks.js';
import { llama3Table } from './llama3.js';
import { longRopeAttention, longRopeTable } from './longrope.js';
import { dynamicNtkTable } from './ntk.js';
import { piTable } from './pi.js';
import { invFreqLadder } from './rope.js';
import { yarnAttention, yarnTable, type YaRNOptions } from './yarn.js';

/** The rope types computed here: HF's 'default' and its scaling rules ('proportional' is p-RoPE, a separate method). */
export const HF_ROPE_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'] as const;
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
  /** Newer rope dict, or one dict per layer type ({ full_attention: {…}, sliding_attention: {…} }). */
  rope_parameters?: HFRoPEParameters | Readonly<Record<string, HFRoPEParameters>> | null;
  readonly [field: string]: unknown;
}

export interface FromHFConfigOptions {
  /** Current sequence length (max position id + 1): dynamic rescales beyond max_position_embeddings; longrope switches to long_factor beyond the original length. */
  seqLen?: number;
  /** Which entry of a per-layer rope_parameters dict to use. */
  layerType?: string;
  /** Refuse keys of the rope dict that its rope type does not read (HF only warns; default false: listed in `warnings`). */
  strict?: boolean;
}

export interface HFRoPESettings {
  /** θ′ [rotaryDim/2], float64 (transformers computes these in float32). */
  invFreq: Float64Array;
  /** Multiplier on cos and sin (HF `attention_scaling`); the logits get its square. */
  attentionFactor: number;
  /** Rotated channels per head: int(head_dim · partial_rotary_factor). */
  rotaryDim: number;
  ropeType: HFRoPEType;
  /** What transformers would warn about: keys of the rope dict that its rope type ignores. */
  warnings: string[];
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
};

const OP = 'fromHFConfig';

/**
 * θ′, attention factor and rotary dim for the config's rope type, as transformers computes them. The rope dict is
 * `rope_scaling` when non-empty, else `rope_parameters` (else plain RoPE); its rope_type falls back to `type`, then
 * 'default'. original_max_position_embeddings comes from the top level, else the dict, else max_position_embeddings.
 */
export function fromHFConfig(config: HFRoPEConfig, options: FromHFConfigOptions = {}): HFRoPESettings {
  if (!isRecord(config)) throw new DTypeError(OP, `config must be an object (the parsed config.json), got ${describeValue(config)}`, 'config');
  const o = expectOptions(OP, 'options', options, ['seqLen', 'layerType', 'strict']);
  const seqLen = o.seqLen === undefined ? undefined : checkContextLength(OP, 'seqLen', o.seqLen);
  if (o.layerType !== undefined) checkString(OP, 'layerType', o.layerType);
  const strict = o.strict === undefined ? false : expectBoolean(OP, 'strict', o.strict);
  checkTopFields(config);
  const { params, where, perLayer } = ropeDict(config, o.layerType);
  const ropeType = ropeTypeOf(params, where);
  const read = new FieldReader(params, where, ropeType);
  const warnings = unknownKeys(params, where, ropeType, strict);

  const base = checkBase(OP, 'rope_theta', read.number('rope_theta') ?? topNumber(config, 'rope_theta') ?? 10000); // θ_i = rope_theta^(−2i/d)
  const partial = expectNumber(OP, 'partial_rotary_factor', topNumber(config, 'partial_rotary_factor') ?? read.number('partial_rotary_factor') ?? 1, TOP_FIELDS.partial_rotary_factor!); // the rotated fraction of each head
  const headDim = headDimOf(config);
  const rotaryDim = Math.trunc(headDim * partial);
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
      return { invFreq: plain(), attentionFactor: 1, rotaryDim, ropeType, warnings };
    case 'linear':
      return { invFreq: piTable(OP, { dim: rotaryDim, base, factor: read.required('factor') }), attentionFactor: 1, rotaryDim, ropeType, warnings };
    case 'dynamic': {
      const factor = read.required('factor');
      const invFreq = dynamicNtkTable(OP, { dim: rotaryDim, base, factor, maxPositions: maxPositions('dynamic rescales beyond this trained length'), ...(seqLen !== undefined ? { seqLen } : {}) });
      return { invFreq, attentionFactor: 1, rotaryDim, ropeType, warnings };
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
      return { invFreq: yarnTable(OP, yarn), attentionFactor: yarnAttention(OP, yarn), rotaryDim, ropeType, warnings };
    }
    case 'llama3': {
      const invFreq = llama3Table(OP, {
        dim: rotaryDim,
        base,
        factor: read.required('factor'),
        originalMaxPositions: originalMaxPositions(),
        lowFreqFactor: read.required('low_freq_factor'),
        highFreqFactor: read.required('high_freq_factor'),
      });
      return { invFreq, attentionFactor: 1, rotaryDim, ropeType, warnings };
    }
    case 'longrope': {
      const shortFactor = read.list('short_factor');
      const longFactor = read.list('long_factor');
      const original = originalMaxPositions();
      const factor = read.number('factor') ?? maxPositions('without factor, s = max_position_embeddings / original') / original; // HF: Phi-3 derives s from the two lengths
      const invFreq = longRopeTable(OP, { dim: rotaryDim, base, shortFactor, longFactor, originalMaxPositions: original, ...(seqLen !== undefined ? { seqLen } : {}) });
      const attentionFactor = longRopeAttention(OP, { factor, originalMaxPositions: original, ...optional('attentionFactor', read.number('attention_factor')) });
      return { invFreq, attentionFactor, rotaryDim, ropeType, warnings };
    }
  }
}

/** The rope dict in use and how to name it in messages; per-layer dicts are resolved by layerType. */
function ropeDict(config: HFRoPEConfig, layerType: string | undefined): { params: Readonly<Record<string, unknown>>; where: string; perLayer: boolean } {
  const legacy: unknown = config.rope_scaling;
  if (legacy !== undefined && legacy !== null && !isRecord(legacy)) {
    throw new DTypeError(OP, `rope_scaling must be an object, got ${describeValue(legacy)}`, 'rope_scaling');
  }
  const useLegacy = isRecord(legacy) && Object.keys(legacy).length > 0;
  const where = useLegacy ? 'rope_scaling' : 'rope_parameters';
  const raw: unknown = useLegacy ? legacy : config.rope_parameters;
  if (raw === undefined || raw === null) return { params: {}, where, perLayer: false };
  if (!isRecord(raw)) throw new DTypeError(OP, `${where} must be an object, got ${describeValue(raw)}`, where);
  const values = Object.values(raw);
  const perLayer = values.length > 0 && values.every(isRecord);
  if (!perLayer) {
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
  const known = new Set(['rope_type', 'type', ...required, ...optional]);
  const unknown = Object.keys(params).filter((k) => !known.has(k));
  if (unknown.length === 0) return [];
  const message = `${where} has keys that rope_type '${ropeType}' does not read: ${unknown.join(', ')} (it reads: ${[...required, ...optional].join(', ')})`;
  if (strict) throw new ValueError(OP, `${message}; strict refuses them`, `${where}.${unknown[0]}`);
  return [`${OP}: ${message}`];
}

function ropeTypeOf(params: Readonly<Record<string, unknown>>, where: string): HFRoPEType {
  const given = params['rope_type'] ?? params['type'] ?? 'default';
  const known: readonly string[] = HF_ROPE_TYPES;
  if (typeof given !== 'string' || !known.includes(given)) {
    throw new ValueError(OP, `unknown rope_type — ${where}.rope_type=${describe(given)} (accepted: ${HF_ROPE_TYPES.join(', ')})`, 'rope_type');
  }
  return given as HFRoPEType;
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
    private readonly where: string,
    private readonly ropeType: HFRoPEType,
  ) {}

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.params, key);
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
