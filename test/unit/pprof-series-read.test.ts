/**
 * ProfileSeriesReader against the reference: reading a profile straight into a series point gives what
 * decodeHeapProfile and seriesOfProfiles give — the same samples with in-use bytes, stacks, values and ages — and,
 * for a damaged profile, the same error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { Function, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { LeakhuntError } from '../../src/core/errors.js';
import { buildHeapProfile } from '../../src/pprof/build.js';
import { decodeHeapProfile } from '../../src/pprof/read.js';
import { ProfileSeriesReader } from '../../src/pprof/series-read.js';
import { seriesOfProfiles, stackKindOf, type ProfileSeries } from '../../src/pprof/series.js';
import type { SiteKind, SiteStats } from '../../src/snapshot/types.js';
import { parseMaps } from '../../src/symbolize/maps.js';
import type { SymbolizedLocation } from '../../src/symbolize/types.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';
import { ansiLcg } from './helpers/prng.js';

/** Each point's samples as (frames, in-use bytes, ages): what every analysis reads of a series. */
function flatten(series: ProfileSeries): unknown[] {
  return series.points.map((point) => ({
    samples: Array.from({ length: point.inuse.length }, (_, i) => ({
      frames: series.stacks[point.stackOf[i]!], kind: stackKindOf(series, point.stackOf[i]!), inuse: point.inuse[i], objects: point.objects?.[i], oldest: point.oldestAgeMs?.[i], mean: point.meanAgeMs?.[i], allocated: point.allocBytes?.[i], time: point.timeSec,
    })),
    births: point.seenBirths && Array.from(point.seenBirths.stackOf, (stack, j) => ({ frames: series.stacks[stack], kind: stackKindOf(series, stack), bytes: point.seenBirths!.bytes[j] })),
  }));
}

function assertSameAsReference(profiles: Uint8Array[], slowReads = 0): void {
  const reader = new ProfileSeriesReader();
  const points = profiles.map((bytes, k) => reader.read(bytes, `p${k}`, (timeNanos) => Number(timeNanos) / 1e9));
  const reference = seriesOfProfiles(profiles.map((bytes, k) => {
    const profile = decodeHeapProfile(bytes, `p${k}`);
    return { timeSec: Number(profile.timeNanos) / 1e9, profile };
  }));
  assert.deepEqual(flatten({ stacks: reader.stacks, stackKinds: reader.stackKinds, points }), flatten(reference));
  assert.equal(reader.slowReads, slowReads, 'profiles the reference decoder had to read');
}

const maps = parseMaps([
  '55e18b8cf000-55e18b8d4000 r-xp 00002000 fe:00 11 /usr/bin/app',
  '7f0000001000-7f0000002000 r-xp 00001000 fe:00 12 /usr/lib/lib leak.so',
].join('\n'));

