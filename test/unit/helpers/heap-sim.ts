/**
 * Simulated sites as the shim samples them, with their live blocks' count and ages: growing containers (a block
 * replaced by a bigger one) and churn under rising load (many short-lived blocks whose count follows the load).
 * A block of size s is in the sample with probability p = 1 − e^(−s/S) and counts s/p bytes and 1/p blocks; a block
 * keeps its draw while it lives, a new block gets a new one (native/FORMAT.md, "Sampling and weights").
 */
import type { HeapProfile, ProfilePoint } from '../../../src/pprof/index.js';

export type Rng = () => number;

export const KiB = 1024;
export const MiB = 1024 * KiB;

export const sampleProbability = (sizeBytes: number, sampleBytes: number) => (sampleBytes <= 1 ? 1 : -Math.expm1(-sizeBytes / sampleBytes));

/** One point of a simulated site: its upscaled live bytes and blocks, and the age of its oldest live block. */
export interface SitePoint {
  bytes: number;
  objects: number;
  oldestMs: number;
}

/** Snapshot times: `count` snapshots `intervalSec` apart from `intervalSec` on, each a little late (up to `jitterSec`). */
export function snapshotTimes(rng: Rng, count: number, intervalSec: number, jitterSec = 0): number[] {
  return Array.from({ length: count }, (_, i) => (i + 1) * intervalSec + rng() * jitterSec);
}

/** Heap profiles of several sites (each a function called from malloc), with inuse_objects, inuse_space and ages. */
export function sitesProfiles(times: readonly number[], sites: Record<string, readonly SitePoint[]>): ProfilePoint[] {
  return times.map((timeSec, k) => {
    const profile: HeapProfile = {
      sampleTypes: [{ type: 'inuse_objects', unit: 'count' }, { type: 'inuse_space', unit: 'bytes' }],
      timeNanos: 0n,
      durationNanos: 0n,
      samples: Object.entries(sites).filter(([, points]) => points[k]!.bytes > 0).map(([name, points]) => ({
        stack: [{ functionName: 'malloc' }, { functionName: name }, { functionName: 'main' }],
        values: [Math.round(points[k]!.objects), Math.round(points[k]!.bytes)],
        labels: { oldest_live_age_ms: Math.round(points[k]!.oldestMs), mean_live_age_ms: Math.round(points[k]!.oldestMs / 2) },
      })),
    };
    return { timeSec, profile };
  });
}

/**
 * Churn under rising load: at each snapshot `inFlight(k)` blocks are live, each a few milliseconds old, their sizes
 * drawn from `size`; nothing is kept, so every snapshot sees other blocks.
 */
export function churnUnderLoad(
  rng: Rng, times: readonly number[], sampleBytes: number, inFlight: (k: number) => number, size: (rng: Rng) => number,
): SitePoint[] {
  return times.map((_, k) => {
    let bytes = 0;
    let objects = 0;
    const count = Math.round(inFlight(k));
    for (let i = 0; i < count; i++) {
      const s = size(rng);
      const p = sampleProbability(s, sampleBytes);
      if (rng() < p) {
        bytes += s / p;
        objects += 1 / p;
      }
    }
    return { bytes, objects, oldestMs: 40 };
  });
}

export interface ContainerOptions {
  /** What is appended, bytes per second (the container's content grows at this rate). */
  contentBytesPerSec: number;
  /** Capacity grows by this factor when the content outgrows it (libstdc++: 2). */
  factor?: number;
  /** The container started this long before the first snapshot's clock (0: with the run). */
  startedSecBefore?: number;
  /** Growth stops at this time (seconds): a container that filled. */
  stopsAtSec?: number;
  /** The first capacity, bytes. */
  initialBytes?: number;
  /**
   * Renewed by realloc under the shim's lineage: a sampled block whose predecessor was sampled inherits its birth,
   * so the live block is as old as the first of an unbroken chain of sampled blocks (native/FORMAT.md, "Lineage").
   */
  lineage?: boolean;
}

/**
 * A container whose block is replaced by one `factor` times bigger when its content outgrows it (a std::vector or
 * std::string appended to, a hash table's buckets, a doubling buffer); `factor` near 1 is a realloc'd array.
 */
export function growingContainer(rng: Rng, times: readonly number[], sampleBytes: number, o: ContainerOptions): SitePoint[] {
  const factor = o.factor ?? 2;
  let capacity = 0;
  let stepAt = 0;
  let bornAt = 0;
  let draw = { bytes: 0, objects: 0 };
  return times.map((time) => {
    const t = time + (o.startedSecBefore ?? 0);
    const content = o.contentBytesPerSec * Math.min(t, o.stopsAtSec ?? Infinity);
    let next = capacity || (o.initialBytes ?? 64);
    while (next < content) next = Math.ceil(next * factor);
    if (next !== capacity) {
      capacity = next;
      stepAt = t;
      const p = sampleProbability(capacity, sampleBytes);
      const wasSampled = draw.bytes > 0;
      draw = rng() < p ? { bytes: capacity / p, objects: 1 / p } : { bytes: 0, objects: 0 };
      if (!(o.lineage && wasSampled && draw.bytes > 0)) bornAt = t;
    }
    return { ...draw, oldestMs: Math.max(1, (t - (o.lineage ? bornAt : stepAt)) * 1000) };
  });
}

/** Two simulated sites' points added up, as one site holding both (the older block's age wins). */
export function together(a: readonly SitePoint[], b: readonly SitePoint[]): SitePoint[] {
  return a.map((x, k) => ({ bytes: x.bytes + b[k]!.bytes, objects: x.objects + b[k]!.objects, oldestMs: Math.max(x.oldestMs, b[k]!.oldestMs) }));
}
