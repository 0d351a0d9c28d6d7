/** `leakhunt run --fail-on-leak`: one command that runs and gates; the command's own failure wins. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fixtureBuild, runCli, tempDir } from './helpers.js';

describe('leakhunt run --fail-on-leak', () => {
  const dir = tempDir();
  after(() => dir.cleanup());
  // 1.6 s at 200 ms snapshots: enough snapshots for a trend even on a loaded machine (10 rounds once gave exit 3).
  const leaky = (...extra: string[]) => ['--', join(fixtureBuild, 'leaky_apis'), '--rounds', '16', '--round-ms', '100', ...extra];

  it('exits 1 with a JUnit file naming the leaking site when the command itself succeeded', async () => {
    const junit = join(dir.path, 'junit.xml');
    const result = await runCli(['run', '-q', '--out', join(dir.path, 'a'), '--interval', '200ms', '--sample-bytes', '1',
      '--fail-on-leak', '--max-leak-rate', '1KiB/h', '--junit', junit, ...leaky()]);
    assert.equal(result.exitCode, 1, result.all);
    assert.match(result.stderr, /leakhunt gate: FAIL: 10 sites leak/);
    assert.match(readFileSync(junit, 'utf8'), /<testcase[^>]*leak_via_malloc/);
  });

  it('keeps the command\'s own non-zero exit status over the gate\'s', async () => {
    const result = await runCli(['run', '-q', '--out', join(dir.path, 'b'), '--interval', '200ms', '--sample-bytes', '1',
      '--fail-on-leak', '--max-leak-rate', '1KiB/h', ...leaky('--exit-code', '9')]);
    assert.equal(result.exitCode, 9, result.all);
  });

  it('with --json, stdout is the report alone', async () => {
    const result = await runCli(['run', '-q', '--out', join(dir.path, 'c'), '--interval', '200ms', '--sample-bytes', '1', '--json',
      '--fail-on-leak', '--max-leak-rate', '1KiB/h', '--github', ...leaky()]);
    assert.equal(result.exitCode, 1, result.all);
    const json = result.stdout.slice(result.stdout.indexOf('{'));
    assert.equal((JSON.parse(json) as { schema: string }).schema, 'leakhunt.report/v1');
  });
});
