/**
 * RSS split into parts at one snapshot, from the shim's resident memory by mapping (RESIDENT record: every mapping
 * that holds resident pages, its range, flags and guard) and what the run knows about the ranges in it. Every
 * resident byte of every mapping goes to exactly one part, so the parts are never negative and add up to the RSS
 * smaps counts. In order:
 *
 *   file-mapped       mappings backed by a file (jars, .so, mapped data files, the CDS archive), by path
 *   leakhunt-shim     the shim's own library and its tables (mincore of its mappings), out of the anonymous rest
 *   java-heap         anonymous pages inside the Java heap's reserved range (jcmd GC.heap_info), or ZGC's
 *                     memfd:java_heap mappings
 *   jvm-code-cache    inside the code heaps' bounds (jcmd Compiler.codecache)
 *   jvm-metaspace     the metaspace, class space included, whose ranges no cheap JVM interface gives: its committed
 *                     size from hsperfdata (committed on demand as classes load, so nearly all resident), taken out of
 *                     the anonymous rest (inside the class space's range when a jcmd VM.info gave it)
 *   thread-stacks     [stack], and every anonymous read-write mapping right above an inaccessible guard of at most
 *                     MAX_GUARD_BYTES (how glibc and the JVM lay out a thread's stack), outside the ranges above
 *   malloc's heap     glibc: [heap], the arenas' heaps (a read-write mapping on a 64 MiB boundary whose reserved rest
 *                     above it makes 64 MiB), and its mmapped chunks (at most mallinfo2's hblkhd, taken last out of
 *                     the anonymous rest: each is a mapping of its own, unlabelled, and may not be touched yet);
 *                     jemalloc: stats.resident, taken last out of the anonymous rest. Split into
 *       live-malloc         the shim's upscaled live bytes (at most the heap),
 *       unseen-malloc       what the allocator counts in use beyond what the shim saw (when the timeline has both),
 *       allocator-retained  the rest: free memory the allocator keeps, and its per-block overhead.
 *                     tcmalloc and other allocators say nothing the shim reads: live malloc is taken out of the
 *                     anonymous rest, and what they keep free stays in anon-mmap (noted).
 *   jvm-internal      with NMT: the mmap'd committed memory of NMT's categories not placed otherwise (GC structures,
 *                     Internal, Other, …) out of the anonymous rest, before malloc's mmapped chunks (and the card
 *                     table and marking bitmaps by their ranges when a jcmd VM.info gave them)
 *   anon-mmap         the anonymous rest: mmap'd memory outside all of the above (the shim's mmap sites are here)
 *
 * The figures taken out of the anonymous rest (not placed by range) draw first on the mappings of the right shape: the
 * metaspace and NMT's categories on memory committed inside a reservation, malloc's and the shim's on plain mappings.
 */
import type { AddressRange, JvmRanges } from '../rundir/index.js';
import { ResidentFlag, type ResidentMemory, type ResidentMapping } from '../snapshot/index.js';

export type ResidentPart = 'live-malloc' | 'allocator-retained' | 'unseen-malloc' | 'java-heap' | 'jvm-code-cache' | 'jvm-metaspace'
  | 'thread-stacks' | 'file-mapped' | 'anon-mmap' | 'leakhunt-shim' | 'jvm-internal';

export interface ResidentParts {
  /** Resident bytes per part; they add up to totalBytes. */
  parts: Partial<Record<ResidentPart, number>>;
  /** Σ Rss of every mapping (smaps). */
  totalBytes: number;
  /** VmRSS read right before and right after the mappings: what totalBytes is checked against. */
  statusRssBytes?: [number, number];
  /** File-backed resident bytes by path, the largest first (at most MAX_FILES, the rest as "other files"). */
  files: { path: string; bytes: number }[];
  /** Mappings counted as thread stacks. */
  threadStacks: number;
  /** The CPU the shim spent reading smaps for this snapshot, ms. */
  readCostMs: number;
}

