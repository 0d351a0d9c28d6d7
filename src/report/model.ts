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
  memory: MemoryGrowth;
  shim: ShimSummary | null;
  warnings: string[];
  sites: SiteReport[];
}
