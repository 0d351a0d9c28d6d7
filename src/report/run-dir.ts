/**
 * The run directory's layout and its processing after the target ended:
 *   run.json        what was run and how (written before the target starts, completed after)
 *   raw/<pid>/      the shim's raw snapshots
 *   snapshots/      one symbolized pprof heap profile per raw snapshot (NNNN.pb.gz)
 *   timeline.json   memory figures per snapshot, and the CLI's own RSS samples
 *   report.json     the analysis (schema leakhunt.report/v1)
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { timelineOf, type TimelinePoint } from '../analyse/index.js';
import { inputError } from '../core/errors.js';
import { convertSnapshots } from '../pprof/index.js';
import { listSnapshotFiles, readSnapshotFile, type RawSnapshot } from '../snapshot/index.js';
import { buildRunReport, shimSummary } from './build.js';
import type { RunReport } from './model.js';

export interface RunMeta {
  schema: 'leakhunt.run/v1';
  command: string[];
  startedAtMs: number;
  endedAtMs?: number;
  pid?: number;
  exitStatus?: number | null;
  signal?: string;
  stoppedAfterDuration?: boolean;
  sampleBytes: number;
  snapshotIntervalMs: number;
  /** --warmup: seconds at the start left out of trends (detected when absent). */
  warmupSec?: number;
  rss?: { timeMs: number; rssBytes: number }[];
}

export function writeJsonAtomic(path: string, value: unknown): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, path);
}

export function writeRunMeta(runDir: string, meta: RunMeta): void {
  writeJsonAtomic(join(runDir, 'run.json'), meta);
}

export function readRunMeta(runDir: string): RunMeta {
  const path = join(runDir, 'run.json');
  let meta: RunMeta;
  try {
    meta = JSON.parse(readFileSync(path, 'utf8')) as RunMeta;
  } catch {
    throw inputError(runDir, 'not a leakhunt run directory (no readable run.json)');
  }
  if (typeof meta !== 'object' || meta === null || meta.schema !== 'leakhunt.run/v1') {
    throw inputError(path, `not a leakhunt run description (schema ${String((meta as Partial<RunMeta> | null)?.schema)})`);
  }
  return meta;
}

/** Reads every snapshot that can be read; a damaged one is reported and skipped, never fatal to the rest. */
function readSnapshots(rawDir: string, pid: number, warnings: string[]): RawSnapshot[] {
  const snapshots: RawSnapshot[] = [];
  for (const file of listSnapshotFiles(rawDir, pid)) {
    try {
      snapshots.push(readSnapshotFile(file));
    } catch (error) {
      warnings.push(`skipped ${file}: ${(error as Error).message}`);
    }
  }
  return snapshots;
}

export interface ProcessedRun {
  report: RunReport;
  timeline: TimelinePoint[];
  profilePaths: string[];
}

/** Raw snapshots → profiles, timeline.json and report.json. */
export async function processRun(runDir: string, meta: RunMeta): Promise<ProcessedRun> {
  const warnings: string[] = [];
  const pid = meta.pid ?? 0;
  const snapshots = readSnapshots(join(runDir, 'raw'), pid, warnings);
  if (snapshots.length === 0) {
    warnings.push('the target wrote no snapshots: it did not load the shim (a static or setuid binary, or LD_PRELOAD cleared), or it ended before its first snapshot was due');
  }
  const { converted, warnings: symbolizeWarnings } = await convertSnapshots(
    snapshots, join(runDir, 'snapshots'), { objectsDir: join(runDir, 'objects') },
  );
  warnings.push(...symbolizeWarnings);
  const timeline = timelineOf(snapshots, meta.startedAtMs);
  writeJsonAtomic(join(runDir, 'timeline.json'), { schema: 'leakhunt.timeline/v1', snapshots: timeline, rss: meta.rss ?? [] });
  const last = snapshots[snapshots.length - 1];
  const report = buildRunReport(
    {
      command: meta.command, pid, exitStatus: meta.exitStatus ?? null,
      durationSec: ((meta.endedAtMs ?? meta.startedAtMs) - meta.startedAtMs) / 1000,
      sampleBytes: meta.sampleBytes, snapshotIntervalMs: meta.snapshotIntervalMs, warnings,
    },
    converted.map((c, i) => ({ timeSec: timeline[i]!.timeSec, profile: c.profile })),
    timeline,
    shimSummary(last?.counters, last?.meta.sampleIntervalBytes ?? meta.sampleBytes),
    meta.warmupSec === undefined ? {} : { warmupSec: meta.warmupSec },
  );
  writeJsonAtomic(join(runDir, 'report.json'), report);
  return { report, timeline, profilePaths: converted.map((c) => c.path) };
}
