/**
 * The CI leak gate's decision, from a run's report.json alone (no re-analysis: the sites' statuses, rates and
 * confidences are the run's own; only the total's significance is computed from the sites' series).
 *
 * FAIL (exit 1) when any of:
 *   - a site is growing, at confidence ≥ --min-confidence, faster than --max-leak-rate, and is neither
 *     suppressed nor accepted by the baseline;
 *   - live malloc grew by more than --max-growth over the run, significantly (suppressed sites left out);
 *   - RSS grew by more than --max-rss-growth (when given).
 * Otherwise NOT ENOUGH DATA (exit 3) when the run could not have detected a leak at --max-leak-rate (or a
 * live growth of --max-growth): too few snapshots, too short, or too coarse a sampling interval. Otherwise PASS.
 *
 * Baseline (--baseline): a site over the threshold is accepted when the baseline has the same site and the
 * rate now is at most max(2 × the baseline's rate, the baseline's rate + --max-leak-rate), the baseline's rate
 * counting only when the baseline called that site growing. Live and RSS growth limits grow by the baseline's own
 * growth. So a known leak passes until it doubles or grows by a whole threshold, and a new one fails.
 *
 * The decision is data (which sites, which figures, which problems and advice); its sentences are gate/wording.ts's.
 */
import {
  DEFAULT_MIN_CONFIDENCE, detectableRateBytesPerHour, durationToDetectSec, MIN_SNAPSHOTS_FOR_TREND, sampleBytesToDetect,
  seriesGrowth, type SiteReport,
} from '../analyse/index.js';
import { ExitCode } from '../core/errors.js';
import type { RunReport } from '../pipeline/index.js';
import { shimLimit } from '../core/limits.js';
import { matchSuppression } from './suppressions.js';
import type { BaselinedSite, GateAdvice, GateOptions, GateProblem, GateResult, SuppressedSite, SuppressionRule } from './types.js';

const HOUR = 3600;
/** The shim's smallest snapshot interval (native/limits.json). */
const MIN_INTERVAL_SEC = shimLimit('LEAKHUNT_INTERVAL_MS').min / 1000;

/** The sampling interval in force at the end of the run (the shim doubles it when its table fills). */
export function finalSampleBytes(report: RunReport): number {
  return Math.max(report.shim?.finalSampleIntervalBytes ?? report.sampleBytes, 1);
}

/**
 * Snapshot times: timeline.json's when given, else evenly spaced over the run. The first snapshot comes one
 * interval after the start and the last at the end, so the span is about the duration less one interval.
 */
export function snapshotTimesOf(report: RunReport, given?: readonly number[]): number[] {
  const n = report.snapshots;
  if (given && given.length === n && n > 0) return given.map((t) => t - given[0]!);
  if (n < 2) return n === 1 ? [0] : [];
  const interval = report.snapshotIntervalMs / 1000;
  const span = Math.min((n - 1) * interval, Math.max(report.durationSec - interval, (n - 2) * interval, 0));
  return Array.from({ length: n }, (_, i) => (i * span) / (n - 1));
}

/** What would detect `rate`: a longer run, a smaller sampling interval, or more snapshots in this run. */
function adviceFor(report: RunReport, rate: number, confidence: number, sampleBytes: number, spanSec: number): GateAdvice[] {
  const advice: GateAdvice[] = [];
  const interval = report.snapshotIntervalMs / 1000;
  const n = report.snapshots;
  const span = durationToDetectSec({ rateBytesPerHour: rate, snapshotIntervalSec: interval, sampleIntervalBytes: sampleBytes, confidence });
  if (Number.isFinite(span)) advice.push({ kind: 'run-longer', durationSec: span + interval, sampleBytes, intervalSec: interval });
  const smaller = sampleBytesToDetect({ rateBytesPerHour: rate, durationSec: spanSec, snapshots: n, confidence });
  if (smaller > 0 && smaller < sampleBytes) advice.push({ kind: 'sample-finer', sampleBytes: smaller });
  if (n < MIN_SNAPSHOTS_FOR_TREND && report.durationSec > 0) {
    // Snapshots every R/k over a run of R: about k of them over R − R/k.
    for (let k = MIN_SNAPSHOTS_FOR_TREND; k <= 1000; k++) {
      const every = report.durationSec / k;
      if (every < MIN_INTERVAL_SEC) break;
      const limit = detectableRateBytesPerHour({ durationSec: report.durationSec - every, snapshots: k, sampleIntervalBytes: sampleBytes, confidence });
      if (limit <= rate) {
        advice.push({ kind: 'snapshot-more-often', intervalMs: Math.floor(every * 1000) });
        break;
      }
    }
  }
  return advice;
}

