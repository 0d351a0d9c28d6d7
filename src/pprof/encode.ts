/**
 * The heap profiles of a run's snapshots, encoded incrementally: the same bytes as buildHeapProfile(…).encode(),
 * without building the profile as objects.
 *
 * The shim's stack table only grows, and every snapshot lists a site for every stack, in stack order; so snapshot
 * k+1's profile has snapshot k's locations, functions, mappings and strings, in the same order, and then those of
 * its new stacks. The encoder keeps them, already encoded, and each snapshot costs its samples' values only. When a
 * snapshot does not extend the previous one that way (another process image after exec, a Java method resolved
 * since, a damaged snapshot in between, or any other input), the encoder starts afresh for it: the bytes are the
 * same either way.
 *
 * It also gives the analysis what decoding the profile would give (decodeHeapProfile): each sample's stack as
 * frames, its in-use bytes and the ages of its live blocks, without the decoding.
 *
 * Longer than our usual file: the encoder is one piece of state (tables, their encoded bytes and the order both
 * must keep), and cutting it apart would spread that invariant over several files. The wire format is protobuf.ts.
 */
import { SITE_KINDS, type RawSnapshot, type RawStack, type SiteKind } from '../snapshot/types.js';
import { SITE_WORDS, SITE_WORDS_FIRST_SEEN, SiteTable, SiteWord, StackTable, writeSiteEntry, type StackStore } from '../snapshot/tables.js';
import { javaSourceFrame, nativeFramesBeforeJava } from '../symbolize/java.js';
import type { MemoryMapping } from '../symbolize/maps.js';
import type { SourceFrame, SymbolizedLocation, SymbolizedSnapshot } from '../symbolize/types.js';
import {
  emptyStackFunctionName, firstSeenLabel, firstSeenValue, heapSampleTypes, kindLabel, labelStrings, mainExecutableMapping, overflowStackFunctionName,
  type BuildHeapProfileOptions,
} from './build.js';
import type { HeapProfileFrame } from './read.js';
import { Bytes, copyBytes, decodedNumber, isUnsigned, packedLength, putUnsigned, varintLength } from './protobuf.js';

// ---- the encoder ----

/**
 * What the analysis gets of one encoded snapshot (a SeriesPoint, see series.ts): its samples with in-use
 * bytes, in sample order — the others add nothing to any analysis.
 */
export interface EncodedProfile {
  /** The profile, as buildHeapProfile(…).encode() gives it. */
  bytes: Uint8Array;
  /** Each such sample's stack, as an index into HeapProfileEncoder.stacks. */
  stackOf: Int32Array;
  /** Its in-use bytes, as the profile holds them (never 0). */
  inuse: Float64Array;
  /** Its in-use blocks (inuse_objects), as the profile holds them. */
  objects: Float32Array;
  /** Its oldest_live_age_ms and mean_live_age_ms labels, NaN where it has none (nothing live). */
  oldestAgeMs: Float64Array;
  meanAgeMs: Float64Array;
  /** Its alloc_space, as the profile holds it. */
  allocBytes: Float64Array;
  /** Its first_seen_bytes label, 0 where it has none; absent when the snapshot's sites do not have the field. */
  firstSeenBytes?: Float64Array;
}

/** The first_seen_bytes label's key: its place in the string table, after the empty string. */
const FIRST_SEEN_KEY = labelStrings.indexOf(firstSeenLabel) + 1;
/** Values kept per site to tell an unchanged sample: the 4 values, the two ages, first_seen_bytes. */
const KEPT_VALUES = 7;

interface MappingEntry {
  id: number;
  memory: MappingKey;
  filename: number;
  buildId: number;
  allFunctions: boolean;
  allFilenames: boolean;
  allLineNumbers: boolean;
}

type MappingKey = Pick<MemoryMapping, 'startAddress' | 'endAddress' | 'fileOffset' | 'path'>;

/** The sites of a snapshot as a SiteTable: the one it was read with, or one made from its SiteStats. */
function siteTableOf(raw: RawSnapshot): SiteTable {
  if (raw.siteTable) return raw.siteTable;
  const words = raw.sites.some((site) => site.firstSeenBytes !== undefined) ? SITE_WORDS_FIRST_SEEN : SITE_WORDS;
  const entries = Buffer.alloc(8 * words * raw.sites.length);
  raw.sites.forEach((site, i) => writeSiteEntry(entries, 8 * words * i, site));
  return new SiteTable(raw.sites.length, entries, raw.sites.some((site) => site.liveUsableBytes !== undefined) ? 3 : 2, words);
}

