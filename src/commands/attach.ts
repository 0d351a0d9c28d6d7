/** `leakhunt attach <pid>`: hunt the leak in a JVM that is already running (launch/attach.ts does the work). */
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { checkLimit, parseWholeNumber } from '../core/limits.js';
import { parseBytes, parseDurationMs } from '../core/units.js';
import { resolveGateOptions } from '../gate/index.js';
import { AttachSession, inspectAttachTarget, requireShim } from '../launch/index.js';
import { startRunPush } from '../push/index.js';
import { startStatusLine } from '../report/index.js';
import { defaultRunDir, prepareRunDir } from '../rundir/index.js';
import { finishRecordedRun, type RecordingCommandOptions } from './finish.js';
import { addGateOptions } from './gate.js';
import { parsed, positiveInteger, regexList } from './options.js';
import { addPushOptions, runPushOptions } from './push.js';

export type AttachCommandOptions = RecordingCommandOptions;

export function parsePid(text: string): number {
  const pid = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(pid) || pid < 1) throw new LeakhuntError(`"${text}" is not a process id`, ExitCode.usage);
  return pid;
}

export async function attachCommand(pidText: string, options: AttachCommandOptions): Promise<number> {
  const pid = parsePid(pidText);
  const shimPath = requireShim();
  const gate = options.gate ? resolveGateOptions(options.gate) : undefined;
  const target = inspectAttachTarget(pid);
  const out = resolve(options.out ?? defaultRunDir());
  const created = !existsSync(out);
  const { runDir, rawDir } = prepareRunDir(out, options.force);
  const session = new AttachSession({
    target, runDir, rawDir, shimPath, sampleBytes: options.sampleBytes, intervalMs: options.intervalMs, durationMs: options.durationMs,
    tableCapacity: options.tableCapacity, maxStacks: options.maxStacks, maxSnapshots: options.maxSnapshots, stackDepth: options.stackDepth,
    seed: options.seed, javaStacks: options.javaStacks, warmupSec: options.warmupSec, ignoreFrames: options.ignoreFrames,
  });
  try {
    await session.load();
  } catch (error) {
    // Nothing was recorded: a directory this attach made is not left behind.
    if (created) rmSync(runDir, { recursive: true, force: true });
    throw error;
  }
  if (!options.quiet) {
    process.stderr.write(`leakhunt: attached to pid ${pid}, recording into ${runDir}; tracking since ${new Date(session.meta.startedAtMs).toISOString()} `
      + `(stop with leakhunt detach ${pid}${options.durationMs === undefined ? ' or Ctrl-C' : ', Ctrl-C or at the end of --duration'})\n`);
  }
  const status = startStatusLine({ rawDir, enabled: !options.quiet });
  status.setPid(pid);
  // Pushing never fails the run: its problems are lines (even with --quiet: profiles not sent are news).
  const pushNote = (line: string) => { status.clear(); process.stderr.write(`leakhunt: ${line}\n`); };
  const push = options.push && startRunPush({
    runDir, rawDir, command: target.command, followChildren: false, snapshotIntervalMs: options.intervalMs, push: options.push, note: pushNote,
  });
  push?.started(pid);
  const outcome = await session.watch({
    onTick: (elapsedMs, rssBytes) => status.onTick(elapsedMs, rssBytes),
    onWarning: (message) => { if (!options.quiet) { status.clear(); process.stderr.write(`leakhunt: ${message}\n`); } },
  });
  status.stop();
  await push?.targetEnded();
  if (!options.quiet && outcome.endedBy === 'jvm-exit') process.stderr.write(`leakhunt: pid ${pid} ended; processing the run\n`);
  return finishRecordedRun(runDir, session.meta, pid, {
    ...options, gate, push: push || undefined, pushNote,
    afterFilesLine: outcome.endedBy === 'jvm-exit' ? '' : `; pid ${pid} runs on with the shim idle (attach again any time)`,
  });
}