/** Each site over the threshold: failing, suppressed, or accepted by the baseline; and what the suppressed ones grew. */
function judgeSites(report: RunReport, options: GateOptions) {
  const suppressed: SuppressedSite[] = [];
  const baselined: BaselinedSite[] = [];
  const failing: SiteReport[] = [];
  const usedRules = new Set<SuppressionRule>();
  let suppressedGrowth = 0;
  const kept: SiteReport[] = [];
  const maxRate = options.maxLeakRateBytesPerHour;
  for (const site of report.sites) {
    const match = matchSuppression(site, options.suppressions);
    if (match) suppressedGrowth += Math.max(site.growthBytes, 0);
    else kept.push(site);
    const over = site.status === 'growing' && site.confidence >= options.minConfidence && site.leakRateBytesPerHour > maxRate;
    if (!over) continue;
    if (match) {
      suppressed.push({ site, rule: match.rule, frame: match.frame });
      usedRules.add(match.rule);
      continue;
    }
    const before = options.baseline?.report.sites.find((s) => s.function === site.function && (s.kind ?? 'malloc') === (site.kind ?? 'malloc'));
    if (before) {
      const baselineRate = before.status === 'growing' ? Math.max(before.leakRateBytesPerHour, 0) : 0;
      const allowed = Math.max(2 * baselineRate, baselineRate + maxRate);
      if (site.leakRateBytesPerHour <= allowed) {
        baselined.push({ site, baselineRateBytesPerHour: baselineRate, allowedRateBytesPerHour: allowed });
        continue;
      }
    }
    failing.push(site);
  }
  failing.sort((a, b) => b.leakRateBytesPerHour - a.leakRateBytesPerHour);
  const unusedSuppressions = (options.suppressions?.rules ?? []).filter((rule) => !usedRules.has(rule));
  return { failing, suppressed, baselined, unusedSuppressions, kept, suppressedGrowth };
}

/** Live malloc growth: the shim's own totals, less what suppressed sites grew; significance from the kept sites. */
function judgeLiveGrowth(
  report: RunReport, options: GateOptions, times: readonly number[], kept: readonly SiteReport[], suppressedGrowth: number, sampleBytes: number,
): GateResult['liveGrowth'] {
  const m = report.memory;
  const baseMemory = options.baseline?.report.memory;
  const liveBytes = m.liveEndBytes - m.liveStartBytes - suppressedGrowth;
  const totalSeries = times.map((_, i) => kept.reduce((sum, site) => sum + (site.series[i] ?? 0), 0));
  const total = times.length >= 2 ? seriesGrowth(times, totalSeries, sampleBytes) : { confidence: 0, robustRateBytesPerHour: 0 };
  const significant = times.length >= MIN_SNAPSHOTS_FOR_TREND && total.confidence >= options.minConfidence
    && total.robustRateBytesPerHour > 0 && liveBytes >= 2 * sampleBytes;
  const allowedLive = options.maxGrowthBytes + Math.max(baseMemory ? baseMemory.liveEndBytes - baseMemory.liveStartBytes : 0, 0);
  return { bytes: liveBytes, confidence: total.confidence, significant, allowedBytes: allowedLive, exceeded: significant && liveBytes > allowedLive };
}