/** Inputs beyond the mappings. */
export interface ResidentContext {
  /** /proc/<pid>/maps text at the same snapshot: the paths of file-backed mappings. */
  maps: string;
  allocator: 'glibc' | 'jemalloc' | 'tcmalloc' | 'other';
  /** glibc: mallinfo2 hblkhd, bytes in mmapped chunks. */
  mallocMmappedBytes?: number;
  /** jemalloc: stats.resident. */
  jemallocResidentBytes?: number;
  liveBytes: number;
  /** The allocator's own in-use bytes, and the shim's estimate of the same (both or neither): unseen-malloc. */
  allocatorInUseBytes?: number;
  shimSeenInUseBytes?: number;
  shimResidentBytes?: number;
  jvm: boolean;
  ranges?: Omit<JvmRanges, 'timeMs'>;
  /** hsperfdata: metaspace committed (class space included) and the class space's committed bytes. */
  metaspaceCommittedBytes?: number;
  classSpaceCommittedBytes?: number;
  /** NMT's mmap'd committed bytes per category (--nmt). */
  nmtMmapCategories?: Record<string, number>;
}

/** A thread's guard pages: glibc's one page, HotSpot's red, yellow and reserved zones (16 KiB on x86-64). Metaspace's
 * uncommitted holes are whole commit granules (64 KiB), so they are not taken for guards. */
export const MAX_GUARD_BYTES = 60 * 1024;
/** glibc's arena heaps are mmap'd on multiples of HEAP_MAX_SIZE (64 MiB on 64-bit). */
const ARENA_ALIGNMENT = 64 * 1024 * 1024;
export const MAX_FILES = 5;
/** NMT categories whose memory is placed by range or by other parts already. */
const NMT_PLACED = new Set(['Java Heap', 'Class', 'Metaspace', 'Thread', 'Thread Stack', 'Code', 'Shared class space', 'Native Memory Tracking']);

const pathCache = { maps: '', byStart: new Map<number, string>() };

/** The path of each mapping of `maps` text that has one, by start address. */
function pathsByStart(maps: string): Map<number, string> {
  if (pathCache.maps === maps) return pathCache.byStart;
  const byStart = new Map<number, string>();
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-[0-9a-f]+ \S+ \S+ \S+ \d+\s+(.+)$/.exec(line);
    if (m) byStart.set(Number.parseInt(m[1]!, 16), m[2]!);
  }
  pathCache.maps = maps;
  pathCache.byStart = byStart;
  return byStart;
}

/** The part of `m`'s resident bytes inside `ranges`, by the share of its length they cover (a mapping straddles a
 * range's end only when the kernel merged it with a neighbour of the same kind). */
function residentInside(m: ResidentMapping, ranges: readonly AddressRange[] | undefined): number {
  if (!ranges) return 0;
  let overlap = 0;
  for (const r of ranges) overlap += Math.max(0, Math.min(m.end, r.end) - Math.max(m.start, r.start));
  return overlap === 0 ? 0 : Math.round((m.rssBytes * Math.min(overlap, m.end - m.start)) / (m.end - m.start));
}

/**
 * The anonymous rest in two pools, by shape: `reserving` is memory committed piecemeal inside a larger reservation (an
 * inaccessible mapping right above it, or a large one below) — how the JVM lays out its metaspace, GC structures and
 * other reserved spaces, and never how glibc maps a large block; `plain` is the rest. Each taker says which pool it
 * draws on first, so malloc's mmapped chunks are not taken out of the JVM's reservations while plain memory is left.
 */
type Pool = 'plain' | 'reserving';

class Buckets {
  readonly parts: Partial<Record<ResidentPart, number>> = {};
  /** Anonymous bytes no range or shape claimed, by pool. */
  readonly anonymous: Record<Pool, number> = { plain: 0, reserving: 0 };
  add(part: ResidentPart, bytes: number): void {
    if (bytes > 0) this.parts[part] = (this.parts[part] ?? 0) + bytes;
  }
  get anonymousBytes(): number {
    return this.anonymous.plain + this.anonymous.reserving;
  }
  /** Takes up to `bytes` out of the anonymous rest, from the `first` pool before the other; returns what it took. */
  takeAnonymous(bytes: number | undefined, first: Pool): number {
    let want = Math.max(0, bytes ?? 0);
    let taken = 0;
    for (const pool of first === 'plain' ? (['plain', 'reserving'] as const) : (['reserving', 'plain'] as const)) {
      const take = Math.min(want, this.anonymous[pool]);
      this.anonymous[pool] -= take;
      want -= take;
      taken += take;
    }
    return taken;
  }
  /** Moves up to `bytes` of the anonymous rest to `part`. */
  fromAnonymous(part: ResidentPart, bytes: number | undefined, first: Pool): void {
    this.add(part, this.takeAnonymous(bytes, first));
  }
}

