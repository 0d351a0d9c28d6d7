/** The shim in processes and threads: forked and exec'd children, exec chains, hundreds of threads. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

describe('leakhunt run: processes and threads', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('forked, fork+exec\'d and posix_spawn\'d children write nothing; the parent\'s leak is attributed', async () => {
    const out = join(dir.path, 'fork');
    const result = await runCli(['run', '--out', out, '--interval', '100ms', '--sample-bytes', '1', '--',
      join(fixtureBuild, 'forker'), 'fork', '5']);
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson & { pid: number }>(join(out, 'report.json'));
    assert.deepEqual(readdirSync(join(out, 'raw')), [String(report.pid)], 'only the target itself has snapshots');
    const parent = report.sites.find((s) => s.function === 'parent_keeps_this');
    assert.ok(parent, 'the parent\'s leak is a site');
    assert.equal(parent.liveBytes, 5 * 20011);
    for (const childSite of ['child_after_fork_allocates', 'exec_child_allocates']) {
      assert.ok(!report.sites.some((s) => s.function === childSite), `${childSite} is not in the parent's data`);
    }
  });

  it('follows an exec chain in the same process (a wrapper script that execs the program)', async () => {
    const out = join(dir.path, 'exec');
    const program = join(fixtureBuild, 'leaky_apis');
    const result = await runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '1', '--',
      '/bin/sh', '-c', `exec "${program}" --rounds 8 --round-ms 100`]);
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    const site = report.sites.find((s) => s.function === 'leak_via_malloc');
    assert.ok(site, `sites: ${report.sites.map((s) => s.function).join(', ')}`);
    assert.equal(site.liveBytes, 8 * 10007);
  });

  it('256 threads allocating and freeing across each other run to the end, nothing left live', async () => {
    const out = join(dir.path, 'threads');
    const result = await runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '4KiB', '--',
      join(fixtureBuild, 'forker'), 'threads', '256', '100']);
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout, /forker threads=256 rounds=100 done/);
    const report = readJson<ReportJson & { shim: { samples: number; liveEntries: number; missedFrees: number } }>(join(out, 'report.json'));
    assert.ok(report.shim.samples > 1000, `many samples (${report.shim.samples})`);
    const site = report.sites.find((s) => s.function === 'pass_blocks_across_threads');
    assert.ok(site, 'the threads\' allocations were sampled');
    assert.equal(site.liveBytes, 0, 'every cross-thread free found its sampled block');
    assert.equal(report.shim.missedFrees, 0);
  });
});

describe('leakhunt run --follow-children', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('records every exec\'d child in its own report, never a fork that did not exec', async () => {
    const out = join(dir.path, 'follow');
    const result = await runCli(['run', '--out', out, '--follow-children', '--interval', '100ms', '--sample-bytes', '1', '--',
      join(fixtureBuild, 'forker'), 'fork', '2']);
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson & { pid: number; processes: { pid: number; executable: string; report: string }[] }>(join(out, 'report.json'));
    // per round: one fork+exec child and one posix_spawn child
    assert.equal(report.processes.length, 4, JSON.stringify(report.processes.map((p) => p.pid)));
    for (const child of report.processes) {
      assert.match(child.executable, /forker$/);
      const childReport = readJson<ReportJson>(join(out, child.report));
      const site = childReport.sites.find((s) => s.function === 'exec_child_allocates');
      assert.ok(site, `child ${child.pid}: ${childReport.sites.map((s) => s.function).join(', ')}`);
      assert.equal(site.liveBytes, 10 * 40009);
      assert.ok(!childReport.sites.some((s) => s.function === 'child_after_fork_allocates'));
    }
    assert.ok(!report.sites.some((s) => s.function === 'child_after_fork_allocates' || s.function === 'exec_child_allocates'));
    assert.equal(report.sites.find((s) => s.function === 'parent_keeps_this')!.liveBytes, 2 * 20011);
    assert.match(result.stdout, /child \d+ .*forker/);
  });
});
