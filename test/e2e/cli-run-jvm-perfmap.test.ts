/**
 * JVM code without a Java stack named from the JVM's perf map: a JVM whose start script strips JAVA_TOOL_OPTIONS
 * (so leakhunt's agent never loads; the shim still does, through LD_PRELOAD) leaks zlib state through Deflaters
 * it never ends. Its native stacks end in the code cache; the perf maps leakhunt took with jcmd while it ran name
 * that code — Deflater.init's compiled native wrapper, the interpreter.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHeapProfile } from '../../src/pprof/index.js';
import { listSnapshotFiles } from '../../src/rundir/index.js';
import { readSnapshotFile } from '../../src/snapshot/index.js';
import { assertRssAccounted, fixtureBuild, javaBin, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';
import { assertNoMappingGrows } from './leak-assertions.js';

const launcher = join(repoRoot, 'fixtures', 'java', 'perfmap', 'sanitised-launcher.sh');
const noAgentLeaks = (...args: string[]) => [javaBin, '-cp', join(fixtureBuild, 'perfmap', 'classes'), 'perfmap.NoAgentLeaks', ...args];
const AGENT_WARNING = /^pid \d+ is a JVM that did not load the leakhunt agent \(JAVA_TOOL_OPTIONS removed or overridden\?\): native stacks only, JIT frames named from the JVM's perf map$/;

interface PerfMapsIndexJson {
  schema: string; pid: number; notes: string[];
  maps: { file: string; timeMs: number; lastTimeMs: number; source: string; entries: number }[];
}
type RunResult = Awaited<ReturnType<typeof runCli>>;

/** Whether the shim saw the agent loaded in `pid`, in any of its snapshots (META flags). */
function agentLoaded(out: string, pid: number): boolean {
  const files = listSnapshotFiles(join(out, 'raw'), pid);
  assert.ok(files.length > 0, `snapshots of ${pid}`);
  return files.some((file) => readSnapshotFile(file).meta.agentLoaded);
}

function perfMapsIndex(out: string, pid: number): PerfMapsIndexJson {
  return readJson<PerfMapsIndexJson>(join(out, 'perfmaps', String(pid), 'index.json'));
}

