/**
 * What the HTML report's growth flame graph needs from the run's heap profiles: for each snapshot, the in-use bytes
 * of its heaviest stacks, so the page can compare any two snapshots. Bounded: at most `maxStacksPerSnapshot` stacks
 * from each snapshot (by bytes), `maxStacks` in all, `maxSnapshots` snapshots (evenly spaced, first and last kept).
 */
import { readFileSync } from 'node:fs';
import { describeFrame, selectSmallest, type TimelinePoint } from '../../analyse/index.js';
import {
  ProfileSeriesReader, sampleValueIndex, type HeapProfile, type HeapProfileFrame, type ProfileSeries, type SeriesPoint,
} from '../../pprof/index.js';
import { listProfiles } from '../../rundir/index.js';

export interface FlameSnapshot {
  sequence: number;
  /** Seconds since the run started (null when unknown). */
  timeSec: number | null;
  /** In-use bytes of the whole profile, tracked stacks or not. */
  totalBytes: number;
  /** [index into FlameData.stacks, in-use bytes], for the tracked stacks live in this snapshot. */
  stacks: [number, number][];
}

export interface FlameData {
  /** Frames as "name (file:line)" or "name (library)". */
  frames: string[];
  /** Indices into `frames`, outermost (root) first. */
  stacks: number[][];
  snapshots: FlameSnapshot[];
}

export interface FlameLimits {
  maxStacksPerSnapshot?: number;
  maxStacks?: number;
  maxSnapshots?: number;
}

/** One profile's in-use bytes by stack; the key is the stack's frames, root first, joined. */
export interface AggregatedProfile {
  sequence: number;
  timeSec: number | null;
  totalBytes: number;
  stacks: Map<string, { frames: string[]; bytes: number }>;
}

export function aggregateProfile(sequence: number, timeSec: number | null, profile: HeapProfile): AggregatedProfile {
  const inuse = sampleValueIndex(profile, 'inuse_space');
  const stacks = new Map<string, { frames: string[]; bytes: number }>();
  let totalBytes = 0;
  if (inuse >= 0) {
    for (const sample of profile.samples) {
      const bytes = sample.values[inuse] ?? 0;
      if (bytes <= 0) continue;
      totalBytes += bytes;
      const frames = sample.stack.map(describeFrame).reverse();
      if (frames.length === 0) frames.push('[empty stack]');
      const key = frames.join('\n');
      const entry = stacks.get(key);
      if (entry) entry.bytes += bytes;
      else stacks.set(key, { frames, bytes });
    }
  }
  return { sequence, timeSec, totalBytes, stacks };
}

/** Indices of at most `max` of `count` items, evenly spaced, the first and the last always among them. */
export function evenlySpaced(count: number, max: number): number[] {
  if (count <= max) return Array.from({ length: count }, (_, i) => i);
  if (max <= 1) return [count - 1];
  const picked = new Set<number>();
  for (let i = 0; i < max; i++) picked.add(Math.round((i * (count - 1)) / (max - 1)));
  return [...picked].sort((a, b) => a - b);
}

export function buildFlameData(profiles: readonly AggregatedProfile[], limits: FlameLimits = {}): FlameData {
  const perSnapshot = limits.maxStacksPerSnapshot ?? 300;
  const maxStacks = limits.maxStacks ?? 1000;
  const chosen = evenlySpaced(profiles.length, limits.maxSnapshots ?? 240).map((i) => profiles[i]!);
  // The candidates: each snapshot's heaviest stacks; their largest size in any snapshot decides when too many.
  const largest = new Map<string, number>();
  for (const profile of chosen) {
    const heaviest = [...profile.stacks.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, perSnapshot);
    for (const [key, { bytes }] of heaviest) largest.set(key, Math.max(largest.get(key) ?? 0, bytes));
  }
  const kept = [...largest.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, maxStacks).map(([key]) => key);
  const stackIndex = new Map(kept.map((key, i) => [key, i]));
  const { frames, intern } = frameTable();
  const stacks: number[][] = kept.map(() => []);
  const snapshots = chosen.map((profile): FlameSnapshot => {
    const live: [number, number][] = [];
    for (const [key, entry] of profile.stacks) {
      const index = stackIndex.get(key);
      if (index === undefined) continue;
      if (stacks[index]!.length === 0) stacks[index] = entry.frames.map(intern);
      live.push([index, Math.round(entry.bytes)]);
    }
    live.sort((a, b) => a[0] - b[0]);
    return { sequence: profile.sequence, timeSec: profile.timeSec, totalBytes: Math.round(profile.totalBytes), stacks: live };
  });
  return { frames, stacks, snapshots };
}

/**
 * Reads DIR/snapshots/NNNN.pb.gz (at most `maxSnapshots` of them, evenly spaced) one at a time, into a series (only
 * their samples with in-use bytes are kept: a long run's profiles do not fit in memory decoded). A damaged profile is
 * left out; no profiles at all gives no flame data (undefined).
 */
export function loadFlameData(runDir: string, timeline: readonly Pick<TimelinePoint, 'sequence' | 'timeSec'>[], limits: FlameLimits = {}): FlameData | undefined {
  const files = listProfiles(runDir);
  if (files.length === 0) return undefined;
  const timeOf = new Map(timeline.map((p) => [p.sequence, p.timeSec]));
  const reader = new ProfileSeriesReader();
  const points: SeriesPoint[] = [];
  const snapshots: { sequence: number; timeSec: number | null }[] = [];
  for (const i of evenlySpaced(files.length, limits.maxSnapshots ?? 240)) {
    const { path, sequence } = files[i]!;
    try {
      points.push(reader.read(readFileSync(path), path, () => 0));
      snapshots.push({ sequence, timeSec: timeOf.get(sequence) ?? null });
    } catch {
      // a damaged profile: the report's warnings already name it
    }
  }
  return points.length === 0 ? undefined : flameDataOfSeries({ stacks: reader.stacks, stackKinds: reader.stackKinds, points }, snapshots, limits);
}

