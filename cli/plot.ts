/**
 * `ropelab plot freqs|decay|angles`: SVG charts (scripts/lib/svg.ts lineChart) of a RoPE table, from a config.json
 * (fromHFConfig, through cli/freqs.ts's report: θ′ in force and the unscaled θ_i = base^(−2i/d)) or from --base/--dim
 * (plain RoPE, θ_i = base^(−2i/d)):
 * - freqs:  wavelength λ_i = 2π/θ_i per pair index (log y; RoFormer §3.3), scaled and unscaled, with the config's
 *           original and extended context lengths as horizontal reference lines (pairs above a line never complete a
 *           turn within that many tokens).
 * - decay:  the long-term decay B_m/(d/2) = (2/d)·Σ_i cos(m·θ_i) over relative distance m (Men et al. 2024;
 *           positional/analysis.ts decayCurve, log-spaced m, log x), with the context length as a vertical line.
 * - angles: cos(m·θ_i) (or m·θ_i mod 2π) against position m for a few pairs (default: the pairs whose unscaled
 *           wavelengths are nearest L/8, L/2 and 2L, so they turn about 8, 2 and ½ times over the plotted [0, L]).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { decayCurve, pairWavelengths, ropeInvFreq } from '../positional/index.js';
import { FlagError, choiceFlag, integerFlag, integerListFlag, numberFlag, parseFlags, pathFlag } from '../scripts/lib/flags.js';
import { PALETTE, lineChart, type LineSeries } from '../scripts/lib/svg.js';
import { type CliCommand, type CliIO } from './command.js';
import { isLibraryError, reportFromFile } from './freqs.js';

export const PLOT_KINDS = ['freqs', 'decay', 'angles'] as const;
export type PlotKind = (typeof PLOT_KINDS)[number];

/** The table a plot draws: θ′ in force, the unscaled θ, and what to call them. */
interface PlotTable {
  /** e.g. "yarn (config.json)" or "plain RoPE". */
  label: string;
  invFreq: Float64Array;
  unscaled: Float64Array;
  /** True when invFreq differs from unscaled (a scaling rule acts). */
  scaled: boolean;
  base: number;
  rotaryDim: number;
  /** Reference lengths: [name, tokens]. */
  lengths: Array<[string, number]>;
  /** The decay plot's default largest distance: --seq-len, else max_position_embeddings, else 65536. */
  context: number;
  /** The angle plot's default last position: original_max_position_embeddings, else max_position_embeddings, else 4096. */
  angleContext: number;
}

/** What plotSeries returns: the report's chart fields and the series as lineChart draws them. */
type Drawn = Omit<PlotReport, 'command' | 'kind' | 'out'> & { lineSeries: LineSeries[] };

/** The --json object of `ropelab plot` (the series exactly as drawn, non-finite values as null). */
export interface PlotReport {
  command: 'plot';
  kind: PlotKind;
  out: string;
  title: string;
  xLabel: string;
  yLabel: string;
  logX: boolean;
  logY: boolean;
  series: Array<{ name: string; points: Array<[number | null, number | null]> }>;
}

const HELP = `usage: ropelab plot freqs|decay|angles (--config config.json [--layer-type T] [--seq-len N] | --base B --dim d)
                    [--compare-plain] [--max-distance N] [--pairs i,j,…] [--max-position N] [--angle cos|mod]
                    --out file.svg [--json]

Draws an SVG chart of a RoPE frequency table: the config's (as fromHFConfig reads it, at --seq-len) or plain RoPE
with base B and rotary dim d.
  freqs    wavelength 2π/θ_i (tokens, log scale) per pair index; a scaled config is drawn next to its unscaled
           ladder, with its original and max_position_embeddings lengths as horizontal lines
  decay    long-term decay B_m/(d/2) = (2/d)·Σ_i cos(m·θ_i) against distance m (log scale; Men et al. 2024), with
           the context length as a vertical line
  angles   cos(m·θ_i) (--angle cos, default) or m·θ_i mod 2π (--angle mod) against position m for a few pairs

  --config F         a config.json;  --layer-type T, --seq-len N as for ropelab freqs
  --base B --dim d   plain RoPE instead of a config (d even)
  --compare-plain    decay, angles: also draw plain RoPE of the same base and rotary dim, dashed (freqs always does
                     for a scaled config)
  --max-distance N   decay: largest distance (default: the config's max_position_embeddings, else 65536)
  --pairs i,j,…      angles: pair indices (default: the pairs whose unscaled wavelengths are nearest L/8, L/2, 2L)
  --max-position N   angles: last position (default L: original_max_position_embeddings, else
                     max_position_embeddings, else 4096)
  --angle cos|mod    angles: what the y axis shows (default cos)
  --out F            the SVG file to write (required; folders are created)
  --json             also print the drawn series as JSON: { command, kind, out, title, xLabel, yLabel, logX, logY,
                     series: [{ name, points: [[x, y], …] }] } (null for a gap)
  --help             this text

Exit status: 0, or 2 for a bad flag, an unreadable or refused config, or an --out that cannot be written.`;

