/**
 * The memory timeline of the HTML report as inline SVG, drawn here so it shows without script: RSS, live malloc,
 * allocator-retained, the Java heap and thread stacks when the timeline has them — the resident parts of the
 * accounting table beside it (analyse/resident.ts), so the chart and the table show the same figures — on a time axis
 * in seconds, minutes or hours and a byte axis in binary units. The start-up left out of every rate (the trend
 * window's start) is shaded. The page's script adds the hover guide and tooltip from `ChartData`.
 */
import type { ResidentPart, TimelinePoint } from '../../analyse/index.js';
import { escapeHtml, n } from './escape.js';

/** A timeline point as read from timeline.json: any field may be missing in older or foreign files. */
export type TimelineInput = Partial<TimelinePoint>;

/** A resident part of a point, when the point has resident memory by mapping. */
function part(p: TimelineInput, name: ResidentPart): number | undefined {
  const parts = p.resident?.parts;
  return parts && typeof parts === 'object' ? parts[name] ?? 0 : undefined;
}

export interface ChartSeries {
  label: string;
  color: string;
  values: (number | null)[];
}

export interface ChartData {
  times: number[];
  series: ChartSeries[];
  geometry: { left: number; top: number; width: number; height: number; t0: number; t1: number; yMax: number };
}

const W = 960;
const H = 300;
const margin = { left: 78, right: 18, top: 14, bottom: 36 };

interface SeriesDef {
  label: string;
  color: string;
  /** Shown only when some point has it, and (when `zeroIsMissing`) not all of them are 0. */
  value: (p: TimelineInput) => number | undefined;
  zeroIsMissing?: boolean;
  fill?: boolean;
  description: string;
}

const seriesDefs: SeriesDef[] = [
  { label: 'RSS', color: '#3274d9', value: (p) => p.rssBytes, fill: true, description: 'resident set size of the process' },
  { label: 'live malloc', color: '#e8590c', value: (p) => p.liveBytes, fill: true, description: 'sampled live allocations, upscaled' },
  {
    label: 'allocator-retained', color: '#8f3bb8', value: (p) => (p.resident ? part(p, 'allocator-retained') : p.mallocFreeBytes), zeroIsMissing: true,
    description: 'resident malloc heap the allocator keeps free (with its per-block overhead)',
  },
  {
    label: 'Java heap', color: '#12968a', value: (p) => part(p, 'java-heap'), zeroIsMissing: true,
    description: "the Java heap's resident pages (the table's java-heap)",
  },
  {
    label: 'thread stacks', color: '#b8860b', value: (p) => part(p, 'thread-stacks'), zeroIsMissing: true,
    description: "threads' stacks, resident",
  },
];

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1, 2, 2.5 or 5 × 10^k, the smallest at least `rough`. */
function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= rough * 0.999) return m * power;
  return 10 * power;
}

function decimalsOf(step: number): number {
  for (let d = 0; d < 4; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-9) return d;
  return 4;
}

/** Byte-axis ticks in one binary unit: [value in bytes, label]; the last tick is the axis top. */
export function byteTicks(maxBytes: number): { top: number; ticks: [number, string][] } {
  const max = maxBytes > 0 ? maxBytes : 1024;
  const k = Math.max(0, Math.min(byteUnits.length - 1, Math.floor(Math.log(max) / Math.log(1024))));
  const unit = 1024 ** k;
  const step = niceStep(max / unit / 5);
  const count = Math.max(1, Math.ceil(max / unit / step - 1e-9));
  const digits = decimalsOf(step);
  const ticks: [number, string][] = [];
  for (let i = 0; i <= count; i++) ticks.push([i * step * unit, `${(i * step).toFixed(digits)} ${byteUnits[k]}`]);
  return { top: count * step * unit, ticks };
}

/** Time-axis ticks between t0 and t1 seconds, in s, min or h by the span. */
export function timeTicks(t0: number, t1: number): [number, string][] {
  const span = Math.max(t1 - t0, 1e-3);
  const [unit, name, steps] = span <= 180 ? [1, 's', [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 20, 30, 60]]
    : span <= 180 * 60 ? [60, 'min', [0.5, 1, 2, 5, 10, 15, 20, 30, 60]]
      : [3600, 'h', [0.5, 1, 2, 3, 6, 12, 24, 48, 96, 168]];
  const step = (steps.find((s) => span / unit / s <= 8) ?? steps[steps.length - 1]!) * unit;
  const digits = decimalsOf(step / unit);
  const ticks: [number, string][] = [];
  for (let t = Math.ceil(t0 / step - 1e-9) * step; t <= t1 + 1e-9; t += step) {
    ticks.push([t, `${(t / unit).toFixed(digits)} ${name}`]);
  }
  return ticks;
}

