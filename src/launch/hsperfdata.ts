/**
 * A running JVM's performance counters, read from its hsperfdata file (`/tmp/hsperfdata_<user>/<pid>`) — what
 * jstat reads: the JVM keeps them in a file it maps and updates in place, so reading them costs the target nothing
 * (no attach, no safepoint, no thread of its own). A JVM started with -XX:-UsePerfData has no such file.
 *
 * The file (HotSpot's perfMemory.hpp, PerfDataPrologue and PerfDataEntry):
 *   prologue (32 bytes): u32 magic 0xcafec0c0 (always big-endian) | u8 byte_order (0 big, 1 little) |
 *     u8 major | u8 minor | u8 accessible | i32 used | i32 overflow | i64 mod_time_stamp | i32 entry_offset |
 *     i32 num_entries
 *   entries, from entry_offset, each: i32 entry_length | i32 name_offset | i32 vector_length | u8 data_type |
 *     u8 flags | u8 data_units | u8 data_variability | i32 data_offset; the name a NUL-terminated string at
 *     name_offset, the value at data_offset (both from the entry's start): a scalar 'J' (i64), or a vector
 *     ('B' bytes: a string, NUL-terminated within vector_length).
 * The JVM writes while we read: a value may be a moment old, never torn in a way that matters (aligned i64s).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAGIC = 0xcafec0c0;
const PROLOGUE_BYTES = 32;

export type PerfValue = bigint | string;

/** Every counter of the file by name: i64 counters as bigint, byte vectors as strings. */
export function parseHsperfdata(buf: Buffer): Map<string, PerfValue> {
  if (buf.length < PROLOGUE_BYTES || buf.readUInt32BE(0) !== MAGIC) throw new Error('not an hsperfdata file (bad magic)');
  const little = buf.readUInt8(4) === 1;
  const i32 = (at: number) => (little ? buf.readInt32LE(at) : buf.readInt32BE(at));
  const i64 = (at: number) => (little ? buf.readBigInt64LE(at) : buf.readBigInt64BE(at));
  const major = buf.readUInt8(5);
  if (major !== 2) throw new Error(`hsperfdata version ${major} is not supported (only 2)`);
  const entryOffset = i32(24);
  const count = i32(28);
  const counters = new Map<string, PerfValue>();
  let at = entryOffset;
  for (let i = 0; i < count; i++) {
    if (at < PROLOGUE_BYTES || at + 20 > buf.length) throw new Error(`hsperfdata entry ${i} lies outside the file`);
    const length = i32(at);
    const nameOffset = i32(at + 4);
    const vectorLength = i32(at + 8);
    const type = String.fromCharCode(buf.readUInt8(at + 12));
    const dataOffset = i32(at + 16);
    if (length <= 0 || at + length > buf.length || nameOffset <= 0 || nameOffset >= length || dataOffset <= 0 || dataOffset >= length) {
      throw new Error(`hsperfdata entry ${i} is damaged`);
    }
    const nameEnd = buf.indexOf(0, at + nameOffset);
    const name = buf.toString('latin1', at + nameOffset, nameEnd < 0 || nameEnd > at + length ? at + length : nameEnd);
    const data = at + dataOffset;
    if (vectorLength === 0 && type === 'J' && data + 8 <= at + length) counters.set(name, i64(data));
    else if (vectorLength > 0 && type === 'B') {
      const end = Math.min(data + vectorLength, at + length);
      const nul = buf.indexOf(0, data);
      counters.set(name, buf.toString('utf8', data, nul >= 0 && nul < end ? nul : end));
    }
    at += length;
  }
  return counters;
}

/** What the accounting takes from the counters, in bytes (jstat -gc's columns: see jvmMemoryOf). */
export interface JvmPerfMemory {
  /** Σ used of every space of the heap's generations (jstat: S0U + S1U + EU + OU). */
  heapUsedBytes: number;
  /** Σ capacity of the generations (S0C + S1C + EC + OC, as committed). */
  heapCommittedBytes: number;
  /** Metaspace committed (MC) and used (MU), class space included. */
  metaspaceCommittedBytes?: number;
  metaspaceUsedBytes?: number;
  /** The compressed class space (CCSC, CCSU). */
  classSpaceCommittedBytes?: number;
  classSpaceUsedBytes?: number;
  /** Live Java threads. */
  liveThreads?: number;
}

function num(counters: ReadonlyMap<string, PerfValue>, name: string): number | undefined {
  const v = counters.get(name);
  return typeof v === 'bigint' ? Number(v) : undefined;
}

/**
 * The heap's and metaspace's figures from the counters: `sun.gc.generation.<g>.capacity` summed over the
 * generations that are the heap (the young and old ones; JDK 8's permanent generation, "perm", is not), and
 * `sun.gc.generation.<g>.space.<s>.used` over their spaces. undefined when the file has no generations.
 */
export function jvmMemoryOf(counters: ReadonlyMap<string, PerfValue>): JvmPerfMemory | undefined {
  let committed = 0;
  let used = 0;
  let generations = 0;
  for (let g = 0; g < 8; g++) {
    const capacity = num(counters, `sun.gc.generation.${g}.capacity`);
    if (capacity === undefined) continue;
    if (counters.get(`sun.gc.generation.${g}.name`) === 'perm') continue;
    generations++;
    committed += capacity;
    const spaces = num(counters, `sun.gc.generation.${g}.spaces`) ?? 0;
    for (let s = 0; s < spaces; s++) used += num(counters, `sun.gc.generation.${g}.space.${s}.used`) ?? 0;
  }
  if (generations === 0) return undefined;
  const optional = (key: keyof JvmPerfMemory, name: string) => {
    const v = num(counters, name);
    return v === undefined ? {} : { [key]: v };
  };
  return {
    heapUsedBytes: used, heapCommittedBytes: committed,
    ...optional('metaspaceCommittedBytes', 'sun.gc.metaspace.capacity'),
    ...optional('metaspaceUsedBytes', 'sun.gc.metaspace.used'),
    ...optional('classSpaceCommittedBytes', 'sun.gc.compressedclassspace.capacity'),
    ...optional('classSpaceUsedBytes', 'sun.gc.compressedclassspace.used'),
    ...optional('liveThreads', 'java.threads.live'),
  };
}

/**
 * Where a JVM's hsperfdata file is: `hsperfdata_<user>/<pid>` in /tmp, or in the target's own /tmp when it lives
 * in another mount namespace (a container), seen through /proc/<pid>/root. undefined when there is none.
 */
export function findHsperfdata(pid: number, tmpDirs: readonly string[] = ['/tmp', `/proc/${pid}/root/tmp`]): string | undefined {
  for (const tmp of tmpDirs) {
    let users: string[];
    try {
      users = readdirSync(tmp).filter((name) => name.startsWith('hsperfdata_'));
    } catch {
      continue;
    }
    for (const dir of users) {
      const file = join(tmp, dir, String(pid));
      try {
        readFileSync(file, { flag: 'r' }).subarray(0, 4);
        return file;
      } catch {
        // not this user's
      }
    }
  }
  return undefined;
}

/** The counters of the file at `path` (undefined when it cannot be read or parsed: the JVM is gone or starting). */
export function readHsperfdata(path: string): Map<string, PerfValue> | undefined {
  try {
    return parseHsperfdata(readFileSync(path));
  } catch {
    return undefined;
  }
}
