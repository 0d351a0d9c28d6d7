/** The verdict on synthetic timelines: leak, fragmentation, Java heap, JVM-internal, no growth, inconclusive. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accountMemory, trimProbeOf } from '../../src/analyse/accounting.js';
import type { ResidentParts } from '../../src/analyse/resident.js';
import { memoryGrowth, type TimelinePoint } from '../../src/analyse/timeline.js';
import type { SiteReport, SiteStatus } from '../../src/analyse/types.js';
import type { UnseenCheck, UnseenGrowth } from '../../src/analyse/unseen.js';
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
  /** Anonymous mmap'd memory no part claims. */
  other?: (t: number) => number;
  /** More resident parts, by mapping. */
  parts?: (t: number) => ResidentParts['parts'];
  /** The largest mapped file's path and bytes. */
  file?: (t: number) => { path: string; bytes: number };
  extra?: (t: number) => Partial<TimelinePoint>;
  /** Points without resident memory by mapping, as older shims wrote them. */
  legacy?: boolean;
}

function timeline(shape: Shape): TimelinePoint[] {
  const rng = prng(7);
  return times.map((t, i) => {
    // sampling noise on the live estimate, as the shim's upscaled figures have
    const live = (shape.live?.(t) ?? 2 * MiB) + (rng() - 0.5) * 64 * KiB;
    const free = shape.free?.(t) ?? 4 * MiB;
    const other = shape.other?.(t) ?? 6 * MiB;
    const parts = { 'live-malloc': live, ...(free > 0 ? { 'allocator-retained': free } : {}), 'leakhunt-shim': 3 * MiB, 'anon-mmap': other, ...shape.parts?.(t) };
    const total = Object.values(parts).reduce((sum, v) => sum + v!, 0);
    const file = shape.file?.(t);
    return {
      sequence: i, timeSec: t, rssBytes: total, rssAnonBytes: 0, rssFileBytes: 0, liveBytes: live,
      mallocHeapBytes: live + free, mallocInUseBytes: live, mallocFreeBytes: free, mallocMmappedBytes: 0, sampleIntervalBytes: SAMPLE,
      liveEntries: 0, tableDrops: 0, thinnedEntries: 0, stackDrops: 0, shimMappedBytes: 12 * MiB, shimResidentBytes: 3 * MiB,
      allocator: 'glibc', afterTrim: false, jvm: false,
      ...(shape.legacy ? {} : { resident: { parts, totalBytes: total, files: file ? [file] : [], threadStacks: 20 + Math.round(t / 10), readCostMs: 1 } }),
      ...shape.extra?.(t),
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

/** cache_and_leak's slow leak as a run at 64 KiB saw it: memory only ever kept, a noisy line of a few samples. */
function slowLeak(status: SiteStatus, rate: number, growthBytes: number, confidence: number, series: number[]): SiteReport {
  return {
    ...site(status, 'slow_leak_forever', rate), shape: 'noise', growthBytes, liveBytes: series[series.length - 1]!, confidence,
    freedBytes: 0, series,
  };
}

const command = ['/srv/app', '--config', 'my app.conf'];

function verdictOf(points: TimelinePoint[], sites: SiteReport[] = [site('stable', 'pool')], fromSec?: number, extra: Partial<VerdictInput> = {}): VerdictDetail {
  const accounting = accountMemory(points, { sampleIntervalBytes: SAMPLE, ...(fromSec === undefined ? {} : { fromSec }) });
  return decideVerdict({
    snapshotCount: points.length, durationSec: 190, sites, memory: memoryGrowth(points), trimProbe: trimProbeOf(points), command,
    sampleIntervalBytes: SAMPLE, snapshotIntervalSec: 10, ...(accounting ? { accounting } : {}), ...extra,
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
    assert.ok(verdict.evidence!.some((e) => /^allocator-retained: 4\.00 MiB → 194 MiB/.test(e)), verdict.evidence!.join('\n'));
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
    const points = timeline({ free: () => 0, other: (t) => 6 * MiB + t * MiB, extra: () => ({ allocator: 'other', mallocHeapBytes: 0, mallocInUseBytes: 0 }) });
    points[19] = { ...points[19]!, afterTrim: true, rssBytes: points[18]!.rssBytes - 150 * MiB };
    assert.equal(verdictOf(points).kind, 'fragmentation');
    points[19] = { ...points[19]!, rssBytes: points[18]!.rssBytes - MiB };
    const without = verdictOf(points);
    assert.equal(without.kind, 'inconclusive');
    assert.match(without.summary, /anonymous mmap'd memory, where other also keeps the memory it holds free/);
    assert.match(without.summary, /not measured: allocator-retained/);
  });

  test('fragmentation under jemalloc: its own settings as remedies', () => {
    const verdict = verdictOf(timeline({
      free: (t) => 4 * MiB + t * MiB,
      extra: (t) => ({
        allocator: 'jemalloc', jemalloc: {
          allocatedBytes: 2 * MiB, activeBytes: 2 * MiB, residentBytes: 6 * MiB + t * MiB, mappedBytes: 0, retainedBytes: 0, metadataBytes: 0,
        },
      }),
    }));
    assert.equal(verdict.kind, 'fragmentation', verdict.summary);
    assert.match(verdict.remedies!.join('\n'), /MALLOC_CONF=dirty_decay_ms/);
  });

  test('java-heap: the Java heap\'s resident pages grow and explain RSS', () => {
    const verdict = verdictOf(timeline({
      other: (t) => 40 * MiB + t * 10 * KiB,
      parts: (t) => ({ 'java-heap': 16 * MiB + t * 800 * KiB }),
      extra: (t) => ({ jvm: true, javaHeapCommittedBytes: 400 * MiB, javaHeapUsedBytes: 8 * MiB + t * 600 * KiB }),
    }));
    assert.equal(verdict.kind, 'java-heap', verdict.summary);
    assert.match(verdict.summary, /^the Java heap grows, not native memory: its resident pages 16\.0 MiB → 164 MiB \(\+148 MiB, [\d.]+ [GM]iB\/h, 99% of RSS \+150 MiB; used 8\.00 MiB → 119 MiB\)/);
    assert.match(verdict.remedies!.join('\n'), /GC\.heap_dump/);
  });

  test('jvm-internal: the JVM\'s own memory grows (GC structures, NMT), NMT\'s categories named', () => {
    const verdict = verdictOf(timeline({
      parts: (t) => ({ 'java-heap': 32 * MiB, 'jvm-internal': 20 * MiB + t * MiB }),
      extra: (t) => ({
        jvm: true, nmtCategories: { 'Java Heap': 32 * MiB, Class: 10 * MiB + t * 900 * KiB, Thread: 20 * MiB + t * 100 * KiB, Code: 8 * MiB },
      }),
    }));
    assert.equal(verdict.kind, 'jvm-internal', verdict.summary);
    assert.match(verdict.summary, /the JVM's own memory \(GC structures, NMT\) 20\.0 MiB → 210 MiB/);
    assert.match(verdict.summary, /NMT's largest growth in Class \+167 MiB, Thread \+18\.\d MiB/);
    assert.match(verdict.remedies!.join('\n'), /VM\.native_memory baseline/);
  });

  test('thread stacks: the JVM\'s own in a JVM, a native leak elsewhere; named in words with the thread counts', () => {
    const shape = { parts: (t: number) => ({ 'thread-stacks': MiB + t * 500 * KiB }) };
    const jvm = verdictOf(timeline({ ...shape, extra: (t) => ({ jvm: true, javaLiveThreads: 10 + t }) }));
    assert.equal(jvm.kind, 'jvm-internal', jvm.summary);
    assert.match(jvm.summary, /^thread stacks grow: 1\.00 MiB → 93\.8 MiB \(\+92\.8 MiB, .* of RSS .*\); 20 → 39 stacks, live Java threads 10 → 200 — threads are started and never end/);
    assert.match(jvm.remedies!.join('\n'), /Thread\.print/);
    const native = verdictOf(timeline(shape));
    assert.equal(native.kind, 'native-leak', native.summary);
    assert.match(native.remedies!.join('\n'), /pthread_join/);
  });

  test('the metaspace or the code cache: the JVM\'s own memory, with what caps it', () => {
    const verdict = verdictOf(timeline({ parts: (t) => ({ 'jvm-metaspace': 10 * MiB + t * MiB }), extra: () => ({ jvm: true }) }));
    assert.equal(verdict.kind, 'jvm-internal', verdict.summary);
    assert.match(verdict.summary, /^the JVM's own memory grows: the metaspace \(class metadata\) 10\.0 MiB → 200 MiB/);
    assert.match(verdict.remedies!.join('\n'), /MaxMetaspaceSize/);
  });

  test('mapped files: no native growth; the file is named', () => {
    const verdict = verdictOf(timeline({
      parts: (t) => ({ 'file-mapped': 5 * MiB + t * MiB }), file: (t) => ({ path: '/data/index.bin', bytes: 4 * MiB + t * MiB }),
    }));
    assert.equal(verdict.kind, 'no-growth', verdict.summary);
    assert.match(verdict.summary, /^no native memory grows: RSS grows by the pages of mapped file \/data\/index\.bin as it is read, 5\.00 MiB → 195 MiB/);
    assert.ok(verdict.evidence!.some((e) => /^mapped file \/data\/index\.bin: 4\.00 MiB → 194 MiB \(\+190 MiB\)/.test(e)), verdict.evidence!.join('\n'));
  });

  test('anonymous mmap: a native leak outside malloc; in a JVM without NMT, inconclusive with what would tell', () => {
    const native = verdictOf(timeline({ other: (t) => 6 * MiB + t * MiB }));
    assert.equal(native.kind, 'native-leak', native.summary);
    assert.match(native.summary, /^native memory grows outside malloc: anonymous mmap'd memory 6\.00 MiB → 196 MiB/);
    const jvmTimeline = timeline({ other: (t) => 60 * MiB + t * MiB, parts: () => ({ 'java-heap': 64 * MiB }), extra: () => ({ jvm: true }) });
    const jvm = verdictOf(jvmTimeline);
    assert.equal(jvm.kind, 'inconclusive', jvm.summary);
    assert.match(jvm.summary, /outside the Java heap, the metaspace, the code cache and the thread stacks: the JVM's GC structures, or a native mmap — rerun with --nmt/);
    assert.doesNotMatch(jvm.summary, /most likely its Java heap/);
  });

  test('anonymous mmap in a JVM whose heap\'s range is not known: the heap is among it, and the JVM\'s own figure is said, not a guess', () => {
    const points = timeline({
      other: (t) => 60 * MiB + t * MiB,
      extra: (t) => ({ jvm: true, javaHeapCommittedBytes: 16 * MiB + t * MiB, javaHeapUsedBytes: 8 * MiB + t * MiB }),
    });
    points[19] = { ...points[19]!, javaHeapCommittedBytes: undefined, javaHeapUsedBytes: undefined }; // the JVM's exit
    const verdict = verdictOf(points);
    assert.equal(verdict.kind, 'inconclusive', verdict.summary);
    assert.match(verdict.summary, /190 MiB of it is anonymous mmap'd memory, and the Java heap's pages are among it: its range is not known/);
    assert.match(verdict.summary, /the JVM says its heap's committed size went 16\.0 MiB → 196 MiB \(\+180 MiB\)/);
    assert.doesNotMatch(verdict.summary, /outside the Java heap|most likely/);
    assert.match(verdict.summary, /not measured: java-heap/);
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

  test('inconclusive: live malloc grows with churn under rising load, named as such, not as spread over many sites', () => {
    const points = timeline({ live: (t) => 2 * MiB + t * 200 * KiB });
    const churn: SiteReport = {
      ...site('stable', 'handle_request_burst', 140 * MiB), growthBytes: 37 * MiB, churn: true,
      blocks: { countStart: 500, countEnd: 9800, meanBytesStart: 4001, meanBytesEnd: 4001, pValue: 0.4, sizeCarriesGrowth: false },
    };
    const verdict = verdictOf(points, [churn, site('stable', 'pool')]);
    assert.equal(verdict.kind, 'inconclusive', verdict.summary);
    assert.match(verdict.summary, /with churn under rising load: handle_request_burst \(\+37\.0 MiB, 500 → 9800 blocks\)/);
    assert.doesNotMatch(verdict.summary, /no single call site stands out/);
  });

  test('inconclusive: RSS grows where snapshots without resident memory by mapping could not see', () => {
    const verdict = verdictOf(timeline({ legacy: true, other: (t) => 60 * MiB + t * MiB, extra: () => ({ jvm: true }) }));
    assert.equal(verdict.kind, 'inconclusive', verdict.summary);
    assert.match(verdict.summary, /outside malloc and the parts measured \(these snapshots carry no resident memory by mapping/);
    assert.match(verdict.summary, /not measured: resident memory by mapping/);
  });

  test('a site that rises but is not confirmed is inconclusive with what would confirm it, never no-growth', () => {
    const rising: SiteReport = {
      ...site('stable', 'record_thread_name', 1.8 * 1024 * MiB), shape: 'linear', growthBytes: 6 * MiB, confidence: 0.8,
      series: [0, 1, 2, 3, 4, 5, 6].map((m) => m * MiB),
    };
    const verdict = verdictOf(timeline({}), [rising], undefined, { detection: { rateBytesPerHour: 3 * 1024 * MiB, spanSec: 12, snapshots: 7 } });
    assert.equal(verdict.kind, 'inconclusive', verdict.summary);
    assert.match(verdict.summary, /^a call site's live native memory rises but this run cannot confirm a leak: record_thread_name \+6\.00 MiB \(1\.80 GiB\/h, confidence 0\.80, below the 3\.00 GiB\/h this run can confirm\)/);
    assert.match(verdict.remedies!.join('\n'), /run at least .* \(--duration \d+s\)/);
    // A plateau, a step, or a rise within chance is no such site.
    const step = { ...rising, shape: 'noise' as const, series: [0, 0, 0.2, 4.5, 4.5, 5, 6].map((m) => m * MiB) };
    // …nor a steady table whose entries are replaced (re-sampled as they are): +160 KiB on 800 KiB at 16 KiB is
    // within the wander of its estimate (2·√(S·B) = 226 KiB), however confident its line.
    const table = { ...rising, liveBytes: 800 * KiB, growthBytes: 160 * KiB };
    for (const other of [{ ...rising, shape: 'saturating' as const }, { ...rising, growthBytes: SAMPLE }, { ...rising, confidence: 0.3 }, step, table]) {
      assert.equal(verdictOf(timeline({}), [other]).kind, 'no-growth');
    }
  });

  test('nor fragmentation: a site rising unconfirmed beside a growing allocator-retained is inconclusive, and says both', () => {
    const rising: SiteReport = {
      ...site('stable', 'record_thread_name', 1.03 * 1024 * MiB), shape: 'linear', growthBytes: 3.5 * MiB, confidence: 0.67,
      series: [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5].map((m) => m * MiB),
    };
    const points = timeline({ free: (t) => 4 * MiB + t * MiB });
    const verdict = verdictOf(points, [rising], undefined, { detection: { rateBytesPerHour: 3 * 1024 * MiB, spanSec: 12, snapshots: 12 } });
    assert.equal(verdict.kind, 'inconclusive', verdict.summary);
    assert.match(verdict.summary, /^a call site's live native memory rises but this run cannot confirm a leak: record_thread_name \+3\.50 MiB/);
    assert.match(verdict.summary, /; RSS grew \+190 MiB meanwhile, 100% of it memory the allocator keeps free \(fragmentation, but that does not rule out a leak\)$/);
    assert.ok(verdict.evidence!.some((e) => /^allocator-retained: /.test(e)), verdict.evidence!.join('\n'));
    // With a trim probe, what it gave back is said too: the fragmentation case's strongest evidence.
    const probed = [...points];
    probed[points.length - 1] = { ...points.at(-1)!, afterTrim: true, rssBytes: points.at(-2)!.rssBytes - 170 * MiB };
    const withProbe = verdictOf(probed, [rising], undefined, { detection: { rateBytesPerHour: 3 * 1024 * MiB, spanSec: 12, snapshots: 12 } });
    assert.equal(withProbe.kind, 'inconclusive', withProbe.summary);
    assert.match(withProbe.summary, /of it memory the allocator keeps free; malloc_trim\(0\) gave back 170 MiB \(fragmentation, but that does not rule out a leak\)$/);
    // Without the rising site it is fragmentation.
    assert.equal(verdictOf(points).kind, 'fragmentation');
    // Memory renewed all along (every live block young: sessions held a while) rising within a run says nothing of a
    // leak, unless its blocks' growing size carries the rise (a container renewing its storage).
    const renewed = { ...rising, ages: { oldestSec: 1, meanSec: 0.5 }, renewed: true as const };
    assert.equal(verdictOf(points, [renewed]).kind, 'fragmentation');
    const container = { ...renewed, blocks: { countStart: 1, countEnd: 1, meanBytesStart: MiB, meanBytesEnd: 4 * MiB, pValue: 0.0001, sizeCarriesGrowth: true } };
    assert.equal(verdictOf(points, [container]).kind, 'inconclusive');
    // The Java heap's growth, measured directly, stands — but not "not native memory": the rise is said with it.
    const heap = timeline({ parts: (t) => ({ 'java-heap': 64 * MiB + t * MiB }), extra: () => ({ jvm: true }) });
    assert.match(verdictOf(heap).summary, /^the Java heap grows, not native memory: .*, no call site grows$/);
    const both = verdictOf(heap, [rising]);
    assert.equal(both.kind, 'java-heap', both.summary);
    assert.match(both.summary, /^the Java heap grows: its resident pages .*; a call site's native memory rises too, unconfirmed: record_thread_name \+3\.50 MiB \(\S+ \S+, confidence 0\.67/);
    assert.ok(both.remedies!.some((r) => /^to confirm record_thread_name's rise: run at least/.test(r)), both.remedies!.join('\n'));
  });

  test('a rise counts beyond the wander of what the site allocated and freed: a kept leak near the limit is inconclusive, a renewed table is not', () => {
    const points = timeline({ free: (t) => 4 * MiB + t * MiB });
    // 600 KiB more over the window on 8 MiB live at S = 16 KiB: within √(S·B)'s wander of a renewed table (724 KiB).
    const rising: SiteReport = {
      ...site('stable', 'record_thread_name', 11 * MiB), shape: 'linear', growthBytes: 600 * KiB, liveBytes: 8 * MiB, confidence: 0.8,
      series: Array.from({ length: 20 }, (_, i) => 7.4 * MiB + i * 32 * KiB),
    };
    // Memory only ever kept (nothing freed) wanders by what it added: √(S·600 KiB), 196 KiB twice over. A leak.
    const kept = verdictOf(points, [{ ...rising, freedBytes: 0 }]);
    assert.equal(kept.kind, 'inconclusive', kept.summary);
    assert.match(kept.summary, /^a call site's live native memory rises but this run cannot confirm a leak: record_thread_name/);
    // A table that allocated and freed its size over and over wanders by √(S·(G + 2F)): 1.03 MiB twice over.
    assert.equal(verdictOf(points, [{ ...rising, freedBytes: 8 * MiB }]).kind, 'fragmentation');
    // Profiles without alloc_space: a renewed table of its live bytes is assumed.
    assert.equal(verdictOf(points, [rising]).kind, 'fragmentation');
  });

  test('a handful of samples, half of them in one interval, is a clump of a leak\'s samples, not a one-off step', () => {
    // A run of cache_and_leak at 64 KiB: 6 samples of a 3 KiB leak over 30 intervals of 250 ms, 4 of them in one.
    const S = 64 * KiB;
    const series = [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 8, 8, 8, 8, 8, 8].map((k) => k * S);
    const leak = slowLeak('stable', 260 * MiB, 402 * KiB, 0.71, series);
    const points = timeline({});
    const verdict = verdictOf(points, [leak], undefined, { sampleIntervalBytes: S, windowStart: 8 });
    assert.equal(verdict.kind, 'inconclusive', verdict.summary);
    // The same shape in a growth of hundreds of samples is a one-off.
    const table = { ...leak, series: series.map((v) => v * 64), growthBytes: 402 * KiB * 64, liveBytes: 8 * S * 64 };
    assert.equal(verdictOf(points, [table], undefined, { sampleIntervalBytes: S, windowStart: 8 }).kind, 'no-growth');
  });

  test('memory only ever kept that gained samples in the window is a rise, however unsure its line', () => {
    // A run of cache_and_leak at 64 KiB: 5 of the leak's 8 samples came during the warm-up, 3 in the window.
    const S = 64 * KiB;
    const series = [0, 1, 3, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 8, 8].map((k) => k * S);
    const leak = slowLeak('new', 107 * MiB, 3 * S, 0.38, series);
    const points = timeline({});
    const inWindow = { sampleIntervalBytes: S, windowStart: 8 };
    assert.equal(verdictOf(points, [leak], undefined, inWindow).kind, 'inconclusive');
    // A "plateau" that still gained samples in the window's second half did not stop; a cache that filled did.
    const clumped = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 7, 7, 10, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15].map((k) => k * S);
    const early = { ...leak, shape: 'saturating' as const, series: clumped, growthBytes: 13 * S, liveBytes: 15 * S, confidence: 0.96 };
    assert.equal(verdictOf(points, [early], undefined, inWindow).kind, 'inconclusive');
    const filled = { ...early, series: clumped.map((v, i) => (i >= 16 ? 13 * S : v)) };
    assert.equal(verdictOf(points, [filled], undefined, inWindow).kind, 'no-growth');
    // One sample is no rise; nor is the same line in memory that is freed and renewed (it wanders).
    assert.equal(verdictOf(points, [{ ...leak, growthBytes: S }], undefined, inWindow).kind, 'no-growth');
    assert.equal(verdictOf(points, [{ ...leak, freedBytes: 4 * S }], undefined, inWindow).kind, 'no-growth');
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

describe('decideVerdict: allocations the shim did not see', () => {
  const unseen = (grows: boolean): UnseenGrowth => ({
    available: true, allocator: 'glibc', fromUsableBytes: true, fromSec: 0, toSec: 190, snapshots: 20, startBytes: 300 * KiB,
    endBytes: 40 * MiB, rateBytesPerHour: 750 * MiB, rateIntervalBytesPerHour: [700 * MiB, 800 * MiB], growthBytes: 39.7 * MiB,
    confidence: grows ? 1 : 0.4, shape: grows ? 'linear' : 'noise', grows,
  });
  const points = timeline({ other: (t) => 6 * MiB + t * 200 * KiB });
  const accounting = accountMemory(points, { sampleIntervalBytes: SAMPLE })!;
  const input = (sites: SiteReport[], check: UnseenCheck): VerdictInput => ({
    snapshotCount: 20, durationSec: 190, sites, memory: memoryGrowth(points), trimProbe: null, command, accounting, unseen: check,
  });

  test('no site grows but the unseen bytes do: native-leak, saying what the shim cannot see and how to find it', () => {
    const decision = decide(input([site('stable', 'pool')], unseen(true)));
    assert.deepEqual([decision.kind, decision.case], ['native-leak', 'unseen-grows']);
    const verdict = verdictDetail(decision);
    assert.match(verdict.summary, /^native memory leaks where no call site shows it: the allocator's in-use bytes that the shim did not see grow at 750 MiB\/h/);
    assert.match(verdict.summary, /dlsym on a libc handle, glibc's __libc_malloc/);
    assert.ok(verdict.evidence!.some((e) => /^allocations the shim did not see \(glibc's mallinfo2/.test(e)));
    assert.match(verdict.remedies!.join('\n'), /nm -D --undefined-only/);
    assert.match(verdict.remedies!.join('\n'), /perf probe/);
  });

  test('with growing sites, the sites lead and the unseen growth is a second finding', () => {
    const verdict = verdictDetail(decide(input([site('growing', 'remember_forever', 50 * MiB)], unseen(true))));
    assert.equal(verdict.kind, 'native-leak');
    assert.match(verdict.summary, /the top one, remember_forever.*; allocations the shim did not see grow too, at 750 MiB\/h/);
  });

  test('unseen bytes that do not grow change nothing; a check that could not be made says why in the evidence', () => {
    assert.notEqual(decide(input([site('stable', 'pool')], unseen(false))).case, 'unseen-grows');
    const verdict = verdictDetail(decide(input([site('stable', 'pool')], { available: false, why: 'allocator', allocator: 'tcmalloc' })));
    assert.ok(verdict.evidence!.some((e) => /not checked — the allocator gives no in-use figure/.test(e)), verdict.evidence!.join('\n'));
  });

  test('below 3 snapshots it is inconclusive, unseen growth or not', () => {
    assert.equal(decide({ ...input([], unseen(true)), snapshotCount: 2 }).kind, 'inconclusive');
  });
});

describe('shellQuote', () => {
  test('plain words stay as they are; others are single-quoted', () => {
    assert.equal(shellQuote(['java', '-Xmx1g', '-cp', 'a.jar:b.jar', 'Main']), 'java -Xmx1g -cp a.jar:b.jar Main');
    assert.equal(shellQuote(['echo', 'it\'s', 'a b', '$HOME']), `echo 'it'\\''s' 'a b' '$HOME'`);
  });
});
