/**
 * Hardening: a long run keeps the shim's memory and the disk bounded. A high-rate target
 * (fixtures/c/long_runner.c: thousands of distinct stacks, churn, one steady leak) runs with a short snapshot
 * interval and small limits, so that 8 seconds stand for days at the defaults: ~80 snapshots against
 * --max-snapshots 24 (as ~1 day of 10 s snapshots against the default 360), a stack table of 256 against
 * thousands of stacks, a liveness table of 1024 entries.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

interface Shim { stackDrops: number; shimMappedBytes: number; shimResidentBytes: number }
interface Timeline { snapshots: { timeSec: number; shimMappedBytes: number }[] }
const MAX_KEPT = 24;

describe('a long run', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('keeps all early and recent snapshots, thins the middle evenly, and the shim\'s memory stays put', async () => {
    const out = join(dir.path, 'run');
    const result = await runCli(['run', '-q', '--out', out, '--interval', '50ms', '--max-snapshots', String(MAX_KEPT),
      '--max-stacks', '256', '--table-capacity', '1024', '--sample-bytes', '4KiB', '--',
      join(fixtureBuild, 'long_runner'), '--seconds', '8'], { timeoutMs: 60_000 });
    assert.equal(result.exitCode, 0, result.all);
    const report = readJson<ReportJson & { pid: number; durationSec: number; snapshots: number; snapshotsWritten?: number; shim: Shim }>(join(out, 'report.json'));

    const rawDir = join(out, 'raw', String(report.pid));
    const sequences = readdirSync(rawDir).map((f) => Number(/^(\d+)\.lhs$/.exec(f)?.[1] ?? NaN)).sort((a, b) => a - b);
    assert.ok(sequences.every(Number.isInteger), `only snapshots in ${rawDir}: ${readdirSync(rawDir).join(' ')}`);
    const newest = sequences[sequences.length - 1]!;
    assert.ok(newest >= 3 * MAX_KEPT, `the run wrote ${newest + 1} snapshots: enough to need thinning`);
    assert.ok(sequences.length <= MAX_KEPT, `${sequences.length} kept: ${sequences.join(' ')}`);
    const quarter = MAX_KEPT / 4;
    for (let s = 0; s < quarter; s++) assert.ok(sequences.includes(s), `early ${s} kept`);
    for (let s = newest - quarter + 1; s <= newest; s++) assert.ok(sequences.includes(s), `recent ${s} kept`);
    const middle = sequences.filter((s) => s >= quarter && s <= newest - quarter);
    const gaps = new Set(middle.slice(1).map((s, i) => s - middle[i]!));
    assert.ok(middle.length >= 3 && gaps.size === 1, `an evenly thinned middle: ${middle.join(' ')}`);
    const diskBytes = sequences.reduce((sum, s) => sum + statSync(join(rawDir, `${String(s).padStart(6, '0')}.lhs`)).size, 0);
    assert.ok(diskBytes < MAX_KEPT * 1024 * 1024, `raw snapshots take ${diskBytes} bytes`);

    // What was kept is what was analysed, and the thinned series still measures the leak.
    assert.equal(report.snapshots, sequences.length);
    assert.equal(report.snapshotsWritten, newest + 1, 'and says how many were written');
    assert.match(result.stdout, new RegExp(`${sequences.length} snapshots \\(of ${newest + 1} written; retention thinned the middle\\)`));
    const again = await runCli(['report', out, '--json']);
    assert.equal((JSON.parse(again.stdout) as { snapshotsWritten?: number }).snapshotsWritten, newest + 1, 'report DIR keeps it');
    const leak = report.sites.find((s) => s.function === 'long_runner_leak');
    assert.ok(leak, report.sites.map((s) => s.function).join(', '));
    assert.equal(leak.status, 'growing');
    const trueRate = (Number(/leaked_bytes=(\d+)/.exec(result.stdout)?.[1]) * 3600) / report.durationSec;
    assert.ok(leak.leakRateBytesPerHour > trueRate / 1.6 && leak.leakRateBytesPerHour < trueRate * 1.6,
      `estimate ${leak.leakRateBytesPerHour} vs true ${trueRate}`);

    // Bounded shim: its tables are mapped once at start and never grow, however many stacks it is shown.
    assert.ok(report.shim.stackDrops > 0, 'the target has more stacks than the table holds');
    const timeline = readJson<Timeline>(join(out, 'timeline.json'));
    const mapped = new Set(timeline.snapshots.map((s) => s.shimMappedBytes));
    assert.equal(mapped.size, 1, `the shim's mapped bytes over the run: ${[...mapped].join(', ')}`);
    assert.ok(report.shim.shimResidentBytes <= report.shim.shimMappedBytes);
  });

  it('--max-snapshots takes 0 (keep all) or 8 and more', async () => {
    for (const bad of ['3', '-1', 'many']) {
      const result = await runCli(['run', '--max-snapshots', bad, '--', 'true']);
      assert.equal(result.exitCode, 2, result.all);
      assert.match(result.stderr, /--max-snapshots/);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
  });
});
