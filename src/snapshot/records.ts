/**
 * The records of a raw snapshot (native/FORMAT.md), each read from a Cursor that spans its payload and refuses to
 * read past it. reader.ts puts a snapshot together from them.
 */
import { inputError } from '../core/errors.js';
import { SiteTable, StackStore, StackTable } from './tables.js';
import { SITE_KINDS, type JavaMethod, type MallocInfo, type ProcessMemory, type RawStack, type ResidentMemory, type ShimCounters, type SiteStats, type SnapshotMeta } from './types.js';

export const RecordType = {
  meta: 1, counters: 2, mallinfo: 3, processMemory: 4, maps: 5, stacks: 6, sites: 7, javaMethods: 8, jemalloc: 9, unloaded: 10, resident: 11, end: 0xffff,
} as const;

/** The lengths COUNTERS may have in each version (FORMAT.md): version 3 grew by the unwinder's two counters. */
export function countersPayloadBytes(version: number): readonly number[] {
  return version === 1 ? [128] : version === 2 ? [160] : [160, 176];
}

export const fixedPayloadBytes: Record<number, number> = {
  [RecordType.meta]: 96,
  [RecordType.mallinfo]: 88,
  [RecordType.processMemory]: 48,
  [RecordType.jemalloc]: 48,
  [RecordType.end]: 0,
};
/** A site entry's size: 96 bytes, or in version 3 104 since first_seen_bytes (the record says which). */
function siteEntryBytes(c: Cursor, entryBytes: number, count: number, version: number): number {
  if (entryBytes !== 96 && !(entryBytes === 104 && version >= 3)) throw inputError(c.path, `corrupt snapshot: site entries of ${entryBytes} bytes`);
  c.need(count * entryBytes, 'site table');
  return entryBytes;
}

export class Cursor {
  offset: number;
  constructor(readonly buf: Buffer, readonly path: string, start: number, readonly end: number) {
    this.offset = start;
  }
  need(bytes: number, what: string): void {
    if (this.offset + bytes > this.end) throw inputError(this.path, `corrupt snapshot: ${what} runs past its record`);
  }
  u16(): number { this.need(2, 'u16'); const v = this.buf.readUInt16LE(this.offset); this.offset += 2; return v; }
  u32(): number { this.need(4, 'u32'); const v = this.buf.readUInt32LE(this.offset); this.offset += 4; return v; }
  u64big(): bigint { this.need(8, 'u64'); const v = this.buf.readBigUInt64LE(this.offset); this.offset += 8; return v; }
  i64big(): bigint { this.need(8, 'i64'); const v = this.buf.readBigInt64LE(this.offset); this.offset += 8; return v; }
  /** A u64 that is a count or a byte size: exact below 2^53, which every real value is. */
  u64(): number { return Number(this.u64big()); }
  f64(): number { this.need(8, 'f64'); const v = this.buf.readDoubleLE(this.offset); this.offset += 8; return v; }
}

export function readMeta(c: Cursor): SnapshotMeta {
  const pid = c.u64();
  const sequence = c.u64();
  const realtimeNs = c.i64big();
  const monotonicNs = c.i64big();
  const startRealtimeNs = c.i64big();
  const startMonotonicNs = c.i64big();
  const baseSampleIntervalBytes = c.u64();
  const sampleIntervalBytes = c.u64();
  const isFinal = c.u32() === 1;
  const maxStackDepth = c.u32();
  const flags = c.u64big();
  c.u64big(); // reserved
  c.u64big();
  return {
    pid, sequence, realtimeNs, monotonicNs, startRealtimeNs, startMonotonicNs, baseSampleIntervalBytes,
    sampleIntervalBytes, isFinal, maxStackDepth, recordsEveryAllocation: (flags & 1n) === 1n, afterTrim: (flags & 2n) === 2n,
    agentLoaded: (flags & 4n) === 4n, agentSampling: (flags & 8n) === 8n,
  };
}

/** COUNTERS: 16 words in version 1, 20 in version 2, 20 or 22 in version 3 (`words`, from the record's length). */
export function readCounters(c: Cursor, version: number, words: number): ShimCounters {
  const v = Array.from({ length: words }, () => c.u64());
  return {
    samples: v[0]!, sampledFrees: v[1]!, liveEntries: v[2]!, tableCapacity: v[3]!, tableDrops: v[4]!,
    thinnedEntries: v[5]!, thinningRounds: v[6]!, stackCount: v[7]!, stackCapacity: v[8]!, stackDrops: v[9]!,
    missedFrees: v[10]!, shimMappedBytes: v[11]!, snapshotsWritten: v[12]!, writeErrors: v[13]!,
    javaStacks: version === 1 ? 0 : v[14]!, javaStackFailures: version === 1 ? 0 : v[15]!,
    shimResidentBytes: version === 1 ? 0 : v[16]!, javaMethods: version === 1 ? 0 : v[17]!,
    trackedMappings: version >= 3 ? v[18]! : 0, mappingDrops: version >= 3 ? v[19]! : 0,
    fastUnwinds: v[20] ?? 0, unwindMismatches: v[21] ?? 0,
  };
}