const sameSource = (a: SourceFrame, b: SourceFrame) => a.functionName === b.functionName && a.fileName === b.fileName && a.line === b.line;

/**
 * Encodes the snapshots of one process in order. `stacks` grows as they come: the frames of every distinct sample
 * stack so far, as decoding the profiles would give them.
 */
export class HeapProfileEncoder {
  /** The frames of each stack samples refer to (EncodedProfile.stackOf), innermost first. */
  readonly stacks: HeapProfileFrame[][] = [];
  /** The kind of each of `stacks`. */
  readonly stackKinds: SiteKind[] = [];

  // Tables, in first-use order, encoded as they are added.
  private strings = new Map<string, number>();
  private stringBytes = new Bytes(1 << 16);
  private functionIds = new Map<string, number>();
  private functionBytes = new Bytes(1 << 16);
  private locationIds = new Map<bigint | string, number>();
  private locationBytes = new Bytes(1 << 16);
  /** Frames of each location (by id − 1), as decoding gives them. */
  private locationFrames: HeapProfileFrame[][] = [];
  /** What each native location was made from, and each Java location's source frame: a later snapshot must agree. */
  private nativeSources = new Map<bigint, SymbolizedLocation | undefined>();
  private javaSources = new Map<string, { frame: { methodId: bigint; bci: number }; source: SourceFrame }>();
  private mappingEntries = new Map<bigint, MappingEntry>();

  // Per site position: the site's stack and the start of its sample (the packed location ids).
  private siteCount = 0;
  private siteStackIds = new Int32Array(1024);
  private siteStacks: (RawStack | undefined)[] = [];
  private siteLocations: Uint8Array[] = [];
  /** Per site position: which of `stacks` it is. */
  private siteStackIndex = new Int32Array(1024);
  /** Per site position: its kind's number (SITE_KINDS). */
  private siteKinds: number[] = [];
  /** Per kind number: the labels its samples end with, encoded (none for malloc). */
  private kindLabelBytes: Uint8Array[] = [];

  private readonly scratch = new Bytes(256);
  /**
   * The previous profile's samples, where each began in them, and the values each was encoded with (KEPT_VALUES: 4 values,
   * the two ages, NaN for none, and first_seen_bytes): a sample whose values did not change is copied from there, runs of them at once.
   */
  private previous: { bytes: Uint8Array; starts: Int32Array; values: Float64Array; count: number; liveOnly: boolean } | undefined;
  /** Buffers of profiles the caller is done with (recycle()), to encode the next ones into. */
  private readonly spare: Uint8Array[] = [];
  /** The buffer the previous profile's samples are copied from: not to be recycled until the next profile is made. */
  private previousBuffer: Uint8Array | undefined;
  private scratchStack = new Int32Array(0);
  private scratchInuse = new Float64Array(0);
  private scratchObjects = new Float32Array(0);
  private scratchOldest = new Float64Array(0);
  private scratchMean = new Float64Array(0);
  private scratchAlloc = new Float64Array(0);
  private scratchFirstSeen = new Float64Array(0);
  /** The stack table and site order of the previous snapshot, when its sites followed its stacks one for one. */
  private orderedStore: StackStore | undefined;
  /** Snapshots encoded from scratch (the first, and each that did not extend the one before). */
  fresh = 0;
  /** Samples copied from the profile before, unchanged. */
  copiedSamples = 0;

  constructor() {
    this.reset();
  }

  private reset(): void {
    this.strings = new Map([['', 0]]);
    this.stringBytes.clear();
    this.stringBytes.append(Uint8Array.of(50, 0));
    for (const name of labelStrings) this.string(name);
    this.kindLabelBytes = SITE_KINDS.map((kind) => this.kindLabels(kind));
    this.functionIds = new Map();
    this.functionBytes.clear();
    this.locationIds = new Map();
    this.locationBytes.clear();
    this.locationFrames = [];
    this.nativeSources = new Map();
    this.javaSources = new Map();
    this.mappingEntries = new Map();
    this.siteCount = 0;
    this.siteStacks = [];
    this.siteLocations = [];
    this.siteKinds = [];
    this.previous = undefined;
    this.orderedStore = undefined;
    this.fresh++;
  }

