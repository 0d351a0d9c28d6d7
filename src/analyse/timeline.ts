/**
 * The memory timeline of a run: one point per snapshot, from the shim's own figures (RSS, live malloc,
 * glibc's mallinfo2, jemalloc's stats, the shim's own resident memory) and, for a JVM, the Java heap and NMT
 * figures jcmd gave the CLI around the same time.
 */
import type { JvmRanges, JvmSample } from '../rundir/index.js';
import { SiteWord } from '../snapshot/index.js';
import type { JemallocStats, RawSnapshot, SiteKind } from '../snapshot/types.js';
import { residentPartsOf, type ResidentParts } from './resident.js';
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
  // The cross-check of what the shim sees against what the allocator counts (unseen.ts); absent from older timelines.
  /** Upscaled live malloc blocks (all sites). */
  liveObjects?: number;
  /**
   * The allocator's own in-use bytes: glibc mallinfo2 uordblks + hblkhd (chunks, headers included), jemalloc
   * stats.allocated; absent for tcmalloc and other allocators, which report none the shim reads.
   */
  allocatorInUseBytes?: number;
  /**
   * The shim's estimate of those same bytes as the allocator counts them: the live blocks' usable sizes (format 3)
   * plus glibc's 8-byte chunk header per live block (jemalloc: no header); from older snapshots, which lack usable
   * sizes, the requested sizes plus 16 bytes per block (glibc only). Absent where `allocatorInUseBytes` is, and for
   * jemalloc without usable sizes (its size classes round by up to 25%: no approximation is honest).
   */
  shimSeenInUseBytes?: number;
  /** Whether shimSeenInUseBytes came from usable sizes (exact but for sampling) or the approximation. */
  shimSeenFromUsableBytes?: boolean;
  /** Their mmap'd part (the nearest sample's). */
  nmtMmapCategories?: Record<string, number>;
  /** From hsperfdata: metaspace committed (the class space included), the class space's, live Java threads. */
  metaspaceCommittedBytes?: number;
  classSpaceCommittedBytes?: number;
  javaLiveThreads?: number;
  /** RSS by part, from the snapshot's resident memory by mapping (analyse/resident.ts), when it has one. */
  resident?: ResidentParts;
}

/** The allocator in a snapshot's process: jemalloc reports itself; tcmalloc and others are known by their maps. */
export function allocatorOf(snapshot: RawSnapshot): AllocatorKind {
  if (snapshot.jemalloc) return 'jemalloc';
  if (/\/libtcmalloc[\w.-]*\.so/.test(snapshot.maps)) return 'tcmalloc';
  if (/\/lib(jemalloc|mimalloc|hoard|snmalloc|rpmalloc)[\w.-]*\.so/.test(snapshot.maps)) return 'other';
  return snapshot.mallinfo.available ? 'glibc' : 'other';
}

/**
 * JVM figures further than this from a snapshot (and not bracketing it) are not matched to it — or further than the
 * usual gap between two of them, when jcmd could not keep up with the snapshots (each call starts a JVM: seconds on a
 * busy machine), so that the snapshot the JVM writes as it exits still has the figures polled last.
 */
const JVM_MATCH_SEC = 2;

/** The median time between consecutive samples (seconds); 0 with fewer than two. */
function medianGapSec(sorted: readonly JvmSample[]): number {
  const gaps = sorted.slice(1).map((s, i) => (s.timeMs - sorted[i]!.timeMs) / 1000).sort((a, b) => a - b);
  return gaps.length === 0 ? 0 : gaps[Math.floor(gaps.length / 2)]!;
}

type JvmFigures = Pick<TimelinePoint, 'javaHeapUsedBytes' | 'javaHeapCommittedBytes' | 'nmtCommittedBytes' | 'nmtMallocBytes'
  | 'nmtJavaHeapCommittedBytes' | 'nmtCategories' | 'nmtMmapCategories' | 'metaspaceCommittedBytes' | 'classSpaceCommittedBytes' | 'javaLiveThreads'>;

const numericFigures = ['javaHeapUsedBytes', 'javaHeapCommittedBytes', 'nmtCommittedBytes', 'nmtMallocBytes', 'nmtJavaHeapCommittedBytes',
  'metaspaceCommittedBytes', 'classSpaceCommittedBytes', 'javaLiveThreads'] as const;