export function readMallinfo(c: Cursor): MallocInfo {
  const available = c.u64() === 1;
  const v = Array.from({ length: 10 }, () => c.u64());
  return {
    available, arena: v[0]!, ordblks: v[1]!, smblks: v[2]!, hblks: v[3]!, hblkhd: v[4]!, usmblks: v[5]!,
    fsmblks: v[6]!, uordblks: v[7]!, fordblks: v[8]!, keepcost: v[9]!,
  };
}

export function readProcessMemory(c: Cursor): ProcessMemory {
  return {
    vmSizeBytes: c.u64(), vmRssBytes: c.u64(), rssAnonBytes: c.u64(), rssFileBytes: c.u64(),
    rssShmemBytes: c.u64(), vmHwmBytes: c.u64(),
  };
}

function readStack(c: Cursor): RawStack {
  const id = c.u32();
  const nativeDepth = c.u16();
  const javaDepth = c.u16();
  const pcs: bigint[] = [];
  for (let k = 0; k < nativeDepth; k++) pcs.push(c.u64big());
  const javaFrames = [];
  for (let k = 0; k < javaDepth; k++) {
    const methodId = c.u64big();
    c.need(8, 'java frame');
    const bci = c.buf.readInt32LE(c.offset);
    c.offset += 8;
    javaFrames.push({ methodId, bci });
  }
  return { id, pcs, javaFrames };
}

export function readStacks(c: Cursor): Map<number, RawStack> {
  const count = c.u32();
  const stacks = new Map<number, RawStack>();
  for (let i = 0; i < count; i++) {
    const stack = readStack(c);
    if (stacks.has(stack.id)) throw inputError(c.path, `corrupt snapshot: stack ${stack.id} appears twice`);
    stacks.set(stack.id, stack);
  }
  return stacks;
}

/** What a snapshot's stack table was read into, for the next snapshot of the same process to share. */
export interface SharedStacks {
  store: StackStore;
  /** How many of the store's stacks that snapshot had. */
  count: number;
  /** The process image that wrote it: pid and the shim's start (META), e.g. "4242:98765432100". */
  image: string;
  /** The length of its STACKS entries (after the count). */
  length: number;
  /** Those entries as they were on disk, when they were read (see `trustedPrefix` of parseSnapshotShared). */
  bytes?: Buffer;
}

/** The process image a snapshot comes from: its stack table only ever grows while that image runs. */
export function processImageOf(meta: Pick<SnapshotMeta, 'pid' | 'startMonotonicNs'>): string {
  return `${meta.pid}:${meta.startMonotonicNs}`;
}

/**
 * STACKS into a table that shares the previous snapshot's stacks when its entries begin with exactly the bytes of
 * the previous snapshot's entries (the shim's table only grows); otherwise into a store of its own. With `trusted`,
 * the previous snapshot's entries were not read again (they are the same: the same process image wrote both).
 */
export function readStacksShared(
  c: Cursor, previous: SharedStacks | undefined, trusted: boolean,
): { table: StackTable; store: StackStore; count: number; start: number } {
  const count = c.u32();
  const start = c.offset;
  const known = previous?.length ?? 0;
  let store: StackStore;
  let first = 0;
  if (previous && previous.count <= count && start + known <= c.end
    && (trusted || previous.bytes?.equals(c.buf.subarray(start, start + known)))) {
    store = previous.store;
    first = previous.count;
    // Tables of earlier snapshots never reach past `first`: what a snapshot that failed to read left there is dropped.
    store.stacks.length = first;
    c.offset = start + known;
  } else {
    store = new StackStore();
  }
  for (let i = first; i < count; i++) {
    const stack = readStack(c);
    const position = store.positions.get(stack.id);
    if (position !== undefined && position < i && store.stacks[position]?.id === stack.id) throw inputError(c.path, `corrupt snapshot: stack ${stack.id} appears twice`);
    store.positions.set(stack.id, i);
    store.stacks[i] = stack;
  }
  return { table: new StackTable(store, count), store, count, start };
}

