import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeakhuntError } from '../../src/core/errors.js';
import { parseSnapshot, parseSnapshotShared, readSnapshotFile, SNAPSHOT_MAGIC, SNAPSHOT_VERSION, SUPPORTED_SNAPSHOT_VERSIONS } from '../../src/snapshot/reader.js';
import { xorshift32 as prng } from './helpers/prng.js';

// ---------------------------------------------------------------------------------------------------------------
// A version-1 encoder written from native/FORMAT.md, independent of the reader.
// ---------------------------------------------------------------------------------------------------------------

const T = { meta: 1, counters: 2, mallinfo: 3, processMemory: 4, maps: 5, stacks: 6, sites: 7, end: 0xffff } as const;

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}
function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return b;
}
function u64(value: bigint | number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}
function i64(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(value);
  return b;
}
function i32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  return b;
}
function f64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return b;
}

function header(o: { magic?: string; version?: number; headerBytes?: number } = {}): Buffer {
  return Buffer.concat([Buffer.from(o.magic ?? 'LKHUNT\r\n', 'latin1'), u32(o.version ?? 1), u32(o.headerBytes ?? 16)]);
}

function record(type: number, payload: Buffer, declaredLength = payload.length): Buffer {
  return Buffer.concat([u32(type), u32(declaredLength), payload]);
}

const META = {
  pid: 4242, sequence: 7, realtimeNs: 1_732_000_000_123_456_789n, monotonicNs: 98_765_432_100n,
  startRealtimeNs: 1_731_999_990_000_000_000n, startMonotonicNs: -5n, baseSampleIntervalBytes: 524_288,
  sampleIntervalBytes: 1_048_576, isFinal: 1, maxStackDepth: 64, flags: 0n,
};

function metaPayload(m: typeof META = META): Buffer {
  const b = Buffer.concat([
    u64(m.pid), u64(m.sequence), i64(m.realtimeNs), i64(m.monotonicNs), i64(m.startRealtimeNs), i64(m.startMonotonicNs),
    u64(m.baseSampleIntervalBytes), u64(m.sampleIntervalBytes), u32(m.isFinal), u32(m.maxStackDepth), u64(m.flags),
    u64(0), u64(0),
  ]);
  assert.equal(b.length, 96);
  return b;
}

/** Sixteen distinct u64 so a field read from the wrong offset shows. */
const COUNTER_VALUES = Array.from({ length: 16 }, (_, i) => 1000 + i * 17);
const countersPayload = () => Buffer.concat(COUNTER_VALUES.map((v) => u64(v)));

const MALLINFO_VALUES = [1, 33_554_432, 412, 3, 2, 8_388_608, 0, 96, 25_165_824, 8_388_608, 131_072];
const mallinfoPayload = (values = MALLINFO_VALUES) => Buffer.concat(values.map((v) => u64(v)));

const MEMORY_VALUES = [2_147_483_648, 104_857_600, 73_400_320, 31_457_280, 1_048_576, 125_829_120];
const memoryPayload = () => Buffer.concat(MEMORY_VALUES.map((v) => u64(v)));

const MAPS = [
  '55d0c0a00000-55d0c0a02000 r-xp 00001000 fd:01 1311 /srv/bin/sessiond',
  '7f3a2c000000-7f3a2c200000 r-xp 00000000 fd:01 2202 /opt/jdk/lib/server/libjvm.so',
  '7f3a2e000000-7f3a2e001000 r--p 00000000 fd:01 77 /srv/données/libé.so',
  '',
].join('\n');

interface StackSpec {
  id: number;
  pcs: bigint[];
  java: { methodId: bigint; bci: number }[];
}

const STACKS: StackSpec[] = [
  { id: 0, pcs: [], java: [] },
  {
    id: 5,
    pcs: [0x55d0c0a01234n, 0x7f3a2c01d4e2n, 0xffff_ffff_ffff_fff0n],
    java: [{ methodId: 0x7f00aa001000n, bci: 17 }, { methodId: 2n, bci: -1 }],
  },
];

function stackBytes(s: StackSpec): Buffer {
  return Buffer.concat([
    u32(s.id), u16(s.pcs.length), u16(s.java.length), ...s.pcs.map((pc) => u64(pc)),
    ...s.java.map((j) => Buffer.concat([u64(j.methodId), i32(j.bci), u32(0)])),
  ]);
}
const stacksPayload = (stacks = STACKS) => Buffer.concat([u32(stacks.length), ...stacks.map(stackBytes)]);

