/**
 * Where did the RSS go? RSS at each snapshot split into what holds it, and the growth of each part from the
 * first to the last snapshot of the trend window (after the start-up climb, before any trim probe), with its
 * least-squares rate per hour:
 *
 *   live-malloc          the shim's upscaled live malloc bytes
 *   allocator-retained   free but not given back to the OS: glibc's arena + mmapped − in use (mallinfo2's
 *                        fordblks), or jemalloc's resident − allocated
 *   java-heap            the Java heap's committed bytes (jcmd GC.heap_info)
 *   jvm-internal         NMT's committed total minus its malloc part (already in live malloc) and the Java heap
 *   leakhunt-shim        the shim's own tables, resident
 *   other                RSS minus all the above: mmap'd memory, thread stacks, code, the allocator's overhead
 *
 * A part appears only when the run measured it at both ends of the window; the parts add up to RSS.
 */
import { fitLine } from './statistics.js';
import { beforeTrim, type TimelinePoint } from './timeline.js';
import { trendOf, type Trend } from './trend.js';

export type AccountingPart = 'live-malloc' | 'allocator-retained' | 'java-heap' | 'jvm-internal' | 'leakhunt-shim' | 'other';

export interface AccountingRow {
  part: AccountingPart;
  startBytes: number;
  endBytes: number;
  growthBytes: number;
  growthBytesPerHour: number;
}

