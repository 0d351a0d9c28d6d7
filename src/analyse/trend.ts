/**
 * The trend of one site's live bytes over a run: how fast it grows, how sure we are, and what shape it has.
 *
 * Rate: least squares over the snapshots. Its standard error has two parts. Level noise: the larger of the
 * residual scatter and the sampler's noise on each estimate (B bytes at interval S: variance ≈ S·B). Counting
 * noise: a leak's sampled blocks stay in the sample once drawn, so its estimate is a counting process whose
 * rate is itself uncertain: a least-squares slope through a Poisson process of rate r/S samples per second,
 * each worth ≈ S bytes, has Var ≈ 1.2·S·r/T over a span T. Residuals around a line do not show this, so it is
 * added.
 *
 * Turnover: a site whose blocks are replaced without growing (a session table, a cache at capacity) is a counting
 * process in both directions, and its estimate wanders like a random walk for as long as its blocks take to turn
 * over — longer than many runs. Residuals around a line do not show that either. When the profiles say what the
 * window saw born (first_seen_bytes), the slope's variance from the blocks' births and deaths is turnover.ts's, and
 * the slope's standard error is the largest of the three accounts — residuals or level noise, a leak's counting, the
 * turnover — each of which is a model of the same noise (summing them would count a random walk twice and take the
 * power to see a leak in a churning site). Without first_seen_bytes, level noise and counting noise add, as before.
 *
 * Confidence: the posterior probability that the site grows at all, P(β > 0 | data), with even prior odds
 * between "no growth" (β = 0) and "growth" (β > 0, half-normal with the unit-information scale τ² = n·se²).
 * Against a point null this is skeptical where a plain P(β > 0) = Φ(z) is not: a flat site reaches 0.9 in
 * under 2% of runs instead of 10%, so "confidence ≥ 0.9" means what it says.
 *
 * Shape, from the two halves of the series: linear (both halves grow alike: a leak), saturating (the first half
 * grows, the second does not: a cache or pool that filled), step (one interval holds most of the growth — or the
 * robust Theil–Sen slope is flat although last − first moved — and without that interval's rise nothing grows
 * significantly: a one-off; a staircase of several rises is not one, however large its last), noise (nothing
 * significant), shrinking. A growing container's staircase is judged by its own cadence instead (containers.ts).
 */
import { fitLine, fitSegmentSlope, normalCdf, theilSenSlope } from './statistics.js';
import { turnoverOf, turnoverSlopeVariance, type Turnover } from './turnover.js';

export type TrendShape = 'linear' | 'saturating' | 'step' | 'noise' | 'shrinking';

export interface Trend {
  rateBytesPerHour: number;
  /** 90% interval of the rate. */
  rateIntervalBytesPerHour: [number, number];
  robustRateBytesPerHour: number;
  growthBytes: number;
  /** Posterior probability that the site grows (see above). */
  confidence: number;
  shape: TrendShape;
}

const HOUR = 3600;
const Z95 = 1.6449;

