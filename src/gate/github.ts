/**
 * GitHub Actions workflow commands: one `::error` annotation per failure, on stdout; a leaking site's carries its
 * source file and line when its debug information gives them, so GitHub shows it on that line of the change.
 */
import { isAbsolute, relative } from 'node:path';
import { abbreviateTemplates, siteKindTag, type SiteReport } from '../analyse/index.js';
import { formatBytes, formatRate } from '../core/units.js';
import type { GateResult } from './types.js';
import { gateVerdict, unseenFailureText } from './wording.js';

/** Message text: %, CR and LF escaped as the runner expects. */
export function annotationData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Property values (title=…): also : and , escaped. */
export function annotationProperty(text: string): string {
  return annotationData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** Where an annotation points: a file relative to the workspace (GitHub links it to the commit), and a line. */
interface AnnotationPlace {
  file: string;
  line: number;
}

function command(kind: 'error' | 'warning' | 'notice', title: string, message: string, place?: AnnotationPlace): string {
  const at = place ? `file=${annotationProperty(place.file)},line=${place.line},` : '';
  return `::${kind} ${at}title=${annotationProperty(title)}::${annotationData(message)}`;
}

/**
 * A site's source as GitHub wants it: relative to the workspace when the file lies in it (the usual case for code
 * built in the job's checkout), else as the debug information names it.
 */
export function annotationPlace(site: SiteReport, workspace: string | undefined): AnnotationPlace | undefined {
  if (!site.source) return undefined;
  const { file, line } = site.source;
  if (workspace && isAbsolute(file)) {
    const inside = relative(workspace, file);
    if (inside !== '' && !inside.startsWith('..') && !isAbsolute(inside)) return { file: inside, line };
  }
  return { file, line };
}

export function renderAnnotations(result: GateResult, workspace?: string): string[] {
  const max = formatRate(result.thresholds.maxLeakRateBytesPerHour);
  const lines: string[] = [];
  for (const site of result.failing) {
    const stack = site.stack.slice(0, 8).map(abbreviateTemplates).join(' ← ');
    lines.push(command('error', `Native leak: ${abbreviateTemplates(site.function)}${siteKindTag(site.kind)}`,
      `${abbreviateTemplates(site.location)}${siteKindTag(site.kind)} leaks ${formatRate(site.leakRateBytesPerHour)}, over the ${max} threshold `
      + `(confidence ${site.confidence.toFixed(2)}, ${formatBytes(site.growthBytes)} over the run). Stack: ${stack}`, annotationPlace(site, workspace)));
  }
  if (result.liveGrowth.exceeded) {
    lines.push(command('error', 'Native memory growth', `live malloc grew ${formatBytes(result.liveGrowth.bytes)}, over the ${formatBytes(result.liveGrowth.allowedBytes)} limit`));
  }
  if (result.unseenGrowth.exceeded) lines.push(command('error', 'Native leak the shim did not see', unseenFailureText(result)));
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