  /** A site kind's Label fields (Sample field 3), as buildHeapProfile's labels encode. */
  private kindLabels(kind: SiteKind): Uint8Array {
    if (kind === 'malloc') return new Uint8Array(0);
    const out = new Bytes(32);
    const label = (key: string, value: string) => {
      const k = this.string(key);
      const v = this.string(value);
      out.byte(26);
      out.varint(1 + varintLength(k) + 1 + varintLength(v));
      out.field(8, k);
      out.field(16, v);
    };
    label(kindLabel.key, kindLabel.mmap);
    label(kindLabel.mappingKey, kind === 'mmap-file' ? kindLabel.file : kindLabel.anon);
    return out.copy();
  }

  private string(text: string): number {
    let index = this.strings.get(text);
    if (index === undefined) {
      index = this.strings.size;
      this.strings.set(text, index);
      const utf8 = Buffer.from(text, 'utf8');
      this.stringBytes.byte(50);
      this.stringBytes.varint(utf8.length);
      this.stringBytes.append(utf8);
    }
    return index;
  }

  private functionFor(frame: SourceFrame): number {
    const key = `${frame.functionName}\0${frame.fileName ?? ''}`;
    let id = this.functionIds.get(key);
    if (id !== undefined) return id;
    id = this.functionIds.size + 1;
    this.functionIds.set(key, id);
    const name = this.string(frame.functionName);
    const filename = frame.fileName === undefined ? 0 : this.string(frame.fileName);
    const m = this.scratch.clear();
    m.field(8, id);
    m.field(16, name);
    m.field(24, name);
    m.field(32, filename);
    this.functionBytes.message(42, m);
    return id;
  }

  /** As buildHeapProfile: the build id comes with the first location that knows it. */
  private mappingFor(memory: MemoryMapping, buildId: string | undefined): MappingEntry | undefined {
    if (!memory.path.startsWith('/') || memory.inode === 0 || !memory.perms.includes('x')) return undefined;
    let entry = this.mappingEntries.get(memory.startAddress);
    if (entry) {
      if (buildId && !entry.buildId) entry.buildId = this.string(buildId);
      return entry;
    }
    const filename = this.string(memory.path);
    entry = {
      id: this.mappingEntries.size + 1, memory, filename, buildId: buildId ? this.string(buildId) : 0,
      allFunctions: true, allFilenames: true, allLineNumbers: true,
    };
    this.mappingEntries.set(memory.startAddress, entry);
    return entry;
  }

  /** A location's Line submessages and its Location message, appended to the location table. */
  private addLocation(id: number, mappingId: number, address: bigint, lines: { functionId: number; line: number; column: number }[]): void {
    const m = this.scratch.clear();
    m.field(8, id);
    m.field(16, mappingId);
    m.field(24, address);
    for (const line of lines) {
      const lineLength = 1 + varintLength(line.functionId) + (line.line ? 1 + varintLength(line.line) : 0) + (line.column ? 1 + varintLength(line.column) : 0);
      m.byte(34);
      m.varint(lineLength);
      m.field(8, line.functionId);
      m.field(16, line.line);
      m.field(24, line.column);
    }
    this.locationBytes.message(34, m);
  }

  private locationFor(pc: bigint, symbolized: SymbolizedLocation | undefined): number {
    let id = this.locationIds.get(pc);
    if (id !== undefined) return id;
    id = this.locationIds.size + 1;
    this.locationIds.set(pc, id);
    this.nativeSources.set(pc, symbolized);
    const address = pc > 0n ? pc - 1n : pc;
    const frames = symbolized?.frames ?? [{ functionName: `0x${address.toString(16)}` }];
    const entry = symbolized?.mapping ? this.mappingFor(symbolized.mapping, symbolized.buildId) : undefined;
    if (entry) {
      const resolved = symbolized?.symbolized === true;
      entry.allFunctions &&= resolved;
      entry.allFilenames &&= resolved && frames.every((frame) => frame.fileName !== undefined);
      entry.allLineNumbers &&= resolved && frames.every((frame) => frame.line !== undefined);
    }
    const lines = frames.map((frame) => ({ functionId: this.functionFor(frame), line: frame.line ?? 0, column: frame.column ?? 0 }));
    this.addLocation(id, entry ? entry.id : 0, address, lines);
    const common: Pick<HeapProfileFrame, 'address' | 'mappingFile'> = {};
    if (address !== 0n) common.address = BigInt.asUintN(64, address);
    if (entry && entry.memory.path) common.mappingFile = entry.memory.path;
    this.locationFrames.push(frames.map((frame) => decodedFrame(frame, common)));
    return id;
  }

