#!/usr/bin/env node
/** The command line: commander wiring, and the one place errors become a message and an exit code. */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { register as registerDiff } from './commands/diff.js';
import { addGateOptions, register as registerGate } from './commands/gate.js';
import { addPushOptions, register as registerPush, runPushOptions } from './commands/push.js';
import { register as registerReport } from './commands/report.js';
import { runCommand } from './commands/run.js';
import { ExitCode, LeakhuntError } from './core/errors.js';
import { parseBytes, parseDurationMs } from './core/units.js';

function option<T>(parse: (text: string) => T) {
  return (text: string): T => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

/** About 30 snapshots over a bounded run, so even a short one has a trend; 10 s for open-ended runs. */
function defaultSnapshotIntervalMs(durationMs: number | undefined): number {
  if (durationMs === undefined) return 10_000;
  return Math.min(10_000, Math.max(1_000, Math.round(durationMs / 30)));
}

/** --max-snapshots: 0 (keep all) or enough for the early, middle and recent parts of a run. */
function snapshotsToKeep(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || (n > 0 && n < 8) || n > 1_000_000) {
    throw new Error(`"${text}" is not 0 (keep all) or a whole number from 8 to 1000000`);
  }
  return n;
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`"${text}" is not a positive whole number`);
  return n;
}

const exitCodesHelp = `
Exit codes:
  0     success (run: the command's own exit status; 128+N when signal N ended it)
  1     leak over threshold (gate)
  2     bad usage or unreadable input
  3     not enough data to decide (gate)
  4     environment problem (shim not built, tool missing)
  5     output exists (use --force)
  6     some profiles could not be pushed (push)
  70    internal error`;

function buildProgram(): Command {
  const program = new Command('leakhunt')
    .description('Native-memory leak hunter for JVM services and native programs: samples live allocations and ranks the call sites whose retained memory grows.')
    .version('0.1.0')
    .enablePositionalOptions()
    .addHelpText('after', exitCodesHelp);

  const run = program.command('run')
    .description('run a command under the sampling shim, then rank the call sites whose live memory grows')
    .argument('<command...>', 'the command to run (put it after --)')
    .passThroughOptions()
    .option('-o, --out <dir>', 'run directory (default: ./leakhunt-<timestamp>)')
    .option('--force', 'replace leakhunt\'s files in a non-empty run directory', false)
    .option('--interval <duration>', 'time between snapshots (default 10s; with --duration, duration/30 between 1s and 10s)', option((t) => parseDurationMs(t, '--interval')))
    .option('--sample-bytes <size>', 'mean sampling interval in bytes (1 = record every allocation)', option((t) => parseBytes(t, '--sample-bytes')), 512 * 1024)
    .option('--duration <duration>', 'stop the command after this long (SIGTERM, then SIGKILL)', option((t) => parseDurationMs(t, '--duration')))
    .option('--warmup <duration>', 'leave this much of the start out of trends (default: detected from the start-up climb)', option((t) => parseDurationMs(t, '--warmup')))
    .option('--ignore-frames <regex>', 'also look past frames matching this when grouping sites (repeatable): e.g. your own allocation wrappers', (v: string, all: string[] = []) => {
      try {
        new RegExp(v);
      } catch {
        throw new InvalidArgumentError(`"${v}" is not a regular expression`);
      }
      return [...all, v];
    })
    .option('--json', 'print report.json instead of the text report', false)
    .option('--top <n>', 'sites to show', option(positiveInteger), 10)
    .option('-q, --quiet', 'no progress lines on stderr', false)
    .option('--no-java-stacks', 'do not load the JVM agent: native frames only')
    .option('--follow-children', 'record the programs the command starts too (fork+exec, posix_spawn: each its own report under processes/<pid>/); forked children that do not exec are never recorded')
    .option('--nmt', 'start JVMs with Native Memory Tracking (summary) and poll it with jcmd: the JVM-internal part of RSS')
    .option('--trim-probe', 'at 90% of --duration, a snapshot, malloc_trim(0) in the target and another: how much RSS was free memory the allocator kept')
    .option('--allocator <name>', 'preload jemalloc or tcmalloc (or an allocator library\'s path) after the shim: does RSS still grow?')
    .option('--fail-on-leak', 'gate the run when it ends (thresholds below, as for leakhunt gate): exit 1 on a leak, 3 on not enough data, unless the command itself failed')
    .option('--max-snapshots <n>', 'raw snapshots kept on disk: all early and recent ones, the middle thinned evenly (0 keeps all)', option(snapshotsToKeep), 360)
    .addOption(new Option('--table-capacity <n>', 'most live sampled blocks the shim keeps').argParser(option(positiveInteger)))
    .addOption(new Option('--max-stacks <n>', 'most distinct stacks the shim keeps').argParser(option(positiveInteger)))
    .addOption(new Option('--stack-depth <n>', 'most frames per stack (default 64)').argParser(option(positiveInteger)))
    .addOption(new Option('--seed <n>', 'fixed sampler seed (reproducible runs)').argParser(option(positiveInteger)).hideHelp())
    .addHelpText('after', '\nExample:\n  leakhunt run --duration 10m -- java -jar app.jar')
    .action(async (command: string[], opts) => {
      const interval: number = opts.interval ?? defaultSnapshotIntervalMs(opts.duration);
      if (interval < 50) throw new LeakhuntError('--interval must be at least 50ms', ExitCode.usage);
      if (opts.sampleBytes < 1) throw new LeakhuntError('--sample-bytes must be at least 1', ExitCode.usage);
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
  registerDiff(program);
  registerReport(program);
  registerGate(program);
  registerPush(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  // Usage errors are one line, with a pointer to --help rather than the whole help text.
  const oneLine = (text: string, write: (s: string) => void) => write(`leakhunt: ${text.replace(/^error: /, '').trim()} (see --help)\n`);
  program.configureOutput({ outputError: oneLine });
  for (const sub of program.commands) {
    sub.exitOverride();
    sub.configureOutput({ outputError: oneLine });
  }
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : ExitCode.usage;
      return;
    }
    if (error instanceof LeakhuntError) {
      process.stderr.write(`leakhunt: ${error.message}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`leakhunt: internal error: ${message.split('\n')[0]}\n`);
    if (process.env.LEAKHUNT_DEBUG) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
    process.exitCode = ExitCode.internal;
  }
}

await main(process.argv);
