/**
 * Re-analysing a run directory from what it already holds — DIR/run.json, DIR/timeline.json and the profiles in
 * DIR/snapshots — so the analysis can change without running anything again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isResidentParts, type TimelinePoint } from '../analyse/index.js';
import { ExitCode, LeakhuntError, inputError } from '../core/errors.js';
import { ProfileSeriesReader, type ProfilePoint, type ProfileSeries, type SeriesPoint } from '../pprof/index.js';
import { buildRunReport, trackingSinceOf, type MemoryContext } from './build.js';
import { pushReportOf, type RunReport, type ShimSummary } from './model.js';
import {
  isTimelineEntry, listProfiles, readJvmStats, readRunMeta, readTimelineSnapshots, runPath, type ProfileFile, type RunMeta,
} from '../rundir/index.js';
import { analysisOptionsOf } from './process.js';

/**
 * Profiles of DIR/snapshots read into a series, one at a time (a long run's profiles do not fit in memory decoded);
 * `timeSec` places each. A damaged one is skipped with a warning.
 */
export function readProfileSeries(
  files: readonly ProfileFile[], timeSec: (sequence: number, timeNanos: bigint) => number, warnings: string[],
): ProfileSeries {
  const reader = new ProfileSeriesReader();
  const points: SeriesPoint[] = [];
  for (const entry of files) {
    const { path } = entry;
    try {
      let bytes: Buffer;
      try {
        bytes = readFileSync(path);
      } catch (error) {
        throw new LeakhuntError(`${path}: cannot read: ${(error as Error).message}`, ExitCode.usage);
      }
      points.push(reader.read(bytes, path, (timeNanos) => timeSec(entry.sequence, timeNanos)));
    } catch (error) {
      warnings.push(`skipped snapshots/${entry.file}: ${(error as Error).message}`);
    }
  }
  return { stacks: reader.stacks, stackKinds: reader.stackKinds, points };
}

/** The previous analysis, for what the profiles do not hold: the shim's counters and the run's warnings. */
function previousReport(dir: string, warnings: string[]): Partial<RunReport> | undefined {
  const path = runPath(dir, 'report');
  if (!existsSync(path)) return undefined;
  try {
    const report = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (report && typeof report === 'object' && !Array.isArray(report)) return report as Partial<RunReport>;
  } catch {
    // reported below
  }
  warnings.push('report.json is unreadable: the shim\'s counters are not shown');
  return undefined;
}

/** Rebuilds the run's report from run.json, timeline.json and snapshots/NNNN.pb.gz. */
export function reanalyseRun(dir: string, options: ReanalysisOptions = {}): RunReport {
  let meta: ReturnType<typeof readRunMeta>;
  try {
    meta = readRunMeta(dir);
  } catch (error) {
    if (error instanceof LeakhuntError) throw error;
    throw inputError(runPath(dir, 'runMeta'), 'not a leakhunt run.json');
  }
  let timeline: TimelinePoint[];
  try {
    const snapshots = readTimelineSnapshots(dir);
    if (!snapshots.every(isTimelineEntry)) throw new Error('a snapshot entry is damaged');
    timeline = snapshots as TimelinePoint[];
  } catch {
    throw inputError(dir, 'no readable timeline.json: the run was not processed (did leakhunt run end early?)');
  }
  const warnings: string[] = [];
  timeline = withoutDamagedResident(timeline, warnings);
  const previous = previousReport(dir, warnings);
  const timeOf = new Map(timeline.map((p) => [p.sequence, p.timeSec]));
  const series = readProfileSeries(listProfiles(dir), (sequence, timeNanos) => (
    // A profile the timeline does not list: its own timestamp against the run's start.
    timeOf.get(sequence) ?? Number(timeNanos / 1_000_000n) / 1000 - meta.startedAtMs / 1000
  ), warnings);
  const jvm = readJvmStats(dir);
  return analyseAgain(meta, previous, warnings, series, timeline, options, { jvmNotes: jvm?.notes ?? [], ...(jvm?.ranges ? { jvmRanges: jvm.ranges } : {}) });
}

/** Points whose resident parts a damaged timeline.json garbled lose them (with one warning): the rest is accounted. */
function withoutDamagedResident(timeline: TimelinePoint[], warnings: string[]): TimelinePoint[] {
  let damaged = 0;
  const points = timeline.map((p) => {
    if (p.resident === undefined || isResidentParts(p.resident)) return p;
    damaged++;
    const { resident: _damaged, ...rest } = p;
    return rest;
  });
  if (damaged > 0) warnings.push(`timeline.json: ${damaged} snapshot(s) had damaged resident memory by mapping, left out of where the RSS went`);
  return points;
}

export interface ReanalysisOptions {
  minConfidence?: number;
  warmupSec?: number;
  ignoreFrames?: string[];
}

/**
 * A run's report made again from its profiles (decoded, or as a series) and timeline, with `options` in place of
 * the run's own settings; what the profiles do not hold (the shim's counters, the run's warnings, what was pushed
 * to a profiling backend) comes from the previous report.
 */
function analyseAgain(
  meta: RunMeta, previous: Partial<RunReport> | undefined, warnings: readonly string[], profiles: readonly ProfilePoint[] | ProfileSeries,
  timeline: readonly TimelinePoint[], options: ReanalysisOptions, context: MemoryContext = {},
): RunReport {
  const shim: ShimSummary | null = previous?.shim ?? null;
  const report = buildRunReport(
    {
      command: meta.command, pid: meta.pid ?? 0, exitStatus: meta.exitStatus ?? null,
      durationSec: ((meta.endedAtMs ?? meta.startedAtMs) - meta.startedAtMs) / 1000,
      sampleBytes: meta.sampleBytes, snapshotIntervalMs: meta.snapshotIntervalMs,
      warnings: [...(Array.isArray(previous?.warnings) ? previous.warnings : []), ...warnings],
      ...(typeof previous?.snapshotsWritten === 'number' ? { snapshotsWritten: previous.snapshotsWritten } : {}),
      ...(typeof previous?.snapshotsDamaged === 'number' ? { snapshotsDamaged: previous.snapshotsDamaged } : {}),
      ...trackingSinceOf(meta),
    },
    profiles, timeline, shim,
    {
      ...(options.minConfidence === undefined ? {} : { minConfidence: options.minConfidence }),
      ...analysisOptionsOf({
        warmupSec: options.warmupSec ?? meta.warmupSec, ignoreFrames: options.ignoreFrames ?? meta.ignoreFrames,
      }),
    },
    context,
  );
  // The previous report's warnings include those buildRunReport adds again.
  report.warnings = [...new Set(report.warnings)];
  const push = pushReportOf(previous?.push);
  if (push) report.push = push;
  return report;
}

/**
 * A run just processed, analysed again with other settings: what reanalyseRun would give from its directory, made
 * from the profiles still in memory instead of decoding them again.
 */
export function reanalyseProcessed(
  processed: { meta: RunMeta; report: RunReport; series: ProfileSeries; timeline: readonly TimelinePoint[] }, options: ReanalysisOptions,
  context: MemoryContext = {},
): RunReport {
  return analyseAgain(processed.meta, processed.report, [], processed.series, processed.timeline, options, context);
}
