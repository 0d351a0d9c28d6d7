/** Finding the raw snapshots of a run directory: raw/<pid>/NNNNNN.lhs. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSnapshotFile } from './reader.js';
import type { RawSnapshot } from './types.js';

/** Sorted snapshot files of one process of the run (temporary files of an interrupted write are skipped). */
export function listSnapshotFiles(rawDir: string, pid: number): string[] {
  const dir = join(rawDir, String(pid));
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => /^\d{6}\.lhs$/.test(f)).sort().map((f) => join(dir, f));
}

/** The pids that wrote snapshots, in numeric order. */
export function listSnapshotPids(rawDir: string): number[] {
  if (!existsSync(rawDir)) return [];
  return readdirSync(rawDir).filter((f) => /^\d+$/.test(f)).map(Number).sort((a, b) => a - b);
}

export function readRunSnapshots(rawDir: string, pid: number): RawSnapshot[] {
  return listSnapshotFiles(rawDir, pid).map(readSnapshotFile);
}