export interface MemoryAccounting {
  /** The trend window: after the start-up climb, up to the last snapshot before a trim probe's after-trim one. */
  fromSec: number;
  toSec: number;
  snapshots: number;
  /** RSS itself over the window. */
  rss: Omit<AccountingRow, 'part'>;
  /** The parts, adding up to RSS. */
  rows: AccountingRow[];
  /** The trend of the total live malloc bytes over the window, with the sampler's noise. */
  liveTrend: Trend;
  /** The median of the live malloc bytes over the window: its level, when it does not grow. */
  liveMedianBytes: number;
  /** The trend of RSS over the window (its own scatter is its only noise). */
  rssTrend: Trend;
  /** Java heap used at both ends of the window, when jcmd gave it. */
  javaHeapUsed?: { startBytes: number; endBytes: number };
  /** NMT categories outside the Java heap, by committed growth over the window, largest first. */
  nmtGrowth?: { category: string; startBytes: number; endBytes: number; growthBytes: number }[];
  /** What the run did not measure, and why ("allocator-retained: …"). */
  missing: string[];
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

/** The measured parts of one point's RSS; `other` is what is left. */
export function partsOf(p: TimelinePoint): Parts {
  const parts: Parts = { 'live-malloc': p.liveBytes };
  if (p.jemalloc) parts['allocator-retained'] = p.jemalloc.residentBytes - p.jemalloc.allocatedBytes;
  else if (p.allocator === 'glibc' || (p.allocator === undefined && p.mallocHeapBytes > 0)) {
    parts['allocator-retained'] = p.mallocHeapBytes + p.mallocMmappedBytes - p.mallocInUseBytes;
  }
  if (p.javaHeapCommittedBytes !== undefined) parts['java-heap'] = p.javaHeapCommittedBytes;
  if (p.nmtCommittedBytes !== undefined && p.nmtMallocBytes !== undefined) {
    parts['jvm-internal'] = p.nmtCommittedBytes - p.nmtMallocBytes - (p.nmtJavaHeapCommittedBytes ?? p.javaHeapCommittedBytes ?? 0);
  }
  if (p.shimResidentBytes !== undefined) parts['leakhunt-shim'] = p.shimResidentBytes;
  let known = 0;
  for (const value of Object.values(parts)) known += value ?? 0;
  parts.other = p.rssBytes - known;
  return parts;
}

const PART_ORDER: AccountingPart[] = ['live-malloc', 'allocator-retained', 'java-heap', 'jvm-internal', 'leakhunt-shim', 'other'];

function rowOf(times: number[], values: number[]): Omit<AccountingRow, 'part'> {
  const start = values[0] ?? 0;
  const end = values[values.length - 1] ?? 0;
  const rate = values.length >= 2 ? fitLine(times, values, values.map(() => 0)).slope * 3600 : 0;
  return { startBytes: start, endBytes: end, growthBytes: end - start, growthBytesPerHour: Number.isFinite(rate) ? rate : 0 };
}

/** The trend window of a timeline: from `fromSec` (the end of the start-up climb) to before any trim probe. */
export function trendWindow(timeline: readonly TimelinePoint[], fromSec = -Infinity): TimelinePoint[] {
  const window = beforeTrim(timeline).filter((p) => p.timeSec >= fromSec);
  // A warm-up that leaves fewer than two points would leave no trend at all: use the whole run then.
  return window.length >= 2 ? window : beforeTrim(timeline);
}

function missingParts(window: readonly TimelinePoint[], known: ReadonlySet<AccountingPart>, jvm: boolean, notes: readonly string[]): string[] {
  const missing: string[] = [];
  const last = window[window.length - 1];
  if (!known.has('allocator-retained') && last) {
    missing.push(last.allocator === 'tcmalloc'
      ? 'allocator-retained: tcmalloc keeps no statistics the shim reads'
      : 'allocator-retained: the allocator is neither glibc nor jemalloc, so what it keeps free is not known');
  }
  if (jvm && !known.has('java-heap')) {
    const why = notes.find((n) => /jcmd/.test(n));
    missing.push(`java-heap: no jcmd GC.heap_info figures${why ? ` (${why})` : ''}`);
  }
  if (jvm && !known.has('jvm-internal')) {
    missing.push(known.has('java-heap') || notes.length === 0
      ? 'jvm-internal: NMT was off (rerun with --nmt)'
      : 'jvm-internal: no NMT figures (rerun with --nmt, and jcmd must work)');
  }
  return missing;
}

export interface AccountingOptions {
  /** Start of the trend window (seconds since the run started); the start-up climb before it is left out. */
  fromSec?: number;
  /** The sampling interval in force, for the live-malloc trend's noise. */
  sampleIntervalBytes: number;
  /** Notes on missing JVM figures (jvm.json), to say why they are missing. */
  jvmNotes?: readonly string[];
}

/** RSS and its parts over the trend window; undefined with fewer than two snapshots. */
export function accountMemory(timeline: readonly TimelinePoint[], options: AccountingOptions): MemoryAccounting | undefined {
  const window = trendWindow(timeline, options.fromSec);
  if (window.length < 2) return undefined;
  const first = window[0]!;
  const last = window[window.length - 1]!;
  const times = window.map((p) => p.timeSec);
  const partsPerPoint = window.map(partsOf);
  const startParts = partsPerPoint[0]!;
  const endParts = partsPerPoint[partsPerPoint.length - 1]!;
  const rows: AccountingRow[] = [];
  const known = new Set<AccountingPart>();
  for (const part of PART_ORDER) {
    if (part === 'other' || startParts[part] === undefined || endParts[part] === undefined) continue;
    const points = partsPerPoint.map((p, i) => [times[i]!, p[part]] as const).filter((x): x is readonly [number, number] => x[1] !== undefined);
    rows.push({ part, ...rowOf(points.map((x) => x[0]), points.map((x) => x[1])) });
    known.add(part);
  }
  // The rest is RSS minus the parts measured at both ends, at the points where all of them were measured, so
  // the rows add up to RSS.
  const complete = window.map((_, i) => i).filter((i) => [...known].every((part) => partsPerPoint[i]![part] !== undefined));
  const otherOf = (i: number) => window[i]!.rssBytes - [...known].reduce((sum, part) => sum + partsPerPoint[i]![part]!, 0);
  rows.push({ part: 'other', ...rowOf(complete.map((i) => times[i]!), complete.map(otherOf)) });
  const jvm = window.some((p) => p.jvm === true);
  const heapUsed = first.javaHeapUsedBytes !== undefined && last.javaHeapUsedBytes !== undefined
    ? { javaHeapUsed: { startBytes: first.javaHeapUsedBytes, endBytes: last.javaHeapUsedBytes } } : {};
  return {
    fromSec: first.timeSec,
    toSec: last.timeSec,
    snapshots: window.length,
    rss: rowOf(times, window.map((p) => p.rssBytes)),
    rows,
    liveTrend: trendOf(times, window.map((p) => p.liveBytes), options.sampleIntervalBytes),
    liveMedianBytes: median(window.map((p) => p.liveBytes)),
    rssTrend: trendOf(times, window.map((p) => p.rssBytes), 0),
    ...heapUsed,
    ...nmtGrowthOf(first, last),
    missing: missingParts(window, known, jvm, options.jvmNotes ?? []),
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
