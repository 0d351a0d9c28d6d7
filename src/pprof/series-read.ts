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
import { gunzipSync } from 'node:zlib';
import type { SiteKind } from '../snapshot/types.js';
import { firstSeenLabel, kindLabel, siteKindOfLabels } from './build.js';
import { carriesFirstSeen, firstSeenOfLabels, SeenBirths, type SeriesPoint } from './series.js';
import { decodeHeapProfile, sampleValueIndex, type HeapProfileFrame } from './read.js';
import { NotPlain, Wire } from './protobuf.js';
import {
  checkStrings, locationFrames, SampleScan, scanLocation, scanProfile, stringAt, type LabelKeys, type PlainProfile,
} from './series-scan.js';

/** Something the fast path does not handle: the reference decoder takes the profile over. */
interface Location {
  frames: HeapProfileFrame[];
  /** Index of these frames in the reader's table of distinct locations. */
  global: number;
}

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
  /** The kind of each of `stacks` (its samples' labels). */
  readonly stackKinds: SiteKind[] = [];
  private readonly stackIndex = new Map<string, number>();
  private readonly locationIndex = new Map<string, number>();
  /** Profiles the reference decoder read (not plain, or damaged). */
  slowReads = 0;
  /** The stack of each packed location-id field seen, while the profiles keep their location ids. */
  private readonly stackOfField = new Map<string, number>();
  /** The last profile read fast: its locations' distinct-location numbers by id. */
  private previousById: number[] | undefined;
  private readonly seen = new SeenBirths();

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
    const objectsAt = sampleValueIndex(profile, 'inuse_objects');
    const allocAt = sampleValueIndex(profile, 'alloc_space');
    const samples = profile.samples.filter((sample) => (sample.values[inuseAt] ?? 0) !== 0);
    const stackOf = new Int32Array(samples.length);
    const inuse = new Float64Array(samples.length);
    const objects = objectsAt < 0 ? undefined : new Float32Array(samples.length);
    const allocBytes = allocAt < 0 ? undefined : new Float64Array(samples.length);
    const oldestAgeMs = new Float64Array(samples.length);
    const meanAgeMs = new Float64Array(samples.length);
    const firstSeenBytes = new Float64Array(samples.length);
    samples.forEach((sample, i) => {
      stackOf[i] = this.stackOfFrames(sample.stack.map((frame) => [frame]), sample.stack.map(frameKey), siteKindOfLabels(sample.labels));
      inuse[i] = sample.values[inuseAt]!;
      if (objects) objects[i] = sample.values[objectsAt] ?? 0;
      if (allocBytes) allocBytes[i] = sample.values[allocAt] ?? 0;
      const oldest = sample.labels['oldest_live_age_ms'];
      const mean = sample.labels['mean_live_age_ms'];
      oldestAgeMs[i] = typeof oldest === 'number' ? oldest : NaN;
      meanAgeMs[i] = typeof mean === 'number' ? mean : NaN;
      firstSeenBytes[i] = firstSeenOfLabels(sample.labels);
    });
    return {
      timeSec: timeSec(profile.timeNanos), stackOf, inuse, ...(objects ? { objects } : {}), oldestAgeMs, meanAgeMs, ...(allocBytes ? { allocBytes } : {}),
      ...(carriesFirstSeen(profile) ? { seenBirths: this.seen.of(stackOf, firstSeenBytes) } : {}),
    };
  }

  /** The index of the stack of `kind` made of these locations' frames; `keys` are what tells them apart. */
  private stackOfFrames(frames: HeapProfileFrame[][], keys: readonly (string | number)[], kind: SiteKind): number {
    const key = `${kind}\u0004${keys.join('\u0002')}`;
    let index = this.stackIndex.get(key);
    if (index === undefined) {
      index = this.stacks.length;
      this.stacks.push(frames.flat());
      this.stackKinds.push(kind);
      this.stackIndex.set(key, index);
    }
    return index;
  }

  /** The fast path: see the top of this file. Throws NotPlain (or a RangeError) for what it does not handle. */
  private readPlain(data: Uint8Array, timeSec: (timeNanos: bigint) => number): SeriesPoint {
    const profile = scanProfile(data);
    checkStrings(profile);
    const types = profile.sampleTypes.map((type) => stringAt(profile.strings, type));
    const inuseAt = types.indexOf('inuse_space');
    if (inuseAt < 0) throw new NotPlain();
    const objectsAt = types.indexOf('inuse_objects');
    const allocAt = types.indexOf('alloc_space');
    const { locations, byId } = this.readLocations(data, profile);
    // The same locations as the profile before (by id)? Then a sample's location field names the same stack as
    // there: samples are looked up by those bytes.
    const sameLocations = this.previousById !== undefined && this.previousById.every((global, id) => byId[id] === global);
    if (!sameLocations) this.stackOfField.clear();
    this.previousById = byId;
    return { timeSec: timeSec(profile.timeNanos), ...this.readSamples(data, profile, inuseAt, objectsAt, allocAt, locations, byId) };
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
    data: Uint8Array, profile: PlainProfile, inuseAt: number, objectsAt: number, allocAt: number, locations: Map<number, Location>,
    byId: readonly number[],
  ): Omit<SeriesPoint, 'timeSec'> {
    const strings = profile.strings;
    const keyOf = (name: string) => {
      const index = strings.indexOf(name);
      // Labels are told apart by their text: a name in the table twice is not plain.
      if (strings.lastIndexOf(name) !== index) throw new NotPlain();
      return index;
    };
    const keys: LabelKeys = {
      oldest: keyOf('oldest_live_age_ms'), mean: keyOf('mean_live_age_ms'), kind: keyOf(kindLabel.key), mapping: keyOf(kindLabel.mappingKey),
      firstSeen: keyOf(firstSeenLabel),
    };
    const kindOf = (sample: SampleScan): SiteKind => {
      if (sample.kind === 0 || strings[sample.kind] !== kindLabel.mmap) return 'malloc';
      return sample.mapping !== 0 && strings[sample.mapping] === kindLabel.file ? 'mmap-file' : 'mmap-anon';
    };
    const stackOf: number[] = [];
    const inuse: number[] = [];
    const objects: number[] = [];
    const allocs: number[] = [];
    const oldestAges: number[] = [];
    const meanAges: number[] = [];
    const firstSeen: number[] = [];
    /** Whether any sample has the first_seen_bytes label, with in-use bytes or not (as seriesOfProfiles asks). */
    let anyFirstSeen = false;
    const sample = new SampleScan(data);
    for (let k = 0; k < profile.samples.length; k += 2) {
      sample.scan(profile.samples[k]!, profile.samples[k + 1]!, strings, keys);
      if (sample.values.length !== profile.sampleTypes.length) throw new NotPlain();
      for (const id of sample.ids) if (!(byId[id]! >= 0)) throw new NotPlain();
      if (sample.hasFirstSeen) anyFirstSeen = true;
      const bytes = sample.values[inuseAt]!;
      if (bytes === 0) continue;
      // One packed location field: its bytes and the kind say which stack (see sameLocations), else its locations do.
      const kind = kindOf(sample);
      const fieldKey = sample.fieldStart >= 0 ? `${kind}\u0004${latin1.decode(data.subarray(sample.fieldStart, sample.fieldEnd))}` : undefined;
      let stack = fieldKey === undefined ? undefined : this.stackOfField.get(fieldKey);
      if (stack === undefined) {
        stack = this.stackOfFrames(sample.ids.map((id) => locations.get(id)!.frames), sample.ids.map((id) => byId[id]!), kind);
        if (fieldKey !== undefined) this.stackOfField.set(fieldKey, stack);
      }
      stackOf.push(stack);
      inuse.push(bytes);
      if (objectsAt >= 0) objects.push(sample.values[objectsAt]!);
      if (allocAt >= 0) allocs.push(sample.values[allocAt]!);
      oldestAges.push(sample.oldest);
      meanAges.push(sample.mean);
      firstSeen.push(sample.firstSeen);
    }
    const stacks = Int32Array.from(stackOf);
    return {
      stackOf: stacks, inuse: Float64Array.from(inuse), ...(objectsAt >= 0 ? { objects: Float32Array.from(objects) } : {}), oldestAgeMs: Float64Array.from(oldestAges), meanAgeMs: Float64Array.from(meanAges),
      ...(allocAt >= 0 ? { allocBytes: Float64Array.from(allocs) } : {}),
      ...(anyFirstSeen ? { seenBirths: this.seen.of(stacks, firstSeen) } : {}),
    };
  }
}
