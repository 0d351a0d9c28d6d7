/**
 * A process's perf map, kept while it runs: the names of its JIT-compiled code. Any runtime may write
 * /tmp/perf-<pid>.map itself — node --perf-basic-prof, python -X perf (3.12+), others — and then, for a process
 * that is no JVM, the CLI copies that file now and then (at the gaps below) and once more when the run ends, and
 * leaves it where it is: it is the runtime's. The rest of this comment is about JVMs, which are asked for theirs.
 *
 * The JVM's perf map: the names of the code in its code cache (JIT-compiled methods, native
 * method wrappers, the interpreter and the JVM's stubs), for the native frames that end there when there is no
 * Java stack — a JVM that did not load leakhunt's agent, or a sample AsyncGetCallTrace could not walk.
 *
 * For every JVM process of the run (the target and, with --follow-children, every child that records: each has a
 * raw/<pid>/ directory), once it handles SIGQUIT (the attach would kill it earlier), the CLI asks it
 * `jcmd <pid> Compiler.perfmap` (JDK 17+; over its attach socket, launch/hotspot-attach.ts), which makes the JVM write /tmp/perf-<pid>.map, and copies that file
 * into the run directory. The code cache changes (methods compiled, deoptimised, flushed, addresses reused), so
 * it does so again and again — 1 s after the JVM is first seen, then at doubling gaps up to a minute — and once
 * more when --duration stops the target. Identical maps are not copied twice; at most 16 copies are kept per
 * process, the middle of the run thinned (perfmaps/<pid>/, rundir/perfmaps.ts).
 *
 * Never clobber what the user had: a /tmp/perf-<pid>.map that existed before leakhunt asked (the user runs with
 * perf maps on) is copied and left alone, and leakhunt stops asking that JVM (jcmd would overwrite it); a file
 * leakhunt's request created is removed from /tmp once copied.
 */
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, readSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  perfMapsDir, PERF_MAPS_SCHEMA, writeFileAtomicAsync, writePerfMapsIndex, type PerfMapCopy, type PerfMapsIndex,
} from '../rundir/index.js';
import { askJvm, catchesSigquit } from './hotspot-attach.js';
import { libjvmOf } from './jvm-stats.js';

export interface PerfMapCaptureOptions {
  runDir: string;
  /** The run's raw/ directory: every recording process has a raw/<pid>/ in it. */
  rawDir: string;
  rootPid: number;
  /** Look at the target's children too (those that record, with --follow-children). */
  followChildren: boolean;
  startedAtMs: number;
  /** The longest gap between two captures of one JVM (default 60 s). */
  maxGapMs?: number;
  /** Time between two looks for JVMs (default 500 ms). */
  tickMs?: number;
}

export const MAX_PERF_MAP_COPIES = 16;
const FIRST_CAPTURE_DELAY_MS = 1000;
const MAX_PERF_MAP_BYTES = 256 * 1024 * 1024;
const MAX_FAILURES = 3;
const STALE_PERF_MAP_SLACK_MS = 2000;

/** The copy to drop when there are too many (the first and the last always stay): the one whose neighbours are closest. */
export function copyToThin(timesMs: readonly number[]): number | undefined {
  if (timesMs.length < 3) return undefined;
  let best = 1;
  for (let i = 2; i < timesMs.length - 1; i++) {
    if (timesMs[i + 1]! - timesMs[i - 1]! < timesMs[best + 1]! - timesMs[best - 1]!) best = i;
  }
  return best;
}

/** Perf-map lines: "START SIZE name", START and SIZE in hex (with or without 0x). */
export function countPerfMapEntries(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (/^(0x)?[0-9a-f]+ (0x)?[0-9a-f]+ \S/i.test(line)) n++;
  return n;
}

