/** `leakhunt run -- java ...` on the bundled demo: a JNI std::map leak next to heavier churn. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { demoCommand, readJson, runCli, tempDir, type ReportJson } from './helpers.js';
import { assertNoMappingGrows } from './leak-assertions.js';

describe('leakhunt run on a JVM with a leaking JNI library', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let result: Awaited<ReturnType<typeof runCli>>;
  let report: ReportJson;

  before(async () => {
    result = await runCli(['run', '--out', out, '--interval', '1s', '--', ...demoCommand(9)], { cwd: dir.path });
    report = readJson<ReportJson>(join(out, 'report.json'));
  });
  after(() => dir.cleanup());

  it('runs the JVM to its normal end with its exit status', () => {
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stdout, /demo done sessions=\d+/);
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.startsWith('hs_err')), [], 'no JVM crash log');
  });

  it('ranks the leaking JNI function first, with a stack through libstdc++', () => {
    const top = report.sites[0]!;
    assert.match(top.function, /^remember_session_forever/);
    assert.equal(top.status, 'growing');
    assert.ok(top.confidence >= 0.9);
    assert.ok(top.stack.some((f) => f.startsWith('operator new')), 'through operator new');
    assert.ok(top.stack.some((f) => /std::_Rb_tree/.test(f)), 'through the map internals');
    assert.ok(top.stack.some((f) => f.startsWith('Java_demo_NativeRegistry_rememberSession')), 'up to the JNI entry');
    assert.equal(report.verdict.kind, 'native-leak');
    assert.match(result.stdout, /NATIVE LEAK/);
  });

  it('does not report the churn as growing', () => {
    const churn = report.sites.find((s) => /^churn_scratch_buffers/.test(s.function));
    assert.ok(churn, 'the churn is sampled');
    assert.notEqual(churn.status, 'growing');
    assert.ok(existsSync(join(out, 'snapshots', '0000.pb.gz')));
  });

  it('no mapping of the JVM\'s own (heap, code cache, class space: reserved, then committed) is a growing site', () => {
    assertNoMappingGrows(report);
  });
});
