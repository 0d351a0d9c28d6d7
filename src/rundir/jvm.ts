/**
 * jvm.json: a JVM target's own view of its memory, gathered by the CLI while it ran (launch/jvm-stats.ts) — its
 * hsperfdata counters every interval, the ranges of its heap, code cache and class space asked of jcmd once, NMT
 * from jcmd every interval with --nmt — and merged into the timeline when the run is processed:
 *
 *   {schema: "leakhunt.jvm/v1", pid, jcmd, nmt, source, ranges, samples: JvmSample[], notes: string[]}
 *
 * Older files (jcmd GC.heap_info every interval) have neither `source` nor `ranges`; they are read as they are.
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
  /** The mmap'd part of each category's committed memory (absent in older files). */
  mmapCategories?: Record<string, number>;
}

export interface JvmSample {
  /** Milliseconds since the run started (the middle of the jcmd call). */
  timeMs: number;
  heapUsedBytes?: number;
  heapCommittedBytes?: number;
  /** Metaspace committed and used, the class space included (hsperfdata). */
  metaspaceCommittedBytes?: number;
  metaspaceUsedBytes?: number;
  /** The compressed class space's committed bytes (hsperfdata). */
  classSpaceCommittedBytes?: number;
  /** Live Java threads (hsperfdata). */
  liveThreads?: number;
  nmt?: NmtSummary;
}

/** [start, end) of a range of the target's address space. */
export interface AddressRange {
  start: number;
  end: number;
}

/**
 * The JVM's reserved ranges, fixed for its life (jcmd GC.heap_info and Compiler.codecache, asked once): what the
 * memory accounting needs to tell the Java heap's and the code cache's resident pages from other anonymous memory.
 * The class space and GC structures are there only when the output had them (jcmd VM.info prints them).
 */
export interface JvmRanges {
  /** When jcmd gave them (ms since the run started). */
  timeMs: number;
  /** The Java heap's reserved range (one per generation with some collectors). */
  javaHeap?: AddressRange[];
  /** The code heaps' reserved ranges. */
  codeCache?: AddressRange[];
  /** The compressed class space's reserved range (VM.info only). */
  classSpace?: AddressRange;
  /** The collector's own structures VM.info places: the card table, G1's marking bitmaps (VM.info only). */
  gcStructures?: AddressRange[];
}

export interface JvmStats {
  schema: typeof JVM_STATS_SCHEMA;
  pid: number;
  /** The jcmd binary used, in files from before leakhunt asked over the JVM's attach socket itself. */
  jcmd?: string;
  /** NMT was asked for (--nmt). */
  nmt: boolean;
  /** Where the heap and metaspace figures came from: the target's hsperfdata file, or jcmd (-XX:-UsePerfData). */
  source?: 'hsperfdata' | 'jcmd';
  ranges?: JvmRanges;
  samples: JvmSample[];
  /** Why figures are missing: no jcmd, jcmd failed, NMT off, no hsperfdata. */
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
