/**
 * Reading heap profiles straight into a series (series.ts), for runs too long to hold as decoded profiles:
 * a run directory's snapshots/ when `leakhunt report` analyses it again or draws its flame graph. A profile of
 * 50 000 samples decodes in tens of milliseconds this way instead of hundreds, and only its samples with in-use
 * bytes are kept.
 *
 * It reads the protobuf itself, only what the series needs, and gives exactly what decodeHeapProfile followed by
 * seriesOfProfiles gives. Whenever a profile is anything but plain (a field it does not expect, an index out of
 * range, a value it would have to guess at), it hands that profile to decodeHeapProfile, which gives the same result
 * or the same error.
 */
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { SeriesPoint } from './series.js';
import { decodeHeapProfile, sampleValueIndex, type HeapProfileFrame } from './read.js';
import { NotPlain, Wire } from './protobuf.js';

/** Something the fast path does not handle: the reference decoder takes the profile over. */
interface Location {
  frames: HeapProfileFrame[];
  /** Index of these frames in the reader's table of distinct locations. */
  global: number;
}

const utf8 = new TextDecoder();
const latin1 = new TextDecoder('latin1');
/** Location ids up to this are looked up in an array; a profile with larger ones is read the reference way. */
const MAX_DENSE_ID = 1 << 24;

function frameKey(frame: HeapProfileFrame): string {
  const optional = (value: unknown) => (value === undefined ? '\u0003' : String(value));
  return `${frame.functionName}\u0001${optional(frame.fileName)}\u0001${optional(frame.line)}\u0001${optional(frame.address)}\u0001${optional(frame.mappingFile)}`;
}

/**
 * Reads profiles one by one into series points sharing one table of stacks (see the top of this file). Samples
 * alike in every frame share a stack, as in seriesOfProfiles.
 */
export class ProfileSeriesReader {
  readonly stacks: HeapProfileFrame[][] = [];
  private readonly stackIndex = new Map<string, number>();
  private readonly locationIndex = new Map<string, number>();
  /** Profiles the reference decoder read (not plain, or damaged). */
  slowReads = 0;
  /** The stack of each packed location-id field seen, while the profiles keep their location ids. */
  private readonly stackOfField = new Map<string, number>();
  /** The last profile read fast: its locations' distinct-location numbers by id. */
  private previousById: number[] | undefined;

