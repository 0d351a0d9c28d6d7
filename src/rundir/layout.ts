/**
 * A run directory's layout, and the one list of what leakhunt owns in it:
 *   run.json         what was run and how (written before the target starts, completed after)
 *   raw/<pid>/       the shim's raw snapshots (NNNNNN.lhs)
 *   snapshots/       one symbolized pprof heap profile per raw snapshot (NNNN.pb.gz)
 *   timeline.json    memory figures per snapshot, and the CLI's own RSS samples
 *   jvm.json         a JVM target's Java heap and NMT figures from jcmd, polled by the CLI (merged into timeline.json)
 *   perfmaps/<pid>/  the JVM's perf maps, taken while it ran, naming code-cache frames of stacks without Java frames
 *   objects/         copies of libraries the target deleted while they were loaded, for symbols
 *   report.json      the analysis (schema leakhunt.report/v1); report.html and report.md its renderings
 *   processes/<pid>/ with --follow-children: the same (snapshots/, timeline.json, report.json) for each child
 *   push/            with --push or leakhunt push: what a profiling backend accepted, the labels, a lock (push.ts)
 * Run directories are created private (0700) and never silently overwritten.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ExitCode, LeakhuntError } from '../core/errors.js';

/** The name of every file and folder leakhunt writes into a run directory. */
export const RUN_ENTRIES = {
  runMeta: 'run.json',
  raw: 'raw',
  profiles: 'snapshots',
  timeline: 'timeline.json',
  jvm: 'jvm.json',
  perfMaps: 'perfmaps',
  objects: 'objects',
  report: 'report.json',
  html: 'report.html',
  markdown: 'report.md',
  processes: 'processes',
  push: 'push',
} as const;

export type RunEntry = keyof typeof RUN_ENTRIES;

const ownedNames: ReadonlySet<string> = new Set(Object.values(RUN_ENTRIES));

/** Whether leakhunt wrote `name` (an entry of a run directory): one of its entries, or one's temporary file. */
export function isOwnedEntry(name: string): boolean {
  return ownedNames.has(name.replace(/\.tmp-\d+$/, ''));
}

/** `dir`/<the entry's name>: `dir` is a run directory, or a child process's directory under processes/. */
export function runPath(dir: string, entry: RunEntry): string {
  return join(dir, RUN_ENTRIES[entry]);
}

/** raw/<pid>/: one process's raw snapshots. */
export function rawPidDir(rawDir: string, pid: number): string {
  return join(rawDir, String(pid));
}

/** perfmaps/<pid>/: one JVM's perf maps and their index. */
export function perfMapsDir(runDir: string, pid: number): string {
  return join(runDir, RUN_ENTRIES.perfMaps, String(pid));
}

/** processes/<pid>/, relative to the run directory: a child's snapshots/, timeline.json and report.json. */
export function processDirName(pid: number): string {
  return join(RUN_ENTRIES.processes, String(pid));
}

function timestamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export function defaultRunDir(now = new Date()): string {
  return resolve(`leakhunt-${timestamp(now)}`);
}

/**
 * Creates (or, with force, clears leakhunt's own files from) the run directory and its raw/ subdirectory.
 * Refuses a symlink, a non-directory and, without force, any directory that is not empty. Files leakhunt does not
 * own stay where they are.
 */
export function prepareRunDir(dir: string, force: boolean): { runDir: string; rawDir: string } {
  const runDir = resolve(dir);
  if (existsSync(runDir)) {
    const stat = lstatSync(runDir);
    if (stat.isSymbolicLink() || !stat.isDirectory()) {
      throw new LeakhuntError(`${runDir}: exists and is not a directory`, ExitCode.outputExists);
    }
    const entries = readdirSync(runDir);
    if (entries.length > 0 && !force) {
      throw new LeakhuntError(`${runDir}: not empty; choose another --out or pass --force to replace leakhunt's files in it`, ExitCode.outputExists);
    }
    for (const name of entries.filter(isOwnedEntry)) rmSync(join(runDir, name), { recursive: true, force: true });
  }
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const rawDir = runPath(runDir, 'raw');
  mkdirSync(rawDir, { mode: 0o700 });
  return { runDir, rawDir };
}

/**
 * For a path that is not a run directory but lies inside one (its raw/ or snapshots/ folder, a snapshot file):
 * " (it is inside the run directory DIR: give that)", else "". For one-line input errors.
 */
export function insideRunDirHint(path: string): string {
  let dir = resolve(path);
  for (let level = 0; level < 3; level++) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
    if (existsSync(runPath(dir, 'runMeta'))) return ` (it is inside the run directory ${dir}: give that)`;
  }
  return '';
}
