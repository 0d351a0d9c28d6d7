/** `leakhunt diff` through the built CLI: the first and last snapshot of a real run, and inputs that are not profiles. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { assertOneLineError, fixtureBuild, runCli, tempDir } from './helpers.js';

const rounds = 10;
// The fixture's fingerprint sizes: each function leaks one block of its size per round (fixtures/c/README.md).
const fingerprints: Record<string, number> = {
  leak_via_malloc: 10007, leak_via_calloc: 10009, leak_via_realloc: 10037, leak_via_reallocarray: 10039,
  leak_via_posix_memalign: 10061, leak_via_aligned_alloc: 10069, leak_via_memalign: 10079, leak_via_valloc: 10091,
  leak_via_pvalloc: 10093, leak_via_strdup: 10099,
};

interface DiffJson {
  base: string;
  later: string;
  totals: { baseBytes: number; laterBytes: number; deltaBytes: number };
  sites: { function: string; location: string; stack: string[]; status: string; deltaBytes: number; baseBytes: number; laterBytes: number }[];
  sitesLeftOut?: number;
}

/** As the shared check, and nothing on stdout either (a diff's output goes there). */
function assertDiffRefused(result: Awaited<ReturnType<typeof runCli>>, pattern: RegExp): void {
  assertOneLineError(result, pattern);
  assert.equal(result.stdout, '');
}

