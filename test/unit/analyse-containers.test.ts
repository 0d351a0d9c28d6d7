/**
 * Growing containers vs churn under rising load (analyse/containers.ts), on seeded, honestly sampled series: a
 * container whose block is replaced by a bigger one is growing with a rate near its content's; churn whose count of
 * short-lived blocks rises with the load is never growing, at any confidence; age alone vetoes nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { blockGrowthOf, containerStillGrowing, kendallRisingP } from '../../src/analyse/containers.js';
import { rankSites } from '../../src/analyse/index.js';
import { trendOf } from '../../src/analyse/trend.js';
import type { SiteReport } from '../../src/analyse/types.js';
import {
  churnUnderLoad, growingContainer, KiB, MiB, sitesProfiles, snapshotTimes, together, type Rng, type SitePoint,
} from './helpers/heap-sim.js';
import { mulberry32 } from './helpers/prng.js';

/** 40 snapshots a quarter of a second apart, as an e2e run of 10 s takes them. */
const SNAPSHOTS = 40;
const INTERVAL_SEC = 0.25;

function rankOne(times: readonly number[], points: readonly SitePoint[], sampleBytes: number): SiteReport {
  const sites = rankSites(sitesProfiles(times, { the_site: points }), { sampleIntervalBytes: sampleBytes });
  assert.equal(sites.length, 1);
  return sites[0]!;
}

function trials(count: number, seed: number, run: (rng: Rng, trial: number) => SiteReport): SiteReport[] {
  return Array.from({ length: count }, (_, trial) => run(mulberry32(seed + trial), trial));
}

const sizes = {
  fixed: () => 4001,
  uniform: (rng: Rng) => 1024 + Math.floor(rng() * 63 * KiB),
  lognormal: (rng: Rng) => Math.ceil(Math.exp(8 + 1.5 * Math.sqrt(-2 * Math.log(rng() || 1e-12)) * Math.cos(2 * Math.PI * rng()))),
  /** Many tiny blocks, each sampled rarely and weighted heavily, and a few large ones: the hardest mix for B/N. */
  bimodal: (rng: Rng) => (rng() < 0.9 ? 64 : 64 * KiB),
};

