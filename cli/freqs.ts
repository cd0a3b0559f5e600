/**
 * `ropelab freqs`: what a Hugging Face config.json does to each RoPE pair, read by the library's `fromHFConfig`
 * (positional/hf-config.ts, transformers' `ROPE_INIT_FUNCTIONS` semantics). Per pair i:
 *   θ′_i   the inverse frequency in force (fromHFConfig's invFreq, exactly)
 *   λ′_i = 2π/θ′_i, the wavelength in tokens (pairWavelengths; a dropped p-RoPE pair, θ′ = 0, never turns: null)
 *   θ_i  = base^(−2i/d), the unscaled ladder (d = rotary dim; for 'proportional' d = the head the table spans)
 *   ρ_i  = θ′_i/θ_i and the regime: 'extrapolate' (ρ = 1, the pair is kept as trained), 'interpolate' (ρ ≤ 1/s, the
 *          pair turns s times slower or more: PI, YaRN γ = 1, Llama-3 low band, LongRoPE λ_i ≥ s), 'blend' (in
 *          between: YaRN's ramp, Llama-3's smooth band, dynamic NTK's inner pairs, LongRoPE 1 < λ_i < s), 'dropped'
 *          (θ′ = 0: p-RoPE's NoPE pairs). ρ > 1 (a LongRoPE factor below 1) counts as 'extrapolate'.
 * s is the scaling factor in force: `factor` (yarn and longrope without one: max_position_embeddings / original, as
 * HF); for dynamic NTK the effective factor at the length, s·ℓ/L − (s − 1) with ℓ = max(--seq-len, L) (1 without
 * --seq-len), by which it interpolates its slowest pair. The comparisons allow a relative 1e-9 (θ/s rounds).
 * Plus the attention factor (HF attention_scaling, on cos and sin) and the logit factor, its square; M-RoPE: the
 * axis (t, h, w) each pair reads; LongRoPE: λ_i and which list (short/long) is in force at --seq-len.
 */
import { AutogradError, AxisError, DTypeError, GradcheckError, IndexError, ShapeError, ValueError } from '../core/index.js';
import { fromHFConfig, pairWavelengths, ropeFromHFConfig, ropeInvFreq, type HFRoPEConfig, type HFRoPESettings } from '../positional/index.js';
import { FlagError, integerFlag, parseFlags, pathFlag } from '../scripts/lib/flags.js';
import { readJsonObject, type CliCommand, type CliIO } from './command.js';

export type PairRegime = 'extrapolate' | 'blend' | 'interpolate' | 'dropped';
export const PAIR_REGIMES: readonly PairRegime[] = ['extrapolate', 'blend', 'interpolate', 'dropped'];
const AXES = ['t', 'h', 'w'] as const;

export interface PairReport {
  pair: number;
  /** θ′_i, fromHFConfig's value. */
  invFreq: number;
  /** 2π/θ′_i in tokens; null when θ′_i = 0. */
  wavelength: number | null;
  /** θ_i = base^(−2i/d). */
  unscaledInvFreq: number;
  unscaledWavelength: number;
  /** θ′_i/θ_i. */
  ratio: number;
  regime: PairRegime;
  /** M-RoPE only: the position axis the pair reads. */
  axis?: 't' | 'h' | 'w';
  /** LongRoPE only: λ_i of the list in force (θ′_i = θ_i/λ_i). */
  longropeFactor?: number;
}

