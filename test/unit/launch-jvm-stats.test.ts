/** jcmd's output as leakhunt reads it: the Java heap of every collector, NMT's summary, and when a JVM may be asked. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { catchesSigquit } from '../../src/launch/hotspot-attach.js';
import { libjvmOf, parseHeapInfo, parseJvmRanges, parseNmtSummary } from '../../src/launch/jvm-stats.js';

const K = 1024;
const M = 1024 * K;

describe('parseHeapInfo', () => {
  test('G1: the heap line, not Metaspace', () => {
    const text = `2474:
 garbage-first heap   total 18432K, used 5578K [0x00000000e0000000, 0x0000000100000000)
  region size 1024K, 2 young (2048K), 1 survivors (1024K)
 Metaspace       used 8923K, committed 9088K, reserved 1114112K
  class space    used 1062K, committed 1152K, reserved 1048576K
`;
    assert.deepEqual(parseHeapInfo(text), { usedBytes: 5578 * K, committedBytes: 18432 * K });
  });

  test('Serial and Parallel: young and old generations added up', () => {
    const serial = ` def new generation   total 116160K, used 20659K [0x0000000687400000, 0x000000068f200000, 0x0000000704d50000)
  eden space 103296K,  20% used [0x0000000687400000, 0x000000068882cfa0, 0x000000068d8e0000)
 tenured generation   total 258048K, used 10K [0x0000000704d50000, 0x0000000714950000, 0x0000000800000000)
   the space 258048K,   0% used [0x0000000704d50000, 0x0000000704d50000, 0x0000000704d50200, 0x0000000714950000)
 Metaspace       used 8925K, committed 9088K, reserved 1114112K`;
    assert.deepEqual(parseHeapInfo(serial), { usedBytes: 20669 * K, committedBytes: 374208 * K });
    const parallel = ` PSYoungGen      total 113152K, used 17511K [0x0000000782700000, 0x000000078a500000, 0x0000000800000000)
  eden space 97280K, 18% used [0x0000000782700000,0x0000000783819d70,0x0000000788600000)
 ParOldGen       total 258048K, used 0K [0x0000000687400000, 0x0000000697000000, 0x0000000782700000)`;
    assert.deepEqual(parseHeapInfo(parallel), { usedBytes: 17511 * K, committedBytes: 371200 * K });
  });

  test('ZGC and Shenandoah', () => {
    assert.deepEqual(parseHeapInfo(' ZHeap           used 52M, capacity 378M, max capacity 6028M\n'), { usedBytes: 52 * M, committedBytes: 378 * M });
    assert.deepEqual(parseHeapInfo('Shenandoah Heap\n 6028M max, 6028M soft max, 378M committed, 18432K used\n 3014 x 2048K regions\n'),
      { usedBytes: 18432 * K, committedBytes: 378 * M });
  });

  test('nothing recognisable: undefined', () => {
    assert.equal(parseHeapInfo('123:\ncom.sun.tools.attach.AttachNotSupportedException: Unable to open socket file'), undefined);
  });
});

const nmt17 = `6769:

Native Memory Tracking:

(Omitting categories weighting less than 1KB)

Total: reserved=1985692KB, committed=90944KB
       malloc: 9376KB #61117
       mmap:   reserved=1976316KB, committed=81568KB

-                 Java Heap (reserved=524288KB, committed=18432KB)
                            (mmap: reserved=524288KB, committed=18432KB) 
 
-                     Class (reserved=1048800KB, committed=1376KB)
                            (classes #2498)
                            (malloc=224KB #4094) (at peak) 
                            (mmap: reserved=1048576KB, committed=1152KB) 
 
-                    Thread (reserved=21559KB, committed=927KB)
                            (thread #21)
                            (stack: reserved=21504KB, committed=872KB)
                            (malloc=32KB #130) (peak=40KB #134) 
                            (arena=23KB #40) (peak=914KB #34)
 
-    Native Memory Tracking (reserved=969KB, committed=969KB)
                            (malloc=15KB #243) (at peak) 
                            (tracking overhead=955KB)
`;

describe('parseNmtSummary', () => {
  test('total committed, its malloc part, the Java heap and every category', () => {
    assert.deepEqual(parseNmtSummary(nmt17), {
      committedBytes: 90944 * K, mallocBytes: 9376 * K, javaHeapCommittedBytes: 18432 * K,
      categories: { 'Java Heap': 18432 * K, Class: 1376 * K, Thread: 927 * K, 'Native Memory Tracking': 969 * K },
      mmapCategories: { 'Java Heap': 18432 * K, Class: 1152 * K },
    });
  });

  test('without the malloc total (older JDKs), the categories\' malloc and arena added up', () => {
    const older = nmt17.replace(/^\s+malloc: .*\n/m, '');
    assert.equal(parseNmtSummary(older)!.mallocBytes, (224 + 32 + 23 + 15) * K);
  });

  test('NMT off: undefined', () => {
    assert.equal(parseNmtSummary('23316:\nNative memory tracking is not enabled\n'), undefined);
  });
});

describe('parseJvmRanges', () => {
  // From a JDK 17 `jcmd <pid> VM.info` (G1, compressed oops and class pointers).
  const vmInfo = `3380:
---------------  P R O C E S S  ---------------

Heap address: 0x00000000e0000000, size: 512 MB, Compressed Oops mode: 32-bit

CDS archive(s) mapped at: [0x00007fb00b000000-0x00007fb00bbc7000-0x00007fb00bbc7000), size 12349440, SharedBaseAddress: 0x00007fb00b000000, ArchiveRelocationMode: 1.
Compressed class space mapped at: 0x00007fb00c000000-0x00007fb04c000000, reserved size: 1073741824
Narrow klass base: 0x00007fb00b000000, Narrow klass shift: 0, Narrow klass range: 0x100000000

Heap:
 garbage-first heap   total 389120K, used 2340K [0x00000000e0000000, 0x0000000100000000)
  region size 1024K, 2 young (2048K), 0 survivors (0K)
 Metaspace       used 73K, committed 320K, reserved 1114112K

CodeHeap 'non-profiled nmethods': size=120036Kb used=1Kb max_used=1Kb free=120034Kb
 bounds [0x00007fb070ec7000, 0x00007fb071137000, 0x00007fb078400000]
CodeHeap 'profiled nmethods': size=120032Kb used=3Kb max_used=3Kb free=120028Kb
 bounds [0x00007fb069400000, 0x00007fb069670000, 0x00007fb070938000]
CodeHeap 'non-nmethods': size=5692Kb used=1031Kb max_used=1031Kb free=4660Kb
 bounds [0x00007fb070938000, 0x00007fb070ba8000, 0x00007fb070ec7000]

Card table byte_map: [0x00007fb086228000,0x00007fb086328000] _byte_map_base: 0x00007fb085b28000

Marking Bits (Prev, Next): (CMBitMap*) 0x00007fb0800467f0, (CMBitMap*) 0x00007fb080046830
 Prev Bits: [0x00007fb085800000, 0x00007fb086000000)
 Next Bits: [0x00007fb085000000, 0x00007fb085800000)
`;

  test('VM.info: the heap, the three code heaps, the class space, the card table and marking bitmaps', () => {
    assert.deepEqual(parseJvmRanges(vmInfo), {
      javaHeap: [{ start: 0xe0000000, end: 0x100000000 }],
      codeCache: [
        { start: 0x7fb069400000, end: 0x7fb070938000 }, { start: 0x7fb070938000, end: 0x7fb070ec7000 },
        { start: 0x7fb070ec7000, end: 0x7fb078400000 },
      ],
      classSpace: { start: 0x7fb00c000000, end: 0x7fb04c000000 },
      gcStructures: [
        { start: 0x7fb085000000, end: 0x7fb085800000 }, { start: 0x7fb085800000, end: 0x7fb086000000 },
        { start: 0x7fb086228000, end: 0x7fb086328000 },
      ],
    });
  });

  test('GC.heap_info without the heap address line: the generations\' ranges (Serial), Shenandoah\'s reserved region', () => {
    const serial = ` def new generation   total 116160K, used 20659K [0x0000000687400000, 0x000000068f200000, 0x0000000704d50000)
  eden space 103296K,  20% used [0x0000000687400000, 0x000000068882cfa0, 0x000000068d8e0000)
 tenured generation   total 258048K, used 10K [0x0000000704d50000, 0x0000000714950000, 0x0000000800000000)
   the space 258048K,   0% used [0x0000000704d50000, 0x0000000704d50000, 0x0000000704d50200, 0x0000000714950000)`;
    assert.deepEqual(parseJvmRanges(serial).javaHeap, [{ start: 0x687400000, end: 0x704d50000 }, { start: 0x704d50000, end: 0x800000000 }]);
    const shenandoah = 'Shenandoah Heap\n 6028M max, 6028M soft max, 378M committed, 18432K used\nReserved region:\n - [0x0000000682200000, 0x00000007f0000000)\n';
    assert.deepEqual(parseJvmRanges(shenandoah).javaHeap, [{ start: 0x682200000, end: 0x7f0000000 }]);
  });

  test('ZGC (no ranges printed) and nonsense: nothing', () => {
    assert.deepEqual(parseJvmRanges(' ZHeap           used 52M, capacity 378M, max capacity 6028M\n'), {});
    assert.deepEqual(parseJvmRanges('com.sun.tools.attach.AttachNotSupportedException'), {});
  });
});

describe('which process to ask', () => {
  test('a JVM is a process that maps libjvm.so', () => {
    const maps = '7f0000000000-7f0000100000 r-xp 00000000 08:01 42 /usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so\n';
    assert.equal(libjvmOf(maps), '/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so');
    assert.equal(libjvmOf('7f0000000000-7f0000100000 r-xp 00000000 08:01 42 /usr/lib/x86_64-linux-gnu/libc.so.6\n'), undefined);
  });

  test('only once it catches SIGQUIT (jcmd attaches with it)', () => {
    assert.equal(catchesSigquit('Name:\tjava\nSigCgt:\t2000000101005ccf\n'), true);
    assert.equal(catchesSigquit('Name:\tjava\nSigCgt:\t0000000000000000\n'), false);
    assert.equal(catchesSigquit(''), false);
  });
});