describe('growing containers are growing', () => {
  /** Content rates a 10-second run at that sampling interval can show (README "What a run can detect"). */
  const rateFor = (sampleBytes: number) => (sampleBytes >= 512 * KiB ? 6 * MiB : 2 * MiB);
  // [name, the site, how many of 40 runs must call it growing]. Churn through the same function as a container
  // blurs its blocks' count: measured over 400 runs each, 96–100% growing at S = 4 KiB, 64 KiB and 512 KiB.
  const cases: [string, (rng: Rng, times: number[], sampleBytes: number, rate: number) => SitePoint[], number][] = [
    ['a doubling std::vector of records', (rng, times, s, rate) => growingContainer(rng, times, s, { contentBytesPerSec: rate }), 40],
    ['a container growing by 1.5×', (rng, times, s, rate) => growingContainer(rng, times, s, { contentBytesPerSec: rate, factor: 1.5 }), 40],
    ['a realloc\'d array growing on every call', (rng, times, s, rate) => growingContainer(rng, times, s, { contentBytesPerSec: rate, factor: 1.0001 }), 40],
    // Under the shim's lineage a realloc'd buffer's block is as old as the run: the cadence rule judges it all the same.
    ['a doubling buffer renewed by realloc (lineage: its block is old)', (rng, times, s, rate) => growingContainer(rng, times, s, { contentBytesPerSec: rate, lineage: true }), 40],
    ['a realloc\'d array growing on every call (lineage)', (rng, times, s, rate) => growingContainer(rng, times, s, { contentBytesPerSec: rate, factor: 1.0001, lineage: true }), 40],
    ['a doubling buffer next to steady churn through the same function', (rng, times, s, rate) => together(
      growingContainer(rng, times, s, { contentBytesPerSec: rate }),
      churnUnderLoad(rng, times, s, () => 300, sizes.uniform),
    ), 36],
  ];
  for (const [name, make, atLeast] of cases) {
    for (const sampleBytes of [4 * KiB, 64 * KiB, 512 * KiB]) {
      const contentRate = rateFor(sampleBytes);
      test(`${name} (S = ${sampleBytes / KiB} KiB): growing in ${atLeast === 40 ? 'every one' : `at least ${atLeast}`} of 40 seeded runs, at 0.5–2× its content's rate`, () => {
        const reports = trials(40, 0xc0417 + sampleBytes, (rng) => {
          // Each run ends somewhere else in the container's cadence.
          const times = snapshotTimes(rng, SNAPSHOTS - Math.floor(rng() * 12), INTERVAL_SEC, 0.05);
          return rankOne(times, make(rng, times, sampleBytes, contentRate), sampleBytes);
        });
        const growing = reports.filter((r) => r.status === 'growing');
        const missed = reports.find((r) => r.status !== 'growing');
        assert.ok(growing.length >= atLeast, `${growing.length} of 40; one missed: ${missed?.shape}, confidence ${missed?.confidence}, blocks ${JSON.stringify(missed?.blocks)}`);
        for (const r of growing) {
          const ratio = r.leakRateBytesPerHour / (contentRate * 3600);
          assert.ok(ratio > 0.5 && ratio < 2, `rate ${ratio.toFixed(2)}× the content's`);
        }
      });
    }
  }

  test('a container that filled early and stayed is not growing, though its blocks are young', () => {
    const reports = trials(30, 0xf111ed, (rng) => {
      const times = snapshotTimes(rng, SNAPSHOTS, INTERVAL_SEC, 0.05);
      return rankOne(times, growingContainer(rng, times, 4 * KiB, { contentBytesPerSec: 2 * MiB, stopsAtSec: 2.5 }), 4 * KiB);
    });
    for (const r of reports) {
      assert.notEqual(r.status, 'growing', r.shape);
      assert.ok(r.shape === 'saturating' || r.shape === 'step', r.shape);
    }
  });

  test('a realloc\'d buffer (lineage: old blocks) that filled early and stayed is not growing', () => {
    const reports = trials(30, 0xf1112e, (rng) => {
      const times = snapshotTimes(rng, SNAPSHOTS, INTERVAL_SEC, 0.05);
      return rankOne(times, growingContainer(rng, times, 4 * KiB, { contentBytesPerSec: 2 * MiB, stopsAtSec: 2.5, lineage: true }), 4 * KiB);
    });
    for (const r of reports) {
      assert.notEqual(r.status, 'growing', r.shape);
      assert.ok((r.ages?.oldestSec ?? 0) > 2.5, `its block is as old as its chain: ${JSON.stringify(r.ages)}`);
    }
  });

  test('a doubling container whose trend window holds one step of its staircase (the rest in the warm-up) is growing', () => {
    // A std::string appended to at 1 MiB/s, as a run on a busy machine measured it (MiB per snapshot, 0.2 s apart):
    // doublings at 0.4, 1.2, 2.4 and 5.2 s, the next one late; the warm-up took the first 2.5 s.
    const mib = [0.28, 0.55, 1.11, 1.11, 1.11, ...Array<number>(6).fill(2.22), ...Array<number>(14).fill(4.44), 13.31,
      ...Array<number>(35).fill(8.88)];
    const times = mib.map((_, i) => 0.2 * (i + 1));
    const points = mib.map((m, i) => ({ bytes: m * MiB, objects: i === 25 ? 2 : 1, oldestMs: 100 }));
    const [r] = rankSites(sitesProfiles(times, { the_site: points }), { sampleIntervalBytes: 16 * KiB, warmupSec: 2.5 });
    assert.equal(r!.status, 'growing', `${r!.shape} ${JSON.stringify(r!.blocks)}`);
  });

  test('a container seen through one step only is a step, not a leak', () => {
    // Started long before the run: its next doubling comes once in 10 s.
    const reports = trials(30, 0x0e0b, (rng) => {
      const times = snapshotTimes(rng, SNAPSHOTS, INTERVAL_SEC, 0.05);
      return rankOne(times, growingContainer(rng, times, 4 * KiB, { contentBytesPerSec: 2 * MiB, startedSecBefore: 20 }), 4 * KiB);
    });
    for (const r of reports) assert.notEqual(r.status, 'growing', `${r.shape} ${r.confidence}`);
  });
});

