/** Java frames: every leak is traced from the native allocator up to the Java method that caused it. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureBuild, javaBin, readJson, runCli, tempDir, type ReportJson } from './helpers.js';
import { assertNoMappingGrows } from './leak-assertions.js';

const classes = join(fixtureBuild, 'demo', 'classes');
const javaLeaks = (seconds: number) => [javaBin, `-Djava.library.path=${join(fixtureBuild, 'demo')}`, '-cp', classes,
  'demo.JavaLeaks', '--seconds', String(seconds)];

describe('Java frames for direct memory, zlib and JNI leaks', () => {
  const dir = tempDir();
  let report: ReportJson;
  let exitCode: number | undefined;

  before(async () => {
    const result = await runCli(['run', '--out', join(dir.path, 'run'), '--interval', '500ms', '--sample-bytes', '64KiB', '--',
      ...javaLeaks(5)], { cwd: dir.path });
    exitCode = result.exitCode;
    assert.equal(exitCode, 0, result.all);
    report = readJson<ReportJson>(join(dir.path, 'run', 'report.json'));
  });
  after(() => dir.cleanup());

  const leaks: [string, RegExp, RegExp[]][] = [
    ['direct memory', /^demo\.JavaLeaks\.leakDirectMemory$/, [/^os::malloc/, /^Unsafe_AllocateMemory0/, /^demo\.JavaLeaks\.leakDirectMemory \(JavaLeaks\.java:\d+\)$/]],
    ['Deflaters never ended', /^demo\.JavaLeaks\.leakDeflaters$/, [/^deflateInit2_/, /^java\.util\.zip\.Deflater\.init/, /^demo\.JavaLeaks\.leakDeflaters \(JavaLeaks\.java:\d+\)$/]],
    ['JNI std::map nodes', /^remember_session_forever/, [/^operator new/, /^std::_Rb_tree/, /^demo\.NativeRegistry\.rememberSession/, /^demo\.JavaLeaks\.leakNativeMap \(JavaLeaks\.java:\d+\)$/]],
  ];
  for (const [what, site, frames] of leaks) {
    it(`${what}: growing, with the native allocator path and the Java method in one stack`, () => {
      const found = report.sites.find((s) => site.test(s.function));
      assert.ok(found, `a site for ${what}: ${report.sites.map((s) => s.function).join(', ')}`);
      assert.equal(found.status, 'growing');
      for (const frame of frames) {
        assert.ok(found.stack.some((f) => frame.test(f)), `${frame} in:\n${found.stack.join('\n')}`);
      }
      // innermost first: the native frames come before the Java ones
      const firstJava = found.stack.findIndex((f) => /^(demo|java)\./.test(f));
      const lastNative = found.stack.findIndex((f) => /^(os::malloc|operator new|deflateInit2_)/.test(f));
      assert.ok(lastNative >= 0 && lastNative < firstJava, 'native frames first, then Java frames');
    });
  }

  it('does not report the churn methods', () => {
    for (const s of report.sites.filter((x) => x.status === 'growing' || x.status === 'new')) {
      assert.ok(!/churn/.test(s.function), `${s.function} is ${s.status}`);
      assert.ok(!s.stack.some((f) => /JavaLeaks\.churn/.test(f)), `${s.function}'s stack has a churn method`);
    }
    assertNoMappingGrows(report);
  });
});

describe('the JVM keeps working under leakhunt', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('500 threads, NPE storms, stack overflows, ProcessBuilder children and System.exit from another thread', async () => {
    const result = await runCli(['run', '--out', join(dir.path, 'run'), '--interval', '200ms', '--sample-bytes', '64KiB', '--',
      javaBin, '-cp', classes, 'demo.HostileJvm'], { cwd: dir.path });
    assert.equal(result.exitCode, 42, result.all);
    assert.match(result.stdout, /hostile done threads=500 overflows=20/);
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.startsWith('hs_err')), [], 'no JVM crash log');
    const report = readJson<ReportJson>(join(dir.path, 'run', 'report.json'));
    assert.equal(report.exitStatus, 42);
    assert.ok(report.snapshots >= 1);
    assertNoMappingGrows(report);
  });

  it('--no-java-stacks leaves the agent idle: native frames only', async () => {
    const result = await runCli(['run', '--out', join(dir.path, 'native-only'), '--interval', '500ms', '--sample-bytes', '64KiB',
      '--no-java-stacks', '--', ...javaLeaks(2)], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    assert.doesNotMatch(result.stderr, /Picked up JAVA_TOOL_OPTIONS/);
    const report = readJson<ReportJson>(join(dir.path, 'native-only', 'report.json'));
    assert.ok(report.sites.every((s) => !s.stack.some((f) => /^demo\.JavaLeaks\./.test(f))));
    assert.ok(report.sites.some((s) => /^remember_session_forever/.test(s.function)));
    assertNoMappingGrows(report);
  });
});

/** Every JDK 17 or newer installed under /usr/lib/jvm (CI has 17; a developer machine may have more). */
function installedJdks(): string[] {
  const root = '/usr/lib/jvm';
  if (!existsSync(root)) return [];
  const homes = readdirSync(root).map((d) => join(root, d)).filter((home) => existsSync(join(home, 'bin', 'java')) && existsSync(join(home, 'release')));
  const byVersion = new Map<string, string>();
  for (const home of homes) {
    const version = /JAVA_VERSION="(\d+)/.exec(readFileSync(join(home, 'release'), 'utf8'))?.[1];
    if (version && Number(version) >= 17 && !byVersion.has(version)) byVersion.set(version, realpathSync(home));
  }
  return [...byVersion.values()];
}

describe('Java frames on every installed JDK from 17 up', () => {
  const dir = tempDir();
  after(() => dir.cleanup());
  for (const home of installedJdks()) {
    it(`${home}: the JNI leak is traced to its Java method`, async () => {
      const out = join(dir.path, home.replace(/\W+/g, '_'));
      const result = await runCli(['run', '--out', out, '--interval', '500ms', '--sample-bytes', '64KiB', '--',
        join(home, 'bin', 'java'), `-Djava.library.path=${join(fixtureBuild, 'demo')}`, '-cp', classes, 'demo.JavaLeaks', '--seconds', '3'],
      { cwd: dir.path });
      assert.equal(result.exitCode, 0, result.all);
      const report = readJson<ReportJson>(join(out, 'report.json'));
      const site = report.sites.find((s) => /^remember_session_forever/.test(s.function));
      assert.ok(site && site.stack.some((f) => /^demo\.JavaLeaks\.leakNativeMap/.test(f)), JSON.stringify(site?.stack));
    });
  }
});
