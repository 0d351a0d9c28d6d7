/**
 * The protobuf scanning behind ProfileSeriesReader's fast path (series-read.ts): a profile's top level, its
 * mappings, functions, locations and samples, read field by field. Anything it does not expect throws NotPlain, and
 * the reader hands the profile to decodeHeapProfile instead.
 */
import { basename } from 'node:path';
import { NotPlain, Wire } from './protobuf.js';
import type { HeapProfileFrame } from './read.js';

const utf8 = new TextDecoder();

/** What the fast path reads of a profile's top level; locations and samples stay as byte ranges until needed. */
export interface PlainProfile {
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

export function scanProfile(data: Uint8Array): PlainProfile {
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

export function stringAt(strings: readonly string[], index: number): string {
  const value = strings[index];
  if (value === undefined) throw new NotPlain();
  return value;
}

/** Every string index decodeHeapProfile would look up is in the table. */
export function checkStrings(p: PlainProfile): void {
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

export function scanLocation(m: Wire): { id: number; mappingId: number; address: bigint; lines: [number, number][] } {
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
export function locationFrames(
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

/** The string indexes of the label keys the series reads (0: not in the profile). */
export interface LabelKeys {
  oldest: number;
  mean: number;
  kind: number;
  mapping: number;
  firstSeen: number;
}

/** One sample's fields, scanned into reused arrays. */
export class SampleScan {
  readonly ids: number[] = [];
  readonly values: number[] = [];
  oldest = NaN;
  mean = NaN;
  /** Its first_seen_bytes label's value (0: none), and whether it has that label. */
  firstSeen = 0;
  hasFirstSeen = false;
  /** The string index of its `kind` and `mapping` labels' text (0: none, or a number label). */
  kind = 0;
  mapping = 0;
  /** The packed location-id field, when the sample has exactly one (-1: none, or not one packed field). */
  fieldStart = -2;
  fieldEnd = -1;
  private readonly m: Wire;
  private readonly label: Wire;

  constructor(data: Uint8Array) {
    this.m = new Wire(data, 0, 0);
    this.label = new Wire(data, 0, 0);
  }

  scan(start: number, end: number, strings: readonly string[], keys: LabelKeys): void {
    const m = this.m;
    m.at = start;
    m.end = end;
    this.ids.length = 0;
    this.values.length = 0;
    this.oldest = NaN;
    this.mean = NaN;
    this.firstSeen = 0;
    this.hasFirstSeen = false;
    this.kind = 0;
    this.mapping = 0;
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
        this.scanLabel(strings, keys);
      } else {
        throw new NotPlain();
      }
    }
  }

  private scanLabel(strings: readonly string[], keys: LabelKeys): void {
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
    if (key === keys.oldest && keys.oldest > 0) this.oldest = str !== 0 ? NaN : num;
    if (key === keys.mean && keys.mean > 0) this.mean = str !== 0 ? NaN : num;
    if (key === keys.kind && keys.kind > 0) this.kind = str;
    if (key === keys.mapping && keys.mapping > 0) this.mapping = str;
    if (key === keys.firstSeen && keys.firstSeen > 0) {
      this.hasFirstSeen = true;
      this.firstSeen = str !== 0 ? 0 : num;
    }
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