/** The --json object of `ropelab freqs` (documented in its --help). */
export interface FreqsReport {
  command: 'freqs';
  config: string;
  layerType: string | null;
  seqLen: number | null;
  ropeType: HFRoPESettings['ropeType'];
  /** Where the rope dict came from: 'rope_scaling', 'rope_parameters', 'rope_parameters.<layer type>', 'rope_local_base_freq'; null without one. */
  ropeDict: string | null;
  base: number;
  headDim: number;
  rotaryDim: number;
  /** The scaling factor s the regimes compare against (see the header of cli/freqs.ts). */
  factor: number;
  maxPositionEmbeddings: number | null;
  /** L of yarn, llama3, longrope (top level, else the rope dict, else max_position_embeddings); null for the others. */
  originalMaxPositionEmbeddings: number | null;
  /** LongRoPE: the list in force at seqLen; null for the other rope types. */
  longropeList: 'short' | 'long' | null;
  /** Multiplier on cos and sin. */
  attentionFactor: number;
  /** attentionFactor², the multiplier on the attention logits. */
  logitFactor: number;
  mrope: { section: [number, number, number]; interleaved: boolean } | null;
  /** The `name` of the encoding ropeFromHFConfig builds ('rope', 'dynamic-ntk', 'longrope', 'p-rope', 'mrope', …; null when it refuses: the reason is in warnings). */
  encoding: string | null;
  warnings: string[];
  regimeCounts: Record<PairRegime, number>;
  pairs: PairReport[];
}

export interface FreqsOptions {
  layerType?: string;
  seqLen?: number;
}

/** The report for a parsed config.json (`name`: how to refer to it, e.g. its path). Throws the library's typed errors. */
export function freqsReport(name: string, config: HFRoPEConfig, options: FreqsOptions = {}): FreqsReport {
  const { layerType, seqLen } = options;
  const s = fromHFConfig(config, { ...(layerType !== undefined ? { layerType } : {}), ...(seqLen !== undefined ? { seqLen } : {}) });
  const { base } = s;
  const maxPositions = s.maxPositionEmbeddings ?? null;
  const original = s.originalMaxPositions ?? null;
  const factor = factorInForce(s, seqLen);
  const warnings = [...s.warnings];

  const unscaled = ropeInvFreq(s.ropeType === 'proportional' ? s.headDim : s.rotaryDim, base);
  const wavelengths = pairWavelengths(s.invFreq);
  const unscaledWavelengths = pairWavelengths(unscaled);
  const longropeList = s.ropeType === 'longrope' ? (seqLen !== undefined && seqLen > original! ? 'long' : 'short') : null;
  const lambdas = longropeList === null ? null : longropeList === 'long' ? s.longFactor! : s.shortFactor!;
  const axes = s.mropeAxes ?? null;

  const regimeCounts: Record<PairRegime, number> = { extrapolate: 0, blend: 0, interpolate: 0, dropped: 0 };
  const pairs = Array.from(s.invFreq, (theta, i): PairReport => {
    const ratio = theta / unscaled[i]!;
    const regime = regimeOf(ratio, factor);
    regimeCounts[regime]++;
    return {
      pair: i,
      invFreq: theta,
      wavelength: Number.isFinite(wavelengths[i]!) ? wavelengths[i]! : null,
      unscaledInvFreq: unscaled[i]!,
      unscaledWavelength: unscaledWavelengths[i]!,
      ratio,
      regime,
      ...(axes !== null ? { axis: AXES[axes[i]!]! } : {}),
      ...(lambdas !== null ? { longropeFactor: lambdas[i]! } : {}),
    };
  });

  let encoding: string | null = null;
  try {
    encoding = ropeFromHFConfig(config, layerType !== undefined ? { layerType } : {}).name;
  } catch (err) {
    if (!isLibraryError(err)) throw err;
    warnings.push(`${err.message} (the table above is fromHFConfig's; ropelab builds no encoding for this config)`);
  }

  return {
    command: 'freqs',
    config: name,
    layerType: layerType ?? null,
    seqLen: seqLen ?? null,
    ropeType: s.ropeType,
    ropeDict: s.ropeDict,
    base,
    headDim: s.headDim,
    rotaryDim: s.rotaryDim,
    factor,
    maxPositionEmbeddings: maxPositions,
    originalMaxPositionEmbeddings: original,
    longropeList,
    attentionFactor: s.attentionFactor,
    logitFactor: s.attentionFactor * s.attentionFactor,
    mrope: s.mropeSection === undefined ? null : { section: s.mropeSection, interleaved: s.mropeInterleaved === true },
    encoding,
    warnings,
    regimeCounts,
    pairs,
  };
}

