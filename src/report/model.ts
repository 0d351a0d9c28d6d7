/** report.json: the analysis of a run as a stable, versioned document (schema leakhunt.report/v1). */
import type { AccountingRow, TrimProbe } from '../analyse/accounting.js';
import type { MemoryGrowth, SiteReport, Verdict } from '../analyse/index.js';
import type { AllocatorKind } from '../analyse/timeline.js';
import type { VerdictDetail } from '../analyse/verdict.js';

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
  /** Snapshots the shim failed to write. */
  writeErrors: number;
  javaStacks: number;
  javaStackFailures: number;
  /** Samples whose native stack the shim's own unwind tables captured; the rest were unwound by libgcc. */
  fastUnwinds: number;
  /** Only with LEAKHUNT_UNWINDER=both (a test mode): samples where the two unwinders found different frames. */
  unwindMismatches: number;
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

/** report.json's memory: the growth figures, and where the RSS went (README "Where did the RSS go?"). */
export interface MemoryReport extends MemoryGrowth {
  /** RSS split into parts over the trend window (after the start-up climb, before a trim probe); they add up to RSS. */
  accounting?: AccountingRow[];
  /** The snapshots the accounting spans. */
  accountingWindow?: { fromSec: number; toSec: number; snapshots: number };
  /** Which allocator served malloc. */
  allocator?: AllocatorKind;
  /** --trim-probe: RSS just before and right after malloc_trim(0). */
  trimProbe?: Omit<TrimProbe, 'timeSec'> & { timeSec?: number };
}

/** The sampling interval in force at the end: larger than asked for when the liveness table filled. */
export function sampleBytesInForce(report: Pick<RunReport, 'sampleBytes' | 'shim'>): number {
  return Math.max(report.sampleBytes, report.shim?.finalSampleIntervalBytes ?? 0);
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
  /** Snapshots the shim wrote, when retention (--max-snapshots) deleted some: `snapshots` are those kept. */
  snapshotsWritten?: number;
  /** kind and summary; evidence, remedies and missing where the verdict has them. */
  verdict: VerdictDetail;
  /** What this run could see: the smallest leak rate, in a call site of its own, it would have called growing
   * (null when it had too few snapshots for any trend). */
  detection: { detectableRateBytesPerHour: number | null };
  memory: MemoryReport;
  shim: ShimSummary | null;
  warnings: string[];
  sites: SiteReport[];
  /** With --follow-children: the target's children that recorded. */
  processes?: ChildProcessSummary[];
}
