/**
 * The detection limit (src/analyse/detection.ts): its closed-form properties, and a simulation through the real
 * ranking — a leak at 1.5× the detectable rate is shown as growing in most seeded runs, at 0.3× in few.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  detectableRateBytesPerHour, durationToDetectSec, growthZ, sampleBytesToDetect,
} from '../../src/analyse/detection.js';
import { rankSites } from '../../src/analyse/rank.js';
import { growthPosterior } from '../../src/analyse/trend.js';
import type { HeapProfile, ProfilePoint } from '../../src/pprof/index.js';
import { mulberry32 as prng } from './helpers/prng.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const HOUR = 3600;

function binomial(rng: () => number, n: number, p: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (rng() < p) count++;
  return count;
}

interface Scenario {
  name: string;
  sampleBytes: number;
  snapshots: number;
  spanSec: number;
  blockBytes: number;
  /** Bytes the same site already holds, allocated before the first snapshot and kept (a cache, a pool). */
  baseBytes: number;
}

/**
 * The live bytes of a site as the shim would report them: what it held from the start plus a leak of `rate` bytes/s
 * in blocks of `blockBytes`, each block drawn once with p = 1 − e^(−s/S) and weighted 1/p while it stays live
 * (native/FORMAT.md, "Sampling and weights").
 */
function siteSeries(rng: () => number, s: Scenario, times: readonly number[], rate: number): number[] {
  const p = 1 - Math.exp(-s.blockBytes / s.sampleBytes);
  const baseBlocks = Math.round(s.baseBytes / s.blockBytes);
  let allocated = 0;
  let sampled = binomial(rng, baseBlocks, p);
  return times.map((t) => {
    const blocks = Math.floor((rate * (t - times[0]!)) / s.blockBytes);
    sampled += binomial(rng, blocks - allocated, p);
    allocated = blocks;
    return (sampled * s.blockBytes) / p;
  });
}

function points(times: readonly number[], series: readonly number[], sampleBytes: number): ProfilePoint[] {
  return times.map((timeSec, k) => {
    const profile: HeapProfile = {
      sampleTypes: [{ type: 'inuse_space', unit: 'bytes' }],
      timeNanos: BigInt(Math.round(timeSec * 1e9)),
      durationNanos: 0n,
      periodBytes: sampleBytes,
      defaultSampleType: 'inuse_space',
      samples: series[k]! > 0 ? [{ stack: [{ functionName: 'malloc' }, { functionName: 'the_leak' }, { functionName: 'main' }], values: [series[k]!], labels: {} }] : [],
    };
    return { timeSec, profile };
  });
}

/** Share of `trials` seeded runs in which the ranking calls a leak at `rate` bytes/s growing. */
function detectedShare(s: Scenario, rate: number, trials: number, seed: number): number {
  const rng = prng(seed);
  const times = Array.from({ length: s.snapshots }, (_, i) => 5 + (i * s.spanSec) / (s.snapshots - 1));
  let detected = 0;
  for (let trial = 0; trial < trials; trial++) {
    const sites = rankSites(points(times, siteSeries(rng, s, times, rate), s.sampleBytes), { sampleIntervalBytes: s.sampleBytes });
    if (sites.some((site) => site.function === 'the_leak' && site.status === 'growing')) detected++;
  }
  return detected / trials;
}

const scenarios: Scenario[] = [
  { name: 'half an hour at the default 512 KiB, a site of its own', sampleBytes: 512 * KiB, snapshots: 30, spanSec: 29 * 60, blockBytes: 4 * KiB, baseBytes: 0 },
  { name: 'three seconds at 64 KiB (the steady fixture\'s e2e run)', sampleBytes: 64 * KiB, snapshots: 10, spanSec: 2.7, blockBytes: 1 * KiB, baseBytes: 0 },
  { name: 'ten minutes at 512 KiB, in a site that holds 48 MiB', sampleBytes: 512 * KiB, snapshots: 61, spanSec: 600, blockBytes: 32 * KiB, baseBytes: 48 * MiB },
  { name: 'a minute at 4 KiB, 12 snapshots', sampleBytes: 4 * KiB, snapshots: 12, spanSec: 55, blockBytes: 256, baseBytes: 0 },
  { name: 'fifty minutes at 512 KiB, 300 snapshots', sampleBytes: 512 * KiB, snapshots: 300, spanSec: 3000, blockBytes: 4 * KiB, baseBytes: 0 },
];

