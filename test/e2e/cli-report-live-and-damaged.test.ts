/**
 * `leakhunt report DIR` on a run still recording (it says so, shows the snapshots so far and writes nothing into the
 * run directory, whose own leakhunt run then finishes it as usual), and on a run with a damaged raw snapshot (left
 * out with a warning naming it, not counted as what retention thinned).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rawFiles(out: string): string[] {
  const raw = join(out, 'raw');
  if (!existsSync(raw)) return [];
  return readdirSync(raw).flatMap((pid) => readdirSync(join(raw, pid)).filter((f) => f.endsWith('.lhs')).map((f) => join(raw, pid, f)));
}

describe('leakhunt report on a run still recording', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('says so, shows the snapshots so far, writes nothing there; the run then ends and is processed as usual', async () => {
    const out = join(dir.path, 'live');
    // Runs until told to stop (SIGINT, relayed to the target): the looks below take what time they take, so the
    // run's own time limit is far beyond theirs (on a busy machine they took more than runCli's usual 2 minutes).
    const run = runCli(['run', '--out', out, '--interval', '200ms', '--sample-bytes', '4KiB', '--', join(fixtureBuild, 'leaky_apis'), '--rounds', '100000', '--round-ms', '100'],
      { timeoutMs: 20 * 60_000 });
    for (let waited = 0; waited < 30_000 && rawFiles(out).length < 8; waited += 100) await sleep(100);
    assert.ok(rawFiles(out).length >= 8, 'the run wrote snapshots');
    const before = readdirSync(out).sort();

    const text = await runCli(['report', out, '--write']);
    assert.equal(text.exitCode, 0, text.all);
    assert.match(text.stderr, /^leakhunt: \S+: still recording \(leakhunt run pid \d+, target pid \d+\): the report of its \d+ snapshot\(s\) so far; nothing is written into the run directory$/m);
    assert.match(text.stderr, /--write ignored while the run is not finished/);
    assert.match(text.stdout, /^NATIVE LEAK: /);
    assert.match(text.stdout, /leak_via_malloc/);
    const json = await runCli(['report', out, '--json']);
    assert.equal(json.exitCode, 0, json.all);
    assert.ok((JSON.parse(json.stdout) as ReportJson).snapshots >= 8);
    const html = await runCli(['report', out, '--format', 'html']);
    assert.equal(html.exitCode, 0, html.all);
    assert.match(html.stdout, /^<!DOCTYPE html>/);
    assert.deepEqual(readdirSync(out).sort(), before, 'nothing written into the run directory');
    assert.ok(!existsSync(join(out, 'report.json')) && !existsSync(join(out, 'snapshots')));

    run.kill('SIGINT');
    const finished = await run;
    assert.equal(finished.exitCode, 130, finished.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assert.equal(report.snapshots, rawFiles(out).length, 'the run\'s own processing saw every snapshot');
    assert.deepEqual(report.warnings, []);
    const later = await runCli(['report', out]);
    assert.equal(later.exitCode, 0, later.all);
    assert.doesNotMatch(later.stderr, /still recording|never processed/);
  });
});

describe('leakhunt report on a run with a damaged raw snapshot', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('leaves it out with a warning naming it; counted as damaged, not as thinned by retention', async () => {
    const out = join(dir.path, 'damaged');
    const run = await runCli(['run', '-q', '--out', out, '--interval', '200ms', '--sample-bytes', '4KiB', '--', join(fixtureBuild, 'leaky_apis'), '--rounds', '12', '--round-ms', '100']);
    assert.equal(run.exitCode, 0, run.all);
    const files = rawFiles(out).sort();
    const victim = files[2]!;
    writeFileSync(victim, readFileSync(victim).subarray(0, 100));
    rmSync(join(out, 'report.json'));
    rmSync(join(out, 'snapshots'), { recursive: true });
    const result = await runCli(['report', out]);
    assert.equal(result.exitCode, 0, result.all);
    const name = victim.slice(out.length + 1);
    assert.ok(result.stdout.includes(`warning: raw snapshot ${name} is damaged and was left out: truncated snapshot`), result.stdout);
    assert.ok(result.stdout.includes(`${files.length - 1} snapshots (of ${files.length} written; 1 damaged, left out)`), result.stdout);
    assert.doesNotMatch(result.stdout, /retention thinned/);
    const report = readJson<ReportJson & { snapshotsDamaged?: number; snapshotsWritten?: number }>(join(out, 'report.json'));
    assert.equal(report.snapshotsDamaged, 1);
    assert.equal(report.snapshotsWritten, files.length);
    // The re-analysis from the profiles keeps the count and the warning.
    const again = await runCli(['report', out, '--json']);
    const reanalysed = JSON.parse(again.stdout) as ReportJson & { snapshotsDamaged?: number };
    assert.equal(reanalysed.snapshotsDamaged, 1);
    assert.ok(reanalysed.warnings.some((w) => w.startsWith(`raw snapshot ${name} is damaged`)));
  });
});
