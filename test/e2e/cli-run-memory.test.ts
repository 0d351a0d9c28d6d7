/**
 * Where did the RSS go? Real programs: glibc fragmentation (the fragmenter, bare and under leakhunt, with glibc
 * and with jemalloc preloaded, with the trim probe), a Java heap that grows, a JNI leak, a steady program.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { assertRssAccounted, demoCommand, fixtureBuild, javaBin, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';
import { assertNoMappingGrows } from './leak-assertions.js';
import { assertInstalled, jemalloc, skipWithout, tcmalloc } from './system-packages.js';

const MiB = 1024 * 1024;
const fragmenter = join(fixtureBuild, 'fragmenter');

interface AccountingRow { part: string; startBytes: number; endBytes: number; growthBytes: number; growthBytesPerHour: number }
type MemoryReport = ReportJson & {
  verdict: { kind: string; summary: string; evidence?: string[]; remedies?: string[] };
  memory: ReportJson['memory'] & {
    rssStartBytes: number; rssEndBytes: number;
    accounting?: AccountingRow[]; allocator?: string;
    trimProbe?: { rssBeforeBytes: number; rssAfterBytes: number; releasedBytes: number };
  };
};

// The fixtures of this file (up to date in a moment when scripts/build-fixtures.mjs already built them).
before(async () => {
  await execa(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-memory.mjs'), '--quiet'], { stdio: 'inherit' });
});

function part(report: MemoryReport, name: string): AccountingRow {
  const row = report.memory.accounting?.find((r) => r.part === name);
  assert.ok(row, `${name} in ${JSON.stringify(report.memory.accounting)}`);
  return row;
}

function rssGrowth(report: MemoryReport): number {
  return report.memory.accounting!.reduce((sum, r) => sum + r.growthBytes, 0);
}

/** The fragmenter's own report lines: t, rss, live, free (fordblks). */
function selfReports(stdout: string): { t: number; rss: number; live: number; free: number }[] {
  return [...stdout.matchAll(/^fragmenter t=([\d.]+) workers=\d+ rss=(\d+) live=(\d+) arena=\d+ in_use=\d+ free=(\d+)/gm)]
    .map((m) => ({ t: Number(m[1]), rss: Number(m[2]), live: Number(m[3]), free: Number(m[4]) }));
}

describe('the fragmenter on its own (no leakhunt): RSS grows while what it holds stays the same', () => {
  it('glibc keeps the freed memory (fordblks grows with RSS); with MALLOC_ARENA_MAX=2 it does not', async () => {
    const args = ['--seconds', '5', '--ramp-ms', '300', '--report-ms', '500'];
    const [plain, twoArenas] = await Promise.all([
      execa(fragmenter, args, { reject: false }),
      execa(fragmenter, args, { reject: false, env: { MALLOC_ARENA_MAX: '2' } }),
    ]);
    assert.equal(plain.exitCode, 0, plain.stderr);
    const points = selfReports(plain.stdout);
    assert.ok(points.length >= 8, plain.stdout);
    const first = points[0]!;
    const last = points[points.length - 1]!;
    assert.ok(points.every((p) => p.live === first.live), 'what the program holds never changes');
    assert.ok(last.rss - first.rss > 60 * MiB, `RSS ${first.rss} → ${last.rss}`);
    // glibc's free-but-kept memory is where the RSS went
    assert.ok(last.free - first.free > 0.8 * (last.rss - first.rss), `free ${first.free} → ${last.free}, RSS ${first.rss} → ${last.rss}`);
    // RSS rises at every report after the first worker started (the pool grows), not in one step
    const rises = points.slice(1).filter((p, i) => p.rss > points[i]!.rss + MiB).length;
    assert.ok(rises >= points.length / 2, `RSS rose in ${rises} of ${points.length - 1} intervals`);
    const arenas = selfReports(twoArenas.stdout);
    const arenasGrowth = arenas[arenas.length - 1]!.rss - arenas[0]!.rss;
    assert.ok(arenasGrowth < (last.rss - first.rss) / 3, `MALLOC_ARENA_MAX=2: RSS +${arenasGrowth}`);
  });
});

