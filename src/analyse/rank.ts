/**
 * Per-site series and growth ranking over a run's snapshots.
 *
 * Each site's live bytes form a series over time. The growth rate is the least-squares slope; its
 * uncertainty is the larger of what the residuals show and what the sampler guarantees: an upscaled
 * estimate of B live bytes at interval S has a variance of about S·B (each sample of a small block stands
 * for about S bytes). Confidence is the probability that the true slope is above zero.
 */
import { seriesOfProfiles, stackKindOf, totalInuse, type HeapProfileFrame, type ProfilePoint, type ProfileSeries } from '../pprof/index.js';
import type { SiteKind } from '../snapshot/types.js';
import { blockGrowthOf, containerCadence, type BlockGrowth } from './containers.js';
import { defaultLibraryPatterns, defaultPlumbingPatterns, describeFrame, frameSource, isLibraryFrame, isPlumbing } from './sites.js';
import { trendOf, warmupPoints, type Trend } from './trend.js';
import type { AnalysisOptions, SiteReport, SiteStatus } from './types.js';

/**
 * A site is growing when its confidence (a calibrated posterior, see trend.ts: a flat site reaches 0.9 in
 * under 2% of runs) is at least this, its shape is linear, and it grew by a material amount.
 */
export const DEFAULT_MIN_CONFIDENCE = 0.9;

interface SiteAccumulator {
  function: string;
  location: string;
  /** At the last point: the oldest live block's age, and Σ bytes × mean age (for the bytes-weighted mean). */
  oldestAgeMs?: number;
  ageBytes: number;
  ageWeighted: number;
  series: number[];
  /** Per full stack: its live bytes at each point, to pick the site's representative stack. */
  stacks: Map<string, { frames: HeapProfileFrame[]; series: number[] }>;
}

function stackKey(frames: readonly HeapProfileFrame[]): string {
  return frames.map((f) => `${f.functionName}@${f.address ?? ''}`).join('|');
}

/** One full stack of a site (by stackKey): its bytes at the first and last points, its series when asked for. */
interface StackEntry {
  frames: readonly HeapProfileFrame[];
  first: number;
  last: number;
  /** Its bytes where the trend window starts (after the warm-up). */
  windowFirst: number;
  /** The oldest live block's age at the last point, when the profile says. */
  oldestAgeMs?: number;
  series?: number[];
}

interface SiteEntries {
  function: string;
  location: string;
  source: { file: string; line: number } | undefined;
  kind: SiteKind;
  oldestAgeMs?: number;
  ageBytes: number;
  ageWeighted: number;
  /** What its stacks live at the last point allocated over the run (alloc_space), when the profiles say. */
  allocatedBytes?: number;
  series: number[];
  entries: StackEntry[];
  byKey: Map<string, StackEntry>;
  /** The upscaled bytes of its blocks first seen live after the trend window's first point (SeriesPoint.seenBirths). */
  windowBirthsBytes: number;
}

/** siteFrameIndex with each function's (name, file and object's) plumbing and library tests done once. */
function siteFrameIndexOf(frames: readonly HeapProfileFrame[], patterns: readonly RegExp[], cache: Map<string, number>): number {
  const kind = (frame: HeapProfileFrame): number => {
    const key = frame.fileName === undefined && frame.mappingFile === undefined ? frame.functionName
      : `${frame.functionName}\0${frame.fileName ?? ''}\0${frame.mappingFile ?? ''}`;
    let k = cache.get(key);
    if (k === undefined) {
      k = (isPlumbing(frame, patterns) ? 1 : 0) | (isLibraryFrame(frame, defaultLibraryPatterns) ? 2 : 0);
      cache.set(key, k);
    }
    return k;
  };
  let library = -1;
  for (let i = 0; i < frames.length; i++) {
    const k = kind(frames[i]!);
    if (k === 0) return i;
    if (library < 0 && (k & 1) === 0) library = i;
  }
  return library < 0 ? 0 : library;
}

/** Sites are told apart by function and kind: a function's mappings are a site apart from its malloc blocks. */
function siteKey(name: string, kind: SiteKind): string {
  return kind === 'malloc' ? name : `${name}\u0000${kind}`;
}

