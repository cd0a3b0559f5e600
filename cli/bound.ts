/**
 * `ropelab bound`: the lower bound of the RoPE base for a context length (Men et al. 2024, "Base of RoPE Bounds
 * Context Length", NeurIPS 2024, arXiv 2405.14591; docs/notes/base-bound.md), by positional/base-bound.ts:
 *   B_m(b) = Σ_i cos(m·b^(−2i/d)),  m0(b) = min{m ≥ 0 : B_m(b) < 0},  minimal base = the grid b with m0(b) > L
 * (first-hit: upward from 1e3, ρ = 1.002; robust: downward from 1e10, ρ = 1.005), next to the paper's fit
 * 0.0424·L^1.628 (Figure 1). With --config: whether the config's base meets the bound at its max_position_embeddings
 * (or --context), and for a scaled table θ′ (fromHFConfig) the first m ≤ L with Σ_i cos(m·θ′_i) < 0.
 * scripts/base-bound.ts prints its single-length lines with `boundRows` from here.
 */
import { firstNegativeDistance, minimalBase, type BaseBoundMethod } from '../positional/index.js';
import { decayAt } from '../positional/base-bound.js';
import { FlagError, choiceFlag, integerFlag, parseFlags, pathFlag } from '../scripts/lib/flags.js';
import { type CliCommand, type CliIO } from './command.js';
import { reportFromFile } from './freqs.js';

/** The paper's Figure 1 fit b ≈ 0.0424·L^1.628 (arXiv 2405.14591, Figure 1). */
export function baseBoundFit(contextLength: number): number {
  return 0.0424 * Math.pow(contextLength, 1.628);
}

export interface BoundRow {
  method: BaseBoundMethod;
  /** minimalBase(L, d, { method }). */
  base: number;
  /** m0 at that base (firstNegativeDistance, limit max(2^24, 4L)); null when B stays ≥ 0 up to the limit. */
  m0: number | null;
  /** base / baseBoundFit(L). */
  baseOverFit: number;
  /** Wall time of the scan (not in --json: it varies). */
  seconds: number;
}

/** The minimal base of each method for context L at rotary dim d, with m0 at it and the ratio to the fit. */
export function boundRows(contextLength: number, dim: number, methods: readonly BaseBoundMethod[]): BoundRow[] {
  return methods.map((method) => {
    const t0 = performance.now();
    const base = minimalBase(contextLength, dim, { method });
    const seconds = (performance.now() - t0) / 1000;
    return { method, base, m0: m0Of(base, dim, contextLength), baseOverFit: base / baseBoundFit(contextLength), seconds };
  });
}

/** m0(b) for plain RoPE, scanned to max(2^24, 4L); null when none. */
function m0Of(base: number, dim: number, contextLength: number): number | null {
  const m0 = firstNegativeDistance(base, dim, { limit: Math.max(2 ** 24, 4 * contextLength) });
  return Number.isFinite(m0) ? m0 : null;
}

/** m0 as the script and the table print it. */
export function formatM0(m0: number | null): string {
  return m0 === null ? '> 2^24' : String(m0);
}

/** One line per method, as scripts/base-bound.ts has always printed them. */
export function formatBoundRow(row: BoundRow, withTime: boolean): string {
  return `  ${row.method.padEnd(9)}  b = ${row.base.toExponential(4)}   m0(b) = ${formatM0(row.m0)}   b/fit = ${row.baseOverFit.toFixed(3)}${withTime ? `   ${row.seconds.toFixed(2)} s` : ''}`;
}

/** The first m in [0, limit] with Σ_i cos(m·θ′_i) < 0 (the plain float64 sum, pairs in order), or null. */
function firstNegativeOfTable(invFreq: ArrayLike<number>, limit: number): number | null {
  for (let m = 0; m <= limit; m++) if (decayAt(m, invFreq) < 0) return m;
  return null;
}

export interface ConfigBound {
  path: string;
  layerType: string | null;
  ropeType: string;
  base: number;
  rotaryDim: number;
  /** L checked: --context, else max_position_embeddings. */
  context: number;
  contextFrom: '--context' | 'max_position_embeddings';
  /** m0 of plain RoPE at the config's base. */
  m0: number | null;
  /** Per method: base ≥ that method's minimal base. */
  meets: Partial<Record<BaseBoundMethod, boolean>>;
  /** The table in force (fromHFConfig, at seq len L) when it is not plain RoPE: its first negative distance ≤ L. */
  scaled: { firstNegative: number | null; decayNonNegativeUpToContext: boolean } | null;
}

/** The --json object of `ropelab bound` (documented in its --help). */
export interface BoundReport {
  command: 'bound';
  context: number;
  dim: number;
  fit: number;
  methods: Array<Omit<BoundRow, 'seconds'>>;
  config: ConfigBound | null;
}

const HELP = `usage: ropelab bound --context L [--dim d] [--method first-hit|robust|both] [--json]
       ropelab bound --config config.json [--layer-type T] [--context L] [--method …] [--json]

Minimal RoPE base for context length L (Men et al. 2024, "Base of RoPE Bounds Context Length"): the grid base b
whose first negative distance m0(b) = min{m : Σ_i cos(m·b^(−2i/d)) < 0} exceeds L. Two grid scans
(docs/notes/base-bound.md): first-hit (upward from 1e3, ratio 1.002) and robust (downward from 1e10, ratio 1.005).

  --context L      context length, an integer ≥ 1 (with --config: default max_position_embeddings)
  --dim d          rotary dim, even (default 128; with --config: the config's rotary dim)
  --method M       first-hit, robust or both (default both)
  --config F       also check this config.json: is its base ≥ the minimal base for its rotary dim and L? For a
                   scaled rope type, the first m ≤ L where the scaled table's Σ cos(m·θ′) turns negative
  --layer-type T   which per-layer rope dict of the config
  --json           one JSON object: { command, context, dim, fit, methods: [{ method, base, m0, baseOverFit }],
                   config: null | { path, layerType, ropeType, base, rotaryDim, context, contextFrom, m0,
                   meets: { first-hit?, robust? }, scaled: null | { firstNegative, decayNonNegativeUpToContext } } }
                   (m0 null: B ≥ 0 up to max(2^24, 4L); firstNegative null: none ≤ L)
  --help           this text

Exit status: 0, or 2 for a bad flag, an unreadable config, or a context beyond the scan's reach.`;