  /**
   * One profile (gzipped or not) as a series point at `timeSec` (default: its own time, as seconds since `startSec`).
   * Throws what decodeHeapProfile throws for a damaged profile. Returns its timeNanos too.
   */
  read(bytes: Uint8Array, name: string, timeSec: (timeNanos: bigint) => number): SeriesPoint {
    let data = bytes;
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        data = gunzipSync(bytes);
      } catch {
        return this.readSlowly(bytes, name, timeSec);
      }
    }
    try {
      return this.readPlain(data, timeSec);
    } catch (error) {
      if (error instanceof NotPlain || error instanceof RangeError || error instanceof TypeError) return this.readSlowly(data, name, timeSec);
      throw error;
    }
  }

  /** The reference: decodeHeapProfile, then its samples with in-use bytes into this reader's stacks. */
  private readSlowly(bytes: Uint8Array, name: string, timeSec: (timeNanos: bigint) => number): SeriesPoint {
    this.slowReads++;
    const profile = decodeHeapProfile(bytes, name);
    const inuseAt = sampleValueIndex(profile, 'inuse_space');
    const samples = profile.samples.filter((sample) => (sample.values[inuseAt] ?? 0) !== 0);
    const stackOf = new Int32Array(samples.length);
    const inuse = new Float64Array(samples.length);
    const oldestAgeMs = new Float64Array(samples.length);
    const meanAgeMs = new Float64Array(samples.length);
    samples.forEach((sample, i) => {
      stackOf[i] = this.stackOfFrames(sample.stack.map((frame) => [frame]), sample.stack.map(frameKey));
      inuse[i] = sample.values[inuseAt]!;
      const oldest = sample.labels['oldest_live_age_ms'];
      const mean = sample.labels['mean_live_age_ms'];
      oldestAgeMs[i] = typeof oldest === 'number' ? oldest : NaN;
      meanAgeMs[i] = typeof mean === 'number' ? mean : NaN;
    });
    return { timeSec: timeSec(profile.timeNanos), stackOf, inuse, oldestAgeMs, meanAgeMs };
  }

  /** The index of the stack made of these locations' frames; `keys` are what tells them apart. */
  private stackOfFrames(frames: HeapProfileFrame[][], keys: readonly (string | number)[]): number {
    const key = keys.join('\u0002');
    let index = this.stackIndex.get(key);
    if (index === undefined) {
      index = this.stacks.length;
      this.stacks.push(frames.flat());
      this.stackIndex.set(key, index);
    }
    return index;
  }

  /** The fast path: see the top of this file. Throws NotPlain (or a RangeError) for what it does not handle. */
  private readPlain(data: Uint8Array, timeSec: (timeNanos: bigint) => number): SeriesPoint {
    const profile = scanProfile(data);
    checkStrings(profile);
    const inuseAt = profile.sampleTypes.map((type) => stringAt(profile.strings, type)).indexOf('inuse_space');
    if (inuseAt < 0) throw new NotPlain();
    const { locations, byId } = this.readLocations(data, profile);
    // The same locations as the profile before (by id)? Then a sample's location field names the same stack as
    // there: samples are looked up by those bytes.
    const sameLocations = this.previousById !== undefined && this.previousById.every((global, id) => byId[id] === global);
    if (!sameLocations) this.stackOfField.clear();
    this.previousById = byId;
    return { timeSec: timeSec(profile.timeNanos), ...this.readSamples(data, profile, inuseAt, locations, byId) };
  }

  /** Locations: their frames as decodeHeapProfile makes them, each distinct list of frames numbered once. */
  private readLocations(data: Uint8Array, profile: PlainProfile): { locations: Map<number, Location>; byId: number[] } {
    const locations = new Map<number, Location>();
    /** Each location id's distinct-location number (-1: no such location). */
    const byId: number[] = [];
    for (const [start, end] of profile.locationMessages) {
      const { id, mappingId, address, lines } = scanLocation(new Wire(data, start, end));
      const mapping = mappingId === 0 ? undefined : profile.mappings.get(mappingId);
      if ((mappingId !== 0 && !mapping) || locations.has(id) || id > MAX_DENSE_ID) throw new NotPlain();
      const frames = locationFrames(profile, mapping, address, lines);
      const key = frames.map(frameKey).join('\u0002');
      let global = this.locationIndex.get(key);
      if (global === undefined) {
        global = this.locationIndex.size;
        this.locationIndex.set(key, global);
      }
      locations.set(id, { frames, global });
      byId[id] = global;
    }
    return { locations, byId };
  }

  /** Samples: every one checked as decodeHeapProfile would; the ones with in-use bytes kept. */
  private readSamples(
    data: Uint8Array, profile: PlainProfile, inuseAt: number, locations: Map<number, Location>, byId: readonly number[],
  ): Omit<SeriesPoint, 'timeSec'> {
    const strings = profile.strings;
    const oldestKey = strings.indexOf('oldest_live_age_ms');
    const meanKey = strings.indexOf('mean_live_age_ms');
    // Labels are told apart by their text: a name in the table twice is not plain.
    if (strings.lastIndexOf('oldest_live_age_ms') !== oldestKey || strings.lastIndexOf('mean_live_age_ms') !== meanKey) throw new NotPlain();
    const stackOf: number[] = [];
    const inuse: number[] = [];
    const oldestAges: number[] = [];
    const meanAges: number[] = [];
    const sample = new SampleScan(data);
    for (let k = 0; k < profile.samples.length; k += 2) {
      sample.scan(profile.samples[k]!, profile.samples[k + 1]!, strings, oldestKey, meanKey);
      if (sample.values.length !== profile.sampleTypes.length) throw new NotPlain();
      for (const id of sample.ids) if (!(byId[id]! >= 0)) throw new NotPlain();
      const bytes = sample.values[inuseAt]!;
      if (bytes === 0) continue;
      // One packed location field: its bytes say which stack (see sameLocations), else its locations do.
      const fieldKey = sample.fieldStart >= 0 ? latin1.decode(data.subarray(sample.fieldStart, sample.fieldEnd)) : undefined;
      let stack = fieldKey === undefined ? undefined : this.stackOfField.get(fieldKey);
      if (stack === undefined) {
        stack = this.stackOfFrames(sample.ids.map((id) => locations.get(id)!.frames), sample.ids.map((id) => byId[id]!));
        if (fieldKey !== undefined) this.stackOfField.set(fieldKey, stack);
      }
      stackOf.push(stack);
      inuse.push(bytes);
      oldestAges.push(sample.oldest);
      meanAges.push(sample.mean);
    }
    return {
      stackOf: Int32Array.from(stackOf), inuse: Float64Array.from(inuse), oldestAgeMs: Float64Array.from(oldestAges), meanAgeMs: Float64Array.from(meanAges),
    };
  }
}

/** What the fast path reads of a profile's top level; locations and samples stay as byte ranges until needed. */
interface PlainProfile {
  strings: string[];
  /** Each sample type's type string index. */
  sampleTypes: number[];
  /** Where each sample message starts and ends. */
  samples: number[];
  mappings: Map<number, { file: number; memoryStart: bigint; fileOffset: bigint }>;
  functions: Map<number, { name: number; fileName: number }>;
  locationMessages: [number, number][];
  timeNanos: bigint;
  /** String indexes decodeHeapProfile looks up (and refuses a profile for, out of range). */
  checkedStrings: number[];
}

