/**
 * Processing a run directory (processRun, and processRunDirectory for `leakhunt report` on a run that was never
 * processed) against the reference: every snapshot read whole, symbolized whole by one session, built as a
 * profile object, encoded and decoded again, the timeline and the report made from all of them — what the
 * processing did before it streamed. The profiles must be the same bytes, timeline.json and report.json the same.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { timelineOf } from '../../src/analyse/index.js';
import { buildHeapProfile } from '../../src/pprof/build.js';
import { decodeHeapProfile } from '../../src/pprof/read.js';
import type { ProfilePoint } from '../../src/pprof/series.js';
import { processRunDirectory } from '../../src/commands/process.js';
import { buildRunReport, shimSummary } from '../../src/pipeline/build.js';
import { analysisOptionsOf, processRun } from '../../src/pipeline/process.js';
import { completedRunMeta, hasUnprocessedSnapshots } from '../../src/pipeline/unprocessed.js';
import { listSnapshotFiles, readRunMeta, type RunMeta } from '../../src/rundir/index.js';
import { readSnapshotFile } from '../../src/snapshot/index.js';
import type { RawSnapshot, RawStack } from '../../src/snapshot/types.js';
import { parseMaps } from '../../src/symbolize/maps.js';
import { SymbolizeSession } from '../../src/symbolize/index.js';
import { encodeRawSnapshot } from './helpers/raw-file.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'leakhunt-process-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

const PID = 4242;
const START_MS = 1_750_000_000_000;

/** This process's own libc text mapping (real code to symbolize), else a made-up one. */
function codeMapping(): string {
  const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => / r-xp .*\/libc[.-][^/]*so/.test(l));
  return line ?? '7f0000000000-7f0000100000 r-xp 00000000 fe:00 12 /usr/lib/libnothere.so';
}

/**
 * A run of `count` snapshots of one process: a stack table that grows, an exec half-way (another image, other
 * stacks under the same ids), a damaged file, sites whose values change or stay.
 */
function writeRun(dir: string, count: number, meta: Partial<RunMeta> = {}): void {
  const code = parseMaps(codeMapping())[0]!;
  const maps = `00400000-00401000 r-xp 00000000 fe:00 7 /usr/bin/app\n${codeMapping()}\n`;
  const pc = (n: number) => code.startAddress + 0x1000n + BigInt(n * 0x3b1);
  mkdirSync(join(dir, 'raw', String(PID)), { recursive: true });
  const stacks: RawStack[] = [{ id: 0, pcs: [], javaFrames: [] }];
  let image = 100n;
  for (let k = 0; k < count; k++) {
    if (k === Math.floor(count / 2)) {
      image = 200n;
      stacks.length = 1;
    }
    for (let g = 0; g < 1 + (k % 3); g++) {
      const id = stacks.length;
      stacks.push({ id, pcs: [pc(id % 7), pc(50 + (id % 4)), 0x400010n + BigInt(id % 2), pc(90)], javaFrames: [] });
    }
    const snapshot: RawSnapshot = rawSnapshot({
      maps, stacks: new Map(stacks.map((s) => [s.id, s])),
      sites: stacks.map((s) => {
        const live = s.id % 4 === 1 ? k + 1 : s.id % 4 === 2 ? (k % 2) * 3 : 0;
        return {
          stackId: s.id, liveSamples: live, liveSampledBytes: 100 * live, liveObjects: 0.5 * live, liveBytes: 65536.4 * live,
          allocSamples: s.id % 4 === 3 ? 4 : k + live, allocObjects: s.id % 4 === 3 ? 4 : 1.5 * (k + live),
          allocBytes: s.id % 4 === 3 ? 4096 : 70000.7 * (k + live), oldestLiveMs: live ? 500 : 0, newestLiveMs: live ? 900 * k + 1 : 0,
          meanLiveMs: live ? 450.5 * k + 3 : 0,
        };
      }),
      meta: {
        pid: PID, sequence: k, realtimeNs: BigInt(START_MS + 2000 + 10_000 * k) * 1_000_000n, monotonicNs: BigInt(2000 + 10_000 * k) * 1_000_000n + image,
        startRealtimeNs: BigInt(START_MS + 10) * 1_000_000n, startMonotonicNs: image, baseSampleIntervalBytes: 65536, sampleIntervalBytes: 65536,
        recordsEveryAllocation: false, isFinal: k === count - 1,
      },
      counters: { samples: 10 * k, liveEntries: k, tableCapacity: 65536, stackCount: stacks.length, shimMappedBytes: 1 << 20 },
      mallinfo: { available: true, arena: 1e6 + k * 1e5, uordblks: 9e5 + k * 1e5, fordblks: 1e5 },
      memory: { vmRssBytes: 5e7 + k * 1e6, rssAnonBytes: 3e7 + k * 1e6, rssFileBytes: 2e7 },
    });
    const file = join(dir, 'raw', String(PID), `${String(k).padStart(6, '0')}.lhs`);
    const bytes = encodeRawSnapshot(snapshot);
    writeFileSync(file, k === 3 ? bytes.subarray(0, bytes.length - 20) : bytes);
  }
  writeFileSync(join(dir, 'run.json'), JSON.stringify({
    schema: 'leakhunt.run/v1', command: ['app', '--serve'], startedAtMs: START_MS, sampleBytes: 65536, snapshotIntervalMs: 10_000,
    pid: PID, exitStatus: 0, endedAtMs: START_MS + 2000 + 10_000 * count, ...meta,
  }));
}

