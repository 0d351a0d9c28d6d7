/** report.json: the analysis of a run as a stable, versioned document (schema leakhunt.report/v1). */
import type { MemoryGrowth, SiteReport, Verdict } from '../analyse/index.js';

export const REPORT_SCHEMA = 'leakhunt.report/v1';

export interface ShimSummary {
  samples: number;
  liveEntries: number;
  tableCapacity: number;
  tableDrops: number;
  thinnedEntries: number;
  stackCount: number;
  stackDrops: number;
  missedFrees: number;
  shimMappedBytes: number;
  shimResidentBytes: number;
  javaStacks: number;
  javaStackFailures: number;
  finalSampleIntervalBytes: number;
}

/** A child process of the target, recorded with --follow-children (its full report is in `report`). */
export interface ChildProcessSummary {
  pid: number;
  executable: string;
  snapshots: number;
  verdict: Verdict;
  /** Relative to the run directory. */
  report: string;
  /** Its top sites. */
  sites: SiteReport[];
  /** With --follow-children: the target's children that recorded. */
  processes?: ChildProcessSummary[];
}

export interface RunReport {
  schema: typeof REPORT_SCHEMA;
  command: string[];
  pid: number;
  exitStatus: number | null;
  durationSec: number;
  sampleBytes: number;
  snapshotIntervalMs: number;
  snapshots: number;
  verdict: Verdict;
  /** What this run could see: the smallest leak rate, in a call site of its own, it would have called growing
   * (null when it had too few snapshots for any trend). */
  detection: { detectableRateBytesPerHour: number | null };
  memory: MemoryGrowth;
  shim: ShimSummary | null;
  warnings: string[];
  sites: SiteReport[];
  /** With --follow-children: the target's children that recorded. */
  processes?: ChildProcessSummary[];
}
