/**
 * Allocations that bypass an LD_PRELOAD interposer (issue #10, part 2), and realloc lineage (part 1): real programs
 * under the real shim. malloc, free and mmap looked up with dlsym(dlopen("libc.so.6"), …); a Python program leaking
 * through ctypes; another interposer preloaded after the shim that finds "the next malloc" with dlsym(RTLD_NEXT); a
 * buffer renewed by realloc as it grows.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';
import { assertGateFailsThenPasses, assertLeakFound, assertNotGrowing, ownRates, type SiteJson } from './leak-assertions.js';

before(async () => {
  await execa(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-mappings.mjs'), '--quiet'], { stdio: 'inherit' });
});

describe('malloc, free and mmap looked up with dlsym through libc\'s handle', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: ReportJson;

  before(async () => {
    result = await runCli(['run', '--out', out, '--interval', '300ms', '--sample-bytes', '64KiB', '--', join(fixtureBuild, 'dlsym_leak'), '--seconds', '6']);
    assert.equal(result.exitCode, 0, result.all);
    report = readJson<ReportJson>(join(out, 'report.json'));
  });
  after(() => dir.cleanup());

  it('the looked-up malloc and mmap are the shim\'s: both leaks named, growing at the program\'s own rates', () => {
    const rates = ownRates(result.stdout, 'dlsym_leak');
    assertLeakFound(report, 'leak_through_dlsym_malloc', rates.get('leak_through_dlsym_malloc'), 'malloc');
    assertLeakFound(report, 'leak_through_dlsym_mmap', rates.get('leak_through_dlsym_mmap'), 'mmap-anon');
  });

  it('the looked-up free is the shim\'s too: blocks freed through it are not left "live"', () => {
    assertNotGrowing(report, 'churn_through_dlsym_free');
    const churn = report.sites.find((s) => s.function === 'churn_through_dlsym_free');
    assert.ok(!churn || churn.liveBytes < 2 * 1024 * 1024, JSON.stringify(churn));
  });

  it('native-leak; the gate fails at 1 MiB/h and passes at an absurd threshold', async () => {
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    await assertGateFailsThenPasses(out);
  });
});

const python = spawnSync('python3', ['--version']).status === 0;

describe('a Python program leaking through ctypes.CDLL("libc.so.6").malloc', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  after(() => dir.cleanup());

  it('is seen: a growing site through ctypes and libffi at the program\'s own rate, native-leak, and the gate fails', {
    skip: python ? false : 'skipped: apt-get install python3',
  }, async () => {
    const result = await runCli(['run', '--out', out, '--interval', '300ms', '--sample-bytes', '16KiB', '--',
      'python3', join(repoRoot, 'fixtures', 'python', 'ctypes_leak.py'), '--seconds', '6']);
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    const own = ownRates(result.stdout, 'ctypes_leak').get('leak_through_ctypes');
    // Python's own frames are not native frames: the site is the FFI's frame that called malloc.
    const site = (report.sites as SiteJson[]).find((s) => s.status === 'growing' && s.stack.some((f) => /^_ctypes_callproc|^ffi_call/.test(f)));
    assert.ok(site, JSON.stringify(report.sites.map((s) => [s.function, s.status, s.stack.slice(0, 5)])));
    assertLeakFound(report, site.function, own, 'malloc');
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    await assertGateFailsThenPasses(out);
  });
});

describe('another interposer preloaded after the shim, finding the next malloc with dlsym(RTLD_NEXT)', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('gets glibc\'s functions, not its own back (no recursion): it counts the calls, and the leak is still found', async () => {
    const out = join(dir.path, 'run');
    // leakhunt puts the shim first: LD_PRELOAD=<shim>:libnext_interposer.so for the target.
    const result = await runCli(['run', '--out', out, '--interval', '300ms', '--sample-bytes', '64KiB', '--',
      join(fixtureBuild, 'realloc_lineage'), '--seconds', '5'], { env: { LD_PRELOAD: join(fixtureBuild, 'libnext_interposer.so') } });
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout, /realloc_lineage done rounds=\d+/);
    const counts = [...result.stderr.matchAll(/^next_interposer: (\d+) mallocs, (\d+) frees$/gm)].map((m) => Number(m[1]));
    assert.ok(counts.some((n) => n > 500), `the interposer forwarded the target's calls: ${result.stderr}`);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assertLeakFound(report, 'append_to_history_with_realloc', ownRates(result.stdout, 'realloc_lineage').get('append_to_history_with_realloc'));
  });
});

describe('a buffer renewed by realloc as it grows (lineage)', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: ReportJson;

  before(async () => {
    result = await runCli(['run', '--out', out, '--interval', '300ms', '--sample-bytes', '64KiB', '--', join(fixtureBuild, 'realloc_lineage'), '--seconds', '6']);
    assert.equal(result.exitCode, 0, result.all);
    report = readJson<ReportJson>(join(out, 'report.json'));
  });
  after(() => dir.cleanup());

  it('is growing at its own rate, as old as its first sampled allocation, and its live bytes are the buffer\'s', () => {
    const site = assertLeakFound(report, 'append_to_history_with_realloc', ownRates(result.stdout, 'realloc_lineage').get('append_to_history_with_realloc'));
    const ages = (site as SiteJson & { ages?: { oldestSec: number } }).ages;
    assert.ok(ages && ages.oldestSec > 4, `born at its first sampled realloc, not its last: ${JSON.stringify(ages)}`);
    const history = Number(/realloc_lineage history_bytes=(\d+)/.exec(result.stdout)?.[1]);
    // The buffer is far larger than the interval at the end: sampled with certainty, weight 1.
    assert.ok(Math.abs(site.liveBytes - history) < 0.01 * history, `${site.liveBytes} live, the buffer holds ${history}`);
  });

  it('a buffer resized up and down is not growing; native-leak; the gate fails at 1 MiB/h and passes at an absurd threshold', async () => {
    assertNotGrowing(report, 'resize_scratch_with_realloc');
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    await assertGateFailsThenPasses(out);
  });
});
