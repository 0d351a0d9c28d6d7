/**
 * Reads and validates raw snapshot files (native/FORMAT.md). Anything unexpected is rejected with one
 * LeakhuntError line naming the file and what is wrong: a reader that guesses produces wrong reports.
 */
import { readFileSync } from 'node:fs';
import { inputError } from '../core/errors.js';
import {
  countersPayloadBytes, Cursor, fixedPayloadBytes, processImageOf, readCounters, readJavaMethods, readMallinfo, readMeta, readProcessMemory, readSites,
  readResident, readSiteTable, readStacks, readStacksShared, RecordType, type SharedStacks,
} from './records.js';
import { StackTable, type SiteTable } from './tables.js';
import type { RawSnapshot, SiteStats } from './types.js';

export { processImageOf, type SharedStacks } from './records.js';

export const SNAPSHOT_MAGIC = 'LKHUNT\r\n';
export const SNAPSHOT_VERSION = 3;
/** Versions this reader understands: 1 had no Java frames, 1 and 2 no site kinds (every site malloc) nor usable bytes. */
export const SUPPORTED_SNAPSHOT_VERSIONS = [1, 2, 3];

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
  const version = readHeader(buf, path);
  const records = readRecords(buf, path, version, sharing);
  const { meta, counters, mallinfo, memory, maps, stacks, sites } = records.parts;
  if (!meta || !counters || !mallinfo || !memory || maps === undefined || !stacks || (!sites && !records.siteTable)) {
    throw inputError(path, 'corrupt snapshot: a required record is missing');
  }
  if (sites) checkSiteStacks(path, stacks, sites);
  else checkSiteTableStacks(path, stacks, records.siteTable!);
  const snapshot: RawSnapshot = {
    path, meta, counters, mallinfo, memory, maps, stacks, sites: sites ?? [], javaMethods: records.parts.javaMethods ?? new Map(),
    unloadedMaps: records.parts.unloadedMaps ?? '',
    ...(records.parts.jemalloc ? { jemalloc: records.parts.jemalloc } : {}),
    ...(records.parts.resident ? { resident: records.parts.resident } : {}),
  };
  let shared: SharedStacks | undefined;
  if (records.stacksRead) {
    const { store, count, start } = records.stacksRead;
    // What was not read cannot be compared with: a snapshot after a trusted one shares its stacks only on trust.
    const bytesRead = !sharing?.trustedPrefix;
    shared = {
      store, count, image: processImageOf(meta), length: records.stacksEnd - start,
      ...(bytesRead ? { bytes: buf.subarray(start, records.stacksEnd) } : {}),
    };
  }
  if (records.siteTable) attachSiteTable(snapshot, records.siteTable);
  return { snapshot, ...(shared ? { shared } : {}) };
}

/** The 16-byte header: magic, a version this reader knows, the header's size. Returns the version. */
function readHeader(buf: Buffer, path: string): number {
  if (buf.length < 16 || buf.toString('latin1', 0, 8) !== SNAPSHOT_MAGIC) {
    throw inputError(path, 'not a leakhunt raw snapshot (bad magic)');
  }
  const version = buf.readUInt32LE(8);
  if (!SUPPORTED_SNAPSHOT_VERSIONS.includes(version)) {
    throw inputError(path, `raw snapshot version ${version} is not supported (this leakhunt reads versions ${SUPPORTED_SNAPSHOT_VERSIONS.slice(0, -1).join(', ')} and ${SUPPORTED_SNAPSHOT_VERSIONS.at(-1)})`);
  }
  const headerBytes = buf.readUInt32LE(12);
  if (headerBytes !== 16) throw inputError(path, `corrupt snapshot: header of ${headerBytes} bytes`);
  return version;
}

/** What the records of one snapshot gave. */
interface Records {
  parts: Partial<Omit<RawSnapshot, 'path'>>;
  /** With sharing: the STACKS record read into a shared store, and where it ended. */
  stacksRead?: ReturnType<typeof readStacksShared>;
  stacksEnd: number;
  /** With sharing: SITES read in place. */
  siteTable?: SiteTable;
}

/** Every record up to END, each once, each of its stated length; nothing after END. */
function readRecords(buf: Buffer, path: string, version: number, sharing: Sharing | undefined): Records {
  const records: Records = { parts: {}, stacksEnd: 0 };
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
    const fixed = type === RecordType.counters ? countersPayloadBytes(version) : [fixedPayloadBytes[type]];
    if (fixed[0] !== undefined && !fixed.includes(length)) {
      throw inputError(path, `corrupt snapshot: record ${type} has ${length} bytes, expected ${fixed.join(' or ')}`);
    }
    const c = new Cursor(buf, path, start, end);
    ended = readRecord(type, c, version, records, sharing);
    if (c.offset !== end) throw inputError(path, `corrupt snapshot: record ${type} has ${end - c.offset} stray bytes`);
    offset = end;
    if (ended) break;
  }
  if (!ended) throw inputError(path, 'truncated snapshot: no END record');
  if (offset !== buf.length) throw inputError(path, 'corrupt snapshot: data after the END record');
  return records;
}

