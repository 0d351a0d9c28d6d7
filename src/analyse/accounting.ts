/**
 * Where did the RSS go? RSS at each snapshot split into the resident parts that hold it (analyse/resident.ts, from
 * the shim's resident memory by mapping), and each part's growth over the trend window (analyse/window.ts: after
 * the start-up, before any trim probe), with its least-squares rate per hour. Every part is resident memory, never
 * negative, and the parts add up to RSS at every snapshot the table is drawn from.
 *
 * Snapshots without resident memory by mapping (a shim from before it, or a snapshot the shim's CPU budget let pass
 * without reading smaps) are left out of the table when others have it. When none has it, the table is what the
 * shim's figures alone can tell — live malloc, what the allocator keeps, the shim — and the rest of RSS as
 * `unaccounted`.
 */
import type { JvmRanges } from '../rundir/index.js';
import { OTHER_FILES, type ResidentPart } from './resident.js';
import { fitLine } from './statistics.js';
import { beforeTrim, type TimelinePoint } from './timeline.js';
import { trendOf, type Trend } from './trend.js';

export type AccountingPart = ResidentPart | 'unaccounted';

/** The order of the table: malloc's parts, the JVM's, the rest. */
export const PART_ORDER: readonly AccountingPart[] = [
  'live-malloc', 'unseen-malloc', 'allocator-retained', 'java-heap', 'jvm-metaspace', 'jvm-code-cache', 'jvm-internal',
  'thread-stacks', 'file-mapped', 'anon-mmap', 'leakhunt-shim', 'unaccounted',
];

export interface AccountingRow {
  part: AccountingPart;
  startBytes: number;
  endBytes: number;
  growthBytes: number;
  growthBytesPerHour: number;
}

/** A mapped file's resident bytes at both ends of the window. */
export interface MappedFileRow {
  path: string;
  startBytes: number;
  endBytes: number;
}

export interface MemoryAccounting {
  /** The trend window: after the start-up, up to the last snapshot before a trim probe's after-trim one. */
  fromSec: number;
  toSec: number;
  snapshots: number;
  /** RSS itself over the window: the parts' sum. */
  rss: Omit<AccountingRow, 'part'>;
  /** The parts, adding up to RSS, in PART_ORDER. */
  rows: AccountingRow[];
  /** The largest mapped files at the end of the window (and what they held at its start). */
  files: MappedFileRow[];
  /** Mappings counted as thread stacks at both ends, and the JVM's live threads when it said. */
  threadStacks?: { start: number; end: number };
  javaThreads?: { start: number; end: number };
  /** The trend of the total live malloc bytes over the window, with the sampler's noise. */
  liveTrend: Trend;
  /** The median of the live malloc bytes over the window: its level, when it does not grow. */
  liveMedianBytes: number;
  /** The trend of RSS over the window (its own scatter is its only noise). */
  rssTrend: Trend;
  /** Java heap used and committed at both ends of the window (the first and last snapshots with the JVM's figures:
   * the final snapshot, taken as the JVM exits, may have none), when the JVM gave them. */
  javaHeapUsed?: { startBytes: number; endBytes: number };
  javaHeapCommitted?: { startBytes: number; endBytes: number };
  /** NMT categories outside the Java heap, by committed growth over the window, largest first. */
  nmtGrowth?: { category: string; startBytes: number; endBytes: number; growthBytes: number }[];
  /** What the run did not measure, and why ("java-heap: …"). */
  missing: string[];
  /** How the table was drawn (snapshots without resident memory by mapping, and why). */
  notes: string[];
  /** The allocator at the end of the window. */
  allocator?: TimelinePoint['allocator'];
  /** The process is a JVM. */
  jvm: boolean;
}

export interface TrimProbe {
  rssBeforeBytes: number;
  rssAfterBytes: number;
  /** RSS given back by malloc_trim(0): before − after (never below 0). */
  releasedBytes: number;
  /** When the probe was taken (seconds since the run started). */
  timeSec: number;
}

type Parts = Partial<Record<AccountingPart, number>>;

/**
 * A point without resident memory by mapping: what the shim's figures tell — live malloc, what the allocator keeps
 * free, the shim — each resident at most what RSS leaves, and the rest `unaccounted`.
 */
function partsWithoutMappings(p: TimelinePoint): Parts {
  let left = Math.max(p.rssBytes, 0);
  const parts: Parts = {};
  const take = (part: AccountingPart, bytes: number | undefined) => {
    const taken = Math.max(0, Math.min(bytes ?? 0, left));
    left -= taken;
    parts[part] = taken;
  };
  take('live-malloc', p.liveBytes);
  if (p.jemalloc) take('allocator-retained', p.jemalloc.residentBytes - p.jemalloc.allocatedBytes);
  else if (p.allocator === 'glibc' || (p.allocator === undefined && p.mallocHeapBytes > 0)) {
    take('allocator-retained', p.mallocHeapBytes + p.mallocMmappedBytes - p.mallocInUseBytes);
  }
  take('leakhunt-shim', p.shimResidentBytes);
  parts.unaccounted = left;
  return parts;
}