describe('churn under rising load is never growing', () => {
  for (const [mix, size] of Object.entries(sizes)) {
    for (const sampleBytes of [4 * KiB, 16 * KiB, 64 * KiB, 512 * KiB]) {
      test(`${mix} sizes at S = ${sampleBytes / KiB} KiB: not growing at any confidence in 3 × 40 seeded runs (load × 1.3, × 2, × 4)`, () => {
        for (const rise of [1.3, 2, 4]) {
          const base = mix === 'uniform' ? 100 : 300;
          const reports = trials(40, 0xc4a7 + sampleBytes + Math.round(rise * 10), (rng) => {
            const times = snapshotTimes(rng, SNAPSHOTS, INTERVAL_SEC);
            return rankOne(times, churnUnderLoad(rng, times, sampleBytes, (k) => base * (1 + (rise - 1) * k / (SNAPSHOTS - 1)), size), sampleBytes);
          });
          for (const r of reports) {
            assert.notEqual(r.status, 'growing', `load × ${rise}: confidence ${r.confidence}, blocks ${JSON.stringify(r.blocks)}`);
            assert.ok(!r.blocks?.sizeCarriesGrowth, `load × ${rise}: ${JSON.stringify(r.blocks)}`);
          }
        }
      });
    }
  }

  test('its trend is real (the load rises), so only the blocks tell it from a container', () => {
    const rng = mulberry32(7);
    const times = snapshotTimes(rng, SNAPSHOTS, INTERVAL_SEC);
    const r = rankOne(times, churnUnderLoad(rng, times, 4 * KiB, (k) => 300 * (1 + 3 * k / (SNAPSHOTS - 1)), sizes.fixed), 4 * KiB);
    assert.ok(r.confidence > 0.999 && r.shape === 'linear', `${r.confidence} ${r.shape}`);
    assert.equal(r.status, 'stable');
    assert.ok(r.blocks && r.blocks.countEnd > 3 * r.blocks.countStart, JSON.stringify(r.blocks));
    assert.ok(Math.abs(r.blocks.meanBytesEnd / r.blocks.meanBytesStart - 1) < 0.05, 'the same size all along');
  });

  test('a flat site whose blocks are all young reaches growing in none of 400 runs', () => {
    const reports = trials(400, 0xf1a7, (rng) => {
      const times = snapshotTimes(rng, SNAPSHOTS, INTERVAL_SEC);
      return rankOne(times, churnUnderLoad(rng, times, 64 * KiB, () => 500, sizes.uniform), 64 * KiB);
    });
    assert.equal(reports.filter((r) => r.status === 'growing').length, 0);
    // The trend's own calibration is untouched: confidence 0.9 in at most 2% of flat runs.
    assert.ok(reports.filter((r) => r.confidence >= 0.9).length <= 8, String(reports.filter((r) => r.confidence >= 0.9).length));
  });
});