describe('leakhunt run: fragmentation, and jemalloc or tcmalloc in its place', () => {
  const dir = tempDir();
  const glibcOut = join(dir.path, 'glibc');
  const jemallocOut = join(dir.path, 'jemalloc');
  const tcmallocOut = join(dir.path, 'tcmalloc');
  let glibc: Awaited<ReturnType<typeof runCli>>;
  let glibcReport: MemoryReport;
  const command = [fragmenter, '--seconds', '8', '--ramp-ms', '500', '--report-ms', '0'];
  const runUnder = (out: string, allocator: string[]) => runCli(['run', '--out', out, ...allocator, '--interval', '500ms', '--sample-bytes', '16KiB', '--', ...command]);
  // The other allocators run beside glibc's run (the same load on the machine), each only when its test will run:
  // a missing jemalloc skips or fails its own test, never glibc's.
  const jemallocSkip = skipWithout(jemalloc);
  const tcmallocSkip = skipWithout(tcmalloc);
  let jemallocRun: ReturnType<typeof runCli> | undefined;
  let tcmallocRun: ReturnType<typeof runCli> | undefined;

  before(async () => {
    if (!jemallocSkip) jemallocRun = runUnder(jemallocOut, ['--allocator', 'jemalloc']);
    if (!tcmallocSkip) tcmallocRun = runUnder(tcmallocOut, ['--allocator', 'tcmalloc']);
    glibc = await runUnder(glibcOut, []);
    assert.equal(glibc.exitCode, 0, glibc.all);
    glibcReport = readJson<MemoryReport>(join(glibcOut, 'report.json'));
  });
  after(async () => {
    await Promise.allSettled([jemallocRun, tcmallocRun]);
    dir.cleanup();
  });

  it('says fragmentation, with no call site growing, and shows where the RSS went', () => {
    const report = glibcReport;
    assert.equal(report.verdict.kind, 'fragmentation', report.verdict.summary);
    assert.ok(!report.sites.some((s) => s.status === 'growing' && s.confidence >= 0.9), JSON.stringify(report.sites.map((s) => [s.function, s.status, s.confidence])));
    const retained = part(report, 'allocator-retained');
    const growth = rssGrowth(report);
    assert.ok(growth > 60 * MiB, `RSS +${growth}`);
    assert.ok(retained.growthBytes > 0.6 * growth, `retained +${retained.growthBytes} of RSS +${growth}`);
    assert.ok(Math.abs(part(report, 'live-malloc').growthBytes) < 0.1 * growth);
    assert.equal(report.memory.allocator, 'glibc');
    assertRssAccounted(glibcOut);
    assert.match(glibc.stdout, /^FRAGMENTATION: RSS grew \+\d+/m);
    assert.match(glibc.stdout, /where the RSS went \(\d+ snapshots/);
    assert.match(glibc.stdout, /^ {4}allocator-retained +\S+ \S+ +\S+ \S+ +\+\d+ MiB/m);
    assert.match(glibc.stdout, /leakhunt run --allocator jemalloc -- \S*fragmenter --seconds 8/);
    assert.match(glibc.stdout, /MALLOC_ARENA_MAX=2 \S*fragmenter/);
    const timeline = readJson<{ snapshots: { mallocFreeBytes: number; shimResidentBytes: number; allocator: string }[] }>(join(glibcOut, 'timeline.json'));
    assert.ok(timeline.snapshots.every((p) => p.allocator === 'glibc' && p.shimResidentBytes > 0));
  });

  it('under --allocator jemalloc RSS stays flat: a small fraction of what glibc kept', { skip: jemallocSkip }, async () => {
    assertInstalled(jemalloc);
    const jemallocResult = await jemallocRun!;
    assert.equal(jemallocResult.exitCode, 0, jemallocResult.all);
    const report = readJson<MemoryReport>(join(jemallocOut, 'report.json'));
    assert.equal(report.memory.allocator, 'jemalloc');
    const growth = rssGrowth(report);
    assert.ok(growth < rssGrowth(glibcReport) / 5 && growth < 16 * MiB, `jemalloc RSS +${growth}, glibc +${rssGrowth(glibcReport)}`);
    assert.notEqual(report.verdict.kind, 'fragmentation', report.verdict.summary);
    assert.notEqual(report.verdict.kind, 'native-leak', report.verdict.summary);
    const run = readJson<{ allocator?: string }>(join(jemallocOut, 'run.json'));
    assert.match(run.allocator ?? '', /libjemalloc\.so/);
  });

  it('under --allocator tcmalloc too; what tcmalloc keeps free is not known, and not guessed', { skip: tcmallocSkip }, async () => {
    assertInstalled(tcmalloc);
    const tcmallocResult = await tcmallocRun!;
    assert.equal(tcmallocResult.exitCode, 0, tcmallocResult.all);
    const report = readJson<MemoryReport>(join(tcmallocOut, 'report.json'));
    assert.equal(report.memory.allocator, 'tcmalloc');
    assert.ok(!report.memory.accounting!.some((r) => r.part === 'allocator-retained'));
    assert.ok(rssGrowth(report) < rssGrowth(glibcReport) / 5, `tcmalloc RSS +${rssGrowth(report)}, glibc +${rssGrowth(glibcReport)}`);
    assert.notEqual(report.verdict.kind, 'native-leak', report.verdict.summary);
  });
});

describe('leakhunt run --trim-probe', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('malloc_trim(0) gives back what the fragmenter\'s arenas kept; the probe stays out of the trends', async () => {
    const out = join(dir.path, 'trim');
    const result = await runCli(['run', '--out', out, '--duration', '7s', '--trim-probe', '--interval', '500ms', '--sample-bytes', '16KiB', '--',
      fragmenter, '--seconds', '60', '--ramp-ms', '400', '--report-ms', '0']);
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<MemoryReport>(join(out, 'report.json'));
    const probe = report.memory.trimProbe;
    assert.ok(probe, 'memory.trimProbe');
    assert.ok(probe.releasedBytes > 30 * MiB, JSON.stringify(probe));
    assert.equal(probe.releasedBytes, probe.rssBeforeBytes - probe.rssAfterBytes);
    // What a wrong verdict here needs to be understood (once: +8 MiB of malloc the shim did not see, never reproduced
    // in 79 runs since): each snapshot's in-use bytes by the allocator and by the shim's estimate.
    const seen = readJson<{ snapshots: { timeSec: number; allocatorInUseBytes?: number; shimSeenInUseBytes?: number }[] }>(join(out, 'timeline.json'))
      .snapshots.map((p) => `${p.timeSec.toFixed(2)}s ${p.allocatorInUseBytes ?? '-'} ${Math.round(p.shimSeenInUseBytes ?? -1)}`).join('; ');
    const why = `${report.verdict.summary}\nunseen: ${JSON.stringify((report.memory as { unseen?: unknown }).unseen)}\nin use (allocator, shim): ${seen}`;
    // The fragmenter's session table is kept whole (its replacement at random, a sampled random walk, is
    // session_table.c's to test), so nothing of it wanders into a verdict: fragmentation, every run.
    assert.equal(report.verdict.kind, 'fragmentation', why);
    assert.match(report.verdict.summary, /malloc_trim\(0\) gave back/);
    assert.match(result.stdout, /trim probe at [\d.]+s: malloc_trim\(0\) gave back \d+(\.\d+)? MiB/);
    const timeline = readJson<{ snapshots: { timeSec: number; afterTrim: boolean; rssBytes: number }[] }>(join(out, 'timeline.json'));
    const trimmed = timeline.snapshots.findIndex((p) => p.afterTrim);
    assert.ok(trimmed > 0, 'an after-trim snapshot');
    assert.ok(trimmed < timeline.snapshots.length - 1, 'snapshots after the probe too');
    // The trends end at the snapshot before the trim.
    assert.equal(report.memory.rssEndBytes, timeline.snapshots[trimmed - 1]!.rssBytes);
    const run = readJson<{ trimProbe?: { atMs: number; taken: boolean } }>(join(out, 'run.json'));
    assert.deepEqual(run.trimProbe, { atMs: 6300, taken: true });
  });
});

