/**
 * Hardening: programs that do unusual things while the shim samples every allocation — C++ exceptions thrown
 * through frames that allocate, a SIGSEGV handler used on purpose (as the JVM does), vfork() + exec, threads with
 * 16 KiB stacks. Each must run to its own end with its own status, and its leaks be attributed exactly.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const hardening = join(fixtureBuild, 'hardening');

function buildFixtures(): void {
  const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-hardening.mjs'), '--quiet'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `building the hardening fixtures: ${result.stderr}`);
}

type Report = ReportJson & { pid: number; shim: { samples: number; missedFrees: number } };

async function record(out: string, command: string[], options: string[] = []) {
  const result = await runCli(['run', '-q', '--out', out, '--interval', '100ms', '--sample-bytes', '1', ...options, '--', ...command], { timeoutMs: 60_000 });
  assert.ok(!result.timedOut, `the run ended by itself: ${result.all}`);
  return { result, report: readJson<Report>(join(out, 'report.json')) };
}

/** The number after `name=` on the target's output line. */
function printed(stdout: string, name: string): number {
  const match = new RegExp(`\\b${name}=(\\d+)`).exec(stdout);
  assert.ok(match, `"${name}=" in ${stdout}`);
  return Number(match[1]);
}

/** Whether this machine lets an unprivileged-style user namespace be made at all (containers may forbid it). */
function userNamespacesWork(): boolean {
  const plain = spawnSync('unshare', ['--user', '--map-root-user', 'id', '-u'], { encoding: 'utf8' });
  return plain.status === 0 && plain.stdout.trim() === '0';
}

describe('hardening: unusual programs run to their end under the shim', () => {
  const dir = tempDir('leakhunt-hardening-programs-');
  before(buildFixtures);
  after(() => dir.cleanup());

  it('C++ exceptions thrown through frames that allocate, on 4 threads: every one caught, the leak exact', async () => {
    const { result, report } = await record(join(dir.path, 'exceptions'), [join(hardening, 'hardening_exceptions'), '--threads', '4', '--rounds', '2000']);
    assert.equal(result.exitCode, 0, result.all);
    assert.equal(printed(result.stdout, 'caught'), 8000);
    const kept = printed(result.stdout, 'kept_bytes');
    assert.equal(kept, 80 * 7001);
    const site = report.sites.find((s) => /^exceptions_catch_and_keep\b/.test(s.function));
    assert.ok(site, `sites: ${report.sites.map((s) => s.function).join(', ')}`);
    assert.equal(site.liveBytes, kept);
    assert.ok(report.shim.samples > 100_000, `every allocation sampled, unwinding included (${report.shim.samples})`);
    assert.equal(report.shim.missedFrees, 0);
  });

  it('a target that recovers from 40 000 SIGSEGVs of its own (siglongjmp) while allocating: status 0, leaks exact', async () => {
    const { result, report } = await record(join(dir.path, 'sigsegv'), [join(hardening, 'hardening_sigsegv'), '--threads', '2', '--faults', '20000']);
    assert.equal(result.exitCode, 0, result.all);
    assert.equal(printed(result.stdout, 'recovered'), 40_000);
    const kept = report.sites.find((s) => s.function === 'segv_keep');
    assert.ok(kept, `sites: ${report.sites.map((s) => s.function).join(', ')}`);
    assert.equal(kept.liveBytes, printed(result.stdout, 'kept_bytes'));
    // Allocated inside the signal handler: the stack goes through the signal frame back to the faulting function.
    const inHandler = report.sites.find((s) => s.function === 'segv_handler_keep');
    assert.ok(inHandler, 'the handler\'s allocations were sampled');
    assert.equal(inHandler.liveBytes, printed(result.stdout, 'handler_kept_bytes'));
    const frames = inHandler.stack.map((f) => f.split(' ')[0]);
    const handler = frames.indexOf('on_segv');
    const faulting = frames.indexOf('segv_touch');
    assert.ok(handler > 0 && faulting > handler && frames.includes('worker'), `unwound through the signal frame: ${inHandler.stack.join(' < ')}`);
    assert.equal(report.shim.missedFrees, 0);
  });

  it('vfork() + exec (and failed execs, and an execvp PATH search): children write nothing, the parent\'s leak is exact', async () => {
    const out = join(dir.path, 'vfork');
    const { result, report } = await record(out, [join(hardening, 'hardening_vfork'), '--children', '20']);
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout, /hardening_vfork children=20 ok/);
    assert.deepEqual(readdirSync(join(out, 'raw')), [String(report.pid)], 'only the target itself has snapshots');
    const parent = report.sites.find((s) => s.function === 'vfork_parent_keeps');
    assert.ok(parent, `sites: ${report.sites.map((s) => s.function).join(', ')}`);
    assert.equal(parent.liveBytes, 20 * 20021);
    assert.ok(!report.sites.some((s) => s.function === 'vfork_child_allocates'), 'the exec\'d children\'s allocations are not the parent\'s');
  });

  it('threads with 16 KiB stacks allocating 5 KiB deep, every allocation sampled at --stack-depth 256: status 0, the leak exact', async () => {
    // The frames of a sample once sat on the allocating thread's stack (10 KiB at depth 256): this overflowed.
    const { result, report } = await record(join(dir.path, 'smallstack'), [join(hardening, 'hardening_smallstack'), '--threads', '4', '--levels', '16'],
      ['--stack-depth', '256']);
    assert.equal(result.exitCode, 0, result.all);
    const kept = printed(result.stdout, 'kept_bytes');
    assert.equal(kept, 4 * 7919);
    const site = report.sites.find((s) => s.function === 'small_stack_keeps');
    assert.ok(site, `sites: ${report.sites.map((s) => s.function).join(', ')}`);
    assert.equal(site.liveBytes, kept);
    assert.ok(site.stack.filter((f) => f.startsWith('descend ')).length >= 16, `unwound through every level: ${site.stack.join(' < ')}`);
  });

  it('a target that makes a user namespace (unshare --user, as bwrap, rootless podman and sandboxes do) still can', {
    skip: userNamespacesWork() ? false : 'unshare --user does not work on this machine even without the shim',
  }, async () => {
    const { result } = await record(join(dir.path, 'unshare'), ['unshare', '--user', '--map-root-user', 'id', '-u']);
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout, /^0$/m);
  });
});
