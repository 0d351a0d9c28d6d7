/**
 * Reads and validates raw snapshot files (native/FORMAT.md). Anything unexpected is rejected with one
 * LeakhuntError line naming the file and what is wrong: a reader that guesses produces wrong reports.
 */
import { readFileSync } from 'node:fs';
import { inputError } from '../core/errors.js';
import { SiteTable, StackStore, StackTable } from './tables.js';
import type {
  JavaMethod, MallocInfo, ProcessMemory, RawSnapshot, RawStack, ShimCounters, SiteStats, SnapshotMeta,
} from './types.js';

export const SNAPSHOT_MAGIC = 'LKHUNT\r\n';
export const SNAPSHOT_VERSION = 2;
/** Versions this reader understands: 1 had no Java frames. */
export const SUPPORTED_SNAPSHOT_VERSIONS = [1, 2];

const RecordType = {
  meta: 1, counters: 2, mallinfo: 3, processMemory: 4, maps: 5, stacks: 6, sites: 7, javaMethods: 8, jemalloc: 9, unloaded: 10, end: 0xffff,
} as const;

const fixedPayloadBytes: Record<number, number> = {
  [RecordType.meta]: 96,
  [RecordType.mallinfo]: 88,
  [RecordType.processMemory]: 48,
  [RecordType.jemalloc]: 48,
  [RecordType.end]: 0,
};
const SITE_ENTRY_BYTES = 96;

