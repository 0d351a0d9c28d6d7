/**
 * The report as one self-contained HTML page (inline CSS, script and SVG; nothing fetched, openable from disk):
 * the verdict, the memory timeline, the ranked sites with their stacks and sparklines, and a flame graph of the
 * growth between any two snapshots. Nothing in it depends on when or where it was rendered.
 */
import type { TimelinePoint } from '../analyse/index.js';
import type { ProfileSeries } from '../pprof/index.js';
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import { readTimelineSnapshots, runPath, writeFileAtomic } from '../rundir/index.js';
import { clientScript } from './html/client.js';
import { escapeHtml, jsonForScript } from './html/escape.js';
import { flameDataOfSeries, loadFlameData, type FlameData } from './html/flame-data.js';
import { renderSites } from './html/sites.js';
import { css } from './html/style.js';
import { renderTimelineChart, type TimelineInput } from './html/timeline-chart.js';
import { sampleBytesInForce, trackingSinceSentence, windowSentence, type RunReport } from '../pipeline/index.js';
import { accountingPartLabel, pushSummary, snapshotCount } from './text.js';

export type { FlameData } from './html/flame-data.js';

export interface HtmlInput {
  report: RunReport;
  /** timeline.json's snapshots; fields missing from older files are left out of the chart. */
  timeline: readonly (TimelinePoint | TimelineInput)[];
  /** Per-snapshot stacks for the growth flame graph (loadFlameData); without it the graph says so. */
  growth?: FlameData;
  /** Sites listed (default 50). */
  top?: number;
}

const verdictTitle: Record<string, string> = {
  'native-leak': 'Native leak', fragmentation: 'Fragmentation', 'java-heap': 'Java heap growth',
  'jvm-internal': 'JVM-internal growth', 'no-growth': 'No growth', inconclusive: 'Inconclusive',
};

function verdictClass(kind: string): string {
  return kind === 'native-leak' ? 'verdict-native-leak' : kind === 'no-growth' ? 'verdict-no-growth' : 'verdict-other';
}

function facts(report: RunReport): string {
  const m = report.memory;
  const run = `<p class="facts">Run <code>${escapeHtml(report.command.join(' '))}</code> (pid ${report.pid}), `
    + `${escapeHtml(formatDurationMs(report.durationSec * 1000))}, ${escapeHtml(snapshotCount(report))}, `
    + `sampling every ${escapeHtml(formatBytes(sampleBytesInForce(report)))}`
    + (report.exitStatus === null ? '' : `, exit status ${report.exitStatus}`) + '.'
    + (report.trackingSince ? ` Attached: ${escapeHtml(trackingSinceSentence(report.trackingSince))}.` : '') + '</p>';
  const memory = `<p class="facts">RSS ${escapeHtml(formatBytes(m.rssStartBytes))} → ${escapeHtml(formatBytes(m.rssEndBytes))} `
    + `(${escapeHtml(formatRate(m.rssGrowthBytesPerHour))}), live malloc ${escapeHtml(formatBytes(m.liveStartBytes))} → `
    + `${escapeHtml(formatBytes(m.liveEndBytes))} (${escapeHtml(formatRate(m.liveGrowthBytesPerHour))})`
    + `${windowSentence(m.window) ? `, ${escapeHtml(windowSentence(m.window))}` : ''}.`
    + (report.detection?.detectableRateBytesPerHour != null
      ? ` This run could detect leaks from ${escapeHtml(formatRate(report.detection.detectableRateBytesPerHour))} up.` : '')
    + '</p>';
  const push = report.push ? `<p class="${report.push.left > 0 ? 'warning' : 'facts'}" id="push">Push: ${escapeHtml(pushSummary(report.push))}.</p>` : '';
  const warnings = report.warnings.map((w) => `<p class="warning">${escapeHtml(w)}</p>`).join('');
  return run + memory + push + warnings;
}

/** Where the rates start, when the start-up was left out. */
function windowHint(report: RunReport): string {
  const sentence = windowSentence(report.memory.window);
  return sentence ? ` RSS and its parts are measured ${escapeHtml(sentence)}; the start-up is shaded.` : '';
}

