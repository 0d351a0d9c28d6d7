/**
 * Hardening: a target with ~100× more live sampled blocks than the shim's liveness table holds
 * (fixtures/c/hardening_table.c: 200 000 live 64-byte blocks, --table-capacity 2048). The shim must stay bounded,
 * thin its table (doubling the sampling interval) so the upscaled estimate stays unbiased, and say so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixtureBuild, readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

const program = join(fixtureBuild, 'hardening', 'hardening_table');
const CAPACITY = 2048;

function buildFixtures(): void {
  const result = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-fixtures-hardening.mjs'), '--quiet'], { encoding: 'utf8' });
  assert.equal(result.status, 0, `building the hardening fixtures: ${result.stderr}`);
}

interface Shim {
  liveEntries: number; tableCapacity: number; tableDrops: number; thinnedEntries: number; shimMappedBytes: number;
  shimResidentBytes: number; finalSampleIntervalBytes: number;
}
type Report = ReportJson & { shim: Shim };
interface Timeline { snapshots: { liveBytes: number; liveEntries: number; shimMappedBytes: number; sampleIntervalBytes: number }[] }

function printed(stdout: string, name: string): number {
  const match = new RegExp(`\\b${name}=(\\d+)`).exec(stdout);
  assert.ok(match, `"${name}=" in ${stdout}`);
  return Number(match[1]);
}

async function fillTable(out: string, sampleBytes: string) {
  const result = await runCli(['run', '-q', '--out', out, '--interval', '100ms', '--sample-bytes', sampleBytes,
    '--table-capacity', String(CAPACITY), '--', program, '--blocks', '200000', '--size', '64', '--hold-ms', '250'], { timeoutMs: 60_000 });
  assert.equal(result.exitCode, 0, result.all);
  return {
    stdout: result.stdout,
    report: readJson<Report>(join(out, 'report.json')),
    timeline: readJson<Timeline>(join(out, 'timeline.json')),
  };
}

function within(actual: number, expected: number, fraction: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= fraction * expected,
    `${what}: ${actual} is ${((actual / expected - 1) * 100).toFixed(1)}% off ${expected} (allowed ±${fraction * 100}%)`);
}

describe('hardening: the liveness table overflows', () => {
  const dir = tempDir('leakhunt-hardening-table-');
  before(buildFixtures);
  after(() => dir.cleanup());

  it('200 000 live blocks in a 2048-entry table: bounded memory, the estimate within 10%, thinning reported', async () => {
    const { stdout, report, timeline } = await fillTable(join(dir.path, 'every'), '1');
    const trueBlocks = printed(stdout, 'true_live_bytes');
    const trueIndex = printed(stdout, 'index_bytes');
    assert.equal(trueBlocks, 200_000 * 64);
    const { shim } = report;
    assert.equal(shim.tableCapacity, CAPACITY);
    assert.ok(shim.liveEntries <= CAPACITY, `${shim.liveEntries} live entries in a table of ${CAPACITY}`);
    assert.ok(shim.thinnedEntries > 1000, `the table was thinned (${shim.thinnedEntries} entries)`);
    assert.ok(shim.finalSampleIntervalBytes >= 4096, `the sampling interval was raised from 1 (now ${shim.finalSampleIntervalBytes})`);
    // Bounded: the table's slots are 2 × capacity × 24 bytes; nothing in the shim grows with the target's heap.
    assert.ok(shim.shimResidentBytes > 0 && shim.shimResidentBytes < 1024 * 1024, `shim resident ${shim.shimResidentBytes} B`);
    assert.ok(shim.shimResidentBytes <= shim.shimMappedBytes);
    assert.equal(new Set(timeline.snapshots.map((p) => p.shimMappedBytes)).size, 1, 'the shim mapped nothing more while the heap grew');
    assert.ok(timeline.snapshots.every((p) => p.liveEntries <= CAPACITY));
    // Unbiased after thinning: the fill site, and all live malloc (the blocks + the index holding them).
    const site = report.sites.find((s) => s.function === 'table_fill_block');
    assert.ok(site, `sites: ${report.sites.map((s) => s.function).join(', ')}`);
    within(site.liveBytes, trueBlocks, 0.1, 'table_fill_block live bytes');
    within(timeline.snapshots[timeline.snapshots.length - 1]!.liveBytes, trueBlocks + trueIndex, 0.1, 'live malloc');
    assert.ok(!report.sites.some((s) => s.function === 'table_churn' && s.liveBytes > 0.01 * trueBlocks), 'freed blocks do not count');
    assert.ok(report.warnings.some((w) => /table|thinn|sampling interval/i.test(w)), `a warning says so: ${JSON.stringify(report.warnings)}`);
  });

  it('thinning alone (no drops) is reported too, with the interval actually in force', async () => {
    const { report, stdout } = await fillTable(join(dir.path, 'sampled'), '64');
    assert.equal(report.shim.tableDrops, 0, 'precondition: nothing dropped');
    assert.ok(report.shim.thinnedEntries > 0, 'precondition: the table thinned');
    assert.ok(report.warnings.some((w) => /thinn|sampling interval|raised/i.test(w)), `warnings: ${JSON.stringify(report.warnings)}`);
    const shown = /sampling every ([^,]+),/.exec(stdout)?.[1];
    assert.notEqual(shown, '64 B', 'the text report shows the interval in force at the end, not only the one asked for');
  });
});
