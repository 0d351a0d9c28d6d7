/** The gate's per-site lines for the terminal (stdout): what fails, what was suppressed and why, what the baseline accepted. */
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import { abbreviateTemplates, siteKindTag, type SiteReport } from '../analyse/index.js';
import { adviceTexts, formatDetectable, problemTexts } from './wording.js';
import type { GateResult } from './types.js';

function site(s: SiteReport): string {
  return `${abbreviateTemplates(s.location)}${siteKindTag(s.kind)}: ${formatRate(s.leakRateBytesPerHour)}, ${s.growthBytes > 0 ? '+' : ''}${formatBytes(s.growthBytes)} over the run, confidence ${s.confidence.toFixed(2)}`;
}

export function renderDetails(result: GateResult): string[] {
  const t = result.thresholds;
  const r = result.run;
  const lines = [
    `gate: leak rate > ${formatRate(t.maxLeakRateBytesPerHour)} at confidence ≥ ${t.minConfidence}, live growth > ${formatBytes(t.maxGrowthBytes)}`
      + `${t.maxRssGrowthBytes === undefined ? '' : `, RSS growth > ${formatBytes(t.maxRssGrowthBytes)}`}`,
    `run: ${r.snapshots} snapshot${r.snapshots === 1 ? '' : 's'} over ${formatDurationMs(r.spanSec * 1000)}, sampling every ${formatBytes(r.sampleIntervalBytes)}: shows leaks from ${formatDetectable(result.detection.rateBytesPerHour)}`,
  ];
  for (const s of result.failing) lines.push(`  FAIL        ${site(s)}`);
  for (const s of result.suppressed) {
    lines.push(`  suppressed  ${site(s.site)} — ${result.suppressionsSource ?? 'suppressions'}:${s.rule.line} leak:${s.rule.pattern} matched "${s.frame}": ${s.rule.reason}`);
  }
  for (const b of result.baselined) {
    lines.push(`  baseline    ${site(b.site)} — ${formatRate(b.baselineRateBytesPerHour)} in the baseline, accepted up to ${formatRate(b.allowedRateBytesPerHour)}`);
  }
  const live = result.liveGrowth;
  lines.push(`  ${live.exceeded ? 'FAIL      ' : 'ok        '}  live malloc ${live.bytes > 0 ? '+' : ''}${formatBytes(live.bytes)} (limit ${formatBytes(live.allowedBytes)}${live.significant ? '' : ', not significant'})`);
  if (result.rssGrowth.allowedBytes !== undefined) {
    lines.push(`  ${result.rssGrowth.exceeded ? 'FAIL      ' : 'ok        '}  RSS ${result.rssGrowth.bytes > 0 ? '+' : ''}${formatBytes(result.rssGrowth.bytes)} (limit ${formatBytes(result.rssGrowth.allowedBytes)})`);
  }
  for (const rule of result.unusedSuppressions) lines.push(`  unused      ${result.suppressionsSource ?? 'suppressions'}:${rule.line} leak:${rule.pattern} matched no site over the threshold`);
  if (result.outcome === 'not-enough-data') for (const problem of problemTexts(result)) lines.push(`  not enough data: ${problem}`);
  for (const advice of adviceTexts(result)) lines.push(`  to decide: ${advice}`);
  for (const warning of result.warnings) lines.push(`  warning: ${warning}`);
  return lines;
}
