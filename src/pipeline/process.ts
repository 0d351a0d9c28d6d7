/**
 * Processing a run directory after the target ended: raw snapshots → profiles, timeline.json and report.json, for
 * the target and every recorded child process (layout: rundir/layout.ts).
 */
import { basename, join, relative } from 'node:path';
import { errnoCode } from '../core/errors.js';
import { compilePatterns, defaultPlumbingPatterns, timelinePointOf, type AnalysisOptions, type TimelinePoint } from '../analyse/index.js';
import { mainExecutableMapping, ProfileWriter, type ProfileSeries } from '../pprof/index.js';
import {
  listSnapshotFiles, listSnapshotPids, makeRunSubdirectory, perfMapsDir, processDirName, readJvmStats, runPath, writeJsonAtomic, writeTimeline, type RunMeta,
} from '../rundir/index.js';
import { SnapshotSeriesReader, type RawSnapshot } from '../snapshot/index.js';
import { jvmAgentWarningFor, readPerfMaps } from '../symbolize/index.js';
import { buildRunReport, shimSummary, trackingSinceOf } from './build.js';
import type { ChildProcessSummary, RunReport } from './model.js';
import { ProcessTimings } from './timings.js';

export interface ProcessedRun {
  report: RunReport;
  timeline: TimelinePoint[];
  profilePaths: string[];
  /** The profiles as the analysis read them (what the HTML report's flame graph is drawn from, too). */
  series: ProfileSeries;
}

/**
 * Raw snapshots → profiles, timeline.json and report.json; and the same for every recorded child process.
 * `timings`, when given, collects where the time went. What is written goes into `outDir`: the run directory,
 * or a scratch directory for a look at a run still recording, which must not be written into.
 */
export async function processRun(runDir: string, meta: RunMeta, timings?: ProcessTimings, outDir = runDir): Promise<ProcessedRun> {
  const rootPid = meta.pid ?? 0;
  const processed = await processOneProcess(runDir, meta, rootPid, outDir, timings);
  if (meta.followChildren) {
    const children: ChildProcessSummary[] = [];
    for (const pid of listSnapshotPids(runPath(runDir, 'raw')).filter((p) => p !== rootPid)) {
      const childDir = join(outDir, processDirName(pid));
      makeRunSubdirectory(childDir);
      const child = await processOneProcess(runDir, meta, pid, childDir, timings);
      children.push({
        pid, executable: child.executable, snapshots: child.report.snapshots, verdict: child.report.verdict,
        report: runPath(processDirName(pid), 'report'), sites: child.report.sites.slice(0, 5),
      });
    }
    processed.report.processes = children;
    writeJsonAtomic(runPath(outDir, 'report'), processed.report);
  }
  return processed;
}

/** The analysis settings a run asked for: --warmup and --ignore-frames. */
export function analysisOptionsOf(meta: Pick<RunMeta, 'warmupSec' | 'ignoreFrames'>): Partial<AnalysisOptions> {
  return {
    ...(meta.warmupSec === undefined ? {} : { warmupSec: meta.warmupSec }),
    ...(meta.ignoreFrames?.length ? { plumbingPatterns: [...defaultPlumbingPatterns, ...compilePatterns(meta.ignoreFrames)] } : {}),
  };
}

/** The program a process was running, from its first snapshot's maps (as pprof's main mapping). */
function executableOf(snapshot: RawSnapshot | undefined): string {
  return snapshot ? mainExecutableMapping(snapshot.maps)?.path ?? '' : '';
}

/**
 * One process's snapshots, read one at a time (a long run does not fit in memory whole): each gives a point of the
 * timeline and a profile (ProfileWriter), and is then let go of but for what the checks after the loop read of it
 * (its meta, counters, maps); the last one is kept whole. A damaged snapshot is reported and skipped, never fatal
 * to the rest.
 */
