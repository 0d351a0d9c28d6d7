/**
 * Golden text for a fixed run directory: a run directory built here from fixed, synthetic data (no machine paths,
 * no times), re-rendered by the built CLI's `leakhunt report DIR --format text` and compared with a golden file.
 * Set LEAKHUNT_UPDATE_GOLDEN=1 to rewrite the golden file after an intended change, and read the diff.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Function as ProfileFunction, Label, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { repoRoot, runCli, tempDir } from './helpers.js';

const MiB = 1024 * 1024;
const SNAPSHOTS = 12;
const golden = join(repoRoot, 'test', 'e2e', 'data', 'report-text.golden.txt');

/** One profile: sites as (stack innermost first, inuse bytes). */
function profile(sites: [string[], number][]): Buffer {
  const strings = new StringTable();
  const functions: ProfileFunction[] = [];
  const locations: Location[] = [];
  const locationOf = new Map<string, number>();
  const location = (name: string) => {
    if (!locationOf.has(name)) {
      const id = locations.length + 1;
      functions.push(new ProfileFunction({ id, name: strings.dedup(name), filename: strings.dedup(`${name.split('(')[0]}.c`) }));
      locations.push(new Location({ id, line: [new Line({ functionId: id, line: 10 + id })] }));
      locationOf.set(name, id);
    }
    return locationOf.get(name)!;
  };
  // Each site's memory is blocks of 64 KiB (a site of one block growing would be a growing container).
  const samples = sites.map(([stack, bytes], i) => new Sample({
    locationId: stack.map(location), value: [bytes / 65536, bytes, bytes / 65536, bytes],
    label: [new Label({ key: strings.dedup('stack_id'), num: i + 1 }),
      new Label({ key: strings.dedup('oldest_live_age_ms'), num: 60_000 }), new Label({ key: strings.dedup('mean_live_age_ms'), num: 30_000 })],
  }));
  const types = ['alloc_objects', 'alloc_space', 'inuse_objects', 'inuse_space'].map((t, i) => new ValueType({
    type: strings.dedup(t), unit: strings.dedup(i % 2 ? 'bytes' : 'count'),
  }));
  return gzipSync(new Profile({
    sampleType: types, sample: samples, location: locations, function: functions, stringTable: strings,
    period: 524288, periodType: new ValueType({ type: strings.dedup('space'), unit: strings.dedup('bytes') }),
  }).encode());
}

function writeRunDir(dir: string): void {
  mkdirSync(join(dir, 'snapshots'), { recursive: true });
  writeFileSync(join(dir, 'run.json'), JSON.stringify({
    schema: 'leakhunt.run/v1', command: ['service', '--port', '8080'], startedAtMs: 0, endedAtMs: 120_000, pid: 4242,
    exitStatus: 0, sampleBytes: 524288, snapshotIntervalMs: 10_000,
  }));
  const points = [];
  for (let i = 0; i < SNAPSHOTS; i++) {
    const leak = 4 * MiB + i * 6 * MiB;
    const cache = 12 * MiB;
    const churn = [9, 11, 10, 12, 9, 10, 11, 10, 9, 12, 10, 11][i]! * MiB;
    writeFileSync(join(dir, 'snapshots', `${String(i).padStart(4, '0')}.pb.gz`), profile([
      [['malloc', 'remember_session_forever(char const*)', 'handle_login', 'main'], leak],
      [['operator new(unsigned long)', 'Cache::fill(int)', 'main'], cache],
      [['malloc', 'scratch_buffer', 'handle_request', 'main'], churn],
    ]));
    points.push({
      sequence: i, timeSec: 10 + i * 10, rssBytes: 200 * MiB + i * 7 * MiB, rssAnonBytes: 150 * MiB + i * 7 * MiB,
      rssFileBytes: 50 * MiB, liveBytes: leak + cache + churn, mallocHeapBytes: 60 * MiB + i * 6 * MiB,
      mallocInUseBytes: leak + cache + churn, mallocFreeBytes: 8 * MiB, mallocMmappedBytes: 0, sampleIntervalBytes: 524288,
      liveEntries: 100 + i, tableDrops: 0, thinnedEntries: 0, stackDrops: 0, shimMappedBytes: 24 * MiB, shimResidentBytes: 3 * MiB,
    });
  }
  writeFileSync(join(dir, 'timeline.json'), JSON.stringify({ schema: 'leakhunt.timeline/v1', snapshots: points, rss: [] }));
}

describe('golden text report of a fixed run directory', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('leakhunt report DIR --format text renders exactly the golden text', async () => {
    const runDir = join(dir.path, 'run');
    writeRunDir(runDir);
    const result = await runCli(['report', runDir, '--format', 'text', '--top', '5']);
    assert.equal(result.exitCode, 0, result.all);
    const text = result.stdout.split(runDir).join('<run dir>');
    if (process.env.LEAKHUNT_UPDATE_GOLDEN) writeFileSync(golden, text);
    assert.equal(text, readFileSync(golden, 'utf8'));
  });
});