interface SiteSpec {
  stackId: number;
  /** The u32 at offset 4 (version 3; reserved, 0, before). */
  kindCode?: number;
  /** The f64 at offset 88 (version 3; reserved, 0, before). */
  usable?: number;
  liveSamples: number; liveSampledBytes: number; liveObjects: number; liveBytes: number; allocSamples: number;
  allocObjects: number; allocBytes: number; oldestLiveMs: number; newestLiveMs: number; meanLiveMs: number;
}

const SITES: SiteSpec[] = [
  {
    stackId: 5, liveSamples: 12, liveSampledBytes: 49_152, liveObjects: 1536.25, liveBytes: 6_291_456.5, allocSamples: 40,
    allocObjects: 5120.75, allocBytes: 20_971_520.125, oldestLiveMs: 1500, newestLiveMs: 61_000, meanLiveMs: 30_250.5,
  },
  {
    stackId: 0, liveSamples: 1, liveSampledBytes: 64, liveObjects: 8192, liveBytes: 524_288, allocSamples: 1,
    allocObjects: 8192, allocBytes: 524_288, oldestLiveMs: 9, newestLiveMs: 9, meanLiveMs: 9,
  },
];

function siteBytes(s: SiteSpec): Buffer {
  const b = Buffer.concat([
    u32(s.stackId), u32(s.kindCode ?? 0), u64(s.liveSamples), u64(s.liveSampledBytes), f64(s.liveObjects), f64(s.liveBytes),
    u64(s.allocSamples), f64(s.allocObjects), f64(s.allocBytes), u64(s.oldestLiveMs), u64(s.newestLiveMs),
    f64(s.meanLiveMs), f64(s.usable ?? 0),
  ]);
  assert.equal(b.length, 96);
  return b;
}
const sitesPayload = (sites = SITES, entryBytes = 96) => Buffer.concat([u32(sites.length), u32(entryBytes), ...sites.map(siteBytes)]);

/** Every record of a complete snapshot, END last. */
function validRecords(): Buffer[] {
  return [
    record(T.meta, metaPayload()),
    record(T.counters, countersPayload()),
    record(T.mallinfo, mallinfoPayload()),
    record(T.processMemory, memoryPayload()),
    record(T.maps, Buffer.from(MAPS, 'utf8')),
    record(T.stacks, stacksPayload()),
    record(T.sites, sitesPayload()),
    record(T.end, Buffer.alloc(0)),
  ];
}

const snapshot = (records = validRecords(), head = header()) => Buffer.concat([head, ...records]);

/** Replaces the record at `index` (by position in validRecords()). */
function withRecord(index: number, replacement: Buffer | null): Buffer {
  const records = validRecords();
  if (replacement) records[index] = replacement;
  else records.splice(index, 1);
  return snapshot(records);
}

// ---------------------------------------------------------------------------------------------------------------

const PATH = 'run/raw/4242/000007.lhs';

function assertRejected(buf: Buffer, pattern?: RegExp, path = PATH): LeakhuntError {
  let caught: unknown;
  try {
    parseSnapshot(buf, path);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught !== undefined, 'expected parseSnapshot to throw');
  assert.ok(caught instanceof LeakhuntError, `expected a LeakhuntError, got ${String(caught)}`);
  assert.equal(caught.exitCode, 2);
  assert.ok(!/[\r\n]/.test(caught.message), `one line: ${JSON.stringify(caught.message)}`);
  assert.ok(caught.message.includes(path), `names the file: ${caught.message}`);
  if (pattern) assert.match(caught.message, pattern);
  return caught;
}

