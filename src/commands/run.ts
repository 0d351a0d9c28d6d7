/** `leakhunt run [options] -- <command...>`: run a command under the shim and report what grows. */
import { join } from 'node:path';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { evaluateGate, resolveGateOptions, writeGateOutputs, type GateCliOptions } from '../gate/index.js';
import { defaultRunDir, prepareRunDir } from '../core/paths.js';
import {
  findAllocator, requireShim, runTarget, startJvmStatsPoller, startObjectKeeper, startPerfMapCapture, targetEnvironment, type JvmPoller,
  type ObjectKeeper, type PerfMapCapture,
} from '../launch/index.js';
import { colorWanted, processRun, renderJson, renderText, writeJsonAtomic, writeRunMeta, type RunMeta } from '../report/index.js';
import { writeHtmlReport } from '../report/html.js';
import { startStatusLine } from '../report/status.js';
import { buildIdOf } from '../symbolize/index.js';
import { pushSummaryLine, startRunPush, type RunPushOptions } from '../push/index.js';

export interface RunOptions {
  out?: string;
  force: boolean;
  intervalMs: number;
  sampleBytes: number;
  durationMs?: number;
  json: boolean;
  top: number;
  quiet: boolean;
  tableCapacity?: number;
  maxStacks?: number;
  maxSnapshots?: number;
  stackDepth?: number;
  seed?: number;
  javaStacks: boolean;
  warmupSec?: number;
  ignoreFrames?: string[];
  /** Record exec'd children of the target too, each in its own raw/<pid>/ and processes/<pid>/. */
  followChildren?: boolean;
  /** Gate the run right after it (--fail-on-leak): thresholds and outputs as for `leakhunt gate`. */
  gate?: GateCliOptions;
  /** --nmt: start JVMs with Native Memory Tracking and poll it with jcmd, for the JVM-internal part of RSS. */
  nmt?: boolean;
  /** --trim-probe: at 90% of --duration, a snapshot, malloc_trim(0) in the target, another snapshot. */
  trimProbe?: boolean;
  /** --allocator: jemalloc, tcmalloc or an allocator library's path, preloaded right after the shim. */
  allocator?: string;
  /** --push and its companions: each snapshot's profile to a profiling backend as it is made. */
  push?: RunPushOptions;
}

/** The trim probe comes at 90% of the duration, leaving time for the last snapshot after it. */
export const TRIM_PROBE_AT = 0.9;

