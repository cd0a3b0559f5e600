/**
 * A dependency-free SVG line chart for experiment scripts: nice 1-2-5 ticks (powers of ten on log axes), gridlines,
 * axis labels, a title, a legend, one colour-blind-safe colour per series (Okabe & Ito 2008), polylines with point
 * markers, and gaps where points are not finite (or not positive on a log axis; also where |v| > 1e300, or outside
 * [1e-250, 1e250] on a log axis). Returns the SVG text; writing it to a file is the caller's job (no Node imports
 * here, so it also runs in a browser).
 */

export interface LineSeries {
  name: string;
  /** [x, y] pairs, drawn in the given order; a non-finite pair breaks the line (a gap). */
  points: ReadonlyArray<readonly [number, number]>;
  /** A CSS colour (e.g. '#0072B2'); default: the series' place in PALETTE. */
  color?: string;
  /** An SVG stroke-dasharray ('' for solid, '6 3' dashed); default: solid for the first PALETTE.length series. */
  dash?: string;
}

export interface LineChartOptions {
  title: string;
  xLabel?: string;
  yLabel?: string;
  series: readonly LineSeries[];
  logX?: boolean;
  logY?: boolean;
  /** Pixels; default 640 × 400. */
  width?: number;
  height?: number;
  /** Point markers: true, false, or 'auto' (default: only for series of at most 100 drawn points). */
  markers?: boolean | 'auto';
}

/** Okabe–Ito colours, yellow last (weak on white); after these, series repeat the colours dashed. */
export const PALETTE: readonly string[] = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const DASHES = ['', '6 3', '2 2', '8 3 2 3'];

const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const CHAR_W = 6.8; // rough width of a 12px character, for layout