interface BoundFlags {
  context?: number;
  dim?: number;
  method: BaseBoundMethod | 'both';
  config?: string;
  layerType?: string;
  json: boolean;
}

export const boundCommand: CliCommand = {
  name: 'bound',
  summary: 'minimal RoPE base for a context length (Men et al. 2024), and whether a config meets it',
  help: HELP,
  async run(argv: readonly string[], io: CliIO): Promise<number> {
    const flags = parseFlags<BoundFlags>('ropelab bound', argv, { method: 'both', json: false }, {
      values: {
        context: (f, v) => (f.context = integerFlag(v, 1)),
        dim: (f, v) => (f.dim = integerFlag(v, 2)),
        method: (f, v) => (f.method = choiceFlag(v, ['first-hit', 'robust', 'both'] as const)),
        config: (f, v) => (f.config = pathFlag(v)),
        'layer-type': (f, v) => (f.layerType = pathFlag(v)),
      },
      switches: { json: (f) => (f.json = true) },
    });
    if (flags === 'help') {
      io.stdout(HELP);
      return 0;
    }
    if (flags.dim !== undefined && flags.dim % 2 !== 0) throw new FlagError(`ropelab bound: --dim must be even, got '${flags.dim}'`);
    if (flags.config !== undefined && flags.dim !== undefined) throw new FlagError('ropelab bound: give --dim or --config, not both (the config sets the rotary dim)');
    if (flags.layerType !== undefined && flags.config === undefined) throw new FlagError('ropelab bound: --layer-type needs --config');
    if (flags.config === undefined && flags.context === undefined) throw new FlagError('ropelab bound: give --context L or --config config.json (see --help)');
    const methods: BaseBoundMethod[] = flags.method === 'both' ? ['first-hit', 'robust'] : [flags.method];

    let dim = flags.dim ?? 128;
    let context = flags.context;
    let config: ConfigBound | null = null;
    if (flags.config !== undefined) {
      const r = reportFromFile('bound', flags.config, flags.layerType !== undefined ? { layerType: flags.layerType } : {});
      if (context === undefined && r.maxPositionEmbeddings === null) {
        throw new FlagError(`ropelab bound: --config '${flags.config}' has no max_position_embeddings; give --context L`);
      }
      dim = r.rotaryDim;
      context = context ?? r.maxPositionEmbeddings!;
      const plain = r.ropeType === 'default';
      const scaledTable = plain ? null : reportFromFile('bound', flags.config, { ...(flags.layerType !== undefined ? { layerType: flags.layerType } : {}), seqLen: context });
      const firstNegative = scaledTable === null ? null : firstNegativeOfTable(scaledTable.pairs.map((p) => p.invFreq), Math.min(context, 2 ** 24));
      config = {
        path: flags.config,
        layerType: flags.layerType ?? null,
        ropeType: r.ropeType,
        base: r.base,
        rotaryDim: r.rotaryDim,
        context,
        contextFrom: flags.context !== undefined ? '--context' : 'max_position_embeddings',
        m0: m0Of(r.base, r.rotaryDim, context),
        meets: {},
        scaled: scaledTable === null ? null : { firstNegative, decayNonNegativeUpToContext: firstNegative === null },
      };
    }
    const L = context!;
    const rows = boundRows(L, dim, methods);
    const checked = config;
    if (checked !== null) for (const row of rows) checked.meets[row.method] = checked.base >= row.base;
    const report: BoundReport = {
      command: 'bound',
      context: L,
      dim,
      fit: baseBoundFit(L),
      methods: rows.map(({ seconds: _s, ...row }) => row),
      config: checked,
    };
    if (flags.json) {
      io.stdout(JSON.stringify(report, null, 2));
      return 0;
    }
    const lines = [`minimal RoPE base for context L = ${L}, d = ${dim}   (fit 0.0424·L^1.628 = ${report.fit.toExponential(3)})`, ...rows.map((row) => formatBoundRow(row, true))];
    if (checked !== null) {
      lines.push(
        `config ${checked.path}${checked.layerType !== null ? ` (layer type ${checked.layerType})` : ''}: rope_type ${checked.ropeType}, base ${checked.base.toExponential(4)}, rotary dim ${checked.rotaryDim}, L = ${checked.context} (${checked.contextFrom})`,
        `  m0(base) = ${formatM0(checked.m0)}: ${checked.m0 === null || checked.m0 > L ? 'B ≥ 0 for every m ≤ L' : `B < 0 at m = ${checked.m0} ≤ L`}; ` +
          rows.map((row) => `${checked.meets[row.method] ? 'meets' : 'BELOW'} the ${row.method} bound ${row.base.toExponential(4)}`).join(', '),
      );
      if (checked.scaled !== null) {
        lines.push(`  scaled table (${checked.ropeType} at seq len ${L}): ${checked.scaled.firstNegative === null ? `Σ cos(m·θ′) ≥ 0 for every m ≤ ${L}` : `Σ cos(m·θ′) < 0 first at m = ${checked.scaled.firstNegative}`}`);
      }
    }
    io.stdout(lines.join('\n'));
    return 0;
  },
};
