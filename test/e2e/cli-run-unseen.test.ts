/**
 * Allocations the shim does not see (issue #10, part 2): a leak through glibc's __libc_malloc is found by the
 * cross-check of the allocator's in-use bytes alone — native-leak, memory.unseen growing at about the leak's rate, the
 * gate failing on it (and not with --no-unseen-growth); a seen leak of small blocks, whose chunk overhead grows with
 * it, and steady churn are not mistaken for one.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { UnseenCheck } from '../../src/analyse/index.js';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

type Report = ReportJson & { memory: { unseen?: UnseenCheck } };

const fixture = join(fixtureBuild, 'unseen_malloc');

async function run(out: string, via: string, extra: string[] = [], seconds = 8): Promise<{ report: Report; rate: number }> {
  const result = await runCli(['run', '--out', out, '--interval', '250ms', '--sample-bytes', '16KiB', '-q', ...extra, '--', fixture, '--via', via, '--seconds', String(seconds)]);
  assert.equal(result.exitCode, 0, result.all);
  return { report: readJson<Report>(join(out, 'report.json')), rate: Number(/rate_bytes_per_hour=(\d+)/.exec(result.stdout)?.[1]) };
}

function grows(report: Report): boolean {
  const u = report.memory.unseen;
  assert.ok(u?.available, `the cross-check was made: ${JSON.stringify(u)}`);
  return u.grows;
}

/** Whether this shim hands out its own malloc to dlsym lookups (issue #10's dlsym interposition). */
function shimInterposesDlsym(): boolean {
  try {
    return /\bdlsym\b/.test(execFileSync('nm', ['-D', '--defined-only', join(repoRoot, 'native', 'build', 'libleakhunt.so')], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

describe('allocations the shim does not see', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('a leak through __libc_malloc: native-leak from the cross-check alone, at about its rate; the gate fails on it', async () => {
    const out = join(dir.path, 'libc-malloc');
    const { report, rate } = await run(out, 'libc-malloc');
    assert.ok(grows(report));
    const u = report.memory.unseen as Extract<UnseenCheck, { available: true }>;
    const ratio = u.rateBytesPerHour / rate;
    assert.ok(ratio > 0.5 && ratio < 2, `unseen ${u.rateBytesPerHour} B/h against the ${rate} B/h the program leaked (×${ratio.toFixed(2)})`);
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    assert.match(report.verdict.summary, /^native memory leaks where no call site shows it: the allocator's in-use bytes that the shim did not see grow at/);
    assert.ok(!report.sites.some((s) => s.status === 'growing'), 'no site holds it');
    const strict = await runCli(['gate', out, '--max-leak-rate', '1MiB/h']);
    assert.equal(strict.exitCode, 1, strict.all);
    assert.match(strict.stderr, /FAIL: allocations the shim did not see grow at/);
    const absurd = await runCli(['gate', out, '--max-leak-rate', '1TiB/h', '--max-growth', '1TiB']);
    assert.equal(absurd.exitCode, 0, absurd.all);
    const off = await runCli(['gate', out, '--max-leak-rate', '1MiB/h', '--no-unseen-growth']);
    assert.notEqual(off.exitCode, 1, off.all);
    assert.match(off.stdout, /not gated \(--no-unseen-growth\)/);
  });

  it('a seen leak of many 25-byte blocks (23 bytes of chunk overhead each) is a site, not unseen growth', async () => {
    const out = join(dir.path, 'seen-small');
    const { report } = await run(out, 'seen-small');
    assert.equal(grows(report), false, JSON.stringify(report.memory.unseen));
    const site = report.sites.find((s) => s.function.startsWith('leak_seen_small_blocks'));
    assert.equal(site?.status, 'growing', JSON.stringify(site));
    assert.doesNotMatch(report.verdict.summary, /did not see/);
  });

  it('steady churn alone: nothing unseen grows, no leak', async () => {
    const out = join(dir.path, 'none');
    const { report } = await run(out, 'none', [], 6);
    assert.equal(grows(report), false, JSON.stringify(report.memory.unseen));
    assert.notEqual(report.verdict.kind, 'native-leak', report.verdict.summary);
  });

  it('a malloc looked up with dlsym on libc: named as a site once the shim interposes dlsym, found by the cross-check before', async () => {
    const out = join(dir.path, 'dlsym');
    const { report } = await run(out, 'dlsym');
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    const site = report.sites.find((s) => s.function.startsWith('stash_unseen_block'));
    if (shimInterposesDlsym()) {
      assert.equal(site?.status, 'growing', report.sites.map((s) => `${s.function} ${s.status}`).join(', '));
      assert.equal(grows(report), false, JSON.stringify(report.memory.unseen));
    } else {
      assert.ok(grows(report), JSON.stringify(report.memory.unseen));
      assert.notEqual(site?.status, 'growing');
    }
  });

  const jemalloc = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'].some(existsSync);
  it('steady churn on jemalloc: nothing unseen grows (or the check says why it could not be made)', { skip: jemalloc ? false : 'jemalloc is not installed (apt-get install libjemalloc2)' }, async () => {
    const out = join(dir.path, 'jemalloc');
    const { report } = await run(out, 'none', ['--allocator', 'jemalloc'], 6);
    const u = report.memory.unseen;
    assert.ok(u, 'the report carries the cross-check');
    if (u.available) assert.equal(u.grows, false, JSON.stringify(u));
    else assert.equal(u.why, 'no-usable-sizes', 'only older snapshots leave jemalloc unchecked');
    assert.notEqual(report.verdict.kind, 'native-leak', report.verdict.summary);
  });
});
