/**
 * Reading a process's snapshots one after another, as the processing of a run does: consecutive snapshots share
 * their stack tables (see tables.ts), the files are read into a few recycled buffers (a long run is gigabytes of
 * snapshots: fresh buffers for each would keep the garbage collector busy), and a damaged snapshot only costs
 * itself.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inputError } from '../core/errors.js';
import { parseSnapshotShared, processImageOf, type SharedStacks } from './reader.js';
import type { SiteTable } from './tables.js';
import type { RawSnapshot } from './types.js';

/** Buffers in rotation: the snapshot being parsed, and the previous one, whose stack bytes it is compared with. */
const SLOTS = 2;
const META_RECORD = 1;
const STACKS_RECORD = 6;
const END_RECORD = 0xffff;

export class SnapshotSeriesReader {
  private shared: SharedStacks | undefined;
  private readonly slots: Buffer[] = [];
  /** The site table read from each slot's buffer, which must be detached unless released before the slot is reused. */
  private readonly lent: (SiteTable | undefined)[] = [];
  private next = 0;

  /**
   * Reads and parses the process's next snapshot file. Its siteTable reads the reader's buffer in place until the
   * file after next is read: release(snapshot) when done with its sites, else they are copied out then.
   */
  read(path: string): RawSnapshot {
    const slot = this.next;
    const { buf, trustedPrefix } = this.load(path);
    let snapshot: RawSnapshot;
    try {
      const parsed = parseSnapshotShared(buf, path, this.shared, trustedPrefix);
      this.shared = parsed.shared;
      snapshot = parsed.snapshot;
    } catch (error) {
      // What a damaged snapshot left in the shared store is not to be built on.
      this.shared = undefined;
      throw error;
    }
    this.lent[slot] = snapshot.siteTable;
    return snapshot;
  }

  /** The caller is done with `snapshot`'s sites: its buffer can be reused without copying them out. */
  release(snapshot: RawSnapshot): void {
    snapshot.siteTable?.release();
  }

  /**
   * The file's bytes. When the previous snapshot came from the same process image, its stack entries begin this
   * file's (the shim's table only grows) and are not read again: a long run's stack table is most of its bytes.
   */
  private load(path: string): { buf: Buffer; trustedPrefix?: { start: number; end: number } } {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (error) {
      this.shared = undefined;
      throw inputError(path, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    try {
      const size = fstatSync(fd).size;
      // Not the buffer the previous snapshot was read into: its stack bytes are what this one is compared with.
      const slot = this.next;
      this.next = (this.next + 1) % SLOTS;
      const lent = this.lent[slot];
      if (lent && !lent.isReleased) lent.detach();
      this.lent[slot] = undefined;
      if ((this.slots[slot]?.length ?? -1) < size) this.slots[slot] = Buffer.allocUnsafe(size + (size >> 4));
      const buffer = this.slots[slot]!;
      /** Reads [from, to); returns where reading stopped (short of `to` if the file is shorter than it was). */
      const readRange = (from: number, to: number): number => {
        let at = from;
        while (at < to) {
          const n = readSync(fd, buffer, at, to - at, at);
          if (n <= 0) break;
          at += n;
        }
        return at;
      };
      const skip = this.unreadStacks(fd, buffer, size);
      if (!skip) return { buf: buffer.subarray(0, readRange(0, size)) };
      const headEnd = readRange(0, skip.start);
      // A file that shrank meanwhile is read as far as it goes, which the parser reports as truncated.
      if (headEnd < skip.start) return { buf: buffer.subarray(0, headEnd) };
      const tailEnd = readRange(skip.end, size);
      if (tailEnd < size) return { buf: buffer.subarray(0, headEnd) };
      return { buf: buffer.subarray(0, size), trustedPrefix: skip };
    } catch (error) {
      this.shared = undefined;
      throw inputError(path, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Where the previous snapshot's stack entries are in this file, when they need not be read: its META (before its
   * STACKS) names the same process image, and its STACKS record has room for them. Walks the record headers with
   * small reads (into `scratch`, which is read again in full afterwards).
   */
  private unreadStacks(fd: number, scratch: Buffer, size: number): { start: number; end: number } | undefined {
    const previous = this.shared;
    if (!previous) return undefined;
    const peek = (at: number, bytes: number): boolean => at + bytes <= size && readSync(fd, scratch, 0, bytes, at) === bytes;
    let image: string | undefined;
    for (let offset = 16; peek(offset, 8);) {
      const type = scratch.readUInt32LE(0);
      const length = scratch.readUInt32LE(4);
      const start = offset + 8;
      if (type === META_RECORD && length === 96) {
        if (!peek(start, 96)) return undefined;
        image = processImageOf({ pid: Number(scratch.readBigUInt64LE(0)), startMonotonicNs: scratch.readBigInt64LE(40) });
      } else if (type === STACKS_RECORD) {
        if (image !== previous.image || !peek(start, 4)) return undefined;
        const count = scratch.readUInt32LE(0);
        const entries = start + 4;
        if (count < previous.count || entries + previous.length > start + length || start + length > size) return undefined;
        return { start: entries, end: entries + previous.length };
      } else if (type === END_RECORD) {
        return undefined;
      }
      offset = start + length;
    }
    return undefined;
  }
}
