/**
 * What the user's environment does to a run, and the exit codes README gives for it: a run directory that cannot be
 * made or written (a read-only file system, /sys, a dangling link: exit 4, one line), a command that cannot start
 * (127 not found, 126 not executable, as a shell says; no half run directory left behind), an --out that is a
 * link to an empty directory (accepted), and the stop leakhunt itself makes at --duration (exit 0, or the gate's).
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { assertOneLineFailure, cliPath, demoCommand, fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

const steady = (seconds = '0.3') => [join(fixtureBuild, 'steady'), '--seconds', seconds];

/**
 * Runs the CLI with `dir` mounted read-only over itself, in a user and mount namespace of its own (root ignores
 * file modes, so a read-only mount is the one read-only directory that holds for everyone). Undefined where user
 * namespaces are not allowed.
 */
async function runCliOnReadOnlyMount(dir: string, args: string[]) {
  const script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"';
  return execa('unshare', ['-Urm', 'sh', '-c', script, dir, process.execPath, cliPath, ...args], {
    reject: false, all: true, env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000,
  });
}

describe('leakhunt run: where the run directory cannot be', () => {
  const dir = tempDir();
  let readOnlyMounts: string | false = 'user namespaces are not available here: no read-only mount to test on';
  before(async () => {
    const probe = join(dir.path, 'probe');
    mkdirSync(probe);
    const result = await execa('unshare', ['-Urm', 'sh', '-c', 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && ! touch "$0/x" 2>/dev/null', probe], { reject: false });
    if (result.exitCode === 0) readOnlyMounts = false;
  });
  after(() => dir.cleanup());

  it('--out on a read-only file system: exit 4, one line naming it', async (t) => {
    if (readOnlyMounts) return t.skip(readOnlyMounts);
    const readOnly = join(dir.path, 'ro');
    mkdirSync(readOnly);
    const result = await runCliOnReadOnlyMount(readOnly, ['run', '--out', join(readOnly, 'run'), '--', ...steady()]);
    assertOneLineFailure(result, 4, /^leakhunt: cannot create the run directory \S+\/ro\/run: read-only file system$/);
    assert.deepEqual(readdirSync(readOnly), []);
  });

  it('--out under /sys: exit 4, one line', async () => {
    const result = await runCli(['run', '--out', '/sys/leakhunt-test-run', '--', ...steady()]);
    assertOneLineFailure(result, 4, /^leakhunt: cannot create the run directory \/sys\/leakhunt-test-run: (operation not permitted|permission denied|read-only file system)$/);
  });

  it('--out under /proc/self: exit 4 at once (Node\'s recursive mkdir spun there for ever)', async () => {
    const result = await runCli(['run', '--out', '/proc/self/leakhunt/run', '--', ...steady()], { timeoutMs: 20_000 });
    assertOneLineFailure(result, 4, /^leakhunt: cannot create the run directory \/proc\/self\/leakhunt\/run: /);
  });

  it('--out a dangling symbolic link: exit 4, one line, the link left as it was', async () => {
    const link = join(dir.path, 'dangling');
    symlinkSync(join(dir.path, 'nowhere'), link);
    const result = await runCli(['run', '--out', link, '--', ...steady()]);
    assertOneLineFailure(result, 4, /^leakhunt: \S+\/dangling: a symbolic link to \S+\/nowhere, which does not exist: create it, or choose another --out$/);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.ok(!existsSync(join(dir.path, 'nowhere')));
  });

  it('--out a symbolic link to an empty directory: the run is recorded there; to a file: exit 5', async () => {
    const target = join(dir.path, 'empty-target');
    mkdirSync(target);
    const link = join(dir.path, 'link-to-empty');
    symlinkSync(target, link);
    const result = await runCli(['run', '-q', '--out', link, '--', ...steady()]);
    assert.equal(result.exitCode, 0, result.all);
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link stays a link');
    assert.ok(existsSync(join(target, 'report.json')) && existsSync(join(target, 'run.json')), readdirSync(target).join(' '));
    const aFile = join(dir.path, 'a-file');
    writeFileSync(aFile, 'mine');
    const toFile = join(dir.path, 'link-to-file');
    symlinkSync(aFile, toFile);
    assertOneLineFailure(await runCli(['run', '--out', toFile, '--', ...steady()]), 5, /exists and is not a directory/);
    assert.equal(readFileSync(aFile, 'utf8'), 'mine');
  });
});

describe('leakhunt run: a command that cannot start', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('not found: exit 127, one line, no run directory; a retry with the same --out needs no --force', async () => {
    const out = join(dir.path, 'not-found');
    assertOneLineFailure(await runCli(['run', '--out', out, '--', 'leakhunt-no-such-command', '--flag']), 127, /^leakhunt: cannot run "leakhunt-no-such-command": command not found$/);
    assert.ok(!existsSync(out), 'no run directory');
    assertOneLineFailure(await runCli(['run', '--out', out, '--', join(dir.path, 'missing', 'tool')]), 127, /cannot run "\S+\/missing\/tool": no such file$/);
    const retry = await runCli(['run', '-q', '--out', out, '--', ...steady()]);
    assert.equal(retry.exitCode, 0, retry.all);
  });

  it('not executable, or a directory: exit 126, one line; an existing --out keeps the user\'s files and nothing of leakhunt\'s', async () => {
    const script = join(dir.path, 'script.sh');
    writeFileSync(script, '#!/bin/sh\necho hi\n');
    chmodSync(script, 0o644);
    const out = join(dir.path, 'existing');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    assertOneLineFailure(await runCli(['run', '--force', '--out', out, '--', script]), 126, /^leakhunt: cannot run "\S+script\.sh": permission denied \(not executable: chmod \+x\?\)$/);
    assertOneLineFailure(await runCli(['run', '--force', '--out', out, '--', dir.path]), 126, /it is a directory$/);
    assert.deepEqual(readdirSync(out), ['notes.txt']);
  });

  it('a #! interpreter that is missing: exit 127 (as bash), one line, no run directory', async () => {
    const script = join(dir.path, 'bad-interpreter');
    writeFileSync(script, '#!/nonexistent/leakhunt-interpreter\necho hi\n');
    chmodSync(script, 0o755);
    const out = join(dir.path, 'bad-interpreter-run');
    assertOneLineFailure(await runCli(['run', '--out', out, '--', script]), 127, /^leakhunt: cannot run "\S+": its #! interpreter or its ELF loader is missing$/);
    assert.ok(!existsSync(out), 'no half run directory');
  });
});

describe('leakhunt report --write where it cannot write', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('a read-only run directory: exit 4, one line; the report is not printed half', async (t) => {
    const probe = await execa('unshare', ['-Urm', 'true'], { reject: false });
    if (probe.exitCode !== 0) return t.skip('user namespaces are not available here: no read-only mount to test on');
    const out = join(dir.path, 'run');
    const run = await runCli(['run', '-q', '--out', out, '--', ...steady()]);
    assert.equal(run.exitCode, 0, run.all);
    const before = readFileSync(join(out, 'report.json'), 'utf8');
    const result = await runCliOnReadOnlyMount(out, ['report', out, '--write']);
    assertOneLineFailure(result, 4, /^leakhunt: cannot write \S+\/report\.json: read-only file system$/);
    const html = await runCliOnReadOnlyMount(out, ['report', out, '--format', 'html', '--write']);
    assertOneLineFailure(html, 4, /^leakhunt: cannot write \S+\/report\.(json|html): read-only file system$/);
    assert.equal(readFileSync(join(out, 'report.json'), 'utf8'), before);
    // A run never processed, on a read-only mount: processing it cannot write its profiles.
    rmSync(join(out, 'report.json'));
    rmSync(join(out, 'snapshots'), { recursive: true });
    const unprocessed = await runCliOnReadOnlyMount(out, ['report', out]);
    assert.equal(unprocessed.exitCode, 4, unprocessed.all);
    assert.match(unprocessed.stderr.trim().split('\n').at(-1)!, /^leakhunt: cannot (write|create) \S+: read-only file system$/);
    assert.doesNotMatch(unprocessed.all ?? '', /internal error|\bat .*\.js:\d+/);
  });
});

describe('leakhunt run --duration: the stop leakhunt makes is not a failure', () => {
  const dir = tempDir();
  after(() => dir.cleanup());
  const forever = [join(fixtureBuild, 'leaky_apis'), '--rounds', '100000', '--round-ms', '100'];

  it('with --fail-on-leak the exit status is the gate\'s (1), not 143', async () => {
    const result = await runCli(['run', '-q', '--out', join(dir.path, 'gated'), '--interval', '200ms', '--sample-bytes', '1', '--duration', '2500ms',
      '--fail-on-leak', '--max-leak-rate', '1KiB/h', '--', ...forever]);
    assert.equal(result.exitCode, 1, result.all);
    assert.match(result.stderr, /leakhunt gate: FAIL: /);
    assert.equal(readJson<ReportJson>(join(dir.path, 'gated', 'report.json')).exitStatus, 143, 'report.json keeps the command\'s own status');
  });

  it('a JVM, which exits 143 itself on SIGTERM: exit 0', async () => {
    const result = await runCli(['run', '-q', '--out', join(dir.path, 'jvm'), '--interval', '1s', '--duration', '4s', '--', ...demoCommand(60)], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const meta = readJson<{ exitStatus: number; stoppedAfterDuration: boolean }>(join(dir.path, 'jvm', 'run.json'));
    assert.equal(meta.stoppedAfterDuration, true);
    assert.equal(meta.exitStatus, 143, 'the JVM\'s own status is kept');
  });

  it('a command that ends on its own before the duration keeps its own status', async () => {
    const result = await runCli(['run', '-q', '--out', join(dir.path, 'own'), '--duration', '30s', '--', join(fixtureBuild, 'leaky_apis'), '--rounds', '3', '--round-ms', '50', '--exit-code', '9']);
    assert.equal(result.exitCode, 9, result.all);
  });
});
