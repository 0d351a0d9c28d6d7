/**
 * The run directory's layout and its processing after the target ended:
 *   run.json        what was run and how (written before the target starts, completed after)
 *   raw/<pid>/      the shim's raw snapshots
 *   snapshots/      one symbolized pprof heap profile per raw snapshot (NNNN.pb.gz)
 *   timeline.json   memory figures per snapshot, and the CLI's own RSS samples
 *   jvm.json        a JVM target's Java heap and NMT figures from jcmd, polled by the CLI (merged into timeline.json)
 *   perfmaps/<pid>/ the JVM's perf maps, taken while it ran, naming code-cache frames of stacks without Java frames
 *   report.json     the analysis (schema leakhunt.report/v1)
 *   processes/<pid>/ with --follow-children: the same (snapshots/, timeline.json, report.json) for each child
 */
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import {
  compilePatterns, defaultPlumbingPatterns, timelinePointOf, type AnalysisOptions, type ProfileSeries, type TimelinePoint,
} from '../analyse/index.js';
import { inputError } from '../core/errors.js';
import { insideRunDirHint } from '../core/paths.js';
import { readJvmStats } from '../launch/index.js';
import { ProfileWriter } from '../pprof/index.js';
import { listSnapshotFiles, listSnapshotPids, SnapshotSeriesReader, type RawSnapshot } from '../snapshot/index.js';
import { jvmAgentWarningFor, readPerfMaps } from '../symbolize/index.js';
import { buildRunReport, shimSummary } from './build.js';
import { stringifyReadable } from './json.js';
import type { ChildProcessSummary, RunReport } from './model.js';
import { ProcessTimings } from './timings.js';

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
  /** --ignore-frames: more frame patterns (regular expressions) to look past when grouping sites. */
  ignoreFrames?: string[];
  /** --follow-children: exec'd children of the target recorded too, each in raw/<pid>/. */
  followChildren?: boolean;
  /** --allocator: the allocator library preloaded right after the shim. */
  allocator?: string;
  /** --nmt: JVMs were started with Native Memory Tracking. */
  nmt?: boolean;
  /** Whether JVMs were to load the agent for Java stacks (false with --no-java-stacks). */
  javaStacks?: boolean;
  /** --trim-probe: when it was asked for (ms after the start) and whether the shim took it. */
  trimProbe?: { atMs: number; taken: boolean };
  rss?: { timeMs: number; rssBytes: number }[];
}

export function writeJsonAtomic(path: string, value: unknown): void {
  const temporary = `${path}.tmp-${process.pid}`;
  writeFileSync(temporary, `${stringifyReadable(value)}\n`, { mode: 0o600 });
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
    throw inputError(runDir, `not a leakhunt run directory (no readable run.json)${insideRunDirHint(runDir)}`);
  }
  if (typeof meta !== 'object' || meta === null || meta.schema !== 'leakhunt.run/v1') {
    throw inputError(path, `not a leakhunt run description (schema ${String((meta as Partial<RunMeta> | null)?.schema)})`);
  }
  // The analysis trusts these fields: check their shape here, once, rather than fail deep inside it.
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const bad = !Array.isArray(meta.command) || !meta.command.every((w) => typeof w === 'string') ? 'command'
    : !isNumber(meta.startedAtMs) ? 'startedAtMs'
      : !isNumber(meta.sampleBytes) || meta.sampleBytes < 1 ? 'sampleBytes'
        : !isNumber(meta.snapshotIntervalMs) ? 'snapshotIntervalMs'
          : meta.pid !== undefined && !isNumber(meta.pid) ? 'pid'
            : meta.endedAtMs !== undefined && !isNumber(meta.endedAtMs) ? 'endedAtMs' : undefined;
  if (bad) throw inputError(path, `damaged run description: "${bad}" is missing or of the wrong type`);
  return meta;
}

export interface ProcessedRun {
  report: RunReport;
  timeline: TimelinePoint[];
  profilePaths: string[];
  /** The profiles as the analysis read them (what the HTML report's flame graph is drawn from, too). */
  series: ProfileSeries;
}

/**
 * Raw snapshots → profiles, timeline.json and report.json; and the same for every recorded child process.
 * `timings`, when given, collects where the time went.
 */
export async function processRun(runDir: string, meta: RunMeta, timings?: ProcessTimings): Promise<ProcessedRun> {
  const rootPid = meta.pid ?? 0;
  const processed = await processOneProcess(runDir, meta, rootPid, runDir, timings);
  if (meta.followChildren) {
    const children: ChildProcessSummary[] = [];
    for (const pid of listSnapshotPids(join(runDir, 'raw')).filter((p) => p !== rootPid)) {
      const outDir = join(runDir, 'processes', String(pid));
      mkdirSync(outDir, { recursive: true, mode: 0o700 });
      const child = await processOneProcess(runDir, meta, pid, outDir, timings);
      children.push({
        pid, executable: child.executable, snapshots: child.report.snapshots, verdict: child.report.verdict,
        report: join('processes', String(pid), 'report.json'), sites: child.report.sites.slice(0, 5),
      });
    }
    processed.report.processes = children;
    writeJsonAtomic(join(runDir, 'report.json'), processed.report);
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

/** The program a process was running: the first file mapping of its first snapshot is its executable. */
function executableOf(snapshot: RawSnapshot | undefined): string {
  const line = snapshot?.maps.split('\n').find((l) => / \//.test(l));
  return line ? line.slice(line.indexOf(' /') + 1).replace(/ \(deleted\)$/, '') : '';
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
  const jvm = isRoot ? readJvmStats(join(runDir, 'jvm.json')) : undefined;
  const perfMapsDir = join(runDir, 'perfmaps', String(pid));
  const perfMaps = readPerfMaps(perfMapsDir);
  const writer = new ProfileWriter(join(outDir, 'snapshots'), { objectsDir: join(runDir, 'objects'), ...(perfMaps ? { perfMaps } : {}) });
  const reader = new SnapshotSeriesReader();
  const snapshots: RawSnapshot[] = [];
  const timeline: TimelinePoint[] = [];
  let processed: { report: RunReport; series: ProfileSeries; paths: string[]; executable: string };
  try {
    const files = listSnapshotFiles(join(runDir, 'raw'), pid);
    for (const [index, file] of files.entries()) {
      let snapshot: RawSnapshot;
      try {
        snapshot = timings.time('read raw snapshots', () => reader.read(file));
      } catch (error) {
        warnings.push(`skipped ${file}: ${(error as Error).message}`);
        continue;
      }
      const point = timings.time('timeline', () => timelinePointOf(snapshot, meta.startedAtMs, jvm?.samples ?? []));
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
    const agentWarning = jvmAgentWarningFor(snapshots, perfMapsDir, pid, meta.javaStacks);
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
        // Sequence numbers run on through retention's gaps: the last one says how many were written.
        ...(last ? { snapshotsWritten: last.meta.sequence + 1 } : {}),
      },
      converted.series,
      timeline,
      shimSummary(last?.counters, last?.meta.sampleIntervalBytes ?? meta.sampleBytes),
      analysisOptionsOf(meta),
      { jvmNotes: jvm?.notes ?? [] },
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
  timings.time('write timeline.json', () => writeJsonAtomic(join(outDir, 'timeline.json'), {
    schema: 'leakhunt.timeline/v1', snapshots: timeline, rss: isRoot ? meta.rss ?? [] : [],
  }));
  timings.time('write report.json', () => writeJsonAtomic(join(outDir, 'report.json'), report));
  return { report, timeline, profilePaths: paths, series, executable };
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
