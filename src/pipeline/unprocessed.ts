/**
 * A run directory whose raw snapshots were never processed — `leakhunt run` was killed (or the machine went down)
 * before it got to it: how to recognise it, and what its run.json lacks (`leakhunt report DIR` then processes it as
 * `leakhunt run` would have).
 */
import { existsSync, readFileSync } from 'node:fs';
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

/** A run still being recorded, or processed, by its `leakhunt run` (or by a target that outlived it). */
export interface LiveRecording {
  /** The `leakhunt run` that records it, when it still runs. */
  recorderPid?: number;
  /** Processes of the run that still write snapshots (the shim is loaded in them). */
  targetPids: number[];
  /** Whether the target has ended and leakhunt run is processing its snapshots. */
  processing: boolean;
}

/**
 * Whether the run in `dir` is not finished: its `leakhunt run` still runs (recording, or processing what it
 * recorded), or one of its processes still writes snapshots. Pids are checked against reuse: the recorder must have
 * started just before the run did, a target must have the shim loaded.
 */
export function liveRecordingOf(dir: string, meta: RunMeta): LiveRecording | undefined {
  const recorder = typeof meta.recorderPid === 'number' && recorderAlive(meta.recorderPid, meta.startedAtMs) ? meta.recorderPid : undefined;
  const finished = meta.endedAtMs !== undefined;
  const rawDir = runPath(dir, 'raw');
  const targetPids = finished ? [] : listSnapshotPids(rawDir).filter(hasShimLoaded);
  if (recorder === undefined && targetPids.length === 0) return undefined;
  return { ...(recorder === undefined ? {} : { recorderPid: recorder }), targetPids, processing: finished && recorder !== undefined };
}

/** Whether process `pid` maps leakhunt's shim (a pid reused by another program does not). */
function hasShimLoaded(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('/libleakhunt.so');
  } catch {
    return false;
  }
}

/** How long before run.json's start its recorder may have started (node's start-up, the checks before the run). */
const RECORDER_START_SLACK_MS = 60_000;

/** Whether `pid` is the leakhunt run that wrote run.json: alive, and started within a minute before the run did. */
function recorderAlive(pid: number, runStartedAtMs: number): boolean {
  const started = processStartedAtMs(pid);
  return started !== undefined && started <= runStartedAtMs + 2000 && started >= runStartedAtMs - RECORDER_START_SLACK_MS;
}

/** When process `pid` started (ms since the epoch), from /proc: its start in clock ticks after boot, and the boot time. */
function processStartedAtMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces and parentheses): starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]);
    const bootSec = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSec)) return undefined;
    return bootSec * 1000 + (startTicks / CLOCK_TICKS_PER_SEC) * 1000;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux architecture leakhunt runs on. */
const CLOCK_TICKS_PER_SEC = 100;
