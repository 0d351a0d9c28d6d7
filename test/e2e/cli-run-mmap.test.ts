/**
 * Memory taken with mmap (issue #10, part 3): real programs under the real shim. A C program leaking anonymous
 * mappings, keeping what a partial munmap leaves, growing a buffer with mremap, next to look-alikes (steady churn,
 * a resize-and-shrink with mremap, a plateau); a JVM whose JNI library keeps mappings; a Java service that keeps
 * MappedByteBuffers, and its look-alike that lets them be collected.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { fixtureBuild, javaBin, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';
import {
  assertGateFailsThenPasses, assertLeakFound, assertNoMappingGrows, assertNotGrowing, ownRates, type SiteJson,
} from './leak-assertions.js';

const MiB = 1024 * 1024;
const mmapLeaks = join(fixtureBuild, 'mmap_leaks');

before(async () => {
  await execa(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-mappings.mjs'), '--quiet'], { stdio: 'inherit' });
});

interface Timeline { snapshots: { liveBytes: number; liveMmapAnonBytes?: number }[] }

describe('a C program whose mappings leak, beside mappings that do not', () => {
  const dir = tempDir();
  const out = join(dir.path, 'all');
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: ReportJson;
  let rates: Map<string, number>;

  before(async () => {
    result = await runCli(['run', '--out', out, '--interval', '300ms', '--sample-bytes', '64KiB', '--', mmapLeaks, '--seconds', '6']);
    assert.equal(result.exitCode, 0, result.all);
    report = readJson<ReportJson>(join(out, 'report.json'));
    rates = ownRates(result.stdout, 'mmap_leaks');
  });
  after(() => dir.cleanup());

  it('anonymous mappings never unmapped: growing at the rate the program measured, as an mmap site', () => {
    const site = assertLeakFound(report, 'keep_anonymous_mappings_forever', rates.get('keep_anonymous_mappings_forever'), 'mmap-anon');
    assert.match(site.location, /mmap_leaks\.c:\d+/);
    assert.match(result.stdout, /^ +\d+ growing .* keep_anonymous_mappings_forever \(mmap_leaks\.c:\d+\) \[mmap\]$/m);
  });

  it('what partial munmaps leave (a head cut off, a hole punched) counts at the bytes still mapped', () => {
    assertLeakFound(report, 'trim_mapping_pieces', rates.get('trim_mapping_pieces'), 'mmap-anon');
  });

  it('a buffer grown by mremap (moved or not) keeps its site and grows at its own rate', () => {
    const site = assertLeakFound(report, 'grow_buffer_with_mremap', rates.get('grow_buffer_with_mremap'), 'mmap-anon');
    // Lineage: the buffer is as old as its first sampled mapping, not as its last mremap.
    const ages = (site as SiteJson & { ages?: { oldestSec: number } }).ages;
    assert.ok(ages && ages.oldestSec > 3, JSON.stringify(ages));
  });

  it('steady churn, a resize-and-shrink with mremap and a plateau are not growing', () => {
    for (const fn of ['map_and_unmap_steadily', 'resize_scratch_with_mremap', 'map_once_and_keep']) assertNotGrowing(report, fn);
    const plateau = report.sites.find((s) => s.function === 'map_once_and_keep');
    assert.ok(plateau, 'the plateau is sampled');
    // 64 mappings of 131101 bytes, each sampled with p = 1 − e^(−2): within sampling noise of 8 MiB.
    assert.ok(plateau.liveBytes > 5 * MiB && plateau.liveBytes < 12 * MiB, `plateau ${plateau.liveBytes}`);
  });

  it('the verdict is native-leak, naming an mmap site; live malloc stays out of it', () => {
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    assert.match(report.verdict.summary, /the top one, \w+ \[mmap\]/);
    const timeline = readJson<Timeline>(join(out, 'timeline.json')).snapshots;
    const first = timeline[0]!;
    const last = timeline[timeline.length - 1]!;
    assert.ok(last.liveMmapAnonBytes! - first.liveMmapAnonBytes! > 20 * MiB, JSON.stringify([first, last]));
    assert.ok(Math.abs(last.liveBytes - first.liveBytes) < 4 * MiB, 'the program mallocs next to nothing');
  });

  it('the raw snapshots are format 3 and count the tracked mappings', () => {
    const pid = readdirSync(join(out, 'raw'))[0]!;
    const file = readdirSync(join(out, 'raw', pid)).filter((f) => f.endsWith('.lhs')).sort().pop()!;
    assert.equal(readFileSync(join(out, 'raw', pid, file)).readUInt32LE(8), 3);
    const shim = (report as ReportJson & { shim: { trackedMappings: number; mappingDrops: number } }).shim;
    assert.ok(shim.trackedMappings > 100, JSON.stringify(shim));
    assert.equal(shim.mappingDrops, 0);
  });

  it('gate: 1 MiB/h fails, an absurd threshold passes', async () => {
    await assertGateFailsThenPasses(out);
  });
});

describe('the look-alikes on their own', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('steady mmap churn, mremap resizing and a plateau: no growing site, not native-leak', async () => {
    const out = join(dir.path, 'lookalikes');
    const result = await runCli(['run', '--out', out, '--interval', '300ms', '--sample-bytes', '64KiB', '--', mmapLeaks, '--seconds', '5',
      '--only', 'map_and_unmap_steadily', '--only', 'resize_scratch_with_mremap', '--only', 'map_once_and_keep']);
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assert.ok(!report.sites.some((s) => s.status === 'growing' && s.confidence >= 0.9), JSON.stringify(report.sites.map((s) => [s.function, s.status])));
    assert.notEqual(report.verdict.kind, 'native-leak', report.verdict.summary);
  });
});

const mappingService = (mode: string, seconds: number) => [javaBin, `-Djava.library.path=${join(fixtureBuild, 'mappings')}`, '-cp',
  join(fixtureBuild, 'mappings', 'classes'), 'mappings.MappingService', mode, '--seconds', String(seconds)];

describe('a JVM whose JNI library keeps anonymous mappings', () => {
  const dir = tempDir();
  const out = join(dir.path, 'jni');
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: ReportJson;

  before(async () => {
    result = await runCli(['run', '--out', out, '--interval', '500ms', '--sample-bytes', '64KiB', '--', ...mappingService('jni', 8)], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    report = readJson<ReportJson>(join(out, 'report.json'));
  });
  after(() => dir.cleanup());

  it('the JNI function is the site, growing at the rate the service measured, with its Java caller in the stack', () => {
    const fn = 'Java_mappings_NativeMappings_keepAnonymousMapping';
    const site = assertLeakFound(report, fn, ownRates(result.stdout, 'mappings').get(fn), 'mmap-anon');
    assert.ok(site.stack.some((f) => /^mappings\.MappingService\.run \(MappingService\.java:\d+\)$/.test(f)), site.stack.join('\n'));
  });

  it('the verdict is native-leak, not the Java heap; the unmapped scratch and the JVM\'s own mappings do not grow', () => {
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    assertNotGrowing(report, 'Java_mappings_NativeMappings_scratchMapping');
    assertNoMappingGrows(report, ['Java_mappings_NativeMappings_keepAnonymousMapping']);
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.startsWith('hs_err')), [], 'no JVM crash log');
  });

  it('gate: 1 MiB/h fails, an absurd threshold passes', async () => {
    await assertGateFailsThenPasses(out);
  });
});

describe('MappedByteBuffers kept for ever, and collected', () => {
  const dir = tempDir();
  const keepOut = join(dir.path, 'keep');
  const churnOut = join(dir.path, 'churn');
  let keep: Awaited<ReturnType<typeof runCli>>;
  let keepReport: ReportJson;
  let churnReport: ReportJson;

  before(async () => {
    let churn: Awaited<ReturnType<typeof runCli>>;
    [keep, churn] = await Promise.all([
      runCli(['run', '--out', keepOut, '--interval', '500ms', '--sample-bytes', '64KiB', '--', ...mappingService('mapped-keep', 8)], { cwd: dir.path }),
      runCli(['run', '--out', churnOut, '--interval', '500ms', '--sample-bytes', '64KiB', '--', ...mappingService('mapped-churn', 8)], { cwd: dir.path }),
    ]);
    assert.equal(keep.exitCode, 0, keep.all);
    assert.equal(churn.exitCode, 0, churn.all);
    keepReport = readJson<ReportJson>(join(keepOut, 'report.json'));
    churnReport = readJson<ReportJson>(join(churnOut, 'report.json'));
  });
  after(() => dir.cleanup());

  it('the site is FileChannel.map\'s caller, a file mapping growing at the rate the service measured', () => {
    const fn = 'mappings.MappingService.mapRequestRegion';
    const site = assertLeakFound(keepReport, fn, ownRates(keep.stdout, 'mappings').get(fn), 'mmap-file');
    // Through the JDK's native map0 and its mmap64, innermost first.
    const map0 = site.stack.findIndex((f) => /^Java_sun_nio_ch_FileChannelImpl_map0/.test(f));
    const map = site.stack.findIndex((f) => /^sun\.nio\.ch\.FileChannelImpl\.map \(/.test(f));
    const caller = site.stack.findIndex((f) => /^mappings\.MappingService\.mapRequestRegion \(MappingService\.java:\d+\)$/.test(f));
    assert.ok(map0 >= 0 && map0 < map && map < caller, site.stack.join('\n'));
    assert.match(keep.stdout, /\[mmap file\]$/m);
  });

  it('the verdict is native-leak; the gate fails at 1 MiB/h and passes at an absurd threshold', async () => {
    assert.equal(keepReport.verdict.kind, 'native-leak', keepReport.verdict.summary);
    assertNoMappingGrows(keepReport, ['mappings.MappingService.mapRequestRegion']);
    await assertGateFailsThenPasses(keepOut);
  });

  it('buffers the GC collects (System.gc() between batches) are churn: never growing, no mapping grows', () => {
    assertNotGrowing(churnReport, 'mappings.MappingService.mapAndForgetRegion');
    assertNoMappingGrows(churnReport);
  });
});