/** The parts of one point's RSS: from its resident memory by mapping when it has one. */
export function partsOf(p: TimelinePoint): Parts {
  return p.resident ? { ...p.resident.parts } : partsWithoutMappings(p);
}

/** The RSS the parts of a point add up to. */
function rssOf(p: TimelinePoint): number {
  return p.resident ? p.resident.totalBytes : p.rssBytes;
}

function rowOf(times: readonly number[], values: readonly number[]): Omit<AccountingRow, 'part'> {
  const start = values[0] ?? 0;
  const end = values[values.length - 1] ?? 0;
  const rate = values.length >= 2 ? fitLine(times, values, values.map(() => 0)).slope * 3600 : 0;
  return { startBytes: start, endBytes: end, growthBytes: end - start, growthBytesPerHour: Number.isFinite(rate) ? rate : 0 };
}

/** The trend window of a timeline: from `fromSec` (the end of the start-up) to before any trim probe. */
export function trendWindow(timeline: readonly TimelinePoint[], fromSec = -Infinity): TimelinePoint[] {
  const window = beforeTrim(timeline).filter((p) => p.timeSec >= fromSec - 1e-9);
  // A start that leaves fewer than two points would leave no trend at all: use the whole run then.
  return window.length >= 2 ? window : beforeTrim(timeline);
}

export interface AccountingOptions {
  /** Start of the trend window (seconds since the run started); the start-up before it is left out. */
  fromSec?: number;
  /** The sampling interval in force, for the live-malloc trend's noise. */
  sampleIntervalBytes: number;
  /** Notes on missing JVM figures (jvm.json), to say why they are missing. */
  jvmNotes?: readonly string[];
  /** The JVM's ranges, when jcmd gave them (jvm.json). */
  jvmRanges?: JvmRanges;
}

/** A JVM figure at the first and the last of `points` that have it. */
function endsOf(points: readonly TimelinePoint[], key: 'javaHeapUsedBytes' | 'javaHeapCommittedBytes'): { startBytes: number; endBytes: number } | undefined {
  const having = points.filter((p) => p[key] !== undefined);
  return having.length >= 2 ? { startBytes: having[0]![key]!, endBytes: having[having.length - 1]![key]! } : undefined;
}

function missingParts(points: readonly TimelinePoint[], byMapping: boolean, options: AccountingOptions, jvm: boolean): string[] {
  const missing: string[] = [];
  const last = points[points.length - 1];
  const notes = options.jvmNotes ?? [];
  if (!byMapping) {
    missing.push('resident memory by mapping: the snapshots have none (a shim from before it): the Java heap, thread stacks, mapped files and mmap\'d memory are in unaccounted');
  }
  if (last && last.allocator !== 'glibc' && last.allocator !== 'jemalloc' && last.allocator !== undefined) {
    missing.push(last.allocator === 'tcmalloc'
      ? 'allocator-retained: tcmalloc keeps no statistics the shim reads, so what it keeps free is in anon-mmap'
      : 'allocator-retained: the allocator is neither glibc nor jemalloc, so what it keeps free is not known (it is in anon-mmap)');
  }
  if (jvm && byMapping) {
    const ranges = options.jvmRanges;
    const why = notes.find((n) => /jcmd/.test(n));
    const zgc = points.some((p) => (p.resident?.parts['java-heap'] ?? 0) > 0);
    if (!ranges?.javaHeap && !zgc) missing.push(`java-heap: the heap's range is not known${why ? ` (${why})` : ' (jcmd gave no ranges)'}, so its pages are in anon-mmap`);
    if (!ranges?.codeCache) missing.push('jvm-code-cache: the code heaps\' bounds are not known (jcmd gave no ranges), so their pages are in anon-mmap');
    if (!points.some((p) => p.metaspaceCommittedBytes !== undefined)) {
      missing.push('jvm-metaspace: no hsperfdata figures (-XX:-UsePerfData?), so the metaspace is in anon-mmap');
    }
    if (!points.some((p) => p.nmtMmapCategories !== undefined)) {
      missing.push('jvm-internal: NMT was off (rerun with --nmt): the JVM\'s GC structures and its other mmap\'d memory are in anon-mmap (or in the malloc heap, as far as glibc\'s mmapped chunks take more than the plain anonymous memory)');
    }
  }
  return missing;
}

