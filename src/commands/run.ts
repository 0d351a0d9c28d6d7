/** `leakhunt run [options] -- <command...>`: run a command under the shim and report what grows. */
import { join } from 'node:path';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { evaluateGate, resolveGateOptions, writeGateOutputs, type GateCliOptions } from '../gate/index.js';
import { defaultRunDir, prepareRunDir } from '../core/paths.js';
import { requireShim, runTarget, startObjectKeeper, targetEnvironment, type ObjectKeeper } from '../launch/index.js';
import { colorWanted, processRun, renderJson, renderText, writeRunMeta, type RunMeta } from '../report/index.js';
import { writeHtmlReport } from '../report/html.js';
import { startStatusLine } from '../report/status.js';
import { buildIdOf } from '../symbolize/index.js';

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
  stackDepth?: number;
  seed?: number;
  javaStacks: boolean;
  warmupSec?: number;
  /** Record exec'd children of the target too, each in its own raw/<pid>/ and processes/<pid>/. */
  followChildren?: boolean;
  /** Gate the run right after it (--fail-on-leak): thresholds and outputs as for `leakhunt gate`. */
  gate?: GateCliOptions;
}

export async function runCommand(command: string[], options: RunOptions): Promise<number> {
  if (command.length === 0) throw new LeakhuntError('no command given: leakhunt run [options] -- <command...>', ExitCode.usage);
  const shimPath = requireShim();
  // Before launching: a bad suppressions or baseline file must not cost a whole run.
  const gate = options.gate ? resolveGateOptions(options.gate) : undefined;
  const { runDir, rawDir } = prepareRunDir(options.out ?? defaultRunDir(), options.force);
  const meta: RunMeta = {
    schema: 'leakhunt.run/v1', command, startedAtMs: Date.now(), sampleBytes: options.sampleBytes,
    snapshotIntervalMs: options.intervalMs, ...(options.warmupSec === undefined ? {} : { warmupSec: options.warmupSec }),
    ...(options.followChildren ? { followChildren: true } : {}),
  };
  writeRunMeta(runDir, meta);
  if (!options.quiet) process.stderr.write(`leakhunt: recording into ${runDir}\n`);

  const env = targetEnvironment({
    shimPath, rawDir, sampleIntervalBytes: options.sampleBytes, snapshotIntervalMs: options.intervalMs,
    tableCapacity: options.tableCapacity, maxStacks: options.maxStacks, maxStackDepth: options.stackDepth, seed: options.seed,
    javaStacks: options.javaStacks, followChildren: options.followChildren,
  });
  // Copies of libraries the target deletes after loading them (JNI libraries unpacked to /tmp), for symbols.
  let keeper: ObjectKeeper | undefined;
  // The one-line live status on stderr (a terminal only, not with --quiet).
  const status = startStatusLine({ rawDir, enabled: !options.quiet });
  const keeperWarning = (message: string) => { if (!options.quiet) { status.clear(); process.stderr.write(`leakhunt: ${message}\n`); } };
  const outcome = await runTarget({
    command, env, rawDir, durationMs: options.durationMs, rssIntervalMs: Math.min(options.intervalMs, 1000),
    onSpawn: (pid) => { status.setPid(pid); keeper = startObjectKeeper(pid, runDir, { buildIdOf, onWarning: keeperWarning }); },
    onTick: (elapsedMs, rssBytes) => status.onTick(elapsedMs, rssBytes),
  }).finally(() => { status.stop(); keeper?.stop(); });
  Object.assign(meta, {
    endedAtMs: outcome.endedAtMs, pid: outcome.pid, exitStatus: outcome.exitStatus, signal: outcome.signal,
    stoppedAfterDuration: outcome.stoppedAfterDuration, rss: outcome.rss,
  });
  writeRunMeta(runDir, meta);

  const { report, timeline } = await processRun(runDir, meta);
  try {
    writeHtmlReport(runDir, report, { timeline });
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
