/**
 * A slow backend (2 s per request) slows neither the target nor its snapshots: the shim writes one every interval
 * and the target does its rounds, while the pushes queue; what is still queued when --push-wait is up stays in the
 * run directory, and `leakhunt push` sends it: every profile arrives once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProfileReceiver } from '../support/profile-receiver.js';
import { assertEachExactlyOnce, leakyApis, profilesOfRun, type PushReport } from '../support/push-e2e.js';
import { fixtureBuild, readJson, runCli, tempDir } from './helpers.js';

const intervalSec = 0.2;
const rounds = 30;

describe('leakhunt run --push to a backend that takes 2 s per request', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  const receiver = new ProfileReceiver({ delayMs: 2000 });
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: PushReport & { snapshots: number; durationSec: number };
  let timeline: { timeSec: number; sequence: number }[];

  before(async () => {
    await receiver.start();
    result = await runCli(['run', '--out', out, '--interval', `${intervalSec * 1000}ms`, '--sample-bytes', '1', '--push', receiver.baseUrl,
      '--push-wait', '2s', '--', ...leakyApis(fixtureBuild, rounds, 100)]);
    report = readJson<PushReport & { snapshots: number; durationSec: number }>(join(out, 'report.json'));
    timeline = readJson<{ snapshots: { timeSec: number; sequence: number }[] }>(join(out, 'timeline.json')).snapshots;
  });
  after(async () => {
    await receiver.stop();
    dir.cleanup();
  });

  it('the target runs to its end, with its exit status', () => {
    assert.equal(result.exitCode, 7, result.all);
    assert.match(result.stdout, new RegExp(`leaky_apis done rounds=${rounds}`));
  });

  it('a snapshot every interval, none missing: the shim is not held up by the pushes', () => {
    const sequences = timeline.map((p) => p.sequence);
    assert.deepEqual(sequences, sequences.map((_, i) => sequences[0]! + i), 'consecutive sequence numbers: no snapshot was skipped');
    const gaps = timeline.slice(1).map((p, i) => p.timeSec - timeline[i]!.timeSec).sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    assert.ok(median < intervalSec * 1.5, `median gap ${median.toFixed(3)} s at a ${intervalSec} s interval`);
    // The snapshots span the whole run: as many as its length holds (the last one is the exit's).
    const span = timeline[timeline.length - 1]!.timeSec - timeline[0]!.timeSec;
    assert.ok(timeline.length >= Math.floor(span / intervalSec) * 0.8, `${timeline.length} snapshots over ${span.toFixed(1)} s`);
    assert.ok(timeline.length >= 12, `${timeline.length} snapshots`);
  });

  it('the pushes queued behind the slow backend: some sent, the rest left, and the report adds up', () => {
    const total = profilesOfRun(out, report.pid).size;
    assert.ok(report.push);
    assert.equal(report.push.pushed + report.push.left, total);
    assert.equal(report.push.pushed, receiver.received.length);
    assert.ok(report.push.left > 0, `at 2 s a request, ${total} profiles cannot all go in the run and 2 s (${report.push.pushed} did)`);
    assert.match(result.stderr, new RegExp(`push: ${report.push.pushed} of ${total} profiles sent to .*; ${report.push.left} left in ${out}: leakhunt push ${out} http://`));
  });

  it('leakhunt push sends the rest; each profile arrives once', async () => {
    receiver.options = {};
    const pushed = await runCli(['push', out, receiver.baseUrl]);
    assert.equal(pushed.exitCode, 0, pushed.all);
    assertEachExactlyOnce(receiver, out, report.pid);
  });
});
