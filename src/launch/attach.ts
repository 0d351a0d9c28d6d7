/**
 * `leakhunt attach <pid>`: the shim loaded into a JVM that is already running, through the JDK's own attach
 * mechanism — what `jcmd <pid> JVMTI.agent_load <libleakhunt.so> <options>` asks, asked over the JVM's attach socket
 * (launch/hotspot-attach.ts), as the run's later requests are: no JDK tools needed (a JRE's JVM too), and no jcmd
 * JVM started on the target's cores. The shim's answer comes back as "return code: N" (native/attach.c).
 *
 * Refused before anything is loaded, one line each (exit 7): no such process, another user's,
 * not a JVM, -XX:+DisableAttachMechanism, a JVM that would die of the SIGQUIT (still starting, or -Xrs), a JVM under
 * `leakhunt run` already. The run ends on `leakhunt detach`, at the end of --duration, on SIGINT/SIGTERM/SIGHUP to
 * this CLI (the JVM is not ours to signal: the run is stopped, the JVM runs on), or when the JVM exits. If this CLI
 * is killed, the shim sees its owner gone and stops by itself; `leakhunt detach` or `leakhunt report DIR` then
 * process the run.
 */
import { closeSync, constants as fsConstants, existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import pidusage from 'pidusage';
import { ExitCode, LeakhuntError } from '../core/errors.js';
import { ThinnedSeries } from '../core/thinned-series.js';
import {
  RUN_META_SCHEMA, shimControlFile, shimStoppedMarker, writeJvmStats, writeRunMeta, type AttachMeta, type RssSample, type RunMeta,
} from '../rundir/index.js';
import { askJvm, attachSocketPath, catchesSigquit, disablesAttach, firstLine } from './hotspot-attach.js';
import { libjvmOf, startJvmStatsPoller, type JvmPoller } from './jvm-stats.js';
import { PerfMapCapture } from './perfmaps.js';
import type { RecordingSettings } from './recording.js';

/** A JVM that may be attached: what the checks found. */
export interface AttachTarget {
  pid: number;
  libjvm: string;
  /** Its command line, for run.json and the report. */
  command: string[];
}

function refused(message: string): LeakhuntError {
  return new LeakhuntError(message, ExitCode.attachRefused);
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

export function processExists(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

/** The JVM's attach socket, if its listener runs already (then no SIGQUIT is needed). */
function attachSocketExists(pid: number): boolean {
  return existsSync(attachSocketPath(pid, readProc(pid, 'status') ?? ''));
}

/** The checks made before anything is loaded into `pid` (see the top of this file). */
export function inspectAttachTarget(pid: number): AttachTarget {
  let owner: number;
  try {
    owner = statSync(`/proc/${pid}`).uid;
  } catch {
    throw refused(`no process ${pid} is running`);
  }
  const uid = process.getuid?.() ?? owner;
  if (owner !== uid) {
    throw refused(`pid ${pid} belongs to another user (uid ${owner}): run leakhunt attach as that user (a JVM accepts attach requests only from its own user)`);
  }
  const maps = readProc(pid, 'maps');
  const cmdline = (readProc(pid, 'cmdline') ?? '').split('\0').filter((w) => w !== '');
  if (maps === undefined) throw refused(`pid ${pid} ended before leakhunt could attach`);
  const libjvm = libjvmOf(maps);
  if (!libjvm) {
    throw refused(`pid ${pid} (${basename(cmdline[0] ?? '?')}) is not a JVM: leakhunt attach works on running JVMs; to record any program, start it under leakhunt run -- <command>`);
  }
  const environ = (readProc(pid, 'environ') ?? '').split('\0');
  if (disablesAttach(cmdline, environ)) {
    throw refused(`pid ${pid} was started with -XX:+DisableAttachMechanism and accepts no attach: restart it without that flag, or under leakhunt run -- <command>`);
  }
  if (environ.some((e) => /^LD_PRELOAD=.*libleakhunt\.so/.test(e)) && /libleakhunt\.so/.test(maps)) {
    throw refused(`pid ${pid} runs under leakhunt run's shim already: its run directory has the report (a JVM it started as a child records with --follow-children)`);
  }
  if (!attachSocketExists(pid) && !catchesSigquit(readProc(pid, 'status') ?? '')) {
    throw refused(`pid ${pid} does not handle SIGQUIT (still starting, or -Xrs): the attach request would kill it; try again once it is up (never with -Xrs)`);
  }
  return { pid, libjvm, command: cmdline.length ? cmdline : [`pid ${pid}`] };
}

/** What the shim's Agent_OnAttach answers (native/attach.c), as JVMTI.agent_load prints it. */
const SHIM_ANSWERS: Record<number, (pid: number) => LeakhuntError> = {
  101: () => new LeakhuntError('the shim refused its options (a mismatch between this CLI and native/build/libleakhunt.so? run npm install)', ExitCode.environment),
  102: (pid) => refused(`pid ${pid} has leakhunt attached already: leakhunt detach ${pid} first`),
  103: (pid) => refused(`pid ${pid} has leakhunt's shim preloaded (leakhunt run): it records there, not through attach`),
  104: (pid) => refused(`the shim could not start in pid ${pid} (its stderr says why: the run directory, or memory for its tables)`),
  105: (pid) => refused(`pid ${pid} is a forked copy of a process leakhunt attached to: the shim stays off in it`),
};

/** Settings of an attached run: as `leakhunt run`'s, minus what only a launch can set. */
export interface AttachOptions extends RecordingSettings {
  target: AttachTarget;
}

/**
 * Whether `pid` lives in another pid namespace than this CLI (a container's JVM): its NSpid line has more than one
 * number. Our pid means nothing there, so the shim is not asked to watch it (owner 0).
 */
function inOtherPidNamespace(pid: number): boolean {
  const nspid = /^NSpid:\s*(.*)$/m.exec(readProc(pid, 'status') ?? '')?.[1]?.trim().split(/\s+/) ?? [];
  const ours = /^NSpid:\s*(.*)$/m.exec(readProc(process.pid, 'status') ?? '')?.[1]?.trim().split(/\s+/) ?? [];
  return nspid.length !== ours.length;
}

/** The agent's option string (native/attach.c): key:value pairs, quoted for the JVM's diagnostic command parser. */
export function agentOptions(o: AttachOptions, ownerPid: number): string {
  const pairs: [string, string | number | undefined][] = [
    ['dir', o.rawDir], ['owner', ownerPid], ['sample', o.sampleBytes], ['interval', o.intervalMs], ['capacity', o.tableCapacity],
    ['stacks', o.maxStacks], ['snapshots', o.maxSnapshots], ['depth', o.stackDepth], ['seed', o.seed], ['java', o.javaStacks ? 1 : 0],
  ];
  return pairs.filter(([, v]) => v !== undefined).map(([k, v]) => `${k}:${v}`).join(',');
}

/** A path the JVM's diagnostic command parser can carry, quoted: no quote, comma or newline in it. */
function quotable(path: string, what: string): string {
  if (/["',\n]/.test(path)) throw new LeakhuntError(`${what} ${path} holds a quote, a comma or a newline, which the JVM's command parser cannot carry: use another path`, ExitCode.usage);
  return `"${path}"`;
}

export interface AttachOutcome {
  endedAtMs: number;
  endedBy: NonNullable<AttachMeta['endedBy']>;
  rss: RssSample[];
}

export interface AttachHooks {
  onTick?: (elapsedMs: number, rssBytes: number) => void;
  onWarning?: (message: string) => void;
}

const POLL_MS = 250;
const STOP_WAIT_MS = 15_000;
const MAX_RSS_POINTS = 2000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Asks the shim in `pid` to stop the run (stop-request) and waits until it has written its final snapshot (the
 * `stopped` marker); true when it did. A run already stopped (its owner died) is true at once.
 */
export async function requestStop(rawDir: string, pid: number, waitMs = STOP_WAIT_MS): Promise<boolean> {
  const stopped = shimStoppedMarker(rawDir, pid);
  if (existsSync(stopped)) return true;
  try {
    closeSync(openSync(shimControlFile(rawDir, pid, 'stop-request'), fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600));
  } catch {
    return false;
  }
  for (let waited = 0; waited < waitMs; waited += 100) {
    if (existsSync(stopped)) return true;
    if (!processExists(pid)) return false;
    await sleep(100);
  }
  return existsSync(stopped);
}

/**
 * The run directory of the run attached to `pid` now, if any: the shim keeps its raw/<pid>/ directory open, so a
 * link under /proc/<pid>/fd names it (same user only). No state of our own to go stale.
 */
export function findAttachedRunDir(pid: number): string | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target.endsWith(`/raw/${pid}`) && existsSync(`${dirname(dirname(target))}/run.json`)) return dirname(dirname(target));
  }
  return undefined;
}

/** One attached run: run.json written at construction, load() attaches, watch() follows the run to its end. */
export class AttachSession {
  readonly meta: RunMeta;

  constructor(private readonly options: AttachOptions) {
    const now = Date.now();
    this.meta = {
      schema: RUN_META_SCHEMA, command: options.target.command, startedAtMs: now, pid: options.target.pid,
      sampleBytes: options.sampleBytes, snapshotIntervalMs: options.intervalMs,
      ...(options.warmupSec === undefined ? {} : { warmupSec: options.warmupSec }),
      ...(options.ignoreFrames?.length ? { ignoreFrames: options.ignoreFrames } : {}),
      javaStacks: options.javaStacks,
      attach: { pid: options.target.pid, trackingSinceMs: now, cliPid: process.pid },
    };
  }

  /** Loads the shim (JVMTI.agent_load over the JVM's attach socket); a refusal is a LeakhuntError with its one line. */
  async load(): Promise<void> {
    const { target, shimPath, rawDir } = this.options;
    quotable(rawDir, 'the run directory');
    const command = `JVMTI.agent_load ${quotable(shimPath, 'the shim')} "${agentOptions(this.options, inOtherPidNamespace(target.pid) ? 0 : process.pid)}"`;
    // Tracking starts while the JVM loads it: rates are measured from just before.
    this.meta.startedAtMs = Date.now();
    this.meta.attach!.trackingSinceMs = this.meta.startedAtMs;
    writeRunMeta(this.options.runDir, this.meta);
    const reply = await askJvm(target.pid, [command], 60_000);
    const output = `${reply.output}\n${reply.why}`;
    const code = /return code: (-?\d+)/.exec(output)?.[1];
    if (code === '0') return;
    if (!processExists(target.pid)) throw refused(`pid ${target.pid} ended before leakhunt could attach`);
    if (code !== undefined) {
      const answer = SHIM_ANSWERS[Number(code)];
      throw answer ? answer(target.pid) : refused(`pid ${target.pid} refused the shim (Agent_OnAttach returned ${code})`);
    }
    if (!reply.ok && reply.output.trim() === '') {
      throw refused(`pid ${target.pid} did not answer the attach request (-XX:+DisableAttachMechanism, another user's JVM, or too busy to answer): ${reply.why}`);
    }
    throw refused(`pid ${target.pid} could not load the shim: ${firstLine(output) || '(no output)'}`);
  }

  /** Follows the run until it stops (see the top of this file); run.json and jvm.json are complete when it returns. */
  async watch(hooks: AttachHooks = {}): Promise<AttachOutcome> {
    const { target, runDir, rawDir, intervalMs, durationMs } = this.options;
    const pid = target.pid;
    const started = this.meta.startedAtMs;
    const jvmPoller: JvmPoller = startJvmStatsPoller(pid, { intervalMs, nmt: false, startedAtMs: started });
    const perfMaps = new PerfMapCapture({ runDir, rawDir, rootPid: pid, followChildren: false, startedAtMs: started });
    const rss = new ThinnedSeries<RssSample>(MAX_RSS_POINTS);
    let signalled = false;
    const onSignal = () => { signalled = true; };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const s of signals) process.on(s, onSignal);
    const sampler = setInterval(() => {
      pidusage(pid).then((stat) => {
        const elapsedMs = Date.now() - started;
        rss.push({ timeMs: elapsedMs, rssBytes: stat.memory });
        hooks.onTick?.(elapsedMs, stat.memory);
      }).catch(() => { /* gone between two samples */ });
    }, Math.min(intervalMs, 1000));
    let endedBy: AttachOutcome['endedBy'];
    try {
      for (;;) {
        if (!processExists(pid)) { endedBy = 'jvm-exit'; break; }
        if (existsSync(shimStoppedMarker(rawDir, pid))) { endedBy = 'detach'; break; }
        if (signalled) { endedBy = 'signal'; break; }
        if (durationMs !== undefined && Date.now() - started >= durationMs) { endedBy = 'duration'; break; }
        await sleep(POLL_MS);
      }
      if (endedBy === 'signal' || endedBy === 'duration') {
        if (endedBy === 'duration') await Promise.race([perfMaps.captureNow().catch(() => undefined), sleep(5000)]);
        if (!(await requestStop(rawDir, pid)) && processExists(pid)) {
          hooks.onWarning?.(`the shim in pid ${pid} did not confirm its final snapshot in time: the report ends at its last one`);
        }
      }
    } finally {
      clearInterval(sampler);
      for (const s of signals) process.off(s, onSignal);
      pidusage.clear();
    }
    const endedAtMs = Date.now();
    Object.assign(this.meta, { endedAtMs, rss: rss.values() });
    this.meta.attach!.endedBy = endedBy;
    writeRunMeta(runDir, this.meta);
    const jvm = await jvmPoller.stop();
    if (jvm) writeJvmStats(runDir, jvm);
    await perfMaps.stop();
    return { endedAtMs, endedBy, rss: rss.values() };
  }
}

/** Whether the process `pid` is a leakhunt CLI still running (the attach that owns a run). */
export function isLeakhuntProcess(pid: number): boolean {
  const cmdline = readProc(pid, 'cmdline');
  return cmdline !== undefined && /leakhunt|cli\.js/.test(cmdline);
}
