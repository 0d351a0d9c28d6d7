/**
 * Where the RSS went, part by part, on real JVMs: threads that are never ended (thread stacks grow), a data file
 * mapped and read (its pages, by path), and the bundled demo (a JNI leak beside a Java heap filled at start-up).
 * Every run's parts are never negative and add up to RSS at every snapshot (assertRssAccounted).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { assertRssAccounted, demoCommand, fixtureBuild, javaBin, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const MiB = 1024 * 1024;
const classes = join(fixtureBuild, 'accounting', 'classes');

interface AccountingRow { part: string; startBytes: number; endBytes: number; growthBytes: number; growthBytesPerHour: number }
type Report = ReportJson & {
  verdict: { kind: string; summary: string; evidence?: string[] };
  detection: { detectableRateBytesPerHour: number | null };
  memory: ReportJson['memory'] & {
    accounting?: AccountingRow[]; mappedFiles?: { path: string; startBytes: number; endBytes: number }[];
    window?: { fromSec: number; leftOut: string };
  };
};

function part(report: Report, name: string): AccountingRow {
  const row = report.memory.accounting?.find((r) => r.part === name);
  assert.ok(row, `${name} in ${JSON.stringify(report.memory.accounting)}`);
  return row;
}

/** The part that grew most over the window. */
function largestGrowth(report: Report): AccountingRow {
  return [...report.memory.accounting!].sort((a, b) => b.growthBytes - a.growthBytes)[0]!;
}

before(async () => {
  await execa(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-memory.mjs'), '--quiet'], { stdio: 'inherit' });
});

describe('a JVM that starts threads it never ends', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('thread stacks grow most, the verdict names them, and the parts add up', async () => {
    const out = join(dir.path, 'threads');
    const result = await runCli(['run', '--out', out, '--interval', '1s', '--', javaBin, '-cp', classes, 'accounting.ThreadLeak', '--seconds', '10']);
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout, /threads done started=\d+/);
    assertRssAccounted(out);
    const report = readJson<Report>(join(out, 'report.json'));
    const stacks = part(report, 'thread-stacks');
    assert.ok(stacks.growthBytes > 10 * MiB, JSON.stringify(report.memory.accounting));
    assert.equal(largestGrowth(report).part, 'thread-stacks', JSON.stringify(report.memory.accounting));
    assert.equal(report.verdict.kind, 'jvm-internal', report.verdict.summary);
    assert.match(report.verdict.summary, /^thread stacks grow: .* \d+ → \d+ stacks, live Java threads \d+ → \d+ — threads are started and never end/);
    assert.match(result.stdout, /^ {4}thread stacks +\S+ \S+ +\S+ \S+ +\+[\d.]+ MiB/m);
  });
});

describe('a JVM that maps a data file and reads it', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('the file-backed part grows by that file, named by its path; not a leak', async () => {
    const out = join(dir.path, 'mapped');
    const file = join(dir.path, 'index.bin');
    const result = await runCli(['run', '--out', out, '--interval', '1s', '--',
      // 20 MiB/s for 9 s is less than the file: the reading goes on to the end of the run. A file read through before
      // the end would plateau, and a rise that stops is what a start-up climb looks like (the window would start after it).
      javaBin, '-cp', classes, 'accounting.MappedReader', '--file', file, '--mib', '192', '--mib-per-second', '20', '--seconds', '9']);
    assert.equal(result.exitCode, 0, result.all);
    assertRssAccounted(out);
    const report = readJson<Report>(join(out, 'report.json'));
    assert.equal(largestGrowth(report).part, 'file-mapped', JSON.stringify(report.memory.accounting));
    const mapped = report.memory.mappedFiles?.find((f) => f.path === file);
    assert.ok(mapped, JSON.stringify(report.memory.mappedFiles));
    assert.ok(mapped.endBytes - mapped.startBytes > 60 * MiB, `${JSON.stringify(mapped)} window ${JSON.stringify(report.memory.window)}`);
    assert.ok(part(report, 'file-mapped').growthBytes >= mapped.endBytes - mapped.startBytes - MiB);
    assert.equal(report.verdict.kind, 'no-growth', report.verdict.summary);
    assert.ok(report.verdict.summary.includes(`mapped file ${file}`), report.verdict.summary);
    assert.ok(result.stdout.includes(file.length > 26 ? `…${file.slice(-25)}` : file), result.stdout);
  });
});

describe('a JVM without hsperfdata (-XX:-UsePerfData)', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('falls back to jcmd for its heap figures, says so, and still accounts its heap by its range', async () => {
    const out = join(dir.path, 'noperf');
    const result = await runCli(['run', '--out', out, '--interval', '1s', '--',
      javaBin, '-XX:-UsePerfData', '-Xms16m', '-Xmx512m', '-cp', join(fixtureBuild, 'heap', 'classes'), 'heap.GrowingHeap', '--seconds', '9']);
    assert.equal(result.exitCode, 0, result.all);
    assertRssAccounted(out);
    const jvm = readJson<{ source?: string; ranges?: { javaHeap?: unknown[] }; samples: { heapUsedBytes?: number; heapCommittedBytes?: number }[]; notes: string[] }>(join(out, 'jvm.json'));
    assert.equal(jvm.source, 'jcmd', JSON.stringify(jvm).slice(0, 400));
    assert.ok(jvm.notes.some((n) => /no hsperfdata \(-XX:-UsePerfData/.test(n)), jvm.notes.join('\n'));
    // Asked over the JVM's attach socket (no jcmd JVM started each time): most of the 9 one-second intervals have
    // the heap's figures — when each ask started a jcmd, a loaded machine got one or two.
    const withHeap = jvm.samples.filter((s) => s.heapUsedBytes !== undefined && s.heapCommittedBytes !== undefined);
    assert.ok(withHeap.length >= 4, JSON.stringify(jvm.samples));
    assert.equal(jvm.ranges?.javaHeap?.length, 1);
    const report = readJson<Report>(join(out, 'report.json'));
    assert.equal(report.verdict.kind, 'java-heap', report.verdict.summary);
    assert.ok(report.warnings.some((w) => /-XX:-UsePerfData/.test(w)), report.warnings.join('\n'));
  });
});