/**
 * Every point's samples grouped by site (the first frame that is not plumbing, and the kind), in the order sites
 * first show live bytes; within a site, by full stack. Full per-stack series are made for the stacks `wanted` picks, in a second
 * pass (a site can have thousands of stacks; a report shows three).
 */
function groupSites(
  series: ProfileSeries, patterns: readonly RegExp[], wanted: (site: SiteEntries) => readonly StackEntry[], windowStart = 0,
): { sites: SiteEntries[]; siteOf: readonly (SiteEntries | undefined)[] } {
  const n = series.points.length;
  const sites: SiteEntries[] = [];
  const siteByName = new Map<string, SiteEntries>();
  const plumbing = new Map<string, number>();
  const siteOf: (SiteEntries | undefined)[] = new Array(series.stacks.length);
  const entryOf: (StackEntry | undefined)[] = new Array(series.stacks.length);
  series.points.forEach((point, index) => {
    const { stackOf, inuse } = point;
    const atLast = index === n - 1;
    for (let j = 0; j < inuse.length; j++) {
      const bytes = inuse[j]!;
      if (bytes === 0) continue;
      const stack = stackOf[j]!;
      let site = siteOf[stack];
      let entry = entryOf[stack];
      if (!site || !entry) {
        const frames = series.stacks[stack]!;
        const siteFrame = frames[siteFrameIndexOf(frames, patterns, plumbing)];
        const name = siteFrame?.functionName ?? '[empty stack]';
        const kind = stackKindOf(series, stack);
        site = siteByName.get(siteKey(name, kind));
        if (!site) {
          site = {
            function: name, location: siteFrame ? describeFrame(siteFrame) : name, source: frameSource(siteFrame), kind, ageBytes: 0, ageWeighted: 0,
            series: new Array<number>(n).fill(0), entries: [], byKey: new Map(), windowBirthsBytes: 0,
          };
          siteByName.set(siteKey(name, kind), site);
          sites.push(site);
        }
        const key = stackKey(frames);
        entry = site.byKey.get(key);
        if (!entry) {
          entry = { frames, first: 0, last: 0, windowFirst: 0 };
          site.byKey.set(key, entry);
          site.entries.push(entry);
        }
        siteOf[stack] = site;
        entryOf[stack] = entry;
      }
      site.series[index]! += bytes;
      if (index === 0) entry.first += bytes;
      if (index === windowStart) entry.windowFirst += bytes;
      if (atLast) {
        entry.last += bytes;
        const allocated = point.allocBytes?.[j];
        if (allocated !== undefined) site.allocatedBytes = (site.allocatedBytes ?? 0) + allocated;
        const oldest = point.oldestAgeMs?.[j];
        const mean = point.meanAgeMs?.[j];
        if (oldest !== undefined && mean !== undefined && !Number.isNaN(oldest) && !Number.isNaN(mean)) {
          site.oldestAgeMs = Math.max(site.oldestAgeMs ?? 0, oldest);
          entry.oldestAgeMs = Math.max(entry.oldestAgeMs ?? 0, oldest);
          site.ageBytes += bytes;
          site.ageWeighted += bytes * mean;
        }
      }
    }
    // Births are at points where their stack has in-use bytes: the loop above gave each of them its site.
    const births = point.seenBirths;
    if (births && index > windowStart) {
      for (let j = 0; j < births.stackOf.length; j++) {
        const site = siteOf[births.stackOf[j]!];
        if (site) site.windowBirthsBytes += births.bytes[j]!;
      }
    }
  });
  let anyWanted = false;
  for (const site of sites) {
    for (const entry of wanted(site)) {
      entry.series = new Array<number>(n).fill(0);
      anyWanted = true;
    }
  }
  if (anyWanted) {
    series.points.forEach((point, index) => {
      const { stackOf, inuse } = point;
      for (let j = 0; j < inuse.length; j++) {
        const bytes = inuse[j]!;
        if (bytes === 0) continue;
        const entry = entryOf[stackOf[j]!]!;
        if (entry.series) entry.series[index]! += bytes;
      }
    });
  }
  return { sites, siteOf };
}

/**
 * The live blocks (inuse_objects) per point of the sites asked for, by site; none when the profiles do not carry
 * them. A pass of its own: only the few sites whose growth is in question need them.
 */