describe('parseSnapshot: a valid version-1 snapshot', () => {
  test('the encoder agrees with the reader on magic, and version 1 is still read', () => {
    assert.equal(SNAPSHOT_MAGIC, 'LKHUNT\r\n');
    assert.equal(SNAPSHOT_VERSION, 3);
    assert.deepEqual(SUPPORTED_SNAPSHOT_VERSIONS, [1, 2, 3]);
  });

  test('decodes META', () => {
    const s = parseSnapshot(snapshot(), PATH);
    assert.equal(s.path, PATH);
    assert.deepEqual(s.meta, {
      pid: 4242, sequence: 7, realtimeNs: 1_732_000_000_123_456_789n, monotonicNs: 98_765_432_100n,
      startRealtimeNs: 1_731_999_990_000_000_000n, startMonotonicNs: -5n, baseSampleIntervalBytes: 524_288,
      sampleIntervalBytes: 1_048_576, isFinal: true, maxStackDepth: 64, recordsEveryAllocation: false, afterTrim: false,
      agentLoaded: false, agentSampling: false,
    });
  });

  test('META flags bit 0 and is_final', () => {
    const every = parseSnapshot(withRecord(0, record(T.meta, metaPayload({ ...META, flags: 1n | 0x10n, isFinal: 0, sampleIntervalBytes: 1 }))), PATH);
    assert.equal(every.meta.recordsEveryAllocation, true);
    assert.equal(every.meta.isFinal, false);
    assert.equal(every.meta.sampleIntervalBytes, 1);
    const other = parseSnapshot(withRecord(0, record(T.meta, metaPayload({ ...META, flags: 2n }))), PATH);
    assert.equal(other.meta.recordsEveryAllocation, false);
  });

  test('decodes COUNTERS in their documented order', () => {
    const c = parseSnapshot(snapshot(), PATH).counters;
    const v = COUNTER_VALUES;
    assert.deepEqual(c, {
      samples: v[0], sampledFrees: v[1], liveEntries: v[2], tableCapacity: v[3], tableDrops: v[4], thinnedEntries: v[5],
      thinningRounds: v[6], stackCount: v[7], stackCapacity: v[8], stackDrops: v[9], missedFrees: v[10],
      shimMappedBytes: v[11], snapshotsWritten: v[12], writeErrors: v[13],
      // version 1 has none of these
      javaStacks: 0, javaStackFailures: 0, shimResidentBytes: 0, javaMethods: 0, trackedMappings: 0, mappingDrops: 0,
      fastUnwinds: 0, unwindMismatches: 0,
    });
  });

  test('decodes MALLINFO in mallinfo2 struct order, and available = 0', () => {
    const [available, ...v] = MALLINFO_VALUES;
    assert.equal(available, 1);
    assert.deepEqual(parseSnapshot(snapshot(), PATH).mallinfo, {
      available: true, arena: v[0], ordblks: v[1], smblks: v[2], hblks: v[3], hblkhd: v[4], usmblks: v[5], fsmblks: v[6],
      uordblks: v[7], fordblks: v[8], keepcost: v[9],
    });
    const none = parseSnapshot(withRecord(2, record(T.mallinfo, mallinfoPayload(new Array(11).fill(0)))), PATH);
    assert.equal(none.mallinfo.available, false);
  });

  test('decodes PROCESS_MEMORY', () => {
    const v = MEMORY_VALUES;
    assert.deepEqual(parseSnapshot(snapshot(), PATH).memory, {
      vmSizeBytes: v[0], vmRssBytes: v[1], rssAnonBytes: v[2], rssFileBytes: v[3], rssShmemBytes: v[4], vmHwmBytes: v[5],
    });
  });

  test('keeps MAPS verbatim as UTF-8, and accepts it empty', () => {
    assert.equal(parseSnapshot(snapshot(), PATH).maps, MAPS);
    assert.equal(parseSnapshot(withRecord(4, record(T.maps, Buffer.alloc(0))), PATH).maps, '');
  });

  test('decodes STACKS, including the empty overflow stack 0 and Java frames with a negative bci', () => {
    const stacks = parseSnapshot(snapshot(), PATH).stacks;
    assert.deepEqual([...stacks.keys()].sort((a, b) => a - b), [0, 5]);
    assert.deepEqual(stacks.get(0), { id: 0, pcs: [], javaFrames: [] });
    assert.deepEqual(stacks.get(5), {
      id: 5,
      pcs: [0x55d0c0a01234n, 0x7f3a2c01d4e2n, 0xffff_ffff_ffff_fff0n],
      javaFrames: [{ methodId: 0x7f00aa001000n, bci: 17 }, { methodId: 2n, bci: -1 }],
    });
  });

  test('decodes SITES with 96-byte entries, every one of kind malloc', () => {
    assert.deepEqual(parseSnapshot(snapshot(), PATH).sites, SITES.map((site) => ({ ...site, kind: 'malloc' })));
  });

  test('records may come in any order, END last', () => {
    const records = validRecords();
    const end = records.pop()!;
    const shuffled = [records[6]!, records[4]!, records[0]!, records[5]!, records[3]!, records[1]!, records[2]!, end];
    const a = parseSnapshot(snapshot(), PATH);
    const b = parseSnapshot(snapshot(shuffled), PATH);
    assert.deepEqual(b, a);
  });

  test('empty STACKS and SITES tables are valid', () => {
    const records = validRecords();
    records[5] = record(T.stacks, stacksPayload([]));
    records[6] = record(T.sites, sitesPayload([]));
    const s = parseSnapshot(snapshot(records), PATH);
    assert.equal(s.stacks.size, 0);
    assert.deepEqual(s.sites, []);
  });
});

