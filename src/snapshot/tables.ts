/**
 * Compact forms of the two big records of a raw snapshot, for reading a long run quickly:
 *
 *   StackTable  the shim's stack table only grows, and every snapshot carries all of it; a snapshot whose table
 *               begins with the previous snapshot's (byte for byte) shares that one's stacks instead of holding a
 *               copy, so a run of hundreds of snapshots with tens of thousands of stacks parses each stack once.
 *   SiteTable   the SITES record as it is on disk (12 eight-byte words per entry), read through accessors
 *               instead of one object per site and snapshot.
 */
import { SITE_KINDS, type RawStack, type SiteKind, type SiteStats } from './types.js';

/** The stacks of a run's snapshots, in the order the shim listed them; shared by the tables of its snapshots. */
export class StackStore {
  readonly stacks: RawStack[] = [];
  /** Position in `stacks` of each stack id. */
  readonly positions = new Map<number, number>();
}

/** The stacks of one snapshot by id: the first `size` stacks of a store that later snapshots may extend. */
export class StackTable implements ReadonlyMap<number, RawStack> {
  constructor(readonly store: StackStore, readonly size: number) {}

  get(id: number): RawStack | undefined {
    const position = this.store.positions.get(id);
    return position !== undefined && position < this.size ? this.store.stacks[position] : undefined;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** The stack at `position` in the snapshot's STACKS record. */
  at(position: number): RawStack | undefined {
    return position < this.size ? this.store.stacks[position] : undefined;
  }

  *values(): MapIterator<RawStack> {
    for (let i = 0; i < this.size; i++) yield this.store.stacks[i]!;
  }

  *keys(): MapIterator<number> {
    for (let i = 0; i < this.size; i++) yield this.store.stacks[i]!.id;
  }

  *entries(): MapIterator<[number, RawStack]> {
    for (let i = 0; i < this.size; i++) yield [this.store.stacks[i]!.id, this.store.stacks[i]!];
  }

  [Symbol.iterator](): MapIterator<[number, RawStack]> {
    return this.entries();
  }

  forEach(callback: (value: RawStack, key: number, map: ReadonlyMap<number, RawStack>) => void, thisArg?: unknown): void {
    for (let i = 0; i < this.size; i++) callback.call(thisArg, this.store.stacks[i]!, this.store.stacks[i]!.id, this);
  }
}

/**
 * Words (eight bytes) per site entry, and the word of each field (native/FORMAT.md, "A site entry"); word 0 holds
 * the stack id and (at byte 4) the kind.
 */
export const SITE_WORDS = 12;
/** Words of an entry with first_seen_bytes (104 bytes; still version 3). */
export const SITE_WORDS_FIRST_SEEN = 13;
export const SiteWord = {
  stackId: 0, liveSamples: 1, liveSampledBytes: 2, liveObjects: 3, liveBytes: 4, allocSamples: 5, allocObjects: 6,
  allocBytes: 7, oldestLiveMs: 8, newestLiveMs: 9, meanLiveMs: 10, liveUsableBytes: 11, firstSeenBytes: 12,
} as const;

/**
 * Writes `site` as a SITES entry at `at` (the layout SiteTable reads): 104 bytes when it has firstSeenBytes, else 96.
 * For tests and tables built from objects.
 */
export function writeSiteEntry(buf: Buffer, at: number, site: SiteStats): void {
  buf.writeUInt32LE(site.stackId, at);
  buf.writeUInt32LE(Math.max(0, SITE_KINDS.indexOf(site.kind ?? 'malloc')), at + 4);
  buf.writeBigUInt64LE(BigInt(site.liveSamples), at + 8);
  buf.writeBigUInt64LE(BigInt(site.liveSampledBytes), at + 16);
  buf.writeDoubleLE(site.liveObjects, at + 24);
  buf.writeDoubleLE(site.liveBytes, at + 32);
  buf.writeBigUInt64LE(BigInt(site.allocSamples), at + 40);
  buf.writeDoubleLE(site.allocObjects, at + 48);
  buf.writeDoubleLE(site.allocBytes, at + 56);
  buf.writeBigUInt64LE(BigInt(site.oldestLiveMs), at + 64);
  buf.writeBigUInt64LE(BigInt(site.newestLiveMs), at + 72);
  buf.writeDoubleLE(site.meanLiveMs, at + 80);
  buf.writeDoubleLE(site.liveUsableBytes ?? 0, at + 88);
  if (site.firstSeenBytes !== undefined) buf.writeDoubleLE(site.firstSeenBytes, at + 96);
}

/**
 * The SITES record's entries, read in place: `view` covers the entries as they are in the file (little-endian
 * integers and doubles, 96 or 104 bytes each). A table read by SnapshotSeriesReader borrows the reader's buffer until it
 * is released (its owner is done with it) or detached (it keeps a copy of its own, which the reader makes before it
 * reads another file into that buffer).
 */
export class SiteTable {
  private dataView: DataView;
  private base: number;
  private released = false;
  /** Set by the reader: site i is the stack at position i of its snapshot's StackTable, for every site. */
  inStackOrder = false;