function siteObjects(
  series: ProfileSeries, siteOf: readonly (SiteEntries | undefined)[], wanted: ReadonlySet<SiteEntries>,
): Map<SiteEntries, number[]> {
  const objects = new Map<SiteEntries, number[]>();
  if (wanted.size === 0 || series.points.some((point) => point.inuse.length > 0 && !point.objects)) return objects;
  for (const site of wanted) objects.set(site, new Array<number>(series.points.length).fill(0));
  series.points.forEach((point, index) => {
    const { stackOf, objects: counts } = point;
    for (let j = 0; j < stackOf.length; j++) {
      const site = siteOf[stackOf[j]!];
      const column = site && objects.get(site);
      if (column) column[index]! += counts![j]!;
    }
  });
  return objects;
}

/** Groups every point's samples by site; each series has one value per point. Keyed by function (and for sites of
 * mapped memory, a NUL and the kind after it). */
export function siteSeries(points: readonly ProfilePoint[] | ProfileSeries, patterns: readonly RegExp[]): Map<string, SiteAccumulator> {
  const { sites } = groupSites(asSeries(points), patterns, (site) => site.entries);
  return new Map(sites.map((site) => [siteKey(site.function, site.kind), {
    function: site.function, location: site.location, ...(site.oldestAgeMs === undefined ? {} : { oldestAgeMs: site.oldestAgeMs }),
    ageBytes: site.ageBytes, ageWeighted: site.ageWeighted, series: site.series,
    stacks: new Map(site.entries.map((entry) => [stackKey(entry.frames), { frames: [...entry.frames], series: entry.series! }])),
  }]));
}

function asSeries(points: readonly ProfilePoint[] | ProfileSeries): ProfileSeries {
  return Array.isArray(points) ? seriesOfProfiles(points as readonly ProfilePoint[]) : points as ProfileSeries;
}

/** Growth of one live-bytes series sampled at `timesSec`, with `sampleIntervalBytes` of sampling noise. */
export function seriesGrowth(timesSec: readonly number[], series: readonly number[], sampleIntervalBytes: number): Trend {
  return trendOf(timesSec, series, sampleIntervalBytes);
}

/**
 * The second signal: in a leak the live blocks were allocated all along the trend window, so the oldest is about
 * as old as the window; when even the oldest live block is young, the site's live set is being renewed — by churn
 * (perhaps under rising load), or by a growing container that replaces its block with a bigger one. A block renewed
 * by realloc (a mapping by mremap) keeps its first sampled ancestor's birth (the shim's lineage), so such a buffer is
 * old; a container that allocates anew, copies and frees (std::vector, std::string, a hash table's buckets) is not,
 * nor is a free followed by a larger malloc from the same stack. Which of the two a young site is, is told by the
 * blocks' count and mean size (containers.ts), never by their age alone.
 *
 * Youth is judged on the stacks that carry the growth, not on the site's single oldest block: churn whose requests
 * wait in a std::deque keeps one long-lived block (the deque's index) beside thousands of young ones, and that one
 * block must not turn rising load into a leak. So a site is renewed when its stacks that hold a block older than a
 * quarter of the window grew over the window by less than a tenth of the site's growth: a leak's growth sits in
 * old blocks (three quarters of a linear leak's window growth is older than the window's last quarter), churn's in
 * young ones, and a block kept since the warm-up grows in no window.
 */
const YOUNG_WINDOW_SHARE = 0.25;
const OLD_SHARE_OF_GROWTH = 0.1;

function renewed(site: SiteEntries, windowSec: number, growthBytes: number): boolean {
  if (site.oldestAgeMs === undefined || site.ageBytes <= 0 || !(windowSec > 0)) return false;
  const oldMs = YOUNG_WINDOW_SHARE * windowSec * 1000;
  let oldStacks = 0;
  let oldGrowthBytes = 0;
  for (const entry of site.entries) {
    if ((entry.oldestAgeMs ?? 0) < oldMs) continue;
    oldStacks++;
    oldGrowthBytes += Math.max(entry.last - entry.windowFirst, 0);
  }
  return oldStacks === 0 || oldGrowthBytes < OLD_SHARE_OF_GROWTH * growthBytes;
}

/**
 * Churn: the site is renewed (its growth is in young blocks) and the growth is not carried by block size. Without block counts (profiles
 * without inuse_objects) young blocks are taken for churn, as nothing else can tell.
 */
