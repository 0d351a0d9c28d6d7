/** Where the RSS went: parts by mapping, the accounting of synthetic timelines, the trend window, consistent rankings, the trim probe, JVM figures by time. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accountMemory, partsOf, trimProbeOf, trendWindow, type AccountingPart } from '../../src/analyse/accounting.js';
import { consistentSites } from '../../src/analyse/consistency.js';
import { residentPartsOf, type ResidentContext, type ResidentParts } from '../../src/analyse/resident.js';
import { beforeTrim, jvmFiguresAt, memoryGrowth, timelinePointOf, type TimelinePoint } from '../../src/analyse/timeline.js';
import type { SiteReport } from '../../src/analyse/types.js';
import { rssClimbPoints, trendWindowOf } from '../../src/analyse/window.js';
import { ResidentFlag, type ResidentMemory } from '../../src/snapshot/index.js';
import { mulberry32 as prng } from './helpers/prng.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';

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

const GiB = 1024 * MiB;

/** A glibc process's resident memory by mapping: [heap], one arena, a thread stack, a library, an anonymous rest. */
function residentOf(o: { heap?: number; arena?: number; stack?: number; library?: number; anon?: number } = {}): ResidentMemory {
  const mappings = [
    { start: 0x55d000000000, end: 0x55d000800000, rssBytes: o.heap ?? 2 * MiB, flags: ResidentFlag.read | ResidentFlag.write | ResidentFlag.heap, guardBelowBytes: 0, reservedAboveBytes: 0 },
    { start: 0x7f0000000000, end: 0x7f0001000000, rssBytes: o.arena ?? 4 * MiB, flags: ResidentFlag.read | ResidentFlag.write, guardBelowBytes: 0, reservedAboveBytes: 48 * MiB },
    { start: 0x7f1000001000, end: 0x7f1000801000, rssBytes: o.stack ?? 64 * KiB, flags: ResidentFlag.read | ResidentFlag.write, guardBelowBytes: 4 * KiB, reservedAboveBytes: 0 },
    { start: 0x7f2000000000, end: 0x7f2000200000, rssBytes: o.library ?? MiB, flags: ResidentFlag.read | ResidentFlag.exec | ResidentFlag.file, guardBelowBytes: 0, reservedAboveBytes: 0 },
    { start: 0x7f3000000000, end: 0x7f3010000000, rssBytes: o.anon ?? 5 * MiB, flags: ResidentFlag.read | ResidentFlag.write, guardBelowBytes: 0, reservedAboveBytes: 0 },
  ].filter((m) => m.rssBytes > 0);
  return { readCpuNs: 1e6, threadCpuNs: 5e6, statusRssBytes: [0, 0], totalRssBytes: mappings.reduce((sum, m) => sum + m.rssBytes, 0), mappingCount: mappings.length + 3, mappings };
}

const MAPS = '7f2000000000-7f2000200000 r-xp 00000000 08:01 42 /usr/lib/libz.so.1\n';

function context(extra: Partial<ResidentContext> = {}): ResidentContext {
  return { maps: MAPS, allocator: 'glibc', mallocMmappedBytes: 0, liveBytes: 3 * MiB, shimResidentBytes: MiB, jvm: false, ...extra };
}

function assertAddsUp(parts: ResidentParts): void {
  let sum = 0;
  for (const [part, bytes] of Object.entries(parts.parts)) {
    assert.ok(bytes! >= 0 && Number.isFinite(bytes), `${part} ${bytes}`);
    sum += bytes!;
  }
  assert.equal(sum, parts.totalBytes);
}