describe('leakhunt diff', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let first = '';
  let last = '';

  before(async () => {
    const run = await runCli(['run', '-q', '--out', out, '--sample-bytes', '1', '--interval', '200ms', '--',
      join(fixtureBuild, 'leaky_apis'), '--rounds', String(rounds), '--round-ms', '100']);
    assert.equal(run.exitCode, 0, run.all);
    const files = readdirSync(join(out, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).sort();
    assert.ok(files.length >= 3, `several snapshots (${files.join(', ')})`);
    first = join(out, 'snapshots', files[0]!);
    last = join(out, 'snapshots', files[files.length - 1]!);
  });
  after(() => dir.cleanup());

  it('finds every leak_via_* grown by its fingerprint times the rounds in between, and no churn', async () => {
    const result = await runCli(['diff', first, last, '--json', '--top', '1000']);
    assert.equal(result.exitCode, 0, result.all);
    const diff = JSON.parse(result.stdout) as DiffJson;
    assert.equal(diff.base, first);
    assert.equal(diff.later, last);
    const roundsBetween: number[] = [];
    for (const [fn, size] of Object.entries(fingerprints)) {
      const site = diff.sites.find((s) => s.function === fn);
      assert.ok(site, `${fn} is a site (sites: ${diff.sites.map((s) => s.function).join(', ')})`);
      assert.equal(site.status, 'grew', `${fn}: ${JSON.stringify(site)}`);
      // The last snapshot is taken at exit, after every round; the first after some.
      assert.equal(site.laterBytes, size * rounds, `${fn}: later bytes`);
      assert.equal(site.baseBytes % size, 0, `${fn}: whole rounds in the base (${site.baseBytes})`);
      const between = rounds - site.baseBytes / size;
      assert.ok(between >= 1 && between < rounds, `${fn}: ${between} rounds in between`);
      assert.equal(site.deltaBytes, size * between, `${fn}: delta`);
      assert.match(site.location, new RegExp(`^${fn} \\(leaky_apis\\.c:\\d+\\)$`));
      assert.ok(site.stack.some((frame) => frame.startsWith('leaky_round')), `${fn}: stack reaches its caller`);
      roundsBetween.push(between);
    }
    // A snapshot may fall inside a round, between two of its leaks: never more than one round apart.
    assert.ok(Math.max(...roundsBetween) - Math.min(...roundsBetween) <= 1, roundsBetween.join(' '));
    assert.notEqual(diff.sites.find((s) => s.function === 'churn_scratch')?.status, 'grew');
    assert.equal(diff.sites.find((s) => s.function === 'hold_startup_cache')?.status, 'same');
    const leaks = new Set(Object.keys(fingerprints));
    assert.ok(diff.sites.slice(0, leaks.size).every((s) => leaks.has(s.function)), 'the leaks rank first');
    assert.equal(diff.totals.deltaBytes, diff.totals.laterBytes - diff.totals.baseBytes);
    assert.equal(diff.totals.deltaBytes, diff.sites.reduce((sum, s) => sum + s.deltaBytes, 0));
  });

  it('prints text: a totals line, ranked rows, no colour without a terminal', async () => {
    const result = await runCli(['diff', first, last, '--top', '3']);
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout.split('\n')[0]!, /^in use: base .+ → later .+, delta \+/);
    const rows = result.stdout.split('\n').filter((line) => /^ +\d+ (grew|shrank|new|gone|same) /.test(line));
    assert.equal(rows.length, 3);
    for (const row of rows) assert.match(row, /^ {2}\d grew .* leak_via_\w+ \(leaky_apis\.c:\d+\)$/);
    assert.doesNotMatch(result.stdout, /\u001b\[/);
  });

  it('--focus, --ignore and --ignore-frames', async () => {
    const focused = JSON.parse((await runCli(['diff', first, last, '--json', '--focus', '^leak_via_malloc$'])).stdout) as DiffJson;
    assert.deepEqual(focused.sites.map((s) => s.function), ['leak_via_malloc']);
    assert.equal(focused.totals.laterBytes, fingerprints.leak_via_malloc! * rounds);

    const ignored = JSON.parse((await runCli(['diff', first, last, '--json', '--top', '1000', '--ignore', 'leak_via_'])).stdout) as DiffJson;
    assert.ok(ignored.sites.every((s) => !s.function.startsWith('leak_via_')), ignored.sites.map((s) => s.function).join(', '));

    const outward = JSON.parse((await runCli(['diff', first, last, '--json', '--ignore-frames', '^leak_via_'])).stdout) as DiffJson;
    const round = outward.sites[0]!;
    assert.equal(round.function, 'leaky_round');
    assert.equal(round.laterBytes, Object.values(fingerprints).reduce((a, b) => a + b, 0) * rounds);
  });

  it('--json cut at --top says how many sites it left out, as the text does', async () => {
    const all = JSON.parse((await runCli(['diff', first, last, '--json', '--top', '1000'])).stdout) as DiffJson;
    assert.equal(all.sitesLeftOut, undefined, 'none left out');
    const cut = JSON.parse((await runCli(['diff', first, last, '--json', '--top', '3'])).stdout) as DiffJson;
    assert.equal(cut.sites.length, 3);
    assert.equal(cut.sitesLeftOut, all.sites.length - 3);
    const text = await runCli(['diff', first, last, '--top', '3']);
    assert.match(text.stdout, new RegExp(`${all.sites.length - 3} more sites \\(--top\\)`));
    const report = JSON.parse((await runCli(['report', out, '--json', '--top', '2'])).stdout) as { sites: unknown[]; sitesLeftOut?: number };
    assert.equal(report.sites.length, 2);
    assert.ok((report.sitesLeftOut ?? 0) > 0, 'report --json says so too');
  });

  it('a profile against itself: nothing changed', async () => {
    const diff = JSON.parse((await runCli(['diff', last, last, '--json', '--top', '1000'])).stdout) as DiffJson;
    assert.equal(diff.totals.deltaBytes, 0);
    assert.ok(diff.sites.length > 0 && diff.sites.every((s) => s.status === 'same'));
  });

  it('refuses what is not a pprof heap profile: exit 2, one line, no stack trace', async () => {
    const text = join(dir.path, 'notes.txt');
    writeFileSync(text, 'this is not a profile\n');
    const truncated = join(dir.path, 'truncated.pb.gz');
    writeFileSync(truncated, readFileSync(last).subarray(0, 200));
    const gzippedText = join(dir.path, 'text.pb.gz');
    writeFileSync(gzippedText, gzipSync(Buffer.from('{"not": "protobuf"}\n')));
    const empty = join(dir.path, 'empty.pb');
    writeFileSync(empty, '');

    assertDiffRefused(await runCli(['diff', text, last]), /notes\.txt: /);
    assertDiffRefused(await runCli(['diff', first, truncated]), /truncated\.pb\.gz: corrupt gzip data/);
    assertDiffRefused(await runCli(['diff', first, join(dir.path, 'missing.pb.gz')]), /missing\.pb\.gz: cannot read/);
    assertDiffRefused(await runCli(['diff', gzippedText, last]), /text\.pb\.gz: /);
    assertDiffRefused(await runCli(['diff', empty, last]), /empty\.pb: not a pprof heap profile \(no inuse_space/);
    assertDiffRefused(await runCli(['diff', out, last]), /run: cannot read/);
    assertDiffRefused(await runCli(['diff', first, last, '--focus', '(']), /bad --focus: Invalid regular expression/);
  });
});
