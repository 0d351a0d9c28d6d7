/**
 * snapshots/NNNN.pb.gz: the symbolized pprof heap profile of each raw snapshot, by sequence number — the target's in
 * snapshots/, each recorded child's (--follow-children) in processes/<pid>/snapshots/.
 */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { processDirName, runPath } from './layout.js';

export interface ProfileFile {
  /** The file's name in snapshots/. */
  file: string;
  /** Its path. */
  path: string;
  sequence: number;
}

/** Which profile of a run: its process and its snapshot's sequence number. */
export interface ProfileKey {
  pid: number;
  sequence: number;
}

/** A profile written into the run directory, with its path. */
export interface WrittenProfile extends ProfileKey {
  path: string;
}

export function profileFileName(sequence: number): string {
  return `${String(sequence).padStart(4, '0')}.pb.gz`;
}

/** The profile files of `dir`/snapshots, by sequence number (`dir`: a run directory, or a child's). */
export function listProfiles(dir: string): ProfileFile[] {
  const profilesDir = runPath(dir, 'profiles');
  if (!existsSync(profilesDir)) return [];
  return readdirSync(profilesDir)
    .map((file) => ({ file, match: /^(\d+)\.pb\.gz$/.exec(file) }))
    .filter((f): f is { file: string; match: RegExpExecArray } => f.match !== null)
    .map(({ file, match }) => ({ file, path: join(profilesDir, file), sequence: Number(match[1]) }))
    .sort((a, b) => a.sequence - b.sequence);
}

/** Where the profiles of process `pid` go: snapshots/ for the target, processes/<pid>/snapshots/ for a child. */
export function profilesDirOf(runDir: string, rootPid: number, pid: number): string {
  return runPath(pid === rootPid ? runDir : join(runDir, processDirName(pid)), 'profiles');
}

function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** One process's profiles in snapshot order: regular files in a real directory only (a planted symlink is not followed). */
function profilesIn(dir: string, pid: number): WrittenProfile[] {
  if (!isRealDirectory(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const match = entry.isFile() ? /^(\d+)\.pb\.gz$/.exec(entry.name) : null;
      return match ? [{ pid, sequence: Number(match[1]), path: join(dir, entry.name) }] : [];
    })
    .sort((a, b) => a.sequence - b.sequence);
}

/** Every profile of the run whose target was `rootPid`, the target's first, each process's in snapshot order. */
export function profilesOnDisk(runDir: string, rootPid: number): WrittenProfile[] {
  const processesDir = runPath(runDir, 'processes');
  const children = isRealDirectory(processesDir)
    ? readdirSync(processesDir).filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => pid !== rootPid).sort((a, b) => a - b)
    : [];
  return [rootPid, ...children].flatMap((pid) => profilesIn(profilesDirOf(runDir, rootPid, pid), pid));
}
