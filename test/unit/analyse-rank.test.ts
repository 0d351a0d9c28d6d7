import { rawSnapshot } from './helpers/raw-snapshot.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MIN_CONFIDENCE, rankSites, seriesGrowth, siteSeries, totalLiveSeries } from '../../src/analyse/rank.js';
import { defaultPlumbingPatterns } from '../../src/analyse/sites.js';
import { fitLine, normalCdf, theilSenSlope } from '../../src/analyse/statistics.js';
import { memoryGrowth, timelineOf, type TimelinePoint } from '../../src/analyse/timeline.js';
import type { MemoryGrowth, SiteReport, SiteStatus } from '../../src/analyse/types.js';
import { decideVerdict as decide, MIN_SNAPSHOTS_FOR_TREND, type VerdictInput } from '../../src/analyse/verdict.js';
import { verdictDetail } from '../../src/pipeline/verdict-text.js';
import type { HeapProfile, HeapProfileFrame, ProfilePoint } from '../../src/pprof/index.js';
import type { RawSnapshot, SiteStats } from '../../src/snapshot/types.js';
import { mulberry32 as prng } from './helpers/prng.js';

/** The decision in the words report.json gives it. */
const decideVerdict = (input: VerdictInput) => verdictDetail(decide(input));

const KiB = 1024;
const MiB = 1024 * KiB;
const HOUR = 3600;

// ---------------------------------------------------------------------------------------------------------------
// An honest model of the shim's sampler (native/FORMAT.md, "Sampling and weights"): a block of size s is sampled
// with probability p = 1 − exp(−s/S) and, while live, counts for s/p bytes. Every block gets its own draw, so the
// counts are exactly binomial. A block that stays live keeps its draw from one snapshot to the next; a site whose
// blocks are replaced between snapshots (churn) gets fresh draws every time.
// ---------------------------------------------------------------------------------------------------------------

type Rng = () => number;

const SAMPLE_INTERVAL = 512 * KiB;
const sampleProbability = (blockBytes: number, interval = SAMPLE_INTERVAL) => 1 - Math.exp(-blockBytes / interval);

function binomial(rng: Rng, n: number, p: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (rng() < p) count++;
  return count;
}

/** 20 snapshots, 3 minutes apart: a 57-minute run. */
const SNAPSHOTS = 20;
const STEP_SEC = 180;
const TIMES = Array.from({ length: SNAPSHOTS }, (_, k) => k * STEP_SEC);

/** A leak: `baseBytes` held from the start, then `ratePerHour` more blocks that are never freed. */
function leakSeries(rng: Rng, o: { baseBytes: number; ratePerHour: number; blockBytes: number; fromIndex?: number }): number[] {
  const p = sampleProbability(o.blockBytes);
  const from = o.fromIndex ?? 0;
  let allocated = 0;
  let sampled = 0;
  return TIMES.map((t, k) => {
    if (k < from) return 0;
    const trueBytes = o.baseBytes + o.ratePerHour * (t - TIMES[from]!) / HOUR;
    const blocks = Math.floor(trueBytes / o.blockBytes);
    sampled += binomial(rng, blocks - allocated, p);
    allocated = blocks;
    return sampled * o.blockBytes / p;
  });
}

/** A steady working set whose blocks are all replaced between snapshots: same truth, fresh noise each time. */
function churnSeries(rng: Rng, o: { liveBytes: number; blockBytes: number; fromIndex?: number }): number[] {
  const p = sampleProbability(o.blockBytes);
  const blocks = Math.round(o.liveBytes / o.blockBytes);
  return TIMES.map((_, k) => (k < (o.fromIndex ?? 0) ? 0 : binomial(rng, blocks, p) * o.blockBytes / p));
}

/** Blocks allocated once (at snapshot `fromIndex`) and held, optionally freed from snapshot `freedIndex` on. */
function heldSeries(rng: Rng, o: { bytes: number; blockBytes: number; fromIndex?: number; freedIndex?: number }): number[] {
  const p = sampleProbability(o.blockBytes);
  const estimate = binomial(rng, Math.round(o.bytes / o.blockBytes), p) * o.blockBytes / p;
  return TIMES.map((_, k) => (k < (o.fromIndex ?? 0) || k >= (o.freedIndex ?? Infinity) ? 0 : estimate));
}