/** "Where the RSS went": a row per part, RSS last as their sum, and the trim probe's result. */
function accountingSection(m: RunReport['memory']): string {
  if (!m.accounting || m.accounting.length === 0) return '';
  const cell = (text: string, numeric = true) => `<td${numeric ? ' class="num"' : ''}>${escapeHtml(text)}</td>`;
  const row = (label: string, start: number, end: number, rate: number, total = false) => `<tr${total ? ' class="total"' : ''}>`
    + `${cell(label, false)}${cell(formatBytes(start))}${cell(formatBytes(end))}${cell(`${end >= start ? '+' : ''}${formatBytes(end - start)}`)}`
    + `${cell(formatRate(rate))}</tr>`;
  const rows = m.accounting.flatMap((r) => [row(accountingPartLabel(r.part), r.startBytes, r.endBytes, r.growthBytesPerHour),
    ...(r.part === 'file-mapped' ? (m.mappedFiles ?? []).filter((f) => f.endBytes > 0).map((f) => `<tr class="sub"><td>${escapeHtml(f.path)}</td>`
      + `<td class="num">${escapeHtml(formatBytes(f.startBytes))}</td><td class="num">${escapeHtml(formatBytes(f.endBytes))}</td>`
      + `<td class="num">${escapeHtml(`${f.endBytes >= f.startBytes ? '+' : ''}${formatBytes(f.endBytes - f.startBytes)}`)}</td><td></td></tr>`) : [])]);
  const sum = (pick: (r: NonNullable<typeof m.accounting>[number]) => number) => m.accounting!.reduce((total, r) => total + pick(r), 0);
  rows.push(row('RSS', sum((r) => r.startBytes), sum((r) => r.endBytes), sum((r) => r.growthBytesPerHour), true));
  const w = m.accountingWindow;
  const t = m.trimProbe;
  return `<section class="card" id="accounting"><h2>Where the RSS went</h2>`
    + `<p class="hint">${w ? `${w.snapshots} snapshots, ${w.fromSec.toFixed(1)} s → ${w.toSec.toFixed(1)} s` : 'The whole run'}`
    + `${m.allocator ? `, allocator ${escapeHtml(String(m.allocator))}` : ''}.</p>`
    + '<table class="accounting"><thead><tr><th>part</th><th class="num">start</th><th class="num">end</th><th class="num">growth</th><th class="num">rate</th></tr></thead>'
    + `<tbody>${rows.join('')}</tbody></table>`
    + (m.accountingNotes ?? []).map((note) => `<p class="hint">${escapeHtml(note)}</p>`).join('')
    + (t ? `<p class="facts">Trim probe${t.timeSec === undefined ? '' : ` at ${t.timeSec.toFixed(1)} s`}: malloc_trim(0) gave back `
      + `${escapeHtml(formatBytes(t.releasedBytes))} (RSS ${escapeHtml(formatBytes(t.rssBeforeBytes))} → ${escapeHtml(formatBytes(t.rssAfterBytes))}).</p>` : '')
    + '</section>';
}

/** With --follow-children: each recorded child process, its verdict and top sites; its own report is in the run directory. */
function childProcesses(report: RunReport): string {
  const children = report.processes ?? [];
  if (children.length === 0) return '';
  const rows = children.map((child) => `<li><span class="badge ${verdictClass(child.verdict.kind)}">${escapeHtml(verdictTitle[child.verdict.kind] ?? child.verdict.kind)}</span> `
    + `<code>${escapeHtml(child.executable)}</code> (pid ${child.pid}, ${child.snapshots} snapshots): ${escapeHtml(child.verdict.summary)} `
    + `<span class="loc">— ${escapeHtml(child.report)}</span></li>`).join('');
  return `<section class="card" id="processes"><h2>Child processes</h2><ul class="children">${rows}</ul></section>`;
}

