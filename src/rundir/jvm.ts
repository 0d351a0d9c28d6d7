/**
 * jvm.json: a JVM target's own view of its memory, polled by the CLI with jcmd while it ran (launch/jvm-stats.ts)
 * and merged into the timeline when the run is processed:
 *
 *   {schema: "leakhunt.jvm/v1", pid, jcmd, nmt, samples: JvmSample[], notes: string[]}
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeJsonAtomic } from './atomic.js';
import { runPath } from './layout.js';

export const JVM_STATS_SCHEMA = 'leakhunt.jvm/v1';

export interface NmtSummary {
  /** NMT's total committed memory (malloc + mmap committed). */
  committedBytes: number;
  /** Its malloc part (the shim sees these allocations as malloc too). */
  mallocBytes: number;
  /** The Java Heap category's committed memory. */
  javaHeapCommittedBytes: number;
  /** Committed memory per NMT category ("Java Heap", "Class", "Thread", "Code", "GC", …). */
  categories: Record<string, number>;
}

export interface JvmSample {
  /** Milliseconds since the run started (the middle of the jcmd call). */
  timeMs: number;
  heapUsedBytes?: number;
  heapCommittedBytes?: number;
  nmt?: NmtSummary;
}

export interface JvmStats {
  schema: typeof JVM_STATS_SCHEMA;
  pid: number;
  /** The jcmd used, when one was found. */
  jcmd?: string;
  /** NMT was asked for (--nmt). */
  nmt: boolean;
  samples: JvmSample[];
  /** Why figures are missing: no jcmd, jcmd failed, NMT off. */
  notes: string[];
}

export function writeJvmStats(runDir: string, stats: JvmStats): void {
  writeJsonAtomic(runPath(runDir, 'jvm'), stats);
}

/** jvm.json of a run directory, if the run had one and it is readable. */
export function readJvmStats(runDir: string): JvmStats | undefined {
  const path = runPath(runDir, 'jvm');
  if (!existsSync(path)) return undefined;
  try {
    const stats = JSON.parse(readFileSync(path, 'utf8')) as JvmStats;
    return stats && stats.schema === JVM_STATS_SCHEMA && Array.isArray(stats.samples) ? stats : undefined;
  } catch {
    return undefined;
  }
}
