/** Puts the analysis of a run together into report.json's shape. */
import { accountMemory, trimProbeOf } from '../analyse/accounting.js';
import {
  decideVerdict, detectableRateBytesPerHour, memoryGrowth, rankSeries, warmupOf, type AnalysisOptions, type TimelinePoint,
} from '../analyse/index.js';
import { seriesOfProfiles, type ProfilePoint, type ProfileSeries } from '../pprof/index.js';
import type { ShimCounters } from '../snapshot/types.js';
import { verdictDetail } from './verdict-text.js';
import { REPORT_SCHEMA, type MemoryReport, type RunReport, type ShimSummary } from './model.js';

/** What the run itself contributes to the report; the rest comes from the analysis. */
export type RunFacts = Pick<RunReport, 'command' | 'pid' | 'exitStatus' | 'durationSec' | 'sampleBytes' | 'snapshotIntervalMs' | 'warnings' | 'snapshotsWritten' | 'trackingSince'>;

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
    finalSampleIntervalBytes,
    ...(counters.trackedMappings !== undefined ? { trackedMappings: counters.trackedMappings } : {}),
    ...(counters.mappingDrops !== undefined ? { mappingDrops: counters.mappingDrops } : {}),
  };
}

function detectionOf(durationSec: number, snapshots: number, sampleIntervalBytes: number): RunReport['detection'] {
  const rate = detectableRateBytesPerHour({ durationSec, snapshots, sampleIntervalBytes });
  return { detectableRateBytesPerHour: Number.isFinite(rate) ? rate : null };
}

/** What the memory accounting needs beyond the timeline. */
export interface MemoryContext {
  /** Why JVM figures are missing (jvm.json's notes). */
  jvmNotes?: readonly string[];
}

/** `profiles`: the run's heap profiles, decoded or as a series (pprof/series.ts). */
export function buildRunReport(
  facts: RunFacts, profiles: readonly ProfilePoint[] | ProfileSeries, timeline: readonly TimelinePoint[], shim: ShimSummary | null,
  options: Partial<AnalysisOptions> = {}, context: MemoryContext = {},
): RunReport {
  const series = Array.isArray(profiles) ? seriesOfProfiles(profiles as readonly ProfilePoint[]) : profiles as ProfileSeries;
  const points = series.points;
  const sampleIntervalBytes = shim?.finalSampleIntervalBytes ?? facts.sampleBytes;
  const sites = rankSeries(series, { sampleIntervalBytes, ...options });
  // Where the RSS went, over the same window as the sites' trends: after the start-up climb.
  const warmupEnd = points[warmupOf(series, options)]?.timeSec;
  const accounting = accountMemory(timeline, { fromSec: warmupEnd, sampleIntervalBytes, jvmNotes: context.jvmNotes ?? [] });
  const trimProbe = trimProbeOf(timeline);
  const memory: MemoryReport = {
    ...memoryGrowth(timeline),
    ...(accounting ? {
      accounting: accounting.rows,
      accountingWindow: { fromSec: accounting.fromSec, toSec: accounting.toSec, snapshots: accounting.snapshots },
      ...(accounting.allocator ? { allocator: accounting.allocator } : {}),
    } : {}),
    ...(trimProbe ? { trimProbe } : {}),
  };
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
    detection: detectionOf(facts.durationSec, points.length, sampleIntervalBytes),
    verdict: verdictDetail(decideVerdict({
      snapshotCount: points.length, durationSec: facts.durationSec, sites, memory, trimProbe, command: facts.command,
      ...(accounting ? { accounting } : {}),
    })),
    memory,
    shim,
    warnings,
    sites,
  };
}