describe('detectableRateBytesPerHour', () => {
  test('growthZ inverts the growth posterior, and asks more of longer series', () => {
    for (const n of [3, 10, 30, 300]) {
      for (const p of [0.5, 0.9, 0.99]) {
        const z = growthZ(p, n);
        assert.ok(Math.abs(growthPosterior(z, 1, n) - p) < 1e-6, `n = ${n}, p = ${p}`);
      }
    }
    assert.ok(growthZ(0.9, 10) > 2.2 && growthZ(0.9, 10) < growthZ(0.9, 300) && growthZ(0.9, 300) < 3.3);
    assert.equal(growthZ(1, 10), Infinity);
    assert.equal(growthZ(0, 10), 0);
  });

  test('no trend, no detection: fewer than three snapshots or no time between them', () => {
    assert.equal(detectableRateBytesPerHour({ durationSec: 60, snapshots: 2, sampleIntervalBytes: 4096 }), Infinity);
    assert.equal(detectableRateBytesPerHour({ durationSec: 0, snapshots: 1, sampleIntervalBytes: 4096 }), Infinity);
    assert.equal(detectableRateBytesPerHour({ durationSec: 0, snapshots: 5, sampleIntervalBytes: 4096 }), Infinity);
    assert.equal(detectableRateBytesPerHour({ durationSec: Number.NaN, snapshots: 5, sampleIntervalBytes: 4096 }), Infinity);
  });

  test('recording every allocation leaves only the material-growth rule: two bytes over the span', () => {
    assert.equal(detectableRateBytesPerHour({ durationSec: 1, snapshots: 7, sampleIntervalBytes: 1 }), 2 * HOUR);
    assert.equal(detectableRateBytesPerHour({ durationSec: 3600, snapshots: 7, sampleIntervalBytes: 1, liveBytes: 1e9 }), 2);
  });

  test('meets both parts of the growing rule at the limit, and just so', () => {
    const s = 512 * KiB;
    const span = 600;
    const n = 61;
    const rate = detectableRateBytesPerHour({ durationSec: span, snapshots: n, sampleIntervalBytes: s }) / HOUR;
    assert.ok(rate * span >= 2 * s, 'material growth');
    // The closed form for a site of its own: se² = S·mean(max(r·tᵢ, S))/Sxx + 1.2·S·r/T.
    const se = (r: number) => {
      const step = span / (n - 1);
      let level = 0;
      for (let i = 0; i < n; i++) level += Math.max(r * i * step, s);
      const sxx = (span * span * n * (n + 1)) / (12 * (n - 1));
      return Math.sqrt((s * level) / n / sxx + (1.2 * s * r) / span);
    };
    const z = growthZ(0.9, n);
    assert.ok(Math.abs(rate / se(rate) - z) < 1e-6, `z at the limit ${rate / se(rate)}`);
    assert.ok((0.99 * rate) / se(0.99 * rate) < z);
  });

  test('more sampling noise, a shorter run, fewer snapshots or a heavier site all raise the limit', () => {
    const base = { durationSec: 600, snapshots: 61, sampleIntervalBytes: 512 * KiB, liveBytes: 0 };
    const limit = detectableRateBytesPerHour(base);
    assert.ok(Number.isFinite(limit) && limit > 0);
    assert.ok(detectableRateBytesPerHour({ ...base, sampleIntervalBytes: 2 * MiB }) > limit);
    assert.ok(detectableRateBytesPerHour({ ...base, sampleIntervalBytes: 64 * KiB }) < limit);
    assert.ok(detectableRateBytesPerHour({ ...base, durationSec: 60 }) > limit);
    assert.ok(detectableRateBytesPerHour({ ...base, snapshots: 4 }) > limit);
    assert.ok(detectableRateBytesPerHour({ ...base, liveBytes: 200 * MiB }) > limit);
    assert.ok(detectableRateBytesPerHour({ ...base, confidence: 0.8 }) < limit);
    assert.ok(detectableRateBytesPerHour({ ...base, confidence: 0.99 }) > limit);
  });

  test('durationToDetectSec and sampleBytesToDetect find runs that detect the rate', () => {
    const rate = 1 * MiB; // per hour
    const span = durationToDetectSec({ rateBytesPerHour: rate, snapshotIntervalSec: 10, sampleIntervalBytes: 512 * KiB });
    assert.ok(Number.isFinite(span) && span > 600, `span ${span}`);
    const at = (sec: number) => detectableRateBytesPerHour({ durationSec: sec, snapshots: Math.floor(sec / 10) + 1, sampleIntervalBytes: 512 * KiB });
    assert.ok(at(span) <= rate);
    assert.ok(at(span * 0.95) > rate, 'the shortest such span, within 5%');
    assert.equal(durationToDetectSec({ rateBytesPerHour: rate, snapshotIntervalSec: 10, sampleIntervalBytes: 512 * KiB, maxDurationSec: 60 }), Infinity);

    const s = sampleBytesToDetect({ rateBytesPerHour: 64 * MiB, durationSec: 300, snapshots: 31 });
    assert.ok(s > 1 && Number.isInteger(Math.log2(s)), `a power of two: ${s}`);
    assert.ok(detectableRateBytesPerHour({ durationSec: 300, snapshots: 31, sampleIntervalBytes: s }) <= 64 * MiB);
    assert.ok(detectableRateBytesPerHour({ durationSec: 300, snapshots: 31, sampleIntervalBytes: 2 * s }) > 64 * MiB);
    assert.equal(sampleBytesToDetect({ rateBytesPerHour: 64 * MiB, durationSec: 300, snapshots: 2 }), 0, 'no trend from two snapshots');
    assert.equal(sampleBytesToDetect({ rateBytesPerHour: 1, durationSec: 300, snapshots: 31 }), 0, 'one byte an hour: never');
    assert.equal(sampleBytesToDetect({ rateBytesPerHour: 100, durationSec: 300, snapshots: 31 }), 1, 'only by recording everything');
  });

  for (const [i, s] of scenarios.entries()) {
    test(`simulated through the ranking: ${s.name}`, () => {
      const limit = detectableRateBytesPerHour({ durationSec: s.spanSec, snapshots: s.snapshots, sampleIntervalBytes: s.sampleBytes, liveBytes: s.baseBytes });
      assert.ok(Number.isFinite(limit));
      const trials = 160;
      const above = detectedShare(s, (1.5 * limit) / HOUR, trials, 1000 + i);
      const below = detectedShare(s, (0.3 * limit) / HOUR, trials, 2000 + i);
      assert.ok(above >= 0.75, `1.5× the limit (${(1.5 * limit / MiB).toFixed(2)} MiB/h) detected in ${(above * 100).toFixed(0)}% of runs`);
      assert.ok(below <= 0.1, `0.3× the limit detected in ${(below * 100).toFixed(0)}% of runs`);
    });
  }
});
