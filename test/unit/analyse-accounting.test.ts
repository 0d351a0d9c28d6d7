/** Where the RSS went: the accounting of synthetic timelines, the trend window, the trim probe, JVM figures by time. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accountMemory, partsOf, trimProbeOf, trendWindow, type AccountingPart } from '../../src/analyse/accounting.js';
import { beforeTrim, jvmFiguresAt, memoryGrowth, type TimelinePoint } from '../../src/analyse/timeline.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const HOUR = 3600;

/** A point of a glibc process: RSS = malloc in use (live + 64 KiB of chunk headers) + free (fordblks) + 3 MiB of shim + `other`. */
function glibcPoint(timeSec: number, liveBytes: number, freeBytes: number, other = 6 * MiB, extra: Partial<TimelinePoint> = {}): TimelinePoint {
  const shim = 3 * MiB;
  const inUse = liveBytes + 64 * KiB; // chunk headers: part of "other" in the accounting
  return {
    sequence: Math.round(timeSec), timeSec, rssBytes: liveBytes + 64 * KiB + freeBytes + shim + other, rssAnonBytes: 0, rssFileBytes: 0, liveBytes,
    mallocHeapBytes: inUse + freeBytes, mallocInUseBytes: inUse, mallocFreeBytes: freeBytes, mallocMmappedBytes: 0,
    sampleIntervalBytes: 16 * KiB, liveEntries: 0, tableDrops: 0, thinnedEntries: 0, stackDrops: 0, shimMappedBytes: 12 * MiB,
    shimResidentBytes: shim, allocator: 'glibc', afterTrim: false, jvm: false, ...extra,
  };
}

function row(accounting: ReturnType<typeof accountMemory>, part: AccountingPart) {
  const found = accounting!.rows.find((r) => r.part === part);
  assert.ok(found, `${part} in ${accounting!.rows.map((r) => r.part).join(', ')}`);
  return found;
}

const times = Array.from({ length: 20 }, (_, i) => i * 10);