describe('parseSnapshot: rejection', () => {
  test('bad magic', () => {
    for (const magic of ['LKHUNT\n\n', 'lkhunt\r\n', 'LKHUNT\r\r', '\0\0\0\0\0\0\0\0', 'GIF89a\0\0']) {
      assertRejected(snapshot(validRecords(), header({ magic })), /bad magic/);
    }
    assertRejected(Buffer.from('{"not":"a snapshot"}\n'), /bad magic/);
  });

  test('too short to hold a header', () => {
    for (const buf of [Buffer.alloc(0), Buffer.from('LKHUNT\r\n'), header().subarray(0, 15)]) assertRejected(buf);
  });

  test('a version it does not know', () => {
    assertRejected(snapshot(validRecords(), header({ version: 4 })), /version 4 is not supported \(this leakhunt reads versions 1, 2 and 3\)/);
    assertRejected(snapshot(validRecords(), header({ version: 0 })), /version 0/);
    assertRejected(snapshot(validRecords(), header({ version: 0xffffffff })), /version 4294967295/);
  });

  test('a header size other than 16', () => {
    assertRejected(snapshot(validRecords(), header({ headerBytes: 24 })), /header of 24 bytes/);
  });

  test('an unknown record type', () => {
    for (const type of [0, 8, 0xfffe, 0x10000]) {
      const records = validRecords();
      records.splice(3, 0, record(type, Buffer.from([1, 2, 3, 4])));
      assertRejected(snapshot(records), new RegExp(`unknown record type ${type}\\b`));
    }
  });

  test('a fixed-size record of the wrong length', () => {
    const cases: [number, number, Buffer][] = [
      [0, T.meta, metaPayload().subarray(0, 95)],
      [0, T.meta, Buffer.concat([metaPayload(), Buffer.alloc(1)])],
      [1, T.counters, countersPayload().subarray(0, 120)],
      [2, T.mallinfo, Buffer.concat([mallinfoPayload(), Buffer.alloc(8)])],
      [3, T.processMemory, memoryPayload().subarray(0, 40)],
      [7, T.end, Buffer.alloc(4)],
    ];
    for (const [index, type, payload] of cases) {
      assertRejected(withRecord(index, record(type, payload)), new RegExp(`record ${type} has ${payload.length} bytes, expected`));
    }
  });

  test('a record that appears twice', () => {
    for (const index of [0, 1, 2, 3, 4, 5, 6]) {
      const records = validRecords();
      records.splice(index + 1, 0, records[index]!);
      assertRejected(snapshot(records), /appears twice/);
    }
  });

  test('a stack id that appears twice in STACKS', () => {
    assertRejected(withRecord(5, record(T.stacks, stacksPayload([STACKS[1]!, STACKS[0]!, STACKS[1]!]))), /stack 5 appears twice/);
  });

  test('truncated at every byte offset', () => {
    const full = snapshot();
    for (let length = 0; length < full.length; length++) assertRejected(full.subarray(0, length));
  });

  test('no END record', () => {
    const records = validRecords();
    records.pop();
    assertRejected(snapshot(records), /no END record/);
  });

  test('bytes after END', () => {
    const full = snapshot();
    assertRejected(Buffer.concat([full, Buffer.from([0])]), /after the END record/);
    assertRejected(Buffer.concat([full, record(T.end, Buffer.alloc(0))]), /after the END record/);
    assertRejected(Buffer.concat([full, record(T.maps, Buffer.from('x'))]), /after the END record/);
  });

  test('END before a required record', () => {
    const records = validRecords();
    const end = records.pop()!;
    assertRejected(snapshot([...records.slice(0, 3), end, ...records.slice(3)]), /after the END record/);
  });

  test('a required record missing', () => {
    for (const index of [0, 1, 2, 3, 4, 5, 6]) assertRejected(withRecord(index, null), /required record is missing/);
  });

  test('a site referring to an unknown stack', () => {
    const sites = [SITES[0]!, { ...SITES[1]!, stackId: 9 }];
    assertRejected(withRecord(6, record(T.sites, sitesPayload(sites))), /unknown stack 9/);
  });

  test('site entries of a size other than 96', () => {
    const payload = Buffer.concat([u32(1), u32(104), siteBytes(SITES[0]!), Buffer.alloc(8)]);
    assertRejected(withRecord(6, record(T.sites, payload)), /site entries of 104 bytes/);
  });

  test('a SITES count that does not match its payload', () => {
    const payload = sitesPayload();
    payload.writeUInt32LE(3, 0);
    assertRejected(withRecord(6, record(T.sites, payload)), /runs past its record/);
    payload.writeUInt32LE(1, 0);
    assertRejected(withRecord(6, record(T.sites, payload)), /stray bytes/);
  });

  test('a STACKS table whose stacks do not fill its record exactly', () => {
    const short = stacksPayload();
    short.writeUInt32LE(3, 0);
    assertRejected(withRecord(5, record(T.stacks, short)), /runs past its record/);
    const deep = stacksPayload();
    deep.writeUInt16LE(200, 4 + 8 + 4); // the second stack's native_depth
    assertRejected(withRecord(5, record(T.stacks, deep)), /runs past its record/);
    assertRejected(withRecord(5, record(T.stacks, Buffer.concat([stacksPayload(), Buffer.alloc(3)]))), /stray bytes/);
  });

  test('a record length that runs past the end of the file', () => {
    const records = validRecords();
    records[4] = record(T.maps, Buffer.from(MAPS), 0x7fffffff);
    assertRejected(snapshot(records), /runs past the end of the file/);
  });

  test('the message names whatever path it is given', () => {
    assertRejected(Buffer.alloc(3), undefined, 'some dir/with space/000001.lhs');
  });
});