describe('the block statistics', () => {
  test("Kendall's test: a monotone staircase is a rise, ties and falls are not", () => {
    assert.ok(kendallRisingP([1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 8, 8, 8]) < 1e-4);
    assert.equal(kendallRisingP([3, 3, 3, 3, 3, 3]), 1);
    assert.equal(kendallRisingP([5, 4, 3, 2, 1]), 1);
    // n = 10, S = 45 (every pair rising), Var = 10·9·25/18 = 125: p = 1 − Φ(44/√125).
    assert.ok(Math.abs(kendallRisingP([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) - 4.15e-5) < 0.3e-5);
  });

  test('blockGrowthOf: a container\'s count stays and its size rises; churn\'s count rises with its bytes', () => {
    const times = Array.from({ length: 20 }, (_, i) => i);
    const container = blockGrowthOf(times, times.map((t) => 2 ** Math.floor(t / 4) * MiB), times.map(() => 1))!;
    assert.ok(container.sizeCarriesGrowth);
    assert.ok(Math.abs(container.countStart - 1) < 1e-9 && Math.abs(container.countEnd - 1) < 1e-9);
    assert.ok(container.meanBytesEnd > 8 * container.meanBytesStart);
    const churn = blockGrowthOf(times, times.map((t) => (100 + 10 * t) * 4001), times.map((t) => 100 + 10 * t))!;
    assert.ok(!churn.sizeCarriesGrowth);
    assert.ok(Math.abs(churn.meanBytesEnd - 4001) < 1e-6);
    assert.equal(blockGrowthOf([0, 1, 2], [1, 2, 3], [1, 1, 1]), undefined, 'too few points');
  });

  test('blockGrowthOf: a container that starts late and is caught mid-copy (old and new block both live) is one', () => {
    // A JNI library's std::vector under a JVM, as a run measured it (MiB and blocks per snapshot, 0.2 s apart): no
    // block during the JVM's start-up, and two snapshots in a row while push_back copied 5.5 MiB into 11 MiB.
    const mib = [0, 0, 0, 0, 0, 0, 0.17, 0.34, 0.69, 1.38, 1.38, 1.38, 1.38, 2.75, 2.75, 2.75, 2.75, 2.75, 2.75, 8.25,
      ...Array<number>(13).fill(5.5), 16.5, 16.5, ...Array<number>(23).fill(11)];
    const blocks = mib.map((m, i) => (m === 0 ? 0 : i === 19 || i === 33 || i === 34 ? 2 : 1));
    const times = mib.map((_, i) => 0.2 * (i + 1));
    const g = blockGrowthOf(times, mib.map((m) => m * MiB), blocks)!;
    assert.ok(g.sizeCarriesGrowth, JSON.stringify(g));
  });

  test('containerStillGrowing: a doubling staircase waits for its next step; a stopped one is overdue', () => {
    const times = Array.from({ length: 40 }, (_, i) => (i + 1) * 0.25);
    const doubling = times.map((t) => 2 ** Math.ceil(Math.log2(1000 * t)));
    assert.ok(containerStillGrowing(times, doubling, 0, 2, 1));
    const stopped = times.map((t) => 2 ** Math.ceil(Math.log2(1000 * Math.min(t, 2.6))));
    assert.ok(!containerStillGrowing(times, stopped, 0, 2, 1));
    assert.ok(!containerStillGrowing(times, times.map(() => 5), 0, 2, 1), 'no step at all');
  });

  test('a staircase whose last step holds most of its growth is not a step; a one-off rise is', () => {
    const times = Array.from({ length: 40 }, (_, i) => (i + 1) * 0.25);
    const staircase = times.map((t) => 2 ** Math.ceil(Math.log2(1000 * t)) * 100);
    const trend = trendOf(times, staircase, 4096);
    assert.notEqual(trend.shape, 'step');
    const last = staircase[staircase.length - 1]! - staircase[0]!;
    const largest = Math.max(...staircase.slice(1).map((v, i) => v - staircase[i]!));
    assert.ok(largest >= 0.5 * last, 'the largest rise holds over half the growth');
    const oneOff = times.map((_, i) => (i >= 25 ? 80 * MiB : 20 * MiB));
    assert.equal(trendOf(times, oneOff, 4096).shape, 'step');
  });
});
