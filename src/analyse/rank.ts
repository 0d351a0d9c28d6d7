/**
 * Per-site series and growth ranking over a run's snapshots.
 *
 * Each site's live bytes form a series over time. The growth rate is the least-squares slope; its
 * uncertainty is the larger of what the residuals show and what the sampler guarantees: an upscaled
 * estimate of B live bytes at interval S has a variance of about S·B (each sample of a small block stands
 * for about S bytes). Confidence is the probability that the true slope is above zero.
 */
import { sampleValueIndex, type HeapProfileFrame } from '../pprof/index.js';
import { defaultPlumbingPatterns, describeFrame, siteFrameIndex } from './sites.js';
import { trendOf, warmupPoints, type Trend } from './trend.js';
import type { AnalysisOptions, ProfilePoint, SiteReport, SiteStatus } from './types.js';

/**
 * A site is growing when its confidence (a calibrated posterior, see trend.ts: a flat site reaches 0.9 in
 * under 2% of runs) is at least this, its shape is linear, and it grew by a material amount.
 */
export const DEFAULT_MIN_CONFIDENCE = 0.9;

interface SiteAccumulator {
  function: string;
  location: string;
  /** At the last point: the oldest live block's age, and Σ bytes × mean age (for the bytes-weighted mean). */
  oldestAgeMs?: number;
  ageBytes: number;
  ageWeighted: number;
  series: number[];
  /** Per full stack: its live bytes at each point, to pick the site's representative stack. */
  stacks: Map<string, { frames: HeapProfileFrame[]; series: number[] }>;
}

function stackKey(frames: readonly HeapProfileFrame[]): string {
  return frames.map((f) => `${f.functionName}@${f.address ?? ''}`).join('|');
}

/** Groups every point's samples by site; each series has one value per point. */
export function siteSeries(points: readonly ProfilePoint[], patterns: readonly RegExp[]): Map<string, SiteAccumulator> {
  const sites = new Map<string, SiteAccumulator>();
  points.forEach((point, index) => {
    const inuse = sampleValueIndex(point.profile, 'inuse_space');
    if (inuse < 0) return;
    for (const sample of point.profile.samples) {
      const bytes = sample.values[inuse] ?? 0;
      if (bytes === 0) continue;
      const site = sample.stack[siteFrameIndex(sample.stack, patterns)];
      const name = site?.functionName ?? '[empty stack]';
      let acc = sites.get(name);
      if (!acc) {
        acc = { function: name, location: site ? describeFrame(site) : name, ageBytes: 0, ageWeighted: 0, series: new Array<number>(points.length).fill(0), stacks: new Map() };
        sites.set(name, acc);
      }
      acc.series[index]! += bytes;
      const oldest = sample.labels['oldest_live_age_ms'];
      const mean = sample.labels['mean_live_age_ms'];
      if (index === points.length - 1 && typeof oldest === 'number' && typeof mean === 'number') {
        acc.oldestAgeMs = Math.max(acc.oldestAgeMs ?? 0, oldest);
        acc.ageBytes += bytes;
        acc.ageWeighted += bytes * mean;
      }
      const key = stackKey(sample.stack);
      let stack = acc.stacks.get(key);
      if (!stack) {
        stack = { frames: sample.stack, series: new Array<number>(points.length).fill(0) };
        acc.stacks.set(key, stack);
      }
      stack.series[index]! += bytes;
    }
  });
  return sites;
}

/** Growth of one live-bytes series sampled at `timesSec`, with `sampleIntervalBytes` of sampling noise. */
export function seriesGrowth(timesSec: readonly number[], series: readonly number[], sampleIntervalBytes: number): Trend {
  return trendOf(timesSec, series, sampleIntervalBytes);
}

/**
 * The second signal: in a leak the live blocks were allocated all along the trend window, so the oldest is about
 * as old as the window; when even the oldest live block is young, the site's live set is being renewed — churn
 * (perhaps under rising load), not memory that is never freed.
 */
function allYoung(ages: SiteReport['ages'], windowSec: number): boolean {
  return ages !== undefined && windowSec > 0 && ages.oldestSec < 0.25 * windowSec;
}

function statusOf(
  series: readonly number[], trend: Trend, minConfidence: number, materialBytes: number, young: boolean,
): SiteStatus {
  const first = series[0] ?? 0;
  const last = series[series.length - 1] ?? 0;
  if (series.length >= 2 && trend.confidence >= minConfidence && trend.shape === 'linear'
    && trend.growthBytes >= materialBytes && !young) return 'growing';
  if (series.length >= 2 && trend.shape === 'shrinking' && -trend.growthBytes >= materialBytes) {
    return last === 0 ? 'gone' : 'shrinking';
  }
  if (series.length >= 2 && first === 0 && last > 0) return 'new';
  if (series.length >= 2 && first > 0 && last === 0) return 'gone';
  return 'stable';
}

