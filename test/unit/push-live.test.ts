/**
 * Profiles while the run goes on: each new raw snapshot becomes its profile in snapshots/ and is handed on once, in
 * order; when retention deletes a raw snapshot its profile goes too; the final snapshot closes the process's writer.
 * Raw files written by hand (test/unit/helpers/raw-file.ts), passes run by poll() (no timer in the test).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readHeapProfile, sampleValueIndex } from '../../src/pprof/read.js';
import { LiveProfiles } from '../../src/push/live.js';
import type { ProfileKey, WrittenProfile } from '../../src/rundir/profiles.js';
import { encodeRawSnapshot } from './helpers/raw-file.js';
import { rawSnapshot } from './helpers/raw-snapshot.js';

const root = mkdtempSync(join(tmpdir(), 'leakhunt-live-'));
after(() => rmSync(root, { recursive: true, force: true }));

const pid = 31337;
const stacks = [{ id: 0, pcs: [], javaFrames: [] }, { id: 1, pcs: [0x401010n, 0x402020n], javaFrames: [] }];

function writeRaw(runDir: string, sequence: number, options: { isFinal?: boolean } = {}): void {
  const dir = join(runDir, 'raw', String(pid));
  mkdirSync(dir, { recursive: true });
  const live = 4096 * (sequence + 1);
  writeFileSync(join(dir, `${String(sequence).padStart(6, '0')}.lhs`), encodeRawSnapshot(rawSnapshot({
    maps: '00400000-00403000 r-xp 00000000 00:00 0 \n',
    stacks: new Map(stacks.map((s) => [s.id, s])),
    sites: [{
      stackId: 1, liveSamples: sequence + 1, liveSampledBytes: live, liveObjects: sequence + 1, liveBytes: live,
      allocSamples: sequence + 1, allocObjects: sequence + 1, allocBytes: live, oldestLiveMs: 10, newestLiveMs: 10, meanLiveMs: 10,
    }],
    meta: {
      pid, sequence, realtimeNs: BigInt(1_700_000_000_000 + 1000 * sequence) * 1_000_000n, monotonicNs: BigInt(1000 * sequence + 1) * 1_000_000n,
      startRealtimeNs: 1_700_000_000_000_000_000n, startMonotonicNs: 0n, isFinal: options.isFinal === true,
    },
  })));
}

test('each new snapshot made into its profile once, in order; a snapshot retention deletes takes its profile along', async () => {
  const runDir = join(root, 'run');
  const made: WrittenProfile[] = [];
  const thinned: ProfileKey[] = [];
  const warnings: string[] = [];
  const live = new LiveProfiles({
    runDir, rawDir: join(runDir, 'raw'), followChildren: false, pollMs: 3_600_000,
    onProfile: (p) => made.push(p), onThinned: (k) => thinned.push(k), onWarning: (w) => warnings.push(w),
  });
  live.start(pid);
  for (const sequence of [0, 1, 2]) writeRaw(runDir, sequence);
  await live.poll();
  assert.deepEqual(made.map((p) => p.sequence), [0, 1, 2]);
  assert.deepEqual(made.map((p) => p.path), ['0000', '0001', '0002'].map((n) => join(runDir, 'snapshots', `${n}.pb.gz`)));
  const profile = readHeapProfile(made[2]!.path);
  assert.equal(profile.samples[0]!.values[sampleValueIndex(profile, 'inuse_space')], 3 * 4096);

  await live.poll();
  assert.equal(made.length, 3, 'nothing handed on twice');

  // Retention deletes snapshot 1 (the middle) as snapshot 3 comes: profile 1 goes too.
  unlinkSync(join(runDir, 'raw', String(pid), '000001.lhs'));
  writeRaw(runDir, 3, { isFinal: true });
  await live.stop();
  assert.deepEqual(made.map((p) => p.sequence), [0, 1, 2, 3]);
  assert.deepEqual(thinned, [{ pid, sequence: 1 }]);
  assert.ok(!existsSync(made[1]!.path));
  assert.deepEqual(readdirSync(join(runDir, 'snapshots')).sort(), ['0000.pb.gz', '0002.pb.gz', '0003.pb.gz']);
  assert.deepEqual(warnings, []);
});

test('a damaged snapshot is skipped, the next ones still made', async () => {
  const runDir = join(root, 'damaged');
  const made: WrittenProfile[] = [];
  const live = new LiveProfiles({
    runDir, rawDir: join(runDir, 'raw'), followChildren: false, pollMs: 3_600_000,
    onProfile: (p) => made.push(p), onThinned: () => {}, onWarning: () => {},
  });
  live.start(pid);
  writeRaw(runDir, 0);
  writeFileSync(join(runDir, 'raw', String(pid), '000001.lhs'), 'not a snapshot');
  writeRaw(runDir, 2);
  await live.stop();
  assert.deepEqual(made.map((p) => p.sequence), [0, 2]);
});
