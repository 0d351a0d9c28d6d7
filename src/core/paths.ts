/** Output locations: run directories are created private (0700) and never silently overwritten. */
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ExitCode, LeakhuntError } from './errors.js';

/** What leakhunt itself writes into a run directory; --force removes only these. */
export const runArtifacts = ['raw', 'snapshots', 'run.json', 'timeline.json', 'report.json', 'report.html', 'report.md', 'push'];

function timestamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export function defaultRunDir(now = new Date()): string {
  return resolve(`leakhunt-${timestamp(now)}`);
}

/**
 * Creates (or, with force, clears leakhunt's own files from) the run directory and its raw/ subdirectory.
 * Refuses a symlink, a non-directory and, without force, any directory that is not empty.
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
    for (const name of runArtifacts) rmSync(join(runDir, name), { recursive: true, force: true });
  }
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const rawDir = join(runDir, 'raw');
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
    if (existsSync(join(dir, 'run.json'))) return ` (it is inside the run directory ${dir}: give that)`;
  }
  return '';
}