/** Every stack of the last profile, innermost first, as function names. */
function lastProfileStacks(out: string): string[][] {
  const files = readdirSync(join(out, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).sort();
  assert.ok(files.length >= 3, `snapshots: ${files.join(', ')}`);
  return readHeapProfile(join(out, 'snapshots', files[files.length - 1]!)).samples.map((s) => s.stack.map((f) => f.functionName));
}

/** The frame the stack has right after the JNI function that called zlib, in every stack that has it. */
function framesAboveDeflaterInit(stacks: string[][]): (string | undefined)[] {
  return stacks.flatMap((stack) => {
    const jni = stack.indexOf('Java_java_util_zip_Deflater_init');
    return jni < 0 ? [] : [stack[jni + 1]];
  });
}

describe('a JVM that refuses the agent (its start script strips JAVA_TOOL_OPTIONS)', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let result: RunResult;
  let report: ReportJson & { pid: number; shim: { javaStacks: number; javaStackFailures: number } };

  before(async () => {
    result = await runCli(['run', '--out', out, '--interval', '500ms', '--sample-bytes', '64KiB', '--',
      launcher, ...noAgentLeaks('--seconds', '4', '--exit', '3')], { cwd: dir.path });
    report = readJson(join(out, 'report.json'));
  });
  after(() => dir.cleanup());

  it('keeps the command\'s exit status, through the start script', () => {
    assert.equal(result.exitCode, 3, result.all);
    assert.match(result.stdout, /no-agent-leaks done warmed=20000 kept=\d+/);
    assert.equal(report.exitStatus, 3);
  });

  it('accounts for its RSS without the agent: no part negative, the parts adding up at every snapshot', () => {
    assertRssAccounted(out);
  });

  it('the JVM really ran without the agent, and the shim\'s snapshots say so', () => {
    assert.doesNotMatch(result.stderr, /Picked up JAVA_TOOL_OPTIONS/, 'the JVM never saw JAVA_TOOL_OPTIONS');
    assert.equal(report.shim.javaStacks, 0);
    assert.equal(report.shim.javaStackFailures, 0);
    assert.equal(agentLoaded(out, report.pid), false);
  });

  it('says so in exactly one warning line, in report.json and in the text report', () => {
    const lines = report.warnings.filter((w) => /leakhunt agent/.test(w));
    assert.equal(lines.length, 1, report.warnings.join('\n'));
    assert.match(lines[0]!, AGENT_WARNING);
    assert.ok(lines[0]!.startsWith(`pid ${report.pid} `));
    assert.equal(result.stdout.split('\n').filter((l) => /leakhunt agent/.test(l)).length, 1, result.stdout);
  });

  it('finds the leak with native stacks, the frame above the JNI function named from the perf map', () => {
    const site = report.sites.find((s) => s.stack.includes('Java_java_util_zip_Deflater_init (libzip.so)'));
    assert.ok(site, report.sites.map((s) => s.stack.join(' <- ')).join('\n'));
    assert.equal(site.status, 'growing');
    assert.match(site.stack[0]!, /^deflateInit2_ \(libz\.so/);
    const jni = site.stack.indexOf('Java_java_util_zip_Deflater_init (libzip.so)');
    // After the warm-up every call goes through Deflater.init's compiled native wrapper (an nmethod).
    assert.equal(site.stack[jni + 1], 'java.util.zip.Deflater.init', site.stack.join('\n'));
    assert.ok(!site.stack.some((f) => /^perfmap\.NoAgentLeaks/.test(f)), 'no Java stack without the agent');
  });

  it('no stack through Deflater.init is left with a bare address or ?? above the JNI function', () => {
    const stacks = lastProfileStacks(out);
    const above = framesAboveDeflaterInit(stacks);
    // The compiled wrapper, or, for the first calls before the JIT made it, the interpreter's native entry.
    for (const frame of above) assert.ok(frame === 'java.util.zip.Deflater.init' || frame === 'Interpreter [jvm stub]', JSON.stringify(above));
    assert.ok(above.includes('java.util.zip.Deflater.init'), JSON.stringify(above));
    // The JVM's own allocations from interpreted code end in the interpreter, named as a stub.
    assert.ok(stacks.some((s) => s[s.length - 1] === 'Interpreter [jvm stub]'), 'a stack ends in the interpreter');
  });

  it('keeps the perf maps it took (and leaves nothing in /tmp)', () => {
    const index = perfMapsIndex(out, report.pid);
    assert.ok(index.maps.length >= 1 && index.maps.every((m) => m.source === 'jcmd'), JSON.stringify(index));
    const last = readFileSync(join(out, 'perfmaps', String(report.pid), index.maps[index.maps.length - 1]!.file), 'utf8');
    assert.match(last, /^0x[0-9a-f]+ 0x[0-9a-f]+ long java\.util\.zip\.Deflater\.init\(int, int, boolean\)$/m);
    assert.match(last, /^0x[0-9a-f]+ 0x[0-9a-f]+ Interpreter$/m);
    assert.equal(existsSync(`/tmp/perf-${report.pid}.map`), false);
  });
});

describe('the same JVM with the agent loaded', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('Java stacks as before, perf maps taken too, and no agent warning', async () => {
    const out = join(dir.path, 'run');
    const result = await runCli(['run', '--out', out, '--interval', '500ms', '--sample-bytes', '64KiB', '--',
      ...noAgentLeaks('--seconds', '3')], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson & { pid: number }>(join(out, 'report.json'));
    assert.deepEqual(report.warnings.filter((w) => /leakhunt agent/.test(w)), []);
    const site = report.sites.find((s) => s.function === 'perfmap.NoAgentLeaks.leakDeflatersWithoutAgent');
    assert.ok(site, report.sites.map((s) => s.function).join(', '));
    assert.equal(site.status, 'growing');
    assert.ok(site.stack.some((f) => /^perfmap\.NoAgentLeaks\.leakDeflatersWithoutAgent \(NoAgentLeaks\.java:\d+\)$/.test(f)));
    const index = perfMapsIndex(out, report.pid);
    assert.equal(agentLoaded(out, report.pid), true);
    assert.ok(index.maps.length >= 1);
    assertRssAccounted(out);
    assertNoMappingGrows(report);
  });
});

describe('an interpreted JVM without the agent, stopped by --duration', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('the interpreter calls Deflater.init; a last perf map is taken before the stop', async () => {
    const out = join(dir.path, 'run');
    const result = await runCli(['run', '--out', out, '--interval', '500ms', '--sample-bytes', '64KiB', '--duration', '3s', '--',
      launcher, javaBin, '-Xint', '-cp', join(fixtureBuild, 'perfmap', 'classes'), 'perfmap.NoAgentLeaks', '--seconds', '60'], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all); // the stop leakhunt made at --duration is no failure (README's exit codes)
    const report = readJson<ReportJson & { pid: number }>(join(out, 'report.json'));
    assert.equal(report.warnings.filter((w) => AGENT_WARNING.test(w)).length, 1, report.warnings.join('\n'));
    const above = framesAboveDeflaterInit(lastProfileStacks(out));
    assert.ok(above.length >= 1);
    for (const frame of above) assert.equal(frame, 'Interpreter [jvm stub]', JSON.stringify(above));
    const index = perfMapsIndex(out, report.pid);
    assert.ok(index.maps[index.maps.length - 1]!.lastTimeMs >= 2900, `a capture at the stop: ${JSON.stringify(index.maps)}`);
    assertRssAccounted(out, 2);
  });
});