  private javaLocationFor(frame: { methodId: bigint; bci: number }, source: SourceFrame): number {
    const key = `java:${frame.methodId}:${frame.bci}`;
    let id = this.locationIds.get(key);
    if (id !== undefined) return id;
    id = this.locationIds.size + 1;
    this.locationIds.set(key, id);
    this.javaSources.set(key, { frame, source });
    this.addLocation(id, 0, 0n, [{ functionId: this.functionFor(source), line: source.line ?? 0, column: 0 }]);
    this.locationFrames.push([decodedFrame(source, {})]);
    return id;
  }

  private syntheticLocation(functionName: string): number {
    const key = `synthetic:${functionName}`;
    let id = this.locationIds.get(key);
    if (id !== undefined) return id;
    id = this.locationIds.size + 1;
    this.locationIds.set(key, id);
    this.addLocation(id, 0, 0n, [{ functionId: this.functionFor({ functionName }), line: 0, column: 0 }]);
    this.locationFrames.push([{ functionName }]);
    return id;
  }

  /** The stack of the site at `position`, found by position first (sites and stacks come in the same order). */
  private static stackOf(snap: SymbolizedSnapshot, position: number, stackId: number): RawStack | undefined {
    const stacks = snap.raw.stacks;
    if (stacks instanceof StackTable) {
      const atPosition = stacks.at(position);
      if (atPosition?.id === stackId) return atPosition;
    }
    return stacks.get(stackId);
  }

  /** Whether `snap` extends what is encoded: the same sites first, with the same stacks, symbols and Java methods. */
  private extendsPrevious(snap: SymbolizedSnapshot, table: SiteTable): boolean {
    if (table.count < this.siteCount) return false;
    const stacks = snap.raw.stacks;
    // Sites one for one with the stacks of the same growing table as before: the first ones are the same sites.
    const sameOrder = this.orderedStore !== undefined && table.inStackOrder && stacks instanceof StackTable && stacks.store === this.orderedStore;
    if (!sameOrder) {
      for (let i = 0; i < this.siteCount; i++) {
        const stackId = table.stackId(i);
        if (stackId !== this.siteStackIds[i] || HeapProfileEncoder.stackOf(snap, i, stackId) !== this.siteStacks[i]
          || table.kindCode(i) !== this.siteKinds[i]) return false;
      }
    }
    for (const [pc, symbolized] of this.nativeSources) if (snap.locations.get(pc) !== symbolized) return false;
    for (const { frame, source } of this.javaSources.values()) {
      if (!sameSource(javaSourceFrame(frame, snap.raw.javaMethods.get(frame.methodId)), source)) return false;
    }
    return true;
  }

