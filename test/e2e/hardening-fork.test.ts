/**
 * Hardening: fork() while the shim's locks are busy (fixtures/c/hardening_forkstorm.c). Threads make sampled
 * allocations, call the setuid family (which stops and restarts the writer under its lifecycle lock) and ask for
 * snapshots, while the main thread forks again and again; every child allocates, calls setuid()/setgid() and must
 * exit on its own. A lock inherited held by a thread the child does not have once hung the first setuid() of a
 * child for ever.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const forkstorm = join(fixtureBuild, 'hardening', 'hardening_forkstorm');

function buildFixtures(): void {
  const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-hardening.mjs'), '--quiet'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `building the hardening fixtures: ${result.stderr}`);
}

type Report = ReportJson & { pid: number };

/** The numbers the fixture prints: forks, hung, failed, kept_bytes. */
function outcome(stdout: string) {
  const match = /hardening_forkstorm forks=(\d+) hung=(\d+) failed=(\d+) kept_bytes=(\d+)/.exec(stdout);
  assert.ok(match, `the fixture's summary line in: ${stdout}`);
  return { forks: Number(match[1]), hung: Number(match[2]), failed: Number(match[3]), keptBytes: Number(match[4]) };
}

describe('hardening: fork() under contention', () => {
  const dir = tempDir('leakhunt-hardening-fork-');
  before(buildFixtures);
  after(() => dir.cleanup());

  it('a target that forks while its threads sample, call setuid() and take snapshots: every child exits, the parent\'s leak is exact', async () => {
    const out = join(dir.path, 'recorded');
    const result = await runCli(['run', '-q', '--out', out, '--interval', '50ms', '--sample-bytes', '1', '--',
      forkstorm, '--seconds', '3', '--threads', '2'], { timeoutMs: 120_000 });
    assert.ok(!result.timedOut, `the run ended by itself: ${result.all}`);
    assert.equal(result.exitCode, 0, result.all);
    const seen = outcome(result.stdout);
    assert.equal(seen.hung, 0, `no child hung: ${result.stdout}`);
    assert.equal(seen.failed, 0, `every child's setuid family succeeded: ${result.stdout}`);
    assert.ok(seen.forks >= 10, `it forked (${seen.forks})`);
    const report = readJson<Report>(join(out, 'report.json'));
    assert.deepEqual(readdirSync(join(out, 'raw')), [String(report.pid)], 'the forked children wrote nothing');
    assert.ok(report.snapshots >= 3, `snapshots were written between the pauses (${report.snapshots})`);
    const site = report.sites.find((s) => s.function === 'forkstorm_keeps');
    assert.ok(site, `sites: ${report.sites.map((s) => s.function).join(', ')}`);
    assert.equal(site.liveBytes, seen.keptBytes);
    assert.ok(!report.sites.some((s) => s.function === 'fork_child_allocates'), 'the children\'s allocations are not the parent\'s');
  });

  it('the same in a process where the shim stays idle (a child the target starts): every child exits', async () => {
    const out = join(dir.path, 'idle');
    const result = await runCli(['run', '-q', '--out', out, '--interval', '50ms', '--sample-bytes', '1', '--',
      'sh', '-c', `${forkstorm} --seconds 2 --threads 2; true`], { timeoutMs: 120_000 });
    assert.ok(!result.timedOut, `the run ended by itself: ${result.all}`);
    assert.equal(result.exitCode, 0, result.all);
    const seen = outcome(result.stdout);
    assert.equal(seen.hung, 0, `no child hung: ${result.stdout}`);
    assert.equal(seen.failed, 0, result.stdout);
    const report = readJson<Report>(join(out, 'report.json'));
    assert.deepEqual(readdirSync(join(out, 'raw')), [String(report.pid)], 'only the target itself (sh) recorded');
  });
});
