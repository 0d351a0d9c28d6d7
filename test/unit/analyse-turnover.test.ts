/**
 * Turnover (analyse/turnover.ts): a site whose sampled blocks are replaced without growing wanders like a random walk,
 * and a line through it must not be called growth; a leak on top of the same turnover still is. Seeded Monte Carlo
 * runs of the sampler itself (each 200-byte block kept with p = 1 − e^(−200/S), weighted 1/p), with the births a
 * snapshot saw, as the shim counts them (first_seen_bytes).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rankSeries } from '../../src/analyse/rank.js';
import { trendOf, type Trend } from '../../src/analyse/trend.js';
import { lifetimeFactors, turnoverOf, turnoverSlopeVariance } from '../../src/analyse/turnover.js';
import type { SiteReport } from '../../src/analyse/types.js';
import { REPORT_SCHEMA, type RunReport } from '../../src/pipeline/model.js';
import type { ProfileSeries, SeriesPoint } from '../../src/pprof/series.js';
import { renderText } from '../../src/report/text.js';
import { mulberry32 } from './helpers/prng.js';

const S = 16_384;
const BLOCK = 200;
const KEPT = 1 - Math.exp(-BLOCK / S);
const WEIGHT_BYTES = BLOCK / KEPT;

interface Table {
  /** Blocks in the table (sampled or not), replaced at random. */
  blocks: number;
  replacedPerSec: number;
  /** Blocks allocated a second and never freed. */
  leakedPerSec?: number;
  points: number;
  intervalSec: number;
}

/** A session table's sampled estimate over a run, and what each snapshot saw born. */
function simulate(seed: number, table: Table): { times: number[]; series: number[]; births: number[] } {
  const random = mulberry32(seed);
  const sampled = Array.from({ length: table.blocks }, () => random() < KEPT);
  let live = sampled.filter(Boolean).length;
  let leaked = 0;
  const times: number[] = [];
  const series: number[] = [];
  const births: number[] = [];
  const bornSinceSnapshot = new Set<number>();
  for (let k = 0; k < table.points; k++) {
    let born = 0;
    if (k > 0) {
      for (let e = Math.round(table.replacedPerSec * table.intervalSec); e > 0; e--) {
        const slot = Math.floor(random() * table.blocks);
        if (sampled[slot]) {
          live--;
          bornSinceSnapshot.delete(slot);
        }
        sampled[slot] = random() < KEPT;
        if (sampled[slot]) {
          live++;
          bornSinceSnapshot.add(slot);
        }
      }
      for (let e = Math.round((table.leakedPerSec ?? 0) * table.intervalSec); e > 0; e--) {
        if (random() < KEPT) {
          leaked++;
          born += WEIGHT_BYTES;
        }
      }
      born += bornSinceSnapshot.size * WEIGHT_BYTES;
      bornSinceSnapshot.clear();
    }
    times.push(k * table.intervalSec);
    series.push((live + leaked) * WEIGHT_BYTES);
    births.push(born);
  }
  return { times, series, births };
}

const grows = (t: Trend) => t.confidence >= 0.9 && t.shape === 'linear' && t.growthBytes >= 2 * S;

/** The share of `runs` seeded runs called growing, with and without the births the snapshots saw. */
function growingShare(table: Table, runs: number): { withBirths: number; without: number } {
  let withBirths = 0;
  let without = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const { times, series, births } = simulate(seed * 7919, table);
    const windowBirths = births.slice(1).reduce((a, b) => a + b, 0);
    if (grows(trendOf(times, series, S, undefined, windowBirths))) withBirths++;
    if (grows(trendOf(times, series, S))) without++;
  }
  return { withBirths: withBirths / runs, without: without / runs };
}