  /** The packed location ids of a new site position, adding its locations (and their functions, mappings, strings). */
  private addSite(snap: SymbolizedSnapshot, position: number, stackId: number, kindCode: number): void {
    const stack = HeapProfileEncoder.stackOf(snap, position, stackId);
    const javaFrames = stack?.javaFrames ?? [];
    const pcs = javaFrames.length > 0 ? nativeFramesBeforeJava(stack?.pcs ?? [], snap.locations) : stack?.pcs ?? [];
    const ids: number[] = [];
    for (const pc of pcs) ids.push(this.locationFor(pc, snap.locations.get(pc)));
    for (const frame of javaFrames) ids.push(this.javaLocationFor(frame, javaSourceFrame(frame, snap.raw.javaMethods.get(frame.methodId))));
    if (ids.length === 0) ids.push(this.syntheticLocation(stackId === 0 ? overflowStackFunctionName : emptyStackFunctionName));
    const field = new Bytes(4 + 3 * ids.length);
    field.byte(10);
    field.varint(packedLength(ids));
    for (const id of ids) field.varint(id);
    if (position >= this.siteStackIds.length) {
      const grown = new Int32Array(this.siteStackIds.length * 2);
      grown.set(this.siteStackIds);
      this.siteStackIds = grown;
      const grownIndex = new Int32Array(this.siteStackIndex.length * 2);
      grownIndex.set(this.siteStackIndex);
      this.siteStackIndex = grownIndex;
    }
    this.siteStackIds[position] = stackId;
    this.siteStacks[position] = stack;
    this.siteLocations[position] = field.copy();
    this.siteStackIndex[position] = this.stacks.length;
    this.siteKinds[position] = kindCode;
    this.stacks.push(ids.flatMap((id) => this.locationFrames[id - 1]!));
    this.stackKinds.push(SITE_KINDS[kindCode] ?? 'malloc');
  }

  private tableString(tail: Map<string, number>, text: string): number {
    const index = this.strings.get(text) ?? tail.get(text);
    if (index !== undefined) return index;
    const added = this.strings.size + tail.size;
    tail.set(text, added);
    return added;
  }

  encode(snap: SymbolizedSnapshot, options: BuildHeapProfileOptions): EncodedProfile {
    const table = siteTableOf(snap.raw);
    if (!this.extendsPrevious(snap, table)) this.reset();
    if (this.mappingEntries.size === 0 && this.locationIds.size === 0) {
      // The executable's mapping first (id 1), as buildHeapProfile: pprof's main binary.
      const main = mainExecutableMapping(snap.raw.maps);
      if (main) this.mappingFor(main, undefined);
    }
    const count = table.count;
    for (let i = this.siteCount; i < count; i++) this.addSite(snap, i, table.stackId(i), table.kindCode(i));
    this.siteCount = count;
    const stacks = snap.raw.stacks;
    this.orderedStore = table.inStackOrder && stacks instanceof StackTable ? stacks.store : undefined;

    // The strings the sample types need, which buildHeapProfile adds after the samples: this profile's own.
    const tail = new Map<string, number>();
    const head = this.sampleTypesHead(tail);
    const meta = snap.raw.meta;
    const out = new Bytes(head.length + Math.max(1 << 16, Math.ceil((this.previous?.bytes.length ?? 64 * count) * 1.1) + (1 << 20)), this.spare.pop());
    out.append(head.view());
    const inUse = this.writeSamples(out, table, Number(meta.monotonicNs - meta.startMonotonicNs) / 1e6, options.liveOnly === true);
    // The profile before this one is no longer copied from: if its bytes were written out meanwhile, its buffer is free.
    if (this.pendingRecycle && this.spare.length < 4) this.spare.push(this.pendingRecycle);
    this.pendingRecycle = undefined;
    this.previousBuffer = out.buf;
    this.writeTables(out, tail, meta, options);
    return {
      bytes: out.view(), stackOf: this.scratchStack.slice(0, inUse), inuse: this.scratchInuse.slice(0, inUse), objects: this.scratchObjects.slice(0, inUse),
      oldestAgeMs: this.scratchOldest.slice(0, inUse), meanAgeMs: this.scratchMean.slice(0, inUse), allocBytes: this.scratchAlloc.slice(0, inUse),
      ...(table.hasFirstSeen ? { firstSeenBytes: this.scratchFirstSeen.slice(0, inUse) } : {}),
    };
  }

  /** The sample_type fields, with their strings added to `tail`. */
  private sampleTypesHead(tail: Map<string, number>): Bytes {
    const head = new Bytes(64);
    for (const t of heapSampleTypes) {
      const type = this.tableString(tail, t.type);
      const unit = this.tableString(tail, t.unit);
      head.byte(10);
      head.varint((type ? 1 + varintLength(type) : 0) + (unit ? 1 + varintLength(unit) : 0));
      head.field(8, type);
      head.field(16, unit);
    }
    return head;
  }