/** Our own profiles: symbolized, placeholder and inlined frames, Java frames, the overflow stack, labels or none. */
function ourProfiles(count: number, withFirstSeen = true): Uint8Array[] {
  const locations = new Map<bigint, SymbolizedLocation>([
    [0x55e18b8cf101n, { pc: 0x55e18b8cf101n, mapping: maps[0], objectAddress: 0x2100n, symbolized: false, frames: [{ functionName: 'app+0x2100' }] }],
    [0x7f0000001235n, {
      pc: 0x7f0000001235n, mapping: maps[1], objectAddress: 0x1234n, symbolized: true, buildId: 'ab',
      frames: [{ functionName: 'inlined', fileName: '/src/lib.c', line: 15 }, { functionName: 'lib_leak', fileName: '/src/lib.c', line: 21 }],
    }],
  ]);
  return Array.from({ length: count }, (_, k) => {
    const site = (stackId: number, live: number, kind: SiteKind = 'malloc'): SiteStats => ({
      stackId, kind, liveSamples: live ? 1 : 0, liveSampledBytes: live, liveObjects: live / 64, liveBytes: live * (k + 1), allocSamples: 1 + k,
      allocObjects: 3 * k, allocBytes: 1e6 * k, oldestLiveMs: live ? 5 : 0, newestLiveMs: live ? 9 : 0, meanLiveMs: live ? 7.5 : 0,
      // Cumulative, rising with k (falling once: another process image), where the profiles have it.
      ...(withFirstSeen ? { firstSeenBytes: live ? live * (k === 4 ? 1 : k + 1) : 0 } : {}),
    });
    const raw = rawSnapshot({
      stacks: new Map([
        [0, { id: 0, pcs: [], javaFrames: [] }],
        [1, { id: 1, pcs: [0x7f0000001235n, 0x55e18b8cf101n], javaFrames: [] }],
        [2, { id: 2, pcs: [0x55e18b8cf101n, 0x10n], javaFrames: [{ methodId: 7n, bci: 3 }] }],
        [3, { id: 3, pcs: [0x7f0000001235n], javaFrames: [] }],
        // The frames of stack 1, mapping memory: a stack of its own.
        [4, { id: 4, pcs: [0x7f0000001235n, 0x55e18b8cf101n], javaFrames: [] }],
        [5, { id: 5, pcs: [0x55e18b8cf101n], javaFrames: [] }],
      ]),
      sites: [site(1, 4096), site(2, k % 2 ? 0 : 100), site(0, 65536), site(3, 0), site(4, 8192, 'mmap-anon'), site(5, 4096 * k, 'mmap-file')],
      javaMethods: new Map([[7n, { methodId: 7n, classSignature: 'Lapp/Main;', name: 'run', sourceFile: 'Main.java', lines: [[0, 12]] }]]),
      meta: { sequence: k, monotonicNs: BigInt(k + 1) * 1_000_000_000n },
    });
    return buildHeapProfile({ raw, mappings: maps, locations, warnings: [] }, { timeNanos: BigInt(k) * 1_000_000_000n + 1n }).encode();
  });
}

/** A Go-like profile: inline lines, unsymbolized locations, a string label, negative values when asked. */
function foreignProfile(negative: boolean): Uint8Array {
  const strings = new StringTable();
  const s = (value: string) => strings.dedup(value);
  return new Profile({
    sampleType: [new ValueType({ type: s('alloc_space'), unit: s('bytes') }), new ValueType({ type: s('inuse_space'), unit: s('bytes') })],
    mapping: [new Mapping({ id: 1, memoryStart: 0x400000, memoryLimit: 0x800000, fileOffset: 0x1000, filename: s('/srv/bin/server') })],
    function: [
      new Function({ id: 1, name: s('main.leak'), systemName: s('main.leak'), filename: s('/src/main.go') }),
      new Function({ id: 2, name: s('main.main'), systemName: s('main.main'), filename: s('/src/main.go') }),
    ],
    location: [
      new Location({ id: 1, mappingId: 1, address: 0x401234, line: [new Line({ functionId: 1, line: 10 }), new Line({ functionId: 2, line: 20 })] }),
      new Location({ id: 2, mappingId: 1, address: 0x402000 }),
      new Location({ id: 3, address: 0xdeadbeef }),
    ],
    sample: [
      new Sample({ locationId: [1, 2, 3], value: [1, negative ? -512 : 512], label: [new Label({ key: s('oldest_live_age_ms'), str: s('old') })] }),
      new Sample({ locationId: [3], value: [5, 0] }),
      new Sample({ locationId: [2, 1], value: [5, 2 ** 40], label: [new Label({ key: s('oldest_live_age_ms'), num: 9 }), new Label({ key: s('mean_live_age_ms'), num: 4 })] }),
    ],
    stringTable: strings,
    timeNanos: 3_000_000_000n,
    periodType: new ValueType({ type: s('space'), unit: s('bytes') }),
    period: 524288,
  }).encode();
}

