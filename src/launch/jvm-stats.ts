/**
 * The JVM's own view of its memory while it runs: `jcmd <pid> GC.heap_info` (Java heap used and committed) and,
 * with --nmt, `jcmd <pid> VM.native_memory summary` (NMT committed per category), polled once per snapshot
 * interval from the CLI — never from inside the target. Kept in the run directory as jvm.json (rundir/jvm.ts).
 *
 * Only a JVM is asked (its /proc/<pid>/maps maps libjvm.so), and only once it handles SIGQUIT: jcmd attaches
 * by sending SIGQUIT, which would kill a JVM still starting up. A missing or failing jcmd is noted, never fatal.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync, accessSync, constants as fsConstants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { execa } from 'execa';
import { ThinnedSeries } from '../core/thinned-series.js';
import { JVM_STATS_SCHEMA, type JvmSample, type JvmStats, type NmtSummary } from '../rundir/index.js';

const UNIT: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3 };

function bytes(value: string, unit: string): number {
  return Number(value) * (UNIT[unit.toUpperCase()] ?? 1);
}

/**
 * Java heap used and committed from `GC.heap_info`: the sum of its "total N, used M" lines (one for G1, young
 * and old generations for Serial and Parallel), ZGC's "used N, capacity M", Shenandoah's "N committed, M used".
 */
export function parseHeapInfo(text: string): { usedBytes: number; committedBytes: number } | undefined {
  let used = 0;
  let committed = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (/^\s*(Metaspace|class space)\b/.test(line)) continue;
    let m = /\btotal (\d+)([KMG]?), used (\d+)([KMG]?)/.exec(line);
    if (m) {
      committed += bytes(m[1]!, m[2]!);
      used += bytes(m[3]!, m[4]!);
      found = true;
      continue;
    }
    m = /\bused (\d+)([KMG]?), capacity (\d+)([KMG]?)/.exec(line);
    if (m) {
      used += bytes(m[1]!, m[2]!);
      committed += bytes(m[3]!, m[4]!);
      found = true;
      continue;
    }
    m = /\b(\d+)([KMG]?) committed, (\d+)([KMG]?) used/.exec(line);
    if (m) {
      committed += bytes(m[1]!, m[2]!);
      used += bytes(m[3]!, m[4]!);
      found = true;
    }
  }
  return found ? { usedBytes: used, committedBytes: committed } : undefined;
}

/** NMT's summary: total committed, its malloc part, and committed per category; undefined when NMT is off. */
export function parseNmtSummary(text: string): NmtSummary | undefined {
  const total = /^Total: reserved=(\d+)(KB|MB|GB|B)?, committed=(\d+)(KB|MB|GB|B)?/m.exec(text);
  if (!total) return undefined;
  const categories: Record<string, number> = {};
  let categoryMalloc = 0;
  for (const m of text.matchAll(/^-\s+(.+?) \(reserved=\d+(?:KB|MB|GB|B)?, committed=(\d+)(KB|MB|GB|B)?\)/gm)) {
    categories[m[1]!.trim()] = bytes(m[2]!, m[3] ?? 'KB');
  }
  for (const m of text.matchAll(/\((?:malloc|arena)=(\d+)(KB|MB|GB|B)?/g)) categoryMalloc += bytes(m[1]!, m[2] ?? 'KB');
  // JDK 17.0.x and later print the malloc total under "Total:"; older ones only per category.
  const mallocTotal = /^\s+malloc: (\d+)(KB|MB|GB|B)?/m.exec(text);
  return {
    committedBytes: bytes(total[3]!, total[4] ?? 'KB'),
    mallocBytes: mallocTotal ? bytes(mallocTotal[1]!, mallocTotal[2] ?? 'KB') : categoryMalloc,
    javaHeapCommittedBytes: categories['Java Heap'] ?? 0,
    categories,
  };
}

/** The libjvm.so a process has mapped, if it is a JVM. */
export function libjvmOf(maps: string): string | undefined {
  return /\s(\/\S*\/libjvm\.so)$/m.exec(maps)?.[1];
}

/** Whether the process catches SIGQUIT (bit 2 of SigCgt): a JVM does once its signal handlers are installed. */
export function catchesSigquit(status: string): boolean {
  const mask = /^SigCgt:\s*([0-9a-f]+)/im.exec(status)?.[1];
  return mask !== undefined && (BigInt(`0x${mask}`) & 4n) !== 0n;
}

function executable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The target's own JDK's jcmd (…/lib/server/libjvm.so → …/bin/jcmd), else $JAVA_HOME's, else the one on PATH. */
export function findJcmd(libjvm: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates: string[] = [];
  if (libjvm) {
    // lib/server/libjvm.so (JDK 9+), jre/lib/amd64/server/libjvm.so (JDK 8): the JDK's bin/ is 2 to 4 levels up.
    for (let dir = dirname(libjvm), i = 0; i < 4 && dirname(dir) !== '/'; i++, dir = dirname(dir)) candidates.push(join(dirname(dir), 'bin', 'jcmd'));
  }
  if (env.JAVA_HOME) candidates.push(join(env.JAVA_HOME, 'bin', 'jcmd'));
  for (const dir of (env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'jcmd'));
  return candidates.find((c) => existsSync(c) && executable(c));
}

export interface JvmPollerOptions {
  intervalMs: number;
  /** Ask NMT too (the target was started with -XX:NativeMemoryTracking=summary). */
  nmt: boolean;
  /** The run's start, for sample times. */
  startedAtMs: number;
}

export interface JvmPoller {
  /** Stops polling (after the call under way) and returns what was gathered; undefined when it never saw a JVM. */
  stop(): Promise<JvmStats | undefined>;
}

/** jcmd's own JVM, started lean; none of the target's options or preloads. */
export function jcmdEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('LEAKHUNT_') || ['LD_PRELOAD', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'JDK_JAVA_OPTIONS'].includes(name)) delete env[name];
  }
  return env;
}

