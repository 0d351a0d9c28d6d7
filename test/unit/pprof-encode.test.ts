/**
 * The incremental encoder against the reference: for every snapshot of a series, HeapProfileEncoder gives the very
 * bytes of buildHeapProfile(…).encode(), and the stacks, in-use bytes and ages that decoding those bytes gives.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHeapProfile, siteKindOfLabels } from '../../src/pprof/build.js';
import { HeapProfileEncoder } from '../../src/pprof/encode.js';
import { decodedNumber, varintLength } from '../../src/pprof/protobuf.js';
import { decodeHeapProfile } from '../../src/pprof/read.js';
import { SITE_WORDS_FIRST_SEEN, SiteTable, StackStore, StackTable, writeSiteEntry } from '../../src/snapshot/tables.js';
import type { JavaMethod, RawStack, SiteKind, SiteStats } from '../../src/snapshot/types.js';
import { parseMaps } from '../../src/symbolize/maps.js';
import type { SymbolizedLocation, SymbolizedSnapshot } from '../../src/symbolize/types.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';
import { lcg32 } from './helpers/prng.js';

/** A deterministic stream of numbers in [0, 1). */
const random = lcg32;

const maps = [
  '55e18b8cf000-55e18b8d4000 r-xp 00002000 fe:00 11 /usr/bin/app',
  '7f0000001000-7f0000002000 r-xp 00001000 fe:00 12 /usr/lib/lib leak.so',
  '7f0000003000-7f0000004000 rwxp 00000000 00:00 0 ',
  '7f0000005000-7f0000006000 r-xp 00000000 00:00 0 [vdso]',
].join('\n');
const mappings = parseMaps(maps);

/** Locations of every kind the symbolize stage makes: inlined, file:line only, placeholders, anonymous, none. */
function locationFor(pc: bigint, rng: () => number): SymbolizedLocation | undefined {
  const mapping = mappings.find((m) => pc - 1n >= m.startAddress && pc - 1n < m.endAddress);
  const kind = Math.floor(rng() * 6);
  if (!mapping || kind === 0) return undefined;
  if (mapping.path === '') return { pc, mapping, symbolized: false, frames: [{ functionName: `0x${(pc - 1n).toString(16)}` }] };
  const n = Number(pc % 97n);
  if (kind === 1) return { pc, mapping, objectAddress: pc - 1n, symbolized: false, frames: [{ functionName: `${mapping.path}+0x${n.toString(16)}` }] };
  if (kind === 2) {
    return {
      pc, mapping, objectAddress: pc - 1n, buildId: 'abcd', symbolized: true,
      frames: [{ functionName: `inlined_${n % 5}`, fileName: '/src/lib.c', line: 10 + n, column: n % 3 }, { functionName: `outer_${n % 7}(int)`, fileName: '/src/lib.c', line: 300 + n }],
    };
  }
  if (kind === 3) return { pc, mapping, objectAddress: pc - 1n, symbolized: true, frames: [{ functionName: `std::vector<int>::push_back_${n % 4}`, line: n }] };
  if (kind === 4) return { pc, mapping, objectAddress: pc - 1n, symbolized: true, frames: [{ functionName: '', fileName: 'only.c', line: 5 }] };
  return { pc, mapping, objectAddress: pc - 1n, symbolized: true, frames: [{ functionName: `fn_${n}`, fileName: `/src/f${n % 3}.c`, line: n * 1000 }] };
}

const pcPool = [
  ...Array.from({ length: 30 }, (_, i) => 0x55e18b8cf001n + BigInt(i * 97)),
  ...Array.from({ length: 20 }, (_, i) => 0x7f0000001001n + BigInt(i * 131)),
  0x7f0000003010n, 0x7f0000005020n, 0x10n, 1n, 0xffff_ffff_ffff_fff0n,
];

interface Series {
  snapshots: SymbolizedSnapshot[];
}

/**
 * Snapshots as a run makes them: a stack table that grows (shared StackTables, site tables read in place), sites
 * whose values change, Java frames whose methods are resolved only later, and one snapshot from another table.
 */