/** Whether an anonymous mapping is committed inside a reservation (see Pool). */
function reserving(m: ResidentMapping): boolean {
  return m.reservedAboveBytes > 0 || m.guardBelowBytes > MAX_GUARD_BYTES;
}

const ANY_ACCESS = ResidentFlag.read | ResidentFlag.write | ResidentFlag.exec;

/** What an anonymous mapping outside the JVM's ranges is, by its name or shape. */
function shapeOf(m: ResidentMapping, path: string | undefined, allocator: ResidentContext['allocator']): 'thread-stack' | 'malloc' | 'other' {
  const readWrite = (m.flags & ANY_ACCESS) === (ResidentFlag.read | ResidentFlag.write);
  if ((m.flags & ResidentFlag.stack) || (path !== undefined && /pthread stack|thread stack/i.test(path))) return 'thread-stack';
  if ((m.flags & ResidentFlag.heap) || (path !== undefined && /malloc/i.test(path))) return 'malloc';
  if (allocator === 'glibc' && readWrite && m.start % ARENA_ALIGNMENT === 0 && m.end - m.start + m.reservedAboveBytes === ARENA_ALIGNMENT) return 'malloc';
  if (readWrite && m.guardBelowBytes > 0 && m.guardBelowBytes <= MAX_GUARD_BYTES) return 'thread-stack';
  return 'other';
}

/** Where one anonymous mapping's pages go: the JVM's ranges first, then its shape. */
function placeAnonymous(m: ResidentMapping, path: string | undefined, c: ResidentContext, b: Buckets, malloc: { heapBytes: number }): 'thread-stack' | 'other' {
  let left = m.rssBytes;
  const ranges = c.ranges;
  for (const [part, list] of [['java-heap', ranges?.javaHeap], ['jvm-code-cache', ranges?.codeCache],
    ['jvm-metaspace', ranges?.classSpace ? [ranges.classSpace] : undefined], ['jvm-internal', ranges?.gcStructures]] as const) {
    const inside = Math.min(left, residentInside(m, list));
    b.add(part, inside);
    left -= inside;
  }
  const shape = left < m.rssBytes ? 'other' : shapeOf(m, path, c.allocator);
  if (shape === 'thread-stack') b.add('thread-stacks', left);
  else if (shape === 'malloc') malloc.heapBytes += left;
  else b.anonymous[reserving(m) ? 'reserving' : 'plain'] += left;
  return shape === 'thread-stack' ? 'thread-stack' : 'other';
}

/** The path under which the files after the largest MAX_FILES are summed. */
export const OTHER_FILES = 'other files';

/** The top MAX_FILES paths, and the rest as one line. */
function topFiles(byPath: Map<string, number>): ResidentParts['files'] {
  const sorted = [...byPath].map(([path, bytes]) => ({ path, bytes })).sort((a, x) => x.bytes - a.bytes || a.path.localeCompare(x.path));
  const top = sorted.slice(0, MAX_FILES);
  const rest = sorted.slice(MAX_FILES).reduce((sum, f) => sum + f.bytes, 0);
  return rest > 0 ? [...top, { path: OTHER_FILES, bytes: rest }] : top;
}

/** The malloc heap's resident bytes split into live, unseen and retained. */
function splitMalloc(heapBytes: number, c: ResidentContext, b: Buckets): void {
  const live = Math.min(Math.max(c.liveBytes, 0), heapBytes);
  b.add('live-malloc', live);
  let unseen = 0;
  if (c.allocatorInUseBytes !== undefined && c.shimSeenInUseBytes !== undefined) {
    unseen = Math.min(Math.max(0, c.allocatorInUseBytes - c.shimSeenInUseBytes), heapBytes - live);
    b.add('unseen-malloc', unseen);
  }
  b.add('allocator-retained', heapBytes - live - unseen);
}

