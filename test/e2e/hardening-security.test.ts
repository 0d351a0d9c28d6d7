/**
 * Hardening, security: a private run directory; symlinks planted where the shim writes (raw/<pid>, its .tmp files)
 * are never followed; the LEAKHUNT_* environment is validated (the target runs on, one line on stderr, no files);
 * the shim does nothing in a setuid program.
 *
 * To plant raw/<pid> before the shim starts, the target is started through fixtures/c/hardening_stopexec.c (static,
 * so the shim never loads into it): it writes its pid, stops itself, and execs the real target in the same process
 * once the test has prepared the directory and continued it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readSnapshotFile } from '../../src/snapshot/index.js';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const hardening = join(fixtureBuild, 'hardening');
const leakyApis = join(fixtureBuild, 'leaky_apis');
const shim = join(repoRoot, 'native', 'build', 'libleakhunt.so');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isRoot = process.getuid?.() === 0;
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

function buildFixtures(): void {
  const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-hardening.mjs'), '--quiet'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `building the hardening fixtures: ${result.stderr}`);
}

/** Mode, size, mtime and content of every entry under `dir` (symlinks as links), to show nothing was touched. */
function fingerprint(dir: string): Record<string, string> {
  const prints: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    prints[name] = `${stat.mode} ${stat.size} ${stat.mtimeMs} ${stat.isFile() ? readFileSync(path, 'latin1') : ''}`;
  }
  return prints;
}

/** `leakhunt run` of `command` started stopped: resolves once its pid is known and it is stopped. */
async function startStopped(out: string, pidFile: string, args: string[], command: string[]) {
  const cli = runCli(['run', '-q', '--out', out, ...args, '--', join(hardening, 'hardening_stopexec'), pidFile, ...command], { timeoutMs: 60_000 });
  let pid: number | undefined;
  for (let waited = 0; waited < 20_000 && pid === undefined; waited += 20) {
    await sleep(20);
    if (existsSync(pidFile)) pid = Number(readFileSync(pidFile, 'utf8'));
  }
  assert.ok(pid, `the stopper wrote its pid (CLI: ${cli.exitCode ?? 'running'})`);
  for (let waited = 0; waited < 5000; waited += 10) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) break;
    await sleep(10);
  }
  return { pid, cli };
}

