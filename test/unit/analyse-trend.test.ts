/**
 * The trend model on synthetic, honestly sampled series: shapes, calibrated confidence, interval coverage.
 * Each live block of size s is in the sample with probability p = 1 − e^(−s/S) and counts s/p; blocks that stay
 * live keep their draw from snapshot to snapshot, as they do in the shim.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { trendOf, warmupPoints } from '../../src/analyse/trend.js';
import { xorshift32 } from './helpers/prng.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const S = 512 * KiB;
const N = 30;
const TIMES = Array.from({ length: N }, (_, i) => i * 60); // 30 snapshots a minute apart

const rng = xorshift32;

/** Blocks allocated at given times (seconds), each `blockBytes`, freed at `freedAt` (or never). */
function sampled(random: () => number, blocks: { at: number; freedAt?: number }[], blockBytes: number): number[] {
  const p = -Math.expm1(-blockBytes / S);
  const kept = blocks.filter(() => random() < p);
  return TIMES.map((t) => kept.filter((b) => b.at <= t && (b.freedAt === undefined || b.freedAt > t)).length * blockBytes / p);
}

function leak(random: () => number, bytesPerHour: number, blockBytes: number, base = 20 * MiB): number[] {
  const end = TIMES[N - 1]!;
  const count = Math.round(bytesPerHour * end / 3600 / blockBytes);
  const blocks = Array.from({ length: count }, (_, i) => ({ at: (i + random()) * end / count }));
  const baseBlocks = Array.from({ length: Math.round(base / blockBytes) }, () => ({ at: 0 }));
  return sampled(random, [...baseBlocks, ...blocks], blockBytes);
}

function churn(random: () => number, liveBytes: number, blockBytes: number): number[] {
  // every block lives a few seconds: each snapshot sees a fresh set
  const p = -Math.expm1(-blockBytes / S);
  const perSnapshot = Math.round(liveBytes / blockBytes);
  return TIMES.map(() => {
    let n = 0;
    for (let i = 0; i < perSnapshot; i++) if (random() < p) n++;
    return n * blockBytes / p;
  });
}

function cache(random: () => number, finalBytes: number, fillSec: number, blockBytes: number): number[] {
  const count = Math.round(finalBytes / blockBytes);
  return sampled(random, Array.from({ length: count }, (_, i) => ({ at: (i + random()) * fillSec / count })), blockBytes);
}

describe('trend shapes and confidence', () => {
  for (const ratePerHour of [60 * MiB, 200 * MiB, 1024 * MiB]) {
    test(`a linear leak at ${ratePerHour / MiB} MiB/h is linear and confident in ≥ 90% of trials`, () => {
      let hits = 0;
      for (let trial = 0; trial < 50; trial++) {
        const t = trendOf(TIMES, leak(rng(1000 + trial), ratePerHour, 4 * KiB), S);
        if (t.shape === 'linear' && t.confidence >= 0.9) hits++;
      }
      assert.ok(hits >= 45, `${hits} of 50`);
    });
  }

  test('the 90% interval covers the true rate in ≥ 90% of seeded trials', () => {
    const rate = 200 * MiB;
    let covered = 0;
    for (let trial = 0; trial < 200; trial++) {
      const [lo, hi] = trendOf(TIMES, leak(rng(5000 + trial), rate, 8 * KiB), S).rateIntervalBytesPerHour;
      if (lo <= rate && rate <= hi) covered++;
    }
    assert.ok(covered >= 180, `${covered} of 200`);
  });

  test('no-growth series reach confidence 0.9 in at most 2% of trials', () => {
    let alarms = 0;
    const trials = 600;
    for (let trial = 0; trial < trials; trial++) {
      const random = rng(9000 + trial);
      const series = trial % 2 ? churn(random, 40 * MiB, 16 * KiB) : leak(random, 0, 16 * KiB, 40 * MiB);
      if (trendOf(TIMES, series, S).confidence >= 0.9) alarms++;
    }
    assert.ok(alarms <= trials * 0.02, `${alarms} of ${trials}`);
  });

  test('a cache that fills in the first third and then plateaus is saturating, not linear', () => {
    let saturating = 0;
    for (let trial = 0; trial < 40; trial++) {
      const t = trendOf(TIMES, cache(rng(300 + trial), 60 * MiB, TIMES[N - 1]! / 3, 16 * KiB), S);
      if (t.shape === 'saturating') saturating++;
      assert.notEqual(t.shape, 'linear', `trial ${trial}`);
    }
    assert.ok(saturating >= 36, `${saturating} of 40`);
  });

  test('a one-off step in the middle is not linear', () => {
    for (let trial = 0; trial < 30; trial++) {
      const base = leak(rng(700 + trial), 0, 16 * KiB, 30 * MiB);
      const stepped = base.map((v, i) => (i >= N / 2 ? v + 20 * MiB : v));
      assert.notEqual(trendOf(TIMES, stepped, S).shape, 'linear', `trial ${trial}`);
    }
  });

  test('a leak near the detection limit is found less often, never with false certainty about its rate', () => {
    let found = 0;
    for (let trial = 0; trial < 50; trial++) {
      const t = trendOf(TIMES, leak(rng(1500 + trial), 20 * MiB, 4 * KiB), S);
      if (t.shape === 'linear' && t.confidence >= 0.9) found++;
      assert.ok(t.rateIntervalBytesPerHour[0] < 20 * MiB * 2.5, 'the interval does not exclude the truth wildly');
    }
    assert.ok(found >= 15 && found <= 50, `${found} of 50`);
  });

  test('sparse samples give low confidence, not a false leak', () => {
    // 2 MiB/h at S = 512 KiB over 29 minutes: about two samples in the whole run
    let confident = 0;
    for (let trial = 0; trial < 100; trial++) if (trendOf(TIMES, leak(rng(4000 + trial), 2 * MiB, 1 * KiB, 0), S).confidence >= 0.9) confident++;
    assert.ok(confident <= 60, `${confident} of 100`);
  });
});

describe('warm-up', () => {
  test('a start-up climb is detected and bounded to a quarter of the run', () => {
    const total = TIMES.map((_, i) => (i < 4 ? (i + 1) * 50 * MiB : 200 * MiB + (i - 3) * 0.1 * MiB));
    assert.equal(warmupPoints(TIMES, total), 3);
    const steep = TIMES.map((_, i) => i * 100 * MiB);
    assert.equal(warmupPoints(TIMES, steep), 0, 'a steady climb is not warm-up');
  });
});
