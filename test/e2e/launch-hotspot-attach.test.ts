/**
 * The attach client (launch/hotspot-attach.ts) against real JVMs: the first request starts the JVM's listener with
 * the trigger file and a SIGQUIT (and no thread dump comes of it), later ones reuse its socket, the commands a run
 * asks for answer as jcmd's would, and a JVM that refuses attach is never signalled.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { askJvm, catchesSigquit } from '../../src/launch/hotspot-attach.js';
import { parseJvmRanges } from '../../src/launch/jvm-stats.js';
import { fixtureBuild, javaBin } from './helpers.js';

const heapClasses = join(fixtureBuild, 'heap', 'classes');

function startJvm(extra: string[]): ResultPromise<{ reject: false; all: true }> {
  return execa(javaBin, [...extra, '-Xms16m', '-Xmx64m', '-cp', heapClasses, 'heap.GrowingHeap', '--seconds', '60', '--kib-per-second', '64'],
    { reject: false, all: true });
}

/** Until the JVM handles SIGQUIT (its signal handlers are in): before that, nobody may attach. */
async function untilReady(pid: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (catchesSigquit(readFileSync(`/proc/${pid}/status`, 'utf8'))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`pid ${pid} never caught SIGQUIT`);
}

describe('asking a running JVM over its attach socket', () => {
  const jvms: ResultPromise<{ reject: false; all: true }>[] = [];
  after(() => { for (const jvm of jvms) jvm.kill('SIGKILL'); });

  it('starts the listener once, answers as jcmd would, leaves no trigger file and prints no thread dump', async () => {
    const jvm = startJvm([]);
    jvms.push(jvm);
    const pid = jvm.pid!;
    await untilReady(pid);
    assert.equal(existsSync(`/tmp/.java_pid${pid}`), false, 'a fresh JVM has no listener yet');

    const first = await askJvm(pid, ['GC.heap_info', 'Compiler.codecache']);
    assert.equal(first.ok, true, first.why);
    const ranges = parseJvmRanges(first.output);
    assert.equal(ranges.javaHeap?.length, 1, first.output);
    assert.ok(ranges.codeCache && ranges.codeCache.length >= 1, first.output);
    assert.equal(existsSync(`/tmp/.java_pid${pid}`), true, 'the listener\'s socket');
    assert.equal(existsSync(`/proc/${pid}/cwd/.attach_pid${pid}`), false, 'the trigger file is removed');

    const perfMap = `/tmp/perf-${pid}.map`;
    try {
      const map = await askJvm(pid, ['Compiler.perfmap']);
      assert.equal(map.ok, true, map.why);
      assert.match(readFileSync(perfMap, 'utf8'), /^(0x)?[0-9a-f]+ (0x)?[0-9a-f]+ \S/m);
    } finally {
      rmSync(perfMap, { force: true });
    }

    const unknown = await askJvm(pid, ['No.such.command']);
    assert.equal(unknown.ok, false);
    assert.match(unknown.why, /Unknown diagnostic command/);

    jvm.kill('SIGTERM');
    const result = await jvm;
    assert.doesNotMatch(result.all ?? '', /Full thread dump/, 'the SIGQUIT started the listener, not a dump');
  });

  it('a JVM started with -XX:+DisableAttachMechanism is not signalled: no dump, still running', async () => {
    const jvm = startJvm(['-XX:+DisableAttachMechanism']);
    jvms.push(jvm);
    const pid = jvm.pid!;
    await untilReady(pid);
    const reply = await askJvm(pid, ['GC.heap_info'], 3000);
    assert.equal(reply.ok, false);
    assert.match(reply.why, /-XX:\+DisableAttachMechanism/);
    assert.equal(existsSync(`/proc/${pid}`), true, 'still running');
    jvm.kill('SIGTERM');
    const result = await jvm;
    assert.doesNotMatch(result.all ?? '', /Full thread dump/);
  });
});
