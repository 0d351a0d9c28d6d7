/** The gate's verdict as Markdown: for --markdown FILE and the GitHub Actions step summary. */
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import { abbreviateTemplates, siteKindTag, type SiteReport } from '../analyse/index.js';
import { adviceTexts, formatDetectable, gateVerdict, problemTexts } from './wording.js';
import type { GateResult } from './types.js';

/** Inline text: Markdown punctuation escaped, < > & as entities (C++ names are full of them). */
export function markdownText(text: string): string {
  return text
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|#~])/g, '\\$1')
    .replace(/\r?\n/g, ' ');
}

/** A fenced block whose fence is longer than any run of backticks inside. */
function fenced(lines: readonly string[]): string[] {
  const longest = Math.max(2, ...lines.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((run) => run.length))));
  const fence = '`'.repeat(longest + 1);
  return [fence, ...lines, fence];
}

const title: Record<GateResult['outcome'], string> = { pass: '✅ PASS', fail: '❌ FAIL', 'not-enough-data': '⚠️ NOT ENOUGH DATA' };

function row(mark: string, site: SiteReport, note = ''): string {
  const growth = `${site.growthBytes > 0 ? '+' : ''}${formatBytes(site.growthBytes)}`;
  return `| ${mark} | ${markdownText(`${abbreviateTemplates(site.location)}${siteKindTag(site.kind)}`)} | ${formatRate(site.leakRateBytesPerHour)} | ${growth} | ${formatBytes(site.liveBytes)} | ${site.confidence.toFixed(2)} | ${markdownText(note)} |`;
}

export function renderMarkdown(result: GateResult): string {
  const t = result.thresholds;
  const lines: string[] = [`### leakhunt gate: ${title[result.outcome]}`, '', markdownText(gateVerdict(result).replace(/^[A-Z ]+: /, '')), ''];
  if (result.failing.length + result.suppressed.length + result.baselined.length > 0) {
    lines.push('| | site | rate | growth | live | confidence | |', '|---|---|---:|---:|---:|---:|---|');
    for (const site of result.failing) lines.push(row('❌', site, 'over the threshold'));
    for (const s of result.suppressed) lines.push(row('🔇', s.site, `suppressed (line ${s.rule.line}): ${s.rule.reason}`));
    for (const b of result.baselined) lines.push(row('☑️', b.site, `in the baseline at ${formatRate(b.baselineRateBytesPerHour)}, accepted up to ${formatRate(b.allowedRateBytesPerHour)}`));
    lines.push('');
  }
  const live = result.liveGrowth;
  lines.push(`- Live malloc: ${live.bytes > 0 ? '+' : ''}${formatBytes(live.bytes)} over the run (limit ${formatBytes(live.allowedBytes)})${live.exceeded ? ' — **over the limit**' : live.significant ? '' : ', not significant'}`);
  const rss = result.rssGrowth;
  lines.push(`- RSS: ${rss.bytes > 0 ? '+' : ''}${formatBytes(rss.bytes)}${rss.allowedBytes === undefined ? ' (not gated)' : ` (limit ${formatBytes(rss.allowedBytes)})${rss.exceeded ? ' — **over the limit**' : ''}`}`);
  lines.push(`- Thresholds: leak rate ${formatRate(t.maxLeakRateBytesPerHour)} at confidence ≥ ${t.minConfidence}, live growth ${formatBytes(t.maxGrowthBytes)}${t.maxRssGrowthBytes === undefined ? '' : `, RSS growth ${formatBytes(t.maxRssGrowthBytes)}`}`);
  const r = result.run;
  lines.push(`- Run: ${r.snapshots} snapshot${r.snapshots === 1 ? '' : 's'} over ${formatDurationMs(r.spanSec * 1000)}, sampling every ${formatBytes(r.sampleIntervalBytes)}: shows leaks from ${formatDetectable(result.detection.rateBytesPerHour)}`);
  if (r.command.length > 0) lines.push(`- Command: ${markdownText(r.command.join(' '))}`);
  if (result.baselineSource) lines.push(`- Baseline: ${markdownText(result.baselineSource)}`);
  if (result.outcome === 'not-enough-data') for (const problem of problemTexts(result)) lines.push(`- Not enough data: ${markdownText(problem)}`);
  for (const advice of adviceTexts(result)) lines.push(`- To decide: ${markdownText(advice)}`);
  for (const rule of result.unusedSuppressions) lines.push(`- Suppression line ${rule.line} (${markdownText(rule.pattern)}) matched no site over the threshold`);
  for (const warning of result.warnings) lines.push(`- Warning: ${markdownText(warning)}`);
  if (result.failing.length > 0) {
    lines.push('', '<details><summary>Stacks of the failing sites, innermost first</summary>', '');
    for (const site of result.failing.slice(0, 10)) {
      lines.push(`**${markdownText(`${abbreviateTemplates(site.function)}${siteKindTag(site.kind)}`)}**`, '', ...fenced(site.stack.map(abbreviateTemplates)), '');
    }
    lines.push('</details>');
  }
  return `${lines.join('\n')}\n`;
}
