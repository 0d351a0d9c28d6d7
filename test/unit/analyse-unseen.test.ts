/**
 * Allocations the shim did not see (analyse/unseen.ts): the allocator's in-use bytes against the shim's estimate of
 * them, on seeded timelines whose seen part is honestly sampled. An unseen leak is found; a seen leak of small blocks
 * (whose chunk overhead grows with it), churn, a one-off and a pool that fills are not; flat runs stay calibrated.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TimelinePoint } from '../../src/analyse/timeline.js';
import { timelinePointOf } from '../../src/analyse/timeline.js';
import { unseenGrowth, unseenMallocSeries, type UnseenGrowth } from '../../src/analyse/unseen.js';
import { KiB, MiB, sampleProbability, type Rng } from './helpers/heap-sim.js';
import { mulberry32 } from './helpers/prng.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';
import { SiteTable, writeSiteEntry } from '../../src/snapshot/tables.js';
import type { SiteStats } from '../../src/snapshot/types.js';

const SNAPSHOTS = 32;
const INTERVAL_SEC = 0.25;

/** glibc's chunk for a request: the request and its 8-byte header rounded up to 16, at least 32. */
const chunkOf = (request: number) => Math.max(32, Math.ceil((request + 8) / 16) * 16);
const usableOf = (request: number) => chunkOf(request) - 8;

interface Scenario {
  /** Seen blocks that are never freed: bytes per second, and their request size. */
  seenLeakBytesPerSec?: number;
  seenLeakBlockBytes?: number;
  /** Seen blocks in flight at any moment (fresh at every snapshot), of random sizes 1..16 KiB. */
  churnBlocks?: number;
  /** Bytes per second allocated where the shim cannot see, never freed; from `unseenFromSec` to `unseenUntilSec`. */
  unseenBytesPerSec?: number;
  unseenFromSec?: number;
  unseenUntilSec?: number;
  /** A one-off unseen allocation at this time. */
  unseenOnceAtSec?: number;
  unseenOnceBytes?: number;
  /** glibc's per-thread caches: up to this many freed bytes still counted in use, varying from snapshot to snapshot. */
  cacheNoiseBytes?: number;
  /** The shim's estimate from usable sizes (format 3) or from requested sizes (older). */
  usable: boolean;
  sampleBytes: number;
}

/** A run's timeline, as the shim's snapshots would give it. */
function timeline(rng: Rng, o: Scenario): TimelinePoint[] {
  const S = o.sampleBytes;
  const leakBlock = o.seenLeakBlockBytes ?? 25;
  const leakP = sampleProbability(leakBlock, S);
  let leakedBlocks = 0;
  let sampledLeaked = 0;
  return Array.from({ length: SNAPSHOTS }, (_, k) => {
    const t = (k + 1) * INTERVAL_SEC;
    // The seen leak: each new block is drawn once and keeps its draw.
    const blocks = Math.floor(((o.seenLeakBytesPerSec ?? 0) * t) / leakBlock);
    for (; leakedBlocks < blocks; leakedBlocks++) if (rng() < leakP) sampledLeaked++;
    let inUse = blocks * chunkOf(leakBlock);
    const w = 1 / leakP;
    let seenBytes = sampledLeaked * w * leakBlock;
    let seenUsable = sampledLeaked * w * usableOf(leakBlock);
    let seenObjects = sampledLeaked * w;
    for (let i = 0; i < (o.churnBlocks ?? 0); i++) {
      const size = 1024 + Math.floor(rng() * 15 * KiB);
      inUse += chunkOf(size);
      const p = sampleProbability(size, S);
      if (rng() < p) {
        seenBytes += size / p;
        seenUsable += usableOf(size) / p;
        seenObjects += 1 / p;
      }
    }
    const from = o.unseenFromSec ?? 0;
    const until = Math.min(t, o.unseenUntilSec ?? Infinity);
    inUse += Math.max(0, until - from) * (o.unseenBytesPerSec ?? 0);
    if (o.unseenOnceAtSec !== undefined && t >= o.unseenOnceAtSec) inUse += o.unseenOnceBytes ?? 0;
    inUse += 300 * KiB + rng() * (o.cacheNoiseBytes ?? 0);
    const point: TimelinePoint = {
      sequence: k, timeSec: t, rssBytes: 0, rssAnonBytes: 0, rssFileBytes: 0, liveBytes: seenBytes, mallocHeapBytes: 0, mallocInUseBytes: inUse,
      mallocFreeBytes: 0, mallocMmappedBytes: 0, sampleIntervalBytes: S, liveEntries: 0, tableDrops: 0, thinnedEntries: 0, stackDrops: 0,
      shimMappedBytes: 0, allocator: 'glibc', liveObjects: seenObjects, allocatorInUseBytes: Math.round(inUse),
      shimSeenInUseBytes: o.usable ? seenUsable + 8 * seenObjects : seenBytes + 16 * seenObjects, shimSeenFromUsableBytes: o.usable,
    };
    return point;
  });
}

