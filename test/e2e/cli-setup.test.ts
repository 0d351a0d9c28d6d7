/**
 * A newcomer's set-up, as README gives it: `leakhunt` put on PATH from a checkout with `npm link` runs a command,
 * and the exit codes README documents are the ones the CLI has and its --help lists — one table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { execa } from 'execa';
import { ExitCode } from '../../src/core/errors.js';
import { readJson, repoRoot, runCli, tempDir, type ReportJson } from './helpers.js';

describe('leakhunt on PATH from a checkout (README: npm link)', () => {
  const dir = tempDir();
  after(() => dir.cleanup());

  it('npm link makes a leakhunt that finds its shim through the link and records a command', async () => {
    const prefix = join(dir.path, 'prefix');
    // --ignore-scripts: the checkout is built already (and other tests are reading dist/ while this one runs).
    const link = await execa('npm', ['link', '--ignore-scripts', '--offline', '--no-audit', '--no-fund'], {
      cwd: repoRoot, env: { ...process.env, npm_config_prefix: prefix }, reject: false, all: true,
    });
    assert.equal(link.exitCode, 0, link.all);
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env['PATH'] ?? ''}`, NO_COLOR: '1' };
    const version = await execa('leakhunt', ['--version'], { env, reject: false, all: true });
    assert.equal(version.exitCode, 0, version.all);
    assert.equal(version.stdout.trim(), readJson<{ version: string }>(join(repoRoot, 'package.json')).version);
    const out = join(dir.path, 'run');
    const run = await execa('leakhunt', ['run', '-q', '--out', out, '--duration', '1500ms', '--interval', '300ms', '--', 'sleep', '30'],
      { env, cwd: dir.path, reject: false, all: true, timeout: 120_000 });
    assert.equal(run.exitCode, 0, run.all);
    const report = readJson<ReportJson>(join(out, 'report.json'));
    assert.deepEqual(report.command, ['sleep', '30']);
    assert.ok(report.snapshots >= 2, `snapshots: ${report.snapshots}`);
  });
});

describe('exit codes: README, the CLI and its --help agree', () => {
  /** The codes in the first column of README's "### Exit codes" table. */
  function readmeExitCodes(): number[] {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Exit codes'));
    const table = section.slice(0, section.search(/\n\s*\n(?!\|)/));
    return [...table.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
  }

  it('one table in README holds every exit code the CLI has, in order, and --help lists the same', async () => {
    const codes = [...new Set<number>(Object.values(ExitCode))].sort((a, b) => a - b);
    assert.deepEqual(readmeExitCodes(), codes, 'README.md\'s exit-code table');
    const help = await runCli(['--help']);
    assert.equal(help.exitCode, 0, help.all);
    const listed = help.stdout.slice(help.stdout.indexOf('Exit codes:')).split('\n').slice(1)
      .map((line) => /^\s+(\d+)\s/.exec(line)).filter((m) => m !== null).map((m) => Number(m![1]));
    assert.deepEqual(listed, codes, 'leakhunt --help');
  });
});
