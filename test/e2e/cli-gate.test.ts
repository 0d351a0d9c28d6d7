/** `leakhunt gate` through the built CLI on real runs: a leaking program fails, a steady one passes, a short one cannot tell. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureBuild, repoRoot, runCli, tempDir } from './helpers.js';

const suppressionsDir = join(repoRoot, 'fixtures', 'suppressions');
const leakFunctions = ['leak_via_malloc', 'leak_via_calloc', 'leak_via_realloc', 'leak_via_reallocarray', 'leak_via_posix_memalign',
  'leak_via_aligned_alloc', 'leak_via_memalign', 'leak_via_valloc', 'leak_via_pvalloc', 'leak_via_strdup'];
/** Not in GitHub mode unless a test asks, wherever the tests run. */
const quietEnv = { GITHUB_ACTIONS: '', GITHUB_STEP_SUMMARY: '' };

function gate(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runCli(['gate', ...args], { env: { ...quietEnv, ...env }, timeoutMs: 30_000 });
}

/** The one stderr line. */
function verdictLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${stderr}`);
  return lines[0]!;
}

/** <testcase …> elements with what they hold, by name. */
function testcases(xml: string): Map<string, string> {
  const cases = new Map<string, string>();
  for (const m of xml.matchAll(/<testcase classname="[^"]*" name="([^"]*)" time="0"(?:\/>|>([\s\S]*?)<\/testcase>)/g)) cases.set(m[1]!, m[2] ?? '');
  return cases;
}

describe('leakhunt gate on real runs', () => {
  const dir = tempDir('leakhunt-gate-');
  const leaky = join(dir.path, 'leaky');
  const steady = join(dir.path, 'steady');
  const short = join(dir.path, 'short');

  before(async () => {
    const runs = await Promise.all([
      runCli(['run', '-q', '--out', leaky, '--sample-bytes', '1', '--interval', '200ms', '--', join(fixtureBuild, 'leaky_apis'), '--rounds', '12', '--round-ms', '100']),
      runCli(['run', '-q', '--out', steady, '--sample-bytes', '64KiB', '--interval', '300ms', '--', join(fixtureBuild, 'steady'), '--seconds', '3']),
      runCli(['run', '-q', '--out', short, '--interval', '10s', '--', join(fixtureBuild, 'steady'), '--seconds', '1']),
    ]);
    for (const run of runs) assert.equal(run.exitCode, 0, run.all);
  });
  after(() => dir.cleanup());

  it('fails a leaking run (exit 1) with a JUnit failure naming leak_via_malloc', async () => {
    const junit = join(dir.path, 'out', 'leaky-junit.xml');
    const result = await gate([leaky, '--max-leak-rate', '1KiB/h', '--junit', junit]);
    assert.equal(result.exitCode, 1, result.all);
    assert.match(verdictLine(result.stderr), /^leakhunt gate: FAIL: 10 sites leak over 1\.00 KiB\/h: leak_via_\w+ at [\d.]+ MiB\/h \(confidence 1\.00\), /);
    const xml = readFileSync(junit, 'utf8');
    assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="leakhunt gate" tests="12" failures="10" errors="0" skipped="0"/);
    const cases = testcases(xml);
    const unseen = [...cases].find(([name]) => name.startsWith('allocations the shim did not see within'));
    assert.ok(unseen && !/<failure/.test(unseen[1]), `a passing testcase for the allocations the shim did not see: ${[...cases.keys()].join(', ')}`);
    const malloc = [...cases].find(([name]) => /^leak_via_malloc \(leaky_apis\.c:\d+\)$/.test(name));
    assert.ok(malloc, `a testcase for leak_via_malloc: ${[...cases.keys()].join(', ')}`);
    assert.match(malloc[1], /<failure type="native-leak" message="leak_via_malloc leaks [\d.]+ MiB\/h, over the 1\.00 KiB\/h threshold/);
    assert.match(malloc[1], /leaky_round \(leaky_apis\.c:\d+\)/);
    for (const fn of leakFunctions) assert.ok([...cases.keys()].some((name) => name.startsWith(`${fn} (`)), fn);
    assert.match(result.stdout, /^ {2}FAIL {8}leak_via_malloc \(leaky_apis\.c:\d+\): /m);
  });

  it('passes a steady run (exit 0) at a threshold it can detect, and says "not enough data" (exit 3) at one it cannot', async () => {
    const pass = await gate([steady, '--max-leak-rate', '4GiB/h']);
    assert.equal(pass.exitCode, 0, pass.all);
    assert.match(verdictLine(pass.stderr), /^leakhunt gate: PASS: no site leaks over 4\.00 GiB\/h \(this run shows leaks from [\d.]+ MiB\/h\)/);
    const unsure = await gate([steady, '--max-leak-rate', '1MiB/h']);
    assert.equal(unsure.exitCode, 3, unsure.all);
    const line = verdictLine(unsure.stderr);
    assert.match(line, /^leakhunt gate: NOT ENOUGH DATA: no site leaks over 1\.00 MiB\/h, but this run \(\d+ snapshots over [\d.]+s, sampling every 64\.0 KiB\) could only show leaks from [\d.]+ MiB\/h/);
    assert.match(line, /run at least \S+ \(--duration \S+\) at --sample-bytes 64KiB and --interval 300ms, or use --sample-bytes \d+B for a run this long/);
  });

  it('cannot decide on a single snapshot (exit 3)', async () => {
    const result = await gate([short]);
    assert.equal(result.exitCode, 3, result.all);
    assert.match(verdictLine(result.stderr), /^leakhunt gate: NOT ENOUGH DATA: no site leaks over 1\.00 MiB\/h, but 1 snapshot in [\d.]+s cannot show a trend \(at least 3 are needed\)/);
  });

  it('passes a run against a baseline that already has its leaks (the run dir or its report.json)', async () => {
    for (const baseline of [leaky, join(leaky, 'report.json')]) {
      const result = await gate([leaky, '--max-leak-rate', '1MiB/h', '--baseline', baseline]);
      assert.equal(result.exitCode, 0, result.all);
      assert.match(verdictLine(result.stderr), /^leakhunt gate: PASS: 10 sites leak within the baseline: leak_via_\w+ at \S+ MiB\/h \(accepted up to \S+ MiB\/h\), .*, and 7 more; no other site leaks over /);
    }
    // At a threshold this run cannot see, the leaks the baseline accepted still come first, before "no other site".
    const unsure = await gate([leaky, '--max-leak-rate', '1B/h', '--baseline', leaky]);
    assert.equal(unsure.exitCode, 3, unsure.all);
    assert.match(verdictLine(unsure.stderr), /^leakhunt gate: NOT ENOUGH DATA: 10 sites leak within the baseline: leak_via_\w+ at \S+ MiB\/h .*; no other site leaks over 1 B\/h, but this run /);
    const fails = await gate([leaky, '--max-leak-rate', '1MiB/h', '--baseline', steady]);
    assert.equal(fails.exitCode, 1, 'the leaks are new relative to the steady run');
  });

  it('a suppression silences exactly the matching site, says why, and the others still fail', async () => {
    const junit = join(dir.path, 'suppressed.xml');
    const supp = join(suppressionsDir, 'leaky_apis.supp');
    const result = await gate([leaky, '--max-leak-rate', '1KiB/h', '--suppressions', supp, '--junit', junit]);
    assert.equal(result.exitCode, 1, result.all);
    assert.match(verdictLine(result.stderr), /^leakhunt gate: FAIL: 9 sites leak over .*; 1 suppressed$/);
    assert.match(result.stdout, /^ {2}suppressed {2}leak_via_malloc \(leaky_apis\.c:\d+\): .*leaky_apis\.supp:5 leak:\^leak_via_malloc matched "leak_via_malloc \(leaky_apis\.c:\d+\)": deliberate: leaky_apis keeps every block in leaky_apis_leaked\[\]$/m);
    assert.doesNotMatch(result.stdout, /FAIL {8}leak_via_malloc /);
    const cases = testcases(readFileSync(junit, 'utf8'));
    for (const [name, inner] of cases) {
      if (name.startsWith('leak_via_malloc ')) assert.match(inner, /^\s*<skipped message="suppressed by [^"]*leaky_apis\.supp:5 leak:\^leak_via_malloc \(deliberate/);
      else if (name.startsWith('leak_via_')) assert.match(inner, /<failure type="native-leak"/, name);
    }
    assert.equal([...cases.keys()].filter((n) => n.startsWith('leak_via_')).length, 10);
  });

  it('a bad suppressions file is exit 2 with its line number', async () => {
    const missing = await gate([leaky, '--suppressions', join(suppressionsDir, 'missing-reason.supp')]);
    assert.equal(missing.exitCode, 2, missing.all);
    assert.match(verdictLine(missing.stderr), /^leakhunt: \S*missing-reason\.supp:4: a reason is required/);
    const regex = await gate([leaky, '--suppressions', join(suppressionsDir, 'bad-regex.supp')]);
    assert.equal(regex.exitCode, 2, regex.all);
    assert.match(verdictLine(regex.stderr), /^leakhunt: \S*bad-regex\.supp:1: bad regular expression/);
  });

  it('GitHub Actions: ::error annotations on stdout, the Markdown summary appended to $GITHUB_STEP_SUMMARY and --markdown', async () => {
    const summary = join(dir.path, 'step-summary.md');
    const markdown = join(dir.path, 'gate.md');
    writeFileSync(summary, '## earlier step\n');
    const result = await gate([leaky, '--max-leak-rate', '1KiB/h', '--github', '--markdown', markdown], { GITHUB_STEP_SUMMARY: summary, GITHUB_WORKSPACE: repoRoot });
    assert.equal(result.exitCode, 1, result.all);
    const errors = result.stdout.split('\n').filter((l) => l.startsWith('::error '));
    assert.equal(errors.length, 10);
    // The site's source, relative to the workspace, so GitHub shows the annotation on that line.
    const annotation = errors.find((l) => l.includes('title=Native leak%3A leak_via_malloc::'));
    assert.match(annotation ?? '', /^::error file=fixtures\/c\/leaky_apis\.c,line=\d+,title=Native leak%3A leak_via_malloc::leak_via_malloc \(leaky_apis\.c:\d+\) leaks /, errors.join('\n'));
    const line = Number(/,line=(\d+),/.exec(annotation!)![1]);
    assert.match(readFileSync(join(repoRoot, 'fixtures', 'c', 'leaky_apis.c'), 'utf8').split('\n')[line - 1]!, /malloc/, 'the line is the allocation');
    const md = readFileSync(markdown, 'utf8');
    assert.match(md, /^### leakhunt gate: ❌ FAIL\n/);
    assert.match(md, /\| ❌ \| leak\\_via\\_malloc \(leaky\\_apis\.c:\d+\) \|/);
    assert.equal(readFileSync(summary, 'utf8'), `## earlier step\n${md}\n`);
    // GITHUB_ACTIONS=true alone turns the annotations on.
    const env = await gate([leaky, '--max-leak-rate', '1KiB/h'], { GITHUB_ACTIONS: 'true' });
    assert.equal(env.stdout.split('\n').filter((l) => l.startsWith('::error ')).length, 10);
    const plain = await gate([leaky, '--max-leak-rate', '1KiB/h']);
    assert.ok(!plain.stdout.includes('::error'));
  });

  it('bad input is exit 2 in one line; --help documents the exit codes', async () => {
    const notRun = await gate([dir.path]);
    assert.equal(notRun.exitCode, 2);
    assert.match(verdictLine(notRun.stderr), /not a leakhunt run directory \(no report\.json\)/);
    const badRate = await gate([leaky, '--max-leak-rate', 'fast']);
    assert.equal(badRate.exitCode, 2);
    assert.match(badRate.stderr, /bad --max-leak-rate "fast"/);
    const badConfidence = await gate([leaky, '--min-confidence', '1.5']);
    assert.equal(badConfidence.exitCode, 2);
    const help = await gate(['--help']);
    assert.equal(help.exitCode, 0);
    assert.match(help.stdout, /--max-leak-rate <rate>[^-]*\(default:\s+1MiB\/h\)/);
    assert.match(help.stdout, /Exit codes:\n\s+0\s+pass\n\s+1\s+leak over threshold\n\s+2\s+bad usage.*\n\s+3\s+not enough data to decide/);
  });
});
