/**
 * Names for code in a JVM's code cache from its perf maps (perfmaps/<pid>/, kept by the launch stage while the
 * JVM ran): a native stack ends at the first frame without unwind information — a JIT-compiled method, a native
 * method's compiled wrapper, the interpreter or a stub, all in anonymous memory. The JVM lists that code as
 * "0xSTART 0xSIZE name" lines; a method as "long java.util.zip.Deflater.init(int, int, boolean)", a stub by
 * its own name ("Interpreter", "I2C/C2I adapters", "new_instance Runtime1 stub").
 *
 * The code cache changes as the JVM runs, so each snapshot is named from the map taken closest in time at or
 * after it (the code its stacks ran was in the cache when it was taken, unless flushed since), else the latest
 * before it; an address that map does not hold is looked up in the others, nearest in time first.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPerfMapCopyName, readPerfMapsIndex } from '../rundir/index.js';
import type { SourceFrame } from './types.js';

export interface PerfMapEntry {
  start: bigint;
  /** Exclusive. */
  end: bigint;
  name: string;
}

const perfMapLine = /^(?:0x)?([0-9a-f]+)\s+(?:0x)?([0-9a-f]+)\s+(.+?)\s*$/i;

/** Parses a perf map; lines that do not parse and empty entries are skipped. The result is sorted by start. */
export function parsePerfMap(text: string): PerfMapEntry[] {
  const entries: PerfMapEntry[] = [];
  for (const line of text.split('\n')) {
    const m = perfMapLine.exec(line);
    if (!m) continue;
    const start = BigInt(`0x${m[1]}`);
    const size = BigInt(`0x${m[2]}`);
    if (size === 0n) continue;
    entries.push({ start, end: start + size, name: m[3]! });
  }
  entries.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  return entries;
}

/** One perf map, indexed: lookup is a binary search, with overlapping entries resolved to the innermost. */
export class PerfMap {
  private readonly entries: PerfMapEntry[];
  /** The largest end among entries[0..i]: how far back an entry containing an address can start. */
  private readonly maxEndUpTo: bigint[];

  constructor(entries: readonly PerfMapEntry[]) {
    this.entries = [...entries].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.maxEndUpTo = [];
    let maxEnd = 0n;
    for (const e of this.entries) {
      if (e.end > maxEnd) maxEnd = e.end;
      this.maxEndUpTo.push(maxEnd);
    }
  }

  static parse(text: string): PerfMap {
    return new PerfMap(parsePerfMap(text));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The entry holding `address` (the smallest, when entries overlap). */
  lookup(address: bigint): PerfMapEntry | undefined {
    let low = 0;
    let high = this.entries.length - 1;
    let last = -1; // the last entry starting at or before the address
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle]!.start <= address) {
        last = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    let found: PerfMapEntry | undefined;
    for (let i = last; i >= 0 && this.maxEndUpTo[i]! > address; i--) {
      const e = this.entries[i]!;
      if (address < e.end && (!found || e.end - e.start < found.end - found.start)) found = e;
    }
    return found;
  }
}

/** A perf map and when it was taken: the first and last time it was seen with this content (ms since the epoch). */
export interface TimedPerfMap {
  firstMs: number;
  lastMs: number;
  /** Read and indexed on first use. */
  map: () => PerfMap;
}

/**
 * The order in which to consult `maps` for code seen at `timeMs`: the map taken closest at or after it (one seen
 * unchanged across `timeMs` counts as at it), else the latest before it; then the others, nearest in time first.
 */
export function perfMapOrder(maps: readonly Pick<TimedPerfMap, 'firstMs' | 'lastMs'>[], timeMs: number): number[] {
  const distance = (i: number): number => {
    const m = maps[i]!;
    if (m.firstMs <= timeMs && timeMs <= m.lastMs) return 0;
    return m.firstMs > timeMs ? m.firstMs - timeMs : timeMs - m.lastMs;
  };
  const indices = maps.map((_, i) => i);
  const atOrAfter = indices.filter((i) => maps[i]!.lastMs >= timeMs).sort((a, b) => distance(a) - distance(b));
  const before = indices.filter((i) => maps[i]!.lastMs < timeMs).sort((a, b) => distance(a) - distance(b));
  const chosen = atOrAfter[0] ?? before[0];
  if (chosen === undefined) return [];
  return [chosen, ...indices.filter((i) => i !== chosen).sort((a, b) => distance(a) - distance(b))];
}

export interface PerfMapHit {
  entry: PerfMapEntry;
  /** The map it came from: 0 for the one chosen for the time, more for a fallback. */
  rank: number;
}

/** The perf maps of one process over its run. */
export class PerfMapSet {
  private readonly maps: TimedPerfMap[];
  private readonly loaded = new Map<number, PerfMap>();

  constructor(maps: readonly TimedPerfMap[]) {
    this.maps = [...maps].sort((a, b) => a.firstMs - b.firstMs);
  }

  get size(): number {
    return this.maps.length;
  }

  private mapAt(index: number): PerfMap {
    let map = this.loaded.get(index);
    if (!map) {
      try {
        map = this.maps[index]!.map();
      } catch {
        map = new PerfMap([]);
      }
      this.loaded.set(index, map);
    }
    return map;
  }

  /** The entry naming `address` as it was at `timeMs` (ms since the epoch). */
  lookup(address: bigint, timeMs: number): PerfMapHit | undefined {
    const order = perfMapOrder(this.maps, timeMs);
    for (let rank = 0; rank < order.length; rank++) {
      const entry = this.mapAt(order[rank]!).lookup(address);
      if (entry) return { entry, rank };
    }
    return undefined;
  }
}

/** What a stub's frame is marked with: it is the JVM's own code, not a Java method. */
export const JVM_STUB_MARK = '[jvm stub]';

/**
 * A perf-map name as a frame: a Java method ("long java.util.zip.Deflater.init(int, int, boolean)",
 * "void demo.Foo$Bar.<init>()") in the report's Java form, "java.util.zip.Deflater.init"; anything else is one
 * of the JVM's stubs, "Interpreter [jvm stub]".
 */
export function perfMapFrame(name: string): SourceFrame {
  // Newer JDKs may append annotations such as "[tier 4]"; they are not part of the name.
  const bare = name.replace(/(\s+\[[^\]]*\])+$/, '').trim();
  const method = /^(?:\S+\s+)?([^\s(]+\.[^\s(.]+)\(([^()]*)\)$/u.exec(bare);
  if (method) return { functionName: method[1]! };
  return { functionName: `${bare} ${JVM_STUB_MARK}` };
}

/** The perf maps kept for one process (perfmaps/<pid>/); undefined when there are none. */
export function readPerfMaps(dir: string): PerfMapSet | undefined {
  const index = readPerfMapsIndex(dir);
  const maps = (index?.maps ?? []).filter((m) => isPerfMapCopyName(m?.file) && typeof m.timeMs === 'number');
  if (!index || maps.length === 0) return undefined;
  return new PerfMapSet(maps.map((m) => ({
    firstMs: index.startedAtMs + m.timeMs,
    lastMs: index.startedAtMs + Math.max(m.timeMs, typeof m.lastTimeMs === 'number' ? m.lastTimeMs : m.timeMs),
    map: () => PerfMap.parse(readFileSync(join(dir, m.file), 'utf8')),
  })));
}
