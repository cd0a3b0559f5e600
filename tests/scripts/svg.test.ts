/**
 * The SVG line chart (scripts/lib/svg.ts): well-formed XML-ish structure (every tag closed, properly nested),
 * one polyline per series (per unbroken run when there are gaps), escaped text, 1-2-5 linear ticks covering the
 * data, powers of ten on log axes at even spacing, and no NaN/Infinity in the output whatever the input.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { PALETTE, escapeXml, lineChart, type LineChartOptions } from '../../scripts/lib/svg.js';
import { fcParams } from '../helpers/fc.js';
import { assertWellFormedSvg } from '../helpers/svg.js';

function ticks(svg: string, axis: 'x' | 'y'): Array<{ value: number; pos: number; label: string }> {
  const re = new RegExp(`<g class="tick" data-axis="${axis}" data-value="([^"]+)"><line x1="([^"]+)" y1="([^"]+)"[^>]*/><text[^>]*>([^<]*)</text></g>`, 'g');
  return [...svg.matchAll(re)].map((m) => ({ value: Number(m[1]), pos: Number(axis === 'x' ? m[2] : m[3]), label: m[4]! }));
}

const series = (n: number, f: (i: number) => number): Array<[number, number]> => Array.from({ length: n }, (_, i) => [i, f(i)]);

test('a complete SVG document: starts with <svg, well-formed, title, axis labels, legend, one polyline per series', () => {
  const svg = lineChart({
    title: 'Loss vs step',
    xLabel: 'step',
    yLabel: 'loss',
    series: [
      { name: 'rope', points: series(20, (i) => 3 / (i + 1)) },
      { name: 'nope', points: series(20, (i) => 3.5 / (i + 1)) },
      { name: 'alibi', points: series(20, (i) => 2 + Math.sin(i)) },
    ],
  });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assertWellFormedSvg(svg);
  assert.is(svg.match(/<polyline /g)?.length, 3);
  assert.is(svg.match(/<g class="series"/g)?.length, 3);
  for (const name of ['rope', 'nope', 'alibi']) assert.ok(svg.includes(`>${name}</text>`), `legend ${name}`);
  for (const text of ['Loss vs step', '>step<', '>loss<']) assert.ok(svg.includes(text), text);
  // one distinct palette colour per series
  const colours = [...svg.matchAll(/<g class="series" data-name="[^"]*" stroke="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(colours, PALETTE.slice(0, 3));
  assert.is(svg.match(/<circle /g)?.length, 60, 'a marker per point');
});

test('a series may set its own colour and dash, used by its line and its legend entry; the others keep the palette', () => {
  const svg = lineChart({
    title: 't',
    series: [
      { name: 'scaled', points: series(5, (i) => i), color: '#123456' },
      { name: 'plain', points: series(5, (i) => 2 * i), color: '#123456', dash: '6 3' },
      { name: 'third', points: series(5, (i) => 3 * i) },
    ],
  });
  assertWellFormedSvg(svg);
  const colours = [...svg.matchAll(/<g class="series" data-name="[^"]*" stroke="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(colours, ['#123456', '#123456', PALETTE[2]]);
  const lineDashes = [...svg.matchAll(/<polyline[^>]*?(?: stroke-dasharray="([^"]+)")? points=/g)].map((m) => m[1] ?? '');
  assert.equal(lineDashes, ['', '6 3', '']);
  const legend = svg.slice(svg.indexOf('<g class="legend">'));
  const entries = [...legend.matchAll(/<line [^>]*stroke="([^"]+)" stroke-width="2"(?: stroke-dasharray="([^"]+)")?\/>/g)].map((m) => [m[1], m[2] ?? '']);
  assert.equal(entries, [['#123456', ''], ['#123456', '6 3'], [PALETTE[2], '']]);
});

test('text is escaped (& < > ") in title, labels, legend and attributes', () => {
  const nasty = 'a & b <c> "d"';
  const svg = lineChart({ title: nasty, xLabel: nasty, yLabel: nasty, series: [{ name: nasty, points: [[0, 1], [1, 2]] }] });
  assertWellFormedSvg(svg);
  assert.not.ok(svg.includes(nasty));
  assert.ok(svg.includes('a &amp; b &lt;c&gt; &quot;d&quot;'));
  assert.ok(svg.includes(`data-name="${escapeXml(nasty)}"`));
  assert.is(escapeXml(`<&>"'`), '&lt;&amp;&gt;&quot;&#39;');
});

test('non-finite points are skipped as gaps and never print NaN or Infinity', () => {
  const svg = lineChart({
    title: 't',
    series: [
      { name: 'gappy', points: [[0, 1], [1, 2], [2, NaN], [3, 4], [Infinity, 5], [5, 6], [6, -Infinity]] },
      { name: 'empty', points: [[NaN, NaN]] },
      { name: 'whole', points: [[0, 2], [6, 3]] },
    ],
  });
  assertWellFormedSvg(svg);
  assert.not.ok(/NaN|Infinity/.test(svg));
  const groups = svg.split('<g class="series"').slice(1);
  assert.is(groups[0]!.match(/<polyline /g)?.length, 1, 'gappy: [0,1]-[1,2] is a line; 3 and 5 are isolated points'); // runs: {0,1}, {3}, {5}
  assert.is(groups[0]!.match(/<circle /g)?.length, 4);
  assert.is(groups[1]!.match(/<polyline /g), null, 'a series with no finite point draws nothing');
  assert.ok(svg.includes('>empty</text>'), 'but keeps its legend entry');
  assert.is(groups[2]!.match(/<polyline /g)?.length, 1);
  const twoRuns = lineChart({ title: 't', series: [{ name: 's', points: [[0, 1], [1, 2], [2, NaN], [3, 4], [4, 5]] }] });
  assert.is(twoRuns.match(/<polyline /g)?.length, 2, 'a gap splits the line');
});

