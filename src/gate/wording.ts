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

/** A size `--sample-bytes` accepts, always with its unit: "4KiB", "512KiB", "2MiB", "256B". */
export function sizeFlag(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB}MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return `${Math.round(bytes)}B`;
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

/** Allocations the shim did not see, over the limit: the failure's clause. */
export function unseenFailureText(result: GateResult): string {
  const u = result.unseenGrowth;
  const check = u.check?.available ? u.check : undefined;
  if (!check) return '';
  return `allocations the shim did not see grow at ${formatRate(check.rateBytesPerHour)} (${signedBytes(check.growthBytes)}, confidence ${check.confidence.toFixed(2)}), `
    + `over the ${formatRate(u.allowedRateBytesPerHour)} limit: something calls the allocator without going through malloc's symbol (see report.json's verdict for how to find it)`;
}

/** How the allocations the shim did not see stand, for the per-check lines: "FAIL"/"ok"/"–" and the words. */
export function unseenStatus(result: GateResult): { mark: 'FAIL' | 'ok' | '–'; text: string } {
  const u = result.unseenGrowth;
  const check = u.check;
  if (!u.gated) return { mark: '–', text: 'allocations the shim did not see: not gated (--no-unseen-growth)' };
  if (!check) return { mark: '–', text: 'allocations the shim did not see: not in this report (made before the cross-check)' };
  if (!check.available) return { mark: '–', text: `allocations the shim did not see: not checked (${unseenUnavailable[check.why]})` };
  const figures = `${formatRate(check.rateBytesPerHour)}, confidence ${check.confidence.toFixed(2)} (limit ${formatRate(u.allowedRateBytesPerHour)})`;
  if (u.exceeded) return { mark: 'FAIL', text: `allocations the shim did not see grow at ${figures}` };
  return { mark: 'ok', text: `allocations the shim did not see: ${check.grows ? `grow at ${figures}` : `${figures}, not growing`}` };
}

const unseenUnavailable: Record<NonNullable<Extract<GateResult['unseenGrowth']['check'], { available: false }>>['why'], string> = {
  allocator: 'the allocator gives no in-use figure the shim reads',
  'no-usable-sizes': 'jemalloc without usable sizes',
  'no-figures': 'no allocator figures',
  'too-few-snapshots': 'too few snapshots',
};

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
  if (result.unseenGrowth.exceeded) fails.push(unseenFailureText(result));
  if (result.rssGrowth.exceeded) fails.push(`RSS grew ${formatBytes(result.rssGrowth.bytes)}, over the ${formatBytes(result.rssGrowth.allowedBytes!)} limit`);
  return fails;
}

function signedBytes(bytes: number): string {
  return `${bytes > 0 ? '+' : ''}${formatBytes(bytes)}`;
}

/**
 * "live malloc +1.20 MiB", and when suppressed sites grew, what it is net of: "live malloc -3.61 MiB (+12.0 MiB
 * in all, less 15.6 MiB grown by suppressed sites)".
 */
export function liveGrowthText(live: GateResult['liveGrowth']): string {
  const net = `live malloc ${signedBytes(live.bytes)}`;
  if (!(live.suppressedBytes > 0)) return net;
  return `${net} (${signedBytes(live.bytes + live.suppressedBytes)} in all, less ${formatBytes(live.suppressedBytes)} grown by suppressed sites)`;
}

/** Up to three items, then "and N more". */
function someOf(items: readonly string[]): string {
  return `${items.slice(0, 3).join(', ')}${items.length > 3 ? `, and ${items.length - 3} more` : ''}`;
}

/**
 * The leaks over the threshold the gate let through, each as a clause that comes first in a PASS or NOT ENOUGH DATA
 * verdict — "no site leaks" must never stand before a site that does, within the baseline.
 */
function acceptedLeaks(result: GateResult): string[] {
  const clauses: string[] = [];
  const b = result.baselined;
  if (b.length > 0) {
    const shown = b.map((s) => `${abbreviateTemplates(s.site.function)} at ${formatRate(s.site.leakRateBytesPerHour)} (accepted up to ${formatRate(s.allowedRateBytesPerHour)})`);
    clauses.push(`${b.length === 1 ? '1 site leaks' : `${b.length} sites leak`} within the baseline: ${someOf(shown)}`);
  }
  const s = result.suppressed;
  if (s.length > 0) clauses.push(`${s.length} suppressed: ${someOf(s.map((x) => `${abbreviateTemplates(x.site.function)} at ${formatRate(x.site.leakRateBytesPerHour)}`))}`);
  return clauses;
}

/** The one-line verdict, starting "PASS: ", "FAIL: " or "NOT ENOUGH DATA: ". */
export function gateVerdict(result: GateResult): string {
  const maxRate = formatRate(result.thresholds.maxLeakRateBytesPerHour);
  const accepted = acceptedLeaks(result);
  const noSite = accepted.length > 0 ? 'no other site' : 'no site';
  if (result.outcome === 'fail') {
    const notes: string[] = [];
    if (result.suppressed.length > 0) notes.push(`${result.suppressed.length} suppressed`);
    if (result.baselined.length > 0) notes.push(`${plural(result.baselined.length, 'site', 'sites')} within the baseline`);
    return `FAIL: ${[...failures(result), ...notes].join('; ')}`;
  }
  if (result.outcome === 'not-enough-data') {
    const advice = adviceTexts(result);
    return `NOT ENOUGH DATA: ${[...accepted, `${noSite} leaks over ${maxRate}, but ${problemTexts(result).join('; ')}`].join('; ')}`
      + `${advice.length > 0 ? `: ${advice.join(', or ')}` : ''}`;
  }
  const live = result.liveGrowth;
  const rss = result.rssGrowth;
  const parts = [
    ...accepted,
    `${noSite} leaks over ${maxRate} (this run shows leaks from ${formatDetectable(result.detection.rateBytesPerHour)})`,
    `${liveGrowthText(live)} (limit ${formatBytes(live.allowedBytes)})`,
  ];
  if (rss.allowedBytes !== undefined) parts.push(`RSS ${signedBytes(rss.bytes)} (limit ${formatBytes(rss.allowedBytes)})`);
  return `PASS: ${parts.join('; ')}`;
}
