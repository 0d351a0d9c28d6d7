/** GitHub Actions workflow commands: one `::error` annotation per failure, on stdout. */
import { abbreviateTemplates, siteKindTag } from '../analyse/index.js';
import { formatBytes, formatRate } from '../core/units.js';
import type { GateResult } from './types.js';
import { gateVerdict } from './wording.js';

/** Message text: %, CR and LF escaped as the runner expects. */
export function annotationData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Property values (title=…): also : and , escaped. */
export function annotationProperty(text: string): string {
  return annotationData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function command(kind: 'error' | 'warning' | 'notice', title: string, message: string): string {
  return `::${kind} title=${annotationProperty(title)}::${annotationData(message)}`;
}

export function renderAnnotations(result: GateResult): string[] {
  const max = formatRate(result.thresholds.maxLeakRateBytesPerHour);
  const lines: string[] = [];
  for (const site of result.failing) {
    const stack = site.stack.slice(0, 8).map(abbreviateTemplates).join(' ← ');
    lines.push(command('error', `Native leak: ${abbreviateTemplates(site.function)}${siteKindTag(site.kind)}`,
      `${abbreviateTemplates(site.location)}${siteKindTag(site.kind)} leaks ${formatRate(site.leakRateBytesPerHour)}, over the ${max} threshold `
      + `(confidence ${site.confidence.toFixed(2)}, ${formatBytes(site.growthBytes)} over the run). Stack: ${stack}`));
  }
  if (result.liveGrowth.exceeded) {
    lines.push(command('error', 'Native memory growth', `live malloc grew ${formatBytes(result.liveGrowth.bytes)}, over the ${formatBytes(result.liveGrowth.allowedBytes)} limit`));
  }
  if (result.rssGrowth.exceeded) {
    lines.push(command('error', 'RSS growth', `RSS grew ${formatBytes(result.rssGrowth.bytes)}, over the ${formatBytes(result.rssGrowth.allowedBytes ?? 0)} limit`));
  }
  if (result.outcome === 'not-enough-data') lines.push(command('warning', 'leakhunt gate: not enough data', gateVerdict(result)));
  for (const s of result.suppressed) {
    lines.push(command('notice', `Suppressed leak: ${abbreviateTemplates(s.site.function)}${siteKindTag(s.site.kind)}`,
      `${formatRate(s.site.leakRateBytesPerHour)}, suppressed by ${result.suppressionsSource ?? 'suppressions'}:${s.rule.line} (${s.rule.reason})`));
  }
  if (result.outcome === 'pass') lines.push(command('notice', 'leakhunt gate: pass', gateVerdict(result)));
  return lines;
}