/** The processing as it was: everything read first, each snapshot symbolized whole and its profile built as objects. */
async function reference(dir: string, meta: RunMeta): Promise<{ report: unknown; timeline: unknown; profiles: Map<string, Buffer> }> {
  const warnings: string[] = [];
  const snapshots: RawSnapshot[] = [];
  for (const file of listSnapshotFiles(join(dir, 'raw'), PID)) {
    try {
      snapshots.push(readSnapshotFile(file));
    } catch (error) {
      warnings.push(`skipped ${file}: ${(error as Error).message}`);
    }
  }
  const session = new SymbolizeSession({ objectsDir: join(dir, 'objects') });
  const profiles = new Map<string, Buffer>();
  const points: ProfilePoint[] = [];
  const timeline = timelineOf(snapshots, meta.startedAtMs);
  try {
    let previousNs: bigint | undefined;
    for (const [i, raw] of snapshots.entries()) {
      const profile = buildHeapProfile(await session.symbolize(raw), {
        timeNanos: raw.meta.realtimeNs, durationNanos: raw.meta.realtimeNs - (previousNs ?? raw.meta.startRealtimeNs),
        // The live heap in each; every stack, with its allocations over the run, in the last.
        ...(i < snapshots.length - 1 ? { liveOnly: true } : {}),
      });
      previousNs = raw.meta.realtimeNs;
      const bytes = Buffer.from(profile.encode());
      profiles.set(`${String(raw.meta.sequence).padStart(4, '0')}.pb.gz`, bytes);
      points.push({ timeSec: timeline[i]!.timeSec, profile: decodeHeapProfile(bytes, 'reference') });
    }
    warnings.push(...await session.warnings());
  } finally {
    await session.close();
  }
  const last = snapshots[snapshots.length - 1]!;
  const report = buildRunReport(
    {
      command: meta.command, pid: PID, exitStatus: meta.exitStatus ?? null, durationSec: ((meta.endedAtMs ?? meta.startedAtMs) - meta.startedAtMs) / 1000,
      sampleBytes: meta.sampleBytes, snapshotIntervalMs: meta.snapshotIntervalMs, warnings, snapshotsWritten: last.meta.sequence + 1,
    },
    points, timeline, shimSummary(last.counters, last.meta.sampleIntervalBytes), analysisOptionsOf(meta), { jvmNotes: [] },
  );
  return { report: JSON.parse(JSON.stringify(report)), timeline: JSON.parse(JSON.stringify(timeline)), profiles };
}

describe('processing a run directory', () => {
  test('profiles, timeline.json and report.json as the whole-run processing made them', async () => {
    const dir = join(root, 'equal');
    writeRun(dir, 14);
    const meta = readRunMeta(dir);
    const expected = await reference(dir, meta);
    const processed = await processRun(dir, meta);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')), expected.report);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'timeline.json'), 'utf8')).snapshots, expected.timeline);
    assert.deepEqual(readdirSync(join(dir, 'snapshots')).sort(), [...expected.profiles.keys()].sort());
    for (const [name, bytes] of expected.profiles) {
      assert.ok(gunzipSync(readFileSync(join(dir, 'snapshots', name))).equals(bytes), `${name}: the same profile`);
    }
    assert.equal(processed.series.points.length, 13);
    assert.match(processed.report.warnings.join('\n'), /skipped .*000003\.lhs: truncated/);
  });

  test('leakhunt report on a run never processed: run.json completed from the snapshots, report.html written', async () => {
    const dir = join(root, 'killed');
    writeRun(dir, 6, { pid: undefined, endedAtMs: undefined, exitStatus: undefined });
    assert.equal(hasUnprocessedSnapshots(dir), true);
    const { meta, notes } = completedRunMeta(dir, readRunMeta(dir));
    assert.equal(meta.pid, PID);
    assert.equal(meta.endedAtMs, START_MS + 2000 + 10_000 * 5);
    assert.equal(notes.length, 2);
    const processed = await processRunDirectory(dir);
    assert.deepEqual(processed.notes, notes);
    for (const name of ['report.json', 'timeline.json', 'report.html']) assert.ok(existsSync(join(dir, name)), name);
    assert.equal(processed.report.durationSec, 52);
    assert.equal(processed.report.exitStatus, null);
    assert.equal(hasUnprocessedSnapshots(dir), false, 'processed now: report re-analyses it from then on');
    assert.equal(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).pid, undefined, 'run.json is left as it was');
  });
});
