/** The verdict on synthetic timelines: leak, fragmentation, Java heap, JVM-internal, no growth, inconclusive. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accountMemory, trimProbeOf } from '../../src/analyse/accounting.js';
import { memoryGrowth, type TimelinePoint } from '../../src/analyse/timeline.js';
import type { SiteReport, SiteStatus } from '../../src/analyse/types.js';
import { decideVerdict as decide, type VerdictInput } from '../../src/analyse/verdict.js';
import type { VerdictDetail } from '../../src/pipeline/model.js';
import { shellQuote, verdictDetail } from '../../src/pipeline/verdict-text.js';
import { mulberry32 as prng } from './helpers/prng.js';

/** The decision in the words report.json gives it. */
const decideVerdict = (input: VerdictInput) => verdictDetail(decide(input));

const KiB = 1024;
const MiB = 1024 * KiB;
const SAMPLE = 16 * KiB;
const times = Array.from({ length: 20 }, (_, i) => i * 10);

interface Shape {
  live?: (t: number) => number;
  free?: (t: number) => number;
  other?: (t: number) => number;
  extra?: (t: number) => Partial<TimelinePoint>;
}

function timeline(shape: Shape): TimelinePoint[] {
  const rng = prng(7);
  return times.map((t, i) => {
    // sampling noise on the live estimate, as the shim's upscaled figures have
    const live = (shape.live?.(t) ?? 2 * MiB) + (rng() - 0.5) * 64 * KiB;
    const free = shape.free?.(t) ?? 4 * MiB;
    const other = shape.other?.(t) ?? 6 * MiB;
    return {
      sequence: i, timeSec: t, rssBytes: live + free + 3 * MiB + other, rssAnonBytes: 0, rssFileBytes: 0, liveBytes: live,
      mallocHeapBytes: live + free, mallocInUseBytes: live, mallocFreeBytes: free, mallocMmappedBytes: 0, sampleIntervalBytes: SAMPLE,
      liveEntries: 0, tableDrops: 0, thinnedEntries: 0, stackDrops: 0, shimMappedBytes: 12 * MiB, shimResidentBytes: 3 * MiB,
      allocator: 'glibc', afterTrim: false, jvm: false, ...shape.extra?.(t),
    };
  });
}

function site(status: SiteStatus, fn: string, rate = 0): SiteReport {
  return {
    rank: 0, function: fn, location: fn, stack: [fn], status, shape: status === 'growing' ? 'linear' : 'noise',
    leakRateBytesPerHour: rate, leakRateIntervalBytesPerHour: [rate / 2, rate * 1.5], growthBytes: rate / 2,
    liveBytes: 2 * MiB, confidence: status === 'growing' ? 0.99 : 0.3, series: [],
  };
}

const command = ['/srv/app', '--config', 'my app.conf'];

function verdictOf(points: TimelinePoint[], sites: SiteReport[] = [site('stable', 'pool')], fromSec?: number): VerdictDetail {
  const accounting = accountMemory(points, { sampleIntervalBytes: SAMPLE, ...(fromSec === undefined ? {} : { fromSec }) });
  return decideVerdict({
    snapshotCount: points.length, durationSec: 190, sites, memory: memoryGrowth(points), trimProbe: trimProbeOf(points), command,
    ...(accounting ? { accounting } : {}),
  });
}

