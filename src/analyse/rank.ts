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
import { fitLine, normalCdf, theilSenSlope } from './statistics.js';
import type { AnalysisOptions, ProfilePoint, SiteReport, SiteStatus } from './types.js';

const SECONDS_PER_HOUR = 3600;
/**
 * A site is growing only when the lower bound of the 98% interval of its rate is above zero. For a flat
 * site confidence is about uniform, so 0.99 keeps false alarms near 1% per site (0.9 would flag one flat
 * site in ten). The gate and --min-confidence may choose another level.
 */
export const DEFAULT_MIN_CONFIDENCE = 0.99;

interface SiteAccumulator {
  function: string;
  location: string;
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
        acc = { function: name, location: site ? describeFrame(site) : name, series: new Array<number>(points.length).fill(0), stacks: new Map() };
        sites.set(name, acc);
      }
      acc.series[index]! += bytes;
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

export interface SeriesGrowth {
  /** Least-squares rate. */
  rateBytesPerHour: number;
  /** Theil–Sen rate: robust to one-off steps and outliers. */
  robustRateBytesPerHour: number;
  growthBytes: number;
  confidence: number;
}

/** Growth of one live-bytes series sampled at `timesSec`, with `sampleIntervalBytes` of sampling noise. */
export function seriesGrowth(timesSec: readonly number[], series: readonly number[], sampleIntervalBytes: number): SeriesGrowth {
  const n = series.length;
  if (n < 2) return { rateBytesPerHour: 0, robustRateBytesPerHour: 0, growthBytes: 0, confidence: 0 };
  const noise = sampleIntervalBytes > 1 ? series.map((bytes) => sampleIntervalBytes * Math.max(bytes, sampleIntervalBytes)) : series.map(() => 0);
  const fit = fitLine(timesSec, series, noise);
  let confidence: number;
  if (fit.slopeStdError === 0) confidence = fit.slope > 0 ? 1 : fit.slope < 0 ? 0 : 0.5;
  else if (!Number.isFinite(fit.slopeStdError)) confidence = 0.5;
  else confidence = normalCdf(fit.slope / fit.slopeStdError);
  return {
    rateBytesPerHour: fit.slope * SECONDS_PER_HOUR,
    robustRateBytesPerHour: theilSenSlope(timesSec, series) * SECONDS_PER_HOUR,
    growthBytes: series[n - 1]! - series[0]!,
    confidence,
  };
}

function statusOf(series: readonly number[], growth: SeriesGrowth, minConfidence: number, materialBytes: number): SiteStatus {
  const first = series[0] ?? 0;
  const last = series[series.length - 1] ?? 0;
  // Growing needs all three: a significant trend, a robust one (not one step), and a material amount.
  if (series.length >= 2 && growth.confidence >= minConfidence && growth.robustRateBytesPerHour > 0
    && growth.growthBytes >= materialBytes) return 'growing';
  if (series.length >= 2 && 1 - growth.confidence >= minConfidence && growth.robustRateBytesPerHour < 0
    && -growth.growthBytes >= materialBytes) {
    return last === 0 ? 'gone' : 'shrinking';
  }
  if (series.length >= 2 && first === 0 && last > 0) return 'new';
  if (series.length >= 2 && first > 0 && last === 0) return 'gone';
  return 'stable';
}

const statusOrder: Record<SiteStatus, number> = { growing: 0, new: 1, stable: 2, shrinking: 3, gone: 4 };

export function rankSites(points: readonly ProfilePoint[], options: AnalysisOptions): SiteReport[] {
  const patterns = options.plumbingPatterns ?? defaultPlumbingPatterns;
  const minConfidence = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
  // Growth smaller than two sampling intervals is within what one or two samples can do by chance.
  const materialBytes = 2 * Math.max(options.sampleIntervalBytes, 1);
  const times = points.map((p) => p.timeSec);
  const reports: Omit<SiteReport, 'rank'>[] = [];
  for (const site of siteSeries(points, patterns).values()) {
    const growth = seriesGrowth(times, site.series, options.sampleIntervalBytes);
    const last = site.series.length - 1;
    let heaviest: { frames: HeapProfileFrame[]; series: number[] } | undefined;
    for (const stack of site.stacks.values()) {
      const weight = (s: { series: number[] }) => Math.max(s.series[last]!, s.series[last]! - s.series[0]!);
      if (!heaviest || weight(stack) > weight(heaviest)) heaviest = stack;
    }
    reports.push({
      function: site.function,
      location: site.location,
      stack: (heaviest?.frames ?? []).map(describeFrame),
      status: statusOf(site.series, growth, minConfidence, materialBytes),
      leakRateBytesPerHour: growth.rateBytesPerHour,
      growthBytes: growth.growthBytes,
      liveBytes: site.series[last] ?? 0,
      confidence: growth.confidence,
      series: site.series,
    });
  }
  reports.sort((a, b) => statusOrder[a.status] - statusOrder[b.status]
    || (a.status === 'growing' ? b.leakRateBytesPerHour - a.leakRateBytesPerHour : b.growthBytes - a.growthBytes)
    || b.liveBytes - a.liveBytes);
  return reports.map((r, i) => ({ rank: i + 1, ...r }));
}

/** Total live bytes per point (all sites). */
export function totalLiveSeries(points: readonly ProfilePoint[]): number[] {
  return points.map((point) => {
    const inuse = sampleValueIndex(point.profile, 'inuse_space');
    return inuse < 0 ? 0 : point.profile.samples.reduce((sum, s) => sum + (s.values[inuse] ?? 0), 0);
  });
}
