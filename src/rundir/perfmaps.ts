/**
 * perfmaps/<pid>/: a process's perf maps, copied while it ran (launch/perfmaps.ts) — a JVM's, asked for with jcmd,
 * or the one any runtime writes itself (node --perf-basic-prof, python -X perf) — read to name JIT-compiled frames
 * (symbolize/perfmap.ts):
 *
 *   perfmaps/<pid>/<ms>.map      a copy, named by when it was first taken (ms after the run started)
 *   perfmaps/<pid>/index.json    {schema, pid, startedAtMs, jvm, jcmd, maps: PerfMapCopy[], notes}
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomicAsync } from './atomic.js';

export const PERF_MAPS_SCHEMA = 'leakhunt.perfmaps/v1';

export interface PerfMapCopy {
  /** The copy, relative to perfmaps/<pid>/. */
  file: string;
  /** When this content was first taken, ms after the run started. */
  timeMs: number;
  /** When it was last seen unchanged (equal to timeMs when taken once; absent from early indexes). */
  lastTimeMs: number;
  /**
   * jcmd: leakhunt asked the JVM for it; user: a JVM's /tmp/perf-<pid>.map leakhunt did not make, copied as it was;
   * runtime: the /tmp/perf-<pid>.map a process that is no JVM writes itself (node, python), copied as it was.
   */
  source: 'jcmd' | 'user' | 'runtime';
  entries: number;
}

export interface PerfMapsIndex {
  schema: typeof PERF_MAPS_SCHEMA;
  pid: number;
  /** The run's start (ms since the epoch): copies' times are relative to it. */
  startedAtMs: number;
  /** Whether the process is a JVM (absent: it is — earlier indexes were only ever a JVM's). */
  jvm?: boolean;
  /** The jcmd binary used, in indexes from before leakhunt asked over the JVM's attach socket itself. */
  jcmd?: string;
  maps: PerfMapCopy[];
  notes: string[];
}

const INDEX_FILE = 'index.json';

/** Writes `dir`/index.json (creating perfmaps/<pid>/). */
export async function writePerfMapsIndex(dir: string, index: PerfMapsIndex): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomicAsync(join(dir, INDEX_FILE), index);
}

/**
 * perfmaps/<pid>/index.json, when it is there and of the right shape. Its maps are as written: a reader checks each
 * entry's fields before it trusts them.
 */
export function readPerfMapsIndex(dir: string): PerfMapsIndex | undefined {
  try {
    const index = JSON.parse(readFileSync(join(dir, INDEX_FILE), 'utf8')) as PerfMapsIndex;
    if (index?.schema !== PERF_MAPS_SCHEMA || typeof index.startedAtMs !== 'number' || !Array.isArray(index.maps)) return undefined;
    return index;
  } catch {
    return undefined;
  }
}

/** A copy's file name as the index may name it: no path, no surprises. */
export function isPerfMapCopyName(file: unknown): file is string {
  return typeof file === 'string' && /^[\w.-]+\.map$/.test(file);
}
