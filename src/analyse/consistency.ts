/**
 * A ranking that never contradicts its own figures. The ranking (rank.ts) fits a line through each site's live bytes
 * over the trend window; these rules make the rate it reports agree with the site's status and growth:
 *
 *   - A site with no live bytes at either end of the window and no growth (memory that came and went) has no rate to
 *     speak of: 0, with no interval and no confidence, ranked after every site that holds memory.
 *   - Rate and growth never have opposite signs: when the line and the end points disagree, the series has no
 *     direction, and its rate is 0.
 *   - A stable site's rate is within its noise, as the growing rule measures it: a rise at the rule's confidence
 *     that still is not "growing" (a plateau, a one-off step, churn, a rise too small to matter) and a fall whose
 *     whole 90% interval is below zero that still is not "shrinking" are no rate either: 0.
 *
 * Growing and shrinking sites are left as they are: their rules already require rate and growth to agree.
 */
import type { SiteReport } from './types.js';

/** `windowStart`: the index in each site's series of the trend window's first snapshot. */
export function consistentSites(sites: readonly SiteReport[], windowStart: number, minConfidence: number): SiteReport[] {
  const quiet: SiteReport[] = [];
  const holding: SiteReport[] = [];
  for (const site of sites) {
    const fixed = consistentSite(site, windowStart, minConfidence);
    (isQuiet(fixed, windowStart) ? quiet : holding).push(fixed);
  }
  return [...holding, ...quiet].map((site, i) => ({ ...site, rank: i + 1 }));
}

function isQuiet(site: SiteReport, windowStart: number): boolean {
  const first = site.series[Math.min(windowStart, Math.max(site.series.length - 1, 0))] ?? 0;
  const last = site.series[site.series.length - 1] ?? 0;
  return first === 0 && last === 0 && site.growthBytes === 0;
}

function noRate(site: SiteReport): SiteReport {
  return { ...site, leakRateBytesPerHour: 0 };
}

function consistentSite(site: SiteReport, windowStart: number, minConfidence: number): SiteReport {
  if (site.status === 'growing' || site.status === 'shrinking') return site;
  if (isQuiet(site, windowStart)) return { ...site, leakRateBytesPerHour: 0, leakRateIntervalBytesPerHour: [0, 0], confidence: 0 };
  const rate = site.leakRateBytesPerHour;
  if (rate !== 0 && Math.sign(rate) !== Math.sign(site.growthBytes)) return noRate(site);
  if (site.status !== 'stable') return site;
  if (rate > 0 && site.confidence >= minConfidence) return noRate(site);
  if (rate < 0 && site.leakRateIntervalBytesPerHour[1] < 0) return noRate(site);
  return site;
}