  /**
   * `version`: the snapshot format's (before 3, the kind and usable-bytes words were reserved); `words`: an entry's
   * size in words (SITE_WORDS, or SITE_WORDS_FIRST_SEEN for entries with first_seen_bytes).
   */
  constructor(readonly count: number, entries: Uint8Array, readonly version = 3, readonly words: number = SITE_WORDS) {
    this.dataView = new DataView(entries.buffer, entries.byteOffset, count * words * 8);
    this.base = 0;
  }

  /** Whether entries carry first_seen_bytes. */
  get hasFirstSeen(): boolean {
    return this.words >= SITE_WORDS_FIRST_SEEN;
  }

  /** Copies the entries out of the buffer they were read from. */
  detach(): void {
    if (this.released) return;
    const copy = new Uint8Array(this.count * this.words * 8);
    copy.set(new Uint8Array(this.dataView.buffer, this.dataView.byteOffset + this.base, copy.length));
    this.dataView = new DataView(copy.buffer);
    this.base = 0;
  }

  /** Its owner is done with it: its entries may be overwritten, and must not be read any more. */
  release(): void {
    this.released = true;
    this.dataView = undefined as unknown as DataView;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** The entries, for code that reads every field of every site: entry i starts at entryOffset(i). */
  get view(): DataView {
    return this.dataView;
  }

  entryOffset(index: number): number {
    return this.base + index * this.words * 8;
  }

  /** An unsigned 64-bit field as a number (exact below 2^53, which every count and size is). */
  integer(index: number, word: number): number {
    const at = this.base + (index * this.words + word) * 8;
    return this.dataView.getUint32(at, true) + this.dataView.getUint32(at + 4, true) * 4294967296;
  }

  float(index: number, word: number): number {
    return this.dataView.getFloat64(this.base + (index * this.words + word) * 8, true);
  }

  stackId(index: number): number {
    return this.dataView.getUint32(this.base + index * this.words * 8, true);
  }

  liveBytes(index: number): number {
    return this.dataView.getFloat64(this.base + (index * this.words + SiteWord.liveBytes) * 8, true);
  }

  /** The site's kind as a number (SITE_KINDS), read where the reader checked it. */
  kindCode(index: number): number {
    return this.dataView.getUint32(this.base + index * this.words * 8 + 4, true);
  }

  kind(index: number): SiteKind {
    return SITE_KINDS[this.kindCode(index)] ?? 'malloc';
  }

  site(index: number): SiteStats {
    const site: SiteStats = {
      stackId: this.stackId(index), kind: this.kind(index), liveSamples: this.integer(index, SiteWord.liveSamples),
      liveSampledBytes: this.integer(index, SiteWord.liveSampledBytes), liveObjects: this.float(index, SiteWord.liveObjects),
      liveBytes: this.float(index, SiteWord.liveBytes), allocSamples: this.integer(index, SiteWord.allocSamples),
      allocObjects: this.float(index, SiteWord.allocObjects), allocBytes: this.float(index, SiteWord.allocBytes),
      oldestLiveMs: this.integer(index, SiteWord.oldestLiveMs), newestLiveMs: this.integer(index, SiteWord.newestLiveMs),
      meanLiveMs: this.float(index, SiteWord.meanLiveMs),
    };
    if (this.version >= 3) site.liveUsableBytes = this.float(index, SiteWord.liveUsableBytes);
    if (this.hasFirstSeen) site.firstSeenBytes = this.float(index, SiteWord.firstSeenBytes);
    return site;
  }

  toSites(): SiteStats[] {
    return Array.from({ length: this.count }, (_, i) => this.site(i));
  }
}