describe('leakhunt run on JVMs: the Java heap, and a JNI leak with NMT', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('a Java heap that grows is java-heap, its resident pages by its range; its figures from hsperfdata', async () => {
    const out = join(dir.path, 'heap');
    const result = await runCli(['run', '--out', out, '--interval', '1s', '--',
      javaBin, '-Xms16m', '-Xmx512m', '-cp', join(fixtureBuild, 'heap', 'classes'), 'heap.GrowingHeap', '--seconds', '9']);
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout, /heap done/);
    const report = readJson<MemoryReport>(join(out, 'report.json'));
    assert.equal(report.verdict.kind, 'java-heap', report.verdict.summary);
    assert.ok(part(report, 'java-heap').growthBytes > 40 * MiB, JSON.stringify(report.memory.accounting));
    // The heap's commits are mmap(MAP_FIXED) over its reservation: no site of the shim's, growing or not.
    assert.ok(!report.sites.some((s) => s.status === 'growing'));
    assertNoMappingGrows(report);
    // "not native memory" unless a JVM structure that grows with the heap (G1's remembered sets) rose beside it.
    assert.match(result.stdout, /^JAVA HEAP GROWTH: the Java heap grows(, not native memory)?: its resident pages /m);
    assertRssAccounted(out);
    const jvm = readJson<{ source?: string; ranges?: { javaHeap?: unknown[] }; samples: { heapCommittedBytes: number }[]; notes: string[] }>(join(out, 'jvm.json'));
    assert.ok(jvm.samples.length >= 5, JSON.stringify(jvm));
    assert.equal(jvm.source, 'hsperfdata', JSON.stringify(jvm).slice(0, 400));
    assert.equal(jvm.ranges?.javaHeap?.length, 1, JSON.stringify(jvm.ranges));
    const timeline = readJson<{ snapshots: { jvm: boolean; javaHeapCommittedBytes?: number }[] }>(join(out, 'timeline.json'));
    assert.ok(timeline.snapshots.filter((p) => p.javaHeapCommittedBytes !== undefined).length >= 5);
  });

  it('the JNI leak is still native-leak with --nmt, and NMT\'s JVM-internal part is accounted', async () => {
    const out = join(dir.path, 'jni');
    // 11 s: on a loaded machine the JVM's start-up takes a few of the snapshots (8 s once left too few for a trend).
    const result = await runCli(['run', '--out', out, '--nmt', '--interval', '1s', '--', ...demoCommand(11)], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<MemoryReport>(join(out, 'report.json'));
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    assert.match(report.sites[0]!.function, /^remember_session_forever/);
    assertNoMappingGrows(report);
    assert.ok(part(report, 'jvm-internal').startBytes > 0);
    part(report, 'java-heap');
    assertRssAccounted(out);
    const jvm = readJson<{ nmt: boolean; samples: { nmt?: { committedBytes: number } }[] }>(join(out, 'jvm.json'));
    assert.equal(jvm.nmt, true);
    assert.ok(jvm.samples.some((s) => (s.nmt?.committedBytes ?? 0) > 0), JSON.stringify(jvm).slice(0, 500));
  });
});

