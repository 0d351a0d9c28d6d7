/**
 * The columnar analysis against the per-sample one it replaced: rankSites over a ProfileSeries gives what grouping
 * every sample of every profile one by one gave (kept here as the reference), in the same order and with the same
 * figures; the flame graph's data made from a series is what aggregating each profile gives; the Theil–Sen median
 * selected is the median sorted for.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rankSites, siteSeries, totalLiveSeries } from '../../src/analyse/rank.js';
import { defaultPlumbingPatterns, describeFrame, siteFrameIndex } from '../../src/analyse/sites.js';
import { theilSenSlope } from '../../src/analyse/statistics.js';
import { trendOf, warmupPoints, type Trend } from '../../src/analyse/trend.js';
import type { AnalysisOptions, SiteReport, SiteStatus } from '../../src/analyse/types.js';
import { sampleValueIndex, type HeapProfile, type HeapProfileFrame } from '../../src/pprof/read.js';
import { seriesOfProfiles, type ProfilePoint } from '../../src/pprof/series.js';
import { aggregateProfile, buildFlameData, flameDataOfSeries } from '../../src/report/html/flame-data.js';

// ---- the reference: the per-sample grouping as it was before the series ----

function referenceRank(points: readonly ProfilePoint[], options: AnalysisOptions): SiteReport[] {
  const patterns = options.plumbingPatterns ?? defaultPlumbingPatterns;
  const minConfidence = options.minConfidence ?? 0.9;
  const materialBytes = 2 * Math.max(options.sampleIntervalBytes, 1);
  const times = points.map((p) => p.timeSec);
  const total = points.map((point) => {
    const inuse = sampleValueIndex(point.profile, 'inuse_space');
    return inuse < 0 ? 0 : point.profile.samples.reduce((sum, s) => sum + (s.values[inuse] ?? 0), 0);
  });
  const skip = warmupPoints(times, total);
  type Acc = { function: string; location: string; oldestAgeMs?: number; ageBytes: number; ageWeighted: number; series: number[];
    stacks: Map<string, { frames: HeapProfileFrame[]; series: number[] }> };
  const sites = new Map<string, Acc>();
  points.forEach((point, index) => {
    const inuse = sampleValueIndex(point.profile, 'inuse_space');
    if (inuse < 0) return;
    for (const sample of point.profile.samples) {
      const bytes = sample.values[inuse] ?? 0;
      if (bytes === 0) continue;
      const site = sample.stack[siteFrameIndex(sample.stack, patterns)];
      const name = site?.functionName ?? '[empty stack]';
      let acc = sites.get(name);
      if (!acc) {
        acc = { function: name, location: site ? describeFrame(site) : name, ageBytes: 0, ageWeighted: 0, series: new Array<number>(points.length).fill(0), stacks: new Map() };
        sites.set(name, acc);
      }
      acc.series[index]! += bytes;
      const oldest = sample.labels['oldest_live_age_ms'];
      const mean = sample.labels['mean_live_age_ms'];
      if (index === points.length - 1 && typeof oldest === 'number' && typeof mean === 'number') {
        acc.oldestAgeMs = Math.max(acc.oldestAgeMs ?? 0, oldest);
        acc.ageBytes += bytes;
        acc.ageWeighted += bytes * mean;
      }
      const key = sample.stack.map((f) => `${f.functionName}@${f.address ?? ''}`).join('|');
      let stack = acc.stacks.get(key);
      if (!stack) {
        stack = { frames: sample.stack, series: new Array<number>(points.length).fill(0) };
        acc.stacks.set(key, stack);
      }
      stack.series[index]! += bytes;
    }
  });
  const statusOf = (series: number[], trend: Trend, young: boolean): SiteStatus => {
    const first = series[0] ?? 0;
    const last = series[series.length - 1] ?? 0;
    if (series.length >= 2 && trend.confidence >= minConfidence && trend.shape === 'linear' && trend.growthBytes >= materialBytes && !young) return 'growing';
    if (series.length >= 2 && trend.shape === 'shrinking' && -trend.growthBytes >= materialBytes) return last === 0 ? 'gone' : 'shrinking';
    if (series.length >= 2 && first === 0 && last > 0) return 'new';
    if (series.length >= 2 && first > 0 && last === 0) return 'gone';
    return 'stable';
  };
  const order: Record<SiteStatus, number> = { growing: 0, new: 1, stable: 1, shrinking: 2, gone: 3 };
  const reports: Omit<SiteReport, 'rank'>[] = [];
  const churning = new Set<Omit<SiteReport, 'rank'>>();
  for (const site of sites.values()) {
    const trend = trendOf(times.slice(skip), site.series.slice(skip), options.sampleIntervalBytes);
    const last = site.series.length - 1;
    let heaviest: { frames: HeapProfileFrame[]; series: number[] } | undefined;
    const weight = (s: { series: number[] }) => Math.max(s.series[last]!, s.series[last]! - s.series[0]!);
    for (const stack of site.stacks.values()) if (!heaviest || weight(stack) > weight(heaviest)) heaviest = stack;
    const ages = site.oldestAgeMs !== undefined && site.ageBytes > 0
      ? { oldestSec: site.oldestAgeMs / 1000, meanSec: site.ageWeighted / site.ageBytes / 1000 } : undefined;
    const windowSec = (times[times.length - 1] ?? 0) - (times[skip] ?? 0);
    const young = ages !== undefined && windowSec > 0 && ages.oldestSec < 0.25 * windowSec;
    const heavy = [...site.stacks.values()].sort((a, b) => b.series[last]! - a.series[last]!).slice(0, 3);
    reports.push({
      function: site.function, location: site.location, stack: (heaviest?.frames ?? []).map(describeFrame),
      status: statusOf(site.series, trend, young), ...(ages ? { ages } : {}),
      ...(site.stacks.size > 1 ? { stacks: heavy.map((s) => ({ stack: s.frames.map(describeFrame), series: s.series })) } : {}),
      shape: trend.shape, leakRateBytesPerHour: trend.rateBytesPerHour, leakRateIntervalBytesPerHour: trend.rateIntervalBytesPerHour,
      growthBytes: trend.growthBytes, liveBytes: site.series[last] ?? 0, confidence: trend.confidence, series: site.series,
    });
    if (young) churning.add(reports[reports.length - 1]!);
  }
  const likely = (r: Omit<SiteReport, 'rank'>) => (churning.has(r) ? 0 : r.confidence * Math.max(r.leakRateBytesPerHour, 0));
  reports.sort((a, b) => order[a.status] - order[b.status]
    || (a.status === 'growing' ? b.leakRateBytesPerHour - a.leakRateBytesPerHour : likely(b) - likely(a))
    || b.growthBytes - a.growthBytes || b.liveBytes - a.liveBytes);
  return reports.map((r, i) => ({ rank: i + 1, ...r }));
}

// ---- random runs ----

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const names = ['malloc', 'operator new(unsigned long)', 'std::vector<int>::_M_realloc_insert', 'cache_fill(int)', 'handle_request',
  'parse_json', 'main', 'java.util.zip.Deflater.init', 'worker_loop', 'zcalloc', 'leak_sessions(char const*)'];

/** Profiles with shared frames, equal stacks under different frames (same names, other lines), zeros, ages, ties. */
function randomRun(seed: number, snapshots: number): ProfilePoint[] {
  const rng = random(seed);
  const frame = (): HeapProfileFrame => {
    const name = names[Math.floor(rng() * names.length)]!;
    const f: HeapProfileFrame = { functionName: name };
    if (rng() < 0.7) f.address = BigInt(0x401000 + Math.floor(rng() * 8) * 16);
    if (rng() < 0.5) { f.fileName = `${name.split('(')[0]}.c`; f.line = 1 + Math.floor(rng() * 3); }
    if (rng() < 0.3) f.mappingFile = '/usr/lib/libapp.so';
    return f;
  };
  const stacks = Array.from({ length: 40 }, () => Array.from({ length: Math.floor(rng() * 6) }, frame));
  const kinds = stacks.map(() => Math.floor(rng() * 4));
  return Array.from({ length: snapshots }, (_, k) => {
    const samples = stacks.flatMap((stack, i) => {
      if (rng() < 0.1) return [];
      const kind = kinds[i]!;
      const bytes = kind === 0 ? 4096 * k : kind === 1 ? (rng() < 0.5 ? 0 : 65536 * Math.floor(rng() * 4)) : kind === 2 ? 1 << 20 : 512 * Math.floor(rng() * 2);
      const live = bytes > 0 && rng() < 0.9;
      return [{ stack, values: [k, bytes * 3, bytes / 512, bytes], labels: { stack_id: i, ...(live ? { oldest_live_age_ms: 1000 * Math.floor(rng() * k * 10), mean_live_age_ms: 500 * k } : {}) } }];
    });
    const profile: HeapProfile = {
      sampleTypes: k === 3 ? [{ type: 'alloc_space', unit: 'bytes' }] : [{ type: 'alloc_objects', unit: 'count' }, { type: 'alloc_space', unit: 'bytes' },
        { type: 'inuse_objects', unit: 'count' }, { type: 'inuse_space', unit: 'bytes' }],
      timeNanos: BigInt(k) * 10_000_000_000n, durationNanos: 0n, samples,
    };
    return { timeSec: 10 * k + (k % 4 === 1 ? 0.25 : 0), profile };
  });
}

