/**
 * Profiles while the target runs: each raw snapshot the shim writes is read, symbolized and encoded into its
 * profile as soon as it appears — with the same ProfileWriter (symbolize session, incremental encoder) the
 * processing at the end uses, into the same file (snapshots/NNNN.pb.gz, processes/<pid>/snapshots/ for a child) —
 * and handed on (onProfile) to be pushed. The processing after the run writes every profile again, as it always
 * has (the run's last profile with every stack's allocations, perf maps complete): a profile pushed while the run
 * went on is the one of the moment, and the ledger keeps it from being sent twice.
 *
 * The run directory stays as retention leaves it: when the shim deletes a raw snapshot (--max-snapshots thins the
 * middle of a long run), its profile is deleted too (onThinned), so snapshots/ never holds a profile the run's
 * timeline does not list — `leakhunt report` reads the directory exactly as before.
 *
 * Bounded: per process, one writer that keeps no series (the analysis is the end's), the raw snapshot in hand and
 * the one before; the symbolized pcs and encoded tables grow only with the shim's bounded stack table. A process
 * whose final snapshot was made has its writer closed. The watcher polls (no inotify: a run directory may be on
 * any file system) and never runs two passes at once; an error stops it with one line, never the run.
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ProfileWriter } from '../pprof/index.js';
import {
  listSnapshotFiles, listSnapshotPids, perfMapsDir, profileFileName, profilesDirOf, readPerfMapsIndex, runPath, type ProfileKey, type WrittenProfile,
} from '../rundir/index.js';
import { SnapshotSeriesReader, type RawSnapshot } from '../snapshot/index.js';
import { readPerfMaps } from '../symbolize/index.js';

export interface LiveProfilesOptions {
  runDir: string;
  rawDir: string;
  /** Children's snapshots too (--follow-children), each in its own profiles directory. */
  followChildren: boolean;
  /** How often to look for new snapshots. */
  pollMs: number;
  onProfile: (profile: WrittenProfile) => void;
  /** A profile made earlier whose snapshot retention deleted: deleted too. */
  onThinned: (key: ProfileKey) => void;
  /** One line, when making profiles fails (they are then made at the end only). */
  onWarning: (line: string) => void;
}

interface ProcessState {
  pid: number;
  reader: SnapshotSeriesReader;
  writer: ProfileWriter | undefined;
  /** Perf maps the writer was made with: a JVM's maps come in as it runs, and name JIT frames from then on. */
  perfMapCount: number;
  /** The newest sequence read (or skipped). */
  last: number;
  /** Profiles made, by sequence: to be deleted with their snapshot. */
  made: Map<number, string>;
  /** The snapshot before the one just added: its sites are released once the next one is in. */
  previous: RawSnapshot | undefined;
  ended: boolean;
}

const sequenceOf = (file: string) => Number(/(\d+)\.lhs$/.exec(file)![1]);

export class LiveProfiles {
  private rootPid: number | undefined;
  private readonly processes = new Map<number, ProcessState>();
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private failed = false;
  /** Profiles made while the run went on. */
  made = 0;

  constructor(private readonly options: LiveProfilesOptions) {}

  /** Starts watching the target's snapshots (and its children's). */
  start(rootPid: number): void {
    this.rootPid = rootPid;
    this.timer = setInterval(() => { void this.poll(); }, this.options.pollMs);
    this.timer.unref();
  }

  /** Looks for new snapshots now (a pass under way is awaited, not doubled). */
  poll(): Promise<void> {
    this.pass ??= this.passOnce().finally(() => { this.pass = undefined; });
    return this.pass;
  }

  /** Once the target has ended: the snapshots not yet made into profiles are, then the writers close. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.pass;
    if (this.rootPid !== undefined) await this.passOnce();
    for (const state of this.processes.values()) await this.closeWriter(state);
  }

  private async passOnce(): Promise<void> {
    if (this.failed || this.rootPid === undefined) return;
    try {
      const pids = this.options.followChildren ? listSnapshotPids(this.options.rawDir) : [this.rootPid];
      for (const pid of pids) await this.passProcess(this.stateOf(pid));
    } catch (error) {
      this.failed = true;
      this.options.onWarning(`profiles are not made while the run goes on (${(error as Error).message.split('\n')[0]}): they are made, and pushed, when it ends`);
      for (const state of this.processes.values()) await this.closeWriter(state).catch(() => {});
    }
  }

  private stateOf(pid: number): ProcessState {
    let state = this.processes.get(pid);
    if (!state) {
      state = { pid, reader: new SnapshotSeriesReader(), writer: undefined, perfMapCount: 0, last: -1, made: new Map(), previous: undefined, ended: false };
      this.processes.set(pid, state);
    }
    return state;
  }

  private async passProcess(state: ProcessState): Promise<void> {
    const files = listSnapshotFiles(this.options.rawDir, state.pid);
    const present = new Set(files.map(sequenceOf));
    for (const [sequence, path] of state.made) {
      if (present.has(sequence)) continue;
      state.made.delete(sequence);
      await unlink(path).catch(() => {});
      this.options.onThinned({ pid: state.pid, sequence });
    }
    for (const file of files) {
      const sequence = sequenceOf(file);
      if (sequence <= state.last || state.ended) continue;
      state.last = sequence;
      let snapshot: RawSnapshot;
      try {
        snapshot = state.reader.read(file);
      } catch {
        // Deleted by retention since it was listed, or damaged: the processing at the end says which.
        continue;
      }
      const writer = await this.writerFor(state);
      await writer.add(snapshot, 0, { liveOnly: true });
      if (state.previous) state.reader.release(state.previous);
      state.previous = snapshot;
      await writer.written();
      writer.paths.length = 0;
      const path = join(profilesDirOf(this.options.runDir, this.rootPid!, state.pid), profileFileName(snapshot.meta.sequence));
      state.made.set(sequence, path);
      this.made++;
      this.options.onProfile({ pid: state.pid, sequence, path });
      if (snapshot.meta.isFinal) {
        state.ended = true;
        await this.closeWriter(state);
      }
    }
  }

  /** The process's writer, made anew when its perf maps changed (the symbolize session takes them when made). */
  private async writerFor(state: ProcessState): Promise<ProfileWriter> {
    const mapsDir = perfMapsDir(this.options.runDir, state.pid);
    const perfMapCount = readPerfMapsIndex(mapsDir)?.maps.length ?? 0;
    if (state.writer && perfMapCount === state.perfMapCount) return state.writer;
    await this.closeWriter(state);
    const perfMaps = perfMapCount > 0 ? readPerfMaps(mapsDir) : undefined;
    state.perfMapCount = perfMapCount;
    state.writer = new ProfileWriter(
      profilesDirOf(this.options.runDir, this.rootPid!, state.pid),
      { objectsDir: runPath(this.options.runDir, 'objects'), ...(perfMaps ? { perfMaps } : {}) },
      { series: false },
    );
    return state.writer;
  }

  private async closeWriter(state: ProcessState): Promise<void> {
    const writer = state.writer;
    state.writer = undefined;
    if (writer) await writer.close();
  }
}
