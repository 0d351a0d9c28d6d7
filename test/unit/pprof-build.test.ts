import { rawSnapshot } from './helpers/raw-snapshot.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { buildHeapProfile, encodeProfileGz, mainExecutableMapping, overflowStackFunctionName, writeProfileGz } from '../../src/pprof/build.js';
import { decodeHeapProfile, readHeapProfile, sampleValueIndex } from '../../src/pprof/read.js';
import type { SiteStats } from '../../src/snapshot/types.js';
import { parseMaps } from '../../src/symbolize/maps.js';
import type { SymbolizedLocation, SymbolizedSnapshot } from '../../src/symbolize/types.js';

let directory = '';
before(() => {
  directory = mkdtempSync(join(tmpdir(), 'leakhunt-pprof-'));
});
after(() => rmSync(directory, { recursive: true, force: true }));

function site(stackId: number, liveBytes: number, allocBytes: number): SiteStats {
  return {
    stackId, liveSamples: 1, liveSampledBytes: liveBytes, liveObjects: liveBytes / 100 + 0.4, liveBytes: liveBytes + 0.6,
    allocSamples: 2, allocObjects: allocBytes / 100, allocBytes, oldestLiveMs: 1, newestLiveMs: 2, meanLiveMs: 1.5,
  };
}

/** Two objects: a library whose frame 0x7f...1235 has an inlined function, and a program without debug info. */
function symbolizedFixture(): SymbolizedSnapshot {
  const maps = [
    '55e18b8cd000-55e18b8cf000 r--p 00000000 fe:00 11 /usr/bin/app',
    '55e18b8cf000-55e18b8d4000 r-xp 00002000 fe:00 11 /usr/bin/app',
    '7f0000001000-7f0000002000 r-xp 00001000 fe:00 12 /usr/lib/lib leak.so',
    '7f0000003000-7f0000004000 rwxp 00000000 00:00 0 ',
  ].join('\n');
  const mappings = parseMaps(maps);
  const [, app, lib, anonymous] = mappings;
  const raw = rawSnapshot({
    path: 'x.lhs',
    meta: {
      pid: 42, sequence: 3, realtimeNs: 5n, monotonicNs: 6n, startRealtimeNs: 1n, startMonotonicNs: 2n,
      baseSampleIntervalBytes: 524288, sampleIntervalBytes: 1048576, recordsEveryAllocation: false,
    },
    maps,
    stacks: new Map([
      [0, { id: 0, pcs: [], javaFrames: [] }],
      [1, { id: 1, pcs: [0x7f0000001235n, 0x55e18b8cf101n], javaFrames: [] }],
      [2, { id: 2, pcs: [0x7f0000001300n, 0x7f0000003010n, 0x55e18b8cf101n], javaFrames: [] }],
    ]),
    sites: [site(1, 1000, 4000), site(2, 0, 700), site(0, 300, 300)],
  });
  const locations = new Map<bigint, SymbolizedLocation>([
    [0x7f0000001235n, {
      pc: 0x7f0000001235n, mapping: lib, objectAddress: 0x1234n, buildId: 'abcd', symbolized: true,
      frames: [
        { functionName: 'inlined_helper', fileName: '/src/lib.c', line: 15, column: 13 },
        { functionName: 'lib_leak', fileName: '/src/lib.c', line: 21, column: 3 },
      ],
    }],
    [0x7f0000001300n, {
      pc: 0x7f0000001300n, mapping: lib, objectAddress: 0x12ffn, buildId: 'abcd', symbolized: true,
      frames: [{ functionName: 'lib_leak', fileName: '/src/lib.c', line: 22 }],
    }],
    [0x55e18b8cf101n, {
      pc: 0x55e18b8cf101n, mapping: app, objectAddress: 0x2100n, symbolized: false,
      frames: [{ functionName: 'app+0x2100' }],
    }],
    [0x7f0000003010n, { pc: 0x7f0000003010n, mapping: anonymous, symbolized: false, frames: [{ functionName: '[anon]+0xf' }] }],
  ]);
  return { raw, mappings, locations, warnings: [] };
}

function text(profile: Profile, index: number | bigint): string {
  return profile.stringTable.strings[Number(index)]!;
}