describe('accountMemory', () => {
  test('fragmentation: RSS grows by what the allocator keeps free, live flat; the parts add up to RSS', () => {
    const timeline = times.map((t) => glibcPoint(t, 2 * MiB, 4 * MiB + t * MiB));
    const a = accountMemory(timeline, { sampleIntervalBytes: 16 * KiB })!;
    assert.equal(a.snapshots, 20);
    assert.deepEqual(a.rows.map((r) => r.part), ['live-malloc', 'allocator-retained', 'leakhunt-shim', 'other']);
    assert.equal(row(a, 'allocator-retained').growthBytes, 190 * MiB);
    assert.ok(Math.abs(row(a, 'allocator-retained').growthBytesPerHour - MiB * HOUR) < 1);
    assert.equal(row(a, 'live-malloc').growthBytes, 0);
    assert.equal(row(a, 'leakhunt-shim').growthBytes, 0);
    // The chunk headers (in use but not live) are neither live nor free: they land in "other".
    assert.equal(row(a, 'other').startBytes, 6 * MiB + 64 * KiB);
    for (const key of ['startBytes', 'endBytes', 'growthBytes'] as const) {
      assert.equal(a.rows.reduce((sum, r) => sum + r[key], 0), a.rss[key], key);
    }
    assert.ok(Math.abs(a.rows.reduce((sum, r) => sum + r.growthBytesPerHour, 0) - a.rss.growthBytesPerHour) < 1);
    assert.equal(a.rss.growthBytes, 190 * MiB);
    assert.ok(a.rssTrend.confidence > 0.99);
    assert.ok(a.liveTrend.confidence < 0.5);
    assert.equal(a.liveMedianBytes, 2 * MiB);
    assert.equal(a.allocator, 'glibc');
    assert.deepEqual(a.missing, []);
  });

  test('jemalloc: retained is resident − allocated', () => {
    const timeline = times.map((t) => glibcPoint(t, 2 * MiB, 0, 6 * MiB, {
      allocator: 'jemalloc', mallocHeapBytes: 0, mallocInUseBytes: 0, mallocFreeBytes: 0,
      jemalloc: { allocatedBytes: 2 * MiB, activeBytes: 2 * MiB, residentBytes: 5 * MiB + t * KiB, mappedBytes: 8 * MiB, retainedBytes: 0, metadataBytes: 1 * MiB },
    }));
    const a = accountMemory(timeline, { sampleIntervalBytes: 16 * KiB })!;
    assert.equal(row(a, 'allocator-retained').startBytes, 3 * MiB);
    assert.equal(row(a, 'allocator-retained').growthBytes, 190 * KiB);
    assert.equal(a.allocator, 'jemalloc');
  });

  test('tcmalloc: retained is not known, and says so', () => {
    const timeline = times.map((t) => glibcPoint(t, 2 * MiB, 0, 6 * MiB, { allocator: 'tcmalloc', mallocHeapBytes: 0, mallocInUseBytes: 0 }));
    const a = accountMemory(timeline, { sampleIntervalBytes: 16 * KiB })!;
    assert.ok(!a.rows.some((r) => r.part === 'allocator-retained'));
    assert.match(a.missing.join('\n'), /allocator-retained: tcmalloc/);
  });

  test('a JVM: Java heap committed, and JVM-internal = NMT committed − its malloc − the Java heap', () => {
    const timeline = times.map((t) => {
      const heap = 32 * MiB + t * 512 * KiB;
      const internal = 60 * MiB + t * 16 * KiB;
      return glibcPoint(t, 8 * MiB, 2 * MiB, heap + internal + 10 * MiB, {
        jvm: true, javaHeapUsedBytes: heap / 2, javaHeapCommittedBytes: heap,
        nmtCommittedBytes: heap + internal + 7 * MiB, nmtMallocBytes: 7 * MiB, nmtJavaHeapCommittedBytes: heap,
        nmtCategories: { 'Java Heap': heap, Class: 20 * MiB + t * 16 * KiB, Thread: 40 * MiB },
      });
    });
    const a = accountMemory(timeline, { sampleIntervalBytes: 512 * KiB })!;
    assert.deepEqual(a.rows.map((r) => r.part), ['live-malloc', 'allocator-retained', 'java-heap', 'jvm-internal', 'leakhunt-shim', 'other']);
    assert.equal(row(a, 'java-heap').growthBytes, 190 * 512 * KiB);
    assert.equal(row(a, 'jvm-internal').startBytes, 60 * MiB);
    assert.equal(row(a, 'jvm-internal').growthBytes, 190 * 16 * KiB);
    assert.equal(row(a, 'other').growthBytes, 0);
    assert.deepEqual(a.javaHeapUsed, { startBytes: 16 * MiB, endBytes: (32 * MiB + 190 * 512 * KiB) / 2 });
    assert.equal(a.nmtGrowth![0]!.category, 'Class');
    assert.ok(!a.nmtGrowth!.some((c) => c.category === 'Java Heap'));
    assert.ok(a.jvm);
    assert.deepEqual(a.missing, []);
  });

  test('a JVM without jcmd figures: the missing parts are named, with why', () => {
    const timeline = times.map((t) => glibcPoint(t, 8 * MiB, 2 * MiB, 40 * MiB + t * MiB, { jvm: true }));
    const a = accountMemory(timeline, { sampleIntervalBytes: 512 * KiB, jvmNotes: ['jcmd not found (it comes with the JDK)'] })!;
    assert.deepEqual(a.rows.map((r) => r.part), ['live-malloc', 'allocator-retained', 'leakhunt-shim', 'other']);
    assert.match(a.missing[0]!, /^java-heap: .*jcmd not found/);
    assert.match(a.missing[1]!, /^jvm-internal: .*--nmt/);
  });

  test('the window: from the end of the start-up climb to the snapshot before the trim probe', () => {
    const timeline = times.map((t) => glibcPoint(t, 2 * MiB, 4 * MiB + t * MiB));
    timeline[15] = { ...timeline[15]!, afterTrim: true, rssBytes: 12 * MiB };
    const a = accountMemory(timeline, { fromSec: 30, sampleIntervalBytes: 16 * KiB })!;
    assert.equal(a.fromSec, 30);
    assert.equal(a.toSec, 140);
    assert.equal(a.snapshots, 12);
    assert.equal(a.rss.growthBytes, 110 * MiB);
    // a warm-up that would leave less than two points: the whole run (before the trim) instead
    assert.equal(trendWindow(timeline, 1000).length, 15);
  });

  test('fewer than two points: no accounting', () => {
    assert.equal(accountMemory([glibcPoint(0, MiB, MiB)], { sampleIntervalBytes: 1 }), undefined);
    assert.equal(accountMemory([], { sampleIntervalBytes: 1 }), undefined);
  });

  test('a part measured only at some points: its row uses those; old timelines without the new fields still account', () => {
    const timeline = times.map((t, i) => glibcPoint(t, 2 * MiB, 4 * MiB, 6 * MiB, i % 3 === 2 ? { shimResidentBytes: undefined } : {}));
    const a = accountMemory(timeline, { sampleIntervalBytes: 16 * KiB })!;
    assert.equal(row(a, 'leakhunt-shim').growthBytes, 0);
    const old = times.map((t) => {
      const { shimResidentBytes: _s, allocator: _a, afterTrim: _t, jvm: _j, ...rest } = glibcPoint(t, 2 * MiB, 4 * MiB + t * KiB);
      return rest as TimelinePoint;
    });
    const b = accountMemory(old, { sampleIntervalBytes: 16 * KiB })!;
    assert.deepEqual(b.rows.map((r) => r.part), ['live-malloc', 'allocator-retained', 'other']);
    assert.equal(row(b, 'allocator-retained').growthBytes, 190 * KiB);
  });
});