function scanProfile(data: Uint8Array): PlainProfile {
  const p: PlainProfile = {
    strings: [], sampleTypes: [], samples: [], mappings: new Map(), functions: new Map(), locationMessages: [], timeNanos: 0n, checkedStrings: [],
  };
  const top = new Wire(data, 0, data.length);
  while (top.more) {
    const tag = top.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === 2) {
      const [start, end] = top.bytes();
      const [type, unit] = valueType(new Wire(data, start, end));
      p.sampleTypes.push(type);
      p.checkedStrings.push(unit);
    } else if (field === 2 && wireType === 2) {
      const end = top.open();
      p.samples.push(top.at, end);
      top.at = end;
    } else if (field === 3 && wireType === 2) {
      const [start, end] = top.bytes();
      const { id, ...mapping } = scanMapping(new Wire(data, start, end));
      if (p.mappings.has(id)) throw new NotPlain();
      p.mappings.set(id, mapping);
    } else if (field === 4 && wireType === 2) {
      p.locationMessages.push(top.bytes());
    } else if (field === 5 && wireType === 2) {
      const [start, end] = top.bytes();
      const { id, ...fn } = scanFunction(new Wire(data, start, end));
      if (p.functions.has(id)) throw new NotPlain();
      p.functions.set(id, fn);
    } else if (field === 6 && wireType === 2) {
      const [start, end] = top.bytes();
      p.strings.push(utf8.decode(data.subarray(start, end)));
    } else if (field === 9 && wireType === 0) {
      p.timeNanos = BigInt.asIntN(64, top.bigVarint());
    } else if (field === 11 && wireType === 2) {
      const [start, end] = top.bytes();
      p.checkedStrings.push(...valueType(new Wire(data, start, end)));
    } else if (field === 14 && wireType === 0) {
      p.checkedStrings.push(top.varint());
    } else if (field === 7 || field === 8 || field === 10 || field === 12 || field === 13 || field === 15) {
      top.skip(wireType);
    } else {
      throw new NotPlain();
    }
  }
  return p;
}

function stringAt(strings: readonly string[], index: number): string {
  const value = strings[index];
  if (value === undefined) throw new NotPlain();
  return value;
}

/** Every string index decodeHeapProfile would look up is in the table. */
function checkStrings(p: PlainProfile): void {
  for (const index of p.checkedStrings) stringAt(p.strings, index);
  for (const type of p.sampleTypes) stringAt(p.strings, type);
  for (const f of p.functions.values()) {
    stringAt(p.strings, f.name);
    stringAt(p.strings, f.fileName);
  }
  for (const m of p.mappings.values()) stringAt(p.strings, m.file);
}

function scanMapping(m: Wire): { id: number; file: number; memoryStart: bigint; fileOffset: bigint } {
  let id = 0;
  let file = 0;
  let memoryStart = 0n;
  let fileOffset = 0n;
  while (m.more) {
    const t = m.varint();
    const f = t >>> 3;
    if ((t & 7) !== 0) m.skip(t & 7);
    else if (f === 1) id = m.varint();
    else if (f === 2) memoryStart = m.bigVarint();
    else if (f === 4) fileOffset = m.bigVarint();
    else if (f === 5) file = m.varint();
    else m.skip(0);
  }
  return { id, file, memoryStart, fileOffset };
}

function scanFunction(m: Wire): { id: number; name: number; fileName: number } {
  let id = 0;
  let name = 0;
  let fileName = 0;
  while (m.more) {
    const t = m.varint();
    const f = t >>> 3;
    if ((t & 7) !== 0) m.skip(t & 7);
    else if (f === 1) id = m.varint();
    else if (f === 2) name = m.varint();
    else if (f === 4) fileName = m.varint();
    else m.skip(0);
  }
  return { id, name, fileName };
}

function scanLocation(m: Wire): { id: number; mappingId: number; address: bigint; lines: [number, number][] } {
  let id = 0;
  let mappingId = 0;
  let address = 0n;
  const lines: [number, number][] = [];
  while (m.more) {
    const t = m.varint();
    const f = t >>> 3;
    const w = t & 7;
    if (f === 4 && w === 2) {
      const [start, end] = m.bytes();
      lines.push(scanLine(new Wire(m.buf, start, end)));
    } else if (w !== 0) {
      m.skip(w);
    } else if (f === 1) {
      id = m.varint();
    } else if (f === 2) {
      mappingId = m.varint();
    } else if (f === 3) {
      address = m.bigVarint();
    } else {
      m.skip(0);
    }
  }
  return { id, mappingId, address, lines };
}

