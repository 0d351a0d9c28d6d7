/**
 * Hardening: the target killed with SIGKILL at seeded random moments (several at once, fast). Whatever moment the
 * kill lands on — before the first snapshot, between two, in the middle of writing one — every snapshot file left is
 * whole and readable, and the CLI reports exactly what it kept: exit 137, report.json written.
 * LEAKHUNT_TEST_SEED=<n> replays another set of moments.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSnapshotFile } from '../../src/snapshot/index.js';
import { fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';
import { xorshift32 as prng } from '../unit/helpers/prng.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function killAfter(out: string, delayMs: number) {
  const cli = runCli(['run', '--out', out, '--interval', '100ms', '--sample-bytes', '4KiB', '--',
    join(fixtureBuild, 'leaky_apis'), '--rounds', '100000', '--round-ms', '20'], { timeoutMs: 60_000 });
  // The shim makes raw/<pid> in its constructor: from then on the target is running under it.
  let pid: number | undefined;
  for (let waited = 0; waited < 10_000 && pid === undefined; waited += 10) {
    await sleep(10);
    const pids = existsSync(join(out, 'raw')) ? readdirSync(join(out, 'raw')) : [];
    if (pids.length > 0) pid = Number(pids[0]);
  }
  assert.ok(pid, 'the target started under the shim');
  await sleep(delayMs);
  process.kill(pid, 'SIGKILL');
  return { pid, result: await cli };
}

describe('hardening: SIGKILL at random moments', () => {
  const dir = tempDir('leakhunt-hardening-kill-');
  after(() => dir.cleanup());

  it('3 kills at seeded moments: every snapshot kept is readable, exit 137, the report says what it kept', async (t) => {
    const seed = Number(process.env.LEAKHUNT_TEST_SEED ?? 0x5eed1e55);
    const rng = prng(seed);
    for (let i = 0; i < 8; i++) rng(); // small seeds start with small values
    // One moment in each of [0, 400), [400, 800), [800, 1200) ms: before, around and well after the first snapshots.
    const delays = [0, 1, 2].map((k) => Math.floor(400 * k + 400 * rng()));
    t.diagnostic(`seed ${seed}: kills after ${delays.join(', ')} ms`);
    const runs = await Promise.all(delays.map((delay, k) => killAfter(join(dir.path, `kill-${k}`), delay)));
    runs.forEach(({ pid, result }, k) => {
      const out = join(dir.path, `kill-${k}`);
      const what = `kill ${k} after ${delays[k]} ms (seed ${seed})`;
      assert.equal(result.exitCode, 137, `${what}: ${result.all}`);
      const rawDir = join(out, 'raw', String(pid));
      const files = readdirSync(rawDir).filter((f) => /^\d{6}\.lhs$/.test(f)).sort();
      const sequences = files.map((f) => readSnapshotFile(join(rawDir, f)).meta.sequence); // every one parses whole
      assert.deepEqual(sequences, files.map((_, i) => i), `${what}: a gapless series`);
      const report = readJson<ReportJson & { pid: number }>(join(out, 'report.json'));
      assert.equal(report.pid, pid);
      assert.equal(report.exitStatus, 137, what);
      assert.equal(report.snapshots, files.length, `${what}: the report counts exactly the snapshots kept`);
      assert.equal(readdirSync(join(out, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).length, files.length, what);
      assert.match(result.stdout, new RegExp(`\\b${files.length} snapshots?\\b.*exit status 137`), `${what}: the text report says so`);
      assert.equal(readJson<{ signal?: string }>(join(out, 'run.json')).signal, 'SIGKILL');
      if (files.length === 0) assert.ok(report.warnings.some((w) => /no snapshots/.test(w)), `${what}: ${JSON.stringify(report.warnings)}`);
      else assert.ok(report.sites.some((s) => /^leak_via_/.test(s.function)), `${what}: the leaks recorded before the kill are reported`);
    });
    assert.ok(runs.some((r, k) => readdirSync(join(dir.path, `kill-${k}`, 'raw', String(r.pid))).some((f) => f.endsWith('.lhs'))),
      'at least one run lived long enough to write snapshots');
  });
});