  /** Scratch columns for `count` samples with in-use bytes. */
  private ensureScratch(count: number): void {
    if (this.scratchStack.length >= count) return;
    const size = count + (count >> 3);
    this.scratchStack = new Int32Array(size);
    this.scratchInuse = new Float64Array(size);
    this.scratchObjects = new Float32Array(size);
    this.scratchOldest = new Float64Array(size);
    this.scratchMean = new Float64Array(size);
    this.scratchAlloc = new Float64Array(size);
    this.scratchFirstSeen = new Float64Array(size);
  }

  /**
   * Every site's sample into `out`, runs unchanged since the previous profile copied from it at once; the samples
   * with in-use bytes gathered in the scratch columns. Returns how many those are. `nowMs`: the snapshot's time
   * since the shim started, for the live blocks' ages.
   */
  private writeSamples(out: Bytes, table: SiteTable, nowMs: number, liveOnly: boolean): number {
    const count = table.count;
    this.ensureScratch(count);
    const { scratchStack, scratchInuse, scratchObjects, scratchOldest, scratchMean, scratchAlloc, scratchFirstSeen, siteStackIndex } = this;
    let inUse = 0;
    const previous = this.previous;
    const starts = new Int32Array(count + 1);
    let encodedValues = previous?.values ?? new Float64Array(0);
    if (encodedValues.length < count * KEPT_VALUES) {
      const grown = new Float64Array((count + (count >> 3)) * KEPT_VALUES);
      grown.set(encodedValues);
      encodedValues = grown;
    }
    const samplesStart = out.length;
    const view = table.view;
    const firstSeenAt = SiteWord.firstSeenBytes * 8;
    const hasFirstSeen = table.hasFirstSeen;
    /** Copies the previous profile's samples [from, to) at once. */
    const copy = (from: number, to: number) => {
      const { bytes, starts: before } = previous!;
      const shift = out.length - samplesStart - before[from]!;
      this.copiedSamples += to - from;
      for (let k = from; k < to; k++) starts[k] = before[k]! + shift;
      out.reserve(before[to]! - before[from]!);
      out.length = copyBytes(out.buf, out.length, bytes, before[from]!, before[to]!);
    };
    let run = -1;
    // Samples are copied from a profile that left out the same ones.
    const reusable = previous && previous.liveOnly === liveOnly ? Math.min(previous.count, count) : 0;
    for (let i = 0; i < count; i++) {
      const at = table.entryOffset(i);
      const live = view.getUint32(at + 8, true) !== 0 || view.getUint32(at + 12, true) !== 0;
      const v0 = Math.round(view.getFloat64(at + 48, true));
      const v1 = Math.round(view.getFloat64(at + 56, true));
      const v2 = Math.round(view.getFloat64(at + 24, true));
      const v3 = Math.round(view.getFloat64(at + 32, true));
      let oldest = NaN;
      let mean = NaN;
      if (live) {
        const oldestLiveMs = view.getUint32(at + 64, true) + view.getUint32(at + 68, true) * 4294967296;
        oldest = Math.max(0, Math.round(nowMs - oldestLiveMs));
        mean = Math.max(0, Math.round(nowMs - view.getFloat64(at + 80, true)));
      }
      const seen = hasFirstSeen ? firstSeenValue(view.getFloat64(at + firstSeenAt, true)) : 0;
      const inuse = Number.isFinite(v3) ? v3 + 0 : 0;
      if (inuse !== 0) {
        scratchStack[inUse] = siteStackIndex[i]!;
        scratchInuse[inUse] = inuse;
        scratchObjects[inUse] = decodedNumber(v2);
        scratchOldest[inUse] = live ? decodedNumber(oldest) : NaN;
        scratchMean[inUse] = live ? decodedNumber(mean) : NaN;
        scratchAlloc[inUse] = decodedNumber(v1);
        scratchFirstSeen[inUse] = seen;
        inUse++;
      }
      const e = KEPT_VALUES * i;
      if (i < reusable && encodedValues[e] === v0 && encodedValues[e + 1] === v1 && encodedValues[e + 2] === v2 && encodedValues[e + 3] === v3
        && (live ? encodedValues[e + 4] === oldest && encodedValues[e + 5] === mean : Number.isNaN(encodedValues[e + 4]!))
        && encodedValues[e + 6] === seen) {
        if (run < 0) run = i;
        continue;
      }
      if (run >= 0) {
        copy(run, i);
        run = -1;
      }
      encodedValues[e] = v0;
      encodedValues[e + 1] = v1;
      encodedValues[e + 2] = v2;
      encodedValues[e + 3] = v3;
      encodedValues[e + 4] = oldest;
      encodedValues[e + 5] = mean;
      encodedValues[e + 6] = seen;
      starts[i] = out.length - samplesStart;
      // Left out: no bytes, so a later profile that leaves it out too copies nothing for it.
      if (liveOnly && !live && inuse === 0) continue;
      this.writeSample(out, this.siteLocations[i]!, view.getUint32(at, true), v0, v1, v2, v3, live, oldest, mean,
        this.kindLabelBytes[this.siteKinds[i]!]!, seen);
    }
    if (run >= 0) copy(run, count);
    starts[count] = out.length - samplesStart;
    this.previous = { bytes: out.buf.subarray(samplesStart, out.length), starts, values: encodedValues, count, liveOnly };
    return inUse;
  }