describe('parseSnapshot: seeded fuzzing', () => {

  test('every mutant either parses or is rejected with a one-line LeakhuntError (exit code 2)', (t) => {
    const rng = prng(0xdecafbad);
    const int = (n: number) => Math.floor(rng() * n);
    const base = snapshot();
    const interesting = [0, 1, 2, 7, 8, 16, 95, 96, 97, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
    const outcomes = { parsed: 0, rejected: 0 };
    const messages = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      let buf = Buffer.from(base);
      const mutations = 1 + int(3);
      for (let m = 0; m < mutations; m++) {
        switch (int(6)) {
          case 0: { // flip bits in a few bytes
            for (let k = 0, n = 1 + int(4); k < n; k++) {
              const at = int(buf.length);
              buf[at] = buf[at]! ^ (1 << int(8));
            }
            break;
          }
          case 1: { // an interesting u32 at an aligned offset (lengths, counts, types, ids)
            if (buf.length >= 4) buf.writeUInt32LE(interesting[int(interesting.length)]!, 4 * int(buf.length >> 2));
            break;
          }
          case 2: { // delete a range
            const at = int(buf.length + 1);
            buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(buf.length, at + 1 + int(64)))]);
            break;
          }
          case 3: { // duplicate a range somewhere else
            const from = int(buf.length + 1);
            const piece = Buffer.from(buf.subarray(from, from + 1 + int(128)));
            const at = int(buf.length + 1);
            buf = Buffer.concat([buf.subarray(0, at), piece, buf.subarray(at)]);
            break;
          }
          case 4: { // truncate
            buf = buf.subarray(0, int(buf.length + 1));
            break;
          }
          default: { // random bytes inserted
            const at = int(buf.length + 1);
            const junk = Buffer.from(Array.from({ length: 1 + int(24) }, () => int(256)));
            buf = Buffer.concat([buf.subarray(0, at), junk, buf.subarray(at)]);
          }
        }
      }
      try {
        const parsed = parseSnapshot(buf, PATH);
        assert.equal(parsed.path, PATH);
        for (const site of parsed.sites) assert.ok(parsed.stacks.has(site.stackId));
        outcomes.parsed++;
      } catch (error) {
        if (!(error instanceof LeakhuntError)) {
          assert.fail(`iteration ${i}: ${(error as Error)?.constructor?.name}: ${String(error)} on ${buf.toString('base64')}`);
        }
        assert.equal(error.exitCode, 2, error.message);
        assert.ok(!/[\r\n]/.test(error.message), JSON.stringify(error.message));
        assert.ok(error.message.startsWith(`${PATH}: `), error.message);
        outcomes.rejected++;
        messages.add(error.message.replace(/\d+/g, 'N'));
      }
    }
    t.diagnostic(`${JSON.stringify(outcomes)}, ${messages.size} kinds of rejection`);
    // The fuzzer must actually exercise the reader: mostly rejections, of many kinds, and a few survivors
    // (bit flips inside MAPS text or f64 values leave a valid file).
    assert.ok(outcomes.rejected > 2000, JSON.stringify(outcomes));
    assert.ok(outcomes.parsed > 20, JSON.stringify(outcomes));
    assert.ok(messages.size >= 8, [...messages].join(' | '));
  });
});

