/**
 * The detection limit of a run: the smallest leak rate its snapshots could have shown as growing.
 *
 * Model (the ranking's own, see trend.ts). A leak at rate r on a call site that already holds L bytes is seen
 * at n evenly spaced snapshots over a span T (first to last): at time t its site holds B(t) = L + r·t. At
 * sampling interval S each upscaled estimate has a variance of about S·max(B, S) (level noise), so the
 * least-squares slope over the n points has
 *
 *   se² = σ² / Σ(t − t̄)²,   σ² = S · mean(max(B(tᵢ), S)),   Σ(t − t̄)² = T²·n(n+1) / (12(n−1)),
 *
 * plus the counting noise of a leak (its sampled blocks stay drawn, so its estimate is a counting process of
 * r/S samples per second, each worth ≈ S bytes): 1.2·S·r/T. With S = 1 (every allocation recorded) there is no
 * sampling noise at all.
 *
 * The growing rule needs a confidence of at least 0.9 — the posterior P(growth | data) of trend.ts, which for n
 * points is reached at a z = slope/se of about 2.4 (n = 10) to 3 (n = 300) — and a material growth of at least
 * two sampling intervals, r·T ≥ 2·max(S, 1). The detectable rate is the smallest r meeting both with the
 * slope at its expected value: a leak at that rate is shown as growing in about half of the runs, a leak at
 * 1.5× in most, at 0.3× almost never. r/se(r) increases with r, so it is found by bisection.
 *
 * Not modelled: the shape tests (a leak hidden in a site whose own working set churns heavily can look like
 * one step, and needs more) and the warm-up left out of trends.
 */
import { DEFAULT_MIN_CONFIDENCE } from './rank.js';
import { growthPosterior } from './trend.js';
import { MIN_SNAPSHOTS_FOR_TREND } from './verdict.js';

const HOUR = 3600;
/** Variance of a least-squares slope through a counting process, in units of S·r/T (trend.ts). */
const COUNTING_NOISE = 1.2;

export interface DetectionInput {
  /** Seconds from the first snapshot to the last. */
  durationSec: number;
  /** Snapshots over that span (evenly spaced). */
  snapshots: number;
  /** The sampling interval in force, bytes (1 = every allocation). */
  sampleIntervalBytes: number;
  /** What the leak's call site holds besides the leak (0 for a site that only leaks). */
  liveBytes?: number;
  /** The confidence the growing rule asks for (default DEFAULT_MIN_CONFIDENCE, 0.9). */
  confidence?: number;
}

