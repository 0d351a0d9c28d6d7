/** Puts the analysis of a run together into report.json's shape. */
import {
  decideVerdict, detectableRateBytesPerHour, memoryGrowth, rankSites, type AnalysisOptions, type ProfilePoint, type TimelinePoint,
} from '../analyse/index.js';
import type { ShimCounters } from '../snapshot/types.js';
import { REPORT_SCHEMA, type RunReport, type ShimSummary } from './model.js';

/** What the run itself contributes to the report; the rest comes from the analysis. */
export type RunFacts = Pick<RunReport, 'command' | 'pid' | 'exitStatus' | 'durationSec' | 'sampleBytes' | 'snapshotIntervalMs' | 'warnings'>;

export function shimSummary(counters: ShimCounters | undefined, finalSampleIntervalBytes: number): ShimSummary | null {
  if (!counters) return null;
  return {
    samples: counters.samples, liveEntries: counters.liveEntries, tableCapacity: counters.tableCapacity,
    tableDrops: counters.tableDrops, thinnedEntries: counters.thinnedEntries, stackCount: counters.stackCount,
    stackDrops: counters.stackDrops, missedFrees: counters.missedFrees, shimMappedBytes: counters.shimMappedBytes,
    shimResidentBytes: counters.shimResidentBytes, javaStacks: counters.javaStacks, javaStackFailures: counters.javaStackFailures,
    finalSampleIntervalBytes,
  };
}

function detectionOf(durationSec: number, snapshots: number, sampleIntervalBytes: number): RunReport['detection'] {
  const rate = detectableRateBytesPerHour({ durationSec, snapshots, sampleIntervalBytes });
  return { detectableRateBytesPerHour: Number.isFinite(rate) ? rate : null };
}

export function buildRunReport(
  facts: RunFacts, points: readonly ProfilePoint[], timeline: readonly TimelinePoint[], shim: ShimSummary | null,
  options: Partial<AnalysisOptions> = {},
): RunReport {
  const sampleIntervalBytes = shim?.finalSampleIntervalBytes ?? facts.sampleBytes;
  const sites = rankSites(points, { sampleIntervalBytes, ...options });
  const memory = memoryGrowth(timeline);
  const warnings = [...facts.warnings];
  if (shim && shim.tableDrops + shim.stackDrops > 0) {
    warnings.push(`the shim's tables overflowed (${shim.tableDrops} samples and ${shim.stackDrops} stacks dropped): raise --sample-bytes`);
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
    detection: detectionOf(facts.durationSec, points.length, sampleIntervalBytes),
    verdict: decideVerdict({ snapshotCount: points.length, durationSec: facts.durationSec, sites, memory }),
    memory,
    shim,
    warnings,
    sites,
  };
}