test('no NaN/Infinity and well-formed for arbitrary inputs (property)', () => {
  const value = fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity, 0, 1e-9));
  fc.assert(
    fc.property(
      fc.array(fc.record({ name: fc.string({ maxLength: 12 }), points: fc.array(fc.tuple(value, value), { maxLength: 12 }) }), { maxLength: 10 }),
      fc.boolean(),
      fc.boolean(),
      (ss, logX, logY) => {
        const svg = lineChart({ title: 'p', xLabel: 'x', yLabel: 'y', series: ss, logX, logY });
        assert.not.ok(/NaN|Infinity|undefined/.test(svg), svg);
        assertWellFormedSvg(svg);
      },
    ),
    fcParams(150),
  );
});

test('linear axes: 1-2-5 ticks, evenly spaced, covering the data', () => {
  fc.assert(
    fc.property(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.double({ min: 1e-3, max: 1e4, noNaN: true }), (lo, span) => {
      const svg = lineChart({ title: 't', series: [{ name: 's', points: [[lo, lo], [lo + span, lo + span]] }] });
      for (const axis of ['x', 'y'] as const) {
        const t = ticks(svg, axis);
        assert.ok(t.length >= 2 && t.length <= 13, `${axis}: ${t.length} ticks`);
        const step = t[1]!.value - t[0]!.value;
        const mantissa = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
        assert.ok([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6), `${axis}: step ${step}`);
        for (let i = 1; i < t.length; i++) {
          assert.ok(Math.abs(t[i]!.value - t[i - 1]!.value - step) <= 1e-9 * Math.max(1, Math.abs(t[i]!.value)), `${axis}: uneven values`);
          assert.ok(Math.abs(t[i]!.pos - t[i - 1]!.pos - (t[1]!.pos - t[0]!.pos)) <= 0.02, `${axis}: uneven pixels`);
        }
        const slack = 1e-9 * step; // a bound within rounding of a tick snaps to it
        assert.ok(t[0]!.value <= lo + slack && t[t.length - 1]!.value >= lo + span - slack, `${axis}: ticks cover the data`);
      }
    }),
    fcParams(100),
  );
  const t = ticks(lineChart({ title: 't', series: [{ name: 's', points: [[0, 0.13], [10, 0.92]] }] }), 'y');
  assert.equal(t.map((x) => x.label), ['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
});

test('log axes place ticks at powers of ten, evenly spaced in pixels', () => {
  const pts: Array<[number, number]> = [[1, 0.002], [30, 0.5], [4000, 7]];
  const svg = lineChart({ title: 't', logX: true, logY: true, series: [{ name: 's', points: pts }] });
  assertWellFormedSvg(svg);
  const x = ticks(svg, 'x');
  assert.equal(x.map((v) => v.value), [1, 10, 100, 1000, 10000]);
  assert.equal(x.map((v) => v.label), ['1', '10', '100', '1000', '10000']);
  const y = ticks(svg, 'y');
  assert.equal(y.map((v) => v.value), [0.001, 0.01, 0.1, 1, 10]);
  for (const t of [x, y]) {
    const d = t[1]!.pos - t[0]!.pos;
    for (let i = 1; i < t.length; i++) assert.ok(Math.abs(t[i]!.pos - t[i - 1]!.pos - d) <= 0.02, 'even decades');
  }
  // non-positive values cannot sit on a log axis: skipped like non-finite ones
  const skip = lineChart({ title: 't', logY: true, series: [{ name: 's', points: [[0, 1], [1, 0], [2, -3], [3, 100]] }] });
  assert.not.ok(/NaN|Infinity/.test(skip));
  assert.equal(ticks(skip, 'y').map((v) => v.value), [1, 2, 5, 10, 20, 50, 100], 'two decades: 2× and 5× ticks too');
  // many decades: every k-th power only
  const wide = ticks(lineChart({ title: 't', logX: true, series: [{ name: 's', points: [[1e-10, 0], [1e15, 1]] }] }), 'x');
  assert.ok(wide.length >= 3 && wide.length <= 11, `${wide.length} ticks`);
  for (const v of wide) assert.ok(Math.abs(Math.log10(v.value) - Math.round(Math.log10(v.value))) < 1e-9, `${v.value} is a power of ten`);
  assert.ok(wide[0]!.value <= 1e-10 && wide[wide.length - 1]!.value >= 1e15);
});

test('invalid sizes are rejected', () => {
  const base: LineChartOptions = { title: 't', series: [] };
  assert.throws(() => lineChart({ ...base, width: 0 }), RangeError);
  assert.throws(() => lineChart({ ...base, height: NaN }), RangeError);
  assert.ok(lineChart(base).startsWith('<svg'));
});

test.run();
