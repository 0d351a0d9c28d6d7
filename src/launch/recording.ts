/**
 * One recording: run.json written before the target starts, the target run under the shim with the CLI's four
 * helpers alongside it — the RSS sampler (runTarget), the JVM's heap and NMT figures (jcmd), copies of libraries
 * it deletes (the object keeper) and its perf maps — and run.json, jvm.json and the perf-map indexes completed
 * when it ends. What `leakhunt run` does between preparing the run directory and processing it.
 */
import { writeJvmStats, writeRunMeta, RUN_META_SCHEMA, type RunMeta } from '../rundir/index.js';
import { targetEnvironment } from './environment.js';
import { startJvmStatsPoller, type JvmPoller } from './jvm-stats.js';
import { startObjectKeeper, type ObjectKeeper } from './objects.js';
import { PerfMapCapture } from './perfmaps.js';
import { runTarget, type TargetOutcome } from './target.js';

/** The trim probe comes at 90% of the duration, leaving time for the last snapshot after it. */
export const TRIM_PROBE_AT = 0.9;

/** When to take the trim probe (ms after the start): only a run with a duration has a "near its end". */
export function trimProbeAtMs(durationMs: number | undefined): number | undefined {
  return durationMs === undefined ? undefined : Math.round(durationMs * TRIM_PROBE_AT);
}

/** What the shim records with, and where: the settings `leakhunt run` and `leakhunt attach` share. */
export interface RecordingSettings {
  runDir: string;
  rawDir: string;
  shimPath: string;
  sampleBytes: number;
  intervalMs: number;
  durationMs?: number;
  tableCapacity?: number;
  maxStacks?: number;
  maxSnapshots?: number;
  stackDepth?: number;
  seed?: number;
  javaStacks: boolean;
  warmupSec?: number;
  ignoreFrames?: string[];
}

export interface RecordingOptions extends RecordingSettings {
  command: string[];
  /** Record exec'd children of the target too, each in its own raw/<pid>/. */
  followChildren?: boolean;
  /** Start JVMs with Native Memory Tracking and poll it with jcmd. */
  nmt?: boolean;
  /** When to take the trim probe (trimProbeAtMs), if at all. */
  trimProbeAtMs?: number;
  /** An allocator library preloaded right after the shim. */
  allocatorPath?: string;
  /** Reads an ELF file's GNU build id, to name kept copies (launch knows no ELF: the command passes the symbolizer's). */
  buildIdOf?: (path: string) => string | undefined;
}

export interface RecordingHooks {
  /** Right after the command started. */
  onSpawn?: (pid: number) => void;
  /** After each RSS sample. */
  onTick?: (elapsedMs: number, rssBytes: number) => void;
  /** A copy of a deleted library could not be kept. */
  onWarning?: (message: string) => void;
  /** As soon as the target has ended, before the files are completed. */
  onEnded?: () => void;
}

function runMetaOf(options: RecordingOptions): RunMeta {
  return {
    schema: RUN_META_SCHEMA, command: options.command, recorderPid: process.pid, startedAtMs: Date.now(), sampleBytes: options.sampleBytes,
    snapshotIntervalMs: options.intervalMs, ...(options.warmupSec === undefined ? {} : { warmupSec: options.warmupSec }),
    ...(options.ignoreFrames?.length ? { ignoreFrames: options.ignoreFrames } : {}),
    ...(options.followChildren ? { followChildren: true } : {}),
    ...(options.allocatorPath ? { allocator: options.allocatorPath } : {}), ...(options.nmt ? { nmt: true } : {}), javaStacks: options.javaStacks,
  };
}

/** A recording whose run.json is written; run() runs the target. See the top of this file. */
export class Recording {
  /** run.json as written now; run() completes it. */
  readonly meta: RunMeta;

  constructor(private readonly options: RecordingOptions) {
    this.meta = runMetaOf(options);
    writeRunMeta(options.runDir, this.meta);
  }

  /** Runs the target to its end; run.json, jvm.json and the perf maps' indexes are complete when it returns. */
  async run(hooks: RecordingHooks = {}): Promise<TargetOutcome> {
    const { options, meta } = this;
    // A JVM target's Java heap (and NMT) figures, from jcmd, once per snapshot interval.
    let jvmPoller: JvmPoller | undefined;
    // Copies of libraries the target deletes after loading them (JNI libraries unpacked to /tmp), for symbols.
    let keeper: ObjectKeeper | undefined;
    // Every JVM's perf map (jcmd Compiler.perfmap) now and then, to name code-cache frames without a Java stack.
    let perfMaps: PerfMapCapture | undefined;
    const outcome = await runTarget({
      command: options.command, env: this.environment(), rawDir: options.rawDir, durationMs: options.durationMs,
      rssIntervalMs: Math.min(options.intervalMs, 1000),
      onSpawn: (pid) => {
        hooks.onSpawn?.(pid);
        keeper = startObjectKeeper(pid, options.runDir, { buildIdOf: options.buildIdOf, onWarning: hooks.onWarning });
        jvmPoller = startJvmStatsPoller(pid, { intervalMs: options.intervalMs, nmt: options.nmt === true, startedAtMs: meta.startedAtMs });
        perfMaps = new PerfMapCapture({
          runDir: options.runDir, rawDir: options.rawDir, rootPid: pid, followChildren: options.followChildren === true, startedAtMs: meta.startedAtMs,
        });
      },
      beforeStop: async () => { await perfMaps?.captureNow(); },
      ...(options.trimProbeAtMs === undefined ? {} : { trimProbeAtMs: options.trimProbeAtMs }),
      onTick: hooks.onTick,
    }).finally(() => { hooks.onEnded?.(); void keeper?.stop(); });
    Object.assign(meta, {
      endedAtMs: outcome.endedAtMs, pid: outcome.pid, exitStatus: outcome.exitStatus, signal: outcome.signal,
      stoppedAfterDuration: outcome.stoppedAfterDuration, rss: outcome.rss,
      ...(options.trimProbeAtMs === undefined ? {} : { trimProbe: { atMs: options.trimProbeAtMs, taken: outcome.trimProbeTaken === true } }),
    });
    writeRunMeta(options.runDir, meta);
    const jvm = await jvmPoller?.stop();
    if (jvm) writeJvmStats(options.runDir, jvm);
    await perfMaps?.stop();
    return outcome;
  }

  private environment(): NodeJS.ProcessEnv {
    const o = this.options;
    return targetEnvironment({
      shimPath: o.shimPath, rawDir: o.rawDir, sampleIntervalBytes: o.sampleBytes, snapshotIntervalMs: o.intervalMs,
      tableCapacity: o.tableCapacity, maxStacks: o.maxStacks, maxSnapshots: o.maxSnapshots, maxStackDepth: o.stackDepth, seed: o.seed,
      javaStacks: o.javaStacks, followChildren: o.followChildren,
      ...(o.allocatorPath ? { allocatorPath: o.allocatorPath } : {}), nativeMemoryTracking: o.nmt === true,
    });
  }
}

/** Writes run.json and returns the recording, ready to run. */
export function startRecording(options: RecordingOptions): Recording {
  return new Recording(options);
}