function pathOf(xs: number[], ys: (number | null)[]): string {
  let d = '';
  let pen = false;
  ys.forEach((y, i) => {
    if (y === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${n(xs[i]!)} ${n(y)}`;
    pen = true;
  });
  return d;
}

/** Areas under the contiguous stretches of a series, down to `base`. */
function areaOf(xs: number[], ys: (number | null)[], base: number): string {
  let d = '';
  let stretch: [number, number][] = [];
  const close = () => {
    if (stretch.length >= 2) {
      d += `M${n(stretch[0]![0])} ${n(base)}${stretch.map(([x, y]) => `L${n(x)} ${n(y)}`).join('')}L${n(stretch[stretch.length - 1]![0])} ${n(base)}Z`;
    }
    stretch = [];
  };
  ys.forEach((y, i) => {
    if (y === null) close();
    else stretch.push([xs[i]!, y]);
  });
  close();
  return d;
}

export interface TimelineChart {
  /** The <svg>, or a short note when there is nothing to draw. */
  svg: string;
  /** The legend (HTML). */
  legend: string;
  data: ChartData | null;
}

/** The shaded start-up: from the axis's start to the trend window's, labelled. */
function startupShade(fromSec: number | undefined, x: (t: number) => number, t0: number, top: number, height: number): string {
  if (fromSec === undefined || !(fromSec > t0)) return '';
  const width = x(fromSec) - x(t0);
  return `<g class="startup"><rect x="${n(x(t0))}" y="${top}" width="${n(width)}" height="${height}"><title>start-up: left out of every rate</title></rect>`
    + `<text x="${n(x(t0) + 4)}" y="${top + 12}">start-up, left out of rates</text></g>`;
}

/** `windowFromSec`: where the report's rates start (report.json memory.window); before it is shaded. */
export function renderTimelineChart(timeline: readonly TimelineInput[], windowFromSec?: number): TimelineChart {
  const points = timeline.filter((p) => finite(p.timeSec) !== null);
  const series = seriesDefs
    .map((def) => ({ def, values: points.map((p) => finite(def.value(p))) }))
    .filter(({ def, values }) => values.some((v) => v !== null && (!def.zeroIsMissing || v !== 0)));
  if (points.length === 0 || series.length === 0) {
    return { svg: '<p class="empty">The run has no snapshots, so there is no memory timeline.</p>', legend: '', data: null };
  }
  const times = points.map((p) => p.timeSec!);
  const t0 = Math.min(0, times[0]!);
  const t1 = Math.max(times[times.length - 1]!, t0 + 1e-3);
  const maxValue = Math.max(0, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const { top: yMax, ticks: yTicks } = byteTicks(maxValue * 1.04);
  const plotW = W - margin.left - margin.right;
  const plotH = H - margin.top - margin.bottom;
  const x = (t: number) => margin.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v: number) => margin.top + plotH - (v / yMax) * plotH;
  const xs = times.map(x);
  const bottom = margin.top + plotH;

  const parts: string[] = [];
  parts.push(`<svg id="timeline-chart" class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="memory over time">`);
  parts.push('<g class="grid">');
  for (const [value, label] of yTicks) {
    parts.push(`<line x1="${margin.left}" x2="${W - margin.right}" y1="${n(y(value))}" y2="${n(y(value))}"/>`);
    parts.push(`<text class="ylabel" x="${margin.left - 8}" y="${n(y(value) + 4)}">${escapeHtml(label)}</text>`);
  }
  for (const [t, label] of timeTicks(t0, t1)) {
    parts.push(`<line class="xtick" x1="${n(x(t))}" x2="${n(x(t))}" y1="${bottom}" y2="${bottom + 5}"/>`);
    parts.push(`<text class="xlabel" x="${n(x(t))}" y="${bottom + 20}">${escapeHtml(label)}</text>`);
  }
  parts.push(`<line class="axis" x1="${margin.left}" x2="${W - margin.right}" y1="${bottom}" y2="${bottom}"/>`);
  parts.push('</g>');
  parts.push(startupShade(windowFromSec, x, t0, margin.top, plotH));
  series.forEach(({ def, values }, i) => {
    const ys = values.map((v) => (v === null ? null : y(v)));
    if (def.fill) parts.push(`<path class="area" d="${areaOf(xs, ys, bottom)}" fill="${def.color}"/>`);
    parts.push(`<path class="line series-${i}" d="${pathOf(xs, ys)}" stroke="${def.color}"><title>${escapeHtml(def.label)}</title></path>`);
    if (points.length <= 60) {
      ys.forEach((py, j) => {
        if (py !== null) parts.push(`<circle class="marker" cx="${n(xs[j]!)}" cy="${n(py)}" r="2.6" fill="${def.color}"/>`);
      });
    }
  });
  parts.push(`<line id="tl-guide" class="guide" x1="0" x2="0" y1="${margin.top}" y2="${bottom}" visibility="hidden"/>`);
  series.forEach(({ def }, i) => {
    parts.push(`<circle id="tl-dot-${i}" class="dot" r="4.5" cx="0" cy="0" fill="${def.color}" visibility="hidden"/>`);
  });
  parts.push(`<rect id="tl-overlay" class="overlay" x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}"/>`);
  parts.push('</svg>');

  const legend = `<ul class="legend">${series.map(({ def }) => `<li title="${escapeHtml(def.description)}">`
    + `<span class="swatch" style="background:${def.color}"></span>${escapeHtml(def.label)}</li>`).join('')}</ul>`;
  return {
    svg: parts.join(''),
    legend,
    data: {
      times,
      series: series.map(({ def, values }) => ({ label: def.label, color: def.color, values })),
      geometry: { left: margin.left, top: margin.top, width: plotW, height: plotH, t0, t1, yMax },
    },
  };
}
