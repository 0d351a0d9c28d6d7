import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findHsperfdata, jvmMemoryOf, parseHsperfdata, readHsperfdata, type PerfValue } from '../../src/launch/hsperfdata.js';
import { xorshift32 as prng } from './helpers/prng.js';

const data = (name: string) => fileURLToPath(new URL(`../../../test/unit/data/${name}`, import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const javaHome = process.env.JAVA_HOME || '/usr/lib/jvm/java-17-openjdk-amd64';

/** `jstat -gc`'s header and one row, as numbers by column (KiB). */
function jstatColumns(text: string): Record<string, number> {
  const [head, row] = text.trim().split('\n').map((line) => line.trim().split(/\s+/));
  return Object.fromEntries(head!.map((name, i) => [name, Number(row![i])]));
}

/** The same columns from the counters, as jstat computes them (bytes / 1024). */
function columnsOf(counters: ReadonlyMap<string, PerfValue>): Record<string, number> {
  const kib = (name: string) => Number(counters.get(name)) / 1024;
  return {
    S0C: kib('sun.gc.generation.0.space.1.capacity'), S1C: kib('sun.gc.generation.0.space.2.capacity'),
    S0U: kib('sun.gc.generation.0.space.1.used'), S1U: kib('sun.gc.generation.0.space.2.used'),
    EC: kib('sun.gc.generation.0.space.0.capacity'), EU: kib('sun.gc.generation.0.space.0.used'),
    OC: kib('sun.gc.generation.1.space.0.capacity'), OU: kib('sun.gc.generation.1.space.0.used'),
    MC: kib('sun.gc.metaspace.capacity'), MU: kib('sun.gc.metaspace.used'),
    CCSC: kib('sun.gc.compressedclassspace.capacity'), CCSU: kib('sun.gc.compressedclassspace.used'),
  };
}

function assertLikeJstat(counters: ReadonlyMap<string, PerfValue>, jstat: Record<string, number>, usedToleranceKib: number): void {
  const ours = columnsOf(counters);
  for (const [column, value] of Object.entries(ours)) {
    const tolerance = column.endsWith('U') ? usedToleranceKib : 0.05; // jstat prints one decimal
    assert.ok(Math.abs(value - jstat[column]!) <= tolerance, `${column}: ours ${value.toFixed(1)} KiB, jstat ${jstat[column]}`);
  }
  const memory = jvmMemoryOf(counters)!;
  const heapCommittedKib = jstat.S0C! + jstat.S1C! + jstat.EC! + jstat.OC!;
  const heapUsedKib = jstat.S0U! + jstat.S1U! + jstat.EU! + jstat.OU!;
  assert.ok(Math.abs(memory.heapCommittedBytes / 1024 - heapCommittedKib) <= 0.2, `heap committed ${memory.heapCommittedBytes / 1024} vs ${heapCommittedKib}`);
  assert.ok(Math.abs(memory.heapUsedBytes / 1024 - heapUsedKib) <= 0.2 + 4 * usedToleranceKib, `heap used ${memory.heapUsedBytes / 1024} vs ${heapUsedKib}`);
  assert.ok(Math.abs(memory.metaspaceCommittedBytes! / 1024 - jstat.MC!) <= 0.05);
  assert.ok(Math.abs(memory.classSpaceCommittedBytes! / 1024 - jstat.CCSC!) <= 0.05);
}

describe('hsperfdata', () => {
  test('a real file from a JDK 17 (G1) JVM reads as jstat -gc read it at the same moment', () => {
    const counters = parseHsperfdata(readFileSync(data('hsperfdata-jdk17-g1.bin')));
    assert.equal(counters.get('sun.gc.policy.name'), 'GarbageFirst');
    assert.equal(counters.get('sun.rt.javaCommand'), 'Settle');
    assert.equal(counters.get('sun.gc.generation.0.name'), 'young');
    assertLikeJstat(counters, jstatColumns(readFileSync(data('hsperfdata-jdk17-g1.jstat-gc.txt'), 'utf8')), 0.05);
    const memory = jvmMemoryOf(counters)!;
    // G1 pads its capacity counters by a few bytes each (so none is 0).
    assert.ok(Math.abs(memory.heapCommittedBytes - (12_288 + 53_248) * 1024) <= 64, String(memory.heapCommittedBytes));
    assert.equal(memory.liveThreads, Number(counters.get('java.threads.live')));
  });

  test('a damaged file is refused with an Error, never read past its end', () => {
    const good = readFileSync(data('hsperfdata-jdk17-g1.bin'));
    assert.throws(() => parseHsperfdata(Buffer.alloc(16)), /bad magic/);
    assert.throws(() => parseHsperfdata(Buffer.concat([Buffer.from([0xca, 0xfe, 0xc0, 0xc0, 1, 3]), good.subarray(6)])), /version 3/);
    assert.throws(() => parseHsperfdata(good.subarray(0, 2000)), /outside the file|damaged/);
    const rng = prng(0x5eed);
    let parsed = 0;
    for (let i = 0; i < 500; i++) {
      const buf = Buffer.from(good);
      for (let k = 0; k < 4; k++) buf.writeInt32LE(Math.floor(rng() * 2 ** 31) * (rng() < 0.5 ? 1 : -1), 4 * Math.floor(rng() * (buf.length / 4)));
      try {
        parseHsperfdata(buf);
        parsed++;
      } catch (error) {
        assert.ok(error instanceof Error && !/[\r\n]/.test(error.message) && !(error instanceof RangeError), String(error));
      }
    }
    assert.ok(parsed > 0);
  });

  const classes = `${root}fixtures/build/heap/classes`;
  const jstat = `${javaHome}/bin/jstat`;
  test('a running JVM: our reading of its file agrees with jstat -gc', { skip: !existsSync(classes) || !existsSync(jstat) ? 'no JDK or fixtures' : false, timeout: 60_000 }, async () => {
    const child = spawn(`${javaHome}/bin/java`, ['-Xms32m', '-Xmx128m', '-cp', classes, 'heap.GrowingHeap', '--seconds', '30', '--kib-per-second', '0'], { stdio: 'ignore' });
    try {
      let path: string | undefined;
      for (let i = 0; i < 100 && !path; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        path = findHsperfdata(child.pid!);
      }
      assert.ok(path, 'the JVM has an hsperfdata file');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const counters = readHsperfdata(path)!;
      const columns = jstatColumns(execFileSync(jstat, ['-J-XX:-UsePerfData', '-gc', String(child.pid)], { encoding: 'utf8' }));
      // Between the two readings an idle JVM may still allocate a little (a few KiB of eden).
      assertLikeJstat(counters, columns, 2048);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