interface PlotFlags {
  config?: string;
  layerType?: string;
  seqLen?: number;
  base?: number;
  dim?: number;
  comparePlain: boolean;
  maxDistance?: number;
  pairs?: number[];
  maxPosition?: number;
  angle: 'cos' | 'mod';
  out?: string;
  json: boolean;
}

function tableOf(flags: PlotFlags): PlotTable {
  if (flags.config !== undefined) {
    const r = reportFromFile('plot', flags.config, { ...(flags.layerType !== undefined ? { layerType: flags.layerType } : {}), ...(flags.seqLen !== undefined ? { seqLen: flags.seqLen } : {}) });
    const invFreq = Float64Array.from(r.pairs, (p) => p.invFreq);
    const unscaled = Float64Array.from(r.pairs, (p) => p.unscaledInvFreq);
    const lengths: Array<[string, number]> = [];
    if (r.originalMaxPositionEmbeddings !== null) lengths.push(['original context', r.originalMaxPositionEmbeddings]);
    if (r.maxPositionEmbeddings !== null && r.maxPositionEmbeddings !== r.originalMaxPositionEmbeddings) lengths.push(['max_position_embeddings', r.maxPositionEmbeddings]);
    if (r.seqLen !== null && !lengths.some(([, n]) => n === r.seqLen)) lengths.push(['--seq-len', r.seqLen]);
    return {
      label: `${r.ropeType}${r.factor !== 1 ? ` s=${fmt(r.factor)}` : ''}`,
      invFreq,
      unscaled,
      scaled: r.pairs.some((p) => p.regime !== 'extrapolate'),
      base: r.base,
      rotaryDim: r.ropeType === 'proportional' ? r.headDim : r.rotaryDim,
      lengths,
      context: r.seqLen ?? r.maxPositionEmbeddings ?? 65536,
      angleContext: r.originalMaxPositionEmbeddings ?? r.maxPositionEmbeddings ?? 4096,
    };
  }
  const theta = ropeInvFreq(flags.dim!, flags.base!);
  return { label: 'plain RoPE', invFreq: theta, unscaled: theta, scaled: false, base: flags.base!, rotaryDim: flags.dim!, lengths: [], context: 65536, angleContext: 4096 };
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e5 ? v.toExponential(2).replace('e+', 'e') : String(Number(v.toPrecision(4)));
}

/** Reference lines (context lengths): grey, the k-th with its own dash pattern. */
function referenceStyle(k: number): { color: string; dash: string } {
  return { color: k === 0 ? '#777777' : '#444444', dash: ['2 3', '8 3 2 3', '1 5'][k % 3]! };
}

