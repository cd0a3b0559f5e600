/**
 * The playground page (docs/playground/index.html): reads the knobs from the form, computes with ropelab in the
 * page (compute.ts) and draws five plots — the frequency ladder by regime, the angle table (cos φ) as a heatmap,
 * the long-term decay with the base-bound lines, the scores of random q/k by relative position, and the position
 * ids of a text + image + video sequence for multi-axis variants. Plain DOM + SVG (scripts/lib/svg.ts lineChart,
 * heatmap.ts). `window.__playground` holds the knobs, the result and a revision counter that each redraw bumps.
 */
import { lineChart, type LineSeries } from '../../scripts/lib/svg.js';
import { computePlayground, knobsFrom, type PlaygroundKnobs, type PlaygroundResult, type Regime } from './compute.js';
import { heatmap } from './heatmap.js';

/** What the page exposes for tests and the console. */
export interface PlaygroundState {
  revision: number;
  knobs: PlaygroundKnobs | null;
  result: PlaygroundResult | null;
  error: string;
  /** Milliseconds the last compute + draw took. */
  ms: number;
}

const state: PlaygroundState = { revision: 0, knobs: null, result: null, error: '', ms: 0 };
(globalThis as unknown as { __playground: PlaygroundState }).__playground = state;

const form = document.getElementById('knobs') as HTMLFormElement;
const figure = (id: string): HTMLElement => document.getElementById(id)!;

function formValues(): Record<string, string> {
  const values: Record<string, string> = {};
  for (const el of Array.from(form.elements)) {
    if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) values[el.name] = el.value;
  }
  return values;
}

/** y for the pairs where `keep`, NaN elsewhere (lineChart draws gaps, so each kept pair is its own marker). */
function pick(values: readonly number[], keep: (i: number) => boolean): Array<[number, number]> {
  return values.map((v, i): [number, number] => [i, keep(i) ? v : NaN]);
}

function ladderSvg(r: PlaygroundResult): string {
  const series: LineSeries[] = [];
  if (r.axes.length > 0) {
    r.axes.forEach((a, ai) => series.push({ name: `axis ${a}`, points: pick(r.freqs[ai]!, (i) => r.freqs[ai]![i]! > 0) }));
  } else {
    series.push({ name: 'θ (unscaled)', points: r.baseInvFreq.map((v, i): [number, number] => [i, v]) });
    for (const regime of ['extrapolated', 'blended', 'interpolated'] as Regime[]) {
      if (r.regimes.includes(regime)) series.push({ name: `θ′ ${regime}`, points: pick(r.invFreq, (i) => r.regimes[i] === regime) });
    }
  }
  const nope = r.regimes.filter((g) => g === 'nope').length;
  const title = r.axes.length > 0 ? 'frequency ladder by axis' : `frequency ladder${nope > 0 ? ` (${nope} NoPE pairs, θ′ = 0)` : ''}`;
  return lineChart({ title, xLabel: 'pair i', yLabel: 'θ (rad / token)', series, logY: true, markers: true });
}

function anglesSvg(r: PlaygroundResult): string {
  const cos = r.angles.map((row) => row.map(Math.cos));
  return heatmap({ title: 'angle table: cos φ[row, pair]', xLabel: 'pair i', yLabel: r.angleRows, values: cos, range: [-1, 1] });
}

function decaySvg(r: PlaygroundResult): string {
  const series: LineSeries[] = [{ name: 'B/(d/2), θ′', points: r.decay }];
  if (r.baseInvFreq.some((v, i) => v !== r.invFreq[i])) series.push({ name: 'B/(d/2), θ', points: r.baseDecay });
  const top = 1;
  const bottom = Math.min(-0.1, ...r.decay.map((p) => p[1]));
  if (Number.isFinite(r.m0)) series.push({ name: `m0 = ${r.m0}`, points: [[r.m0, bottom], [r.m0, top]] });
  series.push({ name: `context ${r.targetContext}`, points: [[r.targetContext, bottom], [r.targetContext, top]] });
  return lineChart({ title: 'long-term decay and the base bound', xLabel: 'relative distance m', yLabel: 'B_m / (d/2)', series, logX: true, markers: false });
}