/** Student t quantile at 0.95 for `df` degrees of freedom (Cornish–Fisher expansion; exact enough for df ≥ 2). */
function t95(df: number): number {
  const z = Z95;
  if (!(df > 0)) return Infinity;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

/** P(β > 0 | b) for an estimate b ~ N(β, se²), prior ½ at β = 0 and ½ on a half-normal of scale τ = √n·se. */
export function growthPosterior(slope: number, stdError: number, points: number): number {
  if (stdError === 0) return slope > 0 ? 1 : 0;
  if (!Number.isFinite(stdError)) return 0; // no trend can be told
  const z = slope / stdError;
  const tauOverSe = Math.sqrt(Math.max(points, 1));
  const total = Math.sqrt(1 + tauOverSe * tauOverSe); // sd of b under H1, in units of se
  // Marginal density of z under H1 (half-normal prior on β > 0) and under H0, as logarithms: far out in the tails
  // the densities underflow, and their ratio overflows, long before the posterior stops being a number.
  const cdf = normalCdf((z * tauOverSe) / total);
  if (cdf === 0) return 0;
  const logUnderGrowth = Math.log(2 / total) + logPhi(z / total) + Math.log(cdf);
  const logBayesFactor = logUnderGrowth - logPhi(z);
  return 1 / (1 + Math.exp(-logBayesFactor));
}

/** log of the standard normal density. */
function logPhi(x: number): number {
  return -x * x / 2 - 0.5 * Math.log(2 * Math.PI);
}

/**
 * Where the sampler's noise on a series comes from, when the series is not itself one sampled estimate (e.g. the
 * allocator's in-use bytes less the shim's estimate of them, unseen.ts): the sampled estimate's own values, point by
 * point (its level noise), and its slope (its counting noise).
 */
export interface SampledPart {
  levels: readonly number[];
  slopeBytesPerSec: number;
}

/**
 * A least-squares slope and its standard error, level noise and counting noise together (see above); with
 * `splitAt`, the slope within the two segments either side of that point (fitSegmentSlope).
 */
function slopeWithError(
  times: readonly number[], values: readonly number[], sampleIntervalBytes: number, sampled?: SampledPart, splitAt?: number,
  turnover?: Turnover | null,
): { slope: number; stdError: number } {
  const levels = sampled?.levels ?? values;
  const noise = levels.map((bytes) => (sampleIntervalBytes > 1 ? sampleIntervalBytes * Math.max(bytes, sampleIntervalBytes) : 0));
  const fit = splitAt === undefined ? fitLine(times, values, noise) : fitSegmentSlope(times, values, splitAt, noise);
  const span = times[times.length - 1]! - times[0]!;
  const countingSlope = sampled ? sampled.slopeBytesPerSec : fit.slope;
  const counting = sampleIntervalBytes > 1 && span > 0 ? 1.2 * sampleIntervalBytes * Math.max(countingSlope, 0) / span : 0;
  // undefined: the profiles do not say what turned over; null: they do, and nothing did.
  if (turnover === undefined) return { slope: fit.slope, stdError: Math.sqrt(fit.slopeStdError ** 2 + counting) };
  const turning = turnover ? turnoverSlopeVariance(turnover, span, sampleIntervalBytes) : 0;
  return { slope: fit.slope, stdError: Math.sqrt(Math.max(fit.slopeStdError ** 2, counting, turning)) };
}

/** The part of `sampled` for points [from, to). */
function slicePart(sampled: SampledPart | undefined, from: number, to?: number): SampledPart | undefined {
  return sampled && { levels: sampled.levels.slice(from, to), slopeBytesPerSec: sampled.slopeBytesPerSec };
}

/**
 * A step: one interval holds most of the growth (or the robust slope is flat although the line rises) and, without
 * that interval's rise, nothing grows significantly — a one-off. "Without it" is the slope within the segments
 * either side of the interval, each at its own level (so the jump's height, noise and all, is no part of it). A
 * staircase of several rises whose largest holds more than half of it (a container that doubles) is not a step: its
 * other rises still grow within the segments.
 */
function isStep(
  times: readonly number[], series: readonly number[], sampleIntervalBytes: number, robust: number, growthBytes: number, sampled?: SampledPart,
  turnover?: Turnover | null,
): boolean {
  let largest = 0;
  let at = -1;
  for (let i = 1; i < series.length; i++) {
    const rise = series[i]! - series[i - 1]!;
    if (rise > largest) {
      largest = rise;
      at = i;
    }
  }
  if (!(robust <= 0 || (growthBytes > 0 && largest >= 0.5 * growthBytes))) return false;
  if (at < 0) return true;
  // What grows within the segments either side of that interval, whatever the jump between them.
  const rest = slopeWithError(times, series, sampleIntervalBytes, sampled, at, turnover);
  return !(Number.isFinite(rest.stdError) && rest.slope > 2 * rest.stdError);
}

/**
 * The trend of `series` at `timesSec`, with the sampler's noise at `sampleIntervalBytes` on the series itself, or on
 * `sampled` when only part of the series is a sampled estimate; `birthsBytes`: what the series saw born after its
 * first point, when the profiles say (turnover, above).
 */
export function trendOf(
  timesSec: readonly number[], series: readonly number[], sampleIntervalBytes: number, sampled?: SampledPart, birthsBytes?: number,
): Trend {
  const n = series.length;
  const flat: Trend = {
    rateBytesPerHour: 0, rateIntervalBytesPerHour: [0, 0], robustRateBytesPerHour: 0, growthBytes: 0, confidence: 0, shape: 'noise',
  };
  if (n < 2) return flat;
  const turnover = birthsBytes === undefined ? undefined : turnoverOf(timesSec, series, birthsBytes) ?? null;
  const fit = slopeWithError(timesSec, series, sampleIntervalBytes, sampled, undefined, turnover);
  const se = fit.stdError;
  const confidence = growthPosterior(fit.slope, se, n);
  const robust = theilSenSlope(timesSec, series);
  const growthBytes = series[n - 1]! - series[0]!;
  const half = Math.floor(n / 2);
  let shape: TrendShape = 'noise';
  const significant = Number.isFinite(se) && Math.abs(fit.slope) > 2 * se;
  if (significant && fit.slope < 0) shape = 'shrinking';
  else if (significant && fit.slope > 0) {
    if (isStep(timesSec, series, sampleIntervalBytes, robust, growthBytes, sampled, turnover)) shape = 'step';
    else if (n >= 6) {
      const early = slopeWithError(timesSec.slice(0, half + 1), series.slice(0, half + 1), sampleIntervalBytes, slicePart(sampled, 0, half + 1), undefined, turnover);
      const late = slopeWithError(timesSec.slice(half), series.slice(half), sampleIntervalBytes, slicePart(sampled, half), undefined, turnover);
      // Saturating only when the second half is confidently slower than half the first: a second half that is
      // merely too short to be significant on its own is still a leak.
      const lateSlower = late.slope + (Number.isFinite(late.stdError) ? late.stdError : 0) < 0.5 * early.slope;
      shape = early.slope > 2 * early.stdError && lateSlower ? 'saturating' : 'linear';
    } else shape = 'linear';
  }
  // The scatter is estimated from the same points, hence Student's t rather than the normal quantile.
  const halfWidth = Number.isFinite(se) ? t95(n - 2) * se : Infinity;
  return {
    rateBytesPerHour: fit.slope * HOUR,
    rateIntervalBytesPerHour: [(fit.slope - halfWidth) * HOUR, (fit.slope + halfWidth) * HOUR],
    robustRateBytesPerHour: robust * HOUR,
    growthBytes,
    confidence,
    shape,
  };
}

/**
 * The start-up climb to leave out of trends: the leading snapshots in which the total live bytes grew far
 * faster (more than 4×) than their median growth per interval afterwards, at most a quarter of the run.
 * Returns how many leading snapshots are warm-up.
 */
export function warmupPoints(timesSec: readonly number[], totalLive: readonly number[]): number {
  const n = totalLive.length;
  if (n < 8) return 0;
  const rates: number[] = [];
  for (let i = 1; i < n; i++) rates.push((totalLive[i]! - totalLive[i - 1]!) / Math.max(timesSec[i]! - timesSec[i - 1]!, 1e-9));
  const limit = Math.floor(n / 4);
  const later = rates.slice(limit).map(Math.abs).sort((a, b) => a - b);
  const typical = later[later.length >> 1] ?? 0;
  let k = 0;
  while (k < limit && rates[k]! > 4 * typical && rates[k]! > 0) k++;
  return k;
}