describe('a JVM whose heap grows, where jcmd cannot attach (-XX:+DisableAttachMechanism)', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('the heap\'s range is not known: its pages stay in anon-mmap, the report says so and does not guess a verdict', async () => {
    const out = join(dir.path, 'noattach');
    const result = await runCli(['run', '--out', out, '--interval', '1s', '--',
      javaBin, '-XX:+DisableAttachMechanism', '-Xms16m', '-Xmx512m', '-cp', join(fixtureBuild, 'heap', 'classes'), 'heap.GrowingHeap', '--seconds', '9']);
    assert.equal(result.exitCode, 0, result.all);
    assertRssAccounted(out);
    const report = readJson<Report & { verdict: { missing?: string[] } }>(join(out, 'report.json'));
    assert.equal(report.memory.accounting?.find((r) => r.part === 'java-heap'), undefined, JSON.stringify(report.memory.accounting));
    assert.equal(largestGrowth(report).part, 'anon-mmap', JSON.stringify(report.memory.accounting));
    assert.equal(report.verdict.kind, 'inconclusive', report.verdict.summary);
    assert.match(report.verdict.summary, /anonymous mmap'd memory, and the Java heap's pages are among it: its range is not known/);
    // What the JVM's own figures (hsperfdata, no attach needed) say of the heap, without a guess.
    assert.match(report.verdict.summary, /the JVM says its heap's committed size went \S+ \S+ → \S+ \S+ \(\+/);
    assert.ok(report.verdict.missing?.some((m) => /^java-heap: the heap's range is not known/.test(m)), JSON.stringify(report.verdict.missing));
    assert.doesNotMatch(report.verdict.summary, /outside the Java heap/);
  });
});

describe('the bundled demo', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('the JNI leak first; the heap\'s start-up touch left out of every rate; report and gate state one detectable rate', async () => {
    const out = join(dir.path, 'demo');
    const result = await runCli(['run', '--out', out, '--interval', '2s', '--', ...demoCommand(20)]);
    assert.equal(result.exitCode, 0, result.all);
    const points = assertRssAccounted(out);
    const report = readJson<Report>(join(out, 'report.json'));
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    assert.match(report.sites[0]!.function, /^remember_session_forever/);
    const heap = part(report, 'java-heap');
    assert.ok(heap.endBytes > 50 * MiB, JSON.stringify(heap));
    assert.ok(report.memory.window && report.memory.window.fromSec > 2, JSON.stringify(report.memory.window));
    // The heap is touched over the first seconds — how many depends on the CPU the machine gives the JVM. Once its
    // resident pages have settled with enough of the run left to tell (the last third), the window starts after
    // the climb, so the heap's growth in it is small beside its size; a heap still filling at the end is growth.
    const heapAt = points.map((p) => ({ timeSec: p.timeSec, bytes: p.resident!.parts['java-heap'] ?? 0 }));
    const settled = heapAt.find((p) => p.bytes >= 0.9 * heapAt[heapAt.length - 1]!.bytes)!;
    const end = heapAt[heapAt.length - 1]!.timeSec;
    // (On an idle machine the heap settles in 6–8 s of the 20; with a load of 20 on two cores it may fill all run.)
    if (settled.timeSec <= (2 / 3) * end - 2) {
      assert.ok(Math.abs(heap.growthBytes) < 0.25 * heap.endBytes, `${JSON.stringify(heap)} window ${JSON.stringify(report.memory.window)} heap ${JSON.stringify(heapAt)}`);
      assert.equal(report.memory.window.leftOut, 'rss-climb', JSON.stringify(report.memory.window));
      assert.match(result.stdout, /from [\d.]+s \(the start-up's RSS climb left out\)/);
    }
    // No site without memory ranks above one that holds some, and no rate runs against its growth.
    const quiet = report.sites.findIndex((s) => s.liveBytes === 0 && s.growthBytes === 0 && s.series[s.series.length - 1] === 0);
    if (quiet >= 0) assert.ok(report.sites.slice(quiet).every((s) => s.series[s.series.length - 1] === 0), 'quiet sites last');
    for (const s of report.sites) {
      assert.ok(!(s.leakRateBytesPerHour * s.growthBytes < 0), `${s.function}: ${s.leakRateBytesPerHour} beside ${s.growthBytes}`);
      if (s.growthBytes === 0) assert.equal(s.leakRateBytesPerHour, 0, s.function);
    }
    // The gate reads the same window: its Markdown states the figure the text report states.
    const markdown = join(dir.path, 'gate.md');
    const gate = await runCli(['gate', out, '--markdown', markdown]);
    assert.equal(gate.exitCode, 1, gate.all);
    const stated = /could detect leaks from (\S+ \S+) up/.exec(result.stdout)?.[1];
    assert.ok(stated, result.stdout);
    assert.match(readFileSync(markdown, 'utf8'), new RegExp(`shows leaks from ${stated.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });
});
