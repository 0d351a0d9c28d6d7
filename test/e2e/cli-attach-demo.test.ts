/** `leakhunt attach <pid>` on the bundled demo started bare: the JNI leak is found from the attach on. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoCommand, readJson, runCli, tempDir, type ReportJson } from './helpers.js';
import { outputOf, startJvm, waitAttachable, type Jvm } from './attach-helpers.js';

describe('leakhunt attach to the demo JVM started without leakhunt', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let jvm: Jvm;
  let jvmOutput: () => string;
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: ReportJson & { trackingSince?: string };
  let jvmExit: number | undefined;
  let attachedAtMs = 0;

  before(async () => {
    const [java, ...args] = demoCommand(45);
    jvm = startJvm(args, dir.path, java);
    jvmOutput = outputOf(jvm);
    await waitAttachable(jvm);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // it has run a few seconds: its early blocks are not seen
    attachedAtMs = Date.now();
    result = await runCli(['attach', String(jvm.pid), '--out', out, '--duration', '12s', '--interval', '1s', '--sample-bytes', '128KiB'], { cwd: dir.path });
    report = readJson(join(out, 'report.json'));
    jvmExit = (await jvm).exitCode;
  });
  after(() => { jvm?.kill('SIGKILL'); dir.cleanup(); });

  it('attaches, stops after --duration and leaves the JVM running to its own end and exit status', () => {
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stderr, new RegExp(`attached to pid ${jvm.pid}, recording into`));
    assert.equal(jvmExit, 0, jvmOutput());
    assert.match(jvmOutput(), /demo done sessions=\d+/);
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.startsWith('hs_err')), [], 'no JVM crash log');
  });

  it('ranks the leaking JNI function first, with its native and Java frames', () => {
    const top = report.sites[0]!;
    assert.match(top.function, /^remember_session_forever/, JSON.stringify(report.sites.slice(0, 5).map((s) => [s.function, s.status])));
    assert.equal(top.status, 'growing');
    assert.ok(top.confidence >= 0.9);
    assert.ok(top.stack.some((f) => f.startsWith('operator new')), 'through operator new');
    assert.ok(top.stack.some((f) => f.startsWith('Java_demo_NativeRegistry_rememberSession')), 'up to the JNI entry');
    assert.ok(top.stack.some((f) => f.startsWith('demo.NativeRegistry.rememberSession')), 'and its Java caller');
    assert.equal(report.verdict.kind, 'native-leak');
  });

  it('does not call the churn growing', () => {
    const churn = report.sites.find((s) => /^churn_scratch_buffers/.test(s.function));
    assert.ok(churn, 'the churn is sampled');
    assert.notEqual(churn.status, 'growing');
  });

  it('says "tracking since" the attach, and measures the run from there', () => {
    assert.ok(report.trackingSince, 'report.json has trackingSince');
    const since = Date.parse(report.trackingSince!);
    assert.ok(since >= attachedAtMs && since <= attachedAtMs + 20_000, `${report.trackingSince} is when leakhunt attached`);
    assert.match(result.stdout, /tracking since \d{4}-\d\d-\d\dT/);
    assert.ok(report.durationSec >= 12 && report.durationSec < 30, `the run lasted from the attach to the stop: ${report.durationSec} s`);
  });
});