/** The file's content when it is a regular file (never through a link) of at most MAX_PERF_MAP_BYTES. */
function readRegularFile(path: string): { text: string; mtimeMs: number; uid: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_PERF_MAP_BYTES) return undefined;
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return { text: buffer.subarray(0, read).toString('utf8'), mtimeMs: stat.mtimeMs, uid: stat.uid };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface JvmState {
  pid: number;
  dir: string;
  index: PerfMapsIndex;
  /** Undefined until the process maps libjvm.so. */
  libjvm?: string;
  uid?: number;
  done: boolean;
  nextAtMs: number;
  gapMs: number;
  failures: number;
  /** The user's own /tmp/perf-<pid>.map was there: only copy it, never ask jcmd (it would overwrite it). */
  userFile: boolean;
  userFileMtimeMs?: number;
  /** A process that is no JVM, whose runtime writes its own /tmp/perf-<pid>.map: copied, never asked for. */
  runtimeMap?: boolean;
  lastHash?: string;
  firstSeenMs: number;
}

/** Every JVM of the run, looked at every tick and captured when its next capture is due. See the top of this file. */
export class PerfMapCapture {
  private readonly states = new Map<number, JvmState>();
  private readonly maxGapMs: number;
  private readonly tickMs: number;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly options: PerfMapCaptureOptions) {
    this.maxGapMs = options.maxGapMs ?? 60_000;
    this.tickMs = options.tickMs ?? 500;
    this.schedule();
  }

  /** A capture of every live JVM now (before --duration stops the target). */
  async captureNow(): Promise<void> {
    if (this.stopped) return;
    await this.running;
    this.running = this.tick(true).catch(() => undefined);
    await this.running;
  }

  /** Stops capturing; copies a perf map a JVM wrote at its exit (-XX:+DumpPerfMapAtExit, the user's). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    for (const state of this.states.values()) {
      if (!state.libjvm) {
        // Another runtime's map, as it was when the process ended (it is appended to while the process runs; a
        // process too short for a look while it ran is looked at here).
        await this.copyRuntimeMap(state).catch(() => undefined);
        continue;
      }
      // A map the JVM wrote as it exited (the user's -XX:+DumpPerfMapAtExit): ours were removed when copied.
      const path = tmpPerfMapPath(state.pid);
      const file = exists(path) ? readRegularFile(path) : undefined;
      if (file && file.mtimeMs >= state.firstSeenMs && file.mtimeMs !== state.userFileMtimeMs) {
        note(state, `${path} (written by the JVM at its exit, or by the user) copied and left in place`);
        state.userFileMtimeMs = file.mtimeMs;
        await this.keep(state, file.text, file.mtimeMs, 'user').catch(() => undefined);
      } else {
        await writePerfMapsIndex(state.dir, state.index).catch(() => undefined);
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick(false).catch(() => undefined).then(() => this.schedule());
    }, this.tickMs);
    this.timer.unref();
  }

  private async tick(force: boolean): Promise<void> {
    for (const pid of await this.pids()) {
      const state = this.stateOf(pid);
      if (state.done) continue;
      if (!state.libjvm && !(await recognise(state))) {
        // Not a JVM (yet: the launcher maps libjvm a moment after it starts): a map its runtime writes itself.
        if (!state.done && (force || Date.now() >= state.nextAtMs)) {
          await this.copyRuntimeMap(state).catch((error: Error) => note(state, `perf map not kept: ${error.message}`));
          state.gapMs = Math.min(state.gapMs * 2, this.maxGapMs);
          state.nextAtMs = Date.now() + state.gapMs;
        }
        continue;
      }
      if (!force && Date.now() < state.nextAtMs) continue;
      if (!(await ready(state))) continue;
      await this.capture(state).catch((error: Error) => note(state, `perf map not kept: ${error.message}`));
      await writePerfMapsIndex(state.dir, state.index).catch(() => undefined);
      state.gapMs = Math.min(state.gapMs * 2, this.maxGapMs);
      state.nextAtMs = Date.now() + state.gapMs;
    }
  }

  /** The target, and with --follow-children every process that records (each has a raw/<pid>/). */
  private async pids(): Promise<number[]> {
    const found = new Set([this.options.rootPid]);
    if (this.options.followChildren) {
      for (const name of await readdir(this.options.rawDir).catch(() => [] as string[])) if (/^\d+$/.test(name)) found.add(Number(name));
    }
    return [...found];
  }

  private stateOf(pid: number): JvmState {
    let state = this.states.get(pid);
    if (!state) {
      state = {
        pid, dir: perfMapsDir(this.options.runDir, pid), done: false, nextAtMs: 0, gapMs: FIRST_CAPTURE_DELAY_MS,
        failures: 0, userFile: false, firstSeenMs: Date.now(),
        index: { schema: PERF_MAPS_SCHEMA, pid, startedAtMs: this.options.startedAtMs, maps: [], notes: [] },
      };
      this.states.set(pid, state);
    }
    return state;
  }

  /**
   * A process that is no JVM: the /tmp/perf-<pid>.map its runtime writes (node --perf-basic-prof, python -X perf),
   * when it is this process's (its user's, not older than the run), copied when it changed and never touched.
   */
  private async copyRuntimeMap(state: JvmState): Promise<void> {
    const path = tmpPerfMapPath(state.pid);
    if (!exists(path)) return;
    const file = readRegularFile(path);
    // An empty map is one the runtime has only just opened: nothing to name yet, so it is looked at again later.
    if (!file || file.mtimeMs === state.userFileMtimeMs || file.text.trim() === '') return;
    state.uid ??= processUid(state.pid);
    if (file.mtimeMs < this.options.startedAtMs - STALE_PERF_MAP_SLACK_MS || (state.uid !== undefined && file.uid !== state.uid)) return;
    if (!state.runtimeMap) {
      state.runtimeMap = true;
      state.index.jvm = false;
      note(state, `${path} (written by the process's runtime: node --perf-basic-prof, python -X perf…) copied and left in place`);
    }
    state.userFileMtimeMs = file.mtimeMs;
    await this.keep(state, file.text, Date.now(), 'runtime');
  }

  private async capture(state: JvmState): Promise<void> {
    const path = tmpPerfMapPath(state.pid);
    if (!state.userFile && exists(path) && !this.adoptUserFile(state, path)) return;
    if (state.userFile) await this.copyUserFile(state, path);
    else await this.askPerfMap(state, path);
  }

  /**
   * A /tmp/perf-<pid>.map that is there before leakhunt asked: the user's (perf maps on), copied from now on and
   * never asked for again; or an earlier process's with the same pid, left alone (false: this JVM is done).
   */
  private adoptUserFile(state: JvmState, path: string): boolean {
    state.userFile = true;
    let mtimeMs = Number.POSITIVE_INFINITY;
    try {
      mtimeMs = lstatSync(path).mtimeMs;
    } catch { /* gone meanwhile: copyUserFile says so */ }
    // File times come from a coarse clock (ticks of a few ms): a map the command's own start script wrote at
    // once can carry a time just before the run's start. A pid is not reused within seconds.
    if (mtimeMs < this.options.startedAtMs - STALE_PERF_MAP_SLACK_MS) {
      // An earlier process's, with the same pid: not this JVM's code, and not ours to overwrite.
      note(state, `${path} is older than this run (an earlier process with the same pid): left alone; leakhunt does not ask this JVM for a perf map`);
      state.done = true;
      return false;
    }
    note(state, `${path} existed before leakhunt asked for it (perf maps on?): copied and left in place; leakhunt does not ask this JVM for another`);
    return true;
  }

  /** The user's /tmp/perf-<pid>.map (one leakhunt did not make): copied when it changed, never touched. */
  private async copyUserFile(state: JvmState, path: string): Promise<void> {
    const file = readRegularFile(path);
    if (!file) {
      note(state, `${path} is not a regular file leakhunt can read: not copied`);
      return;
    }
    if (file.mtimeMs === state.userFileMtimeMs) return;
    state.userFileMtimeMs = file.mtimeMs;
    await this.keep(state, file.text, file.mtimeMs, 'user');
  }

  /** `Compiler.perfmap` (jcmd's command, over the JVM's attach socket), then the map it made copied and removed. */
  private async askPerfMap(state: JvmState, path: string): Promise<void> {
    const started = Date.now();
    const reply = await askJvm(state.pid, ['Compiler.perfmap'], 20_000);
    const takenAtMs = (started + Date.now()) / 2;
    // Only what this request made is ours to remove: a regular file, written by the JVM's user.
    const file = readRegularFile(path);
    const ours = file !== undefined && (state.uid === undefined || file.uid === state.uid);
    if (ours) await rm(path, { force: true });
    if (reply.ok && file && ours) {
      state.failures = 0;
      await this.keep(state, file.text, takenAtMs, 'jcmd');
      return;
    }
    if (!alive(state.pid)) return; // ended meanwhile: no failure of jcmd's
    state.failures++;
    if (reply.ok) {
      note(state, `jcmd ${state.pid} Compiler.perfmap left no ${path} leakhunt can read (the JVM's /tmp is another one, in a container?)`);
    } else {
      note(state, `jcmd ${state.pid} Compiler.perfmap failed: ${reply.why}${/Unknown diagnostic command/i.test(reply.why) ? ' (JDK 17 or newer has it)' : ''}`);
    }
    if (state.failures >= MAX_FAILURES) state.done = true;
    await writePerfMapsIndex(state.dir, state.index);
  }

  /** Keeps `text` as a copy taken at `atMs` (epoch ms): a new file, or the last one seen again. */
  private async keep(state: JvmState, text: string, atMs: number, source: PerfMapCopy['source']): Promise<void> {
    const hash = createHash('sha1').update(text).digest('hex');
    const time = Math.max(0, Math.round(atMs - this.options.startedAtMs));
    const maps = state.index.maps;
    const last = maps[maps.length - 1];
    if (last && hash === state.lastHash) {
      last.lastTimeMs = Math.max(last.lastTimeMs, time);
    } else {
      await mkdir(state.dir, { recursive: true, mode: 0o700 });
      let file = `${time}.map`;
      for (let n = 1; maps.some((m) => m.file === file); n++) file = `${time}-${n}.map`;
      await writeFileAtomicAsync(join(state.dir, file), text);
      maps.push({ file, timeMs: time, lastTimeMs: time, source, entries: countPerfMapEntries(text) });
      state.lastHash = hash;
      while (maps.length > MAX_PERF_MAP_COPIES) {
        const drop = copyToThin(maps.map((m) => m.timeMs))!; // defined: there are more than 3
        await rm(join(state.dir, maps[drop]!.file), { force: true });
        maps.splice(drop, 1);
      }
    }
    await writePerfMapsIndex(state.dir, state.index);
  }
}

