/**
 * `leakhunt attach <pid> --push`: a JVM started bare, attached, and each snapshot of the attached run sent to a local
 * receiver that takes requests as Pyroscope's /ingest does — every profile once, labelled with the JVM's pid and its
 * main class as the service, the leaking JNI function in the last one; the report says what was pushed.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProfileReceiver } from '../support/profile-receiver.js';
import { assertEachExactlyOnce, inuseOf, profilesOfRun, type PushReport } from '../support/push-e2e.js';
import { outputOf, startJvm, waitAttachable, type Jvm } from './attach-helpers.js';
import { demoCommand, readJson, runCli, tempDir } from './helpers.js';

describe('leakhunt attach --push', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  const receiver = new ProfileReceiver({});
  let jvm: Jvm;
  let jvmOutput: () => string;
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: PushReport & { trackingSince?: string };

  before(async () => {
    await receiver.start();
    const [java, ...args] = demoCommand(30);
    jvm = startJvm(args, dir.path, java);
    jvmOutput = outputOf(jvm);
    await waitAttachable(jvm);
    result = await runCli(['attach', String(jvm.pid), '--out', out, '--duration', '8s', '--interval', '1s', '--sample-bytes', '128KiB',
      '--push', receiver.baseUrl, '--label', 'env=e2e'], { cwd: dir.path });
    report = readJson(join(out, 'report.json'));
  });
  after(async () => {
    jvm?.kill('SIGKILL');
    await receiver.stop();
    dir.cleanup();
  });

  it('attaches and reports as without --push', () => {
    assert.equal(result.exitCode, 0, `${result.all}\n${jvmOutput()}`);
    assert.ok(report.trackingSince, 'an attached run');
  });

  it('sends every profile of the attached run once, labelled with the JVM\'s pid and main class', () => {
    assertEachExactlyOnce(receiver, out, jvm.pid!);
    for (const received of receiver.received) {
      assert.deepEqual(received.labels, { service_name: 'demo.LeakyService', host: hostname(), pid: String(jvm.pid), run: basename(out), env: 'e2e' });
    }
  });

  it('the last profile holds the leaking JNI function\'s live memory', () => {
    const last = [...receiver.received].sort((a, b) => Number(a.profile.timeNanos) - Number(b.profile.timeNanos)).at(-1)!;
    assert.ok(inuseOf(last, 'remember_session_forever(char const*)') > 0, 'the leak is in what the backend got');
  });

  it('the report says what was pushed', () => {
    const total = profilesOfRun(out, jvm.pid!).size;
    assert.deepEqual({ pushed: report.push?.pushed, left: report.push?.left }, { pushed: total, left: 0 });
    assert.match(result.stdout, new RegExp(`${total} of ${total} profiles pushed to pyroscope at \\S+, \\d+ retried, 0 left`));
  });
});