describe('turnover: a table whose blocks are replaced is not a leak', () => {
  test('the lifetime factors: 24λ² for blocks seen about once, 1.2 (a leak\'s counting noise) for blocks that outlive the window', () => {
    assert.ok(Math.abs(lifetimeFactors(0.01).meanSquare / (24 * 0.01 ** 2) - 1) < 0.1);
    assert.equal(lifetimeFactors(1e4).meanSquare, 1.2);
    assert.ok(Math.abs(lifetimeFactors(100).meanSquare - 1.2) < 0.01);
    let previous = 0;
    for (const lambda of [0.002, 0.02, 0.2, 1, 5, 50, 500]) {
      const { meanSquare, diedShare } = lifetimeFactors(lambda);
      assert.ok(meanSquare > previous, `the longer blocks live, the more each weighs (λ ${lambda})`);
      assert.ok(diedShare > 0 && diedShare < 1);
      previous = meanSquare;
    }
    assert.ok(Math.abs(lifetimeFactors(1).diedShare - Math.exp(-1)) < 0.01, 'P(L < 1 − u) over u uniform: λ(1 − e^(−1/λ))');
  });

  test('deaths the window\'s births do not explain are of older blocks, each weighing as one that outlives the window', () => {
    const turnover = turnoverOf([0, 10], [100 * S, 100 * S], 20 * S)!;
    assert.equal(turnover.deathsBytesPerSec, turnover.birthsBytesPerSec, 'a flat series: as many deaths as births');
    assert.equal(turnover.lifetimeSec, 50);
    const variance = turnoverSlopeVariance(turnover, 10, S);
    const { meanSquare, diedShare } = lifetimeFactors(5);
    assert.ok(Math.abs(variance - (S * (20 * S * meanSquare + 20 * S * (1 - diedShare) * 1.2)) / 100) < 1e-6 * variance);
    assert.equal(turnoverOf([0, 10], [S, 3 * S], 0), undefined, 'nothing born: no turnover');
  });

  test('a session table replaced at random over a long run: called growing in under 2% of runs (and far more without the births)', () => {
    // 20 000 blocks, 20 replaced a second, an hour of 10 s snapshots cut to 120 of them: the table turns over in
    // about 17 minutes, slower than the window, so the estimate walks.
    const share = growingShare({ blocks: 20_000, replacedPerSec: 20, points: 120, intervalSec: 30 }, 150);
    assert.ok(share.withBirths <= 0.02, `growing in ${share.withBirths * 100}% of runs`);
    assert.ok(share.without > 0.05, `without what the snapshots saw born: ${share.without * 100}% (the model this replaced)`);
  });

  test('the fragmenter\'s shape (4096 sessions, 300 replaced a second, 16 snapshots of 0.5 s): under 2%', () => {
    const share = growingShare({ blocks: 4096, replacedPerSec: 300, points: 16, intervalSec: 0.5 }, 300);
    assert.ok(share.withBirths <= 0.02, `growing in ${share.withBirths * 100}% of runs`);
  });

  test('a leak on top of the same turnover is still found', () => {
    // 5 sessions a second never freed: 1 KB/s, 3.4 MiB an hour, beside 20 replaced a second.
    const slow = growingShare({ blocks: 20_000, replacedPerSec: 20, leakedPerSec: 5, points: 120, intervalSec: 30 }, 100);
    assert.ok(slow.withBirths >= 0.9, `found in ${slow.withBirths * 100}% of runs`);
    const fast = growingShare({ blocks: 4096, replacedPerSec: 300, leakedPerSec: 800, points: 16, intervalSec: 0.5 }, 200);
    assert.ok(fast.withBirths >= 0.9, `found in ${fast.withBirths * 100}% of runs`);
  });

  test('rankSeries takes the births after the window\'s first point from the profiles', () => {
    // One site, one stack; flat but for a walk up of 6 samples; the profiles saw 60 samples born in the window.
    const levels = [40, 40, 41, 42, 41, 43, 44, 44, 45, 46, 45, 46];
    const points: SeriesPoint[] = levels.map((samples, k) => ({
      timeSec: k * 10, stackOf: Int32Array.of(0), inuse: Float64Array.of(samples * WEIGHT_BYTES), objects: Float32Array.of(samples * S / BLOCK),
      seenBirths: { stackOf: Int32Array.of(0), bytes: Float64Array.of((k === 0 ? 40 : 6) * WEIGHT_BYTES) },
    }));
    const series: ProfileSeries = { stacks: [[{ functionName: 'hold_session' }]], points };
    const options = { sampleIntervalBytes: S, warmupSec: 0 };
    const withBirths = rankSeries(series, options)[0]!;
    const without = rankSeries({ ...series, points: points.map(({ seenBirths: _, ...point }) => point) }, options)[0]!;
    assert.ok(without.confidence > withBirths.confidence, `${without.confidence} without the births, ${withBirths.confidence} with`);
    assert.notEqual(withBirths.status, 'growing');
  });

  test('the text report says why a stable site that rose is no growth: what turned over', () => {
    const MiB = 1024 * 1024;
    const site = (rank: number, fields: Partial<SiteReport>): SiteReport => ({
      rank, function: `site${rank}`, location: `site${rank} (t.c:1)`, stack: [], status: 'stable', shape: 'noise', leakRateBytesPerHour: 30 * MiB,
      leakRateIntervalBytesPerHour: [-10 * MiB, 70 * MiB], growthBytes: 120 * 1024, liveBytes: 2 * MiB, confidence: 0.3, series: [], ...fields,
    });
    const report: RunReport = {
      schema: REPORT_SCHEMA, detection: { detectableRateBytesPerHour: MiB }, command: ['app'], pid: 1, exitStatus: 0, durationSec: 12,
      sampleBytes: 4096, snapshotIntervalMs: 500, snapshots: 25, verdict: { kind: 'no-growth', summary: 'no growth' },
      memory: { rssGrowthBytesPerHour: 0, liveGrowthBytesPerHour: 0, rssStartBytes: 0, rssEndBytes: 0, liveStartBytes: 0, liveEndBytes: 0 },
      shim: null, warnings: [],
      sites: [
        site(1, { function: 'open_session', turnover: { bornBytes: 2 * MiB, diedBytes: 2 * MiB - 120 * 1024 } }),
        site(2, { turnover: { bornBytes: 120 * 1024, diedBytes: 0 } }), // nothing died: no turnover to tell of
        site(3, { growthBytes: 4096 }), // within what two samples can do: nothing to explain
      ],
    };
    const text = renderText(report);
    assert.match(text, /\n {2}#1 open_session: 2\.00 MiB born and 1\.88 MiB died in the window; its blocks are replaced/);
    assert.equal(text.match(/ born and /g)?.length, 1);
  });
});