describe('decideVerdict with memory accounting', () => {
  test('fragmentation: RSS and the allocator\'s free memory grow, live malloc flat; the evidence and the remedies', () => {
    const verdict = verdictOf(timeline({ free: (t) => 4 * MiB + t * MiB }));
    assert.equal(verdict.kind, 'fragmentation', verdict.summary);
    assert.match(verdict.summary, /RSS grew \+190 MiB/);
    assert.match(verdict.summary, /live malloc stayed flat \(about 2\.\d+ MiB/);
    assert.match(verdict.summary, /holds 194 MiB free but not returned to the OS \(\+190 MiB, 100% of the RSS growth\)/);
    assert.ok(!verdict.summary.includes('\n'));
    assert.ok(verdict.evidence!.some((e) => /^allocator-retained .*: 4\.00 MiB → 194 MiB/.test(e)), verdict.evidence!.join('\n'));
    const remedies = verdict.remedies!.join('\n');
    assert.match(remedies, /leakhunt run --allocator jemalloc -- \/srv\/app --config 'my app\.conf'/);
    assert.match(remedies, /--allocator tcmalloc/);
    assert.match(remedies, /MALLOC_ARENA_MAX=2 \/srv\/app --config 'my app\.conf'/);
    assert.match(remedies, /malloc_trim\(0\)/);
    assert.doesNotMatch(remedies, /jcmd/);
  });

  test('fragmentation in a JVM: the JDK\'s own trimming among the remedies', () => {
    const verdict = verdictOf(timeline({
      free: (t) => 4 * MiB + t * MiB, other: () => 80 * MiB,
      extra: () => ({ jvm: true, javaHeapCommittedBytes: 64 * MiB, javaHeapUsedBytes: 30 * MiB }),
    }));
    assert.equal(verdict.kind, 'fragmentation', verdict.summary);
    const remedies = verdict.remedies!.join('\n');
    assert.match(remedies, /jcmd <pid> System\.trim_native_heap/);
    assert.match(remedies, /-XX:\+UnlockExperimentalVMOptions -XX:TrimNativeHeapInterval=\d+/);
  });

  test('fragmentation with a trim probe: what malloc_trim(0) gave back is in the summary and the evidence', () => {
    const points = timeline({ free: (t) => 4 * MiB + t * MiB });
    points[19] = { ...points[19]!, afterTrim: true, rssBytes: points[18]!.rssBytes - 170 * MiB };
    const verdict = verdictOf(points);
    assert.equal(verdict.kind, 'fragmentation');
    assert.match(verdict.summary, /malloc_trim\(0\) gave back 170 MiB/);
    assert.ok(verdict.evidence!.some((e) => /^trim probe at 190\.0s: .*giving back 170 MiB/.test(e)));
  });

  test('fragmentation told by the trim probe alone when the allocator keeps no statistics', () => {
    const points = timeline({ other: (t) => 6 * MiB + t * MiB, extra: () => ({ allocator: 'other', mallocHeapBytes: 0, mallocInUseBytes: 0 }) });
    points[19] = { ...points[19]!, afterTrim: true, rssBytes: points[18]!.rssBytes - 150 * MiB };
    assert.equal(verdictOf(points).kind, 'fragmentation');
    points[19] = { ...points[19]!, rssBytes: points[18]!.rssBytes - MiB };
    const without = verdictOf(points);
    assert.equal(without.kind, 'inconclusive');
    assert.match(without.summary, /not measured: allocator-retained/);
  });

  test('fragmentation under jemalloc: its own settings as remedies', () => {
    const verdict = verdictOf(timeline({
      free: () => 0,
      extra: (t) => ({
        allocator: 'jemalloc', jemalloc: {
          allocatedBytes: 2 * MiB, activeBytes: 2 * MiB, residentBytes: 6 * MiB + t * MiB, mappedBytes: 0, retainedBytes: 0, metadataBytes: 0,
        },
      }),
      other: (t) => 6 * MiB + t * MiB - 4 * MiB,
    }));
    assert.equal(verdict.kind, 'fragmentation', verdict.summary);
    assert.match(verdict.remedies!.join('\n'), /MALLOC_CONF=dirty_decay_ms/);
  });

  test('java-heap: the Java heap\'s committed size grows and explains RSS', () => {
    const verdict = verdictOf(timeline({
      other: (t) => 40 * MiB + t * 700 * KiB,
      extra: (t) => ({ jvm: true, javaHeapCommittedBytes: 16 * MiB + t * 800 * KiB, javaHeapUsedBytes: 8 * MiB + t * 600 * KiB }),
    }));
    assert.equal(verdict.kind, 'java-heap', verdict.summary);
    assert.match(verdict.summary, /committed 16\.0 MiB → 164 MiB \(\+148 MiB, used 8\.00 MiB → 119 MiB\)/);
    assert.match(verdict.remedies!.join('\n'), /GC\.heap_dump/);
  });

  test('jvm-internal: NMT shows the JVM\'s own memory growing, named by category', () => {
    const verdict = verdictOf(timeline({
      other: (t) => 90 * MiB + t * MiB,
      extra: (t) => ({
        jvm: true, javaHeapCommittedBytes: 32 * MiB, nmtJavaHeapCommittedBytes: 32 * MiB, nmtMallocBytes: 6 * MiB,
        nmtCommittedBytes: 32 * MiB + 6 * MiB + 80 * MiB + t * MiB,
        nmtCategories: { 'Java Heap': 32 * MiB, Class: 10 * MiB + t * 900 * KiB, Thread: 20 * MiB + t * 100 * KiB, Code: 8 * MiB },
      }),
    }));
    assert.equal(verdict.kind, 'jvm-internal', verdict.summary);
    assert.match(verdict.summary, /most in Class \+167 MiB, Thread \+18\.\d MiB/);
    assert.match(verdict.remedies!.join('\n'), /VM\.native_memory baseline/);
  });

  test('native-leak stays first whenever a site grows, with the accounting as evidence', () => {
    const verdict = verdictOf(timeline({ free: (t) => 4 * MiB + t * MiB }), [site('growing', 'remember_session_forever', 50 * MiB)]);
    assert.equal(verdict.kind, 'native-leak');
    assert.match(verdict.summary, /^native memory leaks: 1 call site\(s\) grow; the top one, remember_session_forever/);
    assert.ok(verdict.evidence!.some((e) => e.startsWith('allocator-retained')));
  });

  test('no-growth when RSS stays within the noise, and when it grew with live malloc that levelled off', () => {
    const rng = prng(3);
    const flat = verdictOf(timeline({ other: () => 6 * MiB + rng() * MiB }));
    assert.equal(flat.kind, 'no-growth', flat.summary);
    assert.match(flat.summary, /20 snapshots/);
    assert.match(flat.summary, /RSS 1\d\.\d MiB → 1\d\.\d MiB/);
    const cache = verdictOf(timeline({ live: (t) => 2 * MiB + Math.min(t, 60) * 400 * KiB }));
    assert.equal(cache.kind, 'no-growth', cache.summary);
    assert.match(cache.summary, /levelled off/);
  });

  test('inconclusive: live malloc grows but no site does', () => {
    const verdict = verdictOf(timeline({ live: (t) => 2 * MiB + t * 200 * KiB }));
    assert.equal(verdict.kind, 'inconclusive', verdict.summary);
    assert.match(verdict.summary, /no single call site stands out/);
  });

  test('inconclusive: a JVM whose RSS grows where nothing was measured names what is missing', () => {
    const verdict = verdictOf(timeline({ other: (t) => 60 * MiB + t * MiB, extra: () => ({ jvm: true }) }));
    assert.equal(verdict.kind, 'inconclusive', verdict.summary);
    assert.match(verdict.summary, /outside malloc and the parts measured: in a JVM most likely its Java heap/);
    assert.match(verdict.summary, /not measured: java-heap, jvm-internal/);
    assert.match(verdict.missing!.join('\n'), /--nmt/);
  });

  test('inconclusive below 3 snapshots whatever the memory says', () => {
    const verdict = verdictOf(timeline({ free: (t) => 4 * MiB + t * MiB }).slice(0, 2));
    assert.equal(verdict.kind, 'inconclusive');
    assert.match(verdict.summary, /only 2 snapshot/);
  });

  test('the start-up climb is left out: growth only before the window is no growth', () => {
    const points = timeline({ free: (t) => 4 * MiB + Math.min(t, 30) * 3 * MiB });
    assert.equal(verdictOf(points).kind, 'fragmentation');
    assert.equal(verdictOf(points, undefined, 30).kind, 'no-growth');
  });

  test('without accounting, the verdict is what it always was', () => {
    const memory = memoryGrowth(timeline({ free: (t) => 4 * MiB + t * MiB }));
    assert.equal(decideVerdict({ snapshotCount: 20, durationSec: 190, sites: [site('stable', 'pool')], memory }).kind, 'no-growth');
    assert.equal(decideVerdict({ snapshotCount: 20, durationSec: 190, sites: [site('growing', 'leak', MiB)], memory }).kind, 'native-leak');
  });
});

describe('shellQuote', () => {
  test('plain words stay as they are; others are single-quoted', () => {
    assert.equal(shellQuote(['java', '-Xmx1g', '-cp', 'a.jar:b.jar', 'Main']), 'java -Xmx1g -cp a.jar:b.jar Main');
    assert.equal(shellQuote(['echo', 'it\'s', 'a b', '$HOME']), `echo 'it'\\''s' 'a b' '$HOME'`);
  });
});
