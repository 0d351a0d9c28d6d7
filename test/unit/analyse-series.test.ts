/**
 * The analysis of a series, on random runs: rankSites groups every sample under its site frame and ranks each
 * site by its own trend, by the rules rank.ts states, whether given decoded profiles or their series; the flame
 * graph's data made from a series is what aggregating each profile gives; the Theil–Sen median selected is the
 * median sorted for.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MIN_CONFIDENCE, rankSites, siteSeries, totalLiveSeries } from '../../src/analyse/rank.js';
import { defaultPlumbingPatterns, siteFrameIndex } from '../../src/analyse/sites.js';
import { theilSenSlope } from '../../src/analyse/statistics.js';
import { trendOf, warmupPoints } from '../../src/analyse/trend.js';
import type { SiteReport, SiteStatus } from '../../src/analyse/types.js';
import { sampleValueIndex, type HeapProfile, type HeapProfileFrame } from '../../src/pprof/read.js';
import { seriesOfProfiles, type ProfilePoint } from '../../src/pprof/series.js';
import { aggregateProfile, buildFlameData, flameDataOfSeries } from '../../src/report/html/flame-data.js';
import { lcg32 as random } from './helpers/prng.js';

/** In-use bytes per snapshot of every sample, grouped by the name of its site frame: what each site's series holds. */
function bytesBySite(points: readonly ProfilePoint[], patterns: readonly RegExp[]): Map<string, number[]> {
  const sites = new Map<string, number[]>();
  points.forEach((point, index) => {
    const inuse = sampleValueIndex(point.profile, 'inuse_space');
    if (inuse < 0) return;
    for (const sample of point.profile.samples) {
      const bytes = sample.values[inuse] ?? 0;
      if (bytes === 0) continue;
      const name = sample.stack[siteFrameIndex(sample.stack, patterns)]?.functionName ?? '[empty stack]';
      let series = sites.get(name);
      if (!series) sites.set(name, series = new Array<number>(points.length).fill(0));
      series[index]! += bytes;
    }
  });
  return sites;
}

function totalsOf(points: readonly ProfilePoint[]): number[] {
  return points.map((point) => {
    const inuse = sampleValueIndex(point.profile, 'inuse_space');
    return inuse < 0 ? 0 : point.profile.samples.reduce((sum, s) => sum + (s.values[inuse] ?? 0), 0);
  });
}

/** Whether key `a` comes no later than key `b`, comparing element by element. */
function notAfter(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return true;
}

const statusOrder: Record<SiteStatus, number> = { growing: 0, new: 1, stable: 1, shrinking: 2, gone: 3 };

// ---- random runs ----

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
      const bytes = kind === 0 ? 4096 * k * (1 + (i % 3)) : kind === 1 ? (rng() < 0.5 ? 0 : 65536 * Math.floor(rng() * 4)) : kind === 2 ? 1 << 20 : 512 * Math.floor(rng() * 2);
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
  test('rankSites: every sample under its site, each site ranked by its own trend, the same from profiles or their series', () => {
    for (let seed = 1; seed <= 25; seed++) {
      const points = randomRun(seed, 4 + (seed % 14));
      for (const sampleIntervalBytes of [1, 65536]) {
        const options = { sampleIntervalBytes, ...(seed % 3 === 0 ? { plumbingPatterns: [/^malloc$/, /^handle_/] } : {}) };
        const context = `seed ${seed}, S ${sampleIntervalBytes}`;
        const reports = rankSites(seriesOfProfiles(points), options);
        assert.deepEqual(rankSites(points, options), reports, context);
        const expected = bytesBySite(points, options.plumbingPatterns ?? defaultPlumbingPatterns);
        assert.deepEqual(reports.map((r) => r.function).sort(), [...expected.keys()].sort(), context);
        assert.deepEqual(reports.map((r) => r.rank), reports.map((_, i) => i + 1), context);
        const times = points.map((p) => p.timeSec);
        const skip = warmupPoints(times, totalsOf(points));
        // The order rank.ts states: growing first, fastest first; then by how likely and fast they grow (churn — renewed,
        // its growth not carried by block size — counts as not at all); then by growth, then by live bytes.
        const likely = (r: SiteReport) => (r.renewed && !r.blocks?.sizeCarriesGrowth ? 0 : r.confidence * Math.max(r.leakRateBytesPerHour, 0));
        const rankKey = (r: SiteReport) => [statusOrder[r.status], r.status === 'growing' ? -r.leakRateBytesPerHour : -likely(r), -r.growthBytes, -r.liveBytes];
        for (const [i, r] of reports.entries()) {
          assert.deepEqual(r.series, expected.get(r.function), `${context}: ${r.function}`);
          const trend = trendOf(times.slice(skip), r.series.slice(skip), sampleIntervalBytes);
          assert.deepEqual([r.leakRateBytesPerHour, r.confidence, r.shape, r.growthBytes], [trend.rateBytesPerHour, trend.confidence, trend.shape, trend.growthBytes]);
          assert.equal(r.liveBytes, r.series[r.series.length - 1]);
          if (r.status === 'growing') {
            assert.ok(trend.confidence >= DEFAULT_MIN_CONFIDENCE && trend.shape === 'linear' && trend.growthBytes >= 2 * sampleIntervalBytes, context);
          }
          const next = reports[i + 1];
          if (next) assert.ok(notAfter(rankKey(r), rankKey(next)), `${context}: ${r.function} (${rankKey(r)}) before ${next.function} (${rankKey(next)})`);
        }
      }
    }
  });

  test('totals and per-site series', () => {
    const points = randomRun(99, 12);
    assert.deepEqual(totalLiveSeries(points), totalsOf(points));
    const bySite = siteSeries(points, defaultPlumbingPatterns);
    for (const [name, series] of bytesBySite(points, defaultPlumbingPatterns)) assert.deepEqual(bySite.get(name)!.series, series);
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