/** A Line: [function id, line number]. */
function scanLine(line: Wire): [number, number] {
  let functionId = 0;
  let lineNumber = 0;
  while (line.more) {
    const lt = line.varint();
    if ((lt & 7) !== 0) line.skip(lt & 7);
    else if (lt >>> 3 === 1) functionId = line.varint();
    else if (lt >>> 3 === 2) lineNumber = line.varint();
    else line.skip(0);
  }
  return [functionId, lineNumber];
}

/** A location's frames as decodeHeapProfile makes them: one per line, or one named by its address. */
function locationFrames(
  p: PlainProfile, mapping: { file: number; memoryStart: bigint; fileOffset: bigint } | undefined, address: bigint, lines: readonly [number, number][],
): HeapProfileFrame[] {
  const common: Pick<HeapProfileFrame, 'address' | 'mappingFile'> = {};
  if (address !== 0n) common.address = address;
  const mappingFile = mapping ? p.strings[mapping.file]! : '';
  if (mappingFile) common.mappingFile = mappingFile;
  const frames = lines.map(([functionId, lineNumber]): HeapProfileFrame => {
    const fn = p.functions.get(functionId);
    if (!fn) throw new NotPlain();
    const frame: HeapProfileFrame = { functionName: p.strings[fn.name]!, ...common };
    const fileName = p.strings[fn.fileName]!;
    if (fileName) frame.fileName = fileName;
    if (lineNumber > 0) frame.line = lineNumber;
    return frame;
  });
  if (frames.length === 0) {
    const functionName = mapping && mappingFile
      ? `${basename(mappingFile)}+0x${(address - mapping.memoryStart + mapping.fileOffset).toString(16)}`
      : `0x${address.toString(16)}`;
    frames.push({ functionName, ...common });
  }
  return frames;
}

/** One sample's fields, scanned into reused arrays. */
class SampleScan {
  readonly ids: number[] = [];
  readonly values: number[] = [];
  oldest = NaN;
  mean = NaN;
  /** The packed location-id field, when the sample has exactly one (-1: none, or not one packed field). */
  fieldStart = -2;
  fieldEnd = -1;
  private readonly m: Wire;
  private readonly label: Wire;

  constructor(data: Uint8Array) {
    this.m = new Wire(data, 0, 0);
    this.label = new Wire(data, 0, 0);
  }

  scan(start: number, end: number, strings: readonly string[], oldestKey: number, meanKey: number): void {
    const m = this.m;
    m.at = start;
    m.end = end;
    this.ids.length = 0;
    this.values.length = 0;
    this.oldest = NaN;
    this.mean = NaN;
    this.fieldStart = -2;
    this.fieldEnd = -1;
    while (m.more) {
      const t = m.varint();
      const f = t >>> 3;
      const w = t & 7;
      if (f === 1) {
        const at = m.at;
        m.numbers(w, this.ids);
        if (w === 2 && this.fieldStart === -2) {
          this.fieldStart = at;
          this.fieldEnd = m.at;
        } else {
          this.fieldStart = -1;
        }
      } else if (f === 2) {
        m.numbers(w, this.values);
      } else if (f === 3 && w === 2) {
        const le = m.open();
        this.label.at = m.at;
        this.label.end = le;
        m.at = le;
        this.scanLabel(strings, oldestKey, meanKey);
      } else {
        throw new NotPlain();
      }
    }
  }

  private scanLabel(strings: readonly string[], oldestKey: number, meanKey: number): void {
    const label = this.label;
    let key = 0;
    let str = 0;
    let num = 0;
    while (label.more) {
      const lt = label.varint();
      if ((lt & 7) !== 0) label.skip(lt & 7);
      else if (lt >>> 3 === 1) key = label.varint();
      else if (lt >>> 3 === 2) str = label.varint();
      else if (lt >>> 3 === 3) num = label.varint();
      else label.skip(0);
    }
    stringAt(strings, key);
    stringAt(strings, str);
    // A label given twice keeps its last value, as decodeHeapProfile's record does.
    if (key === oldestKey && oldestKey > 0) this.oldest = str !== 0 ? NaN : num;
    if (key === meanKey && meanKey > 0) this.mean = str !== 0 ? NaN : num;
  }
}

/** A ValueType's type and unit string indexes. */
function valueType(m: Wire): [number, number] {
  let type = 0;
  let unit = 0;
  while (m.more) {
    const t = m.varint();
    if ((t & 7) !== 0) m.skip(t & 7);
    else if (t >>> 3 === 1) type = m.varint();
    else if (t >>> 3 === 2) unit = m.varint();
    else m.skip(0);
  }
  return [type, unit];
}
