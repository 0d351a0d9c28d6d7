/**
 * The profiles of a JVM run as `go tool pprof` reads them (go is not needed: the same fields through pprof-format):
 * the main mapping — pprof's "File:" and the binary it looks symbols up in — is the executable, not the library of
 * the first sampled frame; and each profile's Duration spans what its alloc_* values count, from the process's start,
 * the last one too (it came right after the stop's flush, and once said 66ms).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { Profile } from 'pprof-format';
import { demoCommand, readJson, runCli, tempDir } from './helpers.js';

describe('the profiles of a JVM run, as pprof reads them', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('main mapping: the java executable; Duration: from the process\'s start to each snapshot', async () => {
    const out = join(dir.path, 'jvm');
    const result = await runCli(['run', '-q', '--out', out, '--interval', '1s', '--duration', '5s', '--', ...demoCommand(60)], { cwd: dir.path });
    assert.equal(result.exitCode, 0, result.all);
    const files = readdirSync(join(out, 'snapshots')).filter((f) => f.endsWith('.pb.gz')).sort();
    assert.ok(files.length >= 3, files.join(' '));
    const profiles = files.map((f) => Profile.decode(gunzipSync(readFileSync(join(out, 'snapshots', f)))));
    const meta = readJson<{ startedAtMs: number; endedAtMs: number }>(join(out, 'run.json'));
    let previousEnd = 0n;
    for (const [i, profile] of profiles.entries()) {
      const strings = profile.stringTable.strings;
      const main = profile.mapping[0];
      assert.ok(main, `${files[i]}: mappings`);
      assert.match(strings[Number(main.filename)]!, /\/bin\/java$/, `${files[i]}: main mapping ${strings[Number(main.filename)]}`);
      const start = BigInt(profile.timeNanos) - BigInt(profile.durationNanos);
      const end = BigInt(profile.timeNanos);
      // Every profile starts where the process did (within the JVM's start-up after leakhunt's own start).
      assert.ok(Number(start) / 1e6 >= meta.startedAtMs - 1000 && Number(start) / 1e6 <= meta.startedAtMs + 5000, `${files[i]}: starts at ${Number(start) / 1e6}, run at ${meta.startedAtMs}`);
      assert.ok(end > previousEnd, 'in time order');
      previousEnd = end;
    }
    const last = profiles[profiles.length - 1]!;
    const lastSec = Number(last.durationNanos) / 1e9;
    assert.ok(lastSec > 3, `the last profile's Duration covers the run: ${lastSec}s of ${(meta.endedAtMs - meta.startedAtMs) / 1000}s`);
  });
});
