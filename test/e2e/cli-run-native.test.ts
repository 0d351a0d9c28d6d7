/** `leakhunt run` on a real C program, every allocation recorded: exact attribution and exact sizes. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHeapProfile, sampleValueIndex } from '../../src/pprof/index.js';
import { fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

const rounds = 12;
// The fixture's fingerprint sizes: each function leaks one block of its size per round (fixtures/c/README.md).
const fingerprints: Record<string, number> = {
  leak_via_malloc: 10007, leak_via_calloc: 10009, leak_via_realloc: 10037, leak_via_reallocarray: 10039,
  leak_via_posix_memalign: 10061, leak_via_aligned_alloc: 10069, leak_via_memalign: 10079, leak_via_valloc: 10091,
  leak_via_pvalloc: 10093, leak_via_strdup: 10099,
};

describe('leakhunt run on a native program (every allocation recorded)', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: ReportJson;

  before(async () => {
    result = await runCli(['run', '--out', out, '--interval', '250ms', '--sample-bytes', '1', '--json', '--top', '50', '--',
      join(fixtureBuild, 'leaky_apis'), '--rounds', String(rounds), '--round-ms', '120', '--exit-code', '7']);
    report = readJson<ReportJson>(join(out, 'report.json'));
  });
  after(() => dir.cleanup());

  it('keeps the command\'s exit status', () => {
    assert.equal(result.exitCode, 7, result.all);
    assert.equal(report.exitStatus, 7);
  });

  it('attributes every API\'s leak to its own function, with the exact bytes', () => {
    for (const [fn, size] of Object.entries(fingerprints)) {
      const site = report.sites.find((s) => s.function === fn);
      assert.ok(site, `${fn} is a site (sites: ${report.sites.map((s) => s.function).join(', ')})`);
      assert.equal(site.liveBytes, size * rounds, `${fn}: live bytes at the last snapshot`);
      assert.equal(site.status, 'growing', `${fn} grows`);
      assert.ok(site.stack.some((frame) => frame.startsWith('leaky_round')), `${fn}: stack reaches its caller`);
    }
  });

  it('ranks the leaks above the bounded and churning allocations', () => {
    const leaks = new Set(Object.keys(fingerprints));
    const firstNonLeak = report.sites.findIndex((s) => !leaks.has(s.function));
    assert.ok(firstNonLeak === -1 || firstNonLeak >= leaks.size, `leaks first: ${report.sites.map((s) => s.function).join(', ')}`);
    for (const site of report.sites.filter((s) => !leaks.has(s.function))) {
      assert.notEqual(site.status, 'growing', `${site.function} is not a leak`);
    }
    const cache = report.sites.find((s) => s.function === 'hold_startup_cache');
    assert.ok(cache && cache.liveBytes === 64 * 4099, 'the start-up cache is live and constant');
    assert.equal(report.verdict.kind, 'native-leak');
  });

  it('writes one pprof heap profile per snapshot that decodes with the expected structure', () => {
    const files = readdirSync(join(out, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).sort();
    assert.equal(files.length, report.snapshots);
    assert.ok(files.length >= 3, `several snapshots (${files.length})`);
    const profile = readHeapProfile(join(out, 'snapshots', files[files.length - 1]!));
    assert.deepEqual(profile.sampleTypes.map((t) => `${t.type}/${t.unit}`),
      ['alloc_objects/count', 'alloc_space/bytes', 'inuse_objects/count', 'inuse_space/bytes']);
    assert.equal(profile.defaultSampleType, 'inuse_space');
    const inuse = sampleValueIndex(profile, 'inuse_space');
    const mallocLeak = profile.samples.find((s) => s.stack.some((f) => f.functionName === 'leak_via_malloc'));
    assert.ok(mallocLeak, 'a sample for leak_via_malloc');
    assert.equal(mallocLeak.values[inuse], 10007 * rounds);
    const frame = mallocLeak.stack.find((f) => f.functionName === 'leak_via_malloc')!;
    assert.match(frame.fileName ?? '', /leaky_apis\.c$/);
    assert.ok((frame.line ?? 0) > 0, 'line numbers');
    assert.ok(profile.timeNanos > 0n);
  });

  it('writes timeline.json and run.json', () => {
    const timeline = readJson<{ snapshots: { rssBytes: number; liveBytes: number }[] }>(join(out, 'timeline.json'));
    assert.equal(timeline.snapshots.length, report.snapshots);
    assert.ok(timeline.snapshots.every((p) => p.rssBytes > 0));
    const last = timeline.snapshots[timeline.snapshots.length - 1]!;
    const leaked = Object.values(fingerprints).reduce((a, b) => a + b, 0) * rounds;
    assert.ok(last.liveBytes >= leaked, `live bytes ${last.liveBytes} include the ${leaked} leaked`);
  });
});