/** Mapped files at both ends: the largest at the end first (those at the start only, after them). */
function fileRows(first: TimelinePoint, last: TimelinePoint): MappedFileRow[] {
  const start = new Map((first.resident?.files ?? []).map((f) => [f.path, f.bytes]));
  const end = last.resident?.files ?? [];
  const rows = end.map((f) => ({ path: f.path, startBytes: start.get(f.path) ?? 0, endBytes: f.bytes }));
  for (const [path, bytes] of start) if (!end.some((f) => f.path === path) && path !== OTHER_FILES) rows.push({ path, startBytes: bytes, endBytes: 0 });
  return rows;
}

/** RSS and its parts over the trend window; undefined with fewer than two snapshots. */
export function accountMemory(timeline: readonly TimelinePoint[], options: AccountingOptions): MemoryAccounting | undefined {
  const window = trendWindow(timeline, options.fromSec);
  const mapped = window.filter((p) => p.resident !== undefined);
  // With resident memory by mapping at two or more snapshots, the table is drawn from those.
  const byMapping = mapped.length >= 2;
  const points = byMapping ? mapped : window;
  if (points.length < 2) return undefined;
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const times = points.map((p) => p.timeSec);
  const partsPerPoint = points.map(partsOf);
  const rows: AccountingRow[] = [];
  for (const part of PART_ORDER) {
    if (!partsPerPoint.some((p) => (p[part] ?? 0) > 0)) continue;
    rows.push({ part, ...rowOf(times, partsPerPoint.map((p) => p[part] ?? 0)) });
  }
  const jvm = window.some((p) => p.jvm === true);
  const notes: string[] = [];
  if (byMapping && mapped.length < window.length) {
    const cost = Math.max(...mapped.map((p) => p.resident?.readCostMs ?? 0));
    notes.push(`resident memory by mapping was read at ${mapped.length} of the window's ${window.length} snapshots`
      + (cost > 0 ? ` (reading smaps cost up to ${cost.toFixed(1)} ms of CPU, and the shim holds it under 0.25% of a CPU)` : ''));
  }
  const used = endsOf(points, 'javaHeapUsedBytes');
  const committed = endsOf(points, 'javaHeapCommittedBytes');
  const heapUsed = { ...(used ? { javaHeapUsed: used } : {}), ...(committed ? { javaHeapCommitted: committed } : {}) };
  return {
    fromSec: first.timeSec,
    toSec: last.timeSec,
    snapshots: points.length,
    rss: rowOf(times, points.map(rssOf)),
    rows,
    files: byMapping ? fileRows(first, last) : [],
    ...(byMapping ? { threadStacks: { start: first.resident!.threadStacks, end: last.resident!.threadStacks } } : {}),
    ...(first.javaLiveThreads !== undefined && last.javaLiveThreads !== undefined ? { javaThreads: { start: first.javaLiveThreads, end: last.javaLiveThreads } } : {}),
    liveTrend: trendOf(times, points.map((p) => p.liveBytes), options.sampleIntervalBytes),
    liveMedianBytes: median(points.map((p) => p.liveBytes)),
    rssTrend: trendOf(times, points.map(rssOf), 0),
    ...heapUsed,
    ...nmtGrowthOf(first, last),
    missing: missingParts(points, byMapping, options, jvm),
    notes,
    ...(last.allocator ? { allocator: last.allocator } : {}),
    jvm,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function nmtGrowthOf(first: TimelinePoint, last: TimelinePoint): Pick<MemoryAccounting, 'nmtGrowth'> {
  if (!first.nmtCategories || !last.nmtCategories) return {};
  const names = new Set([...Object.keys(first.nmtCategories), ...Object.keys(last.nmtCategories)]);
  names.delete('Java Heap');
  const growth = [...names].map((category) => {
    const startBytes = first.nmtCategories![category] ?? 0;
    const endBytes = last.nmtCategories![category] ?? 0;
    return { category, startBytes, endBytes, growthBytes: endBytes - startBytes };
  }).sort((a, b) => b.growthBytes - a.growthBytes);
  return { nmtGrowth: growth };
}

/** The trim probe's result: RSS in the snapshot just before malloc_trim(0) and in the one right after it. */
export function trimProbeOf(timeline: readonly TimelinePoint[]): TrimProbe | null {
  const index = timeline.findIndex((p) => p.afterTrim === true);
  if (index <= 0) return null;
  const after = timeline[index]!;
  const before = timeline.find((p) => p.sequence === after.sequence - 1) ?? timeline[index - 1]!;
  return {
    rssBeforeBytes: before.rssBytes,
    rssAfterBytes: after.rssBytes,
    releasedBytes: Math.max(0, before.rssBytes - after.rssBytes),
    timeSec: after.timeSec,
  };
}