describe('readSnapshotFile', () => {
  let directory = '';
  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'leakhunt-snapshot-reader-'));
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  test('reads a file and names it in the result', () => {
    const path = join(directory, '000007.lhs');
    writeFileSync(path, snapshot());
    const s = readSnapshotFile(path);
    assert.equal(s.path, path);
    assert.equal(s.meta.pid, 4242);
  });

  test('a missing file is a one-line usage error naming it', () => {
    const path = join(directory, 'missing.lhs');
    assert.throws(() => readSnapshotFile(path), (error: unknown) => {
      assert.ok(error instanceof LeakhuntError);
      assert.equal(error.exitCode, 2);
      assert.ok(error.message.startsWith(`${path}: `));
      assert.match(error.message, /ENOENT/);
      return true;
    });
  });

  test('a corrupt file is rejected with its path', () => {
    const path = join(directory, '000008.lhs');
    writeFileSync(path, snapshot().subarray(0, 100));
    assert.throws(() => readSnapshotFile(path), (error: unknown) => error instanceof LeakhuntError && error.message.startsWith(`${path}: `));
  });
});

describe('parseSnapshot: version 2 (Java frames)', () => {
  const methodId = 0x7f00_1234_5678n;
  const javaStack = { id: 9, pcs: [0x401000n], java: [{ methodId, bci: 14 }, { methodId: 0x7f00_0000_0001n, bci: -3 }] };
  const javaMethod = (id: bigint, cls: string, name: string, source: string, lines: [number, number][]) => Buffer.concat([
    u64(id), u16(Buffer.byteLength(cls)), u16(Buffer.byteLength(name)), u16(Buffer.byteLength(source)), u16(0), u32(lines.length),
    Buffer.from(cls), Buffer.from(name), Buffer.from(source), ...lines.map(([bci, line]) => Buffer.concat([u32(bci), u32(line)])),
  ]);
  const v2Records = (methods: Buffer[], counterWords = 20) => {
    const records = validRecords();
    records[1] = record(T.counters, Buffer.concat(Array.from({ length: counterWords }, (_, i) => u64(i + 1))));
    records[5] = record(T.stacks, stacksPayload([...STACKS, javaStack]));
    records.splice(records.length - 1, 0, record(8, Buffer.concat([u32(methods.length), ...methods])));
    return records;
  };
  const v2 = (methods: Buffer[], counterWords = 20) => snapshot(v2Records(methods, counterWords), header({ version: 2 }));

  test('decodes the 160-byte COUNTERS, the Java frames and the JAVA_METHODS record', () => {
    const s = parseSnapshot(v2([javaMethod(methodId, 'Ldemo/Leaky;', 'track', 'Leaky.java', [[0, 10], [12, 11]])]), PATH);
    assert.equal(s.counters.javaStacks, 15);
    assert.equal(s.counters.javaStackFailures, 16);
    assert.equal(s.counters.shimResidentBytes, 17);
    assert.equal(s.counters.javaMethods, 18);
    assert.equal(s.counters.fastUnwinds, 0, 'words 19 and 20 were reserved in version 2');
    assert.deepEqual(s.stacks.get(9)!.javaFrames, [{ methodId, bci: 14 }, { methodId: 0x7f00_0000_0001n, bci: -3 }]);
    assert.deepEqual(s.javaMethods.get(methodId), {
      methodId, classSignature: 'Ldemo/Leaky;', name: 'track', sourceFile: 'Leaky.java', lines: [[0, 10], [12, 11]],
    });
  });

  test('rejects a version-2 file with version-1 counters, and JAVA_METHODS in a version-1 file', () => {
    assertRejected(v2([], 16), /record 2 has 128 bytes, expected 160/);
    const v1WithMethods = validRecords();
    v1WithMethods.splice(v1WithMethods.length - 1, 0, record(8, u32(0)));
    assertRejected(snapshot(v1WithMethods), /unknown record type 8/);
  });

  test('a method record cut short is rejected in one line', () => {
    const whole = javaMethod(methodId, 'Ldemo/Leaky;', 'track', 'Leaky.java', [[0, 10]]);
    assertRejected(v2([whole.subarray(0, whole.length - 3)]), /runs past|stray|truncated|corrupt/);
  });
});

