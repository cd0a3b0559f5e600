/**
 * The lower bound of the RoPE base for a context length (Men et al. 2024, "Base of RoPE Bounds Context Length",
 * arXiv 2405.14591; docs/notes/base-bound.md): the smallest base b whose long-term decay B_m = Σ_i cos(m·b^(−2i/d)) stays ≥ 0 for every m ≤ L, found by
 * two grid scans, first-hit (upward, ρ = 1.002 from 1e3) and robust (downward, ρ = 1.005 from 1e10) grid scans.
 *
 * Usage: node scripts/run.mjs scripts/base-bound.ts --context 131072 [--dim 128] [--method robust|first-hit|both]
 *        node scripts/run.mjs scripts/base-bound.ts --table [--dim 128]
 */
import { ValueError } from '../core/index.js';
import { firstNegativeDistance, minimalBase, type BaseBoundMethod } from '../positional/base-bound.js';
import { baseBoundFit as fit, boundRows, formatBoundRow, formatM0 } from '../cli/bound.js';
import { FlagError, choiceFlag, integerFlag, readFlags } from './lib/flags.js';

const HELP = `usage: node scripts/run.mjs scripts/base-bound.ts --context L [--dim d] [--method first-hit|robust|both]
       node scripts/run.mjs scripts/base-bound.ts --table [--dim d]

Minimal RoPE base for context length L (Men et al. 2024): the grid base b whose first negative distance
m0(b) = min{m : Σ_i cos(m·b^(−2i/d)) < 0} exceeds L. The feasible set has islands, so two grid scans (docs/notes/base-bound.md):
  first-hit  upward from 1e3, ratio 1.002: the first grid base with m0 > L
  robust     downward from 1e10, ratio 1.005: the lowest base with every grid point above it feasible

  --context L   context length, a positive integer
  --dim d       rotary dim (default 128)
  --method M    first-hit, robust or both (default both)
  --table       L = 1k … 128k, both methods, next to the reference values of docs/notes/base-bound.md (d = 128 only)
  --help        this text

Prints each base with m0 at that base, the paper's fit 0.0424·L^1.628, and the time taken.`;

interface Flags {
  context?: number;
  dim: number;
  method: BaseBoundMethod | 'both';
  table: boolean;
}

function readCommandLine(): Flags {
  return readFlags<Flags>('base-bound', HELP, { dim: 128, method: 'both', table: false }, {
    values: {
      context: (f, v) => (f.context = integerFlag(v, 1)),
      dim: (f, v) => (f.dim = integerFlag(v, 2)),
      method: (f, v) => (f.method = choiceFlag(v, ['first-hit', 'robust', 'both'] as const)),
    },
    switches: { table: (f) => (f.table = true) },
    check: (f) => {
      if (f.dim % 2 !== 0) throw new FlagError(`base-bound: --dim must be even, got '${f.dim}'`);
      if (!f.table && f.context === undefined) throw new FlagError('base-bound: give --context L or --table (see --help)');
      if (f.table && f.dim !== 128) throw new FlagError(`base-bound: the reference table is for --dim 128, got '${f.dim}'`);
    },
  });
}

/**
 * Reference values at d = 128, computed independently of this code by the same two scans (listed in
 * docs/notes/base-bound.md): [L, first-hit b, m0 at it, robust b].
 */
const REFERENCE_TABLE: ReadonlyArray<readonly [number, number, number, number]> = [
  [1024, 4.3e3, 1077, 6.043e3],
  [2048, 1.161e4, 2051, 2.277e4],
  [4096, 2.697e4, 4189, 5.904e4],
  [8192, 8.39e4, 8592, 3.948e5],
  [16384, 2.343e5, 19109, 1.327e6],
  [32768, 6.312e5, 33235, 3.207e6],
  [65536, 2.101e6, 77060, 8.11e6],
  [131072, 7.024e6, 153803, 4.248e7],
];

function timed<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}

/** One line per method (the same rows as `ropelab bound`, cli/bound.ts). */
function single(L: number, dim: number, method: Flags['method']): void {
  const methods: BaseBoundMethod[] = method === 'both' ? ['first-hit', 'robust'] : [method];
  console.log(`minimal RoPE base for context L = ${L}, d = ${dim}   (fit 0.0424·L^1.628 = ${fit(L).toExponential(3)})`);
  for (const row of boundRows(L, dim, methods)) console.log(formatBoundRow(row, true));
}

function table(): void {
  const rel = (a: number, b: number): string => `${(((a - b) / b) * 100).toFixed(3)}%`.padStart(8);
  console.log('reference table (docs/notes/base-bound.md), d = 128: first-hit (up from 1e3, ρ = 1.002) and robust (down from 1e10, ρ = 1.005); Δ = (ours − ref)/ref');
  const head = ['L', 'first-hit', 'ref', 'Δ', 'm0', 'ref m0', 's', 'robust', 'ref', 'Δ', 's', 'fit'];
  const widths = [8, 11, 10, 8, 8, 8, 6, 11, 10, 8, 6, 10];
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join(' ');
  console.log(line(head));
  let worst = 0;
  const start = performance.now();
  for (const [L, refFirst, refM0, refRobust] of REFERENCE_TABLE) {
    const first = timed(() => minimalBase(L, 128, { method: 'first-hit' }));
    const robust = timed(() => minimalBase(L, 128, { method: 'robust' }));
    const m0 = firstNegativeDistance(first.value, 128);
    worst = Math.max(worst, Math.abs(first.value / refFirst - 1), Math.abs(robust.value / refRobust - 1));
    console.log(
      line([
        String(L),
        first.value.toExponential(4),
        refFirst.toExponential(3),
        rel(first.value, refFirst),
        formatM0(Number.isFinite(m0) ? m0 : null),
        String(refM0),
        (first.ms / 1000).toFixed(2),
        robust.value.toExponential(4),
        refRobust.toExponential(3),
        rel(robust.value, refRobust),
        (robust.ms / 1000).toFixed(2),
        fit(L).toExponential(2),
      ]),
    );
  }
  console.log(`largest |Δ| ${(worst * 100).toFixed(3)}% (tolerance 0.5%); total ${((performance.now() - start) / 1000).toFixed(2)} s`);
  if (worst > 0.005) process.exitCode = 1;
}

function main(): void {
  const flags = readCommandLine();
  try {
    if (flags.table) table();
    else single(flags.context!, flags.dim, flags.method);
  } catch (err) {
    // a context beyond the scan's reach: the library's message says why, as one line like a bad flag's
    if (!(err instanceof ValueError)) throw err;
    console.error(`base-bound: ${err.message}`);
    process.exit(2);
  }
}

main();