function isChurn(young: boolean, blocks: BlockGrowth | undefined): boolean {
  return young && !blocks?.sizeCarriesGrowth;
}

function statusOf(
  series: readonly number[], trend: Trend, minConfidence: number, materialBytes: number, churn: boolean,
): SiteStatus {
  const first = series[0] ?? 0;
  const last = series[series.length - 1] ?? 0;
  if (series.length >= 2 && trend.confidence >= minConfidence && trend.shape === 'linear'
    && trend.growthBytes >= materialBytes && !churn) return 'growing';
  if (series.length >= 2 && trend.shape === 'shrinking' && -trend.growthBytes >= materialBytes) {
    return last === 0 ? 'gone' : 'shrinking';
  }
  if (series.length >= 2 && first === 0 && last > 0) return 'new';
  if (series.length >= 2 && first > 0 && last === 0) return 'gone';
  return 'stable';
}

const statusOrder: Record<SiteStatus, number> = { growing: 0, new: 1, stable: 1, shrinking: 2, gone: 3 };

/** The site's heaviest stacks (up to 3), by live bytes at the last point; ties keep the order stacks came in. */
function heavyStacks(site: SiteEntries): StackEntry[] {
  return [...site.entries].sort((a, b) => b.last - a.last).slice(0, 3);
}

/** Ranks the sites of a run's profiles (see rankSeries). */
export function rankSites(points: readonly ProfilePoint[] | ProfileSeries, options: AnalysisOptions): SiteReport[] {
  return rankSeries(asSeries(points), options);
}

export function rankSeries(series: ProfileSeries, options: AnalysisOptions): SiteReport[] {
  const patterns = options.plumbingPatterns ?? defaultPlumbingPatterns;
  const minConfidence = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
  // Growth smaller than two sampling intervals is within what one or two samples can do by chance.
  const materialBytes = 2 * Math.max(options.sampleIntervalBytes, 1);
  const times = series.points.map((p) => p.timeSec);
  const skip = warmupOfSeries(series, options);
  const reports: Omit<SiteReport, 'rank'>[] = [];
  /** Churn sites (renewed, not carried by block size), whatever their trend says. */
  const churning = new Set<Omit<SiteReport, 'rank'>>();
  const { sites, siteOf } = groupSites(series, patterns, (site) => (site.entries.length > 1 ? heavyStacks(site) : []), skip);
  const windowTimes = times.slice(skip);
  // What each site's blocks turned over in the window, when the profiles say (see trend.ts, turnover).
  const turnoverKnown = series.points.some((point) => point.seenBirths !== undefined);
  const trends = new Map(sites.map((site) => [site, trendOf(windowTimes, site.series.slice(skip), options.sampleIntervalBytes, undefined,
    turnoverKnown ? site.windowBirthsBytes : undefined)]));
  // The sites whose growth is significant and material: how their blocks grew decides container or churn.
  const inQuestion = new Set(sites.filter((site) => {
    const t = trends.get(site)!;
    return t.confidence >= minConfidence && t.growthBytes >= materialBytes;
  }));
  const objects = siteObjects(series, siteOf, inQuestion);
  for (const site of sites) {
    const siteObjectSeries = objects.get(site);
    const blocks = siteObjectSeries ? blockGrowthOf(windowTimes, site.series.slice(skip), siteObjectSeries.slice(skip)) : undefined;
    const trend = containerTrend(trends.get(site)!, blocks, times, site.series, skip, materialBytes, options.sampleIntervalBytes);
    const last = site.series.length - 1;
    let heaviest: StackEntry | undefined;
    const weight = (s: StackEntry) => Math.max(s.last, s.last - s.first);
    for (const stack of site.entries) {
      if (!heaviest || weight(stack) > weight(heaviest)) heaviest = stack;
    }
    const ages = site.oldestAgeMs !== undefined && site.ageBytes > 0
      ? { oldestSec: site.oldestAgeMs / 1000, meanSec: site.ageWeighted / site.ageBytes / 1000 } : undefined;
    const windowSec = (times[times.length - 1] ?? 0) - (times[skip] ?? 0);
    const young = renewed(site, windowSec, trend.growthBytes);
    const churn = isChurn(young, blocks);
    reports.push({
      function: site.function,
      location: site.location,
      ...(site.source ? { source: site.source } : {}),
      kind: site.kind,
      stack: (heaviest?.frames ?? []).map(describeFrame),
      // Trends leave the warm-up out; new and gone are about the whole run.
      status: statusOf(site.series, trend, minConfidence, materialBytes, churn),
      ...(ages ? { ages } : {}),
      ...(young ? { renewed: true as const } : {}),
      ...(site.allocatedBytes !== undefined ? { freedBytes: Math.max(site.allocatedBytes - (site.series[last] ?? 0), 0) } : {}),
      ...(blocks ? { blocks } : {}),
      ...(churn && blocks ? { churn: true } : {}),
      ...(turnoverKnown ? { turnover: { bornBytes: site.windowBirthsBytes, diedBytes: Math.max(site.windowBirthsBytes - trend.growthBytes, 0) } } : {}),
      ...(site.entries.length > 1 ? { stacks: heavyStacks(site).map((s) => ({ stack: s.frames.map(describeFrame), series: s.series! })) } : {}),
      shape: trend.shape,
      leakRateBytesPerHour: trend.rateBytesPerHour,
      leakRateIntervalBytesPerHour: trend.rateIntervalBytesPerHour,
      growthBytes: trend.growthBytes,
      liveBytes: site.series[last] ?? 0,
      confidence: trend.confidence,
      series: site.series,
    });
    if (churn) churning.add(reports[reports.length - 1]!);
  }
  // Growing sites by rate; the rest by how much growth they are likely to have (rate × confidence), so a leak
  // with too few samples to be called growing yet still ranks above sites that merely appeared once. Churn (every
  // live block young) is likely to have none, however its live bytes happened to swing between two snapshots.
  const likelyRate = (r: Omit<SiteReport, 'rank'>) => (churning.has(r) ? 0 : r.confidence * Math.max(r.leakRateBytesPerHour, 0));
  reports.sort((a, b) => statusOrder[a.status] - statusOrder[b.status]
    || (a.status === 'growing' ? b.leakRateBytesPerHour - a.leakRateBytesPerHour : likelyRate(b) - likelyRate(a))
    || b.growthBytes - a.growthBytes || b.liveBytes - a.liveBytes);
  return reports.map((r, i) => ({ rank: i + 1, ...r }));
}