function check(points: TimelinePoint[], sampleBytes: number): UnseenGrowth {
  const result = unseenGrowth(points, { sampleIntervalBytes: sampleBytes });
  assert.ok(result.available);
  return result;
}

function count(trials: number, seed: number, scenario: Scenario): { grows: number; confident: number; results: UnseenGrowth[] } {
  const results = Array.from({ length: trials }, (_, i) => check(timeline(mulberry32(seed + i), scenario), scenario.sampleBytes));
  return { grows: results.filter((r) => r.grows).length, confident: results.filter((r) => r.confidence >= 0.9).length, results };
}

describe('allocations the shim did not see', () => {
  for (const usable of [true, false]) {
    const estimate = usable ? 'usable sizes' : 'requested sizes + 16 (older snapshots)';
    test(`an unseen leak of 2 MiB/s beside seen churn grows, at its rate (${estimate})`, () => {
      const { grows, results } = count(40, 0x5ee0 + Number(usable), { unseenBytesPerSec: 2 * MiB, churnBlocks: 400, usable, sampleBytes: 16 * KiB });
      assert.equal(grows, 40);
      for (const r of results) assert.ok(Math.abs(r.rateBytesPerHour / (2 * MiB * 3600) - 1) < 0.2, String(r.rateBytesPerHour / MiB / 3600));
    });

    test(`a seen leak of 25-byte blocks (23 bytes of chunk overhead each) is not unseen growth (${estimate})`, () => {
      for (const sampleBytes of [1, 4 * KiB, 64 * KiB]) {
        const { grows } = count(40, 0x5ea1 + sampleBytes, { seenLeakBytesPerSec: 2 * MiB, seenLeakBlockBytes: 25, churnBlocks: 200, usable, sampleBytes });
        assert.equal(grows, 0, `S = ${sampleBytes}`);
      }
    });
  }

  test('steady churn with the per-thread caches moving is flat: confidence 0.9 in at most 2% of 500 runs, growing in at most 1%', () => {
    const { grows, confident } = count(500, 0xf1a7, { churnBlocks: 600, cacheNoiseBytes: 512 * KiB, usable: true, sampleBytes: 64 * KiB });
    assert.ok(grows <= 5, `${grows} of 500`);
    assert.ok(confident <= 10, `${confident} of 500`);
  });

  test('a one-off unseen allocation is a step, a pool that fills and stops is saturating: neither grows', () => {
    const once = count(30, 0x0ff, { unseenOnceAtSec: 4, unseenOnceBytes: 20 * MiB, churnBlocks: 300, usable: true, sampleBytes: 16 * KiB });
    assert.equal(once.grows, 0);
    for (const r of once.results) assert.equal(r.shape, 'step');
    const pool = count(30, 0x9001, { unseenBytesPerSec: 8 * MiB, unseenUntilSec: 2.5, churnBlocks: 300, usable: true, sampleBytes: 16 * KiB });
    assert.equal(pool.grows, 0);
  });

  test('threads joining a pool, each caching up to 240 KiB of freed small chunks that glibc counts in use, do not grow', () => {
    // 16 workers in 8 s, each with a full cache: 3.75 MiB, rising steadily and surely, but not a leak.
    const { grows, results } = count(20, 0x7ca, { unseenBytesPerSec: (16 * 240 * KiB) / 8, churnBlocks: 200, usable: true, sampleBytes: 16 * KiB });
    assert.equal(grows, 0);
    for (const r of results) assert.ok(r.confidence > 0.9 && r.shape === 'linear', `${r.confidence} ${r.shape}`);
  });

  test('a slow unseen leak below the material size does not grow however sure its slope', () => {
    const { grows, results } = count(20, 0x510, { unseenBytesPerSec: 64 * KiB, usable: true, sampleBytes: 1 });
    assert.equal(grows, 0);
    for (const r of results) assert.ok(r.confidence > 0.99 && r.growthBytes < 1 * MiB);
  });

  test('the window leaves out the start-up climb and a trim probe\'s after-snapshots', () => {
    const points = timeline(mulberry32(3), { unseenBytesPerSec: 2 * MiB, usable: true, sampleBytes: 16 * KiB });
    points[20]!.afterTrim = true;
    const r = check(points, 16 * KiB);
    assert.equal(r.snapshots, 20);
    const later = unseenGrowth(points, { sampleIntervalBytes: 16 * KiB, fromSec: 2 });
    assert.ok(later.available && later.fromSec >= 2 && later.snapshots === 13, JSON.stringify(later));
  });

  test('unseenMallocSeries: allocator − shim, never below 0, undefined without figures', () => {
    const points = timeline(mulberry32(4), { unseenBytesPerSec: MiB, usable: true, sampleBytes: 1 });
    points[0]!.shimSeenInUseBytes = points[0]!.allocatorInUseBytes! + 1000;
    delete points[1]!.allocatorInUseBytes;
    const series = unseenMallocSeries(points);
    assert.equal(series[0], 0);
    assert.equal(series[1], undefined);
    assert.equal(series[2], points[2]!.allocatorInUseBytes! - points[2]!.shimSeenInUseBytes!);
  });

  test('unavailable: tcmalloc and other allocators, jemalloc without usable sizes, too few snapshots', () => {
    const base = timeline(mulberry32(5), { usable: true, sampleBytes: 1 });
    const strip = (p: TimelinePoint): TimelinePoint => {
      const { allocatorInUseBytes: _a, shimSeenInUseBytes: _s, shimSeenFromUsableBytes: _u, ...rest } = p;
      return rest;
    };
    assert.deepEqual(unseenGrowth(base.map((p) => ({ ...strip(p), allocator: 'tcmalloc' as const })), { sampleIntervalBytes: 1 }),
      { available: false, why: 'allocator', allocator: 'tcmalloc' });
    const jemalloc = base.map((p) => ({ ...strip(p), allocator: 'jemalloc' as const, allocatorInUseBytes: 5 * MiB }));
    assert.deepEqual(unseenGrowth(jemalloc, { sampleIntervalBytes: 1 }), { available: false, why: 'no-usable-sizes', allocator: 'jemalloc' });
    assert.deepEqual(unseenGrowth(base.slice(0, 2), { sampleIntervalBytes: 1 }), { available: false, why: 'too-few-snapshots', allocator: 'glibc' });
  });
});