/**
 * The flame data of a run's profiles held as a series (pprof/series.ts), the same as loadFlameData gives from the
 * profile files: `snapshots` are the series' points' sequence numbers and times, in order (the run's timeline).
 */
export function flameDataOfSeries(
  series: ProfileSeries, snapshots: readonly { sequence: number; timeSec: number | null }[], limits: FlameLimits = {},
): FlameData | undefined {
  const maxSnapshots = limits.maxSnapshots ?? 240;
  const perSnapshot = limits.maxStacksPerSnapshot ?? 300;
  const maxStacks = limits.maxStacks ?? 1000;
  if (series.points.length === 0) return undefined;
  // Each stack's frames as the flame graph shows them (root first), and stacks alike there as one key.
  const described = new Map<HeapProfileFrame, string>();
  const describe = (frame: HeapProfileFrame) => {
    let text = described.get(frame);
    if (text === undefined) {
      text = describeFrame(frame);
      described.set(frame, text);
    }
    return text;
  };
  const keys: string[] = [];
  const keyFrames: string[][] = [];
  const keyIndex = new Map<string, number>();
  const keyOf = new Int32Array(series.stacks.length).fill(-1);
  const keyOfStack = (stack: number): number => {
    let k = keyOf[stack]!;
    if (k < 0) {
      const frames = series.stacks[stack]!.map(describe).reverse();
      if (frames.length === 0) frames.push('[empty stack]');
      const key = frames.join('\n');
      k = keyIndex.get(key) ?? -1;
      if (k < 0) {
        k = keys.length;
        keys.push(key);
        keyFrames.push(frames);
        keyIndex.set(key, k);
      }
      keyOf[stack] = k;
    }
    return k;
  };

  // aggregateProfile for each chosen point: its keys in the order they first show bytes, and their bytes.
  const chosen = evenlySpaced(series.points.length, maxSnapshots);
  let bytesOf = new Float64Array(0);
  let stamp = new Int32Array(0);
  const aggregated = chosen.map((p, round) => {
    const { stackOf, inuse } = series.points[p]!;
    const order: number[] = [];
    let totalBytes = 0;
    for (let j = 0; j < inuse.length; j++) {
      const bytes = inuse[j]!;
      if (bytes <= 0) continue;
      totalBytes += bytes;
      const k = keyOfStack(stackOf[j]!);
      if (k >= bytesOf.length) {
        const grown = new Float64Array(Math.max(1024, 2 * (k + 1)));
        grown.set(bytesOf);
        bytesOf = grown;
        const grownStamp = new Int32Array(grown.length);
        grownStamp.set(stamp);
        stamp = grownStamp;
      }
      if (stamp[k] !== round + 1) {
        stamp[k] = round + 1;
        bytesOf[k] = bytes;
        order.push(k);
      } else {
        bytesOf[k]! += bytes;
      }
    }
    const bytes = Float64Array.from(order, (k) => bytesOf[k]!);
    return { point: p, order: Int32Array.from(order), bytes, totalBytes };
  });

  // The candidates: each snapshot's heaviest stacks; their largest size in any snapshot decides when too many.
  const largest = new Map<number, number>();
  for (const { order, bytes } of aggregated) {
    for (const i of heaviest(bytes, perSnapshot)) largest.set(order[i]!, Math.max(largest.get(order[i]!) ?? 0, bytes[i]!));
  }
  const kept = [...largest.entries()].sort((a, b) => b[1] - a[1] || (keys[a[0]]! < keys[b[0]]! ? -1 : 1)).slice(0, maxStacks).map(([k]) => k);
  const stackIndex = new Map(kept.map((k, i) => [k, i]));
  const { frames, intern } = frameTable();
  const stacks: number[][] = kept.map(() => []);
  const snapshotList = aggregated.map(({ point, order, bytes, totalBytes }): FlameSnapshot => {
    const live: [number, number][] = [];
    for (let i = 0; i < order.length; i++) {
      const index = stackIndex.get(order[i]!);
      if (index === undefined) continue;
      if (stacks[index]!.length === 0) stacks[index] = keyFrames[order[i]!]!.map(intern);
      live.push([index, Math.round(bytes[i]!)]);
    }
    live.sort((a, b) => a[0] - b[0]);
    const at = snapshots[point];
    return { sequence: at?.sequence ?? point, timeSec: at?.timeSec ?? null, totalBytes: Math.round(totalBytes), stacks: live };
  });
  return { frames, stacks, snapshots: snapshotList };
}

/** Distinct frame names in first-seen order, and the index of each. */
function frameTable(): { frames: string[]; intern: (frame: string) => number } {
  const index = new Map<string, number>();
  const frames: string[] = [];
  const intern = (frame: string): number => {
    let i = index.get(frame);
    if (i === undefined) {
      i = frames.length;
      frames.push(frame);
      index.set(frame, i);
    }
    return i;
  };
  return { frames, intern };
}

/**
 * Positions of the `max` largest of `values`, ties going to the earlier position: what a stable sort by value,
 * largest first, then its first `max`, would keep (in no particular order).
 */
function heaviest(values: Float64Array, max: number): number[] {
  const n = values.length;
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const threshold = selectSmallest(Float64Array.from(values), n, n - max); // the max-th largest
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (values[i]! > threshold) picked.push(i);
  for (let i = 0; i < n && picked.length < max; i++) if (values[i] === threshold) picked.push(i);
  return picked;
}

