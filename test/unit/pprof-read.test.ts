import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Function, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { LeakhuntError } from '../../src/core/errors.js';
import { decodeHeapProfile, readHeapProfile } from '../../src/pprof/read.js';
import { ansiLcg } from './helpers/prng.js';

let directory = '';
before(() => {
  directory = mkdtempSync(join(tmpdir(), 'leakhunt-pprof-read-'));
});
after(() => rmSync(directory, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array | string): string {
  const path = join(directory, name);
  writeFileSync(path, bytes);
  return path;
}

function assertUsageError(action: () => unknown, message?: string | RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof LeakhuntError, String(error));
    assert.equal(error.exitCode, 2);
    assert.ok(!error.message.includes('\n'), error.message);
    if (typeof message === 'string') assert.equal(error.message, message);
    else if (message) assert.match(error.message, message);
    return true;
  });
}

/** A profile shaped like Go's heap profiles, unsymbolized in part, with a negative (diff) value. */
function goLikeProfile(): Profile {
  const strings = new StringTable();
  const s = (value: string) => strings.dedup(value);
  return new Profile({
    sampleType: [
      new ValueType({ type: s('alloc_objects'), unit: s('count') }),
      new ValueType({ type: s('alloc_space'), unit: s('bytes') }),
      new ValueType({ type: s('inuse_objects'), unit: s('count') }),
      new ValueType({ type: s('inuse_space'), unit: s('bytes') }),
    ],
    mapping: [new Mapping({ id: 1, memoryStart: 0x400000, memoryLimit: 0x800000, fileOffset: 0, filename: s('/srv/bin/server') })],
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
      new Sample({ locationId: [1, 2, 3], value: [1, 512, -1, -512], label: [new Label({ key: s('bytes'), num: 512 }), new Label({ key: s('kind'), str: s('arena') })] }),
    ],
    stringTable: strings,
    timeNanos: 1_000_000_000n,
    periodType: new ValueType({ type: s('space'), unit: s('bytes') }),
    period: 524288,
  });
}

test('a foreign (Go-like) plain .pb heap profile: inline levels, unsymbolized frames, negative values, labels', () => {
  const read = readHeapProfile(write('go.pb', goLikeProfile().encode()));
  assert.equal(read.periodBytes, 524288);
  assert.equal(read.defaultSampleType, undefined);
  assert.equal(read.samples.length, 1);
  const [sample] = read.samples;
  assert.deepEqual(sample!.values, [1, 512, -1, -512]);
  assert.deepEqual(sample!.labels, { bytes: 512, kind: 'arena' });
  assert.deepEqual(sample!.stack, [
    { functionName: 'main.leak', fileName: '/src/main.go', line: 10, address: 0x401234n, mappingFile: '/srv/bin/server' },
    { functionName: 'main.main', fileName: '/src/main.go', line: 20, address: 0x401234n, mappingFile: '/srv/bin/server' },
    { functionName: 'server+0x2000', address: 0x402000n, mappingFile: '/srv/bin/server' },
    { functionName: '0xdeadbeef', address: 0xdeadbeefn },
  ]);
});

test('a profile without inuse_space is refused with a one-line usage error', () => {
  const strings = new StringTable();
  const cpu = new Profile({
    sampleType: [new ValueType({ type: strings.dedup('samples'), unit: strings.dedup('count') }), new ValueType({ type: strings.dedup('cpu'), unit: strings.dedup('nanoseconds') })],
    stringTable: strings,
  });
  const path = write('cpu.pb.gz', gzipSync(cpu.encode()));
  assertUsageError(() => readHeapProfile(path), `${path}: not a pprof heap profile (no inuse_space sample type)`);
  const empty = write('empty.pb', '');
  assertUsageError(() => readHeapProfile(empty), `${empty}: not a pprof heap profile (no inuse_space sample type)`);
});

test('unreadable, corrupt and malformed inputs give one-line usage errors', () => {
  assertUsageError(() => readHeapProfile(join(directory, 'absent.pb.gz')), /absent\.pb\.gz: cannot read: ENOENT/);
  assertUsageError(() => readHeapProfile(directory), /cannot read/);
  const gzipped = gzipSync(goLikeProfile().encode());
  assertUsageError(() => readHeapProfile(write('truncated.pb.gz', gzipped.subarray(0, gzipped.length - 9))), /corrupt gzip data/);
  assertUsageError(() => readHeapProfile(write('text.pb', 'hello, this is not a protobuf\n')));

  const broken = goLikeProfile();
  broken.sample[0]!.locationId.push(99);
  assertUsageError(() => decodeHeapProfile(broken.encode(), 'broken'), 'broken: malformed pprof profile: a sample refers to missing location 99');
  const badString = goLikeProfile();
  badString.function[0]!.name = 5000;
  assertUsageError(() => decodeHeapProfile(badString.encode(), 'strings'), 'strings: malformed pprof profile: string index 5000 out of range');
});

test('random bytes never escape as anything but a LeakhuntError', () => {
  const random = ansiLcg(12345);
  const valid = goLikeProfile().encode();
  for (let round = 0; round < 300; round++) {
    // Half pure noise, half a valid profile with a few bytes flipped.
    const bytes = round % 2 === 0 ? Uint8Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)) : Uint8Array.from(valid);
    if (round % 2 === 1) for (let flips = 0; flips < 3; flips++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    try {
      decodeHeapProfile(bytes, `round ${round}`);
    } catch (error) {
      assert.ok(error instanceof LeakhuntError, `round ${round}: ${String(error)}`);
      assert.ok(!error.message.includes('\n'));
    }
  }
});
