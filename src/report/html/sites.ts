/**
 * The ranked sites of the HTML report: one row per site with a bar of its live bytes (the part that appeared during
 * the run in the status colour), its rate, growth, live bytes, confidence and a sparkline of its series; the row
 * opens onto the site's stack, innermost first.
 */
import { formatBytes, formatRate } from '../../core/units.js';
import { abbreviateTemplates, siteKindTag, type SiteReport } from '../../analyse/index.js';
import { escapeHtml, n } from './escape.js';

export const statusColors: Record<SiteReport['status'], string> = {
  growing: '#d6283b', shrinking: '#2f9e44', new: '#2f6fd6', stable: '#6c757d', gone: '#8f98a3',
};

function signedBytes(bytes: number): string {
  return `${bytes > 0 ? '+' : ''}${formatBytes(bytes)}`;
}

/** A small line chart of `values` from 0 to their maximum. */
export function sparklineSvg(values: readonly number[], color: string, width = 120, height = 28): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return `<svg class="spark" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}"></svg>`;
  const max = Math.max(...finite, 0) || 1;
  const pad = 2;
  const x = (i: number) => (finite.length === 1 ? width / 2 : pad + (i / (finite.length - 1)) * (width - 2 * pad));
  const y = (v: number) => height - pad - (Math.max(0, v) / max) * (height - 2 * pad);
  const line = finite.map((v, i) => `${i === 0 ? 'M' : 'L'}${n(x(i))} ${n(y(v))}`).join('');
  const area = finite.length > 1 ? `<path class="spark-area" d="${line}L${n(x(finite.length - 1))} ${height}L${n(x(0))} ${height}Z" fill="${color}"/>` : '';
  const last = finite[finite.length - 1]!;
  const title = `live bytes over ${finite.length} snapshot(s): ${formatBytes(finite[0]!)} → ${formatBytes(last)} (max ${formatBytes(max)})`;
  return `<svg class="spark" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">`
    + `<title>${escapeHtml(title)}</title>${area}<path class="spark-line" d="${line}" stroke="${color}"/>`
    + `<circle cx="${n(x(finite.length - 1))}" cy="${n(y(last))}" r="2.2" fill="${color}"/></svg>`;
}

/** " [mmap]" after the name of a site of mapped memory. */
function kindBadge(site: SiteReport): string {
  const tag = siteKindTag(site.kind);
  return tag ? ` <span class="kind" title="memory this site mapped with mmap, not malloc">${escapeHtml(tag.trim())}</span>` : '';
}

function siteRow(site: SiteReport, maxLive: number): string {
  const color = statusColors[site.status] ?? statusColors.stable;
  const live = Math.max(0, site.liveBytes);
  const grown = Math.min(live, Math.max(0, site.growthBytes));
  const liveShare = maxLive > 0 ? (live / maxLive) * 100 : 0;
  const grownShare = live > 0 ? (grown / live) * 100 : 0;
  const [low, high] = site.leakRateIntervalBytesPerHour ?? [0, 0];
  // Template arguments abbreviated as in the text report; the whole frame on hover.
  const stack = site.stack.map((frame, i) => {
    const short = abbreviateTemplates(frame);
    const title = short === frame ? '' : ` title="${escapeHtml(frame)}"`;
    return `<li${i === 0 ? ' class="innermost"' : ''}${title}>${escapeHtml(short)}</li>`;
  }).join('');
  return `<details class="site status-${escapeHtml(site.status)}">`
    + '<summary>'
    + `<span class="rank">${site.rank}</span>`
    + '<span class="who">'
    + `<span class="fn" title="${escapeHtml(site.location)}">${escapeHtml(abbreviateTemplates(site.function))}${kindBadge(site)}</span>`
    + `<span class="loc">${escapeHtml(abbreviateTemplates(site.location))}</span>`
    + `<span class="bar" title="live ${escapeHtml(formatBytes(live))}, of which ${escapeHtml(formatBytes(grown))} appeared during the run">`
    + `<span class="bar-live" style="width:${n(liveShare)}%;background:${color}">`
    + `<span class="bar-grown" style="width:${n(grownShare)}%;background:${color}"></span></span></span>`
    + '</span>'
    + `<span class="badge" style="background:${color}">${escapeHtml(site.status)}</span>`
    + `<span class="num rate" title="90% interval ${escapeHtml(formatRate(low))} … ${escapeHtml(formatRate(high))}">${escapeHtml(formatRate(site.leakRateBytesPerHour))}</span>`
    + `<span class="num">${escapeHtml(signedBytes(site.growthBytes))}</span>`
    + `<span class="num">${escapeHtml(formatBytes(site.liveBytes))}</span>`
    + `<span class="num conf">${site.confidence.toFixed(2)}</span>`
    + `<span class="sparkcell">${sparklineSvg(site.series, color)}</span>`
    + '</summary>'
    + `<div class="stack"><div class="stack-title">stack, innermost first${site.shape ? ` · growth shape: ${escapeHtml(site.shape)}` : ''}</div><ol>${stack}</ol></div>`
    + '</details>';
}

export function renderSites(sites: readonly SiteReport[], top: number): string {
  const shown = sites.slice(0, top);
  if (shown.length === 0) return '<p class="empty">No sampled live allocations.</p>';
  const maxLive = Math.max(...shown.map((s) => s.liveBytes), 0);
  const header = '<div class="sites-head"><span class="rank">#</span><span class="who">site · live bytes (darker: grown during the run)</span>'
    + '<span class="badge-h">status</span><span class="num">rate</span><span class="num">growth</span><span class="num">live</span>'
    + '<span class="num conf">conf.</span><span class="sparkcell">live over time</span></div>';
  const more = sites.length > shown.length ? `<p class="more">${sites.length - shown.length} more sites in report.json.</p>` : '';
  return `<div class="sites">${header}${shown.map((s) => siteRow(s, maxLive)).join('')}</div>${more}`;
}
