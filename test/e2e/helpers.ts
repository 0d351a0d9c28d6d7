/** Shared plumbing of the end-to-end tests: the built CLI, the built fixtures, temp dirs. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/** A timeline.json point's resident parts (analyse/resident.ts), as the accounting assertions read them. */
interface ResidentPoint {
  timeSec: number;
  rssBytes: number;
  jvm?: boolean;
  resident?: { parts: Record<string, number>; totalBytes: number; statusRssBytes: [number, number]; files: { path: string; bytes: number }[]; threadStacks: number };
}

/**
 * Where the RSS went, as every run must tell it (README "Where did the RSS go?"): at every snapshot that carries
 * resident memory by mapping — at least `minSnapshots` of them — no part is negative and the parts add up to the
 * mappings' RSS exactly, and to RSS within 1% (VmRSS in /proc/<pid>/status as the shim read it right before and right
 * after it walked the mappings: the parts' sum within 1% of that span); report.json's table has
 * no negative figure and no `unaccounted` part; in a JVM the Java heap is a part by the last snapshot — or, when its
 * range could not be known, the report says so. Returns the points, for more checks.
 */
export function assertRssAccounted(runDir: string, minSnapshots = 3): ResidentPoint[] {
  const timeline = readJson<{ snapshots: ResidentPoint[] }>(join(runDir, 'timeline.json')).snapshots;
  // A JVM's heap is a part when its range is known (jcmd told it, or ZGC names its mappings); else the report says so.
  const jvmPath = join(runDir, 'jvm.json');
  const jvm = existsSync(jvmPath) ? readJson<{ ranges?: { javaHeap?: unknown[] } }>(jvmPath) : undefined;
  const heapRangeKnown = jvm === undefined || (jvm.ranges?.javaHeap?.length ?? 0) > 0
    || timeline.some((p) => (p.resident?.parts['java-heap'] ?? 0) > 0);
  const accounted = timeline.filter((p) => p.resident !== undefined);
  assert.ok(accounted.length >= minSnapshots, `${accounted.length} of ${timeline.length} snapshots carry resident memory by mapping`);
  for (const p of accounted) {
    const parts = p.resident!.parts;
    let sum = 0;
    for (const [part, bytes] of Object.entries(parts)) {
      assert.ok(Number.isFinite(bytes) && bytes >= 0, `${part} = ${bytes} at ${p.timeSec}s`);
      sum += bytes;
    }
    assert.equal(sum, p.resident!.totalBytes, `the parts add up to the mappings' RSS at ${p.timeSec}s: ${JSON.stringify(parts)}`);
    const [low, high] = [...p.resident!.statusRssBytes].sort((a, b) => a - b) as [number, number];
    const off = sum < low ? low - sum : sum > high ? sum - high : 0;
    assert.ok(off <= 0.01 * high, `parts ${sum} vs RSS ${low}..${high} at ${p.timeSec}s: ${JSON.stringify(parts)}`);
  }
  // A JVM's heap is resident once the JVM has initialised it: not in a snapshot taken while it starts (libjvm mapped,
  // the heap not touched yet — a loaded machine gives such snapshots), but by the run's last snapshot.
  const lastJvm = [...accounted].reverse().find((p) => p.jvm);
  if (lastJvm && heapRangeKnown) {
    assert.ok((lastJvm.resident!.parts['java-heap'] ?? 0) > 0, `a JVM has a Java heap at ${lastJvm.timeSec}s: ${JSON.stringify(lastJvm.resident!.parts)}`);
  }
  const report = readJson<{ memory: { accounting?: { part: string; startBytes: number; endBytes: number }[]; accountingNotes?: string[] } }>(join(runDir, 'report.json'));
  if (!heapRangeKnown && accounted.some((p) => p.jvm)) {
    // Not guessed: said.
    assert.ok((report.memory.accountingNotes ?? []).some((n) => /^java-heap: the heap's range is not known/.test(n)), JSON.stringify(report.memory.accountingNotes));
  }
  const rows = report.memory.accounting ?? [];
  assert.ok(rows.length > 0, 'report.json has memory.accounting');
  for (const row of rows) {
    assert.ok(row.startBytes >= 0 && row.endBytes >= 0, `${row.part}: ${row.startBytes} → ${row.endBytes}`);
    assert.notEqual(row.part, 'unaccounted', JSON.stringify(rows));
  }
  return accounted;
}
