/** Puts the analysis of a run together into report.json's shape. */
import {
  accountMemory, beforeTrim, consistentSites, decideVerdict, DEFAULT_MIN_CONFIDENCE, detectableRateBytesPerHour, memoryGrowth, rankSeries, trendWindowOf, trimProbeOf, unseenGrowth, warmupOf,
  type AnalysisOptions, type MemoryAccounting, type TimelinePoint, type TrendWindow,
} from '../analyse/index.js';
import type { JvmRanges } from '../rundir/index.js';
import { seriesOfProfiles, type ProfilePoint, type ProfileSeries } from '../pprof/index.js';
import type { ShimCounters } from '../snapshot/types.js';
import { verdictDetail } from './verdict-text.js';
import { REPORT_SCHEMA, type MemoryReport, type RunReport, type ShimSummary } from './model.js';

/** What the run itself contributes to the report; the rest comes from the analysis. */
export type RunFacts = Pick<RunReport, 'command' | 'pid' | 'exitStatus' | 'durationSec' | 'sampleBytes' | 'snapshotIntervalMs' | 'warnings' | 'snapshotsWritten' | 'snapshotsDamaged' | 'trackingSince'>;

/** An attached run's "tracking since" (ISO 8601): what came before it was not seen, and every rate runs from it. */
export function trackingSinceOf(meta: { attach?: { trackingSinceMs: number } }): { trackingSince?: string } {
  return meta.attach ? { trackingSince: new Date(meta.attach.trackingSinceMs).toISOString() } : {};
}

export function shimSummary(counters: ShimCounters | undefined, finalSampleIntervalBytes: number): ShimSummary | null {
  if (!counters) return null;
  return {
    samples: counters.samples, liveEntries: counters.liveEntries, tableCapacity: counters.tableCapacity,
    tableDrops: counters.tableDrops, thinnedEntries: counters.thinnedEntries, stackCount: counters.stackCount,
    stackDrops: counters.stackDrops, missedFrees: counters.missedFrees, shimMappedBytes: counters.shimMappedBytes,
    shimResidentBytes: counters.shimResidentBytes, writeErrors: counters.writeErrors, javaStacks: counters.javaStacks, javaStackFailures: counters.javaStackFailures,
    fastUnwinds: counters.fastUnwinds, unwindMismatches: counters.unwindMismatches, finalSampleIntervalBytes,
    ...(counters.trackedMappings !== undefined ? { trackedMappings: counters.trackedMappings } : {}),
    ...(counters.mappingDrops !== undefined ? { mappingDrops: counters.mappingDrops } : {}),
  };
}

/** What the sites' trend window could show: the figure report and gate both state. */
function detectionOf(times: readonly number[], sampleIntervalBytes: number): RunReport['detection'] {
  const spanSec = times.length >= 2 ? times[times.length - 1]! - times[0]! : 0;
  const rate = detectableRateBytesPerHour({ durationSec: spanSec, snapshots: times.length, sampleIntervalBytes });
  return { detectableRateBytesPerHour: Number.isFinite(rate) ? rate : null, spanSec, snapshots: times.length, sampleIntervalBytes };
}

/** What the memory accounting needs beyond the timeline. */
export interface MemoryContext {
  /** Why JVM figures are missing (jvm.json's notes). */
  jvmNotes?: readonly string[];
  /** The JVM's ranges (jvm.json). */
  jvmRanges?: JvmRanges;
}

/** The trend window: after the ranking's warm-up and RSS's start-up climb (or exactly --warmup); before a trim probe. */
function windowOf(series: ProfileSeries, timeline: readonly TimelinePoint[], options: Partial<AnalysisOptions>): TrendWindow {
  const points = beforeTrim(timeline);
  const liveWarmupFromSec = series.points[warmupOf(series, options)]?.timeSec ?? points[0]?.timeSec ?? 0;
  return trendWindowOf(points.map((p) => p.timeSec), points.map((p) => p.rssBytes), liveWarmupFromSec, options.warmupSec !== undefined);
}

function memoryReportOf(timeline: readonly TimelinePoint[], window: TrendWindow, accounting: MemoryAccounting | undefined): MemoryReport {
  const trimProbe = trimProbeOf(timeline);
  return {
    ...memoryGrowth(timeline, window.fromSec),
    window,
    ...(accounting ? {
      accounting: accounting.rows,
      accountingWindow: { fromSec: accounting.fromSec, toSec: accounting.toSec, snapshots: accounting.snapshots },
      ...(accounting.files.length > 0 ? { mappedFiles: accounting.files } : {}),
      ...(accounting.notes.length + accounting.missing.length > 0 ? { accountingNotes: [...accounting.notes, ...accounting.missing] } : {}),
      ...(accounting.allocator ? { allocator: accounting.allocator } : {}),
    } : {}),
    ...(trimProbe ? { trimProbe } : {}),
  };
}