/** Escape text for SVG/XML content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

interface Axis {
  min: number;
  max: number;
  log: boolean;
  ticks: Array<{ value: number; label: string }>;
}

export function lineChart(options: LineChartOptions): string {
  const { title, xLabel = '', yLabel = '', series, logX = false, logY = false, width = 640, height = 400, markers = 'auto' } = options;
  if (!(Number.isFinite(width) && width > 0 && Number.isFinite(height) && height > 0)) {
    throw new RangeError(`lineChart: width and height must be finite and > 0, got ${width} × ${height}`);
  }
  // beyond ±1e300 (outside [1e-250, 1e250] on a log axis, whose domain is widened to whole decades) pixel
  // arithmetic would overflow: such points are gaps too
  const ok = (v: number, log: boolean): boolean => (log ? v >= 1e-250 && v <= 1e250 : Math.abs(v) <= 1e300);
  const usable = ([x, y]: readonly [number, number]): boolean => ok(x, logX) && ok(y, logY);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of series) for (const p of s.points) if (usable(p)) (xs.push(p[0]), ys.push(p[1]));
  const xAxis = logX ? logAxis(xs) : linearAxis(xs);
  const yAxis = logY ? logAxis(ys) : linearAxis(ys);

  // layout
  const maxYLabel = Math.max(1, ...yAxis.ticks.map((t) => t.label.length));
  const maxName = Math.max(0, ...series.map((s) => s.name.length));
  const left = Math.round((yLabel ? 26 : 8) + maxYLabel * CHAR_W + 10);
  const right = series.length > 0 ? Math.round(Math.min(width / 3, 16 + 24 + 6 + maxName * CHAR_W + 10)) : 16;
  const top = title ? 40 : 16;
  const bottom = xLabel ? 52 : 32;
  const x0 = left;
  const x1 = Math.max(x0 + 10, width - right);
  const y0 = top;
  const y1 = Math.max(y0 + 10, height - bottom);
  const sx = scale(xAxis, x0, x1);
  const sy = scale(yAxis, y1, y0);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" font-family="${FONT}" font-size="12">`,
  );
  if (title) out.push(`<title>${escapeXml(title)}</title>`);
  out.push(`<rect width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`);
  if (title) out.push(`<text class="title" x="${num(width / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(title)}</text>`);

  // gridlines, then axes with ticks and labels
  out.push('<g class="grid" stroke="#e6e6e6" stroke-width="1">');
  for (const t of xAxis.ticks) out.push(`<line x1="${num(sx(t.value))}" y1="${num(y0)}" x2="${num(sx(t.value))}" y2="${num(y1)}"/>`);
  for (const t of yAxis.ticks) out.push(`<line x1="${num(x0)}" y1="${num(sy(t.value))}" x2="${num(x1)}" y2="${num(sy(t.value))}"/>`);
  out.push('</g>');

  out.push('<g class="axis" data-axis="x">');
  out.push(`<line x1="${num(x0)}" y1="${num(y1)}" x2="${num(x1)}" y2="${num(y1)}" stroke="#333333"/>`);
  for (const t of xAxis.ticks) {
    const x = num(sx(t.value));
    out.push(
      `<g class="tick" data-axis="x" data-value="${t.value}"><line x1="${x}" y1="${num(y1)}" x2="${x}" y2="${num(y1 + 5)}" stroke="#333333"/>` +
        `<text x="${x}" y="${num(y1 + 18)}" text-anchor="middle" fill="#333333">${escapeXml(t.label)}</text></g>`,
    );
  }
  if (xLabel) out.push(`<text class="label" x="${num((x0 + x1) / 2)}" y="${num(height - 12)}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  out.push('</g>');

  out.push('<g class="axis" data-axis="y">');
  out.push(`<line x1="${num(x0)}" y1="${num(y0)}" x2="${num(x0)}" y2="${num(y1)}" stroke="#333333"/>`);
  for (const t of yAxis.ticks) {
    const y = num(sy(t.value));
    out.push(
      `<g class="tick" data-axis="y" data-value="${t.value}"><line x1="${num(x0 - 5)}" y1="${y}" x2="${num(x0)}" y2="${y}" stroke="#333333"/>` +
        `<text x="${num(x0 - 8)}" y="${y}" dy="0.32em" text-anchor="end" fill="#333333">${escapeXml(t.label)}</text></g>`,
    );
  }
  if (yLabel) {
    const cy = num((y0 + y1) / 2);
    out.push(`<text class="label" x="16" y="${cy}" transform="rotate(-90 16 ${cy})" text-anchor="middle" dy="0.32em">${escapeXml(yLabel)}</text>`);
  }
  out.push('</g>');

  // series: one polyline per unbroken run of usable points, plus markers
  series.forEach((s, i) => {
    const { color, dash } = styleOf(s, i);
    const runs: string[][] = [[]];
    const dots: string[] = [];
    for (const p of s.points) {
      if (!usable(p)) {
        if (runs[runs.length - 1]!.length > 0) runs.push([]);
        continue;
      }
      const xy = `${num(sx(p[0]))},${num(sy(p[1]))}`;
      runs[runs.length - 1]!.push(xy);
      dots.push(xy);
    }
    const showMarkers = markers === 'auto' ? dots.length <= 100 : markers;
    out.push(`<g class="series" data-name="${escapeXml(s.name)}" stroke="${escapeXml(color)}" fill="${escapeXml(color)}">`);
    for (const run of runs) {
      if (run.length >= 2) {
        out.push(`<polyline fill="none" stroke-width="1.75" stroke-linejoin="round"${dash ? ` stroke-dasharray="${escapeXml(dash)}"` : ''} points="${run.join(' ')}"/>`);
      }
    }
    if (showMarkers || runs.every((r) => r.length < 2)) {
      for (const xy of dots) {
        const [cx, cy] = xy.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" stroke="none"/>`);
      }
    }
    out.push('</g>');
  });

  // legend, right of the plot
  if (series.length > 0) {
    out.push('<g class="legend">');
    series.forEach((s, i) => {
      const { color, dash } = styleOf(s, i);
      const y = y0 + 8 + i * 18;
      const lx = x1 + 16;
      out.push(
        `<line x1="${num(lx)}" y1="${num(y)}" x2="${num(lx + 24)}" y2="${num(y)}" stroke="${escapeXml(color)}" stroke-width="2"${dash ? ` stroke-dasharray="${escapeXml(dash)}"` : ''}/>` +
          `<text x="${num(lx + 30)}" y="${num(y)}" dy="0.32em">${escapeXml(s.name)}</text>`,
      );
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The series' own colour and dash, else PALETTE by its place (repeated dashed after PALETTE.length series). */
function styleOf(s: LineSeries, i: number): { color: string; dash: string } {
  return { color: s.color ?? PALETTE[i % PALETTE.length]!, dash: s.dash ?? DASHES[Math.floor(i / PALETTE.length) % DASHES.length]! };
}

