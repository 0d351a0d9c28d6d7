/**
 * Runs the target: spawn with execa, relay SIGINT/SIGTERM/SIGHUP, stop it after the duration (a last
 * snapshot is requested first, then SIGTERM, then SIGKILL after a grace period), and sample its RSS.
 */
import { existsSync, closeSync, constants as fsConstants, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { constants as osConstants } from 'node:os';
import { execa } from 'execa';
import pidusage from 'pidusage';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { ThinnedSeries } from '../core/thinned-series.js';
import { shimControlFile, type RssSample, type ShimControl } from '../rundir/index.js';

export interface TargetOutcome {
  pid: number;
  /** The command's exit status, or 128 + signal number when a signal ended it. */
  exitStatus: number;
  signal?: string;
  stoppedAfterDuration: boolean;
  startedAtMs: number;
  endedAtMs: number;
  rss: RssSample[];
  /** With trimProbeAtMs: whether the shim took the trim probe (it removed trim-request in time). */
  trimProbeTaken?: boolean;
}

export interface TargetOptions {
  command: string[];
  env: NodeJS.ProcessEnv;
  rawDir: string;
  durationMs?: number;
  rssIntervalMs: number;
  gracePeriodMs?: number;
  /** Called after each RSS sample, for the live status line. */
  onTick?: (elapsedMs: number, rssBytes: number) => void;
  /** Called once, right after the command was started, with its pid. */
  onSpawn?: (pid: number) => void;
  /** --trim-probe: when (ms after the start) to ask the shim for a snapshot, malloc_trim(0) and another. */
  trimProbeAtMs?: number;
  /** With durationMs: called when the duration is up, before the last snapshot is asked for (e.g. a last perf map). */
  beforeStop?: () => Promise<void>;
}

const relayedSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** RSS points kept in run.json: at one a second, every one of the first ~8 minutes and of the last ~8. */
const MAX_RSS_POINTS = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Drops a control file (native/FORMAT.md) for the shim and waits (briefly) until it has acted on it. */
async function requestFromShim(rawDir: string, pid: number, control: ShimControl): Promise<boolean> {
  const request = shimControlFile(rawDir, pid, control);
  if (!existsSync(dirname(request))) return false;
  try {
    // Never through a link planted in the run directory: create it, or fail.
    closeSync(openSync(request, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600));
  } catch {
    return false;
  }
  for (let waited = 0; waited < 3000 && existsSync(request); waited += 50) await sleep(50);
  return !existsSync(request);
}

/** Asks the shim for a snapshot now and waits (briefly) until it has taken it. */
async function requestFinalSnapshot(rawDir: string, pid: number): Promise<void> {
  await requestFromShim(rawDir, pid, 'flush-request');
}

export async function runTarget(options: TargetOptions): Promise<TargetOutcome> {
  const [file, ...args] = options.command;
  if (!file) throw new LeakhuntError('no command given: use leakhunt run [options] -- <command...>', ExitCode.usage);
  const startedAtMs = Date.now();
  const child = execa(file, args, { env: options.env, extendEnv: false, stdio: 'inherit', reject: false, cleanup: true });
  const pid = child.pid;
  if (pid === undefined) {
    const result = await child;
    throw new LeakhuntError(`cannot start "${file}": ${result.code === 'ENOENT' ? 'command not found' : result.shortMessage}`, ExitCode.usage);
  }

  options.onSpawn?.(pid);
  const relay = (signal: NodeJS.Signals) => () => { child.kill(signal); };
  const handlers = relayedSignals.map((s) => [s, relay(s)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);

  // Bounded for runs of days: all early and recent points, the middle thinned as the shim thins snapshots.
  const rss = new ThinnedSeries<RssSample>(MAX_RSS_POINTS);
  let exited = false;
  let stoppedAfterDuration = false;
  const sampler = setInterval(() => {
    pidusage(pid).then((stat) => {
      if (exited) return;
      const elapsedMs = Date.now() - startedAtMs;
      rss.push({ timeMs: elapsedMs, rssBytes: stat.memory });
      options.onTick?.(elapsedMs, stat.memory);
    }).catch(() => { /* the process is gone between two samples */ });
  }, options.rssIntervalMs);

  let trimProbeTaken: boolean | undefined;
  let trimmer: NodeJS.Timeout | undefined;
  if (options.trimProbeAtMs !== undefined) {
    trimProbeTaken = false;
    trimmer = setTimeout(() => {
      if (!exited) void requestFromShim(options.rawDir, pid, 'trim-request').then((taken) => { trimProbeTaken = taken; });
    }, options.trimProbeAtMs);
  }
  let stopper: NodeJS.Timeout | undefined;
  if (options.durationMs !== undefined) {
    stopper = setTimeout(async () => {
      stoppedAfterDuration = true;
      // Bounded: the stop must come about on time even when the hook hangs.
      if (options.beforeStop && !exited) await Promise.race([options.beforeStop().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      await requestFinalSnapshot(options.rawDir, pid);
      if (exited) return;
      child.kill('SIGTERM');
      const grace = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, options.gracePeriodMs ?? 10_000);
      grace.unref();
    }, options.durationMs);
  }

  const result = await child;
  exited = true;
  clearInterval(sampler);
  if (stopper) clearTimeout(stopper);
  if (trimmer) clearTimeout(trimmer);
  for (const [signal, handler] of handlers) process.off(signal, handler);
  pidusage.clear();

  if (result.failed && result.exitCode === undefined && !result.signal) {
    throw new LeakhuntError(`cannot start "${file}": ${result.code === 'ENOENT' ? 'command not found' : result.shortMessage}`, ExitCode.usage);
  }
  const signal = result.signal ?? undefined;
  const signalNumber = signal ? (osConstants.signals as Record<string, number>)[signal] ?? 0 : 0;
  return {
    pid,
    exitStatus: signal ? 128 + signalNumber : result.exitCode ?? 0,
    ...(signal ? { signal } : {}),
    stoppedAfterDuration,
    startedAtMs,
    endedAtMs: Date.now(),
    rss: rss.values(),
    ...(trimProbeTaken === undefined ? {} : { trimProbeTaken }),
  };
}
