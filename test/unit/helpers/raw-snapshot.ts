/**
 * A raw snapshot for tests: neutral defaults, and only what a test cares about given. One place to extend when
 * the format grows a field, instead of a literal in every test.
 */
import type { MallocInfo, ProcessMemory, RawSnapshot, ShimCounters, SnapshotMeta } from '../../../src/snapshot/types.js';

export interface RawSnapshotParts extends Partial<Omit<RawSnapshot, 'meta' | 'counters' | 'mallinfo' | 'memory'>> {
  meta?: Partial<SnapshotMeta>;
  counters?: Partial<ShimCounters>;
  mallinfo?: Partial<MallocInfo>;
  memory?: Partial<ProcessMemory>;
}

export function rawSnapshot(parts: RawSnapshotParts = {}): RawSnapshot {
  const { meta, counters, mallinfo, memory, ...rest } = parts;
  return {
    path: 'test.lhs',
    maps: '',
    stacks: new Map(),
    sites: [],
    javaMethods: new Map(),
    unloadedMaps: '',
    ...rest,
    meta: {
      pid: 1, sequence: 1, realtimeNs: 0n, monotonicNs: 0n, startRealtimeNs: 0n, startMonotonicNs: 0n,
      baseSampleIntervalBytes: 1, sampleIntervalBytes: 1, isFinal: false, maxStackDepth: 64, recordsEveryAllocation: true,
      afterTrim: false, agentLoaded: false, agentSampling: false, ...meta,
    },
    counters: {
      samples: 0, sampledFrees: 0, liveEntries: 0, tableCapacity: 0, tableDrops: 0, thinnedEntries: 0, thinningRounds: 0,
      stackCount: 0, stackCapacity: 0, stackDrops: 0, missedFrees: 0, shimMappedBytes: 0, snapshotsWritten: 0, writeErrors: 0,
      javaStacks: 0, javaStackFailures: 0, shimResidentBytes: 0, javaMethods: 0, fastUnwinds: 0, unwindMismatches: 0, ...counters,
    },
    mallinfo: {
      available: false, arena: 0, ordblks: 0, smblks: 0, hblks: 0, hblkhd: 0, usmblks: 0, fsmblks: 0, uordblks: 0,
      fordblks: 0, keepcost: 0, ...mallinfo,
    },
    memory: { vmSizeBytes: 0, vmRssBytes: 0, rssAnonBytes: 0, rssFileBytes: 0, rssShmemBytes: 0, vmHwmBytes: 0, ...memory },
  };
}