export function register(program: Command): void {
  const attach = program.command('attach')
    .description('load the sampling shim into a running JVM and rank the call sites whose live memory grows from now on')
    .argument('<pid>', 'the JVM\'s process id')
    .option('-o, --out <dir>', 'run directory (default: ./leakhunt-<timestamp>)')
    .option('--force', 'replace leakhunt\'s files in a non-empty run directory', false)
    .option('--interval <duration>', 'time between snapshots (default 10s; with --duration, duration/30 between 1s and 10s)', parsed((t) => checkLimit('LEAKHUNT_INTERVAL_MS', parseDurationMs(t, '--interval'))))
    .option('--sample-bytes <size>', 'mean sampling interval in bytes (1 = record every allocation)', parsed((t) => checkLimit('LEAKHUNT_SAMPLE_BYTES', parseBytes(t, '--sample-bytes'))), 512 * 1024)
    .option('--duration <duration>', 'stop recording after this long (the JVM runs on)', parsed((t) => parseDurationMs(t, '--duration')))
    .option('--warmup <duration>', 'leave this much of the start out of trends (default: detected)', parsed((t) => parseDurationMs(t, '--warmup')))
    .option('--ignore-frames <regex>', 'also look past frames matching this when grouping sites (repeatable)', regexList)
    .option('--json', 'print report.json instead of the text report', false)
    .option('--top <n>', 'sites to show', positiveInteger, 10)
    .option('-q, --quiet', 'no progress lines on stderr', false)
    .option('--no-java-stacks', 'native frames only (no JVMTI agent)')
    .option('--fail-on-leak', 'gate the run when it ends (thresholds as for leakhunt gate): exit 1 on a leak, 3 on not enough data')
    .option('--max-snapshots <n>', 'raw snapshots kept on disk (0 keeps all)', parsed((t) => checkLimit('LEAKHUNT_MAX_SNAPSHOTS', parseWholeNumber(t, '--max-snapshots'))), 360)
    .addOption(new Option('--table-capacity <n>', 'most live sampled blocks the shim keeps (the first attach to a JVM sets it for its life)').argParser(parsed((t) => checkLimit('LEAKHUNT_TABLE_CAPACITY', parseWholeNumber(t, '--table-capacity')))))
    .addOption(new Option('--max-stacks <n>', 'most distinct stacks the shim keeps (the first attach sets it)').argParser(parsed((t) => checkLimit('LEAKHUNT_MAX_STACKS', parseWholeNumber(t, '--max-stacks')))))
    .addOption(new Option('--stack-depth <n>', 'most frames per stack (the first attach sets it)').argParser(parsed((t) => checkLimit('LEAKHUNT_STACK_DEPTH', parseWholeNumber(t, '--stack-depth')))))
    .addOption(new Option('--seed <n>', 'fixed sampler seed').argParser(positiveInteger).hideHelp())
    .addHelpText('after', '\nExample:\n  leakhunt attach --duration 30m $(pgrep -f orders-api.jar)\n  leakhunt detach <pid>    # from another terminal: stop and report')
    .action(async (pid: string, opts) => {
      const interval: number = opts.interval ?? (opts.duration === undefined ? 10_000 : Math.min(10_000, Math.max(1_000, Math.round(opts.duration / 30))));
      process.exitCode = await attachCommand(pid, {
        out: opts.out, force: opts.force, intervalMs: interval, sampleBytes: opts.sampleBytes, durationMs: opts.duration,
        json: opts.json, top: opts.top, quiet: opts.quiet, tableCapacity: opts.tableCapacity, maxStacks: opts.maxStacks,
        maxSnapshots: opts.maxSnapshots, stackDepth: opts.stackDepth, seed: opts.seed, javaStacks: opts.javaStacks,
        warmupSec: opts.warmup === undefined ? undefined : opts.warmup / 1000, ignoreFrames: opts.ignoreFrames,
        gate: opts.failOnLeak ? opts : undefined, push: runPushOptions(opts),
      });
    });
  addGateOptions(attach);
  addPushOptions(attach);
}