describe('leakhunt run: a steady program, and bad --allocator', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('steady is no-growth; --trim-probe without --duration is skipped with a warning', async () => {
    const out = join(dir.path, 'steady');
    const result = await runCli(['run', '--out', out, '--trim-probe', '--interval', '300ms', '--sample-bytes', '64KiB', '--',
      join(fixtureBuild, 'steady'), '--seconds', '3']);
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stderr, /--trim-probe needs --duration/);
    const report = readJson<MemoryReport>(join(out, 'report.json'));
    assert.equal(report.verdict.kind, 'no-growth', report.verdict.summary);
    assert.ok(report.memory.accounting && report.memory.accounting.length >= 3);
    assert.equal(report.memory.trimProbe, undefined);
    assert.ok(!existsSync(join(out, 'jvm.json')), 'not a JVM: no jvm.json');
  });

  it('an allocator that is not there: exit 4, one line', async () => {
    const result = await runCli(['run', '--out', join(dir.path, 'none'), '--allocator', '/nonexistent/libjemalloc.so.2', '--', 'true']);
    assert.equal(result.exitCode, 4, result.all);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, /--allocator \/nonexistent\/libjemalloc\.so\.2: no such file/);
    const bad = await runCli(['run', '--allocator', 'hoard', '--', 'true']);
    assert.equal(bad.exitCode, 2, bad.all);
  });
});