/** `profiles`: the run's heap profiles, decoded or as a series (pprof/series.ts). */
export function buildRunReport(
  facts: RunFacts, profiles: readonly ProfilePoint[] | ProfileSeries, timeline: readonly TimelinePoint[], shim: ShimSummary | null,
  options: Partial<AnalysisOptions> = {}, context: MemoryContext = {},
): RunReport {
  const series = Array.isArray(profiles) ? seriesOfProfiles(profiles as readonly ProfilePoint[]) : profiles as ProfileSeries;
  const points = series.points;
  const sampleIntervalBytes = shim?.finalSampleIntervalBytes ?? facts.sampleBytes;
  // The sites' trends leave out the ranking's warm-up (their live bytes are what they measure); every figure drawn
  // from RSS — the accounting, the header, the verdict's RSS case, the chart — leaves out RSS's start-up climb too.
  const sitesStart = warmupOf(series, options);
  const ranked = rankSeries(series, { sampleIntervalBytes, ...options });
  const sites = consistentSites(ranked, sitesStart, options.minConfidence ?? DEFAULT_MIN_CONFIDENCE);
  const window = windowOf(series, timeline, options);
  const accounting = accountMemory(timeline, {
    fromSec: window.fromSec, sampleIntervalBytes, jvmNotes: context.jvmNotes ?? [], ...(context.jvmRanges ? { jvmRanges: context.jvmRanges } : {}),
  });
  const trimProbe = trimProbeOf(timeline);
  const unseen = unseenGrowth(timeline, {
    sampleIntervalBytes, fromSec: window.fromSec, ...(options.minConfidence === undefined ? {} : { minConfidence: options.minConfidence }),
  });
  const memory: MemoryReport = { ...memoryReportOf(timeline, window, accounting), unseen };
  const detection = detectionOf(points.slice(sitesStart).map((p) => p.timeSec), sampleIntervalBytes);
  const sitesFromSec = sitesStart > 0 ? points[sitesStart]?.timeSec : undefined;
  const warnings = [...facts.warnings];
  if (shim && shim.tableDrops + shim.stackDrops > 0) {
    warnings.push(`the shim's tables overflowed (${shim.tableDrops} samples and ${shim.stackDrops} stacks dropped): raise --sample-bytes`);
  }
  if (shim && (shim.mappingDrops ?? 0) > 0) {
    warnings.push(`${shim.mappingDrops} sampled mapping(s) were not tracked (at most 16384 at once, or the stack table was full): mapped memory is under-counted; raise --sample-bytes`);
  }
  if (shim && shim.thinnedEntries > 0) {
    warnings.push(`the liveness table filled: the sampling interval was raised from ${facts.sampleBytes} to ${shim.finalSampleIntervalBytes} bytes and ${shim.thinnedEntries} entries thinned (estimates stay unbiased, but coarser: raise --sample-bytes or --table-capacity)`);
  }
  if (shim && shim.writeErrors > 0) {
    warnings.push(`${shim.writeErrors} snapshot(s) could not be written (disk full, permissions?): the series has gaps`);
  }
  return {
    schema: REPORT_SCHEMA,
    command: facts.command,
    pid: facts.pid,
    exitStatus: facts.exitStatus,
    durationSec: facts.durationSec,
    sampleBytes: facts.sampleBytes,
    snapshotIntervalMs: facts.snapshotIntervalMs,
    snapshots: points.length,
    ...(facts.trackingSince ? { trackingSince: facts.trackingSince } : {}),
    ...(facts.snapshotsWritten !== undefined && facts.snapshotsWritten > points.length ? { snapshotsWritten: facts.snapshotsWritten } : {}),
    ...(facts.snapshotsDamaged ? { snapshotsDamaged: facts.snapshotsDamaged } : {}),
    detection,
    verdict: verdictDetail(decideVerdict({
      snapshotCount: points.length, durationSec: facts.durationSec, sites, memory, trimProbe, command: facts.command, unseen,
      sampleIntervalBytes, snapshotIntervalSec: facts.snapshotIntervalMs / 1000,
      windowStart: sitesStart, ...(sitesFromSec === undefined ? {} : { windowFromSec: sitesFromSec }),
      ...(detection.detectableRateBytesPerHour !== null ? { detection: { rateBytesPerHour: detection.detectableRateBytesPerHour, spanSec: detection.spanSec!, snapshots: detection.snapshots! } } : {}),
      ...(accounting ? { accounting } : {}),
    })),
    memory,
    shim,
    warnings,
    sites,
  };
}
