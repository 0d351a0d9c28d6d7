/**
 * The profiles a run directory holds, as the pusher takes them: which process, which snapshot, which file. The
 * target's are in snapshots/, each recorded child's (--follow-children) in processes/<pid>/snapshots/, named
 * NNNN.pb.gz by snapshot sequence (pprof/convert.ts profileFileName).
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ProfileKey } from './ledger.js';

/** A profile written into the run directory. */
export interface WrittenProfile extends ProfileKey {
  path: string;
}

/** Where the profiles of process `pid` go: snapshots/ for the target, processes/<pid>/snapshots/ for a child. */
export function profilesDirOf(runDir: string, rootPid: number, pid: number): string {
  return pid === rootPid ? join(runDir, 'snapshots') : join(runDir, 'processes', String(pid), 'snapshots');
}

function realDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function profilesIn(dir: string, pid: number): WrittenProfile[] {
  if (!realDirectory(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const match = entry.isFile() ? /^(\d+)\.pb\.gz$/.exec(entry.name) : null;
      return match ? [{ pid, sequence: Number(match[1]), path: join(dir, entry.name) }] : [];
    })
    .sort((a, b) => a.sequence - b.sequence);
}

/** Every profile of the run, the target's first, each process's in snapshot order. */
export function profilesOnDisk(runDir: string, rootPid: number): WrittenProfile[] {
  const children = realDirectory(join(runDir, 'processes'))
    ? readdirSync(join(runDir, 'processes')).filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => pid !== rootPid).sort((a, b) => a - b)
    : [];
  return [rootPid, ...children].flatMap((pid) => profilesIn(profilesDirOf(runDir, rootPid, pid), pid));
}