describe('residentPartsOf', () => {
  test('a glibc process: malloc\'s heap split into live and retained, a thread stack, a file by path, the shim, the rest', () => {
    const parts = residentPartsOf(residentOf(), context());
    assert.deepEqual(parts.parts, {
      'live-malloc': 3 * MiB, 'allocator-retained': 3 * MiB, 'thread-stacks': 64 * KiB, 'file-mapped': MiB,
      'leakhunt-shim': MiB, 'anon-mmap': 4 * MiB,
    });
    assert.deepEqual(parts.files, [{ path: '/usr/lib/libz.so.1', bytes: MiB }]);
    assert.equal(parts.threadStacks, 1);
    assertAddsUp(parts);
  });

  test('upscaled, fractional estimates still give whole-byte parts that add up to RSS exactly', () => {
    const parts = residentPartsOf(residentOf(), context({
      liveBytes: 3 * MiB + 0.7 + 1e-9, allocatorInUseBytes: 4 * MiB + 100, shimSeenInUseBytes: 3 * MiB + 64.3333,
    }));
    for (const bytes of Object.values(parts.parts)) assert.ok(Number.isInteger(bytes), String(bytes));
    assertAddsUp(parts);
  });

  test('glibc\'s mmapped chunks come last out of the anonymous rest, at most hblkhd', () => {
    const some = residentPartsOf(residentOf(), context({ mallocMmappedBytes: 2 * MiB }));
    assert.equal(some.parts['allocator-retained'], 5 * MiB);
    assert.equal(some.parts['anon-mmap'], 2 * MiB);
    const more = residentPartsOf(residentOf(), context({ mallocMmappedBytes: GiB }));
    assert.equal(more.parts['anon-mmap'], undefined);
    assertAddsUp(more);
  });

  test('memory committed inside a reservation (a JVM\'s GC structures) is not taken for malloc\'s mmapped chunks while plain memory is left; the metaspace draws on it first', () => {
    const resident = residentOf({ anon: 3 * MiB });
    const rw = ResidentFlag.read | ResidentFlag.write;
    resident.mappings.push({ start: 0x7f5000100000, end: 0x7f5000500000, rssBytes: 4 * MiB, flags: rw, guardBelowBytes: 0, reservedAboveBytes: 60 * MiB });
    resident.totalRssBytes += 4 * MiB;
    // 1 MiB of the plain 3 goes to the shim; glibc's 2 MiB of chunks take the other 2, the reservation stays anon-mmap.
    const parts = residentPartsOf(resident, context({ mallocMmappedBytes: 2 * MiB }));
    assert.equal(parts.parts['allocator-retained'], 5 * MiB);
    assert.equal(parts.parts['anon-mmap'], 4 * MiB);
    assertAddsUp(parts);
    // More chunks than plain memory: the rest comes out of the reservation after all (an upper bound, taken last).
    assert.equal(residentPartsOf(resident, context({ mallocMmappedBytes: 3 * MiB })).parts['anon-mmap'], 3 * MiB);
    // In a JVM the metaspace's committed size is drawn on the reservation first, leaving the plain memory to malloc.
    const jvm = residentPartsOf(resident, context({ jvm: true, metaspaceCommittedBytes: 3 * MiB, mallocMmappedBytes: 2 * MiB }));
    assert.equal(jvm.parts['jvm-metaspace'], 3 * MiB);
    assert.equal(jvm.parts['allocator-retained'], 5 * MiB);
    assert.equal(jvm.parts['anon-mmap'], MiB);
    assertAddsUp(jvm);
  });

  test('live malloc above the resident heap is capped (blocks not touched yet); unseen malloc when the timeline has it', () => {
    const capped = residentPartsOf(residentOf(), context({ liveBytes: 100 * MiB }));
    assert.equal(capped.parts['live-malloc'], 6 * MiB);
    assert.equal(capped.parts['allocator-retained'], undefined);
    const unseen = residentPartsOf(residentOf(), context({ allocatorInUseBytes: 5 * MiB, shimSeenInUseBytes: 3.5 * MiB }));
    assert.equal(unseen.parts['unseen-malloc'], 1.5 * MiB);
    assert.equal(unseen.parts['allocator-retained'], 1.5 * MiB);
    assertAddsUp(unseen);
  });

  test('an arena is a read-write mapping on a 64 MiB boundary whose reserve above makes 64 MiB: not any aligned mapping', () => {
    const resident = residentOf();
    resident.mappings[1] = { ...resident.mappings[1]!, reservedAboveBytes: 4 * MiB };
    const parts = residentPartsOf(resident, context());
    assert.equal(parts.parts['anon-mmap'], 8 * MiB);
    assert.equal(parts.parts['allocator-retained'], undefined);
  });

  test('a JVM: heap, code cache, class space and GC structures by range; non-class metaspace from hsperfdata; guard rule outside the ranges', () => {
    const rw = ResidentFlag.read | ResidentFlag.write;
    const mappings = [
      { start: 0x80000000, end: 0x90000000, rssBytes: 200 * MiB, flags: rw, guardBelowBytes: 16 * KiB, reservedAboveBytes: 0 },
      { start: 0x7f4000000000, end: 0x7f4000400000, rssBytes: 3 * MiB, flags: rw | ResidentFlag.exec, guardBelowBytes: 0, reservedAboveBytes: 0 },
      { start: 0x7f5000000000, end: 0x7f5000100000, rssBytes: 600 * KiB, flags: rw, guardBelowBytes: 0, reservedAboveBytes: 0 },
      { start: 0x7f6000000000, end: 0x7f6000100000, rssBytes: 800 * KiB, flags: rw, guardBelowBytes: 0, reservedAboveBytes: 0 },
      { start: 0x7f7000004000, end: 0x7f7000100000, rssBytes: 96 * KiB, flags: rw, guardBelowBytes: 16 * KiB, reservedAboveBytes: 0 },
      { start: 0x7f8000000000, end: 0x7f8002000000, rssBytes: 10 * MiB, flags: rw, guardBelowBytes: 0, reservedAboveBytes: 0 },
      { start: 0x7f9000000000, end: 0x7f9000100000, rssBytes: 2 * MiB, flags: rw | ResidentFlag.shared | ResidentFlag.file, guardBelowBytes: 0, reservedAboveBytes: 0 },
    ];
    const resident: ResidentMemory = { readCpuNs: 0, threadCpuNs: 0, statusRssBytes: [0, 0], totalRssBytes: 0, mappingCount: 7, mappings };
    const parts = residentPartsOf(resident, context({
      jvm: true, shimResidentBytes: 0, liveBytes: 0, allocator: 'glibc',
      maps: '7f9000000000-7f9000100000 rw-s 00000000 00:01 9 /memfd:java_heap (deleted)\n',
      ranges: {
        javaHeap: [{ start: 0x80000000, end: 0x100000000 }], codeCache: [{ start: 0x7f4000000000, end: 0x7f4010000000 }],
        classSpace: { start: 0x7f5000000000, end: 0x7f5040000000 }, gcStructures: [{ start: 0x7f6000000000, end: 0x7f6000200000 }],
      },
      metaspaceCommittedBytes: 5 * MiB, classSpaceCommittedBytes: MiB,
    }));
    assert.equal(parts.parts['java-heap'], 202 * MiB, 'the heap range, though it has a guard below it, and the memfd heap by name');
    assert.equal(parts.parts['jvm-code-cache'], 3 * MiB);
    assert.equal(parts.parts['jvm-metaspace'], 600 * KiB + 4 * MiB);
    assert.equal(parts.parts['jvm-internal'], 800 * KiB);
    assert.equal(parts.parts['thread-stacks'], 96 * KiB);
    assert.equal(parts.parts['anon-mmap'], 6 * MiB);
    assert.equal(parts.threadStacks, 1);
  });

  test('tcmalloc: live malloc out of the anonymous rest; jemalloc: its resident figure', () => {
    const tc = residentPartsOf(residentOf({ arena: 0 }), context({ allocator: 'tcmalloc', mallocMmappedBytes: undefined }));
    assert.equal(tc.parts['live-malloc'], 3 * MiB);
    assert.equal(tc.parts['allocator-retained'], undefined);
    assertAddsUp(tc);
    const je = residentPartsOf(residentOf({ arena: 0, heap: 0 }), context({ allocator: 'jemalloc', jemallocResidentBytes: 3.5 * MiB }));
    assert.equal(je.parts['live-malloc'], 3 * MiB);
    assert.equal(je.parts['allocator-retained'], 0.5 * MiB);
    assertAddsUp(je);
  });

  test('files: the five largest by path, the rest as one line; the shim\'s own library is the shim\'s', () => {
    const mappings = Array.from({ length: 8 }, (_, i) => ({
      start: 0x7f0000000000 + i * 0x100000, end: 0x7f0000000000 + i * 0x100000 + 0x1000, rssBytes: (i + 1) * KiB,
      flags: ResidentFlag.read | ResidentFlag.file, guardBelowBytes: 0, reservedAboveBytes: 0,
    }));
    const maps = mappings.map((m, i) => `${m.start.toString(16)}-${m.end.toString(16)} r--p 00000000 08:01 ${i + 1} ${i === 7 ? '/opt/leakhunt/native/build/libleakhunt.so' : `/data/file${i}.bin`}`).join('\n');
    const parts = residentPartsOf({ readCpuNs: 0, threadCpuNs: 0, statusRssBytes: [0, 0], totalRssBytes: 0, mappingCount: 8, mappings }, context({ maps, shimResidentBytes: 0 }));
    assert.deepEqual(parts.files.map((f) => f.path), ['/data/file6.bin', '/data/file5.bin', '/data/file4.bin', '/data/file3.bin', '/data/file2.bin', 'other files']);
    assert.equal(parts.files[5]!.bytes, 3 * KiB);
    assert.equal(parts.parts['leakhunt-shim'], 8 * KiB);
  });

  test('whatever the mappings and the figures, no part is negative and they add up to the mappings\' RSS', () => {
    const rng = prng(11);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)]!;
    for (let i = 0; i < 300; i++) {
      let at = 0x10000000;
      const mappings = Array.from({ length: 1 + Math.floor(rng() * 30) }, () => {
        at += Math.floor(rng() * 4) * 0x4000000 + 0x1000 * Math.floor(rng() * 16);
        const size = 0x1000 * (1 + Math.floor(rng() * 4096));
        const m = { start: at, end: at + size, rssBytes: 0x1000 * Math.floor(rng() * (size / 0x1000)), flags: Math.floor(rng() * 256),
          guardBelowBytes: pick([0, 4096, 16384, 1 << 20]), reservedAboveBytes: pick([0, 4096, 64 * MiB - size]) };
        at += size;
        return m;
      }).filter((m) => m.rssBytes > 0);
      const parts = residentPartsOf({ readCpuNs: 0, threadCpuNs: 0, statusRssBytes: [0, 0], totalRssBytes: 0, mappingCount: mappings.length, mappings }, {
        maps: '', allocator: pick(['glibc', 'jemalloc', 'tcmalloc', 'other'] as const), liveBytes: rng() * GiB, mallocMmappedBytes: rng() * GiB,
        jemallocResidentBytes: rng() * GiB, shimResidentBytes: rng() * 10 * MiB, jvm: rng() < 0.5, metaspaceCommittedBytes: rng() * 100 * MiB,
        classSpaceCommittedBytes: rng() * 200 * MiB, ...(rng() < 0.5 ? { allocatorInUseBytes: rng() * GiB, shimSeenInUseBytes: rng() * GiB } : {}),
        ...(rng() < 0.5 ? { nmtMmapCategories: { GC: rng() * 50 * MiB, Class: rng() * MiB } } : {}),
        ranges: { javaHeap: [{ start: 0x20000000, end: 0x60000000 }], gcStructures: [{ start: 0x70000000, end: 0x80000000 }] },
      });
      assertAddsUp(parts);
    }
  });
});