export function startPerfMapCapture(options: PerfMapCaptureOptions): PerfMapCapture {
  return new PerfMapCapture(options);
}

function tmpPerfMapPath(pid: number): string {
  return `/tmp/perf-${pid}.map`;
}

function note(state: JvmState, text: string): void {
  if (!state.index.notes.includes(text)) state.index.notes.push(text);
}

/** The user a process runs as (undefined when it is gone). */
function processUid(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}`).uid;
  } catch {
    return undefined;
  }
}

/** First sight of a JVM: its libjvm and its user. */
async function recognise(state: JvmState): Promise<boolean> {
  const maps = await readFile(`/proc/${state.pid}/maps`, 'utf8').catch(() => undefined);
  if (maps === undefined) {
    state.done = true; // gone (or never readable)
    return false;
  }
  const libjvm = libjvmOf(maps);
  if (!libjvm) return false;
  state.libjvm = libjvm;
  state.index.jvm = true;
  state.runtimeMap = false;
  try {
    state.uid = statSync(`/proc/${state.pid}`).uid;
  } catch {
    state.done = true;
    return false;
  }
  state.nextAtMs = Date.now() + FIRST_CAPTURE_DELAY_MS;
  await writePerfMapsIndex(state.dir, state.index);
  return true;
}

/** Alive and handling SIGQUIT: the attach would kill a JVM still starting up. */
async function ready(state: JvmState): Promise<boolean> {
  if (!alive(state.pid)) {
    state.done = true;
    return false;
  }
  return catchesSigquit(await readFile(`/proc/${state.pid}/status`, 'utf8').catch(() => ''));
}