const statusOrder: Record<SiteStatus, number> = { growing: 0, new: 1, stable: 1, shrinking: 2, gone: 3 };

export function rankSites(points: readonly ProfilePoint[], options: AnalysisOptions): SiteReport[] {
  const patterns = options.plumbingPatterns ?? defaultPlumbingPatterns;
  const minConfidence = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
  // Growth smaller than two sampling intervals is within what one or two samples can do by chance.
  const materialBytes = 2 * Math.max(options.sampleIntervalBytes, 1);
  const times = points.map((p) => p.timeSec);
  const skip = warmupOf(points, options);
  const reports: Omit<SiteReport, 'rank'>[] = [];
  for (const site of siteSeries(points, patterns).values()) {
    const trend = trendOf(times.slice(skip), site.series.slice(skip), options.sampleIntervalBytes);
    const last = site.series.length - 1;
    let heaviest: { frames: HeapProfileFrame[]; series: number[] } | undefined;
    for (const stack of site.stacks.values()) {
      const weight = (s: { series: number[] }) => Math.max(s.series[last]!, s.series[last]! - s.series[0]!);
      if (!heaviest || weight(stack) > weight(heaviest)) heaviest = stack;
    }
    const ages = site.oldestAgeMs !== undefined && site.ageBytes > 0
      ? { oldestSec: site.oldestAgeMs / 1000, meanSec: site.ageWeighted / site.ageBytes / 1000 } : undefined;
    const windowSec = (times[times.length - 1] ?? 0) - (times[skip] ?? 0);
    const heavyStacks = [...site.stacks.values()].sort((a, b) => b.series[last]! - a.series[last]!).slice(0, 3);
    reports.push({
      function: site.function,
      location: site.location,
      stack: (heaviest?.frames ?? []).map(describeFrame),
      // Trends leave the warm-up out; new and gone are about the whole run.
      status: statusOf(site.series, trend, minConfidence, materialBytes, allYoung(ages, windowSec)),
      ...(ages ? { ages } : {}),
      ...(site.stacks.size > 1 ? { stacks: heavyStacks.map((s) => ({ stack: s.frames.map(describeFrame), series: s.series })) } : {}),
      shape: trend.shape,
      leakRateBytesPerHour: trend.rateBytesPerHour,
      leakRateIntervalBytesPerHour: trend.rateIntervalBytesPerHour,
      growthBytes: trend.growthBytes,
      liveBytes: site.series[last] ?? 0,
      confidence: trend.confidence,
      series: site.series,
    });
  }
  // Growing sites by rate; the rest by how much growth they are likely to have (rate × confidence), so a leak
  // with too few samples to be called growing yet still ranks above sites that merely appeared once.
  const likelyRate = (r: Omit<SiteReport, 'rank'>) => r.confidence * Math.max(r.leakRateBytesPerHour, 0);
  reports.sort((a, b) => statusOrder[a.status] - statusOrder[b.status]
    || (a.status === 'growing' ? b.leakRateBytesPerHour - a.leakRateBytesPerHour : likelyRate(b) - likelyRate(a))
    || b.growthBytes - a.growthBytes || b.liveBytes - a.liveBytes);
  return reports.map((r, i) => ({ rank: i + 1, ...r }));
}

/** How many leading snapshots are warm-up: --warmup if given, else detected from the total live bytes. */
export function warmupOf(points: readonly ProfilePoint[], options: Pick<AnalysisOptions, 'warmupSec'>): number {
  if (options.warmupSec !== undefined) {
    const start = points[0]?.timeSec ?? 0;
    const k = points.findIndex((p) => p.timeSec - start >= options.warmupSec!);
    return k < 0 ? 0 : Math.min(k, Math.max(points.length - 2, 0));
  }
  return warmupPoints(points.map((p) => p.timeSec), totalLiveSeries(points));
}

/** Total live bytes per point (all sites). */
export function totalLiveSeries(points: readonly ProfilePoint[]): number[] {
  return points.map((point) => {
    const inuse = sampleValueIndex(point.profile, 'inuse_space');
    return inuse < 0 ? 0 : point.profile.samples.reduce((sum, s) => sum + (s.values[inuse] ?? 0), 0);
  });
}
