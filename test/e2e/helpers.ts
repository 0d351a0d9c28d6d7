/** Shared plumbing of the end-to-end tests: the built CLI, the built fixtures, temp dirs. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const cliPath = join(repoRoot, 'dist', 'src', 'cli.js');
export const fixtureBuild = join(repoRoot, 'fixtures', 'build');
export const javaHome = process.env.JAVA_HOME ?? '/usr/lib/jvm/java-17-openjdk-amd64';
export const javaBin = join(javaHome, 'bin', 'java');

export function tempDir(prefix = 'leakhunt-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  return execa(process.execPath, [cliPath, ...args], {
    cwd: options.cwd, env: { ...process.env, NO_COLOR: '1', ...options.env }, reject: false,
    timeout: options.timeoutMs ?? 120_000, all: true as const,
  });
}

/** Bad input refused as the CLI promises: exit 2, one `leakhunt: …` line on stderr matching `pattern`, no stack trace. */
export function assertOneLineError(result: Awaited<ReturnType<typeof runCli>>, pattern: RegExp, what = ''): void {
  assertOneLineFailure(result, 2, pattern, what);
}

/** A failure as the CLI promises: `exitCode`, one `leakhunt: …` line on stderr matching `pattern`, no stack trace. */
export function assertOneLineFailure(result: Awaited<ReturnType<typeof runCli>>, exitCode: number, pattern: RegExp, what = ''): void {
  const context = what ? `${what}: ` : '';
  assert.equal(result.exitCode, exitCode, `${context}${result.all}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${context}one line on stderr: ${result.stderr}`);
  assert.match(lines[0]!, /^leakhunt: /, what);
  assert.match(lines[0]!, pattern, what);
  assert.doesNotMatch(result.all ?? '', /\bat .*\.js:\d+|internal error/, `${context}no stack trace`);
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function demoCommand(seconds: number, extra: string[] = []): string[] {
  return [javaBin, `-Djava.library.path=${join(fixtureBuild, 'demo')}`, '-cp', join(fixtureBuild, 'demo', 'classes'),
    'demo.LeakyService', '--seconds', String(seconds), ...extra];
}

/** The report.json shape the tests look at. */
export interface ReportJson {
  schema: string;
  command: string[];
  pid: number;
  exitStatus: number;
  durationSec: number;
  sampleBytes: number;
  snapshots: number;
  verdict: { kind: string; summary: string };
  memory: { rssGrowthBytesPerHour: number; liveGrowthBytesPerHour: number };
  warnings: string[];
  sites: {
    rank: number; function: string; location: string; stack: string[]; status: string; shape: string;
    leakRateBytesPerHour: number; leakRateIntervalBytesPerHour: [number, number]; growthBytes: number; liveBytes: number; confidence: number; series: number[];
  }[];
}
