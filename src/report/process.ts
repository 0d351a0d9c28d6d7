/**
 * A run directory whose raw snapshots were never processed — `leakhunt run` was killed (or the machine went down)
 * before it got to it — processed as `leakhunt run` would have: profiles, timeline.json, report.json and
 * report.html. What `leakhunt report DIR` does first when it finds such a directory.
 */
import { existsSync } from 'node:fs';
import { listSnapshotFiles, listSnapshotPids, readRunMeta, runPath, type RunMeta } from '../rundir/index.js';
import { readSnapshotFile } from '../snapshot/index.js';
import { writeHtmlReport } from './html.js';
import { processRun, type ProcessedRun } from './run-dir.js';
import type { ProcessTimings } from './timings.js';

/** Whether `dir` holds raw snapshots but no report.json: a run that was recorded and never processed. */
export function hasUnprocessedSnapshots(dir: string): boolean {
  if (existsSync(runPath(dir, 'report'))) return false;
  const rawDir = runPath(dir, 'raw');
  return listSnapshotPids(rawDir).some((pid) => listSnapshotFiles(rawDir, pid).length > 0);
}

/**
 * run.json as `leakhunt run` leaves it before it starts the target lacks what it learns later: the target's pid
 * (taken as the process whose shim started first) and when the run ended (taken as its last snapshot). Returns
 * the description to process the run with (run.json itself is left as it is), and what was filled in.
 */
export function completedRunMeta(dir: string, meta: RunMeta): { meta: RunMeta; notes: string[] } {
  const rawDir = runPath(dir, 'raw');
  const notes: string[] = [];
  let pid = meta.pid;
  if (pid === undefined) {
    const starts = listSnapshotPids(rawDir).flatMap((p) => {
      const first = listSnapshotFiles(rawDir, p)[0];
      if (!first) return [];
      try {
        return [{ pid: p, start: readSnapshotFile(first).meta.startRealtimeNs }];
      } catch {
        return [];
      }
    }).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.pid - b.pid));
    pid = starts[0]?.pid;
    if (pid !== undefined) notes.push(`run.json does not name the target's pid: taken as ${pid}, the first process whose snapshots are in raw/`);
  }
  let endedAtMs = meta.endedAtMs;
  if (endedAtMs === undefined && pid !== undefined) {
    const files = listSnapshotFiles(rawDir, pid);
    for (let i = files.length - 1; i >= 0 && endedAtMs === undefined; i--) {
      try {
        endedAtMs = Number(readSnapshotFile(files[i]!).meta.realtimeNs / 1_000_000n);
      } catch {
        // a damaged snapshot: the one before it
      }
    }
    if (endedAtMs !== undefined) notes.push('run.json does not say when the run ended (leakhunt run did not finish): its end is taken as its last snapshot');
  }
  return {
    meta: { ...meta, ...(pid === undefined ? {} : { pid }), ...(endedAtMs === undefined ? {} : { endedAtMs }) },
    notes,
  };
}

export interface ProcessedRunDirectory extends ProcessedRun {
  meta: RunMeta;
  /** What had to be filled in for run.json (see completedRunMeta), and a report.html that could not be written. */
  notes: string[];
}

/** Processes the raw snapshots of run directory `dir` (see the top of this file). */
export async function processRunDirectory(dir: string, timings?: ProcessTimings): Promise<ProcessedRunDirectory> {
  const { meta, notes } = completedRunMeta(dir, readRunMeta(dir));
  const processed = await processRun(dir, meta, timings);
  const started = performance.now();
  try {
    writeHtmlReport(dir, processed.report, { timeline: processed.timeline, series: processed.series });
  } catch (error) {
    notes.push(`report.html not written: ${(error as Error).message}`);
  }
  timings?.add('write report.html', performance.now() - started);
  return { ...processed, meta, notes };
}