async function processOneProcess(
  runDir: string, meta: RunMeta, pid: number, outDir: string, timings = new ProcessTimings(),
): Promise<ProcessedRun & { executable: string }> {
  const warnings: string[] = [];
  const isRoot = pid === (meta.pid ?? 0);
  const jvm = isRoot ? readJvmStats(runDir) : undefined;
  const perfMapsOfPid = perfMapsDir(runDir, pid);
  const perfMaps = readPerfMaps(perfMapsOfPid);
  const writer = new ProfileWriter(runPath(outDir, 'profiles'), { objectsDir: runPath(runDir, 'objects'), ...(perfMaps ? { perfMaps } : {}) });
  const reader = new SnapshotSeriesReader();
  const snapshots: RawSnapshot[] = [];
  const timeline: TimelinePoint[] = [];
  let processed: { report: RunReport; series: ProfileSeries; paths: string[]; executable: string };
  let damaged = 0;
  try {
    const files = listSnapshotFiles(runPath(runDir, 'raw'), pid);
    for (const [index, file] of files.entries()) {
      let snapshot: RawSnapshot;
      try {
        snapshot = timings.time('read raw snapshots', () => reader.read(file));
      } catch (error) {
        // Gone since the listing: retention deleted it while a run still recording was looked at.
        if (errnoCode(error) === 'ENOENT') continue;
        // Named, and counted apart from what retention deleted (report.json snapshotsDamaged).
        damaged++;
        warnings.push(damagedSnapshotWarning(runDir, file, error));
        continue;
      }
      const point = timings.time('timeline', () => timelinePointOf(snapshot, meta.startedAtMs, jvm?.samples ?? [], jvm?.ranges));
      timeline.push(point);
      // Every profile holds the live heap; the last one also every stack's allocations over the whole run.
      await writer.add(snapshot, point.timeSec, { liveOnly: index < files.length - 1 });
      const previous = snapshots.length - 1;
      if (previous >= 0) snapshots[previous] = withoutStacksAndSites(snapshots[previous]!, snapshots[previous - 1], reader);
      snapshots.push(snapshot);
    }
    if (snapshots.length === 0) {
      warnings.push('the target wrote no snapshots: it did not load the shim (a static or setuid binary, or LD_PRELOAD cleared), or it ended before its first snapshot was due');
    }
    const converted = await writer.converted();
    warnings.push(...converted.warnings);
    const agentWarning = jvmAgentWarningFor(snapshots, perfMapsOfPid, pid, meta.javaStacks);
    if (agentWarning) warnings.push(agentWarning);
    warnings.push(...(jvm?.notes ?? []));
    if (isRoot && meta.trimProbe && !timeline.some((p) => p.afterTrim)) {
      warnings.push('the trim probe was asked for but not taken: the target ended, or stopped writing snapshots, before it');
    }
    const first = snapshots[0];
    const last = snapshots[snapshots.length - 1];
    const executable = executableOf(first);
    // A child's life is what its snapshots span: from its shim's start to its last snapshot.
    const childDurationSec = first && last ? Number(last.meta.realtimeNs - first.meta.startRealtimeNs) / 1e9 : 0;
    const report = timings.time('analyse', () => buildRunReport(
      {
        command: isRoot ? meta.command : [executable], pid, exitStatus: isRoot ? meta.exitStatus ?? null : null,
        durationSec: isRoot ? ((meta.endedAtMs ?? meta.startedAtMs) - meta.startedAtMs) / 1000 : childDurationSec,
        sampleBytes: meta.sampleBytes, snapshotIntervalMs: meta.snapshotIntervalMs, warnings,
        // Sequence numbers run on through retention's gaps: the last file's says how many were written.
        ...(files.length > 0 ? { snapshotsWritten: sequenceOf(files[files.length - 1]!) + 1 } : {}),
        ...(damaged > 0 ? { snapshotsDamaged: damaged } : {}),
        ...(isRoot ? trackingSinceOf(meta) : {}),
      },
      converted.series,
      timeline,
      shimSummary(last?.counters, last?.meta.sampleIntervalBytes ?? meta.sampleBytes),
      analysisOptionsOf(meta),
      { jvmNotes: jvm?.notes ?? [], ...(jvm?.ranges ? { jvmRanges: jvm.ranges } : {}) },
    ));
    // The analysis ran while the last profiles were compressed; the run's files are written once they all are.
    await writer.written();
    processed = { report, series: converted.series, paths: converted.paths, executable };
  } finally {
    await writer.close();
    timings.add('symbolize', writer.timings.symbolizeMs);
    timings.add('encode profiles', writer.timings.encodeMs);
    timings.add('wait for gzip and writes', writer.timings.writeWaitMs);
    timings.count('profileBytes', writer.timings.profileBytes);
    timings.count('compressedBytes', writer.timings.compressedBytes);
  }
  const { report, series, paths, executable } = processed;
  timings.time('write timeline.json', () => writeTimeline(outDir, timeline, isRoot ? meta.rss ?? [] : []));
  timings.time('write report.json', () => writeJsonAtomic(runPath(outDir, 'report'), report));
  return { report, timeline, profilePaths: paths, series, executable };
}

/** NNNNNN of raw/<pid>/NNNNNN.lhs. */
function sequenceOf(file: string): number {
  return Number(basename(file, '.lhs'));
}

/** "raw snapshot raw/123/000002.lhs is damaged and was left out: truncated snapshot: …" (the reader names the path first). */
function damagedSnapshotWarning(runDir: string, file: string, error: unknown): string {
  const message = (error as Error).message;
  const reason = message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
  return `raw snapshot ${relative(runDir, file)} is damaged and was left out: ${reason}`;
}

/**
 * What is kept of a snapshot once its profile is made: all but its stacks and sites (the bulk of it), which the
 * checks after the loop read of the last snapshot only. Maps the same as the snapshot before's share its text.
 */
function withoutStacksAndSites(s: RawSnapshot, before: RawSnapshot | undefined, reader: SnapshotSeriesReader): RawSnapshot {
  reader.release(s);
  return {
    path: s.path, meta: s.meta, counters: s.counters, mallinfo: s.mallinfo, memory: s.memory,
    maps: before && before.maps === s.maps ? before.maps : s.maps, stacks: new Map(), sites: [], javaMethods: s.javaMethods,
    unloadedMaps: s.unloadedMaps, ...(s.jemalloc ? { jemalloc: s.jemalloc } : {}),
  };
}