/** ρ = θ′/θ against 1 and 1/s, with a relative tolerance of 1e-9. */
export function regimeOf(ratio: number, factor: number): PairRegime {
  const tol = 1e-9;
  if (ratio === 0) return 'dropped';
  if (ratio >= 1 - tol) return 'extrapolate';
  if (ratio * factor <= 1 + tol) return 'interpolate';
  return 'blend';
}

/** s for the rope type (see the file header): the config's (or derived) factor; dynamic's effective one at seqLen; 1 for default. */
function factorInForce(s: HFRoPESettings, seqLen: number | undefined): number {
  if (s.ropeType !== 'dynamic') return s.factor ?? 1;
  const trained = s.maxPositionEmbeddings!;
  const length = Math.max(seqLen ?? trained, trained);
  return (s.factor! * length) / trained - (s.factor! - 1);
}

/** One of core/errors.ts's typed errors (each carries the `op` that refused its input). */
export function isLibraryError(err: unknown): err is Error & { op: string } {
  return [ShapeError, DTypeError, AxisError, ValueError, IndexError, AutogradError, GradcheckError].some((E) => err instanceof E);
}

// ── the command ──────────────────────────────────────────────────────────────────────────────────────────────

const HELP = `usage: ropelab freqs --config config.json [--layer-type T] [--seq-len N] [--json]

What a Hugging Face config.json's RoPE does to each rotary pair, as ropelab's fromHFConfig reads it (rope types
default, linear, dynamic, yarn, llama3, longrope, proportional; mrope_section; per-layer rope_parameters; Gemma-3's
rope_local_base_freq). Per pair i:
  θ′       inverse frequency in force (radians per token)
  λ′       wavelength 2π/θ′ in tokens ('never' for a dropped p-RoPE pair)
  θ        unscaled base^(−2i/d), and ratio θ′/θ
  regime   extrapolate (θ′ = θ, kept as trained), interpolate (θ′ ≤ θ/s), blend (in between), dropped (θ′ = 0);
           s = the config's factor (dynamic: its effective factor at --seq-len)
  axis     M-RoPE: the position axis (t, h, w) the pair reads;  λ  LongRoPE: the pair's factor (θ′ = θ/λ)
and the attention factor (on cos and sin) with the logit factor, its square.

  --config F       the config.json (required)
  --layer-type T   which per-layer rope dict (e.g. full_attention, sliding_attention)
  --seq-len N      sequence length: dynamic rescales and longrope switches to long_factor beyond the trained length
  --json           one JSON object instead of the table:
                   { command, config, layerType, seqLen, ropeType, ropeDict, base, headDim, rotaryDim, factor,
                     maxPositionEmbeddings, originalMaxPositionEmbeddings, longropeList, attentionFactor,
                     logitFactor, mrope: {section, interleaved} | null, encoding, warnings: [..],
                     regimeCounts: {extrapolate, blend, interpolate, dropped},
                     pairs: [{ pair, invFreq, wavelength (null if θ′ = 0), unscaledInvFreq, unscaledWavelength,
                               ratio, regime, axis? (M-RoPE), longropeFactor? (longrope) }] }
  --help           this text

Exit status: 0, or 2 for a bad flag or a config that cannot be read or that fromHFConfig refuses (one line on stderr).`;

interface FreqsFlags {
  config?: string;
  layerType?: string;
  seqLen?: number;
  json: boolean;
}

/** Reads `--config` and builds the report; the library's refusal becomes one FlagError line naming the file. */
export function reportFromFile(command: string, path: string, options: FreqsOptions): FreqsReport {
  const config = readJsonObject(command, '--config', path);
  try {
    return freqsReport(path, config, options);
  } catch (err) {
    if (isLibraryError(err)) throw new FlagError(`ropelab ${command}: --config '${path}': ${err.message}`);
    throw err;
  }
}