export function residentPartsOf(resident: ResidentMemory, c: ResidentContext): ResidentParts {
  // Parts are whole bytes, so that they add up to RSS exactly: the shim's estimates are upscaled, hence fractional.
  c = {
    ...c, liveBytes: Math.round(c.liveBytes),
    ...(c.shimSeenInUseBytes !== undefined ? { shimSeenInUseBytes: Math.round(c.shimSeenInUseBytes) } : {}),
  };
  const b = new Buckets();
  const paths = pathsByStart(c.maps);
  const files = new Map<string, number>();
  const malloc = { heapBytes: 0 };
  let threadStacks = 0;
  let shimLibraryBytes = 0;
  let total = 0;
  for (const m of resident.mappings) {
    total += m.rssBytes;
    const path = paths.get(m.start);
    if (m.flags & ResidentFlag.file) {
      const name = (path ?? '(a file no longer mapped)').replace(/ \(deleted\)$/, '');
      if (/\/libleakhunt\.so$/.test(name)) shimLibraryBytes += m.rssBytes;
      else if (/^\/memfd:java_heap/.test(name)) b.add('java-heap', m.rssBytes);
      else files.set(name, (files.get(name) ?? 0) + m.rssBytes);
      continue;
    }
    if (m.flags & ResidentFlag.special && !(path !== undefined && /^\[anon:/.test(path))) {
      b.anonymous.plain += m.rssBytes; // [vdso], [vvar]: the kernel's pages
      continue;
    }
    if (placeAnonymous(m, path, c, b, malloc) === 'thread-stack') threadStacks++;
  }
  for (const bytes of files.values()) b.add('file-mapped', bytes);
  b.add('leakhunt-shim', shimLibraryBytes);
  // Out of the anonymous rest: the exact figures first, the upper bounds last.
  b.fromAnonymous('leakhunt-shim', c.shimResidentBytes, 'plain');
  if (c.jvm && c.metaspaceCommittedBytes !== undefined) {
    b.fromAnonymous('jvm-metaspace', c.metaspaceCommittedBytes - (c.ranges?.classSpace ? c.classSpaceCommittedBytes ?? 0 : 0), 'reserving');
  }
  if (c.nmtMmapCategories) {
    const unplaced = Object.entries(c.nmtMmapCategories).filter(([name]) => !NMT_PLACED.has(name)).reduce((sum, [, v]) => sum + v, 0);
    b.fromAnonymous('jvm-internal', unplaced - (b.parts['jvm-internal'] ?? 0), 'reserving');
  }
  splitMallocHeap(c, b, malloc.heapBytes);
  b.add('anon-mmap', b.anonymousBytes);
  return { parts: b.parts, totalBytes: total, statusRssBytes: resident.statusRssBytes, files: topFiles(files), threadStacks, readCostMs: Math.round(resident.readCpuNs / 1e4) / 100 };
}

/**
 * The malloc heap: what the mappings gave ([heap], glibc's arenas) plus glibc's mmapped chunks or jemalloc's resident
 * figure out of the anonymous rest; without figures from the allocator, only live malloc is placed.
 */
function splitMallocHeap(c: ResidentContext, b: Buckets, mapped: number): void {
  if (c.allocator === 'glibc') return splitMalloc(mapped + b.takeAnonymous(c.mallocMmappedBytes, 'plain'), c, b);
  if (c.allocator === 'jemalloc') return splitMalloc(mapped + b.takeAnonymous(c.jemallocResidentBytes, 'plain'), c, b);
  // tcmalloc and others: live malloc is in what the mappings gave or in the anonymous rest; what they keep free
  // stays where it is.
  const fromHeap = Math.min(Math.max(c.liveBytes, 0), mapped);
  b.add('live-malloc', fromHeap + b.takeAnonymous(c.liveBytes - fromHeap, 'plain'));
  b.anonymous.plain += mapped - fromHeap;
}

const finiteBytes = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Whether a point's `resident`, as read back from timeline.json, has the shape residentPartsOf gave it. */
export function isResidentParts(value: unknown): value is ResidentParts {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<Record<keyof ResidentParts, unknown>>;
  return typeof r.parts === 'object' && r.parts !== null && !Array.isArray(r.parts) && Object.values(r.parts).every(finiteBytes)
    && finiteBytes(r.totalBytes) && finiteBytes(r.threadStacks) && Array.isArray(r.files)
    && r.files.every((f: unknown) => typeof f === 'object' && f !== null && typeof (f as { path?: unknown }).path === 'string' && finiteBytes((f as { bytes?: unknown }).bytes))
    && (r.statusRssBytes === undefined || (Array.isArray(r.statusRssBytes) && r.statusRssBytes.length === 2 && r.statusRssBytes.every(finiteBytes)));
}
