/** snapshots/NNNN.pb.gz: the symbolized pprof heap profile of each raw snapshot, by sequence number. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runPath } from './layout.js';

export interface ProfileFile {
  /** The file's name in snapshots/. */
  file: string;
  /** Its path. */
  path: string;
  sequence: number;
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
