/**
 * The memory timeline of a run: one point per snapshot, from the shim's own figures (RSS, live malloc,
 * glibc's mallinfo2, jemalloc's stats, the shim's own resident memory) and, for a JVM, the Java heap and NMT
 * figures jcmd gave the CLI around the same time.
 */
import type { JvmSample } from '../rundir/index.js';
import type { JemallocStats, RawSnapshot, SiteKind } from '../snapshot/types.js';
import { fitLine } from './statistics.js';
import type { MemoryGrowth } from './types.js';

/** Which allocator served malloc: glibc (mallinfo2 figures), jemalloc (its stats), tcmalloc or other (none). */
export type AllocatorKind = 'glibc' | 'jemalloc' | 'tcmalloc' | 'other';

export interface TimelinePoint {
  sequence: number;
  /** Seconds since the run started. */
  timeSec: number;
  rssBytes: number;
  rssAnonBytes: number;
  rssFileBytes: number;
  /** Upscaled live malloc bytes (the malloc family's sites; mappings are below). */
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
  // The fields below are absent from timelines written before memory accounting.
  /** How much of the shim's own tables is resident. */
  shimResidentBytes?: number;
  /** Upscaled bytes of the sampled mappings still mapped (mmap sites), anonymous and of files; absent before site
   * kinds. Bytes a mapping can hold, not what of it is resident. */
  liveMmapAnonBytes?: number;
  liveMmapFileBytes?: number;
  allocator?: AllocatorKind;
  /** jemalloc's stats, when it is the allocator. */
  jemalloc?: JemallocStats;
  /** The second snapshot of a trim probe, taken right after malloc_trim(0): an intervention, left out of trends. */
  afterTrim?: boolean;
  /** The process is a JVM (it maps libjvm.so). */
  jvm?: boolean;
  /** From `jcmd GC.heap_info`, interpolated to the snapshot's time. */
  javaHeapUsedBytes?: number;
  javaHeapCommittedBytes?: number;
  /** From `jcmd VM.native_memory summary` (--nmt): total committed, its malloc part, the Java heap's part. */
  nmtCommittedBytes?: number;
  nmtMallocBytes?: number;
  nmtJavaHeapCommittedBytes?: number;
  /** Committed bytes per NMT category (the nearest sample's). */
  nmtCategories?: Record<string, number>;
}

/** The allocator in a snapshot's process: jemalloc reports itself; tcmalloc and others are known by their maps. */
export function allocatorOf(snapshot: RawSnapshot): AllocatorKind {
  if (snapshot.jemalloc) return 'jemalloc';
  if (/\/libtcmalloc[\w.-]*\.so/.test(snapshot.maps)) return 'tcmalloc';
  if (/\/lib(jemalloc|mimalloc|hoard|snmalloc|rpmalloc)[\w.-]*\.so/.test(snapshot.maps)) return 'other';
  return snapshot.mallinfo.available ? 'glibc' : 'other';
}

/** JVM figures further than this from a snapshot (and not bracketing it) are not matched to it. */
const JVM_MATCH_SEC = 2;

type JvmFigures = Pick<TimelinePoint, 'javaHeapUsedBytes' | 'javaHeapCommittedBytes' | 'nmtCommittedBytes' | 'nmtMallocBytes'
  | 'nmtJavaHeapCommittedBytes' | 'nmtCategories'>;

const numericFigures = ['javaHeapUsedBytes', 'javaHeapCommittedBytes', 'nmtCommittedBytes', 'nmtMallocBytes', 'nmtJavaHeapCommittedBytes'] as const;

function figuresOf(sample: JvmSample): JvmFigures {
  const figures: JvmFigures = {};
  if (sample.heapUsedBytes !== undefined) figures.javaHeapUsedBytes = sample.heapUsedBytes;
  if (sample.heapCommittedBytes !== undefined) figures.javaHeapCommittedBytes = sample.heapCommittedBytes;
  if (sample.nmt) {
    figures.nmtCommittedBytes = sample.nmt.committedBytes;
    figures.nmtMallocBytes = sample.nmt.mallocBytes;
    figures.nmtJavaHeapCommittedBytes = sample.nmt.javaHeapCommittedBytes;
    figures.nmtCategories = sample.nmt.categories;
  }
  return figures;
}

