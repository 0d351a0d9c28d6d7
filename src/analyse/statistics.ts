/** Small numerical helpers for the growth estimates. */

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 via erf; |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

export interface LinearFit {
  slope: number;
  intercept: number;
  /** Standard error of the slope. */
  slopeStdError: number;
}

/**
 * Least-squares line through (x, y) with a slope error that never claims more precision than the sampling
 * allows: each y carries at least `pointVariance[i]` of variance (from the sampler), whatever the residuals say.
 */
export function fitLine(xs: readonly number[], ys: readonly number[], pointVariance: readonly number[]): LinearFit {
  const n = xs.length;
  if (n === 0) return { slope: 0, intercept: 0, slopeStdError: Infinity };
  const meanX = xs.reduce((a, b) => a + b, 0) / n;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - meanX) ** 2;
    sxy += (xs[i]! - meanX) * (ys[i]! - meanY);
  }
  if (n < 2 || sxx === 0) return { slope: 0, intercept: meanY, slopeStdError: Infinity };
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  let residual = 0;
  for (let i = 0; i < n; i++) residual += (ys[i]! - (intercept + slope * xs[i]!)) ** 2;
  const residualVariance = n > 2 ? residual / (n - 2) : 0;
  const samplingVariance = pointVariance.reduce((a, b) => a + b, 0) / n;
  const variance = Math.max(residualVariance, samplingVariance);
  return { slope, intercept, slopeStdError: Math.sqrt(variance / sxx) };
}

/**
 * The pooled slope within two segments of a series — points before `splitAt` and from it on — each with its own
 * level: least squares of y on (1, x, [x ≥ x_split]), the slope's coefficient. What a series grows apart from one
 * jump between the segments, whatever the jump's height; its standard error as fitLine's, with three parameters.
 */
export function fitSegmentSlope(xs: readonly number[], ys: readonly number[], splitAt: number, pointVariance: readonly number[]): LinearFit {
  const n = xs.length;
  const means = (values: readonly number[], from: number, to: number) => {
    let sum = 0;
    for (let i = from; i < to; i++) sum += values[i]!;
    return to > from ? sum / (to - from) : 0;
  };
  const mx = [means(xs, 0, splitAt), means(xs, splitAt, n)];
  const my = [means(ys, 0, splitAt), means(ys, splitAt, n)];
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const g = i < splitAt ? 0 : 1;
    sxx += (xs[i]! - mx[g]!) ** 2;
    sxy += (xs[i]! - mx[g]!) * (ys[i]! - my[g]!);
  }
  if (n < 4 || sxx === 0) return { slope: 0, intercept: 0, slopeStdError: Infinity };
  const slope = sxy / sxx;
  let residual = 0;
  for (let i = 0; i < n; i++) {
    const g = i < splitAt ? 0 : 1;
    residual += (ys[i]! - my[g]! - slope * (xs[i]! - mx[g]!)) ** 2;
  }
  const samplingVariance = pointVariance.reduce((a, b) => a + b, 0) / n;
  const variance = Math.max(residual / (n - 3), samplingVariance);
  return { slope, intercept: my[0]! - slope * mx[0]!, slopeStdError: Math.sqrt(variance / sxx) };
}

/**
 * Theil–Sen slope: the median of the slopes between all pairs of points. A one-off step or a single noisy
 * snapshot moves it little, where it would tilt a least-squares line: a buffer allocated once at the end of
 * a run is not a leak. Long series are thinned to at most 200 evenly spaced points (20k pairs). The median is
 * selected, not sorted for: it is computed for every site of a run.
 */
export function theilSenSlope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const step = Math.max(1, Math.ceil(n / 200));
  const m = Math.ceil(n / step);
  const slopes = new Float64Array((m * (m - 1)) / 2);
  let count = 0;
  for (let i = 0; i < n; i += step) {
    for (let j = i + step; j < n; j += step) {
      const dx = xs[j]! - xs[i]!;
      if (dx !== 0) slopes[count++] = (ys[j]! - ys[i]!) / dx;
    }
  }
  if (count === 0) return 0;
  const mid = count >> 1;
  const upper = selectSmallest(slopes, count, mid);
  if (count % 2) return upper;
  // Everything before `mid` is now at most the upper middle: the lower middle is the largest of them.
  let lower = -Infinity;
  for (let i = 0; i < mid; i++) if (slopes[i]! > lower) lower = slopes[i]!;
  return (lower + upper) / 2;
}

/**
 * The k-th smallest (0-based) of the first `count` values of `a`, which it reorders so that every value before
 * position k is at most it (quickselect).
 */
export function selectSmallest(a: Float64Array, count: number, k: number): number {
  let low = 0;
  let high = count - 1;
  while (low < high) {
    const pivot = a[(low + high) >>> 1]!;
    let i = low;
    let j = high;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) high = j;
    else if (k >= i) low = i;
    else return a[k]!;
  }
  return a[k]!;
}
