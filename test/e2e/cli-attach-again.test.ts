/**
 * One JVM, two attached runs: the first one's leakhunt attach is killed (the shim stops by itself, leakhunt detach
 * recovers the run), then attach again — a new run directory, the same hooks — and the JVM runs on to its own end.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHeapProfile, sampleValueIndex } from '../../src/pprof/index.js';
import { readJson, runCli, tempDir, type ReportJson } from './helpers.js';
import { attachTargetArgs, outputOf, startJvm, waitAttachable, waitForFile, type Jvm } from './attach-helpers.js';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type Report = ReportJson & { trackingSince?: string };

function leakOf(report: Report) {
  return report.sites.find((s) => s.function.startsWith('late_library_leak'));
}

describe('leakhunt attach, killed, detach, attach again', () => {
  const dir = tempDir();
  const first = join(dir.path, 'first');
  const second = join(dir.path, 'second');
  const go = join(dir.path, 'go');
  const stop = join(dir.path, 'stop');
  let jvm: Jvm;
  let jvmOutput: () => string;
  let killedAttach: Awaited<ReturnType<typeof runCli>>;
  let recovered: Awaited<ReturnType<typeof runCli>>;
  let again: Awaited<ReturnType<typeof runCli>>;
  let firstReport: Report;
  let secondReport: Report;
  let shimCopies = 0;
  let jvmExit: number | undefined;

  before(async () => {
    jvm = startJvm(attachTargetArgs(go, ['--seconds', '0', '--stop', stop, '--exit', '7']), dir.path);
    jvmOutput = outputOf(jvm);
    await waitAttachable(jvm, () => jvmOutput().includes('attach-target ready'));
    const pid = String(jvm.pid);
    const attach = runCli(['attach', pid, '--out', first, '--interval', '1s', '--sample-bytes', '64KiB'], { cwd: dir.path });
    assert.ok(await waitForFile(join(first, 'raw', pid, '000000.lhs'), 60_000), 'the first run writes snapshots');
    writeFileSync(go, '');
    await sleep(8000);
    attach.kill('SIGKILL'); // no chance to stop the run: the shim sees its owner gone
    killedAttach = await attach;
    assert.ok(await waitForFile(join(first, 'raw', pid, 'stopped'), 15_000), 'the shim stopped the run by itself');
    recovered = await runCli(['detach', pid, '--json'], { cwd: dir.path });
    firstReport = readJson(join(first, 'report.json'));
    again = await runCli(['attach', pid, '--out', second, '--duration', '8s', '--interval', '1s', '--sample-bytes', '64KiB', '--json'], { cwd: dir.path });
    secondReport = readJson(join(second, 'report.json'));
    shimCopies = new Set(readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter((l) => l.endsWith('libleakhunt.so')).map((l) => l.split(/\s+/).pop())).size;
    await sleep(5000); // it runs on a while, the hooks idle
    writeFileSync(stop, '');
    jvmExit = (await jvm).exitCode;
  });
  after(() => { jvm?.kill('SIGKILL'); dir.cleanup(); });

  it('a killed leakhunt attach leaves a run that leakhunt detach processes', () => {
    assert.equal(killedAttach.signal, 'SIGKILL');
    assert.equal(recovered.exitCode, 0, recovered.all);
    assert.match(recovered.stderr, /is gone: processing the run/);
    const site = leakOf(firstReport);
    assert.ok(site && site.status === 'growing', JSON.stringify(firstReport.sites.slice(0, 5).map((s) => [s.function, s.status])));
    assert.deepEqual(JSON.parse(recovered.stdout).sites[0].function, firstReport.sites[0]!.function, 'detach printed the report');
  });

  it('attaching again makes a valid second run from a new "tracking since", with one copy of the shim', () => {
    assert.equal(again.exitCode, 0, again.all);
    const site = leakOf(secondReport);
    assert.ok(site && site.status === 'growing' && site.confidence >= 0.9, JSON.stringify(secondReport.sites.slice(0, 5).map((s) => [s.function, s.status])));
    assert.ok(Date.parse(secondReport.trackingSince!) > Date.parse(firstReport.trackingSince!), 'the second run tracks from its own attach');
    assert.ok(secondReport.durationSec < 20, `the second run is measured from its attach: ${secondReport.durationSec} s`);
    assert.equal(shimCopies, 1, 'the shim is mapped once');
  });

  it('the second run counts its own allocations: a leak that never frees allocated what it holds', () => {
    const files = readdirSync(join(second, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).sort();
    const profile = readHeapProfile(join(second, 'snapshots', files[files.length - 1]!));
    const [alloc, inuse] = [sampleValueIndex(profile, 'alloc_space'), sampleValueIndex(profile, 'inuse_space')];
    // The stacks the first run found stay in the shim's table: those this run did not see come with nothing.
    const leaks = profile.samples.filter((s) => s.stack.some((f) => f.functionName.startsWith('late_library_leak'))
      && (s.values[alloc] !== 0 || s.values[inuse] !== 0));
    assert.ok(leaks.length > 0, 'the leak is in the last profile');
    for (const sample of leaks) {
      const [allocated, held] = [sample.values[alloc]!, sample.values[inuse]!];
      assert.ok(held > 0 && Math.abs(allocated - held) <= Math.max(2, 1e-6 * held), `allocated ${allocated} B, holds ${held} B: the first run's allocations are not counted again`);
    }
  });

  it('the JVM runs on to its own end and exit status, without a crash', () => {
    assert.equal(jvmExit, 7, jvmOutput());
    assert.match(jvmOutput(), /attach-target done/);
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.startsWith('hs_err')), [], 'no JVM crash log');
    assert.doesNotMatch(jvmOutput(), /SIGSEGV|fatal error/);
  });
});