  /** After the samples: mappings, locations, functions, the string table and the profile's own fields. */
  private writeTables(out: Bytes, tail: Map<string, number>, meta: RawSnapshot['meta'], options: BuildHeapProfileOptions): void {
    for (const entry of this.mappingEntries.values()) {
      const m = this.scratch.clear();
      m.field(8, entry.id);
      m.field(16, entry.memory.startAddress);
      m.field(24, entry.memory.endAddress);
      m.field(32, entry.memory.fileOffset);
      m.field(40, entry.filename);
      m.field(48, entry.buildId);
      if (entry.allFunctions) m.field(56, 1);
      if (entry.allFilenames) m.field(64, 1);
      if (entry.allLineNumbers) m.field(72, 1);
      if (entry.allFunctions) m.field(80, 1);
      out.message(26, m);
    }
    out.append(this.locationBytes.view());
    out.append(this.functionBytes.view());
    out.append(this.stringBytes.view());
    const space = this.tableString(tail, 'space');
    const bytesUnit = this.tableString(tail, 'bytes');
    const defaultType = this.tableString(tail, 'inuse_space');
    const comment = this.tableString(tail, `leakhunt snapshot: pid ${meta.pid}, sequence ${meta.sequence}`);
    for (const text of tail.keys()) {
      const utf8 = Buffer.from(text, 'utf8');
      out.byte(50);
      out.varint(utf8.length);
      out.append(utf8);
    }
    out.field(72, options.timeNanos);
    out.field(80, options.durationNanos ?? 0n);
    out.byte(90);
    out.varint((space ? 1 + varintLength(space) : 0) + (bytesUnit ? 1 + varintLength(bytesUnit) : 0));
    out.field(8, space);
    out.field(16, bytesUnit);
    out.field(96, meta.sampleIntervalBytes);
    out.byte(106);
    out.varint(varintLength(comment) || 1);
    out.varint(comment);
    out.field(112, defaultType);
  }


  /**
   * The caller is done with a profile's bytes (written out): its buffer may hold a later profile. Optional: a
   * profile not recycled is left to the garbage collector.
   */
  recycle(bytes: Uint8Array): void {
    const buffer = new Uint8Array(bytes.buffer, 0, bytes.buffer.byteLength);
    if (bytes.buffer === this.previousBuffer?.buffer) {
      // Still what the next profile copies its unchanged samples from: kept for after it.
      this.pendingRecycle = buffer;
      return;
    }
    if (this.spare.length < 4) this.spare.push(buffer);
  }

  private pendingRecycle: Uint8Array | undefined;