export function renderHtml(input: HtmlInput): string {
  const { report } = input;
  const title = verdictTitle[report.verdict.kind] ?? report.verdict.kind;
  const chart = renderTimelineChart(input.timeline as readonly TimelineInput[], report.memory.window?.leftOut === 'nothing' ? undefined : report.memory.window?.fromSec);
  const data = { timeline: chart.data, flame: input.growth ?? null };
  const commandName = report.command[0]?.split('/').pop() ?? '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>leakhunt: ${escapeHtml(title)} — ${escapeHtml(commandName)}</title>
<style>${css}</style>
</head>
<body>
<main>
<header class="top"><span class="brand">leakhunt</span><span>native-memory report</span></header>
<div class="verdict ${verdictClass(report.verdict.kind)}">
<h1>${escapeHtml(title.toUpperCase())}</h1>
<p>${escapeHtml(report.verdict.summary)}</p>
</div>
${facts(report)}
<section class="card" id="timeline">
<h2>Memory over time</h2>
<p class="hint">One point per snapshot; hover for the figures.${windowHint(report)}</p>
${chart.legend}
<div class="chart-wrap">${chart.svg}</div>
</section>
${accountingSection(report.memory)}
<section class="card" id="sites">
<h2>Call sites, ranked</h2>
<p class="hint">Ranked by how likely and how fast their retained memory grows. Click a site for its stack.</p>
${renderSites(report.sites, input.top ?? 50)}
</section>
<section class="card" id="growth">
<h2>Where the growth is</h2>
<p class="hint">Stacks merged from the outermost frame (top) to the innermost; a frame's width is how much the memory
allocated below it grew between the two snapshots (or shrank, when you choose so). The net change in use is what grew
less what shrank. Click a frame to zoom in, a frame above it to zoom out.</p>
<div class="flame-controls">
<label>from <select id="flame-from"></select></label>
<label>to <select id="flame-to"></select></label>
<label>show <select id="flame-mode"><option value="grew" selected>what grew</option><option value="shrank">what shrank</option></select></label>
<span class="flame-legend"><span><i style="background:hsl(356,72%,64%)"></i>grew</span><span><i style="background:hsl(214,68%,64%)"></i>new</span><span><i style="background:hsl(140,42%,62%)"></i>shrank</span></span>
</div>
<p class="flame-summary" id="flame-summary"></p>
<div id="flame"><noscript><p class="empty">The flame graph needs JavaScript.</p></noscript></div>
</section>
${childProcesses(report)}
<footer>leakhunt report · ${report.snapshots} snapshots · schema ${escapeHtml(report.schema)}</footer>
</main>
<div id="tooltip" class="tooltip" hidden></div>
<script type="application/json" id="leakhunt-data">${jsonForScript(data)}</script>
<script>${clientScript}</script>
</body>
</html>
`;
}

/** timeline.json's snapshots, or none when it is missing or unreadable (the chart then says so). */
export function readTimelineFile(runDir: string): TimelineInput[] {
  try {
    return readTimelineSnapshots(runDir).filter((p): p is TimelineInput => typeof p === 'object' && p !== null);
  } catch {
    return [];
  }
}

export interface RunHtmlOptions {
  /** timeline.json's snapshots (read from the run directory when not given). */
  timeline?: readonly (TimelinePoint | TimelineInput)[];
  /**
   * The run's profiles as the processing just made them, one point per timeline entry: the flame graph is drawn
   * from them instead of the profile files (which hold the same).
   */
  series?: ProfileSeries;
  top?: number;
}

/** The page for a run directory: its report, timeline (read from timeline.json when not given) and profiles. */
export function renderRunHtml(runDir: string, report: RunReport, options: RunHtmlOptions = {}): string {
  const timeline = options.timeline ?? readTimelineFile(runDir);
  const points = timeline.filter((p): p is TimelinePoint => typeof p.sequence === 'number' && typeof p.timeSec === 'number');
  const growth = options.series && options.series.points.length === points.length
    ? flameDataOfSeries(options.series, points) : loadFlameData(runDir, points);
  return renderHtml({ report, timeline, ...(growth ? { growth } : {}), ...(options.top === undefined ? {} : { top: options.top }) });
}

/** Writes DIR/report.html (atomically); returns its path. */
export function writeHtmlReport(runDir: string, report: RunReport, options: RunHtmlOptions = {}): string {
  const path = runPath(runDir, 'html');
  writeFileAtomic(path, renderRunHtml(runDir, report, options));
  return path;
}