/**
 * The JVM figures at `timeSec`: interpolated between the samples either side of it, or the nearest sample when
 * it is within JVM_MATCH_SEC; nothing when jcmd gave nothing near that time.
 */
export function jvmFiguresAt(samples: readonly JvmSample[], timeSec: number): JvmFigures {
  const sorted = [...samples].sort((a, b) => a.timeMs - b.timeMs);
  const next = sorted.findIndex((s) => s.timeMs / 1000 > timeSec);
  const before = next < 0 ? sorted[sorted.length - 1] : sorted[next - 1];
  const after = next < 0 ? undefined : sorted[next];
  if (!before || !after) {
    const only = before ?? after;
    return only && Math.abs(only.timeMs / 1000 - timeSec) <= JVM_MATCH_SEC ? figuresOf(only) : {};
  }
  const a = figuresOf(before);
  const b = figuresOf(after);
  const span = (after.timeMs - before.timeMs) / 1000;
  const w = span > 0 ? (timeSec - before.timeMs / 1000) / span : 0;
  const figures: JvmFigures = {};
  for (const key of numericFigures) {
    const x = a[key];
    const y = b[key];
    if (x !== undefined && y !== undefined) figures[key] = Math.round(x + (y - x) * w);
  }
  const categories = (w < 0.5 ? a : b).nmtCategories ?? a.nmtCategories ?? b.nmtCategories;
  if (categories) figures.nmtCategories = categories;
  return figures;
}

/** Upscaled live bytes of a snapshot's sites, by kind: malloc blocks, anonymous mappings, file mappings. */
function liveBytesByKind(s: RawSnapshot): Record<SiteKind, number> {
  const sums: Record<SiteKind, number> = { malloc: 0, 'mmap-anon': 0, 'mmap-file': 0 };
  const table = s.siteTable;
  if (!table) {
    for (const site of s.sites) sums[site.kind ?? 'malloc'] += site.liveBytes;
    return sums;
  }
  for (let i = 0; i < table.count; i++) sums[table.kind(i)] += table.liveBytes(i);
  return sums;
}

/** One snapshot's point of the timeline. */
export function timelinePointOf(s: RawSnapshot, runStartMs: number, jvmSamples: readonly JvmSample[] = []): TimelinePoint {
  const m = s.mallinfo;
  const timeSec = Number(s.meta.realtimeNs / 1_000_000n) / 1000 - runStartMs / 1000;
  const jvm = /\/libjvm\.so$/m.test(s.maps);
  const live = liveBytesByKind(s);
  return {
    sequence: s.meta.sequence,
    timeSec,
    rssBytes: s.memory.vmRssBytes,
    rssAnonBytes: s.memory.rssAnonBytes,
    rssFileBytes: s.memory.rssFileBytes,
    liveBytes: live.malloc,
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
    shimResidentBytes: s.counters.shimResidentBytes,
    liveMmapAnonBytes: live['mmap-anon'],
    liveMmapFileBytes: live['mmap-file'],
    allocator: allocatorOf(s),
    ...(s.jemalloc ? { jemalloc: s.jemalloc } : {}),
    afterTrim: s.meta.afterTrim,
    jvm,
    ...(jvm && jvmSamples.length > 0 ? jvmFiguresAt(jvmSamples, timeSec) : {}),
  };
}

export function timelineOf(snapshots: readonly RawSnapshot[], runStartMs: number, jvmSamples: readonly JvmSample[] = []): TimelinePoint[] {
  return snapshots.map((s) => timelinePointOf(s, runStartMs, jvmSamples));
}

/**
 * The points trends are drawn through: a trim probe's after-trim snapshot changed the heap on purpose, so it
 * and every snapshot after it are left out (the probe's first snapshot, just before the trim, stays in).
 */
export function beforeTrim<T extends Pick<TimelinePoint, 'afterTrim'>>(timeline: readonly T[]): T[] {
  const trim = timeline.findIndex((p) => p.afterTrim === true);
  return trim < 0 ? [...timeline] : timeline.slice(0, trim);
}

function ratePerHour(times: number[], values: number[]): number {
  return fitLine(times, values, values.map(() => 0)).slope * 3600 || 0;
}

export function memoryGrowth(all: readonly TimelinePoint[]): MemoryGrowth {
  const timeline = beforeTrim(all);
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