/** The chart's options (title, axes, series) for a plot kind; pure, so tests compare its numbers with the library. */
export function plotSeries(kind: PlotKind, t: PlotTable, flags: Pick<PlotFlags, 'comparePlain' | 'maxDistance' | 'pairs' | 'maxPosition' | 'angle'>): Drawn {
  const plainName = `plain RoPE (base ${fmt(t.base)})`;
  const what = `d = ${t.rotaryDim}, base ${fmt(t.base)}`;
  if (kind === 'freqs') {
    const series: LineSeries[] = [{ name: t.scaled ? t.label : plainName, points: Array.from(pairWavelengths(t.invFreq), (l, i) => [i, l] as [number, number]), color: PALETTE[0]! }];
    if (t.scaled) series.push({ name: plainName, points: Array.from(pairWavelengths(t.unscaled), (l, i) => [i, l] as [number, number]), color: PALETTE[1]!, dash: '6 3' });
    const last = t.invFreq.length - 1;
    t.lengths.forEach(([name, n], k) => series.push({ name: `${name} ${n}`, points: [[0, n], [last, n]], ...referenceStyle(k) }));
    return chart(`RoPE wavelength per pair (${t.scaled ? `${t.label}, ` : ''}${what})`, 'pair index i', 'wavelength 2π/θ_i (tokens)', false, true, series);
  }
  if (kind === 'decay') {
    const maxDistance = flags.maxDistance ?? t.context;
    const curve = (theta: Float64Array): Array<[number, number]> => decayCurve(theta, { maxDistance, points: 400, spacing: 'log' });
    const series: LineSeries[] = [{ name: t.label, points: curve(t.invFreq), color: PALETTE[0]! }];
    if (flags.comparePlain && t.scaled) series.push({ name: plainName, points: curve(t.unscaled), color: PALETTE[1]!, dash: '6 3' });
    const ys = series.flatMap((s) => s.points.map(([, y]) => y));
    const lo = Math.min(...ys);
    t.lengths.forEach(([name, n], k) => {
      if (n <= maxDistance) series.push({ name: `${name} ${n}`, points: [[n, lo], [n, 1]], ...referenceStyle(k) });
    });
    return chart(`Long-term decay B_m/(d/2) (${t.label}, ${what})`, 'relative distance m (tokens)', 'B_m / (d/2)', true, false, series);
  }
  // angles
  const context = flags.maxPosition ?? t.angleContext;
  const wavelengths = pairWavelengths(t.unscaled);
  const pairs = flags.pairs ?? defaultPairs(wavelengths, context);
  const bad = pairs.find((i) => i >= t.invFreq.length);
  if (bad !== undefined) throw new FlagError(`ropelab plot: --pairs ${pairs.join(',')} has pair ${bad}, but the table has ${t.invFreq.length} pairs (0 … ${t.invFreq.length - 1})`);
  const positions = samplePositions(context, 800);
  const curve = (theta: number): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    for (const m of positions) {
      if (flags.angle === 'cos') out.push([m, Math.cos(m * theta)]);
      else {
        const a = (m * theta) % (2 * Math.PI);
        if (out.length > 0 && a < out[out.length - 1]![1]) out.push([NaN, NaN]); // wrapped: a gap, not a vertical line
        out.push([m, a]);
      }
    }
    return out;
  };
  const series: LineSeries[] = [];
  pairs.forEach((i, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    const l = pairWavelengths([t.invFreq[i]!])[0]!;
    series.push({ name: `pair ${i} (λ ${Number.isFinite(l) ? fmt(l) : '∞'})${t.scaled ? ` ${t.label}` : ''}`, points: curve(t.invFreq[i]!), color });
    if (flags.comparePlain && t.scaled) series.push({ name: `pair ${i} plain (λ ${fmt(wavelengths[i]!)})`, points: curve(t.unscaled[i]!), color, dash: '6 3' });
  });
  const yLabel = flags.angle === 'cos' ? 'cos(m·θ_i)' : 'm·θ_i mod 2π (rad)';
  return chart(`Rotation ${flags.angle === 'cos' ? 'cos(m·θ_i)' : 'angle m·θ_i mod 2π'} by position (${t.label}, ${what})`, 'position m', yLabel, false, false, series);
}

function chart(title: string, xLabel: string, yLabel: string, logX: boolean, logY: boolean, series: LineSeries[]): Drawn {
  const clean = (v: number): number | null => (Number.isFinite(v) ? v : null);
  return {
    title,
    xLabel,
    yLabel,
    logX,
    logY,
    series: series.map((s) => ({ name: s.name, points: s.points.map(([x, y]) => [clean(x), clean(y)] as [number | null, number | null]) })),
    lineSeries: series,
  };
}

/** The pairs whose unscaled wavelengths are nearest L/8, L/2 and 2L (distinct, in pair order). */
function defaultPairs(wavelengths: Float64Array, context: number): number[] {
  const picks = new Set<number>();
  for (const target of [context / 8, context / 2, 2 * context]) {
    let best = 0;
    for (let i = 1; i < wavelengths.length; i++) if (Math.abs(Math.log(wavelengths[i]! / target)) < Math.abs(Math.log(wavelengths[best]! / target))) best = i;
    picks.add(best);
  }
  return [...picks].sort((a, b) => a - b);
}