/**
 * A container's staircase is judged by its own cadence, not by the halves of the run (containers.ts): when the
 * site's growth is carried by block size, whether it stopped (saturating) or goes on (linear) is decided by whether
 * its next step is overdue.
 */
function containerTrend(
  trend: Trend, blocks: BlockGrowth | undefined, times: readonly number[], series: readonly number[], skip: number,
  materialBytes: number, sampleIntervalBytes: number,
): Trend {
  if (!blocks?.sizeCarriesGrowth || (trend.shape !== 'linear' && trend.shape !== 'saturating' && trend.shape !== 'step')) return trend;
  const { stillGrowing, steps } = containerCadence(times, series, skip, materialBytes, sampleIntervalBytes);
  // A window that holds one step of a staircase begun before it (a doubling container's steps are geometric: a run's
  // last three quarters hold about two of them) is the container's cadence, not a one-off; a staircase of one step is.
  if (trend.shape === 'step' && steps < 2) return trend;
  return { ...trend, shape: stillGrowing ? 'linear' : 'saturating' };
}

/** How many leading snapshots are warm-up: --warmup if given, else detected from the total live bytes. */
export function warmupOf(points: readonly ProfilePoint[] | ProfileSeries, options: Pick<AnalysisOptions, 'warmupSec'>): number {
  return warmupOfSeries(asSeries(points), options);
}

function warmupOfSeries(series: ProfileSeries, options: Pick<AnalysisOptions, 'warmupSec'>): number {
  const points = series.points;
  if (options.warmupSec !== undefined) {
    const start = points[0]?.timeSec ?? 0;
    const k = points.findIndex((p) => p.timeSec - start >= options.warmupSec!);
    return k < 0 ? 0 : Math.min(k, Math.max(points.length - 2, 0));
  }
  return warmupPoints(points.map((p) => p.timeSec), totalInuse(series));
}

/** Total live bytes per point (all sites). */
export function totalLiveSeries(points: readonly ProfilePoint[] | ProfileSeries): number[] {
  return totalInuse(asSeries(points));
}
