/** `leakhunt report DIR` through the built CLI: re-rendering a real run directory in every format. */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertOneLineError, fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Markdown's backslash escapes removed. */
function unescapeMarkdown(text: string): string {
  return text.replace(/\\([\\`*_[\]<>|#])/g, '$1');
}

describe('leakhunt report', () => {
  const dir = tempDir();
  const out = join(dir.path, 'run');
  let report: ReportJson;
  let reportBytes = '';

  before(async () => {
    const run = await runCli(['run', '-q', '--out', out, '--sample-bytes', '1', '--interval', '200ms', '--',
      join(fixtureBuild, 'leaky_apis'), '--rounds', '10', '--round-ms', '100']);
    assert.equal(run.exitCode, 0, run.all);
    reportBytes = readFileSync(join(out, 'report.json'), 'utf8');
    report = JSON.parse(reportBytes) as ReportJson;
    assert.equal(report.verdict.kind, 'native-leak', 'the run found the leaks');
  });
  after(() => dir.cleanup());

  it('--json re-analyses to exactly what the run wrote', async () => {
    const result = await runCli(['report', out, '--json', '--top', '1000']);
    assert.equal(result.exitCode, 0, result.all);
    assert.deepEqual(JSON.parse(result.stdout), report);
    const top = JSON.parse((await runCli(['report', out, '--format', 'json', '--top', '1'])).stdout) as ReportJson;
    assert.equal(top.sites.length, 1);
    assert.equal(top.sites[0]!.function, report.sites[0]!.function);
    assert.deepEqual(top.verdict, report.verdict);
  });

  it('--format md: the verdict heading and the top site agree with report.json', async () => {
    const result = await runCli(['report', out, '--format', 'md']);
    assert.equal(result.exitCode, 0, result.all);
    const lines = result.stdout.split('\n');
    assert.equal(unescapeMarkdown(lines[0]!), `## Native leak: ${report.verdict.summary}`);
    const rows = lines.filter((line) => /^\| \d+ \|/.test(line));
    assert.equal(rows.length, Math.min(10, report.sites.length));
    const topRow = rows[0]!.split(' | ');
    assert.equal(topRow[1], report.sites[0]!.status);
    assert.ok(rows[0]!.endsWith(`| \`${report.sites[0]!.location}\` |`), rows[0]);
    assert.match(result.stdout, new RegExp(`<summary>#1 ${escapeRegExp(report.sites[0]!.function)}: stack, innermost first</summary>`));
    assert.ok(result.stdout.includes(report.sites[0]!.stack[0]!));
  });

  it('text by default, with the verdict first', async () => {
    const result = await runCli(['report', out, '--top', '3']);
    assert.equal(result.exitCode, 0, result.all);
    assert.equal(result.stdout.split('\n')[0], `NATIVE LEAK: ${report.verdict.summary}`);
    assert.match(result.stdout, new RegExp(`  1 growing .* ${escapeRegExp(report.sites[0]!.location)}`));
  });

  it('--min-confidence above any site: no growing sites', async () => {
    const result = await runCli(['report', out, '--json', '--min-confidence', '1']);
    const strict = JSON.parse(result.stdout) as ReportJson;
    assert.ok(strict.sites.every((s) => s.status !== 'growing' || s.confidence >= 1), result.all);
  });

  it('leaves report.json alone unless --write, which replaces it atomically', async () => {
    const before = statSync(join(out, 'report.json')).mtimeMs;
    await runCli(['report', out, '--min-confidence', '1']);
    assert.equal(readFileSync(join(out, 'report.json'), 'utf8'), reportBytes);
    assert.equal(statSync(join(out, 'report.json')).mtimeMs, before);

    const copy = join(dir.path, 'copy');
    cpSync(out, copy, { recursive: true });
    rmSync(join(copy, 'report.json'));
    const result = await runCli(['report', copy, '--write', '--format', 'md']);
    assert.equal(result.exitCode, 0, result.all);
    const written = readJson<ReportJson>(join(copy, 'report.json'));
    assert.deepEqual(written.sites, report.sites);
    assert.deepEqual(written.verdict, report.verdict);
    assert.deepEqual(readdirSync(copy).filter((f) => f.includes('.tmp')), [], 'no temporary file left');
  });

  it('refuses what is not a run directory: exit 2, one line', async () => {
    const empty = join(dir.path, 'empty');
    mkdirSync(empty);
    assertOneLineError(await runCli(['report', empty]), /empty: not a leakhunt run directory/);
    const file = join(dir.path, 'file.txt');
    writeFileSync(file, 'hello\n');
    assertOneLineError(await runCli(['report', file]), /file\.txt: not a leakhunt run directory/);
    assertOneLineError(await runCli(['report', join(dir.path, 'missing')]), /missing: not a leakhunt run directory/);
    const unprocessed = join(dir.path, 'unprocessed');
    mkdirSync(unprocessed);
    cpSync(join(out, 'run.json'), join(unprocessed, 'run.json'));
    assertOneLineError(await runCli(['report', unprocessed]), /no readable timeline\.json/);
    assertOneLineError(await runCli(['report', out, '--json', '--format', 'md']), /contradict/);
  });
});