describe('parseSnapshot: the RESIDENT record (resident memory by mapping)', () => {
  const mapping = (start: number, end: number, rss: number, flags: number, guard: number, above = 0) => Buffer.concat([
    u64(start), u64(end), u64(rss), u32(flags), u32(guard), u32(above), u32(0),
  ]);
  const resident = (entries: Buffer[], o: { flags?: number; entryBytes?: number; count?: number } = {}) => Buffer.concat([
    u64(8_000_000), u64(123_000_000), u64(70_000 * 1024), u32(4200), u32(o.count ?? entries.length), u32(o.entryBytes ?? 40),
    u32(o.flags ?? 0), u64(69_000 * 1024), u64(71_000 * 1024), ...entries,
  ]);
  const withResident = (payload: Buffer) => {
    const records = validRecords();
    records[1] = record(T.counters, Buffer.concat(Array.from({ length: 20 }, (_, i) => u64(i + 1))));
    records.splice(5, 0, record(11, payload));
    return snapshot(records, header({ version: 3 }));
  };
  const ENTRIES = [
    mapping(0x55d0c0a00000, 0x55d0c0a21000, 8192, 0x23, 0, 4096),
    mapping(0x7f28ec004000, 0x7f28ec100000, 53_248, 0x03, 16_384),
  ];

  test('decodes the mappings, the totals and the cost', () => {
    const s = parseSnapshot(withResident(resident(ENTRIES)), PATH);
    assert.deepEqual(s.resident, {
      readCpuNs: 8_000_000, threadCpuNs: 123_000_000, totalRssBytes: 70_000 * 1024, statusRssBytes: [69_000 * 1024, 71_000 * 1024], mappingCount: 4200,
      mappings: [
        { start: 0x55d0c0a00000, end: 0x55d0c0a21000, rssBytes: 8192, flags: 0x23, guardBelowBytes: 0, reservedAboveBytes: 4096 },
        { start: 0x7f28ec004000, end: 0x7f28ec100000, rssBytes: 53_248, flags: 0x03, guardBelowBytes: 16_384, reservedAboveBytes: 0 },
      ],
    });
  });

  test('a reading the shim flagged as failed is left out; a snapshot without the record has none', () => {
    assert.equal(parseSnapshot(withResident(resident([], { flags: 1 })), PATH).resident, undefined);
    assert.equal(parseSnapshot(snapshot(validRecords()), PATH).resident, undefined);
  });

  test('rejects entries of another size, a count past the record, mappings out of order, and the record in version 1', () => {
    assertRejected(withResident(resident(ENTRIES, { entryBytes: 32 })), /resident entries of 32 bytes/);
    assertRejected(withResident(resident(ENTRIES, { count: 3 })), /runs past its record/);
    assertRejected(withResident(resident([ENTRIES[1]!, ENTRIES[0]!])), /out of order/);
    const v1 = validRecords();
    v1.splice(5, 0, record(11, resident(ENTRIES)));
    assertRejected(snapshot(v1), /unknown record type 11/);
  });
});

