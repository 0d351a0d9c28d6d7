/** report.json: the analysis of a run as a stable, versioned document (schema leakhunt.report/v1). */
import type { AccountingRow, AllocatorKind, MappedFileRow, MemoryGrowth, SiteReport, TrimProbe, TrendWindow, UnseenCheck, VerdictKind } from '../analyse/index.js';

export const REPORT_SCHEMA = 'leakhunt.report/v1';

export interface Verdict {
  kind: VerdictKind;
  summary: string;
}

/** The verdict in words (pipeline/verdict-text.ts). */
export interface VerdictDetail extends Verdict {
  /** The figures the verdict rests on. */
  evidence?: string[];
  /** What to do about it, with the commands. */
  remedies?: string[];
  /** What the run did not measure (inconclusive). */
  missing?: string[];
}

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
  /** Sampled mappings tracked at the end, and those the mapping or stack table had no room for. */
  trackedMappings?: number;
  mappingDrops?: number;
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

/**
 * report.json's memory: the growth figures, and where the RSS went (README "Where did the RSS go?"). The start and
 * end figures and the rates are the trend window's (`window`): the start-up is left out.
 */
export interface MemoryReport extends MemoryGrowth {
  /** Where the figures drawn from RSS start (this object's, the accounting's), and what was left out before it:
   * the ranking's warm-up and RSS's start-up climb (absent in reports before it). */
  window?: TrendWindow;
  /** RSS split into resident parts over the trend window (before a trim probe); never negative, they add up to RSS. */
  accounting?: AccountingRow[];
  /** The snapshots the accounting spans (those with resident memory by mapping, when some have it). */
  accountingWindow?: { fromSec: number; toSec: number; snapshots: number };
  /** The largest mapped files (file-mapped's share) at both ends of the accounting window. */
  mappedFiles?: MappedFileRow[];
  /** How the accounting was drawn, and what it could not measure. */
  accountingNotes?: string[];
  /** Which allocator served malloc. */
  allocator?: AllocatorKind;
  /** --trim-probe: RSS just before and right after malloc_trim(0). */
  trimProbe?: Omit<TrimProbe, 'timeSec'> & { timeSec?: number };
  /**
   * The allocator's in-use bytes against the shim's estimate of them: whether allocations the shim did not see grow
   * (analyse/unseen.ts), or why that could not be checked. Absent from reports made before it.
   */
  unseen?: UnseenCheck;
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
  /** leakhunt attach: when tracking began (ISO 8601). Allocations before it were not seen; durations and rates run
   * from it. Absent for runs leakhunt started. */
  trackingSince?: string;
  /** Snapshots the shim wrote, when fewer are in `snapshots` (retention deleted some, or some were damaged). */
  snapshotsWritten?: number;
  /** Raw snapshots left out because they could not be read (each named in `warnings`). */
  snapshotsDamaged?: number;
  /** kind and summary; evidence, remedies and missing where the verdict has them. */
  verdict: VerdictDetail;
  /** What this run could see: the smallest leak rate, in a call site of its own, it would have called growing
   * (null when it had too few snapshots for any trend), over the sites' trend window (after the ranking's warm-up):
   * its snapshots and span, from which the gate states the same figure. */
  detection: { detectableRateBytesPerHour: number | null; spanSec?: number; snapshots?: number; sampleIntervalBytes?: number };
  memory: MemoryReport;
  shim: ShimSummary | null;
  warnings: string[];
  sites: SiteReport[];
  /** With --follow-children: the target's children that recorded. */
  processes?: ChildProcessSummary[];
  /** With --push (or after leakhunt push): what the profiling backend got of the run's profiles. */
  push?: PushReport;
}

/** report.json's push: what a profiling backend got of the run's profiles (leakhunt run --push, leakhunt push). */
export interface PushReport {
  /** pyroscope or parca. */
  backend: string;
  /** The endpoint pushed to, without credentials. */
  endpoint: string;
  /** Profiles the backend accepted. */
  pushed: number;
  /** Profiles whose first attempt failed and that were tried again (sent in the end or not). */
  retried: number;
  /** Profiles not sent: they are in the run directory, for `leakhunt push`. */
  left: number;
  /** Of those left, the ones the backend refused, or that could not be read as profiles. */
  rejected: number;
  /** Profiles the run's retention deleted before they could be sent. */
  thinned: number;
  /** Why pushing stopped before the end, when it did. */
  stopped?: string;
}

/** `value` (report.json's push, as read back) when it has PushReport's shape; undefined otherwise. */
export function pushReportOf(value: unknown): PushReport | undefined {
  const p = value as Partial<Record<keyof PushReport, unknown>> | null | undefined;
  if (typeof p !== 'object' || p === null) return undefined;
  const counts = [p.pushed, p.retried, p.left, p.rejected, p.thinned].every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
  const valid = counts && typeof p.backend === 'string' && typeof p.endpoint === 'string' && (p.stopped === undefined || typeof p.stopped === 'string');
  return valid ? value as PushReport : undefined;
}