export async function runCommand(command: string[], options: RunOptions): Promise<number> {
  if (command.length === 0) throw new LeakhuntError('no command given: leakhunt run [options] -- <command...>', ExitCode.usage);
  const shimPath = requireShim();
  // Before launching: a bad suppressions or baseline file must not cost a whole run.
  const gate = options.gate ? resolveGateOptions(options.gate) : undefined;
  const allocatorPath = options.allocator === undefined ? undefined : findAllocator(options.allocator);
  let trimProbeAtMs: number | undefined;
  if (options.trimProbe && options.durationMs === undefined) {
    process.stderr.write('leakhunt: warning: --trim-probe needs --duration (the probe comes at 90% of it): no trim probe this run\n');
  } else if (options.trimProbe) trimProbeAtMs = Math.round(options.durationMs! * TRIM_PROBE_AT);
  const { runDir, rawDir } = prepareRunDir(options.out ?? defaultRunDir(), options.force);
  const meta: RunMeta = {
    schema: 'leakhunt.run/v1', command, startedAtMs: Date.now(), sampleBytes: options.sampleBytes,
    snapshotIntervalMs: options.intervalMs, ...(options.warmupSec === undefined ? {} : { warmupSec: options.warmupSec }),
    ...(options.ignoreFrames?.length ? { ignoreFrames: options.ignoreFrames } : {}),
    ...(options.followChildren ? { followChildren: true } : {}),
    ...(allocatorPath ? { allocator: allocatorPath } : {}), ...(options.nmt ? { nmt: true } : {}), javaStacks: options.javaStacks,
  };
  writeRunMeta(runDir, meta);
  if (!options.quiet) process.stderr.write(`leakhunt: recording into ${runDir}\n`);

  const env = targetEnvironment({
    shimPath, rawDir, sampleIntervalBytes: options.sampleBytes, snapshotIntervalMs: options.intervalMs,
    tableCapacity: options.tableCapacity, maxStacks: options.maxStacks, maxSnapshots: options.maxSnapshots, maxStackDepth: options.stackDepth, seed: options.seed,
    javaStacks: options.javaStacks, followChildren: options.followChildren,
    ...(allocatorPath ? { allocatorPath } : {}), nativeMemoryTracking: options.nmt === true,
  });
  // A JVM target's Java heap (and NMT) figures, from jcmd, once per snapshot interval.
  let jvmPoller: JvmPoller | undefined;
  // Copies of libraries the target deletes after loading them (JNI libraries unpacked to /tmp), for symbols.
  let keeper: ObjectKeeper | undefined;
  // Every JVM's perf map (jcmd Compiler.perfmap) now and then, to name code-cache frames without a Java stack.
  let perfMaps: PerfMapCapture | undefined;
  // The one-line live status on stderr (a terminal only, not with --quiet).
  const status = startStatusLine({ rawDir, enabled: !options.quiet });
  const keeperWarning = (message: string) => { if (!options.quiet) { status.clear(); process.stderr.write(`leakhunt: ${message}\n`); } };
  // Pushing never fails the run: its problems are lines (even with --quiet: profiles not sent are news).
  const pushNote = (line: string) => { status.clear(); process.stderr.write(`leakhunt: ${line}\n`); };
  const push = options.push && startRunPush({
    runDir, rawDir, command, followChildren: options.followChildren === true, snapshotIntervalMs: options.intervalMs, push: options.push, note: pushNote,
  });
  const outcome = await runTarget({
    command, env, rawDir, durationMs: options.durationMs, rssIntervalMs: Math.min(options.intervalMs, 1000),
    onSpawn: (pid) => {
      status.setPid(pid);
      push?.started(pid);
      keeper = startObjectKeeper(pid, runDir, { buildIdOf, onWarning: keeperWarning });
      jvmPoller = startJvmStatsPoller(pid, { intervalMs: options.intervalMs, nmt: options.nmt === true, startedAtMs: meta.startedAtMs });
      perfMaps = startPerfMapCapture({
        runDir, rawDir, rootPid: pid, followChildren: options.followChildren === true, startedAtMs: meta.startedAtMs,
      });
    },
    beforeStop: async () => { await perfMaps?.captureNow(); },
    ...(trimProbeAtMs === undefined ? {} : { trimProbeAtMs }),
    onTick: (elapsedMs, rssBytes) => status.onTick(elapsedMs, rssBytes),
  }).finally(() => { status.stop(); keeper?.stop(); });
  Object.assign(meta, {
    endedAtMs: outcome.endedAtMs, pid: outcome.pid, exitStatus: outcome.exitStatus, signal: outcome.signal,
    stoppedAfterDuration: outcome.stoppedAfterDuration, rss: outcome.rss,
    ...(trimProbeAtMs === undefined ? {} : { trimProbe: { atMs: trimProbeAtMs, taken: outcome.trimProbeTaken === true } }),
  });
  writeRunMeta(runDir, meta);
  const jvm = await jvmPoller?.stop();
  if (jvm) writeJsonAtomic(join(runDir, 'jvm.json'), jvm);
  await perfMaps?.stop();
  await push?.targetEnded();

  const { report, timeline, series } = await processRun(runDir, meta);
  if (push) {
    const pushed = report.push = await push.finish(outcome.pid);
    writeJsonAtomic(join(runDir, 'report.json'), report);
    if (!options.quiet || pushed.left > 0) pushNote(pushSummaryLine(pushed, runDir));
  }
  try {
    writeHtmlReport(runDir, report, { timeline, series });
  } catch (error) {
    if (!options.quiet) process.stderr.write(`leakhunt: report.html not written: ${(error as Error).message}\n`);
  }
  process.stdout.write(options.json ? renderJson(report, options.top) : renderText(report, { top: options.top, color: colorWanted() }));
  if (!options.quiet) process.stderr.write(`leakhunt: profiles, timeline.json, report.json and report.html are in ${runDir}\n`);
  if (!gate) return outcome.exitStatus;
  // The command's own failure wins; otherwise the gate decides. With --json, stdout stays pure JSON.
  const gateOptions = {
    ...gate, github: gate.github && !options.json, details: !options.json,
    snapshotTimesSec: timeline.map((p) => p.timeSec), source: join(runDir, 'report.json'),
  };
  const result = evaluateGate(report, gateOptions);
  await writeGateOutputs(result, gateOptions);
  return outcome.exitStatus !== 0 ? outcome.exitStatus : result.exitCode;
}
