/**
 * A small SVG heatmap for the playground (scripts/lib/svg.ts draws line charts only): one <rect> per cell, a
 * diverging blue–white–red scale over [min, max] of the values (or a given range), a title, axis labels and the
 * first/last index on each axis. values: [rows][cols]. Returns SVG text; no DOM, no Node imports.
 */
import { escapeXml } from '../../scripts/lib/svg.js';

export interface HeatmapOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  values: readonly (readonly number[])[];
  /** Colour range; default [min, max] of the finite values. */
  range?: readonly [number, number];
  width?: number;
  height?: number;
}

/** Value in [lo, hi] → colour: lo blue (#0072B2), middle white, hi red (#D55E00); non-finite grey. */
export function heatColour(v: number, lo: number, hi: number): string {
  if (!Number.isFinite(v)) return '#999999';
  const t = hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0.5;
  const [a, u] = t < 0.5 ? [[0x00, 0x72, 0xb2], 1 - 2 * t] : [[0xd5, 0x5e, 0x00], 2 * t - 1];
  const mix = (c: number): string => Math.round(255 + (c - 255) * u).toString(16).padStart(2, '0');
  return `#${mix(a[0]!)}${mix(a[1]!)}${mix(a[2]!)}`;
}

export function heatmap(options: HeatmapOptions): string {
  const { title, xLabel, yLabel, values, width = 640, height = 400 } = options;
  const R = values.length;
  const C = R === 0 ? 0 : values[0]!.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of values) for (const v of row) if (Number.isFinite(v)) (lo = Math.min(lo, v), hi = Math.max(hi, v));
  if (options.range !== undefined) [lo, hi] = options.range;
  const left = 56;
  const top = 40;
  const right = 70;
  const bottom = 44;
  const pw = Math.max(10, width - left - right);
  const ph = Math.max(10, height - top - bottom);
  const cw = C === 0 ? 0 : pw / C;
  const ch = R === 0 ? 0 : ph / R;
  const n = (v: number): string => (Math.round(v * 100) / 100).toString();
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${n(width / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(title)}</text>`);
  out.push(`<g class="cells" data-rows="${R}" data-cols="${C}" shape-rendering="crispEdges">`);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      out.push(`<rect x="${n(left + c * cw)}" y="${n(top + r * ch)}" width="${n(cw + 0.05)}" height="${n(ch + 0.05)}" fill="${heatColour(values[r]![c]!, lo, hi)}"/>`);
    }
  }
  out.push('</g>');
  // axes: first and last index, labels
  out.push(`<text x="${n(left)}" y="${n(top + ph + 14)}" text-anchor="start">0</text>`);
  out.push(`<text x="${n(left + pw)}" y="${n(top + ph + 14)}" text-anchor="end">${C - 1}</text>`);
  out.push(`<text x="${n(left - 6)}" y="${n(top + 10)}" text-anchor="end">0</text>`);
  out.push(`<text x="${n(left - 6)}" y="${n(top + ph)}" text-anchor="end">${R - 1}</text>`);
  out.push(`<text class="label" x="${n(left + pw / 2)}" y="${n(height - 12)}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  const cy = n(top + ph / 2);
  out.push(`<text class="label" x="16" y="${cy}" transform="rotate(-90 16 ${cy})" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  // colour bar
  const bx = left + pw + 16;
  for (let i = 0; i < 32; i++) {
    const v = hi - ((hi - lo) * (i + 0.5)) / 32;
    out.push(`<rect x="${bx}" y="${n(top + (i * ph) / 32)}" width="12" height="${n(ph / 32 + 0.05)}" fill="${heatColour(v, lo, hi)}"/>`);
  }
  out.push(`<text x="${bx + 16}" y="${n(top + 10)}">${escapeXml(fmt(hi))}</text>`);
  out.push(`<text x="${bx + 16}" y="${n(top + ph)}">${escapeXml(fmt(lo))}</text>`);
  out.push('</svg>');
  return out.join('\n');
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : String(Math.round(v * 100) / 100);
}