function makeSeries(seed: number, count: number, asTables: boolean): Series {
  const rng = random(seed);
  const locations = new Map<bigint, SymbolizedLocation>();
  for (const pc of pcPool) {
    const location = locationFor(pc, rng);
    if (location) locations.set(pc, location);
  }
  let store = new StackStore();
  const stacks: RawStack[] = [{ id: 0, pcs: [], javaFrames: [] }];
  const snapshots: SymbolizedSnapshot[] = [];
  const methods = new Map<bigint, JavaMethod>();
  for (let k = 0; k < count; k++) {
    if (k === Math.floor(count / 2)) {
      // Another process image: a table of its own, ids from 0 again.
      store = new StackStore();
      stacks.length = 1;
    }
    const grow = 1 + Math.floor(rng() * 6);
    for (let g = 0; g < grow; g++) {
      const depth = Math.floor(rng() * 7);
      const pcs = Array.from({ length: depth }, () => pcPool[Math.floor(rng() * pcPool.length)]!);
      const java = rng() < 0.25 ? [{ methodId: BigInt(1 + Math.floor(rng() * 4)), bci: Math.floor(rng() * 30) - 3 }] : [];
      stacks.push({ id: stacks.length === 3 ? 77 : stacks.length, pcs, javaFrames: java });
    }
    // Methods resolved as the run goes on: a frame first named by its id, later by its class and line.
    if (k === 2) methods.set(1n, { methodId: 1n, classSignature: 'Ljava/util/zip/Deflater;', name: 'init', sourceFile: 'Deflater.java', lines: [[0, 70], [10, 72]] });
    if (k === 4) methods.set(2n, { methodId: 2n, classSignature: '', name: '', sourceFile: '', lines: [] });
    if (k === 5) methods.set(3n, { methodId: 3n, classSignature: 'Lapp/Cache;', name: 'put', sourceFile: '', lines: [[0, 9]] });
    for (let i = store.stacks.length; i < stacks.length; i++) {
      store.stacks.push(stacks[i]!);
      store.positions.set(stacks[i]!.id, i);
    }
    // Some stacks mapped memory (kind is part of a stack's identity: fixed by its id here).
    const kindOf = (id: number): SiteKind => (id % 5 === 2 ? 'mmap-anon' : id % 7 === 3 ? 'mmap-file' : 'malloc');
    const sites: SiteStats[] = stacks.map((stack) => {
      // A third of the stacks are idle: nothing live, no new allocations, the same sample in every profile.
      if (stack.id % 3 === 1) {
        return {
          stackId: stack.id, kind: kindOf(stack.id), liveSamples: 0, liveSampledBytes: 0, liveObjects: 0, liveBytes: 0, allocSamples: 2, allocObjects: 2.5,
          allocBytes: 4096 * stack.id, oldestLiveMs: 0, newestLiveMs: 0, meanLiveMs: 0, firstSeenBytes: stack.id % 2 ? 0 : 65536.4 * stack.id,
        };
      }
      const live = rng() < 0.5 ? 0 : Math.floor(rng() * 4);
      return {
        stackId: stack.id, kind: kindOf(stack.id), liveSamples: live, liveSampledBytes: live * 100, liveObjects: live * 3.3, liveBytes: live * (rng() < 0.1 ? 5e9 : 524_288.7),
        allocSamples: k + live, allocObjects: (k + live) * 7.5, allocBytes: (k + live) * 3e6 + 0.5, oldestLiveMs: live ? 100 * k : 0,
        newestLiveMs: live ? 100 * k + 50 : 0, meanLiveMs: live ? 100 * k + 20.4 : 0,
        // Cumulative bytes first seen live: rising with the snapshots, now and then past what a varint of 53 bits holds.
        firstSeenBytes: rng() < 0.05 ? 2 ** 60 : rng() < 0.2 ? 0.4 : 70_000.6 * (k + live),
      };
    });
    const entries = Buffer.alloc(104 * sites.length);
    sites.forEach((site, i) => writeSiteEntry(entries, 104 * i, site));
    const raw = rawSnapshot({
      maps, sites, javaMethods: new Map(methods),
      stacks: asTables ? new StackTable(store, stacks.length) : new Map(stacks.map((s) => [s.id, s])),
      meta: { pid: 7, sequence: k, monotonicNs: BigInt(k) * 1_000_000_000n + 12_345_678n, startMonotonicNs: 5n, sampleIntervalBytes: 65536 },
    });
    if (asTables) {
      raw.siteTable = new SiteTable(sites.length, entries, 3, SITE_WORDS_FIRST_SEEN);
      // As the reader finds them: one site per stack, in the table's order.
      raw.siteTable.inStackOrder = true;
    }
    snapshots.push({ raw, mappings, locations, warnings: [] });
  }
  return { snapshots };
}