/** The z = slope/se at which the growth posterior over `points` snapshots reaches `confidence`. */
export function growthZ(confidence: number, points: number): number {
  if (!(confidence > 0)) return 0;
  if (!(confidence < 1)) return Infinity;
  let lo = 0;
  let hi = 1;
  while (growthPosterior(hi, 1, points) < confidence) {
    hi *= 2;
    if (hi > 1e3) return Infinity;
  }
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (growthPosterior(mid, 1, points) >= confidence) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Standard error² of the slope (bytes/s)² for a leak at `rate` bytes/s under the model above. */
function slopeVariance(rate: number, span: number, n: number, sampleBytes: number, liveBytes: number): number {
  if (sampleBytes <= 1) return 0;
  // Σ max(L + r·step·i, S) over i = 0 … n−1, in closed form: the first k points are clipped at S.
  const rise = rate * (span / (n - 1));
  let level: number;
  if (rise <= 0) level = n * Math.max(liveBytes, sampleBytes);
  else {
    const k = Math.min(n, Math.max(0, Math.ceil((sampleBytes - liveBytes) / rise)));
    level = k * sampleBytes + (n - k) * liveBytes + rise * ((n * (n - 1)) / 2 - (k * (k - 1)) / 2);
  }
  const sigma2 = sampleBytes * (level / n);
  const sxx = (span * span * n * (n + 1)) / (12 * (n - 1));
  return sigma2 / sxx + (COUNTING_NOISE * sampleBytes * rate) / span;
}

/**
 * The smallest leak rate, in bytes per hour, that a run of `snapshots` snapshots over `durationSec` at sampling
 * interval `sampleIntervalBytes` shows as growing (see the model above). Infinity when the run cannot show a trend
 * at all (fewer than three snapshots, or no time between them).
 */
export function detectableRateBytesPerHour(input: DetectionInput): number {
  const { durationSec: span, snapshots: n } = input;
  const sampleBytes = Math.max(input.sampleIntervalBytes, 1);
  const liveBytes = Math.max(input.liveBytes ?? 0, 0);
  if (!(n >= MIN_SNAPSHOTS_FOR_TREND) || !(span > 0) || !Number.isFinite(span)) return Infinity;
  const material = (2 * sampleBytes) / span;
  if (sampleBytes <= 1) return material * HOUR;
  const z = growthZ(input.confidence ?? DEFAULT_MIN_CONFIDENCE, n);
  if (!Number.isFinite(z)) return Infinity;
  const shown = (rate: number) => rate >= z * Math.sqrt(slopeVariance(rate, span, n, sampleBytes, liveBytes));
  let hi = material;
  while (!shown(hi)) {
    hi *= 2;
    if (!Number.isFinite(hi)) return Infinity;
  }
  let lo = 0;
  for (let i = 0; i < 60 && hi - lo > hi * 1e-9; i++) {
    const mid = (lo + hi) / 2;
    if (shown(mid)) hi = mid;
    else lo = mid;
  }
  return Math.max(hi, material) * HOUR;
}

export interface DurationNeeded {
  /** Rate to detect, bytes per hour. */
  rateBytesPerHour: number;
  /** Time between snapshots, seconds: the snapshot count grows with the duration. */
  snapshotIntervalSec: number;
  sampleIntervalBytes: number;
  liveBytes?: number;
  confidence?: number;
  /** Longest duration worth suggesting (default 30 days). */
  maxDurationSec?: number;
}

/**
 * The shortest snapshot span (seconds) over which `rateBytesPerHour` is detectable, snapshots every
 * `snapshotIntervalSec`; Infinity when even `maxDurationSec` is not enough.
 */
export function durationToDetectSec(input: DurationNeeded): number {
  const interval = input.snapshotIntervalSec;
  const limit = input.maxDurationSec ?? 30 * 86_400;
  if (!(interval > 0) || !(input.rateBytesPerHour > 0)) return Infinity;
  const detects = (span: number) => detectableRateBytesPerHour({
    durationSec: span, snapshots: Math.floor(span / interval + 1e-9) + 1, sampleIntervalBytes: input.sampleIntervalBytes,
    liveBytes: input.liveBytes, confidence: input.confidence,
  }) <= input.rateBytesPerHour;
  // The shortest span with enough snapshots for a trend; below it nothing is detectable.
  let lo = interval * (MIN_SNAPSHOTS_FOR_TREND - 2);
  let hi = interval * (MIN_SNAPSHOTS_FOR_TREND - 1);
  while (!detects(hi)) {
    if (hi >= limit) return Infinity;
    lo = hi;
    hi = Math.min(hi * 2, limit);
  }
  while (hi - lo > Math.max(interval, hi * 1e-3)) {
    const mid = (lo + hi) / 2;
    if (detects(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

export interface SampleBytesNeeded {
  rateBytesPerHour: number;
  durationSec: number;
  snapshots: number;
  liveBytes?: number;
  confidence?: number;
}

/**
 * The largest sampling interval (bytes, a power of two, or 1 for every allocation) at which `rateBytesPerHour`
 * is detectable over this span and snapshot count; 0 when no sampling interval would do (too few snapshots, or
 * too short a span even when recording everything).
 */
export function sampleBytesToDetect(input: SampleBytesNeeded): number {
  const detects = (sampleBytes: number) => detectableRateBytesPerHour({
    durationSec: input.durationSec, snapshots: input.snapshots, sampleIntervalBytes: sampleBytes,
    liveBytes: input.liveBytes, confidence: input.confidence,
  }) <= input.rateBytesPerHour;
  if (!detects(1)) return 0;
  let best = 1;
  for (let exponent = 1; exponent <= 40 && detects(2 ** exponent); exponent++) best = 2 ** exponent;
  return best;
}
