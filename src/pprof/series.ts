/**
 * A run's heap profiles in columnar form: every distinct stack once, and for each profile (point) its samples as
 * columns — which stack, how many bytes in use, how old the live blocks are. What the analysis and the report's
 * flame graph read, without an object per sample and snapshot: a run of hundreds of snapshots with tens of
 * thousands of stacks is millions of samples.
 *
 * The processing of a run builds it as it encodes the profiles (encode.ts); seriesOfProfiles builds it from
 * decoded profiles (a run directory's snapshots/, or any pprof heap profiles), with the same result.
 */
import type { SiteKind } from '../snapshot/types.js';
import { firstSeenLabel, siteKindOfLabels } from './build.js';
import { sampleValueIndex, type HeapProfile, type HeapProfileFrame } from './read.js';

/** One heap profile of the series and when it was taken. */
export interface ProfilePoint {
  /** Seconds since the start of the run. */
  timeSec: number;
  profile: HeapProfile;
}

/**
 * One profile: its samples that have in-use bytes (the others add nothing to any analysis, and are most of a long
 * run's samples), in the profile's sample order.
 */
export interface SeriesPoint {
  /** Seconds since the start of the run. */
  timeSec: number;
  /** Each sample's stack, as an index into ProfileSeries.stacks. */
  stackOf: ArrayLike<number>;
  /** Its in-use bytes (inuse_space), never 0; a profile without in-use values has no samples here. */
  inuse: ArrayLike<number>;
  /**
   * Its in-use blocks (inuse_objects, upscaled), when the profile has that sample type: inuse / objects is the mean
   * live block size, which tells a growing container from churn (analyse/containers.ts). Single precision: a count
   * needs no more, and a long run holds millions of them.
   */
  objects?: ArrayLike<number>;
  /**
   * Its oldest_live_age_ms and mean_live_age_ms labels, NaN where it has none. The analysis reads them at the last
   * point only; earlier points may leave them out.
   */
  oldestAgeMs?: ArrayLike<number>;
  meanAgeMs?: ArrayLike<number>;
  /**
   * Its alloc_space: what the stack allocated (upscaled) over the run, when the profile has that sample type. The
   * analysis reads it at the last point only (alloc − inuse is what a site freed again: analyse/rank.ts).
   */
  allocBytes?: ArrayLike<number>;
  /**
   * The births its series saw: for each stack whose first_seen_bytes label rose since that stack's previous sample in
   * the series, by how much (SeenBirths). Absent when no sample of the profile has that label (a profile from before
   * it, or not leakhunt's): then what a site's blocks turned over is not known.
   */
  seenBirths?: SeenBirthsOfPoint;
}

/** A decoded sample's first_seen_bytes label (0: none). */
export function firstSeenOfLabels(labels: Readonly<Record<string, string | number>>): number {
  const value = labels[firstSeenLabel];
  return typeof value === 'number' ? value : 0;
}

/** Whether a decoded profile tells births: any of its samples has the first_seen_bytes label. */
export function carriesFirstSeen(profile: HeapProfile): boolean {
  return profile.samples.some((sample) => firstSeenLabel in sample.labels);
}

/** Stacks (indexes into ProfileSeries.stacks) and the upscaled bytes first seen live since their previous sample. */
export interface SeenBirthsOfPoint {
  stackOf: Int32Array;
  bytes: Float64Array;
}

/**
 * Turns each sample's cumulative first_seen_bytes into the births since the stack's previous sample in the series,
 * kept sparse: most stacks have none at most points. A block counts at the first snapshot it is live in, so its stack
 * has in-use bytes there, and the series (which keeps only samples with in-use bytes) sees it at that point or, when
 * that snapshot was not kept, at the next one that shows the stack. A value that fell (another process image) starts
 * the count again.
 */
export class SeenBirths {
  private last = new Float64Array(256);

  of(stackOf: ArrayLike<number>, firstSeenBytes: ArrayLike<number>): SeenBirthsOfPoint {
    const stacks: number[] = [];
    const bytes: number[] = [];
    for (let i = 0; i < stackOf.length; i++) {
      const stack = stackOf[i]!;
      const value = firstSeenBytes[i]!;
      if (!(value > 0)) continue;
      if (stack >= this.last.length) {
        const grown = new Float64Array(Math.max(stack + 1, this.last.length * 2));
        grown.set(this.last);
        this.last = grown;
      }
      const before = this.last[stack]!;
      const births = value >= before ? value - before : value;
      this.last[stack] = value;
      if (births > 0) {
        stacks.push(stack);
        bytes.push(births);
      }
    }
    return { stackOf: Int32Array.from(stacks), bytes: Float64Array.from(bytes) };
  }
}

