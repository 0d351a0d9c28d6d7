/**
 * A backend that is down for the first half of the run, then up: the run goes on as without it (the command's own
 * exit status, every snapshot), one line says the backend is down, the profiles that could not go stay in the run
 * directory, and by the end — after `leakhunt push` for the rest — every profile has arrived exactly once. A second
 * `leakhunt push` sends nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProfileReceiver } from '../support/profile-receiver.js';
import { assertEachExactlyOnce, leakyApis, linesMatching, profilesOfRun, type PushReport } from '../support/push-e2e.js';
import { fixtureBuild, readJson, runCli, tempDir } from './helpers.js';

describe('leakhunt run --push while the backend is down, then up', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  const receiver = new ProfileReceiver();
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: PushReport;
  let receivedDuringRun = 0;

  before(async () => {
    // Take a port, then go down: the run starts against a port where nothing listens.
    await receiver.start();
    await receiver.stop();
    const run = runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '1', '--push', receiver.baseUrl, '--push-wait', '5s', '--',
      ...leakyApis(fixtureBuild, 40, 100)]);
    // Up again half-way through the command's 4 s.
    const up = new Promise<void>((resolve, reject) => { setTimeout(() => { receiver.start().then(resolve, reject); }, 2000); });
    [result] = await Promise.all([run, up]);
    receivedDuringRun = receiver.received.length;
    report = readJson<PushReport>(join(out, 'report.json'));
  });
  after(async () => {
    await receiver.stop();
    dir.cleanup();
  });

  it('the run is not affected: the command\'s exit status, a snapshot every interval', () => {
    assert.equal(result.exitCode, 7, result.all);
    const timeline = readJson<{ snapshots: { timeSec: number }[] }>(join(out, 'timeline.json')).snapshots;
    assert.ok(timeline.length >= 12, `${timeline.length} snapshots over 4 s at 200 ms`);
  });

  it('says once, on one line, that the backend is down', () => {
    const refused = linesMatching(result.stderr, /connection refused/);
    assert.equal(refused.length, 1, result.stderr);
    assert.match(refused[0]!, /^leakhunt: push: http:\/\/127\.0\.0\.1:\d+\/ingest: connection refused \(ECONNREFUSED\); trying again in the background/);
  });

  it('the report counts what went and what is left, which adds up to the run\'s profiles', () => {
    const total = profilesOfRun(out, report.pid).size;
    assert.ok(report.push, 'report.json has push');
    assert.equal(report.push.pushed + report.push.left, total);
    assert.equal(report.push.pushed, receivedDuringRun, 'what the report calls pushed is what arrived');
    assert.ok(report.push.pushed >= 1, 'the backend, up again, got profiles before the run ended');
    assert.ok(report.push.retried >= 1, 'the first profile was retried');
  });

  it('leakhunt push sends the rest: every profile arrives exactly once', async () => {
    const pushed = await runCli(['push', out, receiver.baseUrl]);
    assert.equal(pushed.exitCode, 0, pushed.all);
    const left = report.push!.left;
    if (left > 0) assert.match(pushed.stderr, new RegExp(`push: ${left} profiles? sent to .*; ${report.push!.pushed} had been sent before`));
    assertEachExactlyOnce(receiver, out, report.pid);
    const updated = readJson<PushReport>(join(out, 'report.json'));
    assert.deepEqual({ pushed: updated.push?.pushed, left: updated.push?.left }, { pushed: profilesOfRun(out, report.pid).size, left: 0 });
  });

  it('a second leakhunt push sends nothing', async () => {
    const requests = receiver.requests.length;
    const again = await runCli(['push', out, receiver.baseUrl]);
    assert.equal(again.exitCode, 0, again.all);
    assert.match(again.stderr, /nothing to send/);
    assert.equal(receiver.requests.length, requests);
    assertEachExactlyOnce(receiver, out, report.pid);
  });
});
