/**
 * Hardening: targets that end other than by returning from main (fixtures/c/hardening_exits.c) — exit() from a
 * thread while others allocate, _exit(), abort(). The target's own status is the CLI's, and whatever snapshots were
 * written before the end are kept and reported.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSnapshotFile, type RawSnapshot } from '../../src/snapshot/index.js';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const program = join(fixtureBuild, 'hardening', 'hardening_exits');
const LEAKED = 6 * 40009;

function buildFixtures(): void {
  const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-hardening.mjs'), '--quiet'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `building the hardening fixtures: ${result.stderr}`);
}

interface Ended {
  exitCode: number | undefined;
  stdout: string;
  all: string;
  report: ReportJson & { pid: number };
  snapshots: RawSnapshot[];
}

async function runUntilEnd(out: string, mode: string, waitMs: number): Promise<Ended> {
  const result = await runCli(['run', '-q', '--out', out, '--interval', '100ms', '--sample-bytes', '1', '--',
    program, mode, '--wait-ms', String(waitMs)], { timeoutMs: 30_000 });
  assert.ok(!result.timedOut, `the run ended by itself: ${result.all}`);
  const report = readJson<ReportJson & { pid: number }>(join(out, 'report.json'));
  const rawDir = join(out, 'raw', String(report.pid));
  const snapshots = readdirSync(rawDir).filter((f) => f.endsWith('.lhs')).sort().map((f) => readSnapshotFile(join(rawDir, f)));
  return { exitCode: result.exitCode, stdout: result.stdout, all: result.all ?? '', report, snapshots };
}

/** The live bytes report.json gives the site named `name` (exact with --sample-bytes 1). */
function liveBytesOf(report: ReportJson, name: string): number | undefined {
  return report.sites.find((s) => s.function === name)?.liveBytes;
}

describe('hardening: how the target ends', () => {
  const dir = tempDir('leakhunt-hardening-exits-');
  before(buildFixtures);
  after(() => dir.cleanup());

  it('exit() from a thread while 8 others allocate: its status, and a final snapshot with the leak (3 runs)', async () => {
    for (let i = 0; i < 3; i++) {
      const run = await runUntilEnd(join(dir.path, `thread-exit-${i}`), 'thread-exit', 250);
      assert.equal(run.exitCode, 7, run.all);
      assert.match(run.stdout, /hardening_exits thread-exit leaked=240054/);
      assert.equal(run.report.exitStatus, 7);
      assert.ok(run.snapshots.length >= 2, `${run.snapshots.length} snapshots`);
      const last = run.snapshots[run.snapshots.length - 1]!;
      assert.equal(last.meta.isFinal, true, 'the snapshot taken in exit() is the last one, marked final');
      assert.equal(run.snapshots.filter((s) => s.meta.isFinal).length, 1);
      assert.equal(run.report.snapshots, run.snapshots.length);
      assert.equal(liveBytesOf(run.report, 'exits_leak_site'), LEAKED, `run ${i}: sites ${run.report.sites.map((s) => s.function).join(', ')}`);
      assert.ok((liveBytesOf(run.report, 'exits_thread_churn') ?? 0) > 0, 'the threads\' allocations were recorded up to the exit');
    }
  });

  it('_exit(): its status; the snapshots written before are kept (none final)', async () => {
    const run = await runUntilEnd(join(dir.path, '_exit'), '_exit', 450);
    assert.equal(run.exitCode, 3, run.all);
    assert.equal(run.report.exitStatus, 3);
    assert.ok(run.snapshots.length >= 2, `${run.snapshots.length} snapshots`);
    assert.ok(run.snapshots.every((s) => !s.meta.isFinal), '_exit skips the final snapshot: nothing may claim to be one');
    assert.equal(run.report.snapshots, run.snapshots.length);
    assert.equal(liveBytesOf(run.report, 'exits_leak_site'), LEAKED);
  });

  it('abort(): exit status 134, the earlier snapshots kept and reported', async () => {
    const run = await runUntilEnd(join(dir.path, 'abort'), 'abort', 450);
    assert.equal(run.exitCode, 134, run.all);
    assert.equal(run.report.exitStatus, 134);
    assert.ok(run.snapshots.length >= 2, `${run.snapshots.length} snapshots`);
    assert.ok(run.snapshots.every((s) => !s.meta.isFinal));
    assert.equal(run.report.snapshots, run.snapshots.length);
    assert.match(run.stdout, new RegExp(`${run.snapshots.length} snapshots, .*exit status 134`), 'the text report says what it kept');
    assert.equal(liveBytesOf(run.report, 'exits_leak_site'), LEAKED);
  });
});
