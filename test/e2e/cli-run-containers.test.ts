/**
 * Leaks that live in one block renewed as it grows (issue #10, part 1): a std::vector and a std::string only ever
 * appended to, a realloc'd array, a hash table, a doubling buffer, a table freed and allocated larger — each alone, all in one program, and in a JNI
 * library under a JVM — are growing at about the rate the program measures itself; churn under rising load, whose
 * live blocks are as young, is never growing. The verdict is native-leak and the gate fails on them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fixtureBuild, javaBin, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

type Site = ReportJson['sites'][number] & { blocks?: { sizeCarriesGrowth: boolean } };

/** The leaking shapes and their functions, as fixtures/cpp/growing_containers.cpp names them. */
const LEAKS = {
  vector: 'record_request_history',
  string: 'append_audit_log_line',
  realloc: 'grow_sample_array',
  hashmap: 'index_session_id',
  buffer: 'append_to_spool',
  // A free, then a larger malloc from the same stack: no lineage joins them; the series alone tells.
  reload: 'reload_route_table',
} as const;
const CHURN = 'handle_request_burst';

/** What the fixture measured, per function: its memory's growth per hour. */
function measuredRates(stdout: string): Map<string, number> {
  const rates = new Map<string, number>();
  for (const m of stdout.matchAll(/function=(\w+) retained_bytes=\d+ seconds=[\d.]+ rate_bytes_per_hour=(\d+)/g)) rates.set(m[1]!, Number(m[2]));
  return rates;
}

function siteOf(report: ReportJson, fn: string): Site {
  const site = report.sites.find((s) => s.function === fn || s.function.startsWith(`${fn}(`));
  assert.ok(site, `${fn} among ${report.sites.map((s) => s.function).join(', ')}`);
  return site as Site;
}

function assertGrowingNear(report: ReportJson, fn: string, measured: number | undefined): void {
  const site = siteOf(report, fn);
  assert.equal(site.status, 'growing', `${fn}: ${site.shape}, confidence ${site.confidence}, ${JSON.stringify(site.blocks)}`);
  assert.ok(measured && measured > 0, `the fixture measured ${fn}'s rate`);
  const ratio = site.leakRateBytesPerHour / measured;
  assert.ok(ratio > 0.5 && ratio < 2, `${fn}: ${site.leakRateBytesPerHour} B/h against the ${measured} B/h the program measured (×${ratio.toFixed(2)})`);
}

function assertChurnNotGrowing(report: ReportJson, fn: string): void {
  const site = siteOf(report, fn);
  assert.notEqual(site.status, 'growing', `${fn}: confidence ${site.confidence}`);
  assert.ok(!(site.blocks?.sizeCarriesGrowth ?? false), `${fn}: ${JSON.stringify(site.blocks)}`);
}

/** The gate fails at 1 MiB/h and passes at thresholds no run reaches. */
async function assertGates(out: string): Promise<void> {
  const strict = await runCli(['gate', out, '--max-leak-rate', '1MiB/h']);
  assert.equal(strict.exitCode, 1, strict.all);
  assert.match(strict.stderr, /FAIL: /);
  const absurd = await runCli(['gate', out, '--max-leak-rate', '1TiB/h', '--max-growth', '1TiB']);
  assert.equal(absurd.exitCode, 0, absurd.all);
}

async function runFixture(out: string, command: string[], seconds: number) {
  const result = await runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '16KiB', '-q', '--', ...command], { timeoutMs: (seconds + 120) * 1000 });
  assert.equal(result.exitCode, 0, result.all);
  return { result, report: readJson<ReportJson>(join(out, 'report.json')) };
}

describe('growing containers, all in one program', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('names every container growing at about its own rate; the rising-load churn beside them is not growing', async () => {
    const out = join(dir.path, 'all');
    const { result, report } = await runFixture(out, [join(fixtureBuild, 'growing_containers'), '--shape', 'all', '--seconds', '10'], 10);
    const rates = measuredRates(result.stdout);
    for (const fn of Object.values(LEAKS)) assertGrowingNear(report, fn, rates.get(fn));
    assertChurnNotGrowing(report, CHURN);
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    assert.match(report.verdict.summary, /^native memory leaks: 6 call site\(s\) grow/);
    // Churn's trend is real — more requests are in flight — and only its blocks tell it apart.
    const churn = siteOf(report, CHURN);
    assert.ok(churn.confidence > 0.9 && churn.shape === 'linear', `${churn.confidence} ${churn.shape}`);
    await assertGates(out);
  });
});

describe('growing containers, each alone', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  for (const [shape, fn] of Object.entries(LEAKS)) {
    it(`${shape}: ${fn} is growing, the verdict native-leak, the gate fails`, async () => {
      const out = join(dir.path, shape);
      const { result, report } = await runFixture(out, [join(fixtureBuild, 'growing_containers'), '--shape', shape, '--seconds', '6'], 6);
      assertGrowingNear(report, fn, measuredRates(result.stdout).get(fn));
      assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
      assert.equal(report.sites.filter((s) => s.status === 'growing').length, 1, report.sites.map((s) => `${s.function} ${s.status}`).join(', '));
      await assertGates(out);
    });
  }

  it(`churn under rising load alone: ${CHURN} is never growing, no leak is reported, the gate does not fail`, async () => {
    const out = join(dir.path, 'churn');
    const { report } = await runFixture(out, [join(fixtureBuild, 'growing_containers'), '--shape', 'churn', '--seconds', '6'], 6);
    assertChurnNotGrowing(report, CHURN);
    assert.ok(!report.sites.some((s) => s.status === 'growing'), report.sites.map((s) => `${s.function} ${s.status}`).join(', '));
    assert.notEqual(report.verdict.kind, 'native-leak', report.verdict.summary);
    assert.match(report.verdict.summary, /with churn under rising load: handle_request_burst/);
    const gate = await runCli(['gate', out, '--max-leak-rate', '1MiB/h']);
    assert.notEqual(gate.exitCode, 1, gate.all);
  });
});

describe('a growing container in a JNI library', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('is growing at about its rate under a real JVM, with its Java caller on the stack; the JNI churn is not', async () => {
    const out = join(dir.path, 'jvm');
    const classes = join(fixtureBuild, 'containers', 'classes');
    const { result, report } = await runFixture(out, [
      javaBin, `-Djava.library.path=${join(fixtureBuild, 'containers')}`, '-cp', classes, 'containers.EventService', '--seconds', '10',
    ], 12);
    const measured = Number(/rate_bytes_per_hour=(\d+)/.exec(result.stdout)?.[1]);
    assertGrowingNear(report, 'append_event_history', measured);
    const site = siteOf(report, 'append_event_history');
    assert.ok(site.stack.some((frame) => frame.startsWith('containers.EventService.main')), site.stack.join('\n'));
    assertChurnNotGrowing(report, 'serve_native_requests');
    assert.equal(report.verdict.kind, 'native-leak', report.verdict.summary);
    await assertGates(out);
  });
});