describe('the analysis of a series', () => {
  test('rankSites over the series: site for site, stack for stack, what grouping sample by sample gave', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const points = randomRun(seed, 4 + (seed % 14));
      for (const sampleIntervalBytes of [1, 65536]) {
        const options = { sampleIntervalBytes, ...(seed % 3 === 0 ? { plumbingPatterns: [/^malloc$/, /^handle_/] } : {}) };
        assert.deepEqual(rankSites(seriesOfProfiles(points), options), referenceRank(points, options), `seed ${seed}, S ${sampleIntervalBytes}`);
        assert.deepEqual(rankSites(points, options), referenceRank(points, options));
      }
    }
  });

  test('totals and per-site series as before', () => {
    const points = randomRun(99, 12);
    const expected = points.map((point) => {
      const inuse = sampleValueIndex(point.profile, 'inuse_space');
      return inuse < 0 ? 0 : point.profile.samples.reduce((sum, s) => sum + (s.values[inuse] ?? 0), 0);
    });
    assert.deepEqual(totalLiveSeries(points), expected);
    const bySite = siteSeries(points, defaultPlumbingPatterns);
    for (const site of referenceRank(points, { sampleIntervalBytes: 1 })) assert.deepEqual(bySite.get(site.function)!.series, site.series);
  });

  test('the flame graph from the series is the one from aggregating each profile', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const points = randomRun(100 + seed, 3 + seed * 2);
      const timeline = points.map((p, k) => ({ sequence: 10 + k, timeSec: p.timeSec }));
      for (const limits of [{}, { maxStacksPerSnapshot: 3, maxStacks: 5, maxSnapshots: 4 }, { maxStacksPerSnapshot: 1, maxStacks: 2 }]) {
        const reference = buildFlameData(points.map((p, k) => aggregateProfile(10 + k, p.timeSec, p.profile)), limits);
        // loadFlameData picks the profiles it reads as buildFlameData picks among them: evenly spaced.
        assert.deepEqual(flameDataOfSeries(seriesOfProfiles(points), timeline, limits), reference, `seed ${seed} ${JSON.stringify(limits)}`);
      }
    }
  });

  test('Theil–Sen: the selected median is the sorted one, ties and repeated times included', () => {
    const sorted = (xs: number[], ys: number[]) => {
      const step = Math.max(1, Math.ceil(xs.length / 200));
      const slopes: number[] = [];
      for (let i = 0; i < xs.length; i += step) {
        for (let j = i + step; j < xs.length; j += step) if (xs[j] !== xs[i]) slopes.push((ys[j]! - ys[i]!) / (xs[j]! - xs[i]!));
      }
      if (slopes.length === 0) return 0;
      slopes.sort((a, b) => a - b);
      const mid = slopes.length >> 1;
      return slopes.length % 2 ? slopes[mid]! : (slopes[mid - 1]! + slopes[mid]!) / 2;
    };
    const rng = random(7);
    for (let t = 0; t < 300; t++) {
      const n = 1 + Math.floor(rng() * 450);
      const xs = Array.from({ length: n }, (_, i) => (rng() < 0.05 ? Math.max(0, i - 1) : i) * 10);
      const ys = xs.map(() => (rng() < 0.3 ? Math.floor(rng() * 4) * 1000 : Math.floor(rng() * 1e6)));
      assert.equal(theilSenSlope(xs, ys) + 0, sorted(xs, ys) + 0, `n ${n}`);
    }
  });
});
