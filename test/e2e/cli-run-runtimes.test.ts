/**
 * Any native program, not only the JVM: a Node.js service whose request bodies leak into Buffers outside V8's heap
 * (fixtures/node/buffer_leak.js), run with `node --perf-basic-prof`. Its stacks go on past V8's builtins into the
 * JavaScript frames (the shim's frame-pointer walk), which are named from the perf map node writes itself (kept in
 * perfmaps/<pid>/), and the site is the program's function — not the ArrayBuffer allocator, V8 or node's own
 * JavaScript. Python the same way with `python3 -X perf` (3.12+), when this machine has it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';
import { readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';
import { assertInstalled, python3, skipWithout } from './system-packages.js';

type Site = ReportJson['sites'][number] & { source?: { file: string; line: number } };
interface PerfMapsIndex { jvm?: boolean; maps: { source: string; entries: number }[]; notes: string[] }

/*
 * Each target runs in the test's temp dir: node 20's --perf-basic-prof also writes V8's log, isolate-*-v8.log, into
 * its working directory.
 */

/**
 * The fixtures do a fixed amount of work — 40 rounds, 100 ms apart, 5 kept buffers a round — and end by themselves:
 * on a busy machine a run cut at a --duration could end before the program had done enough for a trend.
 */
const rounds = ['--rounds', '40'];
/** What README says to pass to node. */
const nodeFlags = ['--perf-basic-prof', '--interpreted-frames-native-stack'];

/** The runtime's own /tmp/perf-<pid>.map: leakhunt leaves it in place, so the test that made it removes it. */
function removeRuntimePerfMap(pid: number | undefined): void {
  if (pid) rmSync(`/tmp/perf-${pid}.map`, { force: true });
}