/** A working set freed at a steady pace from `startBytes` down to `endBytes`; each block dies at its own time. */
function shrinkSeries(rng: Rng, o: { startBytes: number; endBytes: number; blockBytes: number }): number[] {
  const p = sampleProbability(o.blockBytes);
  const blocks = Math.round(o.startBytes / o.blockBytes);
  const sampledDeathFractions: number[] = [];
  for (let i = 0; i < blocks; i++) {
    const death = rng(); // block i is live while the live fraction is above `death`
    if (rng() < p) sampledDeathFractions.push(death);
  }
  const last = TIMES[TIMES.length - 1]!;
  return TIMES.map((t) => {
    const liveFraction = (o.startBytes + (o.endBytes - o.startBytes) * t / last) / o.startBytes;
    return sampledDeathFractions.filter((d) => d < liveFraction).length * o.blockBytes / p;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Heap profiles holding those series, shaped like the ones pprof/read.ts returns.
// ---------------------------------------------------------------------------------------------------------------

const frames = (...names: string[]): HeapProfileFrame[] => names.map((functionName, i) => ({ functionName, address: BigInt(0x401000 + i * 0x10) }));

interface SimSite {
  stack: HeapProfileFrame[];
  series: number[];
}

/** inuse_space is deliberately not the first sample type. */
function profilePoints(sites: readonly SimSite[], times: readonly number[] = TIMES): ProfilePoint[] {
  return times.map((timeSec, k) => {
    const profile: HeapProfile = {
      sampleTypes: [
        { type: 'alloc_space', unit: 'bytes' },
        { type: 'inuse_objects', unit: 'count' },
        { type: 'inuse_space', unit: 'bytes' },
      ],
      timeNanos: BigInt(timeSec) * 1_000_000_000n,
      durationNanos: 0n,
      periodBytes: SAMPLE_INTERVAL,
      defaultSampleType: 'inuse_space',
      samples: sites
        .filter((site) => site.series[k]! > 0)
        .map((site) => ({ stack: site.stack, values: [site.series[k]! * 3, Math.round(site.series[k]! / 4096), site.series[k]!], labels: {} })),
    };
    return { timeSec, profile };
  });
}

function rankOne(series: number[], stack = frames('malloc', 'the_site(int)', 'main')): SiteReport {
  const reports = rankSites(profilePoints([{ stack, series }]), { sampleIntervalBytes: SAMPLE_INTERVAL });
  assert.equal(reports.length, 1);
  return reports[0]!;
}

function tally(trials: number, seed: number, makeSeries: (rng: Rng) => number[]): { counts: Record<string, number>; reports: SiteReport[] } {
  const rng = prng(seed);
  const counts: Record<string, number> = {};
  const reports: SiteReport[] = [];
  for (let i = 0; i < trials; i++) {
    const report = rankOne(makeSeries(rng));
    counts[report.status] = (counts[report.status] ?? 0) + 1;
    reports.push(report);
  }
  return { counts, reports };
}

// ---------------------------------------------------------------------------------------------------------------

describe('statistics', () => {
  test('normalCdf against tabulated values', () => {
    const table: [number, number][] = [
      [0, 0.5], [1, 0.8413447461], [-1, 0.1586552539], [1.2815516, 0.9], [1.6448536, 0.95], [1.96, 0.9750021049],
      [-1.96, 0.0249978951], [2.5758293, 0.995], [3, 0.9986501020], [-3, 0.0013498980],
    ];
    for (const [z, expected] of table) assert.ok(Math.abs(normalCdf(z) - expected) < 2e-7, `Φ(${z}) = ${normalCdf(z)}, expected ${expected}`);
    assert.ok(normalCdf(12) <= 1 && normalCdf(12) > 1 - 1e-9);
    assert.ok(normalCdf(-12) >= 0 && normalCdf(-12) < 1e-9);
  });

  test('normalCdf is symmetric and increasing', () => {
    let previous = -Infinity;
    for (let z = -6; z <= 6; z += 0.05) {
      const value = normalCdf(z);
      assert.ok(Math.abs(value + normalCdf(-z) - 1) < 1e-12, `symmetry at ${z}`);
      assert.ok(value >= previous, `monotone at ${z}`);
      previous = value;
    }
  });

  test('fitLine is exact on a perfect line, evenly spaced or not', () => {
    const even = fitLine([0, 1, 2, 3, 4], [3, 5, 7, 9, 11], [0, 0, 0, 0, 0]);
    assert.ok(Math.abs(even.slope - 2) < 1e-12);
    assert.ok(Math.abs(even.intercept - 3) < 1e-12);
    assert.ok(even.slopeStdError < 1e-9);
    const xs = [0, 10, 15, 40, 41];
    const uneven = fitLine(xs, xs.map((x) => -7 + 0.5 * x), xs.map(() => 0));
    assert.ok(Math.abs(uneven.slope - 0.5) < 1e-12);
    assert.ok(Math.abs(uneven.intercept + 7) < 1e-12);
  });

  test('fitLine on a textbook example: slope, intercept and the residual standard error', () => {
    // x = 1..5, y = 2 4 5 4 5: slope 0.6, intercept 2.2, SSE 2.4, s² = 0.8, Sxx = 10 → SE 0.2828.
    const fit = fitLine([1, 2, 3, 4, 5], [2, 4, 5, 4, 5], [0, 0, 0, 0, 0]);
    assert.ok(Math.abs(fit.slope - 0.6) < 1e-12);
    assert.ok(Math.abs(fit.intercept - 2.2) < 1e-12);
    assert.ok(Math.abs(fit.slopeStdError - Math.sqrt(0.08)) < 1e-12);
  });

  test('fitLine never claims more precision than the per-point sampling variance allows', () => {
    // A perfect line whose points each carry variance 4: SE = sqrt(4 / Sxx), Sxx = 10.
    const fit = fitLine([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [4, 4, 4, 4, 4]);
    assert.ok(Math.abs(fit.slope - 1) < 1e-12);
    assert.ok(Math.abs(fit.slopeStdError - Math.sqrt(0.4)) < 1e-12);
    // The textbook residuals (s² = 0.8) dominate a smaller sampling variance, and lose to a larger one.
    assert.ok(Math.abs(fitLine([1, 2, 3, 4, 5], [2, 4, 5, 4, 5], [0.1, 0.1, 0.1, 0.1, 0.1]).slopeStdError - Math.sqrt(0.08)) < 1e-12);
    assert.ok(Math.abs(fitLine([1, 2, 3, 4, 5], [2, 4, 5, 4, 5], [2, 2, 2, 2, 2]).slopeStdError - Math.sqrt(0.2)) < 1e-12);
  });

  test('fitLine cannot estimate a slope from one point or one time', () => {
    assert.equal(fitLine([5], [7], [0]).slopeStdError, Infinity);
    assert.equal(fitLine([5, 5, 5], [1, 2, 3], [0, 0, 0]).slopeStdError, Infinity);
    assert.equal(fitLine([], [], []).slopeStdError, Infinity);
  });

  test('theilSenSlope: exact on a line, unmoved by one outlier, zero for a late one-off step', () => {
    assert.ok(Math.abs(theilSenSlope([0, 1, 2, 3, 4], [1, 4, 7, 10, 13]) - 3) < 1e-12);
    assert.equal(theilSenSlope([0, 1, 2], [0, 1, 10]), 5); // pair slopes 1, 5, 9
    assert.ok(Math.abs(theilSenSlope([0, 1, 2, 3, 4, 5, 6], [0, 2, 4, 600, 8, 10, 12]) - 2) < 1e-12);
    assert.equal(theilSenSlope(TIMES, TIMES.map((_, k) => (k >= 18 ? 8 * MiB : 0))), 0);
    assert.equal(theilSenSlope([1], [1]), 0);
  });
});

describe('seriesGrowth', () => {
  test('rate per hour, growth from first to last, and a confidence near 1 for a clean rise', () => {
    const series = TIMES.map((t) => 10 * MiB + 36 * MiB * t / HOUR);
    const growth = seriesGrowth(TIMES, series, SAMPLE_INTERVAL);
    assert.ok(Math.abs(growth.rateBytesPerHour - 36 * MiB) < 1);
    assert.ok(Math.abs(growth.robustRateBytesPerHour - 36 * MiB) < 1);
    assert.equal(growth.growthBytes, series[SNAPSHOTS - 1]! - series[0]!);
    assert.ok(growth.confidence > 0.999);
  });

  test('growth inside the sampling noise is not confident', () => {
    // +1 MiB over a 57-minute run on a 200 MiB site: the sampler's noise alone is sqrt(S·B) ≈ 10 MiB per point.
    const series = TIMES.map((t) => 200 * MiB + MiB * t / TIMES[SNAPSHOTS - 1]!);
    const growth = seriesGrowth(TIMES, series, SAMPLE_INTERVAL);
    assert.ok(growth.confidence < 0.9, String(growth.confidence));
    assert.notEqual(growth.shape, 'linear');
    // With every allocation recorded (S = 1) the same series is a certain rise.
    assert.ok(seriesGrowth(TIMES, series, 1).confidence > 0.999);
  });

  test('fewer than two points say nothing', () => {
    assert.deepEqual(seriesGrowth([0], [5 * MiB], SAMPLE_INTERVAL), {
      rateBytesPerHour: 0, rateIntervalBytesPerHour: [0, 0], robustRateBytesPerHour: 0, growthBytes: 0, confidence: 0, shape: 'noise',
    });
  });

  test('an exactly flat series with every allocation recorded is neither growing nor shrinking', () => {
    const growth = seriesGrowth(TIMES, TIMES.map(() => 3 * MiB), 1);
    assert.equal(growth.rateBytesPerHour, 0);
    assert.equal(growth.confidence, 0, 'no evidence of growth at all');
    assert.equal(growth.shape, 'noise');
  });
});

describe('rankSites on honestly sampled series (S = 512 KiB, 20 snapshots 3 min apart)', () => {
  const LEAK_RATE = 50 * MiB;
  const leak = (rng: Rng) => leakSeries(rng, { baseBytes: 10 * MiB, ratePerHour: LEAK_RATE, blockBytes: 16 * KiB });
  /** The leak's true live size at the last snapshot. */
  const LEAK_FINAL_BYTES = 10 * MiB + LEAK_RATE * TIMES[SNAPSHOTS - 1]! / HOUR;

  test('a 50 MiB/h leak is growing with confidence ≥ 0.9 and its rate is within ±30% in ≥ 18 of 20 trials', () => {
    const { counts, reports } = tally(20, 0x5eed01, leak);
    assert.equal(counts.growing, 20, JSON.stringify(counts));
    for (const report of reports) assert.ok(report.confidence >= 0.9, String(report.confidence));
    const close = reports.filter((r) => Math.abs(r.leakRateBytesPerHour / LEAK_RATE - 1) <= 0.3).length;
    assert.ok(close >= 18, `${close} of 20 within ±30%: ${reports.map((r) => (r.leakRateBytesPerHour / MiB).toFixed(1)).join(' ')}`);
    // Not biased: the mean of the estimates is within 10% of the truth.
    const mean = reports.reduce((sum, r) => sum + r.leakRateBytesPerHour, 0) / reports.length;
    assert.ok(Math.abs(mean / LEAK_RATE - 1) < 0.1, `mean ${(mean / MiB).toFixed(1)} MiB/h`);
  });

  test('a leak that only starts after the first snapshot is growing, not merely new', () => {
    const { counts } = tally(20, 0x5eed02, (rng) => leakSeries(rng, { baseBytes: 0, ratePerHour: LEAK_RATE, blockBytes: 16 * KiB, fromIndex: 3 }));
    assert.equal(counts.growing, 20, JSON.stringify(counts));
  });

  test('a flat churning site of the same size is not growing at the nominal level (≥ 90% of 400 trials)', () => {
    const { counts } = tally(400, 0x5eed03, (rng) => churnSeries(rng, { liveBytes: LEAK_FINAL_BYTES, blockBytes: 16 * KiB }));
    assert.ok((counts.growing ?? 0) <= 40, JSON.stringify(counts));
    assert.ok((counts.stable ?? 0) >= 300, JSON.stringify(counts));
  });

  test('a flat churning site of the same size is not growing in ≥ 95% of trials', () => {
    const { counts } = tally(400, 0x5eed03, (rng) => churnSeries(rng, { liveBytes: LEAK_FINAL_BYTES, blockBytes: 16 * KiB }));
    assert.ok((counts.growing ?? 0) <= 20, JSON.stringify(counts));
  });

  test('a site held at a constant size is stable, whatever its size', () => {
    for (const bytes of [4 * MiB, 40 * MiB, 300 * MiB]) {
      const { counts } = tally(10, 0x5eed04 + bytes, (rng) => heldSeries(rng, { bytes, blockBytes: 64 * KiB }));
      assert.equal(counts.stable, 10, `${bytes}: ${JSON.stringify(counts)}`);
    }
  });

  test('a site freed at a steady pace is shrinking', () => {
    const { counts, reports } = tally(20, 0x5eed05, (rng) => shrinkSeries(rng, { startBytes: 40 * MiB, endBytes: 8 * MiB, blockBytes: 16 * KiB }));
    assert.ok((counts.shrinking ?? 0) >= 19, JSON.stringify(counts));
    assert.equal(counts.growing, undefined);
    for (const r of reports) assert.ok(r.leakRateBytesPerHour < 0 && r.growthBytes < 0 && r.confidence < 0.5);
  });

  test('a one-off allocation made after the first snapshot is new, not growing', () => {
    for (const fromIndex of [1, 2, 3, 17, 19]) {
      const { counts } = tally(20, 0x5eed06 + fromIndex, (rng) => heldSeries(rng, { bytes: 8 * MiB, blockBytes: 16 * KiB, fromIndex }));
      assert.equal(counts.new, 20, `from snapshot ${fromIndex}: ${JSON.stringify(counts)}`);
    }
  });

  test('a steady churning site that appears after the first snapshot is new, not growing', () => {
    const { counts } = tally(50, 0x5eed08, (rng) => churnSeries(rng, { liveBytes: 8 * MiB, blockBytes: 16 * KiB, fromIndex: 2 }));
    assert.ok((counts.new ?? 0) >= 45, JSON.stringify(counts));
  });

  test('a site freed completely is gone', () => {
    const report = rankOne(heldSeries(prng(9), { bytes: 20 * MiB, blockBytes: 64 * KiB, freedIndex: 15 }));
    assert.equal(report.status, 'gone');
    assert.equal(report.liveBytes, 0);
  });
});

describe('rankSites: grouping, ordering and report fields', () => {
  function scenario(seed: number) {
    const rng = prng(seed);
    const sites = {
      fast: { stack: frames('malloc', 'operator new(unsigned long)', 'leak_fast(int)', 'main'), series: leakSeries(rng, { baseBytes: 0, ratePerHour: 100 * MiB, blockBytes: 32 * KiB }) },
      midA: { stack: frames('malloc', 'leak_mid(int)', 'caller_a()', 'main'), series: leakSeries(rng, { baseBytes: MiB, ratePerHour: 40 * MiB, blockBytes: 16 * KiB }) },
      midB: { stack: frames('malloc', 'leak_mid(int)', 'caller_b()', 'main'), series: leakSeries(rng, { baseBytes: MiB, ratePerHour: 10 * MiB, blockBytes: 16 * KiB }) },
      slow: { stack: frames('strdup', 'leak_slow', 'main'), series: leakSeries(rng, { baseBytes: 2 * MiB, ratePerHour: 20 * MiB, blockBytes: 8 * KiB }) },
      cache: { stack: frames('calloc', 'fill_cache()', 'main'), series: heldSeries(rng, { bytes: 8 * MiB, blockBytes: 16 * KiB, fromIndex: 2 }) },
      pool: { stack: frames('malloc', 'steady_pool()', 'main'), series: heldSeries(rng, { bytes: 100 * MiB, blockBytes: 64 * KiB }) },
      shrink: { stack: frames('malloc', 'drain_queue()', 'main'), series: shrinkSeries(rng, { startBytes: 40 * MiB, endBytes: 8 * MiB, blockBytes: 16 * KiB }) },
      gone: { stack: frames('malloc', 'startup_only()', 'main'), series: heldSeries(rng, { bytes: 20 * MiB, blockBytes: 64 * KiB, freedIndex: 10 }) },
    };
    return { sites, reports: rankSites(profilePoints(Object.values(sites)), { sampleIntervalBytes: SAMPLE_INTERVAL }) };
  }

  test('growing sites first, by rate; then new, stable, shrinking, gone', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { reports } = scenario(seed);
      assert.deepEqual(reports.map((r) => [r.function, r.status]), [
        ['leak_fast(int)', 'growing'],
        ['leak_mid(int)', 'growing'],
        ['leak_slow', 'growing'],
        ['fill_cache()', 'new'],
        ['steady_pool()', 'stable'],
        ['drain_queue()', 'shrinking'],
        ['startup_only()', 'gone'],
      ], `seed ${seed}`);
      assert.deepEqual(reports.map((r) => r.rank), [1, 2, 3, 4, 5, 6, 7]);
    }
  });

  test('stacks through the same site add up, and the heaviest one represents it', () => {
    const { sites, reports } = scenario(11);
    const mid = reports.find((r) => r.function === 'leak_mid(int)')!;
    assert.deepEqual(mid.series, sites.midA.series.map((v, k) => v + sites.midB.series[k]!));
    assert.deepEqual(mid.stack, ['malloc', 'leak_mid(int)', 'caller_a()', 'main']);
    assert.equal(mid.location, 'leak_mid(int)');
    assert.equal(mid.liveBytes, mid.series[SNAPSHOTS - 1]);
    assert.equal(mid.growthBytes, mid.series[SNAPSHOTS - 1]! - mid.series[0]!);
    assert.ok(Math.abs(mid.leakRateBytesPerHour / (50 * MiB) - 1) < 0.3, String(mid.leakRateBytesPerHour / MiB));
  });

  test('the site is the first frame past the allocator plumbing', () => {
    const { reports } = scenario(12);
    const names = reports.map((r) => r.function);
    for (const plumbing of ['malloc', 'calloc', 'strdup', 'operator new(unsigned long)']) assert.ok(!names.includes(plumbing), plumbing);
    const fast = reports.find((r) => r.function === 'leak_fast(int)')!;
    assert.deepEqual(fast.stack, ['malloc', 'operator new(unsigned long)', 'leak_fast(int)', 'main']);
  });

  test('the location names the file and line when the frame has them', () => {
    const stack: HeapProfileFrame[] = [
      { functionName: 'malloc', mappingFile: '/lib/x86_64-linux-gnu/libc.so.6' },
      { functionName: 'leak_via_strdup', fileName: '/src/fixtures/leaky_apis.c', line: 31, mappingFile: '/build/leaky_apis' },
    ];
    const report = rankOne(TIMES.map((t) => MiB + 10 * MiB * t / HOUR), stack);
    assert.equal(report.location, 'leak_via_strdup (leaky_apis.c:31)');
    assert.deepEqual(report.stack, ['malloc (libc.so.6)', 'leak_via_strdup (leaky_apis.c:31)']);
  });

  test('siteSeries: one value per point, zeros where a site has no samples, custom plumbing patterns honoured', () => {
    const points = profilePoints([
      { stack: frames('malloc', 'pool_grow', 'handler'), series: TIMES.map((_, k) => (k % 2 ? 0 : 1000)) },
    ]);
    const byDefault = siteSeries(points, defaultPlumbingPatterns);
    assert.deepEqual([...byDefault.keys()], ['pool_grow']);
    assert.deepEqual(byDefault.get('pool_grow')!.series, TIMES.map((_, k) => (k % 2 ? 0 : 1000)));
    const custom = siteSeries(points, [/^malloc$/, /^pool_/]);
    assert.deepEqual([...custom.keys()], ['handler']);
  });

  test('a profile without inuse_space contributes nothing', () => {
    const points = profilePoints([{ stack: frames('malloc', 'a'), series: TIMES.map(() => MiB) }]);
    points[3]!.profile.sampleTypes = [{ type: 'alloc_space', unit: 'bytes' }, { type: 'alloc_objects', unit: 'count' }, { type: 'other', unit: 'bytes' }];
    const total = totalLiveSeries(points);
    assert.equal(total[3], 0);
    assert.equal(total[2], MiB);
    assert.equal(siteSeries(points, defaultPlumbingPatterns).get('a')!.series[3], 0);
  });

  test('minConfidence is honoured', () => {
    // A modest rise: growing at the default threshold, not when near-certainty is asked for.
    const series = TIMES.map((t) => 30 * MiB + 16 * MiB * t / TIMES[SNAPSHOTS - 1]!);
    const points = profilePoints([{ stack: frames('malloc', 'modest'), series }]);
    const growth = seriesGrowth(TIMES, series, SAMPLE_INTERVAL);
    assert.ok(growth.confidence > DEFAULT_MIN_CONFIDENCE && growth.confidence < 0.9999, String(growth.confidence));
    assert.equal(rankSites(points, { sampleIntervalBytes: SAMPLE_INTERVAL })[0]!.status, 'growing');
    assert.notEqual(rankSites(points, { sampleIntervalBytes: SAMPLE_INTERVAL, minConfidence: 0.9999 })[0]!.status, 'growing');
  });
});

// ---------------------------------------------------------------------------------------------------------------

function site(status: SiteStatus, fn: string, rate = 0): SiteReport {
  return {
    rank: 0, function: fn, location: fn, stack: [fn], status, shape: status === 'growing' ? 'linear' : 'noise',
    leakRateBytesPerHour: rate, leakRateIntervalBytesPerHour: [rate / 2, rate * 1.5], growthBytes: rate / 2,
    liveBytes: 10 * MiB, confidence: status === 'growing' ? 0.99 : 0.5, series: [],
  };
}

const memory: MemoryGrowth = {
  rssGrowthBytesPerHour: 0, liveGrowthBytesPerHour: 0, rssStartBytes: 100 * MiB, rssEndBytes: 100 * MiB,
  liveStartBytes: 42 * MiB, liveEndBytes: 42 * MiB,
};

describe('decideVerdict', () => {
  test(`inconclusive below ${MIN_SNAPSHOTS_FOR_TREND} snapshots, even with a growing site`, () => {
    assert.equal(MIN_SNAPSHOTS_FOR_TREND, 3);
    for (const snapshotCount of [0, 1, 2]) {
      const verdict = decideVerdict({ snapshotCount, durationSec: 20, sites: [site('growing', 'leak', 50 * MiB)], memory });
      assert.equal(verdict.kind, 'inconclusive');
      assert.match(verdict.summary, new RegExp(`only ${snapshotCount} snapshot`));
      assert.ok(!verdict.summary.includes('\n'));
    }
  });

  test('native-leak when a site grows, naming the first (top-ranked) growing site and its rate', () => {
    const verdict = decideVerdict({
      snapshotCount: 3, durationSec: 30,
      sites: [site('growing', 'remember_session_forever', 50 * MiB), site('growing', 'leak_via_strdup', 2 * MiB), site('stable', 'pool')],
      memory,
    });
    assert.equal(verdict.kind, 'native-leak');
    assert.match(verdict.summary, /2 call site\(s\) grow/);
    assert.match(verdict.summary, /remember_session_forever/);
    assert.match(verdict.summary, /50\.0 MiB\/h/);
    assert.ok(!verdict.summary.includes('leak_via_strdup'));
  });

  test('no-growth when nothing grows, whatever else there is', () => {
    for (const sites of [[], [site('new', 'cache')], [site('stable', 'pool'), site('shrinking', 'queue', -5 * MiB), site('gone', 'init')]]) {
      const verdict = decideVerdict({ snapshotCount: 20, durationSec: 3420, sites, memory });
      assert.equal(verdict.kind, 'no-growth');
      assert.match(verdict.summary, /20 snapshots/);
      assert.match(verdict.summary, /42\.0 MiB/);
    }
  });
});

describe('timeline', () => {
  function point(timeSec: number, rssBytes: number, liveBytes: number): TimelinePoint {
    return {
      sequence: 0, timeSec, rssBytes, rssAnonBytes: 0, rssFileBytes: 0, liveBytes, mallocHeapBytes: 0, mallocInUseBytes: 0,
      mallocFreeBytes: 0, mallocMmappedBytes: 0, sampleIntervalBytes: SAMPLE_INTERVAL, liveEntries: 0, tableDrops: 0,
      thinnedEntries: 0, stackDrops: 0, shimMappedBytes: 0,
    };
  }

  test('memoryGrowth: least-squares slopes per hour, first and last values', () => {
    const times = [0, 7, 30, 31, 95, 240, 600];
    const timeline = times.map((t) => point(t, 200 * MiB + 12 * MiB * t / HOUR, 64 * MiB - 3 * MiB * t / HOUR));
    const growth = memoryGrowth(timeline);
    assert.ok(Math.abs(growth.rssGrowthBytesPerHour - 12 * MiB) < 1e-3);
    assert.ok(Math.abs(growth.liveGrowthBytesPerHour + 3 * MiB) < 1e-3);
    assert.equal(growth.rssStartBytes, 200 * MiB);
    assert.equal(growth.rssEndBytes, timeline[6]!.rssBytes);
    assert.equal(growth.liveStartBytes, 64 * MiB);
    assert.equal(growth.liveEndBytes, timeline[6]!.liveBytes);
  });

  test('memoryGrowth: a noisy but rising RSS', () => {
    const rng = prng(77);
    const times = Array.from({ length: 60 }, (_, k) => k * 10);
    const timeline = times.map((t) => point(t, 300 * MiB + 36 * MiB * t / HOUR + (rng() - 0.5) * 256 * KiB, 0));
    const rate = memoryGrowth(timeline).rssGrowthBytesPerHour;
    assert.ok(Math.abs(rate / (36 * MiB) - 1) < 0.05, String(rate / MiB));
  });

  test('memoryGrowth: no rate from fewer than two points, zeros from none', () => {
    const one = memoryGrowth([point(5, 10 * MiB, MiB)]);
    assert.equal(one.rssGrowthBytesPerHour, 0);
    assert.equal(one.liveGrowthBytesPerHour, 0);
    assert.equal(one.rssStartBytes, 10 * MiB);
    assert.equal(one.rssEndBytes, 10 * MiB);
    assert.deepEqual(memoryGrowth([]), {
      rssGrowthBytesPerHour: 0, liveGrowthBytesPerHour: 0, rssStartBytes: 0, rssEndBytes: 0, liveStartBytes: 0, liveEndBytes: 0,
    });
  });

  test('timelineOf: times relative to the run start, live bytes summed over sites, mallinfo only when available', () => {
    const runStartMs = 1_700_000_000_000;
    const siteStats = (liveBytes: number): SiteStats => ({
      stackId: 1, liveSamples: 1, liveSampledBytes: 1, liveObjects: 1, liveBytes, allocSamples: 1, allocObjects: 1,
      allocBytes: 1, oldestLiveMs: 0, newestLiveMs: 0, meanLiveMs: 0,
    });
    const snapshot = (sequence: number, atMs: number, available: boolean): RawSnapshot => rawSnapshot({
      path: `raw/1/${sequence}.lhs`,
      meta: {
        sequence, realtimeNs: BigInt(atMs) * 1_000_000n + 123_456n,
        baseSampleIntervalBytes: SAMPLE_INTERVAL, sampleIntervalBytes: SAMPLE_INTERVAL * 2, recordsEveryAllocation: false,
      },
      counters: { liveEntries: 77, tableDrops: 3, thinnedEntries: 5, thinningRounds: 1, stackDrops: 2, shimMappedBytes: 4 * MiB },
      mallinfo: { available, arena: 11 * MiB, hblkhd: 2 * MiB, uordblks: 7 * MiB, fordblks: 4 * MiB },
      memory: { vmRssBytes: 90 * MiB, rssAnonBytes: 60 * MiB, rssFileBytes: 30 * MiB },
      sites: [siteStats(MiB), siteStats(2.5 * MiB)],
    });
    const [a, b] = timelineOf([snapshot(1, runStartMs + 2500, true), snapshot(2, runStartMs + 12_500, false)], runStartMs);
    assert.ok(Math.abs(a!.timeSec - 2.5) < 1e-6);
    assert.ok(Math.abs(b!.timeSec - 12.5) < 1e-6);
    assert.equal(a!.sequence, 1);
    assert.equal(a!.liveBytes, 3.5 * MiB);
    assert.equal(a!.rssBytes, 90 * MiB);
    assert.equal(a!.rssAnonBytes, 60 * MiB);
    assert.equal(a!.rssFileBytes, 30 * MiB);
    assert.equal(a!.mallocHeapBytes, 11 * MiB);
    assert.equal(a!.mallocInUseBytes, 9 * MiB);
    assert.equal(a!.mallocFreeBytes, 4 * MiB);
    assert.equal(a!.mallocMmappedBytes, 2 * MiB);
    assert.equal(a!.sampleIntervalBytes, SAMPLE_INTERVAL * 2);
    assert.deepEqual([a!.liveEntries, a!.tableDrops, a!.thinnedEntries, a!.stackDrops, a!.shimMappedBytes], [77, 3, 5, 2, 4 * MiB]);
    assert.deepEqual([b!.mallocHeapBytes, b!.mallocInUseBytes, b!.mallocFreeBytes, b!.mallocMmappedBytes], [0, 0, 0, 0]);
  });
});