function figuresOf(sample: JvmSample): JvmFigures {
  const figures: JvmFigures = {};
  if (sample.heapUsedBytes !== undefined) figures.javaHeapUsedBytes = sample.heapUsedBytes;
  if (sample.heapCommittedBytes !== undefined) figures.javaHeapCommittedBytes = sample.heapCommittedBytes;
  if (sample.metaspaceCommittedBytes !== undefined) figures.metaspaceCommittedBytes = sample.metaspaceCommittedBytes;
  if (sample.classSpaceCommittedBytes !== undefined) figures.classSpaceCommittedBytes = sample.classSpaceCommittedBytes;
  if (sample.liveThreads !== undefined) figures.javaLiveThreads = sample.liveThreads;
  if (sample.nmt) {
    figures.nmtCommittedBytes = sample.nmt.committedBytes;
    figures.nmtMallocBytes = sample.nmt.mallocBytes;
    figures.nmtJavaHeapCommittedBytes = sample.nmt.javaHeapCommittedBytes;
    figures.nmtCategories = sample.nmt.categories;
    if (sample.nmt.mmapCategories) figures.nmtMmapCategories = sample.nmt.mmapCategories;
  }
  return figures;
}

/**
 * The JVM figures at `timeSec`: interpolated between the samples either side of it, or the nearest sample when
 * it is within JVM_MATCH_SEC (or the samples' usual gap); nothing when jcmd gave nothing near that time.
 */
