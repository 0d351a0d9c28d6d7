/** `leakhunt run [options] -- <command...>`: run a command under the shim and report what grows. */
import { Command, Option } from 'commander';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { parseBytes, parseDurationMs } from '../core/units.js';
import { resolveGateOptions } from '../gate/index.js';
import { checkCommandRunnable, findAllocator, isStartFailure, requireShim, runExitStatus, startRecording, trimProbeAtMs } from '../launch/index.js';
import { startRunPush } from '../push/index.js';
import { startStatusLine } from '../report/index.js';
import { defaultRunDir, discardRunDir, prepareRunDir } from '../rundir/index.js';
import { buildIdOf } from '../symbolize/index.js';
import { finishRecordedRun, type RecordingCommandOptions } from './finish.js';
import { addGateOptions } from './gate.js';
import { checkLimit, parseWholeNumber } from '../core/limits.js';
import { parsed, positiveInteger, regexList } from './options.js';
import { addPushOptions, runPushOptions } from './push.js';

export interface RunOptions extends RecordingCommandOptions {
  /** Record exec'd children of the target too, each in its own raw/<pid>/ and processes/<pid>/. */
  followChildren?: boolean;
  /** --nmt: start JVMs with Native Memory Tracking and poll it with jcmd, for the JVM-internal part of RSS. */
  nmt?: boolean;
  /** --trim-probe: at 90% of --duration, a snapshot, malloc_trim(0) in the target, another snapshot. */
  trimProbe?: boolean;
  /** --allocator: jemalloc, tcmalloc or an allocator library's path, preloaded right after the shim. */
  allocator?: string;
}

export async function runCommand(command: string[], options: RunOptions): Promise<number> {
  if (command.length === 0) throw new LeakhuntError('no command given: leakhunt run [options] -- <command...>', ExitCode.usage);
  const shimPath = requireShim();
  // Before launching: a bad suppressions or baseline file must not cost a whole run.
  const gate = options.gate ? resolveGateOptions(options.gate) : undefined;
  const allocatorPath = options.allocator === undefined ? undefined : findAllocator(options.allocator);
  const trimProbeAt = options.trimProbe ? trimProbeAtMs(options.durationMs) : undefined;
  if (options.trimProbe && trimProbeAt === undefined) {
    process.stderr.write('leakhunt: warning: --trim-probe needs --duration (the probe comes at 90% of it): no trim probe this run\n');
  }
  // A command that cannot start costs no run directory: checked first, and what was made is taken back if it fails anyway.
  checkCommandRunnable(command[0]!);
  const prepared = prepareRunDir(options.out ?? defaultRunDir(), options.force);
  const { runDir, rawDir } = prepared;
  const recording = startRecording({
    command, runDir, rawDir, shimPath, sampleBytes: options.sampleBytes, intervalMs: options.intervalMs, durationMs: options.durationMs,
    tableCapacity: options.tableCapacity, maxStacks: options.maxStacks, maxSnapshots: options.maxSnapshots, stackDepth: options.stackDepth,
    seed: options.seed, javaStacks: options.javaStacks, warmupSec: options.warmupSec, ignoreFrames: options.ignoreFrames,
    followChildren: options.followChildren, nmt: options.nmt, trimProbeAtMs: trimProbeAt, allocatorPath, buildIdOf,
  });

  // The one-line live status on stderr (a terminal only, not with --quiet).
  const status = startStatusLine({ rawDir, enabled: !options.quiet });
  // Pushing never fails the run: its problems are lines (even with --quiet: profiles not sent are news).
  const pushNote = (line: string) => { status.clear(); process.stderr.write(`leakhunt: ${line}\n`); };
  const push = options.push && startRunPush({
    runDir, rawDir, command, followChildren: options.followChildren === true, snapshotIntervalMs: options.intervalMs, push: options.push, note: pushNote,
  });
  const outcome = await recording.run({
    onSpawn: (pid) => {
      // Said once the command has started: one that cannot start leaves no run directory to speak of.
      if (!options.quiet) process.stderr.write(`leakhunt: recording into ${runDir}\n`);
      status.setPid(pid);
      push?.started(pid);
    },
    onTick: (elapsedMs, rssBytes) => status.onTick(elapsedMs, rssBytes),
    onWarning: (message) => { if (!options.quiet) { status.clear(); process.stderr.write(`leakhunt: ${message}\n`); } },
    onEnded: () => status.stop(),
  }).catch(async (error: unknown) => {
    if (isStartFailure(error)) {
      // Nothing ran, so nothing is pushed: the push lets go of the run directory before it goes.
      await push?.targetEnded();
      await push?.finish(0).catch(() => undefined);
      discardRunDir(prepared);
    }
    throw error;
  });
  await push?.targetEnded();
  const exitStatus = runExitStatus(outcome);

  const gated = await finishRecordedRun(runDir, recording.meta, outcome.pid, { ...options, gate, push: push || undefined, pushNote });
  // The command's own failure wins (not the stop leakhunt itself made at --duration); otherwise the gate decides.
  return exitStatus !== 0 ? exitStatus : gated;
}