/** One record's payload (`c` spans it) into `records`; true for END. */
function readRecord(type: number, c: Cursor, version: number, records: Records, sharing: Sharing | undefined): boolean {
  const parts = records.parts;
  const { buf, path, offset: start, end } = c;
  const sinceVersion2 = () => {
    if (version < 2) throw inputError(path, `raw snapshot version ${version} has an unknown record type ${type}`);
  };
  switch (type) {
    case RecordType.meta: parts.meta = readMeta(c); break;
    case RecordType.counters: parts.counters = readCounters(c, version, (c.end - c.offset) / 8); break;
    case RecordType.mallinfo: parts.mallinfo = readMallinfo(c); break;
    case RecordType.processMemory: parts.memory = readProcessMemory(c); break;
    case RecordType.maps: parts.maps = buf.toString('utf8', start, end); c.offset = end; break;
    case RecordType.stacks:
      if (sharing) readSharedStacksRecord(c, records, sharing);
      else parts.stacks = readStacks(c);
      break;
    case RecordType.sites:
      if (sharing) records.siteTable = readSiteTable(c, version);
      else parts.sites = readSites(c, version);
      break;
    case RecordType.jemalloc:
      sinceVersion2();
      parts.jemalloc = {
        allocatedBytes: c.u64(), activeBytes: c.u64(), residentBytes: c.u64(), mappedBytes: c.u64(),
        retainedBytes: c.u64(), metadataBytes: c.u64(),
      };
      break;
    case RecordType.unloaded:
      sinceVersion2();
      parts.unloadedMaps = buf.toString('utf8', start, end);
      c.offset = end;
      break;
    case RecordType.resident: {
      sinceVersion2();
      const resident = readResident(c);
      if (resident) parts.resident = resident;
      break;
    }
    case RecordType.javaMethods:
      sinceVersion2();
      parts.javaMethods = readJavaMethods(c);
      break;
    case RecordType.end: return true;
    default: throw inputError(path, `raw snapshot has an unknown record type ${type}`);
  }
  return false;
}

/** STACKS into a store shared with the previous snapshot's, its unread prefix taken on trust where the reader left one. */
function readSharedStacksRecord(c: Cursor, records: Records, sharing: Sharing): void {
  const trusted = sharing.trustedPrefix;
  const image = records.parts.meta ? processImageOf(records.parts.meta) : undefined;
  // Trusted only as the reader meant it: META (read before STACKS) names the previous snapshot's image, and
  // the unread bytes are exactly where this table's entries begin, as long as the previous one's.
  const trust = trusted !== undefined && sharing.previous !== undefined && image === sharing.previous.image
    && trusted.start === c.offset + 4 && trusted.end === trusted.start + sharing.previous.length;
  if (trusted && !trust) throw inputError(c.path, 'internal error: a stack table was left unread where it could not be trusted');
  records.stacksRead = readStacksShared(c, sharing.previous, trust);
  records.parts.stacks = records.stacksRead.table;
  records.stacksEnd = c.offset;
}

function checkSiteStacks(path: string, stacks: RawSnapshot['stacks'], sites: readonly SiteStats[]): void {
  for (const site of sites) {
    if (!stacks.has(site.stackId)) throw inputError(path, `corrupt snapshot: site refers to unknown stack ${site.stackId}`);
  }
}

function checkSiteTableStacks(path: string, stacks: RawSnapshot['stacks'], siteTable: SiteTable): void {
  const table = stacks instanceof StackTable ? stacks : undefined;
  const inOrder = table?.store.stacks;
  let ordered = inOrder !== undefined && siteTable.count <= table!.size;
  for (let i = 0; i < siteTable.count; i++) {
    const stackId = siteTable.stackId(i);
    // Sites come in the order of their stacks, as the shim writes them: no lookup for those.
    if (ordered && inOrder![i]!.id === stackId) continue;
    ordered = false;
    if (!stacks.has(stackId)) throw inputError(path, `corrupt snapshot: site refers to unknown stack ${stackId}`);
  }
  siteTable.inStackOrder = ordered;
}

/** `sites` made from the table on first use (most readers only walk the table). */
function attachSiteTable(snapshot: RawSnapshot, table: SiteTable): void {
  let materialized: SiteStats[] | undefined;
  snapshot.siteTable = table;
  Object.defineProperty(snapshot, 'sites', {
    enumerable: true, configurable: true, get: () => (materialized ??= table.toSites()),
    set: (value: SiteStats[]) => { materialized = value; },
  });
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
