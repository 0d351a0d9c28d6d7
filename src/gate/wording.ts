/**
 * The gate's sentences, one place for every output (stderr, the terminal's lines, JUnit, Markdown, GitHub): the
 * one-line verdict, why a run could not decide, and what would let it. The decision is evaluate.ts's.
 */
import { abbreviateTemplates, MIN_SNAPSHOTS_FOR_TREND, siteKindTag, type SiteReport } from '../analyse/index.js';
import { formatBytes, formatDurationMs, formatRate } from '../core/units.js';
import type { GateAdvice, GateProblem, GateResult } from './types.js';

const MiB = 1024 * 1024;

/** A duration `leakhunt run --duration` accepts, rounded up: "45s", "20m", "2h30m". */
export function durationFlag(sec: number): string {
  const s = Math.ceil(sec);
  if (s < 120) return `${Math.max(s, 1)}s`;
  const m = Math.ceil(sec / 60);
  if (m < 120) return `${m}m`;
  return m % 60 === 0 ? `${m / 60}h` : `${Math.floor(m / 60)}h${m % 60}m`;
}

/** An interval `--interval` accepts: "300ms", "10s". */
export function intervalFlag(sec: number): string {
  const ms = Math.max(Math.round(sec * 1000), 1);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A size `--sample-bytes` accepts: "4KiB", "512KiB", "2MiB", "256". */
export function sizeFlag(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB}MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return String(Math.round(bytes));
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A detection limit for people: "12.3 MiB/h", or why there is none. */
export function formatDetectable(bytesPerHour: number): string {
  return Number.isFinite(bytesPerHour) ? formatRate(bytesPerHour) : 'no rate at all (no trend)';
}

export function problemText(problem: GateProblem, result: GateResult): string {
  const r = result.run;
  switch (problem.kind) {
    case 'too-few-snapshots':
      return `${plural(r.snapshots, 'snapshot', 'snapshots')} in ${formatDurationMs(r.durationSec * 1000)} cannot show a trend (at least ${MIN_SNAPSHOTS_FOR_TREND} are needed)`;
    case 'rate-undetectable': {
      const runShape = `${plural(r.snapshots, 'snapshot', 'snapshots')} over ${formatDurationMs(r.spanSec * 1000)}, sampling every ${formatBytes(r.sampleIntervalBytes)}`;
      return `this run (${runShape}) could only show leaks from ${formatDetectable(result.detection.rateBytesPerHour)}, above the ${formatRate(result.thresholds.maxLeakRateBytesPerHour)} threshold`;
    }
    case 'growth-undetectable': {
      const growth = result.detection.growthBytes;
      return `this run could only show live growth ${Number.isFinite(growth) ? `from ${formatBytes(growth)}` : 'of no size'}, above the ${formatBytes(result.liveGrowth.allowedBytes)} limit`;
    }
  }
}

export function adviceText(advice: GateAdvice): string {
  switch (advice.kind) {
    case 'run-longer': {
      const duration = durationFlag(advice.durationSec);
      return `run at least ${duration} (--duration ${duration}) at --sample-bytes ${sizeFlag(advice.sampleBytes)} and --interval ${intervalFlag(advice.intervalSec)}`;
    }
    case 'sample-finer':
      return `use --sample-bytes ${sizeFlag(advice.sampleBytes)} for a run this long`;
    case 'snapshot-more-often':
      return `snapshot more often: --interval ${advice.intervalMs}ms`;
  }
}

export function problemTexts(result: GateResult): string[] {
  return result.detection.problems.map((p) => problemText(p, result));
}

export function adviceTexts(result: GateResult): string[] {
  return result.detection.advice.map(adviceText);
}

function siteSummary(site: SiteReport): string {
  return `${abbreviateTemplates(site.function)}${siteKindTag(site.kind)} at ${formatRate(site.leakRateBytesPerHour)} (confidence ${site.confidence.toFixed(2)})`;
}

/** What failed, each as a clause. */
function failures(result: GateResult): string[] {
  const fails: string[] = [];
  const failing = result.failing;
  if (failing.length > 0) {
    const shown = failing.slice(0, 3).map(siteSummary).join(', ');
    const more = failing.length > 3 ? `, and ${failing.length - 3} more` : '';
    fails.push(`${failing.length === 1 ? '1 site leaks' : `${failing.length} sites leak`} over ${formatRate(result.thresholds.maxLeakRateBytesPerHour)}: ${shown}${more}`);
  }
  const live = result.liveGrowth;
  if (live.exceeded) {
    fails.push(`live malloc grew ${formatBytes(live.bytes)} over ${formatDurationMs(result.run.durationSec * 1000)}, over the ${formatBytes(live.allowedBytes)} limit (confidence ${live.confidence.toFixed(2)})`);
  }
  if (result.rssGrowth.exceeded) fails.push(`RSS grew ${formatBytes(result.rssGrowth.bytes)}, over the ${formatBytes(result.rssGrowth.allowedBytes!)} limit`);
  return fails;
}

/** The one-line verdict, starting "PASS: ", "FAIL: " or "NOT ENOUGH DATA: ". */
export function gateVerdict(result: GateResult): string {
  const maxRate = formatRate(result.thresholds.maxLeakRateBytesPerHour);
  const notes: string[] = [];
  if (result.suppressed.length > 0) notes.push(`${result.suppressed.length} suppressed`);
  if (result.baselined.length > 0) notes.push(`${plural(result.baselined.length, 'site', 'sites')} within the baseline`);
  if (result.outcome === 'fail') return `FAIL: ${[...failures(result), ...notes].join('; ')}`;
  if (result.outcome === 'not-enough-data') {
    const advice = adviceTexts(result);
    return `NOT ENOUGH DATA: no site leaks over ${maxRate}, but ${problemTexts(result).join('; ')}`
      + `${advice.length > 0 ? `: ${advice.join(', or ')}` : ''}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`;
  }
  const live = result.liveGrowth;
  const rss = result.rssGrowth;
  const parts = [
    `no site leaks over ${maxRate} (this run shows leaks from ${formatDetectable(result.detection.rateBytesPerHour)})`,
    `live malloc ${live.bytes > 0 ? '+' : ''}${formatBytes(live.bytes)} (limit ${formatBytes(live.allowedBytes)})`,
  ];
  if (rss.allowedBytes !== undefined) parts.push(`RSS ${rss.bytes > 0 ? '+' : ''}${formatBytes(rss.bytes)} (limit ${formatBytes(rss.allowedBytes)})`);
  return `PASS: ${[...parts, ...notes].join('; ')}`;
}
