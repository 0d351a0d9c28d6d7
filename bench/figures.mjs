// Figures as the bench computes and prints them: the median it takes of every set of rounds, and the number
// formats of RESULTS.md. Shared by run.mjs and targets.mjs.

export function median(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
export const fmtRatio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
export const fmtSigned = (x, digits = 1) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(digits)}` : '–');
export const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
/** A path's share of a profiled run's samples, as what it cost each of the run's malloc+free pairs. */
export const nsAPair = (share, nsPerPair) => `≈ ${(share * nsPerPair).toFixed(1)} ns a pair`;
