/**
 * The report as GitHub-flavoured Markdown, for pull requests and CI summaries: the verdict as a heading, the
 * memory figures, a table of the top sites and the stacks of the growing ones in collapsed blocks. Nothing in it
 * depends on when or where it was rendered (no timestamps, no run directory), so the same report renders the same.
 */
import { abbreviateTemplates, siteKindTag, type SiteReport } from '../analyse/index.js';
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import { sampleBytesInForce, trackingSinceSentence, windowSentence, type RunReport } from '../pipeline/index.js';
import { accountingPartLabel, pushSummary, snapshotCount } from './text.js';

export interface MarkdownOptions {
  /** Sites in the table (default 10). */
  top?: number;
  /** Frames shown per stack (default 20). */
  stackFrames?: number;
  /** Stacks shown, for the first growing (or new) sites of the table (default 3). */
  stacks?: number;
}

const verdictTitle: Record<string, string> = {
  'native-leak': 'Native leak', fragmentation: 'Fragmentation', 'java-heap': 'Java heap growth',
  'jvm-internal': 'JVM-internal growth', 'no-growth': 'No growth', inconclusive: 'Inconclusive',
};

/** A code span that survives any backticks in `text` and, inside a table, pipes. */
function code(text: string, inTable = false): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const body = inTable ? text.replace(/\|/g, '\\|') : text;
  const pad = body.startsWith('`') || body.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Markdown inline text: nothing in it is taken for emphasis, links or HTML. */
function plain(text: string): string {
  return text.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`);
}

function signedBytes(bytes: number): string {
  return `${bytes > 0 ? '+' : ''}${formatBytes(bytes)}`;
}

function siteRow(site: SiteReport): string {
  const cells = [
    String(site.rank), site.status, formatRate(site.leakRateBytesPerHour), signedBytes(site.growthBytes),
    formatBytes(site.liveBytes), site.confidence.toFixed(2), `${code(abbreviateTemplates(site.location), true)}${plain(siteKindTag(site.kind))}`,
  ];
  return `| ${cells.join(' | ')} |`;
}

function stackBlock(site: SiteReport, frames: number): string[] {
  const shown = site.stack.slice(0, frames).map(abbreviateTemplates);
  if (site.stack.length > frames) shown.push(`… ${site.stack.length - frames} more frames (report.json has them all)`);
  const longest = Math.max(2, ...shown.join('\n').match(/`+/g)?.map((run) => run.length) ?? []);
  const fence = '`'.repeat(longest + 1);
  return [
    '<details>',
    `<summary>#${site.rank} ${html(`${abbreviateTemplates(site.function)}${siteKindTag(site.kind)}`)}: stack, innermost first</summary>`,
    '',
    fence,
    ...shown,
    fence,
    '',
    '</details>',
  ];
}

/** "Where the RSS went" as a table, RSS last, and the trim probe's result; nothing without accounting. */
function accountingTable(m: RunReport['memory']): string[] {
  if (!m.accounting || m.accounting.length === 0) return [];
  const w = m.accountingWindow;
  const lines = [`**Where the RSS went**${w ? ` (${w.snapshots} snapshots, ${w.fromSec.toFixed(1)} s → ${w.toSec.toFixed(1)} s)` : ''}`
    + `${m.allocator ? `, allocator ${plain(String(m.allocator))}` : ''}:`, '', '| part | start | end | growth | rate |', '|:--|--:|--:|--:|--:|'];
  const row = (label: string, start: number, end: number, rate: number) =>
    `| ${label} | ${formatBytes(start)} | ${formatBytes(end)} | ${signedBytes(end - start)} | ${formatRate(rate)} |`;
  let start = 0;
  let end = 0;
  let rate = 0;
  for (const r of m.accounting) {
    lines.push(row(plain(accountingPartLabel(r.part)), r.startBytes, r.endBytes, r.growthBytesPerHour));
    start += r.startBytes;
    end += r.endBytes;
    rate += r.growthBytesPerHour;
  }
  lines.push(row('**RSS**', start, end, rate), '');
  const t = m.trimProbe;
  if (t) {
    lines.push(`**Trim probe**${t.timeSec === undefined ? '' : ` at ${t.timeSec.toFixed(1)} s`}: malloc_trim(0) gave back `
      + `${formatBytes(t.releasedBytes)} (RSS ${formatBytes(t.rssBeforeBytes)} → ${formatBytes(t.rssAfterBytes)})`, '');
  }
  return lines;
}

export function renderMarkdown(report: RunReport, options: MarkdownOptions = {}): string {
  const top = options.top ?? 10;
  const frames = options.stackFrames ?? 20;
  const lines: string[] = [];
  lines.push(`## ${verdictTitle[report.verdict.kind] ?? report.verdict.kind}: ${plain(report.verdict.summary)}`, '');
  const m = report.memory;
  lines.push(`**Memory:** RSS ${formatBytes(m.rssStartBytes)} → ${formatBytes(m.rssEndBytes)} (${formatRate(m.rssGrowthBytesPerHour)}), `
    + `live malloc ${formatBytes(m.liveStartBytes)} → ${formatBytes(m.liveEndBytes)} (${formatRate(m.liveGrowthBytesPerHour)})`
    + `${windowSentence(m.window) ? `, ${windowSentence(m.window)}` : ''}`, '');
  lines.push(...accountingTable(m));
  lines.push(`**Run:** ${code(report.command.join(' '))}, ${formatDurationMs(report.durationSec * 1000)}, `
    + `${snapshotCount(report)}, sampling every ${formatBytes(sampleBytesInForce(report))}`
    + (report.exitStatus === null ? '' : `, exit status ${report.exitStatus}`), '');
  if (report.trackingSince) lines.push(`**Attached:** ${plain(trackingSinceSentence(report.trackingSince))}`, '');
  if (report.push) lines.push(`**Push:** ${plain(pushSummary(report.push))}`, '');
  for (const warning of report.warnings) lines.push(`> **Warning:** ${plain(warning)}`, '');

  const shown = report.sites.slice(0, top);
  if (shown.length === 0) {
    lines.push('No sampled live allocations.');
    return `${lines.join('\n')}\n`;
  }
  lines.push('| # | status | rate | growth | live | confidence | site |', '|--:|:--|--:|--:|--:|--:|:--|');
  for (const site of shown) lines.push(siteRow(site));
  if (report.sites.length > shown.length) lines.push('', `${report.sites.length - shown.length} more sites in report.json.`);

  const explained = shown.filter((s) => s.status === 'growing' || s.status === 'new').slice(0, options.stacks ?? 3);
  for (const site of explained) lines.push('', ...stackBlock(site, frames));
  return `${lines.join('\n')}\n`;
}
