/**
 * The trend window of a run's memory: where every figure drawn from RSS starts — the accounting's, the header's, the
 * verdict's RSS cases, the HTML chart's shading. The start-up is left out: the live malloc warm-up the ranking
 * detects (a JVM building its tables), and the climb of RSS while a program first touches its memory (a Java heap
 * committed at start and filled over the first seconds), whichever ends later; or exactly --warmup when it was given.
 * (The sites' own trends leave out the ranking's warm-up only: RSS's climb says nothing about a call site's bytes,
 * and a shorter window would only hide slow leaks.)
 */
import { MIN_SNAPSHOTS_FOR_TREND } from './verdict.js';

/** A leading interval belongs to the climb when RSS grew more than this many times faster than it typically does later. */
const CLIMB_FACTOR = 4;
/** ... and by at least this much (a few pages are no climb). */
const MIN_CLIMB_STEP_BYTES = 1024 * 1024;

/**
 * How many leading snapshots are RSS's start-up climb: up to the last interval, within the first half of the run, in
 * which RSS grew by at least MIN_CLIMB_STEP_BYTES and more than CLIMB_FACTOR times faster than the median interval of
 * the rest of the run — a climb may pause (a GC, a slow start on a loaded machine) and go on — leaving at least
 * MIN_SNAPSHOTS_FOR_TREND snapshots for the trends. A start-up is what the run settles after: the rest is at least as
 * long as the climb, and hardly climbs itself (at most a quarter of its intervals). A rise over most of the run that
 * stalls at its end (a GC pause, a loaded machine) is growth, not a start-up: it stays in every rate.
 */
export function rssClimbPoints(timesSec: readonly number[], rssBytes: readonly number[]): number {
  const n = rssBytes.length;
  if (n < 2 * MIN_SNAPSHOTS_FOR_TREND) return 0;
  const rates: number[] = [];
  for (let i = 1; i < n; i++) rates.push((rssBytes[i]! - rssBytes[i - 1]!) / Math.max(timesSec[i]! - timesSec[i - 1]!, 1e-9));
  const limit = Math.min(Math.floor(n / 2), n - MIN_SNAPSHOTS_FOR_TREND);
  const climbing = (i: number, typical: number) => rates[i]! > CLIMB_FACTOR * typical && rssBytes[i + 1]! - rssBytes[i]! >= MIN_CLIMB_STEP_BYTES;
  // The climb ends after the last climbing interval whose rest of the run grows typically slower.
  for (let k = limit; k > 0; k--) {
    const rest = rates.slice(k).map(Math.abs).sort((a, b) => a - b);
    const typical = rest[rest.length >> 1] ?? 0;
    const restClimbing = rates.slice(k).filter((_, i) => climbing(k + i, typical)).length;
    // (k itself climbing: the climb goes on past the half of the run, so it is not one the run settled after.)
    if (climbing(k - 1, typical) && !climbing(k, typical) && rates.slice(0, k).filter((_, i) => climbing(i, typical)).length >= Math.ceil(k / 2)
      && restClimbing <= Math.floor(rest.length / 4)) return k;
  }
  return 0;
}

export interface TrendWindow {
  /** Seconds since the run started of the window's first snapshot (the run's first when nothing is left out). */
  fromSec: number;
  /** What was left out before it. */
  leftOut: 'nothing' | 'warmup-option' | 'live-warmup' | 'rss-climb';
}

/**
 * The window from the ranking's warm-up (`liveWarmupFromSec`: the time of its first snapshot after it, from --warmup
 * or detected) and RSS's start-up climb over the run's snapshots (`times`, `rssBytes`, before any trim probe).
 */
export function trendWindowOf(
  times: readonly number[], rssBytes: readonly number[], liveWarmupFromSec: number, warmupOption: boolean,
): TrendWindow {
  const first = times[0] ?? liveWarmupFromSec;
  const live = liveWarmupFromSec > first;
  if (warmupOption) return { fromSec: liveWarmupFromSec, leftOut: live ? 'warmup-option' : 'nothing' };
  const climb = rssClimbPoints(times, rssBytes);
  const climbFromSec = times[climb] ?? first;
  if (climb === 0 && !live) return { fromSec: first, leftOut: 'nothing' };
  return climbFromSec > liveWarmupFromSec ? { fromSec: climbFromSec, leftOut: 'rss-climb' } : { fromSec: liveWarmupFromSec, leftOut: 'live-warmup' };
}
