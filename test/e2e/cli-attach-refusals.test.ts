/** Every process `leakhunt attach` must refuse: one line, its exit code, and no run directory left behind. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { fixtureBuild, javaHome, runCli, tempDir } from './helpers.js';
import { attachTargetArgs, outputOf, startJvm, waitAttachable, waitForFile, type Jvm } from './attach-helpers.js';

const REFUSED = 7;

/** One line on stderr, `leakhunt: …` matching `pattern`, exit `code`, no stack trace, no run directory made. */
function assertRefused(result: Awaited<ReturnType<typeof runCli>>, code: number, pattern: RegExp, out: string): void {
  assert.equal(result.exitCode, code, result.all);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${result.stderr}`);
  assert.match(lines[0]!, /^leakhunt: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.all ?? '', /\bat .*\.js:\d+|internal error/);
  assert.equal(existsSync(out), false, 'no run directory left behind');
}

describe('leakhunt attach refuses', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  const started: { kill: (s?: NodeJS.Signals) => unknown }[] = [];
  after(() => { for (const p of started) p.kill('SIGKILL'); dir.cleanup(); });

  it('a process id that is not a number (2)', async () => {
    const result = await runCli(['attach', 'abc', '--out', out]);
    assertRefused(result, 2, /"abc" is not a process id/, out);
  });

  it('a process that is not a JVM, pointing to leakhunt run', async () => {
    const program = execa(join(fixtureBuild, 'steady'), ['--seconds', '30'], { reject: false });
    started.push(program);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await runCli(['attach', String(program.pid), '--out', out]);
    assertRefused(result, REFUSED, /is not a JVM: .*leakhunt run -- <command>/, out);
  });

  it('a process that is gone', async () => {
    const program = execa('sleep', ['0'], { reject: false });
    const pid = program.pid!;
    await program;
    const result = await runCli(['attach', String(pid), '--out', out]);
    assertRefused(result, REFUSED, new RegExp(`no process ${pid} is running`), out);
  });

  it('another user\'s process', async (t) => {
    if (process.getuid?.() !== 0) {
      // Not root: pid 1 is another user's (root's).
      const result = await runCli(['attach', '1', '--out', out]);
      assertRefused(result, REFUSED, /belongs to another user/, out);
      return;
    }
    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
    if (!setpriv) return t.skip('no setpriv to start a process as another user');
    const other = execa(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '30'], { reject: false });
    started.push(other);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await runCli(['attach', String(other.pid), '--out', out]);
    assertRefused(result, REFUSED, /belongs to another user \(uid 65534\)/, out);
  });

  it('a JVM started with -XX:+DisableAttachMechanism', async () => {
    const go = join(dir.path, 'never');
    const jvm = startJvm(['-XX:+DisableAttachMechanism', ...attachTargetArgs(go, ['--seconds', '0'])], dir.path);
    started.push(jvm);
    const output = outputOf(jvm);
    await waitAttachable(jvm, () => output().includes('attach-target ready'));
    const result = await runCli(['attach', String(jvm.pid), '--out', out]);
    assertRefused(result, REFUSED, /-XX:\+DisableAttachMechanism/, out);
  });

  describe('a JDK without jcmd (a JRE) is no refusal: the attach socket is spoken directly', () => {
    const jdk = join(dir.path, 'jdk-without-jcmd');
    const attached = join(dir.path, 'attached-without-jcmd');
    let jvm: Jvm;
    before(async () => {
      // The same JDK, hard-linked (the JVM's libjvm.so is then under this directory), minus bin/jcmd.
      execFileSync('cp', ['-al', `${javaHome}/.`, jdk]);
      rmSync(join(jdk, 'bin', 'jcmd'));
      jvm = startJvm(attachTargetArgs(join(dir.path, 'never'), ['--seconds', '0']), dir.path, join(jdk, 'bin', 'java'));
      started.push(jvm);
      const output = outputOf(jvm);
      await waitAttachable(jvm, () => output().includes('attach-target ready'));
    });

    it('attaches, records and detaches; no jcmd is run (a tripwire jcmd first on PATH stays untouched)', async () => {
      const tripwireDir = join(dir.path, 'tripwire');
      const tripped = join(dir.path, 'jcmd-was-run');
      mkdirSync(tripwireDir, { recursive: true });
      writeFileSync(join(tripwireDir, 'jcmd'), `#!/bin/sh\ntouch '${tripped}'\nexit 1\n`, { mode: 0o755 });
      const env = { JAVA_HOME: jdk, PATH: `${tripwireDir}:/usr/bin:/bin` };
      const attach = runCli(['attach', String(jvm.pid), '--out', attached, '--interval', '1s', '--quiet'], { env });
      started.push(attach);
      assert.ok(await waitForFile(join(attached, 'raw', String(jvm.pid), '000000.lhs'), 60_000), 'the shim is in and writes snapshots');
      const detached = await runCli(['detach', String(jvm.pid), '--quiet'], { env });
      assert.equal(detached.exitCode, 0, detached.all);
      const result = await attach;
      assert.equal(result.exitCode, 0, result.all);
      assert.ok(existsSync(join(attached, 'report.json')));
      assert.ok(jvm.exitCode === null && !jvm.killed, 'the JVM runs on');
      assert.equal(existsSync(tripped), false, 'no jcmd was run');
    });
  });

  describe('a JVM attached already', () => {
    const first = join(dir.path, 'first');
    let jvm: Jvm;
    let attach: ReturnType<typeof runCli>;
    before(async () => {
      jvm = startJvm(attachTargetArgs(join(dir.path, 'never'), ['--seconds', '0']), dir.path);
      started.push(jvm);
      const output = outputOf(jvm);
      await waitAttachable(jvm, () => output().includes('attach-target ready'));
      attach = runCli(['attach', String(jvm.pid), '--out', first, '--interval', '1s', '--quiet']);
      started.push(attach);
      assert.ok(await waitForFile(join(first, 'raw', String(jvm.pid), '000000.lhs'), 60_000));
    });

    it('says to detach it first', async () => {
      const result = await runCli(['attach', String(jvm.pid), '--out', out]);
      assertRefused(result, REFUSED, new RegExp(`has leakhunt attached already: leakhunt detach ${jvm.pid} first`), out);
      const detached = await runCli(['detach', String(jvm.pid), '--quiet']);
      assert.equal(detached.exitCode, 0, detached.all);
      assert.equal((await attach).exitCode, 0);
    });

    it('detach of a JVM with no run attached is refused too', async () => {
      const other = startJvm(attachTargetArgs(join(dir.path, 'never'), ['--seconds', '0']), dir.path);
      started.push(other);
      const output = outputOf(other);
      await waitAttachable(other, () => output().includes('attach-target ready'));
      const result = await runCli(['detach', String(other.pid)]);
      assertRefused(result, REFUSED, /has no leakhunt run attached/, out);
    });
  });
});
