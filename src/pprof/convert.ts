/**
 * A run's raw snapshots → symbolized pprof profiles on disk (DIR/snapshots/NNNN.pb.gz), decoded back for
 * the analysis so it sees exactly what the files hold.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RawSnapshot } from '../snapshot/types.js';
import { SymbolizeSession, type SymbolizeOptions } from '../symbolize/index.js';
import { buildHeapProfile, writeProfileGz } from './build.js';
import { decodeHeapProfile, type HeapProfile } from './read.js';

export interface ConvertedSnapshot {
  raw: RawSnapshot;
  path: string;
  profile: HeapProfile;
}

export function profileFileName(sequence: number): string {
  return `${String(sequence).padStart(4, '0')}.pb.gz`;
}

export async function convertSnapshots(
  snapshots: readonly RawSnapshot[], snapshotsDir: string, options: SymbolizeOptions = {},
): Promise<{ converted: ConvertedSnapshot[]; warnings: readonly string[] }> {
  mkdirSync(snapshotsDir, { recursive: true, mode: 0o700 });
  const session = new SymbolizeSession(options);
  const converted: ConvertedSnapshot[] = [];
  try {
    let previousNs: bigint | undefined;
    for (const raw of snapshots) {
      const symbolized = await session.symbolize(raw);
      const profile = buildHeapProfile(symbolized, {
        timeNanos: raw.meta.realtimeNs,
        durationNanos: previousNs === undefined ? raw.meta.realtimeNs - raw.meta.startRealtimeNs : raw.meta.realtimeNs - previousNs,
      });
      previousNs = raw.meta.realtimeNs;
      const path = join(snapshotsDir, profileFileName(raw.meta.sequence));
      await writeProfileGz(path, profile);
      converted.push({ raw, path, profile: decodeHeapProfile(profile.encode(), path) });
    }
    return { converted, warnings: await session.warnings() };
  } finally {
    await session.close();
  }
}
