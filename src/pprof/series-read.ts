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

  private readPlain(data: Uint8Array, timeSec: (timeNanos: bigint) => number): SeriesPoint {
    const top = new Wire(data, 0, data.length);
    const strings: string[] = [];
    const sampleTypes: number[] = [];
    /** Where each sample message starts and ends. */
    const samples: number[] = [];
    const mappings = new Map<number, { file: number; memoryStart: bigint; fileOffset: bigint }>();
    const functions = new Map<number, { name: number; fileName: number }>();
    const locationMessages: [number, number][] = [];
    let timeNanos = 0n;
    /** String indexes decodeHeapProfile looks up (and refuses a profile for, out of range). */
    const checkedStrings: number[] = [];
    while (top.more) {
      const tag = top.varint();
      const field = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (field === 1 && wireType === 2) {
        const [start, end] = top.bytes();
        const [type, unit] = valueType(new Wire(data, start, end));
        sampleTypes.push(type);
        checkedStrings.push(unit);
      } else if (field === 2 && wireType === 2) {
        const end = top.open();
        samples.push(top.at, end);
        top.at = end;
      } else if (field === 3 && wireType === 2) {
        const [start, end] = top.bytes();
        const m = new Wire(data, start, end);
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
        if (mappings.has(id)) throw new NotPlain();
        mappings.set(id, { file, memoryStart, fileOffset });
      } else if (field === 4 && wireType === 2) {
        locationMessages.push(top.bytes());
      } else if (field === 5 && wireType === 2) {
        const [start, end] = top.bytes();
        const m = new Wire(data, start, end);
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
        if (functions.has(id)) throw new NotPlain();
        functions.set(id, { name, fileName });
      } else if (field === 6 && wireType === 2) {
        const [start, end] = top.bytes();
        strings.push(utf8.decode(data.subarray(start, end)));
      } else if (field === 9 && wireType === 0) {
        timeNanos = BigInt.asIntN(64, top.bigVarint());
      } else if (field === 11 && wireType === 2) {
        const [start, end] = top.bytes();
        checkedStrings.push(...valueType(new Wire(data, start, end)));
      } else if (field === 14 && wireType === 0) {
        checkedStrings.push(top.varint());
      } else if (field === 7 || field === 8 || field === 10 || field === 12 || field === 13 || field === 15) {
        top.skip(wireType);
      } else {
        throw new NotPlain();
      }
    }
    const text = (index: number): string => {
      const value = strings[index];
      if (value === undefined) throw new NotPlain();
      return value;
    };
    for (const index of checkedStrings) text(index);
    const typeNames = sampleTypes.map(text);
    const inuseAt = typeNames.indexOf('inuse_space');
    if (inuseAt < 0) throw new NotPlain();
    for (const f of functions.values()) {
      text(f.name);
      text(f.fileName);
    }
    for (const m of mappings.values()) text(m.file);

    // Locations: their frames as decodeHeapProfile makes them, each distinct list of frames numbered once.
    const locations = new Map<number, Location>();
    /** Each location id's distinct-location number (-1: no such location). */
    const byId: number[] = [];
    for (const [start, end] of locationMessages) {
      const m = new Wire(data, start, end);
      let id = 0;
      let mappingId = 0;
      let address = 0n;
      const lines: [number, number][] = [];
      while (m.more) {
        const t = m.varint();
        const f = t >>> 3;
        const w = t & 7;
        if (f === 4 && w === 2) {
          const [ls, le] = m.bytes();
          const line = new Wire(data, ls, le);
          let functionId = 0;
          let lineNumber = 0;
          while (line.more) {
            const lt = line.varint();
            if ((lt & 7) !== 0) line.skip(lt & 7);
            else if (lt >>> 3 === 1) functionId = line.varint();
            else if (lt >>> 3 === 2) lineNumber = line.varint();
            else line.skip(0);
          }
          lines.push([functionId, lineNumber]);
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
      const mapping = mappingId === 0 ? undefined : mappings.get(mappingId);
      if ((mappingId !== 0 && !mapping) || locations.has(id) || id > MAX_DENSE_ID) throw new NotPlain();
      const common: Pick<HeapProfileFrame, 'address' | 'mappingFile'> = {};
      if (address !== 0n) common.address = address;
      const mappingFile = mapping ? strings[mapping.file]! : '';
      if (mappingFile) common.mappingFile = mappingFile;
      const frames = lines.map(([functionId, lineNumber]): HeapProfileFrame => {
        const fn = functions.get(functionId);
        if (!fn) throw new NotPlain();
        const frame: HeapProfileFrame = { functionName: strings[fn.name]!, ...common };
        const fileName = strings[fn.fileName]!;
        if (fileName) frame.fileName = fileName;
        if (lineNumber > 0) frame.line = lineNumber;
        return frame;
      });
      if (frames.length === 0) {
        const functionName = mappingFile
          ? `${basename(mappingFile)}+0x${(address - mapping!.memoryStart + mapping!.fileOffset).toString(16)}`
          : `0x${address.toString(16)}`;
        frames.push({ functionName, ...common });
      }
      const key = frames.map(frameKey).join('\u0002');
      let global = this.locationIndex.get(key);
      if (global === undefined) {
        global = this.locationIndex.size;
        this.locationIndex.set(key, global);
      }
      locations.set(id, { frames, global });
      byId[id] = global;
    }
    // The same locations as the profile before (by id)? Then a sample's location field names the same stack as
    // there: samples are looked up by those bytes.
    const sameLocations = this.previousById !== undefined && this.previousById.every((global, id) => byId[id] === global);
    if (!sameLocations) this.stackOfField.clear();
    this.previousById = byId;

    // Samples: every one checked as decodeHeapProfile would; the ones with in-use bytes kept.
    const oldestKey = strings.indexOf('oldest_live_age_ms');
    const meanKey = strings.indexOf('mean_live_age_ms');
    // Labels are told apart by their text: a name in the table twice is not plain.
    if (strings.lastIndexOf('oldest_live_age_ms') !== oldestKey || strings.lastIndexOf('mean_live_age_ms') !== meanKey) throw new NotPlain();
    const stackOf: number[] = [];
    const inuse: number[] = [];
    const oldestAges: number[] = [];
    const meanAges: number[] = [];
    const ids: number[] = [];
    const values: number[] = [];
    const m = new Wire(data, 0, 0);
    const label = new Wire(data, 0, 0);
    for (let k = 0; k < samples.length; k += 2) {
      m.at = samples[k]!;
      m.end = samples[k + 1]!;
      ids.length = 0;
      values.length = 0;
      let oldest = NaN;
      let mean = NaN;
      /** The packed location-id field, when the sample has exactly one (-1: none, or not one packed field). */
      let fieldStart = -2;
      let fieldEnd = -1;
      while (m.more) {
        const t = m.varint();
        const f = t >>> 3;
        const w = t & 7;
        if (f === 1) {
          const at = m.at;
          m.numbers(w, ids);
          if (w === 2 && fieldStart === -2) {
            fieldStart = at;
            fieldEnd = m.at;
          } else {
            fieldStart = -1;
          }
        } else if (f === 2) {
          m.numbers(w, values);
        } else if (f === 3 && w === 2) {
          const le = m.open();
          label.at = m.at;
          label.end = le;
          m.at = le;
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
          text(key);
          text(str);
          // A label given twice keeps its last value, as decodeHeapProfile's record does.
          if (key === oldestKey && oldestKey > 0) oldest = str !== 0 ? NaN : num;
          if (key === meanKey && meanKey > 0) mean = str !== 0 ? NaN : num;
        } else {
          throw new NotPlain();
        }
      }
      if (values.length !== sampleTypes.length) throw new NotPlain();
      for (const id of ids) if (!(byId[id]! >= 0)) throw new NotPlain();
      const bytes = values[inuseAt]!;
      if (bytes === 0) continue;
      // One packed location field: its bytes say which stack (see sameLocations), else its locations do.
      const fieldKey = fieldStart >= 0 ? latin1.decode(data.subarray(fieldStart, fieldEnd)) : undefined;
      let stack = fieldKey === undefined ? undefined : this.stackOfField.get(fieldKey);
      if (stack === undefined) {
        stack = this.stackOfFrames(ids.map((id) => locations.get(id)!.frames), ids.map((id) => byId[id]!));
        if (fieldKey !== undefined) this.stackOfField.set(fieldKey, stack);
      }
      stackOf.push(stack);
      inuse.push(bytes);
      oldestAges.push(oldest);
      meanAges.push(mean);
    }
    return {
      timeSec: timeSec(timeNanos), stackOf: Int32Array.from(stackOf), inuse: Float64Array.from(inuse),
      oldestAgeMs: Float64Array.from(oldestAges), meanAgeMs: Float64Array.from(meanAges),
    };
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