describe('leakhunt run on a Node.js service', () => {
  const dir = tempDir();
  let pid: number | undefined;
  after(() => {
    removeRuntimePerfMap(pid);
    dir.cleanup();
  });

  it('names the JavaScript function that keeps the Buffers, from node\'s perf map; the churn is not a leak', async () => {
    const out = join(dir.path, 'node');
    const cwd = join(dir.path, 'node-cwd');
    mkdirSync(cwd);
    const script = join(repoRoot, 'fixtures', 'node', 'buffer_leak.js');
    // As README says: --interpreted-frames-native-stack, so that a function V8 has not compiled yet is named too (all
    // of them share one trampoline otherwise); --logfile=/dev/null, so that V8's log is not written (the perf map is).
    const result = await runCli(['run', '-q', '--out', out, '--interval', '300ms', '--sample-bytes', '16KiB', '--',
      process.execPath, ...nodeFlags, '--logfile=/dev/null', script, ...rounds], { cwd });
    const report = readJson<ReportJson & { sites: Site[] }>(join(out, 'report.json'));
    pid = report.pid;
    assert.equal(result.exitCode, 0, result.all);
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    const top = report.sites[0]!;
    assert.equal(top.function, 'rememberRequestBody', JSON.stringify(report.sites.slice(0, 3).map((s) => [s.function, s.status])));
    assert.equal(top.status, 'growing');
    assert.match(top.location, /^rememberRequestBody \(buffer_leak\.js:\d+\)$/);
    assert.equal(top.source?.file, script);
    // The stack: node's allocator and V8 innermost, V8's builtin, then the JavaScript frames past it (the shim's
    // frame-pointer walk), named from the perf map: node's own JavaScript, the program's function, its caller.
    const stack = top.stack;
    const builtin = stack.findIndex((f) => /^Builtins_CEntry/.test(f));
    const own = stack.indexOf(top.location);
    assert.ok(builtin > 0 && own > builtin, stack.join('\n'));
    assert.match(stack[0]!, /^node::NodeArrayBufferAllocator::/);
    assert.ok(stack.slice(builtin + 1, own).some((f) => /^allocUnsafeSlow \(node:buffer:\d+\)$/.test(f)), stack.join('\n'));
    // No runtime plumbing is a site that grows; the scratch buffers are churn.
    for (const site of report.sites.filter((s) => s.status === 'growing')) {
      assert.doesNotMatch(site.function, /^(node::|v8::|Builtins_|_?Py)/, site.function);
    }
    const churn = report.sites.find((s) => s.function === 'churnScratchBuffer');
    assert.ok(churn, 'the churn site is named too');
    assert.notEqual(churn.status, 'growing');
    // The perf map node wrote itself, copied while it ran (and left in /tmp: it is node's).
    const index = readJson<PerfMapsIndex>(join(out, 'perfmaps', String(report.pid), 'index.json'));
    assert.equal(index.jvm, false);
    assert.ok(index.maps.length >= 1 && index.maps.every((m) => m.source === 'runtime' && m.entries > 100), JSON.stringify(index.maps));
    assert.deepEqual(readdirSync(cwd), [], 'no isolate-*-v8.log');
  });

  it('without --perf-basic-prof the frames past the builtins are there, unnamed: README says which flag to pass', async () => {
    const out = join(dir.path, 'node-plain');
    const result = await runCli(['run', '-q', '--out', out, '--interval', '300ms', '--sample-bytes', '16KiB', '--',
      process.execPath, '--interpreted-frames-native-stack', join(repoRoot, 'fixtures', 'node', 'buffer_leak.js'), ...rounds], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    const top = report.sites[0]!;
    assert.equal(top.status, 'growing');
    assert.doesNotMatch(top.function, /^(node::|v8::|Builtins_)/, 'still not the runtime\'s plumbing');
    assert.match(top.function, /^0x[0-9a-f]+$/, 'a JIT frame, by its address');
  });
});

/** The first Python 3.12+ among the usual names (-X perf writes perf maps from 3.12 on), or undefined. */
async function python312(): Promise<string | undefined> {
  for (const name of ['python3', 'python3.14', 'python3.13', 'python3.12']) {
    const version = await execa(name, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { reject: false });
    const [major, minor] = (version.stdout || '0.0').split('.').map(Number);
    if (version.exitCode === 0 && (major! > 3 || (major === 3 && minor! >= 12))) return name;
  }
  return undefined;
}

describe('leakhunt run on a Python service', () => {
  const dir = tempDir();
  const pids: number[] = [];
  after(() => {
    for (const pid of pids) removeRuntimePerfMap(pid);
    dir.cleanup();
  });
  const script = join(repoRoot, 'fixtures', 'python', 'bytes_leak.py');
  const run = (out: string, python: string[]) => runCli(['run', '-q', '--out', out, '--interval', '300ms',
    '--sample-bytes', '16KiB', '--', ...python, script, ...rounds], { cwd: dir.path });
  const pymalloc = /^_?Py(Object|Mem)_(Raw)?(Malloc|Calloc|Realloc)$/;

  it('any python3, no perf map: the site is the interpreter\'s first frame past pymalloc, never _PyObject_Malloc', { skip: skipWithout(python3) }, async () => {
    assertInstalled(python3);
    const out = join(dir.path, 'python-plain');
    const result = await run(out, ['python3']);
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    const top = report.sites[0]!;
    assert.equal(top.status, 'growing');
    assert.equal(top.function, '_PyBytes_FromSize', JSON.stringify(report.sites.slice(0, 3).map((s) => [s.function, s.status])));
    assert.match(top.stack[0]!, /^_PyObject_(Calloc|Malloc)\b/, 'pymalloc is in the stack, innermost');
    assert.ok(!report.sites.some((s) => s.status === 'growing' && pymalloc.test(s.function)), 'pymalloc is plumbing');
  });

  it('python3 -X perf (3.12+): the Python function that keeps the bytes is the site, named from the perf map', async (t) => {
    const python = await python312();
    if (!python) return t.skip('no Python 3.12 or newer here: -X perf (perf maps) needs it');
    const out = join(dir.path, 'python');
    const result = await run(out, [python, '-X', 'perf']);
    const report = readJson<ReportJson & { sites: Site[] }>(join(out, 'report.json'));
    pids.push(report.pid);
    assert.equal(result.exitCode, 0, result.all);
    const top = report.sites[0]!;
    assert.equal(top.function, 'remember_request_body', JSON.stringify(report.sites.slice(0, 3).map((s) => [s.function, s.status])));
    assert.equal(top.status, 'growing');
    const interpreter = top.stack.findIndex((f) => /^_PyEval_EvalFrameDefault\b/.test(f));
    assert.ok(interpreter > 0 && top.stack.indexOf(top.location) > interpreter, `past the interpreter: ${top.stack.join('\n')}`);
    assert.ok(!report.sites.some((s) => s.status === 'growing' && pymalloc.test(s.function)), 'pymalloc is plumbing');
    const index = readJson<PerfMapsIndex>(join(out, 'perfmaps', String(report.pid), 'index.json'));
    assert.equal(index.jvm, false);
    assert.ok(index.maps.length >= 1 && index.maps.every((m) => m.source === 'runtime'), JSON.stringify(index.maps));
  });
});
