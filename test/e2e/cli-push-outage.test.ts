/**
 * A backend that is down for the first half of the run, then up: the run goes on as without it (the command's own
 * exit status, every snapshot), one line says the backend is down, the run pushes again by itself once it is up,
 * and by the end — after `leakhunt push` for the rest — every profile has arrived exactly once. A second
 * `leakhunt push` sends nothing. The halves are marked by what happened (profiles made, profiles received), not by
 * the clock.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProfileReceiver } from '../support/profile-receiver.js';
import { assertEachExactlyOnce, leakyApis, linesMatching, profilesOfRun, type PushReport } from '../support/push-e2e.js';
import { fixtureBuild, readJson, runCli, tempDir } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `condition` (bounded: a run that never gets there fails the test, with `what`). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 30_000 && !condition(); waited += 50) await sleep(50);
  assert.ok(condition(), what);
}

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
    const cli = runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '1', '--push', receiver.baseUrl, '--push-wait', '5s', '--',
      ...leakyApis(fixtureBuild, 100_000, 20)], { timeoutMs: 90_000 });
    // The first half: down until three profiles were made (each offered, and refused, as it was made) ...
    const profilesMade = () => (existsSync(join(out, 'snapshots')) ? readdirSync(join(out, 'snapshots')).filter((f) => /^\d+\.pb\.gz$/.test(f)).length : 0);
    await until(() => profilesMade() >= 3, 'three profiles made while the backend is down');
    // ... the second: up, until the run has pushed those and two made since by itself; then the command is stopped
    // (leakhunt relays SIGTERM to it), and the run ends as runs do.
    const madeWhileDown = profilesMade();
    await receiver.start();
    await until(() => receiver.received.length >= madeWhileDown + 2, 'the backend, up again, gets the backlog and the new profiles');
    cli.kill('SIGTERM');
    result = await cli;
    receivedDuringRun = receiver.received.length;
    report = readJson<PushReport>(join(out, 'report.json'));
  });
  after(async () => {
    await receiver.stop();
    dir.cleanup();
  });

  it('the run is not affected: the command\'s exit status (SIGTERM, relayed), a snapshot every interval', () => {
    assert.equal(result.exitCode, 128 + 15, result.all);
    const timeline = readJson<{ snapshots: { timeSec: number; sequence: number }[] }>(join(out, 'timeline.json')).snapshots;
    const sequences = timeline.map((p) => p.sequence);
    assert.deepEqual(sequences, sequences.map((_, i) => i), 'no snapshot missing');
    assert.ok(timeline.length >= 5, `${timeline.length} snapshots`);
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
    assert.ok(report.push.pushed >= 5, 'the backend, up again, got profiles before the run ended');
    assert.ok(report.push.retried >= 1, 'the first profile was retried');
    const { pushed, retried, left } = report.push;
    assert.match(result.stdout, new RegExp(`push: ${pushed} of ${total} profiles pushed to pyroscope at \\S+, ${retried} retried, ${left} left`));
  });

  it('leakhunt push sends the rest: every profile arrives exactly once', async () => {
    const pushed = await runCli(['push', out, receiver.baseUrl]);
    assert.equal(pushed.exitCode, 0, pushed.all);
    const left = report.push!.left;
    if (left > 0) assert.match(pushed.stderr, new RegExp(`push: ${left} profiles? sent to .*; ${report.push!.pushed} had been sent before`));
    assertEachExactlyOnce(receiver, out, report.pid);
    const updated = readJson<PushReport>(join(out, 'report.json'));
    assert.deepEqual({ pushed: updated.push?.pushed, left: updated.push?.left }, { pushed: profilesOfRun(out, report.pid).size, left: 0 });
    const reported = await runCli(['report', out]);
    assert.equal(reported.exitCode, 0, reported.all);
    assert.match(reported.stdout, new RegExp(`push: ${updated.push!.pushed} of ${updated.push!.pushed} profiles pushed to pyroscope at \\S+, \\d+ retried, 0 left\n`));
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), new RegExp(`${updated.push!.pushed} of ${updated.push!.pushed} profiles pushed to pyroscope at \\S+, \\d+ retried, 0 left`), 'report.html redrawn');
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
