/** Finding the raw snapshots of a run directory: raw/<pid>/NNNNNN.lhs (written by the shim, native/FORMAT.md). */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { rawPidDir } from './layout.js';

/**
 * Snapshot files of one process of the run, in sequence order (temporary files of an interrupted write are
 * skipped). Only regular files in a real directory: a symlink planted in the run directory is never followed.
 * Sequence numbers have six digits or more (a long run at a short interval passes 999999).
 */
export function listSnapshotFiles(rawDir: string, pid: number): string[] {
  const dir = rawPidDir(rawDir, pid);
  if (!isRealDirectory(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && /^\d{6,}\.lhs$/.test(e.name))
    .map((e) => ({ name: e.name, sequence: Number(e.name.slice(0, -4)) }))
    .sort((a, b) => a.sequence - b.sequence)
    .map((e) => join(dir, e.name));
}

/** The pids that wrote snapshots, in numeric order (real directories only, as above). */
export function listSnapshotPids(rawDir: string): number[] {
  if (!isRealDirectory(rawDir)) return [];
  return readdirSync(rawDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^\d+$/.test(e.name)).map((e) => Number(e.name)).sort((a, b) => a - b);
}

function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The control files the CLI drops into raw/<pid>/ for the shim to act on and remove (native/FORMAT.md). */
export type ShimControl = 'flush-request' | 'trim-request' | 'stop-request';

/** The file an attached shim leaves in raw/<pid>/ once it stopped the run: its final snapshot is written. */
export function shimStoppedMarker(rawDir: string, pid: number): string {
  return join(rawPidDir(rawDir, pid), 'stopped');
}

export function shimControlFile(rawDir: string, pid: number, control: ShimControl): string {
  return join(rawPidDir(rawDir, pid), control);
}
