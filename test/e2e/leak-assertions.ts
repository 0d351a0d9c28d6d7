/**
 * What every leak fixture must show under leakhunt (issue #10's "done when"): its leaking functions growing at their
 * own measured rate (within 2×), its look-alikes never growing at confidence ≥ 0.9, the native-leak verdict, and a
 * gate that fails at 1 MiB/h and passes at an absurd threshold.
 */
import assert from 'node:assert/strict';
import { runCli, type ReportJson } from './helpers.js';

export type SiteJson = ReportJson['sites'][number] & { kind?: string };

/** The rates a fixture measured itself: lines `<prefix> rate <function> <bytes per hour>` on its stdout. */
export function ownRates(stdout: string, prefix: string): Map<string, number> {
  const rates = new Map<string, number>();
  for (const m of stdout.matchAll(new RegExp(`^${prefix} rate (\\S+) (\\d+)$`, 'gm'))) rates.set(m[1]!, Number(m[2]));
  return rates;
}

function siteSummary(report: ReportJson): string {
  return JSON.stringify((report.sites as SiteJson[]).slice(0, 12).map((s) => [s.function, s.kind, s.status, Math.round(s.leakRateBytesPerHour), s.confidence]));
}

/** The site of `fn` (and `kind`, when given): growing, its rate within 2× of the fixture's own. Returns the site. */
export function assertLeakFound(report: ReportJson, fn: string, ownRate: number | undefined, kind?: string): SiteJson {
  assert.ok(ownRate !== undefined && ownRate > 0, `the fixture measured its rate of ${fn}`);
  const site = (report.sites as SiteJson[]).find((s) => s.function === fn && (kind === undefined || s.kind === kind));
  assert.ok(site, `${fn}${kind ? ` (${kind})` : ''} among the sites: ${siteSummary(report)}`);
  assert.equal(site.status, 'growing', `${fn} is growing: ${siteSummary(report)}`);
  assert.ok(site.confidence >= 0.9, `${fn} confidence ${site.confidence}`);
  const ratio = site.leakRateBytesPerHour / ownRate;
  assert.ok(ratio > 0.5 && ratio < 2, `${fn}: leakhunt says ${site.leakRateBytesPerHour} B/h, the fixture measured ${ownRate} B/h`);
  return site;
}

/** A look-alike: never growing at confidence ≥ 0.9 (absent is fine: nothing live at the end). */
export function assertNotGrowing(report: ReportJson, fn: string): void {
  for (const site of (report.sites as SiteJson[]).filter((s) => s.function === fn)) {
    assert.ok(!(site.status === 'growing' && site.confidence >= 0.9), `${fn} is not growing: ${siteSummary(report)}`);
  }
}

/** `gate --max-leak-rate 1MiB/h` fails (exit 1) on the run; the same gate at an absurd threshold passes (exit 0). */
export async function assertGateFailsThenPasses(runDir: string): Promise<void> {
  const strict = await runCli(['gate', runDir, '--max-leak-rate', '1MiB/h']);
  assert.equal(strict.exitCode, 1, strict.all);
  assert.match(strict.stderr, /leakhunt gate: FAIL: /);
  const absurd = await runCli(['gate', runDir, '--max-leak-rate', '1000TiB/h', '--max-growth', '1000TiB']);
  assert.equal(absurd.exitCode, 0, absurd.all);
  assert.match(absurd.stderr, /leakhunt gate: PASS: /);
}

/**
 * No site of mapped memory grows but the `allowed` functions: a JVM's own reservations (PROT_NONE) and commits
 * (MAP_FIXED over them) are not counted as mappings of a call site, however its heap, code cache or metaspace grow.
 */
export function assertNoMappingGrows(report: ReportJson, allowed: readonly string[] = []): void {
  const growing = (report.sites as SiteJson[]).filter((s) => s.kind !== undefined && s.kind !== 'malloc' && s.status === 'growing'
    && !allowed.includes(s.function));
  assert.deepEqual(growing.map((s) => `${s.function} [${s.kind}] ${s.stack.slice(0, 4).join(' <- ')}`), [], 'no mapping of its own grows');
  assert.ok(report.sites.length === 0 || (report.sites as SiteJson[]).every((s) => s.kind !== undefined), 'every site has a kind');
}