/** Data value → pixel, linear in the value or its log10. */
function scale(axis: Axis, p0: number, p1: number): (v: number) => number {
  const t = axis.log ? Math.log10 : (v: number): number => v;
  const a = t(axis.min);
  const b = t(axis.max);
  return (v) => p0 + ((t(v) - a) / (b - a)) * (p1 - p0);
}

/** Pixel coordinates with at most two decimals, never "-0". */
function num(v: number): string {
  const r = Math.round(v * 100) / 100;
  return String(r === 0 ? 0 : r);
}

/** Domain widened to multiples of a 1-2-5 step chosen for about 6 intervals; ticks at every step. */
function linearAxis(values: readonly number[]): Axis {
  let [lo, hi] = values.length > 0 ? extent(values) : [0, 1];
  if (!(hi - lo >= 1e-290)) {
    // one value (or a span too small to subdivide): centre it in a padded domain
    const c = (lo + hi) / 2;
    const pad = Math.abs(c) >= 1e-280 ? Math.abs(c) * 0.1 : 1;
    lo = c - pad;
    hi = c + pad;
  }
  const { step, exponent } = niceStep((hi - lo) / 6);
  const decimals = Math.max(0, -exponent);
  // multiples of step around the data; a bound within rounding of a multiple snaps to it (0.3 / 0.1 = 2.9999…)
  let start = Math.floor(lo / step);
  if ((start + 1) * step - lo <= 1e-9 * step) start++;
  let end = Math.ceil(hi / step);
  if (hi - (end - 1) * step <= 1e-9 * step) end--;
  const ticks: Axis['ticks'] = [];
  for (let i = start; i <= end; i++) {
    const value = (decimals <= 20 ? Number((i * step).toFixed(decimals)) : i * step) || 0; // exact decimal, and no −0
    ticks.push({ value, label: formatTick(value, decimals) });
  }
  return { min: ticks[0]!.value, max: ticks[ticks.length - 1]!.value, log: false, ticks };
}

/** [min, max] without spreading (long series would overflow the argument limit). */
function extent(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** The smallest of 1, 2, 5 × 10^e that is ≥ raw. */
function niceStep(raw: number): { step: number; exponent: number } {
  let exponent = Math.floor(Math.log10(raw));
  const f = raw / Math.pow(10, exponent);
  let m: number;
  if (f <= 1 + 1e-9) m = 1;
  else if (f <= 2 + 1e-9) m = 2;
  else if (f <= 5 + 1e-9) m = 5;
  else {
    m = 1;
    exponent += 1;
  }
  return { step: Number(`${m}e${exponent}`), exponent };
}

function formatTick(value: number, decimals: number): string {
  if (Math.abs(value) >= 1e6 || decimals > 4) return value === 0 ? '0' : Number(value.toPrecision(6)).toExponential().replace('e+', 'e');
  return value.toFixed(decimals);
}

/**
 * Domain widened to whole decades; ticks at powers of ten (every k-th decade when there are more than 10), plus
 * 2× and 5× ticks when the domain spans at most two decades.
 */
function logAxis(values: readonly number[]): Axis {
  const [vmin, vmax] = values.length > 0 ? extent(values) : [1, 10];
  let lo = Math.floor(Math.log10(vmin) + 1e-12);
  let hi = Math.ceil(Math.log10(vmax) - 1e-12);
  if (hi <= lo) hi = lo + 1;
  const stride = Math.max(1, Math.ceil((hi - lo) / 10));
  lo = Math.floor(lo / stride) * stride;
  hi = Math.ceil(hi / stride) * stride;
  const ticks: Axis['ticks'] = [];
  for (let k = lo; k <= hi; k += stride) {
    ticks.push({ value: Number(`1e${k}`), label: formatPow(1, k) });
    if (hi - lo <= 2 && k < hi) for (const m of [2, 5]) ticks.push({ value: Number(`${m}e${k}`), label: formatPow(m, k) });
  }
  return { min: Number(`1e${lo}`), max: Number(`1e${hi}`), log: true, ticks };
}

/** m × 10^k as a plain decimal for −4 ≤ k ≤ 5, else "me<k>". */
function formatPow(m: number, k: number): string {
  if (k >= -4 && k <= 5) return (m * Math.pow(10, k)).toFixed(Math.max(0, -k));
  return `${m}e${k}`;
}
