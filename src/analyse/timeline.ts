/** The memory timeline of a run: one point per snapshot, from the shim's own figures. */
import type { RawSnapshot } from '../snapshot/types.js';
import { fitLine } from './statistics.js';
import type { MemoryGrowth } from './types.js';

export interface TimelinePoint {
  sequence: number;
  /** Seconds since the run started. */
  timeSec: number;
  rssBytes: number;
  rssAnonBytes: number;
  rssFileBytes: number;
  /** Upscaled live malloc bytes (all sites). */
  liveBytes: number;
  /** glibc mallinfo2: arena (sbrk heap) + mmapped blocks, in use, free but held. */
  mallocHeapBytes: number;
  mallocInUseBytes: number;
  mallocFreeBytes: number;
  mallocMmappedBytes: number;
  sampleIntervalBytes: number;
  liveEntries: number;
  tableDrops: number;
  thinnedEntries: number;
  stackDrops: number;
  shimMappedBytes: number;
}

export function timelineOf(snapshots: readonly RawSnapshot[], runStartMs: number): TimelinePoint[] {
  return snapshots.map((s) => {
    const m = s.mallinfo;
    return {
      sequence: s.meta.sequence,
      timeSec: Number(s.meta.realtimeNs / 1_000_000n) / 1000 - runStartMs / 1000,
      rssBytes: s.memory.vmRssBytes,
      rssAnonBytes: s.memory.rssAnonBytes,
      rssFileBytes: s.memory.rssFileBytes,
      liveBytes: s.sites.reduce((sum, site) => sum + site.liveBytes, 0),
      mallocHeapBytes: m.available ? m.arena : 0,
      mallocInUseBytes: m.available ? m.uordblks + m.hblkhd : 0,
      mallocFreeBytes: m.available ? m.fordblks : 0,
      mallocMmappedBytes: m.available ? m.hblkhd : 0,
      sampleIntervalBytes: s.meta.sampleIntervalBytes,
      liveEntries: s.counters.liveEntries,
      tableDrops: s.counters.tableDrops,
      thinnedEntries: s.counters.thinnedEntries,
      stackDrops: s.counters.stackDrops,
      shimMappedBytes: s.counters.shimMappedBytes,
    };
  });
}

function ratePerHour(times: number[], values: number[]): number {
  return fitLine(times, values, values.map(() => 0)).slope * 3600 || 0;
}

export function memoryGrowth(timeline: readonly TimelinePoint[]): MemoryGrowth {
  const times = timeline.map((p) => p.timeSec);
  const first = timeline[0];
  const last = timeline[timeline.length - 1];
  return {
    rssGrowthBytesPerHour: timeline.length >= 2 ? ratePerHour(times, timeline.map((p) => p.rssBytes)) : 0,
    liveGrowthBytesPerHour: timeline.length >= 2 ? ratePerHour(times, timeline.map((p) => p.liveBytes)) : 0,
    rssStartBytes: first?.rssBytes ?? 0,
    rssEndBytes: last?.rssBytes ?? 0,
    liveStartBytes: first?.liveBytes ?? 0,
    liveEndBytes: last?.liveBytes ?? 0,
  };
}