/** A site entry's kind (the u32 at offset 4): 0 in files before version 3, where it was reserved. */
export function siteKindAt(c: Pick<Cursor, 'path'>, value: number, version: number): SiteStats['kind'] {
  const kind = SITE_KINDS[value];
  if (kind === undefined || (version < 3 && value !== 0)) throw inputError(c.path, `corrupt snapshot: a site of unknown kind ${value}`);
  return kind;
}

export function readSites(c: Cursor, version: number): SiteStats[] {
  const count = c.u32();
  const entryBytes = siteEntryBytes(c, c.u32(), count, version);
  const sites: SiteStats[] = [];
  for (let i = 0; i < count; i++) {
    const stackId = c.u32();
    const kind = siteKindAt(c, c.u32(), version);
    const site: SiteStats = {
      stackId, kind, liveSamples: c.u64(), liveSampledBytes: c.u64(), liveObjects: c.f64(), liveBytes: c.f64(),
      allocSamples: c.u64(), allocObjects: c.f64(), allocBytes: c.f64(), oldestLiveMs: c.u64(),
      newestLiveMs: c.u64(), meanLiveMs: c.f64(),
    };
    const usable = c.f64();
    if (version >= 3) site.liveUsableBytes = usable;
    if (entryBytes > 96) site.firstSeenBytes = c.f64();
    sites.push(site);
  }
  return sites;
}

/** SITES read in place: the table refers to `c.buf` (see SiteTable); every entry's kind checked. */
export function readSiteTable(c: Cursor, version: number): SiteTable {
  const count = c.u32();
  const entryBytes = siteEntryBytes(c, c.u32(), count, version);
  for (let i = 0; i < count; i++) {
    const kind = c.buf.readUInt32LE(c.offset + i * entryBytes + 4);
    if (kind !== 0) siteKindAt(c, kind, version);
  }
  const table = new SiteTable(count, c.buf.subarray(c.offset, c.offset + count * entryBytes), version, entryBytes / 8);
  c.offset += count * entryBytes;
  return table;
}

const RESIDENT_ENTRY_BYTES = 40;

/** RESIDENT: undefined when the shim could not read smaps (flag bit 0). */
export function readResident(c: Cursor): ResidentMemory | undefined {
  const readCpuNs = c.u64();
  const threadCpuNs = c.u64();
  const totalRssBytes = c.u64();
  const mappingCount = c.u32();
  const count = c.u32();
  const entryBytes = c.u32();
  const flags = c.u32();
  const statusRssBeforeBytes = c.u64();
  const statusRssAfterBytes = c.u64();
  if (entryBytes !== RESIDENT_ENTRY_BYTES) throw inputError(c.path, `corrupt snapshot: resident entries of ${entryBytes} bytes`);
  c.need(count * RESIDENT_ENTRY_BYTES, 'resident mappings');
  const mappings = [];
  let previousEnd = 0;
  for (let i = 0; i < count; i++) {
    const mapping = { start: c.u64(), end: c.u64(), rssBytes: c.u64(), flags: c.u32(), guardBelowBytes: c.u32(), reservedAboveBytes: c.u32() };
    c.u32();
    if (mapping.end <= mapping.start || mapping.start < previousEnd) throw inputError(c.path, 'corrupt snapshot: resident mappings out of order');
    previousEnd = mapping.end;
    mappings.push(mapping);
  }
  return (flags & 1) === 1 ? undefined : { readCpuNs, threadCpuNs, totalRssBytes, statusRssBytes: [statusRssBeforeBytes, statusRssAfterBytes] as [number, number], mappingCount, mappings };
}

export function readJavaMethods(c: Cursor): Map<bigint, JavaMethod> {
  const count = c.u32();
  const methods = new Map<bigint, JavaMethod>();
  for (let i = 0; i < count; i++) {
    const methodId = c.u64big();
    const classBytes = c.u16();
    const nameBytes = c.u16();
    const sourceBytes = c.u16();
    c.u16();
    const lineCount = c.u32();
    const text = (bytes: number) => {
      c.need(bytes, 'java method name');
      const value = c.buf.toString('utf8', c.offset, c.offset + bytes);
      c.offset += bytes;
      return value;
    };
    const classSignature = text(classBytes);
    const name = text(nameBytes);
    const sourceFile = text(sourceBytes);
    c.need(lineCount * 8, 'line number table');
    const lines: [number, number][] = [];
    for (let k = 0; k < lineCount; k++) lines.push([c.u32(), c.u32()]);
    methods.set(methodId, { methodId, classSignature, name, sourceFile, lines });
  }
  return methods;
}
