/**
 * Growing containers vs churn under rising load (README "Growth").
 *
 * Two shapes of site have live blocks that are all young while their live bytes rise:
 *   - a growing container: a std::vector or std::string only ever appended to, a hash table's bucket array, a
 *     byte buffer that doubles, a realloc'd array. A few live blocks, each replaced by a bigger one (allocate new,
 *     copy, free old — or realloc): the live bytes rise with the size of the blocks, their count stays. A leak.
 *   - churn under rising load: many short-lived blocks of a steady size whose count rises with traffic. Nothing
 *     is kept: the live bytes rise with the number of blocks in flight, not with their size. Never a leak.
 *
 * The profiles give both figures per snapshot, each an unbiased estimate: B (inuse_space) and N (inuse_objects,
 * upscaled), so m = B/N is the mean live block size. The growth is carried by block size when, over the trend window
 * from the site's first live block on:
 *   1. m rises: Kendall's τ of m against time is positive with a one-sided p ≤ 0.001 (ties counted; no assumption on
 *      how the sizes are distributed). A container's staircase is monotone, so τ is near 1.
 *   2. and the count grows less than half as fast as the bytes, relatively: with c = N̄/B̄ (blocks per byte over the
 *      window), the least-squares slope of Q = N − ½·c·B is negative with a one-sided p ≤ 0.0001 (its standard error
 *      from Q's own scatter, which holds the sampler's noise on both). Churn's count rises in proportion to its
 *      bytes, so Q rises at half the bytes' (relative) rate: a significant fall needs a noise excursion of several
 *      standard errors beyond the test's own 3.72. A container's count stays, so Q falls with its bytes.
 *    Test 1 alone is not enough: the ratio B/N of two noisy estimates is biased by an amount that depends on how many
 *    blocks are sampled, so under rising load m can drift either way (a mix of many small blocks, each sampled
 *    rarely and weighted heavily, and a few large ones makes it drift up). Least squares on B and N themselves is
 *    unbiased, which is why test 2 works with them and not with m.
 *
 * A container that doubles is a staircase, and its last step may come at any point of a run: a flat stretch after
 * it is what a container waiting for its next doubling looks like, not a cache that filled. So for a site whose
 * growth is carried by block size, "it stopped" (saturating) is judged by the container's own cadence instead of the
 * two halves of the run. When the container steps up at t_L, its old block was full: it had filled from the site's
 * first level (at t_0) to the level before the step, at a rate r = (before − first)/(t_L − t_0). The new block has
 * `rise` more room, so at that rate its next step is due rise/r after t_L (for a doubling container from nothing,
 * t_L − t_0). The container is still growing while the time since its last step is at most 1.5 times that (slack
 * for an uneven rate); a steady part of the site (churn beside the container) cancels out of both differences.
 */
import { fitLine, normalCdf } from './statistics.js';

/** Kendall's test of a rising mean block size must reach this one-sided p-value. */
export const BLOCK_SIZE_P_VALUE = 0.001;
/** A container is still growing until the time since its last step passes its expected cadence by this factor. */
const CADENCE_SLACK = 1.5;
/** Kendall's τ is computed on at most this many evenly spaced points (as Theil–Sen: the series of a long run). */
const MAX_POINTS = 200;

export interface BlockGrowth {
  /** Live blocks (upscaled) at the start and end of the trend window: the medians of its first and last 3 points. */
  countStart: number;
  countEnd: number;
  /** Mean live block size (bytes) at the start and end of the window, the same way. */
  meanBytesStart: number;
  meanBytesEnd: number;
  /** One-sided p-value of Kendall's test that the mean block size rises. */
  pValue: number;
  /** The growth is carried by block size (see the top of this file): a growing container, not churn. */
  sizeCarriesGrowth: boolean;
}

/** Kendall's S statistic of ys against their order and its variance under no trend, ties in ys counted. */
function kendall(ys: readonly number[]): { s: number; variance: number } {
  const n = ys.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const y = ys[i]!;
    for (let j = i + 1; j < n; j++) s += Math.sign(ys[j]! - y);
  }
  const ties = new Map<number, number>();
  for (const y of ys) ties.set(y, (ties.get(y) ?? 0) + 1);
  let tieTerm = 0;
  for (const t of ties.values()) tieTerm += t * (t - 1) * (2 * t + 5);
  return { s, variance: (n * (n - 1) * (2 * n + 5) - tieTerm) / 18 };
}