describe('the timeline\'s figures for the cross-check', () => {
  const mallinfo = { available: true, arena: 10 * MiB, ordblks: 0, smblks: 0, hblks: 1, hblkhd: 2 * MiB, usmblks: 0, fsmblks: 0, uordblks: 7 * MiB, fordblks: 3 * MiB, keepcost: 0 };
  const site = (stackId: number, over: Partial<SiteStats> = {}): SiteStats => ({ ...siteBase(stackId), ...over });
  function siteBase(stackId: number): SiteStats {
    return {
      stackId, liveSamples: 10, liveSampledBytes: 10000, liveObjects: 100, liveBytes: 100_000, allocSamples: 10, allocObjects: 100,
      allocBytes: 100_000, oldestLiveMs: 1, newestLiveMs: 2, meanLiveMs: 1.5,
    };
  }

  test('older snapshots: requested bytes + 16 per block; glibc\'s in-use is uordblks + hblkhd', () => {
    const p = timelinePointOf(rawSnapshot({ mallinfo, sites: [site(1), site(2)] }), 0);
    assert.equal(p.allocatorInUseBytes, 9 * MiB);
    assert.equal(p.shimSeenInUseBytes, 200_000 + 16 * 200);
    assert.equal(p.shimSeenFromUsableBytes, false);
    assert.equal(p.liveObjects, 200);
  });

  test('format 3: usable bytes + 8 per block, mmap sites left out', () => {
    const p = timelinePointOf(rawSnapshot({
      mallinfo,
      sites: [site(1, { liveUsableBytes: 104_000 }), site(2, { kind: 'mmap-anon', liveBytes: 4 * MiB, liveUsableBytes: 4 * MiB, liveObjects: 1 })],
    }), 0);
    assert.equal(p.shimSeenInUseBytes, 104_000 + 8 * 100);
    assert.equal(p.shimSeenFromUsableBytes, true);
    assert.equal(p.liveObjects, 100);
  });

  test('format 3 read as a table (what a run\'s processing reads): kind at offset 4, usable bytes at offset 88', () => {
    const entries = Buffer.alloc(2 * 96);
    writeSiteEntry(entries, 0, site(1));
    writeSiteEntry(entries, 96, site(2, { liveBytes: 4 * MiB, liveObjects: 1 }));
    entries.writeDoubleLE(104_000, 88);
    entries.writeUInt32LE(1, 96 + 4);
    entries.writeDoubleLE(4 * MiB, 96 + 88);
    const p = timelinePointOf(rawSnapshot({ mallinfo, siteTable: new SiteTable(2, entries) }), 0);
    assert.equal(p.shimSeenInUseBytes, 104_000 + 8 * 100);
    assert.equal(p.shimSeenFromUsableBytes, true);
    assert.equal(p.liveBytes, 100_000, 'live bytes: the malloc family\'s sites');
    assert.equal(p.liveMmapAnonBytes, 4 * MiB, 'the mapping apart');
    const older = Buffer.alloc(96);
    writeSiteEntry(older, 0, site(1));
    assert.equal(timelinePointOf(rawSnapshot({ mallinfo, siteTable: new SiteTable(1, older) }), 0).shimSeenInUseBytes, 100_000 + 16 * 100);
  });

  test('jemalloc: stats.allocated against usable bytes only; tcmalloc: neither figure', () => {
    const jemalloc = { allocatedBytes: 3 * MiB, activeBytes: 0, residentBytes: 0, mappedBytes: 0, retainedBytes: 0, metadataBytes: 0 };
    const withUsable = timelinePointOf(rawSnapshot({ jemalloc, sites: [site(1, { liveUsableBytes: 110_000 })] }), 0);
    assert.equal(withUsable.allocatorInUseBytes, 3 * MiB);
    assert.equal(withUsable.shimSeenInUseBytes, 110_000);
    const older = timelinePointOf(rawSnapshot({ jemalloc, sites: [site(1)] }), 0);
    assert.equal(older.allocatorInUseBytes, 3 * MiB);
    assert.equal(older.shimSeenInUseBytes, undefined);
    const tcmalloc = timelinePointOf(rawSnapshot({ maps: '7f00-7f01 r-xp 0 fe:00 1 /usr/lib/libtcmalloc.so.4\n', sites: [site(1)] }), 0);
    assert.equal(tcmalloc.allocatorInUseBytes, undefined);
    assert.equal(tcmalloc.shimSeenInUseBytes, undefined);
  });
});