  /** One Sample message (Profile field 2): its location ids, its four values, its labels. */
  private writeSample(
    out: Bytes, locations: Uint8Array, stackId: number, v0: number, v1: number, v2: number, v3: number, live: boolean, oldest: number, mean: number,
    kindLabels: Uint8Array, seen: number,
  ): void {
    const valuesLength = (varintLength(v0) || 1) + (varintLength(v1) || 1) + (varintLength(v2) || 1) + (varintLength(v3) || 1);
    const stackLabel = 2 + (stackId ? 1 + varintLength(stackId) : 0);
    // first_seen_bytes, when above 0: key and value, at most 13 bytes, so its length is one byte.
    const seenLabel = seen > 0 ? 3 + varintLength(seen) : 0;
    let length = locations.length + 1 + varintLength(valuesLength) + valuesLength + 1 + varintLength(stackLabel) + stackLabel + kindLabels.length
      + (seenLabel ? 2 + seenLabel : 0);
    let oldestLabel = 0;
    let meanLabel = 0;
    if (live) {
      oldestLabel = 2 + (oldest ? 1 + varintLength(oldest) : 0);
      meanLabel = 2 + (mean ? 1 + varintLength(mean) : 0);
      length += 1 + varintLength(oldestLabel) + oldestLabel + 1 + varintLength(meanLabel) + meanLabel;
    }
    if (!(isUnsigned(v0) && isUnsigned(v1) && isUnsigned(v2) && isUnsigned(v3) && (!live || (isUnsigned(oldest) && isUnsigned(mean))) && isUnsigned(seen))) {
      this.writeSampleSlowly(out, locations, stackId, [v0, v1, v2, v3], live, oldest, mean, length, valuesLength, stackLabel, oldestLabel, meanLabel);
      out.append(kindLabels);
      if (seenLabel) {
        out.byte(26);
        out.varint(seenLabel);
        out.field(8, FIRST_SEEN_KEY);
        out.field(24, seen);
      }
      return;
    }
    out.reserve(length + 11);
    const buf = out.buf;
    let at = out.length;
    buf[at++] = 18;
    at = putUnsigned(buf, at, length);
    at = copyBytes(buf, at, locations, 0, locations.length);
    buf[at++] = 18;
    at = putUnsigned(buf, at, valuesLength);
    at = putUnsigned(buf, at, v0);
    at = putUnsigned(buf, at, v1);
    at = putUnsigned(buf, at, v2);
    at = putUnsigned(buf, at, v3);
    buf[at++] = 26;
    buf[at++] = stackLabel;
    buf[at++] = 8;
    buf[at++] = 1;
    if (stackId) {
      buf[at++] = 24;
      at = putUnsigned(buf, at, stackId);
    }
    if (live) {
      buf[at++] = 26;
      buf[at++] = oldestLabel;
      buf[at++] = 8;
      buf[at++] = 2;
      if (oldest) {
        buf[at++] = 24;
        at = putUnsigned(buf, at, oldest);
      }
      buf[at++] = 26;
      buf[at++] = meanLabel;
      buf[at++] = 8;
      buf[at++] = 3;
      if (mean) {
        buf[at++] = 24;
        at = putUnsigned(buf, at, mean);
      }
    }
    at = copyBytes(buf, at, kindLabels, 0, kindLabels.length);
    if (seenLabel) {
      buf[at++] = 26;
      buf[at++] = seenLabel;
      buf[at++] = 8;
      buf[at++] = FIRST_SEEN_KEY;
      buf[at++] = 24;
      at = putUnsigned(buf, at, seen);
    }
    out.length = at;
  }

  /** writeSample for values the fast path does not write (negative, fractional, huge): as pprof-format writes them. */
  private writeSampleSlowly(
    out: Bytes, locations: Uint8Array, stackId: number, values: number[], live: boolean, oldest: number, mean: number,
    length: number, valuesLength: number, stackLabel: number, oldestLabel: number, meanLabel: number,
  ): void {
    out.byte(18);
    out.varint(length);
    out.append(locations);
    out.byte(18);
    out.varint(valuesLength);
    for (const value of values) out.varint(value);
    out.byte(26);
    out.varint(stackLabel);
    out.field(8, 1);
    out.field(24, stackId);
    if (live) {
      out.byte(26);
      out.varint(oldestLabel);
      out.field(8, 2);
      out.field(24, oldest);
      out.byte(26);
      out.varint(meanLabel);
      out.field(8, 3);
      out.field(24, mean);
    }
  }
}

/** A frame as decodeHeapProfile gives it back. */
function decodedFrame(frame: SourceFrame, common: Pick<HeapProfileFrame, 'address' | 'mappingFile'>): HeapProfileFrame {
  const decoded: HeapProfileFrame = { functionName: frame.functionName, ...common };
  if (frame.fileName) decoded.fileName = frame.fileName;
  const line = decodedNumber(frame.line ?? 0);
  if (line > 0) decoded.line = line;
  return decoded;
}
