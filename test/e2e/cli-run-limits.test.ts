/**
 * `leakhunt run` and the shim's limits (native/limits.json): a value the shim would refuse — switching itself off in
 * the target — is refused by the CLI first, with one line and exit 2, before anything runs (no run directory, the
 * command never started). The values at the limits themselves are accepted by both: the shim records.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assertOneLineError, fixtureBuild, readJson, runCli, tempDir, type ReportJson } from './helpers.js';

const leakyApis = join(fixtureBuild, 'leaky_apis');

/** Each out-of-range value of each option that sets a LEAKHUNT_* variable, and what its one line must name. */
const outOfRange: [string, string, RegExp][] = [
  ['--stack-depth', '2', /--stack-depth must be from 4 to 256/],
  ['--stack-depth', '257', /--stack-depth must be from 4 to 256/],
  ['--table-capacity', '1023', /--table-capacity must be from 1024 to 16777216/],
  ['--table-capacity', '16777217', /--table-capacity must be from 1024 to 16777216/],
  ['--max-stacks', '255', /--max-stacks must be from 256 to 1048576/],
  ['--max-stacks', '1048577', /--max-stacks must be from 256 to 1048576/],
  ['--max-snapshots', '7', /--max-snapshots must be 0 \(keep all\) or from 8 to 1000000/],
  ['--max-snapshots', '1000001', /--max-snapshots must be 0 \(keep all\) or from 8 to 1000000/],
  ['--max-snapshots', '1e3', /--max-snapshots: "1e3" is not a whole number/],
  ['--sample-bytes', '0', /--sample-bytes must be from 1 to 1TiB/],
  ['--sample-bytes', '1.5TiB', /--sample-bytes must be from 1 to 1TiB/],
  ['--interval', '49ms', /--interval must be from 50ms to 1d/],
  ['--interval', '25h', /--interval must be from 50ms to 1d/],
];

describe('leakhunt run: options outside the shim\'s limits', () => {
  const dir = tempDir('leakhunt-run-limits-');
  after(() => dir.cleanup());

  for (const [option, value, pattern] of outOfRange) {
    it(`${option} ${value}: one line, exit 2, nothing run and no run directory`, async () => {
      const out = join(dir.path, `${option.slice(2)}-${value}`);
      const marker = join(dir.path, `${option.slice(2)}-${value}.ran`);
      const result = await runCli(['run', '--out', out, option, value, '--', 'sh', '-c', `touch '${marker}'`]);
      assertOneLineError(result, pattern, `${option} ${value}`);
      assert.ok(result.stderr.includes(`'${value}'`), `the line names the value: ${result.stderr}`);
      assert.ok(!existsSync(out), 'no run directory was made');
      assert.ok(!existsSync(marker), 'the command never ran');
    });
  }

  it('every limit itself is accepted by the CLI and by the shim, which records', async () => {
    for (const [name, limits] of [
      ['lowest', ['--stack-depth', '4', '--table-capacity', '1024', '--max-stacks', '256', '--max-snapshots', '8', '--sample-bytes', '1', '--interval', '50ms']],
      ['highest', ['--stack-depth', '256', '--table-capacity', '16777216', '--max-stacks', '1048576', '--max-snapshots', '1000000', '--sample-bytes', '1TiB', '--interval', '1d']],
    ] as const) {
      const out = join(dir.path, `accepted-${name}`);
      const result = await runCli(['run', '--out', out, ...limits, '--', leakyApis, '--rounds', '3', '--round-ms', '100'], { timeoutMs: 60_000 });
      assert.equal(result.exitCode, 0, `${name}: ${result.all}`);
      assert.doesNotMatch(result.stderr, /leakhunt shim: disabled/, `${name}: the shim took every value`);
      const report = readJson<ReportJson & { pid: number }>(join(out, 'report.json'));
      assert.ok(readdirSync(join(out, 'raw', String(report.pid))).some((f) => f.endsWith('.lhs')), `${name}: the shim wrote snapshots`);
      assert.ok(report.snapshots >= 1, `${name}: ${report.snapshots} snapshots`);
    }
  });
});