function scoresSvg(r: PlaygroundResult): string {
  const at = (s: number[]): Array<[number, number]> => s.map((v, m): [number, number] => [m, v]);
  return lineChart({
    title: 'q·k after rotation by relative position',
    xLabel: 'relative position m',
    yLabel: '⟨R(0)q, R(m)k⟩ / √D',
    series: [{ name: 'random q, k', points: at(r.scoresRandom) }, { name: 'k = q', points: at(r.scoresSimilar) }],
    markers: false,
  });
}

function positionsSvg(r: PlaygroundResult): string {
  const series = r.positionIds.map((ids, a): LineSeries => ({ name: r.axes[a]!, points: ids.map((v, n): [number, number] => [n, v]) }));
  const what = r.knobs.variant === 'rope-vit-axial' ? 'patch coordinates of the grid' : 'position ids of text + image + text + video + text';
  return lineChart({ title: what, xLabel: 'token', yLabel: 'id', series, markers: 'auto' });
}

function fmt(v: number): string {
  return !Number.isFinite(v) ? '∞' : Math.abs(v) >= 1e5 ? v.toExponential(3) : String(Math.round(v * 1000) / 1000);
}

function setSvg(id: string, svg: string, r: PlaygroundResult): void {
  const el = figure(id);
  el.innerHTML = svg;
  el.dataset['revision'] = String(state.revision);
  el.dataset['variant'] = r.knobs.variant;
}

function render(): void {
  const t0 = performance.now();
  const values = formValues();
  for (const label of Array.from(form.querySelectorAll<HTMLElement>('label[data-for]'))) {
    label.classList.toggle('off', !label.dataset['for']!.split(' ').includes(values['variant']!));
  }
  const error = document.getElementById('error')!;
  let r: PlaygroundResult;
  try {
    r = computePlayground(knobsFrom(values));
  } catch (err) {
    state.error = String((err as Error).message ?? err);
    error.textContent = state.error;
    state.revision++;
    return;
  }
  error.textContent = '';
  state.error = '';
  state.revision++;
  state.knobs = r.knobs;
  state.result = r;
  setSvg('ladder', ladderSvg(r), r);
  setSvg('angles', anglesSvg(r), r);
  setSvg('decay', decaySvg(r), r);
  setSvg('scores', scoresSvg(r), r);
  const positions = figure('positions');
  positions.classList.toggle('hidden', r.positionIds.length === 0);
  if (r.positionIds.length > 0) setSvg('positions', positionsSvg(r), r);
  else positions.innerHTML = '';
  const summary = figure('summary');
  summary.dataset['m0'] = String(r.m0);
  summary.dataset['minimalBase'] = String(r.minimalBase);
  summary.dataset['targetContext'] = String(r.targetContext);
  summary.dataset['attentionFactor'] = String(r.attentionFactor);
  summary.dataset['rotaryDim'] = String(r.rotaryDim);
  const counts = (['extrapolated', 'blended', 'interpolated', 'nope'] as Regime[]).map((g) => `${r.regimes.filter((x) => x === g).length} ${g}`).join(', ');
  summary.textContent =
    `${r.knobs.variant}: rotary dim ${r.rotaryDim} of ${r.knobs.headDim}, ${r.invFreq.length} pairs (${counts}); attention factor ${fmt(r.attentionFactor)}. ` +
    `Decay first negative at m0 = ${fmt(r.m0)}${Number.isFinite(r.m0) ? '' : ` (none up to 65536)`}; context ${r.targetContext} ` +
    `${r.m0 > r.targetContext ? 'is within' : 'is beyond'} the bound; minimal base for it (Men et al. 2024): ${fmt(r.minimalBase)}.`;
  state.ms = performance.now() - t0;
  summary.dataset['revision'] = String(state.revision);
}

form.addEventListener('input', render);
form.addEventListener('change', render);
// knobs from the query string (?variant=yarn&factor=8 …) override the form's defaults
for (const [key, value] of new URLSearchParams(location.search)) {
  const el = form.elements.namedItem(key);
  if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) el.value = value;
}
render();