describe('partsOf', () => {
  test('other is RSS minus every measured part', () => {
    const parts = partsOf(glibcPoint(0, 5 * MiB, 7 * MiB, 11 * MiB));
    assert.equal(parts['live-malloc'], 5 * MiB);
    assert.equal(parts['allocator-retained'], 7 * MiB);
    assert.equal(parts['leakhunt-shim'], 3 * MiB);
    assert.equal(parts.other, 11 * MiB + 64 * KiB);
  });
});

describe('trim probe', () => {
  test('RSS before and after malloc_trim(0), released never below zero', () => {
    const timeline = times.map((t) => glibcPoint(t, 2 * MiB, 100 * MiB));
    timeline[10] = { ...timeline[10]!, sequence: 10, afterTrim: true, rssBytes: timeline[9]!.rssBytes - 90 * MiB };
    timeline[9] = { ...timeline[9]!, sequence: 9 };
    assert.deepEqual(trimProbeOf(timeline), { rssBeforeBytes: timeline[9]!.rssBytes, rssAfterBytes: timeline[10]!.rssBytes, releasedBytes: 90 * MiB, timeSec: 100 });
    timeline[10] = { ...timeline[10]!, rssBytes: timeline[9]!.rssBytes + KiB };
    assert.equal(trimProbeOf(timeline)!.releasedBytes, 0);
    assert.equal(trimProbeOf(times.map((t) => glibcPoint(t, MiB, MiB))), null);
  });

  test('memoryGrowth leaves the after-trim snapshot and those after it out', () => {
    const timeline = times.map((t) => glibcPoint(t, 2 * MiB, t * MiB));
    timeline[18] = { ...timeline[18]!, afterTrim: true, rssBytes: MiB };
    timeline[19] = { ...timeline[19]!, rssBytes: 2 * MiB };
    assert.equal(beforeTrim(timeline).length, 18);
    const growth = memoryGrowth(timeline);
    assert.equal(growth.rssEndBytes, timeline[17]!.rssBytes);
    assert.ok(Math.abs(growth.rssGrowthBytesPerHour - MiB * HOUR) < 1);
  });
});

describe('jvmFiguresAt', () => {
  const samples = [
    { timeMs: 1000, heapUsedBytes: 10 * MiB, heapCommittedBytes: 20 * MiB },
    { timeMs: 3000, heapUsedBytes: 30 * MiB, heapCommittedBytes: 40 * MiB,
      nmt: { committedBytes: 100 * MiB, mallocBytes: 9 * MiB, javaHeapCommittedBytes: 40 * MiB, categories: { Class: 5 * MiB } } },
  ];

  test('interpolated between the samples either side', () => {
    const f = jvmFiguresAt(samples, 2.5);
    assert.equal(f.javaHeapUsedBytes, 25 * MiB);
    assert.equal(f.javaHeapCommittedBytes, 35 * MiB);
    // NMT only in one of the two: not interpolated; categories from the nearer sample
    assert.equal(f.nmtCommittedBytes, undefined);
    assert.deepEqual(f.nmtCategories, { Class: 5 * MiB });
  });

  test('the nearest sample within 2 s outside their span; nothing further away', () => {
    assert.equal(jvmFiguresAt(samples, 0.5).javaHeapCommittedBytes, 20 * MiB);
    assert.equal(jvmFiguresAt(samples, 4.5).nmtCommittedBytes, 100 * MiB);
    assert.deepEqual(jvmFiguresAt(samples, 9), {});
    assert.deepEqual(jvmFiguresAt([], 1), {});
  });

  test('jcmd slower than the snapshots (a sample every 4 s): the last one still names the JVM\'s exit snapshot', () => {
    const slow = [0, 4000, 8000, 12000].map((timeMs) => ({ timeMs: timeMs + 500, heapUsedBytes: MiB, heapCommittedBytes: 64 * MiB }));
    assert.equal(jvmFiguresAt(slow, 15.5).javaHeapCommittedBytes, 64 * MiB, '3 s after the last sample, within its 4 s gap');
    assert.deepEqual(jvmFiguresAt(slow, 17.5), {}, 'past the gap');
  });
});