describe('parseSnapshot: version 3 (site kinds, usable bytes, mapping counters)', () => {
  const v3Sites: SiteSpec[] = [
    { ...SITES[0]!, kindCode: 0, usable: 6_400_000.5 },
    { ...SITES[1]!, kindCode: 1, usable: 528_384 },
    { ...SITES[1]!, stackId: 5, kindCode: 2, usable: 4096 },
  ];
  const v3Records = (sites = v3Sites, counterWords = 20) => {
    const records = validRecords();
    records[1] = record(T.counters, Buffer.concat(Array.from({ length: counterWords }, (_, i) => u64(i + 1))));
    records[6] = record(T.sites, sitesPayload(sites));
    return records;
  };
  const v3 = (sites = v3Sites) => snapshot(v3Records(sites), header({ version: 3 }));

  test('decodes each site\'s kind and usable bytes, and the mapping counters', () => {
    const s = parseSnapshot(v3(), PATH);
    assert.deepEqual(s.sites.map((site) => [site.kind, site.liveUsableBytes]), [['malloc', 6_400_000.5], ['mmap-anon', 528_384], ['mmap-file', 4096]]);
    assert.equal(s.counters.trackedMappings, 19);
    assert.equal(s.counters.mappingDrops, 20);
    assert.equal(s.counters.fastUnwinds, 0, 'a 160-byte COUNTERS has no unwinder counters');
  });

  test('the 176-byte COUNTERS carries the unwinder\'s counters; other lengths are rejected', () => {
    const s = parseSnapshot(snapshot(v3Records(v3Sites, 22), header({ version: 3 })), PATH);
    assert.equal(s.counters.mappingDrops, 20);
    assert.equal(s.counters.fastUnwinds, 21);
    assert.equal(s.counters.unwindMismatches, 22);
    assertRejected(snapshot(v3Records(v3Sites, 21), header({ version: 3 })), /record 2 has 168 bytes, expected 160 or 176/);
    assertRejected(snapshot(v3Records(SITES, 22), header({ version: 2 })), /record 2 has 176 bytes, expected 160/);
  });

  test('the in-place site table of a series reads the same', () => {
    const { snapshot: s } = parseSnapshotShared(v3(), PATH, undefined);
    assert.ok(s.siteTable);
    assert.deepEqual(s.sites, parseSnapshot(v3(), PATH).sites);
    assert.deepEqual([0, 1, 2].map((i) => s.siteTable!.kind(i)), ['malloc', 'mmap-anon', 'mmap-file']);
  });

  test('version 2 files are still read: every site malloc, no usable bytes', () => {
    const s = parseSnapshot(snapshot(v3Records(SITES), header({ version: 2 })), PATH);
    assert.ok(s.sites.every((site) => site.kind === 'malloc' && site.liveUsableBytes === undefined));
    assert.equal(s.counters.trackedMappings, 0);
    const shared = parseSnapshotShared(snapshot(v3Records(SITES), header({ version: 2 })), PATH, undefined).snapshot;
    assert.deepEqual(shared.sites, s.sites);
  });

  test('104-byte entries carry first_seen_bytes (both readers); a 104-byte entry before version 3 is rejected', () => {
    const firstSeen = [1_048_576.5, 0, 8192];
    const entries = v3Sites.map((site, i) => Buffer.concat([siteBytes(site), f64(firstSeen[i]!)]));
    const payload = Buffer.concat([u32(entries.length), u32(104), ...entries]);
    const records = v3Records();
    records[6] = record(T.sites, payload);
    const bytes = snapshot(records, header({ version: 3 }));
    const s = parseSnapshot(bytes, PATH);
    assert.deepEqual(s.sites.map((site) => site.firstSeenBytes), firstSeen);
    assert.deepEqual(s.sites.map((site) => site.liveUsableBytes), [6_400_000.5, 528_384, 4096]);
    const { snapshot: shared } = parseSnapshotShared(bytes, PATH, undefined);
    assert.deepEqual(shared.sites, s.sites);
    assert.equal(shared.siteTable!.hasFirstSeen, true);
    assert.equal(parseSnapshot(v3(), PATH).sites[0]!.firstSeenBytes, undefined, '96-byte entries have none');
    assertRejected(snapshot(records, header({ version: 2 })), /site entries of 104 bytes/);
  });

  test('a kind it does not know, or a kind in a version-2 file, is rejected in one line', () => {
    assertRejected(v3([{ ...SITES[0]!, kindCode: 3 }]), /a site of unknown kind 3/);
    assertRejected(snapshot(v3Records([{ ...SITES[0]!, kindCode: 1 }]), header({ version: 2 })), /a site of unknown kind 1/);
    assert.throws(() => parseSnapshotShared(v3([{ ...SITES[0]!, kindCode: 7 }]), PATH, undefined), /unknown kind 7/);
  });
});