test('sample types, period, default type, time', () => {
  const profile = buildHeapProfile(symbolizedFixture(), { timeNanos: 1_700_000_000_000_000_000n, durationNanos: 10_000_000_000n });
  assert.deepEqual(
    profile.sampleType.map((t) => `${text(profile, t.type)}/${text(profile, t.unit)}`),
    ['alloc_objects/count', 'alloc_space/bytes', 'inuse_objects/count', 'inuse_space/bytes'],
  );
  assert.equal(text(profile, profile.defaultSampleType), 'inuse_space');
  assert.equal(`${text(profile, profile.periodType!.type)}/${text(profile, profile.periodType!.unit)}`, 'space/bytes');
  assert.equal(profile.period, 1048576);
  assert.equal(profile.timeNanos, 1_700_000_000_000_000_000n);
  assert.equal(profile.durationNanos, 10_000_000_000n);
});

test('samples, locations, inline lines, functions and mappings', () => {
  const profile = buildHeapProfile(symbolizedFixture(), { timeNanos: 1n });
  assert.equal(profile.sample.length, 3);
  const [first, , overflow] = profile.sample;
  assert.deepEqual(first!.value, [40, 4000, 10, 1001]);
  assert.equal(text(profile, first!.label[0]!.key), 'stack_id');
  assert.equal(first!.label[0]!.num, 1);

  const locationById = new Map(profile.location.map((l) => [Number(l.id), l]));
  const functionById = new Map(profile.function.map((f) => [Number(f.id), f]));
  const [libLocation, appLocation] = first!.locationId.map((id) => locationById.get(Number(id))!);
  assert.equal(libLocation!.address, 0x7f0000001234n);
  assert.deepEqual(
    libLocation!.line.map((line) => [text(profile, functionById.get(Number(line.functionId))!.name), line.line, line.column]),
    [['inlined_helper', 15, 13], ['lib_leak', 21, 3]],
  );
  // One Function per (name, file): lib_leak appears at two locations but once in the table.
  assert.equal(profile.function.filter((f) => text(profile, f.name) === 'lib_leak').length, 1);
  // The program frame is shared by stacks 1 and 2: one location.
  assert.equal(profile.sample[1]!.locationId.at(-1), first!.locationId.at(-1));
  assert.equal(profile.location.length, 4 + 1);

  assert.equal(profile.mapping.length, 2);
  const mappingById = new Map(profile.mapping.map((m) => [Number(m.id), m]));
  const libMapping = mappingById.get(Number(libLocation!.mappingId))!;
  assert.equal(text(profile, libMapping.filename), '/usr/lib/lib leak.so');
  assert.equal(libMapping.memoryStart, 0x7f0000001000n);
  assert.equal(libMapping.memoryLimit, 0x7f0000002000n);
  assert.equal(libMapping.fileOffset, 0x1000n);
  assert.equal(text(profile, libMapping.buildId), 'abcd');
  // Both library locations were symbolized with files and lines.
  assert.deepEqual([libMapping.hasFunctions, libMapping.hasFilenames, libMapping.hasLineNumbers, libMapping.hasInlineFrames], [true, true, true, true]);
  const appMapping = mappingById.get(Number(appLocation!.mappingId))!;
  assert.deepEqual([appMapping.hasFunctions, appMapping.hasFilenames, appMapping.hasLineNumbers, appMapping.hasInlineFrames], [false, false, false, false]);
  // Anonymous executable memory (JIT code) gets no pprof mapping.
  const anonymousLocation = locationById.get(Number(profile.sample[1]!.locationId[1]))!;
  assert.equal(anonymousLocation.mappingId, 0);

  const overflowFrames = overflow!.locationId.map((id) => locationById.get(Number(id))!);
  assert.equal(overflowFrames.length, 1);
  assert.equal(text(profile, functionById.get(Number(overflowFrames[0]!.line[0]!.functionId))!.name), overflowStackFunctionName);
});