/** About n + 1 integer positions evenly over [0, last], both ends included. */
function samplePositions(last: number, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k <= n; k++) {
    const m = Math.round((k * last) / n);
    if (out.length === 0 || m > out[out.length - 1]!) out.push(m);
  }
  return out;
}

export const plotCommand: CliCommand = {
  name: 'plot',
  summary: 'SVG chart of a RoPE table: wavelengths per pair, long-term decay, or rotation angles by position',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const [kindArg, ...rest] = argv;
    if (kindArg === '--help' || kindArg === '-h') {
      io.stdout(HELP);
      return 0;
    }
    if (kindArg === undefined || !(PLOT_KINDS as readonly string[]).includes(kindArg)) {
      throw new FlagError(`ropelab plot: the first argument must be one of ${PLOT_KINDS.join(', ')}, got ${kindArg === undefined ? 'nothing' : `'${kindArg}'`} (see --help)`);
    }
    const kind = kindArg as PlotKind;
    const flags = parseFlags<PlotFlags>(`ropelab plot ${kind}`, rest, { comparePlain: false, angle: 'cos', json: false }, {
      values: {
        config: (f, v) => (f.config = pathFlag(v)),
        'layer-type': (f, v) => (f.layerType = pathFlag(v)),
        'seq-len': (f, v) => (f.seqLen = integerFlag(v, 1)),
        base: (f, v) => (f.base = numberFlag(v, { above: 1 })),
        dim: (f, v) => (f.dim = integerFlag(v, 2)),
        'max-distance': (f, v) => (f.maxDistance = integerFlag(v, 1)),
        pairs: (f, v) => (f.pairs = integerListFlag(v, 0)),
        'max-position': (f, v) => (f.maxPosition = integerFlag(v, 1)),
        angle: (f, v) => (f.angle = choiceFlag(v, ['cos', 'mod'] as const)),
        out: (f, v) => (f.out = pathFlag(v)),
      },
      switches: { 'compare-plain': (f) => (f.comparePlain = true), json: (f) => (f.json = true) },
    });
    if (flags === 'help') {
      io.stdout(HELP);
      return 0;
    }
    const cmd = `ropelab plot ${kind}`;
    if (flags.config !== undefined && (flags.base !== undefined || flags.dim !== undefined)) throw new FlagError(`${cmd}: give --config or --base/--dim, not both`);
    if (flags.config === undefined) {
      if (flags.base === undefined || flags.dim === undefined) throw new FlagError(`${cmd}: give --config config.json, or --base B and --dim d (see --help)`);
      if (flags.dim % 2 !== 0) throw new FlagError(`${cmd}: --dim must be even, got '${flags.dim}'`);
      if (flags.layerType !== undefined || flags.seqLen !== undefined) throw new FlagError(`${cmd}: --layer-type and --seq-len need --config`);
    }
    const only: Record<string, PlotKind> = { maxDistance: 'decay', pairs: 'angles', maxPosition: 'angles' };
    for (const [key, owner] of Object.entries(only)) {
      if (flags[key as keyof PlotFlags] !== undefined && owner !== kind) throw new FlagError(`${cmd}: --${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for ropelab plot ${owner}`);
    }
    if (flags.out === undefined) throw new FlagError(`${cmd}: give --out file.svg`);
    const table = tableOf(flags);
    let drawn: Drawn;
    try {
      drawn = plotSeries(kind, table, flags);
    } catch (err) {
      if (isLibraryError(err)) throw new FlagError(`${cmd}: ${err.message}`);
      throw err;
    }
    const { lineSeries, ...report } = drawn;
    const svg = lineChart({ title: report.title, xLabel: report.xLabel, yLabel: report.yLabel, logX: report.logX, logY: report.logY, series: lineSeries, width: 900, height: 520 });
    try {
      mkdirSync(dirname(flags.out), { recursive: true });
      writeFileSync(flags.out, svg);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file stands where its folder should be' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new FlagError(`${cmd}: --out '${flags.out}' cannot be written (${why})`);
    }
    const result: PlotReport = { command: 'plot', kind, out: flags.out, ...report };
    io.stdout(flags.json ? JSON.stringify(result) : `wrote ${flags.out}: ${report.title} (${lineSeries.length} series)`);
    return 0;
  },
};