/** RSS growth: measured, not sampled; gated only when asked. */
function judgeRssGrowth(report: RunReport, options: GateOptions): GateResult['rssGrowth'] {
  const m = report.memory;
  const baseMemory = options.baseline?.report.memory;
  const rssBytes = m.rssEndBytes - m.rssStartBytes;
  const allowedRss = options.maxRssGrowthBytes === undefined ? undefined
    : options.maxRssGrowthBytes + Math.max(baseMemory ? baseMemory.rssEndBytes - baseMemory.rssStartBytes : 0, 0);
  return { bytes: rssBytes, allowedBytes: allowedRss, exceeded: allowedRss !== undefined && rssBytes > allowedRss && m.rssGrowthBytesPerHour > 0 };
}

export function evaluateGate(report: RunReport, options: GateOptions): GateResult {
  const thresholds = {
    maxLeakRateBytesPerHour: options.maxLeakRateBytesPerHour, maxGrowthBytes: options.maxGrowthBytes,
    maxRssGrowthBytes: options.maxRssGrowthBytes, minConfidence: options.minConfidence,
  };
  const maxRate = options.maxLeakRateBytesPerHour;
  const sampleBytes = finalSampleBytes(report);
  const times = snapshotTimesOf(report, options.snapshotTimesSec);
  const spanSec = times.length >= 2 ? times[times.length - 1]! - times[0]! : 0;
  // A site fails only when the ranking calls it growing and the gate's confidence is met: detection needs both.
  const confidence = Math.max(options.minConfidence, DEFAULT_MIN_CONFIDENCE);
  const sites = judgeSites(report, options);
  const liveGrowth = judgeLiveGrowth(report, options, times, sites.kept, sites.suppressedGrowth, sampleBytes);
  const rssGrowth = judgeRssGrowth(report, options);

  // Could this run have seen a leak at the threshold, or the growth limit?
  const n = report.snapshots;
  const detectableRate = detectableRateBytesPerHour({ durationSec: spanSec, snapshots: n, sampleIntervalBytes: sampleBytes, confidence });
  const detectableGrowth = spanSec > 0
    ? detectableRateBytesPerHour({
      durationSec: spanSec, snapshots: n, sampleIntervalBytes: sampleBytes, liveBytes: Math.max(report.memory.liveStartBytes, 0), confidence,
    }) * spanSec / HOUR
    : Infinity;
  const problems: GateProblem[] = [];
  if (n < MIN_SNAPSHOTS_FOR_TREND) {
    problems.push({ kind: 'too-few-snapshots' });
  } else {
    if (maxRate < detectableRate) problems.push({ kind: 'rate-undetectable' });
    if (liveGrowth.allowedBytes < detectableGrowth) problems.push({ kind: 'growth-undetectable' });
  }
  const failed = sites.failing.length > 0 || liveGrowth.exceeded || rssGrowth.exceeded;
  // Advice only matters when it decides the outcome: a run that already failed has decided.
  const advice = problems.length > 0 && !failed ? adviceFor(report, maxRate, confidence, sampleBytes, spanSec) : [];
  const detection = { rateBytesPerHour: detectableRate, growthBytes: detectableGrowth, enough: problems.length === 0, problems, advice };
  const outcome: GateResult['outcome'] = failed ? 'fail' : !detection.enough ? 'not-enough-data' : 'pass';
  const exitCode = outcome === 'fail' ? ExitCode.leak : outcome === 'not-enough-data' ? ExitCode.notEnoughData : ExitCode.ok;
  return {
    outcome, exitCode, thresholds,
    source: options.source, baselineSource: options.baseline?.source, suppressionsSource: options.suppressions?.source,
    run: { command: report.command, durationSec: report.durationSec, snapshots: n, spanSec, sampleIntervalBytes: sampleBytes },
    failing: sites.failing, suppressed: sites.suppressed, unusedSuppressions: sites.unusedSuppressions, baselined: sites.baselined,
    liveGrowth, rssGrowth, detection, warnings: [...report.warnings],
  };
}