describe('a perf map the user already had', () => {
  const dir = tempDir();
  let planted = '';
  after(() => {
    if (planted) rmSync(planted, { force: true });
    dir.cleanup();
  });

  it('is copied and left in place, never overwritten by a request of leakhunt\'s', async () => {
    // A start script that leaves a perf map of its own where the JVM (same pid: exec) would write one.
    const script = join(dir.path, 'with-perf-map.sh');
    const content = '0x00007f0000001000 0x0000000000000100 void user.Own.entry()\n';
    writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' '${content.trim()}' > /tmp/perf-$$.map\nexec "$@"\n`);
    chmodSync(script, 0o755);
    const out = join(dir.path, 'run');
    const result = await runCli(['run', '--out', out, '--interval', '500ms', '--sample-bytes', '64KiB', '--',
      script, ...noAgentLeaks('--seconds', '3')], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson & { pid: number }>(join(out, 'report.json'));
    planted = `/tmp/perf-${report.pid}.map`;
    assert.equal(readFileSync(planted, 'utf8'), content, 'still there, unchanged');
    const index = perfMapsIndex(out, report.pid);
    assert.ok(index.maps.length >= 1 && index.maps.every((m) => m.source === 'user'), JSON.stringify(index));
    assert.equal(readFileSync(join(out, 'perfmaps', String(report.pid), index.maps[0]!.file), 'utf8'), content);
    assert.ok(index.notes.some((n) => /existed before leakhunt asked/.test(n)), index.notes.join('\n'));
  });
});

describe('--follow-children: a JVM started by the target', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('gets its perf maps, its frames named and its warning in its own report', async () => {
    const out = join(dir.path, 'run');
    // sh forks (the "; true" keeps it from exec'ing), so the JVM is a child with a pid of its own.
    const command = [launcher, ...noAgentLeaks('--seconds', '3')].map((w) => `'${w}'`).join(' ');
    const result = await runCli(['run', '--out', out, '--interval', '500ms', '--sample-bytes', '64KiB', '--follow-children', '--',
      '/bin/sh', '-c', `${command}; true`], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson & { pid: number; processes?: { pid: number; report: string }[] }>(join(out, 'report.json'));
    assert.deepEqual(report.warnings.filter((w) => /leakhunt agent/.test(w)), [], 'the shell is no JVM');
    assert.equal(existsSync(join(out, 'perfmaps', String(report.pid))), false, 'no perf map for the shell');
    const children = report.processes ?? [];
    const jvm = children.find((c) => existsSync(join(out, 'perfmaps', String(c.pid), 'index.json')));
    assert.ok(jvm, `a child with perf maps among ${JSON.stringify(children.map((c) => c.pid))}`);
    const index = perfMapsIndex(out, jvm.pid);
    assert.equal(agentLoaded(out, jvm.pid), false);
    assert.ok(index.maps.length >= 1);
    const child = readJson<ReportJson>(join(out, jvm.report));
    assert.equal(child.warnings.filter((w) => AGENT_WARNING.test(w)).length, 1, child.warnings.join('\n'));
    const above = framesAboveDeflaterInit(lastProfileStacks(join(out, 'processes', String(jvm.pid))));
    assert.ok(above.includes('java.util.zip.Deflater.init'), JSON.stringify(above));
  });
});