export function jvmFiguresAt(samples: readonly JvmSample[], timeSec: number): JvmFigures {
  const sorted = [...samples].sort((a, b) => a.timeMs - b.timeMs);
  const next = sorted.findIndex((s) => s.timeMs / 1000 > timeSec);
  const before = next < 0 ? sorted[sorted.length - 1] : sorted[next - 1];
  const after = next < 0 ? undefined : sorted[next];
  if (!before || !after) {
    const only = before ?? after;
    return only && Math.abs(only.timeMs / 1000 - timeSec) <= Math.max(JVM_MATCH_SEC, medianGapSec(sorted)) ? figuresOf(only) : {};
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
  const mmapCategories = (w < 0.5 ? a : b).nmtMmapCategories ?? a.nmtMmapCategories ?? b.nmtMmapCategories;
  if (mmapCategories) figures.nmtMmapCategories = mmapCategories;
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

/** The live malloc-family blocks of a snapshot: upscaled bytes, usable bytes (0 before format 3) and blocks. */
function liveMallocOf(s: RawSnapshot): { bytes: number; usableBytes: number; objects: number } {
  const total = { bytes: 0, usableBytes: 0, objects: 0 };
  const table = s.siteTable;
  if (!table) {
    for (const site of s.sites) {
      if ((site.kind ?? 'malloc') !== 'malloc') continue;
      total.bytes += site.liveBytes;
      total.usableBytes += site.liveUsableBytes ?? 0;
      total.objects += site.liveObjects;
    }
    return total;
  }
  for (let i = 0; i < table.count; i++) {
    if (table.kind(i) !== 'malloc') continue;
    total.bytes += table.liveBytes(i);
    total.usableBytes += table.float(i, SiteWord.liveUsableBytes);
    total.objects += table.float(i, SiteWord.liveObjects);
  }
  return total;
}

/** glibc's header per in-use heap chunk: its size field (the next chunk's prev_size is the block's own last word). */
const GLIBC_CHUNK_HEADER_BYTES = 8;
/** Before format 3, requested size to chunk: the header and the rounding to 16 bytes, 16 bytes on average. */
const GLIBC_APPROXIMATE_OVERHEAD_BYTES = 16;

/** The cross-check's figures of a snapshot (see TimelinePoint). */
function crossCheckOf(s: RawSnapshot, allocator: AllocatorKind): Pick<TimelinePoint, 'liveObjects' | 'allocatorInUseBytes' | 'shimSeenInUseBytes' | 'shimSeenFromUsableBytes'> {
  const live = liveMallocOf(s);
  // Format 3 gives usable bytes for every live malloc block (at least its requested size): a total of 0 with live
  // bytes means an older snapshot.
  const usable = live.usableBytes > 0 || live.bytes === 0;
  const figures = { liveObjects: live.objects };
  if (allocator === 'jemalloc' && s.jemalloc) {
    return usable
      ? { ...figures, allocatorInUseBytes: s.jemalloc.allocatedBytes, shimSeenInUseBytes: live.usableBytes, shimSeenFromUsableBytes: true }
      : { ...figures, allocatorInUseBytes: s.jemalloc.allocatedBytes };
  }
  if (allocator !== 'glibc' || !s.mallinfo.available) return figures;
  const seen = usable
    ? live.usableBytes + GLIBC_CHUNK_HEADER_BYTES * live.objects
    : live.bytes + GLIBC_APPROXIMATE_OVERHEAD_BYTES * live.objects;
  return {
    ...figures, allocatorInUseBytes: s.mallinfo.uordblks + s.mallinfo.hblkhd, shimSeenInUseBytes: seen, shimSeenFromUsableBytes: usable,
  };
}

/** One snapshot's point of the timeline. */
export function timelinePointOf(s: RawSnapshot, runStartMs: number, jvmSamples: readonly JvmSample[] = [], jvmRanges?: JvmRanges): TimelinePoint {
  const m = s.mallinfo;
  const timeSec = Number(s.meta.realtimeNs / 1_000_000n) / 1000 - runStartMs / 1000;
  const jvm = /\/libjvm\.so$/m.test(s.maps);
  const allocator = allocatorOf(s);
  const live = liveBytesByKind(s);
  const point: TimelinePoint = {
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
    allocator,
    ...(s.jemalloc ? { jemalloc: s.jemalloc } : {}),
    afterTrim: s.meta.afterTrim,
    jvm,
    ...(jvm && jvmSamples.length > 0 ? jvmFiguresAt(jvmSamples, timeSec) : {}),
    ...crossCheckOf(s, allocator),
  };
  if (s.resident) point.resident = residentPartsOfPoint(s, withMetaspaceCarried(point, jvmSamples), jvmRanges);
  return point;
}

/**
 * The point as the resident parts read it: a snapshot past the last JVM sample (the final one, taken as the JVM
 * exits and removes its hsperfdata file) keeps the metaspace's last committed figures — it does not give its pages
 * back — instead of having none, which would move its pages to anon-mmap for that one snapshot.
 */
function withMetaspaceCarried(p: TimelinePoint, samples: readonly JvmSample[]): TimelinePoint {
  if (!p.jvm || p.metaspaceCommittedBytes !== undefined) return p;
  const last = samples.filter((s) => s.timeMs / 1000 <= p.timeSec && s.metaspaceCommittedBytes !== undefined)
    .reduce<JvmSample | undefined>((latest, s) => (!latest || s.timeMs > latest.timeMs ? s : latest), undefined);
  if (!last) return p;
  return {
    ...p, metaspaceCommittedBytes: last.metaspaceCommittedBytes!,
    ...(last.classSpaceCommittedBytes !== undefined ? { classSpaceCommittedBytes: last.classSpaceCommittedBytes } : {}),
  };
}

/** The snapshot's RSS by part, with what the point knows of the allocator and the JVM. */
function residentPartsOfPoint(s: RawSnapshot, p: TimelinePoint, ranges: JvmRanges | undefined): ResidentParts {
  return residentPartsOf(s.resident!, {
    maps: s.maps, allocator: p.allocator ?? 'other', liveBytes: p.liveBytes, jvm: p.jvm === true,
    ...(s.mallinfo.available ? { mallocMmappedBytes: s.mallinfo.hblkhd } : {}),
    ...(s.jemalloc ? { jemallocResidentBytes: s.jemalloc.residentBytes } : {}),
    ...(p.allocatorInUseBytes !== undefined && p.shimSeenInUseBytes !== undefined
      ? { allocatorInUseBytes: p.allocatorInUseBytes, shimSeenInUseBytes: p.shimSeenInUseBytes } : {}),
    ...(p.shimResidentBytes !== undefined ? { shimResidentBytes: p.shimResidentBytes } : {}),
    ...(p.jvm && ranges ? { ranges } : {}),
    ...(p.jvm && p.metaspaceCommittedBytes !== undefined ? { metaspaceCommittedBytes: p.metaspaceCommittedBytes } : {}),
    ...(p.jvm && p.classSpaceCommittedBytes !== undefined ? { classSpaceCommittedBytes: p.classSpaceCommittedBytes } : {}),
    ...(p.nmtMmapCategories ? { nmtMmapCategories: p.nmtMmapCategories } : {}),
  });
}

export function timelineOf(snapshots: readonly RawSnapshot[], runStartMs: number, jvmSamples: readonly JvmSample[] = [], jvmRanges?: JvmRanges): TimelinePoint[] {
  return snapshots.map((s) => timelinePointOf(s, runStartMs, jvmSamples, jvmRanges));
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

/** RSS and live malloc over the trend window: from `fromSec` (the end of the start-up) to before any trim probe. */
export function memoryGrowth(all: readonly TimelinePoint[], fromSec = -Infinity): MemoryGrowth {
  const whole = beforeTrim(all);
  const after = whole.filter((p) => p.timeSec >= fromSec - 1e-9);
  const timeline = after.length >= 2 ? after : whole;
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
