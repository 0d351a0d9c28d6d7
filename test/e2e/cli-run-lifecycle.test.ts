/** The run command's contract with its target and its user: signals, kills, output protection, bad input. */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSnapshotFile } from '../../src/snapshot/index.js';
import { fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leakhunt run: lifecycle and errors', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('a target killed with SIGKILL halfway leaves readable snapshots up to the last interval', async () => {
    const out = join(dir.path, 'killed');
    const cli = runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '1', '--', join(fixtureBuild, 'leaky_apis'),
      '--rounds', '1000', '--round-ms', '50', '--hang-at-round', '20']);
    // Wait until the target hangs (it says so on stderr), then kill it from outside.
    let pid: number | undefined;
    for (let i = 0; i < 200 && pid === undefined; i++) {
      await sleep(50);
      const rawDir = join(out, 'raw');
      if (existsSync(rawDir)) {
        const pids = readdirSync(rawDir);
        const files = pids.length ? readdirSync(join(rawDir, pids[0]!)).filter((f) => f.endsWith('.lhs')) : [];
        if (files.length >= 4) pid = Number(pids[0]);
      }
    }
    assert.ok(pid, 'the target wrote snapshots');
    process.kill(pid, 'SIGKILL');
    const result = await cli;
    assert.equal(result.exitCode, 137, result.all);
    const files = readdirSync(join(out, 'raw', String(pid))).filter((f) => f.endsWith('.lhs'));
    for (const file of files) readSnapshotFile(join(out, 'raw', String(pid), file)); // every one parses
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assert.equal(report.snapshots, files.length);
    assert.equal(report.exitStatus, 137);
    assert.ok(report.sites.some((s) => s.function === 'leak_via_malloc' && s.liveBytes > 0));
  });

  it('--duration stops the target, after a last snapshot', async () => {
    const out = join(dir.path, 'duration');
    const started = Date.now();
    const result = await runCli(['run', '--out', out, '--interval', '5s', '--sample-bytes', '1', '--duration', '1500ms', '--',
      join(fixtureBuild, 'leaky_apis'), '--rounds', '100000', '--round-ms', '50']);
    assert.ok(Date.now() - started < 20_000);
    assert.equal(result.exitCode, 128 + 15, result.all); // SIGTERM
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assert.ok(report.snapshots >= 1, 'the flush request produced a snapshot before the stop');
    assert.ok(report.sites.some((s) => s.function === 'leak_via_calloc'));
  });

  it('refuses to overwrite a non-empty run directory without --force, and keeps the user\'s files with it', async () => {
    const out = join(dir.path, 'existing');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const refused = await runCli(['run', '--out', out, '--', join(fixtureBuild, 'steady'), '--seconds', '0.2']);
    assert.equal(refused.exitCode, 5);
    assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
    assert.match(refused.stderr, /not empty.*--force/);
    const forced = await runCli(['run', '--out', out, '--force', '--interval', '100ms', '--', join(fixtureBuild, 'steady'), '--seconds', '0.5']);
    assert.equal(forced.exitCode, 0, forced.all);
    assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
    assert.ok(existsSync(join(out, 'report.json')));
  });

  it('--force clears every file leakhunt owns (jvm.json, perfmaps/, objects/, processes/ too) and only those', async () => {
    const out = join(dir.path, 'forced');
    const stale = ['jvm.json', 'perfmaps/4242/index.json', 'perfmaps/4242/100.map', 'objects/index.json', 'objects/inode7-libgone.so',
      'processes/4243/report.json', 'processes/4243/snapshots/0000.pb.gz', 'raw/4242/000000.lhs', 'snapshots/0007.pb.gz',
      'report.md', 'report.json.tmp-99'];
    for (const file of stale) {
      mkdirSync(join(out, file, '..'), { recursive: true });
      writeFileSync(join(out, file), 'stale');
    }
    writeFileSync(join(out, 'notes.txt'), 'mine');
    mkdirSync(join(out, 'mine'));
    writeFileSync(join(out, 'mine', 'jvm.json'), 'mine too');
    const forced = await runCli(['run', '--out', out, '--force', '--interval', '100ms', '--', join(fixtureBuild, 'steady'), '--seconds', '0.3']);
    assert.equal(forced.exitCode, 0, forced.all);
    for (const file of stale) assert.ok(!existsSync(join(out, file)), `${file} was removed`);
    for (const folder of ['perfmaps', 'objects', 'processes']) assert.ok(!existsSync(join(out, folder)), `${folder}/ was removed`);
    assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'mine');
    assert.equal(readFileSync(join(out, 'mine', 'jvm.json'), 'utf8'), 'mine too');
    assert.ok(existsSync(join(out, 'report.json')));
  });

  it('a steady program is not reported as leaking', async () => {
    const out = join(dir.path, 'steady');
    const result = await runCli(['run', '--out', out, '--interval', '300ms', '--sample-bytes', '64KiB', '--',
      join(fixtureBuild, 'steady'), '--seconds', '3']);
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assert.equal(report.verdict.kind, 'no-growth', report.verdict.summary);
    assert.ok(report.sites.every((s) => s.status !== 'growing'));
  });

  it('bad input: one line, a distinct exit code, no stack trace', async () => {
    const cases: [string[], number, RegExp][] = [
      [['run', '--interval', 'soon', '--', 'true'], 2, /--interval/],
      [['run', '--sample-bytes', '12XB', '--', 'true'], 2, /--sample-bytes/],
      [['run', '--out', join(dir.path, 'nocmd')], 2, /command/],
      [['run', '--out', join(dir.path, 'missing'), '--', 'no-such-command-leakhunt'], 2, /not found|cannot start/],
      [['frobnicate'], 2, /unknown command/],
    ];
    for (const [args, code, message] of cases) {
      const result = await runCli(args);
      assert.equal(result.exitCode, code, `${args.join(' ')}: ${result.all}`);
      const lines = result.stderr.trim().split('\n').filter((l) => !/^\s*$/.test(l) && !/^(Usage|Options|Commands|  )/.test(l));
      assert.ok(lines.length >= 1 && lines.every((l) => !/^\s+at /.test(l)), `no stack trace: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });
});

describe('leakhunt run: signals', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('relays SIGINT to the command and exits 128+2 with a report of what was recorded', async () => {
    const out = join(dir.path, 'interrupted');
    const cli = runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '1', '--', join(fixtureBuild, 'leaky_apis'),
      '--rounds', '100000', '--round-ms', '50']);
    for (let i = 0; i < 200; i++) {
      await sleep(50);
      if (existsSync(join(out, 'raw')) && readdirSync(join(out, 'raw')).length > 0) break;
    }
    await sleep(700);
    cli.kill('SIGINT');
    const result = await cli;
    assert.equal(result.exitCode, 130, result.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assert.equal(report.exitStatus, 130);
    assert.ok(report.sites.some((s) => s.function === 'leak_via_strdup'));
  });
});
