/** The one warning for a JVM that did not load leakhunt's agent, and when it must not be given. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jvmAgentWarning, samplesFromJavaCode, type JvmAgentFacts } from '../../src/symbolize/index.js';
import { rawSnapshot, type RawSnapshotParts } from './helpers/raw-snapshot.js';

const JVM_MAPS = [
  '555500000000-555500001000 r-xp 00000000 08:01 100 /usr/lib/jvm/java-17/bin/java',
  '7f0000000000-7f0000100000 rwxp 00000000 00:00 0 ',
  '7f1000000000-7f1000800000 r-xp 00000000 08:01 200 /usr/lib/jvm/java-17/lib/server/libjvm.so',
].join('\n');
const NATIVE_MAPS = '555500000000-555500001000 r-xp 00000000 08:01 100 /usr/bin/app';

/** `fromJavaCode` samples whose stack ends in the code cache, one whose stack ends in libjvm. */
function jvmSnapshot(fromJavaCode: number, parts: RawSnapshotParts = {}) {
  const site = (stackId: number, allocSamples: number) => ({
    stackId, liveSamples: 0, liveSampledBytes: 0, liveObjects: 0, liveBytes: 0, allocSamples, allocObjects: 0, allocBytes: 0,
    oldestLiveMs: 0, newestLiveMs: 0, meanLiveMs: 0,
  });
  return rawSnapshot({
    maps: JVM_MAPS,
    stacks: new Map([
      [1, { id: 1, pcs: [0x7f1000000100n, 0x7f0000000101n], javaFrames: [] }],
      [2, { id: 2, pcs: [0x7f1000000200n], javaFrames: [] }],
    ]),
    sites: [site(1, fromJavaCode), site(2, 50)],
    ...parts,
  });
}

const refused: JvmAgentFacts = { pid: 4242, javaStacksWanted: true, perfMaps: 3 };

describe('jvmAgentWarning', () => {
  test('a JVM whose environment dropped the agent, and no sign of it in the snapshots: one line', () => {
    assert.equal(jvmAgentWarning([jvmSnapshot(0), jvmSnapshot(0)], refused),
      "pid 4242 is a JVM that did not load the leakhunt agent (JAVA_TOOL_OPTIONS removed or overridden?): native stacks only, JIT frames named from the JVM's perf map");
  });

  test('no perf map either: it says so, and why', () => {
    const line = jvmAgentWarning([jvmSnapshot(0)], { ...refused, perfMaps: 0, perfMapNotes: ['jcmd not found (it comes with the JDK): no perf map, JIT frames without a Java stack stay unnamed'] });
    assert.match(line!, /^pid 4242 is a JVM that did not load the leakhunt agent .*: native stacks only, and no perf map of it was kept \(jcmd not found/);
    assert.doesNotMatch(line!, /\n/);
  });

  test('the agent at work (Java stacks, failures or methods): none', () => {
    for (const counters of [{ javaStacks: 1 }, { javaStackFailures: 1 }, { javaMethods: 1 }]) {
      assert.equal(jvmAgentWarning([jvmSnapshot(100, { counters })], refused), undefined, JSON.stringify(counters));
    }
  });

  test('--no-java-stacks, or not a JVM, or no snapshots: none', () => {
    assert.equal(jvmAgentWarning([jvmSnapshot(100)], { ...refused, javaStacksWanted: false }), undefined);
    assert.equal(jvmAgentWarning([rawSnapshot({ maps: NATIVE_MAPS })], refused), undefined);
    assert.equal(jvmAgentWarning([], refused), undefined);
  });

  test('the agent loaded and sampling (META flags), even before its first Java stack: none', () => {
    assert.equal(jvmAgentWarning([jvmSnapshot(100, { meta: { agentLoaded: true, agentSampling: true } })], refused), undefined);
    assert.equal(jvmAgentWarning([jvmSnapshot(0, { meta: { agentLoaded: true } }), jvmSnapshot(100, { meta: { agentLoaded: true, agentSampling: true } })], refused), undefined,
      'loaded first, sampling from VMInit on');
  });

  test('the agent loaded but never able to sample: its own line, once Java code allocated', () => {
    const loadedOnly = { meta: { agentLoaded: true } };
    assert.match(jvmAgentWarning([jvmSnapshot(100, loadedOnly)], refused) ?? '', /^pid 4242 is a JVM that loaded the leakhunt agent but could not take Java stacks/);
    assert.equal(jvmAgentWarning([jvmSnapshot(2, loadedOnly)], refused), undefined, 'a JVM that ended in start-up');
  });

  test('not loaded: the shim\'s flags decide, for a run that did not say whether it wanted Java stacks too', () => {
    for (const facts of [refused, { pid: 4242, javaStacksWanted: undefined, perfMaps: 1 }]) {
      assert.match(jvmAgentWarning([jvmSnapshot(0)], facts) ?? '', /did not load the leakhunt agent/, JSON.stringify(facts));
    }
  });
});

test('samplesFromJavaCode counts the stacks that end in anonymous executable memory', () => {
  assert.equal(samplesFromJavaCode(jvmSnapshot(7)), 7);
});
