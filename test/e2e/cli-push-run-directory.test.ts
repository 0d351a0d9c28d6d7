/**
 * Pushing as the run directory has it: when retention (--max-snapshots) deletes raw snapshots in the middle of a run,
 * their profiles go too — the run directory stays as `leakhunt report` knows it — while the backend, which got
 * each profile as it was made, keeps them all, once; with --follow-children each process's profiles are its own
 * series (its pid label), and `leakhunt push` finds them in processes/<pid>/snapshots; a run whose leakhunt was
 * killed half-way is processed by `leakhunt push`, which sends what the live push had not.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProfileReceiver } from '../support/profile-receiver.js';
import { assertEachExactlyOnce, inuseOf, leakyApis, profilesOfRun, type PushReport } from '../support/push-e2e.js';
import { fixtureBuild, readJson, runCli, tempDir } from './helpers.js';

describe('leakhunt run --push with retention thinning the middle of the run', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  const receiver = new ProfileReceiver();
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: PushReport;

  before(async () => {
    await receiver.start();
    result = await runCli(['run', '--out', out, '--interval', '100ms', '--max-snapshots', '8', '--sample-bytes', '1', '--push', receiver.baseUrl, '--',
      ...leakyApis(fixtureBuild, 30, 100)]);
    report = readJson<PushReport>(join(out, 'report.json'));
  });
  after(async () => {
    await receiver.stop();
    dir.cleanup();
  });

  it('the run directory keeps what retention keeps: as many profiles as raw snapshots and timeline points', async () => {
    assert.equal(result.exitCode, 7, result.all);
    const raw = readdirSync(join(out, 'raw', String(report.pid))).filter((f) => f.endsWith('.lhs')).length;
    const timeline = readJson<{ snapshots: unknown[] }>(join(out, 'timeline.json')).snapshots.length;
    const profiles = profilesOfRun(out, report.pid).size;
    assert.ok(raw <= 8, `${raw} raw snapshots kept`);
    assert.deepEqual({ profiles, timeline }, { profiles: raw, timeline: raw });
    const reported = await runCli(['report', out, '--json']);
    assert.equal(reported.exitCode, 0, reported.all);
  });

  it('the backend got every snapshot made while it ran, once — more than the run keeps', () => {
    assert.deepEqual(receiver.violations, []);
    const counts = receiver.countsByProfile();
    assert.deepEqual([...counts.values()].filter((n) => n > 1), [], 'none twice');
    const kept = profilesOfRun(out, report.pid);
    for (const key of kept.keys()) assert.ok(counts.has(key), `kept profile ${kept.get(key)} arrived`);
    assert.ok(counts.size > kept.size, `${counts.size} arrived, ${kept.size} kept`);
    const { pushed = 0, left = -1, thinned = -1 } = report.push ?? {};
    assert.equal(pushed, counts.size);
    assert.equal(left, 0);
    assert.ok(thinned >= 0);
  });
});

describe('leakhunt run --push --follow-children', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  const receiver = new ProfileReceiver();
  let report: PushReport & { processes: { pid: number }[] };

  before(async () => {
    await receiver.start();
    const result = await runCli(['run', '--out', out, '--follow-children', '--interval', '100ms', '--sample-bytes', '1', '--push', receiver.baseUrl,
      '--service', 'forker', '--', join(fixtureBuild, 'forker'), 'fork', '2']);
    assert.equal(result.exitCode, 0, result.all);
    report = readJson<PushReport & { processes: { pid: number }[] }>(join(out, 'report.json'));
  });
  after(async () => {
    await receiver.stop();
    dir.cleanup();
  });

  it('each process\'s profiles arrive under its own pid, the children\'s with their leak', () => {
    assert.deepEqual(receiver.violations, []);
    const pids = new Set(receiver.received.map((r) => r.labels['pid']));
    const expected = new Set([report.pid, ...report.processes.map((p) => p.pid)].map(String));
    assert.deepEqual([...pids].sort(), [...expected].sort());
    for (const child of report.processes) {
      const last = receiver.received.filter((r) => r.labels['pid'] === String(child.pid)).sort((a, b) => (a.timeNanos < b.timeNanos ? 1 : -1))[0]!;
      assert.equal(inuseOf(last, 'exec_child_allocates'), 10 * 40009, `child ${child.pid}`);
      const onDisk = readdirSync(join(out, 'processes', String(child.pid), 'snapshots')).length;
      assert.equal(receiver.received.filter((r) => r.labels['pid'] === String(child.pid)).length, onDisk);
    }
    assert.ok(receiver.received.every((r) => r.labels['service_name'] === 'forker'));
  });

  it('leakhunt push finds every process\'s profiles, and sends none twice', async () => {
    const count = receiver.requests.length;
    const again = await runCli(['push', out, receiver.baseUrl]);
    assert.equal(again.exitCode, 0, again.all);
    const onDisk = readdirSync(join(out, 'snapshots')).length
      + report.processes.reduce((sum, p) => sum + readdirSync(join(out, 'processes', String(p.pid), 'snapshots')).length, 0);
    assert.match(again.stderr, new RegExp(`all ${onDisk} profiles of .* were sent to .* before: nothing to send`));
    assert.equal(receiver.requests.length, count);
  });
});

describe('leakhunt push of a run whose leakhunt was killed while it pushed', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  const receiver = new ProfileReceiver();
  let targetPid = 0;
  let receivedLive = 0;

  before(async () => {
    await receiver.start();
    const cli = runCli(['run', '--out', out, '--interval', '100ms', '--sample-bytes', '1', '--push', receiver.baseUrl, '--',
      ...leakyApis(fixtureBuild, 100000, 20)], { timeoutMs: 60_000 });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    for (let waited = 0; waited < 20_000 && receiver.received.length < 3; waited += 50) await sleep(50);
    assert.ok(receiver.received.length >= 3, 'profiles arrived while the run went on');
    // Unavailable before the kill, so that no request the server stored is in flight when leakhunt dies (its answer
    // would never reach the ledger: the one profile a crash can send twice, README "Across a fleet").
    receiver.options = { forceStatus: 503 };
    await sleep(300);
    cli.kill('SIGKILL');
    targetPid = Number(readdirSync(join(out, 'raw'))[0]);
    // The target outlives its leakhunt: a few more snapshots nobody pushed, then it ends too. (Only then does the
    // killed CLI's output end: the target holds it.)
    await sleep(500);
    process.kill(targetPid, 'SIGTERM');
    await cli;
    receivedLive = receiver.received.length;
  });
  after(async () => {
    try {
      process.kill(targetPid, 'SIGKILL');
    } catch {
      // ended
    }
    await receiver.stop();
    dir.cleanup();
  });

  it('processes the run, sends what was not sent, each profile once', async () => {
    assert.ok(!existsSync(join(out, 'report.json')), 'the run was never processed');
    receiver.options = {};
    const pushed = await runCli(['push', out, receiver.baseUrl]);
    assert.equal(pushed.exitCode, 0, pushed.all);
    assert.match(pushed.stderr, /raw snapshots never processed .*processing them first/);
    assert.ok(receiver.received.length > receivedLive, `${receiver.received.length - receivedLive} more sent`);
    assertEachExactlyOnce(receiver, out, targetPid);
    const report = readJson<PushReport>(join(out, 'report.json'));
    assert.deepEqual({ pushed: report.push?.pushed, left: report.push?.left }, { pushed: profilesOfRun(out, targetPid).size, left: 0 });
  });
});
