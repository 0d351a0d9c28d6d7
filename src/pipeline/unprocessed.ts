/**
 * A run directory whose raw snapshots were never processed — `leakhunt run` was killed (or the machine went down)
 * before it got to it: how to recognise it, and what its run.json lacks (`leakhunt report DIR` then processes it as
 * `leakhunt run` would have).
 */
import { existsSync } from 'node:fs';
import { listSnapshotFiles, listSnapshotPids, runPath, type RunMeta } from '../rundir/index.js';
import { readSnapshotFile } from '../snapshot/index.js';

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
