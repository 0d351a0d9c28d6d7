/**
 * `leakhunt report DIR` on a run directory whose raw snapshots were never processed (leakhunt run was killed before
 * it got to them): the built CLI processes it as run would, says so on stderr, prints the report; from then on the
 * directory is re-analysed from its profiles, with the same result.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RawStack } from '../../src/snapshot/types.js';
import { encodeRawSnapshot } from '../unit/helpers/raw-file.js';
import { rawSnapshot } from '../unit/helpers/raw-snapshot.js';
import { readJson, runCli, tempDir, type ReportJson } from './helpers.js';

const work = tempDir('leakhunt-report-raw-');
after(() => work.cleanup());

const MiB = 1024 * 1024;

/** 12 snapshots 10 s apart: one stack leaks 1 MiB a snapshot, one holds 4 MiB, one churns. run.json as run leaves it before the target ends. */
function writeRawRun(dir: string): void {
  const pid = 31337;
  mkdirSync(join(dir, 'raw', String(pid)), { recursive: true });
  const stacks: RawStack[] = [
    { id: 0, pcs: [], javaFrames: [] },
    { id: 1, pcs: [0x401010n, 0x402020n], javaFrames: [] },
    { id: 2, pcs: [0x401110n, 0x402020n], javaFrames: [] },
    { id: 3, pcs: [0x401210n, 0x402020n], javaFrames: [] },
  ];
  for (let k = 0; k < 12; k++) {
    const live = [0, (k + 1) * MiB, 4 * MiB, (k % 3) * MiB];
    writeFileSync(join(dir, 'raw', String(pid), `${String(k).padStart(6, '0')}.lhs`), encodeRawSnapshot(rawSnapshot({
      maps: '00400000-00403000 r-xp 00000000 00:00 0 \n',
      stacks: new Map(stacks.map((s) => [s.id, s])),
      sites: stacks.map((s) => ({
        stackId: s.id, liveSamples: live[s.id]! / 4096, liveSampledBytes: live[s.id]!, liveObjects: live[s.id]! / 4096, liveBytes: live[s.id]!,
        allocSamples: k + 1, allocObjects: k + 1, allocBytes: (k + 1) * MiB, oldestLiveMs: 1000, newestLiveMs: 1000 + 10_000 * k, meanLiveMs: 1000 + 5000 * k,
      })),
      meta: {
        pid, sequence: k, realtimeNs: BigInt(1_700_000_002_000 + 10_000 * k) * 1_000_000n, monotonicNs: BigInt(2000 + 10_000 * k) * 1_000_000n,
        startRealtimeNs: 1_700_000_000_000_000_000n, startMonotonicNs: 0n,
      },
      memory: { vmRssBytes: 100 * MiB + k * MiB },
    })));
  }
  writeFileSync(join(dir, 'run.json'), JSON.stringify({
    schema: 'leakhunt.run/v1', command: ['service'], startedAtMs: 1_700_000_000_000, sampleBytes: 1, snapshotIntervalMs: 10_000,
  }));
}

describe('leakhunt report on a run that was never processed', () => {
  const dir = join(work.path, 'run');
  writeRawRun(dir);

  it('processes it (profiles, timeline.json, report.json, report.html), says so, and prints the report', async () => {
    const result = await runCli(['report', dir], { env: { LEAKHUNT_TIMINGS: '1' } });
    assert.equal(result.exitCode, 0, result.all);
    assert.match(result.stderr, /raw snapshots never processed .*processing them now/);
    assert.match(result.stderr, /run\.json does not name the target's pid: taken as 31337/);
    assert.match(result.stderr, /its end is taken as its last snapshot/);
    const timings = /leakhunt: timings: (\{.*\})/.exec(result.stderr);
    assert.ok(timings, result.stderr);
    assert.ok((JSON.parse(timings[1]!) as { peakRssBytes: number }).peakRssBytes > 0);
    for (const name of ['report.json', 'timeline.json', 'report.html']) assert.ok(existsSync(join(dir, name)), name);
    assert.equal(readdirSync(join(dir, 'snapshots')).length, 12);
    assert.match(result.stdout, /^NATIVE LEAK/);
    assert.match(result.stdout, /0x40100f/, 'the leaking site, named by its call address (pc - 1): nothing maps it');
    const report = readJson<ReportJson>(join(dir, 'report.json'));
    assert.equal(report.snapshots, 12);
    assert.equal(report.sites[0]!.status, 'growing');
  });

  it('then re-analyses it from its profiles: the same report, nothing processed again', async () => {
    const again = await runCli(['report', dir, '--format', 'json']);
    assert.equal(again.exitCode, 0, again.all);
    assert.doesNotMatch(again.stderr, /processing/);
    const printed = JSON.parse(again.stdout) as ReportJson;
    const written = readJson<ReportJson>(join(dir, 'report.json'));
    assert.deepEqual(printed.sites.map((s) => [s.function, s.status, s.liveBytes]), written.sites.map((s) => [s.function, s.status, s.liveBytes]));
  });
});