export const freqsCommand: CliCommand = {
  name: 'freqs',
  summary: 'per-pair inverse frequency, wavelength and scaling regime of a config.json, and its attention factor',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const flags = parseFlags<FreqsFlags>('ropelab freqs', argv, { json: false }, {
      values: {
        config: (f, v) => (f.config = pathFlag(v)),
        'layer-type': (f, v) => (f.layerType = pathFlag(v)),
        'seq-len': (f, v) => (f.seqLen = integerFlag(v, 1)),
      },
      switches: { json: (f) => (f.json = true) },
    });
    if (flags === 'help') {
      io.stdout(HELP);
      return 0;
    }
    if (flags.config === undefined) throw new FlagError('ropelab freqs: give --config config.json (see --help)');
    const report = reportFromFile('freqs', flags.config, { ...(flags.layerType !== undefined ? { layerType: flags.layerType } : {}), ...(flags.seqLen !== undefined ? { seqLen: flags.seqLen } : {}) });
    io.stdout(flags.json ? JSON.stringify(report, null, 2) : formatFreqs(report, argv));
    return 0;
  },
};

/** The human table: a header with the config and parameters, then one aligned row per pair. */
export function formatFreqs(r: FreqsReport, argv: readonly string[]): string {
  const g = (v: number, digits = 6): string => (v === 0 ? '0' : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e7 ? String(Number(v.toPrecision(digits))) : v.toExponential(digits - 1));
  const lines: string[] = [`ropelab freqs ${argv.join(' ')}`];
  lines.push(`config ${r.config}${r.layerType !== null ? `, layer type ${r.layerType}` : ''}${r.seqLen !== null ? `, seq len ${r.seqLen}` : ''}`);
  lines.push(`rope_type ${r.ropeType}${r.ropeDict !== null ? ` (from ${r.ropeDict})` : ''}; base ${g(r.base)}; head dim ${r.headDim}, rotary dim ${r.rotaryDim}, ${r.pairs.length} pairs${r.encoding !== null ? `; ropelab builds ${r.encoding}` : ''}`);
  const lengths = [
    `scaling factor s = ${g(r.factor)}${r.ropeType === 'dynamic' ? ' (effective at this length)' : ''}`,
    r.maxPositionEmbeddings !== null ? `max_position_embeddings ${r.maxPositionEmbeddings}` : '',
    r.originalMaxPositionEmbeddings !== null ? `original_max_position_embeddings ${r.originalMaxPositionEmbeddings}` : '',
    r.longropeList !== null ? `longrope uses ${r.longropeList}_factor` : '',
  ].filter((x) => x !== '');
  lines.push(lengths.join('; '));
  if (r.mrope !== null) lines.push(`M-RoPE sections [t, h, w] = [${r.mrope.section.join(', ')}]${r.mrope.interleaved ? ', interleaved' : ''}`);
  lines.push(`attention factor ${g(r.attentionFactor, 9)} on cos and sin (logits × ${g(r.logitFactor, 9)})`);
  lines.push(`regimes: ${PAIR_REGIMES.filter((k) => r.regimeCounts[k] > 0).map((k) => `${r.regimeCounts[k]} ${k}`).join(', ')}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  const extra = r.mrope !== null ? ['axis'] : r.longropeList !== null ? ['λ'] : [];
  const head = ['pair', 'θ′ (inv freq)', 'λ′ (tokens)', 'θ (unscaled)', 'λ (unscaled)', 'θ′/θ', 'regime', ...extra];
  const rows = r.pairs.map((p) => [
    String(p.pair),
    g(p.invFreq),
    p.wavelength === null ? 'never' : g(p.wavelength),
    g(p.unscaledInvFreq),
    g(p.unscaledWavelength),
    g(p.ratio),
    p.regime,
    ...(p.axis !== undefined ? [p.axis] : p.longropeFactor !== undefined ? [g(p.longropeFactor)] : []),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const fmt = (cells: string[]): string => cells.map((cell, c) => (c === 6 || c === 7 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  lines.push('', fmt(head), ...rows.map(fmt));
  return lines.join('\n');
}