/** Options for jcmd's own JVM: a small, quick one. */
export const JCMD_JVM_OPTIONS = ['-J-XX:+UseSerialGC', '-J-XX:TieredStopAtLevel=1', '-J-XX:-UsePerfData'];
const MAX_FAILURES = 3;
/** JVM samples kept: one per snapshot interval, as many as the shim keeps snapshots by default and then some. */
const MAX_JVM_SAMPLES = 720;

export function startJvmStatsPoller(pid: number, options: JvmPollerOptions): JvmPoller {
  const stats: JvmStats = { schema: JVM_STATS_SCHEMA, pid, nmt: options.nmt, samples: [], notes: [] };
  // Bounded for runs of days, thinned as the shim thins snapshots (they are matched up by time).
  const samples = new ThinnedSeries<JvmSample>(MAX_JVM_SAMPLES);
  let isJvm = false;
  let stopped = false;
  let failures = 0;
  let gaveUp = false;
  let timer: NodeJS.Timeout | undefined;
  let commandDir: string | undefined;
  const note = (text: string) => { if (!stats.notes.includes(text)) stats.notes.push(text); };

  const poll = async (): Promise<void> => {
    if (gaveUp) return;
    const maps = await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
    const libjvm = libjvmOf(maps);
    if (!libjvm) return;
    isJvm = true;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    if (!catchesSigquit(status)) return; // still starting up (or -Xrs): jcmd's SIGQUIT would kill it
    stats.jcmd ??= findJcmd(libjvm);
    if (!stats.jcmd) {
      note('jcmd not found (it comes with the JDK: install a JDK, or put its bin/ on PATH): no Java heap or NMT figures');
      gaveUp = true;
      return;
    }
    let args = [String(pid), 'GC.heap_info'];
    if (options.nmt) {
      commandDir ??= mkdtempSync(join(tmpdir(), 'leakhunt-jcmd-'));
      const file = join(commandDir, 'commands');
      if (!existsSync(file)) writeFileSync(file, 'GC.heap_info\nVM.native_memory summary\n', { mode: 0o600 });
      args = [String(pid), '-f', file];
    }
    const started = Date.now();
    const result = await execa(stats.jcmd, [...JCMD_JVM_OPTIONS, ...args], {
      env: jcmdEnvironment(), extendEnv: false, reject: false, timeout: 10_000, stdin: 'ignore',
    });
    const output = `${result.stdout}`;
    const heap = result.exitCode === 0 ? parseHeapInfo(output) : undefined;
    if (!heap) {
      // A JVM that ended meanwhile is no failure of jcmd's.
      if (!libjvmOf(await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => ''))) return;
      failures++;
      const why = `${result.stderr || result.stdout || result.shortMessage}`.split('\n').find((l) => l.trim() && !/^\d+:$/.test(l.trim())) ?? 'no output';
      note(`jcmd ${pid} GC.heap_info failed: ${why.trim().slice(0, 200)}`);
      if (failures >= MAX_FAILURES) gaveUp = true;
      return;
    }
    failures = 0;
    const nmt = options.nmt ? parseNmtSummary(output) : undefined;
    if (options.nmt && !nmt) note('NMT is not on in the target (-XX:NativeMemoryTracking=summary did not reach it): no JVM-internal figures');
    samples.push({
      timeMs: (started + Date.now()) / 2 - options.startedAtMs,
      heapUsedBytes: heap.usedBytes, heapCommittedBytes: heap.committedBytes,
      ...(nmt ? { nmt } : {}),
    });
  };

  let running: Promise<void> = Promise.resolve();
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = poll().catch(() => undefined).then(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop(): Promise<JvmStats | undefined> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      if (commandDir) rmSync(commandDir, { recursive: true, force: true });
      return isJvm ? { ...stats, samples: samples.values() } : undefined;
    },
  };
}