export interface ProfileSeries {
  /** Frames of each stack, innermost first, inline levels expanded, as decoded profiles give them. */
  stacks: readonly (readonly HeapProfileFrame[])[];
  /** What each stack allocated (its samples' `kind` labels); absent: malloc, every one. A stack is its frames and
   * its kind: the same frames of two kinds are two stacks. */
  stackKinds?: readonly SiteKind[];
  points: readonly SeriesPoint[];
}

/** The kind of stack `index` of a series. */
export function stackKindOf(series: Pick<ProfileSeries, 'stackKinds'>, index: number): SiteKind {
  return series.stackKinds?.[index] ?? 'malloc';
}

function frameKey(frame: HeapProfileFrame): string {
  const optional = (value: unknown) => (value === undefined ? '\u0003' : String(value));
  return `${frame.functionName}\u0001${optional(frame.fileName)}\u0001${optional(frame.line)}\u0001${optional(frame.address)}\u0001${optional(frame.mappingFile)}`;
}

/** The series of decoded profiles: samples whose frames are alike (all that reports use of them) share a stack. */
export function seriesOfProfiles(points: readonly ProfilePoint[]): ProfileSeries {
  const stacks: HeapProfileFrame[][] = [];
  const stackKinds: SiteKind[] = [];
  const stackIndex = new Map<string, number>();
  const seen = new SeenBirths();
  const seriesPoints = points.map((point): SeriesPoint => {
    const inuseAt = sampleValueIndex(point.profile, 'inuse_space');
    const objectsAt = sampleValueIndex(point.profile, 'inuse_objects');
    const allocAt = sampleValueIndex(point.profile, 'alloc_space');
    const samples = inuseAt < 0 ? [] : point.profile.samples.filter((sample) => (sample.values[inuseAt] ?? 0) !== 0);
    const stackOf = new Int32Array(samples.length);
    const inuse = new Float64Array(samples.length);
    const objects = objectsAt < 0 ? undefined : new Float32Array(samples.length);
    const allocBytes = allocAt < 0 ? undefined : new Float64Array(samples.length);
    const oldestAgeMs = new Float64Array(samples.length);
    const meanAgeMs = new Float64Array(samples.length);
    const firstSeenBytes = new Float64Array(samples.length);
    samples.forEach((sample, i) => {
      const kind = siteKindOfLabels(sample.labels);
      const key = `${kind}\u0004${sample.stack.map(frameKey).join('\u0002')}`;
      let index = stackIndex.get(key);
      if (index === undefined) {
        index = stacks.length;
        stacks.push(sample.stack);
        stackKinds.push(kind);
        stackIndex.set(key, index);
      }
      stackOf[i] = index;
      inuse[i] = sample.values[inuseAt] ?? 0;
      if (objects) objects[i] = sample.values[objectsAt] ?? 0;
      if (allocBytes) allocBytes[i] = sample.values[allocAt] ?? 0;
      const oldest = sample.labels['oldest_live_age_ms'];
      const mean = sample.labels['mean_live_age_ms'];
      oldestAgeMs[i] = typeof oldest === 'number' ? oldest : NaN;
      meanAgeMs[i] = typeof mean === 'number' ? mean : NaN;
      firstSeenBytes[i] = firstSeenOfLabels(sample.labels);
    });
    return {
      timeSec: point.timeSec, stackOf, inuse, ...(objects ? { objects } : {}), oldestAgeMs, meanAgeMs, ...(allocBytes ? { allocBytes } : {}),
      ...(carriesFirstSeen(point.profile) ? { seenBirths: seen.of(stackOf, firstSeenBytes) } : {}),
    };
  });
  return { stacks, stackKinds, points: seriesPoints };
}

/** Total in-use bytes per point (all samples: the ones left out hold none). */
export function totalInuse(series: ProfileSeries): number[] {
  return series.points.map((point) => {
    let sum = 0;
    for (let i = 0; i < point.inuse.length; i++) sum += point.inuse[i]!;
    return sum;
  });
}

/**
 * Builds a series point by point, as the profiles are made; keeps the age and alloc columns of the newest point
 * only (the analysis reads no others).
 */
export class ProfileSeriesBuilder implements ProfileSeries {
  readonly points: SeriesPoint[] = [];
  private readonly seen = new SeenBirths();

  constructor(readonly stacks: readonly (readonly HeapProfileFrame[])[], readonly stackKinds?: readonly SiteKind[]) {}

  /** `firstSeenBytes`: each sample's first_seen_bytes, when the profile has them (made into the point's seenBirths). */
  add(point: SeriesPoint, firstSeenBytes?: ArrayLike<number>): void {
    if (firstSeenBytes) point.seenBirths = this.seen.of(point.stackOf, firstSeenBytes);
    const previous = this.points[this.points.length - 1];
    if (previous) {
      delete previous.oldestAgeMs;
      delete previous.meanAgeMs;
      delete previous.allocBytes;
    }
    this.points.push(point);
  }
}