/** A point whose RSS is accounted by mapping (its `resident` parts given). */
function mappedPoint(timeSec: number, parts: ResidentParts['parts'], extra: Partial<TimelinePoint> = {}): TimelinePoint {
  const total = Object.values(parts).reduce((sum, v) => sum + v!, 0);
  return {
    ...glibcPoint(timeSec, parts['live-malloc'] ?? 0, 0, 0), rssBytes: total + 100 * KiB,
    resident: { parts, totalBytes: total, files: [{ path: '/data/index.bin', bytes: parts['file-mapped'] ?? 0 }], threadStacks: 10, readCostMs: 2 },
    ...extra,
  };
}

describe('accountMemory', () => {
  test('parts by mapping: rows in order, RSS their sum; the mapped files at both ends', () => {
    const timeline = times.map((t) => mappedPoint(t, { 'live-malloc': 2 * MiB, 'java-heap': 100 * MiB + t * MiB, 'file-mapped': 10 * MiB + t * KiB, 'anon-mmap': MiB }));
    const a = accountMemory(timeline, { sampleIntervalBytes: 16 * KiB })!;
    assert.deepEqual(a.rows.map((r) => r.part), ['live-malloc', 'java-heap', 'file-mapped', 'anon-mmap']);
    assert.equal(row(a, 'java-heap').growthBytes, 190 * MiB);
    assert.ok(Math.abs(row(a, 'java-heap').growthBytesPerHour - MiB * HOUR) < 1);
    for (const key of ['startBytes', 'endBytes', 'growthBytes'] as const) {
      assert.equal(a.rows.reduce((sum, r) => sum + r[key], 0), a.rss[key], key);
    }
    assert.deepEqual(a.files, [{ path: '/data/index.bin', startBytes: 10 * MiB, endBytes: 10 * MiB + 190 * KiB }]);
    assert.deepEqual(a.threadStacks, { start: 10, end: 10 });
    assert.deepEqual(a.notes, []);
  });

  test('snapshots without resident memory by mapping are left out when others have it, and the table says so', () => {
    const timeline = times.map((t, i) => (i % 2 === 1 ? glibcPoint(t, 2 * MiB, MiB) : mappedPoint(t, { 'live-malloc': 2 * MiB, 'anon-mmap': MiB + t * KiB })));
    const a = accountMemory(timeline, { sampleIntervalBytes: 16 * KiB })!;
    assert.equal(a.snapshots, 10);
    assert.equal(a.toSec, 180);
    assert.match(a.notes[0]!, /read at 10 of the window's 20 snapshots \(reading smaps cost up to 2\.0 ms/);
    assert.ok(!a.rows.some((r) => r.part === 'unaccounted'));
  });

  test('without resident memory by mapping (older shims): malloc\'s parts and the shim, the rest unaccounted, nothing negative', () => {
    const timeline = times.map((t) => glibcPoint(t, 2 * MiB, 4 * MiB + t * MiB));
    const a = accountMemory(timeline, { sampleIntervalBytes: 16 * KiB })!;
    assert.deepEqual(a.rows.map((r) => r.part), ['live-malloc', 'allocator-retained', 'leakhunt-shim', 'unaccounted']);
    assert.equal(row(a, 'allocator-retained').growthBytes, 190 * MiB);
    assert.equal(row(a, 'unaccounted').startBytes, 6 * MiB + 64 * KiB);
    assert.match(a.missing[0]!, /^resident memory by mapping: .* unaccounted/);
    // A JVM's committed heap is not resident: it is no part, and unaccounted is never negative.
    const jvm = times.map((t) => glibcPoint(t, 2 * MiB, MiB, 0, { jvm: true, javaHeapCommittedBytes: 400 * MiB }));
    for (const p of jvm) for (const bytes of Object.values(partsOf(p))) assert.ok(bytes! >= 0);
    assert.ok(!accountMemory(jvm, { sampleIntervalBytes: 16 * KiB })!.rows.some((r) => r.part === 'java-heap'));
  });

  test('a JVM by mapping without ranges, hsperfdata or NMT: what is missing is named, with why', () => {
    const timeline = times.map((t) => mappedPoint(t, { 'live-malloc': 2 * MiB, 'anon-mmap': 300 * MiB }, { jvm: true }));
    const a = accountMemory(timeline, { sampleIntervalBytes: 16 * KiB, jvmNotes: ['jcmd not found (it comes with the JDK …)'] })!;
    assert.match(a.missing[0]!, /^java-heap: the heap's range is not known \(jcmd not found/);
    assert.match(a.missing[1]!, /^jvm-code-cache: /);
    assert.match(a.missing[2]!, /^jvm-metaspace: no hsperfdata/);
    assert.match(a.missing[3]!, /^jvm-internal: NMT was off/);
  });

  test('the window: from the end of the start-up to the snapshot before the trim probe', () => {
    const timeline = times.map((t) => glibcPoint(t, 2 * MiB, 4 * MiB + t * MiB));
    timeline[15] = { ...timeline[15]!, afterTrim: true, rssBytes: 12 * MiB };
    const a = accountMemory(timeline, { fromSec: 30, sampleIntervalBytes: 16 * KiB })!;
    assert.equal(a.fromSec, 30);
    assert.equal(a.toSec, 140);
    assert.equal(a.snapshots, 12);
    assert.equal(a.rss.growthBytes, 110 * MiB);
    // a start that would leave less than two points: the whole run (before the trim) instead
    assert.equal(trendWindow(timeline, 1000).length, 15);
  });

  test('fewer than two points: no accounting', () => {
    assert.equal(accountMemory([glibcPoint(0, MiB, MiB)], { sampleIntervalBytes: 1 }), undefined);
    assert.equal(accountMemory([], { sampleIntervalBytes: 1 }), undefined);
  });
});

describe('the trend window', () => {
  test('RSS\'s start-up climb: the leading intervals far faster than the rest, within half of the run', () => {
    const t = Array.from({ length: 11 }, (_, i) => 2 + 2 * i);
    const rss = [68, 92, 157, 228, 296, 297, 299, 301, 303, 305, 307].map((m) => m * MiB);
    assert.equal(rssClimbPoints(t, rss), 4);
    assert.deepEqual(trendWindowOf(t, rss, 2, false), { fromSec: 10, leftOut: 'rss-climb' });
    assert.deepEqual(trendWindowOf(t, rss, 14, false), { fromSec: 14, leftOut: 'live-warmup' });
    assert.deepEqual(trendWindowOf(t, rss, 6, true), { fromSec: 6, leftOut: 'warmup-option' });
    // A climb that pauses (a GC, a slow start) and goes on is one climb.
    assert.equal(rssClimbPoints(t, [68, 120, 121, 190, 260, 296, 297, 299, 301, 303, 305].map((m) => m * MiB)), 5);
    // A leak from the start is no climb: RSS grows alike all along.
    const linear = t.map((x) => (100 + 10 * x) * MiB);
    assert.equal(rssClimbPoints(t, linear), 0);
    assert.deepEqual(trendWindowOf(t, linear, 2, false), { fromSec: 2, leftOut: 'nothing' });
    // Too few snapshots for a climb and a trend after it.
    assert.equal(rssClimbPoints(t.slice(0, 5), rss.slice(0, 5)), 0);
    // Growth over most of the run that stalls at its end (a GC pause, a loaded machine) is growth, not a start-up.
    assert.equal(rssClimbPoints(t, [50, 60, 70, 80, 90, 100, 110, 120, 121, 121, 122].map((m) => m * MiB)), 0);
    assert.equal(rssClimbPoints(t, [50, 60, 70, 80, 90, 100, 110, 111, 111, 112, 112].map((m) => m * MiB)), 0);
    // A climb longer than what follows it cannot be told from growth either: it stays in.
    assert.equal(rssClimbPoints(t, [50, 90, 130, 170, 210, 250, 290, 292, 293, 294, 295].map((m) => m * MiB)), 0);
  });
});

describe('consistentSites', () => {
  const base: SiteReport = {
    rank: 1, function: 'f', location: 'f', stack: ['f'], status: 'stable', shape: 'noise', leakRateBytesPerHour: 0,
    leakRateIntervalBytesPerHour: [-1, 1], growthBytes: 0, liveBytes: 0, confidence: 0.2, series: [],
  };
  test('memory that came and went has no rate and ranks after every site holding memory', () => {
    const sites = consistentSites([
      { ...base, function: 'transient', leakRateBytesPerHour: -71.6 * MiB, leakRateIntervalBytesPerHour: [-200 * MiB, 50 * MiB], series: [0, 0, 5 * MiB, 0, 0] },
      { ...base, function: 'holder', liveBytes: MiB, series: [MiB, MiB, MiB, MiB, MiB] },
    ], 0, 0.9);
    assert.deepEqual(sites.map((s) => [s.rank, s.function, s.leakRateBytesPerHour]), [[1, 'holder', 0], [2, 'transient', 0]]);
    assert.equal(sites[1]!.confidence, 0);
  });

  test('rate and growth never of opposite signs; a stable site\'s rate within its noise', () => {
    const [opposite, plateau, drop, noisy, growing] = consistentSites([
      { ...base, leakRateBytesPerHour: 5 * MiB, growthBytes: -MiB, series: [2, 5, 1] },
      { ...base, shape: 'saturating', leakRateBytesPerHour: 50 * MiB, growthBytes: 8 * MiB, confidence: 0.99, series: [1, 9, 9] },
      { ...base, shape: 'step', leakRateBytesPerHour: -50 * MiB, leakRateIntervalBytesPerHour: [-80 * MiB, -20 * MiB], growthBytes: -8 * MiB, series: [9, 1, 1] },
      { ...base, leakRateBytesPerHour: 3 * MiB, leakRateIntervalBytesPerHour: [-MiB, 7 * MiB], growthBytes: MiB, confidence: 0.6, series: [1, 2, 2] },
      { ...base, status: 'growing', shape: 'linear', leakRateBytesPerHour: 9 * MiB, growthBytes: 3 * MiB, confidence: 0.99, series: [1, 2, 4] },
    ], 0, 0.9);
    assert.equal(opposite!.leakRateBytesPerHour, 0);
    assert.equal(plateau!.leakRateBytesPerHour, 0);
    assert.equal(drop!.leakRateBytesPerHour, 0);
    assert.equal(noisy!.leakRateBytesPerHour, 3 * MiB, 'a rise not yet confirmed keeps its rate: it is within the growing rule\'s noise');
    assert.equal(growing!.leakRateBytesPerHour, 9 * MiB);
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

describe('timelinePointOf: the final snapshot of a JVM', () => {
  test('past the last hsperfdata sample (the JVM removed its file as it exited), the metaspace keeps its last figure', () => {
    const anonymous = { start: 0x7f0000000000, end: 0x7f0000000000 + 8 * MiB, rssBytes: 6 * MiB, flags: ResidentFlag.read | ResidentFlag.write, guardBelowBytes: 0, reservedAboveBytes: 0 };
    const resident: ResidentMemory = { readCpuNs: 1e6, threadCpuNs: 1e7, totalRssBytes: 6 * MiB, statusRssBytes: [6 * MiB, 6 * MiB], mappingCount: 1, mappings: [anonymous] };
    const snapshot = (sec: number) => rawSnapshot({
      maps: '7f1000000000-7f1000100000 r-xp 00000000 08:01 1 /jdk/lib/server/libjvm.so\n', resident,
      meta: { realtimeNs: BigInt(sec * 1e9) } as never,
    });
    const samples = [{ timeMs: 1000, metaspaceCommittedBytes: 2 * MiB, classSpaceCommittedBytes: 256 * KiB }, { timeMs: 2000, metaspaceCommittedBytes: 3 * MiB }];
    const final = timelinePointOf(snapshot(12), 0, samples);
    assert.equal(final.metaspaceCommittedBytes, undefined, 'no figure this far from a sample');
    assert.equal(final.resident!.parts['jvm-metaspace'], 3 * MiB);
    assert.equal(final.resident!.parts['anon-mmap'], 3 * MiB);
    // Before any sample there is nothing to carry.
    assert.equal(timelinePointOf(snapshot(0), 0, [{ timeMs: 5000, metaspaceCommittedBytes: 2 * MiB }]).resident!.parts['jvm-metaspace'], undefined);
  });
});
