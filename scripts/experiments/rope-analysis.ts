/**
 * Reader-facing plots of RoPE frequency tables (RoFormer §3.3; YaRN §3.2, Peng et al. 2023; Men et al. 2024):
 * - out/rope-wavelengths.svg: wavelength λ_i = 2π/θ_i per pair for base 1e4 and 5e5 at d = 128 (log y), with the
 *   context lengths 4k and 32k as horizontal reference series: pairs above a line never complete a turn within it.
 * - out/rope-decay.svg: the long-term decay B_m/(d/2) = (2/d)·Σ_i cos(m·θ_i) (Men et al. 2024) against distance
 *   (log x) for bases 1e4, 5e5, 1e6 at d = 128, each legend naming its first negative distance m0.
 * - out/yarn-regimes.svg: per-pair θ_i before and after YaRN (Peng et al. 2023; HF `_compute_yarn_parameters` semantics) for a
 *   Llama-2-like config d = 128, s = 16, L = 4096, base 1e4, the after-values split into the three regimes.
 * Prints a short text summary.
 *
 * Usage: node scripts/run.mjs scripts/experiments/rope-analysis.ts [--help]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { decayCurve, pairWavelengths } from '../../positional/analysis.js';
import { firstNegativeDistance } from '../../positional/base-bound.js';
import { ropeInvFreq } from '../../positional/rope.js';
import { yarnInvFreq, yarnPairRegimes, type YaRNOptions, type YaRNPairRegime } from '../../positional/yarn.js';
import { readFlags } from '../lib/flags.js';
import { lineChart, type LineSeries } from '../lib/svg.js';

const HELP = `usage: node scripts/run.mjs scripts/experiments/rope-analysis.ts

Writes out/rope-wavelengths.svg, out/rope-decay.svg and out/yarn-regimes.svg (d = 128) and prints a summary.
It takes no flags but --help.`;

const DIM = 128;
const PAIRS = DIM / 2;

function wavelengths(): string {
  const lines: string[] = [];
  const series: LineSeries[] = [];
  for (const base of [1e4, 5e5]) {
    const lambda = pairWavelengths(ropeInvFreq(DIM, base));
    series.push({ name: `base ${base.toExponential(0)}`, points: Array.from(lambda, (l, i) => [i, l] as [number, number]) });
    const under = (L: number): number => lambda.filter((l) => l <= L).length;
    lines.push(
      `  base ${base.toExponential(0)}: λ from ${lambda[0]!.toFixed(2)} to ${lambda[PAIRS - 1]!.toExponential(3)} tokens; ` +
        `pairs with a full turn within 4k: ${under(4096)}/${PAIRS}, within 32k: ${under(32768)}/${PAIRS}`,
    );
  }
  for (const L of [4096, 32768]) {
    series.push({ name: `context ${L / 1024}k`, points: [[0, L], [PAIRS - 1, L]] });
  }
  writeFileSync(
    'out/rope-wavelengths.svg',
    lineChart({ title: `RoPE wavelength per pair (d = ${DIM})`, xLabel: 'pair index i', yLabel: 'wavelength 2π/θ_i (tokens, log)', logY: true, series }),
  );
  return ['wavelengths (out/rope-wavelengths.svg):', ...lines].join('\n');
}

function decay(): string {
  const lines: string[] = [];
  const series: LineSeries[] = [];
  const maxDistance = 1 << 16;
  for (const base of [1e4, 5e5, 1e6]) {
    const theta = ropeInvFreq(DIM, base);
    const m0 = firstNegativeDistance(base, DIM);
    series.push({ name: `base ${base.toExponential(0)} (m0 = ${m0})`, points: decayCurve(theta, { maxDistance, points: 1500 }) });
    lines.push(`  base ${base.toExponential(0)}: first negative B at m0 = ${m0}`);
  }
  series.push({ name: 'zero', points: [[1, 0], [maxDistance, 0]] });
  writeFileSync(
    'out/rope-decay.svg',
    lineChart({
      title: `Long-term decay B_m/(d/2) of RoPE (Men et al. 2024), d = ${DIM}`,
      xLabel: 'relative distance m (log)',
      yLabel: 'B_m / (d/2)',
      logX: true,
      markers: false,
      series,
    }),
  );
  return ['long-term decay (out/rope-decay.svg):', ...lines].join('\n');
}

function yarn(): string {
  const options: YaRNOptions = { dim: DIM, base: 1e4, factor: 16, originalMaxPositions: 4096 };
  const before = ropeInvFreq(DIM, 1e4);
  const after = yarnInvFreq(options);
  const regimes = yarnPairRegimes(options);
  const regimeSeries = (r: YaRNPairRegime): LineSeries => ({
    name: `after YaRN: ${r}`,
    points: Array.from(after, (t, i) => (regimes[i] === r ? [i, t] : [i, NaN]) as [number, number]),
  });
  writeFileSync(
    'out/yarn-regimes.svg',
    lineChart({
      title: 'YaRN per-pair θ: d = 128, s = 16, L = 4096, base 1e4',
      xLabel: 'pair index i',
      yLabel: 'θ_i (rad/token, log)',
      logY: true,
      series: [
        { name: 'before (RoPE)', points: Array.from(before, (t, i) => [i, t] as [number, number]) },
        regimeSeries('extrapolated'),
        regimeSeries('blended'),
        regimeSeries('interpolated'),
      ],
    }),
  );
  const count = (r: YaRNPairRegime): number => regimes.filter((x) => x === r).length;
  const span = (r: YaRNPairRegime): string => {
    const idx = regimes.flatMap((x, i) => (x === r ? [i] : []));
    return idx.length === 0 ? 'none' : `${idx[0]}…${idx[idx.length - 1]}`;
  };
  return [
    'YaRN regimes (out/yarn-regimes.svg), d = 128, s = 16, L = 4096:',
    `  extrapolated ${count('extrapolated')} (pairs ${span('extrapolated')}), blended ${count('blended')} (${span('blended')}), ` +
      `interpolated ${count('interpolated')} (${span('interpolated')}); by hand from YaRN's eq. 17–18: 21 / 25 / 18`,
  ].join('\n');
}

function main(): void {
  readFlags('rope-analysis', HELP, {}, { values: {} });
  mkdirSync('out', { recursive: true });
  console.log([wavelengths(), decay(), yarn()].join('\n\n'));
}

main();
