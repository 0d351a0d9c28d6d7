/** Perf maps: the JVM's names for its code cache, parsed, looked up, chosen by time, and used by the session. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHeapProfile } from '../../src/pprof/build.js';
import { decodeHeapProfile } from '../../src/pprof/read.js';
import type { RawStack } from '../../src/snapshot/types.js';
import {
  parsePerfMap, PerfMap, perfMapFrame, perfMapOrder, PerfMapSet, readPerfMaps, SymbolizeSession, type TimedPerfMap,
} from '../../src/symbolize/index.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';

// As JDK 17's `jcmd <pid> Compiler.perfmap` writes them: not sorted, methods with return type and parameters.
const JDK17_MAP = `0x00007f6158ec71c0 0x0000000000000270 java.lang.Object jdk.internal.misc.Unsafe.getReferenceVolatile(java.lang.Object, long)
0x00007f6158ec7600 0x0000000000000218 void Spin.main(java.lang.String[])
0x00007f61514001a0 0x0000000000000110 void java.lang.Object.<init>()
0x00007f6158940b80 0x0000000000017de0 Interpreter
0x00007f6158958a00 0x00000000000001b0 I2C/C2I adapters
0x00007f6158938c00 0x0000000000007530 StubRoutines (1)
0x00007f7470ec7500 0x0000000000000300 long java.util.zip.Deflater.init(int, int, boolean)
this line is not an entry
0x00007f6158950000 0x0000000000000000 empty
`;

describe('parsePerfMap', () => {
  test('entries sorted by start, end exclusive, names kept whole; junk and empty entries skipped', () => {
    const entries = parsePerfMap(JDK17_MAP);
    assert.equal(entries.length, 7);
    assert.deepEqual(entries.map((e) => e.start), [...entries.map((e) => e.start)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const interpreter = entries.find((e) => e.name === 'Interpreter')!;
    assert.equal(interpreter.start, 0x7f6158940b80n);
    assert.equal(interpreter.end, 0x7f6158940b80n + 0x17de0n);
    assert.ok(entries.some((e) => e.name === 'java.lang.Object jdk.internal.misc.Unsafe.getReferenceVolatile(java.lang.Object, long)'));
  });

  test('perf(1)\'s own form: hex without 0x', () => {
    assert.deepEqual(parsePerfMap('7f0000001000 40 LazyCompile:~foo\n'), [{ start: 0x7f0000001000n, end: 0x7f0000001040n, name: 'LazyCompile:~foo' }]);
  });
});

describe('PerfMap.lookup', () => {
  const map = PerfMap.parse(JDK17_MAP);
  test('first byte in, last byte in, one past the end out', () => {
    assert.equal(map.lookup(0x7f6158940b80n)?.name, 'Interpreter');
    assert.equal(map.lookup(0x7f6158940b80n + 0x17de0n - 1n)?.name, 'Interpreter');
    assert.equal(map.lookup(0x7f6158940b80n + 0x17de0n), undefined);
    assert.equal(map.lookup(0x7f6158940b7fn), undefined);
    assert.equal(map.lookup(0n), undefined);
    assert.equal(map.lookup(0xffffffffffffffffn), undefined);
  });

  test('overlapping entries: the innermost one, even when a later-starting entry does not hold the address', () => {
    const overlapping = new PerfMap([
      { start: 0x1000n, end: 0x9000n, name: 'outer blob' },
      { start: 0x2000n, end: 0x2100n, name: 'inner stub' },
      { start: 0x3000n, end: 0x3100n, name: 'another stub' },
    ]);
    assert.equal(overlapping.lookup(0x2050n)?.name, 'inner stub');
    assert.equal(overlapping.lookup(0x2800n)?.name, 'outer blob'); // after inner stub's end, before another stub
    assert.equal(overlapping.lookup(0x5000n)?.name, 'outer blob');
    assert.equal(overlapping.lookup(0x9000n), undefined);
  });

  test('many entries: every entry found by its middle', () => {
    const entries = Array.from({ length: 5000 }, (_, i) => ({ start: 0x10000n + BigInt(i) * 0x100n, end: 0x10000n + BigInt(i) * 0x100n + 0x80n, name: `m${i}` }));
    const big = new PerfMap(entries.slice().reverse());
    for (let i = 0; i < entries.length; i += 97) assert.equal(big.lookup(entries[i]!.start + 0x40n)?.name, `m${i}`);
    assert.equal(big.lookup(entries[10]!.start + 0x80n), undefined, 'the gap between two entries');
  });
});

describe('perfMapFrame', () => {
  test('methods in the report\'s Java form', () => {
    assert.deepEqual(perfMapFrame('long java.util.zip.Deflater.init(int, int, boolean)'), { functionName: 'java.util.zip.Deflater.init' });
    assert.deepEqual(perfMapFrame('void java.lang.Object.<init>()'), { functionName: 'java.lang.Object.<init>' });
    assert.deepEqual(perfMapFrame('void Spin.main(java.lang.String[])'), { functionName: 'Spin.main' });
    assert.deepEqual(perfMapFrame('byte[] demo.Codec$Inner.encode(byte[], int)'), { functionName: 'demo.Codec$Inner.encode' });
    assert.deepEqual(perfMapFrame('void demo.Foo$$Lambda$14/0x0000000800c03000.run()'), { functionName: 'demo.Foo$$Lambda$14/0x0000000800c03000.run' });
    assert.deepEqual(perfMapFrame('java.lang.Object jdk.internal.misc.Unsafe.getReferenceVolatile(java.lang.Object, long)'),
      { functionName: 'jdk.internal.misc.Unsafe.getReferenceVolatile' });
    assert.deepEqual(perfMapFrame('int java.lang.String.hashCode() [tier 4]'), { functionName: 'java.lang.String.hashCode' });
  });

  test('the JVM\'s stubs by their own name, marked', () => {
    assert.deepEqual(perfMapFrame('Interpreter'), { functionName: 'Interpreter [jvm stub]' });
    assert.deepEqual(perfMapFrame('I2C/C2I adapters'), { functionName: 'I2C/C2I adapters [jvm stub]' });
    assert.deepEqual(perfMapFrame('StubRoutines (1)'), { functionName: 'StubRoutines (1) [jvm stub]' });
    assert.deepEqual(perfMapFrame('new_instance Runtime1 stub'), { functionName: 'new_instance Runtime1 stub [jvm stub]' });
  });

  test('in a process that is no JVM: V8\'s JavaScript functions and builtins, Python\'s functions, others as written', () => {
    const other = (name: string) => perfMapFrame(name, false);
    // node 20 (--perf-basic-prof): "JS:" and a tier mark (~ interpreted, ^ baseline, + Maglev, * optimised).
    assert.deepEqual(other('JS:*rememberRequestBody /srv/app/leak.js:12:29'), { functionName: 'rememberRequestBody', fileName: '/srv/app/leak.js', line: 12 });
    assert.deepEqual(other('JS:^allocUnsafeSlow node:buffer:414:24'), { functionName: 'allocUnsafeSlow', fileName: 'node:buffer', line: 414 });
    assert.deepEqual(other('JS:~listOnTimeout node:internal/timers:524:25'), { functionName: 'listOnTimeout', fileName: 'node:internal/timers', line: 524 });
    assert.deepEqual(other('JS:~ /srv/app/leak.js:8:31'), { functionName: '(anonymous)', fileName: '/srv/app/leak.js', line: 8 });
    assert.deepEqual(other('JS:*handle file:///srv/app/server.mjs:40:5'), { functionName: 'handle', fileName: '/srv/app/server.mjs', line: 40 }, 'an ES module\'s URL');
    assert.deepEqual(other('JS:~get length node:buffer:10:3'), { functionName: 'get length', fileName: 'node:buffer', line: 10 });
    // Older V8 (node 16) and a script without a location.
    assert.deepEqual(other('LazyCompile:*handle /srv/app.js:3:1'), { functionName: 'handle', fileName: '/srv/app.js', line: 3 });
    assert.deepEqual(other('Function:~wasm-function[3]'), { functionName: 'wasm-function[3]' });
    assert.deepEqual(other('Builtin:CEntry_Return1_ArgvOnStack_BuiltinExit'), { functionName: 'Builtins_CEntry_Return1_ArgvOnStack_BuiltinExit' });
    // Python 3.12+ (-X perf).
    assert.deepEqual(other('py::remember_request:/srv/app/leak.py'), { functionName: 'remember_request', fileName: '/srv/app/leak.py' });
    // Anything else: the runtime's own name, never a JVM stub.
    assert.deepEqual(other('LuaJIT trace 42'), { functionName: 'LuaJIT trace 42' });
    assert.deepEqual(other('Interpreter'), { functionName: 'Interpreter' });
  });
});

describe('perfMapOrder: which map names the code of a snapshot', () => {
  const maps = [{ firstMs: 1000, lastMs: 1000 }, { firstMs: 3000, lastMs: 5000 }, { firstMs: 8000, lastMs: 8000 }];
  test('the closest at or after the snapshot', () => {
    assert.equal(perfMapOrder(maps, 500)[0], 0);
    assert.equal(perfMapOrder(maps, 1000)[0], 0);
    assert.equal(perfMapOrder(maps, 1001)[0], 1);
    assert.equal(perfMapOrder(maps, 2999)[0], 1);
    assert.equal(perfMapOrder(maps, 5001)[0], 2);
  });
  test('a map seen unchanged from before to after the snapshot held its code at that time', () => {
    assert.equal(perfMapOrder(maps, 4000)[0], 1);
  });
  test('after the last map: the latest before', () => {
    assert.equal(perfMapOrder(maps, 9000)[0], 2);
  });
  test('then every other map, nearest in time first', () => {
    assert.deepEqual(perfMapOrder(maps, 1500), [1, 0, 2]);
    assert.deepEqual(perfMapOrder(maps, 7000), [2, 1, 0]);
    assert.deepEqual(perfMapOrder([], 7000), []);
  });
  test('input order does not matter', () => {
    const shuffled = [maps[2]!, maps[0]!, maps[1]!];
    assert.deepEqual(perfMapOrder(shuffled, 1500), [2, 1, 0]);
  });
});

describe('PerfMapSet', () => {
  // Address 0x5000 held method A until it was flushed; B was compiled there later.
  const early: TimedPerfMap = { firstMs: 1000, lastMs: 1000, map: () => PerfMap.parse('0x5000 0x100 void demo.A.first()\n0x9000 0x10 Interpreter\n') };
  const late: TimedPerfMap = { firstMs: 6000, lastMs: 6000, map: () => PerfMap.parse('0x5000 0x80 void demo.B.second()\n') };
  const set = new PerfMapSet([late, early]);
  test('an address reused by the JIT is named as it was at the time', () => {
    assert.equal(set.lookup(0x5010n, 900)?.entry.name, 'void demo.A.first()');
    assert.equal(set.lookup(0x5010n, 2000)?.entry.name, 'void demo.B.second()');
    assert.equal(set.lookup(0x5010n, 9000)?.entry.name, 'void demo.B.second()');
  });
  test('an address the chosen map lacks is looked up in the others', () => {
    const hit = set.lookup(0x9004n, 5000);
    assert.equal(hit?.entry.name, 'Interpreter');
    assert.equal(hit?.rank, 1);
    assert.equal(set.lookup(0x5090n, 5000)?.entry.name, 'void demo.A.first()'); // past B's end, inside A's
    assert.equal(set.lookup(0x7000n, 5000), undefined);
  });
  test('a map that cannot be read names nothing, and breaks nothing', () => {
    const broken = new PerfMapSet([{ firstMs: 0, lastMs: 0, map: () => { throw new Error('gone'); } }, early]);
    assert.equal(broken.lookup(0x5010n, 0)?.entry.name, 'void demo.A.first()');
  });
});

describe('readPerfMaps: perfmaps/<pid>/ of a run directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leakhunt-perfmap-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('times are relative to the run\'s start; a map seen twice spans both', () => {
    const pmDir = join(dir, 'perfmaps', '42');
    mkdirSync(pmDir, { recursive: true });
    writeFileSync(join(pmDir, '1000.map'), '0x5000 0x100 void demo.A.first()\n');
    writeFileSync(join(pmDir, '6000.map'), '0x5000 0x80 void demo.B.second()\n');
    writeFileSync(join(pmDir, 'index.json'), JSON.stringify({
      schema: 'leakhunt.perfmaps/v1', pid: 42, startedAtMs: 1_000_000, maps: [
        { file: '1000.map', timeMs: 1000, lastTimeMs: 4000, source: 'jcmd', entries: 1 },
        { file: '6000.map', timeMs: 6000, lastTimeMs: 6000, source: 'jcmd', entries: 1 },
        { file: '../../escape.map', timeMs: 7000 },
      ], notes: [],
    }));
    const set = readPerfMaps(pmDir)!;
    assert.equal(set.size, 2, 'a file name with a path in it is not followed');
    assert.equal(set.lookup(0x5010n, 1_000_000 + 3000)?.entry.name, 'void demo.A.first()');
    assert.equal(set.lookup(0x5010n, 1_000_000 + 4500)?.entry.name, 'void demo.B.second()');
  });

  test('no index, or another schema: none', () => {
    assert.equal(readPerfMaps(join(dir, 'perfmaps', 'nothing')), undefined);
    const other = join(dir, 'perfmaps', '7');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'index.json'), JSON.stringify({ schema: 'something/v9', maps: [] }));
    assert.equal(readPerfMaps(other), undefined);
  });
});

describe('the symbolize session names code-cache frames from the perf map', () => {
  // A JVM's maps: libz (file-backed, not read here: the pc below is not in it), and the code cache (anonymous rwx).
  const maps = [
    '7f0000000000-7f0000100000 rwxp 00000000 00:00 0 ',
    '7f0000200000-7f0000210000 r-xp 00000000 00:00 0 ',
  ].join('\n');
  const wrapperPc = 0x7f0000001235n; // return address inside "long java.util.zip.Deflater.init(int, int, boolean)"
  const interpreterPc = 0x7f0000050001n;
  const unknownPc = 0x7f00000f0001n;
  const heapPc = 0x7f0000205000n; // anonymous executable, but nothing of the JVM's there
  const perfMaps = new PerfMapSet([{
    firstMs: 2000, lastMs: 2000,
    map: () => PerfMap.parse('0x7f0000001200 0x100 long java.util.zip.Deflater.init(int, int, boolean)\n0x7f0000040000 0x17de0 Interpreter\n'),
  }]);
  const stack = (id: number, pcs: bigint[], javaFrames: RawStack['javaFrames'] = []): RawStack => ({ id, pcs, javaFrames });
  const snapshot = rawSnapshot({
    maps,
    meta: { realtimeNs: 1_500_000_000n },
    stacks: new Map([
      [1, stack(1, [wrapperPc])],
      [2, stack(2, [interpreterPc, unknownPc, heapPc])],
      [3, stack(3, [wrapperPc], [{ methodId: 77n, bci: 5 }])],
    ]),
    sites: [1, 2, 3].map((stackId) => ({
      stackId, liveSamples: 1, liveSampledBytes: 100, liveObjects: 1, liveBytes: 100, allocSamples: 1, allocObjects: 1, allocBytes: 100,
      oldestLiveMs: 0, newestLiveMs: 0, meanLiveMs: 0,
    })),
    javaMethods: new Map([[77n, { methodId: 77n, classSignature: 'Ldemo/Leaky;', name: 'leak', sourceFile: 'Leaky.java', lines: [[0, 12]] }]]),
  });

  test('a JIT method in Java form, a stub marked; an address no perf map holds stays an address', async () => {
    const session = new SymbolizeSession({ perfMaps });
    try {
      const symbolized = await session.symbolize(snapshot);
      assert.deepEqual(symbolized.locations.get(wrapperPc)!.frames, [{ functionName: 'java.util.zip.Deflater.init' }]);
      assert.equal(symbolized.locations.get(wrapperPc)!.symbolized, true);
      assert.deepEqual(symbolized.locations.get(interpreterPc)!.frames, [{ functionName: 'Interpreter [jvm stub]' }]);
      assert.deepEqual(symbolized.locations.get(unknownPc)!.frames, [{ functionName: `0x${(unknownPc - 1n).toString(16)}` }]);
      assert.equal(symbolized.locations.get(unknownPc)!.symbolized, false);
      assert.deepEqual(symbolized.locations.get(heapPc)!.frames, [{ functionName: `0x${(heapPc - 1n).toString(16)}` }]);
    } finally {
      await session.close();
    }
  });

  test('a pc keeps the name it had in the first snapshot that held it, even when the address is reused later', async () => {
    const reused = new PerfMapSet([
      { firstMs: 2000, lastMs: 2000, map: () => PerfMap.parse('0x7f0000001200 0x100 long java.util.zip.Deflater.init(int, int, boolean)\n') },
      { firstMs: 9000, lastMs: 9000, map: () => PerfMap.parse('0x7f0000001200 0x100 void demo.Other.method()\n') },
    ]);
    const session = new SymbolizeSession({ perfMaps: reused });
    try {
      await session.symbolize(snapshot);
      const later = await session.symbolize(rawSnapshot({ ...snapshot, meta: { realtimeNs: 8_500_000_000n } }));
      assert.equal(later.locations.get(wrapperPc)!.frames[0]!.functionName, 'java.util.zip.Deflater.init');
      const fresh = new SymbolizeSession({ perfMaps: reused });
      const alone = await fresh.symbolize(rawSnapshot({ ...snapshot, meta: { realtimeNs: 8_500_000_000n } }));
      assert.equal(alone.locations.get(wrapperPc)!.frames[0]!.functionName, 'demo.Other.method');
      await fresh.close();
    } finally {
      await session.close();
    }
  });

  test('in the profile: shown when the sample has no Java stack, dropped (as before) when it has one', async () => {
    const session = new SymbolizeSession({ perfMaps });
    try {
      const symbolized = await session.symbolize(snapshot);
      const profile = decodeHeapProfile(buildHeapProfile(symbolized, { timeNanos: 0n }).encode(), 'test');
      const byStack = (id: number) => profile.samples.find((s) => s.labels['stack_id'] === id)!.stack.map((f) => f.functionName);
      assert.deepEqual(byStack(1), ['java.util.zip.Deflater.init']);
      assert.deepEqual(byStack(2), ['Interpreter [jvm stub]', `0x${(unknownPc - 1n).toString(16)}`, `0x${(heapPc - 1n).toString(16)}`]);
      assert.deepEqual(byStack(3), ['demo.Leaky.leak'], 'the Java frame, without the code-cache frame before it');
    } finally {
      await session.close();
    }
  });

  test('without perf maps nothing changes', async () => {
    const session = new SymbolizeSession();
    try {
      const symbolized = await session.symbolize(snapshot);
      assert.deepEqual(symbolized.locations.get(wrapperPc)!.frames, [{ functionName: `0x${(wrapperPc - 1n).toString(16)}` }]);
    } finally {
      await session.close();
    }
  });
});