/** One-sided p-value that ys rise with their order (normal approximation with continuity correction). */
export function kendallRisingP(ys: readonly number[]): number {
  const { s, variance } = kendall(ys);
  if (!(variance > 0) || s <= 0) return 1;
  return 1 - normalCdf((s - 1) / Math.sqrt(variance));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The count test's one-sided z: p ≤ 0.0001. Stricter than the size test's, as its least-squares t is the one heavy
 * tails can fool (a count made of a few rarely sampled, heavily weighted tiny blocks jumps by their weight).
 */
const Z_COUNT_FALLS_BEHIND = 3.719;

/**
 * How a site's live blocks changed over the trend window, from its live bytes and live blocks per point (same
 * times); undefined when fewer than 4 points hold live blocks (no trend to tell).
 */
export function blockGrowthOf(timesSec: readonly number[], bytes: readonly number[], objects: readonly number[]): BlockGrowth | undefined {
  const n = timesSec.length;
  const means: number[] = [];
  for (let i = 0; i < n; i++) if (bytes[i]! > 0 && objects[i]! > 0) means.push(bytes[i]! / objects[i]!);
  if (means.length < 4) return undefined;
  // The count test starts where the site first holds blocks: before, it did not exist (a JNI library's container
  // that starts after the JVM's start-up), and its zeros would make Q rise before it falls.
  const from = timesSec.findIndex((_, i) => bytes[i]! > 0 && objects[i]! > 0);
  const times = timesSec.slice(from);
  const liveBytes = bytes.slice(from);
  const counts = objects.slice(from);
  const meanBytes = liveBytes.reduce((a, b) => a + b, 0) / times.length;
  const meanCount = counts.reduce((a, b) => a + b, 0) / times.length;
  const perByte = meanBytes > 0 ? meanCount / meanBytes : 0;
  const q = fitLine(times, counts.map((count, i) => count - 0.5 * perByte * liveBytes[i]!), times.map(() => 0));
  const countFallsBehind = q.slope < 0 && (q.slopeStdError === 0 || q.slope / q.slopeStdError <= -Z_COUNT_FALLS_BEHIND);
  const step = Math.max(1, Math.ceil(means.length / MAX_POINTS));
  const pValue = kendallRisingP(means.filter((_, i) => i % step === 0));
  // What the report shows: the medians of the first and of the last three points that hold blocks.
  const held = timesSec.map((_, i) => i).filter((i) => bytes[i]! > 0 && objects[i]! > 0);
  const ends = (values: readonly number[]) => [median(held.slice(0, 3).map((i) => values[i]!)), median(held.slice(-3).map((i) => values[i]!))];
  const [countStart, countEnd] = ends(objects);
  const [meanBytesStart, meanBytesEnd] = ends(timesSec.map((_, i) => bytes[i]! / objects[i]!));
  return {
    countStart: countStart!, countEnd: countEnd!, meanBytesStart: meanBytesStart!, meanBytesEnd: meanBytesEnd!,
    pValue,
    sizeCarriesGrowth: pValue <= BLOCK_SIZE_P_VALUE && countFallsBehind,
  };
}

/**
 * Whether a container's staircase is still growing at the end of the run (see the top of this file): `series` is
 * the site's live bytes over the whole run, `from` the first point of the trend window. A step is a rise above the
 * level of the step before, at a point and the one after it, by more than the sampler can make up: `materialBytes`,
 * and three standard deviations of an estimate at that level (√(S·B) each). A smooth ramp is a staircase of small
 * steps, one per few snapshots. False when the window holds no step.
 */
export function containerStillGrowing(
  timesSec: readonly number[], series: readonly number[], from: number, materialBytes: number, sampleIntervalBytes: number,
): boolean {
  return containerCadence(timesSec, series, from, materialBytes, sampleIntervalBytes).stillGrowing;
}

/**
 * containerStillGrowing's answer, and how many steps the whole series holds (from the site's first live bytes,
 * before the trend window too): a staircase of one step is a one-off, whatever its cadence would say.
 */
export function containerCadence(
  timesSec: readonly number[], series: readonly number[], from: number, materialBytes: number, sampleIntervalBytes: number,
): { stillGrowing: boolean; steps: number } {
  const n = series.length;
  const origin = series.findIndex((v) => v > 0);
  if (origin < 0 || n < 2) return { stillGrowing: false, steps: 0 };
  let level = series[origin]!;
  let lastStep = -1;
  let rise = 0;
  let before = level;
  let steps = 0;
  for (let i = origin + 1; i < n; i++) {
    // A step stays: the point after it is up too (a spike of noise is not), and the new level is the lower of the two.
    const v = Math.min(series[i]!, series[i + 1] ?? Infinity);
    const noise = sampleIntervalBytes > 1 ? 3 * Math.sqrt(sampleIntervalBytes * Math.max(level, sampleIntervalBytes)) : 0;
    if (v >= level + Math.max(materialBytes, noise)) {
      steps++;
      if (i >= from) {
        lastStep = i;
        rise = v - level;
        before = level;
      }
      level = v;
    }
  }
  if (lastStep < 0) return { stillGrowing: false, steps };
  // What the container held when it stepped (the old block was full) came at a rate of (before − start)/(t_L − t_0);
  // the new block has `rise` more room, so the next step is due rise / rate after this one.
  const stepAt = timesSec[lastStep]!;
  const filled = before - series[origin]!;
  if (!(filled > 0)) return { stillGrowing: true, steps };
  const expected = rise * (stepAt - timesSec[origin]!) / filled;
  return { stillGrowing: timesSec[n - 1]! - stepAt <= CADENCE_SLACK * expected, steps };
}