test('round trip: build → encode → gzip → read gives the same stacks and values', async () => {
  const symbolized = symbolizedFixture();
  const profile = buildHeapProfile(symbolized, { timeNanos: 123n, durationNanos: 45n });
  const path = join(directory, 'heap.pb.gz');
  await writeProfileGz(path, profile);
  assert.deepEqual(readdirSync(directory), ['heap.pb.gz']);
  const read = readHeapProfile(path);
  assert.equal(read.timeNanos, 123n);
  assert.equal(read.durationNanos, 45n);
  assert.equal(read.periodBytes, 1048576);
  assert.equal(read.defaultSampleType, 'inuse_space');
  assert.equal(sampleValueIndex(read, 'inuse_space'), 3);
  assert.deepEqual(read.samples.map((s) => s.values), [[40, 4000, 10, 1001], [7, 700, 0, 1], [3, 300, 3, 301]]);
  // Every site here has a live sample: each carries the age of its live blocks (0 ms: allocated just now).
  const ages = { oldest_live_age_ms: 0, mean_live_age_ms: 0 };
  assert.deepEqual(read.samples.map((s) => s.labels), [{ stack_id: 1, ...ages }, { stack_id: 2, ...ages }, { stack_id: 0, ...ages }]);

  const stacks = read.samples.map((s) => s.stack);
  for (const [i, siteEntry] of symbolized.raw.sites.entries()) {
    const pcs = symbolized.raw.stacks.get(siteEntry.stackId)!.pcs;
    const expected = pcs.flatMap((pc) => symbolized.locations.get(pc)!.frames.map((f) => [f.functionName, f.fileName, f.line, pc - 1n]));
    if (pcs.length === 0) expected.push([overflowStackFunctionName, undefined, undefined, undefined]);
    assert.deepEqual(stacks[i]!.map((f) => [f.functionName, f.fileName, f.line, f.address]), expected);
  }
  assert.equal(stacks[0]![0]!.mappingFile, '/usr/lib/lib leak.so');
  assert.equal(stacks[1]![1]!.mappingFile, undefined);
  assert.equal(stacks[1]![2]!.mappingFile, '/usr/bin/app');

  // The same input encodes to the same bytes.
  const again = buildHeapProfile(symbolizedFixture(), { timeNanos: 123n, durationNanos: 45n });
  assert.deepEqual(gunzipSync(readFileSync(path)), Buffer.from(again.encode()));
  assert.deepEqual(decodeHeapProfile(encodeProfileGz(again), 'mem'), read);
});

test('writeProfileGz into a missing directory: one-line LeakhuntError, no temporary left behind', async () => {
  const profile = buildHeapProfile(symbolizedFixture(), { timeNanos: 1n });
  await assert.rejects(writeProfileGz(join(directory, 'absent', 'heap.pb.gz'), profile), (error: Error & { exitCode?: number }) => {
    assert.equal(error.name, 'LeakhuntError');
    assert.equal(error.exitCode, 2);
    assert.ok(!error.message.includes('\n'));
    return true;
  });
});

test('mainExecutableMapping: the program\'s code, below the libraries; a JVM\'s heap and CDS archive below it are not code', () => {
  const jvm = [
    '687400000-69f000000 rw-p 00000000 00:00 0 ',
    '7ffb00000-7ffb75000 rw-p 00c77000 fe:00 328258 /usr/lib/jvm/java-17-openjdk-amd64/lib/server/classes.jsa',
    '561c7ae4b000-561c7ae4c000 r--p 00000000 fe:00 327901 /usr/lib/jvm/java-17-openjdk-amd64/bin/java',
    '561c7ae4c000-561c7ae4d000 r-xp 00001000 fe:00 327901 /usr/lib/jvm/java-17-openjdk-amd64/bin/java',
    '7f1c00000000-7f1c00100000 r-xp 00000000 fe:00 11 /usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30',
    '7f1d00000000-7f1d00100000 r-xp 00000000 fe:00 12 /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so',
  ].join('\n');
  assert.equal(mainExecutableMapping(jvm)?.path, '/usr/lib/jvm/java-17-openjdk-amd64/bin/java');
  assert.equal(mainExecutableMapping(jvm)?.perms, 'r-xp');
  const nonPie = '00400000-00401000 r-xp 00000000 fe:00 5 /opt/app/server\n7f0000000000-7f0000001000 r-xp 00000000 fe:00 6 /lib/libc.so.6';
  assert.equal(mainExecutableMapping(nonPie)?.path, '/opt/app/server');
  assert.equal(mainExecutableMapping('7f0000000000-7f0000001000 r-xp 00000000 fe:00 6 /lib/libc.so.6')?.path, '/lib/libc.so.6', 'only libraries: the lowest');
  assert.equal(mainExecutableMapping(''), undefined);
});
