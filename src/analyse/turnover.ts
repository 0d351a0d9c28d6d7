/**
 * The noise a site's blocks turning over put on its trend's slope (trend.ts).
 *
 * A sampled block stands for ≈ S bytes of the estimate from the snapshot after its birth to the one after its death.
 * Over a window of span T, the least-squares slope weighs a point at time t by c(t) ∝ t − T/2, so one block adds
 * S·C(a, d)/T to the slope, where C(a, d) is the sum of those weights over the points it was live at: in units of the
 * window, C(u) − C(v) with C(u) = 6u(1 − u) for a block live from u to v. A block that lives on to the end adds
 * S·C(u)/T (on average over u, C² is 1.2: the counting noise of a leak); one seen at a single snapshot adds little
 * (its level noise, which the residuals show); a block of the first snapshot that dies at v adds S·C(v)/T.
 *
 * What the profiles tell (first_seen_bytes): the bytes born in the window that a snapshot saw (B), so the deaths it
 * saw (D = B − growth). How long blocks live is told by Little's law: the mean level over the birth rate. Taking
 * lifetimes as exponential with that mean τ, a birth adds on average S²·I(τ/T)/T² of variance (I below: from 24λ²
 * for blocks seen about once to 1.2 for blocks that outlive the window); the deaths that the window's own births do
 * not explain are of blocks older than the window, each S²·1.2/T². A session table or a full cache, whose blocks are
 * replaced as fast as the snapshots come, wanders like a random walk, and its slope's variance is large; churn whose
 * blocks die before the next snapshot is level noise, and its variance small.
 */

/** What a window's series saw turn over. */
export interface Turnover {
  birthsBytesPerSec: number;
  /** Deaths of blocks seen live at a snapshot: births less the growth. */
  deathsBytesPerSec: number;
  /** The blocks' mean lifetime (Little's law: the mean level over the birth rate). */
  lifetimeSec: number;
}

/** `birthsBytes`: what the series (at `timesSec`) saw born after its first point. Undefined when nothing was. */
export function turnoverOf(timesSec: readonly number[], series: readonly number[], birthsBytes: number): Turnover | undefined {
  const n = series.length;
  const span = n >= 2 ? timesSec[n - 1]! - timesSec[0]! : 0;
  if (!(span > 0) || !(birthsBytes > 0)) return undefined;
  let level = 0;
  for (const bytes of series) level += bytes;
  level /= n;
  const birthsBytesPerSec = birthsBytes / span;
  return {
    birthsBytesPerSec,
    deathsBytesPerSec: Math.max(birthsBytes - (series[n - 1]! - series[0]!), 0) / span,
    lifetimeSec: Math.max(level, 0) / birthsBytesPerSec,
  };
}

/** Variance of a least-squares slope (bytes/s, squared) over a span of `spanSec` from `turnover` at interval S. */
export function turnoverSlopeVariance(turnover: Turnover, spanSec: number, sampleIntervalBytes: number): number {
  if (!(spanSec > 0) || !(sampleIntervalBytes > 1)) return 0;
  const births = turnover.birthsBytesPerSec * spanSec;
  const deaths = turnover.deathsBytesPerSec * spanSec;
  const { meanSquare, diedShare } = lifetimeFactors(turnover.lifetimeSec / spanSec);
  const olderDeaths = Math.max(deaths - births * diedShare, 0);
  return sampleIntervalBytes * (births * meanSquare + olderDeaths * OUTLIVES) / (spanSec * spanSec);
}

/** The mean of C² over a uniform birth for a block that outlives the window. */
const OUTLIVES = 1.2;

/** C(u) = 6u(1 − u) on the window, 0 outside: a block's weight in the slope from u to the end. */
function weightFrom(u: number): number {
  return u <= 0 || u >= 1 ? 0 : 6 * u * (1 - u);
}

/**
 * For a birth uniform over the window and an exponential lifetime of mean λ (in windows): the mean of
 * (C(u) − C(min(u + L, 1)))², and the share that dies within the window. Midpoint rule, 96 births × 96 lifetimes,
 * the lifetimes by their quantiles (so a short λ is integrated as well as a long one).
 */
function lifetimeFactorsAt(lambda: number): { meanSquare: number; diedShare: number } {
  const grid = 96;
  let meanSquare = 0;
  let diedShare = 0;
  for (let i = 0; i < grid; i++) {
    const u = (i + 0.5) / grid;
    const atBirth = weightFrom(u);
    const dies = -Math.expm1(-(1 - u) / lambda); // P(L < 1 − u)
    let within = 0;
    for (let j = 0; j < grid; j++) {
      const lifetime = -lambda * Math.log1p(-((j + 0.5) / grid) * dies);
      const difference = atBirth - weightFrom(u + lifetime);
      within += difference * difference;
    }
    meanSquare += ((1 - dies) * atBirth * atBirth + (dies * within) / grid) / grid;
    diedShare += dies / grid;
  }
  return { meanSquare, diedShare };
}

/** λ from 10⁻³ to 10³ windows, 20 a decade: the factors are smooth in log λ. */
const LOG_LAMBDA_MIN = -3;
const LOG_LAMBDA_MAX = 3;
const STEPS_PER_DECADE = 20;
let table: { meanSquare: Float64Array; diedShare: Float64Array } | undefined;

function lifetimeTable(): NonNullable<typeof table> {
  if (table) return table;
  const count = (LOG_LAMBDA_MAX - LOG_LAMBDA_MIN) * STEPS_PER_DECADE + 1;
  const meanSquare = new Float64Array(count);
  const diedShare = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    const factors = lifetimeFactorsAt(10 ** (LOG_LAMBDA_MIN + k / STEPS_PER_DECADE));
    meanSquare[k] = factors.meanSquare;
    diedShare[k] = factors.diedShare;
  }
  table = { meanSquare, diedShare };
  return table;
}

/** lifetimeFactorsAt(λ), from the table; beyond it, the limits: blocks seen about once, or outliving the window. */
export function lifetimeFactors(lambda: number): { meanSquare: number; diedShare: number } {
  if (!(lambda > 0)) return { meanSquare: 0, diedShare: 1 };
  const position = (Math.log10(lambda) - LOG_LAMBDA_MIN) * STEPS_PER_DECADE;
  if (position <= 0) return { meanSquare: 24 * lambda * lambda, diedShare: 1 };
  const { meanSquare, diedShare } = lifetimeTable();
  const last = meanSquare.length - 1;
  if (position >= last) return { meanSquare: OUTLIVES, diedShare: 0 };
  const k = Math.floor(position);
  const f = position - k;
  return {
    meanSquare: meanSquare[k]! + f * (meanSquare[k + 1]! - meanSquare[k]!),
    diedShare: diedShare[k]! + f * (diedShare[k + 1]! - diedShare[k]!),
  };
}
