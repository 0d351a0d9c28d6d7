/**
 * `leakhunt attach` then `leakhunt detach` on a JVM whose leaks start after the attach: a JNI library it loads only
 * then (System.loadLibrary: patched as it loads), and Deflaters it never ends (the JDK's own libzip).
 */
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readJson, runCli, tempDir, type ReportJson } from './helpers.js';
import { attachTargetArgs, outputOf, startJvm, waitAttachable, waitForFile, type Jvm } from './attach-helpers.js';
import { assertNotGrowing } from './leak-assertions.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('leakhunt attach: a JNI library loaded after the attach, and a libzip leak', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  const go = join(dir.path, 'go');
  let jvm: Jvm;
  let jvmOutput: () => string;
  let attach: ReturnType<typeof runCli>;
  let attached: Awaited<ReturnType<typeof runCli>>;
  let detached: Awaited<ReturnType<typeof runCli>>;
  let report: ReportJson;

  before(async () => {
    jvm = startJvm(attachTargetArgs(go, ['--seconds', '0', '--exit', '7']), dir.path);
    jvmOutput = outputOf(jvm);
    await waitAttachable(jvm, () => jvmOutput().includes('attach-target ready'));
    attach = runCli(['attach', String(jvm.pid), '--out', out, '--interval', '1s', '--sample-bytes', '64KiB'], { cwd: dir.path });
    // The go file once the shim is in: its first snapshot is there.
    assert.ok(await waitForFile(join(out, 'raw', String(jvm.pid), '000000.lhs'), 60_000), 'the attached shim writes snapshots');
    writeFileSync(go, '');
    for (let i = 0; i < 300 && !jvmOutput().includes('attach-target go'); i++) await sleep(100);
    await sleep(10_000);
    detached = await runCli(['detach', String(jvm.pid)], { cwd: dir.path });
    attached = await attach;
    report = readJson(join(out, 'report.json'));
  });
  after(() => { jvm?.kill('SIGKILL'); dir.cleanup(); });

  it('detach stops the run; the attach prints the report; the JVM runs on', () => {
    assert.equal(detached.exitCode, 0, detached.all);
    assert.match(detached.stderr, new RegExp(`detached from pid ${jvm.pid}`));
    assert.equal(attached.exitCode, 0, attached.all);
    assert.match(attached.stdout, /NATIVE LEAK/);
    assert.ok(jvm.exitCode === null && !jvm.killed, 'the JVM is still running');
  });

  it('names the leak of the JNI library loaded after the attach', () => {
    const site = report.sites.find((s) => s.function.startsWith('late_library_leak'));
    assert.ok(site, JSON.stringify(report.sites.slice(0, 6).map((s) => s.function)));
    assert.equal(site.status, 'growing');
    assert.ok(site.confidence >= 0.9);
    assert.ok(site.stack.some((f) => f.startsWith('lateload.LateLibrary.leak')), 'with its Java caller');
    assertNotGrowing(report, 'late_library_churn');
  });

  it('names the Deflaters never ended, through libzip, with Java frames', () => {
    const site = report.sites.find((s) => s.stack.some((f) => f.startsWith('deflateInit2_')) && s.status === 'growing');
    assert.ok(site, JSON.stringify(report.sites.slice(0, 6).map((s) => [s.function, s.status])));
    assert.ok(site.stack.some((f) => f.startsWith('Java_java_util_zip_Deflater_init')), site.stack.join(' <- '));
    assert.ok(site.stack.some((f) => f.startsWith('java.util.zip.Deflater.<init>')), 'the JDK\'s Java frames');
    assert.ok(site.stack.some((f) => f.startsWith('lateload.AttachTarget.leakDeflaters')), 'the application\'s Java frame');
    assert.equal(site.function, 'lateload.AttachTarget.leakDeflaters');
    assertNotGrowing(report, 'lateload.AttachTarget.churnDeflaters');
  });

  it('leaves no crash behind', async () => {
    jvm.kill('SIGTERM');
    await jvm;
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.startsWith('hs_err')), [], 'no JVM crash log');
  });
});