class Cursor {
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

function readMeta(c: Cursor): SnapshotMeta {
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

function readCounters(c: Cursor, version: number): ShimCounters {
  const v = Array.from({ length: version === 1 ? 16 : 20 }, () => c.u64());
  return {
    samples: v[0]!, sampledFrees: v[1]!, liveEntries: v[2]!, tableCapacity: v[3]!, tableDrops: v[4]!,
    thinnedEntries: v[5]!, thinningRounds: v[6]!, stackCount: v[7]!, stackCapacity: v[8]!, stackDrops: v[9]!,
    missedFrees: v[10]!, shimMappedBytes: v[11]!, snapshotsWritten: v[12]!, writeErrors: v[13]!,
    javaStacks: version === 1 ? 0 : v[14]!, javaStackFailures: version === 1 ? 0 : v[15]!,
    shimResidentBytes: version === 1 ? 0 : v[16]!, javaMethods: version === 1 ? 0 : v[17]!,
    fastUnwinds: version === 1 ? 0 : v[18]!, unwindMismatches: version === 1 ? 0 : v[19]!,
  };
}

function readMallinfo(c: Cursor): MallocInfo {
  const available = c.u64() === 1;
  const v = Array.from({ length: 10 }, () => c.u64());
  return {
    available, arena: v[0]!, ordblks: v[1]!, smblks: v[2]!, hblks: v[3]!, hblkhd: v[4]!, usmblks: v[5]!,
    fsmblks: v[6]!, uordblks: v[7]!, fordblks: v[8]!, keepcost: v[9]!,
  };
}

function readProcessMemory(c: Cursor): ProcessMemory {
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

function readStacks(c: Cursor): Map<number, RawStack> {
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
function readStacksShared(
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

function readSites(c: Cursor): SiteStats[] {
  const count = c.u32();
  const entryBytes = c.u32();
  if (entryBytes !== SITE_ENTRY_BYTES) throw inputError(c.path, `corrupt snapshot: site entries of ${entryBytes} bytes`);
  c.need(count * SITE_ENTRY_BYTES, 'site table');
  const sites: SiteStats[] = [];
  for (let i = 0; i < count; i++) {
    const stackId = c.u32();
    c.u32();
    sites.push({
      stackId, liveSamples: c.u64(), liveSampledBytes: c.u64(), liveObjects: c.f64(), liveBytes: c.f64(),
      allocSamples: c.u64(), allocObjects: c.f64(), allocBytes: c.f64(), oldestLiveMs: c.u64(),
      newestLiveMs: c.u64(), meanLiveMs: c.f64(),
    });
    c.u64();
  }
  return sites;
}

/** SITES read in place: the table refers to `c.buf` (see SiteTable). */
function readSiteTable(c: Cursor): SiteTable {
  const count = c.u32();
  const entryBytes = c.u32();
  if (entryBytes !== SITE_ENTRY_BYTES) throw inputError(c.path, `corrupt snapshot: site entries of ${entryBytes} bytes`);
  c.need(count * SITE_ENTRY_BYTES, 'site table');
  const table = new SiteTable(count, c.buf.subarray(c.offset, c.offset + count * SITE_ENTRY_BYTES));
  c.offset += count * SITE_ENTRY_BYTES;
  return table;
}

function readJavaMethods(c: Cursor): Map<bigint, JavaMethod> {
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

/** Parses a snapshot held in memory; `path` only names it in errors. */
export function parseSnapshot(buf: Buffer, path: string): RawSnapshot {
  return parse(buf, path, undefined).snapshot;
}

/**
 * Parses the next snapshot of a process whose previous snapshot's stacks were read into `previous` (see
 * SharedStacks): its `stacks` is a StackTable sharing them, its sites a SiteTable reading `buf` in place (`sites`
 * is made from it on first use). Returns what the snapshot after it can share.
 *
 * `trustedPrefix`: the reader left the bytes [start, end) of `buf` unread because they are the previous snapshot's
 * stack entries, which the same process image wrote (the shim's stack table only grows, and a stack's entry never
 * changes). Honoured only when this snapshot's STACKS entries begin exactly there and its META names that image.
 */
export function parseSnapshotShared(
  buf: Buffer, path: string, previous: SharedStacks | undefined, trustedPrefix?: { start: number; end: number },
): { snapshot: RawSnapshot; shared: SharedStacks } {
  const { snapshot, shared } = parse(buf, path, { previous, trustedPrefix });
  return { snapshot, shared: shared! };
}

interface Sharing {
  previous: SharedStacks | undefined;
  trustedPrefix: { start: number; end: number } | undefined;
}

function parse(buf: Buffer, path: string, sharing: Sharing | undefined): { snapshot: RawSnapshot; shared?: SharedStacks } {
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== SNAPSHOT_MAGIC) {
    throw inputError(path, 'not a leakhunt raw snapshot (bad magic)');
  }
  const version = buf.readUInt32LE(8);
  if (!SUPPORTED_SNAPSHOT_VERSIONS.includes(version)) {
    throw inputError(path, `raw snapshot version ${version} is not supported (this leakhunt reads versions ${SUPPORTED_SNAPSHOT_VERSIONS.join(' and ')})`);
  }
  const headerBytes = buf.readUInt32LE(12);
  if (headerBytes !== 16) throw inputError(path, `corrupt snapshot: header of ${headerBytes} bytes`);

  const parts: Partial<Omit<RawSnapshot, 'path'>> = {};
  let stacksRead: ReturnType<typeof readStacksShared> | undefined;
  let stacksEnd = 0;
  let siteTable: SiteTable | undefined;
  const seen = new Set<number>();
  let offset = 16;
  let ended = false;
  while (offset < buf.length) {
    if (offset + 8 > buf.length) throw inputError(path, 'truncated snapshot: a record header is cut off');
    const type = buf.readUInt32LE(offset);
    const length = buf.readUInt32LE(offset + 4);
    const start = offset + 8;
    const end = start + length;
    if (end > buf.length) throw inputError(path, `truncated snapshot: record ${type} runs past the end of the file`);
    if (seen.has(type)) throw inputError(path, `corrupt snapshot: record ${type} appears twice`);
    seen.add(type);
    const fixed = type === RecordType.counters ? (version === 1 ? 128 : 160) : fixedPayloadBytes[type];
    if (fixed !== undefined && fixed !== length) {
      throw inputError(path, `corrupt snapshot: record ${type} has ${length} bytes, expected ${fixed}`);
    }
    const c = new Cursor(buf, path, start, end);
    switch (type) {
      case RecordType.meta: parts.meta = readMeta(c); break;
      case RecordType.counters: parts.counters = readCounters(c, version); break;
      case RecordType.mallinfo: parts.mallinfo = readMallinfo(c); break;
      case RecordType.processMemory: parts.memory = readProcessMemory(c); break;
      case RecordType.maps: parts.maps = buf.toString('utf8', start, end); c.offset = end; break;
      case RecordType.stacks:
        if (sharing) {
          const trusted = sharing.trustedPrefix;
          const image = parts.meta ? processImageOf(parts.meta) : undefined;
          // Trusted only as the reader meant it: META (read before STACKS) names the previous snapshot's image, and
          // the unread bytes are exactly where this table's entries begin, as long as the previous one's.
          const trust = trusted !== undefined && sharing.previous !== undefined && image === sharing.previous.image
            && trusted.start === start + 4 && trusted.end === trusted.start + sharing.previous.length;
          if (trusted && !trust) throw inputError(path, 'internal error: a stack table was left unread where it could not be trusted');
          stacksRead = readStacksShared(c, sharing.previous, trust);
          parts.stacks = stacksRead.table;
          stacksEnd = c.offset;
        } else {
          parts.stacks = readStacks(c);
        }
        break;
      case RecordType.sites:
        if (sharing) siteTable = readSiteTable(c);
        else parts.sites = readSites(c);
        break;
      case RecordType.jemalloc:
        if (version < 2) throw inputError(path, `raw snapshot version ${version} has an unknown record type ${type}`);
        parts.jemalloc = {
          allocatedBytes: c.u64(), activeBytes: c.u64(), residentBytes: c.u64(), mappedBytes: c.u64(),
          retainedBytes: c.u64(), metadataBytes: c.u64(),
        };
        break;
      case RecordType.unloaded:
        if (version < 2) throw inputError(path, `raw snapshot version ${version} has an unknown record type ${type}`);
        parts.unloadedMaps = buf.toString('utf8', start, end);
        c.offset = end;
        break;
      case RecordType.javaMethods:
        if (version < 2) throw inputError(path, `raw snapshot version ${version} has an unknown record type ${type}`);
        parts.javaMethods = readJavaMethods(c);
        break;
      case RecordType.end: ended = true; break;
      default: throw inputError(path, `raw snapshot has an unknown record type ${type}`);
    }
    if (c.offset !== end) throw inputError(path, `corrupt snapshot: record ${type} has ${end - c.offset} stray bytes`);
    offset = end;
    if (ended) break;
  }
  if (!ended) throw inputError(path, 'truncated snapshot: no END record');
  if (offset !== buf.length) throw inputError(path, 'corrupt snapshot: data after the END record');
  const { meta, counters, mallinfo, memory, maps, stacks, sites } = parts;
  if (!meta || !counters || !mallinfo || !memory || maps === undefined || !stacks || (!sites && !siteTable)) {
    throw inputError(path, 'corrupt snapshot: a required record is missing');
  }
  if (sites) {
    for (const site of sites) {
      if (!stacks.has(site.stackId)) throw inputError(path, `corrupt snapshot: site refers to unknown stack ${site.stackId}`);
    }
  } else {
    const table = stacks instanceof StackTable ? stacks : undefined;
    const inOrder = table?.store.stacks;
    let ordered = inOrder !== undefined && siteTable!.count <= table!.size;
    for (let i = 0; i < siteTable!.count; i++) {
      const stackId = siteTable!.stackId(i);
      // Sites come in the order of their stacks, as the shim writes them: no lookup for those.
      if (ordered && inOrder![i]!.id === stackId) continue;
      ordered = false;
      if (!stacks.has(stackId)) throw inputError(path, `corrupt snapshot: site refers to unknown stack ${stackId}`);
    }
    siteTable!.inStackOrder = ordered;
  }
  const snapshot: RawSnapshot = {
    path, meta, counters, mallinfo, memory, maps, stacks, sites: sites ?? [], javaMethods: parts.javaMethods ?? new Map(),
    unloadedMaps: parts.unloadedMaps ?? '',
    ...(parts.jemalloc ? { jemalloc: parts.jemalloc } : {}),
  };
  let shared: SharedStacks | undefined;
  if (stacksRead) {
    const { store, count, start } = stacksRead;
    // What was not read cannot be compared with: a snapshot after a trusted one shares its stacks only on trust.
    const bytesRead = !sharing?.trustedPrefix;
    shared = { store, count, image: processImageOf(meta), length: stacksEnd - start, ...(bytesRead ? { bytes: buf.subarray(start, stacksEnd) } : {}) };
  }
  if (siteTable) {
    const table = siteTable;
    let materialized: SiteStats[] | undefined;
    snapshot.siteTable = table;
    Object.defineProperty(snapshot, 'sites', {
      enumerable: true, configurable: true, get: () => (materialized ??= table.toSites()),
      set: (value: SiteStats[]) => { materialized = value; },
    });
  }
  return { snapshot, ...(shared ? { shared } : {}) };
}

export function readSnapshotFile(path: string): RawSnapshot {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw inputError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseSnapshot(buf, path);
}