/** About 30 snapshots over a bounded run, so even a short one has a trend; 10 s for open-ended runs. */
function defaultSnapshotIntervalMs(durationMs: number | undefined): number {
  if (durationMs === undefined) return 10_000;
  return Math.min(10_000, Math.max(1_000, Math.round(durationMs / 30)));
}

export function register(program: Command): void {
  const run = program.command('run')
    .description('run a command under the sampling shim, then rank the call sites whose live memory grows')
    .argument('<command...>', 'the command to run (put it after --)')
    .passThroughOptions()
    .option('-o, --out <dir>', 'run directory (default: ./leakhunt-<timestamp>)')
    .option('--force', 'replace leakhunt\'s files in a non-empty run directory', false)
    .option('--interval <duration>', 'time between snapshots (default 10s; with --duration, duration/30 between 1s and 10s)', parsed((t) => checkLimit('LEAKHUNT_INTERVAL_MS', parseDurationMs(t, '--interval'))))
    .option('--sample-bytes <size>', 'mean sampling interval in bytes (1 = record every allocation)', parsed((t) => checkLimit('LEAKHUNT_SAMPLE_BYTES', parseBytes(t, '--sample-bytes'))), 512 * 1024)
    .option('--duration <duration>', 'stop the command after this long (SIGTERM, then SIGKILL)', parsed((t) => parseDurationMs(t, '--duration')))
    .option('--warmup <duration>', 'leave this much of the start out of trends (default: detected from the start-up climb)', parsed((t) => parseDurationMs(t, '--warmup')))
    .option('--ignore-frames <regex>', 'also look past frames matching this when grouping sites (repeatable): e.g. your own allocation wrappers', regexList)
    .option('--json', 'print report.json instead of the text report', false)
    .option('--top <n>', 'sites to show', positiveInteger, 10)
    .option('-q, --quiet', 'no progress lines on stderr', false)
    .option('--no-java-stacks', 'do not load the JVM agent: native frames only')
    .option('--follow-children', 'record the programs the command starts too (fork+exec, posix_spawn: each its own report under processes/<pid>/); forked children that do not exec are never recorded')
    .option('--nmt', 'start JVMs with Native Memory Tracking (summary) and poll it with jcmd: the JVM-internal part of RSS')
    .option('--trim-probe', 'at 90% of --duration, a snapshot, malloc_trim(0) in the target and another: how much RSS was free memory the allocator kept')
    .option('--allocator <name>', 'preload jemalloc or tcmalloc (or an allocator library\'s path) after the shim: does RSS still grow?')
    .option('--fail-on-leak', 'gate the run when it ends (thresholds below, as for leakhunt gate): exit 1 on a leak, 3 on not enough data, unless the command itself failed')
    .option('--max-snapshots <n>', 'raw snapshots kept on disk: all early and recent ones, the middle thinned evenly (0 keeps all)', parsed((t) => checkLimit('LEAKHUNT_MAX_SNAPSHOTS', parseWholeNumber(t, '--max-snapshots'))), 360)
    .addOption(new Option('--table-capacity <n>', 'most live sampled blocks the shim keeps').argParser(parsed((t) => checkLimit('LEAKHUNT_TABLE_CAPACITY', parseWholeNumber(t, '--table-capacity')))))
    .addOption(new Option('--max-stacks <n>', 'most distinct stacks the shim keeps').argParser(parsed((t) => checkLimit('LEAKHUNT_MAX_STACKS', parseWholeNumber(t, '--max-stacks')))))
    .addOption(new Option('--stack-depth <n>', 'most frames per stack (default 64)').argParser(parsed((t) => checkLimit('LEAKHUNT_STACK_DEPTH', parseWholeNumber(t, '--stack-depth')))))
    .addOption(new Option('--seed <n>', 'fixed sampler seed (reproducible runs)').argParser(positiveInteger).hideHelp())
    .addHelpText('after', '\nExample:\n  leakhunt run --duration 10m -- java -jar app.jar')
    .action(async (command: string[], opts) => {
      const interval: number = opts.interval ?? defaultSnapshotIntervalMs(opts.duration);
      process.exitCode = await runCommand(command, {
        out: opts.out, force: opts.force, intervalMs: interval, sampleBytes: opts.sampleBytes,
        durationMs: opts.duration, json: opts.json, top: opts.top, quiet: opts.quiet,
        tableCapacity: opts.tableCapacity, maxStacks: opts.maxStacks, maxSnapshots: opts.maxSnapshots, stackDepth: opts.stackDepth, seed: opts.seed,
        javaStacks: opts.javaStacks,
        warmupSec: opts.warmup === undefined ? undefined : opts.warmup / 1000,
        ignoreFrames: opts.ignoreFrames,
        followChildren: opts.followChildren === true,
        nmt: opts.nmt === true, trimProbe: opts.trimProbe === true, allocator: opts.allocator,
        gate: opts.failOnLeak ? opts : undefined, push: runPushOptions(opts),
      });
    });
  addGateOptions(run);
  addPushOptions(run);
}
