/** The age of live blocks as the second signal: a site whose live blocks are all young is churn, not a leak. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rankSites } from '../../src/analyse/index.js';
import type { HeapProfile, ProfilePoint } from '../../src/pprof/index.js';

const MiB = 1024 * 1024;
const TIMES = Array.from({ length: 20 }, (_, i) => i * 60);

function points(liveBytes: (i: number) => number, oldestAgeMs: number): ProfilePoint[] {
  return TIMES.map((timeSec, i) => {
    const profile: HeapProfile = {
      sampleTypes: [{ type: 'inuse_space', unit: 'bytes' }],
      timeNanos: 0n, durationNanos: 0n,
      samples: [{
        stack: [{ functionName: 'malloc' }, { functionName: 'grow_pool' }],
        values: [liveBytes(i)],
        labels: { oldest_live_age_ms: Math.min(oldestAgeMs, timeSec * 1000), mean_live_age_ms: Math.min(oldestAgeMs, timeSec * 1000) / 2 },
      }],
    };
    return { timeSec, profile };
  });
}

describe('age of live blocks', () => {
  const rising = (i: number) => 10 * MiB + i * 2 * MiB;

  test('a linear rise whose blocks span the run is growing, and reports their ages', () => {
    const [site] = rankSites(points(rising, 10_000_000), { sampleIntervalBytes: 1 });
    assert.equal(site!.status, 'growing');
    assert.equal(site!.ages!.oldestSec, TIMES[TIMES.length - 1]);
  });

  test('the same rise with every live block younger than a quarter of the run is not growing', () => {
    const [site] = rankSites(points(rising, 60_000), { sampleIntervalBytes: 1 });
    assert.equal(site!.shape, 'linear');
    assert.notEqual(site!.status, 'growing');
    assert.equal(site!.ages!.oldestSec, 60);
  });

  test('among sites not growing, churn (all live blocks young) ranks below a slow site whose blocks span the run', () => {
    // Churn that swung up fast between snapshots, next to a leak with too few samples to be called growing yet.
    const swing = (i: number) => (i % 2 ? 40 : 10) * MiB + i * 6 * MiB;
    const slow = (i: number) => (i % 3 === 0 ? 12 : 10) * MiB + i * 0.2 * MiB;
    const merged = points(swing, 200).map((p, i) => ({
      ...p,
      profile: {
        ...p.profile,
        samples: [
          { ...p.profile.samples[0]!, stack: [{ functionName: 'malloc' }, { functionName: 'per_request_scratch' }] },
          ...points(slow, 10_000_000)[i]!.profile.samples.map((s) => ({ ...s, stack: [{ functionName: 'malloc' }, { functionName: 'remember_forever' }] })),
        ],
      },
    }));
    const sites = rankSites(merged, { sampleIntervalBytes: 4 * MiB, minConfidence: 0.999 });
    const churn = sites.find((s) => s.function === 'per_request_scratch')!;
    const leak = sites.find((s) => s.function === 'remember_forever')!;
    assert.notEqual(churn.status, 'growing');
    assert.notEqual(leak.status, 'growing');
    assert.ok(churn.confidence * churn.leakRateBytesPerHour > leak.confidence * leak.leakRateBytesPerHour, 'on rate × confidence alone the churn would lead');
    assert.deepEqual(sites.map((s) => s.function), ['remember_forever', 'per_request_scratch']);
  });

  test('youth is judged on the stacks that carry the growth: one long-lived index block beside young requests is churn', () => {
    // Requests waiting in a std::deque: thousands of young blocks under rising load, and the deque's index, allocated
    // once from another stack of the same function, as old as the run.
    const withIndex = (indexBytes: (i: number) => number) => points(rising, 60_000).map((p) => ({
      ...p,
      profile: {
        ...p.profile,
        samples: [
          ...p.profile.samples,
          {
            stack: [{ functionName: 'malloc' }, { functionName: 'std::deque<InFlight>::_M_initialize_map' }, { functionName: 'grow_pool' }],
            values: [indexBytes(TIMES.indexOf(p.timeSec))],
            labels: { oldest_live_age_ms: p.timeSec * 1000, mean_live_age_ms: p.timeSec * 1000 },
          },
        ],
      },
    }));
    const [churn] = rankSites(withIndex(() => 8 * MiB), { sampleIntervalBytes: 1 });
    assert.equal(churn!.function, 'grow_pool');
    assert.notEqual(churn!.status, 'growing');
    assert.equal(churn!.renewed, true);
    assert.equal(churn!.ages!.oldestSec, TIMES[TIMES.length - 1], 'the site\'s oldest block is still reported');
    // An index made during the warm-up, before the trend window, grows in no window.
    const [late] = rankSites(withIndex((i) => (i === 0 ? 0 : 8 * MiB)), { sampleIntervalBytes: 1, warmupSec: 120 });
    assert.equal(late!.renewed, true);
    assert.notEqual(late!.status, 'growing');
    // When the old stack carries a real share of the growth, the site keeps what it holds: growing.
    const [kept] = rankSites(withIndex((i) => 8 * MiB + i * MiB), { sampleIntervalBytes: 1 });
    assert.equal(kept!.status, 'growing');
    assert.equal(kept!.renewed, undefined);
  });

  test('what a site freed again: alloc_space − inuse_space of its live stacks at the last point', () => {
    const withAlloc = (allocated: number) => points(rising, 10_000_000).map((p) => ({
      ...p,
      profile: {
        ...p.profile,
        sampleTypes: [{ type: 'alloc_space', unit: 'bytes' }, ...p.profile.sampleTypes],
        samples: p.profile.samples.map((sample) => ({ ...sample, values: [allocated, ...sample.values] })),
      },
    }));
    assert.equal(rankSites(withAlloc(rising(19)), { sampleIntervalBytes: 1 })[0]!.freedBytes, 0, 'a leak frees nothing');
    assert.equal(rankSites(withAlloc(rising(19) + 5 * MiB), { sampleIntervalBytes: 1 })[0]!.freedBytes, 5 * MiB);
    assert.equal(rankSites(points(rising, 10_000_000), { sampleIntervalBytes: 1 })[0]!.freedBytes, undefined, 'unknown without alloc_space');
  });

  test('profiles without age labels (any pprof) are judged on the trend alone', () => {
    const plain = points(rising, 60_000).map((p) => ({ ...p, profile: { ...p.profile, samples: p.profile.samples.map((s) => ({ ...s, labels: {} })) } }));
    const [site] = rankSites(plain, { sampleIntervalBytes: 1 });
    assert.equal(site!.status, 'growing');
    assert.equal(site!.ages, undefined);
  });
});