/** The target with the shim preloaded directly (no CLI): its status, stdout, stderr lines. */
function preloaded(env: Record<string, string>, cwd: string) {
  const result = spawnSync(leakyApis, ['--rounds', '2', '--round-ms', '5'], {
    cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LD_PRELOAD: shim, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderrLines: result.stderr.split('\n').filter((l) => l !== '') };
}

describe('hardening: security of the run directory and the shim', () => {
  const dir = tempDir('leakhunt-hardening-security-');
  before(buildFixtures);
  after(() => dir.cleanup());

  it('the run directory and everything leakhunt makes in it are private (0700 directories, 0600 raw snapshots)', async () => {
    const out = join(dir.path, 'private', 'nested', 'run');
    const result = await runCli(['run', '-q', '--out', out, '--interval', '100ms', '--sample-bytes', '4KiB', '--', leakyApis, '--rounds', '4', '--round-ms', '50']);
    assert.equal(result.exitCode, 0, result.all);
    const pid = readJson<ReportJson & { pid: number }>(join(out, 'report.json')).pid;
    const mode = (path: string) => statSync(path).mode & 0o777;
    for (const sub of ['', 'raw', join('raw', String(pid)), 'snapshots']) {
      assert.equal(mode(join(out, sub)).toString(8), '700', `${sub || 'the run directory'} is 0700`);
    }
    const rawFiles = readdirSync(join(out, 'raw', String(pid)));
    assert.ok(rawFiles.length > 0);
    for (const file of rawFiles) assert.equal(mode(join(out, 'raw', String(pid), file)).toString(8), '600', file);
    for (const file of ['run.json', 'report.json', 'timeline.json']) assert.equal(mode(join(out, file)).toString(8), '600', file);
  });

  it('a symlink planted as raw/<pid> is not followed: the shim stays off, the target runs, the directory it points at is untouched', async () => {
    const out = join(dir.path, 'planted-pid');
    const elsewhere = join(dir.path, 'elsewhere-pid');
    mkdirSync(elsewhere, { mode: 0o700 });
    writeFileSync(join(elsewhere, 'precious'), 'not yours\n');
    writeFileSync(join(elsewhere, '000000.lhs'), 'a planted snapshot the CLI must not even read\n');
    const prints = fingerprint(elsewhere);
    const { pid, cli } = await startStopped(out, join(dir.path, 'planted-pid.pid'), ['--interval', '100ms', '--sample-bytes', '4KiB'],
      [leakyApis, '--rounds', '6', '--round-ms', '50']);
    symlinkSync(elsewhere, join(out, 'raw', String(pid)));
    process.kill(pid, 'SIGCONT');
    const result = await cli;
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout, /leaky_apis done rounds=6/);
    const shimLines = result.stderr.split('\n').filter((l) => l.startsWith('leakhunt shim:'));
    assert.equal(shimLines.length, 1, result.stderr);
    assert.match(shimLines[0]!, /disabled: cannot start the snapshot writer/);
    assert.ok(lstatSync(join(out, 'raw', String(pid))).isSymbolicLink(), 'the planted link is still a link');
    assert.deepEqual(fingerprint(elsewhere), prints, 'nothing written through the link');
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { snapshots: number; warnings: string[] };
    assert.equal(report.snapshots, 0, 'the CLI did not read through the link either');
    assert.ok(!report.warnings.some((w) => w.includes('000000.lhs')), report.warnings.join('\n'));
  });

  describe('symlinks planted as raw/<pid>/NNNNNN.lhs.tmp', () => {
    const out = join(dir.path, 'planted-tmp');
    const elsewhere = join(dir.path, 'elsewhere-tmp');
    let pid = 0;
    let result: Awaited<ReturnType<typeof runCli>>;
    let prints: Record<string, string> = {};

    before(async () => {
      mkdirSync(elsewhere, { mode: 0o700 });
      writeFileSync(join(elsewhere, 'precious'), 'not yours\n');
      prints = fingerprint(elsewhere);
      const started = await startStopped(out, join(dir.path, 'planted-tmp.pid'), ['--interval', '100ms', '--sample-bytes', '4KiB'],
        [leakyApis, '--rounds', '16', '--round-ms', '50']);
      pid = started.pid;
      const pidDir = join(out, 'raw', String(pid));
      mkdirSync(pidDir, { mode: 0o700 });
      for (const sequence of ['000000', '000001', '000002']) symlinkSync(join(elsewhere, 'precious'), join(pidDir, `${sequence}.lhs.tmp`));
      symlinkSync(join(elsewhere, 'created'), join(pidDir, '000003.lhs.tmp')); // dangling: O_CREAT must not create it
      process.kill(pid, 'SIGCONT');
      result = await started.cli;
    });

    it('are never written through; the snapshots after them are written normally', () => {
      assert.equal(result.exitCode, 0, result.all);
      assert.match(result.stdout, /leaky_apis done rounds=16/);
      assert.deepEqual(fingerprint(elsewhere), prints, 'the file the links point at is untouched, the dangling one not created');
      const pidDir = join(out, 'raw', String(pid));
      for (const sequence of ['000000', '000001', '000002', '000003']) {
        assert.ok(lstatSync(join(pidDir, `${sequence}.lhs.tmp`)).isSymbolicLink(), `${sequence}.lhs.tmp is still the planted link`);
      }
      const written = readdirSync(pidDir).filter((f) => f.endsWith('.lhs')).sort();
      assert.ok(written.length >= 2 && written[0] === '000004.lhs', `the series goes on after the planted names: ${written.join(' ')}`);
      const last = readSnapshotFile(join(pidDir, written[written.length - 1]!));
      assert.equal(last.counters.writeErrors, 4, 'each planted name cost one snapshot, counted as a write error');
      assert.equal(readJson<ReportJson>(join(out, 'report.json')).snapshots, written.length);
    });

    it('the snapshots lost to write errors are reported', () => {
      const report = readJson<ReportJson & { shim: Record<string, number> }>(join(out, 'report.json'));
      assert.equal(report.shim.writeErrors, 4, JSON.stringify(report.shim));
      assert.ok(report.warnings.some((w) => /could not (be )?writ|write error/i.test(w)), JSON.stringify(report.warnings));
    });
  });

  it('a dangling symlink planted as raw/<pid>/flush-request is not followed by the CLI\'s last-snapshot request', async () => {
    const out = join(dir.path, 'planted-flush');
    const target = join(dir.path, 'created-by-flush-request');
    const cli = runCli(['run', '-q', '--out', out, '--interval', '5s', '--duration', '1s', '--sample-bytes', '4KiB', '--',
      leakyApis, '--rounds', '100000', '--round-ms', '50'], { timeoutMs: 60_000 });
    let pidDir: string | undefined;
    for (let waited = 0; waited < 10_000 && !pidDir; waited += 10) {
      await sleep(10);
      const pids = existsSync(join(out, 'raw')) ? readdirSync(join(out, 'raw')) : [];
      if (pids.length > 0) pidDir = join(out, 'raw', pids[0]!);
    }
    assert.ok(pidDir, 'the target started');
    symlinkSync(target, join(pidDir, 'flush-request'));
    const result = await cli;
    assert.equal(result.exitCode, 0, result.all); // stopped by leakhunt at --duration
    assert.ok(!existsSync(target), 'the CLI created a file through the planted link');
  });

  describe('the environment the shim reads', () => {
    const cwd = join(dir.path, 'env-cwd');
    const runDir = join(dir.path, 'env-raw');
    let baseline = '';

    before(() => {
      mkdirSync(cwd);
      mkdirSync(runDir, { mode: 0o700 });
      const plain = spawnSync(leakyApis, ['--rounds', '2', '--round-ms', '5'], { encoding: 'utf8' });
      assert.equal(plain.status, 0);
      baseline = plain.stdout;
    });

    it('valid settings: the shim records (the control case)', () => {
      const run = preloaded({ LEAKHUNT_DIR: runDir, LEAKHUNT_SAMPLE_BYTES: '4096', LEAKHUNT_INTERVAL_MS: '50' }, cwd);
      assert.equal(run.status, 0);
      assert.deepEqual(run.stderrLines, []);
      assert.ok(readdirSync(runDir).length > 0, 'raw/<pid> written');
    });

    it('a malformed or out-of-range value: the target runs as without the shim, one line on stderr, no files', () => {
      const symlinked = join(dir.path, 'env-link');
      symlinkSync(runDir, symlinked);
      const aFile = join(dir.path, 'env-file');
      writeFileSync(aFile, '');
      const cases: [Record<string, string>, RegExp][] = [
        [{ LEAKHUNT_SAMPLE_BYTES: '12abc' }, /LEAKHUNT_SAMPLE_BYTES is not a whole number in its allowed range/],
        [{ LEAKHUNT_SAMPLE_BYTES: '' }, /LEAKHUNT_SAMPLE_BYTES/],
        [{ LEAKHUNT_SAMPLE_BYTES: '-5' }, /LEAKHUNT_SAMPLE_BYTES/],
        [{ LEAKHUNT_SAMPLE_BYTES: ' 12' }, /LEAKHUNT_SAMPLE_BYTES/],
        [{ LEAKHUNT_SAMPLE_BYTES: '0' }, /LEAKHUNT_SAMPLE_BYTES/],
        [{ LEAKHUNT_SAMPLE_BYTES: '99999999999999999999999' }, /LEAKHUNT_SAMPLE_BYTES/],
        [{ LEAKHUNT_INTERVAL_MS: '10' }, /LEAKHUNT_INTERVAL_MS/],
        [{ LEAKHUNT_TABLE_CAPACITY: '1k' }, /LEAKHUNT_TABLE_CAPACITY/],
        [{ LEAKHUNT_MAX_STACKS: '0x100' }, /LEAKHUNT_MAX_STACKS/],
        [{ LEAKHUNT_STACK_DEPTH: '1000' }, /LEAKHUNT_STACK_DEPTH/],
        [{ LEAKHUNT_SEED: '1.5' }, /LEAKHUNT_SEED/],
        [{ LEAKHUNT_DIR: 'relative/raw' }, /LEAKHUNT_DIR must be an absolute path/],
        [{ LEAKHUNT_DIR: '' }, /LEAKHUNT_DIR must be an absolute path/],
        [{ LEAKHUNT_DIR: symlinked }, /LEAKHUNT_DIR is not a directory of ours \(or is a symlink\)/],
        [{ LEAKHUNT_DIR: join(dir.path, 'no-such-dir') }, /LEAKHUNT_DIR is not a directory of ours/],
        [{ LEAKHUNT_DIR: aFile }, /LEAKHUNT_DIR is not a directory of ours/],
      ];
      for (const [env, message] of cases) {
        for (const name of readdirSync(runDir)) spawnSync('rm', ['-rf', join(runDir, name)]);
        const run = preloaded({ LEAKHUNT_DIR: runDir, LEAKHUNT_INTERVAL_MS: '50', ...env }, cwd);
        const what = JSON.stringify(env);
        assert.equal(run.status, 0, what);
        assert.equal(run.stdout, baseline, `${what}: the target's output is unchanged`);
        assert.equal(run.stderrLines.length, 1, `${what}: ${run.stderrLines.join(' | ')}`);
        assert.match(run.stderrLines[0]!, /^leakhunt shim: disabled: /, what);
        assert.match(run.stderrLines[0]!, message, what);
        assert.deepEqual(readdirSync(runDir), [], `${what}: no files`);
        assert.deepEqual(readdirSync(cwd), [], `${what}: nothing in the working directory either`);
      }
    });

    it('a LEAKHUNT_DIR owned by another user is refused', { skip: isRoot ? false : 'needs root to chown a directory' }, () => {
      const foreign = join(dir.path, 'env-foreign');
      mkdirSync(foreign, { mode: 0o777 });
      chownSync(foreign, 65534, 65534);
      const run = preloaded({ LEAKHUNT_DIR: foreign }, cwd);
      assert.equal(run.status, 0);
      assert.equal(run.stderrLines.length, 1, run.stderrLines.join(' | '));
      assert.match(run.stderrLines[0]!, /LEAKHUNT_DIR is not a directory of ours/);
      assert.deepEqual(readdirSync(foreign), []);
    });

    it('malformed LEAKHUNT_PARENT_PID, LEAKHUNT_FOLLOW_CHILDREN and LEAKHUNT_JAVA_STACKS are refused like the others', () => {
      const malformed: Record<string, string>[] = [{ LEAKHUNT_PARENT_PID: 'abc' }, { LEAKHUNT_FOLLOW_CHILDREN: 'yes' }, { LEAKHUNT_JAVA_STACKS: 'maybe' }];
      for (const env of malformed) {
        for (const name of readdirSync(runDir)) spawnSync('rm', ['-rf', join(runDir, name)]);
        const run = preloaded({ LEAKHUNT_DIR: runDir, LEAKHUNT_INTERVAL_MS: '50', ...env }, cwd);
        const what = JSON.stringify(env);
        assert.equal(run.status, 0, what);
        assert.equal(run.stderrLines.length, 1, `${what}: ${JSON.stringify(run.stderrLines)}`);
        assert.match(run.stderrLines[0]!, /^leakhunt shim: disabled: LEAKHUNT_/, what);
        assert.deepEqual(readdirSync(runDir), [], `${what}: no files`);
      }
    });

    it('LEAKHUNT_DIR naming a symlink with a trailing slash is refused too', () => {
      const link = join(dir.path, 'env-slash-link');
      symlinkSync(runDir, link);
      for (const name of readdirSync(runDir)) spawnSync('rm', ['-rf', join(runDir, name)]);
      const run = preloaded({ LEAKHUNT_DIR: `${link}/`, LEAKHUNT_INTERVAL_MS: '50' }, cwd);
      assert.equal(run.status, 0);
      assert.deepEqual(readdirSync(runDir), [], 'nothing written through the link');
      assert.equal(run.stderrLines.length, 1, JSON.stringify(run.stderrLines));
    });
  });

  describe('setuid programs', () => {
    const why = !isRoot ? 'needs root to make a setuid program and switch to another user'
      : !setpriv ? 'needs setpriv (util-linux) to run it as another user' : false;
    const place = join(dir.path, 'setuid');
    const program = join(place, 'hardening_setuid');
    const ownShim = join(place, 'libleakhunt.so');
    const outDir = join(place, 'out');

    before(() => {
      if (why) return;
      // World-traversable copies: the test's temp directory is private, and the user switched to must reach them.
      mkdirSync(place);
      chmodSync(dir.path, 0o755);
      chmodSync(place, 0o755);
      copyFileSync(join(hardening, 'hardening_setuid'), program);
      copyFileSync(shim, ownShim);
      chmodSync(ownShim, 0o755);
      mkdirSync(outDir, { mode: 0o700 }); // root's: a shim running with euid 0 could write here
    });

    const env = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', LEAKHUNT_DIR: outDir, LEAKHUNT_INTERVAL_MS: '50' });

    it('control: the same program without the setuid bit, the shim loaded the same way, records', { skip: why }, () => {
      chmodSync(program, 0o755);
      const result = spawnSync(program, [ownShim], { encoding: 'utf8', env: env() });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /secure=0 .*loaded=1/);
      assert.ok(readdirSync(outDir).length > 0, 'the shim wrote raw/<pid>');
      for (const name of readdirSync(outDir)) spawnSync('rm', ['-rf', join(outDir, name)]);
    });

    it('run setuid-root by nobody, with the invoker\'s LEAKHUNT_* and LD_PRELOAD: runs normally, nothing written', { skip: why }, (t) => {
      chmodSync(program, 0o4755);
      const asNobody = [setpriv!, '--reuid=65534', '--regid=65534', '--clear-groups', '--'];
      // The shim loaded into the secure process (as from a system library directory) ...
      const loaded = spawnSync(asNobody[0]!, [...asNobody.slice(1), program, ownShim], { encoding: 'utf8', env: env() });
      assert.equal(loaded.status, 0, loaded.stderr);
      const secure = /secure=(\d+) euid=(\d+) uid=(\d+) loaded=(\d)/.exec(loaded.stdout);
      assert.ok(secure, loaded.stdout);
      if (secure[1] !== '1') {
        t.skip(`the kernel did not run the copy setuid (AT_SECURE=${secure[1]}, euid ${secure[2]}): is ${place} on a nosuid mount?`);
        return;
      }
      assert.deepEqual([secure[2], secure[3], secure[4]], ['0', '65534', '1']);
      assert.equal(loaded.stderr, '', 'not a word from the shim either');
      // ... and through LD_PRELOAD, set only for the setuid program (env execs it; setpriv itself is not preloaded).
      const viaPreload = spawnSync(asNobody[0]!, [...asNobody.slice(1), '/usr/bin/env', `LD_PRELOAD=${ownShim}`, program, ownShim],
        { encoding: 'utf8', env: env() });
      assert.equal(viaPreload.status, 0, viaPreload.stderr);
      assert.match(viaPreload.stdout, /secure=1 /);
      assert.deepEqual(readdirSync(outDir), [], 'no raw/<pid> in LEAKHUNT_DIR');
    });

    it('a target that drops privileges the way setpriv does (keep caps, capset on its main thread) is not aborted', {
      skip: why,
    }, async () => {
      const out = join(dir.path, 'setpriv-run');
      const result = await runCli(['run', '-q', '--out', out, '--interval', '100ms', '--sample-bytes', '4KiB', '--',
        setpriv!, '--reuid=65534', '--regid=65534', '--clear-groups', '--', '/bin/sh', '-c', 'echo ran as $(id -u)'], { timeoutMs: 30_000 });
      assert.equal(result.exitCode, 0, result.all);
      assert.match(result.stdout, /ran as 65534/);
    });
  });
});