describe('ProfileSeriesReader', () => {
  test('a stack is its frames and its kind: the same frames mapping memory are a stack apart', () => {
    const reader = new ProfileSeriesReader();
    const point = reader.read(ourProfiles(2)[1]!, 'p', () => 0);
    const kinds = Array.from(point.stackOf, (stack) => [reader.stacks[stack]!.map((f) => f.functionName).join('<'), reader.stackKinds[stack]]);
    assert.deepEqual(kinds.filter(([frames]) => frames === 'inlined<lib_leak<app+0x2100'), [['inlined<lib_leak<app+0x2100', 'malloc'], ['inlined<lib_leak<app+0x2100', 'mmap-anon']]);
    assert.ok(kinds.some(([, kind]) => kind === 'mmap-file'));
  });

  test('our profiles, gzipped or not: the series seriesOfProfiles makes of the decoded profiles', () => {
    const profiles = ourProfiles(6);
    assertSameAsReference(profiles);
    assertSameAsReference(profiles.map((p) => gzipSync(p)));
    assertSameAsReference(ourProfiles(3, false));
  });

  test('first_seen_bytes becomes each stack\'s births since its previous sample; none where no sample has it', () => {
    const reader = new ProfileSeriesReader();
    const points = ourProfiles(6).map((bytes, k) => reader.read(bytes, `p${k}`, () => k));
    const birthsOf = (k: number) => {
      const births = points[k]!.seenBirths!;
      return Array.from(births.stackOf, (stack, j) => [reader.stacks[stack]!.map((f) => f.functionName).join('<'), reader.stackKinds[stack], births.bytes[j]]);
    };
    // Stack 1 (4096 live): cumulative 4096·(k + 1), so 4096 at the first point, then 4096 a point; at k = 4 it fell
    // to 4096 (counted again from there), and at k = 5 it is 24576: 20480 since.
    const leak = (k: number) => birthsOf(k).find(([frames, kind]) => frames === 'inlined<lib_leak<app+0x2100' && kind === 'malloc')?.[2];
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(leak), [4096, 4096, 4096, 4096, 4096, 20480]);
    // Stack 2 is live every other point: its births since its previous sample two points before.
    const java = (k: number) => birthsOf(k).find(([frames]) => String(frames).endsWith('run'))?.[2];
    assert.deepEqual([0, 2].map(java), [100, 200]);
    assert.equal(new ProfileSeriesReader().read(ourProfiles(1, false)[0]!, 'p', () => 0).seenBirths, undefined);
  });

  test('foreign profiles: unsymbolized frames, string labels, huge and negative values (read the reference way)', () => {
    // The negative value is a 10-byte varint: that profile is read the reference way.
    assertSameAsReference([foreignProfile(false), foreignProfile(true), ...ourProfiles(2)], 1);
  });

  test('damaged profiles: the error decodeHeapProfile gives', () => {
    const valid = ourProfiles(1)[0]!;
    const random = ansiLcg(99);
    for (let round = 0; round < 300; round++) {
      const bytes = Uint8Array.from(valid);
      for (let flips = 0; flips < 1 + (round % 4); flips++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      const damaged = round % 10 === 0 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes;
      let expected: unknown;
      try {
        const profile = decodeHeapProfile(damaged, 'damaged');
        expected = flatten(seriesOfProfiles([{ timeSec: 0, profile }]));
      } catch (error) {
        assert.ok(error instanceof LeakhuntError);
        expected = error.message;
      }
      let actual: unknown;
      try {
        const reader = new ProfileSeriesReader();
        const point = reader.read(damaged, 'damaged', () => 0);
        actual = flatten({ stacks: reader.stacks, stackKinds: reader.stackKinds, points: [point] });
      } catch (error) {
        assert.ok(error instanceof LeakhuntError, String(error));
        actual = error.message;
      }
      assert.deepEqual(actual, expected, `round ${round}`);
    }
  });
});