function assertSameAsReference(series: Series, liveOnly: (k: number) => boolean = () => false): HeapProfileEncoder {
  const encoder = new HeapProfileEncoder();
  series.snapshots.forEach((snap, k) => {
    const options = {
      timeNanos: 1_700_000_000_000_000_000n + BigInt(k), ...(k % 3 ? { durationNanos: BigInt(k * 1000 - 1500) } : {}),
      ...(liveOnly(k) ? { liveOnly: true } : {}),
    };
    const encoded = encoder.encode(snap, options);
    const reference = buildHeapProfile(snap, options).encode();
    assert.ok(Buffer.from(encoded.bytes).equals(Buffer.from(reference)), `snapshot ${k}: the same bytes as buildHeapProfile`);
    const decoded = decodeHeapProfile(reference, `snapshot ${k}`);
    // The analysis gets the samples with in-use bytes.
    const inUse = decoded.samples.filter((sample) => sample.values[3] !== 0);
    assert.equal(encoded.stackOf.length, inUse.length);
    inUse.forEach((sample, i) => {
      assert.deepEqual(encoder.stacks[encoded.stackOf[i]!], sample.stack, `snapshot ${k}, sample ${i}: frames`);
      assert.equal(encoder.stackKinds[encoded.stackOf[i]!], siteKindOfLabels(sample.labels), `snapshot ${k}, sample ${i}: kind`);
      assert.equal(encoded.inuse[i], sample.values[3]);
      assert.equal(encoded.objects[i], Math.fround(sample.values[2]!), `snapshot ${k}, sample ${i}: inuse_objects`);
      assert.equal(encoded.allocBytes[i], sample.values[1], `snapshot ${k}, sample ${i}: alloc_space`);
      const oldest = sample.labels['oldest_live_age_ms'];
      assert.equal(Number.isNaN(encoded.oldestAgeMs[i]) ? undefined : encoded.oldestAgeMs[i], oldest);
      const mean = sample.labels['mean_live_age_ms'];
      assert.equal(Number.isNaN(encoded.meanAgeMs[i]) ? undefined : encoded.meanAgeMs[i], mean);
      assert.equal(encoded.firstSeenBytes?.[i], sample.labels['first_seen_bytes'] ?? 0, `snapshot ${k}, sample ${i}: first_seen_bytes`);
    });
    // Written out: the encoder may make a later profile in the same memory (which must not change what it copies).
    encoder.recycle(encoded.bytes);
  });
  assert.ok(encoder.copiedSamples > 0, 'unchanged samples were copied from the profile before');
  assert.ok(encoder.stackKinds.includes('mmap-anon') && encoder.stackKinds.includes('malloc'), 'stacks of several kinds');
  return encoder;
}

describe('HeapProfileEncoder', () => {
  test('varints: lengths as pprof-format measures them, decoded values', () => {
    assert.deepEqual([0, 1, 127, 128, 16383, 16384, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 35, 2 ** 53].map((v) => varintLength(v)),
      [0, 1, 1, 2, 2, 3, 4, 5, 5, 6, 8]);
    assert.deepEqual([-1, -(2 ** 40), 2n ** 63n, -5n].map((v) => varintLength(v)), [10, 10, 10, 10]);
    assert.deepEqual([3, -0, NaN, Infinity, 2.7].map(decodedNumber), [3, 0, 0, 0, 2]);
  });

  test('a growing series read as shared tables: every profile byte for byte as buildHeapProfile makes it', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const encoder = assertSameAsReference(makeSeries(seed, 12, true));
      // Started afresh only for the first snapshot, the other process image, and where a method was resolved.
      assert.ok(encoder.fresh < 12, `seed ${seed}: ${encoder.fresh} fresh starts`);
    }
  });

  test('liveOnly (all but a run\'s last profile): the stacks with nothing live left out, the same bytes as buildHeapProfile', () => {
    for (const seed of [11, 12, 13]) {
      const series = makeSeries(seed, 12, true);
      // Runs of live-only profiles with complete ones between them, as the switch costs the copying.
      assertSameAsReference(series, (k) => k % 5 !== 4);
      const snap = series.snapshots[6]!;
      const options = { timeNanos: 1n };
      const all = decodeHeapProfile(buildHeapProfile(snap, options).encode(), 'all').samples;
      const live = decodeHeapProfile(buildHeapProfile(snap, { ...options, liveOnly: true }).encode(), 'live').samples;
      assert.ok(live.length < all.length, `seed ${seed}: ${live.length} of ${all.length} samples kept`);
      assert.deepEqual(live, all.filter((sample) => sample.values[3] !== 0 || sample.labels['oldest_live_age_ms'] !== undefined));
    }
  });

  test('snapshots as plain maps and site lists: the same bytes too', () => {
    for (const seed of [6, 7]) assertSameAsReference(makeSeries(seed, 8, false));
  });

  test('a snapshot whose symbols differ from the previous one (another symbolization) starts afresh, with the same bytes', () => {
    const series = makeSeries(8, 6, true);
    series.snapshots[3] = { ...series.snapshots[3]!, locations: new Map([...series.snapshots[3]!.locations].map(([pc, l]) => [pc, { ...l }])) };
    const encoder = assertSameAsReference(series);
    assert.ok(encoder.fresh >= 3);
  });
});

describe('site kinds in profiles', () => {
  test('a stack of mapped memory carries kind=mmap and mapping=anon|file; a malloc stack neither', () => {
    const series = makeSeries(21, 4, true);
    const snap = series.snapshots[3]!;
    const decoded = decodeHeapProfile(buildHeapProfile(snap, { timeNanos: 1n }).encode(), 'kinds');
    const byStack = new Map(snap.raw.sites.map((site) => [site.stackId, site.kind]));
    for (const sample of decoded.samples) {
      const kind = byStack.get(Number(sample.labels['stack_id']))!;
      if (kind === 'malloc') assert.equal(sample.labels['kind'], undefined);
      else assert.deepEqual([sample.labels['kind'], sample.labels['mapping']], ['mmap', kind === 'mmap-file' ? 'file' : 'anon']);
    }
  });
});
